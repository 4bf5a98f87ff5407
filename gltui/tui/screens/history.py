"""History: every label a person can revisit, newest first: the run's labels (seed, oracle,
human), the audit labels and the images marked unsure, each saying which it is and whether it is
trained on. A digit (or / for the class list) relabels the highlighted image: a run's label is
replaced as an event like undo (the old row is marked undone, never deleted), an audit label
likewise, and an unsure image gets its label (Session.change_label), committed on the key press."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from gltui.tui.screens.full import FullScreen
from gltui.tui.widgets.table_page import table_beside_image

KINDS = {  # what the kind column says
    "seed": "seed",
    "oracle": "oracle",
    "human": "you",
    "audit": "audit (not trained on)",
    "unsure": "unsure (not trained on)",
}


class HistoryScreen(FullScreen):
    BINDINGS = [
        Binding("escape", "dismiss", "Back"),
        Binding("h", "dismiss", "Back", show=False),
        Binding("0", "relabel(0)", "Relabel", key_display="0-9"),
        *[Binding(str(i), f"relabel({i})", show=False) for i in range(1, 10)],
        Binding("slash", "pick_class", "Classes", key_display="/"),
    ]

    def compose(self) -> ComposeResult:
        yield from table_beside_image(self.app.image_class, "history")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("when", "image", "label", "kind", "round")
        self.fill()
        table.focus()

    def fill(self, keep: int | None = None) -> None:
        session = self.app.session
        table = self.query_one(DataTable)
        table.clear()
        self.rows = session.history()
        for i, row in enumerate(self.rows):
            table.add_row(time.strftime("%H:%M:%S", time.localtime(row.time)), row.name,
                          row.class_name or "-", KINDS.get(row.kind, row.kind),
                          "" if row.round is None else str(row.round), key=str(i))
        if keep is not None and 0 <= keep < len(self.rows):
            table.move_cursor(row=keep)
        self._show(table.cursor_row)

    def _show(self, index: int) -> None:
        note = self.query_one("#history-note", Static)
        if not self.rows:
            note.update("No labels yet.")
            return
        row = self.rows[index]
        self.query_one("#history-image").image = self.app.session.picture(row.item)
        if row.kind == "unsure":
            what = "marked unsure: never trained on\n0-9 or / labels it"
        elif row.kind == "audit":
            what = f"labeled {row.class_name} (audit: never trained on)\n0-9 or / relabels it"
        else:
            what = (f"labeled {row.class_name} ({KINDS.get(row.kind, row.kind)})\n"
                    "0-9 or / relabels it")
        note.update(f"{row.name}\n{what}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.rows:
            self._show(event.cursor_row)

    def action_relabel(self, key: int) -> None:
        """Key `key`: the key-th class in use."""
        session = self.app.session
        label = self.class_for_key(key, bool(self.rows))
        if label is None:
            return
        row = self.rows[self.query_one(DataTable).cursor_row]
        if row.label == label:
            return
        saved, _ = self.app.write("new label", lambda: session.change_label(row, label))
        if not saved:
            return
        self.notify(f"{row.name}: {row.class_name or 'unsure'} → {session.class_name(label)}")
        self.fill(keep=0)  # the relabel is now the newest label

    def action_pick_class(self) -> None:
        from gltui.tui.screens.class_picker import ClassPicker

        def chosen(key: int | None) -> None:
            if key is not None:
                self.action_relabel(key)

        self.app.push_screen(ClassPicker(self.app.session.classes), chosen)
