"""The PostgreSQL state against a real server: migrations in a schema, advisory locks across
processes, the lease a hot standby takes over, the store locks, and a password never shown.

The records themselves are tested on both backends in test_state.py; the runner and engines in the
modules `tests/_postgres.py` runs twice. Each test here gets a fresh schema of the session database.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from katana_woo_sdk.config import Secret, dump_effective, load_config_text
from katana_woo_sdk.errors import StateError, StateLockedError
from katana_woo_sdk.locks import store_locks
from katana_woo_sdk.state import MIGRATIONS, SCHEMA_VERSION, LedgerEntry, State
from katana_woo_sdk.state import migrations as state_migrations
from katana_woo_sdk.state.postgres import advisory_key, safe_url

REPO_ROOT = Path(__file__).resolve().parents[1]
CANARY = "pw-canary-7Hq2"


def _admin(url: str):
    import psycopg
    return psycopg.connect(url, autocommit=True)


# --- migrations ----------------------------------------------------------------------------------

def test_a_new_schema_gets_the_same_tables_and_columns_as_a_sqlite_file(pg_url, pg_schema, tmp_path):
    with State(pg_url, schema=pg_schema) as pg, State(tmp_path / "kw.db") as lite:
        assert pg.backend == "postgresql" and pg.path is None and pg.lock_path is None
        assert pg.schema_version == SCHEMA_VERSION == lite.schema_version
        pg_tables = {t for (t,) in pg._query("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = ?", (pg_schema,))}
        lite_tables = {t for (t,) in lite._query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite_%'")}
        assert pg_tables == lite_tables == set(state_migrations.TABLES) | {"schema_version"}
        for table in pg_tables:
            assert pg._db.columns(table) == lite._db.columns(table), table
        versions = [v for (v,) in pg._query("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        # Nothing outside its schema: the database's public schema is untouched.
        assert not pg._query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'")


def test_an_older_state_is_migrated_and_keeps_its_data(pg_url, pg_schema):
    with _admin(pg_url) as conn:   # a state as version 1 of katana-woo left it
        conn.execute(f"CREATE SCHEMA {pg_schema}")
        conn.execute(f"SET search_path TO {pg_schema}")
        conn.execute(state_migrations.for_postgres(state_migrations.SCHEMA_VERSION_TABLE))
        conn.execute(state_migrations.for_postgres(MIGRATIONS[0]))
        conn.execute("INSERT INTO schema_version VALUES (1, '2024-01-01T00:00:00.000000+00:00')")
        conn.execute("INSERT INTO order_ledger (store, woo_order_id, woo_number, status, first_seen, updated_at, "
                     "attempts) VALUES ('shop', 7, '7', 'imported', '2024-01-01T00:00:00.000000+00:00', "
                     "'2024-01-01T00:00:00.000000+00:00', 0)")
    with State(pg_url, schema=pg_schema) as state:
        assert state.schema_version == SCHEMA_VERSION > 1
        assert state.ledger_get("shop", 7).first_seen == datetime(2024, 1, 1, tzinfo=timezone.utc)
        assert state._query("SELECT version, applied_at FROM schema_version ORDER BY version")[0] == \
            (1, "2024-01-01T00:00:00.000000+00:00")
        assert state.record_plan_applied("p1", "h")       # the v3 table is there


def test_a_newer_state_is_refused(pg_url, pg_schema):
    State(pg_url, schema=pg_schema).close()
    with _admin(pg_url) as conn:
        conn.execute(f"INSERT INTO {pg_schema}.schema_version VALUES ({SCHEMA_VERSION + 1}, 'later')")
    with pytest.raises(StateError, match=rf"schema version {SCHEMA_VERSION + 1}.*newer katana-woo"):
        State(pg_url, schema=pg_schema)


def test_a_failing_migration_leaves_the_state_as_it_was(pg_url, pg_schema, monkeypatch):
    State(pg_url, schema=pg_schema).close()
    broken = (*MIGRATIONS, "CREATE TABLE half_done (a TEXT); INSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(state_migrations, "MIGRATIONS", broken)
    monkeypatch.setattr(state_migrations, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StateError, match="no_such_table"):
        State(pg_url, schema=pg_schema)
    monkeypatch.undo()
    with State(pg_url, schema=pg_schema) as s:
        assert s._query("SELECT MAX(version) FROM schema_version")[0][0] == SCHEMA_VERSION
        assert not s._query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'")


def test_processes_opening_a_new_state_together_migrate_it_once(pg_url, pg_schema):
    errors, states = [], []

    def open_it():
        try:
            states.append(State(pg_url, schema=pg_schema))
        except Exception as exc:  # reported below
            errors.append(exc)
    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(states) == 4
    assert states[0]._query("SELECT COUNT(*) FROM schema_version")[0][0] == SCHEMA_VERSION
    for s in states:
        s.close()


# --- the password, the URL -----------------------------------------------------------------------

def test_the_password_is_never_shown(pg_url, pg_schema):
    with State(pg_url, password=Secret(CANARY), schema=pg_schema) as state:   # trust auth ignores it
        assert CANARY not in repr(state) and CANARY not in state.url
        assert repr(state) == f"State({pg_url!r}, schema={pg_schema!r}, schema_version={SCHEMA_VERSION})"
    with pytest.raises(StateError) as refused:
        State("postgresql://kw@127.0.0.1:1/kw", password=CANARY)                 # nothing listens there
    assert "cannot connect" in str(refused.value) and CANARY not in str(refused.value)
    with pytest.raises(StateError, match="must not contain a password") as in_url:
        State(f"postgresql://kw:{CANARY}@127.0.0.1:5432/kw")
    assert CANARY not in str(in_url.value)
    assert safe_url(f"postgresql://kw:{CANARY}@h/db?sslmode=require&password={CANARY}") == \
        "postgresql://kw@h/db?sslmode=require"


def test_a_config_names_the_state_and_where_its_password_comes_from(pg_url, pg_schema, tmp_path):
    (tmp_path / "pw").write_text(CANARY + "\n")
    base = ("version: 1\nstores:\n  - {name: shop-eu, url: 'https://shop-eu.example.com', "
            "consumer_key_env: K, consumer_secret_env: S}\n")
    env = {"KATANA_API_KEY": "k" * 12, "K": "ck_" + "1" * 10, "S": "cs_" + "1" * 10, "PW": CANARY,
           "STATE_URL": pg_url}
    for block, source in ((f"state: {{url: '${{STATE_URL}}', schema: {pg_schema}, password_env: PW}}", "env:PW"),
                          (f"state: {{url: {pg_url}, schema: {pg_schema}, password_file: pw}}",
                           f"file:{tmp_path / 'pw'}")):
        config = load_config_text(base + block, env=env, base_dir=tmp_path)
        assert config.state.backend == "postgresql" and config.state.path is None
        assert config.state.url == pg_url and config.state.password == Secret(CANARY)
        assert config.state.password_source == source and config.state.schema == pg_schema
        shown = [repr(config), repr(config.state), str(dump_effective(config))]
        assert not [t for t in shown if CANARY in t]
        assert dump_effective(config)["state"]["password_set"] is True
        with State.from_config(config.state) as state:
            assert state.backend == "postgresql" and state.schema_version == SCHEMA_VERSION
    sqlite = load_config_text(base, env=env, base_dir=tmp_path)
    assert sqlite.state.backend == "sqlite" and repr(sqlite.state).startswith("StateConfig(path=")


# --- the state lock ------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys
    from katana_woo_sdk.state import State
    with State(sys.argv[1], schema=sys.argv[2]) as state:
        if sys.argv[3] == "lock":
            with state.lock(owner="katana-woo apply"):
                print("locked", flush=True)
                sys.stdin.readline()
        else:
            with state.lease("run", owner="katana-woo run"):
                print("locked", flush=True)
                sys.stdin.readline()
""")


def _holder(pg_url: str, schema: str, what: str = "lock") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url, schema, what], cwd=REPO_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _let_go(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.write("\n")
        proc.stdin.flush()
    proc.wait(timeout=10)
    proc.stdin.close()
    proc.stdout.close()


def test_a_lock_held_by_another_process_is_refused_naming_the_holder(pg_url, pg_schema):
    proc = _holder(pg_url, pg_schema)
    try:
        with State(pg_url, schema=pg_schema) as state:
            with pytest.raises(StateLockedError) as caught:
                with state.lock():
                    pytest.fail("took a lock another process holds")
        message = str(caught.value)
        assert f"is locked by pid {proc.pid} on " in message and "(katana-woo apply) since " in message
        assert caught.value.holder.pid == proc.pid and caught.value.holder.command == "katana-woo apply"
    finally:
        _let_go(proc)


def test_a_lock_waits_on_the_server_until_the_other_process_releases_it(pg_url, pg_schema):
    proc = _holder(pg_url, pg_schema)
    releasing = threading.Timer(0.3, lambda: (proc.stdin.write("\n"), proc.stdin.flush()))
    try:
        with State(pg_url, schema=pg_schema) as state:
            started = time.monotonic()
            releasing.start()
            with state.lock(timeout=10, owner="katana-woo apply") as me:
                waited = time.monotonic() - started
                assert me.command == "katana-woo apply"
        assert 0.25 < waited < 3
        with State(pg_url, schema=pg_schema) as state, pytest.raises(StateLockedError):
            other = _holder(pg_url, pg_schema)
            try:
                started = time.monotonic()
                with state.lock(timeout=0.3):
                    pass
            finally:
                assert 0.25 < time.monotonic() - started < 3     # waited the timeout, then refused
                _let_go(other)
    finally:
        releasing.join()
        _let_go(proc)


def test_the_lock_of_a_killed_holder_is_free_at_once(pg_url, pg_schema):
    proc = _holder(pg_url, pg_schema)
    proc.kill()                      # SIGKILL: no finally, no unlock; the server sees the socket close
    proc.wait(timeout=10)
    killed = time.monotonic()
    with State(pg_url, schema=pg_schema) as state, state.lock(timeout=5, poll_interval=0.01):
        taken_after = time.monotonic() - killed
    _let_go(proc)
    assert taken_after < 2.0


def test_two_states_in_one_process_exclude_each_other_and_a_lock_is_not_reentrant(pg_url, pg_schema):
    with State(pg_url, schema=pg_schema) as a, State(pg_url, schema=pg_schema) as b:
        with a.lock(owner="first"):
            with pytest.raises(StateLockedError, match=r"\(first\)"):
                with b.lock():
                    pass
            with pytest.raises(StateLockedError):
                with a.lock():
                    pass
        with b.lock():
            pass
    with State(pg_url, schema=pg_schema + "_other") as other, other.lock():
        pass                          # another schema, another state: another lock


# --- the lease: a hot standby takes over -----------------------------------------------------------

def test_a_standby_takes_the_lease_at_once_when_the_holder_is_killed(pg_url, pg_schema):
    proc = _holder(pg_url, pg_schema, "lease")
    with State(pg_url, schema=pg_schema) as state:
        lease = state.lease("run", owner="katana-woo run")
        with pytest.raises(StateLockedError, match=rf"lease run is locked by pid {proc.pid} .*\(katana-woo run\)"):
            lease.acquire(timeout=0.2, poll_interval=0.05)
        got: list[float] = []
        standby = threading.Thread(target=lambda: (lease.acquire(), got.append(time.monotonic())))
        standby.start()                                  # waits, as long as it takes
        time.sleep(0.3)
        assert not got and not lease.held
        proc.kill()
        killed = time.monotonic()
        standby.join(10)
        assert got and got[0] - killed < 1.0, "the standby did not take over"
        assert lease.held and lease.alive() and lease.holder.pid != proc.pid
        lease.release()
        assert not lease.alive()
    _let_go(proc)


def test_a_lease_whose_connection_is_cut_is_no_longer_alive(pg_url, pg_schema):
    with State(pg_url, schema=pg_schema) as state, state.lease("run") as lease, _admin(pg_url) as admin:
        assert lease.alive()
        key = advisory_key(f"katana-woo lease {pg_schema} run")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                      "AND (classid::bigint << 32 | objid::bigint) = %s", (key,))
        assert not lease.alive()      # the service must stop: a standby may take it now
        with State(pg_url, schema=pg_schema) as other:
            other_lease = other.lease("run")
            other_lease.acquire(timeout=2, poll_interval=0.05)
            other_lease.release()


def test_a_sqlite_lease_excludes_on_one_machine(tmp_path):
    with State(tmp_path / "kw.db") as a, State(tmp_path / "kw.db") as b:
        first = a.lease("run", owner="katana-woo run")
        first.acquire()
        with pytest.raises(StateLockedError, match=r"lease run is locked by .*katana-woo run"):
            b.lease("run").acquire(timeout=0.1, poll_interval=0.02)
        assert first.alive() and (tmp_path / "kw.db.lease-run.lock").exists()
        first.release()
        with b.lease("run") as second:
            assert second.alive()


# --- the store locks across machines --------------------------------------------------------------

def _store_config(pg_url: str, schema: str):
    text = (f"version: 1\nkatana: {{base_url: 'https://api.katanamrp.com/v1'}}\n"
            f"stores:\n  - {{name: shop-a, url: 'https://shop-a.example.com', consumer_key_env: K, "
            f"consumer_secret_env: S}}\nstate: {{url: '{pg_url}', schema: {schema}}}\n")
    return load_config_text(text, env={"KATANA_API_KEY": "k" * 12, "K": "ck_" + "1" * 10, "S": "cs_" + "1" * 10})


def test_store_locks_are_advisory_locks_shared_by_every_state_in_the_database(pg_url, pg_schema, monkeypatch):
    """Two configs with two states (two schemas: what two machines with two state copies were):
    the second is refused on the store, naming the holder; once let go, it gets it."""
    monkeypatch.setenv("KATANA_WOO_LOCK_DIR", "/nonexistent/must-not-be-used")
    first, second = _store_config(pg_url, pg_schema), _store_config(pg_url, pg_schema + "_b")
    with store_locks(first, first.stores, timeout=0, owner="katana-woo apply"):
        with pytest.raises(StateLockedError) as caught:
            with store_locks(second, second.stores, timeout=0.2, owner="katana-woo apply"):
                pytest.fail("two runners on one store")
    message = str(caught.value)
    assert message.startswith("store shop-a is being applied by another runner")
    assert "(katana-woo apply)" in message and "lock_timeout_seconds" in message
    with store_locks(second, second.stores, timeout=0, owner="katana-woo apply"):
        pass


def test_the_state_is_shared_by_two_connections(pg_url, pg_schema):
    """What one runner writes, a runner on another machine reads at once: one state, not two copies."""
    with State(pg_url, schema=pg_schema) as a, State(pg_url, schema=pg_schema) as b:
        a.ledger_put(LedgerEntry("shop", 1, "1", "imported", sales_order_id=10))
        assert b.ledger_get("shop", 1).sales_order_id == 10
        assert b.record_plan_applied("plan-1", "h") and not a.record_plan_applied("plan-1", "h")


def test_existing_opens_a_state_only_where_there_is_one(pg_url, pg_schema, tmp_path):
    base = ("version: 1\nstores:\n  - {name: shop-eu, url: 'https://shop-eu.example.com', "
            "consumer_key_env: K, consumer_secret_env: S}\n")
    env = {"KATANA_API_KEY": "k" * 12, "K": "ck_" + "1" * 10, "S": "cs_" + "1" * 10}
    pg = load_config_text(base + f"state: {{url: '{pg_url}', schema: {pg_schema}}}", env=env).state
    lite = load_config_text(base + "state: {path: kw.db}", env=env, base_dir=tmp_path).state
    for config in (pg, lite):
        assert State.existing(config) is None                 # and nothing was created by asking
        State.from_config(config).close()
        with State.existing(config) as state:
            assert state.schema_version == SCHEMA_VERSION
    assert pg.where == f"{pg_url} schema {pg_schema}" and lite.where == str(tmp_path / "kw.db")
