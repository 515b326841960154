"""Two runners on one store at once (issue 9): nothing doubled, whatever state files they use.

Before the fix, two applies on one store config with two state files, started together, created
duplicate sales orders in 11 of 12 rounds, duplicate customers, and a second initial adjustment:
both looked the key up, both found nothing, both created. Now the lock is keyed by the store's
identity (one machine), and every run checks what it created and repairs a twin (two machines).

Two long-lived worker processes (spawned once, so each round costs an apply, not an interpreter)
apply the same config with their own state files, released together by a barrier each round,
while new orders (some by new buyers) keep arriving between rounds.
"""
from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from pathlib import Path

import pytest

from katana_woo_sdk import sandbox

from _harness import config_text

ROUNDS = 50
TWO_MACHINE_ROUNDS = 12


def _worker(config_path: str, env: dict, state: str, lock_dir: str, barrier, commands, results) -> None:
    """One runner process: apply on every "go" once the barrier lets both through."""
    import os
    os.environ["KATANA_WOO_LOCK_DIR"] = lock_dir
    from katana_woo_sdk.config import load_config
    from katana_woo_sdk.errors import KatanaWooError
    from katana_woo_sdk.runner import Runner
    from katana_woo_sdk.state import State

    config = load_config(config_path, env=env)
    with Runner(config, state=State(state), progress=False) as runner:
        while commands.get() == "go":
            barrier.wait()
            try:
                report = runner.apply()
                results.put(("ok", report.exit_code, [w for s in report.stores for w in s.warnings]))
            except KatanaWooError as exc:
                results.put(("refused", 1, [str(exc)]))
            except Exception as exc:  # reported to the test, which fails on it
                results.put(("crash", 1, [f"{type(exc).__name__}: {exc}"]))


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


def _race(box, tmp_path: Path, rounds: int, *, same_machine: bool) -> list[tuple]:
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": True}}}
    config = tmp_path / "katana-woo.yaml"
    config.write_text(config_text(stores, state_path=tmp_path / "unused.sqlite") +
                      "\n# both workers wait for each other's store lock rather than fail\n")
    text = config.read_text().replace("state:\n", "state:\n  lock_timeout_seconds: 60\n", 1)
    config.write_text(text)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = []
    for n in (1, 2):
        commands = ctx.Queue()
        lock_dir = tmp_path / ("locks" if same_machine else f"locks-{n}")   # two machines: two lock dirs
        lock_dir.mkdir(exist_ok=True)
        proc = ctx.Process(target=_worker, args=(str(config), box.env(), str(tmp_path / f"state-{n}.sqlite"),
                                                 str(lock_dir), barrier, commands, results), daemon=True)
        proc.start()
        workers.append((proc, commands))
    shop = box.stores["shop-a"]
    outcomes = []
    try:
        for r in range(rounds):
            shop.place_order([("W1", 1)], billing={"first_name": "Round", "last_name": str(r),
                                                  "email": f"buyer{r}@example.test"})
            shop.place_order([("W2", 2), ("W3", 1)], billing={"first_name": "Regular", "last_name": "Buyer",
                                                             "email": "regular@example.test"})
            for _, commands in workers:
                commands.put("go")
            outcomes += [results.get(timeout=120) for _ in workers]
    finally:
        for proc, commands in workers:
            commands.put("stop")
        for proc, _ in workers:
            proc.join(30)
    return outcomes


def _duplicates(box) -> dict[str, list]:
    live = [so for so in box.katana.sales_orders() if not so.get("deleted_at")]
    keys = Counter((so["ecommerce_store_name"], so["ecommerce_order_id"]) for so in live)
    emails = Counter((c.get("email") or "").lower() for c in box.katana.customers() if not c.get("deleted_at"))
    numbers = Counter(a["stock_adjustment_number"] for a in box.katana.stock_adjustments() if not a.get("deleted_at"))
    return {"sales orders": [k for k, n in keys.items() if n > 1],
            "customers": [e for e, n in emails.items() if e and n > 1],
            "adjustments": [k for k, n in numbers.items() if n > 1]}


def test_two_state_files_on_one_store_started_together_never_leave_duplicates(box, tmp_path):
    outcomes = _race(box, tmp_path, ROUNDS, same_machine=True)
    assert [o for o in outcomes if o[0] == "crash"] == []
    assert _duplicates(box) == {"sales orders": [], "customers": [], "adjustments": []}
    # Every order is in Katana exactly once, and the stock was imported once.
    assert len([so for so in box.katana.sales_orders() if not so.get("deleted_at")]) == 2 * ROUNDS
    assert len(box.katana.stock_adjustments()) == 1
    # The lock made the second runner wait, so it never created anything it had to repair.
    assert not [w for o in outcomes for w in o[2] if "twice" in w or "duplicate" in w]


def test_two_machines_without_a_shared_lock_repair_what_they_doubled(box, tmp_path):
    """Separate lock directories stand for two machines: the lock cannot help, and both runners
    may create the same sales order, customer or adjustment. Each run checks the keys it created
    and deletes the newer twin, so none is left behind."""
    outcomes = _race(box, tmp_path, TWO_MACHINE_ROUNDS, same_machine=False)
    assert [o for o in outcomes if o[0] == "crash"] == []
    assert _duplicates(box) == {"sales orders": [], "customers": [], "adjustments": []}
    assert len([so for so in box.katana.sales_orders() if not so.get("deleted_at")]) == 2 * TWO_MACHINE_ROUNDS
    # Katana's in stock counts the store's stock once (a deleted twin adjustment gave its stock back).
    assert box.katana.inventory_of("W1", "A")["in_stock"] <= 10_000 + 2 * TWO_MACHINE_ROUNDS


# --- the repair, deterministic: a twin appears at exactly the wrong moment ----------------------------

@pytest.mark.parametrize("twin", ["before-our-create", "after-our-create"])
def test_a_sales_order_twin_from_another_runner_is_deleted_keeping_the_older(box, tmp_path, monkeypatch, twin):
    from katana_woo_sdk.engines import orders as order_engine
    from _harness import make_runner, orders_for

    order = box.stores["shop-a"].place_order([("W1", 1)])
    host = box.stores["shop-a"].url.split("://", 1)[1]
    customer = box.katana.add_customer("Other Runner")
    body = {"order_no": f"WC-shop-a-{order['number']}", "customer_id": customer["id"],
            "location_id": box.katana.location_id("A"), "ecommerce_order_type": "wooCommerce",
            "ecommerce_store_name": host, "ecommerce_order_id": str(order["id"]),
            "sales_order_rows": [{"variant_id": box.katana.variant("W1")["id"], "quantity": 1}]}
    real_create = order_engine._create_once

    def racing(ctx, store, draft):
        if twin == "before-our-create":
            box.katana.create_sales_order(dict(body))
            return real_create(ctx, store, draft)
        ours = real_create(ctx, store, draft)
        box.katana.create_sales_order(dict(body))
        return ours
    monkeypatch.setattr(order_engine, "_create_once", racing)
    # Katana refuses a second order_no: the other runner's twin gets its own number.
    body["order_no"] += "-other"
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        report = runner.apply()
        live = [so for so in orders_for(box, "shop-a", order["id"]) if not so.get("deleted_at")]
        assert len(live) == 1 and len(orders_for(box, "shop-a", order["id"])) == 2
        warnings = report.store("shop-a").warnings
        assert any("had two sales orders" in w and "kept the older" in w for w in warnings), str(report)
        assert runner.state.ledger_get("shop-a", order["id"]).sales_order_id == live[0]["id"]
        assert live[0]["id"] == min(so["id"] for so in orders_for(box, "shop-a", order["id"]))
        assert box.katana.inventory_of("W1", "A")["committed"] == 1


def test_a_second_initial_adjustment_from_another_runner_is_deleted(box, tmp_path, monkeypatch):
    from _harness import make_runner

    twins = []
    with make_runner(box, tmp_path, {"shop-a": {"location": "A", "stock": {"initial_import": True}}}) as runner:
        real_create = runner.katana.stock_adjustments.create

        def create_and_race(number, location_id, rows, **kwargs):
            ours = real_create(number, location_id, rows, **kwargs)
            if not twins:           # the other runner's copy lands right after ours
                twins.append(real_create(number, location_id, rows, **kwargs))
            return ours
        monkeypatch.setattr(runner.katana.stock_adjustments, "create", create_and_race)
        report = runner.apply()
        assert not report.has_failures, str(report)
    live = [a for a in box.katana.stock_adjustments() if not a.get("deleted_at")]
    assert len(live) == 1 and len(box.katana.stock_adjustments()) == 2 and live[0]["id"] != twins[0].id
    assert box.katana.inventory_of("W1", "A")["in_stock"] == 10_000          # counted once
    assert any("existed twice" in w for w in report.store("shop-a").warnings)
