"""The project's two fixed random sets, and what each round's model predicted on them.

  audit  a uniform random sample of the pool that a person (or the oracle) labels. Its items have
         the split `audit`, so they are never in the pool: never seed, never candidates, never
         trained on, never used for early stopping. Its order is the order of the draw, so the
         first m items are themselves a uniform sample: a person who labels them in that order
         has labeled a uniform sample at every moment. Audit labels are project-wide (every run
         is measured against the same ones) and are events like a run's labels: one committed
         transaction each, relabel and undo mark the old row undone, never delete it.
  stop   a random sample of pool images, drawn at init around nothing labeled: no run draws a
         seed from it, queues it or trains on it, labeled or not (project/folder.py). Consecutive
         rounds' predictions on it give Cohen's kappa, the stopping signal; the round's own
         predictions on an augmented view of it give the kappa a retrained model cannot beat.

Per run and round, the round model's predicted class for every item of each set (int16 blob,
in the set's order) is kept in `set_predictions`; the estimates (gltui/results.py) are computed
from it when read, so an audit label given after a round was evaluated still counts.
"""

from __future__ import annotations

import numpy as np

from gltui.store.connection import timestamp
from gltui.store.rows import AuditLabelDetail
from gltui.store.schema import SOURCES

SETS = ("audit", "stop")
# What a round's predictions are kept on: the sets, and the stop set seen through one seeded
# augmented view (the round model's own agreement ceiling: the auto threshold of the stop rule).
PREDICTED_SETS = (*SETS, "stop-view")


def _ids(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<i8").astype(np.int64)


class SetsMixin:
    """The audit and stop sets, audit labels, and per-round predictions on the sets (part of
    Store)."""

    # -- the sets ----------------------------------------------------------------------------

    def save_sample_set(self, name: str, items: np.ndarray, seed: int) -> bool:
        """Keep a set's items in their drawn order. A set is drawn once: when it exists already
        nothing changes and False is returned."""
        assert name in SETS, name
        with self.transaction():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO sample_sets(name, items, seed, created_at) "
                "VALUES (?, ?, ?, ?)",
                (name, np.asarray(items, dtype="<i8").tobytes(), int(seed), timestamp()),
            )
            if cur.rowcount:
                self._event(None, "sample-set", {"set": name, "n": int(len(items))})
            return bool(cur.rowcount)

    def sample_set(self, name: str) -> np.ndarray | None:
        """A set's items in drawn order, or None when the project has no such set (a project
        made before sets existed, or `--audit 0`)."""
        blob = self._one("SELECT items FROM sample_sets WHERE name = ?", (name,))
        return None if blob is None else _ids(blob)

    def labeled_in_any_run(self) -> np.ndarray:
        """Items with an active label in any run, sorted (what a stop set is drawn around)."""
        rows = self.conn.execute(
            "SELECT DISTINCT item FROM labels WHERE undone_at IS NULL ORDER BY item")
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    # -- audit labels --------------------------------------------------------------------------

    def audit_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """(items, labels) of the active audit labels, ordered by item."""
        rows = self.conn.execute(
            "SELECT item, label FROM audit_labels WHERE undone_at IS NULL ORDER BY item"
        ).fetchall()
        arr = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        return arr[:, 0].copy(), arr[:, 1].copy()

    def audit_label_detail(self) -> list[AuditLabelDetail]:
        """The active audit labels, in the order given (what an export writes)."""
        return [AuditLabelDetail(*row) for row in self.conn.execute(
            "SELECT a.item, i.name, a.label, c.name, a.source, a.created_at "
            "FROM audit_labels a JOIN items i ON i.id = a.item JOIN classes c ON c.id = a.label "
            "WHERE a.undone_at IS NULL ORDER BY a.id"
        )]

    def audit_queue(self) -> list[int]:
        """The audit items without an active label, in the set's order: what to label next."""
        items = self.sample_set("audit")
        if items is None:
            return []
        done = set(self.audit_labels()[0].tolist())
        return [int(i) for i in items if int(i) not in done]

    def add_audit_label(self, item: int, label: int, source: str, run: str | None = None) -> None:
        """One audit label and its event, one committed transaction. Relabeling replaces the
        active label (the old row is marked undone). `run`: who gave it, for the event log only."""
        self.add_audit_labels([item], [label], source, run)

    def add_audit_labels(self, items, labels, source: str, run: str | None = None) -> None:
        """Many audit labels in one transaction (the oracle labels the whole set at once)."""
        assert source in SOURCES, source
        audit = self.sample_set("audit")
        members = set() if audit is None else set(audit.tolist())
        now = timestamp()
        with self.transaction():
            for item, label in zip(np.asarray(items).tolist(), np.asarray(labels).tolist()):
                if item not in members:
                    raise ValueError(f"item {item} is not in the audit set")
                self.conn.execute(
                    "UPDATE audit_labels SET undone_at = ? WHERE item = ? AND undone_at IS NULL",
                    (now, item),
                )
                self.conn.execute(
                    "INSERT INTO audit_labels(item, label, source, created_at) VALUES (?, ?, ?, ?)",
                    (item, label, source, now),
                )
                self._event(run, "audit-label", {"item": item, "label": label, "source": source})

    def undo_audit_label(self, run: str | None = None) -> int | None:
        """Undo the newest active audit label (repeat to walk further back); returns its item,
        or None when there is none. The row stays, marked undone."""
        row = self.conn.execute(
            "SELECT id, item FROM audit_labels WHERE undone_at IS NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        with self.transaction():
            self.conn.execute("UPDATE audit_labels SET undone_at = ? WHERE id = ?",
                              (timestamp(), row[0]))
            self._event(run, "audit-undo", {"item": row[1]})
        return int(row[1])

    # -- predictions on the sets, per round -----------------------------------------------------

    def save_set_predictions(self, run: str, round: int, name: str, predicted: np.ndarray) -> None:
        """The round model's predicted class for every item of set `name`, in the set's order.
        Call inside the transaction that commits the round's evaluation."""
        assert name in PREDICTED_SETS, name
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO set_predictions(run, round, name, predicted) "
                "VALUES (?, ?, ?, ?)",
                (run, round, name, np.asarray(predicted, dtype="<i2").tobytes()),
            )

    def set_predictions(self, run: str, name: str) -> dict[int, np.ndarray]:
        """{round: predicted classes in the set's order} of every round of `run` that has them."""
        rows = self.conn.execute(
            "SELECT round, predicted FROM set_predictions WHERE run = ? AND name = ? "
            "ORDER BY round",
            (run, name),
        )
        return {r: np.frombuffer(blob, dtype="<i2").astype(np.int64) for r, blob in rows}
