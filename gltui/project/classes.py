"""A class list that changes: `gltui classes PROJECT --add NAME | --rename OLD NEW | --merge A B`,
and the one reading of it every view uses (`ClassList`). No torch.

A class index is for ever (store/classes.py): labels, queue guesses, predictions and every round
model's outputs hold indices. So

- `--add` appends a class; the next round's model has an output for it (a round model trained
  before has one output fewer: predictions and exports name only the classes it knew);
- `--rename` changes a name, never an index;
- `--merge A B` rewrites every label of A to B (every run, undone rows too; the audit labels;
  the true labels) and keeps A as a tombstone merged into B. A model trained before the merge
  may still answer A: every view reads that answer as B (`ClassList.fold`). Later models keep an
  output for A that no label trains; the views fold it the same way.

Each change is one store transaction with its event: a kill at any instant leaves the old list
or the new one. Names go through data/classes.check_class_name (the one validator), and every
refusal is a ProjectError raised before anything is written.

Beside a running `gltui run` or the TUI: `--add` and `--rename` change no index, so they wait
only for SQLite's write lock (milliseconds) and the TUI shows the new list on its next redraw.
`--merge` rewrites labels that a round in flight may be training on, so it refuses while any
run of the project is being driven (it takes every run's lock, as `gltui add` does).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from gltui.data.classes import check_class_name, normal_form
from gltui.errors import ProjectError, RunLocked
from gltui.project.locks import run_lock
from gltui.store import Store

if TYPE_CHECKING:
    from gltui.project.folder import Project


@dataclass(frozen=True)
class ClassList:
    """The classes as every view shows them: the classes in use (`live`, in index order, with
    their names), and `fold`, which maps any class index ever stored to the class in use it
    counts as (a merged class to the class it went into)."""

    names: tuple[str, ...]  # per class index; a merged class reads as the class it went into
    own: tuple[str, ...]  # per class index, its own name (a merged class: the name it had)
    live: tuple[int, ...]  # the indices of the classes in use, ascending
    fold: np.ndarray  # int64 per class index: the class in use it counts as

    @classmethod
    def read(cls, store: Store) -> "ClassList":
        rows = store.class_rows()
        names = {r.index: r.name for r in rows}
        fold = np.arange(max((r.index for r in rows), default=-1) + 1, dtype=np.int64)
        for r in rows:
            if r.merged_into is not None:
                fold[r.index] = r.merged_into
        return cls(names=tuple(names.get(int(f), str(int(f))) for f in fold),
                   own=tuple(names.get(i, str(i)) for i in range(len(fold))),
                   live=tuple(r.index for r in rows if r.merged_into is None), fold=fold)

    @property
    def live_names(self) -> list[str]:
        return [self.names[i] for i in self.live]

    def name(self, index: int | None) -> str:
        """The name of any stored class index ("?" for None or an index never made)."""
        if index is None or not 0 <= index < len(self.names):
            return "?"
        return self.names[index]

    def is_live(self, index: int) -> bool:
        return 0 <= index < len(self.fold) and int(self.fold[index]) == index

    def position(self, index: int) -> int | None:
        """Where the class `index` counts is in the list of classes in use (the TUI's key)."""
        if not 0 <= index < len(self.fold):
            return None
        return self.live.index(int(self.fold[index]))

    def fold_counts(self, counts: Sequence[int]) -> list[int]:
        """Counts per class index (a round's class histogram: as long as the class list was
        then) as counts per class in use, in `live` order."""
        out = np.zeros(len(self.fold), dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)[: len(self.fold)]
        np.add.at(out, self.fold[: len(counts)], counts)
        return out[list(self.live)].tolist()

    def fold_labels(self, labels: np.ndarray) -> np.ndarray:
        """Class indices (predictions of a model trained before a merge) as classes in use."""
        labels = np.asarray(labels, dtype=np.int64)
        inside = (labels >= 0) & (labels < len(self.fold))
        return np.where(inside, self.fold[np.clip(labels, 0, max(0, len(self.fold) - 1))], labels)

    def fold_guesses(self, guesses: Sequence[Sequence]) -> list[list]:
        """A model's top guesses [[class, probability], ...] with merged classes added into the
        class they went into, best first."""
        total: dict[int, float] = {}
        for c, p in guesses:
            c = int(c)
            key = int(self.fold[c]) if 0 <= c < len(self.fold) else c
            total[key] = total.get(key, 0.0) + float(p)
        return [[c, p] for c, p in sorted(total.items(), key=lambda cp: -cp[1])]


@dataclass(frozen=True)
class ClassChange:
    """What `gltui classes` did: one line for the CLI."""

    line: str


def class_list(project: "Project") -> ClassList:
    return ClassList.read(project.store)


def _index(classes: ClassList, name: str, option: str) -> int:
    """The index of the class in use called `name`; ProjectError naming the classes otherwise."""
    name = normal_form(str(name).strip())
    for i in classes.live:
        if normal_form(classes.names[i]) == name:
            return i
    merged = [classes.names[i] for i, own in enumerate(classes.own)
              if own == name and not classes.is_live(i)]
    hint = f" (it was merged into {merged[0]!r})" if merged else ""
    shown = ", ".join(classes.live_names)
    raise ProjectError(f"{option}: no class {name!r}{hint}; the classes are: {shown}")


def add_class(project: "Project", name: str, run: str | None = None) -> ClassChange:
    """A new class at the end of the list; the next round's model learns it."""
    classes = class_list(project)
    name = check_class_name(name, classes.live_names)
    index = project.store.add_class(run, name)
    project.classes = project.store.classes()
    return ClassChange(f"added class {name!r} (index {index}); the next round's model has an "
                       "output for it")


def rename_class(project: "Project", old: str, new: str, run: str | None = None) -> ClassChange:
    """A class renamed (a typo fixed): every label keeps its class."""
    classes = class_list(project)
    index = _index(classes, old, "--rename")
    others = [n for i, n in zip(classes.live, classes.live_names) if i != index]
    new = check_class_name(new, others)
    if new == classes.names[index]:
        raise ProjectError(f"--rename: class {new!r} has that name already; give a new name")
    project.store.rename_class(index, new, run)
    project.classes = project.store.classes()
    return ClassChange(f"renamed class {old.strip()!r} to {new!r}; every label keeps its class")


def merge_classes(project: "Project", source: str, target: str,
                  run: str | None = None) -> ClassChange:
    """Class `source` folded into class `target` (see the module doc). Refused while any run of
    the project is being driven."""
    classes = class_list(project)
    a, b = _index(classes, source, "--merge"), _index(classes, target, "--merge")
    if a == b:
        raise ProjectError(f"--merge: {source!r} and {target!r} are one class; name two classes")
    if len(classes.live) <= 2:
        raise ProjectError("--merge: that would leave one class; a classifier needs two")
    with contextlib.ExitStack() as locks:
        for row in project.store.runs():
            try:
                locks.enter_context(run_lock(project, row.name))
            except RunLocked:
                raise ProjectError(
                    f"--merge: run {row.name!r} is being driven (gltui run, or the TUI); a merge "
                    "rewrites the labels a round in flight trains on: stop it (q in the TUI) "
                    "and merge again") from None
        changed = project.store.merge_class(a, b, run)
    project.classes = project.store.classes()
    n = changed["labels"] + changed["audit_labels"]
    truth = f", {changed['items']} true labels" if changed["items"] else ""
    return ClassChange(f"merged class {classes.names[a]!r} into {classes.names[b]!r}: "
                       f"{n} labels now say {classes.names[b]!r}{truth}; earlier models' "
                       f"answers {classes.names[a]!r} read as {classes.names[b]!r}")


def describe(project: "Project") -> list[str]:
    """`gltui classes PROJECT` with no change: one line per class in use (key, name, labels per
    run), then the merged ones."""
    classes = class_list(project)
    counts: dict[str, list[int]] = {}
    for row in project.store.runs():
        _, labels = project.store.labeled(row.name)
        counts[row.name] = classes.fold_counts(np.bincount(labels, minlength=len(classes.fold)))
    lines = []
    for pos, index in enumerate(classes.live):
        per_run = ", ".join(f"{run} {c[pos]}" for run, c in counts.items())
        lines.append(f"{pos:>4}  {classes.names[index]}  ({per_run or 'no runs'})")
    for index, own in enumerate(classes.own):
        if not classes.is_live(index):
            lines.append(f"   -  {own}: merged into {classes.names[index]!r}")
    return lines
