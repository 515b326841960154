"""Stock engine, end to end against the sandbox (issue 5 acceptance, stock half).

The figure a store gets is its mapped location's (in stock - committed), less what WooCommerce
already took for orders Katana has not committed (held, on-hold), the same for every store on the
location. Variations go through their parent's variations batch; an item the store silently
ignores is reported and never recorded as pushed; a run with nothing to change writes nothing; a
figure is never computed from a failed or empty read; the one-time initial stock import is found
in Katana by its deterministic number when the local state is lost.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk._http import CallCounter, RetryPolicy
from katana_woo_sdk.config import load_config_text
from katana_woo_sdk.engines import initial_import as import_engine
from katana_woo_sdk.engines import orders as order_engine
from katana_woo_sdk.engines import stock as stock_engine
from katana_woo_sdk.katana import KatanaClient
from katana_woo_sdk.runner import Runner
from katana_woo_sdk.woo import WooClient

from _harness import config_text, make_runner

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def box():
    """Katana with locations A and B and variants W1..W3 (nothing in stock yet); no stores."""
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        sb.katana.add_location("B")
        for sku in ("W1", "W2", "W3"):
            sb.katana.add_variant(sku, sales_price="10.00")
        yield sb


def add_store(sb, name: str, stock: dict[str, int | None]):
    shop = sb.add_store(name)
    for sku, qty in stock.items():
        shop.add_product(sku, f"{name} {sku}", "10.00", stock=qty)
    return shop


def katana_stock(sb, location: str, **quantities: int) -> None:
    for sku, qty in quantities.items():
        sb.katana.set_stock(sku, location, qty)


def writes(server) -> int:
    return sum(server.count(m) for m in WRITE_METHODS)


def batch_bodies(shop, path_regex: str) -> list[dict]:
    return [json.loads(r.body) for r in shop.server.requests("POST", path_regex)]


def pushed_results(report, store: str):
    return [r for r in report.store(store).results if r.action.kind == "stock.push"]


@contextmanager
def fast_runner(sb, tmp_path, stores) -> Iterator[Runner]:
    """A runner whose clients retry twice, 10 ms apart, so a test can exhaust retries quickly.

    Runner builds its own clients from the config unless given some; given clients share the
    counter the runner is handed, so reports still count their calls."""
    text = config_text(stores, state_path=tmp_path / "state.sqlite")
    config = load_config_text(text, filename=str(tmp_path / "katana-woo.yaml"), base_dir=tmp_path, env=sb.env())
    counter = CallCounter()
    retry = RetryPolicy(max_attempts=2, base=0.01, cap=0.02)
    katana = KatanaClient(config.katana.api_key.reveal(), base_url=config.katana.base_url, retry=retry,
                          counter=counter, rate=config.katana.rate_limit.requests,
                          period=config.katana.rate_limit.period_seconds)
    woo = {s.name: WooClient(s.url, s.consumer_key.reveal(), s.consumer_secret.reveal(), retry=retry,
                             counter=counter, name=s.name) for s in config.stores}
    runner = Runner(config, katana=katana, woo=woo, progress=False, calls=counter)
    try:
        yield runner
    finally:
        runner.close()
        for client in (katana, *woo.values()):
            client.close()


# --- one location, several stores ------------------------------------------------------------------

def test_two_stores_on_one_location_get_the_same_figure_lowered_by_either_stores_uncommitted_orders(box, tmp_path):
    katana_stock(box, "A", W1=20, W2=10, W3=4)
    katana_stock(box, "B", W1=99, W2=99, W3=99)   # another location's stock never leaks in
    shop_a = add_store(box, "shop-a", {"W1": 20, "W2": 10, "W3": 1})
    shop_b = add_store(box, "shop-b", {"W1": 5, "W2": 50, "W3": 9})
    shop_b.add_product("GHOST", "only in shop-b", "3.00", stock=5)
    shop_a.place_order([("W1", 2)], status="on-hold")                 # WooCommerce took 2; never imported
    held = shop_b.place_order([("W1", 3), ("GHOST", 1)])              # took 3; held (GHOST unknown)
    shop_a.place_order([("W2", 1)])                                   # imported: Katana commits 1
    stores = {"shop-a": {"location": "A"}, "shop-b": {"location": "A"}}
    with make_runner(box, tmp_path, stores) as runner:
        report = runner.apply()
        assert [h.woo_order_id for h in report.store("shop-b").holds] == [held["id"]]
        assert not report.has_failures, str(report)
        # W1: 20 in stock - 0 committed - 2 (shop-a on-hold) - 3 (shop-b held) = 15, in both stores.
        # W2: 10 - 1 committed by the imported order = 9.  W3: 4.
        for shop in (shop_a, shop_b):
            assert (shop.stock_of("W1"), shop.stock_of("W2"), shop.stock_of("W3")) == (15, 9, 4)
        # Recorded as pushed: what was written (shop-a's W2 was already 9 after its own order).
        assert runner.state.last_pushed("shop-a") == {"W1": 15, "W3": 4}
        assert runner.state.last_pushed("shop-b") == {"W1": 15, "W2": 9, "W3": 4}
        assert box.katana.inventory_of("W2", "A")["committed"] == 1

        # Nothing changed: the next run pushes nothing, and the figures hold.
        box.katana.server.clear_log(), shop_a.server.clear_log(), shop_b.server.clear_log()
        again = runner.apply()
        assert pushed_results(again, "shop-a") == [] and pushed_results(again, "shop-b") == []
        assert writes(box.katana.server) == writes(shop_a.server) == writes(shop_b.server) == 0
        assert shop_a.stock_of("W1") == shop_b.stock_of("W1") == 15


def test_the_oversell_guard_never_re_raises_stock_woocommerce_took_for_a_held_order(box, tmp_path):
    katana_stock(box, "A", W1=10, W2=10)
    shop = add_store(box, "shop-a", {"W1": 10, "W2": 10})
    shop.add_product("GHOST", "not in Katana", "3.00", stock=5)
    order = shop.place_order([("W1", 3), ("GHOST", 1)])
    assert shop.stock_of("W1") == 7          # WooCommerce reduced it when the order entered processing
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        plan = runner.plan()
        assert [h.reason for h in plan.store("shop-a").holds] == ["unknown_sku"]
        [push] = plan.store("shop-a").actions_of("stock.push") or [None]
        assert push is None or "W1" not in push.after     # 7 is already right: nothing to write for W1
        report = runner.apply()
        assert shop.stock_of("W1") == 7        # not 10: Katana has not committed the held order yet
        assert shop.stock_of("W2") == 10
        runner.apply()
        assert shop.stock_of("W1") == 7        # nor on any later run while it stays held
        # Once imported, Katana commits the 3 itself and the figure stays 7.
        box.katana.add_variant("GHOST")
        report = runner.apply()
        assert [r.outcome for r in report.results if r.action.kind == "order.import"] == ["applied"]
        assert box.katana.inventory_of("W1", "A")["committed"] == 3
        assert shop.stock_of("W1") == 7
        assert order["id"] in runner.state.ledger("shop-a", status="imported")


# --- how writes are sent -----------------------------------------------------------------------------

def test_variations_are_pushed_through_their_parents_variations_batch(box, tmp_path):
    for sku in ("TEE", "TEE-S", "TEE-M", "TEE-L"):
        box.katana.add_variant(sku, product_name="Tee")
    katana_stock(box, "A", W1=6, **{"TEE-S": 7, "TEE-M": 8, "TEE-L": 2})
    shop = add_store(box, "shop-a", {"W1": 1})
    tee = shop.add_variable_product("TEE", "Tee", [
        {"sku": "TEE-S", "price": "19.00", "stock": 1, "attributes": {"Size": "S"}},
        {"sku": "TEE-M", "price": "19.00", "stock": 2, "attributes": {"Size": "M"}},
        {"sku": "TEE-L", "price": "19.00", "stock": 2, "attributes": {"Size": "L"}}])   # L already right
    ids = {sku: shop.product_by_sku(sku)["id"] for sku in ("W1", "TEE-S", "TEE-M", "TEE-L")}
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        shop.server.clear_log()
        report = runner.apply()
    assert not report.has_failures, str(report)
    assert (shop.stock_of("TEE-S"), shop.stock_of("TEE-M"), shop.stock_of("TEE-L"), shop.stock_of("W1")) == (7, 8, 2, 6)
    [variations] = batch_bodies(shop, rf"^/wp-json/wc/v3/products/{tee['id']}/variations/batch$")
    assert sorted(item["id"] for item in variations["update"]) == sorted([ids["TEE-S"], ids["TEE-M"]])
    [products] = batch_bodies(shop, r"^/wp-json/wc/v3/products/batch$")
    assert [item["id"] for item in products["update"]] == [ids["W1"]]     # no variation in the product batch
    routes = shop.server.counts_by_route()
    assert not [r for r in routes if r.startswith(("PUT", "PATCH", "DELETE"))]            # no per-item writes
    assert not [r for r in routes if r.startswith("GET") and "{id}" in r and "variations" not in r]  # no per-item reads


def test_items_the_engine_cannot_write_are_reported_not_written(box, tmp_path):
    katana_stock(box, "A", W1=6, W2=6, W3=6)
    for sku in ("TEE", "TEE-S", "TEE-XL"):
        box.katana.add_variant(sku, product_name="Tee")
    katana_stock(box, "A", **{"TEE": 5, "TEE-S": 3, "TEE-XL": 9})
    shop = add_store(box, "shop-a", {"W1": 1, "W2": None})           # W2: manage_stock false
    shop.add_variable_product("TEE", "Tee", [
        {"sku": "TEE-S", "price": "19.00", "stock": 1, "attributes": {"Size": "S"}},
        {"sku": "TEE-XL", "price": "21.00", "stock": "parent", "attributes": {"Size": "XL"}}], stock=12)
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        shop.server.clear_log()
        plan = runner.plan()
        notes = plan.store("shop-a").notes
        assert "W2" in notes["unmanaged_skus"]
        assert notes["parent_managed_skus"] == ["TEE-XL"]
        [push] = plan.store("shop-a").actions_of("stock.push")
        assert set(push.after) == {"W1", "TEE", "TEE-S"}
        runner.apply()
    written = [item["id"] for r in shop.server.requests("POST", "/batch$") for item in json.loads(r.body)["update"]]
    assert shop.product_by_sku("W2")["id"] not in written and shop.product_by_sku("TEE-XL")["id"] not in written
    assert shop.stock_of("W2") is None
    # The parent's figure is the pool's: Katana's TEE and TEE-XL (whose stock the parent holds), 5 + 9.
    assert shop.stock_of("TEE") == shop.stock_of("TEE-XL") == 14


@pytest.mark.parametrize("item", ["simple", "variation"])
def test_a_write_the_store_silently_ignores_is_reported_and_not_recorded_as_pushed(box, tmp_path, monkeypatch, item):
    """A shop admin turns stock management off while the run is between reading the catalogue and
    writing: WooCommerce answers 200 and ignores the quantity (cassette batch_stock_update #5/#7)."""
    for sku in ("TEE", "TEE-S"):
        box.katana.add_variant(sku, product_name="Tee")
    katana_stock(box, "A", W1=6, W2=7, **{"TEE": 4, "TEE-S": 3})
    shop = add_store(box, "shop-a", {"W1": 1, "W2": 1})
    tee = shop.add_variable_product("TEE", "Tee", [
        {"sku": "TEE-S", "price": "19.00", "stock": 1, "attributes": {"Size": "S"}}], stock=4)
    admin = WooClient(shop.url, shop.consumer_key, shop.consumer_secret, name="wp-admin")
    victim = "W2" if item == "simple" else "TEE-S"
    victim_id = shop.product_by_sku(victim)["id"]
    path = f"products/{victim_id}" if item == "simple" else f"products/{tee['id']}/variations/{victim_id}"
    real_push = stock_engine.write_push

    def edited_meanwhile(ctx, store, items, **kwargs):
        admin.request("PUT", path, json={"manage_stock": False})
        return real_push(ctx, store, items, **kwargs)
    monkeypatch.setattr(stock_engine, "write_push", edited_meanwhile)

    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        report = runner.apply()
        [push] = pushed_results(report, "shop-a")
        assert push.outcome == "failed"
        [not_applied] = push.result.not_applied
        assert (not_applied.sku, not_applied.code) == (victim, "ignored_by_store")
        assert "ignored" in not_applied.reason
        assert report.has_failures and report.store("shop-a").status == "failed"
        pushed = runner.state.last_pushed("shop-a")
        assert victim not in pushed
        assert pushed == {sku: q for sku, q in {"W1": 6, "W2": 7, "TEE-S": 3}.items() if sku != victim}
        synced = runner.status().store("shop-a").condition("StockSynced")
        assert (synced.status, synced.reason) == ("False", "NotApplied")
        assert victim in synced.message                   # people learn which item and why ...
        assert victim in str(report) and victim in report.to_markdown()
        assert victim in json.dumps(report.to_dict())     # ... and so do machines
        # The next run sees the item no longer manages stock and says so instead of writing it.
        monkeypatch.setattr(stock_engine, "write_push", real_push)
        again = runner.apply()
        rewritten = [w.sku for r in pushed_results(again, "shop-a") for w in r.action.payload.writes]
        assert victim not in rewritten
        assert rewritten == ([] if item == "simple" else ["TEE"])   # TEE-S now sells from TEE's pool: 4 + 3
        key = "unmanaged_skus" if item == "simple" else "parent_managed_skus"
        assert victim in again.store("shop-a").notes[key]
    admin.close()


# --- nothing to do ------------------------------------------------------------------------------------

def test_a_run_with_nothing_changed_writes_nothing_on_either_side(box, tmp_path):
    for sku in ("TEE", "TEE-S", "TEE-M"):
        box.katana.add_variant(sku, product_name="Tee")
    katana_stock(box, "A", W1=9, W2=4, W3=0, **{"TEE-S": 5, "TEE-M": 6})
    shop = add_store(box, "shop-a", {"W1": 2, "W2": None, "W3": 3})
    shop.add_product("GHOST", "not in Katana", "3.00", stock=5)
    shop.add_variable_product("TEE", "Tee", [
        {"sku": "TEE-S", "price": "19.00", "stock": 1, "attributes": {"Size": "S"}},
        {"sku": "TEE-M", "price": "19.00", "stock": 1, "attributes": {"Size": "M"}}])
    shop.place_order([("W1", 1), ("TEE-S", 1)], shipping_total="4.00", tax_percent=10)
    shop.place_order([("GHOST", 1), ("W1", 1)])                                  # held
    shop.place_order([("W3", 1)], status="on-hold")
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": False}}}
    with make_runner(box, tmp_path, stores) as runner:
        first = runner.apply()
        assert first.calls_to("katana") and [r for r in first.results if r.action.kind == "stock.push"]
        box.katana.server.clear_log()
        shop.server.clear_log()
        second = runner.apply()
        assert [r for r in second.results] == []
        assert {k: n for k, n in second.calls.items() if k.split()[1] in WRITE_METHODS} == {}
        assert writes(box.katana.server) == 0 and writes(shop.server) == 0
        assert len(second.store("shop-a").holds) == 1


# --- never from a failed or empty read -------------------------------------------------------------

@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503},
                                   {"status": 200, "body": {"data": []}}],
                         ids=["500", "503-retries-exhausted", "empty-200"])
def test_no_stock_is_pushed_from_a_failed_or_empty_inventory_read(box, tmp_path, fault):
    katana_stock(box, "A", W1=8, W2=8)
    shop = add_store(box, "shop-a", {"W1": 3, "W2": 3})
    order = shop.place_order([("W2", 1)])
    # Every inventory read of this run fails (retries included): at planning and at apply's re-read.
    box.katana.server.inject_fault(method="GET", path="/inventory$", times=50, **fault)
    with fast_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        report = runner.apply()
        a = report.store("shop-a")
        if fault["status"] == 200:
            # An empty answer is not an error (a new location has no rows yet), but never zeros pushed.
            assert a.status == "attention" and any("no inventory rows" in w for w in a.warnings), str(report)
        else:
            assert a.status == "failed" and a.error and "inventory" in a.error
        assert pushed_results(report, "shop-a") == []
        assert shop.server.count("POST", "/batch$") == 0 and writes(shop.server) == 0
        assert (shop.stock_of("W1"), shop.stock_of("W2")) == (3, 2)
        assert runner.state.last_pushed("shop-a") == {}
        assert runner.status().store("shop-a").condition("StockSynced").status == "False"
        # Orders do not need the figure: the store's order import went ahead.
        assert [r.outcome for r in a.results if r.action.kind == "order.import"] == ["applied"]
        assert runner.state.ledger_get("shop-a", order["id"]).status == "imported"
        if fault["status"] == 503:   # retried up to the policy's 2 attempts, then given up: no push this run
            assert report.calls["katana GET /inventory"] == 2
        # Once Katana answers again, the next run pushes the right figures.
        box.katana.server.clear_faults()
        again = runner.apply()
        assert not again.has_failures, str(again)
        assert (shop.stock_of("W1"), shop.stock_of("W2")) == (8, 7)


def test_a_failed_re_read_after_importing_orders_pushes_nothing_but_keeps_the_imports(box, tmp_path, monkeypatch):
    """Importing an order changes the location's commitments, so stock is re-read before the push;
    if that re-read fails, nothing is pushed (the figure from before the import would be stale)."""
    katana_stock(box, "A", W1=8, W2=8)
    katana_stock(box, "B", W1=5, W2=5)
    add_store(box, "shop-a", {"W1": 3, "W2": 3})
    add_store(box, "shop-b", {"W1": 3, "W2": 3})
    stores = {"shop-a": {"location": "A"}, "shop-b": {"location": "B"}}
    order = box.stores["shop-a"].place_order([("W1", 2)])
    real_import = order_engine.apply_import

    def import_then_fail(ctx, store, action, order):
        result = real_import(ctx, store, action, order)
        # Katana stops answering inventory reads right after the import: the re-read at apply fails.
        box.katana.server.inject_fault(method="GET", path="/inventory$", status=503, times=2)
        return result
    monkeypatch.setattr(order_engine, "apply_import", import_then_fail)
    with fast_runner(box, tmp_path, stores) as runner:
        report = runner.apply()
        a = report.store("shop-a")
        assert [r.outcome for r in a.results if r.action.kind == "order.import"] == ["applied"]
        assert a.error and "stock sync" in a.error
        assert pushed_results(report, "shop-a") == []
        assert box.stores["shop-a"].server.count("POST", "/batch$") == 0
        assert box.stores["shop-a"].stock_of("W1") == 1          # 3 - 2 taken by the order; not overwritten
        assert runner.state.ledger_get("shop-a", order["id"]).status == "imported"
        assert box.stores["shop-b"].stock_of("W1") == 5


# --- initial import and lost state ---------------------------------------------------------------------

def test_lost_state_repeats_neither_the_initial_stock_import_nor_any_sales_order(box, tmp_path):
    shop = add_store(box, "shop-a", {"W1": 20, "W2": 4, "W3": 0})
    order = shop.place_order([("W1", 3)], shipping_total="2.00")        # WooCommerce: W1 20 -> 17
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": True}}}
    with make_runner(box, tmp_path, stores) as runner:
        number = import_engine.initial_import_number(runner.config.store("shop-a"))
        report = runner.apply()
        assert not report.has_failures, str(report)
    [adjustment] = box.katana.stock_adjustments()
    assert adjustment["stock_adjustment_number"] == number
    # Katana in stock = WooCommerce stock + open orders (committed by the import): 17 + 3.
    assert box.katana.inventory_of("W1", "A")["in_stock"] == 20
    assert box.katana.inventory_of("W1", "A")["committed"] == 3
    assert box.katana.inventory_of("W2", "A")["in_stock"] == 4
    assert shop.stock_of("W1") == 17                    # in stock - committed: unchanged in the store
    sales_orders = [so["id"] for so in box.katana.sales_orders()]
    assert len(sales_orders) == 1

    box.katana.server.clear_log()
    shop.server.clear_log()
    with make_runner(box, tmp_path, stores, state_name="fresh.sqlite") as runner:   # the state is gone
        plan = runner.plan()
        assert plan.store("shop-a").actions_of("stock.initial_import") == []
        assert number in plan.store("shop-a").notes["initial_import"]
        report = runner.apply()
        assert not report.has_failures, str(report)
        assert writes(box.katana.server) == 0 and writes(shop.server) == 0
        assert runner.state.ledger_get("shop-a", order["id"]).status == "imported"
    assert len(box.katana.stock_adjustments()) == 1
    assert [so["id"] for so in box.katana.sales_orders()] == sales_orders
    assert box.katana.inventory_of("W1", "A")["in_stock"] == 20


def test_the_initial_import_counts_on_hold_orders_so_the_first_push_does_not_lower_the_store(box, tmp_path):
    """WooCommerce took stock for on-hold orders too (cassette stock_after_orders), and the pushed
    figure subtracts them as long as Katana has not committed them; so the physical stock the
    initial import books must include them, or the first push after it takes them off twice."""
    shop = add_store(box, "shop-a", {"W1": 10, "W2": 6, "W3": 5})
    shop.place_order([("W1", 2)], status="on-hold")          # W1 10 -> 8
    shop.place_order([("W2", 1)])                            # processing: W2 6 -> 5, imported
    shop.place_order([("W3", 4)], status="pending")          # takes nothing
    before = {sku: shop.stock_of(sku) for sku in ("W1", "W2", "W3")}
    assert before == {"W1": 8, "W2": 5, "W3": 5}
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": True}}}
    with make_runner(box, tmp_path, stores) as runner:
        report = runner.apply()
        assert not report.has_failures, str(report)
        assert {sku: shop.stock_of(sku) for sku in before} == before     # the store keeps its figures
        assert box.katana.inventory_of("W1", "A")["in_stock"] == 10      # 8 on the shelf + 2 on hold
        assert box.katana.inventory_of("W2", "A")["in_stock"] == 6       # 5 + 1 committed by the SO
        assert box.katana.inventory_of("W3", "A")["in_stock"] == 5
        assert pushed_results(report, "shop-a") == []
        runner.apply()
        assert {sku: shop.stock_of(sku) for sku in before} == before


def test_orders_for_a_parent_managed_variation_do_not_re_raise_the_parents_stock(box, tmp_path):
    """A variation with manage_stock "parent" sells from its parent's quantity in WooCommerce, while
    the imported sales order commits the variation's own Katana variant: the parent's figure must
    still go down by those orders, or every push re-raises stock that was sold."""
    for sku in ("TEE", "TEE-S", "TEE-XL"):
        box.katana.add_variant(sku, product_name="Tee")
    katana_stock(box, "A", **{"TEE": 10, "TEE-S": 5})
    shop = box.add_store("shop-a")
    shop.add_variable_product("TEE", "Tee", [
        {"sku": "TEE-S", "price": "19.00", "stock": 5, "attributes": {"Size": "S"}},
        {"sku": "TEE-XL", "price": "21.00", "stock": "parent", "attributes": {"Size": "XL"}}], stock=10)
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        runner.apply()
        assert shop.stock_of("TEE") == 10
        shop.place_order([("TEE-XL", 2)])
        assert shop.stock_of("TEE") == shop.stock_of("TEE-XL") == 8     # WooCommerce took it from the parent
        report = runner.apply()
        assert [r.outcome for r in report.results if r.action.kind == "order.import"] == ["applied"]
        assert box.katana.inventory_of("TEE-XL", "A")["committed"] == 2
        assert shop.stock_of("TEE") == 8, "the push re-raised the parent's stock that the XL order took"
        runner.apply()
        assert shop.stock_of("TEE") == 8


def test_the_initial_import_books_a_parent_managed_variations_open_orders_on_the_parent(box, tmp_path):
    for sku in ("TEE", "TEE-S", "TEE-XL"):
        box.katana.add_variant(sku, product_name="Tee")
    shop = box.add_store("shop-a")
    shop.add_variable_product("TEE", "Tee", [
        {"sku": "TEE-S", "price": "19.00", "stock": 5, "attributes": {"Size": "S"}},
        {"sku": "TEE-XL", "price": "21.00", "stock": "parent", "attributes": {"Size": "XL"}}], stock=10)
    shop.place_order([("TEE-XL", 3), ("TEE-S", 1)])               # parent 10 -> 7, S 5 -> 4
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": True}}}
    with make_runner(box, tmp_path, stores) as runner:
        report = runner.apply()
        assert not report.has_failures, str(report)
        # The pool TEE + TEE-XL holds 7 on the shelf + 3 committed by the imported order.
        pool = [box.katana.inventory_of(sku, "A") for sku in ("TEE", "TEE-XL")]
        assert sum(r["in_stock"] for r in pool) == 10 and sum(r["committed"] for r in pool) == 3
        assert box.katana.inventory_of("TEE-S", "A")["in_stock"] == 5
        assert (shop.stock_of("TEE"), shop.stock_of("TEE-S")) == (7, 4)
        assert pushed_results(report, "shop-a") == []
