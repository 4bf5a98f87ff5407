"""Meta and items: the dataset a project holds, written once by `init` and `add` (the class list:
classes.py)."""

from __future__ import annotations

import json
from typing import Iterable, Iterator, Sequence

import numpy as np

from gltui.store.queries import COUNT_ITEMS_SQL, ID_VALUE, ITEM_COUNTS_KEY, QUERIES
from gltui.store.schema import ITEMS_SPLIT_INDEX, SPLITS

_RANGE_SCAN_MIN = 1000  # true_labels of this many items or more: one primary-key range scan...
_RANGE_SCAN_SPAN = 16  # ...when they span at most 16 ids per item (else IN lists)


class ItemsMixin:
    """Meta, classes and items (part of Store; self.conn and self.transaction come from
    Connection)."""

    def set_meta(self, values: dict[str, object]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def meta(self) -> dict[str, object]:
        rows = self.conn.execute(
            "SELECT key, value FROM meta WHERE key NOT IN ('schema_version', ?)", (ITEM_COUNTS_KEY,)
        )
        return {k: json.loads(v) for k, v in rows}

    def insert_dataset(
        self,
        classes: Sequence[str],
        names: Iterable[str],
        splits: np.ndarray,
        true_labels: np.ndarray,
    ) -> None:
        """All items in one transaction. names: one per item, consumed once (a generator is fine);
        splits: uint8 index into SPLITS; true_labels: -1 unknown.

        Built for a million items: rows are made block by block as executemany consumes them
        (never a list of a million tuples), the split index is dropped for the load and built once
        after it (one sort instead of a B-tree insert per row), and the item counts go to meta so
        `status` does not count a million rows."""
        splits = np.asarray(splits, dtype=np.uint8)
        true_labels = np.asarray(true_labels, dtype=np.int64)
        n = len(splits)
        if len(true_labels) != n:
            raise ValueError(f"{len(true_labels)} true labels for {n} items")
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO classes(id, name) VALUES (?, ?)", list(enumerate(classes))
            )
            self.conn.execute(f"DROP INDEX IF EXISTS {ITEMS_SPLIT_INDEX}")
            first = self.item_end()  # the rowid's end
            inserted = self.conn.executemany(
                "INSERT INTO items(id, name, split, true_label) VALUES (?, ?, ?, ?)",
                _item_rows(first, names, splits, true_labels),
            ).rowcount
            if inserted != n:
                raise ValueError(f"fewer names than the {n} items ({inserted})")
            self.conn.execute(f"CREATE INDEX {ITEMS_SPLIT_INDEX} ON items(split)")
            counts = {split: n for split, n in self.conn.execute(COUNT_ITEMS_SQL)}
            self.conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                (ITEM_COUNTS_KEY, json.dumps(counts)),
            )

    def append_items(self, first: int, names: Sequence[str], true_labels: np.ndarray,
                     meta: dict[str, object], before_commit=None) -> None:
        """Pool items added to a project (`gltui add`) with ids first, first+1, ..., the item
        counts and `meta` updated, one event: one transaction. `first` must be the items' end
        (their rows in pixels.npy were written before); anything else raises ValueError."""
        true_labels = np.asarray(true_labels, dtype=np.int64)
        with self.transaction():
            end = self.item_end()
            if end != first:
                raise ValueError(f"items end at {end}, not {first}: the project changed meanwhile")
            splits = np.full(len(true_labels), SPLITS.index("pool"), dtype=np.uint8)
            self.conn.executemany(
                "INSERT INTO items(id, name, split, true_label) VALUES (?, ?, ?, ?)",
                _item_rows(first, names, splits, true_labels),
            )
            counts = {split: n for split, n in self.conn.execute(COUNT_ITEMS_SQL)}
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(ITEM_COUNTS_KEY, json.dumps(counts)),
                 *((k, json.dumps(v)) for k, v in meta.items())],
            )
            self._event(None, "add", {"first": first, "n": int(len(true_labels))})
            if before_commit is not None:  # the fault-injection tests kill the process here
                before_commit()

    def item_end(self) -> int:
        """One past the largest item id: the number of rows of pixels.npy the items use."""
        return self._one("SELECT coalesce(max(id) + 1, 0) FROM items")

    def item_ids(self, split: str) -> np.ndarray:
        return self.split_items(split)[0]

    def split_items(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, true labels with -1 for unknown) of a split, ordered by id: one indexed
        query read straight into two arrays."""
        arr = np.fromiter(self.conn.execute(QUERIES["split_items"], (split,)), dtype=ID_VALUE)
        return arr["id"].copy(), arr["value"].copy()

    def true_labels(self, items: np.ndarray) -> np.ndarray:
        """True label per item (-1 where unknown), in the order given. Many items close together
        (an oracle's queue, a seed set) are read with one range scan of the primary key; a few
        scattered ones with IN lists. Either way no per-item dict."""
        items = np.asarray(items, dtype=np.int64)
        out = np.full(len(items), -1, dtype=np.int64)
        if len(items) == 0:
            return out
        lo, hi = int(items.min()), int(items.max())
        if len(items) >= _RANGE_SCAN_MIN and hi - lo < _RANGE_SCAN_SPAN * len(items):
            rows = np.fromiter(self.conn.execute(QUERIES["true_labels_range"], (lo, hi)), ID_VALUE)
            dense = np.full(hi - lo + 1, -1, dtype=np.int64)
            dense[rows["id"] - lo] = rows["value"]
            return dense[items - lo]
        uniq = np.unique(items)
        found = np.full(len(uniq), -1, dtype=np.int64)
        for s in range(0, len(uniq), 900):
            chunk = uniq[s : s + 900].tolist()
            marks = ",".join("?" * len(chunk))
            rows = np.fromiter(self.conn.execute(
                f"SELECT id, true_label FROM items WHERE id IN ({marks}) "
                "AND true_label IS NOT NULL", chunk), ID_VALUE)
            found[np.searchsorted(uniq, rows["id"])] = rows["value"]
        return found[np.searchsorted(uniq, items)]

    def split_labels(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, true labels) of a split, items without a true label left out."""
        ids, labels = self.split_items(split)
        known = labels >= 0
        return ids[known], labels[known]

    def item_names(self, items: Iterable[int]) -> dict[int, str]:
        items = [int(i) for i in items]
        out: dict[int, str] = {}
        for chunk in in_chunks(items, 900):
            marks = ",".join("?" * len(chunk))
            out.update(
                self.conn.execute(f"SELECT id, name FROM items WHERE id IN ({marks})", chunk)
            )
        return out

    def has_validation_split(self) -> bool:
        """Whether early stopping has a validation split; without one a round trains on every
        label for a fixed schedule and its val_accuracy is the training set's."""
        return self.count_items().get("val", 0) > 0

    def count_items(self) -> dict[str, int]:
        """Items per split: from meta (written with the items, which never change after), or
        counted for a project made before meta held them."""
        stored = self._one("SELECT value FROM meta WHERE key = ?", (ITEM_COUNTS_KEY,))
        if stored is not None:
            return {k: int(v) for k, v in json.loads(stored).items()}
        return {split: n for split, n in self.conn.execute(COUNT_ITEMS_SQL)}


def in_chunks(seq: list, n: int) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _item_rows(first_id: int, names: Iterable[str], splits: np.ndarray, true_labels: np.ndarray,
               block: int = 65536) -> Iterator[tuple]:
    """(id, name, split, true label or None) rows, made one block at a time."""
    names = iter(names)
    for s in range(0, len(splits), block):
        split_names = map(SPLITS.__getitem__, splits[s : s + block].tolist())
        labels = [None if v < 0 else v for v in true_labels[s : s + block].tolist()]
        # zip asks range first, so it never takes a name beyond the block
        yield from zip(range(first_id + s, first_id + s + len(labels)), names, split_names, labels)
