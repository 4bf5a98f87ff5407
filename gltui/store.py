"""The project database: schema, migrations and every SQL statement of gltui.

One SQLite file (`gltui.db`, WAL) per project. Nothing outside this module writes SQL. Every
write that moves a run forward happens inside `Store.transaction()` so that an outcome and the
phase change that follows it land together or not at all; a label is its own transaction with
synchronous=FULL, so a key press that returned is on disk.

Tables (schema as code, below):
  meta     key/value: schema version, dataset spec and shape, project seed
  classes  class index -> name
  items    one row per image: id == row in pixels.npy, source name, split (pool|val|test), true label
  runs     one row per run: strategy, seed, config JSON, phase, round
  labels   every label ever given: run, item, label, source (seed|oracle|human), round, time;
           undo marks a row undone (undone_at), it never deletes it
  queue    per run and round: the items chosen for labeling, rank, score, top-3 guesses, status
  passes   per run and round: the candidate items of a scoring pass (int64 blob) and chunk size
  scores   per run, round and chunk: float32 blob of scores, committed as each chunk finishes
  rounds   per run and round: n_labeled, accuracies, epochs, timings, class histogram
  events   the audit log: phase changes, labels, undo, skip, config changes
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import sqlite_utils

SCHEMA_VERSION = 1
SPLITS = ("pool", "val", "test")
PHASES = ("label", "train", "evaluate", "score", "query", "done")
SOURCES = ("seed", "oracle", "human")


class StoreError(Exception):
    """A project database that cannot be used as it is (not SQLite, newer schema, missing)."""


@dataclass
class RunRow:
    name: str
    strategy: str
    seed: int
    config: str
    phase: str
    round: int
    stop_reason: str | None
    created_at: float
    updated_at: float


@dataclass
class QueueEntry:
    item: int
    rank: int
    score: float
    status: str  # pending | labeled | skipped
    guesses: list  # [[class index, probability], ...] top-3 of the model that chose it
    label: int | None  # the active label when status == labeled


@dataclass(frozen=True)
class RoundRow:
    """One round of one run, as the rounds table holds it. A round row exists once training
    committed (val_accuracy, epochs, timings); evaluation adds test_accuracy (None without a test
    split), class_hist and finished_at, so `finished_at is None` means trained, not evaluated."""

    round: int
    n_labeled: int
    val_accuracy: float | None
    test_accuracy: float | None
    epochs: int | None
    best_epoch: int | None
    train_seconds: float | None
    score_seconds: float | None
    profile: str | None
    finished_at: float | None
    class_hist: list[int] | None  # labeled images per class at the end of the round


ROUND_COLUMNS = tuple(f.name for f in fields(RoundRow))  # class_hist last: stored as JSON


def _now() -> float:
    return time.time()


ITEMS_SPLIT_INDEX = "idx_items_split"  # the name sqlite-utils gave it in migration 1
ITEM_COUNTS_KEY = "item_counts"  # meta: {split: count}, written with the items
_ID_VALUE = np.dtype([("id", "<i8"), ("value", "<i8")])  # (id, int) rows read straight to numpy
_RANGE_SCAN_MIN = 1000  # true_labels of this many items or more: one primary-key range scan...
_RANGE_SCAN_SPAN = 16  # ...when they span at most 16 ids per item (else IN lists)

# Counts every item (a full index scan): run once, when the items are inserted.
_COUNT_ITEMS_SQL = "SELECT split, COUNT(*) FROM items GROUP BY split"

# The statements of the hot paths (status, labeling, the engine's score and query phases), by
# name, so that `query_plan` can show that each one searches an index rather than scanning a
# million-row table; the tests check every plan.
QUERIES: dict[str, str] = {
    "split_items": "SELECT id, coalesce(true_label, -1) FROM items WHERE split = ? ORDER BY id",
    "true_labels_range": "SELECT id, true_label FROM items WHERE id BETWEEN ? AND ? "
    "AND true_label IS NOT NULL",
    "labeled": "SELECT item, label FROM labels WHERE run = ? AND undone_at IS NULL ORDER BY item",
    "count_labeled": "SELECT COUNT(*) FROM labels WHERE run = ? AND undone_at IS NULL",
    "count_labeled_pool": "SELECT COUNT(*) FROM labels l JOIN items i ON i.id = l.item "
    "WHERE l.run = ? AND l.undone_at IS NULL AND i.split = 'pool'",
    "unlabeled_pool": "SELECT id FROM items WHERE split = 'pool' AND id NOT IN "
    "(SELECT item FROM labels WHERE run = ? AND undone_at IS NULL) ORDER BY id",
    "label_replace": "UPDATE labels SET undone_at = ? WHERE run = ? AND item = ? "
    "AND undone_at IS NULL",
    "queue_mark_labeled": "UPDATE queue SET status = 'labeled' WHERE run = ? AND round = ? "
    "AND item = ?",
    "undo_walk": "SELECT kind, detail FROM events WHERE run = ? "
    "AND kind IN ('label', 'skip', 'undo') ORDER BY id DESC",
    "queue": "SELECT q.item, q.rank, q.score, q.status, q.guesses, l.label FROM queue q "
    "LEFT JOIN labels l ON l.run = q.run AND l.item = q.item AND l.undone_at IS NULL "
    "WHERE q.run = ? AND q.round = ? ORDER BY q.rank",
    "count_pending": "SELECT COUNT(*) FROM queue WHERE run = ? AND round = ? AND status = 'pending'",
    "done_chunks": "SELECT chunk FROM scores WHERE run = ? AND round = ?",
    "pass_scores": "SELECT scores FROM scores WHERE run = ? AND round = ? ORDER BY chunk",
}


# ---------------------------------------------------------------------------------------------
# Schema and migrations. Each migration takes the schema from version i-1 to i; a fresh DB runs
# them all in order. Add a migration, never edit a released one.


def _migration_1(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["classes"].create({"id": int, "name": str}, pk="id", not_null={"name"})
    db["items"].create(
        {"id": int, "name": str, "split": str, "true_label": int},
        pk="id",
        not_null={"name", "split"},
    )
    db["items"].create_index(["split"])
    db["runs"].create(
        {
            "name": str,
            "strategy": str,
            "seed": int,
            "config": str,
            "phase": str,
            "round": int,
            "stop_reason": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="name",
        not_null={"strategy", "seed", "config", "phase", "round"},
    )
    db["labels"].create(
        {
            "id": int,
            "run": str,
            "item": int,
            "label": int,
            "source": str,
            "round": int,
            "created_at": float,
            "undone_at": float,
        },
        pk="id",
        not_null={"run", "item", "label", "source", "round", "created_at"},
        foreign_keys=[("run", "runs", "name"), ("item", "items", "id")],
    )
    # At most one active label per run and item: the database itself refuses a duplicate.
    db.execute(
        "CREATE UNIQUE INDEX labels_active ON labels(run, item) WHERE undone_at IS NULL"
    )
    db["labels"].create_index(["run", "round"])
    db["queue"].create(
        {
            "run": str,
            "round": int,
            "item": int,
            "rank": int,
            "score": float,
            "status": str,
            "guesses": str,
        },
        pk=("run", "round", "item"),
        not_null={"rank", "status"},
    )
    db["queue"].create_index(["run", "round", "rank"])
    db["passes"].create(
        {"run": str, "round": int, "chunk_size": int, "n_chunks": int, "candidates": bytes},
        pk=("run", "round"),
    )
    db["scores"].create(
        {"run": str, "round": int, "chunk": int, "start": int, "scores": bytes},
        pk=("run", "round", "chunk"),
    )
    db["rounds"].create(
        {
            "run": str,
            "round": int,
            "n_labeled": int,
            "val_accuracy": float,
            "test_accuracy": float,
            "epochs": int,
            "best_epoch": int,
            "train_seconds": float,
            "score_seconds": float,
            "class_hist": str,
            "profile": str,
            "finished_at": float,
        },
        pk=("run", "round"),
    )
    db["events"].create(
        {"id": int, "run": str, "time": float, "kind": str, "detail": str}, pk="id"
    )
    db["events"].create_index(["run", "id"])


MIGRATIONS = [_migration_1]
assert len(MIGRATIONS) == SCHEMA_VERSION


def _folder_writable(folder: Path) -> bool:
    """Whether a file can be created in `folder`: tried, not asked (os.access says yes to root
    on a read-only mount or an immutable folder)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".gltui-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


class Store:
    """A connection to one project's database. Cheap to open; one per thread."""

    def __init__(self, path: Path, *, create: bool = False):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no gltui project database here; run `gltui init` first")
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
            # what `transaction()` encloses and nothing is left open by an implicit BEGIN.
            self.conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            self.conn.execute("PRAGMA busy_timeout = 30000")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.DatabaseError as err:
            if self.path.is_file() and not _folder_writable(self.path.parent):
                # WAL needs its -wal and -shm files beside the database, even to read.
                raise StoreError(
                    f"{self.path.parent}: the project folder is not writable, and gltui keeps "
                    "its journal and checkpoints there; fix its permissions or copy the project "
                    "somewhere writable"
                ) from err
            raise StoreError(f"{self.path}: not a gltui project database ({err})") from err
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch the database to WAL mode ({mode})")
        # FULL: a commit that returned survives power loss, not only a process crash.
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.db = sqlite_utils.Database(self.conn)
        self._migrate(create)

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; rolled back on any exception."""
        if self.conn.in_transaction:  # nested use joins the outer transaction
            yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _one(self, sql: str, params: Sequence = ()):
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def schema_version(self) -> int:
        try:
            value = self._one("SELECT value FROM meta WHERE key = 'schema_version'")
        except sqlite3.OperationalError:
            return 0
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: not a gltui project database ({err})") from err
        return int(value) if value is not None else 0

    def _migrate(self, create: bool) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: made by a newer gltui (schema {version}, this gltui knows "
                f"{SCHEMA_VERSION}); upgrade gltui to open it"
            )
        if version == 0 and not create:
            raise StoreError(f"{self.path}: not a gltui project database (no schema)")
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            for number in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[number - 1](self.db)
            self.conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    # -- meta, classes, items --------------------------------------------------------------------

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
            first = self._one("SELECT coalesce(max(id) + 1, 0) FROM items")  # the rowid's end
            inserted = self.conn.executemany(
                "INSERT INTO items(id, name, split, true_label) VALUES (?, ?, ?, ?)",
                _item_rows(first, names, splits, true_labels),
            ).rowcount
            if inserted != n:
                raise ValueError(f"fewer names than the {n} items ({inserted})")
            self.conn.execute(f"CREATE INDEX {ITEMS_SPLIT_INDEX} ON items(split)")
            counts = {split: n for split, n in self.conn.execute(_COUNT_ITEMS_SQL)}
            self.conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                (ITEM_COUNTS_KEY, json.dumps(counts)),
            )

    def classes(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM classes ORDER BY id")]

    def item_ids(self, split: str) -> np.ndarray:
        return self.split_items(split)[0]

    def split_items(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, true labels with -1 for unknown) of a split, ordered by id: one indexed
        query read straight into two arrays."""
        arr = np.fromiter(self.conn.execute(QUERIES["split_items"], (split,)), dtype=_ID_VALUE)
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
            rows = np.fromiter(self.conn.execute(QUERIES["true_labels_range"], (lo, hi)), _ID_VALUE)
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
                "AND true_label IS NOT NULL", chunk), _ID_VALUE)
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
        for chunk in _chunks(items, 900):
            marks = ",".join("?" * len(chunk))
            out.update(
                self.conn.execute(f"SELECT id, name FROM items WHERE id IN ({marks})", chunk)
            )
        return out

    def count_items(self) -> dict[str, int]:
        """Items per split: from meta (written with the items, which never change after), or
        counted for a project made before meta held them."""
        stored = self._one("SELECT value FROM meta WHERE key = ?", (ITEM_COUNTS_KEY,))
        if stored is not None:
            return {k: int(v) for k, v in json.loads(stored).items()}
        return {split: n for split, n in self.conn.execute(_COUNT_ITEMS_SQL)}

    # -- query plans -----------------------------------------------------------------------------

    def query_plan(self, name: str) -> list[str]:
        """EXPLAIN QUERY PLAN of one of QUERIES (the statements the hot paths run), one string per
        plan step, e.g. 'SEARCH labels USING COVERING INDEX labels_active (run=? AND item=?)'."""
        sql = QUERIES[name]
        rows = self.conn.execute("EXPLAIN QUERY PLAN " + sql, [0] * sql.count("?"))
        return [r[3] for r in rows]

    # -- runs ------------------------------------------------------------------------------------

    def create_run(
        self,
        name: str,
        strategy: str,
        seed: int,
        config_json: str,
        seed_items: np.ndarray,
        seed_labels: np.ndarray | None,
    ) -> None:
        """A new run. With seed labels it starts training; without, the seed set is queued for a
        person to label first (round 0)."""
        now = _now()
        phase = "train" if seed_labels is not None else "label"
        with self.transaction():
            self.conn.execute(
                "INSERT INTO runs(name, strategy, seed, config, phase, round, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                (name, strategy, seed, config_json, phase, now, now),
            )
            if seed_labels is not None:
                self.conn.executemany(
                    "INSERT INTO labels(run, item, label, source, round, created_at) "
                    "VALUES (?, ?, ?, 'seed', 0, ?)",
                    [(name, int(i), int(y), now) for i, y in zip(seed_items, seed_labels)],
                )
            else:
                self._write_queue(name, 0, seed_items, np.zeros(len(seed_items)), None)
            self._event(name, "run-created", {"strategy": strategy, "seed": seed, "phase": phase})

    def run(self, name: str) -> RunRow | None:
        row = self.conn.execute(
            "SELECT name, strategy, seed, config, phase, round, stop_reason, created_at, "
            "updated_at FROM runs WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else RunRow(*row)

    def runs(self) -> list[RunRow]:
        rows = self.conn.execute(
            "SELECT name, strategy, seed, config, phase, round, stop_reason, created_at, "
            "updated_at FROM runs ORDER BY created_at, name"
        )
        return [RunRow(*r) for r in rows]

    def set_phase(
        self, run: str, phase: str, round: int | None = None, stop_reason: str | None = None
    ) -> None:
        """Move a run to a phase. Call inside the transaction that commits the outcome."""
        assert phase in PHASES, phase
        with self.transaction():
            if round is None:
                self.conn.execute(
                    "UPDATE runs SET phase = ?, stop_reason = ?, updated_at = ? WHERE name = ?",
                    (phase, stop_reason, _now(), run),
                )
            else:
                self.conn.execute(
                    "UPDATE runs SET phase = ?, round = ?, stop_reason = ?, updated_at = ? "
                    "WHERE name = ?",
                    (phase, round, stop_reason, _now(), run),
                )
            self._event(run, "phase", {"phase": phase, "round": round, "stop": stop_reason})

    def set_run_config(self, run: str, config_json: str, changes: dict) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET config = ?, updated_at = ? WHERE name = ?",
                (config_json, _now(), run),
            )
            self._event(run, "config", changes)

    # -- labels ----------------------------------------------------------------------------------

    def labeled(self, run: str) -> tuple[np.ndarray, np.ndarray]:
        """(items, labels) of the run's active labels, ordered by item."""
        arr = np.fromiter(self.conn.execute(QUERIES["labeled"], (run,)), dtype=_ID_VALUE)
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
        now = _now()
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
        now = _now()
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

    # -- scoring passes and the queue ------------------------------------------------------------

    def start_pass(self, run: str, round: int, candidates: np.ndarray, chunk_size: int) -> None:
        n_chunks = (len(candidates) + chunk_size - 1) // chunk_size
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO passes(run, round, chunk_size, n_chunks, candidates) "
                "VALUES (?, ?, ?, ?, ?)",
                (run, round, chunk_size, n_chunks, candidates.astype("<i8").tobytes()),
            )

    def scoring_pass(self, run: str, round: int) -> tuple[np.ndarray, int, int] | None:
        """(candidates, chunk_size, n_chunks) of a started pass, or None."""
        row = self.conn.execute(
            "SELECT candidates, chunk_size, n_chunks FROM passes WHERE run = ? AND round = ?",
            (run, round),
        ).fetchone()
        if row is None:
            return None
        return np.frombuffer(row[0], dtype="<i8").astype(np.int64), row[1], row[2]

    def save_chunk(self, run: str, round: int, chunk: int, start: int, scores: np.ndarray) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO scores(run, round, chunk, start, scores) "
                "VALUES (?, ?, ?, ?, ?)",
                (run, round, chunk, start, scores.astype("<f4").tobytes()),
            )

    def done_chunks(self, run: str, round: int) -> set[int]:
        return {r[0] for r in self.conn.execute(QUERIES["done_chunks"], (run, round))}

    def chunk_versions(self, run: str, round: int) -> dict[int, int]:
        """chunk -> the rowid its scores were stored under. Writing a chunk again (INSERT OR
        REPLACE) gives it a new rowid, so equal versions before and after a resume prove that the
        finished chunks were skipped, not scored again (bench_scale's kill + resume check)."""
        return dict(self.conn.execute(
            "SELECT chunk, rowid FROM scores WHERE run = ? AND round = ?", (run, round)
        ))

    def pass_scores(self, run: str, round: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(candidates, scores) of a finished pass, or None when it is not complete."""
        started = self.scoring_pass(run, round)
        if started is None:
            return None
        candidates, _, n_chunks = started
        rows = self.conn.execute(QUERIES["pass_scores"], (run, round)).fetchall()
        if len(rows) != n_chunks:
            return None
        scores = np.concatenate([np.frombuffer(r[0], dtype="<f4") for r in rows] or [[]])
        return candidates, scores.astype(np.float32)

    def finished_passes(self, run: str) -> list[int]:
        """Rounds of the run whose scoring pass has every chunk stored, ascending (read-only)."""
        rows = self.conn.execute(
            "SELECT p.round FROM passes p WHERE p.run = ? AND p.n_chunks = "
            "(SELECT COUNT(*) FROM scores s WHERE s.run = p.run AND s.round = p.round) "
            "ORDER BY p.round",
            (run,),
        )
        return [r[0] for r in rows]

    def write_queue(
        self,
        run: str,
        round: int,
        items: np.ndarray,
        scores: np.ndarray,
        guesses: list | None,
        next_phase: str,
    ) -> None:
        """The queue of a round and the phase change to it, in one transaction."""
        with self.transaction():
            self._write_queue(run, round, items, scores, guesses)
            self.set_phase(run, next_phase, round)

    def _write_queue(self, run, round, items, scores, guesses) -> None:
        self.conn.execute("DELETE FROM queue WHERE run = ? AND round = ?", (run, round))
        self.conn.executemany(
            "INSERT INTO queue(run, round, item, rank, score, status, guesses) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            [
                (run, round, int(item), rank, float(score),
                 json.dumps(guesses[rank]) if guesses is not None else None)
                for rank, (item, score) in enumerate(zip(items, scores))
            ],
        )

    def queue(self, run: str, round: int) -> list[QueueEntry]:
        rows = self.conn.execute(QUERIES["queue"], (run, round))
        return [
            QueueEntry(item, rank, score, status, json.loads(g) if g else [],
                       label if status == "labeled" else None)
            for item, rank, score, status, g, label in rows
        ]

    def count_pending(self, run: str, round: int) -> int:
        return self._one(QUERIES["count_pending"], (run, round))

    # -- rounds ----------------------------------------------------------------------------------

    def save_round(self, run: str, round: int, values: dict, next_phase: str | None = None,
                   stop_reason: str | None = None) -> None:
        """Upsert a round's results; with next_phase, the phase change commits with them."""
        with self.transaction():
            row = {"run": run, "round": round, **values}
            if isinstance(row.get("class_hist"), (list, dict)):
                row["class_hist"] = json.dumps(row["class_hist"])
            cols = ", ".join(row)
            marks = ", ".join("?" * len(row))
            updates = ", ".join(f"{k} = excluded.{k}" for k in row if k not in ("run", "round"))
            self.conn.execute(
                f"INSERT INTO rounds({cols}) VALUES ({marks}) "
                f"ON CONFLICT(run, round) DO UPDATE SET {updates}",
                list(row.values()),
            )
            if next_phase is not None:
                self.set_phase(run, next_phase, stop_reason=stop_reason)

    def rounds(self, run: str) -> list[RoundRow]:
        rows = self.conn.execute(
            f"SELECT {', '.join(ROUND_COLUMNS)} FROM rounds WHERE run = ? ORDER BY round", (run,)
        )
        return [RoundRow(*row[:-1], class_hist=json.loads(row[-1]) if row[-1] else None)
                for row in rows]

    # -- events ----------------------------------------------------------------------------------

    def _event(self, run: str | None, kind: str, detail: dict) -> None:
        self.conn.execute(
            "INSERT INTO events(run, time, kind, detail) VALUES (?, ?, ?, ?)",
            (run, _now(), kind, json.dumps(detail)),
        )

    def add_event(self, run: str | None, kind: str, detail: dict) -> None:
        with self.transaction():
            self._event(run, kind, detail)

    def events(self, run: str, kinds: Sequence[str] | None = None, limit: int = 100) -> list:
        if kinds:
            marks = ",".join("?" * len(kinds))
            rows = self.conn.execute(
                f"SELECT time, kind, detail FROM events WHERE run = ? AND kind IN ({marks}) "
                "ORDER BY id DESC LIMIT ?",
                (run, *kinds, limit),
            )
        else:
            rows = self.conn.execute(
                "SELECT time, kind, detail FROM events WHERE run = ? ORDER BY id DESC LIMIT ?",
                (run, limit),
            )
        return [(t, k, json.loads(d)) for t, k, d in rows]

    # -- integrity -------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        return self._one("PRAGMA integrity_check")

    def duplicate_active_labels(self) -> int:
        return self._one(
            "SELECT COUNT(*) FROM (SELECT run, item FROM labels WHERE undone_at IS NULL "
            "GROUP BY run, item HAVING COUNT(*) > 1)"
        )


def _chunks(seq: list, n: int) -> Iterator[list]:
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
