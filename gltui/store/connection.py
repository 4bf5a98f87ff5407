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

from gltui.store.queries import QUERIES
from gltui.store.schema import MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
    """A project database that cannot be used as it is (not SQLite, newer schema, missing)."""


# How long a write waits for another process's write transaction to end (the TUI labeling while
# `gltui run` commits chunks, two runs of one project at once). gltui's own transactions last
# milliseconds, so a wait this long means another program holds the database.
BUSY_TIMEOUT_S = 30.0


class StoreBusy(sqlite3.OperationalError):
    """Another process held the database's write lock for longer than BUSY_TIMEOUT_S; nothing of
    this transaction was written."""


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

    def __init__(self, path: Path, *, create: bool = False):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no gltui project database here; run `gltui init` first")
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
            # what `transaction()` encloses and nothing is left open by an implicit BEGIN.
            self.conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False
            )
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; rolled back on any exception."""
        if self.conn.in_transaction:  # nested use joins the outer transaction
            yield
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")  # waits up to BUSY_TIMEOUT_S for another writer
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            raise StoreBusy(
                f"{self.path}: another process has held the project database's write lock for "
                f"{BUSY_TIMEOUT_S:g} s; nothing was written, try again when it is done"
            ) from err
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

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

    def events(self, run: str, kinds: Sequence[str] | None = None, limit: int = 100) -> list:
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
        return [(t, k, json.loads(d)) for t, k, d in rows]

    # -- integrity -------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        return self._one("PRAGMA integrity_check")

    def duplicate_active_labels(self) -> int:
        return self._one(
            "SELECT COUNT(*) FROM (SELECT run, item FROM labels WHERE undone_at IS NULL "
            "GROUP BY run, item HAVING COUNT(*) > 1)"
        )
