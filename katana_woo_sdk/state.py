"""The runner's local state: one SQLite file beside the config.

Callers: `runner` (lock, mapping history, cursors, conditions, run log), the engines (order ledger,
last-pushed stock, initial-import records) and people in notebooks inspecting what happened::

    with State("state/katana-woo.db") as state, state.lock(owner="katana-woo apply"):
        run_id = state.start_run("apply", config_hash)
        ...

What lives here is *memory*, never *truth*. Everything that must not happen twice (a sales order per
Woo order, an initial stock adjustment per store and location) is keyed in Katana by a natural key
and looked up there before it is created; the ledger and import records only let the engines skip
that lookup. Deleting the state therefore costs speed (lookups, a full stock push, lost history),
never correctness.

Nothing secret is stored: no method takes a credential, holder info beside the lock names a pid, a
host and a command without its arguments, and dataclasses logged as before/after are serialised
from their repr-visible fields only, the fields the project already guarantees are safe to show.

Storage: stdlib `sqlite3`, WAL journal (readers never block the one writer), writes in
`BEGIN IMMEDIATE` transactions, a 30 s busy timeout for other processes. The schema is versioned by
`MIGRATIONS` (script *i* brings the file to version *i + 1*); opening an older file migrates it,
a newer one is refused. Timestamps are aware UTC datetimes in Python, ISO 8601 strings in SQL.
One connection per State, shared by threads under an RLock.

This module is the public face: `State`, its records and constants. The machinery behind it lives
in private modules that only this one imports: `_state_schema` (the migrations, opening the file,
write transactions), `_state_lock` (the OS file lock and `LockHolder`) and `_state_rows` (records to rows
and back, the run log's JSON). Names are re-exported here, so `katana_woo_sdk.state` stays the one
import path.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sqlite3
import sys
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from ._state_lock import LockHolder, StateLock
from ._state_rows import _cell, _choice, _cols, _dumps, _iso, _record, _utc
from ._state_schema import MIGRATIONS, SCHEMA_VERSION, open_database, transaction
from .errors import StateError, StateLockedError

__all__ = [
    "State", "MappingRecord", "LedgerEntry", "PushedRecord", "InitialImportRecord", "Condition",
    "RunRecord", "ActionRecord", "LockHolder", "MIGRATIONS", "SCHEMA_VERSION",
    "LEDGER_STATUSES", "CONDITION_STATUSES", "ACTION_OUTCOMES",
]

log = logging.getLogger(__name__)  # the private _state_* modules log here too
_R = TypeVar("_R")
# State.lock() raises it, and it was importable from here before the lock moved to `_state_lock`.
_REEXPORTED = (StateLockedError,)

LEDGER_STATUSES = ("imported", "held", "skipped")
CONDITION_STATUSES = ("True", "False", "Unknown")
ACTION_OUTCOMES = ("applied", "skipped", "failed", "held", "planned")


# --- records -------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MappingRecord:
    """A period during which `store` was mapped to a Katana location; `valid_to` None = current."""
    store: str
    location_id: int
    location_name: str
    valid_from: datetime
    valid_to: datetime | None
    config_hash: str
    reason: str = ""

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """What the order engine did with one Woo order. `State.ledger_put` maintains `first_seen`,
    `updated_at` and `attempts` (how many times the order was held); values passed in are ignored."""
    store: str
    woo_order_id: int
    woo_number: str | None
    status: str  # one of LEDGER_STATUSES
    sales_order_id: int | None = None
    order_no: str | None = None
    location_id: int | None = None
    reason: str | None = None
    lines_qty: dict[str, Decimal] | None = None  # sku -> quantity, as imported
    first_seen: datetime | None = None
    updated_at: datetime | None = None
    attempts: int = 0


@dataclasses.dataclass(frozen=True)
class PushedRecord:
    """The last stock quantity written to a store for one SKU."""
    store: str
    sku: str
    quantity: int
    pushed_at: datetime


@dataclasses.dataclass(frozen=True)
class InitialImportRecord:
    """The stock adjustment that imported a store's initial stock into a Katana location."""
    store: str
    location_id: int
    adjustment_number: str
    adjustment_id: int | None
    at: datetime


@dataclasses.dataclass(frozen=True)
class Condition:
    """A Kubernetes-style status condition of a store (type "Synced", status "False", reason ...)."""
    type: str
    status: str  # one of CONDITION_STATUSES
    reason: str
    message: str
    last_transition: datetime  # when `status` last changed
    observed_config_hash: str
    updated_at: datetime


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One runner invocation; `finished_at`/`outcome` stay None while it runs (or if it died)."""
    id: int
    command: str
    config_hash: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    summary: dict[str, Any] | None


@dataclasses.dataclass(frozen=True)
class ActionRecord:
    """One action of a run; `before`/`after` read back as plain JSON (Decimal, datetime as strings)."""
    id: int
    run_id: int
    store: str
    kind: str
    target: str
    before: Any
    after: Any
    outcome: str  # one of ACTION_OUTCOMES
    message: str
    at: datetime



# --- the state -----------------------------------------------------------------------------------

class State:
    """The local SQLite state; a context manager (or call `close()`).

    `clock` gives the aware "now" stamped on records; `sleep` is what `lock(timeout=...)` waits with
    between attempts. Both are seams for tests.
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sleep: Callable[[float], None] = time.sleep):
        self._path: Path | None = None if str(path) == ":memory:" else Path(path)
        self._clock, self._sleep = clock, sleep
        self._mutex = threading.RLock()  # one connection, shared by the runner's threads
        self._schema_version = 0
        self._conn: sqlite3.Connection | None = None
        self._lock_impl = StateLock(self.lock_path, self._name, sleep=sleep)
        # MIGRATIONS and SCHEMA_VERSION are read here, at call time, so that patching them on this
        # module (as the tests do to rehearse a failing migration) reaches the migration.
        self._conn, self._schema_version = open_database(
            self._path, self._name, self._now, migrations=MIGRATIONS, version=SCHEMA_VERSION)

    @classmethod
    def in_memory(cls, **kwargs: Any) -> State:
        """A throw-away state for tests and notebooks; its `lock()` excludes within this object only."""
        return cls(":memory:", **kwargs)

    @property
    def path(self) -> Path | None:
        """The database file, or None for an in-memory state."""
        return self._path

    @property
    def lock_path(self) -> Path | None:
        return None if self._path is None else self._path.with_name(self._path.name + ".lock")

    @property
    def schema_version(self) -> int:
        return self._schema_version

    @property
    def _name(self) -> str:
        return str(self._path) if self._path is not None else ":memory:"

    def __repr__(self) -> str:
        closed = ", closed" if self._conn is None else ""
        return f"State({self._name!r}, schema_version={self._schema_version}{closed})"

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"state {self._name} is closed")
        return self._conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. IMMEDIATE takes the write lock first, so reads inside it stay true."""
        with self._mutex, transaction(self._live(), self._name) as conn:
            yield conn

    def _query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._mutex:
            try:
                return self._live().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StateError(f"state {self._name}: {exc}") from exc

    def _select(self, cls: type[_R], table: str, tail: str = "", params: tuple | list = ()) -> list[_R]:
        return [_record(cls, row) for row in self._query(f"SELECT {_cols(cls)} FROM {table} {tail}", params)]

    @staticmethod
    def _put(conn: sqlite3.Connection, table: str, record: Any, verb: str = "INSERT OR REPLACE",
             **extra: Any) -> None:
        cells = dict(extra)
        cells.update((f.name, _cell(f.name, getattr(record, f.name))) for f in dataclasses.fields(record))
        conn.execute(f"{verb} INTO {table} ({', '.join(cells)}) VALUES ({', '.join('?' * len(cells))})",
                     tuple(cells.values()))

    # -- lock -------------------------------------------------------------------------------------

    def lock(self, *, timeout: float = 0.0, owner: str = "",
             poll_interval: float = 0.1) -> contextlib.AbstractContextManager[LockHolder]:
        """The exclusive right to apply, across processes: `with state.lock(owner="katana-woo apply"):`.

        An OS file lock on `<db>.lock` (flock on POSIX, LockFileEx on Windows, through `filelock`),
        which the OS releases if the holder dies: it is never stale. Who holds it is written to
        `<db>.lock.holder`.
        Tries every `poll_interval` s for up to `timeout` s, then raises StateLockedError naming the
        holder (also on its `.holder`). Not re-entrant. `owner` is the command *without* arguments
        (default: the program name), as the holder file is readable by others.
        """
        return self._lock_impl.hold(timeout, owner or Path(sys.argv[0] or "python").name, poll_interval,
                                    self._now)

    # -- mapping history --------------------------------------------------------------------------

    def current_mapping(self, store: str) -> MappingRecord | None:
        found = self._select(MappingRecord, "mapping_history", "WHERE store = ? AND valid_to IS NULL",
                             (store,))
        return found[0] if found else None

    def record_mapping(self, store: str, location_id: int, location_name: str, config_hash: str,
                       reason: str = "") -> MappingRecord:
        """Make `location_id` the store's current mapping, closing the previous period "now".

        The current location id again (even renamed, or under a new config hash) is a no-op that
        returns the current record: the mapping itself did not change.
        """
        with self._tx() as conn:
            row = conn.execute(f"SELECT {_cols(MappingRecord)} FROM mapping_history "
                               "WHERE store = ? AND valid_to IS NULL", (store,)).fetchone()
            if row is not None and row[1] == int(location_id):
                return _record(MappingRecord, row)
            now = self._now()
            conn.execute("UPDATE mapping_history SET valid_to = ? WHERE store = ? AND valid_to IS NULL",
                         (_iso(now), store))
            record = MappingRecord(store, int(location_id), location_name, now, None, config_hash, reason)
            self._put(conn, "mapping_history", record, verb="INSERT")
        return record

    def mapping_history(self, store: str | None = None) -> list[MappingRecord]:
        """Oldest first, stores in alphabetical order."""
        where, params = ("WHERE store = ?", (store,)) if store is not None else ("", ())
        return self._select(MappingRecord, "mapping_history", f"{where} ORDER BY store, valid_from, id",
                            params)

    # -- order ledger -----------------------------------------------------------------------------

    def ledger_get(self, store: str, woo_order_id: int) -> LedgerEntry | None:
        found = self._select(LedgerEntry, "order_ledger", "WHERE store = ? AND woo_order_id = ?",
                             (store, int(woo_order_id)))
        return found[0] if found else None

    def ledger_put(self, entry: LedgerEntry) -> LedgerEntry:
        """Insert or replace; keeps `first_seen`, counts `attempts` up when held. Returns the stored entry."""
        _choice(entry.status, LEDGER_STATUSES, "ledger status")
        key = (entry.store, int(entry.woo_order_id))
        lines = entry.lines_qty and {str(sku): Decimal(str(q)) for sku, q in entry.lines_qty.items()}
        with self._tx() as conn:
            prior = conn.execute("SELECT first_seen, attempts FROM order_ledger "
                                 "WHERE store = ? AND woo_order_id = ?", key).fetchone()
            now = self._now()
            first_seen, attempts = (datetime.fromisoformat(prior[0]), prior[1]) if prior else (now, 0)
            stored = dataclasses.replace(entry, woo_order_id=key[1], lines_qty=lines, first_seen=first_seen,
                                         updated_at=now, attempts=attempts + (entry.status == "held"))
            self._put(conn, "order_ledger", stored)
        return stored

    def ledger(self, store: str, *, status: str | None = None) -> dict[int, LedgerEntry]:
        """The store's entries by Woo order id (ascending), optionally of one status only."""
        where, params = "WHERE store = ?", [store]
        if status is not None:
            where += " AND status = ?"
            params.append(_choice(status, LEDGER_STATUSES, "ledger status"))
        entries = self._select(LedgerEntry, "order_ledger", f"{where} ORDER BY woo_order_id", params)
        return {e.woo_order_id: e for e in entries}

    # -- last pushed stock ------------------------------------------------------------------------

    def last_pushed(self, store: str) -> dict[str, int]:
        return {sku: r.quantity for sku, r in self.pushed_records(store).items()}

    def pushed_records(self, store: str) -> dict[str, PushedRecord]:
        records = self._select(PushedRecord, "pushed_stock", "WHERE store = ? ORDER BY sku", (store,))
        return {r.sku: r for r in records}

    def record_pushed(self, store: str, quantities: Mapping[str, int]) -> None:
        """Remember quantities just written to the store (whole numbers: Woo stock is integral)."""
        for sku, qty in quantities.items():
            if qty != int(qty):
                raise ValueError(f"pushed quantity for {sku!r} must be a whole number, not {qty!r}")
        with self._tx() as conn:
            now = self._now()
            for sku, qty in quantities.items():
                self._put(conn, "pushed_stock", PushedRecord(store, sku, int(qty), now))

    def forget_pushed(self, store: str) -> None:
        """Forget what was pushed to the store (after a remap, say): the next sync writes every SKU."""
        with self._tx() as conn:
            conn.execute("DELETE FROM pushed_stock WHERE store = ?", (store,))

    # -- initial stock imports --------------------------------------------------------------------

    def initial_import(self, store: str, location_id: int) -> InitialImportRecord | None:
        found = self._select(InitialImportRecord, "initial_imports",
                             "WHERE store = ? AND location_id = ?", (store, int(location_id)))
        return found[0] if found else None

    def initial_imports_at(self, location_id: int) -> list[InitialImportRecord]:
        """Every store's import into this location, oldest first."""
        return self._select(InitialImportRecord, "initial_imports",
                            "WHERE location_id = ? ORDER BY at, store", (int(location_id),))

    def record_initial_import(self, store: str, location_id: int, adjustment_number: str,
                              adjustment_id: int | None) -> InitialImportRecord:
        record = InitialImportRecord(store, int(location_id), adjustment_number, adjustment_id, self._now())
        with self._tx() as conn:
            self._put(conn, "initial_imports", record)
        return record

    # -- cursors ----------------------------------------------------------------------------------

    def get_cursor(self, store: str, name: str) -> str | None:
        rows = self._query("SELECT value FROM cursors WHERE store = ? AND name = ?", (store, name))
        return rows[0][0] if rows else None

    def set_cursor(self, store: str, name: str, value: str | None) -> None:
        """Set a cursor; None deletes it."""
        with self._tx() as conn:
            if value is None:
                conn.execute("DELETE FROM cursors WHERE store = ? AND name = ?", (store, name))
            else:
                conn.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?, ?, ?)",
                             (store, name, str(value), _iso(self._now())))

    # -- applied plans ----------------------------------------------------------------------------

    def plan_applied(self, plan_id: str) -> bool:
        """Whether an apply of the saved plan `plan_id` was started with this state."""
        return bool(self._query("SELECT 1 FROM applied_plans WHERE plan_id = ?", (str(plan_id),)))

    def record_plan_applied(self, plan_id: str, config_hash: str) -> bool:
        """Record that an apply of `plan_id` starts; False when it was recorded already (the check
        and the record are one transaction, so two applies of one plan cannot both pass)."""
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM applied_plans WHERE plan_id = ?", (str(plan_id),)).fetchone():
                return False
            conn.execute("INSERT INTO applied_plans (plan_id, config_hash, applied_at) VALUES (?, ?, ?)",
                         (str(plan_id), config_hash, _iso(self._now())))
        return True

    # -- conditions -------------------------------------------------------------------------------

    def set_condition(self, store: str, type: str, status: str | bool, reason: str, message: str,
                      observed_config_hash: str) -> Condition:
        """Upsert a condition; `last_transition` moves only when `status` changes. True/False accepted."""
        status = _choice(str(status), CONDITION_STATUSES, "condition status")
        with self._tx() as conn:
            prior = conn.execute("SELECT status, last_transition FROM conditions "
                                 "WHERE store = ? AND type = ?", (store, type)).fetchone()
            now = self._now()
            since = datetime.fromisoformat(prior[1]) if prior and prior[0] == status else now
            condition = Condition(type, status, reason, message, since, observed_config_hash, now)
            self._put(conn, "conditions", condition, store=store)
        return condition

    def conditions(self, store: str) -> dict[str, Condition]:
        found = self._select(Condition, "conditions", "WHERE store = ? ORDER BY type", (store,))
        return {c.type: c for c in found}

    def all_conditions(self) -> dict[str, dict[str, Condition]]:
        result: dict[str, dict[str, Condition]] = {}
        for row in self._query(f"SELECT store, {_cols(Condition)} FROM conditions ORDER BY store, type"):
            result.setdefault(row[0], {})[row[1]] = _record(Condition, row[1:])
        return result

    # -- run log ----------------------------------------------------------------------------------

    def start_run(self, command: str, config_hash: str) -> int:
        with self._tx() as conn:
            return int(conn.execute("INSERT INTO runs (command, config_hash, started_at) VALUES (?, ?, ?)",
                                    (command, config_hash, _iso(self._now()))).lastrowid)

    def log_action(self, run_id: int, store: str, kind: str, target: str, before: Any, after: Any,
                   outcome: str, message: str = "") -> None:
        """Log one action. before/after: JSON data, in which Decimal, datetime, date, Enum, set, Path
        and dataclasses (their repr-visible fields) are converted; anything else raises TypeError."""
        _choice(outcome, ACTION_OUTCOMES, "action outcome")
        before_json, after_json = _dumps(before), _dumps(after)
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise StateError(f"state {self._name}: no run {run_id}; call start_run() first")
            conn.execute("INSERT INTO actions (run_id, store, kind, target, before, after, outcome, message, "
                         "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (run_id, store, kind, str(target),
                         before_json, after_json, outcome, message, _iso(self._now())))

    def finish_run(self, run_id: int, outcome: str, summary: Mapping[str, Any]) -> None:
        summary_json = _dumps(dict(summary))
        with self._tx() as conn:
            if conn.execute("UPDATE runs SET finished_at = ?, outcome = ?, summary = ? WHERE id = ?",
                            (_iso(self._now()), outcome, summary_json, run_id)).rowcount == 0:
                raise StateError(f"state {self._name}: no run {run_id}; call start_run() first")

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        return self._select(RunRecord, "runs", "ORDER BY id DESC LIMIT ?", (int(limit),))

    def actions(self, run_id: int) -> list[ActionRecord]:
        """A run's actions in the order they were logged."""
        return self._select(ActionRecord, "actions", "WHERE run_id = ? ORDER BY id", (run_id,))

