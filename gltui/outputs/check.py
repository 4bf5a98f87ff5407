"""`gltui check PROJECT`: a health check of a person's labels, most suspicious first.

    label issues      the run's labels (seed, human, oracle; never the audit labels, which are
                      never trained on, nor the test split) whose out-of-fold prediction is
                      another class: learn/label_issues.py, on the small net, K folds
    near-duplicates   groups of near-identical images over every split (data/duplicates.py); a
                      group that holds an evaluation image (test, audit, validation) and a
                      training one (labeled or pool) is a LEAK
    outliers          images unlike every other one (data/duplicates.outliers: noise, a blank
                      or inverted scan, a photo among digits), most unusual first

Only reads: no lock is taken and nothing is written, so it works beside a run being driven (it
checks the labels as they are when it reads them). Bad input raises ProjectError first. Item
names are the `file` column of the exports (store item names). Imports torch when `check` runs.

A finding a person dismissed (the TUI's check page, `d`) is left out from then on: its stable
key (`LabelIssue.key`: "label:ITEM:LABEL", `DuplicateGroup.key`: "dup:ID,ID,...") is kept in
the project's meta under DISMISSED (`dismiss`), and the summary line says how many were left
out. A label issue's key names the label it doubts, so a relabeled image is checked afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from gltui.config import CHECK_FOLDS, CHECK_MIN_PER_FOLD, TrainConfig
from gltui.data import duplicates as dup
from gltui.errors import ProjectError, shell_command
from gltui.project import Project
from gltui.project.classes import ClassList
from gltui.store import SPLITS
from gltui.views.words import count

if TYPE_CHECKING:
    from gltui.store import Store

# The cross-fitted models' schedule: the small net with the run's augmentation, a fixed number
# of epochs (no validation split to stop on: every label is in some fold). MNIST, 1,000 labels:
# 20 epochs give 94 % out-of-fold accuracy in ~45 s on one core; `tiny` (the tests') is shorter.
CHECK_EPOCHS = {"tiny": 10}
DEFAULT_EPOCHS = 20
BATCH, MIN_STEPS = 64, 10  # an epoch: at least 10 steps of 64 images, however few the labels
WEAK_AGREEMENT = 0.85  # below: the summary warns that the issues are mostly the models' errors
# (MNIST, 1,000 labels: 94 % out-of-fold accuracy, CHECK_EPOCHS below; a hand trial's 220 colour
# shape photos, all labels but one right: 59 %, 90 "issues", nearly all the models' mistakes)
# ... and the folds are trained again, longer (`longer`), when that gives them several times
# the steps: few labels make few steps an epoch. 235 colour shape photos, 12 labels flipped:
# 20 epochs of 10 steps agree with 55 % of the labels and rank the flips at AUC 0.72 (4 in the
# first 12 issues); 1,200 steps at lr 5e-3 agree with 79 %, AUC 0.97 (8 in the first 12).
LONGER_STEPS, LONGER_LR = 1200, 5e-3
EVALUATION = ("test", "audit", "val")  # a near copy of one of these in training data is a leak
TRAINING = ("labeled", "pool")
DISMISSED = "check_dismissed"  # meta key: the keys of the findings a person dismissed
FOLDS, MIN_PER_FOLD = CHECK_FOLDS, CHECK_MIN_PER_FOLD  # config.py (label_issues reads them too)
# The estimate a waiting person is shown (`estimated_seconds`), from the measurements: MNIST,
# 1,000 labels, 20 epochs and 21,000 images: 46 s on one core; 300 labels, 10 epochs: ~13 s.
TRAIN_S_PER_SAMPLE = 6e-4  # one image through one training step of the small net, one core
DUPLICATE_S_PER_IMAGE = 4e-4


@dataclass
class LabelIssue:
    file: str
    label: str
    likely: str
    score: float  # 1 - out-of-fold p(label): 1 = the models never believe it
    item: int = -1  # the store's ids: the image, its given label and the likely class
    label_index: int = -1
    likely_index: int = -1

    @property
    def key(self) -> str:
        return f"label:{self.item}:{self.label_index}"

    def as_json(self) -> dict:
        return {"file": self.file, "label": self.label, "likely": self.likely,
                "score": round(self.score, 4)}


@dataclass
class DuplicateGroup:
    files: list[str]
    splits: list[str]  # per file: labeled, pool, val, audit or test
    distance: float  # data/duplicates.py: 1 - correlation, 0 = identical
    items: list[int] = field(default_factory=list)  # the store's ids of `files`

    @property
    def key(self) -> str:
        return "dup:" + ",".join(str(i) for i in sorted(self.items))

    @property
    def leak(self) -> bool:
        where = set(self.splits)
        return bool(where & set(EVALUATION)) and bool(where & set(TRAINING))

    def as_json(self) -> dict:
        return {"files": self.files, "splits": self.splits, "leak": self.leak,
                "distance": round(self.distance, 4)}


@dataclass
class Outlier:
    file: str
    split: str  # labeled, pool, val, audit or test
    score: float  # data/duplicates.outliers: 1 = nothing like it in the project
    item: int = -1

    @property
    def key(self) -> str:
        return f"out:{self.item}"

    def as_json(self) -> dict:
        return {"file": self.file, "split": self.split, "score": round(self.score, 4)}


@dataclass
class CheckResult:
    run: str
    n_labeled: int
    n_images: int  # images the near-duplicate search compared
    label_issues: list[LabelIssue] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)  # leaks first
    dismissed: int = 0  # findings left out because a person dismissed them
    n_total: int = 0  # images the project holds (more than n_images past CHECK_LIMIT)
    outliers: list[Outlier] = field(default_factory=list)  # most unusual first
    agreement: float | None = None  # share of the labels the out-of-fold models agree with
    key: str = ""  # what it checked (check_key): the same key, the same findings

    def weak_models(self) -> str | None:
        """What to say when the cross-fitted models agree with too few labels (WEAK_AGREEMENT)
        for their doubts to single out mistakes, else None."""
        if self.agreement is None or self.agreement >= WEAK_AGREEMENT:
            return None
        return (f"the cross-fitted models agree with only {self.agreement:.0%} of the labels: "
                "most label issues below are their own errors, not yours (they learn from the "
                "labels alone, on fewer than the run's model has)")

    def as_json(self) -> dict:
        return {
            "label_issues": [i.as_json() for i in self.label_issues],
            "near_duplicates": [g.files for g in self.duplicates],
            "duplicate_groups": [g.as_json() for g in self.duplicates],
            "leaks": sum(g.leak for g in self.duplicates),
            "outliers": [o.as_json() for o in self.outliers],
            "run": self.run, "labels_checked": self.n_labeled, "images_checked": self.n_images,
            "agreement": None if self.agreement is None else round(self.agreement, 4),
            "images_total": max(self.n_total, self.n_images),
        }

    def _among(self) -> str:
        if self.n_total <= self.n_images:
            return count(self.n_images, "image")
        return (f"{self.n_images:,} of the {self.n_total:,} images (every labeled and evaluation "
                "image, and a random draw of the pool)")

    def lines(self, top: int = 20) -> list[str]:
        """The text summary: counts, then the first `top` of each finding."""
        leaks = sum(g.leak for g in self.duplicates)
        out = [f"run {self.run!r}: {count(len(self.label_issues), 'label issue')} (another "
               f"class out of fold) among {count(self.n_labeled, 'label')}; "
               f"{count(len(self.duplicates), 'group')} of near-duplicates among "
               + self._among() + (f", {leaks} of them LEAKS across splits" if leaks else "")
               + (f"; {count(len(self.outliers), 'outlier')}" if self.outliers else "")
               + (f"; {self.dismissed} dismissed findings left out" if self.dismissed else "")]
        if self.weak_models():
            out.append(f"note: {self.weak_models()}")
        if self.label_issues:
            out.append("label issues, most suspicious first; the top ones are the likely mistakes "
                       "(file  label → likely  score):")
            width = max(len(i.file) for i in self.label_issues[:top])
            out += [f"  {i.file:<{width}}  {i.label} → {i.likely}  {i.score:.3f}"
                    for i in self.label_issues[:top]]
        if self.duplicates:
            out.append("near-duplicates (file [split], ...):")
            out += [("  LEAK  " if g.leak else "  ") + ", ".join(
                f"{f} [{s}]" for f, s in zip(g.files, g.splits)) for g in self.duplicates[:top]]
        if self.outliers:
            out.append("outliers, unlike every other image (file [split]  score):")
            out += [f"  {o.file} [{o.split}]  {o.score:.3f}" for o in self.outliers[:top]]
        hidden = sum(max(0, len(found) - top)
                     for found in (self.label_issues, self.duplicates, self.outliers))
        if hidden:
            out.append(f"{hidden} more: `gltui check --json` lists every finding")
        return out


def check(project: Project, run: str = "main", *, device: str | None = None,
          on_fold: Callable[[int, int], None] | None = None,
          cancel: Callable[[], bool] | None = None) -> CheckResult:
    """The run's label issues and the project's near-duplicates (module doc), the dismissed
    ones left out. ProjectError for an unknown run or too few labels to cross-fit, before any
    training. on_fold(done, folds) after each fold's model; cancel() true raises
    errors.Cancelled after the epoch under way."""
    from gltui.learn.device import resolve_device
    from gltui.learn.label_issues import find_label_issues, out_of_fold_probs

    row = project.require_run(run)
    config = project.run_config(run)
    store = project.store
    classes = ClassList.read(store)
    items, labels = store.labeled(run)
    labels = classes.fold_labels(labels)
    key = _key(project, run, items, labels, classes)
    need = FOLDS * MIN_PER_FOLD
    if len(items) < need:
        raise ProjectError(f"run {run!r} has {len(items)} labels; checking them takes at least "
                           f"{need} ({FOLDS} folds of {MIN_PER_FOLD}): label more images first "
                           f"(`{shell_command(project.path)}`), or give another run with --run")
    if len(np.unique(labels)) < 2:
        raise ProjectError(f"run {run!r}: every label is {classes.name(int(labels[0]))!r}; "
                           "label images of at least two classes first")
    cfg = fold_config(config.train)
    dev = resolve_device(device or config.device)
    pixels = project.pixels
    probs = out_of_fold_probs(pixels[items], labels, len(classes.fold), cfg, seed=row.seed,
                              device=dev, on_fold=on_fold, cancel=cancel)
    found = find_label_issues(probs, labels)
    agreement = float(np.mean(~found.is_issue))
    again = longer(cfg, len(items), config.train.profile) if agreement < WEAK_AGREEMENT else None
    if again is not None:  # weak models from few steps: train the folds again, longer
        if on_fold is not None:  # the page's estimate: no longer "0 s left" meanwhile
            on_fold(FOLDS, 2 * FOLDS)
        probs = out_of_fold_probs(
            pixels[items], labels, len(classes.fold), again, seed=row.seed, device=dev,
            on_fold=None if on_fold is None else lambda done, n: on_fold(n + done, 2 * n),
            cancel=cancel)
        found = find_label_issues(probs, labels)
        agreement = float(np.mean(~found.is_issue))
    names = store.item_names(items[found.order])
    issues = [LabelIssue(file=names[int(items[i])], label=classes.name(int(labels[i])),
                         likely=classes.name(int(classes.fold[found.likely[i]])),
                         score=float(found.score[i]), item=int(items[i]),
                         label_index=int(labels[i]),
                         likely_index=int(classes.fold[found.likely[i]])) for i in found.order]
    images = image_findings(project, items)
    every = CheckResult(run=run, n_labeled=len(items), n_images=images.compared,
                        n_total=images.total, label_issues=issues, duplicates=images.duplicates,
                        outliers=images.outliers, agreement=agreement, key=key)
    return still_listed(every, dismissed(store))


def check_key(project: Project, run: str = "main") -> str:
    """What a check of `run` would read, as one string: its labels, the class list, the
    number of images, the schedule and the seed. Equal keys give equal findings (before
    dismissals), so a page opened again with nothing changed shows the last check's at once
    (`still_listed`); one relabel, merge, added class or added image makes a new check. Reads
    the store only (no torch)."""
    store = project.store
    classes = ClassList.read(store)
    items, labels = store.labeled(run)
    return _key(project, run, items, classes.fold_labels(labels), classes)


def _key(project: Project, run: str, items: np.ndarray, labels: np.ndarray,
         classes: ClassList) -> str:
    import hashlib

    config = project.run_config(run)
    digest = hashlib.sha256(np.asarray(items, np.int64).tobytes())
    digest.update(np.asarray(labels, np.int64).tobytes())
    digest.update(repr((run, classes.names, classes.fold.tolist(),
                        sum(project.store.count_items().values()),
                        check_epochs(config.train.profile), config.train.augment,
                        project.require_run(run).seed)).encode())
    return digest.hexdigest()


def still_listed(result: CheckResult, gone: set[str]) -> CheckResult:
    """`result` without the findings whose keys are in `gone` (dismissed), counted as
    dismissed: how a check leaves out the dismissed findings, and how the last check is shown
    again, without training anything, after more were dismissed."""
    found = (result.label_issues, result.duplicates, result.outliers)
    kept = [[f for f in fs if f.key not in gone] for fs in found]
    return replace(result, label_issues=kept[0], duplicates=kept[1], outliers=kept[2],
                   dismissed=result.dismissed + sum(map(len, found)) - sum(map(len, kept)))


def check_epochs(profile: str) -> int:
    return CHECK_EPOCHS.get(profile, DEFAULT_EPOCHS)


def fold_config(train: TrainConfig) -> TrainConfig:
    """The first pass's schedule for each cross-fitted model of a run trained with `train`."""
    return TrainConfig(lr=2e-3, batch_size=BATCH, min_steps_per_epoch=MIN_STEPS,
                       max_epochs=check_epochs(train.profile), augment=train.augment)


def _fold_share(n_labels: int) -> int:
    """The labels a cross-fitted model trains on: the other folds' share."""
    return max(1, round((FOLDS - 1) / FOLDS * n_labels))


def _fold_steps_per_epoch(cfg: TrainConfig, n_labels: int) -> int:
    """train.fit's steps an epoch for a cross-fitted model."""
    return cfg.steps_per_epoch(_fold_share(n_labels))


def fold_steps(cfg: TrainConfig, n_labels: int) -> int:
    """The training steps of one cross-fitted model on the other folds' share of `n_labels`."""
    return cfg.max_epochs * _fold_steps_per_epoch(cfg, n_labels)


def longer(cfg: TrainConfig, n_labels: int, profile: str) -> TrainConfig | None:
    """The folds' schedule for a second pass when the first one's models were weak: at least
    LONGER_STEPS steps at LONGER_LR; None where that is under twice the first pass's steps
    (many labels: the models are not short of steps) or for the tests' `tiny` profile."""
    if profile in CHECK_EPOCHS:
        return None
    epochs = -(-LONGER_STEPS // _fold_steps_per_epoch(cfg, n_labels))
    if epochs < 2 * cfg.max_epochs:
        return None
    return replace(cfg, lr=LONGER_LR, max_epochs=epochs)


def estimated_seconds(project: Project, run: str = "main") -> float:
    """About how long `check` takes on one CPU core (what the TUI shows while it runs): each
    of FOLDS models trains the first pass's steps (fold_steps); the near-duplicate search looks
    at every image. Reads counts only (no torch)."""
    store = project.store
    n = store.count_labeled(run)
    cfg = fold_config(project.run_config(run).train)
    samples = FOLDS * fold_steps(cfg, n) * min(BATCH, _fold_share(n))
    images = min(sum(store.count_items().values()), dup.CHECK_LIMIT)
    return samples * TRAIN_S_PER_SAMPLE + images * DUPLICATE_S_PER_IMAGE


def dismissed(store: "Store") -> set[str]:
    """The keys of the findings a person dismissed (module doc)."""
    return set(store.meta().get(DISMISSED) or [])


def undismiss(store: "Store", key: str) -> None:
    """List the finding with this key again (a dismissal taken back): one transaction."""
    with store.transaction():
        keys = list(store.meta().get(DISMISSED) or [])
        if key in keys:
            store.set_meta({DISMISSED: [k for k in keys if k != key]})


def dismiss(store: "Store", key: str) -> None:
    """Leave the finding with this key out of every later check: one transaction, read and
    written under the write lock (a dismissal made meanwhile by another process is kept)."""
    with store.transaction():
        keys = list(store.meta().get(DISMISSED) or [])
        if key not in keys:
            store.set_meta({DISMISSED: [*keys, key]})


@dataclass
class ImageFindings:
    compared: int  # images the search looked at
    total: int  # images the project holds
    duplicates: list[DuplicateGroup]  # leaks first, then the closest groups
    outliers: list[Outlier]  # most unusual first


def image_findings(project: Project, labeled: np.ndarray,
                   limit: int = dup.CHECK_LIMIT) -> ImageFindings:
    """The near-duplicate groups and the outliers among the project's images (one pass over
    their coarse vectors). `labeled`: the run's labeled items (their split reads `labeled`, the
    other pool images `pool`). Past `limit` images (or CHECK_BYTES of pixels) the search
    compares every labeled and evaluation image and a seeded random draw of the rest of the
    pool: its cost grows as N^2 (a 1M-image pool would take hours)."""
    store = project.store
    ids, where = [], []
    for split in SPLITS:
        split_ids = store.item_ids(split)
        ids.append(split_ids)
        kind = np.full(len(split_ids), split, dtype=object)
        if split == "pool":
            kind[np.isin(split_ids, labeled)] = "labeled"
        where.append(kind)
    ids = np.concatenate(ids)
    where = np.concatenate(where)
    order = np.argsort(ids, kind="stable")
    ids, where = ids[order], where[order]
    pixels = project.pixels
    total = len(ids)
    limit = dup.bounded_limit(pixels, limit, dup.CHECK_BYTES)
    if total > limit:
        rows = dup.bounded_rows(total, np.flatnonzero(where != "pool"), limit)
        ids, where = ids[rows], where[rows]
    # the usual project: items are rows 0..N-1, so the memory map is read block by block
    images = (pixels[:len(ids)] if np.array_equal(ids, np.arange(len(ids)))
              else dup.gather(pixels, ids))
    vectors = dup.coarse_vectors(images)
    groups = dup.near_duplicates(images, vectors=vectors)
    odd, scores = dup.outliers(vectors)
    members = np.concatenate([*(g.members for g in groups), odd]).astype(np.int64)
    names = store.item_names(ids[members])
    found = [DuplicateGroup(files=[names[int(ids[m])] for m in g.members],
                            splits=[str(where[m]) for m in g.members], distance=g.distance,
                            items=[int(ids[m]) for m in g.members])
             for g in groups]
    unusual = [Outlier(file=names[int(ids[m])], split=str(where[m]), score=float(sc),
                       item=int(ids[m])) for m, sc in zip(odd, scores)]
    return ImageFindings(len(ids), total, sorted(found, key=lambda g: not g.leak), unusual)
