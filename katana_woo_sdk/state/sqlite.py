"""The SQLite backend of the state: one file beside the config (the default), or memory.

Callers: `State` (`state._core`), which builds a `SqliteBackend` for `State(path)` and
`State.in_memory()` and runs every query through it. Nothing here knows the records: it opens the
file, migrates it, runs statements and transactions, and locks.

Storage: stdlib `sqlite3` in autocommit mode, WAL journal (readers never block the one writer), writes
in `BEGIN IMMEDIATE` transactions (the write lock first, so reads inside stay true), a 30 s busy
timeout for other processes. Opening an older file migrates it (`migrations`), a newer one is
refused. The locks are OS file locks beside the file (`_filelock`): `<db>.lock` for `State.lock()`,
`<db>.lease-<name>.lock` for a `Lease`; they exclude processes on this machine only.
"""
from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import StateError
from . import migrations as _migrations
from ._filelock import StateLock
from .records import LockHolder

log = logging.getLogger(__package__)


class SqliteBackend:
    """One SQLite connection (`path` None: in memory) and the file locks beside it."""

    kind = "sqlite"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, path: Path | None, *, now: Callable[[], datetime], sleep: Callable[[float], None]):
        self.path = path
        self.name = str(path) if path is not None else ":memory:"
        self._sleep = sleep
        self._lock = StateLock(self.lock_path, self.name, sleep=sleep)
        self._leases: dict[str, StateLock] = {}
        # Read at call time, so that a test patching `migrations.MIGRATIONS` reaches the migration.
        self.conn, self.schema_version = open_database(
            path, self.name, now, migrations=_migrations.MIGRATIONS, version=_migrations.SCHEMA_VERSION)

    @property
    def lock_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".lock")

    def describe(self) -> str:
        return repr(self.name)

    def close(self) -> None:
        self.conn.close()

    # -- statements -------------------------------------------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with transaction(self.conn, self.name) as conn:
            yield conn

    @staticmethod
    def insert_id(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> int:
        # Not RETURNING: it needs SQLite 3.35, newer than some Linux distributions' Python links.
        rowid = conn.execute(sql, params).lastrowid
        assert rowid is not None  # an INSERT's cursor has the new row's id
        return int(rowid)

    def columns(self, table: str) -> list[str]:
        """A table's columns in their defined order (for `transfer`)."""
        return [row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")]

    @staticmethod
    def after_copy(conn: sqlite3.Connection) -> None:
        """Nothing to do after `transfer` inserted rows with their ids: SQLite numbers on from the
        largest id (AUTOINCREMENT's sqlite_sequence follows explicit ids too)."""

    # -- locks ------------------------------------------------------------------------------------

    def lock(self, timeout: float, owner: str, poll_interval: float,
             now: Callable[[], datetime]) -> contextlib.AbstractContextManager[LockHolder]:
        return self._lock.hold(timeout, owner, poll_interval, now)

    def lease_lock(self, name: str) -> StateLock:
        """The lock behind `State.lease(name)`: `<db>.lease-<name>.lock`, or in memory."""
        if name not in self._leases:
            path = None if self.path is None else self.path.with_name(f"{self.path.name}.lease-{name}.lock")
            self._leases[name] = StateLock(path, f"{self.name} lease {name}", sleep=self._sleep, kind="lease")
        return self._leases[name]


def open_database(path: Path | None, name: str, now: Callable[[], datetime], *,
                  migrations: tuple[str, ...], version: int) -> tuple[sqlite3.Connection, int]:
    """Open the state file (`path` None: in memory), migrate it to `version`; the connection and version.

    `name` is the file as messages show it; `now` stamps the migrations applied. Failures raise
    StateError, with a hint to delete the file only when it is not a usable database.
    """
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:  # autocommit mode: `transaction` opens every transaction explicitly
        conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False, timeout=30.0)
    except sqlite3.Error as exc:
        raise StateError(f"state {name}: cannot open: {exc}") from exc
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        if path is not None:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("state %s: journal mode is %s, not WAL", name, mode)
            # NORMAL is durable enough in WAL: a power cut may lose the last commits, which
            # (see the `state` package docstring) costs speed, not correctness.
            conn.execute("PRAGMA synchronous = NORMAL")
        with transaction(conn, name):  # IMMEDIATE: two processes opening an old file migrate it once
            migrated = _migrations.migrate(conn.execute, name=name, dialect="sqlite", now=now,
                                           migrations=migrations, version=version)
    except BaseException as exc:
        conn.close()
        cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
        # Only for a file that is not (or no longer) a database: "locked" or "disk I/O error"
        # are not fixed by deleting it.
        if getattr(cause, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            raise StateError(f"state {name} is not a usable SQLite database ({cause}); delete "
                             f"it to start afresh (that costs speed, never correctness)") from exc
        if isinstance(exc, sqlite3.Error):
            raise StateError(f"state {name}: cannot open: {exc}") from exc
        raise
    return conn, migrated


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, name: str) -> Iterator[sqlite3.Connection]:
    """A write transaction. IMMEDIATE takes the write lock first, so reads inside it stay true."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StateError(f"state {name}: {exc}") from exc
        raise

