"""The schema as code: the tables of a project database and the migrations that build them.

Each migration takes the schema from version i-1 to i; a fresh database runs them all in order.
Add a migration, never edit a released one.
"""

from __future__ import annotations

import json

import sqlite_utils

SPLITS = ("pool", "val", "test", "audit")  # audit: store/sets.py
PHASES = ("label", "train", "evaluate", "score", "query", "done")
SOURCES = ("seed", "oracle", "human")
ITEMS_SPLIT_INDEX = "idx_items_split"  # the name sqlite-utils gave it in migration 1


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


def stored_config(config_json: str) -> str:
    """A run's config as the runs table keeps it: without the seed and the strategy, which live
    in their own columns only (one copy of each)."""
    raw = json.loads(config_json)
    raw.pop("seed", None)
    raw.get("score", {}).pop("strategy", None)
    return json.dumps(raw, sort_keys=True)


def full_config(config_json: str, strategy: str, seed: int) -> str:
    """The stored config with the run's strategy and seed put back: what readers get."""
    raw = json.loads(config_json)
    raw["seed"] = seed
    raw.setdefault("score", {})["strategy"] = strategy
    return json.dumps(raw, sort_keys=True)


def _migration_2(db: sqlite_utils.Database) -> None:
    """Seed and strategy were kept twice, as columns and inside the config JSON: keep the
    columns."""
    for name, config in db.execute("SELECT name, config FROM runs").fetchall():
        db.execute("UPDATE runs SET config = ? WHERE name = ?", (stored_config(config), name))


def _migration_predictions(db: sqlite_utils.Database) -> None:
    """`gltui predict`: one prediction pass per run (the round model over the run's unlabeled
    pool, candidates fixed when it starts) and its chunks, committed as each finishes."""
    db["predict_passes"].create(
        {"run": str, "round": int, "chunk_size": int, "n_chunks": int, "k": int,
         "forward_batch": int, "candidates": bytes, "created_at": float},
        pk="run",
        not_null={"round", "chunk_size", "n_chunks", "k", "forward_batch", "candidates"},
    )
    db["predictions"].create(
        # per chunk: predicted class (<i4), its probability and the rde score (<f4), one per item
        {"run": str, "chunk": int, "start": int, "labels": bytes, "probs": bytes, "scores": bytes},
        pk=("run", "chunk"),
    )


def _migration_sample_sets(db: sqlite_utils.Database) -> None:
    """The audit and stop sets (store/sets.py): the sets in drawn order, the project-wide audit
    labels (events like a run's labels: undo marks a row, never deletes it), each round's
    predictions on the sets, and the round's kappa on the stop set. An older project has no sets
    (an empty audit set, no kappa) until one is drawn."""
    db["sample_sets"].create({"name": str, "items": bytes, "seed": int, "created_at": float},
                             pk="name", not_null={"items"})
    db["audit_labels"].create(
        {"id": int, "item": int, "label": int, "source": str, "created_at": float,
         "undone_at": float},
        pk="id", not_null={"item", "label", "source", "created_at"},
        foreign_keys=[("item", "items", "id")],
    )
    db.execute("CREATE UNIQUE INDEX audit_labels_active ON audit_labels(item) "
               "WHERE undone_at IS NULL")
    db["set_predictions"].create(
        {"run": str, "round": int, "name": str, "predicted": bytes},
        pk=("run", "round", "name"), not_null={"predicted"},
    )
    db["rounds"].add_column("stop_kappa", float)


# Labels, audit labels and true labels of a merged class become its target's, whoever writes
# them: the database folds them itself (a `gltui add` that names the class by an old name, an
# oracle pass that read the true labels just before a merge), so no label row ever points at a
# merged class. One trigger per column; each costs one primary-key lookup in a tiny table.
_FOLD_TRIGGERS = {
    "labels_fold_merged": ("labels", "label", "NEW.label"),
    "audit_labels_fold_merged": ("audit_labels", "label", "NEW.label"),
    "items_fold_merged": ("items", "true_label", "NEW.true_label"),
}


def _migration_class_changes(db: sqlite_utils.Database) -> None:
    """`gltui classes --merge A B`: class A stays in the table as a tombstone (`merged_into` B),
    so every class index ever stored (labels, queue guesses, predictions, a round model's
    outputs) keeps its meaning; views read A as B. NULL: a class in use."""
    db["classes"].add_column("merged_into", int)
    for name, (table, column, new) in _FOLD_TRIGGERS.items():
        db.execute(
            f"CREATE TRIGGER {name} AFTER INSERT ON {table} "
            f"WHEN {new} IS NOT NULL AND "
            f"(SELECT merged_into FROM classes WHERE id = {new}) IS NOT NULL "
            f"BEGIN UPDATE {table} SET {column} = "
            f"(SELECT merged_into FROM classes WHERE id = {new}) WHERE rowid = NEW.rowid; END"
        )


def _migration_guesses(db: sqlite_utils.Database) -> None:
    """The round model's top-3 guesses on the images the TUI offers while the next round trains
    (the audit images and a seeded random draw of the pool: project/labeler.py), stored by the
    round's evaluation so that the labeling screen shows them without torch."""
    db["guesses"].create(
        # items <i8; classes <i2 and probs <f4, N x 3 (best first; -1 / 0 pad fewer classes)
        {"run": str, "round": int, "items": bytes, "classes": bytes, "probs": bytes},
        pk=("run", "round"), not_null={"items", "classes", "probs"},
    )


# Append a migration to change the schema; never edit or reorder one that has been released.
MIGRATIONS = [_migration_1, _migration_2, _migration_predictions, _migration_sample_sets,
              _migration_class_changes, _migration_guesses]
SCHEMA_VERSION = len(MIGRATIONS)
