"""The initial stock import while things fail (issue 9): no push before the import is confirmed in
Katana, one meaning for a shared location whatever the run boundaries, and a location without
inventory rows yet plans normally.

Before the fix, a fault on any route the import needs dropped it from the run ("0 failed", exit 2)
and the push then wrote Katana's pre-import figures over the WooCommerce levels the import was
meant to carry: the store's stock was lost for good. Each cell below fails once on one route.
"""
from __future__ import annotations

import pytest

from katana_woo_sdk import sandbox

from _harness import custom_runner, make_runner

STOCK = {"W1": 5, "W2": 7, "W3": 0}


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        sb.katana.add_location("B")
        for sku in ("W1", "W2", "W3"):
            sb.katana.add_variant(sku, sales_price="10.00")
        shop = sb.add_store("shop-a")
        for sku, qty in STOCK.items():
            shop.add_product(sku, f"shop-a {sku}", "10.00", stock=qty)
        yield sb


def adjustments(sb, *, live: bool = True) -> list[dict]:
    return [a for a in sb.katana.stock_adjustments() if not live or not a.get("deleted_at")]


def levels(shop) -> dict[str, int]:
    return {sku: shop.stock_of(sku) for sku in STOCK}


# Every route the import depends on, failing before Katana (or the store) acted. `times` covers the
# custom runner's 2 attempts for reads (a create is never retried after a 5xx or a lost answer).
FAULTS = {
    "adjustment-500": ("katana", "POST", "/stock_adjustments$", {"status": 500}),
    "adjustment-502": ("katana", "POST", "/stock_adjustments$", {"status": 502}),
    "adjustment-503": ("katana", "POST", "/stock_adjustments$", {"status": 503}),
    "adjustment-504": ("katana", "POST", "/stock_adjustments$", {"status": 504}),
    "adjustment-timeout": ("katana", "POST", "/stock_adjustments$", {"status": 504, "delay": 1.0}),
    "adjustment-dropped": ("katana", "POST", "/stock_adjustments$", {"drop": True}),
    "inventory-read": ("katana", "GET", "/inventory$", {"status": 500, "times": 2}),
    "adjustment-lookup": ("katana", "GET", "/stock_adjustments$", {"status": 502, "times": 2}),
    "variants-read": ("katana", "GET", "/variants$", {"status": 503, "times": 2}),
    "products-read": ("woo", "GET", "/products$", {"status": 500, "times": 2}),
    "orders-read": ("woo", "GET", "/orders$", {"status": 503, "times": 2}),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_a_fault_on_any_route_of_the_first_import_keeps_the_store_levels_and_the_next_run_imports_once(
        box, tmp_path, fault):
    system, method, path, options = FAULTS[fault]
    shop = box.stores["shop-a"]
    order = shop.place_order([("W1", 2)])                      # WooCommerce: W1 5 -> 3, Katana will commit 2
    before = levels(shop)
    server = box.katana.server if system == "katana" else shop.server
    server.inject_fault(method=method, path=path, **options)
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": True}}}
    with custom_runner(box, tmp_path, stores, read_timeout=0.5) as runner:
        first = runner.apply()
        store = first.store("shop-a")
        # A failure, said so: never "0 failed" with exit 2.
        assert first.exit_code == 1 and store.status == "failed", str(first)
        assert store.error, str(first)
        # Nothing was pushed: the levels the import is meant to carry are still in the store.
        assert [r for r in store.results if r.action.kind == "stock.push"] == []
        assert shop.server.count("POST", "/batch$") == 0 and levels(shop) == before
        assert adjustments(box) == []
        assert runner.state.last_pushed("shop-a") == {}
        assert runner.status().store("shop-a").condition("StockSynced").status == "False"

        server.clear_faults()
        second = runner.apply()
        assert not second.has_failures, str(second)
        [adjustment] = adjustments(box)                         # exactly once
        # Katana in stock = WooCommerce stock + open orders (the order's 2 units are on the shelf).
        assert box.katana.inventory_of("W1", "A")["in_stock"] == 5
        assert box.katana.inventory_of("W2", "A")["in_stock"] == 7
        # The store keeps its levels: in stock - committed - nothing else taken = what it shows.
        assert levels(shop) == before == {"W1": 3, "W2": 7, "W3": 0}
        assert runner.state.ledger_get("shop-a", order["id"]).status == "imported"
        third = runner.apply()
        assert not third.has_failures and len(adjustments(box, live=False)) == 1, str(third)
        assert [r for r in third.results] == []


@pytest.mark.parametrize("fault", [{"status": 500}, {"drop": True}], ids=["500", "dropped"])
def test_an_import_whose_answer_is_lost_is_found_by_number_and_the_push_goes_ahead(box, tmp_path, fault):
    shop = box.stores["shop-a"]
    box.katana.server.inject_fault(method="POST", path="/stock_adjustments$", after=True, **fault)
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": True}}}
    with custom_runner(box, tmp_path, stores) as runner:
        report = runner.apply()
        assert not report.has_failures, str(report)
        [result] = [r for r in report.store("shop-a").results if r.action.kind == "stock.initial_import"]
        assert result.outcome == "applied" and result.result.created is False
        assert len(adjustments(box)) == 1
        assert box.katana.inventory_of("W2", "A")["in_stock"] == 7 and shop.stock_of("W2") == 7


def test_a_refused_shared_location_import_is_a_failure_and_nothing_is_pushed(box, tmp_path):
    """Another config's store already imported into A: without the confirmation the import is
    refused, which is a failure (exit 1) and the store's levels are kept, not a silent skip."""
    other = box.add_store("shop-b")
    other.add_product("W1", "shop-b W1", "10.00", stock=9)
    (tmp_path / "b").mkdir()
    with make_runner(box, tmp_path / "b", {"shop-b": {"location": "A", "stock": {"initial_import": True}}}) as r:
        assert not r.apply().has_failures
    shop = box.stores["shop-a"]
    before = levels(shop)
    stores = {"shop-a": {"location": "A", "stock": {"initial_import": True}}}
    (tmp_path / "a").mkdir()
    with make_runner(box, tmp_path / "a", stores) as runner:
        plan = runner.plan()
        assert plan.exit_code == 1 and "refused" in plan.store("shop-a").error
        report = runner.apply()
        assert report.exit_code == 1 and "confirm_shared_location_import" in report.store("shop-a").error
        assert levels(shop) == before and shop.server.count("POST", "/batch$") == 0


# --- one meaning for a shared location --------------------------------------------------------------

def _two_stores(box):
    shop_b = box.add_store("shop-b")
    shop_b.add_product("W1", "shop-b W1", "10.00", stock=7)
    shop_b.add_product("W2", "shop-b W2", "10.00", stock=1)
    box.katana.set_stock("W1", "A", 3)                   # what Katana held at A before either import
    return {"shop-a": {"location": "A", "stock": {"initial_import": True}},
            "shop-b": {"location": "A", "stock": {"initial_import": True, "confirm_shared_location_import": True}}}


@pytest.mark.parametrize("runs", ["one-apply", "two-applies", "two-applies-other-order"])
def test_two_stores_importing_into_one_location_add_up_whatever_the_run_boundaries(box, tmp_path, runs):
    """The first store to import sets Katana's in stock to its figure (3 -> 5); each further store adds
    its own (+7): 12, in one apply or in two, in either order of the applies."""
    stores = _two_stores(box)
    if runs == "two-applies-other-order":
        # shop-b imports first here, so shop-a is the further store: it is the one that must confirm.
        stores["shop-a"]["stock"]["confirm_shared_location_import"] = True
    with make_runner(box, tmp_path, stores) as runner:
        if runs == "one-apply":
            reports = [runner.apply()]
        elif runs == "two-applies":
            reports = [runner.apply(stores=["shop-a"]), runner.apply()]
        else:
            reports = [runner.apply(stores=["shop-b"]), runner.apply()]
        assert not any(r.has_failures for r in reports), "\n".join(map(str, reports))
        assert box.katana.inventory_of("W1", "A")["in_stock"] == 12
        assert box.katana.inventory_of("W2", "A")["in_stock"] == 7 + 1
        modes = sorted(a.action.payload.mode for r in reports for a in r.results
                       if a.action.kind == "stock.initial_import")
        assert modes == ["add", "set"]
        assert len(adjustments(box)) == 2
        # Both stores then show the location's figure.
        assert box.stores["shop-a"].stock_of("W1") == box.stores["shop-b"].stock_of("W1") == 12


# --- a location without inventory rows yet -----------------------------------------------------------

def test_the_first_plan_of_a_store_whose_location_has_no_inventory_rows_plans_the_import_and_the_push(
        box, tmp_path):
    """Katana answers an empty inventory for a location nothing was ever booked at. The first plan
    holds the initial import that creates the rows and the push from them: exit 2, not "in error"."""
    stores = {"shop-a": {"location": "B", "stock": {"initial_import": True}}}
    box.katana.server.inject_fault(method="GET", path="/inventory$", status=200, body={"data": []}, times=1)
    with make_runner(box, tmp_path, stores) as runner:
        plan = runner.plan()
        assert plan.exit_code == 2 and plan.store("shop-a").status == "changes", str(plan)
        kinds = [a.kind for a in plan.store("shop-a").actions]
        assert kinds == ["mapping", "stock.initial_import"]          # every level already equals the figure
        [imp] = plan.store("shop-a").actions_of("stock.initial_import")
        assert {r.sku: int(r.quantity) for r in imp.payload.rows} == {"W1": 5, "W2": 7}
        report = runner.apply()
        assert not report.has_failures, str(report)
        assert box.katana.inventory_of("W2", "B")["in_stock"] == 7 and box.stores["shop-a"].stock_of("W2") == 7


def test_an_empty_inventory_read_without_an_import_is_attention_and_never_pushes_zeros(box, tmp_path):
    box.katana.server.inject_fault(method="GET", path="/inventory$", status=200, body={"data": []}, times=5)
    with make_runner(box, tmp_path, {"shop-a": {"location": "B"}}) as runner:
        plan = runner.plan()
        assert plan.exit_code == 2 and [a.kind for a in plan.store("shop-a").actions] == ["mapping"], str(plan)
        assert any("no inventory rows" in w for w in plan.store("shop-a").warnings)
        report = runner.apply()
        assert levels(box.stores["shop-a"]) == STOCK and report.exit_code == 2
