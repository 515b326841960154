"""Runners on several machines, one PostgreSQL state (issue 15): nothing doubled, never two pushes to
one store at once, the loser waits or refuses as configured, and a killed holder's work is taken over.

Each runner is a process of its own with its own connections (spawned once, so a round costs an
apply, not an interpreter), as on two machines: nothing is shared but the database and the sandbox.
Every request a runner sends carries `X-Test-Runner: N`; a wrapper around the WooCommerce
emulator's dispatch records the start and end of every product write (the stock pushes), so the
test can tell from the emulator's side whether two runners ever wrote to the store at once.
"""
from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from katana_woo_sdk import sandbox

from _harness import config_text

ROUNDS = 50
REFUSE_ROUNDS = 10
TWO_STATE_ROUNDS = 12


def _worker(n: int, config_path: str, env: dict, barrier, commands, results, pause_after_create: float) -> None:
    """One runner process: apply on every "go" once the barrier lets both through. With
    `pause_after_create`, it waits that long after each sales order Katana answered, so a test can
    kill it mid-apply between two creates (never with a create on the wire)."""
    import os
    import time

    import requests

    real_init, real_send = requests.Session.__init__, requests.Session.send

    def tagged(self, *args, **kwargs):   # every request this runner sends says who sent it
        real_init(self, *args, **kwargs)
        self.headers["X-Test-Runner"] = str(n)

    def send(self, prepared, **kwargs):
        response = real_send(self, prepared, **kwargs)
        if pause_after_create and prepared.method == "POST" and prepared.path_url.split("?")[0].endswith("/sales_orders"):
            time.sleep(pause_after_create)
        return response
    requests.Session.__init__, requests.Session.send = tagged, send

    from katana_woo_sdk.config import load_config
    from katana_woo_sdk.errors import KatanaWooError, StateLockedError
    from katana_woo_sdk.runner import Runner

    config = load_config(config_path, env=env)
    with Runner(config, progress=False) as runner:
        assert runner.state.backend == "postgresql"
        real_lock = runner.state.lock
        locked_at, released_at = [0.0], [0.0]

        def lock(**kwargs):              # report the moment this runner got the state lock
            held = real_lock(**kwargs)

            class Reporting:
                def __enter__(self):
                    me = held.__enter__()
                    locked_at[0] = time.time()
                    results.put(("locked", n, locked_at[0]))
                    return me

                def __exit__(self, *exc):
                    released_at[0] = time.time()     # still held: the next holder can only come later
                    return held.__exit__(*exc)
            return Reporting()
        runner.state.lock = lock
        results.put(("ready", n, os.getpid()))
        while commands.get() == "go":
            if barrier is not None:
                barrier.wait()
            started = time.time()
            try:
                report = runner.apply()
                results.put(("ok", n, (locked_at[0], released_at[0], started),
                             [w for s in report.stores for w in s.warnings]))
            except StateLockedError as exc:
                results.put(("refused", n, (started, time.time()), [str(exc)]))
            except KatanaWooError as exc:
                results.put(("error", n, (started, time.time()), [str(exc)]))
            except Exception as exc:  # reported to the test, which fails on it
                results.put(("crash", n, (started, time.time()), [f"{type(exc).__name__}: {exc}"]))


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        for sku in ("W1", "W2", "W3"):
            sb.katana.add_variant(sku, sales_price="10.00")
        shop = sb.add_store("shop-a")
        for sku in ("W1", "W2", "W3"):
            shop.add_product(sku, sku, "10.00", stock=10_000)
        yield sb


def _config(box, path: Path, pg_url: str, schema: str, timeout: float) -> Path:
    text = config_text({"shop-a": {"location": "A", "stock": {"initial_import": True}}},
                       state_path=path.with_suffix(".unused"))
    text = text.replace(f"  path: {path.with_suffix('.unused')}\n",
                        f"  url: {pg_url}\n  schema: {schema}\n  lock_timeout_seconds: {timeout}\n")
    assert "url:" in text
    path.write_text(text)
    return path


def _record_product_writes(box) -> list[tuple[str, float, float]]:
    """(runner, start, end) of every product write the store serves: the stock pushes."""
    server = box.stores["shop-a"].server
    writes: list[tuple[str, float, float]] = []
    lock = threading.Lock()
    real = server.dispatch

    def dispatch(request):
        if request.method in ("POST", "PUT", "PATCH") and "/products" in request.path:
            start = time.monotonic()
            try:
                return real(request)
            finally:
                with lock:
                    writes.append((request.headers.get("X-Test-Runner"), start, time.monotonic()))
        return real(request)
    server.dispatch = dispatch
    return writes


def _overlapping(writes) -> list[tuple]:
    return [(a, b) for i, a in enumerate(writes) for b in writes[i + 1:]
            if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]]


class Workers:
    def __init__(self, configs: list[Path], env: dict, *, barrier: bool = True, pause_after_create: float = 0.0):
        ctx = mp.get_context("spawn")
        self.results = ctx.Queue()
        barrier_obj = ctx.Barrier(len(configs)) if barrier else None
        self.procs, self.commands, self.pids = [], [], {}
        for n, config in enumerate(configs, 1):
            commands = ctx.Queue()
            proc = ctx.Process(target=_worker, args=(n, str(config), env, barrier_obj, commands, self.results,
                                                     pause_after_create), daemon=True)
            proc.start()
            self.procs.append(proc)
            self.commands.append(commands)
        for _ in configs:
            kind, n, pid = self.next("ready")
            self.pids[n] = pid

    def next(self, *kinds: str, timeout: float = 120) -> tuple:
        while True:
            item = self.results.get(timeout=timeout)
            if item[0] in kinds:
                return item

    def round(self) -> list[tuple]:
        for commands in self.commands:
            commands.put("go")
        return [self.next("ok", "refused", "error", "crash") for _ in self.commands]

    def stop(self) -> None:
        for proc, commands in zip(self.procs, self.commands):
            if proc.is_alive():
                commands.put("stop")
        for proc in self.procs:
            proc.join(30)


def _duplicates(box, *, include_deleted: bool = False) -> dict[str, list]:
    orders = [so for so in box.katana.sales_orders() if include_deleted or not so.get("deleted_at")]
    keys = Counter((so["ecommerce_store_name"], so["ecommerce_order_id"]) for so in orders)
    emails = Counter((c.get("email") or "").lower() for c in box.katana.customers()
                     if include_deleted or not c.get("deleted_at"))
    numbers = Counter(a["stock_adjustment_number"] for a in box.katana.stock_adjustments()
                      if include_deleted or not a.get("deleted_at"))
    return {"sales orders": [k for k, n in keys.items() if n > 1],
            "customers": [e for e, n in emails.items() if e and n > 1],
            "adjustments": [k for k, n in numbers.items() if n > 1]}


def _place(box, r: int) -> None:
    """A round's news: two checkouts, and (once the stock was imported) goods received in Katana, so
    that every round has a stock figure to push."""
    if box.katana.stock_adjustments():
        box.katana.set_stock("W3", "A", box.katana.inventory_of("W3", "A")["in_stock"] + 7)
    shop = box.stores["shop-a"]
    shop.place_order([("W1", 1)], billing={"first_name": "Round", "last_name": str(r),
                                          "email": f"buyer{r}@example.test"})
    shop.place_order([("W2", 2), ("W3", 1)], billing={"first_name": "Regular", "last_name": "Buyer",
                                                     "email": "regular@example.test"})


NOTHING = {"sales orders": [], "customers": [], "adjustments": []}


def test_two_runners_on_one_postgresql_state_started_together_50_times(box, tmp_path, pg_url, pg_schema):
    config = _config(box, tmp_path / "katana-woo.yaml", pg_url, pg_schema, timeout=60)
    writes = _record_product_writes(box)
    workers = Workers([config, config], box.env())
    outcomes = []
    try:
        for r in range(ROUNDS):
            _place(box, r)
            outcomes += workers.round()
    finally:
        workers.stop()
    assert [o for o in outcomes if o[0] != "ok"] == []              # the loser waited, as configured
    # Katana holds every order once, nothing created twice, not even deleted again by a repair.
    assert _duplicates(box, include_deleted=True) == NOTHING
    assert len(box.katana.sales_orders()) == 2 * ROUNDS and len(box.katana.stock_adjustments()) == 1
    assert not [w for o in outcomes for w in o[3] if "twice" in w or "duplicate" in w]
    # Never two runners writing to the store at once; and both did write (in the rounds each won).
    assert _overlapping(writes) == []
    assert {w[0] for w in writes} == {"1", "2"}, Counter(w[0] for w in writes)
    print(f"{ROUNDS} rounds: {len(writes)} stock writes to the store "
          f"({dict(Counter(w[0] for w in writes))} by runner), none overlapping")
    # The applies themselves never overlapped (from taking the lock to returning): one state, one lock.
    spans = sorted(o[2][:2] for o in outcomes)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_with_no_wait_configured_the_loser_refuses_naming_the_holder(box, tmp_path, pg_url, pg_schema):
    config = _config(box, tmp_path / "katana-woo.yaml", pg_url, pg_schema, timeout=0)
    writes = _record_product_writes(box)
    workers = Workers([config, config], box.env())
    rounds = []
    try:
        for r in range(REFUSE_ROUNDS):
            _place(box, r)
            rounds.append(workers.round())
    finally:
        workers.stop()
    assert all(any(o[0] == "ok" for o in pair) for pair in rounds)      # someone applied every round
    refusals = [o for pair in rounds for o in pair if o[0] == "refused"]
    assert [o for pair in rounds for o in pair if o[0] not in ("ok", "refused")] == []
    assert len(refusals) >= REFUSE_ROUNDS // 2
    for _, n, _, (message,) in refusals:
        other = workers.pids[3 - n]
        assert f"is locked by pid {other} on " in message and "(katana-woo apply)" in message, message
    assert _duplicates(box, include_deleted=True) == NOTHING and _overlapping(writes) == []
    assert len(box.katana.sales_orders()) == 2 * REFUSE_ROUNDS


def test_two_states_in_one_database_are_kept_off_one_store_by_its_advisory_locks(box, tmp_path, pg_url, pg_schema):
    """Two configs with states of their own (two schemas: what two machines with two copies of the
    state were): the store's advisory locks serialise them, so neither creates what the other did,
    and their stock pushes never overlap. Without them (test_two_runners.py, two lock directories)
    duplicates were created and had to be repaired."""
    first = _config(box, tmp_path / "first.yaml", pg_url, pg_schema, timeout=60)
    second = _config(box, tmp_path / "second.yaml", pg_url, pg_schema + "_b", timeout=60)
    writes = _record_product_writes(box)
    workers = Workers([first, second], box.env())
    outcomes = []
    try:
        for r in range(TWO_STATE_ROUNDS):
            _place(box, r)
            outcomes += workers.round()
    finally:
        workers.stop()
    assert [o for o in outcomes if o[0] != "ok"] == []
    assert _duplicates(box, include_deleted=True) == NOTHING
    assert len(box.katana.sales_orders()) == 2 * TWO_STATE_ROUNDS and len(box.katana.stock_adjustments()) == 1
    assert _overlapping(writes) == [] and {w[0] for w in writes} == {"1", "2"}


def test_kill_9_of_the_lock_holder_mid_apply_the_waiting_runner_takes_over(box, tmp_path, pg_url, pg_schema):
    orders = 12
    for r in range(orders):
        box.stores["shop-a"].place_order([("W1", 1), ("W2", 1)], billing={"first_name": "Buyer", "last_name": str(r),
                                                                         "email": f"kill{r}@example.test"})
    timeout = 30
    config = _config(box, tmp_path / "katana-woo.yaml", pg_url, pg_schema, timeout=timeout)
    # The first runner dawdles 0.3 s after each sales order it created: its apply lasts seconds.
    first = Workers([config], box.env(), barrier=False, pause_after_create=0.3)
    second = Workers([config], box.env(), barrier=False)
    first.commands[0].put("go")
    first.next("locked")
    deadline = time.monotonic() + 60
    while len(box.katana.sales_orders()) < 3:                         # it is creating sales orders
        assert time.monotonic() < deadline, "the first runner created nothing"
        time.sleep(0.02)
    second.commands[0].put("go")
    time.sleep(0.5)                                                     # the second is waiting on the lock
    early = None if second.results.empty() else second.results.get(timeout=1)
    assert early is None, early
    created_before = len(box.katana.sales_orders())
    assert created_before < orders, "the first runner finished before it could be killed"
    first.procs[0].kill()                                               # SIGKILL: no cleanup at all
    killed = time.time()
    first.procs[0].join(10)
    _, _, locked_at = second.next("locked", timeout=timeout)
    outcome = second.next("ok", "refused", "error", "crash", timeout=120)
    second.stop()
    print(f"kill -9 after {created_before} of {orders} sales orders; the waiting runner took over "
          f"{locked_at - killed:.3f} s later (lock_timeout_seconds {timeout})")
    assert locked_at - killed < 2.0, f"took over {locked_at - killed:.2f} s after the kill"
    assert outcome[0] == "ok", outcome
    assert _duplicates(box, include_deleted=True) == NOTHING
    live = [so for so in box.katana.sales_orders() if not so.get("deleted_at")]
    assert len(live) == orders and len(box.katana.stock_adjustments()) == 1
    assert not [w for w in outcome[3] if "twice" in w or "duplicate" in w]
