"""Labels: each one its own committed transaction; undo and skip are recorded, never deleted."""

from __future__ import annotations

import json

import numpy as np

from gltui.store.connection import timestamp
from gltui.store.queries import ID_VALUE, QUERIES
from gltui.store.schema import SOURCES


class LabelsMixin:
    """Labels, skips and undo (part of Store)."""

    def labeled(self, run: str) -> tuple[np.ndarray, np.ndarray]:
        """(items, labels) of the run's active labels, ordered by item."""
        arr = np.fromiter(self.conn.execute(QUERIES["labeled"], (run,)), dtype=ID_VALUE)
        return arr["id"].copy(), arr["value"].copy()

    def count_labeled(self, run: str) -> int:
        return self._one(QUERIES["count_labeled"], (run,))

    def labeled_detail(self, run: str) -> list[tuple[int, str, int, str, str, int, float]]:
        """(item, item name, label, class name, source, round, time) of the active labels."""
        return self.conn.execute(
            "SELECT l.item, i.name, l.label, c.name, l.source, l.round, l.created_at "
            "FROM labels l JOIN items i ON i.id = l.item JOIN classes c ON c.id = l.label "
            "WHERE l.run = ? AND l.undone_at IS NULL ORDER BY l.round, l.id",
            (run,),
        ).fetchall()

    def unlabeled_pool(self, run: str) -> np.ndarray:
        """Pool items without an active label in this run, ordered by id."""
        rows = self.conn.execute(QUERIES["unlabeled_pool"], (run,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def count_unlabeled_pool(self, run: str) -> int:
        pool = self.count_items().get("pool", 0)
        return pool - self._one(QUERIES["count_labeled_pool"], (run,))

    def add_label(self, run: str, round: int, item: int, label: int, source: str) -> None:
        """One label, its queue entry marked labeled, one event: a single committed transaction.
        Relabeling an item that has an active label replaces it (the old row is marked undone)."""
        assert source in SOURCES, source
        now = timestamp()
        with self.transaction():
            self.conn.execute(QUERIES["label_replace"], (now, run, item))
            self.conn.execute(
                "INSERT INTO labels(run, item, label, source, round, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run, item, label, source, round, now),
            )
            self.conn.execute(QUERIES["queue_mark_labeled"], (run, round, item))
            self._event(run, "label", {"item": item, "label": label, "source": source})

    def add_labels(self, run: str, round: int, items: np.ndarray, labels: np.ndarray,
                   source: str, before_commit=None) -> None:
        """Many labels in one transaction (the oracle's whole queue)."""
        with self.transaction():
            for item, label in zip(items.tolist(), labels.tolist()):
                self.add_label(run, round, item, label, source)
            if before_commit is not None:  # the fault-injection tests kill the process here
                before_commit()

    def skip(self, run: str, round: int, item: int) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE queue SET status = 'skipped' WHERE run = ? AND round = ? AND item = ? "
                "AND status = 'pending'",
                (run, round, item),
            )
            self._event(run, "skip", {"item": item})

    def undo_last(self, run: str, round: int) -> int | None:
        """Undo the latest label or skip of this round's queue; returns its item, or None.
        The label row stays, marked undone; the queue entry is pending again."""
        # Newest first, read lazily: the walk stops at the first action not undone, so a run
        # with a million label events reads a handful of rows, not the whole log.
        last = self.conn.execute(QUERIES["undo_walk"], (run,))
        # Walk back over the log, pairing each undo with the action it undid.
        pending_undos = 0
        target = None
        queued = {r[0] for r in self.conn.execute(
            "SELECT item FROM queue WHERE run = ? AND round = ? AND status != 'pending'",
            (run, round),
        )}
        for kind, detail in last:
            if kind == "undo":
                pending_undos += 1
                continue
            if pending_undos:
                pending_undos -= 1
                continue
            item = json.loads(detail)["item"]
            if item in queued:
                target = (kind, item)
            break
        last.close()
        if target is None:
            return None
        kind, item = target
        now = timestamp()
        with self.transaction():
            if kind == "label":
                self.conn.execute(
                    "UPDATE labels SET undone_at = ? WHERE run = ? AND item = ? AND round = ? "
                    "AND undone_at IS NULL",
                    (now, run, item, round),
                )
            self.conn.execute(
                "UPDATE queue SET status = 'pending' WHERE run = ? AND round = ? AND item = ?",
                (run, round, item),
            )
            self._event(run, "undo", {"item": item, "undid": kind})
        return item
