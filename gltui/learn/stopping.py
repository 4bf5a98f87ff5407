"""When to stop labeling: agreement between consecutive rounds' predictions on the stop set.

Cohen's kappa between round r's and round r-1's classes on the project's stop set (unlabeled
images, drawn once), and the stabilizing-predictions rule (Bloodgood & Vijay-Shanker 2009): stop
once kappa >= a threshold for K rounds in a row. Pure numpy: the engine decides with it, the views
show it.
"""

from __future__ import annotations

from typing import Sequence

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


def stable_streak(kappas: Sequence[float | None], threshold: float) -> int:
    """How many of the latest rounds in a row have kappa >= threshold (None breaks a streak)."""
    streak = 0
    for kappa in reversed(list(kappas)):
        if kappa is None or not kappa >= threshold:
            break
        streak += 1
    return streak
