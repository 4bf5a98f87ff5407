"""`gltui experiment PROJECT --report DIR [--strategies A,B] [--seeds 0,1,2] ...`: guided against
random on one pool, one oracle run per strategy and seed (run/experiment.py), resumable, then the
report; and the curves-and-savings lines it shares with the demo (`gltui --oracle`)."""

from __future__ import annotations

from pathlib import Path

from gltui.cli.args import Parser, at_least_one, positive, seed_list, strategy_list
from gltui.config import PROFILES


def add_parser(parsers: dict) -> None:
    p = Parser(prog="gltui experiment",
               description="Guided vs random: one oracle run per strategy and seed (named "
               "STRATEGY-sSEED) on this project's pool, resumable, then the report.")
    p.add_argument("project", type=Path)
    p.add_argument("--strategies", type=strategy_list,
                   help="comma-separated strategies (default: the guided strategy of the "
                   "project's semi setting, margin or rde, and random)")
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2],
                   help="comma-separated run seeds (default 0,1,2)")
    p.add_argument("--budget", type=positive, help="stop each run once N images are labeled")
    p.add_argument("--max-rounds", type=positive, help="stop each run after N training rounds")
    p.add_argument("--profile", choices=list(PROFILES),
                   help="training profile (existing runs must match)")
    p.add_argument("--k", type=at_least_one, help="augmented copies per image for rde")
    p.add_argument("--candidates", type=positive,
                   help="score a random subset of N pool images per round (0 = all)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="default auto")
    p.add_argument("--report", required=True, type=Path, help="folder for report.md and figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    parsers["experiment"] = p


def cmd_experiment(args) -> int:
    from gltui.cli.progress import ProgressView
    from gltui.project import Project
    from gltui.run import experiment
    from gltui.views.tables import out

    with Project.open(args.project) as project:
        plan = experiment.Plan(
            strategies=args.strategies or experiment.default_strategies(project),
            seeds=args.seeds, budget=args.budget, max_rounds=args.max_rounds,
            profile=args.profile, k=args.k, candidates=args.candidates, device=args.device,
        )

        def on_run(started) -> None:
            how = ("new" if started.created else
                   f"done at round {started.round} (goes on if its limit was raised)"
                   if started.phase == "done" else
                   f"resuming at round {started.round}, {started.phase} "
                   f"({started.finished_rounds} rounds finished)")
            out.print(f"[bold]run {started.name}[/] ({started.index}/{started.total}): {how}")

        view = ProgressView(enabled=not args.quiet)
        with view:
            outcome = experiment.run(project, plan, report_dir=args.report, on_run=on_run,
                                     on_event=view.handle)
        curves_and_savings(project, outcome.runs)
    print(f"wrote {outcome.report}")
    return 0


def curves_and_savings(project, names) -> None:
    """The runs' curves as a table, then one savings line per guided strategy against random."""
    from gltui.outputs.report import collect
    from gltui.views.savings import headline
    from gltui.views.tables import curve_table

    curve_table([project.summary(name) for name in names], project.store)
    data = collect(project, names)
    for strategy, rows in data.savings.items():
        print(f"{headline(strategy, rows)} ({data.metric} accuracy)")
