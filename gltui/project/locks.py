"""One driver per run: an exclusive flock on checkpoints/RUN/lock, held by whoever drives the run
(`gltui run`, the TUI, `gltui predict`). The kernel drops it when the process dies, even by
SIGKILL, so a crashed run never stays locked."""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import TYPE_CHECKING, Iterator

from gltui.errors import RunLocked

if TYPE_CHECKING:
    from gltui.project.folder import Project

@contextlib.contextmanager
def run_lock(project: "Project", run: str) -> Iterator[None]:
    """An exclusive flock on checkpoints/RUN/lock. The kernel drops it when the process dies,
    even by SIGKILL, so a crashed run never stays locked."""
    path = project.run_dir(run) / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunLocked(
                f"run {run!r} of {project.path} is being driven by another process ({holder}); "
                "wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
