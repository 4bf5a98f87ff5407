"""A person's labels: each call is one committed transaction (nothing a person labeled is lost).
And what the TUI offers while a round trains (`offered_items`): the audit images without a label,
then a seeded random draw of the unlabeled pool; the engine stores the last round model's guesses
on exactly these images (Store.save_guesses), so the labeling screen shows them without torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gltui.data.classes import check_class_name
from gltui.errors import ProjectError
from gltui.learn.seeding import derive_seed
from gltui.project.classes import ClassList

if TYPE_CHECKING:
    from gltui.project.folder import Project
    from gltui.store import Store

PROVISIONAL_SIZE = 200  # images on offer while a round trains: more than a person labels in it

class Labeler:
    """A person's labeling of a run: each call is one committed transaction. Needs no torch; the
    TUI labels through it while the engine waits at the label phase, and, on the provisional
    queue, while the engine trains and scores: a label then belongs to the next round (the store
    reads the run's labeling round inside the label's transaction, see gltui/store/labels.py)."""

    def __init__(self, project: "Project", run: str):
        self.project, self.store, self.run = project, project.store, run

    @property
    def round(self) -> int:
        return self.project.require_run(self.run).round

    def queue(self):
        return self.store.queue(self.run, self.round)

    def _check_label(self, label: int) -> None:
        """A class in use: not an index never made, nor a class merged into another."""
        classes = ClassList.read(self.store)
        if not classes.is_live(int(label)):
            what = (f"class {classes.own[label]!r} was merged into {classes.names[label]!r}"
                    if 0 <= label < len(classes.fold) else "it is not a class of this project")
            raise ProjectError(f"label {label}: {what}; label it with a class in use")

    def label(self, item: int, label: int) -> None:
        self._check_label(label)
        self.store.add_label(self.run, None, item, label, "human")

    def confirm(self, items, labels) -> None:
        """The model's guesses a person confirmed (a review page): human labels, like any other,
        all committed in one transaction (one key press, one transaction)."""
        for label in labels:
            self._check_label(int(label))
        self.store.add_labels(self.run, None, np.asarray(items, dtype=np.int64),
                              np.asarray(labels, dtype=np.int64), "human")

    def skip(self, item: int) -> None:
        self.store.skip(self.run, None, item)

    def unsure(self, item: int) -> None:
        """The person cannot tell: recorded, out of the queue, and never trained on."""
        self.store.skip(self.run, None, item, kind="unsure")

    def relabel(self, item: int, label: int) -> int:
        """Change an earlier label (the history view); returns the old one."""
        self._check_label(label)
        try:
            return self.store.relabel(self.run, item, label)
        except ValueError as err:
            raise ProjectError(str(err)) from None

    def add_class(self, name: str) -> int:
        """A new class, named by the person while labeling; returns its index. The next round's
        model has an output for it. (`gltui classes --add` is the same change.)"""
        live = ClassList.read(self.store).live_names
        name = check_class_name(name, live)
        index = self.store.add_class(self.run, name)
        self.project.classes = self.store.classes()
        return index

    def undo(self) -> int | None:
        return self.store.undo_last(self.run, None)

    def pending(self) -> int:
        return self.store.count_pending(self.run, self.round)

    # The audit set (project-wide, store/sets.py): images labeled only to measure the model,
    # never trained on. Offer audit_queue() in its order; each label is one committed transaction.

    def audit_queue(self) -> list[int]:
        """Audit items without a label, in the set's random order (label them in this order)."""
        return self.store.audit_queue()

    def label_audit(self, item: int, label: int) -> None:
        """Label (or relabel) one audit image."""
        self._check_label(label)
        try:
            self.store.add_audit_label(item, label, "human", run=self.run)
        except ValueError as err:
            raise ProjectError(str(err)) from None

    def undo_audit(self) -> int | None:
        """Undo the newest audit label; returns its item, or None when there is none."""
        return self.store.undo_audit_label(run=self.run)


def random_draw(store: "Store", run: str, round: int | None, size: int,
                taken: np.ndarray | None = None) -> np.ndarray:
    """`size` pool images of `run` in a seeded random order (the run's seed and `round`, the
    round whose model guesses them; None before any), leaving out the labeled images, `taken`
    and the stop set (its images stay unlabeled: the kappa judges them). The order is a
    permutation of the whole pool, filtered afterwards, so labels given later only drop images
    from it: the engine and the TUI draw the same images in the same order."""
    pool = store.item_ids("pool")
    seed = derive_seed(int(store.run(run).seed), "provisional", -1 if round is None else round)
    order = np.random.default_rng(seed).permutation(pool)
    out = [store.labeled(run)[0]]
    stop = store.sample_set("stop")
    if stop is not None:
        out.append(stop)
    if taken is not None:
        out.append(np.asarray(taken, dtype=np.int64))
    return order[~np.isin(order, np.concatenate(out))][:size]


def offered_items(project: "Project", run: str, round: int) -> np.ndarray:
    """The images the TUI offers while the round after `round` trains, for which the engine's
    evaluation of `round` stores the round model's guesses (Store.save_guesses): the audit
    images without a label, then `random_draw` of the pool, twice as many as the TUI offers
    (the queue chosen after the evaluation, and labels given meanwhile, take some of them)."""
    store = project.store
    audit = np.asarray(store.audit_queue(), dtype=np.int64)
    return np.concatenate([audit, random_draw(store, run, round, 2 * PROVISIONAL_SIZE)])
