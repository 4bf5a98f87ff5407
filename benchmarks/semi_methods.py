"""Semi-supervised training methods for one round, measured: accuracy per label budget and seed,
wall time, calibration; and warm-started sequences of rounds.

Every figure of docs/results/semi_methods.md comes from this script (the exact commands are
there). Labeled sets are seeded random draws from the pool (the first n of one permutation per
seed, so 40 labels are a subset of 80); everything else in the pool is the unlabeled set.

    # dev split (choose settings): pool = the first 50,000 training images, judged on the last
    # 10,000
    .venv/bin/python benchmarks/semi_methods.py --split dev --labels 40,80 --seeds 0,1 \\
        --method fixmatch,supervised --out /tmp/semi/dev.jsonl
    # the official test set, once, with the chosen settings
    .venv/bin/python benchmarks/semi_methods.py --split test --labels 40,80,160 --seeds 0,1,2 \\
        --method fixmatch,supervised --calibration --json
    # a sequence of warm-started rounds 20 -> 40 -> 80 -> 160
    .venv/bin/python benchmarks/semi_methods.py --split test --rounds 20,40,80,160 --warm ...

`--set key=value` overrides any SemiConfig field (repeatable); `--profile` picks the base
(bench | person). One torch thread by default (--threads 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

# before torch is imported (--threads sets torch's own)
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gltui import data  # noqa: E402
from gltui.learn import calibrate  # noqa: E402
from gltui.learn.augment import make_augment  # noqa: E402
from gltui.learn.seeding import derive_seed  # noqa: E402
from gltui.learn.semi import SemiConfig, semi_config  # noqa: E402
from gltui.learn.semi.train import fit_semi  # noqa: E402
from gltui.learn.train import evaluate  # noqa: E402

SHARED_MNIST = REPO_ROOT.parent / "shared" / "datasets" / "mnist"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=f"idx:{SHARED_MNIST}",
                   help="dataset spec (default: the shared MNIST)")
    p.add_argument("--split", choices=["dev", "test"], default="dev",
                   help="dev: pool = train minus its last --dev images, judged on those; "
                        "test: pool = train, judged on test")
    p.add_argument("--dev", type=int, default=10000,
                   help="images at the end of train held out as the dev set")
    p.add_argument("--labels", default="40,80,160", help="label budgets, comma-separated")
    p.add_argument("--seeds", default="0,1,2", help="seeds, comma-separated")
    p.add_argument("--method", default="fixmatch,supervised",
                   help="algorithms (learn/semi ALGORITHMS), comma-separated")
    p.add_argument("--profile", default="bench", help="SemiConfig profile: bench | person")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a SemiConfig field")
    p.add_argument("--epochs", type=int, default=0, help="shortcut for --set epochs=N")
    p.add_argument("--unlabeled", type=int, default=0,
                   help="cap the unlabeled set at a seeded random N (0 = all)")
    p.add_argument("--pool", type=int, default=0,
                   help="cap the whole pool (labeled + unlabeled) at its first N images")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="cancel each fit after this many minutes (not reproducible)")
    p.add_argument("--curve-every", type=int, default=0,
                   help="judge the EMA model every N epochs (on --curve-n images)")
    p.add_argument("--curve-n", type=int, default=2000)
    p.add_argument("--calibration", action="store_true",
                   help="calibration of each model: raw, k views, temperature")
    p.add_argument("--views", type=int, default=8, help="k for the averaged-views calibration")
    p.add_argument("--crossfit", action="store_true",
                   help="also fit a temperature by 2-fold cross-fitting on the labeled set "
                        "(2 extra fits per model)")
    p.add_argument("--rounds", default="",
                   help="a sequence of label budgets trained round after round, e.g. 20,40,80,160")
    p.add_argument("--warm", action="store_true",
                   help="with --rounds: each round starts from the previous round's weights")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--save-models", default="",
                   help="save each returned model's state dict in this folder")
    p.add_argument("--out", default="", help="append one JSON line per run to this file")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace, method: str) -> SemiConfig:
    cfg = semi_config(args.profile, algorithm=method)
    fields = {f.name: f for f in dataclasses.fields(SemiConfig)}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {item}: SemiConfig has no field {key!r}")
        current = getattr(cfg, key)
        if isinstance(current, bool):
            parsed = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(current, int):
            parsed = int(value)
        elif isinstance(current, float):
            parsed = float(value)
        else:
            parsed = value
        cfg = cfg.replace(**{key: parsed})
    if args.epochs:
        cfg = cfg.replace(epochs=args.epochs)
    return cfg


def load(args):
    ds = data.load(args.data)
    x, y = np.asarray(ds.train.images), np.asarray(ds.train.labels).astype(np.int64)
    if args.split == "dev":
        pool_x, pool_y = x[:-args.dev], y[:-args.dev]
        eval_x, eval_y = x[-args.dev:], y[-args.dev:]
    else:
        pool_x, pool_y = x, y
        eval_x, eval_y = np.asarray(ds.test.images), np.asarray(ds.test.labels).astype(np.int64)
    if args.pool:
        pool_x, pool_y = pool_x[:args.pool], pool_y[:args.pool]
    return pool_x, pool_y, eval_x, eval_y, len(ds.classes)


def draw(pool_n: int, seed: int, n_labels: int, cap_unlabeled: int):
    """Labeled rows: the first n_labels of the seed's permutation of the pool; unlabeled: the rest
    (a seeded random subset of cap_unlabeled of them, if given)."""
    order = np.random.default_rng(derive_seed(seed, "semi-labels")).permutation(pool_n)
    labeled, rest = order[:n_labels], np.sort(order[n_labels:])
    if cap_unlabeled and cap_unlabeled < len(rest):
        pick = (np.random.default_rng(derive_seed(seed, "semi-unlabeled"))
                .permutation(len(rest))[:cap_unlabeled])
        rest = np.sort(rest[pick])
    return np.sort(labeled), rest


def calibration_of(model, cfg: SemiConfig, eval_x, eval_y, args, seed: int, labeled=None,
                   refit=None) -> dict:
    t = time.perf_counter()
    logits = calibrate.predict_logits(model, eval_x)
    out = {"raw": calibrate.calibration(logits.softmax(1), eval_y)}
    out["raw"]["seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    weak = make_augment(cfg.weak, eval_x.shape[1])
    probs = calibrate.predict_views(model, eval_x, weak, args.views, derive_seed(seed, "views"))
    out[f"views{args.views}"] = {**calibrate.calibration(probs, eval_y),
                                 "seconds": time.perf_counter() - t}
    if refit is not None:
        # 2-fold cross-fitting on the labeled set: two fits on half the labels each (same unlabeled
        # images), each judged on the other half; one temperature from the pooled held-out logits.
        t = time.perf_counter()
        lx, ly = labeled
        halves = np.random.default_rng(derive_seed(seed, "crossfit")).permutation(len(ly))
        folds = [np.sort(halves[: len(ly) // 2]), np.sort(halves[len(ly) // 2:])]
        held_logits, held_y = [], []
        for i, fold in enumerate(folds):
            other = folds[1 - i]
            m = refit(lx[fold], ly[fold], derive_seed(seed, "crossfit", i))
            held_logits.append(calibrate.predict_logits(m, lx[other]))
            held_y.append(ly[other])
        temp = calibrate.fit_temperature(torch.cat(held_logits), np.concatenate(held_y))
        out["crossfit_ts"] = {**calibrate.calibration(calibrate.apply_temperature(logits, temp),
                                                      eval_y),
                              "temperature": temp, "seconds": time.perf_counter() - t}
    # The oracle: a temperature fitted on the judged images themselves (a bound, not a method).
    temp = calibrate.fit_temperature(logits, eval_y)
    out["oracle_ts"] = {**calibrate.calibration(calibrate.apply_temperature(logits, temp), eval_y),
                        "temperature": temp}
    return out


def run_one(method, cfg, lx, ly, ux, eval_x, eval_y, classes, seed, args, fit_seed, init=None):
    curve, cb_seconds = [], [0.0]
    started = time.perf_counter()
    if cfg.epochs == 0:
        raise SystemExit("epochs must be > 0")

    def on_epoch(report, make_checkpoint):
        t = time.perf_counter()
        if args.curve_every and (report.epoch % args.curve_every == 0
                                 or report.epoch == report.max_epochs):
            from gltui.learn.models import build_model
            from gltui.learn.semi.train import net_options
            ck = make_checkpoint()
            m = build_model(ck["model_name"], lx.shape[1], lx.shape[2:], classes,
                            **net_options(ck["model_name"], cfg))
            m.load_state_dict(ck["ema"] if cfg.eval_ema else ck["model"])
            acc = evaluate(m, eval_x[:args.curve_n], eval_y[:args.curve_n])
            curve.append({"epoch": report.epoch,
                          "seconds": round(time.perf_counter() - started - cb_seconds[0], 1),
                          "accuracy": acc, "mask_rate": round(report.mask_rate, 3),
                          "sup_loss": round(report.sup_loss, 4),
                          "unsup_loss": round(report.unsup_loss, 4)})
            print(f"    epoch {report.epoch:3d}  {curve[-1]['seconds']:6.1f}s  acc {acc:.4f}  "
                  f"mask {report.mask_rate:.3f}  sup {report.sup_loss:.3f}  "
                  f"unsup {report.unsup_loss:.3f}", flush=True)
        cb_seconds[0] += time.perf_counter() - t
        if args.minutes and time.perf_counter() - started - cb_seconds[0] > args.minutes * 60:
            return False
        return True

    result = fit_semi(cfg.model, lx, ly, ux, lx[:0], ly[:0], classes, cfg, seed=fit_seed,
                      on_epoch=on_epoch, init=init)
    seconds = result.seconds - cb_seconds[0]
    acc = evaluate(result.model, eval_x, eval_y)
    pred = calibrate.predict_logits(result.model, eval_x).argmax(1).numpy()
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (eval_y, pred), 1)
    return result, {"accuracy": acc, "confusion": confusion.tolist(), "seconds": round(seconds, 1),
                    "epochs": result.epochs, "stopped": result.stopped,
                    "curve": curve}


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    pool_x, pool_y, eval_x, eval_y, classes = load(args)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    methods = [m for m in args.method.split(",") if m]
    records = []

    def record(rec: dict) -> None:
        records.append(rec)
        print(f"{rec['method']:>12} labels {rec['labels']:4d} seed {rec['seed']}: "
              f"{100 * rec['accuracy']:.2f} % "
              f"in {rec['seconds']:.0f} s ({rec['epochs']} epochs)"
              + (f"  ece {rec['calibration']['raw']['ece']:.4f}" if "calibration" in rec else ""),
              flush=True)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")

    for method in methods:
        cfg = config_from(args, method)
        for seed in seeds:
            if args.rounds:
                budgets = [int(b) for b in args.rounds.split(",")]
                previous = None
                for r, n_labels in enumerate(budgets):
                    labeled, rest = draw(len(pool_x), seed, n_labels, args.unlabeled)
                    init = previous.state_dict() if (args.warm and previous is not None) else None
                    result, rec = run_one(method, cfg, pool_x[labeled], pool_y[labeled],
                                          pool_x[rest], eval_x, eval_y, classes, seed, args,
                                          derive_seed(seed, "fit", n_labels), init=init)
                    previous = result.model
                    rec.update(method=method, labels=n_labels, seed=seed, split=args.split,
                               data=args.data, round=r, warm=bool(args.warm and r > 0),
                               config=cfg.to_dict(), threads=args.threads)
                    if args.calibration:
                        rec["calibration"] = calibration_of(result.model, cfg, eval_x, eval_y,
                                                            args, seed)
                    record(rec)
                continue
            for n_labels in [int(b) for b in args.labels.split(",") if b]:
                labeled, rest = draw(len(pool_x), seed, n_labels, args.unlabeled)
                lx, ly, ux = pool_x[labeled], pool_y[labeled], pool_x[rest]
                fit_seed = derive_seed(seed, "fit", n_labels)
                result, rec = run_one(method, cfg, lx, ly, ux, eval_x, eval_y, classes, seed,
                                      args, fit_seed)
                if args.save_models:
                    Path(args.save_models).mkdir(parents=True, exist_ok=True)
                    torch.save(result.model.state_dict(),
                               Path(args.save_models) / f"{method}-{n_labels}-s{seed}.pt")
                rec.update(method=method, labels=n_labels, seed=seed, split=args.split,
                           data=args.data, config=cfg.to_dict(), threads=args.threads,
                           n_unlabeled=len(rest),
                           label_counts=np.bincount(ly, minlength=classes).tolist())
                if args.calibration:
                    refit = None
                    if args.crossfit:
                        def refit(fx, fy, fseed):
                            return fit_semi(cfg.model, fx, fy, ux, fx[:0], fy[:0], classes, cfg,
                                            seed=fseed).model
                    rec["calibration"] = calibration_of(result.model, cfg, eval_x, eval_y, args,
                                                        seed, labeled=(lx, ly), refit=refit)
                record(rec)

    summary = {}
    for rec in records:
        key = f"{rec['method']}@{rec['labels']}" + (f"/r{rec['round']}" if "round" in rec else "")
        summary.setdefault(key, []).append(rec)
    table = {}
    print("\naccuracy (%) per method and labels: mean ± std [per seed], mean seconds")
    for key, recs in summary.items():
        accs = [100 * r["accuracy"] for r in recs]
        table[key] = {"mean": statistics.mean(accs),
                      "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                      "per_seed": accs, "seconds": statistics.mean(r["seconds"] for r in recs)}
        print(f"  {key:>22}: {table[key]['mean']:.2f} ± {table[key]['std']:.2f}  "
              f"[{', '.join(f'{a:.2f}' for a in accs)}]  {table[key]['seconds']:.0f} s")
    result = {"records": records, "summary": table, "environment": {
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count()}}
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
