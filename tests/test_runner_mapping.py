"""The location-mapping lifecycle end to end, against the sandbox (issue 4 acceptance)."""
from __future__ import annotations

import json
import multiprocessing
import threading
import time

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.errors import MappingError, ReconcileError, StateLockedError
from katana_woo_sdk.plan import Plan

from _harness import make_runner

SKUS = ("SKU-1", "SKU-2", "SKU-3")


@pytest.fixture
def box():
    """Katana with no locations yet and three variants; tests add locations and stores."""
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        for sku in SKUS:
            sb.katana.add_variant(sku)
        yield sb


def add_store(sb, name: str, stock: int = 10):
    store = sb.add_store(name)
    for i, sku in enumerate(SKUS):
        store.add_product(sku, f"{name} {sku}", "10.00", stock=stock + i)
    return store


def stock_everywhere(sb, quantity: int = 50):
    for loc in sb.katana.locations(include_deleted=False):
        for sku in SKUS:
            sb.katana.set_stock(sku, loc["id"], quantity)


def so_of(sb, store: str, woo_id: int) -> list[dict]:
    host = sb.stores[store].url.split("://", 1)[1]
    return [so for so in sb.katana.sales_orders(include_deleted=True)
            if so["ecommerce_store_name"] == host and str(so["ecommerce_order_id"]) == str(woo_id)]


def test_single_location_account_is_the_default(box, tmp_path):
    loc = box.katana.add_location("Only Warehouse")
    stock_everywhere(box)
    add_store(box, "shop-a")
    order = box.stores["shop-a"].place_order([("SKU-1", 2)])
    with make_runner(box, tmp_path, {"shop-a": {}}) as runner:   # no location in the YAML
        plan = runner.plan()
        assert plan.store("shop-a").mapping.kind == "new"
        assert plan.store("shop-a").mapping.to_location.id == loc["id"]
        assert plan.store("shop-a").mapping.reason == "SingleLocationDefault"
        report = runner.apply()
        assert not report.has_failures
    [so] = so_of(box, "shop-a", order["id"])
    assert so["location_id"] == loc["id"]


def test_several_locations_without_a_mapping_is_an_error_listing_the_choices(box, tmp_path):
    box.katana.add_location("North")
    box.katana.add_location("South")
    add_store(box, "shop-a")
    with make_runner(box, tmp_path, {"shop-a": {}}) as runner:
        plan = runner.plan()
    sp = plan.store("shop-a")
    assert sp.status == "error" and plan.exit_code == 1
    assert sp.mapping.reason == "LocationRequired"
    assert "'North'" in sp.error and "'South'" in sp.error


def test_two_stores_on_one_location_and_one_on_another(box, tmp_path):
    north = box.katana.add_location("North")
    south = box.katana.add_location("South")
    stock_everywhere(box)
    for name in ("shop-a", "shop-b", "shop-c"):
        add_store(box, name)
    orders = {name: box.stores[name].place_order([("SKU-2", 1)]) for name in ("shop-a", "shop-b", "shop-c")}
    stores = {"shop-a": {"location": "North"}, "shop-b": {"location": "North"}, "shop-c": {"location": south["id"]}}
    with make_runner(box, tmp_path, stores) as runner:
        report = runner.apply()
        assert not report.has_failures, str(report)
        assert so_of(box, "shop-a", orders["shop-a"]["id"])[0]["location_id"] == north["id"]
        assert so_of(box, "shop-b", orders["shop-b"]["id"])[0]["location_id"] == north["id"]
        assert so_of(box, "shop-c", orders["shop-c"]["id"])[0]["location_id"] == south["id"]
        # Both stores on North show North's figure; shop-c shows South's.
        assert box.stores["shop-a"].stock_of("SKU-1") == box.stores["shop-b"].stock_of("SKU-1") == 50
        north_figure = box.katana.inventory_of("SKU-2", "North")
        assert box.stores["shop-a"].stock_of("SKU-2") == int(north_figure["in_stock"] - north_figure["committed"]) == 48
        assert box.stores["shop-c"].stock_of("SKU-2") == 49
        status = runner.status()
        assert {s.store: s.location.id for s in status.stores} == {"shop-a": north["id"], "shop-b": north["id"],
                                                                    "shop-c": south["id"]}
        assert all(s.state == "Ready" for s in status.stores), str(status)


@pytest.mark.parametrize("case", ["unknown", "ambiguous", "deleted", "not-for-sales", "unknown-id"])
def test_bad_locations(box, tmp_path, case):
    box.katana.add_location("North")
    stock_everywhere(box)
    add_store(box, "shop-a")
    add_store(box, "shop-b")
    wanted = {"unknown": "Nort", "ambiguous": "Twin", "deleted": "Gone", "not-for-sales": "Factory Floor",
              "unknown-id": 999999}[case]
    if case == "ambiguous":
        box.katana.add_location("Twin")
        box.katana.add_location("Twin", unique_name=False)
    if case == "deleted":
        box.katana.add_location("Gone")
        box.katana.delete_location("Gone")
    if case == "not-for-sales":
        box.katana.add_location("Factory Floor", sales_allowed=False)
    box.stores["shop-a"].place_order([("SKU-1", 1)])
    ok_order = box.stores["shop-b"].place_order([("SKU-1", 1)])
    with make_runner(box, tmp_path, {"shop-a": {"location": wanted}, "shop-b": {"location": "North"}}) as runner:
        plan = runner.plan()
        sp = plan.store("shop-a")
        expected = {"unknown": ("error", "LocationNotFound", "did you mean 'North'"),
                    "ambiguous": ("error", "LocationAmbiguous", "map shop-a by id"),
                    "deleted": ("blocked", "LocationDeleted", "was deleted"),
                    "not-for-sales": ("error", "LocationNotForSales", "does not allow sales"),
                    "unknown-id": ("error", "LocationNotFound", "#999999")}[case]
        assert (sp.status, sp.mapping.reason) == expected[:2]
        assert expected[2] in (sp.error or sp.mapping.message)
        assert sp.actions == ()
        report = runner.apply()
    # The other store carries on; nothing is written for the broken one.
    assert report.store("shop-b").status in ("applied", "ok")
    assert len(so_of(box, "shop-b", ok_order["id"])) == 1
    host_a = box.stores["shop-a"].url.split("://", 1)[1]
    assert not [so for so in box.katana.sales_orders() if so["ecommerce_store_name"] == host_a]
    assert box.stores["shop-a"].server.count("POST") == 0
    assert report.exit_code == (2 if case == "deleted" else 1)


def test_remap_keeps_imported_orders_and_sends_new_ones_to_the_new_location(box, tmp_path):
    a = box.katana.add_location("A")
    b = box.katana.add_location("B")
    stock_everywhere(box)
    add_store(box, "shop-a")
    first = box.stores["shop-a"].place_order([("SKU-1", 1)])
    stock = {"initial_import": True}
    with make_runner(box, tmp_path, {"shop-a": {"location": "A", "stock": stock}}) as runner:
        runner.apply()
        assert len(box.katana.stock_adjustments()) == 1
    second = box.stores["shop-a"].place_order([("SKU-2", 1)])
    with make_runner(box, tmp_path, {"shop-a": {"location": "B", "stock": stock}}) as runner:
        plan = runner.plan()
        sp = plan.store("shop-a")
        assert sp.mapping.kind == "remap" and str(sp.mapping) == f"remap A (#{a['id']}) -> B (#{b['id']})"
        assert "remap A" in str(plan) and "remap A" in plan.to_markdown()
        assert not sp.actions_of("stock.initial_import"), "initial stock import must not repeat on remap"
        runner.apply()
        history = runner.state.mapping_history("shop-a")
        assert [(h.location_name, h.valid_to is None) for h in history] == [("A", False), ("B", True)]
    assert so_of(box, "shop-a", first["id"])[0]["location_id"] == a["id"]      # stays at A
    assert all(r["location_id"] == a["id"] for r in so_of(box, "shop-a", first["id"])[0]["sales_order_rows"])
    assert so_of(box, "shop-a", second["id"])[0]["location_id"] == b["id"]     # new one goes to B
    assert len(box.katana.stock_adjustments()) == 1


def test_move_order_moves_an_open_order_and_refuses_a_shipped_one(box, tmp_path):
    a = box.katana.add_location("A")
    b = box.katana.add_location("B")
    stock_everywhere(box)
    add_store(box, "shop-a")
    o1 = box.stores["shop-a"].place_order([("SKU-1", 2), ("SKU-2", 1)])
    o2 = box.stores["shop-a"].place_order([("SKU-3", 1)])
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        runner.apply()
        committed_a = box.katana.inventory_of("SKU-1", "A")["committed"]
        result = runner.move_order("shop-a", o1["id"], "B")
        assert result.to_location.id == b["id"] and result.rows_moved == 2
        [so] = so_of(box, "shop-a", o1["id"])
        assert so["location_id"] == b["id"] and {r["location_id"] for r in so["sales_order_rows"]} == {b["id"]}
        assert box.katana.inventory_of("SKU-1", "A")["committed"] == committed_a - 2
        assert box.katana.inventory_of("SKU-1", "B")["committed"] == 2
        assert runner.state.ledger_get("shop-a", o1["id"]).location_id == b["id"]
        shipped = so_of(box, "shop-a", o2["id"])[0]
        box.katana.deliver_sales_order(shipped["id"])
        with pytest.raises(ReconcileError, match="DELIVERED"):
            runner.move_order("shop-a", o2["id"], "B")
        assert so_of(box, "shop-a", o2["id"])[0]["location_id"] == a["id"]
        with pytest.raises(MappingError):
            runner.move_order("shop-a", o1["id"], "Nowhere")
        # The order number works as well as the WooCommerce id.
        back = runner.move_order("shop-a", so["order_no"], "A")
        assert back.to_location.id == a["id"]


def test_deleted_location_blocks_then_remap_resumes_with_nothing_lost(box, tmp_path):
    box.katana.add_location("A")
    b = box.katana.add_location("B")
    box.katana.add_location("Other")
    stock_everywhere(box)
    add_store(box, "shop-a")
    add_store(box, "shop-x")
    before = box.stores["shop-a"].place_order([("SKU-1", 1)])
    stores = {"shop-a": {"location": "A"}, "shop-x": {"location": "Other"}}
    with make_runner(box, tmp_path, stores) as runner:
        runner.apply()
    box.katana.delete_location("A")
    during = [box.stores["shop-a"].place_order([("SKU-2", 1)]) for _ in range(3)]
    other = box.stores["shop-x"].place_order([("SKU-3", 1)])
    for store in box.stores.values():
        store.server.clear_log()
    with make_runner(box, tmp_path, stores) as runner:
        plan = runner.plan()
        sp = plan.store("shop-a")
        assert sp.status == "blocked" and sp.mapping.reason == "LocationDeleted"
        assert "A (#" in sp.mapping.message and "was deleted at" in sp.mapping.message
        assert "Map shop-a to another location" in sp.mapping.message
        report = runner.apply()
        assert report.store("shop-a").status == "blocked" and report.exit_code == 2
        assert report.store("shop-x").status in ("applied", "ok")
        status = runner.status().store("shop-a")
        assert status.state == "Blocked"
        assert status.condition("LocationAvailable").status == "False"
        assert status.condition("LocationAvailable").reason == "LocationDeleted"
    # Nothing read from or written to the blocked store; the other carried on.
    assert box.stores["shop-a"].server.count() == 0
    assert len(so_of(box, "shop-x", other["id"])) == 1
    assert all(not so_of(box, "shop-a", o["id"]) for o in during)
    # The YAML maps another location: the backlog is imported there, nothing lost or duplicated.
    stores["shop-a"] = {"location": "B"}
    with make_runner(box, tmp_path, stores) as runner:
        plan = runner.plan()
        assert plan.store("shop-a").mapping.kind == "remap"
        assert {a.key for a in plan.store("shop-a").actions_of("order.import")} == {f"order:{o['id']}" for o in during}
        runner.apply()
        assert runner.status().store("shop-a").state == "Ready"
        again = runner.apply()
        assert not again.store("shop-a").results
    for o in during:
        [so] = so_of(box, "shop-a", o["id"])
        assert so["location_id"] == b["id"]
    assert len(so_of(box, "shop-a", before["id"])) == 1


def test_saved_plan_is_applied_exactly_and_a_stale_action_is_replanned(box, tmp_path):
    box.katana.add_location("A")
    stock_everywhere(box)
    add_store(box, "shop-a")
    o1 = box.stores["shop-a"].place_order([("SKU-1", 1)])
    o2 = box.stores["shop-a"].place_order([("SKU-2", 1)])
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        runner.apply()                       # mapping + both orders; stock in sync afterwards
    o3 = box.stores["shop-a"].place_order([("SKU-1", 1)])
    o4 = box.stores["shop-a"].place_order([("SKU-3", 2)])
    box.katana.set_stock("SKU-3", box.katana.location_id("A"), 60)
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        path = runner.plan().save(tmp_path / "plan.json")
    saved = Plan.load(path)
    assert {a.key for a in saved.store("shop-a").actions_of("order.import")} == {f"order:{o3['id']}",
                                                                               f"order:{o4['id']}"}
    assert saved.store("shop-a").actions_of("stock.push")[0].after == {"SKU-3": 60 - 2}
    # Between plan and apply: o4 goes on-hold and back, o5 arrives, Katana's stock moves.
    box.stores["shop-a"].set_order_status(o4["id"], "on-hold")
    box.stores["shop-a"].set_order_status(o4["id"], "processing")
    o5 = box.stores["shop-a"].place_order([("SKU-2", 1)])
    box.katana.set_stock("SKU-3", box.katana.location_id("A"), 80)
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        report = runner.apply(Plan.load(path))
    outcomes = {r.action.key: r.outcome for r in report.store("shop-a").results}
    assert outcomes[f"order:{o3['id']}"] == "applied"
    # o4 went on-hold and back: same content, so the same fingerprint (dates are to the second).
    assert outcomes[f"order:{o4['id']}"] in ("applied", "replanned")
    assert outcomes[f"order:{o5['id']}"] == "skipped"         # not in the saved plan: left for the next run
    assert outcomes["stock-push"] == "replanned"               # computed from stock that has since changed
    assert len(so_of(box, "shop-a", o3["id"])) == 1 and not so_of(box, "shop-a", o5["id"])
    assert box.stores["shop-a"].stock_of("SKU-3") == 80 - 2    # the fresh figure, not the saved one
    # The next plain apply picks up what the saved plan left out: nothing is lost.
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        runner.apply()
    assert len(so_of(box, "shop-a", o5["id"])) == 1
    assert all(len(so_of(box, "shop-a", o["id"])) == 1 for o in (o1, o2, o3, o4, o5))


def test_saved_plan_action_that_vanished_is_dropped(box, tmp_path):
    box.katana.add_location("A")
    stock_everywhere(box)
    add_store(box, "shop-a")
    o1 = box.stores["shop-a"].place_order([("SKU-1", 1)])
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        saved = runner.plan()
    box.stores["shop-a"].set_order_status(o1["id"], "cancelled")
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        report = runner.apply(Plan.from_dict(json.loads(json.dumps(saved.to_dict()))))
    assert {r.action.key: r.outcome for r in report.store("shop-a").results}[f"order:{o1['id']}"] == "dropped"
    assert not so_of(box, "shop-a", o1["id"])


def _apply_in_child(config_path: str, env: dict, queue) -> None:
    import os
    os.environ.update(env)
    from katana_woo_sdk.runner import Runner
    try:
        with Runner.from_config_file(config_path, progress=False) as runner:
            queue.put(("ok", runner.apply().exit_code))
    except StateLockedError as exc:
        queue.put(("locked", str(exc)))


def test_two_concurrent_applies_on_one_state(box, tmp_path):
    box.katana.add_location("A")
    stock_everywhere(box)
    add_store(box, "shop-a")
    orders = [box.stores["shop-a"].place_order([("SKU-1", 1)]) for _ in range(3)]
    # Slow Katana down so the first apply still holds the lock while the second process starts.
    box.katana.server.inject_fault(method="POST", path="/sales_orders$", times=1, delay=6)
    runner = make_runner(box, tmp_path, {"shop-a": {"location": "A"}})
    config_path = str(tmp_path / "katana-woo.yaml")
    result = {}
    first = threading.Thread(target=lambda: result.setdefault("first", runner.apply()))
    first.start()
    deadline = time.monotonic() + 10
    while not box.katana.server.count("GET", "/customers$") and time.monotonic() < deadline:
        time.sleep(0.02)    # the first apply is past planning, inside the lock, about to create
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_apply_in_child, args=(config_path, box.env(), queue))
    child.start()
    child.join(60)
    first.join(60)
    runner.close()
    outcome, message = queue.get(timeout=5)
    assert outcome == "locked", message
    assert "locked by pid" in message and "katana-woo apply" in message
    assert not result["first"].has_failures
    assert all(len(so_of(box, "shop-a", o["id"])) == 1 for o in orders)


def test_store_selection_still_counts_what_other_stores_on_the_location_took(box, tmp_path):
    box.katana.add_location("A")
    stock_everywhere(box)
    add_store(box, "shop-a")
    add_store(box, "shop-b")
    stores = {"shop-a": {"location": "A"}, "shop-b": {"location": "A"}}
    with make_runner(box, tmp_path, stores) as runner:
        runner.apply()
    # shop-b takes 3 units for an order Katana cannot commit yet (a line with an unknown SKU).
    box.stores["shop-b"].add_product("NOT-IN-KATANA", "Mystery", "5.00", stock=5)
    box.stores["shop-b"].place_order([("SKU-1", 3), ("NOT-IN-KATANA", 1)])
    box.stores["shop-b"].server.clear_log()
    with make_runner(box, tmp_path, stores) as runner:
        only_a = runner.plan(stores=["shop-a"])
        assert [s.store for s in only_a.stores] == ["shop-a"]
        assert only_a.store("shop-a").actions_of("stock.push")[0].after == {"SKU-1": 47}
        runner.apply(stores=["shop-a"])
        assert box.stores["shop-a"].stock_of("SKU-1") == 47
        assert not box.stores["shop-b"].server.count("POST")        # shop-b was only read
        everything = runner.plan()
        assert not everything.store("shop-a").actions_of("stock.push"), "a full run must agree with --store"


def test_status_lists_skus_that_match_nothing_on_the_other_side(box, tmp_path):
    box.katana.add_location("A")
    box.katana.add_variant("KATANA-ONLY")
    stock_everywhere(box)
    add_store(box, "shop-a").add_product("WOO-ONLY", "Only in the store", "3.00", stock=4)
    with make_runner(box, tmp_path, {"shop-a": {}}) as runner:
        runner.apply()
        status = runner.status()
    assert status.store("shop-a").notes["katana_only_skus"] == ["KATANA-ONLY"]
    assert status.store("shop-a").notes["store_only_skus"] == ["WOO-ONLY"]
    assert "Katana variants with no store match (1): KATANA-ONLY" in str(status)
    status = status.store("shop-a")
    assert status.condition("MappingValid").message.startswith("mapped to A (#")
