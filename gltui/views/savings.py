"""Guided against random, read one way for the report, the demo's last line and the benchmarks:
mean ± std curves over seeds, and the label savings factor read off the curves. Pure numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from gltui.config import BASELINE_STRATEGY

BASELINE = BASELINE_STRATEGY  # the strategy every other one is compared with



@dataclass(frozen=True)
class CurvePoint:
    budget: int  # labeled images
    mean: float  # mean accuracy over the runs (seeds) that reached this budget
    std: float  # sample standard deviation (ddof 1) over those runs; 0.0 for a single run
    n: int  # how many runs reached this budget


@dataclass(frozen=True)
class Saving:
    random_budget: int  # B
    random_accuracy: float  # the baseline's mean accuracy at B
    guided_budget: int | None  # the smallest guided budget (a grid point) whose mean reaches it
    guided_accuracy: float | None  # the guided mean accuracy there
    # Labels the guided curve needs to reach the baseline's accuracy at B, read off the curve
    # between its two grid points around the crossing (linear in log2 labels); the first grid
    # point when the guided curve is there already (`at_most`: then only an upper bound).
    guided_labels: float | None = None
    at_most: bool = False
    # random_labels / guided_labels; None where the guided curve never reaches it
    factor: float | None = None
    # Labels the baseline itself needed to first reach that accuracy, read off its own curve the
    # same way: B where its curve rises to B, fewer where it dipped after getting there (random
    # at 640 below its 320: the labels from 320 on bought it nothing).
    random_labels: float | None = None
    guided_from: int | None = None  # the guided grid point below the crossing, if any


def labels_to_reach(points: Sequence[CurvePoint], target: float
                    ) -> tuple[int, float] | None:
    """(index of the first point whose mean reaches `target`, the labels read off the curve
    between it and the point before, linear in log2 labels); None if no point does."""
    at = next((i for i, p in enumerate(points) if p.mean >= target), None)
    if at is None:
        return None
    hit, labels = points[at], float(points[at].budget)
    if at > 0:
        lo = points[at - 1]
        share = (target - lo.mean) / (hit.mean - lo.mean) if hit.mean > lo.mean else 1.0
        labels = 2 ** (math.log2(lo.budget) + min(1.0, max(0.0, share))
                       * (math.log2(hit.budget) - math.log2(lo.budget)))
        if abs(labels - hit.budget) < 1e-6 * hit.budget:  # the target is the point's own mean
            labels = float(hit.budget)
    return at, labels


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0.0 for fewer than two values)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("mean_std of no values")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def group_curves(curves: Iterable[tuple[str, Mapping[int, float]]]) -> dict[str, list[CurvePoint]]:
    """Per strategy, the mean ± std over its runs at every budget any of them reached.

    curves: (strategy, {budget: accuracy}) per run. Strategies keep the order of their first run;
    points are sorted by budget. A budget reached by only some runs averages those (see `n`)."""
    by_strategy: dict[str, dict[int, list[float]]] = {}
    for strategy, curve in curves:
        budgets = by_strategy.setdefault(strategy, {})
        for budget, acc in curve.items():
            budgets.setdefault(int(budget), []).append(float(acc))
    out: dict[str, list[CurvePoint]] = {}
    for strategy, budgets in by_strategy.items():
        if not budgets:
            continue  # runs without a single accuracy: nothing to average
        points = []
        for budget in sorted(budgets):
            mean, std = mean_std(budgets[budget])
            points.append(CurvePoint(budget, mean, std, len(budgets[budget])))
        out[strategy] = points
    return out


def savings(guided: Sequence[CurvePoint], random: Sequence[CurvePoint],
            tolerance: float = 1e-9) -> list[Saving]:
    """The label savings factor at every budget B of the baseline: the labels the baseline
    needed to reach its own mean accuracy at B, divided by the labels the guided curve needs.

    A doubling grid alone can only say 1, 2, 4 ...: a curve 2 points ahead at every budget
    would read "factor 1" wherever it is not a whole doubling ahead. So the labels are read off
    each curve where it first crosses the target, between its two grid points around the
    crossing (linear in log2 labels, as the curve is drawn). Both curves are read the same way,
    so two identical curves read factor 1 even where they dip (a baseline's accuracy at B that
    it had already reached earlier is not credited to B's labels). Where the guided curve's
    first point already reaches the target, the crossing is below the grid: `at_most` says the
    labels are an upper bound (the factor a lower one). None: it never got there."""
    guided = sorted(guided, key=lambda p: p.budget)
    random = sorted(random, key=lambda p: p.budget)
    out = []
    for base in random:
        target = base.mean - tolerance
        found = labels_to_reach(guided, target)
        if found is None:
            out.append(Saving(base.budget, base.mean, None, None))
            continue
        at, labels = found
        _, own = labels_to_reach(random, target)  # at most B: random reaches it at B
        hit = guided[at]
        out.append(Saving(base.budget, base.mean, hit.budget, hit.mean, labels, at == 0,
                          own / labels, own, guided[at - 1].budget if at > 0 else None))
    return out


def headline(strategy: str, rows: Sequence[Saving]) -> str:
    """One sentence: the savings at the baseline's largest budget, or that it was not reached
    there (and the largest baseline budget that was)."""
    if not rows:
        return f"{strategy}: no {BASELINE} baseline to compare with"
    last = rows[-1]
    if last.factor is not None:
        if last.at_most:
            how = (f"with at most {last.guided_budget} labels, its smallest budget "
                   f"({100 * last.guided_accuracy:.2f} %): savings factor >= {last.factor:.2g}")
        elif last.guided_labels == last.guided_budget:
            how = (f"with {last.guided_budget} labels ({100 * last.guided_accuracy:.2f} %): "
                   f"savings factor {last.factor:.2g}")
        else:
            how = (f"with about {last.guided_labels:.0f} labels (read off its curve between "
                   f"{last.guided_from} and {last.guided_budget}, where it has "
                   f"{100 * last.guided_accuracy:.2f} %): savings factor {last.factor:.2g}")
        own = ""
        if last.random_labels is not None and last.random_labels < last.random_budget:
            own = (f", which {BASELINE} itself first had at about {last.random_labels:.0f} "
                   f"labels,")
        return (f"{strategy} reaches {BASELINE}'s mean accuracy at {last.random_budget} labels "
                f"({100 * last.random_accuracy:.2f} %){own} {how}")
    text = (f"{strategy} does not reach {BASELINE}'s mean accuracy at {last.random_budget} "
            f"labels ({100 * last.random_accuracy:.2f} %) at any of its budgets")
    reached = [s for s in rows if s.factor is not None]
    if reached:
        s = reached[-1]
        text += (f"; the largest {BASELINE} budget it matches is {s.random_budget} "
                 f"(with about {s.guided_labels:.0f} labels, savings factor {s.factor:.2g})")
    return text


def class_shares(hists: Sequence[Sequence[int]]) -> np.ndarray:
    """Rows of class counts -> rows of class fractions (an empty row stays all zeros)."""
    arr = np.asarray(hists, dtype=np.float64)
    if arr.ndim != 2:
        return np.zeros((0, 0))
    totals = arr.sum(axis=1, keepdims=True)
    return np.divide(arr, totals, out=np.zeros_like(arr), where=totals > 0)
