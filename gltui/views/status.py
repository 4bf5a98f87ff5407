"""A run's signals and `gltui status --json`: the audit estimate, the audit set's progress and the
stop-set kappas, read one way for the dashboard, `gltui status` and the report."""

from __future__ import annotations

from dataclasses import dataclass

from gltui.project.classes import ClassList
from gltui.store import Store, finished_rounds
from gltui.views.estimates import Estimate, audit_estimates, audit_progress


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
    classes = ClassList.read(store)
    for row, r in zip(out["rounds"], summary.rounds):
        if r.class_hist is not None:  # per class in use, in the order of "classes"
            row["class_hist"] = classes.fold_counts(r.class_hist)
        if estimates is not None:
            est = estimates.get(r.round)
            row["audit"] = None if est is None else est.as_json()
        if has_stop:
            row["stop_kappa"] = r.stop_kappa
    return out


def project_json(project, summaries) -> dict:
    """The whole of `gltui status --json`: the project, its audit progress and every run."""
    progress = audit_progress(project.store)
    return {
        "project": str(project.path),
        "spec": project.meta.get("spec"),
        "classes": ClassList.read(project.store).live_names,  # the classes in use
        "items": project.store.count_items(),
        "audit": None if progress is None else {"labeled": progress[0], "size": progress[1]},
        "runs": [run_json(project.store, s) for s in summaries],
    }
