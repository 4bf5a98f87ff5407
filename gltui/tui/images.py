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
import sys
from typing import Iterator

from gltui.data import to_pil  # noqa: F401  the one (C, H, W) -> PIL conversion; session imports it here

RENDERERS = ("auto", "sixel", "tgp", "halfcell", "unicode", "none")


class _NotATerminal:
    """Stands in for sys.__stdout__ while textual-image is imported, so it queries nothing."""

    def __init__(self, stream):
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _no_terminal_queries() -> Iterator[None]:
    real = sys.__stdout__
    sys.__stdout__ = _NotATerminal(real)  # type: ignore[misc]
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
        with _no_terminal_queries():
            import textual_image.widget as ti
    else:
        import textual_image.widget as ti
    if choice == "auto":
        from textual_image.renderable import Image as detected
        from textual_image.renderable.halfcell import Image as halfcell

        if detected is halfcell:  # no graphics protocol: the fast half-cell widget (see there)
            from gltui.tui.widgets.halfcell_image import HalfcellImage

            return HalfcellImage
    return {
        "auto": ti.Image,
        "sixel": ti.SixelImage,
        "tgp": ti.TGPImage,
        "halfcell": ti.HalfcellImage,
        "unicode": ti.UnicodeImage,
    }[choice]


def cell_aspect(widget_class) -> float:
    """Height over width of a terminal cell in pixels (2.0 when it cannot be known)."""
    if "textual_image" not in getattr(widget_class, "__module__", ""):
        return 2.0
    from textual_image._terminal import get_cell_size  # cached: probed before the app started

    size = get_cell_size()
    return size.height / size.width if size.width else 2.0


def fit_cells(width: int, height: int, image_w: int, image_h: int, aspect: float) -> tuple[int, int]:
    """The largest (columns, rows) inside width x height showing the image undistorted."""
    if width <= 0 or height <= 0 or image_w <= 0 or image_h <= 0:
        return 0, 0
    rows = height
    cols = round(rows * aspect * image_w / image_h)
    if cols > width:
        cols = width
        rows = max(1, round(cols * image_h / image_w / aspect))
    return max(1, cols), max(1, rows)
