"""Which verbs may run at once: flocks in checkpoints/, held by whoever writes, dropped by the
kernel when the process dies (even by SIGKILL), so a crashed verb never leaves a project locked.

  checkpoints/RUN/lock   one driver per run (`run_lock`): `gltui run`, the TUI (for its whole
                         session), `gltui predict`, `gltui classes` (every run's). Runs of one
                         project are driven at once, each under its own lock.
  checkpoints/add.lock   one `gltui add` at a time (`add_lock`). Not a run's lock: images are
                         added while runs work. `add` renames the longer pixels.npy into place
                         before it commits the new items, and `Project.pixels` maps the file anew
                         when it was replaced, so every item id a reader gets from the database is
                         a row of the pixels it reads; a run sees the new images from its next
                         round on.
  `every_lock(path)`     all of them at once, for `init --force`, which replaces the project.

Everything else (status, export, report, the database's readers) takes no lock: each write is
one SQLite transaction (WAL), and a reader sees it whole or not at all. A lock held elsewhere is
refused at once with one line: "PROJECT is busy: run 'main' is being driven by another process
(pid N, gltui run: training round 2); try again when it ends" (RunLocked, exit 2).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
from pathlib import Path
from typing import Iterator, Protocol

from gltui.errors import RunLocked
from gltui.store import Store


class Project(Protocol):
    """What the locks need of a project (project/folder.Project has it): its folder, a run's
    checkpoint folder, and the store (to say what a busy run is doing). A protocol, so this
    module, which folder.py imports, imports nothing of folder.py."""

    path: Path
    store: Store

    def run_dir(self, name: str) -> Path: ...

ADD_LOCK = "add.lock"
HEADLESS = "a headless gltui --oracle"  # what holds a run `gltui --oracle PROJECT` drives
DOING = {"train": "training", "evaluate": "evaluating", "score": "scoring",
         "query": "choosing its next queue", "label": "at the label phase", "done": "done"}
VERBS = ("init", "run", "status", "export", "predict", "add", "classes", "report", "experiment",
         "check")


@contextlib.contextmanager
def run_lock(project: Project, run: str) -> Iterator[None]:
    """An exclusive flock on checkpoints/RUN/lock; RunLocked (one line) when another process
    holds it."""
    with _flock(project.run_dir(run) / "lock") as holder:
        if holder is not None:
            raise RunLocked(_busy(project, f"run {run!r} is being driven by another process",
                                  holder, _phase(project, run)))
        yield


@contextlib.contextmanager
def add_lock(project: Project) -> Iterator[None]:
    """An exclusive flock on checkpoints/add.lock: one `gltui add` at a time."""
    with _flock(project.path / "checkpoints" / ADD_LOCK) as holder:
        if holder is not None:
            raise RunLocked(_busy(project, "another process is adding images to it", holder))
        yield


@contextlib.contextmanager
def every_lock(path: str | Path) -> Iterator[None]:
    """Every lock of the project folder `path` (each run's and add's), for `init --force`;
    RunLocked when any is held. A folder that is no project holds none."""
    path = Path(path)
    files = sorted((path / "checkpoints").glob("*/lock")) + [path / "checkpoints" / ADD_LOCK]
    with contextlib.ExitStack() as stack:
        for file in files:
            if not file.parent.is_dir():
                continue
            holder = stack.enter_context(_flock(file))
            if holder is not None:
                what = (f"run {file.parent.name!r} is being driven by another process"
                        if file.name == "lock" else "another process is adding images to it")
                raise RunLocked(f"{path} is busy: {what} ({holder}); try again when it ends")
        yield


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[str | None]:
    """Take the flock on `path` (created if missing) without waiting: yields None once held
    (the file then names this process), or the holder's description when another process holds
    it. Closing the descriptor releases the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield _holder(os.pread(fd, 256, 0).decode(errors="replace"))
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}: {_command()}".encode(), 0)
        yield None
    finally:
        os.close(fd)


def _command() -> str:
    """What this process is, for the lock file: `gltui VERB`, a headless `gltui --oracle`, or
    the TUI."""
    argv = sys.argv
    if len(argv) > 1 and argv[1] in VERBS:
        return f"gltui {argv[1]}"
    name = os.path.basename(argv[0]) if argv and argv[0] else "python"
    if name in ("gltui", "__main__.py"):
        return HEADLESS if "--oracle" in argv[1:] else "the TUI"
    return name


def _holder(text: str) -> str:
    """"pid N, CMD" from a lock file's "pid N on HOST: CMD" (older files: "pid N on HOST")."""
    found = re.match(r"pid (\d+)(?: on [^:]*)?(?:: (.*))?", text.strip())
    if not found:
        return "pid unknown"
    pid, command = found.groups()
    return f"pid {pid}, {command[:40]}" if command else f"pid {pid}"


def _phase(project: Project, run: str) -> str | None:
    try:
        row = project.store.run(run)
    except Exception:  # a reader's best effort: the refusal stands without it
        return None
    if row is None:
        return None
    return f"{DOING.get(row.phase, row.phase)} round {row.round}" if row.phase != "done" else None


def _busy(project: Project, what: str, holder: str, doing: str | None = None) -> str:
    driver = ("gltui run", "TUI", HEADLESS)
    doing = f": {doing}" if doing and any(d in holder for d in driver) else ""
    return f"{project.path} is busy: {what} ({holder}{doing}); try again when it ends"
