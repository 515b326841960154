"""The state's schema: one list of versioned, forward-only migrations that both backends run.

Callers: `state.sqlite` and `state.postgres`, which call `migrate` inside one transaction when a
`State` is opened (on first use of a file, a database or a schema), and `state.transfer`, which
copies the tables listed in `TABLES`. `katana_woo_sdk.state` re-exports `MIGRATIONS` and
`SCHEMA_VERSION`; the backends read them from this module at call time, so a test that patches them
here rehearses a failing migration on either backend.

Script *i* brings a state from version *i* to *i + 1*; `schema_version` records each version applied
and when. A state of an older version is brought up to date, all of it or none (one transaction:
SQLite and PostgreSQL both roll DDL back); a newer one is refused, since its data may mean what this
version cannot know.

One list for both: the scripts are written in the SQL the two share, and `for_postgres` rewrites
the two spellings that are SQLite's own: an `id INTEGER PRIMARY KEY [AUTOINCREMENT]` (SQLite's rowid)
becomes an identity column, and every other INTEGER a BIGINT (Katana's and WooCommerce's ids are
64-bit; SQLite's INTEGER already is). Timestamps and JSON stay TEXT in both (see `_rows`), so a state
copied between backends is the same text. A new script must keep to that shared SQL; the tests run
every script on both backends.
"""
from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ..errors import StateError
from ._rows import _iso

log = logging.getLogger(__package__)

# Append only: a released script is never edited; a change is a new script.
MIGRATIONS: tuple[str, ...] = (
    # v1: the tables. Column names are the record field names (see `_rows._record`).
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
    # v4: the service's durable inbox of webhook deliveries (`state._inbox`): acknowledged once
    # written here, processed by the worker; a delivery id is kept once per source and store.
    """
    CREATE TABLE inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, store TEXT NOT NULL,
        delivery_id TEXT NOT NULL, topic TEXT NOT NULL, resource TEXT NOT NULL, resource_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'coalesced')),
        attempts INTEGER NOT NULL DEFAULT 0, processed_at TEXT, version TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL DEFAULT '', UNIQUE (source, store, delivery_id));
    CREATE INDEX inbox_status ON inbox(status, id);
    CREATE INDEX inbox_resource ON inbox(source, store, resource, resource_id);
    """,
    # v5: what became of imported orders (`state._lifecycle`): a time per transition, the action
    # still owed and what a person must do; the partial index keeps the per-run look at open
    # records cheap however long the history.
    """
    CREATE TABLE order_lifecycle (store TEXT NOT NULL, woo_order_id INTEGER NOT NULL, woo_number TEXT,
        sales_order_id INTEGER, order_no TEXT,
        state TEXT NOT NULL CHECK (state IN ('imported', 'delivered', 'completed', 'cancelled', 'deleted', 'drift')),
        imported_at TEXT, delivered_at TEXT, completed_at TEXT, cancelled_at TEXT, deleted_at TEXT, drift_at TEXT,
        pending TEXT, attention TEXT, detail TEXT, facts TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (store, woo_order_id));
    CREATE INDEX order_lifecycle_state ON order_lifecycle(store, state);
    CREATE INDEX order_lifecycle_open ON order_lifecycle(store, woo_order_id)
        WHERE pending IS NOT NULL OR attention IS NOT NULL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# Every table of the current schema and the columns that order its rows, parents before children
# (actions refer to runs): what `state migrate` copies. tests/test_state_transfer.py checks that
# this lists exactly the tables the migrations create, so a new table cannot be left behind.
TABLES: dict[str, tuple[str, ...]] = {
    "mapping_history": ("id",),
    "order_ledger": ("store", "woo_order_id"),
    "pushed_stock": ("store", "sku"),
    "initial_imports": ("store", "location_id"),
    "cursors": ("store", "name"),
    "conditions": ("store", "type"),
    "runs": ("id",),
    "actions": ("id",),
    "applied_plans": ("plan_id",),
    "inbox": ("id",),
    "order_lifecycle": ("store", "woo_order_id"),
}
IDENTITY_TABLES = ("mapping_history", "runs", "actions", "inbox")  # whose `id` the database numbers

SCHEMA_VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version "
                        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")

_ROWID = re.compile(r"\bid INTEGER PRIMARY KEY(?: AUTOINCREMENT)?", re.IGNORECASE)
_INTEGER = re.compile(r"\bINTEGER\b", re.IGNORECASE)


def for_postgres(script: str) -> str:
    """A migration script in PostgreSQL's spelling (see the module docstring)."""
    return _INTEGER.sub("BIGINT", _ROWID.sub("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script))


def statements(script: str) -> Iterator[str]:
    """A script's statements, one by one: run together, SQLite's executescript() would COMMIT half-way,
    and psycopg refuses several statements in one call with parameters."""
    buffer = ""
    for part in script.split(";"):
        buffer += part + ";"
        # complete_statement() knows quotes and comments, so a ";" inside them does not split.
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n\t;"):
                yield buffer
            buffer = ""


def migrate(execute: Callable[[str, tuple[Any, ...]], Any], *, name: str, dialect: str, now: Callable[[], datetime],
            migrations: tuple[str, ...], version: int,
            run: Callable[[list[str]], object] | None = None) -> int:
    """Bring a state to `version` inside the caller's transaction (all of it, or none); the version.

    `execute(sql, params)` runs one statement (`?` placeholders) and returns a cursor; `run`, if
    given, runs a list of statements without parameters at once (PostgreSQL: one round trip), else
    they go through `execute` one by one. `dialect` is "sqlite" or "postgresql"; `name` is the state
    as messages show it.
    """
    execute(SCHEMA_VERSION_TABLE if dialect == "sqlite" else for_postgres(SCHEMA_VERSION_TABLE), ())
    current = execute("SELECT COALESCE(MAX(version), 0) FROM schema_version", ()).fetchone()[0]
    if current > version:
        raise StateError(
            f"state {name} has schema version {current}, but this katana-woo knows versions "
            f"up to {version} only: a newer katana-woo wrote it. Upgrade katana-woo, or "
            f"use another state")
    pending: list[str] = []
    for v in range(current + 1, version + 1):
        script = migrations[v - 1] if dialect == "sqlite" else for_postgres(migrations[v - 1])
        pending.extend(statements(script))
        # Inline values (an int, and an ISO timestamp this code made): no parameters, one batch.
        pending.append(f"INSERT INTO schema_version VALUES ({int(v)}, '{_iso(now())}');")
    if run is not None and pending:
        run(pending)
    else:
        for statement in pending:
            execute(statement, ())
    if pending:
        log.info("state %s: migrated from schema version %d to %d", name, current, version)
    return version
