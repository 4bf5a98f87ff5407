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
    """Seed and strategy were kept twice, as columns and inside the config JSON: keep the columns."""
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


# Append a migration to change the schema; never edit or reorder one that has been released.
MIGRATIONS = [_migration_1, _migration_2, _migration_predictions, _migration_sample_sets]
SCHEMA_VERSION = len(MIGRATIONS)
