"""The PostgreSQL backend of the state, and advisory locks that work across machines.

Callers: `State` (`state._core`) builds a `PostgresBackend` for `State("postgresql://...")` and
`State.from_config` with `state.url`; `locks` takes the per-store locks with `AdvisoryLocks` when
the state is in PostgreSQL; `config` checks `state.url` with `url_problem`. One shared state, like
terraform's `pg` backend: any number of runners on any number of machines, one lock.

Connections (psycopg 3): one for the state's reads and writes (autocommit; writes in explicit
transactions), and one per lock holder, so that a lock lives exactly as long as its holder's
connection. The password never travels in the URL: it comes from the config's `password_env` or
`password_file` (or libpq's own PGPASSWORD / ~/.pgpass) and is passed apart; `safe_url` is the only
form of the URL any message, repr or log shows.

Tables live in one schema per state (`state.schema`, default `katana_woo`), so several configs can
share a database; the schema is created on first use and `migrations` brings it up to date, inside a
transaction that holds the state's write lock, so two processes opening a new state migrate it once.

Locks are session-level advisory locks (`pg_try_advisory_lock`), which the server releases when the
holding connection ends: when its process exits, is killed (kill -9: the kernel closes the socket),
or its machine vanishes (TCP keepalives, set on both ends here, notice within ~25 s). Keys are 64-bit
hashes of what is locked (`advisory_key`): the state itself (per schema), each store (per database:
Katana account + store key, and the shop's address, whatever config or schema another runner uses)
and each lease. A holder names itself in its connection's application_name (command, pid, host), so
a refused runner can say who holds the lock (`pg_locks` joined with `pg_stat_activity`).

Every write transaction first takes a transaction-level advisory lock of the state: like SQLite's
BEGIN IMMEDIATE, one writer at a time, so the read-then-write methods of `State` stay correct.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import StateError, StateLockedError

if TYPE_CHECKING:
    import psycopg
from . import migrations as _migrations
from .records import LockHolder

log = logging.getLogger(__package__)

SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "katana_woo"
SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# libpq keepalives: the client notices a dead server, and (set as server options) the server notices
# a vanished client machine within idle + interval * count = 25 s, releasing its locks.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
SERVER_OPTIONS = ("-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 "
                  "-c synchronous_commit=off")
_APP_NAME = re.compile(r"(?P<command>.*) pid (?P<pid>\d+) on (?P<host>.*)")


def is_url(target: object) -> bool:
    return isinstance(target, str) and target.split("://", 1)[0].lower() in SCHEMES and "://" in target


def safe_url(url: str) -> str:
    """`url` without any password (in user:password@ or a `password=` parameter): the only form shown."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}@{host}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                           if k.lower() != "password"])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return f"{url.split('://', 1)[0]}://(unparsable URL)"


def url_problem(url: str) -> str | None:
    """Why `url` cannot name a state (None when it can); the message never repeats a password."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL (check the host and port)"
    if parts.scheme.lower() not in SCHEMES:
        return "must start with postgresql://"
    if parts.password is not None or any(k.lower() == "password" for k, _ in parse_qsl(parts.query)):
        return ("must not contain a password; give it with state.password_env or state.password_file "
                "(or libpq's PGPASSWORD / ~/.pgpass)")
    if not parts.path.strip("/"):
        return "must name the database: postgresql://user@host:5432/DATABASE"
    if parts.fragment:
        return "must not contain a fragment (#...)"
    return None


def advisory_key(text: str) -> int:
    """A signed 64-bit advisory lock key for `text` (the first 8 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big", signed=True)


def _app_name(owner: str) -> str:
    # PostgreSQL keeps 63 bytes of it; the host is cut first.
    return f"{owner or 'katana-woo'} pid {os.getpid()} on {socket.gethostname()}".encode()[:63].decode("ascii", "ignore")


@dataclass(frozen=True)
class PgTarget:
    """Where a PostgreSQL state lives: a URL without password, the password apart, the schema."""

    url: str
    password: Any = field(default=None, repr=False)  # a config.Secret, a str, or None (libpq's own)
    schema: str = DEFAULT_SCHEMA
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        problem = url_problem(self.url)
        if problem:
            raise StateError(f"state URL {safe_url(self.url)} {problem}")
        if not SCHEMA_PATTERN.fullmatch(self.schema):
            raise StateError(f"state schema {self.schema!r} must be lowercase letters, digits and _ "
                             f"(not starting with a digit), at most 63 characters")

    @property
    def shown(self) -> str:
        suffix = "" if self.schema == DEFAULT_SCHEMA else f" schema {self.schema}"
        return safe_url(self.url) + suffix

    def _secret(self) -> str | None:
        reveal = getattr(self.password, "reveal", None)
        secret: str | None = reveal() if reveal else self.password
        return secret

    def scrub(self, text: str) -> str:
        secret = self._secret()
        return text.replace(secret, "***") if secret and len(secret) >= 4 else text

    def connect(self, owner: str) -> psycopg.Connection[Any]:
        """A new autocommit connection named after `owner` (who holds what it locks)."""
        import psycopg  # imported here: the `postgres` extra is needed only by a PostgreSQL state

        extra: dict[str, Any] = dict(KEEPALIVE)
        if self._secret():
            extra["password"] = self._secret()
        try:
            return psycopg.connect(self.url, autocommit=True, application_name=_app_name(owner),
                                   connect_timeout=max(1, int(self.connect_timeout)),
                                   options=f"{SERVER_OPTIONS} -c search_path={self.schema}", **extra)
        except psycopg.Error as exc:
            raise StateError(f"state {self.shown}: cannot connect: {self.scrub(str(exc).strip())}") from exc


    def has_state(self) -> bool:
        """Whether the schema holds a state already (without creating anything, as opening would)."""
        conn = self.connect("katana-woo state")
        try:
            row = conn.execute("SELECT to_regclass(format('%%I.schema_version', %s::text)) IS NOT NULL",
                               (self.schema,)).fetchone()
            assert row is not None  # a SELECT of one expression answers one row
            exists: bool = row[0]
            return exists
        finally:
            conn.close()


def driver_errors() -> tuple[type[BaseException], ...]:
    import psycopg
    return (psycopg.Error,)


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """The state's `?` placeholders in psycopg's spelling (the state's SQL has no other % or ?)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection that takes the state's `?` placeholders, as sqlite3 does."""

    def __init__(self, conn: Any):
        self._conn = conn

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self._conn.execute(_pg_sql(sql), tuple(params))

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self._conn.cursor() as cursor:  # psycopg pipelines these: one round trip per batch
            cursor.executemany(_pg_sql(sql), rows)


class PostgresBackend:
    """The state's connection to PostgreSQL, its migrations, transactions and locks."""

    kind = "postgresql"

    def __init__(self, target: PgTarget, *, now: Callable[[], datetime]):
        self.target, self._now = target, now
        self.path = None
        self.name = target.shown
        self.errors = driver_errors()
        self._write_key = advisory_key(f"katana-woo state-write {target.schema}")
        self.conn = target.connect("katana-woo state")
        try:
            self.schema_version = self._migrate()
        except BaseException:
            self.conn.close()
            raise

    def _migrate(self) -> int:
        from psycopg import sql

        schema = sql.Identifier(self.target.schema)
        try:
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._write_key,))
                self.conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                self.conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
                # No parameters in `run`'s batch: psycopg sends it as one simple query, one round trip.
                return _migrations.migrate(_Connection(self.conn).execute, name=self.name, dialect="postgresql",
                                           now=self._now, migrations=_migrations.MIGRATIONS,
                                           version=_migrations.SCHEMA_VERSION,
                                           run=lambda batch: self.conn.execute("\n".join(batch)))
        except self.errors as exc:
            raise StateError(f"state {self.name}: cannot open: {self.target.scrub(str(exc).strip())}") from exc

    def describe(self) -> str:
        return repr(safe_url(self.target.url)) + (f", schema={self.target.schema!r}")

    def close(self) -> None:
        self.conn.close()

    def _live(self) -> Any:
        if self.conn.broken:  # the server restarted, or the network failed: one new connection
            log.warning("state %s: connection lost; reconnecting", self.name)
            self.conn = self.target.connect("katana-woo state")
        return self.conn

    # -- statements -------------------------------------------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = _Connection(self._live()).execute(sql, params).fetchall()
        return rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Connection]:
        conn = self._live()
        try:
            # BEGIN and the write lock in one round trip (a simple query: the key is our own integer).
            conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({int(self._write_key)})")
            try:
                yield _Connection(conn)
            except BaseException:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except self.errors as exc:
            raise StateError(f"state {self.name}: {self.target.scrub(str(exc).strip())}") from exc

    @staticmethod
    def insert_id(conn: _Connection, sql: str, params: tuple[Any, ...]) -> int:
        return int(conn.execute(sql + " RETURNING id", params).fetchone()[0])

    def columns(self, table: str) -> list[str]:
        """A table's columns in their defined order (for `transfer`)."""
        return [r[0] for r in self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", (table,))]

    @staticmethod
    def after_copy(conn: _Connection) -> None:
        """After `transfer` inserted rows with their ids: number on from the largest, as SQLite does."""
        for table in _migrations.IDENTITY_TABLES:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")

    # -- locks ------------------------------------------------------------------------------------

    def lock(self, timeout: float, owner: str, poll_interval: float,
             now: Callable[[], datetime]) -> contextlib.AbstractContextManager[LockHolder]:
        key = f"katana-woo state {self.target.schema}"
        return AdvisoryLock(self.target, key, self.name, kind="state").hold(
            timeout, owner, poll_interval, now)

    def lease_lock(self, name: str) -> AdvisoryLock:
        return AdvisoryLock(self.target, f"katana-woo lease {self.target.schema} {name}",
                            f"{self.name} lease {name}", kind="lease")


class AdvisoryLocks:
    """Session-level advisory locks held on one dedicated connection; closing it releases them all.

    `hold` takes one key (a text, hashed by `advisory_key`), waiting up to `timeout` s, else raising
    StateLockedError naming the holder. The wait is the server's (`pg_advisory_lock` under
    `lock_timeout`), so the lock is taken the moment its holder lets go or dies, in the order the
    waiters came; `poll_interval` (the file lock's) is not needed. The connection opens on the first
    `hold`, named after its `owner`, and closes when the last lock is let go.
    """

    def __init__(self, target: PgTarget, owner: str):
        self.target, self.owner = target, owner
        self._conn: Any = None
        self._held: dict[int, str] = {}

    @contextlib.contextmanager
    def hold(self, key_text: str, label: str, *, kind: str, timeout: float, poll_interval: float,
             now: Callable[[], datetime]) -> Iterator[LockHolder]:
        key = advisory_key(key_text)
        if key in self._held:
            raise StateLockedError(f"{kind} {label} is locked already by this holder")  # not re-entrant
        me = LockHolder(os.getpid(), socket.gethostname(), now(), self.owner)
        if self._conn is None:
            self._conn = self.target.connect(self.owner)
        try:
            taken = self._try(key) or self._wait(key, timeout)
            holder = None if taken else self.holder(key)
            if not taken and holder is None:
                # It let go between our try and our look at who held it: one more try, so that a
                # refusal names its holder (or the lock is ours after all).
                taken = self._try(key)
                holder = None if taken else self.holder(key)
            if not taken:
                by = f"by {holder.describe()}" if holder else "by another runner (holder not yet known)"
                err = StateLockedError(f"{kind} {label} is locked {by}; wait for it to finish, or retry "
                                       f"with a longer timeout")
                err.holder = holder  # type: ignore[attr-defined]
                raise err
        except BaseException:
            if not self._held:
                self.close()
            raise
        self._held[key] = label
        log.debug("%s %s: locked by %s", kind, label, me.describe())
        try:
            yield me
        finally:
            self._held.pop(key, None)
            # Unlocked in so many words first: a closed connection's backend lets go of its locks only
            # as it exits, a moment after close() returns, and the next apply may already be asking.
            with contextlib.suppress(*driver_errors()):
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            if not self._held:
                self.close()  # and if the unlock could not run, the connection's end releases it

    def _try(self, key: int) -> bool:
        try:
            return bool(self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])
        except driver_errors() as exc:
            raise StateError(f"state {self.target.shown}: cannot take a lock: "
                             f"{self.target.scrub(str(exc).strip())}") from exc

    def _wait(self, key: int, timeout: float) -> bool:
        """Wait on the server for `key`, up to `timeout` s (inf: as long as it takes); whether it was taken."""
        if not timeout > 0:
            return False
        from psycopg import errors

        # lock_timeout 0 means no limit; a finite wait is at least 1 ms, at most PostgreSQL's ~24 days.
        ms = 0 if math.isinf(timeout) else min(max(int(timeout * 1000), 1), 2**31 - 1)
        try:  # one simple query, one round trip: both values are our own integers
            self._conn.execute(f"SET lock_timeout = {ms}; SELECT pg_advisory_lock({int(key)})")
            return True
        except errors.LockNotAvailable:
            return False
        except driver_errors() as exc:
            raise StateError(f"state {self.target.shown}: cannot take a lock: "
                             f"{self.target.scrub(str(exc).strip())}") from exc
        finally:
            if not self._conn.broken:
                self._conn.execute("RESET lock_timeout")

    def alive(self) -> bool:
        """Whether this connection still holds every lock taken (False once the connection is lost).

        pg_locks shows a bigint key as two oids, classid (high half) and objid (low half); the
        shift and or put them back together into the signed key, wrapping as the key did."""
        if self._conn is None or not self._held:
            return False
        try:
            rows = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND granted AND objsubid = 1 AND (classid::bigint << 32 | objid::bigint) = ANY(%s)",
                (list(self._held),)).fetchone()
            all_held: bool = rows[0] == len(self._held)
            return all_held
        except driver_errors():
            return False

    def holder(self, key: int) -> LockHolder | None:
        """Who holds `key` now, from the server's view of the holding session (None: unknown)."""
        try:
            row = self._conn.execute(
                "SELECT a.pid, a.application_name, a.backend_start, a.client_addr::text "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND (l.classid::bigint << 32 | l.objid::bigint) = %s",
                (key,)).fetchone()
        except driver_errors():
            return None
        if row is None:
            return None
        backend_pid, app, started, address = row
        found = _APP_NAME.fullmatch(app or "")
        if found:
            return LockHolder(int(found["pid"]), found["host"], started, found["command"])
        # Not a katana-woo holder, or a role that may not see another role's sessions in full.
        return LockHolder(int(backend_pid), address or "the database server", started,
                          app or "a session this role cannot see in full")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
            self._held.clear()


class AdvisoryLock:
    """One advisory lock on a connection of its own: the same `hold()` as the file lock, plus `alive()`."""

    def __init__(self, target: PgTarget, key_text: str, label: str, *, kind: str):
        self.target, self.key_text, self.label, self.kind = target, key_text, label, kind
        self._session: AdvisoryLocks | None = None

    @contextlib.contextmanager
    def hold(self, timeout: float, owner: str, poll_interval: float,
             now: Callable[[], datetime]) -> Iterator[LockHolder]:
        session = AdvisoryLocks(self.target, owner)
        with session.hold(self.key_text, self.label, kind=self.kind, timeout=timeout,
                          poll_interval=poll_interval, now=now) as me:
            self._session = session
            try:
                yield me
            finally:
                self._session = None

    def alive(self) -> bool:
        return self._session is not None and self._session.alive()
