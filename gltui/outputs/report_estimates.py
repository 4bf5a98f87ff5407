"""The report's section on the audit set and the stop set: the audit estimate of each round
beside the test accuracy (and whether its interval covers it), the stop-set kappa per round, and
where the stabilizing-predictions rule would have stopped each run. Numbers from gltui.results."""

from __future__ import annotations

from typing import Sequence

from gltui.project import Project
from gltui.views.estimates import (
    Estimate,
    audit_estimates,
    audit_progress,
    round_ceilings,
    stable_stop,
)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


STABLE_WINDOWS = (1, 2, 3)  # K of "kappa >= threshold K rounds in a row" the report tries


def estimates_section(project: Project, runs: Sequence) -> list[str]:
    """runs: report.RunCurve of the shown runs (name, config, finished rounds). The audit
    estimate per round beside the test accuracy (and whether its interval covers
    it), the stop-set kappa per round, and where the stabilizing-predictions rule would stop."""
    audit = audit_progress(project.store)
    kappas = any(r.stop_kappa is not None for c in runs for r in c.rounds)
    if audit is None and not kappas:
        return []
    lines = ["", "## Accuracy estimate (audit set) and stability (kappa)", ""]
    if audit is not None:
        lines.append(f"The audit set: {audit[1]} random pool images set aside at init, "
                     f"{audit[0]} labeled, never trained on nor used for early stopping. The "
                     "estimate is the round model's accuracy on the labeled ones, with a 95% "
                     "Wilson interval; under 100 images it is only a rough figure.")
    if kappas:
        lines.append("\nkappa: Cohen's kappa between this round's and the previous round's "
                     "predicted classes on the stop set (random pool images, labels not needed).")
    lines += ["", "| run | round | labeled | audit estimate (%) [95% interval] | n | test (%) | "
              "covered | kappa |", "| --- | ---: | ---: | --- | ---: | ---: | --- | ---: |"]
    covered = total = 0
    for c in runs:
        estimates = audit_estimates(project.store, c.name) or {}
        for r in c.rounds:
            est = estimates.get(r.round)
            hit = "" if est is None or r.test_accuracy is None else (
                "yes" if est.covers(r.test_accuracy) else "**no**")
            covered, total = covered + (hit == "yes"), total + bool(hit)
            cells = [c.name, str(r.round), str(r.n_labeled),
                     _estimate_cell(est), "" if est is None else str(est.n),
                     _pct(r.test_accuracy), hit,
                     "" if r.stop_kappa is None else f"{r.stop_kappa:.4f}"]
            lines.append("| " + " | ".join(cells) + " |")
    if total:
        lines += ["", f"The audit interval covers the test accuracy in **{covered} of {total}** "
                  f"rounds ({100 * covered / total:.0f} %)."]
    if kappas:
        lines += ["", "Where the stabilizing-predictions rule (kappa >= threshold K rounds in a "
                  "row) would have stopped each run:", "",
                  "| run | K | threshold | stops after round | labeled there | test there (%) | "
                  "best later (%) | test at the end (%) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for c in runs:
            threshold = c.config.loop.stable_kappa
            ceilings = round_ceilings(project.store, c.name)
            for k in sorted({*STABLE_WINDOWS, c.config.loop.stable_rounds} - {0}):
                hit = stable_stop(c.rounds, k, threshold, ceilings)
                later = [] if hit is None else [r.test_accuracy for r in c.rounds
                                                if r.round > hit.round and r.test_accuracy]
                where = (["not reached", "", "", ""] if hit is None else
                         [str(hit.round), str(hit.n_labeled), _pct(hit.test_accuracy),
                          _pct(max(later)) if later else ""])
                said = f"{threshold:g}" if threshold > 0 else "auto"
                lines.append(f"| {c.name} | {k} | {said} | " + " | ".join(where)
                             + f" | {_pct(c.rounds[-1].test_accuracy)} |")
        if any(c.config.loop.stable_kappa <= 0 for c in runs):
            lines += ["", "auto: each round's own kappa between its classes on the stop set and "
                      "on one augmented view of it (the agreement a retrained model cannot "
                      "beat; learn/stopping.py)."]
    return lines


def _estimate_cell(est: Estimate | None) -> str:
    if est is None:
        return ""
    low, high = est.interval
    return (f"{_pct(est.accuracy)} [{_pct(low)}, {_pct(high)}]"
            + (" (few images)" if est.small else ""))
