"""What the screens read and write, in one place: a project opened on the UI thread.

Reads go through `Project` and the store's query methods (no SQL here); a label, skip, unsure,
relabel, confirmed guess, new class or undo goes through `project.Labeler`, so each key press is
its own committed transaction. The engine module (and with it torch) is imported on first use,
never at import time.

While the engine trains and scores, `provisional()` is the work on offer: audit images first
(they need no model), then a seeded random draw of the unlabeled pool (project/labeler.py
`random_draw`), each with the last round model's guesses where the engine stored them.

The classes: a key is a position in the list of classes in use (`classes`, `key_class`); any
class index ever stored (a label, a guess of a model trained before a merge) is named through
`class_name`, and guesses are folded onto the classes in use when read (project/classes.py).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gltui.project import Project, RunSummary
from gltui.project.classes import ClassList
from gltui.project.labeler import PROVISIONAL_SIZE, random_draw
from gltui.store import QueueEntry, connection
from gltui.tui.images import to_pil
from gltui.views.curves import Curve, learning_curves
from gltui.views.galleries import GALLERY_SIZE, Gallery, gallery, ranked_at_random

UI_BUSY_S = 2.0  # seconds a label waits for a write lock held elsewhere: the screen never freezes
CONFIDENT = 0.9  # the review mode's default: the model's top guess at least this probable


@dataclass
class ProvisionalEntry(QueueEntry):
    """An image offered while the engine works: an audit image, or one of a seeded random draw
    of the pool (no score: NaN), with the guesses of the round model named in `guessed_by`
    where the engine stored them. It has no queue row; its label counts for the next round
    (audit labels are never trained on)."""

    audit: bool = False
    guessed_by: int | None = None  # the round whose model made `guesses`


class HistoryRow(NamedTuple):
    """One line of the history: a label of the run, an audit label, or an unsure mark."""

    item: int
    name: str  # the image's file
    label: int | None  # None for an unsure mark
    class_name: str
    kind: str  # seed | oracle | human (the run's labels) | audit | unsure
    round: int | None  # the round a run's label belongs to; None for audit and unsure
    time: float

    @property
    def trained_on(self) -> bool:
        return self.kind not in ("audit", "unsure")


class Session:
    """One run of one project, seen from the UI thread."""

    def __init__(self, path: str | Path, run: str = "main"):
        # A key press waits at most UI_BUSY_S for another process's write lock, then says so.
        self.project = Project.open(path, busy_timeout=min(UI_BUSY_S, connection.BUSY_TIMEOUT_S))
        try:
            row = self.project.require_run(run)
        except Exception:
            self.project.close()
            raise
        self.path = self.project.path
        self.run = run
        self.relabeled = 0  # labels this session changed (history, check page): for the exit line
        self._last_check = None  # the check page's last CheckResult (last_check)
        self.strategy = row.strategy
        self.class_list = ClassList.read(self.project.store)
        self.patience = self.project.run_config(run).train.patience
        self._labeler = None
        self._pictures: OrderedDict[int, object] = OrderedDict()

    def close(self) -> None:
        self.project.close()

    # -- labeling -------------------------------------------------------------------------------

    @property
    def labeler(self):
        if self._labeler is None:
            from gltui.project import Labeler

            self._labeler = Labeler(self.project, self.run)
        return self._labeler

    def queue(self, summary: RunSummary | None = None) -> list:
        """The queue to label now (most confusing first), or [] outside the label phase."""
        summary = summary or self.summary()
        if summary.phase != "label":
            return []
        entries = self.project.store.queue(self.run, summary.round)
        for e in entries:
            e.guesses = self.class_list.fold_guesses(e.guesses)
        return entries

    def provisional(self, summary: RunSummary | None = None,
                    size: int = PROVISIONAL_SIZE) -> list[ProvisionalEntry]:
        """What a person can label while the engine trains and scores: the audit images still
        unlabeled (in the set's drawn order), then a seeded random draw of the run's unlabeled
        pool (project/labeler.random_draw), leaving out what is labeled, marked unsure or in
        the latest queue. Each carries the guesses of the latest round model that stored them
        (the engine stores them for exactly these images), or none."""
        summary = summary or self.summary()
        store = self.project.store
        stored = store.guesses(self.run)
        guessed_by, guesses = stored if stored is not None else (None, {})

        def entry(item: int, audit: bool) -> ProvisionalEntry:
            known = guesses.get(item)
            return ProvisionalEntry(item, len(entries), float("nan"), "pending",
                                    self.class_list.fold_guesses(known or []), None, audit=audit,
                                    guessed_by=guessed_by if known else None)

        entries: list[ProvisionalEntry] = []
        for item in store.audit_queue()[:size]:
            entries.append(entry(item, True))
        taken = [e.item for e in store.queue(self.run, summary.round)]
        taken += [item for item, _ in store.unsure_marks(self.run)]
        for item in random_draw(store, self.run, guessed_by, size - len(entries),
                                taken=np.asarray(taken, dtype=np.int64)).tolist():
            entries.append(entry(int(item), False))
        return entries

    def confident(self, entries: list, threshold: float = CONFIDENT) -> list:
        """The pending entries whose top guess is at least `threshold` probable, grouped by the
        guessed class (class order), most confident first within a class: the review mode."""
        sure = [e for e in entries if e.status == "pending" and e.guesses
                and float(e.guesses[0][1]) >= threshold]
        return sorted(sure, key=lambda e: (e.guesses[0][0], -float(e.guesses[0][1]), e.rank))

    def label(self, item: int, label: int, *, audit: bool = False) -> None:
        """A label for a queued (or provisional) image, or for an audit image (never trained
        on; project-wide)."""
        if audit:
            self.labeler.label_audit(item, label)
        else:
            self.labeler.label(item, label)

    def confirm(self, items: list[int], labels: list[int]) -> None:
        """A review page's guesses, confirmed by one key: one transaction."""
        self.labeler.confirm(items, labels)

    def skip(self, item: int) -> None:
        self.labeler.skip(item)

    def unsure(self, item: int) -> None:
        self.labeler.unsure(item)

    def undo(self, *, audit: bool = False) -> int | None:
        """Undo the last label, skip or unsure of this round, or (audit) the last audit label."""
        return self.labeler.undo_audit() if audit else self.labeler.undo()

    def relabel(self, item: int, label: int) -> int:
        result = self.labeler.relabel(item, label)
        self.relabeled += 1  # after the write: a refused one changed nothing
        return result

    def add_class(self, name: str) -> int:
        """A new class (ProjectError for an empty or repeated name); returns its index."""
        index = self.labeler.add_class(name)
        self.refresh_classes()
        return index

    def history(self, limit: int = 500) -> list[HistoryRow]:
        """Every label a person can revisit, newest first: the run's active labels (seed,
        oracle, human), the audit labels (never trained on) and the images marked unsure
        (never trained on, no label)."""
        store = self.project.store
        rows = [HistoryRow(d.item, d.name, d.label, self.class_name(d.label), d.source, d.round,
                           d.time) for d in store.labeled_detail(self.run)]
        rows += [HistoryRow(d.item, d.name, d.label, self.class_name(d.label), "audit", None,
                            d.time) for d in store.audit_label_detail()]
        marks = store.unsure_marks(self.run)
        names = store.item_names([item for item, _ in marks])
        rows += [HistoryRow(item, names.get(item, str(item)), None, "", "unsure", None, at)
                 for item, at in marks]
        return sorted(rows, key=lambda r: r.time, reverse=True)[:limit]

    def change_label(self, row: HistoryRow, label: int) -> None:
        """The history's relabel: a run's label is replaced (an event; the old row is kept,
        marked undone), an audit label too, and an unsure image gets its label now."""
        if row.kind == "audit":
            self.labeler.label_audit(row.item, label)
        elif row.kind == "unsure":
            self.labeler.label(row.item, label)
        else:
            self.labeler.relabel(row.item, label)

    # -- the check page (outputs/check.py: torch-free until its check runs) ---------------------

    def check_seconds(self) -> float:
        """About how long the check of this run takes (the page shows it while it runs)."""
        from gltui.outputs.check import estimated_seconds

        return estimated_seconds(self.project, self.run)

    def last_check(self):
        """The last check this session ran, when nothing it read has changed since (its key),
        without the findings dismissed meanwhile: the page shows it at once. Else None."""
        from gltui.outputs.check import check_key, dismissed, still_listed

        if self._last_check is None or check_key(self.project, self.run) != self._last_check.key:
            return None
        return still_listed(self._last_check, dismissed(self.project.store))

    def remember_check(self, result) -> None:
        self._last_check = result

    def dismiss_finding(self, key: str) -> None:
        """A check finding a person dismissed: no later check lists it (the project's meta)."""
        from gltui.outputs.check import dismiss

        dismiss(self.project.store, key)

    def undismiss_finding(self, key: str) -> None:
        """A dismissal taken back: the finding is listed again."""
        from gltui.outputs.check import undismiss

        undismiss(self.project.store, key)

    # -- reading --------------------------------------------------------------------------------

    def summary(self) -> RunSummary:
        """The run as the store has it now (the class list is read afresh with it: `gltui
        classes` may have changed it meanwhile)."""
        self.refresh_classes()
        return self.project.summary(self.run)

    def refresh_classes(self) -> None:
        self.class_list = ClassList.read(self.project.store)
        self.project.classes = self.project.store.classes()

    @property
    def classes(self) -> list[str]:
        """The names of the classes in use: key k labels the k-th (`key_class`)."""
        return self.class_list.live_names

    def key_class(self, key: int) -> int | None:
        """The class index that key (a position in `classes`) labels; None past the end."""
        live = self.class_list.live
        return live[key] if 0 <= key < len(live) else None

    def class_key(self, index: int) -> int | None:
        """The key (position in `classes`) of a class index: a merged class has its target's."""
        return self.class_list.position(index)

    def summaries(self) -> list[RunSummary]:
        self.refresh_classes()
        return self.project.summaries()

    def signals(self, summary: RunSummary | None = None):
        """The run's audit estimate and stop-set kappa (gltui.results.run_signals)."""
        from gltui.views.status import run_signals

        return run_signals(self.project.store, summary or self.summary())

    def curves(self, summaries: list[RunSummary] | None = None) -> list[Curve]:
        """Every run's curve, by the one rule of gltui.results (status and the report use it)."""
        return learning_curves(summaries or self.summaries(), self.project.store)

    def class_history(self, summary: RunSummary | None = None) -> list[tuple[str, int, list[int]]]:
        """(row name, labeled count, per-class counts) per finished round of this run, plus the
        labeled set as it is now when it differs from the last round's (the paper's Fig. 3).
        Counts are per class in use, in `classes` order: a round before a class was added has
        0 there, a merged class counts as the class it went into."""
        summary = summary or self.summary()
        fold = self.class_list.fold_counts
        rows = []
        for r in summary.rounds:
            if r.class_hist:
                hist = fold(r.class_hist)
                rows.append((f"r{r.round}", int(sum(hist)), hist))
        _, labels = self.project.store.labeled(self.run)
        now = fold(np.bincount(labels, minlength=len(self.class_list.fold)))
        if not rows or rows[-1][2] != now:
            rows.append(("now", int(sum(now)), now))
        return rows

    def gallery(self, n: int = GALLERY_SIZE) -> Gallery | None:
        """The n most and n least confusing candidates of the latest finished scoring pass that
        ranked by confusion (not a random one)."""
        return gallery(self.project.store, self.run, size=n)

    def random_picks(self, round: int) -> bool:
        """Whether the queue of `round` was drawn at random (its pass, round - 1's, ranked at
        random: a random run, or the warm start), so its scores mean nothing."""
        return round > 0 and ranked_at_random(self.project.store, self.run, round - 1)

    @property
    def warm_start(self) -> int:
        return self.project.run_config(self.run).loop.warm_start

    def picture(self, item: int):
        """The item's image as PIL, cached (the labeling screen asks for neighbours ahead)."""
        pic = self._pictures.get(item)
        if pic is None:
            pic = to_pil(self.project.image(item))
            self._pictures[item] = pic
            if len(self._pictures) > 512:
                self._pictures.popitem(last=False)
        else:
            self._pictures.move_to_end(item)
        return pic

    def item_name(self, item: int) -> str:
        return self.project.store.item_names([item]).get(item, str(item))

    def class_name(self, index: int | None) -> str:
        """The name of any stored class index (a merged class: the class it went into)."""
        return self.class_list.name(index)

    def saved_counts(self) -> tuple[int, int]:
        """(active labels of the run, active audit labels): what `gltui PROJECT` says on exit."""
        store = self.project.store
        return store.count_labeled(self.run), len(store.audit_labels()[0])
