"""npz: one archive of arrays x, y, x_test, y_test, classes; images N x H x W (grey), N x H x W x C
or, when unambiguous, N x C x H x W; uint8, or floats in 0..1 or 0..255. Read whole into memory."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from gltui.data import core
from gltui.data.core import DataError, IndexNames, ReadResult, Split
from gltui.data.images import convert_splits


def _npz_images(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[3] in (1, 3, 4):  # N,H,W,C (the documented layout)
            arr = arr.transpose(0, 3, 1, 2)
        elif arr.shape[1] not in (1, 3, 4):  # N,C,H,W is accepted when unambiguous
            raise DataError(f"{path}: '{key}' has {arr.shape[3]} channels; expected 1, 3 or 4 "
                            f"(N,H,W,C)")
        if arr.shape[1] == 4:
            arr = arr[:, :3]  # drop alpha
    else:
        raise DataError(f"{path}: '{key}' has shape {arr.shape}; expected (N,H,W) or (N,H,W,C)")
    kind = arr.dtype.kind
    if kind == "f":
        if arr.size and not np.all(np.isfinite(arr)):
            raise DataError(f"{path}: '{key}' holds NaN or infinite values")
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if lo < 0 or hi > 255:
            raise DataError(f"{path}: '{key}' values span {lo:g}..{hi:g}; expected floats in "
                            f"0..1 or 0..255")
        scale = 255.0 if hi <= 1.0 else 1.0
        arr = np.rint(arr * scale).astype(np.uint8)
    elif kind in "iub" and arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DataError(f"{path}: '{key}' values span {arr.min()}..{arr.max()}; expected "
                            f"0..255")
        arr = arr.astype(np.uint8)
    elif kind not in "iubf":
        raise DataError(f"{path}: '{key}' has dtype {arr.dtype}; expected uint8 (or floats in "
                        f"0..1)")
    return np.ascontiguousarray(arr)


def _load_npz(path: Path) -> ReadResult:
    if path.is_dir():
        raise DataError(f"{path}: is a folder; npz: wants a .npz file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz archive (write one with numpy.savez(path, x=..., "
                        f"y=...))")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # BadZipFile, ValueError (object arrays), OSError, ...
        raise DataError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from e
    if "x" not in arrays:
        holds = ", ".join(sorted(arrays)) or "nothing"
        raise DataError(f"{path}: no array 'x' (holds: {holds}); expected x, y, x_test, "
                        f"y_test, classes")
    if "y_test" in arrays and "x_test" not in arrays:
        raise DataError(f"{path}: has 'y_test' but no 'x_test'")

    def split(xk: str, yk: str, prefix: str) -> Split:
        x = _npz_images(arrays[xk], path, xk)
        if len(x) == 0:
            raise DataError(f"{path}: '{xk}' holds no images (empty dataset)")
        y = None
        if yk in arrays:
            y = core.int_labels(arrays[yk], path, f"'{yk}'")
            if len(y) != len(x):
                raise DataError(f"{path}: '{yk}' has {len(y)} labels but '{xk}' has {len(x)} "
                                f"images")
        return Split(x, y, IndexNames(f"{prefix}:", len(x)))

    train = split("x", "y", "train")
    test = split("x_test", "y_test", "test") if "x_test" in arrays else None
    if test is not None and test.images.shape[1:] != train.images.shape[1:]:
        raise DataError(
            f"{path}: 'x_test' items are {test.images.shape[1:]} (C,H,W) but 'x' items are "
            f"{train.images.shape[1:]}"
        )
    if "classes" in arrays:
        c = arrays["classes"]
        if c.ndim != 1 or c.dtype.kind not in "US":
            raise DataError(f"{path}: 'classes' must be a 1-d array of strings, got {c.dtype} "
                            f"{c.shape}")
        classes = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                   for v in c.tolist()]
    else:
        classes = core.default_classes(train.labels, test.labels if test else None)
    core.check_label_range(train.labels, len(classes), path)
    core.check_label_range(test.labels if test else None, len(classes), path)
    return train, test, classes


def read(path: Path, *, resize: tuple[int, int] | None, channels: int | None,
         fit: str = "stretch", classes: Sequence[str] | None = None) -> ReadResult:
    return convert_splits(_load_npz(path), resize, channels, fit)
