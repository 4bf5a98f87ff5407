"""Calibration of the round models that runs trained: is the confidence a person sees worth its
word? For every finished round of the given runs, on the project's test split (never read to
fit anything):

  raw        the round model's softmax
  shipped    softmax(logits / T) with the temperature the round stored: what every view shows
  strong16   softmax(logits / T), T fitted on 16 strongly augmented views of the round's labeled
             images (learn/calibrate.views_temperature with learn/semi's strong augmentation)
  weak16     the same with the run's own (weak) augmentation

each as ECE (15 equal-width bins on the top-class confidence), acc_at_90 (the accuracy of the
guesses with confidence >= 0.90) and share_at_90, and, with --bootstrap, a 95% bootstrap interval
of the ECE over the test images (the sample project's 1,000 test digits: even a perfect model
shows an ECE of ~0.03 there). Only the labels the run counted are used to fit a temperature.

    .venv/bin/python benchmarks/calibration.py PROJECT [--runs rde-s0,random-s0] [--json OUT]
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

from gltui.learn import calibrate  # noqa: E402
from gltui.learn.augment import make_augment  # noqa: E402
from gltui.learn.seeding import derive_seed  # noqa: E402
from gltui.learn.semi.strong import make_strong  # noqa: E402
from gltui.outputs import roundmodel  # noqa: E402
from gltui.project import Project  # noqa: E402


def bootstrap_ece(probs: np.ndarray, labels: np.ndarray, n: int = 1000, seed: int = 0
                  ) -> tuple[float, float]:
    """95% percentile interval of the ECE over test images resampled with replacement."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(labels), len(labels))
        values.append(calibrate.calibration(probs[idx], labels[idx])["ece"])
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def bins_of(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> list[dict]:
    """Per equal-width confidence bin: its range, count, mean confidence and accuracy."""
    conf, right = probs.max(1), probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    return [{"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int((which == b).sum()),
             "confidence": float(conf[which == b].mean()) if (which == b).any() else None,
             "accuracy": float(right[which == b].mean()) if (which == b).any() else None}
            for b in range(bins)]


def draw(rows: list[dict], path: Path, title: str) -> None:
    """Reliability diagrams, one panel per row: accuracy against confidence per bin, raw and
    calibrated (bars), the diagonal a perfectly calibrated model would follow."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(rows), 3.4), dpi=110)
    for i, row in enumerate(rows):
        ax = fig.add_subplot(1, len(rows), i + 1)
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        for name, colour in (("raw", "tab:red"), (CALIBRATED, "tab:blue")):
            pts = [(b["confidence"], b["accuracy"]) for b in row[name]["bins"] if b["n"]]
            ax.plot(*zip(*pts), marker="o", markersize=3, color=colour,
                    label=f"{name}: ECE {row[name]['ece']:.3f}")
        ax.set_title(f"{row['run']} round {row['round']} ({row['labels']} labels)",
                     fontsize="small")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        if i == 0:
            ax.set_ylabel("accuracy")
        ax.legend(fontsize="x-small", loc="upper left")
    fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


CALIBRATED = "shipped"  # what the round stored and every view uses


def rows_of(project: Project, run: str, bootstrap: int) -> list[dict]:
    test_ids, test_y = project.store.split_labels("test")
    if not len(test_ids):
        raise SystemExit(f"{project.path}: no test split to measure calibration on")
    x_test = np.asarray(project.pixels[test_ids])
    config = project.run_config(run)
    channels = int(project.meta["shape"][0])
    weak = make_augment(config.train.augment, channels)
    strong = make_strong("auto")
    out = []
    for r in project.store.rounds(run):
        if r.finished_at is None:
            continue
        model = roundmodel.load_round(project, run, r.round, torch.device("cpu"))
        items, labels = project.store.labeled(run, up_to_round=r.round)
        x_lab = np.asarray(project.pixels[items])
        z = calibrate.predict_logits(model, x_test)
        row = {"run": run, "round": r.round, "labels": int(r.n_labeled),
               "network": roundmodel.read_round(project, run, r.round).get("network", "paper"),
               "semi": config.semi.enabled}
        saved = roundmodel.read_round(project, run, r.round)
        row["calibrated_on"] = saved.get("calibrated_on")
        for name, aug in (("raw", None), (CALIBRATED, "stored"), ("strong16", strong),
                          ("weak16", weak)):
            if aug is None:
                t = 1.0
            elif aug == "stored":
                t = float(saved.get("temperature", 1.0))
            else:
                t = calibrate.views_temperature(model, x_lab, labels, aug, views=16,
                                                seed=derive_seed(0, run, r.round, name))
            probs = calibrate.apply_temperature(z, t).numpy()
            stats = calibrate.calibration(probs, test_y)
            if bootstrap:
                stats["ece_interval"] = bootstrap_ece(probs, test_y, bootstrap)
            row[name] = {"temperature": t, **stats, "bins": bins_of(probs, test_y)}
        out.append(row)
        print(f"{run} round {r.round} ({r.n_labeled} labels): "
              + "  ".join(f"{k} T {row[k]['temperature']:.2f} ece {row[k]['ece']:.4f} "
                          f"acc@90 {row[k]['acc_at_90']:.3f} ({row[k]['share_at_90']:.2f})"
                          for k in ("raw", CALIBRATED, "strong16", "weak16")), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("project", type=Path)
    p.add_argument("--runs", help="comma-separated runs (default: every run)")
    p.add_argument("--dataset", help="a name for the JSON (default: the project folder's name)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="N bootstrap resamples of the test images for an ECE interval")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, help="add this dataset's rows to a JSON file")
    p.add_argument("--figure", type=Path, help="reliability diagrams (PNG) of --figure-rounds")
    p.add_argument("--figure-rounds", default="0,1,2,3",
                   help="which rounds of the first run the figure shows (default %(default)s)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    with Project.open(args.project) as project:
        runs = args.runs.split(",") if args.runs else [r.name for r in project.store.runs()]
        rows = [row for run in runs for row in rows_of(project, run, args.bootstrap)]
    if args.figure:
        wanted = [int(r) for r in args.figure_rounds.split(",")]
        shown = [row for row in rows if row["run"] == runs[0] and row["round"] in wanted]
        draw(shown, args.figure, f"{args.dataset or args.project.name}: test split, 15 bins")
    if args.json:
        found = json.loads(args.json.read_text()) if args.json.exists() else {}
        found[args.dataset or args.project.name] = rows
        args.json.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
