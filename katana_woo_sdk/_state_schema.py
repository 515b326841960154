"""The state's SQLite file: its schema migrations, opening it, and write transactions.

Callers: `state` only. `State.__init__` opens the file with `open_database`, `State._tx` wraps
`transaction`; `state` re-exports `MIGRATIONS` and `SCHEMA_VERSION`, and passes its own copies to
`open_database` at call time, so that patching them on `katana_woo_sdk.state` (as the tests do to
rehearse a failing migration) still takes effect.

Storage: stdlib `sqlite3` in autocommit mode, WAL journal (readers never block the one writer), writes
in `BEGIN IMMEDIATE` transactions, a 30 s busy timeout for other processes. The schema is versioned by
`MIGRATIONS` (script *i* brings the file to version *i + 1*); opening an older file migrates it, a
newer one is refused. Log records go to the `katana_woo_sdk.state` logger, like the rest of the state.
"""
from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from ._state_rows import _iso
from .errors import StateError

log = logging.getLogger(f"{__package__}.state")

# Append only: a released script is never edited; a change is a new script.
MIGRATIONS: tuple[str, ...] = (
    # v1: the tables. Column names are the record field names (see `_state_rows._record`).
    """
    CREATE TABLE mapping_history (id INTEGER PRIMARY KEY, store TEXT NOT NULL,
        location_id INTEGER NOT NULL, location_name TEXT NOT NULL, valid_from TEXT NOT NULL,
        valid_to TEXT, config_hash TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '');
    -- at most one open (current) period per store
    CREATE UNIQUE INDEX mapping_history_open ON mapping_history(store) WHERE valid_to IS NULL;
    CREATE TABLE order_ledger (store TEXT NOT NULL, woo_order_id INTEGER NOT NULL, woo_number TEXT,
        status TEXT NOT NULL CHECK (status IN ('imported', 'held', 'skipped')),
        sales_order_id INTEGER, order_no TEXT, location_id INTEGER, reason TEXT, lines_qty TEXT,
        first_seen TEXT NOT NULL, updated_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (store, woo_order_id));
    CREATE TABLE pushed_stock (store TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
        pushed_at TEXT NOT NULL, PRIMARY KEY (store, sku));
    CREATE TABLE initial_imports (store TEXT NOT NULL, location_id INTEGER NOT NULL,
        adjustment_number TEXT NOT NULL, adjustment_id INTEGER, at TEXT NOT NULL,
        PRIMARY KEY (store, location_id));
    CREATE TABLE cursors (store TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (store, name));
    CREATE TABLE conditions (store TEXT NOT NULL, type TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('True', 'False', 'Unknown')), reason TEXT NOT NULL,
        message TEXT NOT NULL, last_transition TEXT NOT NULL, observed_config_hash TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (store, type));
    CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, command TEXT NOT NULL,
        config_hash TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT, summary TEXT);
    CREATE TABLE actions (id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, store TEXT NOT NULL,
        kind TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'skipped', 'failed', 'held', 'planned')),
        message TEXT NOT NULL DEFAULT '', at TEXT NOT NULL);
    """,
    # v2: indexes for the reads that are not primary-key lookups.
    """
    CREATE INDEX order_ledger_status ON order_ledger(store, status);
    CREATE INDEX initial_imports_location ON initial_imports(location_id);
    CREATE INDEX actions_run ON actions(run_id);
    """,
    # v3: saved plans that were applied (a plan is a contract, applied once).
    """
    CREATE TABLE applied_plans (plan_id TEXT PRIMARY KEY, config_hash TEXT NOT NULL, applied_at TEXT NOT NULL);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def open_database(path: Path | None, name: str, now: Callable[[], datetime], *,
                  migrations: tuple[str, ...] = MIGRATIONS,
                  version: int = SCHEMA_VERSION) -> tuple[sqlite3.Connection, int]:
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
            # (see the `state` module docstring) costs speed, not correctness.
            conn.execute("PRAGMA synchronous = NORMAL")
        with transaction(conn, name):  # IMMEDIATE: two processes opening an old file migrate it once
            migrated = _migrate(conn, name, now, migrations, version)
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


def _migrate(conn: sqlite3.Connection, name: str, now: Callable[[], datetime],
             migrations: tuple[str, ...], version: int) -> int:
    """Bring the file to `version`, inside the caller's transaction (all of it, or none)."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                 "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
    if current > version:
        raise StateError(
            f"state {name} has schema version {current}, but this katana-woo knows versions "
            f"up to {version} only: a newer katana-woo wrote it. Upgrade katana-woo, or "
            f"use another state file")
    for v in range(current + 1, version + 1):
        for statement in _statements(migrations[v - 1]):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", (v, _iso(now())))
        log.info("state %s: migrated to schema version %d", name, v)
    return version


def _statements(script: str) -> Iterator[str]:
    """A migration's statements, one by one: executescript() would COMMIT the migration half-way."""
    buffer = ""
    for part in script.split(";"):
        buffer += part + ";"
        # complete_statement() knows quotes and comments, so a ";" inside them does not split.
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n\t;"):
                yield buffer
            buffer = ""
