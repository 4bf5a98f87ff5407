"""Run facts: strategy, phase, round, labeled and pool counts, the queue, the other runs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class RunPanel(Static):
    DEFAULT_CSS = "RunPanel { height: auto; }"

    def show(self, summary, others, oracle: bool) -> None:
        s = summary
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{s.name}", style="bold")
        text.append(f"  {s.strategy} · seed {s.seed} · profile {s.profile}\n")
        text.append("phase ")
        text.append(s.phase, style="bold")
        text.append(f" · round {s.round}\n")
        text.append(f"labeled {s.n_labeled:,} · pool {s.n_pool:,}\n")
        if s.phase == "label":
            text.append(f"queue {s.n_queued} pending\n")
        elif s.phase == "done":
            text.append(f"done: {s.stop_reason or ''}\n", style="bold green")
        else:
            text.append("queue: after this round\n", style="dim")
        text.append("oracle ")
        text.append("on" if oracle else "off", style="bold reverse" if oracle else "")
        text.append("  (o)", style="dim")
        for o in others:
            text.append(f"\n{o.name} ({o.strategy}): {o.phase} r{o.round}, {o.n_labeled:,} labeled",
                        style="dim")
        self.update(text)
