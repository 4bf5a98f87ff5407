"""idx: MNIST-family IDX files (train/t10k images and labels, raw or .gz), also found in raw/ or
the torchvision layout ROOT/MNIST/raw. Each file is read straight into its array, no copy."""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from gltui.data.core import (
    DataError,
    IndexNames,
    ReadResult,
    Split,
    default_classes,
    require_regular_file,
)
from gltui.data.images import convert_splits

_IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$", re.IGNORECASE)
_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned bytes, 3 dims (images) / 1 dim (labels)


def _idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    """(train|t10k, images|labels) -> file; a raw file wins over its .gz (no decompression)."""
    found: dict[tuple[str, str], Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError as e:
        raise DataError(f"{folder}: cannot list folder ({e.strerror or e})") from e
    for p in entries:
        m = _IDX_NAME.match(p.name)
        if not m or p.is_dir():
            continue
        require_regular_file(p, "give the IDX file itself")  # a FIFO under an IDX name: refused
        prefix, kind, ndim, gz = m.group(1).lower(), m.group(2).lower(), m.group(3), m.group(4)
        if (kind == "images") != (ndim == "3"):
            continue
        key = (prefix, kind)
        if key not in found or (found[key].suffix.lower() == ".gz" and not gz):
            found[key] = p
    return found


def _find_idx_folder(root: Path) -> tuple[Path, dict[tuple[str, str], Path]]:
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; idx: wants the folder holding "
                        f"train-images-idx3-ubyte[.gz]")
    for cand in (root, root / "raw"):
        if cand.is_dir() and ("train", "images") in (files := _idx_files(cand)):
            return cand, files
    # torchvision layout: ROOT/MNIST/raw, ROOT/FashionMNIST/raw, ROOT/KMNIST/raw, ...
    hits = []
    for cand in sorted(p for p in root.glob("*/raw") if p.is_dir()):
        files = _idx_files(cand)
        if ("train", "images") in files:
            hits.append((cand, files))
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        names = ", ".join(str(c) for c, _ in hits)
        raise DataError(f"{root}: holds several IDX datasets ({names}); point idx: at one of them")
    raise DataError(
        f"{root}: no train-images-idx3-ubyte[.gz] here, in raw/ or in */raw/ "
        "(expected the MNIST-family IDX files or the torchvision MNIST/raw layout)"
    )


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """One IDX file -> a writable uint8 array of the header's dims, filled in place (no copy)."""
    want = _IDX_MAGIC[ndim]
    what = "images" if ndim == 3 else "labels"
    gz = path.suffix.lower() == ".gz"
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            head = f.read(4 + 4 * ndim)
            if len(head) < 4:
                raise DataError(f"{path}: too short to be an IDX file ({len(head)} bytes)")
            magic = int.from_bytes(head[:4], "big")
            if magic != want:
                raise DataError(
                    f"{path}: bad IDX magic number 0x{magic:08x}, expected 0x{want:08x} for {what} "
                    f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}); "
                    f"not an MNIST-family {what} file"
                )
            if len(head) < 4 + 4 * ndim:
                raise DataError(f"{path}: truncated IDX header ({len(head)} of {4 + 4 * ndim} "
                                f"bytes)")
            dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
            count = int(np.prod(dims, dtype=np.int64))
            shape = "x".join(map(str, dims))
            if not gz and count > (have := path.stat().st_size - len(head)):
                raise DataError(
                    f"{path}: truncated: the header promises {shape} = {count} bytes but only "
                    f"{have} "
                    "follow; the file is incomplete, fetch it again"
                )
            if count > 1 << 34:
                raise DataError(f"{path}: implausible IDX dimensions {dims}")
            out = np.empty(dims, np.uint8)
            view, filled = memoryview(out.reshape(-1)), 0
            while filled < count:
                n = f.readinto(view[filled:])
                if not n:
                    break
                filled += n
            if filled < count:
                raise DataError(
                    f"{path}: truncated: the header promises {shape} = {count} bytes but only "
                    f"{filled} "
                    "follow; the file is incomplete, fetch it again"
                )
            if f.read(1):
                raise DataError(f"{path}: more data than the header's {shape} promises; not a "
                                f"valid IDX file")
    except DataError:
        raise
    except EOFError as e:
        raise DataError(f"{path}: truncated gzip stream ({e}); the file is incomplete, fetch "
                        f"it again") from e
    except (OSError, zlib.error, ValueError) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from e
    return out


def _load_idx(root: Path) -> ReadResult:
    folder, files = _find_idx_folder(root)
    splits: dict[str, Split | None] = {}
    for prefix, split in (("train", "train"), ("t10k", "test")):
        img_path, lab_path = files.get((prefix, "images")), files.get((prefix, "labels"))
        if img_path is None:
            if lab_path is not None:
                raise DataError(f"{lab_path}: labels without images "
                                f"({prefix}-images-idx3-ubyte[.gz])")
            splits[split] = None
            continue
        images = _read_idx(img_path, 3)
        n = len(images)
        if n == 0:
            raise DataError(f"{img_path}: holds no images (empty dataset)")
        labels = None
        if lab_path is not None:
            labels = _read_idx(lab_path, 1).astype(np.int64)
            if len(labels) != n:
                raise DataError(
                    f"{lab_path}: {len(labels)} labels but {img_path.name} holds {n} images; "
                    "the files do not belong together"
                )
        names = IndexNames(f"{split}:", n)
        splits[split] = Split(images[:, None], labels, names)  # (N,H,W) -> (N,1,H,W): a view
    train, test = splits["train"], splits["test"]
    assert train is not None
    if test is not None and test.images.shape[1:] != train.images.shape[1:]:
        raise DataError(
            f"{files[('t10k', 'images')]}: test images are "
            f"{test.images.shape[2]}x{test.images.shape[3]} "
            f"but train images are {train.images.shape[2]}x{train.images.shape[3]}"
        )
    classes = default_classes(train.labels, test.labels if test else None, at_least=10)
    return train, test, classes



def read(path: Path, *, resize: tuple[int, int] | None, channels: int | None,
         fit: str = "stretch", classes: Sequence[str] | None = None) -> ReadResult:
    return convert_splits(_load_idx(path), resize, channels, fit)
