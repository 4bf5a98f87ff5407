"""Label efficiency on an IDX dataset (default: the real MNIST): guided (rde) vs random selection.

The paper's claim, reproduced with gltui's own workflow: a project on an IDX folder (MNIST: 60,000
training images, and the official 10,000-image test set for the accuracy that is reported), a
seed set of 20 random images doubled every round, and `gltui experiment` driving one oracle run
per (strategy, seed): `rde-s0`, `random-s0`, ... Runs with the same seed start from the same 20
images, so per-seed pairs are meaningful. It prints, per strategy, the test accuracy at each
label count (mean ± sample std over seeds), the labels needed to reach 90/95/98/99 %, and per
guided strategy against random: the difference of the means, whether it exceeds the noise, and
the label savings factor (for each random count B: B divided by the smallest guided count whose
mean test accuracy reaches random's mean at B; gltui.report.savings).

Every label is counted. By default there is no validation split (`gltui init --val-size 0`):
each round trains on every label for the profile's fixed schedule (`max_epochs`, the last
weights kept; no early stopping), as in a person's project, so the labels reported are exactly
the seed set plus the queues. The selection is the project's default recipe (random queues to
40 labels, then class-balanced guided picks with half of each queue drawn at random). With
`--val-size N` a separate labeled validation split of N images is used instead, and those N
labels are added to every count reported (curve, labels-to-X, savings, noise). Both the table
and the JSON say which: "labels counted: seed 20 + queue + validation N". Nothing is tuned on
the test set: it is only read to report.

Noise rule (kept simple): at each label count, diff = guided mean − random mean over seeds;
it is "beyond noise" when |diff| exceeds the larger of the two sample stds (undecided with one
seed), and "ahead a/n" counts the seeds whose guided run beats the random run of the same seed
(ties are not ahead). Neither is a significance test; with 3 seeds they are a sanity check.

Profiles (`--budget N`, `--strategies A,B`, `--seeds`, `--val-size` override any of them):
  cpu    2 CPU cores, 1-1.5 h expected idle (2.3 h measured on shared cores): training profile
         `quick` (Adam 1e-3; without a validation split a fixed 40 epochs of at least 20 steps),
         budgets 20 .. 1,280, and each rde round scores a random subset of 4,000 pool images
         (`--candidates 4000`), not the whole pool: rde picks the most confusing images
         *of that subset*.
  gpu    the paper's training protocol: profile `paper` (Adam 0.01, patience 100, up to 1,000
         epochs), budgets 20 .. 40,960, the whole pool scored each round.
  --smoke  a few minutes, to check the machinery, not the claim: training profile `tiny`,
         budgets 20 .. 80, 2 seeds, 1,000 candidates, k = 4.

`--data DIR` takes any IDX folder (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
and t10k-... for the test split, which is required). `--preset auto` (default) lets the project
pick the net and augmentation by the data's channel count (grey: the paper's MNIST net and digit
augmentation); `--preset mnist` asks for the paper's digit set-up explicitly. The JSON records the
preset and the model and augmentation the runs actually used. The project folder defaults to
projects/label-efficiency-PROFILE-DATANAME; it is resumable: run the same command again after an
interruption and it goes on (a project made with other settings is refused, not reused).

    python benchmarks/label_efficiency.py --smoke --json
    python benchmarks/label_efficiency.py --profile cpu --preset mnist --json   # hours, 2 cores
    python benchmarks/label_efficiency.py --profile cpu --budget 320 --data DIR
    python benchmarks/label_efficiency.py --profile gpu --device cuda --val-size 5000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui.cli import main as gltui  # noqa: E402
from gltui.config import PRESETS, SEMI_PROFILES  # noqa: E402
from gltui.outputs.report import collect  # noqa: E402
from gltui.project import DB_NAME, Project  # noqa: E402
from gltui.views.savings import BASELINE, group_curves, headline, savings  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
TARGETS = (0.90, 0.95, 0.98, 0.99)  # test accuracies for "labels to reach X %"
TOLERANCE = 1e-9  # a mean over seeds that equals the target in exact arithmetic reaches it

# Per profile: `gltui init` options (the project) and `gltui experiment` options (the runs).
PROFILES = {
    "cpu": dict(
        init=dict(profile="quick", initial=20),
        runs=dict(budget=1280, candidates=4000, k=8),
        seeds="0,1,2",
        note="training profile quick (Adam 1e-3; a fixed 40 epochs without a validation split, "
             "else patience 6); each rde round "
             "scores a random 4,000-image subset of the pool (--candidates 4000), not the whole "
             "pool",
    ),
    "gpu": dict(
        init=dict(profile="paper", initial=20),
        runs=dict(budget=40960, candidates=0, k=8),
        seeds="0,1,2",
        note="the paper's training protocol: training profile paper (Adam 0.01, patience 100), "
             "the whole pool scored every round",
    ),
    "smoke": dict(
        init=dict(profile="tiny", initial=20),
        runs=dict(budget=80, candidates=1000, k=4),
        seeds="0,1",
        note="SMOKE RUN: checks the machinery only (training profile tiny, 1,000 candidates "
             "scored per round, k 4); not a result",
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--smoke", action="store_true", help="a few minutes' check of the machinery")
    p.add_argument("--seeds", help="comma-separated run seeds (default: 0,1,2; smoke 0,1)")
    p.add_argument("--strategies", default="rde,random",
                   help="comma-separated strategies (default %(default)s; random is the baseline)")
    p.add_argument("--budget", type=int,
                   help="stop each run at N labels of seed + queue (default: the profile's)")
    p.add_argument("--val-size", type=int, default=0, metavar="N",
                   help="a separate labeled validation split of N images for early stopping, "
                        "counted in every label count reported (default 0: none; each round "
                        "then trains a fixed schedule on every label)")
    p.add_argument("--semi", choices=("on", "off"), default="on",
                   help="semi-supervised rounds (learn from the unlabeled pool too; default on) "
                        "or labels only")
    p.add_argument("--explore", choices=("far", "random"),
                   help="how the guided queues' explored half is drawn (default: gltui init's, "
                        "far with semi-supervised rounds, random without)")
    p.add_argument("--semi-profile", choices=tuple(SEMI_PROFILES),
                   help="length of a semi-supervised round (default: bench; smoke: tiny)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--data", type=Path, default=MNIST,
                   help="IDX folder with a t10k test split (default %(default)s)")
    p.add_argument("--preset", choices=("auto", *PRESETS), default="auto",
                   help="net + augmentation: auto (by channel count) or a paper set-up")
    p.add_argument("--project", type=Path,
                   help="project folder (default projects/label-efficiency-PROFILE-DATANAME)")
    p.add_argument("--report", type=Path, help="report folder (default PROJECT-report)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)
    if args.val_size < 0 or (args.budget is not None and args.budget < 1):
        p.error("--val-size must be >= 0 and --budget >= 1")
    return args


def data_name(folder: Path) -> str:
    """A file-name-safe name for the data folder (its own name, or its parent's for .../raw)."""
    name = folder.parent.name if folder.name.lower() == "raw" else folder.name
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "data"


def init_project(project: Path, data: Path, want: dict) -> dict:
    """`gltui init` on the IDX folder unless the project exists; then a check that the project
    matches `want` (spec, val_size, initial, training profile, model, augment) and has a test
    split. Returns its item counts per split."""
    resuming = (project / DB_NAME).exists()
    if not resuming:
        command = ["init", str(project), "--data", want["spec"], "--profile", want["profile"],
                   "--val-size", str(want["val_size"]), "--initial", str(want["initial"]),
                   "--seed", "0", "--semi", "on" if want["semi"] else "off",
                   "--semi-profile", want["semi_profile"]]
        if want["preset"] != "auto":
            command += ["--preset", want["preset"]]
        if want["explore"]:
            command += ["--explore", want["explore"]]
        code = gltui(command)
        if code:
            raise SystemExit(code)
    with Project.open(project) as opened:
        meta, config, counts = opened.meta, opened.run_config("main"), opened.store.count_items()
    have = dict(spec=meta.get("spec"), val_size=meta.get("val_size"), initial=meta.get("initial"),
                profile=config.train.profile, model=config.model, augment=config.train.augment,
                semi=config.semi.enabled, semi_profile=config.semi.profile)
    if want["explore"]:  # a project made before --explore was asked for keeps its own
        have["explore"] = config.score.explore
    need = {key: want[key] for key in have}
    if have != need:
        raise SystemExit(f"{project}: made with {have}, this benchmark needs {need}; "
                         "use another --project")
    if not counts.get("test"):
        raise SystemExit(f"{project}: no test split (t10k-images-idx3-ubyte[.gz] in {data}); "
                         "the benchmark reports test accuracy only")
    if resuming:
        print(f"resuming the project {project}")
    return counts


def selection(config) -> str:
    """The guided runs' selection recipe in words (stored per run: old runs read back the
    paper's)."""
    loop, score = config.loop, config.score
    return (f"warm start {loop.warm_start} (random queues below it), "
            f"{'class-balanced' if score.balance else 'plain top-n'} picks, "
            f"{score.explore} share {score.random_share:g}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = "smoke" if args.smoke else args.profile
    spec = PROFILES[name]
    seeds = [int(s) for s in (args.seeds or spec["seeds"]).split(",")]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    runs = dict(spec["runs"], budget=args.budget or spec["runs"]["budget"])
    data_dir = args.data.resolve()
    semi_profile = args.semi_profile or ("tiny" if args.smoke else "bench")
    tag = f"semi-{semi_profile}" if args.semi == "on" else "labels-only"
    project = args.project or (REPO_ROOT / "projects"
                               / f"label-efficiency-{name}-{tag}-{data_name(data_dir)}")
    report = args.report or project.with_name(project.name + "-report")
    preset = PRESETS.get(args.preset, dict(model="auto", augment="auto"))
    started = time.time()
    counts = init_project(project, data_dir, dict(
        spec=f"idx:{data_dir}", val_size=args.val_size, initial=spec["init"]["initial"],
        profile=spec["init"]["profile"], preset=args.preset, model=preset["model"],
        augment=preset["augment"], semi=args.semi == "on", semi_profile=semi_profile,
        explore=args.explore))
    command = ["experiment", str(project), "--strategies", ",".join(strategies),
               "--seeds", ",".join(map(str, seeds)), "--profile", spec["init"]["profile"],
               "--budget", str(runs["budget"]), "--candidates", str(runs["candidates"]),
               "--k", str(runs["k"]), "--device", args.device, "--report", str(report)]
    if args.quiet:
        command.append("--quiet")
    print("gltui " + " ".join(command), flush=True)
    code = gltui(command)
    if code:
        return code
    wall = time.time() - started

    with Project.open(project) as opened:
        data = collect(opened, [f"{s}-s{seed}" for seed in seeds for s in strategies])
        channels = int(opened.meta["shape"][0])
    if data.metric != "test":
        raise SystemExit(f"{project}: some round has no test accuracy; nothing honest to report")
    from gltui.learn.augment import resolve_preset
    from gltui.outputs.roundmodel import network_for

    # Every label counted: the runs' own labels (seed + queue) plus the validation split's.
    val = args.val_size
    counted = {c.name: {b + val: a for b, a in sorted(c.curve.items())} for c in data.runs}
    groups = group_curves((c.strategy, counted[c.name]) for c in data.runs)
    guided = [s for s in groups if s != BASELINE] if BASELINE in groups else []
    saving_rows = {s: savings(groups[s], groups[BASELINE]) for s in guided}
    result = {
        "benchmark": "label_efficiency",
        "profile": name,
        "smoke": args.smoke,
        "note": spec["note"],
        "data": f"idx:{data_dir}",
        "items": counts,
        "seeds": seeds,
        "training_profile": spec["init"]["profile"],
        "preset": args.preset,
        "model": used(network_for(c.config, channels)[0] for c in data.runs),
        "semi": used((f"{c.config.semi.algorithm} (profile {c.config.semi.profile}: "
                      f"{c.config.semi.epochs} epochs of {c.config.semi.steps_per_epoch} steps, "
                      f"{c.config.semi.warm_epochs} from the previous round's weights)")
                     if c.config.semi.enabled else "off" for c in data.runs),
        "augmentation": used(resolve_preset(c.config.train.augment, channels) for c in data.runs),
        **runs,
        "initial": spec["init"]["initial"],
        "val_size": val,
        "accounting": f"labels counted: seed {spec['init']['initial']} + queue + validation {val}"
                      + ("" if val else " (none: each round trains a fixed schedule on every "
                         "label)"),
        "selection": used(selection(c.config) for c in data.runs if c.strategy != "random"),
        "budget_counted": runs["budget"] + val,
        "metric": data.metric,
        "strategies": {s: [{"labels": p.budget, "mean": p.mean, "std": p.std, "n": p.n}
                           for p in points] for s, points in groups.items()},
        "runs": {run: {str(b): a for b, a in curve.items()} for run, curve in counted.items()},
        "labels_to_reach": {s: labels_to_reach(points, [c for c in data.runs if c.strategy == s],
                                               counted) for s, points in groups.items()},
        "noise": {s: noise_rows(s, groups, data.runs, counted) for s in guided},
        "savings": {s: [{"random_labels": r.random_budget, "guided_labels": r.guided_labels,
                         "guided_budget": r.guided_budget, "at_most": r.at_most,
                         "factor": r.factor} for r in rows] for s, rows in saving_rows.items()},
        "headline": {s: headline(s, rows) for s, rows in saving_rows.items()},
        "report": str(report / "report.md"),
        "report_note": "gltui experiment's lines above and the report count the runs' own "
                       "labels (seed + queue), "
                       "without the validation split" if val else None,
        "wall_seconds": round(wall, 1),
        "environment": _environment(args.device),
    }
    _print(result, data_name(data_dir))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


def used(values) -> str | list[str]:
    """The one value every run used, or the sorted distinct values where they differ."""
    distinct = sorted(set(values))
    return distinct[0] if len(distinct) == 1 else distinct


def first_reaching(curve: dict[int, float], target: float) -> int | None:
    """The smallest label count whose accuracy reaches target, or None."""
    return next((b for b, a in sorted(curve.items()) if a >= target - TOLERANCE), None)


def labels_to_reach(points, strategy_runs, counted: dict) -> dict:
    """Per target: the smallest counted label count whose mean over seeds reaches it, and per
    seed the run's own (None: not reached within the budget)."""
    mean_curve = {p.budget: p.mean for p in points}
    return {f"{100 * t:g}": {"mean": first_reaching(mean_curve, t),
                             "per_seed": {str(c.seed): first_reaching(counted[c.name], t)
                                          for c in strategy_runs}}
            for t in TARGETS}


def noise_rows(strategy: str, groups: dict, runs, counted: dict) -> list[dict]:
    """At each label count both curves have: guided − random mean, the larger sample std, whether
    |diff| exceeds it (None with one seed), and in how many seeds the guided run is ahead of the
    random run of the same seed."""
    mine, base = ({p.budget: p for p in groups[s]} for s in (strategy, BASELINE))
    by_seed = {(c.strategy, c.seed): counted[c.name] for c in runs}
    rows = []
    for labels in sorted(set(mine) & set(base)):
        g, r = mine[labels], base[labels]
        diff, noise = g.mean - r.mean, max(g.std, r.std)
        pairs = [(curve[labels], by_seed[(BASELINE, seed)][labels])
                 for (s, seed), curve in by_seed.items()
                 if s == strategy and labels in curve
                 and labels in by_seed.get((BASELINE, seed), {})]
        rows.append({"labels": labels, "guided_mean": g.mean, "random_mean": r.mean,
                     "diff": diff, "noise": noise,
                     "beyond_noise": abs(diff) > noise if min(g.n, r.n) > 1 else None,
                     "ahead": sum(a > b for a, b in pairs), "paired": len(pairs)})
    return rows


def _print(result: dict, dataset: str) -> None:
    print()
    print(f"label efficiency on {dataset} ({result['data']}), profile {result['profile']}: "
          f"{result['note']}")
    print(f"preset {result['preset']}: model {result['model']}, augmentation "
          f"{result['augmentation']}; {result['accounting']}")
    print(f"guided selection: {result['selection']}")
    print(f"{result['metric']} accuracy (%) per counted labels, mean ± sample std over seeds "
          f"{result['seeds']}:")
    strategies = list(result["strategies"])
    print(f"{'labels':>8}  " + "  ".join(f"{s:>18}" for s in strategies))
    points = {s: {p["labels"]: p for p in pts} for s, pts in result["strategies"].items()}
    for labels in sorted({b for pts in points.values() for b in pts}):
        cells = []
        for s in strategies:
            p = points[s].get(labels)
            fewer = "" if p is None or p["n"] == len(result["seeds"]) else f" (n={p['n']})"
            cells.append("" if p is None
                         else f"{100 * p['mean']:.2f} ± {100 * p['std']:.2f}{fewer}")
        print(f"{labels:>8}  " + "  ".join(f"{c:>18}" for c in cells))

    print("counted labels to reach X % (mean over seeds; per seed in brackets, - not reached):")
    print(f"{'X':>8}  " + "  ".join(f"{s:>24}" for s in strategies))

    def show(b):
        return "-" if b is None else str(b)

    for target in (f"{100 * t:g}" for t in TARGETS):
        cells = []
        for s in strategies:
            hit = result["labels_to_reach"][s][target]
            mean = "not reached" if hit["mean"] is None else str(hit["mean"])
            cells.append(f"{mean} [{', '.join(show(b) for b in hit['per_seed'].values())}]")
        print(f"{target + ' %':>8}  " + "  ".join(f"{c:>24}" for c in cells))

    for strategy, rows in result["noise"].items():
        match = {r["random_labels"]: r for r in result["savings"][strategy]}
        print(f"{strategy} vs {BASELINE} per counted labels: diff = {strategy} − {BASELINE} mean; "
              "beyond noise: |diff| > the larger std; ahead: seeds where the "
              f"{strategy} run beats the {BASELINE} run of the same seed; match: the {strategy} "
              f"labels reaching {BASELINE}'s mean there, read off its curve (savings factor)")
        print(f"{'labels':>8} {BASELINE + ' %':>9} {strategy + ' %':>9} {'diff':>7} {'noise':>6} "
              f"{'beyond':>7} {'ahead':>6}  match")
        for r in rows:
            beyond = {True: "yes", False: "no", None: "n/a"}[r["beyond_noise"]]
            s = match.get(r["labels"])
            hit = ("not reached" if s is None or s["guided_labels"] is None
                   else f"{'<=' if s['at_most'] else '~'}{s['guided_labels']:.0f} "
                        f"(x{s['factor']:.2g})")
            print(f"{r['labels']:>8} {100 * r['random_mean']:>9.2f} {100 * r['guided_mean']:>9.2f} "
                  f"{100 * r['diff']:>+7.2f} {100 * r['noise']:>6.2f} {beyond:>7} "
                  f"{r['ahead']:>3}/{r['paired']:<2}  {hit}")
        print(result["headline"][strategy] + f" ({result['accounting']})")
    print(f"report: {result['report']}   wall time: {result['wall_seconds']:.0f} s")
    if result["report_note"]:
        print(f"note: {result['report_note']}")


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
