"""The project's own exceptions: what the CLI and the TUI turn into one line.

Every error a person can cause or meet (bad input, a busy or damaged project, a full disk) is a
`GltuiError` whose str() is ONE line naming the problem and the fix. The CLI prints that line and
exits 2; the TUI shows it in place and goes on. Anything else escaping is a bug.

The layers below the CLI raise these and nothing else for such failures: `store/` turns sqlite3's
errors into `StoreBusy`, `StoreError` or `DiskError`, `fsio` turns OSError into `DiskError`, the
readers in `data/` raise `DataError`. Nothing here imports the rest of gltui.
"""

from __future__ import annotations

import shlex


def shell_command(*words: object) -> str:
    """`gltui WORD ...` as a line to paste into a shell: each word (a path, a run or class name)
    shell-quoted, so a project folder called `my proj` stays one argument."""
    return " ".join(["gltui", *(shlex.quote(str(w)) for w in words)])


class GltuiError(Exception):
    """A failure a person can act on; str(err) is one line (newlines folded into spaces)."""

    def __init__(self, message: str = ""):
        super().__init__(" ".join(str(message).split("\n")))


class ProjectError(GltuiError):
    """Bad input or usage: one line naming the problem and the fix (CLI exit code 2)."""


class RunLocked(ProjectError):
    """Another process drives this run (its flock is held)."""


class StoreBusy(ProjectError):
    """Another process held the project database's write lock for longer than the busy timeout;
    nothing of this write was written."""


class StoreError(ProjectError):
    """A project database that cannot be used as it is (not SQLite, a newer schema, missing,
    damaged, or in a folder that cannot be written)."""


class DiskError(ProjectError):
    """The disk refused a write (full, read-only, gone); nothing half-written was left behind."""


class DataError(GltuiError):
    """Bad input data: one line naming the offending file or path, the problem and the fix."""


class Cancelled(Exception):
    """Work stopped because its caller asked it to (a TUI page closed while its check ran): not
    a failure, nothing to show."""
