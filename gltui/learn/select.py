"""Which scored candidates make the next queue: the selection policy, as pure numpy.

A guided queue (`select_queue`) is the top scores, class-balanced by the round model's predicted
classes (`select_balanced`, with `balance`), plus `random_share` of the queue drawn at random from
the other candidates (docs/results/recipe.md: a guided-only queue fell far behind random on a grey
set of shapes); the queue is ordered by score, most confusing first. A queue that ranks at random
(a random run, or a guided run below its warm start) takes the top random scores.
"""

from __future__ import annotations

import math

import numpy as np


def select_queue(scores: np.ndarray, n: int, *, at_random: bool, predicted: np.ndarray | None,
                 classes: int, random_share: float, rng: np.random.Generator) -> np.ndarray:
    """Indices into `scores` of the next queue of `n`, most confusing first. `predicted`: the
    round model's class per candidate (None: no balancing); `rng` draws the random share."""
    if at_random:
        return select_top(scores, n)
    guided = n - int(np.floor(n * random_share + 0.5))
    if predicted is not None:
        order = select_balanced(scores, predicted, guided, classes)
    else:
        order = select_top(scores, guided)
    rest = np.setdiff1d(np.arange(len(scores)), order)
    picked = np.r_[order, rng.choice(rest, size=min(n - guided, len(rest)), replace=False)]
    return picked[select_top(scores[picked], len(picked))]


def select_top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, highest first; ties go to the lower index; NaN ranks
    last."""
    if n < 0:
        raise ValueError(f"cannot select {n} images")
    scores = np.asarray(scores, dtype=np.float64)
    key = np.where(np.isnan(scores), np.inf, -scores)  # ascending sort of -score = highest first
    return np.argsort(key, kind="stable")[:n]


def select_balanced(scores: np.ndarray, predicted: np.ndarray, n: int, classes: int) -> np.ndarray:
    """Indices of `n` images, highest score first, at most ceil(n / classes) per class the
    round's model *predicts* (no true label is looked at); where the caps leave places over,
    the next-highest scores fill them. Uncertainty alone piles the picks onto the few classes a
    weak model confuses most and starves the rest (docs/results/recipe.md)."""
    order = select_top(scores, len(scores))
    cap = math.ceil(n / max(classes, 1))
    taken = np.zeros(max(classes, int(np.max(predicted, initial=0)) + 1), dtype=int)
    picked = []
    for i in order:
        if len(picked) == n:
            break
        if taken[predicted[i]] < cap:
            taken[predicted[i]] += 1
            picked.append(i)
    if len(picked) < n:
        chosen = set(picked)
        picked += [i for i in order if i not in chosen][: n - len(picked)]
    return np.asarray(picked, dtype=np.int64)

