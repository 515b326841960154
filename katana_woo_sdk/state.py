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

Nothing secret is stored: no method takes a credential, holder info in the lock file names a pid, a
host and a command without its arguments, and dataclasses logged as before/after are serialised
from their repr-visible fields only, the fields the project already guarantees are safe to show.

Storage: stdlib `sqlite3`, WAL journal (readers never block the one writer), writes in
`BEGIN IMMEDIATE` transactions, a 30 s busy timeout for other processes. The schema is versioned by
`MIGRATIONS` (script *i* brings the file to version *i + 1*); opening an older file migrates it,
a newer one is refused. Timestamps are aware UTC datetimes in Python, ISO 8601 strings in SQL.
One connection per State, shared by threads under an RLock.
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
import fcntl
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path, PurePath
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from .errors import StateError, StateLockedError

__all__ = [
    "State", "MappingRecord", "LedgerEntry", "PushedRecord", "InitialImportRecord", "Condition",
    "RunRecord", "ActionRecord", "LockHolder", "MIGRATIONS", "SCHEMA_VERSION",
    "LEDGER_STATUSES", "CONDITION_STATUSES", "ACTION_OUTCOMES",
]

log = logging.getLogger(__name__)
_R = TypeVar("_R")

LEDGER_STATUSES = ("imported", "held", "skipped")
CONDITION_STATUSES = ("True", "False", "Unknown")
ACTION_OUTCOMES = ("applied", "skipped", "failed", "held", "planned")

# Append only: a released script is never edited; a change is a new script.
MIGRATIONS: tuple[str, ...] = (
    # v1: the tables. Column names are the record field names (see `_record`).
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
)
SCHEMA_VERSION = len(MIGRATIONS)


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


@dataclasses.dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) the state lock."""
    pid: int
    host: str
    started_at: datetime | None
    command: str

    def describe(self) -> str:
        since = f" since {self.started_at.isoformat(timespec='seconds')}" if self.started_at else ""
        return f"pid {self.pid} on {self.host} ({self.command or 'unknown command'}){since}"


# --- conversions ---------------------------------------------------------------------------------

_TIMESTAMPS = {"valid_from", "valid_to", "first_seen", "updated_at", "pushed_at", "at", "last_transition",
               "started_at", "finished_at"}
_JSON_COLUMNS = {"before", "after", "summary"}


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: the state stores aware UTC datetimes only")
    return dt.astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    # Fixed width (always microseconds), so that ISO strings sort like the instants they name.
    return _utc(dt).isoformat(timespec="microseconds")


def _jsonable(obj: Any) -> Any:
    """`json.dumps(default=...)`: Decimal keeps its exact digits as a string; datetimes become ISO."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return _iso(obj) if obj.tzinfo else obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # Only repr-visible fields: secrets and bulky raw payloads are repr=False by convention.
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.repr}
    raise TypeError(f"cannot store {type(obj).__name__} in the run log; pass JSON-serialisable data")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_jsonable, sort_keys=True, ensure_ascii=False)


def _cell(name: str, value: Any) -> Any:
    """A record field as stored: datetimes as ISO text, data as JSON text."""
    if value is None:
        return None
    if name in _TIMESTAMPS:
        return _iso(value)
    if name in _JSON_COLUMNS:
        return _dumps(value)
    if name == "lines_qty":
        return json.dumps({str(sku): str(qty) for sku, qty in value.items()}, sort_keys=True)
    return value


def _record(cls: type[_R], row: tuple) -> _R:
    """A record from a row of `_cols(cls)`; the inverse of `_cell`."""
    values = {}
    for field, value in zip(dataclasses.fields(cls), row, strict=True):
        if value is not None and field.name in _TIMESTAMPS:
            value = datetime.fromisoformat(value)
        elif value is not None and field.name in _JSON_COLUMNS:
            value = json.loads(value)
        elif value is not None and field.name == "lines_qty":
            value = {sku: Decimal(qty) for sku, qty in json.loads(value).items()}
        values[field.name] = value
    return cls(**values)


def _cols(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return value


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
        self._memory_lock = threading.Lock()  # what lock() takes for an in-memory state
        self._memory_holder: LockHolder | None = None
        self._schema_version = 0
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        try:  # autocommit mode: `_tx` opens every transaction explicitly
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self._name, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error as exc:
            raise StateError(f"state {self._name}: cannot open: {exc}") from exc
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self._path is not None:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("state %s: journal mode is %s, not WAL", self._name, mode)
                # NORMAL is durable enough in WAL: a power cut may lose the last commits, which
                # (module docstring) costs speed, not correctness.
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._schema_version = self._migrate()
        except BaseException as exc:
            self.close()
            cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
            # Only for a file that is not (or no longer) a database: "locked" or "disk I/O error"
            # are not fixed by deleting it.
            if getattr(cause, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise StateError(f"state {self._name} is not a usable SQLite database ({cause}); delete "
                                 f"it to start afresh (that costs speed, never correctness)") from exc
            if isinstance(exc, sqlite3.Error):
                raise StateError(f"state {self._name}: cannot open: {exc}") from exc
            raise

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
        with self._mutex:
            conn = self._live()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StateError(f"state {self._name}: {exc}") from exc
                raise

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

    def _migrate(self) -> int:
        with self._tx() as conn:  # IMMEDIATE: two processes opening an old file migrate it once
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                         "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise StateError(
                    f"state {self._name} has schema version {current}, but this katana-woo knows versions "
                    f"up to {SCHEMA_VERSION} only: a newer katana-woo wrote it. Upgrade katana-woo, or "
                    f"use another state file")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _statements(MIGRATIONS[version - 1]):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, _iso(self._now())))
                log.info("state %s: migrated to schema version %d", self._name, version)
        return SCHEMA_VERSION

    # -- lock -------------------------------------------------------------------------------------

    def lock(self, *, timeout: float = 0.0, owner: str = "",
             poll_interval: float = 0.1) -> contextlib.AbstractContextManager[LockHolder]:
        """The exclusive right to apply, across processes: `with state.lock(owner="katana-woo apply"):`.

        An flock on `<db>.lock`, which the kernel releases if the holder dies: it is never stale.
        Tries every `poll_interval` s for up to `timeout` s, then raises StateLockedError naming the
        holder (also on its `.holder`). Not re-entrant. `owner` is the command *without* arguments
        (default: the program name), as the lock file is world-readable.
        """
        return self._lock(timeout, owner or Path(sys.argv[0] or "python").name, poll_interval)

    @contextlib.contextmanager
    def _lock(self, timeout: float, owner: str, poll_interval: float) -> Iterator[LockHolder]:
        me = LockHolder(os.getpid(), socket.gethostname(), self._now(), owner)
        deadline = time.monotonic() + max(timeout, 0.0)
        if self.lock_path is None:
            while not self._memory_lock.acquire(blocking=False):
                self._wait_or_raise(deadline, poll_interval, self._memory_holder)
            self._memory_holder = me
            try:
                yield me
            finally:
                self._memory_holder = None
                self._memory_lock.release()
            return
        # No O_TRUNC: truncating before we hold the lock would erase the holder's info.
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    self._wait_or_raise(deadline, poll_interval, _read_holder(fd))
            try:
                info = {"pid": me.pid, "host": me.host, "started_at": _iso(me.started_at), "command": owner}
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
                log.debug("state %s: locked by %s", self._name, me.describe())
                yield me
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _wait_or_raise(self, deadline: float, poll_interval: float, holder: LockHolder | None) -> None:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            self._sleep(min(poll_interval, remaining))
            return
        by = f"by {holder.describe()}" if holder else "by another runner (holder not yet known)"
        err = StateLockedError(f"state {self._name} is locked {by}; wait for it to finish, or retry "
                               f"with a longer timeout")
        err.holder = holder  # type: ignore[attr-defined]
        raise err

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


def _read_holder(fd: int) -> LockHolder | None:
    """The holder's info from the lock file; None until the holder has written it."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "null")
        started = info.get("started_at")
        return LockHolder(int(info["pid"]), str(info["host"]),
                          datetime.fromisoformat(started) if started else None, str(info.get("command", "")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
