"""What a project has learned, read one way for every view: learning curves and galleries.

`gltui status`, the TUI's dashboard and gallery, and `gltui report` all read curves and galleries
here, so they show the same numbers. Plain reads through the store: no torch, no Textual.

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

The estimates (no labeled test set needed; the sets are in gltui/store/sets.py):
  - audit estimate: the round model's accuracy on the audit labels given so far (a uniform random
    sample of the pool, never trained on), with a 95% Wilson interval and its n. Computed when
    read from the predictions the round stored, so audit labels given later still count;
  - stop kappa: Cohen's kappa between consecutive rounds' predictions on the stop set (stored
    with the round), and the stabilizing-predictions rule (Bloodgood & Vijay-Shanker 2009): stop
    once kappa >= threshold for K rounds in a row.
An accuracy from fewer than SMALL_N images is named as such with its n wherever it is shown.

The gallery: the most and least confusing candidates of one finished scoring pass (by default the
run's latest), each with the run's own label (a person's project has no true labels) and the
dataset's true label where it is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

from gltui.config import Config
from gltui.project import ProjectError
from gltui.store import RoundRow, Store

TEST, VALIDATION, TRAINING, AUDIT = "test", "validation", "training", "audit"
GALLERY_SIZE = 20  # images per gallery side, as in the paper's figures


# ---- learning curves --------------------------------------------------------------------------


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


# ---- estimates: the audit set and the stop set -------------------------------------------------

Z95 = 1.959963984540054  # the standard normal quantile of a two-sided 95% interval
SMALL_N = 100  # an accuracy from fewer images than this is flagged with its n


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion correct/n (n > 0). Unlike the normal
    approximation it stays inside [0, 1] and is sound at small n and at 0 % or 100 %."""
    if n <= 0:
        raise ValueError("a Wilson interval needs n > 0")
    p = correct / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # exactly 0 and 1 at p = 0 and p = 1 (where rounding would leave 1 - 1e-16)
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Estimate:
    """An accuracy estimated on a random sample: correct of n, with its 95% Wilson interval."""

    correct: int
    n: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.n)

    @property
    def small(self) -> bool:
        return self.n < SMALL_N

    def text(self, digits: int = 3) -> str:
        """`0.912 [0.866, 0.943] n=200`, and a warning when n is small."""
        low, high = self.interval
        note = f" (only {self.n} images)" if self.small else ""
        return f"{self.accuracy:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}] n={self.n}{note}"

    def covers(self, value: float) -> bool:
        low, high = self.interval
        return low <= value <= high

    def as_json(self) -> dict:
        low, high = self.interval
        return {"accuracy": self.accuracy, "low": low, "high": high, "n": self.n,
                "correct": self.correct, "interval": "wilson 95%"}


def audit_estimates(store: Store, run: str) -> dict[int, Estimate | None] | None:
    """{round: the round model's audit estimate} for every round of `run` that predicted the
    audit set; None for a round while no audit label exists. None when the project has no audit
    set. Uses every audit label given so far (the predictions are stored, the labels read now)."""
    audit = store.sample_set("audit")
    if audit is None or len(audit) == 0:
        return None
    items, labels = store.audit_labels()
    position = {int(item): i for i, item in enumerate(audit)}
    at = np.asarray([position[int(i)] for i in items], dtype=np.int64)
    out: dict[int, Estimate | None] = {}
    for round, predicted in store.set_predictions(run, "audit").items():
        if len(predicted) != len(audit) or len(at) == 0:
            out[round] = None
            continue
        out[round] = Estimate(int((predicted[at] == labels).sum()), int(len(at)))
    return out


def audit_progress(store: Store) -> tuple[int, int] | None:
    """(audit images labeled, audit set size), or None when the project has no audit set."""
    audit = store.sample_set("audit")
    if audit is None or len(audit) == 0:
        return None
    return len(store.audit_labels()[0]), len(audit)


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two raters' classes on the same items: (p_o - p_e) / (1 - p_e), p_o the
    observed agreement, p_e the agreement expected from each rater's class frequencies. When both
    give one and the same class to every item (p_e = 1), kappa is 1.0 (they agree perfectly)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("kappa needs two equally long, non-empty label arrays")
    classes = int(max(a.max(), b.max())) + 1
    observed = float((a == b).mean())
    expected = float((np.bincount(a, minlength=classes) / a.size)
                     @ (np.bincount(b, minlength=classes) / b.size))
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def stable_streak(kappas: Sequence[float | None], threshold: float) -> int:
    """How many of the latest rounds in a row have kappa >= threshold (None breaks a streak)."""
    streak = 0
    for kappa in reversed(list(kappas)):
        if kappa is None or not kappa >= threshold:
            break
        streak += 1
    return streak


def stable_stop(rounds: Iterable[RoundRow], rounds_in_a_row: int,
                threshold: float) -> RoundRow | None:
    """The first finished round at which the stabilizing-predictions rule would have ended the
    run (kappa >= threshold for `rounds_in_a_row` rounds in a row), or None if it never fired."""
    seen: list[float | None] = []
    for r in finished_rounds(rounds):
        seen.append(r.stop_kappa)
        if stable_streak(seen, threshold) >= rounds_in_a_row:
            return r
    return None


@dataclass(frozen=True)
class Signals:
    """What a dashboard shows of one run's estimates: the audit estimate of its latest round that
    has one (with the test accuracy there, where a test split exists), the audit set's progress,
    and the stop-set kappa of every finished round."""

    estimate: tuple[int, Estimate] | None  # (round, estimate) of the latest estimated round
    test_accuracy: float | None  # that round's test accuracy, where there is one
    audit: tuple[int, int] | None  # (labeled, size) of the audit set; None: no audit set
    kappas: list[tuple[int, float]]  # (round, kappa) of the finished rounds that have one


def run_signals(store: Store, summary) -> Signals:
    estimates = audit_estimates(store, summary.name) or {}
    finished = finished_rounds(summary.rounds)
    latest = next(((r, estimates[r.round]) for r in reversed(finished)
                   if estimates.get(r.round) is not None), None)
    return Signals(
        estimate=None if latest is None else (latest[0].round, latest[1]),
        test_accuracy=None if latest is None else latest[0].test_accuracy,
        audit=audit_progress(store),
        kappas=[(r.round, r.stop_kappa) for r in finished if r.stop_kappa is not None],
    )


def run_json(store: Store, summary) -> dict:
    """A run as `gltui status --json` prints it: RunSummary.as_json, and per round the audit
    estimate (`audit`: accuracy, Wilson interval, n; null before any audit label) where the
    project has an audit set, and `stop_kappa` where it has a stop set."""
    out = summary.as_json()
    estimates = audit_estimates(store, summary.name)
    has_stop = store.sample_set("stop") is not None
    for row, r in zip(out["rounds"], summary.rounds):
        if estimates is not None:
            est = estimates.get(r.round)
            row["audit"] = None if est is None else est.as_json()
        if has_stop:
            row["stop_kappa"] = r.stop_kappa
    return out


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


def ranked_at_random(store: Store, run: str, round: int) -> bool:
    """Whether round's scoring pass of `run` ranked at random (a random run, or a guided run's
    warm start): its scores are random draws, not confusion (Config.strategy_at)."""
    config = Config.from_json(store.run(run).config)
    return config.strategy_at(store.count_labeled(run, up_to_round=round)) == "random"


def gallery(store: Store, run: str, round: int | None = None,
            size: int = GALLERY_SIZE) -> Gallery | None:
    """The `size` most and least confusing candidates of one finished scoring pass of `run`: the
    given round's, or the latest that ranked by confusion. None when the run has no such pass
    (none finished, or all ranked at random); ProjectError when the given round has none."""
    scored = [r for r in store.finished_passes(run) if not ranked_at_random(store, run, r)]
    if round is None:
        if not scored:
            return None
        round = scored[-1]
    elif round not in scored:
        have = ", ".join(map(str, scored)) or "none"
        raise ProjectError(
            f"--round {round}: run {run!r} has no finished scoring pass ranked by confusion for "
            f"that round (a pass below the warm start or of a random run ranks at random; rounds "
            f"with one: {have})"
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


def project_json(project, summaries) -> dict:
    """The whole of `gltui status --json`: the project, its audit progress and every run."""
    progress = audit_progress(project.store)
    return {
        "project": str(project.path),
        "spec": project.meta.get("spec"),
        "classes": project.classes,
        "items": project.store.count_items(),
        "audit": None if progress is None else {"labeled": progress[0], "size": progress[1]},
        "runs": [run_json(project.store, s) for s in summaries],
    }
