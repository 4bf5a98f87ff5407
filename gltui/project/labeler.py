"""A person's labels: each call is one committed transaction (nothing a person labeled is lost)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gltui.data.classes import check_class_name
from gltui.errors import ProjectError

if TYPE_CHECKING:
    from gltui.project.folder import Project

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
        if not 0 <= label < len(self.project.classes):
            raise ProjectError(f"label {label} is not a class of this project")

    def label(self, item: int, label: int) -> None:
        self._check_label(label)
        from gltui import faults  # test fault injection (GLTUI_TEST_FAULTS=1 only)

        self.store.add_label(self.run, None, item, label, "human",
                             before_commit=lambda: faults.point("person-label"))

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
        model has an output for it."""
        name = check_class_name(name, self.project.classes)
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
        if not 0 <= label < len(self.project.classes):
            raise ProjectError(f"label {label} is not a class of this project")
        try:
            self.store.add_audit_label(item, label, "human", run=self.run)
        except ValueError as err:
            raise ProjectError(str(err)) from None

    def undo_audit(self) -> int | None:
        """Undo the newest audit label; returns its item, or None when there is none."""
        return self.store.undo_audit_label(run=self.run)
