"""The typed rows the store hands out: a run, a queue entry, a round."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable, NamedTuple

import numpy as np


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
    status: str  # pending | labeled | skipped | unsure
    guesses: list  # [[class index, probability], ...] top-3 of the model that chose it
    label: int | None  # the active label when status == labeled


class LabelDetail(NamedTuple):
    """An active label of a run, as the history and the exports read it."""

    item: int
    name: str  # the item's name (its file)
    label: int
    class_name: str
    source: str  # seed | oracle | human
    round: int
    time: float


class AuditLabelDetail(NamedTuple):
    """An active audit label (project-wide, never trained on)."""

    item: int
    name: str
    label: int
    class_name: str
    source: str
    time: float


class ScoringPass(NamedTuple):
    """A started scoring pass: its fixed candidate list and how it is chunked."""

    candidates: np.ndarray  # int64 item ids
    chunk_size: int
    n_chunks: int


class Event(NamedTuple):
    """A row of the audit log."""

    time: float
    kind: str
    detail: dict


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
    # Cohen's kappa between this round's and the previous round's predictions on the stop set
    # (store/sets.py); None for round 0 and where the project has no stop set.
    stop_kappa: float | None = None


ROUND_COLUMNS = tuple(f.name for f in fields(RoundRow))  # class_hist: stored as JSON


def finished_rounds(rounds: Iterable[RoundRow]) -> list[RoundRow]:
    """The rounds whose evaluation committed, by round."""
    return sorted((r for r in rounds if r.finished_at is not None), key=lambda r: r.round)
