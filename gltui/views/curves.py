"""Learning curves, read one way for every view (`gltui status`, the dashboard, the report), so
they all show the same numbers. Plain reads through the store: no torch, no Textual.

The curve rule:
  - a round is a point once its evaluation committed (`finished_at` set); a round that trained
    but was not evaluated yet (a run stopped between train and evaluate) is not on the curve;
  - the metric is chosen once for everything a view shows: test accuracy where every finished
    round of every shown run has one, else validation accuracy (the set early stopping watched,
    so optimistic); each view says which;
  - where two rounds share a labeled count (a person skipped a whole queue), the later one stands;
  - a project with neither a test nor a validation split (a person's) draws its audit estimates
    where any round has one (AUDIT: an estimate, on the audit labels given so far), else its
    training accuracy (TRAINING, named as not an estimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from gltui.store import RoundRow, Store, finished_rounds
from gltui.views.estimates import audit_estimates

TEST, VALIDATION, TRAINING, AUDIT = "test", "validation", "training", "audit"


class HasRounds(Protocol):
    """A run as the views hold it (project.RunSummary is one)."""

    name: str
    strategy: str
    rounds: Sequence[RoundRow]
    # False for a project without a validation split: its rounds' val_accuracy is then the
    # training set's (training.fit's fixed schedule), not an estimate. Absent means True.
    validated: bool


@dataclass(frozen=True)
class Curve:
    """One run's learning curve: accuracy by labeled count, ascending."""

    run: str
    strategy: str
    metric: str  # TEST, VALIDATION or TRAINING, the same for every curve of one view
    points: list[tuple[int, float]]


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)



def choose_metric(runs: Iterable[Sequence[RoundRow]]) -> str:
    """TEST where every finished round of every run has a test accuracy, else VALIDATION."""
    every = all(_known(r.test_accuracy) for rounds in runs for r in finished_rounds(rounds))
    return TEST if every else VALIDATION


def run_curve(rounds: Iterable[RoundRow], metric: str = TEST) -> dict[int, float]:
    """{labeled count: accuracy} of one run's finished rounds in `metric` (TEST or VALIDATION)."""
    out: dict[int, float] = {}
    for r in finished_rounds(rounds):
        value = r.test_accuracy if metric == TEST else r.val_accuracy  # VALIDATION, TRAINING
        if r.n_labeled and _known(value):
            out[int(r.n_labeled)] = float(value)
    return out


def learning_curves(runs: Sequence[HasRounds], store: Store | None = None) -> list[Curve]:
    """Every run's curve (empty for a run without a finished round), in one metric: TEST where
    every finished round has one, else VALIDATION, or where a run has no validation split the
    audit estimate (AUDIT, when `store` is given and a round has one) or else TRAINING (named as
    such: not an estimate)."""
    metric = choose_metric(r.rounds for r in runs)
    if metric == VALIDATION and not all(getattr(r, "validated", True) for r in runs):
        metric = TRAINING
        audited = [audit_curve(store, r) for r in runs] if store is not None else []
        if any(audited):
            return [Curve(r.name, r.strategy, AUDIT, points) for r, points in zip(runs, audited)]
    return [Curve(r.name, r.strategy, metric, sorted(run_curve(r.rounds, metric).items()))
            for r in runs]


def audit_curve(store: Store, run: HasRounds) -> list[tuple[int, float]]:
    """(labeled count, audit estimate) of every finished round of `run` that has an estimate,
    ascending; the later round stands where two share a count."""
    estimates = audit_estimates(store, run.name) or {}
    points = {int(r.n_labeled): estimates[r.round].accuracy for r in finished_rounds(run.rounds)
              if r.n_labeled and estimates.get(r.round) is not None}
    return sorted(points.items())


def metric_title(metric: str) -> str:
    """How a view names its metric."""
    if metric == TEST:
        return "test accuracy"
    if metric == AUDIT:
        return ("audit estimate (accuracy on the audit labels given so far, never trained on; "
                "each round's interval and n are in the estimates table)")
    if metric == TRAINING:
        return ("training accuracy (no validation split: not an estimate of accuracy on new "
                "images; the audit estimate is one)")
    return "validation accuracy (not every finished round has a test accuracy)"
