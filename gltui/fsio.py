"""Files that are always whole: one atomic-write rule for every file gltui writes.

The rule: write beside the target, flush, fsync, rename into place, fsync the folder. A reader (or
a process resumed after a crash) sees the old file or the new one, never a torn one; on any failure
(a full disk, Ctrl-C) the temporary file or folder is removed and the error goes on to the caller,
an OSError as the project's own DiskError naming the target (never the hidden temporary name).
Folders (an imagefolder export, a new project) are built in a temporary folder beside the target
and swapped in the same way. No torch, no Textual.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from gltui.errors import DiskError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
NAME_MAX = 255  # bytes of a file name on every common Linux, macOS and Windows file system
# What the temporary names below add to the target's name: atomic_folder's ".NAME.tmp-XXXXXXXX"
# (atomic_write's ".NAME.tmp" is shorter).
TEMP_EXTRA = len(".") + len(".tmp-") + 8


def name_fits(target: Path) -> bool:
    """Whether `target`'s name, and the temporary name beside it, fit a file system's limit."""
    return len(target.name.encode("utf-8", "surrogateescape")) + TEMP_EXTRA <= NAME_MAX


# The rename found the target taken: another process (a second `gltui init`) got there first.
_TAKEN = (errno.ENOTEMPTY, errno.EEXIST)


def disk_error(err: OSError, target: Path) -> DiskError:
    """An OSError of writing `target` as one line: what failed, why, and that nothing changed."""
    if err.errno in _TAKEN:
        return DiskError(f"{target}: cannot write it (something else wrote there meanwhile, "
                         "another gltui perhaps); nothing was changed, look at what is there now "
                         "and try again")
    reason = _REASONS.get(err.errno, err.strerror or str(err))
    return DiskError(f"{target}: cannot write it ({reason}); nothing was changed, free some space "
                     "or fix the permissions and try again")


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
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise disk_error(err, path) from err
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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as err:
        raise disk_error(err, target) from err
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
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise disk_error(err, target) from err
        raise
    fsync_dir(target.parent)
