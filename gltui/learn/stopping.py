"""When to stop labeling: agreement between consecutive rounds' predictions on the stop set.

Cohen's kappa between round r's and round r-1's classes on the project's stop set (unlabeled
images, drawn once, never trained on), and the stabilizing-predictions rule (Bloodgood &
Vijay-Shanker 2009): stop once kappa >= a threshold for K rounds in a row. Pure numpy: the engine
decides with it, the views show it.

The threshold. A fixed 0.99 never fired on MNIST: a CNN retrained on the same labels agrees
with itself at 0.98-0.99 there (docs/results/stopping.md). The automatic threshold is each
round's own ceiling instead: the kappa between the round model's classes on the stop set and on
one augmented view of it (`view_kappas`). Two rounds that agree at least as well as one model
agrees with itself under changes that should not matter have stopped learning anything a
person would see.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


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


def stable_streak(kappas: Sequence[float | None],
                  threshold: float | Sequence[float | None]) -> int:
    """How many of the latest rounds in a row have kappa >= their threshold (one number, or one
    per round; None breaks a streak)."""
    kappas = list(kappas)
    limits = ([threshold] * len(kappas) if isinstance(threshold, (int, float))
              else list(threshold))
    streak = 0
    for kappa, limit in zip(reversed(kappas), reversed(limits)):
        if kappa is None or limit is None or not kappa >= limit:
            break
        streak += 1
    return streak


def view_kappas(stop: Mapping[int, np.ndarray], views: Mapping[int, np.ndarray],
                rounds: Sequence[int]) -> list[float | None]:
    """Per round, the kappa between its classes on the stop set and on the augmented view of
    it (None where either is missing): the automatic threshold of each round."""
    out = []
    for r in rounds:
        a, b = stop.get(r), views.get(r)
        out.append(None if a is None or b is None or len(a) != len(b) or not len(a)
                   else cohen_kappa(a, b))
    return out


def thresholds(fixed: float, ceilings: Sequence[float | None]) -> float | list[float | None]:
    """The stop rule's threshold per round: `fixed` when set (> 0), else each round's ceiling."""
    return fixed if fixed > 0 else list(ceilings)
