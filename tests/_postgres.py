"""A real PostgreSQL server for the tests, and the runner and engine tests run on both state backends.

Loaded by `conftest.py` (`pytest_plugins`). What it gives:

- `pg_database` (session): a database created for this test session (CREATE DATABASE with a unique
  name) and dropped at its end; its URL has no password (the server is reached as a role that needs
  none, as `.ci/run` sets up: trust on loopback, or libpq's PGPASSWORD / ~/.pgpass).
- `pg_url`: that URL; `pg_schema`: a schema name no other test uses, for a fresh state.
- `state_backend`: every test of the modules in `BOTH_BACKENDS` runs twice, `[sqlite]` and
  `[postgresql]`; in the second run `_harness.config_text` writes `state: {url: ..., schema: ...}`
  (an empty schema per state the test names), so the runner, its locks and the engines run on
  PostgreSQL exactly as they do on the SQLite file. Those are the modules that exercise the state
  through the runner; the state's own tests (`test_state.py`) are parameterised themselves.
  The schemas come from a pool (`SchemaPool`): created and migrated by the first test that needs
  one, emptied (not dropped) for the next. An emptied schema is what a new state is once migrated;
  creating one per test would cost ~0.1-0.3 s of DDL each, emptying costs ~2 ms. The migrations
  themselves are tested in test_state_postgres.py.

The server: `$KATANA_WOO_TEST_PG` (a URL of a database from which to CREATE DATABASE), else
`postgres` or `root` on 127.0.0.1:5432. Where none answers, the tests that need it are skipped
with the reason; on CI (`CI` set) they fail instead, since `.ci/run` must have started one.
"""
from __future__ import annotations

import itertools
import os
import uuid
from functools import lru_cache

import pytest

BOTH_BACKENDS = {
    "test_engine_orders", "test_engine_stock", "test_runner_mapping", "test_initial_import_guarded",
    "test_moving_world", "test_saved_plan_contract", "test_order_matching", "test_lifecycle",
}
CANDIDATES = ("postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://root@127.0.0.1:5432/postgres")
_schemas = itertools.count(1)


@lru_cache(maxsize=1)
def server() -> tuple[str | None, str]:
    """(admin URL, "") of a server that lets us create a database, or (None, why not)."""
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed (pip install '.[test]')"
    wanted = os.environ.get("KATANA_WOO_TEST_PG")
    reasons = []
    for url in ([wanted] if wanted else CANDIDATES):
        try:
            with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return url, ""
        except psycopg.Error as exc:
            reasons.append(f"{url.split('@')[-1]}: {str(exc).strip().splitlines()[0]}")
    return None, "no PostgreSQL server for the tests (" + "; ".join(reasons) + ")"


def require_server() -> str:
    url, why = server()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; .ci/run must start one", pytrace=False)
        pytest.skip(why)
    return url


@pytest.fixture(scope="session")
def pg_database():
    """The URL of a database created for this session (dropped at its end)."""
    import psycopg
    from psycopg import sql

    admin = require_server()
    name = f"katana_woo_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            # FORCE: a worker a test killed may still hold a session for a moment.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_url(pg_database) -> str:
    return pg_database


@pytest.fixture
def pg_schema() -> str:
    return f"t{next(_schemas)}_{uuid.uuid4().hex[:6]}"


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__ in BOTH_BACKENDS and "state_backend" in metafunc.fixturenames:
        metafunc.parametrize("state_backend", ["sqlite", "postgresql"], indirect=True)


class SchemaPool:
    """Schemas of the session database for the `[postgresql]` tests, reused: `schema_for(path)` gives
    each state a test names (in the order it names them) the next pool schema, emptied if an earlier
    test left rows in it (the State creates and migrates a schema the first time)."""

    def __init__(self, url: str):
        self.url = url
        self._conn = None
        self._used: dict[str, str] = {}

    def start_test(self) -> None:
        self._used = {}

    def schema_for(self, state_path) -> str:
        key = str(state_path)
        if key not in self._used:
            name = f"pool_{len(self._used)}"
            self._empty(name)
            self._used[key] = name
        return self._used[key]

    def _empty(self, schema: str) -> None:
        import psycopg
        from katana_woo_sdk.state import migrations

        if self._conn is None:
            self._conn = psycopg.connect(self.url, autocommit=True, options="-c synchronous_commit=off")
        if not self._conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.schema_version",)).fetchone()[0]:
            return
        tables = list(migrations.TABLES)[::-1]  # children (actions) before their parents (runs)
        self._conn.execute("; ".join(
            [f"DELETE FROM {schema}.{t}" for t in tables]
            + [f"SELECT setval(pg_get_serial_sequence('{schema}.{t}', 'id'), 1, false)"
               for t in migrations.IDENTITY_TABLES]))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


@pytest.fixture(scope="session")
def schema_pool(pg_database):
    pool = SchemaPool(pg_database)
    yield pool
    pool.close()


@pytest.fixture(autouse=True)
def state_backend(request):
    """"sqlite", or "postgresql" with `_harness` writing PostgreSQL states (see the module doc)."""
    backend = getattr(request, "param", "sqlite")
    if backend != "postgresql":   # every other test: nothing to set, nothing imported
        yield backend
        return
    import _harness

    default = _harness.STATE_SCHEMA
    pool = request.getfixturevalue("schema_pool")
    pool.start_test()
    _harness.STATE_URL, _harness.STATE_SCHEMA = pool.url, pool.schema_for
    try:
        yield backend
    finally:
        _harness.STATE_URL, _harness.STATE_SCHEMA = None, default
