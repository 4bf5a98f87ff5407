"""Labels: each one its own committed transaction; undo, skip, unsure and relabel are recorded,
never deleted. And the guesses a person sees beside the images offered while a round trains.

The labeling round. A label given while the run waits at `label(r)` belongs to round r; one given
while the engine works on round r (train … query: the TUI's provisional queue) belongs to round
r + 1, the round that will first train on it. The round is read inside the label's own
transaction, so a label lands either before the phase leaves `label(r)` (and round r trains on
it) or after (and round r + 1 does): the labels a round trains on (`labeled(run, up_to_round=r)`)
are fixed once its training starts, and a resumed round trains on the same set.
"""

from __future__ import annotations

import json

import numpy as np

from gltui.store.connection import timestamp
from gltui.store.queries import ID_VALUE, QUERIES
from gltui.store.rows import LabelDetail
from gltui.store.schema import SOURCES


class LabelsMixin:
    """Labels, skips and undo (part of Store)."""

    def labeled(self, run: str, up_to_round: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(items, labels) of the run's active labels, ordered by item; with `up_to_round`, only
        those of rounds <= it (what that round trains on). Unsure images have no label row: they
        are never here, so never trained on."""
        if up_to_round is None:
            rows = self.conn.execute(QUERIES["labeled"], (run,))
        else:
            rows = self.conn.execute(
                "SELECT item, label FROM labels WHERE run = ? AND undone_at IS NULL "
                "AND round <= ? ORDER BY item", (run, up_to_round))
        arr = np.fromiter(rows, dtype=ID_VALUE)
        return arr["id"].copy(), arr["value"].copy()

    def count_labeled(self, run: str, up_to_round: int | None = None) -> int:
        if up_to_round is None:
            return self._one(QUERIES["count_labeled"], (run,))
        return self._one("SELECT COUNT(*) FROM labels WHERE run = ? AND undone_at IS NULL "
                         "AND round <= ?", (run, up_to_round))

    def labeled_detail(self, run: str) -> list[LabelDetail]:
        """The active labels of `run`, by round and then in the order given."""
        return [LabelDetail(*row) for row in self.conn.execute(
            "SELECT l.item, i.name, l.label, c.name, l.source, l.round, l.created_at "
            "FROM labels l JOIN items i ON i.id = l.item JOIN classes c ON c.id = l.label "
            "WHERE l.run = ? AND l.undone_at IS NULL ORDER BY l.round, l.id",
            (run,),
        )]

    def unlabeled_pool(self, run: str) -> np.ndarray:
        """Pool items without an active label in this run, ordered by id."""
        rows = self.conn.execute(QUERIES["unlabeled_pool"], (run,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def count_unlabeled_pool(self, run: str) -> int:
        pool = self.count_items().get("pool", 0)
        return pool - self._one(QUERIES["count_labeled_pool"], (run,))

    def _labeling_round(self, run: str, round: int | None) -> int:
        """`round`, or (None) the run's labeling round read now: see the module's docstring."""
        if round is not None:
            return round
        return self._one("SELECT CASE WHEN phase = 'label' THEN round ELSE round + 1 END "
                         "FROM runs WHERE name = ?", (run,))

    def add_label(self, run: str, round: int | None, item: int, label: int, source: str,
                  before_commit=None) -> int:
        """One label, its queue entry marked labeled, one event: a single committed transaction.
        Relabeling an item that has an active label replaces it (the old row is marked undone).
        round None: the run's labeling round, read in the same transaction. Returns the round."""
        assert source in SOURCES, source
        now = timestamp()
        with self.transaction():
            round = self._labeling_round(run, round)
            self.conn.execute(QUERIES["label_replace"], (now, run, item))
            self.conn.execute(
                "INSERT INTO labels(run, item, label, source, round, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run, item, label, source, round, now),
            )
            self.conn.execute(QUERIES["queue_mark_labeled"], (run, round, item))
            self._event(run, "label", {"item": item, "label": label, "source": source,
                                       "round": round})
            if before_commit is not None:  # the fault-injection tests kill the process here
                before_commit()
        return round

    def add_labels(self, run: str, round: int | None, items: np.ndarray, labels: np.ndarray,
                   source: str, before_commit=None) -> None:
        """Many labels in one transaction (the oracle's whole queue, a person's confirmed page)."""
        with self.transaction():
            for item, label in zip(items.tolist(), labels.tolist()):
                self.add_label(run, round, item, label, source)
            if before_commit is not None:  # the fault-injection tests kill the process here
                before_commit()

    def skip(self, run: str, round: int | None, item: int, kind: str = "skip") -> int:
        """Leave an image for now (kind "skip") or mark it "unsure": its queue entry is marked
        (skipped | unsure), one event; no label row, so an unsure image is never trained on.
        An image of the provisional queue has no queue entry: the event alone records it."""
        assert kind in ("skip", "unsure"), kind
        status = "skipped" if kind == "skip" else "unsure"
        with self.transaction():
            round = self._labeling_round(run, round)
            self.conn.execute(
                "UPDATE queue SET status = ? WHERE run = ? AND round = ? AND item = ? "
                "AND status = 'pending'",
                (status, run, round, item),
            )
            self._event(run, kind, {"item": item, "round": round})
        return round

    def relabel(self, run: str, item: int, label: int) -> int:
        """A person corrects an earlier label (the history view): the active row is marked
        undone and a new human row takes its place in the same round (the round that trained, or
        will train, on it), with a "relabel" event; one transaction. Returns the old label."""
        now = timestamp()
        with self.transaction():
            row = self.conn.execute(
                "SELECT label, round FROM labels WHERE run = ? AND item = ? AND undone_at IS NULL",
                (run, item)).fetchone()
            if row is None:
                raise ValueError(f"item {item} has no active label to change")
            old, round = row
            self.conn.execute(QUERIES["label_replace"], (now, run, item))
            self.conn.execute(
                "INSERT INTO labels(run, item, label, source, round, created_at) "
                "VALUES (?, ?, ?, 'human', ?, ?)", (run, item, label, round, now))
            self._event(run, "relabel", {"item": item, "old": old, "label": label,
                                         "round": round})
        return old

    def undo_last(self, run: str, round: int | None) -> int | None:
        """Undo the latest label, skip or unsure of this round (its queue, or its provisional
        images); returns its item, or None. The label row stays, marked undone; the queue entry
        is pending again. round None: the run's labeling round."""
        round = self._labeling_round(run, round)
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
            detail = json.loads(detail)
            item = detail["item"]
            if item in queued or detail.get("round") == round:
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

    # -- what a person marked unsure --------------------------------------------------------------

    def unsure_marks(self, run: str) -> list[tuple[int, float]]:
        """(item, when) of the images of `run` marked unsure and still so: the mark not undone,
        and no active label given since. Oldest first. Unsure images have no label row; the
        event log is their record (undo pairs with the newest action not undone yet, as
        undo_last walks it)."""
        done: list[tuple[str, int, float]] = []  # the actions not undone, oldest first
        for kind, detail, at in self.conn.execute(
                "SELECT kind, detail, time FROM events WHERE run = ? "
                "AND kind IN ('label', 'skip', 'unsure', 'undo') ORDER BY id", (run,)):
            if kind == "undo":
                if done:
                    done.pop()
                continue
            done.append((kind, int(json.loads(detail)["item"]), at))
        latest: dict[int, tuple[str, float]] = {}
        for kind, item, at in done:
            latest[item] = (kind, at)
        labeled = set(self.labeled(run)[0].tolist())
        marks = [(item, at) for item, (kind, at) in latest.items()
                 if kind == "unsure" and item not in labeled]
        return sorted(marks, key=lambda m: m[1])

    # -- the model's guesses on the images offered while a round trains ---------------------------

    def save_guesses(self, run: str, round: int, items: np.ndarray, probs: np.ndarray) -> None:
        """The round model's top-3 guesses (class, probability) on `items` (probs: N x classes,
        the model's softmax), kept in the order given. The engine's evaluation stores them for
        the images the TUI will offer while the next round trains (project/labeler.py
        `offered_items`); call inside the transaction that commits the round."""
        items = np.asarray(items, dtype="<i8")
        probs = np.asarray(probs, dtype=np.float32).reshape(len(items), -1)
        top = np.argsort(-probs, axis=1, kind="stable")[:, :GUESSES]
        p = np.take_along_axis(probs, top, axis=1)
        if top.shape[1] < GUESSES:  # fewer than three classes: pad with "no class"
            pad = GUESSES - top.shape[1]
            top = np.pad(top, ((0, 0), (0, pad)), constant_values=-1)
            p = np.pad(p, ((0, 0), (0, pad)))
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO guesses(run, round, items, classes, probs) "
                "VALUES (?, ?, ?, ?, ?)",
                (run, int(round), items.tobytes(), top.astype("<i2").tobytes(),
                 p.astype("<f4").tobytes()))

    def guesses(self, run: str, up_to_round: int | None = None
                ) -> tuple[int, dict[int, list[list]]] | None:
        """(round, {item: [[class, probability], ...] best first}) of the latest round of `run`
        (at most `up_to_round`) that stored guesses, items in the order stored (a dict keeps
        it); None when no round did."""
        sql = "SELECT round, items, classes, probs FROM guesses WHERE run = ?"
        params: tuple = (run,)
        if up_to_round is not None:
            sql, params = sql + " AND round <= ?", (run, int(up_to_round))
        row = self.conn.execute(sql + " ORDER BY round DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        round, items, classes, probs = row
        items = np.frombuffer(items, dtype="<i8")
        classes = np.frombuffer(classes, dtype="<i2").reshape(len(items), GUESSES)
        probs = np.frombuffer(probs, dtype="<f4").reshape(len(items), GUESSES)
        return round, {
            int(i): [[int(c), round_p(p)] for c, p in zip(cs, ps) if c >= 0]
            for i, cs, ps in zip(items.tolist(), classes.tolist(), probs.tolist())}


GUESSES = 3  # the guesses kept per image: what the labeling screen shows


def round_p(p: float) -> float:
    return round(float(p), 6)
