"""One line at the top of every screen: project, run, round, phase, what the engine is doing."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class TitleBar(Static):
    DEFAULT_CSS = """
    TitleBar { dock: top; height: 1; background: $panel; color: $foreground; padding: 0 1;
               text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, *, project: str, run: str, strategy: str, round: int, phase: str,
             worker: str, oracle: bool, screen: str) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("gltui ", style="bold")
        text.append(f"{screen}  ", style="bold")
        text.append(f"{project} · {run} ({strategy}) · round {round} · {phase}")
        if worker == "running":
            text.append("  ⟳ engine working", style="bold yellow")
        elif worker == "stopping":
            text.append("  stopping…", style="bold red")
        elif worker == "failed":
            text.append("  engine failed", style="bold red")
        if oracle:
            text.append("  ORACLE", style="bold reverse")
        self.update(text)
