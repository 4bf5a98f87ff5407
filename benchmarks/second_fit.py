"""A second fit as a label-free error estimate for calibration (an experiment, not shipped).

Two fits of one recipe that differ only in their seed disagree on about as many images as one
of them gets wrong (Jiang et al. 2022, "Assessing generalization of SGD via disagreement"). For
each finished round of RUN with at most --max-labels labels, this script trains the round's fit
again (run/engine.Runner.fit_call: the same labels, unlabeled images and warm start; the call's
key must equal the stored fit_key) with another seed, and reports on the project's test split
(read only to report):

  shipped    the round model with the temperature it stored (what a person sees today)
  matched    T >= the stored one, raised until the mean top-class probability on 2,000 pool
             images is the share of them the two fits agree on
  ensemble   the mean of the two fits' softmax (two models to ship)

each as accuracy and ECE (15 bins) with a 95 % bootstrap interval, and the disagreement.

    .venv/bin/python benchmarks/second_fit.py PROJECT [--run main] [--max-labels 64] [--draws 1]
        [--json OUT]

--draws N repeats each round's second fit with N seeds (draw 0 is the seed of the table in
docs/results/calibration.md), to show how much one draw's estimate varies.

--members M --epoch-scale F instead trains M fits of the round's call, each with its semi
epochs (and warm epochs) times F and its own seed, and reports their ensemble (the mean of the
M softmaxes) against the shipped model: several cheaper fits for about the cost of one (M = 2,
F = 0.5).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from calibration import bootstrap_ece  # noqa: E402

from gltui.learn import calibrate  # noqa: E402
from gltui.learn.seeding import derive_seed  # noqa: E402
from gltui.outputs import roundmodel  # noqa: E402
from gltui.project import Project  # noqa: E402
from gltui.run.engine import Runner  # noqa: E402

POOL = 2000


def matched_temperature(logits: torch.Tensor, target: float, floor: float) -> float:
    """The T >= floor at which the mean top-class probability of softmax(logits / T) is `target`
    (bisection on log T; `floor` where it is already at most `target`)."""
    z = torch.as_tensor(logits).double()

    def mean_top(t: float) -> float:
        return (z / t).softmax(1).max(1).values.mean().item()

    if mean_top(floor) <= target:
        return floor
    a, b = math.log(floor), math.log(100.0)
    for _ in range(50):
        mid = (a + b) / 2
        a, b = (mid, b) if mean_top(math.exp(mid)) > target else (a, mid)
    return math.exp((a + b) / 2)


def stats(probs: np.ndarray, y: np.ndarray) -> dict:
    s = calibrate.calibration(probs, y)
    return {"accuracy": s["accuracy"], "ece": s["ece"], "ece_interval": bootstrap_ece(probs, y),
            "acc_at_90": s["acc_at_90"], "share_at_90": s["share_at_90"]}


def measure(project, runner, call, model, saved, r, draw: int, x_test, test_y) -> dict:
    """One second fit of round `r` (seed drawn from `draw`) and what it gives."""
    started = time.perf_counter()
    parts = ("second fit",) if draw == 0 else ("second fit", draw)
    second = dataclasses.replace(call, seed=derive_seed(call.seed, *parts))
    other = second.run(project.pixels, runner.device, None).model
    seconds = time.perf_counter() - started
    pool = np.asarray(call.unlabeled_ids)
    pick = np.sort(np.random.default_rng(0).permutation(len(pool))[:POOL])
    x_pool = np.asarray(project.pixels[pool[pick]])
    z_pool = calibrate.predict_logits(model, x_pool)
    apart = float((z_pool.argmax(1) != calibrate.predict_logits(other, x_pool)
                   .argmax(1)).double().mean())
    t = float(saved.get("temperature", 1.0))
    t_matched = matched_temperature(z_pool, 1.0 - apart, t)
    z, z2 = calibrate.predict_logits(model, x_test), calibrate.predict_logits(other, x_test)
    shipped = calibrate.apply_temperature(z, t).numpy()
    row = {"round": r.round, "labels": int(r.n_labeled), "draw": draw, "second_fit_s": seconds,
           "disagreement": apart, "temperature": t, "matched_temperature": t_matched,
           "shipped": stats(shipped, test_y),
           "matched": stats(calibrate.apply_temperature(z, t_matched).numpy(), test_y),
           "ensemble": stats((shipped + calibrate.apply_temperature(z2, t).numpy()) / 2, test_y)}
    print(f"round {r.round} ({r.n_labeled} labels), draw {draw}: disagreement {apart:.3f}, "
          f"second fit {seconds:.0f} s; " + "; ".join(
              f"{k} acc {row[k]['accuracy']:.3f} ece {row[k]['ece']:.4f} "
              f"({row[k]['ece_interval'][0]:.3f}-{row[k]['ece_interval'][1]:.3f})"
              for k in ("shipped", "matched", "ensemble"))
          + f"; T {t:.2f} -> {t_matched:.2f}", flush=True)
    return row


def cheap_ensemble(project, runner, call, saved, r, members: int, scale: float, x_test,
                   test_y) -> dict:
    """M fits of round `r`'s call with epochs times `scale`, and the mean of their softmax."""
    semi = call.semi.replace(epochs=max(1, round(call.semi.epochs * scale)),
                             warm_epochs=max(1, round(call.semi.warm_epochs * scale)))
    started = time.perf_counter()
    probs = []
    for m in range(members):
        fit = dataclasses.replace(call, semi=semi,
                                  seed=derive_seed(call.seed, "cheap fit", members, str(scale), m))
        probs.append(calibrate.predict_logits(fit.run(project.pixels, runner.device, None).model,
                                              x_test).softmax(1).numpy())
    seconds = time.perf_counter() - started
    t = float(saved.get("temperature", 1.0))
    model = roundmodel.load_round(project, runner.run, r.round, runner.device)
    shipped = calibrate.apply_temperature(calibrate.predict_logits(model, x_test), t).numpy()
    row = {"round": r.round, "labels": int(r.n_labeled), "members": members, "epoch_scale": scale,
           "fits_s": seconds, "shipped": stats(shipped, test_y),
           "single": stats(probs[0], test_y), "ensemble": stats(np.mean(probs, 0), test_y)}
    print(f"round {r.round} ({r.n_labeled} labels), {members} fits x {scale} epochs: "
          f"{seconds:.0f} s; " + "; ".join(
              f"{k} acc {row[k]['accuracy']:.3f} ece {row[k]['ece']:.4f} "
              f"({row[k]['ece_interval'][0]:.3f}-{row[k]['ece_interval'][1]:.3f}) "
              f"acc>=.9 {row[k]['acc_at_90']:.3f}" for k in ("shipped", "single", "ensemble")),
          flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("--run", default="main")
    parser.add_argument("--max-labels", type=int, default=64)
    parser.add_argument("--draws", type=int, default=1)
    parser.add_argument("--members", type=int, default=0,
                        help="train this many cheaper fits and report their ensemble instead")
    parser.add_argument("--epoch-scale", type=float, default=0.5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = []
    with Project.open(args.project) as project:
        runner = Runner(project, args.run)
        test_ids, test_y = project.store.split_labels("test")
        x_test = np.asarray(project.pixels[test_ids])
        for r in project.store.rounds(args.run):
            if r.finished_at is None or r.n_labeled > args.max_labels:
                continue
            saved = roundmodel.read_round(project, args.run, r.round)
            call = runner.fit_call(r.round)
            assert call.key(runner.device) == saved["fit_key"], "not the round's own fit"
            if args.members:
                rows.append(cheap_ensemble(project, runner, call, saved, r, args.members,
                                           args.epoch_scale, x_test, test_y))
                continue
            model = roundmodel.load_round(project, args.run, r.round, runner.device)
            for draw in range(args.draws):
                rows.append(measure(project, runner, call, model, saved, r, draw, x_test, test_y))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
