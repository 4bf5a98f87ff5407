"""Sixel images without the artifacts textual-image 0.12's widget leaves in xterm (VT340).

Each fix answers one artifact seen in `xterm -ti vt340` (docs/screenshots.md shows them):

- Colour bands, striped tops, specks: textual-image defines a colour register the first time it
  uses it (`#5;2;r;g;b`) and draws straight after, counting on the definition to select the
  register too. xterm defines it but keeps drawing in the colour selected before, so every band
  before a second colour appears (the black rows above a digit) comes out in a stale colour (the
  grey band, of a height that depends on where the digit starts), and the first pixels of each
  new grey level inside the digit come out in the previous level (stripes along the top of the
  strokes, dark specks inside them). Here every definition is followed by an explicit select
  (`#5;2;r;g;b#5`), which every sixel terminal reads the same way.
- Stray bars one row tall and scrolled screens: after the image, textual-image moves the cursor
  to the row *below* the widget, but Textual goes on writing the rest of that screen line (the
  widgets right of the image, then a line feed) at the cursor. Those cells landed one row too
  low and the line's own cells were never painted (the terminal's default background showed
  through as a bar); where the image's last row was the one above the footer, the line feed
  came on the last screen row and scrolled the whole screen up one line (the gallery lost its
  title bar and showed a line twice). Here the image's last line is painted first and the
  cursor goes back to its end, where Textual expects it.

What is left to the layout: a sixel image whose last row is the last row of the screen scrolls
the terminal by itself (sixel scrolling, DECSDM reset, puts the cursor below the image; setting
DECSDM instead draws every image at the top-left corner). Every gltui screen docks a footer on
the last row, so no image reaches it.
"""

from __future__ import annotations

import re

from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.app import ComposeResult
from textual_image.widget import SixelImage as _TextualImageSixel
from textual_image.widget.sixel import _ImageSixelImpl, _NoopRenderable

_DEFINE = re.compile(r"#(\d+);2;(\d+);(\d+);(\d+)")
_NULL = Style()


def select_after_define(sixels: str) -> str:
    """Sixel data in which every colour definition `#N;2;r;g;b` is followed by the select `#N`."""
    return _DEFINE.sub(r"#\1;2;\2;\3;\4#\1", sixels)


class _CleanSixels(_ImageSixelImpl):
    """textual-image's sixel painter with the fixes above."""

    def _image_to_sixels(self, image, sixel_options=None, background=None) -> str:
        return select_after_define(super()._image_to_sixels(image, sixel_options, background))

    def _get_sixel_segments(self, sixel_data: str) -> list[Segment]:
        region = self.screen.find_widget(self).visible_region
        return [
            # the last line's own cells, which nothing else paints (the image may not cover them)
            Segment(" " * region.width, self.rich_style),
            Segment(Control.move_to(region.x, region.y).segment.text, style=_NULL),
            Segment(sixel_data, style=_NULL, control=((ControlType.CURSOR_FORWARD, 0),)),
            # the end of the image's last line: Textual writes what follows on that line here
            Segment(Control.move_to(region.right, region.bottom - 1).segment.text, style=_NULL),
        ]


class SixelImage(_TextualImageSixel, Renderable=_NoopRenderable):
    """textual-image's SixelImage drawn through _CleanSixels; the same interface (`.image`)."""

    def compose(self) -> ComposeResult:
        yield _CleanSixels(self.image, self._sixel_options)
