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

The test split is only read to report.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--initial", type=int, default=20)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    ds = data.load(f"folder:{SAMPLE_SPEC_DIR}")
    x, y = ds.train.images, ds.train.labels
    tx, ty = ds.test.images, ds.test.labels
    pool = np.arange(len(x))
    pooled = x[pool].astype(np.float32).reshape(len(pool), 1, 7, 4, 7, 4).mean((1, 3, 5))
    features = pooled.reshape(len(pool), -1) / 255.0
    cfg = sample_config().train
    started = time.time()
    results: dict[str, list[dict]] = {"random": [], "kcenter": []}
    for seed in range(args.seeds):
        rng = np.random.default_rng(derive_seed(seed, "seed-set"))
        draws = {"random": pool[rng.choice(len(pool), size=args.initial, replace=False)],
                 "kcenter": pool[kcenter(features, args.initial, rng)]}
        for name, ids in draws.items():
            fit = training.fit("mnist", x[ids], y[ids], x[:0], y[:0], 10, cfg,  # no validation
                               seed=derive_seed(seed, 0, "train"), device="cpu")
            acc = training.evaluate(fit.model, tx, ty, "cpu")
            results[name].append({"seed": seed, "test_accuracy": round(acc, 4),
                                  "classes": int(len(set(y[ids].tolist())))})
            print(f"seed {seed} {name}: test {acc:.4f}, {results[name][-1]['classes']} classes",
                  file=sys.stderr)
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
