"""`gltui check PROJECT [--json] [--run NAME] [--device D]`: likely label mistakes,
near-duplicates and leaks (outputs/check.py). Reads the project only; torch is imported only
once the project and the run are known to be there."""

from __future__ import annotations

import json
from pathlib import Path

from gltui.cli.args import Parser


def add_parser(parsers: dict) -> None:
    p = Parser(prog="gltui check",
               description="A health check of a run's labels: likely label mistakes (out-of-fold "
               "predictions), near-duplicate images, leaks across splits and outliers. Changes "
               "nothing.")
    p.add_argument("project", type=Path)
    p.add_argument("--run", default="main", help="the run whose labels are checked")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="default auto")
    p.add_argument("--json", action="store_true",
                   help='{"label_issues": [{file, label, likely, score}], "near_duplicates": '
                   '[[file, ...]], "outliers": [{file, split, score}]} on stdout, most suspicious '
                   "first")
    parsers["check"] = p


def cmd_check(args) -> int:
    from gltui.project import Project
    from gltui.run.driver import check_device

    check_device(args.device)
    with Project.open(args.project) as project:
        project.require_run(args.run)
        from gltui.outputs.check import check  # torch: loaded only to check

        result = check(project, args.run, device=args.device)
    if args.json:
        print(json.dumps(result.as_json(), indent=1))
    else:
        print("\n".join(result.lines()))
    return 0
