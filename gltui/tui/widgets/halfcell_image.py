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
from textual.strip import Strip

from gltui.tui.widgets.cell_image import CellImage

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


class HalfcellImage(CellImage):
    DEFAULT_CSS = "HalfcellImage { width: auto; height: auto; }"

    def __init__(self, image=None, *, name=None, id=None, classes=None, disabled=False):
        self._strips: list[Strip] = []
        self._key = None
        super().__init__(image, name=name, id=id, classes=classes, disabled=disabled)

    def image_changed(self, old, new) -> None:
        size_changed = (new is None) != (old is None) or (
            new is not None and old is not None and new.size != old.size)
        self._key = None
        # a new picture of the same size needs no new layout, only a repaint
        self.refresh(layout=size_changed or self.styles.width is None
                     or self.styles.width.is_auto)

    def render_line(self, y: int) -> Strip:
        width, height = self.content_size.width, self.content_size.height
        key = (id(self._image), width, height)
        if key != self._key:
            self._strips = image_strips(self._image, width, height)
            self._key = key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width)
