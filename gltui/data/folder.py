"""folder: image files; class sub-folders mean labels, or a flat folder plus an optional
labels.csv (file,label). DIR/test is the test split; DIR/train + DIR/test also works. Every file is
decoded straight into one preallocated array, by a thread pool for larger images."""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from gltui.data.core import DataError, MixedShapes, ReadResult, Split, natural_key
from gltui.data.images import decode

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
LABELS_CSV = "labels.csv"
TEST_DIR = "test"
CONVERT_HINT = "convert them with --resize HxW and/or --channels 1|3"  # the CLI flags
_CHUNK = 128  # images per thread-pool task: large enough to amortise the task overhead
# Threads only pay off when decoding dominates: for MNIST-sized PNGs the per-file Python work
# (open, header parsing) holds the GIL and 2 threads ran 2x slower than 1 (measured, 2 cores).
_THREAD_MIN_PIXELS = 64 * 64

# --------------------------------------------------------------------------------------------
# scan: which files, which class sub-folders, which labels


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
    return _FolderScan(root, rels, dir_class, sorted(class_dirs, key=natural_key))


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
        classes = sorted({lab for lab, _ in rows.values() if lab}, key=natural_key)
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


# --------------------------------------------------------------------------------------------
# decode: every file of a split into one array


def _describe(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    return f"{h}x{w} {'grey' if c == 1 else 'RGB' if c == 3 else f'{c}-channel'}"


def _fill(out: np.ndarray, paths: list[Path], start: int, stop: int, resize, channels, first: Path) -> None:
    shape = out.shape[1:]
    for i in range(start, stop):
        a = decode(paths[i], resize, channels)
        if a.shape != shape:
            detail = f"{paths[i].name} is {_describe(a.shape)}, {first.name} is {_describe(shape)}"
            raise MixedShapes(
                f"{paths[i]}: image is {_describe(a.shape)} but {first.name} is {_describe(shape)}; {CONVERT_HINT}",
                shape, detail,
            )
        out[i] = a


def _decode_all(
    paths: list[Path],
    resize: tuple[int, int] | None,
    channels: int | None,
    expect: tuple[int, ...] | None,
) -> np.ndarray:
    """Decode every file into one preallocated (N, C, H, W) array: the first image fixes the
    shape; the rest are decoded straight into it (by threads for larger images: PIL decodes
    without holding the GIL)."""
    first = decode(paths[0], resize, channels)
    if expect is not None and first.shape != expect:
        raise MixedShapes(
            f"{paths[0]}: test image is {_describe(first.shape)} "
            f"but the train images are {_describe(expect)}; {CONVERT_HINT}",
            expect, f"test image {paths[0].name} is {_describe(first.shape)}, the train images "
            f"are {_describe(expect)}",
        )
    out = np.empty((len(paths), *first.shape), np.uint8)
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


def _folder_split(
    scan: _FolderScan, base: Path, labels: np.ndarray | None, resize, channels, expect
) -> Split:
    images = _decode_all([scan.root / r for r in scan.rels], resize, channels, expect)
    prefix = scan.root.relative_to(base).as_posix()
    names = scan.rels if prefix == "." else [f"{prefix}/{r}" for r in scan.rels]
    return Split(images, labels, names)


def _load_folder(root: Path, resize, channels) -> ReadResult:
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
    train = _folder_split(train_scan, root, train_labels, resize, channels, None)
    test = None
    if test_scan is not None:
        expect = train.images.shape[1:]
        test = _folder_split(test_scan, root, test_labels, resize, channels, expect)
    return train, test, classes


def read(path: Path, *, resize: tuple[int, int] | None, channels: int | None) -> ReadResult:
    return _load_folder(path, resize, channels)  # converted while decoding, never afterwards
