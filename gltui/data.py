"""Dataset readers: every supported source becomes one in-memory form.

A `Dataset` is a train split (the pool source; the engine draws validation from it), an optional
test split and the class names. A `Split` is one contiguous uint8 array of shape N x C x H x W (an
`np.memmap` for big folders read with a cache), int64 labels with -1 for "unknown" (or None when
the split has no labels at all), and one source reference per item.

    load("idx:../shared/datasets/mnist")      MNIST-family IDX files, raw or .gz, torchvision layout
    load("cifar:data/cifar-10-batches-py")    the CIFAR-10 (or CIFAR-100) python pickles
    load("folder:photos")                     image files; class sub-folders or labels.csv
    load("npz:digits.npz")                    arrays x, y, x_test, y_test, classes
    load("npy:pool.npy")                      one uint8 array, memory-mapped (big pools); labels
                                              in pool.labels.npy, class names in pool.classes.txt

Every bad input raises `DataError` whose message is one line naming the file and the problem; no
reader lets an OSError, a PIL error or a pickle error escape for bad input. Only numpy and PIL are
used (PIL imported lazily), so importing this module stays cheap and headless.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib
import json
import os
import pickle
import re
import uuid
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:  # PIL is imported where it is used: `import gltui.data` stays light
    from PIL import Image

SPEC_KINDS = ("idx", "cifar", "folder", "npz", "npy")
FILE_KINDS = ("npz", "npy")  # kinds whose PATH is a file, not a folder
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
MEMMAP_THRESHOLD = 100_000  # folders with more files go to a memory-mapped .npy when cache_dir is set
LABELS_CSV = "labels.csv"
TEST_DIR = "test"
CONVERT_HINT = "convert them with --resize HxW and/or --channels 1|3"  # the CLI flags
_CACHE_VERSION = 1  # bump when the decoded pixels of the same files would change
_CHUNK = 128  # images per thread-pool task: large enough to amortise the task overhead
# Threads only pay off when decoding dominates: for MNIST-sized PNGs the per-file Python work
# (open, header parsing) holds the GIL and 2 threads ran 2x slower than 1 (measured, 2 cores).
_THREAD_MIN_PIXELS = 64 * 64


class DataError(Exception):
    """Bad input. str(err) is ONE line naming the offending file/path and the problem and, where
    possible, the fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split("\n")))


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

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class Dataset:
    train: Split  # the pool source (validation is drawn from it later by the engine)
    test: Split | None
    classes: list[str]  # label i means classes[i]
    spec: str  # the spec it was loaded from

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


# --------------------------------------------------------------------------------------------
# spec and entry point


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


def load(
    spec: str,
    *,
    resize: tuple[int, int] | None = None,
    channels: int | None = None,
    cache_dir: Path | None = None,
) -> Dataset:
    """Read the dataset a spec names. resize=(H, W) and channels (1 or 3) convert every image;
    without them a folder of mixed sizes or channel counts is an error. cache_dir lets folders of
    more than MEMMAP_THRESHOLD files be decoded once into a memory-mapped .npy and reused.
    npy: is memory-mapped and, unless converted, never read whole: a view of the file comes back."""
    kind, path = parse_spec(spec)
    resize = _check_resize(resize)
    if channels is not None and channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if not path.exists():
        raise DataError(f"{path}: no such {'file' if kind in FILE_KINDS else 'folder'} (from {spec!r})")
    try:
        if kind == "folder":
            train, test, classes = _load_folder(path, resize, channels, cache_dir)
        elif kind == "npy":
            train, test, classes = _load_npy(path)
            if (resize is not None and resize != train.images.shape[2:]) or channels not in (
                None, train.images.shape[1]
            ):  # converting makes an in-memory copy; the plain memory-mapped view stays a view
                train.images = _convert_array(train.images, resize, channels)
        else:
            reader = {"idx": _load_idx, "cifar": _load_cifar, "npz": _load_npz}[kind]
            train, test, classes = reader(path)
            train.images = _convert_array(train.images, resize, channels)
            if test is not None:
                test.images = _convert_array(test.images, resize, channels)
    except OSError as e:  # the readers name files themselves; this is the net under them
        raise DataError(f"{e.filename or path}: {e.strerror or e}") from e
    return Dataset(train=train, test=test, classes=classes, spec=spec)


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


# --------------------------------------------------------------------------------------------
# small shared helpers


def _natural_key(name: str) -> tuple:
    """Class-name order: integers numerically ("2" < "10"), then everything else as text."""
    return (0, int(name), name) if re.fullmatch(r"-?\d+", name) else (1, name)


def _int_labels(values: Any, source: Path | str, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{source}: {what} must be one label per image, got shape {arr.shape}")
    if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise DataError(f"{source}: {what} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_label_range(labels: np.ndarray | None, num_classes: int, source: Path | str) -> None:
    if labels is None or not labels.size:
        return
    lo, hi = int(labels.min()), int(labels.max())
    if lo < -1 or hi >= num_classes:
        bad = lo if lo < -1 else hi
        raise DataError(
            f"{source}: label {bad} is out of range for {num_classes} classes "
            f"(labels are 0..{num_classes - 1}, or -1 for unknown)"
        )


def _default_classes(*label_arrays: np.ndarray | None, at_least: int = 0) -> list[str]:
    top = max((int(a.max()) for a in label_arrays if a is not None and a.size), default=-1)
    return [str(i) for i in range(max(top + 1, at_least))]


# --------------------------------------------------------------------------------------------
# idx: MNIST-family IDX files

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
        if not m or not p.is_file():
            continue
        prefix, kind, ndim, gz = m.group(1).lower(), m.group(2).lower(), m.group(3), m.group(4)
        if (kind == "images") != (ndim == "3"):
            continue
        key = (prefix, kind)
        if key not in found or (found[key].suffix.lower() == ".gz" and not gz):
            found[key] = p
    return found


def _find_idx_folder(root: Path) -> tuple[Path, dict[tuple[str, str], Path]]:
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; idx: wants the folder holding train-images-idx3-ubyte[.gz]")
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
                raise DataError(f"{path}: truncated IDX header ({len(head)} of {4 + 4 * ndim} bytes)")
            dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
            count = int(np.prod(dims, dtype=np.int64))
            shape = "x".join(map(str, dims))
            if not gz and count > (have := path.stat().st_size - len(head)):
                raise DataError(
                    f"{path}: truncated: the header promises {shape} = {count} bytes but only {have} "
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
                    f"{path}: truncated: the header promises {shape} = {count} bytes but only {filled} "
                    "follow; the file is incomplete, fetch it again"
                )
            if f.read(1):
                raise DataError(f"{path}: more data than the header's {shape} promises; not a valid IDX file")
    except DataError:
        raise
    except EOFError as e:
        raise DataError(f"{path}: truncated gzip stream ({e}); the file is incomplete, fetch it again") from e
    except (OSError, zlib.error, ValueError) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from e
    return out


def _load_idx(root: Path) -> tuple[Split, Split | None, list[str]]:
    folder, files = _find_idx_folder(root)
    splits: dict[str, Split | None] = {}
    for prefix, split in (("train", "train"), ("t10k", "test")):
        img_path, lab_path = files.get((prefix, "images")), files.get((prefix, "labels"))
        if img_path is None:
            if lab_path is not None:
                raise DataError(f"{lab_path}: labels without images ({prefix}-images-idx3-ubyte[.gz])")
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
            f"{files[('t10k', 'images')]}: test images are {test.images.shape[2]}x{test.images.shape[3]} "
            f"but train images are {train.images.shape[2]}x{train.images.shape[3]}"
        )
    classes = _default_classes(train.labels, test.labels if test else None, at_least=10)
    return train, test, classes


# --------------------------------------------------------------------------------------------
# cifar: the python pickles of CIFAR-10 (and CIFAR-100)


def _allowed_pickle_globals() -> dict[tuple[str, str], Any]:
    """What a CIFAR batch may reference: numpy's array/dtype reconstruction, nothing else.
    Old pickles name numpy.core.*, numpy 2 writes numpy._core.*; both resolve to what is installed."""

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
        ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles written by Python 3 store bytes
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = resolve(
            "_reconstruct", "numpy._core.multiarray", "numpy.core.multiarray"
        )
        allowed[(f"{core}.numeric", "_frombuffer")] = resolve(  # protocol-5 pickles
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
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, path).load()
    except DataError:
        raise
    except Exception as e:  # a corrupt pickle can fail in many ways; all mean "bad input"
        raise DataError(f"{path}: not a readable CIFAR pickle ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict (a CIFAR batch), got a {type(obj).__name__}")
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
        raise DataError(f"{path}: 'data' has shape {data.shape}, expected (N, 3072) or (N, 3, 32, 32)")
    if data.dtype != np.uint8:
        if data.dtype.kind not in "iu" or (data.size and (data.min() < 0 or data.max() > 255)):
            raise DataError(f"{path}: 'data' must be uint8 pixels, got dtype {data.dtype}")
        data = data.astype(np.uint8)
    labels = None
    if label_key in d:
        try:
            labels = _int_labels(d[label_key], path, f"'{label_key}'")
        except (TypeError, ValueError) as e:
            raise DataError(f"{path}: '{label_key}' is not a list of integers ({e})") from e
        if len(labels) != len(data):
            raise DataError(f"{path}: {len(labels)} labels for {len(data)} images")
    return data, labels


def _load_cifar(root: Path) -> tuple[Split, Split | None, list[str]]:
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; cifar: wants the cifar-10-batches-py folder or its parent")
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
                _check_label_range(y, len(classes), p)
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
        classes = _default_classes(train.labels, test.labels if test else None, at_least=10)
        _check_label_range(train.labels, len(classes), batches[0])  # only -2 and below can fail here
        _check_label_range(test.labels if test else None, len(classes), test_files[0])
    return train, test, classes


# --------------------------------------------------------------------------------------------
# npz: arrays x, y, x_test, y_test, classes


def _npz_images(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[3] in (1, 3, 4):  # N,H,W,C (the documented layout)
            arr = arr.transpose(0, 3, 1, 2)
        elif arr.shape[1] not in (1, 3, 4):  # N,C,H,W is accepted when unambiguous
            raise DataError(f"{path}: '{key}' has {arr.shape[3]} channels; expected 1, 3 or 4 (N,H,W,C)")
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
            raise DataError(f"{path}: '{key}' values span {lo:g}..{hi:g}; expected floats in 0..1 or 0..255")
        scale = 255.0 if hi <= 1.0 else 1.0
        arr = np.rint(arr * scale).astype(np.uint8)
    elif kind in "iub" and arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DataError(f"{path}: '{key}' values span {arr.min()}..{arr.max()}; expected 0..255")
        arr = arr.astype(np.uint8)
    elif kind not in "iubf":
        raise DataError(f"{path}: '{key}' has dtype {arr.dtype}; expected uint8 (or floats in 0..1)")
    return np.ascontiguousarray(arr)


def _load_npz(path: Path) -> tuple[Split, Split | None, list[str]]:
    if path.is_dir():
        raise DataError(f"{path}: is a folder; npz: wants a .npz file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz archive (write one with numpy.savez(path, x=..., y=...))")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # BadZipFile, ValueError (object arrays), OSError, ...
        raise DataError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from e
    if "x" not in arrays:
        holds = ", ".join(sorted(arrays)) or "nothing"
        raise DataError(f"{path}: no array 'x' (holds: {holds}); expected x, y, x_test, y_test, classes")
    if "y_test" in arrays and "x_test" not in arrays:
        raise DataError(f"{path}: has 'y_test' but no 'x_test'")

    def split(xk: str, yk: str, prefix: str) -> Split:
        x = _npz_images(arrays[xk], path, xk)
        if len(x) == 0:
            raise DataError(f"{path}: '{xk}' holds no images (empty dataset)")
        y = None
        if yk in arrays:
            y = _int_labels(arrays[yk], path, f"'{yk}'")
            if len(y) != len(x):
                raise DataError(f"{path}: '{yk}' has {len(y)} labels but '{xk}' has {len(x)} images")
        return Split(x, y, IndexNames(f"{prefix}:", len(x)))

    train = split("x", "y", "train")
    test = split("x_test", "y_test", "test") if "x_test" in arrays else None
    if test is not None and test.images.shape[1:] != train.images.shape[1:]:
        raise DataError(
            f"{path}: 'x_test' items are {test.images.shape[1:]} (C,H,W) but 'x' items are {train.images.shape[1:]}"
        )
    if "classes" in arrays:
        c = arrays["classes"]
        if c.ndim != 1 or c.dtype.kind not in "US":
            raise DataError(f"{path}: 'classes' must be a 1-d array of strings, got {c.dtype} {c.shape}")
        classes = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in c.tolist()]
    else:
        classes = _default_classes(train.labels, test.labels if test else None)
    _check_label_range(train.labels, len(classes), path)
    _check_label_range(test.labels if test else None, len(classes), path)
    return train, test, classes


# --------------------------------------------------------------------------------------------
# npy: one uint8 array, memory-mapped; labels and class names in files beside it

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


def _load_npy(path: Path) -> tuple[Split, Split | None, list[str]]:
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
    if labels_path.is_file():
        try:
            raw = np.load(labels_path, allow_pickle=False)
        except Exception as e:
            raise DataError(f"{labels_path}: cannot read as .npy ({type(e).__name__}: {e})") from e
        labels = _int_labels(raw, labels_path, "the labels")
        if len(labels) != len(images):
            raise DataError(
                f"{labels_path}: {len(labels)} labels but {path.name} holds {len(images)} images"
            )
    if classes_path.is_file():
        try:
            lines = classes_path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"{classes_path}: cannot read ({e})") from e
        classes = [c.strip() for c in lines if c.strip()]
        if len(set(classes)) != len(classes):
            raise DataError(f"{classes_path}: a class name appears twice")
    else:
        classes = _default_classes(labels)
    _check_label_range(labels, len(classes), labels_path)
    return Split(images, labels, IndexNames("train:", len(images))), None, classes


# --------------------------------------------------------------------------------------------
# folder: image files, class sub-folders or labels.csv


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _skip(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _scan_tree(folder: Path, prefix: str, seen: set[str]) -> list[str]:
    """Image files under folder (recursively, symlinks followed once), as prefix + relative path."""
    out: list[str] = []
    stack = [(folder, prefix)]
    while stack:
        d, pre = stack.pop()
        real = os.path.realpath(d)
        if real in seen:  # a symlink loop or a folder linked twice
            continue
        seen.add(real)
        try:
            entries = list(os.scandir(d))
        except OSError as e:
            raise DataError(f"{d}: cannot list folder ({e.strerror or e})") from e
        for e in entries:
            if _skip(e.name):
                continue
            if e.is_dir():
                stack.append((Path(e.path), f"{pre}{e.name}/"))
            elif _is_image_name(e.name) and e.is_file():
                out.append(pre + e.name)
    return out


@dataclass
class _FolderScan:
    root: Path  # the split's folder
    rels: list[str]  # sorted relative paths of its image files
    dir_class: list[str | None]  # class sub-folder of each file, None at the top level
    class_dirs: list[str]  # class sub-folder names, natural order


def _scan_split(root: Path) -> _FolderScan:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        raise DataError(f"{root}: cannot list folder ({e.strerror or e})") from e
    pairs: list[tuple[str, str | None]] = []
    class_dirs = []
    seen = {os.path.realpath(root)}
    for e in entries:
        if _skip(e.name):
            continue
        if e.is_dir():
            if e.name == TEST_DIR:  # the test split (or, below it, ignored): never a class
                continue
            files = _scan_tree(Path(e.path), f"{e.name}/", seen)
            if files:
                class_dirs.append(e.name)
                pairs.extend((f, e.name) for f in files)
        elif _is_image_name(e.name) and e.is_file():
            pairs.append((e.name, None))
    pairs.sort()
    rels, dir_class = [r for r, _ in pairs], [c for _, c in pairs]
    return _FolderScan(root, rels, dir_class, sorted(class_dirs, key=_natural_key))


def _read_labels_csv(path: Path, known: set[str]) -> dict[str, tuple[str, int]]:
    """labels.csv (header file,label) -> {relative path: (label, line number)}; '' label = unknown."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot read ({e})") from e
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not numbered:
        raise DataError(f"{path}: empty; expected a header 'file,label' and one row per image")
    line, header = numbered[0]
    cols = [c.strip().lower() for c in header]
    if "file" not in cols or "label" not in cols:
        raise DataError(f"{path}: line {line}: expected the header 'file,label', got {','.join(header)!r}")
    fi, li = cols.index("file"), cols.index("label")
    out: dict[str, tuple[str, int]] = {}
    for line, row in numbered[1:]:
        if len(row) != len(cols):
            raise DataError(
                f"{path}: line {line}: malformed row {','.join(row)!r}, expected {len(cols)} fields (file,label)"
            )
        name, label = row[fi].strip().replace("\\", "/"), row[li].strip()
        name = str(PurePosixPath(name)) if name else name  # "./a.png" -> "a.png"
        if not name:
            raise DataError(f"{path}: line {line}: malformed row {','.join(row)!r}, the file name is empty")
        if name not in known:
            raise DataError(f"{path}: line {line}: names {name!r}, not an image file in {path.parent}")
        if name in out and out[name][0] != label:
            raise DataError(
                f"{path}: line {line}: {name!r} labelled {label!r} but line {out[name][1]} says {out[name][0]!r}"
            )
        out[name] = (label, line)
    return out


def _folder_labels(scan: _FolderScan, fixed: list[str] | None) -> tuple[np.ndarray | None, list[str]]:
    """Labels of one split and the class list they index. fixed: the class list the split must
    use (the train split's, for the test split); else sub-folders or labels.csv define it."""
    csv_path = scan.root / LABELS_CSV
    rows = _read_labels_csv(csv_path, set(scan.rels)) if csv_path.is_file() else None
    if not scan.class_dirs and rows is None:
        return None, list(fixed or [])  # no labels at all in this split
    if fixed:
        classes = fixed
        for d in scan.class_dirs:
            if d not in classes:
                known = ", ".join(classes)
                raise DataError(f"{scan.root / d}: class {d!r} is not one of the training classes ({known})")
    elif scan.class_dirs:
        classes = scan.class_dirs
    else:
        assert rows is not None
        classes = sorted({lab for lab, _ in rows.values() if lab}, key=_natural_key)
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] if c is not None else -1 for c in scan.dir_class], dtype=np.int64)
    if rows:
        pos = {r: i for i, r in enumerate(scan.rels)}
        for name, (lab, line) in rows.items():
            i = pos[name]
            if lab and lab not in index:
                known = ", ".join(classes)
                raise DataError(f"{csv_path}: line {line}: unknown class {lab!r} for {name!r} (classes: {known})")
            want = index[lab] if lab else -1
            if scan.dir_class[i] is not None and want != labels[i]:
                raise DataError(
                    f"{csv_path}: line {line}: labels {name!r} as {lab!r} "
                    f"but it lies in class folder {scan.dir_class[i]!r}"
                )
            labels[i] = want
    return labels, classes


def _image_to_array(im: Image.Image, resize: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    """A decoded PIL image -> (C, H, W) uint8 view. Grey stays 1 channel, everything else RGB,
    unless channels says otherwise; 16-bit grey keeps its top 8 bits."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.int64)
        im, mode = Image.fromarray((np.clip(a, 0, 65535) >> 8).astype(np.uint8)), "L"
    elif mode == "F":
        im, mode = Image.fromarray(np.clip(np.asarray(im), 0, 255).astype(np.uint8)), "L"
    grey = mode in ("L", "1", "LA", "La")
    target = {1: "L", 3: "RGB"}.get(channels or 0, "L" if grey else "RGB")
    if mode != target:
        if mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")  # PIL warns when P-with-transparency goes straight to RGB
        im = im.convert(target)
    if resize is not None and im.size != (resize[1], resize[0]):
        im = im.resize((resize[1], resize[0]), Image.Resampling.BILINEAR)
    a = np.asarray(im)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _decode(path: Path, resize: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            return _image_to_array(im, resize, channels)
    except DataError:
        raise
    except Exception as e:  # UnidentifiedImageError, truncated data, decompression bomb, ...
        try:
            size: int | None = path.stat().st_size
        except OSError:
            size = None
        if size == 0:
            problem = "empty file, 0 bytes"
        elif isinstance(e, OSError) and e.errno is not None:
            problem = e.strerror or str(e)
        else:  # PIL's messages repeat the path; the message names it once, up front
            problem = str(e).replace(f"'{path}'", "").replace(str(path), "").strip(" :") or type(e).__name__
        raise DataError(f"{path}: not a readable image ({problem}); replace or remove the file") from e


def _describe(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    return f"{h}x{w} {'grey' if c == 1 else 'RGB' if c == 3 else f'{c}-channel'}"


def _fill(out: np.ndarray, paths: list[Path], start: int, stop: int, resize, channels, first: Path) -> None:
    shape = out.shape[1:]
    for i in range(start, stop):
        a = _decode(paths[i], resize, channels)
        if a.shape != shape:
            raise DataError(
                f"{paths[i]}: image is {_describe(a.shape)} but {first.name} is {_describe(shape)}; {CONVERT_HINT}"
            )
        out[i] = a


def _decode_all(
    paths: list[Path],
    resize: tuple[int, int] | None,
    channels: int | None,
    expect: tuple[int, ...] | None,
    alloc: Callable[[tuple[int, ...]], np.ndarray],
) -> np.ndarray:
    """Decode every file into one preallocated (N, C, H, W) array: the first image fixes the
    shape; the rest are decoded straight into it (by threads for larger images: PIL decodes
    without holding the GIL)."""
    first = _decode(paths[0], resize, channels)
    if expect is not None and first.shape != expect:
        raise DataError(
            f"{paths[0]}: test image is {_describe(first.shape)} "
            f"but the train images are {_describe(expect)}; {CONVERT_HINT}"
        )
    out = alloc((len(paths), *first.shape))
    out[0] = first
    n = len(paths)
    workers = min(8, os.cpu_count() or 1, max(1, (n - 1) // _CHUNK))
    if workers <= 1 or first.shape[1] * first.shape[2] < _THREAD_MIN_PIXELS:
        _fill(out, paths, 1, n, resize, channels, paths[0])
        return out
    with ThreadPoolExecutor(workers, thread_name_prefix="gltui-decode") as pool:
        futures = [
            pool.submit(_fill, out, paths, s, min(s + _CHUNK, n), resize, channels, paths[0])
            for s in range(1, n, _CHUNK)
        ]
        try:
            for fut in futures:  # in order: the first offending file is reported
                fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    return out


def _cache_key(paths: list[Path], split: str, resize, channels) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([_CACHE_VERSION, split, resize, channels]).encode())
    for p in paths:
        st = p.stat()
        h.update(f"\0{os.path.realpath(p)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def _decode_cached(
    paths: list[Path], split: str, resize, channels, expect, cache_dir: Path
) -> np.ndarray:
    """Big folders: decode once into cache_dir/pixels-<key>.npy (temp name, renamed when
    complete) and memory-map it; a complete file from an earlier load is reused as is."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        final = cache_dir / f"pixels-{_cache_key(paths, split, resize, channels)}.npy"
        if final.is_file():
            try:
                m = np.load(final, mmap_mode="r")
                fits = m.dtype == np.uint8 and m.ndim == 4 and len(m) == len(paths)
                if fits and (expect is None or m.shape[1:] == expect):
                    return m
            except (OSError, ValueError):
                pass  # unreadable leftover: rebuild it below
        tmp = cache_dir / f".{final.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.npy"
        try:
            out = _decode_all(
                paths, resize, channels, expect,
                lambda shape: np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape),
            )
            out.flush()
            del out
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return np.load(final, mmap_mode="r")
    except DataError:
        raise
    except OSError as e:
        raise DataError(f"{cache_dir}: cannot write the pixel cache ({e.strerror or e})") from e


def _folder_split(
    scan: _FolderScan, base: Path, split: str, labels: np.ndarray | None, resize, channels, expect, cache_dir
) -> Split:
    paths = [scan.root / r for r in scan.rels]
    if cache_dir is not None and len(paths) > MEMMAP_THRESHOLD:
        images = _decode_cached(paths, split, resize, channels, expect, Path(cache_dir))
    else:
        images = _decode_all(paths, resize, channels, expect, lambda shape: np.empty(shape, np.uint8))
    prefix = scan.root.relative_to(base).as_posix()
    names = scan.rels if prefix == "." else [f"{prefix}/{r}" for r in scan.rels]
    return Split(images, labels, names)


def _load_folder(root: Path, resize, channels, cache_dir) -> tuple[Split, Split | None, list[str]]:
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; folder: wants a folder of images (class sub-folders, labels.csv)")
    train_scan = _scan_split(root)
    # DIR/train + DIR/test, and nothing else: train/ is the train split, not a class called "train"
    only_train_dir = train_scan.class_dirs == ["train"] and None not in train_scan.dir_class
    if only_train_dir and not (root / LABELS_CSV).is_file():
        train_scan = _scan_split(root / "train")
    if not train_scan.rels:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise DataError(f"{root}: no image files ({exts}) here or in sub-folders (empty dataset)")
    test_root = root / TEST_DIR
    test_scan = _scan_split(test_root) if test_root.is_dir() else None
    if test_scan is not None and not test_scan.rels:
        test_scan = None

    train_labels, classes = _folder_labels(train_scan, None)
    test_labels = None
    if test_scan is not None:
        test_labels, test_classes = _folder_labels(test_scan, classes or None)
        if not classes:
            classes = test_classes
    train = _folder_split(train_scan, root, "train", train_labels, resize, channels, None, cache_dir)
    test = None
    if test_scan is not None:
        expect = train.images.shape[1:]
        test = _folder_split(test_scan, root, "test", test_labels, resize, channels, expect, cache_dir)
    return train, test, classes


# --------------------------------------------------------------------------------------------
# conversion of whole arrays (idx, cifar, npz with resize/channels) and single-image helpers


def _convert_array(images: np.ndarray, resize: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    n, c, h, w = images.shape
    if channels is not None and channels != c:
        if channels == 3 and c == 1:
            images = np.repeat(images, 3, axis=1)
        elif channels == 1 and c == 3:
            grey = np.empty((n, 1, h, w), np.uint8)
            for s in range(0, n, 4096):  # ITU-R 601-2 luma, as PIL's convert("L"); chunked int math
                x = images[s : s + 4096].astype(np.uint32)
                grey[s : s + 4096, 0] = (x[:, 0] * 299 + x[:, 1] * 587 + x[:, 2] * 114 + 500) // 1000
            images = grey
    if resize is not None and resize != (images.shape[2], images.shape[3]):
        from PIL import Image

        out = np.empty((n, images.shape[1], *resize), np.uint8)
        for i in range(n):  # only on request; PIL's bilinear matches the folder reader
            small = to_pil(images[i]).resize((resize[1], resize[0]), Image.Resampling.BILINEAR)
            out[i] = _image_to_array(small, None, None)
        images = out
    return np.ascontiguousarray(images)


def to_pil(image: np.ndarray) -> Image.Image:
    """One (C, H, W) uint8 item -> a PIL image: mode L for C=1, RGB for C=3."""
    from PIL import Image

    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"to_pil wants uint8 pixels, got {a.dtype}")
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[0] not in (1, 3):
        raise ValueError(f"to_pil wants a (C, H, W) image with C in 1, 3, got shape {a.shape}")
    if a.shape[0] == 1:
        return Image.fromarray(np.ascontiguousarray(a[0]))
    return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)))


def save_image(image: np.ndarray, path: Path) -> None:
    """Write one (C, H, W) uint8 item; the format follows the suffix (.png is lossless)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image).save(path)
