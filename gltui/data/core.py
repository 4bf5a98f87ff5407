"""The one in-memory form every reader produces, and the checks the readers share.

A `Dataset` is a train split (the pool source; the engine draws validation from it), an optional
test split and the class names. A `Split` is one uint8 array of shape N x C x H x W, int64 labels
with -1 for "unknown" (or None when the split has no labels at all), and one source reference per
item. A reader is `read(path, *, resize, channels) -> (train, test or None, classes)`.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

import numpy as np

from gltui.errors import DataError


class MixedShapes(DataError):
    """The images of one dataset differ in size or channel count (a folder of photos, say).
    `first` is the first image's (C, H, W); `detail` names two files that differ."""

    def __init__(self, message: str, first: tuple[int, ...], detail: str):
        super().__init__(message)
        self.first, self.detail = tuple(first), detail


class IndexNames(Sequence):
    """The names PREFIX0, PREFIX1, ... of a split whose items have no file names, made on demand:
    a million-image split holds one object here instead of a million strings."""

    def __init__(self, prefix: str, n: int):
        self.prefix, self.n = prefix, int(n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [f"{self.prefix}{j}" for j in range(*i.indices(self.n))]
        i = int(i)
        if not -self.n <= i < self.n:
            raise IndexError(f"name index {i} out of range for {self.n} items")
        return f"{self.prefix}{i % self.n}"

    def __iter__(self) -> Iterator[str]:
        return (f"{self.prefix}{i}" for i in range(self.n))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IndexNames):
            return (self.prefix, self.n) == (other.prefix, other.n)
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == self.n and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"IndexNames({self.prefix!r}, {self.n})"


@dataclass
class Split:
    # uint8, (N, C, H, W). C-contiguous in memory, except for npy: a read-only view of the
    # memory-mapped file (maybe strided: an N x H x W x C file is transposed, not copied).
    images: np.ndarray
    labels: np.ndarray | None  # int64 (N,), class index; -1 where unknown; None: no labels at all
    names: Sequence[str]  # one source reference per item, unique within the split (IndexNames)
    padded: int = 0  # images letterboxed with black bars (their aspect differs from the input's)
    # images of the source of kinds gltui does not read, left out: {".tif": 5}
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class Dataset:
    train: Split  # the pool source (validation is drawn from it later by the engine)
    test: Split | None
    classes: list[str]  # label i means classes[i]
    spec: str  # the spec it was loaded from
    note: str | None = None  # what loading changed (a mixed folder letterboxed), for one line

    @property
    def skipped(self) -> dict[str, int]:
        """Images of the source of kinds gltui does not read, left out, by extension (both
        splits)."""
        out = dict(self.train.skipped)
        for ext, n in (self.test.skipped if self.test is not None else {}).items():
            out[ext] = out.get(ext, 0) + n
        return out

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def height(self) -> int:
        return int(self.train.images.shape[2])

    @property
    def width(self) -> int:
        return int(self.train.images.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def fully_labeled(self) -> bool:
        """Every training image has a known label (an oracle can label any queue); else the
        images are a person's to label."""
        labels = self.train.labels
        return labels is not None and bool(len(labels)) and bool((labels >= 0).all())

    def with_test(self, test: "Dataset") -> "Dataset":
        """This dataset with `test`'s images (its own train split) as the test split (`--test`)."""
        if test.train.images.shape[1:] != self.train.images.shape[1:]:
            raise DataError(
                f"{test.spec}: images are {tuple(test.train.images.shape[1:])}, the data's are "
                f"{tuple(self.train.images.shape[1:])}; use --resize/--channels"
            )
        if test.classes != self.classes and test.train.labels is not None:
            raise DataError(f"{test.spec}: its classes differ from those of {self.spec}")
        return Dataset(self.train, test.train, self.classes, self.spec, self.note)

    def with_classes(self, names: list[str]) -> tuple["Dataset", str | None]:
        """The dataset with `names` as its classes (`--classes`), and a warning line when its own
        labels name fewer of them. Every class its labels name must be among `names` (matched by
        name), else DataError: the labels and --classes contradict each other."""
        named = _named_classes(self)
        unknown = [c for c in named if c not in names]
        if unknown:
            raise DataError(
                f"{self.spec}: its labels name class {unknown[0]!r}, which --classes does not list "
                f"({', '.join(names)}); add it to --classes or correct the labels"
            )
        index = np.array([names.index(c) for c in self.classes] or [0], dtype=np.int64)
        splits = []
        for split in (self.train, self.test):
            if split is not None and split.labels is not None and len(self.classes):
                labels = np.where(split.labels >= 0, index[np.maximum(split.labels, 0)], -1)
                split = Split(split.images, labels, split.names, split.padded, split.skipped)
            splits.append(split)
        warning = None
        if named and len(named) < len(names):
            missing = [c for c in names if c not in named]
            warning = (f"{self.spec}: its labels name {len(named)} of the {len(names)} classes; "
                       f"none yet for {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        return Dataset(splits[0], splits[1], list(names), self.spec, self.note), warning


def _named_classes(dataset: Dataset) -> list[str]:
    """The classes that at least one label of the dataset names."""
    used: set[int] = set()
    for split in (dataset.train, dataset.test):
        if split is not None and split.labels is not None:
            used.update(int(v) for v in np.unique(split.labels) if v >= 0)
    return [c for i, c in enumerate(dataset.classes) if i in used]


ReadResult = tuple[Split, Split | None, list[str]]  # (train, test, class names)


FITS = ("stretch", "letterbox")  # how an image meets another shape: scaled to it, or scaled
# within it keeping its aspect ratio and padded with zeros (black bars)


class Reader(Protocol):
    """What every reader module exposes as `read`: the splits and class names at `path`, every
    image converted to resize=(H, W) (by `fit`) and/or channels (1 or 3) when given; bad input ->
    DataError. `classes`: the class list a person gave (--classes), which only the folder reader
    uses (a sub-folder is a class when its name is one); the others' labels are matched by
    Dataset.with_classes."""

    def __call__(
        self, path: Path, *, resize: tuple[int, int] | None, channels: int | None,
        fit: str = "stretch", classes: Sequence[str] | None = None,
    ) -> ReadResult: ...


# --------------------------------------------------------------------------------------------
# checks and defaults shared by the readers


def require_regular_file(path: Path | str, fix: str = "give a regular file") -> int:
    """The size of `path` when it is a regular file (after symlinks); a FIFO, a device, a socket
    or a folder is a DataError before anything opens it (reading a FIFO or /dev/zero would
    block or never end)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from e
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
                if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a special file")
        raise DataError(f"{path}: is {kind}, not a regular file; {fix}")
    return int(st.st_size)


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters with an ellipsis: a name inside a one-line message."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def natural_key(name: str) -> tuple:
    """Class-name order: integers numerically ("2" < "10"), then everything else as text."""
    return (0, int(name), name) if re.fullmatch(r"-?\d+", name) else (1, name)


def int_labels(values: Any, source: Path | str, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{source}: {what} must be one label per image, got shape {arr.shape}")
    whole = arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr))
    if whole and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise DataError(f"{source}: {what} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def check_label_range(labels: np.ndarray | None, num_classes: int, source: Path | str) -> None:
    if labels is None or not labels.size:
        return
    lo, hi = int(labels.min()), int(labels.max())
    if lo < -1 or hi >= num_classes:
        bad = lo if lo < -1 else hi
        raise DataError(
            f"{source}: label {bad} is out of range for {num_classes} classes "
            f"(labels are 0..{num_classes - 1}, or -1 for unknown)"
        )


# The smallest images the networks take (learn/models.py: the small net's three 2x2 pools).
MIN_SIDE = 8

# More classes than any single-label image set has: a bigger class list or label is a wrong file
# (the class-file reader, array labels and the model folder all keep to it).
MAX_CLASSES = 10_000


def default_classes(*label_arrays: np.ndarray | None, at_least: int = 0) -> list[str]:
    top = max((int(a.max()) for a in label_arrays if a is not None and a.size), default=-1)
    if top >= MAX_CLASSES:
        raise DataError(f"label {top} would make {top + 1:,} classes, more than the "
                        f"{MAX_CLASSES:,} gltui takes; labels are class numbers 0..N-1: check "
                        "the label array")
    return [str(i) for i in range(max(top + 1, at_least))]
