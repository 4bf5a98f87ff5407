"""`gltui status` as text: the project, its runs, the estimates and the learning curves as rich
tables on stdout (the CLI prints them; the TUI's palette captures them). No Textual.
"""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from gltui.project.classes import ClassList
from gltui.store import finished_rounds
from gltui.views.curves import learning_curves, metric_title
from gltui.views.estimates import SMALL_N, audit_estimates, audit_progress

out = Console(highlight=False, soft_wrap=True)


def show(table: Table) -> None:
    """Print a table: in a terminal at the terminal's width; into a file, a pipe or a log at its
    natural width, so nothing is cut to rich's default 80 columns."""
    if out.is_terminal:
        out.print(table)
    else:
        natural = Measurement.get(out, out.options.update(max_width=10_000), table).maximum
        Console(highlight=False, soft_wrap=True, file=out.file,
                width=max(out.width, natural)).print(table)


def name_column(table: Table, header: str, names) -> None:
    """A column of names (runs, strategies): never wrapped or cut, whatever the width."""
    table.add_column(header, no_wrap=True,
                     min_width=max([len(header), *(len(str(n)) for n in names)]))


def status_table(project, summaries) -> None:
    counts = project.store.count_items()
    audit = audit_progress(project.store)
    audit_note = "" if audit is None else f", audit {audit[0]}/{audit[1]} labeled"
    out.print(f"[bold]{project.path}[/]  {project.meta.get('spec')}  "
              f"pool {counts.get('pool', 0)}, validation {counts.get('val', 0)}, "
              f"test {counts.get('test', 0)}{audit_note}, "
              f"{len(ClassList.read(project.store).live)} classes")
    table = Table(box=None, pad_edge=False)
    name_column(table, "run", [s.name for s in summaries])
    name_column(table, "strategy", [s.strategy for s in summaries])
    for col in ("seed", "profile", "phase", "round", "labeled", "pool", "queued", "note"):
        table.add_column(col, justify="right" if col in ("seed", "round", "labeled", "pool",
                                                          "queued") else "left")
    for s in summaries:
        table.add_row(s.name, s.strategy, str(s.seed), s.profile, s.phase, str(s.round),
                      str(s.n_labeled), str(s.n_pool), str(s.n_queued or ""),
                      s.stop_reason or "")
    show(table)
    n_val = counts.get("val", 0)
    if 0 < n_val < SMALL_N:
        out.print(f"validation accuracy comes from only {n_val} images: a rough figure")
    elif n_val == 0 and any(s.rounds for s in summaries):
        out.print("no validation split: each round trains on every label for a fixed schedule, "
                  "and its validation accuracy is the training set's (not an estimate: see the "
                  "audit estimate or the test accuracy)")
    estimates_table(project, summaries)


def estimates_table(project, summaries) -> None:
    """Per finished round: the audit estimate of the round model's accuracy (95% Wilson
    interval, n), the test accuracy beside it where a test split exists, and the stop-set kappa.
    Printed where the project has an audit set or a stop set."""
    store = project.store
    estimates = {s.name: audit_estimates(store, s.name) for s in summaries}
    has_stop = store.sample_set("stop") is not None
    if not has_stop and all(e is None for e in estimates.values()):
        return
    table = Table(title="accuracy estimate (audit set, 95% Wilson interval) and stability "
                  "(kappa vs the previous round on the stop set)", box=None, pad_edge=False)
    name_column(table, "run", [s.name for s in summaries])
    for col in ("round", "labeled", "audit estimate", "test", "kappa"):
        table.add_column(col, justify="left" if col == "audit estimate" else "right")
    for s in summaries:
        for r in finished_rounds(s.rounds):
            est = (estimates[s.name] or {}).get(r.round)
            table.add_row(
                s.name, str(r.round), str(r.n_labeled),
                "no audit set" if estimates[s.name] is None else
                "no audit labels yet" if est is None else est.text(),
                "" if r.test_accuracy is None else f"{r.test_accuracy:.3f}",
                "" if r.stop_kappa is None else f"{r.stop_kappa:.4f}")
    show(table)


def curve_table(summaries, store=None) -> None:
    """Accuracy per labeled count, one column per run: the learning curves as text (the curve
    rule of gltui.views.curves, as the dashboard and the report draw them)."""
    curves = learning_curves(summaries, store)
    budgets = sorted({n for c in curves for n, _ in c.points})
    if not budgets:
        out.print("no finished rounds yet")
        return
    table = Table(title=f"{metric_title(curves[0].metric)} by labeled images",
                  box=None, pad_edge=False)
    table.add_column("labeled", justify="right")
    for c in curves:
        table.add_column(f"{c.run} ({c.strategy})", justify="right")
    for n in budgets:
        cells = [dict(c.points).get(n) for c in curves]
        table.add_row(str(n), *("" if acc is None else f"{acc:.4f}" for acc in cells))
    show(table)
