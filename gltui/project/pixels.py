"""A project's pixels: one uint8 N x C x H x W `.npy` file, row i == item id i, written block by
block (init, add) so that a million-image pool is never held in memory twice."""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path

import numpy as np

from gltui.errors import ProjectError, shell_command

WRITE_BLOCK_BYTES = 16 << 20  # pixels copied per write: the whole of init's pixel working set


def map_pixels(path: Path) -> tuple[np.ndarray, int]:
    """(the .npy file at `path` memory-mapped read-only, the inode of the file mapped): the
    inode is read from the very file descriptor mapped, so a file renamed into place meanwhile
    is never taken for the one mapped (Project.pixels compares it with the path's inode)."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(fh)
        pixels = np.memmap(fh, dtype=dtype, mode="r", offset=fh.tell(), shape=shape,
                           order="F" if fortran else "C")
        return pixels, os.fstat(fh.fileno()).st_ino


def pixels_fix(project: Path) -> str:
    """What to do about a pixels.npy that is gone or not the project's: never a step that loses
    the labels (gltui.db holds them; `init --force` would replace it)."""
    export = shell_command("export", project, "--format", "csv", "--out", "labels.csv")
    return ("put the project's own pixels.npy back from a backup, or make the project anew in "
            f"another folder from the same data with its labels (`{export}` writes them without "
            "pixels.npy)")


def check_layout(path: Path, pixels: np.ndarray, shape, rows: int) -> None:
    """ProjectError unless the mapped `pixels` (from `path`) are what the project says: uint8
    N x C x H x W with C, H, W its meta's `shape` and at least `rows` rows (one per item). Reads
    the mapping's header fields only, never the pixels."""
    want = tuple(int(v) for v in shape) if shape else None
    fine = (pixels.dtype == np.uint8 and pixels.ndim == 4 and len(pixels) >= rows
            and (want is None or tuple(pixels.shape[1:]) == want))
    if fine:
        return
    has = "x".join(str(v) for v in pixels.shape[1:]) or "scalars"
    wanted = "x".join(str(v) for v in want) if want else "C x H x W"
    raise ProjectError(f"{path}: holds {len(pixels) if pixels.ndim else 0} images of {has} "
                       f"{pixels.dtype}, not this project's ({rows} at least, {wanted} uint8); "
                       f"{pixels_fix(path.parent)}")


def file_inode(path: Path) -> int | None:
    """The inode at `path` now (None when there is no file)."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def write_pixels_file(path: Path, parts: list[np.ndarray]) -> None:
    """All images into one .npy file at `path` (write_pixels), then fsync."""
    with open(path, "wb") as fh:
        write_pixels(fh, parts)
        fh.flush()
        os.fsync(fh.fileno())


def write_pixels(fh, parts: list[np.ndarray]) -> None:
    """All images of `parts` as one uint8 .npy into the open file `fh`, block by block with plain
    writes: one extra copy on disk, never one in memory. The output goes through the page cache,
    not a mapping of ours, and the pages of a memory-mapped source are let go after each block, so
    the resident memory of `init` (and `add`) stays one block however big the pool (the kernel
    keeps or drops the cached pages)."""
    n = sum(len(p) for p in parts)
    shape = (n, *parts[0].shape[1:])
    block = max(1, WRITE_BLOCK_BYTES // max(1, int(np.prod(shape[1:]))))
    np.lib.format.write_array_header_1_0(
        fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
             "fortran_order": False, "shape": shape}
    )
    for part in parts:
        for i in range(0, len(part), block):
            fh.write(np.ascontiguousarray(part[i : i + block], dtype=np.uint8).data)
            _release_mapped(part)


def _release_mapped(array: np.ndarray) -> None:
    """Drop this process's mapping of the pages of a memory-mapped array it has read (they stay in
    the page cache: re-reading costs no I/O). A no-op for in-memory arrays."""
    mm = getattr(array, "_mmap", None)  # np.memmap and its views share the mmap object
    if isinstance(mm, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED)
