"""Views of the unlabeled pool as a label-free error estimate (an experiment, not shipped).

The shipped views temperature is fitted on augmented copies of the labeled images, which a model
still gets right. The pool's images were never labeled: how often does a round model keep its
own prediction on an image under k augmented views of it? For every finished round of RUN this
script takes that agreement on 2,000 pool images (the round's own unlabeled images) as the
model's accuracy, raises T (never below the stored one, nor 1) until the mean top-class
probability on those images equals it, and reports the test split's ECE (15 bins) with that T
against the shipped one:

  weak / strong   the run's own (weak) augmentation, or learn/semi's strong one
  hard / soft     the share of views whose class is the clean prediction, or the mean
                  probability the views give that class

Read only: nothing is trained or written.

    .venv/bin/python benchmarks/pool_views.py PROJECT [--run main] [--views 8] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from second_fit import POOL, matched_temperature  # noqa: E402

from gltui.learn import calibrate  # noqa: E402
from gltui.learn.augment import make_augment  # noqa: E402
from gltui.learn.device import as_uint8_tensor, make_generator, to_float  # noqa: E402
from gltui.learn.semi.strong import make_strong  # noqa: E402
from gltui.outputs import roundmodel  # noqa: E402
from gltui.project import Project  # noqa: E402
from gltui.run.engine import Runner  # noqa: E402


@torch.no_grad()
def agreement(model, x: np.ndarray, clean: torch.Tensor, augment,
              views: int) -> tuple[float, float]:
    """(hard, soft): how often `views` draws of `augment` keep the clean class, and the mean
    probability they give it."""
    g = make_generator(torch.device("cpu"), 0)
    xb = to_float(as_uint8_tensor(x, torch.device("cpu")))
    hard = soft = 0.0
    for _ in range(views):
        p = model(augment(xb, g)).float().softmax(1)
        hard += (p.argmax(1) == clean).double().mean().item() / views
        soft += p.gather(1, clean[:, None]).double().mean().item() / views
    return hard, soft


def rows_of(project: Project, run: str, views: int) -> list[dict]:
    runner = Runner(project, run)
    test_ids, test_y = project.store.split_labels("test")
    x_test = np.asarray(project.pixels[test_ids])
    rows = []
    for r in project.store.rounds(run):
        if r.finished_at is None:
            continue
        call = runner.fit_call(r.round)
        t0 = roundmodel.temperature(project, run, r.round)
        model = roundmodel.load_round(project, run, r.round, runner.device).eval()
        pool = np.sort(np.asarray(call.unlabeled_ids))
        x = np.asarray(project.pixels[pool[np.sort(np.random.default_rng(0).permutation(
            len(pool))[:POOL])]])
        z_pool, z_test = calibrate.predict_logits(model, x), calibrate.predict_logits(model, x_test)
        shipped = calibrate.calibration(calibrate.apply_temperature(z_test, t0), test_y)
        row = {"round": r.round, "labels": int(r.n_labeled), "accuracy": shipped["accuracy"],
               "temperature": t0, "ece_shipped": shipped["ece"]}
        for name, augment in (("weak", make_augment(runner.config.train.augment, x.shape[1])),
                              ("strong", make_strong("auto"))):
            for kind, target in zip(("hard", "soft"),
                                    agreement(model, x, z_pool.argmax(1), augment, views)):
                t = matched_temperature(z_pool, target, max(1.0, t0))
                row[f"{name}_{kind}"] = {"agreement": target, "temperature": t, "ece": calibrate
                                         .calibration(calibrate.apply_temperature(z_test, t),
                                                      test_y)["ece"]}
        rows.append(row)
        print(f"round {r.round} ({r.n_labeled} labels): acc {row['accuracy']:.3f}, ECE shipped "
              f"{row['ece_shipped']:.4f}; " + "; ".join(
                  f"{k} {row[k]['agreement']:.3f} -> T {row[k]['temperature']:.2f}, ECE "
                  f"{row[k]['ece']:.4f}" for k in ("weak_soft", "strong_hard", "strong_soft")),
              flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("project", type=Path)
    p.add_argument("--run", default="main")
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    with Project.open(args.project) as project:
        rows = rows_of(project, args.run, args.views)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
