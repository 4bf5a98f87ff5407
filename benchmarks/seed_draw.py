"""How to draw a person's seed set: random, or a diversity draw (k-centre on downsampled pixels)?

The seed set is the first thing a person labels, before any model exists. This measures, in
oracle mode on the bundled sample digits, what each draw gives round 0: the test accuracy of the
model trained on the seed set alone (the sample project's recipe, as a person's project trains:
no validation split, 12 epochs of at least 8 steps on the seed labels, the last weights kept) and
how many of the 10 classes the seed set covers. Several seeds, the same pool for both draws.

  random    what gltui does: `initial` images drawn uniformly from the pool
  kcenter   greedy farthest-first traversal (k-centre) on 7x7 mean-pooled pixels, started at a
            random image: each next image is the pool image farthest from those already chosen

    python benchmarks/seed_draw.py --json                  # 8 seeds, 20 images

With --project P (an oracle project: every pool image has its label) the draws come from P's
pool (less its stop set), and each seed set trains P's round 0 as its run trains it
(run/engine.Runner.fit_call: semi-supervised when the run is, with the round's own unlabeled
images, the seed set swapped in) instead of the labels-only recipe above; --draws adds

  far       learn/select.select_seed: the far share's draw (select_far, after TypiClust and
            coreset) with nothing labeled yet, on the images' edge-orientation histograms
            (edge_histograms; until 2026-12-08 04:45 UTC on 14x14 mean-pooled pixels): the
            typical image of each of 2 x `initial` k-means regions of the pool, outliers left
            out, then greedy k-centre over those

    python benchmarks/seed_draw.py --project /tmp/person --draws random,far --seeds 6 --json

With --cover SPEC nothing is trained: it counts the classes the random and far draws hold.

    python benchmarks/seed_draw.py --cover idx:../shared/datasets/mnist --seeds 20

The test split is only read to report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui import data  # noqa: E402
from gltui.learn import train as training  # noqa: E402
from gltui.learn.seeding import derive_seed  # noqa: E402
from gltui.learn.select import select_seed  # noqa: E402
from gltui.project import Project  # noqa: E402
from gltui.run import roundwork  # noqa: E402
from gltui.run.engine import Runner  # noqa: E402
from gltui.run.sample import SAMPLE_SPEC_DIR, sample_config  # noqa: E402


def kcenter(features: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy farthest-first traversal: n row indices of `features` (float32, N x D)."""
    chosen = [int(rng.integers(len(features)))]
    dist = ((features - features[chosen[0]]) ** 2).sum(1)
    for _ in range(n - 1):
        nxt = int(dist.argmax())
        chosen.append(nxt)
        dist = np.minimum(dist, ((features - features[nxt]) ** 2).sum(1))
    return np.asarray(chosen)


def pooled7(images: np.ndarray) -> np.ndarray:
    """(N, 49) 7x7 mean-pooled 28x28 grey images in 0..1: k-centre's features."""
    n = len(images)
    return images.astype(np.float32).reshape(n, 1, 7, 4, 7, 4).mean((1, 3, 5)).reshape(n, -1) / 255


DRAWS = {"random": lambda f, n, rng: rng.choice(len(f), size=n, replace=False),
         "kcenter": kcenter}


def in_project(path: Path, draws: list[str], seeds: int, initial: int) -> dict:
    """Each draw's seed sets, each training the project's round 0 as its run would."""
    results: dict[str, list[dict]] = {name: [] for name in draws}
    with Project.open(path) as project:
        runner = Runner(project, "main")
        base = runner.fit_call(0)
        pool, truth = project.store.split_items("pool")
        stop = project.store.sample_set("stop")
        keep = truth >= 0
        if stop is not None:
            keep &= ~np.isin(pool, stop)
        pool = pool[keep]
        x = np.asarray(project.pixels[pool])
        features = {"kcenter": pooled7(x), "random": x[:, :1, 0, 0]}
        test_ids, test_y = project.store.split_labels("test")
        x_test = np.asarray(project.pixels[test_ids])
        for seed in range(seeds):
            for name in draws:
                rng = np.random.default_rng(derive_seed(seed, "seed-set"))
                if name == "far":  # what a run draws: learn/select.select_seed
                    ids = select_seed(project.pixels, pool, initial, rng)
                else:
                    ids = np.sort(pool[DRAWS[name](features[name], initial, rng)])
                y = project.store.true_labels(ids)
                unlabeled = roundwork.unlabeled_for_round(
                    project.store, ids, stop, runner.config.semi.max_unlabeled,
                    derive_seed(seed, 0, "unlabeled")) if base.semi is not None else None
                call = dataclasses.replace(base, train_ids=ids, train_y=y, init=None,
                                           unlabeled_ids=unlabeled,
                                           seed=derive_seed(seed, 0, "train"))
                started = time.time()
                model = call.run(project.pixels, runner.device, None).model
                acc = float((training.predict_proba(model, x_test).argmax(1) == test_y).mean())
                results[name].append({"seed": seed, "test_accuracy": round(acc, 4),
                                      "classes": int(len(set(y.tolist()))),
                                      "seconds": round(time.time() - started, 1)})
                print(f"seed {seed} {name}: test {acc:.4f}, {results[name][-1]['classes']} "
                      f"classes, {results[name][-1]['seconds']} s", file=sys.stderr, flush=True)
    return results


def cover(spec: str, seeds: int, initial: int) -> int:
    """Classes held by seed sets of `initial` drawn at random and far from SPEC's training
    split (its labels read only to count), one line per draw."""
    ds = data.load(spec)
    x, y = ds.train.images, ds.train.labels
    ids = np.arange(len(x), dtype=np.int64)
    held: dict[str, list[int]] = {"random": [], "far": []}
    for seed in range(seeds):
        rng = np.random.default_rng(derive_seed(seed, "seed-set"))
        held["random"].append(len(set(y[rng.choice(ids, initial, replace=False)].tolist())))
        rng = np.random.default_rng(derive_seed(seed, "seed-set"))
        held["far"].append(len(set(y[select_seed(x, ids, initial, rng)].tolist())))
    for name, counts in held.items():
        print(f"{spec}: {name}, {initial} images of {len(x):,}: {np.mean(counts):.2f} of "
              f"{len(ds.classes)} classes on average, {min(counts)}-{max(counts)} "
              f"({' '.join(map(str, counts))})")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--initial", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument("--project", type=Path, help="draw from this oracle project's pool and train "
                   "its round 0 (semi-supervised when its run is)")
    p.add_argument("--draws", default="random,kcenter", help=f"of {', '.join(DRAWS)}, far")
    p.add_argument("--cover", metavar="SPEC", help="train nothing: how many classes the random "
                   "and far draws of --seeds seed sets hold in SPEC's training split")
    args = p.parse_args()
    if args.cover is not None:
        return cover(args.cover, args.seeds, args.initial)
    if args.project is not None:
        started = time.time()
        results = in_project(args.project, args.draws.split(","), args.seeds, args.initial)
        return report(results, args, started)
    ds = data.load(f"folder:{SAMPLE_SPEC_DIR}")
    x, y = ds.train.images, ds.train.labels
    tx, ty = ds.test.images, ds.test.labels
    pool = np.arange(len(x))
    features = pooled7(x[pool])
    cfg = sample_config().train
    started = time.time()
    asked = args.draws.split(",")
    results: dict[str, list[dict]] = {name: [] for name in asked}
    for seed in range(args.seeds):
        rng = np.random.default_rng(derive_seed(seed, "seed-set"))
        draws = {"random": pool[rng.choice(len(pool), size=args.initial, replace=False)],
                 "kcenter": pool[kcenter(features, args.initial, rng)],  # rng as in issue 13
                 "far": select_seed(x, pool, args.initial,
                                    np.random.default_rng(derive_seed(seed, "seed-set")))}
        for name, ids in ((name, draws[name]) for name in asked):
            fit = training.fit("mnist", x[ids], y[ids], x[:0], y[:0], 10, cfg,  # no validation
                               seed=derive_seed(seed, 0, "train"), device="cpu")
            acc = training.evaluate(fit.model, tx, ty, "cpu")
            results[name].append({"seed": seed, "test_accuracy": round(acc, 4),
                                  "classes": int(len(set(y[ids].tolist())))})
            print(f"seed {seed} {name}: test {acc:.4f}, {results[name][-1]['classes']} classes",
                  file=sys.stderr)
    return report(results, args, started)


def report(results: dict[str, list[dict]], args, started: float) -> int:
    summary = {name: {"mean_test_accuracy": round(float(np.mean([r["test_accuracy"]
                                                                 for r in rs])), 4),
                      "std": round(float(np.std([r["test_accuracy"] for r in rs], ddof=1)), 4),
                      "mean_classes": round(float(np.mean([r["classes"] for r in rs])), 2)}
               for name, rs in results.items()}
    out = {"machine": platform.machine(), "command": "python benchmarks/seed_draw.py "
           + " ".join(sys.argv[1:]), "initial": args.initial,
           "seconds": round(time.time() - started, 1),
           "summary": summary, "per_seed": results}
    print(json.dumps(out, indent=1) if args.json else json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
