"""npy: one uint8 array, memory-mapped (big pools); labels in POOL.labels.npy, class names in
POOL.classes.txt beside it. Unless converted, the file is never read whole: a view comes back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from gltui.data import core
from gltui.data.core import DataError, IndexNames, ReadResult, Split
from gltui.data.images import convert_array, is_padded

NPY_LABELS_SUFFIX = ".labels.npy"  # pool.npy -> pool.labels.npy: int labels, -1 = unknown
NPY_CLASSES_SUFFIX = ".classes.txt"  # pool.npy -> pool.classes.txt: one class name per line


def npy_companions(path: Path) -> tuple[Path, Path]:
    """The optional labels and class-name files that belong to an npy: pool file."""
    stem = path.name[: -len(".npy")] if path.name.lower().endswith(".npy") else path.name
    return path.with_name(stem + NPY_LABELS_SUFFIX), path.with_name(stem + NPY_CLASSES_SUFFIX)


def _npy_images(arr: np.ndarray, path: Path) -> np.ndarray:
    """The memory-mapped array as an (N, C, H, W) view: N x H x W gets a channel axis, N x H x W x C
    is transposed (a strided view; init copies it block by block), an alpha channel is dropped."""
    if arr.dtype != np.uint8:
        raise DataError(
            f"{path}: npy: wants uint8 pixels, got dtype {arr.dtype}; save x.astype(np.uint8) "
            "(or use npz:, which converts in memory)"
        )
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[1] not in (1, 3, 4):  # N,C,H,W is the documented layout
            if arr.shape[3] not in (1, 3, 4):
                raise DataError(
                    f"{path}: shape {arr.shape} has no channel axis of 1, 3 or 4; "
                    "expected (N,C,H,W), (N,H,W) or (N,H,W,C)"
                )
            arr = arr.transpose(0, 3, 1, 2)
        if arr.shape[1] == 4:
            arr = arr[:, :3]
    else:
        raise DataError(f"{path}: shape {arr.shape}; expected (N,C,H,W), (N,H,W) or (N,H,W,C)")
    if len(arr) == 0:
        raise DataError(f"{path}: holds no images (empty dataset)")
    return arr


def _load_npy(path: Path) -> ReadResult:
    if path.is_dir():
        raise DataError(f"{path}: is a folder; npy: wants a .npy file (numpy.save(path, x))")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:  # not .npy (ValueError), object arrays, truncated data, ...
        raise DataError(f"{path}: cannot memory-map as .npy ({type(e).__name__}: {e})") from e
    if not isinstance(arr, np.ndarray):  # an .npz under a .npy name loads as NpzFile
        raise DataError(f"{path}: is an .npz archive; use npz:{path}")
    images = _npy_images(arr, path)
    labels_path, classes_path = npy_companions(path)
    labels = None
    if os.path.lexists(labels_path):
        core.require_regular_file(labels_path, "make it a .npy file or remove it")
        try:
            raw = np.load(labels_path, allow_pickle=False)
        except Exception as e:
            raise DataError(f"{labels_path}: cannot read as .npy ({type(e).__name__}: {e})") from e
        labels = core.int_labels(raw, labels_path, "the labels")
        if len(labels) != len(images):
            raise DataError(
                f"{labels_path}: {len(labels)} labels but {path.name} holds {len(images)} images"
            )
    if os.path.lexists(classes_path):
        core.require_regular_file(classes_path, "make it a text file or remove it")
        try:
            lines = classes_path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"{classes_path}: cannot read ({e})") from e
        classes = [c.strip() for c in lines if c.strip()]
        if len(set(classes)) != len(classes):
            raise DataError(f"{classes_path}: a class name appears twice")
    else:
        classes = core.default_classes(labels)
    core.check_label_range(labels, len(classes), labels_path)
    return Split(images, labels, IndexNames("train:", len(images))), None, classes



def read(path: Path, *, resize: tuple[int, int] | None, channels: int | None,
         fit: str = "stretch", classes: Sequence[str] | None = None) -> ReadResult:
    train, test, classes = _load_npy(path)
    if (resize is not None and resize != train.images.shape[2:]) or channels not in (
        None, train.images.shape[1]
    ):  # converting makes an in-memory copy; the plain memory-mapped view stays a view
        _, _, h, w = train.images.shape
        train.padded = len(train.images) if is_padded((w, h), resize, fit) else 0
        train.images = convert_array(train.images, resize, channels, fit)
    return train, test, classes
