"""The pieces of a round that are not phases: which images a round learns from without labels,
where its weights start (a warm start, an epoch checkpoint, or another run's model of the same
fit), its calibration temperature, the augmented view the stop rule compares
against, and the guesses stored for the images a person is offered while the next round trains.

Plain functions of what they are given (no Runner, no events): gltui.run.engine calls them.
"""

from __future__ import annotations

import numpy as np
import torch

from gltui.config import Config
from gltui.learn import calibrate
from gltui.learn import train as training
from gltui.learn.augment import make_augment
from gltui.learn.semi.strong import make_strong
from gltui.outputs import roundmodel
from gltui.outputs.roundmodel import ModelLost
from gltui.project import Project
from gltui.project.labeler import offered_items
from gltui.project.runs import labels_known
from gltui.store import Store

AUDIT_FOR_CALIBRATION = 30  # audit labels a temperature is fitted on, else the labeled set's views
AUDIT_WHOLE_SET_MIN = 10  # ... or fewer, at least this many, where they are the whole audit set: a
# small project's audit set is a tenth of its images (27 of 271 in a person's trial, where a
# 20-label model at 33 % audit accuracy showed its guesses at 1.00: views kept T near 1)


def audit_calibrates(n_labels: int, set_size: int) -> bool:
    """Whether `n_labels` audit labels, of an audit set of `set_size` images, fit the round's
    temperature (one number: it changes no class, so the audit estimate stays unbiased)."""
    return n_labels >= AUDIT_FOR_CALIBRATION or (
        n_labels >= AUDIT_WHOLE_SET_MIN and n_labels >= set_size)


def scoring_candidates(project: Project, run: str, stop: np.ndarray | None) -> np.ndarray:
    """What a scoring pass may pick from: the run's unlabeled pool images outside the stop set,
    and in an experiment (project/runs.labels_known) those with a known label."""
    candidates = project.store.unlabeled_pool(run)
    if stop is not None:
        candidates = candidates[~np.isin(candidates, stop)]
    if labels_known(project):
        candidates = candidates[project.store.true_labels(candidates) >= 0]
    return candidates


def unlabeled_for_round(store: Store, labeled: np.ndarray, stop: np.ndarray | None, cap: int,
                        seed: int) -> np.ndarray:
    """The pool images a round learns from without labels: the pool (never the audit,
    validation or test split) minus the images labeled by this round and minus the stop set
    (its kappa must judge images no round has seen), at most `cap` of them drawn at random with
    `seed`. A function of the round's labels alone, so a resumed round learns from the same
    images."""
    pool = store.item_ids("pool")
    keep = ~np.isin(pool, labeled)
    if stop is not None and len(stop):
        keep &= ~np.isin(pool, stop)
    pool = pool[keep]
    if cap and len(pool) > cap:
        pool = np.sort(np.random.default_rng(seed).choice(pool, size=cap, replace=False))
    return pool


def warm_start(project: Project, run: str, round: int, config: Config, network: str,
               network_options: dict, num_classes: int) -> dict | None:
    """The previous round's weights, when the semi-supervised round starts from them
    (`semi.warm_epochs` > 0, the previous round had `semi.warm_from` labels) and they are of the
    same network and classes; else None (fresh weights, as the paper)."""
    if round == 0 or config.semi.warm_epochs <= 0:
        return None
    if project.store.count_labeled(run, up_to_round=round - 1) < config.semi.warm_from:
        return None  # a model of few labels may be confidently wrong: start afresh
    try:
        saved = roundmodel.read_round(project, run, round - 1)
    except ModelLost:
        return None
    if (saved.get("network") != network or saved.get("network_options") != network_options
            or int(saved.get("num_classes", -1)) != num_classes):
        return None
    return saved["model"]


def epoch_checkpoint(path, num_classes: int, semi: bool) -> dict | None:
    """The round's last epoch checkpoint to resume from, or None to start the round over: none
    written, torn or corrupt, of fewer classes (a person added one since: the output layer has
    grown), or of the other kind of fit (--semi was switched since)."""
    if not path.exists():
        return None
    try:
        resume = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    if resume.get("num_classes", num_classes) != num_classes:
        return None
    return resume if resume.get("kind") == ("semi" if semi else None) else None


def trained_elsewhere(project: Project, run: str, round: int, key: str, device: torch.device
                      ) -> tuple[dict, training.FitResult] | None:
    """Another run's model of this round trained on the same call (ranks.FitCall.key: the same
    labels, seeds, settings and starting weights), as its saved dict and a FitResult, or None.
    Runs of one seed draw the same seed set and first queue, so their first rounds coincide:
    the demo's random run, `gltui experiment` and the benchmarks train those once."""
    for other in project.store.runs():
        if other.name == run or not project.model_path(other.name, round).exists():
            continue
        try:
            saved = roundmodel.read_round(project, other.name, round)
        except ModelLost:
            continue
        if saved.get("fit_key") != key:
            continue
        _, shape, _ = roundmodel.network(project, run)
        model = roundmodel.build(saved["model"], saved["network"], shape,
                                 int(saved["num_classes"]), device, saved.get("network_options"))
        return saved, training.FitResult(model, saved["best_val_accuracy"], saved["best_epoch"],
                                         saved["epochs"], "reused", 0.0)
    return None


def temperature(store: Store, pixels, model: torch.nn.Module, items: np.ndarray,
                labels: np.ndarray, device: torch.device, batch_size: int, seed: int
                ) -> tuple[float, str]:
    """The round's calibration (learn/calibrate.py) and what it was fitted on: the temperature
    every probability a person sees is divided by (queue guesses, predictions, exports, the
    model folder). Fitted on the audit labels where there are enough of them (audit_calibrates:
    held out from training; one number fitted changes no class, so the audit accuracy estimate
    stays unbiased), else on strongly augmented views of the labeled images (no label beyond
    those counted)."""
    audit_items, audit_y = store.audit_labels()
    audit_set = store.sample_set("audit")
    if audit_calibrates(len(audit_items), 0 if audit_set is None else len(audit_set)):
        logits = calibrate.predict_logits(model, pixels[audit_items], device, batch_size)
        return calibrate.fit_temperature(logits, audit_y), f"{len(audit_items)} audit labels"
    # Views of the images the model trained on are easier than new images, so their temperature
    # errs low: it may soften but never sharpens (T >= 1). Of the 18 round models with T < 1
    # in docs/results/calibration.md, sharpening made the ECE worse in 14, better in 2 (a
    # person's 20-label model at T = 0.66 showed 39 of 40 guesses at 1.00).
    t = calibrate.views_temperature(model, pixels[items], labels, make_strong("auto"), views=16,
                                    seed=seed, device=device)
    return max(1.0, t), "16 strong views of the labeled images"


def predict_view(model: torch.nn.Module, images: np.ndarray, augment_name: str, channels: int,
                 seed: int, device: torch.device, batch_size: int) -> np.ndarray:
    """The model's classes on one augmented view of `images` (the training's weak augmentation,
    seeded): how far its predictions move under changes that should not matter, the agreement
    two rounds cannot be expected to beat (the stop rule's auto threshold)."""
    augment = make_augment(augment_name, channels)
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255)
    with torch.inference_mode():
        viewed = (augment(x, g) * 255).round_().clamp_(0, 255).to(torch.uint8)
    return training.predict_proba(model, viewed, device, batch_size).argmax(1)


def save_offered_guesses(project: Project, run: str, round: int, model: torch.nn.Module,
                         pixels, device: torch.device, batch_size: int, t: float) -> None:
    """Store the round model's calibrated guesses on the images the TUI offers while the next
    round trains (project/labeler.offered_items), so the provisional queue shows them without
    torch. Call inside the transaction that commits the round."""
    items = offered_items(project, run, round)
    if len(items) == 0:
        return
    probs = training.predict_proba(model, pixels[items], device, batch_size, temperature=t)
    project.store.save_guesses(run, round, items, probs)
