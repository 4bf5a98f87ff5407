"""What a person's schedule costs in labels: fixed queues of 40 vs the paper's doubling.

A person's project defaults to `config.PERSON_SCHEDULE` (fixed:40: queues sized for a sitting);
oracle experiments keep doubling (20 -> 40 -> 80 ...). This measures both in oracle mode on the
bundled sample digits (3,000 pool images minus a 300-image validation split, the 1,000 sample
test digits for the accuracy reported), with the sample project's training recipe (the demo's:
`quick` capped at 12 epochs, patience 3; rde with k = 4 on 1,000 random candidates a round), to
the same budget, several seeds. Each run with a given seed starts from the same 20 images.

    python benchmarks/schedule_cost.py --json                 # 3 seeds, budget 320
    python benchmarks/schedule_cost.py --seeds 0 --budget 100  # a quick look

Prints the test accuracy per labeled count for each schedule (mean over seeds), the accuracy at
the final budget, and the number of rounds (each a retrain and a rescore the person waits for,
unless the TUI's provisional queue covers it). The test split is only read to report.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui import data  # noqa: E402
from gltui.config import PERSON_SCHEDULE  # noqa: E402
from gltui.project import Project  # noqa: E402
from gltui.project.runs import Knobs  # noqa: E402
from gltui.run import driver  # noqa: E402
from gltui.run.sample import SAMPLE_SPEC_DIR, sample_config  # noqa: E402
from gltui.views.curves import run_curve  # noqa: E402

SCHEDULES = ("exponential", PERSON_SCHEDULE)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--budget", type=int, default=320)
    p.add_argument("--project", type=Path, help="reuse/resume this project folder")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    path = args.project or Path(tempfile.mkdtemp(prefix="gltui-schedule-")) / "proj"
    if not (path / "gltui.db").exists():
        Project.init(path, data.load(f"folder:{SAMPLE_SPEC_DIR}"), sample_config(),
                     val_size=300, initial=20).close()
    project = Project.open(path)
    started = time.time()
    curves: dict[str, list[dict[int, float]]] = {s: [] for s in SCHEDULES}
    rounds: dict[str, list[int]] = {s: [] for s in SCHEDULES}
    try:
        for seed in seeds:
            for schedule in SCHEDULES:
                name = f"{schedule.replace(':', '')}-s{seed}"
                driver.drive(project, name, Knobs(schedule=schedule, budget=args.budget),
                           seed=seed, oracle=True)
                finished = project.store.rounds(name)
                curves[schedule].append(run_curve(finished, "test"))
                rounds[schedule].append(len(finished))
                print(f"{name}: {len(finished)} rounds, test accuracy at {args.budget}: "
                      f"{curves[schedule][-1].get(args.budget, float('nan')):.4f}", file=sys.stderr)
    finally:
        project.close()
    table = {}
    for schedule, per_seed in curves.items():
        budgets = sorted(set.intersection(*(set(c) for c in per_seed)))
        table[schedule] = {b: sum(c[b] for c in per_seed) / len(per_seed) for b in budgets}
    out = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "command": "python benchmarks/schedule_cost.py " + " ".join(sys.argv[1:]),
        "seeds": seeds, "budget": args.budget, "seconds": round(time.time() - started, 1),
        "mean_test_accuracy": {s: {str(b): round(a, 4) for b, a in t.items()}
                               for s, t in table.items()},
        "per_seed_final": {s: [round(c.get(args.budget, float("nan")), 4) for c in curves[s]]
                           for s in SCHEDULES},
        "rounds": rounds, "project": str(path),
    }
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for s in SCHEDULES:
            print(s, out["mean_test_accuracy"][s], "rounds", rounds[s])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
