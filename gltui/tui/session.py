"""What the screens read and write, in one place: a project opened on the UI thread.

Reads go through `Project` and the store's query methods (no SQL here); a label, skip or undo
goes through `project.Labeler`, so each key press is its own committed transaction. The engine
module (and with it torch) is imported on first use, never at import time.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from gltui.project import Project, RunSummary
from gltui.results import GALLERY_SIZE, Curve, Gallery, gallery, learning_curves
from gltui.tui.images import to_pil


class Session:
    """One run of one project, seen from the UI thread."""

    def __init__(self, path: str | Path, run: str = "main"):
        self.project = Project.open(path)
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

    def label(self, item: int, label: int) -> None:
        self.labeler.label(item, label)

    def skip(self, item: int) -> None:
        self.labeler.skip(item)

    def undo(self) -> int | None:
        return self.labeler.undo()

    # -- reading --------------------------------------------------------------------------------

    def summary(self) -> RunSummary:
        return self.project.summary(self.run)

    def summaries(self) -> list[RunSummary]:
        return self.project.summaries()

    def signals(self, summary: RunSummary | None = None):
        """The run's audit estimate and stop-set kappa (gltui.results.run_signals)."""
        from gltui.results import run_signals

        return run_signals(self.project.store, summary or self.summary())

    def curves(self, summaries: list[RunSummary] | None = None) -> list[Curve]:
        """Every run's curve, by the one rule of gltui.results (status and the report use it)."""
        return learning_curves(summaries or self.summaries())

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
        """The n most and n least confusing candidates of the latest finished scoring pass."""
        return gallery(self.project.store, self.run, size=n)

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
