"""The spec KIND:PATH and the entry point: `load` checks what every reader shares (the spec, the
path, resize and channels) and dispatches to the reader of that kind."""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from gltui.data import cifar, folder, idx, npy, npz
from gltui.data.core import FITS, DataError, Dataset, MixedShapes, Reader, require_regular_file

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
         conform: Callable[[int], tuple[int, int, int]] | None = None, fit: str = "stretch",
         classes: Sequence[str] | None = None) -> Dataset:
    """Read the dataset a spec names. resize=(H, W) and channels (1 or 3) convert every image,
    by `fit`: "stretch" (scaled to H x W) or "letterbox" (its aspect ratio kept, black bars).
    Without them, a folder of mixed sizes or modes (or of images over decode.MAX_NATIVE_SIDE) is
    letterboxed to conform(C) = (C, H, W) of its first image's channel count C (the model's
    input; Dataset.note says so), or, without conform, refused. classes: the person's class list
    (folder: a top-level sub-folder is a class only when it names one).
    npy: is memory-mapped and, unless converted, never read whole: a view of the file comes back.
    A FIFO or device as a file spec is refused before it is opened; PIL's decompression-bomb
    warning is an error (a DataError naming the file), never a line of its own on stderr."""
    kind, path = parse_spec(spec)
    resize = _check_resize(resize)
    if channels is not None and channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if fit not in FITS:
        raise DataError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if not os.path.lexists(path):
        raise DataError(f"{path}: no such {'file' if kind in FILE_KINDS else 'folder'} (from "
                        f"{spec!r})")
    if kind in FILE_KINDS:
        require_regular_file(path, f"give a .{kind} file")
    note = None
    read = READERS[kind]
    try:
        with _bombs_are_errors(kind):
            try:
                train, test, found = read(path, resize=resize, channels=channels, fit=fit,
                                          classes=classes)
            except MixedShapes as mixed:
                if conform is None or resize is not None:
                    raise
                c, h, w = conform(channels or mixed.first[0])
                c = channels or c
                train, test, found = read(path, resize=(h, w), channels=c, fit="letterbox",
                                          classes=classes)
                note = (f"{mixed.detail}: letterboxed to {h}x{w} {'grey' if c == 1 else 'RGB'}, "
                        f"the model's input{_padding(train, test, (h, w))}; --resize HxW "
                        "stretches instead")
    except OSError as e:  # the readers name files themselves; this is the net under them
        raise DataError(f"{e.filename or path}: {e.strerror or e}") from e
    if note is None and fit == "letterbox" and resize is not None:
        padding = _padding(train, test, resize)
        note = f"letterboxed to {resize[0]}x{resize[1]}{padding}" if padding else None
    return Dataset(train=train, test=test, classes=found, spec=spec, note=note)


def _padding(train, test, shape: tuple[int, int]) -> str:
    """', 41 images not square, padded with black' (or of another aspect ratio), or ''."""
    n = train.padded + (test.padded if test is not None else 0)
    if not n:
        return ""
    what = "not square" if shape[0] == shape[1] else "of another aspect ratio"
    return f", {n} image{'s' if n != 1 else ''} {what} (padded with black)"


@contextlib.contextmanager
def _bombs_are_errors(kind: str) -> Iterator[None]:
    """PIL's DecompressionBombWarning raised as an error while a folder is read (the decoding
    threads run inside and see the process-wide filter), so it becomes the file's one line."""
    if kind != "folder":
        yield
        return
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


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
