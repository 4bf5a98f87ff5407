"""folder: image files, found recursively; each image's name is its path relative to the folder
(`2024/06/IMG_0001.jpg`), unique within the folder. Labels come from

- class sub-folders: a top-level sub-folder is a class when its name is one of the classes a
  person gave (--classes), or, with no class list, every top-level sub-folder is a class (a
  single one without a labels.csv is refused: one class cannot be learned); any other folder
  is just where images are kept (a phone's `2024/06/`), its images unlabeled;
- a `labels.csv` (file,label) at the folder's root, naming images by those relative paths.

DIR/test is the test split; DIR/train + DIR/test also works. The files are decoded by decode.py
straight into one preallocated array. Class names go through the one validator (classes.py)."""

from __future__ import annotations

import contextlib
import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np

from gltui.data.classes import check_class_name, normal_form
from gltui.data.core import (
    DataError,
    ReadResult,
    Split,
    natural_key,
    require_regular_file,
    shorten,
)
from gltui.data.counts import skipped_text
from gltui.data.decode import decode_all
from gltui.errors import ProjectError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
# Images of kinds gltui does not read, counted when a folder holds them (a notes.txt or a
# NOTICE beside the images is not a picture left out, and is not counted)
OTHER_IMAGE_EXTENSIONS = frozenset({
    ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".j2k", ".svg", ".ico",
    ".psd", ".xcf", ".tga", ".pgm", ".ppm", ".pbm", ".pnm", ".dng", ".cr2", ".nef", ".arw"})
LABELS_CSV = "labels.csv"
TEST_DIR = "test"
MAX_LABELS_CSV = 256 << 20  # bytes: a million rows of long paths fit; a bigger file is not ours

# --------------------------------------------------------------------------------------------
# scan: which files, which class sub-folders, which labels


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _skip(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _is_image_file(entry: os.DirEntry) -> bool:
    """An image file to read; an image name on a FIFO, a device or a dangling link is refused
    (opening a FIFO blocks), never read and never silently skipped."""
    if not _is_image_name(entry.name):
        return False
    if not entry.is_file():
        require_regular_file(entry.path, "remove it from the folder")  # raises, naming what it is
    return True


def _count_skipped(entry: os.DirEntry, skipped: Counter) -> None:
    """An image of a kind gltui does not read (a .tif, a .gif: OTHER_IMAGE_EXTENSIONS), counted
    by extension for the one line init and add print (never a line per file)."""
    ext = os.path.splitext(entry.name)[1].lower()
    with contextlib.suppress(OSError):
        if ext in OTHER_IMAGE_EXTENSIONS and entry.is_file():
            skipped[ext] += 1


def _scan_tree(folder: Path, prefix: str, seen: set[str], skipped: Counter) -> list[str]:
    """Image files under folder (recursively, symlinks followed once), as prefix + relative path;
    `skipped` counts the images of other kinds (OTHER_IMAGE_EXTENSIONS)."""
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
            elif _is_image_file(e):
                out.append(_utf8(pre + e.name, e.path))
            else:
                _count_skipped(e, skipped)
    return out


def _utf8(rel: str, path: str) -> str:
    """`rel` if it is UTF-8 text (the project stores and exports names as text), else refused."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("ascii", "backslashreplace")
        raise DataError(f"{shown}: the file name is not UTF-8 text; rename it (for example with "
                        "`convmv -f latin1 -t utf8 -r --notest FOLDER`) and try again") from None
    return rel


@dataclass
class _FolderScan:
    root: Path  # the split's folder
    rels: list[str]  # sorted relative paths of its image files
    dir_class: list[str | None]  # class sub-folder of each file, None: not in a class folder
    class_dirs: list[str]  # class sub-folder names, natural order
    skipped: Counter  # images of kinds gltui does not read, by extension


def _class_folder(root: Path, name: str, classes: Sequence[str] | None) -> bool:
    """Whether the top-level sub-folder `name` is a class (see the module doc)."""
    if classes is not None:
        return normal_form(name) in classes
    try:
        check_class_name(name)
    except ProjectError as err:
        raise DataError(f"{root / name}: a class folder's name is a class name: {err}") from None
    return True


def _scan_split(root: Path, classes: Sequence[str] | None) -> _FolderScan:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        raise DataError(f"{root}: cannot list folder ({e.strerror or e})") from e
    pairs: list[tuple[str, str | None]] = []
    class_dirs = []
    skipped: Counter = Counter()
    seen = {os.path.realpath(root)}
    for e in entries:
        if _skip(e.name):
            continue
        if e.is_dir():
            if e.name == TEST_DIR:  # the test split (or, below it, ignored): never a class
                continue
            files = _scan_tree(Path(e.path), f"{e.name}/", seen, skipped)
            if not files:
                continue
            if _class_folder(root, e.name, classes):
                name = normal_form(e.name)  # a decomposed (macOS) name is the same class
                class_dirs.append(name)
                pairs.extend((f, name) for f in files)
            else:
                pairs.extend((f, None) for f in files)
        elif _is_image_file(e):
            pairs.append((_utf8(e.name, e.path), None))
        elif e.name != LABELS_CSV:
            _count_skipped(e, skipped)
    pairs.sort()
    rels, dir_class = [r for r, _ in pairs], [c for _, c in pairs]
    return _FolderScan(root, rels, dir_class, sorted(class_dirs, key=natural_key), skipped)


def _only_train_dir(root: Path, classes: Sequence[str] | None) -> bool:
    """DIR/train (+ DIR/test) and nothing else: train/ is the train split, not a class or a
    folder of its own (unless the class list names a class `train`)."""
    if (classes is not None and "train" in classes) or (root / LABELS_CSV).exists():
        return False
    try:
        entries = [e for e in os.scandir(root) if not _skip(e.name) and e.name != TEST_DIR]
    except OSError:
        return False
    return [e.name for e in entries if e.is_dir()] == ["train"] and not any(
        _is_image_name(e.name) for e in entries)


def _read_labels_csv(path: Path, known: set[str]) -> dict[str, tuple[str, int]]:
    """labels.csv (header file,label) -> {relative path: (label, line number)}; an empty label
    means unknown."""
    if require_regular_file(path, "make it a plain csv file or remove it") > MAX_LABELS_CSV:
        raise DataError(f"{path}: larger than {MAX_LABELS_CSV >> 20} MB; a labels.csv holds one "
                        "'file,label' row per image")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from e
    except (OSError, csv.Error) as e:
        raise DataError(f"{path}: cannot read ({shorten(e, 120)})") from e
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not numbered:
        raise DataError(f"{path}: empty; expected a header 'file,label' and one row per image")
    line, header = numbered[0]
    cols = [c.strip().lower() for c in header]
    if "file" not in cols or "label" not in cols:
        raise DataError(f"{path}: line {line}: expected the header 'file,label', got "
                        f"{shorten(','.join(header), 60)!r}")
    fi, li = cols.index("file"), cols.index("label")
    out: dict[str, tuple[str, int]] = {}
    for line, row in numbered[1:]:
        shown = shorten(",".join(row), 60)
        if len(row) != len(cols):
            raise DataError(f"{path}: line {line}: malformed row {shown!r}, expected "
                            f"{len(cols)} fields (file,label)")
        name, label = row[fi].strip(), row[li].strip()
        if name not in known:  # a Windows path (a\b.png); a name with a backslash stays as is
            name = name.replace("\\", "/")
        name = str(PurePosixPath(name)) if name else name  # "./a.png" -> "a.png"
        if not name:
            raise DataError(f"{path}: line {line}: malformed row {shown!r}, the file name is empty")
        if name not in known:
            raise DataError(f"{path}: line {line}: names {shorten(name, 60)!r}, not an image "
                            f"file under {path.parent}")
        if label:
            try:
                label = check_class_name(label)
            except ProjectError as err:
                raise DataError(f"{path}: line {line}: {err}") from None
        if name in out and out[name][0] != label:
            raise DataError(f"{path}: line {line}: {shorten(name, 60)!r} labelled {label!r} but "
                            f"line {out[name][1]} says {out[name][0]!r}")
        out[name] = (label, line)
    return out


def _folder_labels(scan: _FolderScan, fixed: list[str] | None, given: Sequence[str] | None
                   ) -> tuple[np.ndarray | None, list[str]]:
    """Labels of one split and the class list they index. given: the person's class list
    (--classes; every label must be one of them); fixed: the class list the split must use (the
    train split's, for the test split); else sub-folders or labels.csv define it."""
    csv_path = scan.root / LABELS_CSV
    rows = _read_labels_csv(csv_path, set(scan.rels)) if os.path.lexists(csv_path) else None
    if given is not None:
        classes = list(given)
    elif fixed:
        classes = fixed
        for d in scan.class_dirs:
            if d not in classes:
                raise DataError(f"{scan.root / d}: class {d!r} is not one of the training classes "
                                f"({shorten(', '.join(classes), 80)})")
    elif len(scan.class_dirs) == 1 and rows is None:
        # one class cannot be learned: most likely a folder kept in one sub-folder (2024/); with
        # a labels.csv, its rows are checked against that class below (an unknown class named)
        raise DataError(f"{scan.root}: its one top-level sub-folder {scan.class_dirs[0]!r} would "
                        "be the only class; name the classes with --classes A,B,... (the images "
                        "are then unlabeled), or give each class its own sub-folder")
    elif scan.class_dirs:
        classes = scan.class_dirs
    else:
        classes = sorted({lab for lab, _ in (rows or {}).values() if lab}, key=natural_key)
    if not scan.class_dirs and rows is None:
        return None, classes  # no labels at all in this split
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] if c is not None else -1 for c in scan.dir_class], dtype=np.int64)
    if rows:
        pos = {r: i for i, r in enumerate(scan.rels)}
        for name, (lab, line) in rows.items():
            i = pos[name]
            if lab and lab not in index and given is not None:
                raise DataError(f"{csv_path}: line {line}: labels {shorten(name, 60)!r} as "
                                f"{shorten(lab, 40)!r}, which the class list does not hold "
                                f"({shorten(', '.join(classes), 80)}); add the class or correct "
                                "the label")
            if lab and lab not in index:
                raise DataError(f"{csv_path}: line {line}: unknown class {shorten(lab, 40)!r} "
                                f"for {shorten(name, 60)!r} (classes: "
                                f"{shorten(', '.join(classes), 80)}); correct the label")
            want = index[lab] if lab else -1
            if scan.dir_class[i] is not None and want != labels[i]:
                raise DataError(
                    f"{csv_path}: line {line}: labels {shorten(name, 60)!r} as {lab!r} "
                    f"but it lies in class folder {scan.dir_class[i]!r}"
                )
            labels[i] = want
    return labels, classes


# --------------------------------------------------------------------------------------------
# the whole folder


def _folder_split(scan: _FolderScan, base: Path, labels: np.ndarray | None, resize, channels,
                  fit: str, expect) -> Split:
    images, padded = decode_all([scan.root / r for r in scan.rels], resize, channels, fit,
                                expect, scan.root)
    prefix = scan.root.relative_to(base).as_posix()
    names = scan.rels if prefix == "." else [f"{prefix}/{r}" for r in scan.rels]
    return Split(images, labels, names, padded, dict(scan.skipped))


def _load_folder(root: Path, resize, channels, fit: str, given: Sequence[str] | None
                 ) -> ReadResult:
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; folder: wants a folder of images (class "
                        f"sub-folders, labels.csv)")
    train_root = root / "train" if _only_train_dir(root, given) else root
    train_scan = _scan_split(train_root, given)
    if not train_scan.rels:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        other = f"; {skipped_text(train_scan.skipped)}" if train_scan.skipped else ""
        raise DataError(f"{root}: no image files ({exts}) here or in sub-folders (empty "
                        f"dataset){other}")
    test_root = root / TEST_DIR
    test_scan = _scan_split(test_root, given) if test_root.is_dir() else None
    if test_scan is not None and not test_scan.rels:
        test_scan = None

    train_labels, classes = _folder_labels(train_scan, None, given)
    test_labels = None
    if test_scan is not None:
        test_labels, test_classes = _folder_labels(test_scan, classes or None, given)
        if not classes:
            classes = test_classes
    train = _folder_split(train_scan, root, train_labels, resize, channels, fit, None)
    test = None
    if test_scan is not None:
        expect = train.images.shape[1:]
        test = _folder_split(test_scan, root, test_labels, resize, channels, fit, expect)
    return train, test, classes


def read(path: Path, *, resize: tuple[int, int] | None, channels: int | None,
         fit: str = "stretch", classes: Sequence[str] | None = None) -> ReadResult:
    return _load_folder(path, resize, channels, fit, classes)  # converted while decoding
