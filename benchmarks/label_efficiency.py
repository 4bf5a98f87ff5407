"""Label efficiency on the real MNIST: guided (rde) vs random selection, several seeds.

The paper's claim, reproduced with gltui's own workflow: a project on the full MNIST (60,000
training images, of which a validation split is held out for early stopping, and the official
10,000-image test set for the accuracy that is reported), the paper's MNIST network and digit
augmentation (`--preset mnist`), a seed set of 20 random images doubled every round, and
`gltui experiment` driving one oracle run per (strategy, seed): `rde-s0`, `random-s0`, ... Runs
with the same seed start from the same 20 images. It prints the test accuracy at each budget per
strategy (mean ± sample std over seeds) and the label savings factor: for each random budget B,
B divided by the smallest rde budget whose mean test accuracy reaches random's mean at B.

Profiles:
  cpu    2 CPU cores in about 2 hours (estimated, idle machine): training profile `quick`
         (Adam 1e-3, patience 6, at most 40 epochs), budgets 20 .. 1,280, validation split 1,000
         images, and each rde round scores a random subset of 4,000 pool images
         (`--candidates 4000`), not the whole pool: rde picks the most confusing images *of that
         subset*. Time goes to training: ~25-30 epochs a round of 20 minibatches of 64 plus the
         validation pass, for the paper's network (about 90 MFLOP per 28x28 forward).
  gpu    the paper's protocol: training profile `paper` (Adam 0.01, patience 100, up to 1,000
         epochs), budgets 20 .. 40,960, validation split 5,000, the whole pool scored each round.
  --smoke  a few minutes, to check the machinery, not the claim: training profile `tiny`,
         budgets 20 .. 80, 2 seeds, 1,000 candidates, k = 4.

The project is resumable: run the same command again after an interruption and it goes on.
Nothing is tuned on the test set: early stopping watches the validation split only; the test
accuracy is read to report.

    python benchmarks/label_efficiency.py --smoke --json
    python benchmarks/label_efficiency.py --profile cpu --json           # ~2 h on 2 idle cores
    python benchmarks/label_efficiency.py --profile gpu --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui.cli import main as gltui  # noqa: E402
from gltui.project import DB_NAME, Project  # noqa: E402
from gltui.report import collect, headline  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"

# Per profile: `gltui init` options (the project) and `gltui experiment` options (the runs).
PROFILES = {
    "cpu": dict(
        init=dict(profile="quick", val_size=1000, initial=20),
        runs=dict(budget=1280, candidates=4000, k=8),
        seeds="0,1,2",
        note="training profile quick (Adam 1e-3, patience 6, at most 40 epochs), budgets to "
             "1,280; each rde round scores a random 4,000-image subset of the pool "
             "(--candidates 4000), not the whole pool",
    ),
    "gpu": dict(
        init=dict(profile="paper", val_size=5000, initial=20),
        runs=dict(budget=40960, candidates=0, k=8),
        seeds="0,1,2",
        note="the paper's protocol: training profile paper (Adam 0.01, patience 100), the "
             "whole pool scored every round",
    ),
    "smoke": dict(
        init=dict(profile="tiny", val_size=500, initial=20),
        runs=dict(budget=80, candidates=1000, k=4),
        seeds="0,1",
        note="SMOKE RUN: checks the machinery only (training profile tiny, budgets to 80, "
             "1,000 candidates scored per round, k 4); not a result",
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--smoke", action="store_true", help="a few minutes' check of the machinery")
    p.add_argument("--seeds", help="comma-separated run seeds (default: 0,1,2; smoke 0,1)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--data", type=Path, default=MNIST, help="MNIST IDX folder (default %(default)s)")
    p.add_argument("--project", type=Path,
                   help="project folder (default projects/label-efficiency-PROFILE in the repo)")
    p.add_argument("--report", type=Path, help="report folder (default PROJECT-report)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return p.parse_args(argv)


def init_project(project: Path, data: Path, init: dict) -> None:
    """`gltui init` on the MNIST IDX files, or a check that the existing project matches."""
    if (project / DB_NAME).exists():
        opened = Project.open(project)
        try:
            meta = opened.meta
            profile = opened.run_config("main").train.profile
        finally:
            opened.close()
        want = (f"idx:{data}", init["val_size"], init["initial"], init["profile"])
        have = (meta.get("spec"), meta.get("val_size"), meta.get("initial"), profile)
        if have != want:
            raise SystemExit(f"{project}: made with {have}, this profile needs {want}; "
                             "use another --project")
        print(f"resuming the project {project}")
        return
    if not (data / "train-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"{data}: no MNIST IDX files there; give --data DIR")
    code = gltui(["init", str(project), "--data", f"idx:{data}", "--preset", "mnist",
                  "--profile", init["profile"], "--val-size", str(init["val_size"]),
                  "--initial", str(init["initial"]), "--seed", "0"])
    if code:
        raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = "smoke" if args.smoke else args.profile
    spec = PROFILES[name]
    seeds = args.seeds or spec["seeds"]
    project = args.project or REPO_ROOT / "projects" / f"label-efficiency-{name}"
    report = args.report or project.with_name(project.name + "-report")
    started = time.time()
    init_project(project, args.data, spec["init"])
    runs = spec["runs"]
    command = ["experiment", str(project), "--strategies", "rde,random", "--seeds", seeds,
               "--profile", spec["init"]["profile"], "--budget", str(runs["budget"]),
               "--candidates", str(runs["candidates"]), "--k", str(runs["k"]),
               "--device", args.device, "--report", str(report)]
    if args.quiet:
        command.append("--quiet")
    print("gltui " + " ".join(command), flush=True)
    code = gltui(command)
    if code:
        return code
    wall = time.time() - started

    opened = Project.open(project)
    try:
        data = collect(opened, _run_names(seeds))
        counts = opened.store.count_items()
    finally:
        opened.close()
    result = {
        "benchmark": "label_efficiency",
        "profile": name,
        "smoke": args.smoke,
        "note": spec["note"],
        "data": f"idx:{args.data}",
        "items": counts,
        "seeds": [int(s) for s in seeds.split(",")],
        "training_profile": spec["init"]["profile"],
        **{key: value for key, value in runs.items()},
        "initial": spec["init"]["initial"],
        "metric": data.metric,
        "strategies": {
            strategy: [{"budget": p.budget, "mean": p.mean, "std": p.std, "n": p.n}
                       for p in points]
            for strategy, points in data.groups.items()
        },
        "runs": {c.name: {str(b): a for b, a in sorted(c.curve.items())}
                 for c in data.runs},
        "savings": {
            strategy: [{"random_budget": s.random_budget, "guided_budget": s.guided_budget,
                        "factor": s.factor} for s in rows]
            for strategy, rows in data.savings.items()
        },
        "headline": {strategy: headline(strategy, rows) for strategy, rows in data.savings.items()},
        "report": str(report / "report.md"),
        "wall_seconds": round(wall, 1),
        "environment": _environment(args.device),
    }
    _print(result, data)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


def _run_names(seeds: str) -> list[str]:
    return [f"{s}-s{int(seed)}" for seed in seeds.split(",") for s in ("rde", "random")]


def _print(result: dict, data) -> None:
    print()
    print(f"label efficiency on MNIST, profile {result['profile']}: {result['note']}")
    print(f"{result['metric']} accuracy (%) per labeled count, mean ± sample std over seeds "
          f"{result['seeds']}:")
    strategies = list(result["strategies"])
    print(f"{'labeled':>8}  " + "  ".join(f"{s:>18}" for s in strategies))
    points = {s: {p["budget"]: p for p in pts} for s, pts in result["strategies"].items()}
    for budget in sorted({b for pts in points.values() for b in pts}):
        cells = []
        for s in strategies:
            p = points[s].get(budget)
            if p is None:
                cells.append("")
                continue
            fewer = f" (n={p['n']})" if p["n"] < len(result["seeds"]) else ""
            cells.append(f"{100 * p['mean']:.2f} ± {100 * p['std']:.2f}{fewer}")
        print(f"{budget:>8}  " + "  ".join(f"{c:>18}" for c in cells))
    for strategy, rows in result["savings"].items():
        print(f"label savings of {strategy} (random budget -> smallest {strategy} budget with "
              "the same mean accuracy, factor):")
        for row in rows:
            reached = ("not reached" if row["guided_budget"] is None
                       else f"{row['guided_budget']:>6}  x{row['factor']:g}")
            print(f"  {row['random_budget']:>6} -> {reached}")
        print(result["headline"][strategy])
    print(f"report: {result['report']}   wall time: {result['wall_seconds']:.0f} s")


def _environment(device: str) -> dict:
    import torch

    env = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "cpu_count": os.cpu_count(), "machine": platform.machine(), "device": device}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    try:
        env["load_average_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return env


if __name__ == "__main__":
    raise SystemExit(main())
