"""Images in half-cell blocks (▀: the upper pixel is the foreground colour, the lower one the
background), drawn straight into Strips.

textual-image's half-cell renderable yields one Rich segment with a fresh Style per cell and lets
Textual re-split them into lines; for a 70x34-cell digit that took ~60 ms per redraw on 2 CPU
cores, longer than the whole key-to-frame budget. Here the lines are built once per image and
size, with one cached Style per colour pair and runs of equal cells merged into one segment
(a digit's black background becomes a handful of segments), so a redraw is a list lookup.
Same interface as textual-image's widgets: set `.image` to a PIL image.
"""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

_STYLES: dict[int, Style] = {}


def _style(key: int) -> Style:
    """The style of a cell whose key packs 6-bit RGB of the upper and the lower pixel."""
    style = _STYLES.get(key)
    if style is None:
        if len(_STYLES) > 100_000:
            _STYLES.clear()
        top, bottom = key >> 18, key & 0x3FFFF
        rgb = [((v >> shift) & 0x3F) * 255 // 63 for v in (top, bottom) for shift in (12, 6, 0)]
        style = _STYLES[key] = Style(color=Color.from_rgb(*rgb[:3]),
                                     bgcolor=Color.from_rgb(*rgb[3:]))
    return style


def image_strips(image, width: int, height: int) -> list[Strip]:
    """The image scaled to width x (2 * height) pixels, as `height` lines of ▀ cells.

    Colours keep 6 bits a channel (262,144 colours, 64 grey levels): invisible on a digit, and
    it makes neighbouring cells equal often enough to merge and styles few enough to cache."""
    if image is None or width <= 0 or height <= 0:
        return []
    pixels = np.asarray(image.convert("RGB").resize((width, height * 2)), dtype=np.int64) >> 2
    packed = (pixels[..., 0] << 12) | (pixels[..., 1] << 6) | pixels[..., 2]  # (2h, w)
    keys = (packed[0::2] << 18) | packed[1::2]  # (h, w): upper and lower pixel of each cell
    strips = []
    for row in keys:
        change = np.flatnonzero(row[1:] != row[:-1]) + 1
        bounds = [0, *change.tolist(), width]
        values = row[bounds[:-1]].tolist()
        segments = [Segment("▀" * (bounds[i + 1] - bounds[i]), _style(v))
                    for i, v in enumerate(values)]
        strips.append(Strip(segments, width))
    return strips


class HalfcellImage(Widget):
    DEFAULT_CSS = "HalfcellImage { width: auto; height: auto; }"

    def __init__(self, image=None, *, name=None, id=None, classes=None, disabled=False):
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._image = None
        self._strips: list[Strip] = []
        self._key = None
        self.image = image

    @property
    def image(self):
        return self._image

    @image.setter
    def image(self, value) -> None:
        if value is self._image:
            return
        size_changed = (value is None) != (self._image is None) or (
            value is not None and self._image is not None and value.size != self._image.size)
        self._image = value
        self._key = None
        # a new picture of the same size needs no new layout, only a repaint
        self.refresh(layout=size_changed or self.styles.width is None
                     or self.styles.width.is_auto)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return 0 if self._image is None else min(container.width, self._image.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._image is None:
            return 0
        return max(1, round(width * self._image.height / self._image.width / 2))

    def render_line(self, y: int) -> Strip:
        width, height = self.content_size.width, self.content_size.height
        key = (id(self._image), width, height)
        if key != self._key:
            self._strips = image_strips(self._image, width, height)
            self._key = key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width)
