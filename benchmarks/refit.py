"""Train a finished round of an oracle project again, warm (as the run did) or from fresh
weights, on exactly the round's inputs, and print the test accuracy and the most common test
errors: does the previous round's model, the warm start, carry a confusion into the next?

Read only: the project is opened, the round's labels, unlabeled images and seeds are read as the
engine reads them (run/engine.Runner.fit_call), and nothing is written.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/refit.py projects/far-grey-shapes margin-s0:3 \
        --start warm fresh
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui.learn.train import predict_proba  # noqa: E402
from gltui.project import Project  # noqa: E402
from gltui.run.engine import Runner, RunOptions  # noqa: E402


def refit(project: Project, run: str, round: int, start: str, top: int) -> dict:
    runner = Runner(project, run, RunOptions(device="cpu"))
    call = runner.fit_call(round)  # what the engine's train phase runs, warm start included
    if start == "fresh":
        call = dataclasses.replace(call, init=None)
    started = time.time()
    model = call.run(runner.pixels, runner.device, None).model
    test, truth = project.store.split_labels("test")
    guess = predict_proba(model, project.pixels[test]).argmax(1)
    wrong = guess != truth
    return {"run": run, "round": round, "labels": len(call.train_ids), "start": start,
            "warm_start_used": call.init is not None,
            "test_accuracy": float(f"{1 - wrong.mean():.4f}"),
            "top_test_errors": Counter(zip(truth[wrong].tolist(), guess[wrong].tolist()))
            .most_common(top), "seconds": round_(time.time() - started)}


def round_(x: float) -> float:
    return float(f"{x:.1f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("project", type=Path)
    p.add_argument("rounds", nargs="+", metavar="RUN:ROUND")
    p.add_argument("--start", nargs="+", choices=("warm", "fresh"), default=["warm", "fresh"])
    p.add_argument("--top", type=int, default=4, help="test error pairs to list")
    args = p.parse_args(argv)
    with Project.open(args.project) as project:
        for spec in args.rounds:
            run, _, r = spec.rpartition(":")
            for start in args.start:
                print(refit(project, run, int(r), start, args.top), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
