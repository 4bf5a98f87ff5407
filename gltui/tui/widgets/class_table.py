"""The class distribution of the labeled set per round (the paper's Fig. 3): counts, shaded by
each class's share of its row so an under-represented class stands out."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class ClassTable(Static):
    DEFAULT_CSS = "ClassTable { width: auto; height: auto; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self._key = None

    def set_rows(self, class_names: list[str], rows: list[tuple[str, int, list[int]]],
                 max_rows: int = 12) -> None:
        key = (tuple(class_names), tuple((n, t, tuple(h)) for n, t, h in rows[-max_rows:]))
        if key == self._key:
            return
        self._key = key
        self.update(render_table(class_names, rows[-max_rows:]))


def render_table(class_names: list[str], rows: list[tuple[str, int, list[int]]]):
    if not rows:
        return Text("No labels yet.", style="dim")
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False,
                  header_style="bold")
    table.add_column("", justify="left", style="dim")
    table.add_column("n", justify="right")
    for name in class_names:
        table.add_column(name[:4], justify="right", min_width=3)
    for name, total, hist in rows:
        top = max(hist) or 1
        cells = []
        for v in hist:
            share = v / top
            style = ("reverse" if share >= 0.75 else "bold" if share >= 0.4 else
                     "dim" if v == 0 else "")
            cells.append(Text(str(v), style=style))
        table.add_row(name, str(total), *cells)
    return table
