"""What the screens read and write, in one place: a project opened on the UI thread.

Reads go through `Project` and the store's query methods (no SQL here); a label, skip, unsure,
relabel, confirmed guess, new class or undo goes through `project.Labeler`, so each key press is
its own committed transaction. The engine module (and with it torch) is imported on first use,
never at import time.

While the engine trains and scores, `provisional()` is the work on offer: audit images first
(they need no model), then the previous pass's next-ranked images that nobody labeled yet.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gltui.project import Project, RunSummary
from gltui.views.galleries import GALLERY_SIZE, Gallery, gallery, ranked_at_random
from gltui.views.curves import Curve, learning_curves
from gltui.store import QueueEntry, connection
from gltui.tui.images import to_pil

UI_BUSY_S = 2.0  # seconds a label waits for a write lock held elsewhere: the screen never freezes
PROVISIONAL_SIZE = 200  # images on offer while a round trains: more than a person labels in it
CONFIDENT = 0.9  # the review mode's default: the model's top guess at least this probable


@dataclass
class ProvisionalEntry(QueueEntry):
    """An image offered while the engine works: an audit image, or one the previous scoring pass
    ranked next (score: its score then). It has no queue row; its label counts for the next
    round (audit labels are never trained on)."""

    audit: bool = False


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
        self.strategy = row.strategy
        self.classes = list(self.project.classes)
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
        return self.project.store.queue(self.run, summary.round)

    def provisional(self, summary: RunSummary | None = None,
                    size: int = PROVISIONAL_SIZE) -> list[ProvisionalEntry]:
        """What a person can label while the engine trains and scores: the audit images still
        unlabeled (in the set's drawn order), then the latest finished pass's candidates by
        score, highest first, leaving out what is labeled or was in the latest queue. Before any
        pass (round 0), a random draw of the unlabeled pool stands in for the ranking."""
        summary = summary or self.summary()
        store = self.project.store
        audit = store.audit_queue()[:size]
        entries = [ProvisionalEntry(item, i, float("nan"), "pending", [], None, audit=True)
                   for i, item in enumerate(audit)]
        taken = set(store.labeled(self.run)[0].tolist())
        taken.update(e.item for e in store.queue(self.run, summary.round))
        passes = store.finished_passes(self.run)
        scored = store.pass_scores(self.run, passes[-1]) if passes else None
        if scored is not None and ranked_at_random(store, self.run, passes[-1]):
            scored = (scored[0], np.full(len(scored[0]), np.nan))  # a random order, no score
        if scored is not None:
            candidates, scores = scored
            order = np.argsort(np.where(np.isnan(scores), np.inf, -scores), kind="stable")
            ranked = ((int(candidates[i]), float(scores[i])) for i in order)
        else:
            pool = store.unlabeled_pool(self.run)
            rng = np.random.default_rng([summary.seed, summary.round])
            ranked = ((int(i), float("nan")) for i in rng.permutation(pool)[: size + len(taken)])
        for item, score in ranked:
            if len(entries) >= size:
                break
            if item not in taken:
                entries.append(ProvisionalEntry(item, len(entries), score, "pending", [], None))
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
        return self.labeler.relabel(item, label)

    def add_class(self, name: str) -> int:
        """A new class (ProjectError for an empty or repeated name); returns its index."""
        index = self.labeler.add_class(name)
        self.classes = list(self.project.classes)
        return index

    def history(self, limit: int = 500) -> list:
        """The run's active labels (store.rows.LabelDetail), newest first."""
        rows = self.project.store.labeled_detail(self.run)
        return sorted(rows, key=lambda r: r.time, reverse=True)[:limit]

    # -- reading --------------------------------------------------------------------------------

    def summary(self) -> RunSummary:
        return self.project.summary(self.run)

    def summaries(self) -> list[RunSummary]:
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
        labeled set as it is now when it differs from the last round's (the paper's Fig. 3)."""
        summary = summary or self.summary()
        rows = []
        for r in summary.rounds:
            hist = r.class_hist
            if hist:
                rows.append((f"r{r.round}", int(sum(hist)), [int(v) for v in hist]))
        _, labels = self.project.store.labeled(self.run)
        now = np.bincount(labels, minlength=len(self.classes)).tolist() if len(labels) else [
            0] * len(self.classes)
        if not rows or rows[-1][2] != now:
            rows.append(("now", int(sum(now)), [int(v) for v in now]))
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
        if index is None or not 0 <= index < len(self.classes):
            return "?"
        return self.classes[index]
