"""What a project has learned, read one way for every view: learning curves and galleries.

`gltui status`, the TUI's dashboard and gallery, and `gltui report` all read curves and galleries
here, so they show the same numbers. Plain reads through the store: no torch, no Textual.

The curve rule:
  - a round is a point once its evaluation committed (`finished_at` set); a round that trained
    but was not evaluated yet (a run stopped between train and evaluate) is not on the curve;
  - the metric is chosen once for everything a view shows: test accuracy where every finished
    round of every shown run has one, else validation accuracy (the set early stopping watched,
    so optimistic); each view says which;
  - where two rounds share a labeled count (a person skipped a whole queue), the later one stands.

The gallery: the most and least confusing candidates of one finished scoring pass (by default the
run's latest), each with the run's own label (a person's project has no true labels) and the
dataset's true label where it is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

from gltui.project import ProjectError
from gltui.store import RoundRow, Store

TEST, VALIDATION = "test", "validation"
GALLERY_SIZE = 20  # images per gallery side, as in the paper's figures


# ---- learning curves --------------------------------------------------------------------------


class HasRounds(Protocol):
    """A run as the views hold it (project.RunSummary is one)."""

    name: str
    strategy: str
    rounds: Sequence[RoundRow]


@dataclass(frozen=True)
class Curve:
    """One run's learning curve: accuracy by labeled count, ascending."""

    run: str
    strategy: str
    metric: str  # TEST or VALIDATION, the same for every curve of one view
    points: list[tuple[int, float]]


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def finished_rounds(rounds: Iterable[RoundRow]) -> list[RoundRow]:
    """The rounds whose evaluation committed, by round."""
    return sorted((r for r in rounds if r.finished_at is not None), key=lambda r: r.round)


def choose_metric(runs: Iterable[Sequence[RoundRow]]) -> str:
    """TEST where every finished round of every run has a test accuracy, else VALIDATION."""
    every = all(_known(r.test_accuracy) for rounds in runs for r in finished_rounds(rounds))
    return TEST if every else VALIDATION


def run_curve(rounds: Iterable[RoundRow], metric: str = TEST) -> dict[int, float]:
    """{labeled count: accuracy} of one run's finished rounds in `metric` (TEST or VALIDATION)."""
    out: dict[int, float] = {}
    for r in finished_rounds(rounds):
        value = r.test_accuracy if metric == TEST else r.val_accuracy
        if r.n_labeled and _known(value):
            out[int(r.n_labeled)] = float(value)
    return out


def learning_curves(runs: Sequence[HasRounds]) -> list[Curve]:
    """Every run's curve (empty for a run without a finished round), in one metric."""
    metric = choose_metric(r.rounds for r in runs)
    return [Curve(r.name, r.strategy, metric, sorted(run_curve(r.rounds, metric).items()))
            for r in runs]


def metric_title(metric: str) -> str:
    """How a view names its metric."""
    if metric == TEST:
        return "test accuracy"
    return "validation accuracy (not every finished round has a test accuracy)"


# ---- galleries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryItem:
    item: int
    score: float
    label: int | None  # this run's active label of the item, if it has one
    truth: int | None  # the dataset's true label, where known


@dataclass(frozen=True)
class Gallery:
    run: str
    round: int
    n_scored: int
    most: list[GalleryItem]  # highest score first
    least: list[GalleryItem]  # lowest score first


def gallery(store: Store, run: str, round: int | None = None,
            size: int = GALLERY_SIZE) -> Gallery | None:
    """The `size` most and least confusing candidates of one finished scoring pass of `run`: the
    given round's, or the latest. None when the run has no finished pass; ProjectError when the
    given round has none."""
    scored = store.finished_passes(run)
    if round is None:
        if not scored:
            return None
        round = scored[-1]
    elif round not in scored:
        have = ", ".join(map(str, scored)) or "none"
        raise ProjectError(
            f"--round {round}: run {run!r} has no finished scoring pass for that round "
            f"(rounds with one: {have})"
        )
    candidates, scores = store.pass_scores(run, round)
    # The ranking a query uses (stable: among equal scores the lower item id first); the least
    # confusing are its tail, read from the end.
    ranking = np.argsort(-scores, kind="stable")
    most, least = ranking[:size], ranking[::-1][:size]
    shown = candidates[np.concatenate([most, least])]
    truth = store.true_labels(shown)
    labeled_items, labels = store.labeled(run)  # ordered by item
    at = np.clip(np.searchsorted(labeled_items, shown), 0, max(len(labeled_items) - 1, 0))
    has_label = (labeled_items[at] == shown) if len(labeled_items) else np.zeros(len(shown), bool)

    def entry(j: int, i: int) -> GalleryItem:
        return GalleryItem(int(candidates[i]), float(scores[i]),
                           int(labels[at[j]]) if has_label[j] else None,
                           int(truth[j]) if truth[j] >= 0 else None)

    return Gallery(run, round, len(candidates),
                   [entry(j, i) for j, i in enumerate(most)],
                   [entry(len(most) + j, i) for j, i in enumerate(least)])
