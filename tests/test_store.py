"""The project database: schema, versions, label durability, undo and skip as recorded events."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from gltui.errors import StoreError
from gltui.store import SCHEMA_VERSION, Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "gltui.db", create=True)
    s.insert_dataset(["a", "b", "c"], [f"img{i}.png" for i in range(10)],
                     np.array([0] * 8 + [1, 2], dtype=np.uint8),
                     np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, -1], dtype=np.int64))
    s.create_run("main", "rde", 0, "{}", np.array([0, 1]), np.array([0, 1]))
    yield s
    s.close()


def test_schema_version_and_reopen(store, tmp_path):
    assert store.schema_version() == SCHEMA_VERSION
    again = Store(tmp_path / "gltui.db")
    assert again.classes() == ["a", "b", "c"]
    assert again.count_items() == {"pool": 8, "val": 1, "test": 1}
    assert again.run("main").phase == "train"
    again.close()


def test_newer_schema_is_refused(store, tmp_path):
    store.conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer gltui"):
        Store(tmp_path / "gltui.db")


def test_not_sqlite_is_refused(tmp_path):
    bad = tmp_path / "gltui.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a gltui project database"):
        Store(bad)


def test_missing_db_is_refused(tmp_path):
    with pytest.raises(StoreError, match="gltui init"):
        Store(tmp_path / "nothing.db")


def test_seed_labels_and_pool(store):
    items, labels = store.labeled("main")
    assert items.tolist() == [0, 1] and labels.tolist() == [0, 1]
    assert store.unlabeled_pool("main").tolist() == [2, 3, 4, 5, 6, 7]
    assert store.count_unlabeled_pool("main") == 6


def _queue(store, items):
    store.write_queue("main", 1, np.array(items), np.linspace(1, 0, len(items)),
                      [[[0, 0.5], [1, 0.3], [2, 0.2]]] * len(items), "label")


def test_label_commits_immediately_and_survives_a_killed_process(store, tmp_path):
    _queue(store, [2, 3, 4])
    # Another process labels one item and is SIGKILLed right after: the label must be there.
    code = (
        "import os, signal, sys; sys.path.insert(0, %r)\n"
        "from gltui.store import Store\n"
        "s = Store(%r)\n"
        "s.add_label('main', 1, 3, 2, 'human')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    ) % (str(__import__("pathlib").Path(__file__).parents[1]), str(tmp_path / "gltui.db"))
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -9
    fresh = Store(tmp_path / "gltui.db")
    entries = {e.item: e for e in fresh.queue("main", 1)}
    assert entries[3].status == "labeled" and entries[3].label == 2
    assert fresh.count_labeled("main") == 3
    assert fresh.integrity_check() == "ok"
    fresh.close()


def test_duplicate_active_label_is_impossible(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute(
            "INSERT INTO labels(run, item, label, source, round, created_at) "
            "VALUES ('main', 0, 1, 'human', 1, 0)"
        )
    # Relabeling through the store replaces the active label and keeps the old row.
    store.add_label("main", 0, 0, 2, "human")
    assert dict(zip(*[a.tolist() for a in store.labeled("main")]))[0] == 2
    assert store.duplicate_active_labels() == 0
    assert store.conn.execute("SELECT COUNT(*) FROM labels WHERE item = 0").fetchone()[0] == 2


def test_undo_and_skip_are_events_not_deletions(store):
    _queue(store, [2, 3, 4])
    store.add_label("main", 1, 2, 1, "human")
    store.skip("main", 1, 3)
    store.add_label("main", 1, 4, 0, "human")
    assert store.count_pending("main", 1) == 0
    assert store.undo_last("main", 1) == 4  # the latest label
    assert store.undo_last("main", 1) == 3  # then the skip
    assert store.count_pending("main", 1) == 2
    assert store.count_labeled("main") == 3  # 2 seeds + item 2
    # The undone label row is still in the table, marked undone.
    rows = store.conn.execute("SELECT undone_at IS NOT NULL FROM labels WHERE item = 4").fetchall()
    assert rows == [(1,)]
    kinds = [k for _, k, _ in store.events("main", ["label", "skip", "undo"])]
    assert kinds == ["undo", "undo", "label", "skip", "label"]
    # Labeling again after undo, then undo: walks back correctly.
    store.add_label("main", 1, 4, 2, "human")
    assert store.undo_last("main", 1) == 4
    assert store.undo_last("main", 1) == 2
    assert store.undo_last("main", 1) is None  # nothing of this round is left to undo
    assert store.count_labeled("main") == 2


def test_scores_commit_per_chunk(store):
    cand = np.array([2, 3, 4, 5, 6])
    store.start_pass("main", 0, cand, chunk_size=2)
    assert store.scoring_pass("main", 0)[2] == 3
    store.save_chunk("main", 0, 0, 0, np.array([0.1, 0.2]))
    store.save_chunk("main", 0, 2, 4, np.array([0.5]))
    assert store.done_chunks("main", 0) == {0, 2}
    assert store.pass_scores("main", 0) is None  # incomplete
    store.save_chunk("main", 0, 1, 2, np.array([0.3, 0.4]))
    items, scores = store.pass_scores("main", 0)
    assert items.tolist() == cand.tolist()
    assert np.allclose(scores, [0.1, 0.2, 0.3, 0.4, 0.5])


def test_failed_transaction_leaves_nothing(store):
    before = store.run("main")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.set_phase("main", "score", 3)
            raise RuntimeError("crash in the middle")
    assert store.run("main").phase == before.phase and store.run("main").round == before.round
