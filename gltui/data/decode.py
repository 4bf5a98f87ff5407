"""Every image file of a folder split decoded into one preallocated (N, C, H, W) uint8 array.

The shape is known before any pixel is decoded: the first readable file's header fixes it (or
resize does), and each file's header is checked against it (and against images.MAX_PIXELS)
before that file is decoded, so a 12000x12000 scan first in a folder never sizes the array, and
a folder whose images differ stops at the first one that differs (MixedShapes: the loader then
letterboxes every image to the model's input). Files that cannot be read are collected, and all
of them are named in one line at the end, not only the first.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gltui.data.core import DataError, MixedShapes, shorten
from gltui.data.images import BadImage, decode, header_channels, is_padded, read_header

CONVERT_HINT = "convert them with --resize HxW and/or --channels 1|3"  # the CLI flags
MAX_NATIVE_SIDE = 256  # px: images this small of one size are kept as they are; larger ones
# become the model's input (letterboxed): a CNN over 3000x4000 photos is not a labeling tool's
MEMORY_SHARE = 0.6  # of physical memory: a pool whose pixels need more is refused up front
SHOW_BAD = 3  # unreadable files named in the one error line; the rest are counted
_CHUNK = 128  # images per thread-pool task: large enough to amortise the task overhead
# Threads only pay off when decoding dominates: for MNIST-sized PNGs the per-file Python work
# (open, header parsing) holds the GIL and 2 threads ran 2x slower than 1 (measured, 2 cores).
_THREAD_MIN_PIXELS = 64 * 64


def describe(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    return f"{h}x{w} {'grey' if c == 1 else 'RGB' if c == 3 else f'{c}-channel'}"


def decode_all(paths: list[Path], resize: tuple[int, int] | None, channels: int | None,
               fit: str, expect: tuple[int, ...] | None, root: Path) -> tuple[np.ndarray, int]:
    """The images of `paths` as one (N, C, H, W) array, and how many of them letterboxing padded.
    expect: the shape the images must have (the train split's, for the test split). root: the
    folder the unreadable files are named relative to."""
    bad: list[BadImage] = []
    first, shape = None, None
    for i, path in enumerate(paths):
        try:
            (w, h), mode = read_header(path)
        except BadImage as e:
            bad.append(e)
            continue
        first, shape = i, (header_channels(mode, channels), *(resize or (h, w)))
        break
    if first is None or shape is None:
        raise _bad_files(bad, root)
    if resize is None and max(shape[1:]) > MAX_NATIVE_SIDE:
        raise MixedShapes(
            f"{paths[first]}: the image is {describe(shape)}, larger than the "
            f"{MAX_NATIVE_SIDE} px a side kept as they are; {CONVERT_HINT}",
            shape, f"{_rel(paths[first], root)} is {describe(shape)}, larger than "
            f"{MAX_NATIVE_SIDE} px a side")
    if expect is not None and shape != tuple(expect):
        raise MixedShapes(
            f"{paths[first]}: test image is {describe(shape)} but the train images are "
            f"{describe(expect)}; {CONVERT_HINT}", expect,
            f"the images differ in size or mode (test image {paths[first].name} is "
            f"{describe(shape)}, the train images are {describe(expect)})")
    out = _allocate(len(paths), shape, root)
    n = len(paths)
    workers = min(8, os.cpu_count() or 1, max(1, (n - first - 1) // _CHUNK))
    if workers <= 1 or shape[1] * shape[2] < _THREAD_MIN_PIXELS:
        results = [_fill(out, paths, first, n, resize, channels, fit, root, first)]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="gltui-decode") as pool:
            futures = [pool.submit(_fill, out, paths, s, min(s + _CHUNK, n), resize, channels,
                                   fit, root, first) for s in range(first, n, _CHUNK)]
            try:
                results = [fut.result() for fut in futures]  # in order: the first mismatch wins
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    for more, _ in results:
        bad.extend(more)
    if bad:
        raise _bad_files(bad, root)
    return out, sum(padded for _, padded in results)


def _allocate(n: int, shape: tuple[int, ...], root: Path) -> np.ndarray:
    need = n * int(np.prod(shape))
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        have = 0
    if have and need > MEMORY_SHARE * have:
        raise DataError(f"{root}: {n} images of {describe(shape)} need {need / 1e9:.1f} GB in "
                        f"memory, more than this machine has to spare; give a smaller --resize "
                        "HxW, or import part of them and `gltui add` the rest")
    try:
        return np.empty((n, *shape), np.uint8)
    except MemoryError:
        raise DataError(f"{root}: {n} images of {describe(shape)} do not fit in memory "
                        f"({need / 1e9:.1f} GB); give a smaller --resize HxW") from None


def _fill(out: np.ndarray, paths: list[Path], start: int, stop: int, resize, channels, fit,
          root: Path, first: int) -> tuple[list[BadImage], int]:
    """Decode paths[start:stop] into out; the unreadable files and the padded count come back.
    A file of another shape raises MixedShapes before it is decoded."""
    shape = out.shape[1:]
    bad: list[BadImage] = []
    padded = 0

    def check(im) -> None:
        nonlocal padded
        c = header_channels(im.mode, channels)
        got = (c, *(resize or (im.size[1], im.size[0])))
        if got != shape:
            one, other = _rel(paths[i], root), _rel(paths[first], root)
            detail = f"{one} is {describe(got)}, {other} is {describe(shape)}"
            raise MixedShapes(f"{paths[i]}: image is {describe(got)} but {other} is "
                              f"{describe(shape)}; {CONVERT_HINT}", shape,
                              f"the images differ in size or mode ({detail})")
        padded += is_padded(im.size, resize, fit)

    for i in range(start, stop):
        try:
            out[i] = decode(paths[i], resize, channels, fit, check)
        except BadImage as e:
            bad.append(e)
    return bad, padded


def _bad_files(bad: list[BadImage], root: Path) -> DataError:
    """One line naming every unreadable file, or the first few and a count."""
    if len(bad) == 1:
        return bad[0]
    shown = ", ".join(f"{shorten(_rel(e.path, root), 60)} ({shorten(e.problem, 50)})"
                      for e in bad[:SHOW_BAD])
    more = f" and {len(bad) - SHOW_BAD} more" if len(bad) > SHOW_BAD else ""
    return DataError(f"{shorten(str(root), 60)}: {len(bad)} image files cannot be read: "
                     f"{shown}{more}; replace or remove them")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
