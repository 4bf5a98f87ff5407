"""The class list: read, added to, renamed, merged. Each change is one transaction with its event.

A class index is for ever: labels, queue guesses, predictions and every round model's outputs
store indices, so a merged class is not deleted but kept as a tombstone (`merged_into` names
the class it went into; schema.py). `classes()` reads a merged class as the class it went into,
so any index ever stored names the right class; gltui/project/classes.py gives the views the
classes in use.
"""

from __future__ import annotations

from typing import NamedTuple


class ClassRow(NamedTuple):
    """A row of the class table."""

    index: int
    name: str  # its own name (a merged class keeps the name it had)
    merged_into: int | None  # the class it was merged into; None: in use


class ClassesMixin:
    """The class table (part of Store)."""

    def classes(self) -> list[str]:
        """The class name of every class index, in index order; a merged class reads as the
        class it was merged into (so the list may name a class twice)."""
        return [r[0] for r in self.conn.execute(
            "SELECT COALESCE(t.name, c.name) FROM classes c "
            "LEFT JOIN classes t ON t.id = c.merged_into ORDER BY c.id")]

    def class_rows(self) -> list[ClassRow]:
        return [ClassRow(*r) for r in self.conn.execute(
            "SELECT id, name, merged_into FROM classes ORDER BY id")]

    def add_class(self, run: str | None, name: str) -> int:
        """A class appended (its index is the next one), with an event, in one transaction.
        Returns its index. Models trained from the next round on have an output for it (the
        engine reads the classes when it starts a drive). `run`: who added it (the event log)."""
        with self.transaction():
            index = self._one("SELECT COALESCE(MAX(id) + 1, 0) FROM classes")
            self.conn.execute("INSERT INTO classes(id, name) VALUES (?, ?)", (index, name))
            self._event(run, "add-class", {"index": index, "name": name})
        return index

    def rename_class(self, index: int, name: str, run: str | None = None) -> str:
        """A class in use renamed, with an event; returns the old name. Only a name changes:
        every label keeps its class index."""
        with self.transaction():
            old = self._live_class(index)
            self.conn.execute("UPDATE classes SET name = ? WHERE id = ?", (name, index))
            self._event(run, "rename-class", {"index": index, "old": old, "name": name})
        return old

    def merge_class(self, source: int, target: int, run: str | None = None) -> dict[str, int]:
        """Class `source` folded into class `target`, in one transaction with its event: every
        label of `source` (in every run, undone rows too, so none can come back), every audit
        label and every true label becomes `target`; `source`, and any class merged into it
        before, is marked merged into `target`. Returns the rows changed per table."""
        if source == target:
            raise ValueError("a class cannot be merged into itself")
        with self.transaction():
            self._live_class(source)
            self._live_class(target)
            changed = {}
            for table, column in (("labels", "label"), ("audit_labels", "label"),
                                  ("items", "true_label")):
                changed[table] = self.conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                    (target, source)).rowcount
            self.conn.execute("UPDATE classes SET merged_into = ? WHERE id = ? OR merged_into = ?",
                              (target, source, source))
            self._event(run, "merge-class", {"index": source, "into": target, **changed})
        return changed

    def _live_class(self, index: int) -> str:
        row = self.conn.execute("SELECT name, merged_into FROM classes WHERE id = ?",
                                (int(index),)).fetchone()
        if row is None or row[1] is not None:
            raise ValueError(f"class {index} is not a class in use")
        return row[0]
