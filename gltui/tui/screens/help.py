"""Help: the keys and what the numbers on the screens mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# gltui: guided labeling

A small CNN trains on the labeled images; every unlabeled pool image is augmented *k* times and
classified, and the entropy of each answer is averaged: the **score** in bits (0 = sure,
log2(classes) = no idea). You label the most confusing images, the model retrains, repeat.

| key | where | what |
| --- | --- | --- |
| `d` `l` `g` | anywhere | dashboard, labeling, gallery |
| `0`-`9` | labeling | label the image as that class (committed at once) |
| `/` | labeling | pick a class from the list (more than 10 classes) |
| `s` | labeling | skip the image (it stays in the pool) |
| `u` / `backspace` | labeling | undo the last label or skip of this round |
| `←` `→` `↑` `↓` `home` `end` | labeling | move through the queue |
| `v` | labeling | single image / grid of ten |
| `o` | anywhere | oracle on/off: the dataset's own labels label the queues |
| `r` | anywhere | resume the run (after an error or a stop) |
| `ctrl+p` | anywhere | command palette |
| `?` | anywhere | this help |
| `q` | anywhere | quit: training stops after the current epoch, nothing is lost |

When the last image of a queue is labeled the model retrains and rescores the pool in the
background; the next queue appears on the labeling screen when it is ready. Quitting mid-round
is safe: `gltui PROJECT` resumes where it stopped.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)
