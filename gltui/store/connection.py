"""The connection to a project database: WAL, transactions, migrations, query plans, events."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

import sqlite_utils

from gltui.errors import DiskError, GltuiError, StoreBusy, StoreError
from gltui.store.queries import QUERIES
from gltui.store.rows import Event
from gltui.store.schema import MIGRATIONS, SCHEMA_VERSION

# How long a write waits for another process's write transaction to end (the TUI labeling while
# `gltui run` commits chunks, two runs of one project at once). gltui's own transactions last
# milliseconds, so a wait this long means another program holds the database.
BUSY_TIMEOUT_S = 30.0




def translated(err: sqlite3.Error, path: Path, busy_timeout: float = BUSY_TIMEOUT_S
               ) -> GltuiError:
    """sqlite3's error as the project's own (gltui.errors), one line naming the fix. The store
    raises nothing else for a busy, full, read-only or damaged database."""
    text = str(err)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return StoreBusy(f"{path}: another process has held the project database's write lock for "
                         f"{busy_timeout:g} s; nothing was written, try again when it is done")
    if "full" in low:
        return DiskError(f"{path}: the disk is full ({text}); nothing was written, free some "
                         "space and try again")
    if "readonly" in low or "read-only" in low:
        return DiskError(f"{path}: the project database is read-only ({text}); nothing was "
                         "written, make gltui.db and its folder writable")
    if "i/o" in low or "disk" in low or "unable to open" in low:
        return DiskError(f"{path}: the disk failed a database write or read ({text}); check the "
                         "disk, its free space and the folder's permissions")
    return StoreError(f"{path}: the project database failed ({text}); `sqlite3 {path} "
                      "'PRAGMA integrity_check'` tells whether it is damaged")


def timestamp() -> float:
    return time.time()


def _folder_writable(folder: Path) -> bool:
    """Whether a file can be created in `folder`: tried, not asked (os.access says yes to root
    on a read-only mount or an immutable folder)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".gltui-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


class Connection:
    """The connection, its transactions, migrations, query plans and the event log: what every
    part of the Store builds on."""

    def __init__(self, path: Path, *, create: bool = False, busy_timeout: float | None = None):
        """busy_timeout: seconds a write waits for another process's write lock (default
        BUSY_TIMEOUT_S; the TUI waits less, so that a key press never freezes the screen)."""
        self.path = Path(path)
        self.busy_timeout = BUSY_TIMEOUT_S if busy_timeout is None else float(busy_timeout)
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no gltui project database here; run `gltui init` first")
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
            # what `transaction()` encloses and nothing is left open by an implicit BEGIN.
            self.conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=self.busy_timeout,
                check_same_thread=False
            )
            self.conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.DatabaseError as err:
            if self.path.is_file() and not _folder_writable(self.path.parent):
                # WAL needs its -wal and -shm files beside the database, even to read.
                raise StoreError(
                    f"{self.path.parent}: the project folder is not writable, and gltui keeps "
                    "its journal and checkpoints there; fix its permissions or copy the project "
                    "somewhere writable"
                ) from err
            raise StoreError(f"{self.path}: not a gltui project database ({err})") from err
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch the database to WAL mode ({mode})")
        # FULL: a commit that returned survives power loss, not only a process crash.
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.db = sqlite_utils.Database(self.conn)
        self._migrate(create)

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def check_writable(self) -> None:
        """Raise the project's own error (`translated`: read-only, full, locked past the busy
        timeout) unless this process can write the database now: one write, rolled back. For a
        step that must know before it writes elsewhere (`gltui add`, before pixels.npy)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('write-check', '0')")
        except sqlite3.Error as err:
            raise translated(err, self.path, self.busy_timeout) from err
        finally:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; rolled back on any exception. sqlite3's errors leave as the
        project's own (`translated`): a write lock held past BUSY_TIMEOUT_S, a full disk, a
        read-only file."""
        if self.conn.in_transaction:  # nested use joins the outer transaction
            yield
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for another writer
        except sqlite3.Error as err:
            raise translated(err, self.path, self.busy_timeout) from err
        try:
            yield
        except BaseException as err:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise translated(err, self.path, self.busy_timeout) from err
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as err:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise translated(err, self.path, self.busy_timeout) from err

    def _one(self, sql: str, params: Sequence = ()):
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def schema_version(self) -> int:
        try:
            value = self._one("SELECT value FROM meta WHERE key = 'schema_version'")
        except sqlite3.OperationalError:
            return 0
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: not a gltui project database ({err})") from err
        return int(value) if value is not None else 0

    def _migrate(self, create: bool) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: made by a newer gltui (schema {version}, this gltui knows "
                f"{SCHEMA_VERSION}); upgrade gltui to open it"
            )
        if version == 0 and not create:
            raise StoreError(f"{self.path}: not a gltui project database (no schema)")
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            for number in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[number - 1](self.db)
            self.conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    # -- query plans -----------------------------------------------------------------------------

    def query_plan(self, name: str) -> list[str]:
        """EXPLAIN QUERY PLAN of one of QUERIES (the statements the hot paths run), one string per
        plan step, e.g. 'SEARCH labels USING COVERING INDEX labels_active (run=? AND item=?)'."""
        sql = QUERIES[name]
        rows = self.conn.execute("EXPLAIN QUERY PLAN " + sql, [0] * sql.count("?"))
        return [r[3] for r in rows]

    # -- events ----------------------------------------------------------------------------------

    def _event(self, run: str | None, kind: str, detail: dict) -> None:
        self.conn.execute(
            "INSERT INTO events(run, time, kind, detail) VALUES (?, ?, ?, ?)",
            (run, timestamp(), kind, json.dumps(detail)),
        )

    def add_event(self, run: str | None, kind: str, detail: dict) -> None:
        with self.transaction():
            self._event(run, kind, detail)

    def events(self, run: str, kinds: Sequence[str] | None = None, limit: int = 100
               ) -> list[Event]:
        if kinds:
            marks = ",".join("?" * len(kinds))
            rows = self.conn.execute(
                f"SELECT time, kind, detail FROM events WHERE run = ? AND kind IN ({marks}) "
                "ORDER BY id DESC LIMIT ?",
                (run, *kinds, limit),
            )
        else:
            rows = self.conn.execute(
                "SELECT time, kind, detail FROM events WHERE run = ? ORDER BY id DESC LIMIT ?",
                (run, limit),
            )
        return [Event(t, k, json.loads(d)) for t, k, d in rows]

    # -- integrity -------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        return self._one("PRAGMA integrity_check")

    def duplicate_active_labels(self) -> int:
        return self._one(
            "SELECT COUNT(*) FROM (SELECT run, item FROM labels WHERE undone_at IS NULL "
            "GROUP BY run, item HAVING COUNT(*) > 1)"
        )
