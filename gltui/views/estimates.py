"""The estimates a person can trust without a labeled test set (the sets are store/sets.py):
The estimates (no labeled test set needed; the sets are in gltui/store/sets.py):
  - audit estimate: the round model's accuracy on the audit labels given so far (a uniform random
    sample of the pool, never trained on), with a 95% Wilson interval and its n. Computed when
    read from the predictions the round stored, so audit labels given later still count;
  - stop kappa: Cohen's kappa between consecutive rounds' predictions on the stop set (stored
    with the round), and the stabilizing-predictions rule (Bloodgood & Vijay-Shanker 2009): stop
    once kappa >= threshold for K rounds in a row.
An accuracy from fewer than SMALL_N images is named as such with its n wherever it is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from gltui.learn.stopping import stable_streak, view_kappas
from gltui.project.classes import ClassList
from gltui.store import RoundRow, Store, finished_rounds

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
    classes = ClassList.read(store)  # a model trained before a merge may answer the merged class
    out: dict[int, Estimate | None] = {}
    for round, predicted in store.set_predictions(run, "audit").items():
        if len(predicted) != len(audit) or len(at) == 0:
            out[round] = None
            continue
        right = classes.fold_labels(predicted[at]) == classes.fold_labels(labels)
        out[round] = Estimate(int(right.sum()), int(len(at)))
    return out


def audit_progress(store: Store) -> tuple[int, int] | None:
    """(audit images labeled, audit set size), or None when the project has no audit set."""
    audit = store.sample_set("audit")
    if audit is None or len(audit) == 0:
        return None
    return len(store.audit_labels()[0]), len(audit)


def stable_stop(rounds: Iterable[RoundRow], rounds_in_a_row: int, threshold: float,
                ceilings: Mapping[int, float | None] | None = None) -> RoundRow | None:
    """The first finished round at which the stabilizing-predictions rule would have ended the
    run (kappa >= threshold for `rounds_in_a_row` rounds in a row; threshold 0: each round's own
    ceiling, `ceilings` by round), or None if it never fired."""
    seen: list[float | None] = []
    limits: list[float | None] = []
    for r in finished_rounds(rounds):
        seen.append(r.stop_kappa)
        limits.append(threshold if threshold > 0 else (ceilings or {}).get(r.round))
        if stable_streak(seen, limits) >= rounds_in_a_row:
            return r
    return None


def round_ceilings(store: Store, run: str) -> dict[int, float | None]:
    """Each round's own agreement under augmentation on the stop set (the auto threshold)."""
    stop = store.set_predictions(run, "stop")
    return dict(zip(stop, view_kappas(stop, store.set_predictions(run, "stop-view"), list(stop))))
