"""cifar: the python pickles of CIFAR-10 (data_batch_1..5, test_batch, batches.meta) and CIFAR-100
(train, test, meta; fine labels), read through an unpickler that admits numpy arrays only."""

from __future__ import annotations

import importlib
import pickle
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gltui.data import core
from gltui.data.core import DataError, ReadResult, Split
from gltui.data.images import convert_splits


def _allowed_pickle_globals() -> dict[tuple[str, str], Any]:
    """What a CIFAR batch may reference: numpy's array/dtype reconstruction, nothing else.
    Old pickles name numpy.core.*, numpy 2 writes numpy._core.*; both resolve to what is
    installed."""

    def resolve(name: str, *modules: str) -> Any:
        for mod in modules:  # numpy 2 first: importing numpy.core there warns
            try:
                obj = getattr(importlib.import_module(mod), name, None)
            except ImportError:
                continue
            if obj is not None:
                return obj
        return None

    import codecs

    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # how protocol-2 pickles written by Python 3 store bytes
        ("_codecs", "encode"): codecs.encode,
    }
    for np_core in ("numpy.core", "numpy._core"):
        allowed[(f"{np_core}.multiarray", "_reconstruct")] = resolve(
            "_reconstruct", "numpy._core.multiarray", "numpy.core.multiarray"
        )
        allowed[(f"{np_core}.numeric", "_frombuffer")] = resolve(  # protocol-5 pickles
            "_frombuffer", "numpy._core.numeric", "numpy.core.numeric"
        )
    return {k: v for k, v in allowed.items() if v is not None}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, str, numbers and numpy arrays; refuses every other global,
    so a crafted file cannot run code (pickle.load would call whatever the file names)."""

    def __init__(self, file: Any, path: Path):
        super().__init__(file, encoding="bytes")
        self._path = path
        self._allowed = _allowed_pickle_globals()

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed.get((module, name))
        if obj is None:
            raise DataError(
                f"{self._path}: refusing to unpickle {module}.{name} "
                "(a CIFAR batch holds only numpy arrays, lists, bytes and numbers)"
            )
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(f"{self._path}: refusing to unpickle a persistent reference")


def _read_cifar_pickle(path: Path) -> dict[str, Any]:
    # a FIFO named data_batch_1 would block the open below
    core.require_regular_file(path, "give the CIFAR batch file itself")
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, path).load()
    except DataError:
        raise
    except Exception as e:  # a corrupt pickle can fail in many ways; all mean "bad input"
        raise DataError(f"{path}: not a readable CIFAR pickle ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict (a CIFAR batch), got a "
                        f"{type(obj).__name__}")
    return {(k.decode("latin-1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray | None]:
    d = _read_cifar_pickle(path)
    data = d.get("data")
    if not isinstance(data, np.ndarray):
        keys = ", ".join(sorted(d)) or "none"
        raise DataError(f"{path}: no 'data' array in this CIFAR batch (keys: {keys})")
    if data.ndim == 2 and data.shape[1] == 3072:
        data = data.reshape(-1, 3, 32, 32)
    if data.ndim != 4 or data.shape[1:] != (3, 32, 32):
        raise DataError(f"{path}: 'data' has shape {data.shape}, expected (N, 3072) or (N, 3, "
                        f"32, 32)")
    if data.dtype != np.uint8:
        if data.dtype.kind not in "iu" or (data.size and (data.min() < 0 or data.max() > 255)):
            raise DataError(f"{path}: 'data' must be uint8 pixels, got dtype {data.dtype}")
        data = data.astype(np.uint8)
    labels = None
    if label_key in d:
        try:
            labels = core.int_labels(d[label_key], path, f"'{label_key}'")
        except (TypeError, ValueError) as e:
            raise DataError(f"{path}: '{label_key}' is not a list of integers ({e})") from e
        if len(labels) != len(data):
            raise DataError(f"{path}: {len(labels)} labels for {len(data)} images")
    return data, labels


def _load_cifar(root: Path) -> ReadResult:
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; cifar: wants the cifar-10-batches-py folder or "
                        f"its parent")
    for sub in ("cifar-10-batches-py", "cifar-100-python"):
        if (root / sub).is_dir():
            root = root / sub
            break
    batches = sorted(
        (p for p in root.glob("data_batch_*") if re.fullmatch(r"data_batch_\d+", p.name)),
        key=lambda p: int(p.name.rsplit("_", 1)[1]),
    )
    if batches:  # CIFAR-10
        test_files, meta = [root / "test_batch"], root / "batches.meta"
        label_key, names_key = "labels", "label_names"
    elif (root / "train").is_file():  # CIFAR-100: train, test, meta; fine labels
        batches, test_files = [root / "train"], [root / "test"]
        meta, label_key, names_key = root / "meta", "fine_labels", "fine_label_names"
    else:
        raise DataError(
            f"{root}: no data_batch_1..5 here or in cifar-10-batches-py/ "
            "(expected the CIFAR-10 python version)"
        )

    classes: list[str] | None = None
    if meta.is_file():
        raw = _read_cifar_pickle(meta).get(names_key)
        if raw is not None:
            try:
                classes = [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in raw]
            except (TypeError, UnicodeDecodeError) as e:
                raise DataError(f"{meta}: '{names_key}' is not a list of names ({e})") from e

    def read_split(paths: list[Path]) -> Split:
        parts = [(p, *_cifar_batch(p, label_key)) for p in paths]
        if classes is not None:
            for p, _, y in parts:
                core.check_label_range(y, len(classes), p)
        arrays = [x for _, x, _ in parts]
        images = np.ascontiguousarray(arrays[0] if len(arrays) == 1 else np.concatenate(arrays))
        if len(images) == 0:
            raise DataError(f"{paths[0]}: holds no images (empty dataset)")
        have = [y is not None for _, _, y in parts]
        if any(have) and not all(have):
            missing = next(p for p, _, y in parts if y is None)
            raise DataError(f"{missing}: has no '{label_key}' while the other batches do")
        labels = np.concatenate([y for _, _, y in parts]) if all(have) else None
        names = [f"{p.name}:{i}" for p, x, _ in parts for i in range(len(x))]
        return Split(images, labels, names)

    train = read_split(batches)
    test = read_split(test_files) if test_files[0].is_file() else None
    if classes is None:
        classes = core.default_classes(train.labels, test.labels if test else None, at_least=10)
        # only -2 and below can fail here:
        core.check_label_range(train.labels, len(classes), batches[0])
        core.check_label_range(test.labels if test else None, len(classes), test_files[0])
    return train, test, classes


def read(path: Path, *, resize: tuple[int, int] | None, channels: int | None,
         fit: str = "stretch", classes: Sequence[str] | None = None) -> ReadResult:
    return convert_splits(_load_cifar(path), resize, channels, fit)
