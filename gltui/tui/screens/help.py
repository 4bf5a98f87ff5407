"""Help: the keys and what the numbers on the screens mean; and the overlay it is drawn in,
which the palette's status uses too.

The overlay fits any terminal from 80x24 up: it takes most of the screen and scrolls (arrows,
PgUp/PgDn, Home/End, the mouse wheel). The oracle's key is listed only where the project has
true labels (the app's `has_oracle`): elsewhere there is no oracle.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown, Static

HELP = """\
# gltui: guided labeling

A small CNN trains on the labeled images; every unlabeled pool image is augmented *k* times and
classified, and the entropy of each answer is averaged: the **score** in bits (0 = sure,
log2(classes) = no idea). You label the most confusing images, the model retrains, repeat.

| key | where | what |
| --- | --- | --- |
| `d` `l` `g` | anywhere | dashboard, labeling, gallery |
| `k` | anywhere | check: mistakes, near copies, leaks, outliers (`f` fix, `d` dismiss, `u` undo) |
| `0`-`9` | labeling | label the image as that class (committed at once) |
| `enter` | labeling | accept the model's top guess (a human label like any other) |
| `/` `c` | labeling | pick a class from the list / add a new class |
| `s` `n` | labeling | skip the image (it stays in the pool) / mark it unsure |
| `u` / `backspace` | labeling | undo the last label or skip of this round |
| `e` `h` | labeling | review the confident guesses a page at a time / every label so far |
| `←` `→` `↑` `↓` `home` `end` | labeling | move through the queue |
| `v` | labeling | single image / grid of ten |
{oracle}| `r` | anywhere | resume the run (after an error or a stop) |
| `ctrl+p` | anywhere | command palette: export, report, status, … |
| `?` | anywhere | this help (arrows and PgDn scroll it) |
| `q` | anywhere | quit at once: every label was saved on its key press |
| `ctrl+c` | anywhere | quit the same way, with exit code 130 |

A key acts on the image that was on screen when it was pressed, never on one that came after it
(a key pressed twice before the next image appears acts once). After `gltui classes` merged a
class, the digit keys are the classes in use, in order.

When the last image of a queue is labeled the model retrains and rescores the pool in the
background; the next queue appears on the labeling screen when it is ready. Meanwhile the screen
offers audit images and a random draw of the pool, with the last model's guesses. Quitting
mid-round is safe: `gltui PROJECT` resumes the round from its last checkpoint.
"""

ORACLE_ROW = "| `o` | anywhere | oracle on/off: the dataset's own labels label the queues |\n"


def help_text(has_oracle: bool) -> str:
    return HELP.format(oracle=ORACLE_ROW if has_oracle else "")


class TextOverlay(ModalScreen):
    """Text over the current screen, scrolling where it does not fit; escape or q closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("pagedown", "scroll('page_down')", "Scroll", key_display="PgDn"),
        Binding("pageup", "scroll('page_up')", show=False),
        Binding("down", "scroll('scroll_down')", show=False),
        Binding("up", "scroll('scroll_up')", show=False),
        Binding("home", "scroll('scroll_home')", show=False),
        Binding("end", "scroll('scroll_end')", show=False),
    ]

    def __init__(self, content: str | Text, *, title: str = "", markdown: bool = False):
        super().__init__()
        self.content, self.title, self.markdown = content, title, markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="overlay-body") as body:
            body.border_title = self.title
            yield Markdown(self.content) if self.markdown else Static(self.content)
        yield Footer(compact=True, show_command_palette=False)

    def action_scroll(self, how: str) -> None:
        getattr(self.query_one("#overlay-body"), f"action_{how}")()


class HelpScreen(TextOverlay):
    BINDINGS = [Binding("question_mark", "dismiss", "Close", show=False)]

    def __init__(self) -> None:
        super().__init__("", title="Help", markdown=True)

    def on_mount(self) -> None:
        self.query_one(Markdown).update(help_text(getattr(self.app, "has_oracle", True)))
