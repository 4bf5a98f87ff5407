"""How images are drawn: the renderer choice (--images); the conversion to PIL is gltui.data.to_pil.

Sixel and Kitty TGP go through textual-image; half-cell blocks use gltui's own widget
(widgets/halfcell_image.py: the same look, ~30x cheaper per redraw), chosen by `auto` too when
the terminal has no graphics protocol; unicode shading is textual-image's.

textual-image probes the terminal when it is first imported (sixel and Kitty TGP queries, the cell
size), which only works before Textual owns the terminal. So the choice is made here, before the
app starts: `image_widget_class(choice)` imports textual-image once and returns a widget class
whose `.image` takes a PIL image. A forced half-cell or unicode renderer skips the graphics
queries altogether (over a slow SSH link an answer that arrives after the 0.1 s timeout would
otherwise leak into the app as key presses); `none` never imports textual-image and draws ASCII.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

from gltui.data import to_pil  # noqa: F401  the one (C, H, W) -> PIL conversion; session imports it here

RENDERERS = ("auto", "sixel", "tgp", "halfcell", "unicode", "none")


class _ProbeStdout:
    """Stands in for sys.__stdout__ while textual-image is imported (it probes the terminal then).

    `queries=False`: not a terminal, so it sends no query at all. Under tmux (`$TMUX`) the Kitty
    query, an APC sequence, is dropped: tmux never passes APC on to the terminal, it takes it as
    the pane's title (which then read `Gi=...,s=1,v=1`); the sixel query goes through."""

    def __init__(self, stream, queries: bool):
        self._stream, self._queries = stream, queries

    def isatty(self) -> bool:
        return self._queries and self._stream.isatty()

    def write(self, text: str) -> int:
        if text.startswith("\x1b_G") and os.environ.get("TMUX"):
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _terminal_queries(queries: bool = True) -> Iterator[None]:
    """The probes textual-image sends on import: none, or those the terminal can answer."""
    real = sys.__stdout__
    sys.__stdout__ = _ProbeStdout(real, queries)  # type: ignore[misc]
    try:
        yield
    finally:
        sys.__stdout__ = real  # type: ignore[misc]


def image_widget_class(choice: str = "auto"):
    """The Textual widget class that draws images for a renderer choice."""
    if choice not in RENDERERS:
        raise ValueError(f"--images {choice!r}: choose one of {', '.join(RENDERERS)}")
    if choice == "none":
        from gltui.tui.widgets.text_image import TextImage

        return TextImage
    if choice == "halfcell":
        from gltui.tui.widgets.halfcell_image import HalfcellImage

        return HalfcellImage
    if choice == "unicode" and "textual_image" not in sys.modules:
        # Neither needs to know what the terminal can do; the cell size stays at the VT340
        # default (10x20 px), i.e. square pixels take one column by half a row.
        with _terminal_queries(False):
            import textual_image.widget as ti
    else:
        with _terminal_queries():
            import textual_image.widget as ti
    if choice == "auto":
        from textual_image.renderable import Image as detected
        from textual_image.renderable.halfcell import Image as halfcell

        if detected is halfcell:  # no graphics protocol: the fast half-cell widget (see there)
            from gltui.tui.widgets.halfcell_image import HalfcellImage

            return HalfcellImage
    if choice == "sixel" or (choice == "auto" and ti.Image is ti.SixelImage):
        # textual-image's sixel widget without the artifacts it leaves in xterm (see there)
        from gltui.tui.widgets.sixel_image import SixelImage

        return SixelImage
    return {
        "auto": ti.Image,
        "tgp": ti.TGPImage,
        "halfcell": ti.HalfcellImage,
        "unicode": ti.UnicodeImage,
    }[choice]


def cell_aspect(widget_class) -> float:
    """Height over width of a terminal cell in pixels: what a picture's box in cells must allow
    for to show the picture undistorted. Every renderer fills the box it is given (half-cell and
    unicode scale the image to the box's cells), so this is the terminal's own cell shape, not
    the renderer's: textual-image's measure (`get_cell_size`, probed before the app started:
    the window-size ioctl, else the `CSI 16 t` reply, else VT340's 10x20) for its widgets, and
    the window-size ioctl alone for gltui's (which never query the terminal). 2.0 (VT340) when
    stdout is not a terminal (tests, pipes) or it does not say."""
    if "textual_image" in sys.modules:  # imported (and the terminal probed) by the renderer
        from textual_image._terminal import get_cell_size
        from textual_image.widget._base import Image as TextualImage

        if issubclass(widget_class, TextualImage):
            size = get_cell_size()  # cached since the probe
            return size.height / size.width if size.width and size.height else 2.0
    size = terminal_cell_size()
    return size[1] / size[0] if size else 2.0


def terminal_cell_size() -> tuple[int, int] | None:
    """(width, height) of a cell in pixels from the window-size ioctl of stdout, or None when
    stdout is not a terminal or the terminal reports no pixel size (tmux, some SSH clients)."""
    stream = sys.__stdout__
    try:
        if stream is None or not stream.isatty():
            return None
        import fcntl
        import struct
        import termios

        packed = fcntl.ioctl(stream.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        rows, cols, px_w, px_h = struct.unpack("HHHH", packed)
    except (ImportError, OSError, ValueError):
        return None
    if not (rows and cols and px_w and px_h):
        return None
    return px_w // cols, px_h // rows


def fit_cells(width: int, height: int, image_w: int, image_h: int, aspect: float,
              tolerance: float = 0.04) -> tuple[int, int]:
    """The largest (columns, rows) inside width x height that shows the image undistorted.

    Whole cells rarely match the image's shape exactly (12 columns of 6x13-pixel cells make 72
    pixels; 6 rows make 78): the largest box that fits is taken when its shape is within
    `tolerance` of the image's, else the largest box at most a quarter smaller that is."""
    if width <= 0 or height <= 0 or image_w <= 0 or image_h <= 0 or aspect <= 0:
        return 0, 0
    ratio = aspect * image_w / image_h  # columns per row that keep the shape
    first = None
    for rows in range(min(height, max(1, round(width / ratio))), 0, -1):
        cols = max(1, round(rows * ratio))
        if cols > width:
            continue
        if first is None:
            first = (cols, rows)
        elif rows < 0.75 * first[1]:
            break
        if abs(cols / (rows * ratio) - 1) <= tolerance:
            return cols, rows
    return first or (max(1, min(width, round(ratio))), 1)
