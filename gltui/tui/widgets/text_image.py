"""An image drawn as ASCII shading: the `--images none` fallback for any terminal."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

RAMP = " .:-=+*#%@"  # dark to bright: a digit's white strokes come out as # and @


class TextImage(Widget):
    """Same interface as textual-image's widgets: set `.image` to a PIL image."""

    DEFAULT_CSS = "TextImage { width: auto; height: auto; }"

    def __init__(self, image=None, *, name=None, id=None, classes=None, disabled=False):
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._image = None
        self.image = image

    @property
    def image(self):
        return self._image

    @image.setter
    def image(self, value) -> None:
        self._image = value
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        if self._image is None:
            return 0
        return min(container.width, self._image.width) or self._image.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._image is None:
            return 0
        # a character cell is about twice as tall as wide
        return max(1, round(width * self._image.height / self._image.width / 2))

    def render(self) -> Text:
        if self._image is None or not self.size.width or not self.size.height:
            return Text("")
        w, h = self.size.width, self.size.height
        grey = np.asarray(self._image.convert("L").resize((w, h)), dtype=np.int32)
        index = grey * len(RAMP) // 256
        return Text("\n".join("".join(RAMP[v] for v in row) for row in index), no_wrap=True)
