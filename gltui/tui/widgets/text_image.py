"""An image drawn as ASCII shading: the `--images none` fallback for any terminal."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from gltui.tui.widgets.cell_image import CellImage

RAMP = " .:-=+*#%@"  # dark to bright: a digit's white strokes come out as # and @


class TextImage(CellImage):
    """Same interface as textual-image's widgets: set `.image` to a PIL image."""

    DEFAULT_CSS = "TextImage { width: auto; height: auto; }"

    def render(self) -> Text:
        if self._image is None or not self.size.width or not self.size.height:
            return Text("")
        w, h = self.size.width, self.size.height
        grey = np.asarray(self._image.convert("L").resize((w, h)), dtype=np.int32)
        index = grey * len(RAMP) // 256
        return Text("\n".join("".join(RAMP[v] for v in row) for row in index), no_wrap=True)
