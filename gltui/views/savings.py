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
    factor: float | None = None  # B / guided_labels; None where the guided curve never reaches it

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
    """The label savings factor at every budget B of the baseline: B divided by the labels the
    guided curve needs to reach the baseline's mean accuracy at B.

    A doubling grid alone can only say 1, 2, 4 ...: a curve 2 points ahead at every budget
    would read "factor 1" wherever it is not a whole doubling ahead. So the labels are read off
    the guided curve where it crosses the target, between its two grid points around the
    crossing (linear in log2 labels, as the curve is drawn). Where the guided curve's first
    point already reaches the target, the crossing is below the grid: `at_most` says the
    labels are an upper bound (the factor a lower one). None: it never got there."""
    guided = sorted(guided, key=lambda p: p.budget)
    out = []
    for base in sorted(random, key=lambda p: p.budget):
        target = base.mean - tolerance
        at = next((i for i, g in enumerate(guided) if g.mean >= target), None)
        if at is None:
            out.append(Saving(base.budget, base.mean, None, None))
            continue
        hit = guided[at]
        labels, at_most = float(hit.budget), at == 0
        if at > 0:
            lo = guided[at - 1]
            share = (target - lo.mean) / (hit.mean - lo.mean) if hit.mean > lo.mean else 1.0
            labels = 2 ** (math.log2(lo.budget) + min(1.0, max(0.0, share))
                           * (math.log2(hit.budget) - math.log2(lo.budget)))
        out.append(Saving(base.budget, base.mean, hit.budget, hit.mean, labels, at_most,
                          base.budget / labels))
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
                   f"{last.guided_budget // 2} and {last.guided_budget}, where it has "
                   f"{100 * last.guided_accuracy:.2f} %): savings factor {last.factor:.2g}")
        return (f"{strategy} reaches {BASELINE}'s mean accuracy at {last.random_budget} labels "
                f"({100 * last.random_accuracy:.2f} %) {how}")
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
