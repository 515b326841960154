"""`katana-woo run` as a process: kill -9 between the acknowledgement and the work, and SIGTERM
in the middle of a run. The sandbox serves Katana and the stores from this test's process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _harness import orders_for, sales_orders
from _service import post_woo, until, write_config
from katana_woo_sdk import sandbox
from katana_woo_sdk.state import State

ROOT = Path(__file__).resolve().parents[1]


def _start(config: Path, env: dict, *extra: str) -> tuple[subprocess.Popen, str]:
    port_file = config.parent / "port"
    proc = subprocess.Popen([sys.executable, "-m", "katana_woo_sdk", "run", str(config), "--every", "1h",
                             "--listen", "127.0.0.1:0", *extra], env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stderr=subprocess.PIPE, text=True)
    line = ""
    deadline = time.monotonic() + 60
    while "listening on" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"katana-woo run exited with {proc.returncode}")
    port_file.write_text(line)
    return proc, line.rsplit(" ", 1)[1].strip()


def _end(proc: subprocess.Popen, sig: int | None = signal.SIGTERM) -> int:
    if proc.poll() is None:
        if sig is None:
            proc.kill()
        else:
            proc.send_signal(sig)
    try:
        return proc.wait(60)
    finally:
        proc.stderr.close()


def _ready(url: str) -> None:
    import requests
    until(lambda: requests.get(url + "/readyz", timeout=5).status_code == 200, 60, "the service to be ready", 0.1)


def test_kill_9_after_the_acknowledgement_loses_nothing_and_doubles_nothing(tmp_path):
    with sandbox.start() as box:
        config, (_, env) = write_config(box, tmp_path)
        proc, url = _start(config, env, "--debounce", "600")      # acknowledged, then held back
        try:
            _ready(url)
            us = box.stores["shop-us"]
            placed = [us.place_order([("MUG-CLASSIC", 1)]) for _ in range(3)]
            for order in placed:
                for topic in ("order.created", "order.updated"):
                    assert post_woo(url, "shop-us", order, env["WOO_SHOP_US_WEBHOOK_SECRET"],
                                    topic=topic).status_code == 200
            assert all(not orders_for(box, "shop-us", o["id"]) for o in placed)    # nothing done yet
        finally:
            _end(proc, None)                                     # kill -9
        with State(tmp_path / "state.sqlite") as state:
            waiting = state.inbox_entries(status="pending")
        assert len(waiting) == 3                                 # one per order; the rest coalesced
        proc, url = _start(config, env, "--debounce", "0.1")
        try:
            _ready(url)
            with State(tmp_path / "state.sqlite") as state:
                until(lambda: state.inbox_depth() == 0, 60, "the inbox to drain")
                done = {e.id: e for e in state.inbox_entries() if e.status == "done"}
        finally:
            assert _end(proc) == 0
        assert {e.id for e in waiting} <= set(done)              # each processed, once (a row is finished once)
        assert all(done[e.id].processed_at is not None for e in waiting)
        for order in placed:
            assert len(orders_for(box, "shop-us", order["id"])) == 1        # 0 duplicate sales orders


def test_sigterm_during_a_run_exits_0_and_leaves_nothing_half_recorded(tmp_path):
    with sandbox.start() as box:
        config, (_, env) = write_config(box, tmp_path)
        proc, url = _start(config, env, "--debounce", "0.1")
        try:
            _ready(url)
            box.katana.server.clear_log()          # the first reconcile imported the demo's orders
            # Slow sales order creation (1 s each): the run is in the middle of its imports when SIGTERM comes.
            box.katana.server.inject_fault(method="POST", path="/sales_orders$", delay=1.0, times=20)
            us = box.stores["shop-us"]
            placed = [us.place_order([("MUG-CLASSIC", 1)]) for _ in range(5)]
            for order in placed:
                post_woo(url, "shop-us", order, env["WOO_SHOP_US_WEBHOOK_SECRET"], topic="order.created")
            until(lambda: box.katana.server.count("POST", "/sales_orders$") >= 1, 30, "the first import")
            stopped = time.monotonic()
            assert _end(proc) == 0
            assert time.monotonic() - stopped < 30
        finally:
            if proc.poll() is None:
                _end(proc, None)
        with State(tmp_path / "state.sqlite") as state:
            last = state.runs(limit=1)[0]
            assert last.finished_at is not None and last.outcome is not None       # the run is closed
            actions = state.actions(last.id)
            skipped = [a for a in actions if a.outcome == "skipped" and "stopping" in a.message]
            assert skipped                                                          # the rest was not started
            imported = {woo_id for woo_id, e in state.ledger("shop-us").items() if e.status == "imported"}
        created = {int(so["ecommerce_order_id"]) for so in sales_orders(box)
                   if so.get("ecommerce_store_name") == us.url.split("://", 1)[1]}
        assert created == imported & created and imported <= created               # Katana and the ledger agree
        assert len(created) < len(placed)                                           # it stopped part-way
        # The next start imports the rest, once.
        proc, url = _start(config, env, "--debounce", "0.1")
        try:
            _ready(url)
        finally:
            assert _end(proc) == 0
        for order in placed:
            assert len(orders_for(box, "shop-us", order["id"])) == 1
