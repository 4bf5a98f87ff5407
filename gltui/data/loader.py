"""The spec KIND:PATH and the entry point: `load` checks what every reader shares (the spec, the
path, resize and channels) and dispatches to the reader of that kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from gltui.data import cifar, folder, idx, npy, npz
from gltui.data.core import DataError, Dataset, MixedShapes, Reader

READERS: dict[str, Reader] = {
    "idx": idx.read,
    "cifar": cifar.read,
    "folder": folder.read,
    "npz": npz.read,
    "npy": npy.read,
}
SPEC_KINDS = tuple(READERS)
FILE_KINDS = ("npz", "npy")  # kinds whose PATH is a file, not a folder


def parse_spec(spec: str) -> tuple[str, Path]:
    """"idx:DIR" -> ("idx", Path(DIR)). Splits at the first colon only, so paths may hold colons."""
    kind, sep, rest = str(spec).partition(":")
    kind = kind.strip().lower()
    kinds = ", ".join(f"{k}:{'FILE' if k in FILE_KINDS else 'DIR'}" for k in SPEC_KINDS)
    if not sep:
        raise DataError(f"dataset spec {spec!r} has no kind: write KIND:PATH, one of {kinds}")
    if kind not in SPEC_KINDS:
        raise DataError(f"dataset spec {spec!r}: unknown kind {kind!r}, use one of {kinds}")
    if not rest.strip():
        raise DataError(f"dataset spec {spec!r} has no path after '{kind}:'")
    return kind, Path(rest).expanduser()


def load(spec: str, *, resize: tuple[int, int] | None = None, channels: int | None = None,
         conform: Callable[[int], tuple[int, int, int]] | None = None) -> Dataset:
    """Read the dataset a spec names. resize=(H, W) and channels (1 or 3) convert every image.
    Without them, a folder of mixed sizes or channel counts is converted to conform(C) = (C, H, W)
    of its first image's channel count C (the project's input shape; Dataset.note says so), or,
    without conform, refused.
    npy: is memory-mapped and, unless converted, never read whole: a view of the file comes back."""
    kind, path = parse_spec(spec)
    resize = _check_resize(resize)
    if channels is not None and channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if not path.exists():
        raise DataError(f"{path}: no such {'file' if kind in FILE_KINDS else 'folder'} (from {spec!r})")
    note = None
    try:
        try:
            train, test, classes = READERS[kind](path, resize=resize, channels=channels)
        except MixedShapes as mixed:
            if conform is None or resize is not None or channels is not None:
                raise
            c, h, w = conform(mixed.first[0])
            train, test, classes = READERS[kind](path, resize=(h, w), channels=c)
            note = (f"the images differ in size or mode ({mixed.detail}): converted every one to "
                    f"{h}x{w} {'grey' if c == 1 else 'RGB'}, the model's input "
                    "(--resize HxW / --channels 1|3 choose another)")
    except OSError as e:  # the readers name files themselves; this is the net under them
        raise DataError(f"{e.filename or path}: {e.strerror or e}") from e
    return Dataset(train=train, test=test, classes=classes, spec=spec, note=note)


def _check_resize(resize: Any) -> tuple[int, int] | None:
    if resize is None:
        return None
    try:
        h, w = (int(v) for v in resize)
    except (TypeError, ValueError):
        raise DataError(f"resize must be (height, width), got {resize!r}") from None
    if h <= 0 or w <= 0:
        raise DataError(f"resize must be positive (height, width), got {resize!r}")
    return h, w
