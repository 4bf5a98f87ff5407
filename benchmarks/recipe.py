"""One recipe variant on a small pool: the guided and the random run on one seed set, test
accuracy per labeled count (every label counted) and wall time. docs/results/recipe.md is made
of these lines.

The project is the demo's (gltui.sample.sample_config: 12 epochs of at least 8 steps a round,
k 4, 1,000 candidates, budget 640) on the bundled sample digits or any dataset SPEC, with the
knobs below changed. One torch thread per process, so two variants run side by side on 2 cores:

    .venv/bin/python benchmarks/recipe.py --seed 0 --json                       # the defaults
    .venv/bin/python benchmarks/recipe.py --seed 0 --warm-start 0 --random-share 0 --no-balance
    .venv/bin/python benchmarks/grey_shapes.py --out /tmp/grey-shapes-3k --train 3000 --test 1000
    .venv/bin/python benchmarks/recipe.py --data idx:/tmp/grey-shapes-3k --augment grey --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui import data  # noqa: E402
from gltui.project import Project  # noqa: E402
from gltui.project.runs import Knobs  # noqa: E402
from gltui.run import driver  # noqa: E402
from gltui.run.sample import SAMPLE_SPEC_DIR, sample_config  # noqa: E402
from gltui.views.curves import learning_curves  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=f"folder:{SAMPLE_SPEC_DIR}",
                   help="dataset SPEC with a test split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strategies", default="rde,random")
    p.add_argument("--augment", default="digits", help="digits | grey | colour | none | auto")
    p.add_argument("--val-size", type=int, default=0, help="a validation split (not counted)")
    p.add_argument("--max-epochs", type=int, default=12)
    p.add_argument("--warm-start", type=int, default=None)
    p.add_argument("--random-share", type=float, default=None)
    p.add_argument("--balance", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    config = sample_config()
    config.seed = args.seed
    config.train.augment = args.augment
    config.train.max_epochs = args.max_epochs
    path = Path(tempfile.mkdtemp(prefix="gltui-recipe-")) / "p"
    Project.init(path, data.load(args.data), config, val_size=args.val_size, initial=20).close()
    project = Project.open(path)
    result = {"data": args.data, "seed": args.seed, "augment": args.augment,
              "val_size": args.val_size, "max_epochs": args.max_epochs,
              "warm_start": args.warm_start, "random_share": args.random_share,
              "balance": args.balance, "curves": {}, "seconds": {}}
    try:
        names = []
        for strategy in args.strategies.split(","):
            knobs = Knobs(strategy=strategy, warm_start=args.warm_start,
                          random_share=args.random_share, balance=args.balance)
            started = time.time()
            driver.drive(project, strategy, knobs, seed=args.seed, oracle=True, device="cpu")
            result["seconds"][strategy] = round(time.time() - started, 1)
            names.append(strategy)
        for curve in learning_curves([project.summary(n) for n in names]):
            result["curves"][curve.run] = {n: round(a, 4) for n, a in curve.points}
            result["metric"] = curve.metric
    finally:
        project.close()
    for name, curve in result["curves"].items():
        print(f"{name:>8}: " + "  ".join(f"{n}:{100 * a:.1f}" for n, a in curve.items()))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
