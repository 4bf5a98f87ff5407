"""What a round's model gets wrong, and what the queue it chose held: the reading behind
docs/results/mnist-semi.md's "far share" section.

For each RUN and ROUND of a finished oracle project: the round model's test accuracy, its most
common test and pool errors (true -> guessed, counts; the pool's truth is the oracle's), and, for
the queue that round chose (the labels of round ROUND + 1), the images the model guessed wrong,
as (true, guessed) pairs. A model sure of a wrong class for a whole style of images shows as one
large pair in the first lists; whether the queue reached that style shows in the last.

    .venv/bin/python benchmarks/confusions.py projects/far-mnist margin-s1:1 margin-s1:2
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from gltui.learn.train import predict_proba  # noqa: E402
from gltui.outputs import roundmodel  # noqa: E402
from gltui.project import Project  # noqa: E402


def read(project: Project, run: str, round: int, top: int) -> dict:
    model = roundmodel.load_round(project, run, round, torch.device("cpu"))
    items, truth = project.store.split_labels("test")
    guess = predict_proba(model, project.pixels[items]).argmax(1)
    wrong = guess != truth
    pool, pool_truth = project.store.split_labels("pool")
    pool_guess = predict_proba(model, project.pixels[pool]).argmax(1)
    pool_wrong = pool_guess != pool_truth
    queue = [d.item for d in project.store.labeled_detail(run) if d.round == round + 1]
    q_truth = project.store.true_labels(queue)
    q_guess = predict_proba(model, project.pixels[queue]).argmax(1) if queue else q_truth
    return {
        "run": run, "round": round, "test_accuracy": round_(1 - wrong.mean()),
        "test_errors": int(wrong.sum()),
        "top_test_errors": Counter(zip(truth[wrong].tolist(), guess[wrong].tolist()))
        .most_common(top),
        "top_pool_errors": Counter(zip(pool_truth[pool_wrong].tolist(),
                                       pool_guess[pool_wrong].tolist())).most_common(top),
        "next_queue": len(queue),
        "next_queue_wrong": Counter((int(t), int(g)) for t, g in zip(q_truth, q_guess)
                                    if t != g).most_common(),
    }


def round_(x: float) -> float:
    return float(f"{x:.4f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("project", type=Path)
    p.add_argument("rounds", nargs="+", metavar="RUN:ROUND")
    p.add_argument("--top", type=int, default=6, help="test error pairs to list")
    args = p.parse_args(argv)
    with Project.open(args.project) as project:
        for spec in args.rounds:
            run, _, r = spec.rpartition(":")
            print(read(project, run, int(r), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
