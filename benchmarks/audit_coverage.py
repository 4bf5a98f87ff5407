"""Does the audit estimate tell the truth, and where would the kappa rule stop? Oracle runs on
MNIST.

For each seed, one project on the real MNIST (`--preset mnist`, the official 10,000-image test
set) with an audit set of 200 pool images drawn with that seed (`--audit 200 --seed S`: every
seed has its own audit sample), and one oracle run driven to the budget. After every round the
engine predicts the audit set and the stop set with the round model; here we read back, per
round:
  - the audit estimate (accuracy on the 200 audit images, 95% Wilson interval) and whether the
    interval covers the test accuracy (the official 10,000 test images, up to +-0.3 points);
  - and whether it covers the accuracy on the population the audit set is a sample of: the
    pool (the training file minus the validation split), measured here on 5,000 random pool
    images not labeled by that round (POOL_TRUTH; read with torch, for this check only). MNIST's
    official test set is a different draw of writers than its training file, so the two truths
    can differ by more than the test set's own noise;
  - the stop-set kappa against the previous round, and where the stabilizing-predictions rule
    (kappa >= 0.99 for K rounds in a row, K = 1, 2, 3) would have stopped, with the test accuracy
    there and at the end.
Nothing here is tuned on the test set; the audit images are never trained on.

    python benchmarks/audit_coverage.py --seeds 5,6,7 --json  # 3 seeds (23 min run as 3 processes)
    python benchmarks/audit_coverage.py --smoke --json        # 1 minute: the machinery only
    python benchmarks/audit_coverage.py --val-size 1000 --seeds 0,1,2 \
        --work /tmp/gltui-audit-coverage --figures docs/results/audit --json
                              # the first sessions' protocol: a validation split of 1,000 labels
    python benchmarks/audit_coverage.py --schedule fixed:40 --budget 640 \
        --work /tmp/gltui-audit-person --figures /tmp/audit-person --json
                                           # a person's queues of 40 instead of the doubling

The default protocol is a person's: no validation split (`--val-size 0`, every label trained on
with the `quick` profile's fixed schedule), as `gltui init` makes for a folder without labels.
Several processes can drive different seeds at once (`--seeds S` each, same `--work`); the
plain command then finds every run done and only reads. With several seeds the summary adds a
95% interval for the per-round coverage that resamples whole audit sets (a project keeps one
audit set for all its rounds, so the audit set, not the round, is the independent unit).

Figures (--figures DIR, default docs/results/audit/no-val): audit_coverage.png (estimate with its
interval against the test accuracy, per seed) and kappa.png (kappa by labeled count).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui.cli import main as gltui  # noqa: E402
from gltui.project import DB_NAME, Project  # noqa: E402
from gltui.store import finished_rounds  # noqa: E402
from gltui.views.estimates import audit_estimates, stable_stop  # noqa: E402

MNIST = REPO_ROOT.parent / "shared" / "datasets" / "mnist"
WINDOWS = (1, 2, 3)
POOL_TRUTH = 5000  # random pool images the pool accuracy is measured on, per round
RESAMPLES = 2000  # other audit sets drawn (from those POOL_TRUTH images) per round model


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="5,6,7")
    p.add_argument("--strategy", default="rde")
    p.add_argument("--profile", default="quick", help="training profile")
    p.add_argument("--budget", type=int, default=320)
    p.add_argument("--candidates", type=int, default=2000)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--audit", type=int, default=200)
    p.add_argument("--val-size", type=int, default=0,
                   help="validation split (0: a person's project, every label trained on)")
    p.add_argument("--schedule", default="exponential",
                   help="exponential (the paper's doubling) or fixed:N (a person's queues of N)")
    p.add_argument("--smoke", action="store_true", help="tiny profile, budget 80, 1 seed")
    p.add_argument("--work", type=Path, default=Path("/tmp/gltui-audit-v0"),
                   help="folder for the projects (resumable: run again to go on)")
    p.add_argument("--figures", type=Path,
                   default=REPO_ROOT / "docs" / "results" / "audit" / "no-val")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.profile, args.budget, args.seeds = "tiny", 80, "0"
        args.work = args.work / "smoke"  # never mixed with a real protocol's projects or figures
        args.figures = args.work / "figures"
    return args


def drive(args, seed: int) -> Path:
    with contextlib.redirect_stdout(sys.stderr):  # gltui's own lines; stdout is the JSON
        return _drive(args, seed)


def _drive(args, seed: int) -> Path:
    path = args.work / f"seed-{seed}"
    if not (path / DB_NAME).exists():
        code = gltui(["init", str(path), "--data", f"idx:{MNIST}", "--preset", "mnist",
                      "--profile", args.profile, "--val-size", str(args.val_size),
                      "--audit", str(args.audit), "--seed", str(seed),
                      "--strategy", args.strategy, "--schedule", args.schedule])
        assert code == 0, f"init failed ({code})"
    code = gltui(["run", str(path), "--oracle", "--quiet", "--budget", str(args.budget),
                  "--candidates", str(args.candidates), "--k", str(args.k)])
    assert code == 0, f"run failed ({code})"
    return path


def read(path: Path, seed: int, audit: int) -> dict:
    with Project.open(path) as project:
        rounds = finished_rounds(project.store.rounds("main"))
        estimates = audit_estimates(project.store, "main") or {}
        threshold = project.run_config("main").loop.stable_kappa
        pool_truth, resampled = pool_accuracies(project, seed, [r.round for r in rounds],
                                                [r.test_accuracy for r in rounds], audit)
        rows = []
        for r in rounds:
            est = estimates.get(r.round)
            low, high = est.interval
            rows.append({"round": r.round, "labeled": r.n_labeled, "test": r.test_accuracy,
                         "audit": est.accuracy, "low": low, "high": high, "n": est.n,
                         "covered": est.covers(r.test_accuracy), "kappa": r.stop_kappa,
                         "pool": pool_truth[r.round], "resampled": resampled[r.round],
                         "covered_pool": est.covers(pool_truth[r.round])})
        stops = {}
        for k in WINDOWS:
            hit = stable_stop(rounds, k, threshold)
            stops[k] = None if hit is None else {"round": hit.round, "labeled": hit.n_labeled,
                                                 "test": hit.test_accuracy}
        return {"seed": seed, "rounds": rows, "threshold": threshold, "stops": stops,
                "final_test": rounds[-1].test_accuracy,
                "stop_set": int(len(project.store.sample_set("stop")))}


def pool_accuracies(project: Project, seed: int, rounds: list[int], tests: list[float],
                    audit: int) -> tuple[dict[int, float], dict[int, dict]]:
    """Per round, the round model's accuracy on POOL_TRUTH random pool images it was not
    trained on (those labeled by that round are left out): the pool's own accuracy. And, as
    if the project had drawn RESAMPLES other audit sets of `audit` images (from those pool
    images, without replacement), how often their Wilson interval covers the pool accuracy and
    the test accuracy: the coverage over audit draws, which one audit set per seed cannot show
    (its rounds share one sample, so its misses come together)."""
    import numpy as np

    from gltui.learn import train as training
    from gltui.learn.seeding import derive_seed
    from gltui.run.engine import Runner
    from gltui.views.estimates import wilson_interval

    pool = project.store.item_ids("pool")
    rng = np.random.default_rng(derive_seed(seed, "benchmark-pool-truth"))
    sample = np.sort(rng.choice(pool, size=min(POOL_TRUTH, len(pool)), replace=False))
    truth = project.store.true_labels(sample)
    labeled = project.store.labeled_detail("main")  # (item, name, label, class, source, round, t)
    runner = Runner(project, "main")
    out, resampled = {}, {}
    draws = np.random.default_rng(derive_seed(seed, "benchmark-resampled-audits"))
    for r, test in zip(rounds, tests):
        seen = {row[0] for row in labeled if row[5] <= r}
        keep = np.fromiter((int(i) not in seen for i in sample), bool, len(sample))
        model = runner._load_model(r)
        probs = training.predict_proba(model, project.pixels[sample[keep]], "cpu")
        correct = probs.argmax(1) == truth[keep]
        out[r] = float(correct.mean())
        hits_pool = hits_test = 0
        for _ in range(RESAMPLES):
            k = int(correct[draws.choice(len(correct), size=audit, replace=False)].sum())
            low, high = wilson_interval(k, audit)
            hits_pool += low <= out[r] <= high
            hits_test += low <= test <= high
        resampled[r] = {"pool": hits_pool / RESAMPLES, "test": hits_test / RESAMPLES}
    return out, resampled


def audit_set_bootstrap(by_set: list[tuple[int, int]], draws: int = 10000) -> list[float] | None:
    """A 95% percentile interval for the per-round coverage of the test accuracy, resampling
    whole audit sets (seeds; `by_set` holds each one's covered and total rounds) with
    replacement: a project keeps one audit set for all its rounds, so its rounds' misses are
    not independent and the audit set is the unit."""
    import numpy as np

    if len(by_set) < 2:
        return None
    hits, sizes = np.array(by_set, float).T
    pick = np.random.default_rng(0).integers(0, len(by_set), size=(draws, len(by_set)))
    rates = hits[pick].sum(1) / sizes[pick].sum(1)
    return [float(np.quantile(rates, 0.025)), float(np.quantile(rates, 0.975))]


def figures(results: list[dict], out: Path) -> list[str]:
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    cols = min(len(results), 5)
    rows = -(-len(results) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.8 * rows), dpi=110, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(results):]:
        ax.set_visible(False)
    for ax, res in zip(axes, results):
        xs = [r["labeled"] for r in res["rounds"]]
        acc = [100 * r["audit"] for r in res["rounds"]]
        err = [[100 * (r["audit"] - r["low"]) for r in res["rounds"]],
               [100 * (r["high"] - r["audit"]) for r in res["rounds"]]]
        ax.errorbar(xs, acc, yerr=err, fmt="o", capsize=3, label="audit estimate, 95% Wilson")
        ax.plot(xs, [100 * r["test"] for r in res["rounds"]], "s-", color="tab:red",
                markersize=4, label="test accuracy (10,000)")
        ax.plot(xs, [100 * r["pool"] for r in res["rounds"]], "^--", color="tab:green",
                markersize=4, label=f"pool accuracy ({POOL_TRUTH:,} unlabeled)")
        if len(xs) <= 8:  # the paper's doubling: one tick a round
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs)
            ax.set_xticklabels([str(x) for x in xs])
            ax.minorticks_off()
        n = len(res["rounds"])
        ax.set_title(f"seed {res['seed']}: covers test {sum(r['covered'] for r in res['rounds'])}"
                     f"/{n}, pool {sum(r['covered_pool'] for r in res['rounds'])}/{n}",
                     fontsize="medium")
        ax.set_xlabel("labeled images")
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="lower right", fontsize="small")
    fig.savefig(out / "audit_coverage.png")

    fig = Figure(figsize=(6, 3.8), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    for res in results:
        pts = [(r["labeled"], r["kappa"]) for r in res["rounds"] if r["kappa"] is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"seed {res['seed']}")
    ax.axhline(results[0]["threshold"], color="grey", linestyle="--", label="threshold")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("labeled images")
    ax.set_ylabel("kappa vs previous round (stop set)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(out / "kappa.png")
    return ["audit_coverage.png", "kappa.png"]


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (MNIST / "train-images-idx3-ubyte.gz").is_file():
        print(f"MNIST not found at {MNIST}", file=sys.stderr)
        return 1
    started = time.time()
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        t = time.time()
        results.append({**read(drive(args, seed), seed, args.audit), "seconds": time.time() - t})
    rows = [r for res in results for r in res["rounds"]]
    covered = sum(r["covered"] for r in rows)
    covered_pool = sum(r["covered_pool"] for r in rows)
    by_set = [(sum(r["covered"] for r in res["rounds"]), len(res["rounds"])) for res in results]
    summary = {
        "command": "python benchmarks/audit_coverage.py " + " ".join(sys.argv[1:]),
        "protocol": {k: getattr(args, k) for k in ("strategy", "profile", "budget", "candidates",
                                                   "k", "audit", "val_size", "schedule", "seeds",
                                                   "smoke")},
        "covered": covered, "rounds": len(rows), "coverage": covered / len(rows),
        "covered_pool": covered_pool, "coverage_pool": covered_pool / len(rows),
        "resampled_coverage_pool": sum(r["resampled"]["pool"] for r in rows) / len(rows),
        "resampled_coverage_test": sum(r["resampled"]["test"] for r in rows) / len(rows),
        "coverage_by_audit_set": dict(zip((res["seed"] for res in results), by_set)),
        "coverage_interval": audit_set_bootstrap(by_set),
        "mean_audit_minus_test": sum(r["audit"] - r["test"] for r in rows) / len(rows),
        "mean_pool_minus_test": sum(r["pool"] - r["test"] for r in rows) / len(rows),
        "seconds": time.time() - started, "machine": platform.platform(),
        "figures": [str(args.figures / f) for f in figures(results, args.figures)],
        "seeds": results,
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        for res in results:
            print(f"seed {res['seed']}:")
            for r in res["rounds"]:
                kappa = "" if r["kappa"] is None else f"{r['kappa']:.4f}"
                print(f"  {r['labeled']:>5}  test {r['test']:.4f}  pool {r['pool']:.4f}  audit "
                      f"{r['audit']:.3f} [{r['low']:.3f}, {r['high']:.3f}] n={r['n']}  "
                      f"test {'covered' if r['covered'] else 'MISSED '}  pool "
                      f"{'covered' if r['covered_pool'] else 'MISSED '}  kappa {kappa}")
        print(f"covers the test accuracy in {covered} of {len(rows)} rounds, the pool accuracy "
              f"in {covered_pool}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
