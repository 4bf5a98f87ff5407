"""What gltui's own image widgets share: textual-image's interface (set `.image` to a PIL image)
and the sizing of a picture in character cells, which are about twice as tall as wide."""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget


class CellImage(Widget):
    def __init__(self, image=None, *, name=None, id=None, classes=None, disabled=False):
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._image = None
        self.image = image

    @property
    def image(self):
        return self._image

    @image.setter
    def image(self, value) -> None:
        if value is self._image:
            return
        old, self._image = self._image, value
        self.image_changed(old, value)

    def image_changed(self, old, new) -> None:
        """Called after `.image` changed; the default lays the widget out again."""
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return 0 if self._image is None else min(container.width, self._image.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._image is None:
            return 0
        return max(1, round(width * self._image.height / self._image.width / 2))
