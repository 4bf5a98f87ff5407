"""A page of rows beside the highlighted row's image and a note (the history, the check page):
the widgets with ids PREFIX-table, PREFIX-image and PREFIX-note, laid out by app.tcss's
.page-* rules, and the compact footer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static


def table_beside_image(image_class: type, prefix: str) -> ComposeResult:
    with Horizontal(id=f"{prefix}-body", classes="page-body"):
        yield DataTable(id=f"{prefix}-table", classes="page-table", cursor_type="row",
                        zebra_stripes=True)
        with Vertical(id=f"{prefix}-side", classes="page-side"):
            yield image_class(id=f"{prefix}-image", classes="page-image")
            yield Static(id=f"{prefix}-note")
    yield Footer(compact=True, show_command_palette=False)
