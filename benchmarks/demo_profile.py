"""The sample demo (`gltui --oracle`) with its `demo` semi-supervised profile changed: how long
both runs take and what they reach, to size the profile (config.SEMI_PROFILES["demo"]).

    .venv/bin/python benchmarks/demo_profile.py '{"uratio": 2, "epochs": 4}' [--budget 640]

The JSON object replaces fields of the demo's SemiConfig ('{}': the profile as it is). It builds a
fresh sample project in a temp folder, drives the guided run `main` and the run `random` on the
same seed set (sample.drive_demo), and prints each run's test accuracy per round and the wall time.
Figures for the profile in use: README, "The sample demo".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gltui import data  # noqa: E402
from gltui.project import Project  # noqa: E402
from gltui.run import sample  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("changes", help='SemiConfig fields to replace, as JSON ({"uratio": 2})')
    ap.add_argument("--budget", type=int, default=640)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    config = sample.sample_config()
    config.semi = config.semi.replace(**json.loads(args.changes))
    config.loop.budget = args.budget
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample"
        dataset = data.load(f"folder:{sample.SAMPLE_SPEC_DIR}")
        Project.init(path, dataset, config, val_size=0, initial=20).close()
        started = time.time()
        with Project.open(path) as project:
            sample.drive_demo(project, "main", device=args.device)
            for run in ("main", sample.BASELINE_RUN):
                curve = [(r.n_labeled, round(r.test_accuracy, 4))
                         for r in project.store.rounds(run)]
                print(f"{run} ({project.store.run(run).strategy}): {curve}")
        print(f"{args.changes}: {time.time() - started:.1f} s for both runs")


if __name__ == "__main__":
    main()
