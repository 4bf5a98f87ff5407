"""Files that are always whole: one atomic-write rule for every file gltui writes.

The rule: write beside the target, flush, fsync, rename into place, fsync the folder. A reader (or
a process resumed after a crash) sees the old file or the new one, never a torn one; on any failure
(a full disk, Ctrl-C) the temporary file or folder is removed and the error goes on to the caller.
Folders (an imagefolder export, a new project) are built in a temporary folder beside the target
and swapped in the same way. No torch, no Textual.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call write(fh) on a temporary file beside `path`, then fsync and rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


@contextlib.contextmanager
def atomic_folder(target: str | Path, *, replace: Callable[[Path], None] | None = None
                  ) -> Iterator[Path]:
    """Build a folder in a temporary folder beside `target`, then swap it in.

    Yields the temporary folder. On a clean exit its files are fsynced and it is renamed to
    `target`; an existing `target` must be an empty folder, or `replace(target)` is called first
    to empty it (what `init --force` does). On any error the temporary folder is removed and
    `target` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        if target.exists():
            if replace is not None:
                replace(target)
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)
