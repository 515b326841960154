"""`State`: the one interface to the runner's state, whichever backend holds it.

Callers: `katana_woo_sdk.state` re-exports `State` (its public face); the runner, the engines,
`conditions`, `moves`, `locks` and `state.transfer` use it. Every method is written once, here, in
the SQL both backends speak (`?` placeholders, `INSERT ... ON CONFLICT`); a backend (`sqlite.py`,
`postgres.py`) opens and migrates the store, runs statements and transactions, and locks.
One connection per State, shared by threads under an RLock.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import StateError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
from ._inbox import InboxMixin
from ._lifecycle import _IN_CHUNK, LifecycleMixin
from ._rows import _cell, _choice, _cols, _dumps, _iso, _record, _utc
from .lease import Lease
from .postgres import DEFAULT_SCHEMA, PgTarget, PostgresBackend, is_url
from .records import (ACTION_OUTCOMES, CONDITION_STATUSES, LEDGER_STATUSES, ActionRecord, Condition,
                      InitialImportRecord, LedgerEntry, LockHolder, MappingRecord, PushedRecord, RunRecord)
from .sqlite import SqliteBackend

log = logging.getLogger(__package__)
_R = TypeVar("_R", bound="DataclassInstance")

# The primary key of each table written by upsert: `INSERT ... ON CONFLICT (key) DO UPDATE`, which
# SQLite (3.24+) and PostgreSQL both understand.
_KEYS = {"order_ledger": ("store", "woo_order_id"), "pushed_stock": ("store", "sku"),
         "initial_imports": ("store", "location_id"), "conditions": ("store", "type"),
         "cursors": ("store", "name")}


class State(InboxMixin, LifecycleMixin):
    """The runner's state in SQLite (a file, the default) or PostgreSQL (shared by many machines).

    A context manager (or call `close()`)::

        State("state/katana-woo.db")                       # SQLite file, created and migrated
        State("postgresql://kw@db:5432/kw", password=Secret(...), schema="shop_eu")
        State.from_config(config.state)                    # whichever the config names
        State.in_memory()                                  # throw-away, for tests and notebooks

    The password of a PostgreSQL state is passed apart (or left to libpq's PGPASSWORD / ~/.pgpass),
    never in the URL. `clock` gives the aware "now" stamped on records; `sleep` is what a SQLite
    `lock(timeout=...)` waits with between attempts (PostgreSQL waits on the server). Both are seams
    for tests.
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sleep: Callable[[float], None] = time.sleep, password: Any = None,
                 schema: str = DEFAULT_SCHEMA):
        self._clock, self._sleep = clock, sleep
        self._mutex = threading.RLock()  # one connection, shared by the runner's threads
        self._closed = False
        if is_url(path):
            self._db: SqliteBackend | PostgresBackend = PostgresBackend(
                PgTarget(str(path), password, schema), now=self._now)
        else:
            self._db = SqliteBackend(None if str(path) == ":memory:" else Path(path), now=self._now, sleep=sleep)

    @classmethod
    def in_memory(cls, **kwargs: Any) -> State:
        """A throw-away state for tests and notebooks; its `lock()` excludes within this object only."""
        return cls(":memory:", **kwargs)

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> State:
        """The state a config's `state:` block names (a `config.StateConfig`): its PostgreSQL `url`
        (with its password and schema) when it has one, else its SQLite `path`."""
        if getattr(config, "url", None):
            return cls(config.url, password=config.password, schema=config.schema, **kwargs)
        return cls(config.path, **kwargs)

    @classmethod
    def existing(cls, config: Any, **kwargs: Any) -> State | None:
        """The state a config's `state:` block names if it exists already, else None: nothing is
        created (no file, no schema), for commands that only read the state (`status`, `history`)."""
        if getattr(config, "url", None):
            if not PgTarget(config.url, config.password, config.schema).has_state():
                return None
        elif not Path(config.path).exists():
            return None
        return cls.from_config(config, **kwargs)

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._db.kind

    @property
    def path(self) -> Path | None:
        """The SQLite file; None for an in-memory or a PostgreSQL state."""
        return self._db.path

    @property
    def url(self) -> str | None:
        """A PostgreSQL state's URL, without any password; None for SQLite."""
        return self._db.name if isinstance(self._db, PostgresBackend) else None

    @property
    def lock_path(self) -> Path | None:
        """The SQLite state's lock file; None in memory and for PostgreSQL (advisory locks)."""
        return self._db.lock_path if isinstance(self._db, SqliteBackend) else None

    @property
    def schema_version(self) -> int:
        return self._db.schema_version

    @property
    def name(self) -> str:
        """The state as messages show it: the file, ":memory:", or the URL without password."""
        return self._db.name

    def __repr__(self) -> str:
        closed = ", closed" if self._closed else ""
        return f"State({self._db.describe()}, schema_version={self._db.schema_version}{closed})"

    def close(self) -> None:
        with self._mutex:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _live(self) -> SqliteBackend | PostgresBackend:
        if self._closed:
            raise StateError(f"state {self.name} is closed")
        return self._db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        """A write transaction, one writer at a time: reads inside it stay true until it commits."""
        with self._mutex, self._live().transaction() as conn:
            yield conn

    def _query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            db = self._live()
            try:
                return db.query(sql, params)
            except db.errors as exc:
                raise StateError(f"state {self.name}: {exc}") from exc

    def _select(self, cls: type[_R], table: str, tail: str = "", params: tuple[Any, ...] | list[Any] = ()) -> list[_R]:
        return [_record(cls, row) for row in self._query(f"SELECT {_cols(cls)} FROM {table} {tail}", params)]

    @staticmethod
    def _put(conn: Any, table: str, record: Any, *, upsert: bool = True, **extra: Any) -> None:
        cells = dict(extra)
        cells.update((f.name, _cell(f.name, getattr(record, f.name))) for f in dataclasses.fields(record))
        _write(conn, table, cells, upsert=upsert)

    # -- locks ------------------------------------------------------------------------------------

    def lock(self, *, timeout: float = 0.0, owner: str = "",
             poll_interval: float = 0.1) -> contextlib.AbstractContextManager[LockHolder]:
        """The exclusive right to apply, across processes: `with state.lock(owner="katana-woo apply"):`.

        SQLite: an OS file lock on `<db>.lock` (flock on POSIX, LockFileEx on Windows, through
        `filelock`), which the OS releases if the holder dies, with who holds it in
        `<db>.lock.holder`: one machine. PostgreSQL: a session-level advisory lock on a connection of
        its own, which the server releases when that connection ends: any number of machines.
        Waits up to `timeout` s (SQLite: trying every `poll_interval` s; PostgreSQL: on the server,
        taking the lock the moment it is free), then raises StateLockedError naming the holder (also
        on its `.holder`). Not re-entrant. `owner` is the command *without* arguments
        (default: the program name), as other users may read it.
        """
        return self._live().lock(timeout, owner or Path(sys.argv[0] or "python").name, poll_interval, self._now)

    def lease(self, name: str = "run", *, owner: str = "") -> Lease:
        """A `Lease` called `name` on this state: the right of one `katana-woo run` replica to work,
        which a hot standby waits for and takes over when the holder dies (see `state.lease`)."""
        return Lease(self._live().lease_lock(name), name, owner or Path(sys.argv[0] or "python").name, self._now)

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
            self._put(conn, "mapping_history", record, upsert=False)
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
        return self.ledger_put_many([entry])[0]

    def ledger_put_many(self, entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
        """`ledger_put` of each entry, in order, in one transaction (a run adopting 100,000 orders
        found in Katana wrote one transaction each). Returns the stored entries."""
        stored_all: list[LedgerEntry] = []
        pending = list(entries)
        for entry in pending:
            _choice(entry.status, LEDGER_STATUSES, "ledger status")
        with self._tx() as conn:
            now = self._now()
            for entry in pending:
                key = (entry.store, int(entry.woo_order_id))
                lines = entry.lines_qty and {str(sku): Decimal(str(q)) for sku, q in entry.lines_qty.items()}
                prior = conn.execute("SELECT first_seen, attempts FROM order_ledger "
                                     "WHERE store = ? AND woo_order_id = ?", key).fetchone()
                first_seen, attempts = (datetime.fromisoformat(prior[0]), prior[1]) if prior else (now, 0)
                stored = dataclasses.replace(entry, woo_order_id=key[1], lines_qty=lines, first_seen=first_seen,
                                             updated_at=now, attempts=attempts + (entry.status == "held"))
                self._put(conn, "order_ledger", stored)
                stored_all.append(stored)
        return stored_all

    def ledger(self, store: str, *, status: str | None = None) -> dict[int, LedgerEntry]:
        """The store's entries by Woo order id (ascending), optionally of one status only."""
        where, params = "WHERE store = ?", [store]
        if status is not None:
            where += " AND status = ?"
            params.append(_choice(status, LEDGER_STATUSES, "ledger status"))
        entries = self._select(LedgerEntry, "order_ledger", f"{where} ORDER BY woo_order_id", params)
        return {e.woo_order_id: e for e in entries}

    def ledger_of(self, store: str, woo_order_ids: Iterable[int], *, status: str | None = None
                  ) -> dict[int, LedgerEntry]:
        """The entries of these orders that exist (optionally of one status only), by Woo order id:
        what a run needs of a ledger of 100,000 orders when it looks at a few of them."""
        ids = sorted({int(i) for i in woo_order_ids})
        tail = "" if status is None else " AND status = ?"
        extra = () if status is None else (_choice(status, LEDGER_STATUSES, "ledger status"),)
        out: dict[int, LedgerEntry] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start:start + _IN_CHUNK]
            found = self._select(LedgerEntry, "order_ledger",
                                 f"WHERE store = ? AND woo_order_id IN ({', '.join('?' * len(chunk))}){tail}",
                                 (store, *chunk, *extra))
            out.update((e.woo_order_id, e) for e in found)
        return dict(sorted(out.items()))

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
                _write(conn, "cursors", {"store": store, "name": name, "value": str(value),
                                         "updated_at": _iso(self._now())})

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
            _write(conn, "applied_plans", {"plan_id": str(plan_id), "config_hash": config_hash,
                                           "applied_at": _iso(self._now())}, upsert=False)
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
            return self._db.insert_id(conn, "INSERT INTO runs (command, config_hash, started_at) VALUES (?, ?, ?)",
                                      (command, config_hash, _iso(self._now())))

    def log_action(self, run_id: int, store: str, kind: str, target: str, before: Any, after: Any,
                   outcome: str, message: str = "") -> None:
        """Log one action. before/after: JSON data, in which Decimal, datetime, date, Enum, set, Path
        and dataclasses (their repr-visible fields) are converted; anything else raises TypeError."""
        _choice(outcome, ACTION_OUTCOMES, "action outcome")
        before_json, after_json = _dumps(before), _dumps(after)
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise StateError(f"state {self.name}: no run {run_id}; call start_run() first")
            conn.execute("INSERT INTO actions (run_id, store, kind, target, before, after, outcome, message, "
                         "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (run_id, store, kind, str(target),
                         before_json, after_json, outcome, message, _iso(self._now())))

    def finish_run(self, run_id: int, outcome: str, summary: Mapping[str, Any]) -> None:
        summary_json = _dumps(dict(summary))
        with self._tx() as conn:
            if conn.execute("UPDATE runs SET finished_at = ?, outcome = ?, summary = ? WHERE id = ?",
                            (_iso(self._now()), outcome, summary_json, run_id)).rowcount == 0:
                raise StateError(f"state {self.name}: no run {run_id}; call start_run() first")

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        return self._select(RunRecord, "runs", "ORDER BY id DESC LIMIT ?", (int(limit),))

    def actions(self, run_id: int) -> list[ActionRecord]:
        """A run's actions in the order they were logged."""
        return self._select(ActionRecord, "actions", "WHERE run_id = ? ORDER BY id", (run_id,))



def _write(conn: Any, table: str, cells: Mapping[str, Any], *, upsert: bool = True) -> None:
    """Insert a row of `cells`; with `upsert`, replace the row of the same primary key (`_KEYS`)."""
    sql = f"INSERT INTO {table} ({', '.join(cells)}) VALUES ({', '.join('?' * len(cells))})"
    if upsert:
        keys = _KEYS[table]
        sql += (f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in cells if c not in keys))
    conn.execute(sql, tuple(cells.values()))
