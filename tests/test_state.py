"""katana_woo_sdk.state: migrations, records, run log and the cross-process lock.

Every test of the records takes the `state` fixture, which runs it on both backends: a SQLite file
and a fresh schema of the session's PostgreSQL database (`tests/_postgres.py`). The tests of the
SQLite file itself (WAL, file locks) are here; PostgreSQL's own (migrations in a schema, advisory
locks, leases) are in test_state_postgres.py."""
from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import filelock
import pytest

from katana_woo_sdk.state import migrations as state_migrations
from katana_woo_sdk.state._filelock import StateLock
from katana_woo_sdk.errors import StateError, StateLockedError
from katana_woo_sdk.state import (
    MIGRATIONS, SCHEMA_VERSION, Condition, LedgerEntry, MappingRecord, RunRecord, State,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, tmp_path, clock):
    if request.param == "sqlite":
        target, options = tmp_path / "state" / "kw.db", {}
    else:
        target, options = request.getfixturevalue("pg_url"), {"schema": request.getfixturevalue("pg_schema")}
    with State(target, clock=clock, **options) as s:
        assert s.backend == request.param
        yield s


# --- opening and migrations ----------------------------------------------------------------------

def test_new_file_is_created_migrated_and_in_wal_mode(tmp_path):
    path = tmp_path / "deep" / "dir" / "kw.db"
    with State(path) as s:
        assert path.exists() and s.path == path
        assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        assert repr(s) == f"State({str(path)!r}, schema_version={SCHEMA_VERSION})"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
    finally:
        conn.close()
    assert "closed" in repr(s)
    with pytest.raises(StateError, match="closed"):
        s.get_cursor("a", "b")


def test_reopening_does_not_migrate_again(tmp_path, clock):
    path = tmp_path / "kw.db"
    with State(path, clock=clock) as s:
        s.set_cursor("shop", "orders", "x")
    with State(path, clock=clock) as s:
        assert s.get_cursor("shop", "orders") == "x"
        assert s._query("SELECT COUNT(*) FROM schema_version")[0][0] == SCHEMA_VERSION


def test_older_file_is_migrated_and_keeps_its_data(tmp_path, clock):
    path = tmp_path / "kw.db"
    conn = sqlite3.connect(path)  # a state file as version 1 of katana-woo left it
    conn.executescript(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
        + MIGRATIONS[0]
        + "; INSERT INTO schema_version VALUES (1, '2024-01-01T00:00:00.000000+00:00');"
        "INSERT INTO order_ledger (store, woo_order_id, woo_number, status, first_seen, updated_at, "
        "attempts) VALUES ('shop', 7, '7', 'imported', '2024-01-01T00:00:00.000000+00:00', "
        "'2024-01-01T00:00:00.000000+00:00', 0);")
    conn.close()
    with State(path, clock=clock) as s:
        assert s.schema_version == SCHEMA_VERSION > 1
        assert s.ledger_get("shop", 7).first_seen == datetime(2024, 1, 1, tzinfo=timezone.utc)
        indexes = {name for (name,) in s._query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"order_ledger_status", "initial_imports_location", "actions_run"} <= indexes
        applied = s._query("SELECT version, applied_at FROM schema_version ORDER BY version")
        assert applied[0] == (1, "2024-01-01T00:00:00.000000+00:00")
        assert applied[1] == (2, T0.isoformat(timespec="microseconds"))


def test_newer_file_is_refused(tmp_path):
    path = tmp_path / "kw.db"
    State(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match=rf"schema version {SCHEMA_VERSION + 1}.*newer katana-woo"):
        State(path)


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "kw.db"
    State(path).close()
    broken = (*MIGRATIONS, "CREATE TABLE half_done (a); INSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(state_migrations, "MIGRATIONS", broken)
    monkeypatch.setattr(state_migrations, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StateError, match="no such table: no_such_table"):
        State(path)
    monkeypatch.undo()
    with State(path) as s:
        assert s._query("SELECT MAX(version) FROM schema_version")[0][0] == SCHEMA_VERSION
        assert not s._query("SELECT name FROM sqlite_master WHERE name = 'half_done'")


def test_not_a_database_is_a_state_error(tmp_path):
    path = tmp_path / "kw.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=r"not a usable SQLite database.*delete it"):
        State(path)


def test_in_memory(clock):
    with State.in_memory(clock=clock) as s:
        assert s.path is None and s.lock_path is None
        assert repr(s) == f"State(':memory:', schema_version={SCHEMA_VERSION})"
        s.set_cursor("shop", "c", "1")
        assert s.get_cursor("shop", "c") == "1"


def test_naive_clock_is_refused(tmp_path):
    with pytest.raises(ValueError, match="naive"):
        State(tmp_path / "kw.db", clock=lambda: datetime(2024, 1, 1))


# --- mapping history -----------------------------------------------------------------------------

def test_mapping_history_opens_and_closes_periods(state, clock):
    assert state.current_mapping("shop") is None
    first = state.record_mapping("shop", 10, "Main", "h1", "initial")
    assert first == MappingRecord("shop", 10, "Main", T0, None, "h1", "initial") and first.is_current

    clock.tick()
    same = state.record_mapping("shop", 10, "Main (renamed)", "h2", "config edited")
    assert same == first  # same location: nothing changes
    assert state.mapping_history("shop") == [first]

    t1 = clock.tick()
    second = state.record_mapping("shop", 20, "Outlet", "h3", "location changed in config")
    assert second.valid_from == t1 and second.is_current
    assert state.current_mapping("shop") == second
    history = state.mapping_history("shop")
    assert history == [dataclasses.replace(first, valid_to=t1), second]

    state.record_mapping("other", 10, "Main", "h3")
    assert [r.store for r in state.mapping_history()] == ["other", "shop", "shop"]
    assert all(r.valid_from.tzinfo is not None for r in state.mapping_history())


# --- order ledger --------------------------------------------------------------------------------

def test_ledger_upsert_keeps_first_seen_and_counts_held_attempts(state, clock):
    held = LedgerEntry("shop", 101, "101", "held", reason="SKU X-1 unknown in Katana",
                       lines_qty={"X-1": 2})
    stored = state.ledger_put(held)
    assert (stored.first_seen, stored.updated_at, stored.attempts) == (T0, T0, 1)
    assert stored.lines_qty == {"X-1": Decimal("2")}

    clock.tick()
    assert state.ledger_put(held).attempts == 2
    t2 = clock.tick()
    done = dataclasses.replace(held, status="imported", sales_order_id=555, order_no="WOO-101",
                               location_id=10, reason=None, lines_qty={"X-1": Decimal("2.5")})
    state.ledger_put(done)
    got = state.ledger_get("shop", 101)
    assert got == dataclasses.replace(done, first_seen=T0, updated_at=t2, attempts=2)
    assert got.lines_qty["X-1"] == Decimal("2.5")

    state.ledger_put(LedgerEntry("shop", 99, "99", "skipped", reason="status cancelled"))
    state.ledger_put(LedgerEntry("other", 1, "1", "imported"))
    assert list(state.ledger("shop")) == [99, 101]
    assert list(state.ledger("shop", status="imported")) == [101]
    assert state.ledger("shop", status="held") == {}
    assert state.ledger_get("shop", 12345) is None
    with pytest.raises(ValueError, match="ledger status"):
        state.ledger_put(LedgerEntry("shop", 1, "1", "done"))


# --- stock, initial imports, cursors -------------------------------------------------------------

def test_last_pushed(state, clock):
    assert state.last_pushed("shop") == {}
    state.record_pushed("shop", {"A": 3, "B": Decimal("0")})
    t1 = clock.tick()
    state.record_pushed("shop", {"A": 5})
    state.record_pushed("other", {"A": 1})
    assert state.last_pushed("shop") == {"A": 5, "B": 0}
    records = state.pushed_records("shop")
    assert records["A"].pushed_at == t1 and records["B"].pushed_at == T0
    with pytest.raises(ValueError, match="whole number"):
        state.record_pushed("shop", {"A": Decimal("1.5")})
    state.forget_pushed("shop")
    assert state.last_pushed("shop") == {} and state.last_pushed("other") == {"A": 1}


def test_initial_imports(state, clock):
    assert state.initial_import("shop", 10) is None
    rec = state.record_initial_import("shop", 10, "WOO-INIT-shop-10", 9001)
    clock.tick()
    state.record_initial_import("other", 10, "WOO-INIT-other-10", None)
    state.record_initial_import("third", 20, "WOO-INIT-third-20", 9003)
    assert state.initial_import("shop", 10) == rec
    assert (rec.adjustment_number, rec.adjustment_id, rec.at) == ("WOO-INIT-shop-10", 9001, T0)
    assert [r.store for r in state.initial_imports_at(10)] == ["shop", "other"]


def test_cursors(state):
    assert state.get_cursor("shop", "orders.modified_after") is None
    state.set_cursor("shop", "orders.modified_after", "2024-05-01T00:00:00")
    state.set_cursor("shop", "orders.modified_after", "2024-05-02T00:00:00")
    assert state.get_cursor("shop", "orders.modified_after") == "2024-05-02T00:00:00"
    assert state.get_cursor("other", "orders.modified_after") is None
    state.set_cursor("shop", "orders.modified_after", None)
    assert state.get_cursor("shop", "orders.modified_after") is None


# --- conditions ----------------------------------------------------------------------------------

def test_condition_last_transition_moves_only_on_status_change(state, clock):
    c1 = state.set_condition("shop", "Synced", "False", "NeverRun", "not synced yet", "h1")
    assert c1 == Condition("Synced", "False", "NeverRun", "not synced yet", T0, "h1", T0)
    t1 = clock.tick()
    c2 = state.set_condition("shop", "Synced", "False", "Held", "2 orders held", "h2")
    assert (c2.last_transition, c2.updated_at, c2.reason, c2.observed_config_hash) == (T0, t1, "Held", "h2")
    t2 = clock.tick()
    c3 = state.set_condition("shop", "Synced", True, "Synced", "all good", "h2")
    assert (c3.status, c3.last_transition) == ("True", t2)
    clock.tick()
    assert state.set_condition("shop", "Synced", "True", "Synced", "still good", "h2").last_transition == t2

    state.set_condition("shop", "LocationResolved", "True", "Found", "Main (10)", "h2")
    state.set_condition("other", "Synced", "Unknown", "Error", "Katana unreachable", "h2")
    assert list(state.conditions("shop")) == ["LocationResolved", "Synced"]
    assert state.conditions("shop")["Synced"].message == "still good"
    everything = state.all_conditions()
    assert list(everything) == ["other", "shop"] and everything["other"]["Synced"].status == "Unknown"
    with pytest.raises(ValueError, match="condition status"):
        state.set_condition("shop", "Synced", "yes", "r", "m", "h")


# --- run log -------------------------------------------------------------------------------------

def test_run_log_round_trip(state, clock):
    run = state.start_run("apply", "h1")
    when = datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)
    state.log_action(run, "shop", "stock.push", "sku:A", {"qty": Decimal("1.50"), "at": when},
                     {"qty": Decimal("3"), "seen": {"b", "a"}}, "applied")
    clock.tick()
    mapping = MappingRecord("s", 1, "L", when, None, "h")
    state.log_action(run, "shop", "order.import", 101, None, {"so": mapping}, "held", "SKU unknown")
    t_end = clock.tick()
    state.finish_run(run, "partial", {"applied": 1, "held": 1, "total": Decimal("4.50")})

    [record] = state.runs()
    assert record == RunRecord(run, "apply", "h1", T0, t_end, "partial",
                               {"applied": 1, "held": 1, "total": "4.50"})
    first, second = state.actions(run)
    assert first.before == {"qty": "1.50", "at": "2024-05-01T09:30:00.000000+00:00"}
    assert first.after == {"qty": "3", "seen": ["a", "b"]}
    assert (first.outcome, first.message, first.at, first.target) == ("applied", "", T0, "sku:A")
    assert second.before is None and second.target == "101" and second.message == "SKU unknown"
    assert second.after["so"]["location_id"] == 1 and second.after["so"]["valid_to"] is None

    with pytest.raises(TypeError, match="cannot store object"):
        state.log_action(run, "shop", "x", "y", object(), None, "applied")
    with pytest.raises(ValueError, match="action outcome"):
        state.log_action(run, "shop", "x", "y", None, None, "done")
    with pytest.raises(StateError, match="no run 999"):
        state.log_action(999, "shop", "x", "y", None, None, "applied")
    with pytest.raises(StateError, match="no run 999"):
        state.finish_run(999, "ok", {})


def test_runs_newest_first_with_limit(state):
    ids = [state.start_run(f"plan {i}", "h") for i in range(5)]
    assert [r.id for r in state.runs(limit=3)] == ids[::-1][:3]
    assert state.runs()[0].outcome is None and state.runs()[0].finished_at is None


def test_threads_share_one_state(state):
    run = state.start_run("apply", "h")

    def work(n: int) -> None:
        for i in range(20):
            state.log_action(run, f"store{n}", "k", str(i), {"i": i}, None, "planned")
            state.record_pushed(f"store{n}", {f"sku{i}": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(state.actions(run)) == 80
    assert all(len(state.last_pushed(f"store{n}")) == 20 for n in range(4))


# --- lock ----------------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys
    from katana_woo_sdk.state import State
    with State(sys.argv[1]) as state, state.lock(owner="katana-woo apply"):
        print("locked", flush=True)
        sys.stdin.readline()
""")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock on tmp_path/kw.db until told (a line on its stdin) to let go."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "kw.db")], cwd=REPO_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.poll() is None:
            proc.stdin.write("\n")
            proc.stdin.flush()
        proc.wait(timeout=10)
        proc.stdin.close()
        proc.stdout.close()


def test_lock_held_by_another_process_fails_fast_naming_it(tmp_path, holder):
    with State(tmp_path / "kw.db") as state:
        with pytest.raises(StateLockedError) as caught:
            with state.lock():
                pytest.fail("acquired a lock another process holds")
    message = str(caught.value)
    assert f"is locked by pid {holder.pid} on " in message and "(katana-woo apply) since " in message
    assert str(tmp_path / "kw.db") in message and "retry" in message
    assert caught.value.holder.pid == holder.pid and caught.value.holder.command == "katana-woo apply"
    assert isinstance(caught.value, StateError)


def test_lock_waits_until_the_other_process_releases(tmp_path, holder):
    waits = []

    def sleep(seconds: float) -> None:
        if not waits:  # first time we would wait: let the holder go
            holder.stdin.write("\n")
            holder.stdin.flush()
        waits.append(seconds)
        threading.Event().wait(seconds)

    with State(tmp_path / "kw.db", sleep=sleep) as state:
        with state.lock(timeout=10, poll_interval=0.01, owner="katana-woo apply") as me:
            assert waits and all(w <= 0.01 for w in waits)
            assert me.command == "katana-woo apply"
            assert '"command": "katana-woo apply"' in (tmp_path / "kw.db.lock.holder").read_text()
    assert holder.wait(timeout=10) == 0
    assert not (tmp_path / "kw.db.lock.holder").exists()  # holder info removed on release


def test_lock_times_out(tmp_path, holder):
    waits = []
    with State(tmp_path / "kw.db", sleep=lambda s: (waits.append(s), threading.Event().wait(s))) as state:
        with pytest.raises(StateLockedError, match=f"pid {holder.pid}"):
            with state.lock(timeout=0.1, poll_interval=0.02):
                pass
    assert len(waits) >= 2


def test_lock_released_on_exception_and_usable_by_another_process(tmp_path):
    path = tmp_path / "kw.db"
    with State(path) as state:
        with pytest.raises(RuntimeError):
            with state.lock(owner="katana-woo apply"):
                raise RuntimeError("boom")
        with state.lock():
            pass
    probe = ("import sys\nfrom katana_woo_sdk.state import State\n"
             "with State(sys.argv[1]) as s, s.lock(): print('ok')")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.stdout.strip() == "ok", done.stderr


def test_two_states_in_one_process_exclude_each_other(tmp_path):
    with State(tmp_path / "kw.db") as a, State(tmp_path / "kw.db") as b:
        with a.lock(owner="first"):
            with pytest.raises(StateLockedError, match=r"\(first\)"):
                with b.lock():
                    pass
            with pytest.raises(StateLockedError):  # not re-entrant either
                with a.lock():
                    pass
        with b.lock():
            pass


def test_holder_info_lives_beside_the_lock_file(tmp_path, holder):
    """The lock file's content means nothing (Windows cannot even read it while it is locked): who
    holds the lock is in `<db>.lock.holder`, and that is all a refused process reads."""
    if sys.platform != "win32":  # where the locked file cannot be written to
        (tmp_path / "kw.db.lock").write_text("not json", encoding="utf-8")  # filelock may truncate it too
    info = json.loads((tmp_path / "kw.db.lock.holder").read_text(encoding="utf-8"))
    assert info["pid"] == holder.pid and info["command"] == "katana-woo apply"
    assert set(info) == {"pid", "host", "started_at", "command"}  # no arguments, no environment
    with State(tmp_path / "kw.db") as state:
        with pytest.raises(StateLockedError, match=f"pid {holder.pid} on "):
            with state.lock():
                pass


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path):
    """The OS releases the lock when its holder dies: never stale, no cleanup needed. The dead
    holder's info is still on disk, and the next holder overwrites it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "kw.db")], cwd=REPO_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with proc:
        assert proc.stdout.readline().strip() == "locked"
        proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no finally, no cleanup
        proc.wait(timeout=10)
    assert f'"pid": {proc.pid}' in (tmp_path / "kw.db.lock.holder").read_text(encoding="utf-8")
    with State(tmp_path / "kw.db") as state, state.lock(owner="katana-woo apply") as me:  # timeout 0
        assert f'"pid": {me.pid}' in (tmp_path / "kw.db.lock.holder").read_text(encoding="utf-8")
    assert not (tmp_path / "kw.db.lock.holder").exists()


def test_lock_on_any_path_in_a_new_directory(tmp_path):
    """Nothing SQLite about it: e.g. one lock per store in a shared lock directory."""
    path = tmp_path / "locks" / "shop-eu.lock"
    first = StateLock(path, "shop-eu", sleep=lambda s: None, kind="store")
    second = StateLock(path, "shop-eu", sleep=lambda s: None, kind="store")
    assert first.holder_path == tmp_path / "locks" / "shop-eu.lock.holder"
    with first.hold(0, "katana-woo apply", 0.01, lambda: T0) as me:
        assert path.exists() and first.holder_path.exists()
        with pytest.raises(StateLockedError) as caught:
            with second.hold(0.05, "katana-woo plan", 0.01, lambda: T0):
                pytest.fail("two holders of one lock")
    assert str(caught.value).startswith(f"store shop-eu is locked by pid {me.pid} on ")
    assert "(katana-woo apply) since 2024-05-01T12:00:00+00:00" in str(caught.value)
    assert caught.value.holder == me
    with second.hold(0, "katana-woo plan", 0.01, lambda: T0):
        pass


def test_lock_refuses_a_soft_lock(tmp_path, monkeypatch):
    """Where the OS offers no file lock, filelock would fall back to a marker file that a crash leaves
    behind; the state lock refuses instead of taking a lock that could go stale."""
    monkeypatch.setattr(filelock, "FileLock", filelock.SoftFileLock)
    with State(tmp_path / "kw.db") as state:
        with pytest.raises(StateError, match="no OS file lock"):
            with state.lock():
                pytest.fail("took a soft lock")
    assert not (tmp_path / "kw.db.lock").exists()


def test_lock_that_cannot_be_opened_is_a_state_error(tmp_path):
    (tmp_path / "kw.db.lock").mkdir()  # a directory where the lock file should be
    with State(tmp_path / "kw.db") as state:
        with pytest.raises(StateError, match="cannot take the lock"):
            with state.lock():
                pass


def test_in_memory_lock(clock):
    with State.in_memory(clock=clock, sleep=lambda s: None) as state:
        with state.lock(owner="notebook"):
            with pytest.raises(StateLockedError, match=r"pid \d+ on .* \(notebook\) since 2024-05-01"):
                with state.lock(timeout=0.05, poll_interval=0.01):
                    pass
        with pytest.raises(KeyError):
            with state.lock():
                raise KeyError("x")
        with state.lock():
            pass
