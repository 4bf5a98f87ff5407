"""Likely label mistakes: out-of-fold predictions that disagree with the given label, confidently
(cleanlab's confident learning, the shape of its label issue manager).

    out_of_fold_probs(x, y, classes, cfg)   K-fold cross-fitting: each image is predicted by a
                                            model that never saw its label (softmax averaged over
                                            augmented views)
    find_label_issues(probs, labels)        per image: the likely class, a score in [0, 1] and
                                            an is-issue flag; the issues most suspicious first

Training is `train.fit` (fresh weights, the fold's seed) on the other folds with no validation
split: a fixed schedule, the last weights kept. Folds are stratified by the given label and drawn
from `seed`, and every fit and view derives its seed from (seed, fold), so the same arrays give
the same result on one machine. Arrays in, arrays out: nothing here knows of a project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from gltui.config import CHECK_FOLDS, CHECK_MIN_PER_FOLD, TrainConfig
from gltui.errors import Cancelled
from gltui.learn.augment import make_augment
from gltui.learn.calibrate import predict_views
from gltui.learn.models import resolve_model_name
from gltui.learn.seeding import derive_seed
from gltui.learn.train import fit

FOLDS, MIN_PER_FOLD = CHECK_FOLDS, CHECK_MIN_PER_FOLD  # config.py: torch-free, for outputs/check
VIEWS = 4  # the image and 3 weak augmentations, softmax averaged


@dataclass
class LabelIssues:
    likely: np.ndarray  # (N,) int64: the out-of-fold predicted class
    score: np.ndarray  # (N,) float: 1 - p(given label), out of fold (0 = surely right)
    is_issue: np.ndarray  # (N,) bool: the likely class is not the given one
    order: np.ndarray  # indices of the issues, most suspicious (highest score) first


def fold_of(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) fold index per image: each class's images shuffled and dealt out in turn, so every
    fold holds each class's share."""
    labels = np.asarray(labels, dtype=np.int64)
    out = np.empty(len(labels), dtype=np.int64)
    rng = np.random.default_rng(derive_seed(seed, "folds"))
    start = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        out[members] = (start + np.arange(len(members))) % folds
        start += len(members)  # the next class starts where this one stopped: balanced folds
    return out


def out_of_fold_probs(x: np.ndarray, y: np.ndarray, num_classes: int, cfg: TrainConfig, *,
                      model_name: str = "small", folds: int = FOLDS, views: int = VIEWS,
                      seed: int = 0, device: str | torch.device = "cpu",
                      on_fold: Callable[[int, int], None] | None = None,
                      cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """(N, classes) float32: each image's softmax (averaged over `views` views) from the model
    trained on the other folds. x: uint8 (N, C, H, W); y: int labels. on_fold(done, folds)
    after each fold; cancel() true after an epoch raises errors.Cancelled (a closed TUI page)."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.int64)
    if len(y) < folds * MIN_PER_FOLD:
        raise ValueError(f"{len(y)} labels; cross-fitting needs at least {folds * MIN_PER_FOLD}")
    fold = fold_of(y, folds, seed)
    augment = make_augment(cfg.augment, x.shape[1])
    name = resolve_model_name(model_name, x.shape[1])
    probs = np.zeros((len(y), num_classes), dtype=np.float32)
    none = np.zeros((0, *x.shape[1:]), dtype=np.uint8)
    for k in range(folds):
        train, held = fold != k, fold == k
        result = fit(name, x[train], y[train], none, np.zeros(0, np.int64), num_classes, cfg,
                     seed=derive_seed(seed, "fold", k), device=device,
                     on_epoch=None if cancel is None else lambda *_: not cancel())
        if cancel is not None and cancel():
            raise Cancelled("the check was cancelled")
        probs[held] = predict_views(result.model, x[held], augment, views,
                                    derive_seed(seed, "fold-views", k), device=device).numpy()
        if on_fold is not None:
            on_fold(k + 1, folds)
    return probs


def find_label_issues(probs: np.ndarray, labels: np.ndarray) -> LabelIssues:
    """On out-of-fold probabilities: an image is an issue when its likely class is not its given
    label (cleanlab's `predicted_neq_given` filter); its score is 1 - p(given label) (cleanlab's
    self-confidence, inverted), so issues rank by how little the models believe the label.
    (cleanlab's stricter per-class thresholds, p_likely >= the mean p of that class over its own
    labels, dropped 15 of 50 planted mistakes on MNIST where the score ranked 49 of them in the
    first 100: averaging augmented views lowers every confidence.)"""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    likely = probs.argmax(1)
    is_issue = likely != labels
    score = 1.0 - probs[np.arange(n), labels]
    issues = np.flatnonzero(is_issue)
    order = issues[np.lexsort((issues, -score[issues]))]  # ties: the earlier image first
    return LabelIssues(likely=likely, score=score, is_issue=is_issue, order=order)
