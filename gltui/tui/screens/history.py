"""History: every label of the run, newest first; a digit (or / for the class list) relabels the
highlighted image. A relabel is an event like undo: the old label row is marked undone and a new
one added, never deleted (project.Labeler.relabel), committed on the key press."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static



class HistoryScreen(ModalScreen):
    DEFAULT_CSS = """
    HistoryScreen { background: $background; }
    #history-body { height: 1fr; }
    #history-table { width: 1fr; height: 100%; }
    #history-side { width: 34; height: 100%; padding: 0 1; }
    #history-image { width: 28; height: 14; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Back"),
        Binding("h", "dismiss", "Back", show=False),
        Binding("0", "relabel(0)", "Relabel", key_display="0-9"),
        *[Binding(str(i), f"relabel({i})", show=False) for i in range(1, 10)],
        Binding("slash", "pick_class", "Classes", key_display="/"),
    ]

    def compose(self) -> ComposeResult:
        with Horizontal(id="history-body"):
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="history-side"):
                yield self.app.image_class(id="history-image")
                yield Static(id="history-note")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("when", "image", "label", "source", "round")
        self.fill()
        table.focus()

    def fill(self, keep: int | None = None) -> None:
        session = self.app.session
        table = self.query_one(DataTable)
        table.clear()
        self.rows = session.history()
        for item, name, _, class_name, source, round_, at in self.rows:
            table.add_row(time.strftime("%H:%M:%S", time.localtime(at)), name, class_name,
                          source, str(round_), key=str(item))
        if keep is not None and 0 <= keep < len(self.rows):
            table.move_cursor(row=keep)
        self._show(table.cursor_row)

    def _show(self, row: int) -> None:
        note = self.query_one("#history-note", Static)
        if not self.rows:
            note.update("No labels yet.")
            return
        item, name, _, class_name, source, _, _ = self.rows[row]
        self.query_one("#history-image").image = self.app.session.picture(item)
        note.update(f"{name}\nlabeled {class_name} ({source})\n0-9 or / relabels it")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.rows:
            self._show(event.cursor_row)

    def action_relabel(self, label: int) -> None:
        session = self.app.session
        table = self.query_one(DataTable)
        if not self.rows or label >= len(session.classes):
            self.app.bell()
            return
        row = table.cursor_row
        item, name, old, *_ = self.rows[row]
        if old == label:
            return
        saved, _ = self.app.write("new label", lambda: session.relabel(item, label))
        if not saved:
            return
        self.notify(f"{name}: {session.class_name(old)} → {session.class_name(label)}")
        self.fill(keep=0)  # the relabel is now the newest label

    def action_pick_class(self) -> None:
        from gltui.tui.screens.class_picker import ClassPicker

        def chosen(index: int | None) -> None:
            if index is not None:
                self.action_relabel(index)

        self.app.push_screen(ClassPicker(self.app.session.classes), chosen)
