"""Diagnostic for label_efficiency.py: is a gap between two runs at one budget bigger than the
noise of training itself, and does a longer training recipe change it? Validation only.

For each named run of a finished label-efficiency project, take the labeled set the run had at
`--budget` (its seed labels plus every label of the rounds before), train the project's network
on it again with several training seeds and a training profile (default the project's own, with
optional overrides such as a longer patience), and report the best validation accuracy per run:
mean, sample std, and each value. The test set is not read: this is the kind of question that may
be asked of the validation split without tuning on the test set.

    .venv/bin/python benchmarks/retrain_noise.py projects/label-efficiency-cpu \\
        --runs rde-s0,random-s0,rde-s1,random-s1 --budget 160 --train-seeds 0,1 --json
    ... --patience 20 --max-epochs 80      # the same sets under a longer recipe
    ... --runs rde-s0,rde-s1,rde-s2 --rebalance   # rde's last picks, class-balanced

--kappa asks how far the stopping rule's kappa can rise at that budget (no label read): each
retrained model predicts the project's stop set, and Cohen's kappa is reported between every pair
of retrains (the same labels, other training seeds) and between each retrain and the run's own
round model. The rule (`--stop-when-stable`) compares consecutive rounds' models, which differ in
their labels *and* their training seed; where retraining alone stays below the threshold, the
rule cannot fire at that budget, however stable the labeled set's information is.

    .venv/bin/python benchmarks/retrain_noise.py /tmp/le/mnist --runs rde-s0 --budget 640 \
        --train-seeds 0,1 --kappa --json

--rebalance asks whether rde's class skew is what costs it: the run's last round of picks is
replaced by a class-balanced top-n of the *same* scoring pass (its stored candidates and
scores): highest score first, at most ceil(n / classes) images per class *predicted* by the
round's own model (no true label is looked at to choose; places the caps leave over go to the
next-highest scores: learn/select.select_balanced, the rule of `--balance`), and the oracle's
labels for them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from gltui.config import Config  # noqa: E402
from gltui.learn import models  # noqa: E402
from gltui.learn import train as training  # noqa: E402
from gltui.learn.seeding import derive_seed  # noqa: E402
from gltui.project import Project  # noqa: E402


def labeled_at(project: Project, run: str, budget: int,
               rebalance: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(items, labels) the run had when it trained at `budget` labels; with `rebalance`, its last
    round of picks replaced by a class-balanced top-n of the same scoring pass."""
    rounds = {r.n_labeled: r.round for r in project.store.rounds(run)}
    if budget not in rounds:
        raise SystemExit(f"{run} has no round at {budget} labels; it has {sorted(rounds)}")
    upto = rounds[budget]
    rows = [(item, label) for item, _, label, _, _, rnd, _ in project.store.labeled_detail(run)
            if rnd <= upto - (1 if rebalance else 0)]
    items = np.array([r[0] for r in rows], dtype=np.int64)
    labels = np.array([r[1] for r in rows], dtype=np.int64)
    if rebalance:
        picked = _balanced_picks(project, run, upto - 1, budget - len(items))
        items = np.concatenate([items, picked])
        labels = np.concatenate([labels, project.store.true_labels(picked)])
    assert len(items) == budget, (run, budget, len(items))
    return items, labels


def _balanced_picks(project: Project, run: str, round: int, n: int) -> np.ndarray:
    import torch

    from gltui.learn.select import select_balanced

    candidates, scores = project.store.pass_scores(run, round)
    config = Config.from_json(project.require_run(run).config)
    shape = tuple(int(v) for v in project.meta["shape"])
    classes = len(project.classes)
    model = models.build_model(models.resolve_model_name(config.model, shape[0]), shape[0],
                               shape[1:], classes)
    saved = torch.load(project.model_path(run, round), map_location="cpu", weights_only=True)
    model.load_state_dict(saved["model"])
    predicted = training.predict_proba(model.eval(), project.pixels[candidates]).argmax(1)
    picked = select_balanced(scores, predicted, n, classes)  # the rule `--balance` runs use
    return np.sort(candidates[picked]).astype(np.int64)


def stop_classes(project: Project, model) -> np.ndarray:
    """The model's classes for the project's stop set (the images the kappa rule compares on)."""
    stop = project.store.sample_set("stop")
    return training.predict_proba(model.eval(), project.pixels[stop]).argmax(1)


def kappas(project: Project, run: str, budget: int, retrained: list[np.ndarray]) -> dict:
    """Stop-set kappa between every pair of retrains, each retrain and the run's round model at
    `budget`, and that round model and the round before (what the rule saw)."""
    from itertools import combinations

    from gltui.learn.stopping import cohen_kappa

    rounds = {r.n_labeled: r for r in project.store.rounds(run)}
    stored = project.store.set_predictions(run, "stop")
    here = rounds[budget]
    own = stored[here.round]
    return {"retrains": [round(cohen_kappa(a, b), 4) for a, b in combinations(retrained, 2)],
            "round_model": [round(cohen_kappa(own, p), 4) for p in retrained],
            "consecutive": None if here.stop_kappa is None else round(here.stop_kappa, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--runs", required=True, help="comma-separated run names")
    ap.add_argument("--budget", type=int, required=True, help="labeled count to retrain at")
    ap.add_argument("--train-seeds", default="0,1", help="training seeds (default 0,1)")
    ap.add_argument("--patience", type=int, help="override the profile's patience")
    ap.add_argument("--max-epochs", type=int, help="override the profile's max epochs")
    ap.add_argument("--rebalance", action="store_true",
                    help="replace the last round's picks by a class-balanced top-n (see above)")
    ap.add_argument("--kappa", action="store_true",
                    help="kappa on the stop set between retrains and the round model (see above)")
    ap.add_argument("--json", action="store_true", help="one JSON object as the last line")
    args = ap.parse_args(argv)

    with Project.open(args.project) as project:
        val_ids, val_y = project.store.split_labels("val")
        val_x = np.asarray(project.pixels[val_ids])
        shape = tuple(int(v) for v in project.meta["shape"])
        classes = len(project.classes)
        results = {}
        for run in args.runs.split(","):
            config = Config.from_json(project.require_run(run).config)
            cfg = config.train
            if args.patience is not None:
                cfg.patience = args.patience
            if args.max_epochs is not None:
                cfg.max_epochs = args.max_epochs
            name = models.resolve_model_name(config.model, shape[0])
            items, labels = labeled_at(project, run, args.budget, args.rebalance)
            if args.rebalance:
                print(f"{run}: class counts at {args.budget} after rebalancing: "
                      f"{np.bincount(labels, minlength=classes).tolist()}", flush=True)
            x = np.asarray(project.pixels[items])
            values, stop_predictions = [], []
            for seed in (int(s) for s in args.train_seeds.split(",")):
                t0 = time.time()
                fit = training.fit(name, x, labels, val_x, val_y, classes, cfg,
                                   seed=derive_seed(seed, "retrain-noise"), device="cpu")
                values.append(round(float(fit.best_val_accuracy), 4))
                if args.kappa:
                    stop_predictions.append(stop_classes(project, fit.model))
                print(f"{run} @ {args.budget}: train seed {seed}: val {values[-1]:.4f} "
                      f"(best epoch {fit.best_epoch} of {fit.epochs}, {time.time() - t0:.0f} s)",
                      flush=True)
            results[run] = {"values": values, "mean": round(statistics.mean(values), 4),
                            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}
            if args.kappa:
                results[run]["kappa"] = kappas(project, run, args.budget, stop_predictions)
    summary = {"benchmark": "retrain_noise", "budget": args.budget, "profile": cfg.profile,
               "rebalance": args.rebalance, "kappa": args.kappa,
               "patience": cfg.patience, "max_epochs": cfg.max_epochs, "runs": results}
    for run, r in results.items():
        what = "val" if len(val_ids) else "train"  # no validation split: the training accuracy
        print(f"{run:>12}: {what} {r['mean']:.4f} ± {r['std']:.4f}  {r['values']}")
        if "kappa" in r:
            k = r["kappa"]
            print(f"{'':>12}  stop-set kappa: retrain vs retrain {k['retrains']}, retrain vs "
                  f"the round model {k['round_model']}, the round model vs the one before "
                  f"{k['consecutive']}")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
