"""The project database: schema, migrations and every SQL statement of gltui.

One SQLite file (`gltui.db`, WAL) per project. Nothing outside this package writes SQL. Every
write that moves a run forward happens inside `Store.transaction()` so that an outcome and the
phase change that follows it land together or not at all; a label is its own transaction with
synchronous=FULL, so a key press that returned is on disk.

Tables (schema as code in schema.py):
  meta     key/value: schema version, dataset spec and shape, project seed
  classes  class index -> name, and the class a merged one went into (classes.py)
  items    one row per image: id == row in pixels.npy, source name, split (pool|val|test),
           true label
  runs     one row per run: strategy, seed, config JSON, phase, round
  labels   every label ever given: run, item, label, source (seed|oracle|human), round, time;
           undo marks a row undone (undone_at), it never deletes it
  queue    per run and round: the items chosen for labeling, rank, score, top-3 guesses, status
  passes   per run and round: the candidate items of a scoring pass (int64 blob) and chunk size
  scores   per run, round and chunk: float32 blob of scores, committed as each chunk finishes
  rounds   per run and round: n_labeled, accuracies, epochs, timings, class histogram
  events   the audit log: phase changes, labels, undo, skip, config changes
  sample_sets, audit_labels, set_predictions   the audit and stop sets, the project-wide audit
           labels, and each round's predictions on the sets (sets.py)
  guesses  per run and round: the round model's top-3 guesses on the images the TUI offers
           while the next round trains (labels.py)
  predict_passes, predictions   `gltui predict`: per run, class, probability and rde
           score of every unlabeled pool image, committed per chunk (predictions.py)
"""

from __future__ import annotations

from gltui.store.classes import ClassesMixin, ClassRow
from gltui.store.connection import Connection
from gltui.store.items import ItemsMixin
from gltui.store.labels import LabelsMixin
from gltui.store.predictions import PredictionsMixin
from gltui.store.queries import QUERIES
from gltui.store.rows import QueueEntry, RoundRow, RunRow, finished_rounds
from gltui.store.runs import RunsMixin
from gltui.store.schema import PHASES, SCHEMA_VERSION, SOURCES, SPLITS
from gltui.store.scoring import ScoringMixin
from gltui.store.sets import SetsMixin

__all__ = ["PHASES", "QUERIES", "SCHEMA_VERSION", "SOURCES", "SPLITS", "ClassRow", "QueueEntry",
           "RoundRow", "RunRow", "Store", "finished_rounds"]


class Store(ItemsMixin, ClassesMixin, RunsMixin, LabelsMixin, ScoringMixin, PredictionsMixin,
            SetsMixin, Connection):
    """A connection to one project's database. Cheap to open; one per thread.

    One class to its callers, written by responsibility: connection.py (transactions,
    migrations, events), items.py, classes.py, runs.py (runs and rounds), labels.py,
    scoring.py (passes and the queue)."""
