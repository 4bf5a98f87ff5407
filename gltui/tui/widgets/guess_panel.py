"""What the model thought of the image under the cursor: its score and its top-3 guesses."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from gltui.config import strategy_info


def _bar(p: float, width: int = 12) -> str:
    full = int(round(p * width))
    return "█" * full + "░" * (width - full)


class GuessPanel(Static):
    DEFAULT_CSS = "GuessPanel { height: auto; }"

    def show(self, entry, *, name: str, size: int, class_names: list[str], strategy: str,
             random_pick: bool = False) -> None:
        """random_pick: the queue was drawn at random (a random run, or the warm start), so the
        entry's score means nothing and is not shown."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if entry is None:
            self.update(text)
            return
        text.append(f"#{entry.rank + 1} of {size}", style="bold")
        text.append(f"  {name}\n", style="dim")
        if entry.guesses:
            info = strategy_info(strategy)
            if random_pick:
                text.append("picked at random (no score)\n", style="dim")
            else:
                text.append(f"score {info.score_text(entry.score)}", style="bold")
                if info.unit == "bits":  # an entropy: at most log2 of the class count
                    text.append(f"  (max {math.log2(max(2, len(class_names))):.2f})", style="dim")
                text.append("\n")
            text.append("model's guesses\n", style="dim")
            for c, p in entry.guesses[:3]:
                key = str(c) if c < 10 else " "
                text.append(f" {key} ", style="reverse")
                name = class_names[c][:12]
                text.append(f" {'' if name == key else name:<12} ")
                text.append(_bar(float(p)), style="cyan")
                text.append(f" {float(p):.2f}\n")
        elif getattr(entry, "audit", None) is not None:  # the provisional queue (session.py)
            text.append("audit image: never trained on\n" if entry.audit else
                        "a random pool image\n" if math.isnan(entry.score) else
                        "ranked next by the last pass\n", style="dim")
        else:
            text.append("seed set: no model yet\n", style="dim")
        if entry.status == "labeled":
            text.append("labeled ", style="green")
            text.append(class_names[entry.label] if entry.label is not None else "?",
                        style="bold green")
        elif entry.status == "skipped":
            text.append("skipped", style="yellow")
        elif entry.status == "unsure":
            text.append("unsure: never trained on", style="magenta")
        else:
            text.append("pending", style="dim")
        self.update(text)
