"""What the model thought of the image under the cursor: its score and its top-3 guesses, each
with the key that labels it; for an image offered while a round trains, which model guessed;
then which key labels which class."""

from __future__ import annotations

import math
from typing import Callable

from rich.text import Text
from textual.widgets import Static

from gltui.config import strategy_info

# The keys, under the panel (the labeling screen's side).
KEY_HELP = """\
[b]0-9[/]  label as that class
[b]⏎[/]    accept the top guess
[b]/[/]    class list  [b]c[/] new class
[b]s[/]    skip  [b]n[/] unsure  [b]u[/] undo
[b]e[/]    review sure guesses
[b]h[/]    history  [b]v[/] grid  [b]←/→[/] move"""


def _bar(p: float, width: int = 12) -> str:
    full = int(round(p * width))
    return "█" * full + "░" * (width - full)


def shorten_left(name: str, width: int) -> str:
    """A long (nested) item name cut at its start, where the folders are: the file name stays."""
    return name if len(name) <= width else "…" + name[len(name) - width + 1:]


def key_legend(classes: list[str], width: int) -> Text:
    """Which key labels which class, two to a line: ` 0  cat        1  dog`. Classes past key 9
    are picked with `/`. Nothing where every class is named by its own key (digits 0-9)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if all(name == str(i) for i, name in enumerate(classes)) and len(classes) <= 10:
        return text
    text.append("keys\n", style="dim")
    cell = max(8, width // 2)
    keyed = classes[:10]
    for i, name in enumerate(keyed):
        text.append(f" {i} ", style="reverse")
        shown = name[:cell - 5]
        text.append(f" {shown:<{cell - 4}}" if i % 2 == 0 and i + 1 < len(keyed) else f" {shown}")
        if i % 2 == 1 or i + 1 == len(keyed):
            text.append("\n")
    if len(classes) > 10:
        text.append(f"/ for the other {len(classes) - 10}\n", style="dim")
    return text


class GuessPanel(Static):
    DEFAULT_CSS = "GuessPanel { height: auto; }"

    def show(self, entry, *, name: str, size: int, class_name: Callable[[int | None], str],
             class_key: Callable[[int], int | None], classes: list[str], strategy: str,
             random_pick: bool = False) -> None:
        """class_name / class_key: the name and the key (position among the classes in use) of
        a class index; classes: the names in use, in key order. random_pick: the queue was
        drawn at random (a random run, or the warm start), so the entry's score means nothing
        and is not shown."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if entry is None:
            self.update(text)
            return
        width = max(20, self.content_size.width or 40)
        text.append(f"#{entry.rank + 1} of {size}\n", style="bold")
        text.append(f"{shorten_left(name, width)}\n", style="dim")
        offered = getattr(entry, "audit", None) is not None  # the provisional queue (session.py)
        if offered:
            text.append("audit image: never trained on\n" if entry.audit else
                        "a random pool image (counts for the next round)\n", style="dim")
        if entry.guesses:
            if offered:
                text.append(f"round {entry.guessed_by} model's guesses\n", style="dim")
            else:
                info = strategy_info(strategy)
                if random_pick:
                    text.append("picked at random (no score)\n", style="dim")
                else:
                    text.append(f"score {info.score_text(entry.score)}", style="bold")
                    if info.unit == "bits":  # an entropy: at most log2 of the class count
                        text.append(f"  (max {math.log2(max(2, len(classes))):.2f})", style="dim")
                    else:  # a plain number: say what it is ("1 - margin")
                        text.append(f"  ({info.score_name})", style="dim")
                    text.append("\n")
                text.append("model's guesses\n", style="dim")
            for c, p in entry.guesses[:3]:
                key = class_key(c)
                key = str(key) if key is not None and key < 10 else " "
                text.append(f" {key} ", style="reverse")
                shown = class_name(c)[:12]
                text.append(f" {'' if shown == key else shown:<12} ")
                text.append(_bar(float(p)), style="cyan")
                text.append(f" {float(p):.2f}\n")
        elif offered:
            text.append("no model's guess yet: label it with 0-9 or /\n", style="dim")
        else:
            text.append("seed set: no model yet\n", style="dim")
        if entry.status == "labeled":
            text.append("labeled ", style="green")
            text.append(class_name(entry.label), style="bold green")
        elif entry.status == "skipped":
            text.append("skipped", style="yellow")
        elif entry.status == "unsure":
            text.append("unsure: never trained on", style="magenta")
        else:
            text.append("pending", style="dim")
        legend = key_legend(classes, width)
        if legend.plain:
            text.append("\n\n")
            text.append_text(legend)
        self.update(text)
