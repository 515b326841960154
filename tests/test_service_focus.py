"""The service's targeted work (issue 11): an event's run costs the calls of its own work.

`Runner.apply(focus=...)` (what the service's worker runs for events, `changes.Focus`): an order
event imports that order and pushes the stock of its SKUs to the stores of its location; a Katana
event pushes the variants it touched to the stores of their location. No account-wide change read,
no watermark moved: the interval's incremental run still sees everything (polling is the truth), and
nothing is done twice. The Katana calls of each are pinned next to what the unfocused incremental
run over every store spent for the same event.
"""
from __future__ import annotations

import time

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.engines import changes

from _harness import make_runner, orders_for
from test_incremental_runs import seed, stores_config


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        yield sb


def katana_calls(report) -> dict[str, int]:
    return {k: n for k, n in report.calls.items() if k.startswith("katana")}


def settled(box, tmp_path):
    skus = seed(box, 5, 0)
    runner = make_runner(box, tmp_path, stores_config())
    assert not runner.apply().has_failures
    time.sleep(2)
    assert not runner.apply().has_failures
    return runner, skus


def test_an_order_event_imports_the_order_and_pushes_its_skus_to_its_location_only(box, tmp_path):
    runner, skus = settled(box, tmp_path)
    a, b, c = (box.stores[n] for n in ("shop-a", "shop-b", "shop-c"))
    with runner:
        watermark = runner.state.get_cursor(changes.ACCOUNT, changes.KATANA_WATERMARK)
        box.katana.set_stock(skus[4], "B", 7)            # meanwhile in Katana, announced by no event here
        order = a.place_order([(skus[0], 3)])
        focused = runner.apply(stores=["shop-a", "shop-b"], focus=changes.Focus(why="an order"))
        assert not focused.has_failures, str(focused)
        assert "focused on an order" in focused.messages[0]
        assert len(orders_for(box, "shop-a", order["id"])) == 1
        assert a.stock_of(skus[0]) == b.stock_of(skus[0]) == 37
        assert c.stock_of(skus[4]) == 30                  # not this event's work ...
        assert runner.state.get_cursor(changes.ACCOUNT, changes.KATANA_WATERMARK) == watermark
        # Katana: the store's sales orders since the watermark (the ledger's check before creating),
        # the customer looked up and created, the sales order created, the check of what this run
        # created (sales orders and customers: duplicates), the inventory of its variant; the
        # locations and the SKU's variant (read each run); the order lifecycle's listing of changed
        # sales orders (issue 12).
        assert katana_calls(focused) == {
            "katana GET /locations": 1, "katana GET /variants": 1, "katana GET /sales_orders": 3,
            "katana GET /customers": 2, "katana POST /customers": 1, "katana POST /sales_orders": 1,
            "katana GET /inventory": 1}
        after = runner.apply()                             # ... the interval's run finds it; nothing twice
        assert not after.has_failures, str(after)
        assert c.stock_of(skus[4]) == 7
        assert len(orders_for(box, "shop-a", order["id"])) == 1
        assert a.stock_of(skus[0]) == 37 and not [r for r in after.results if r.action.kind == "order.import"]


def test_a_katana_event_pushes_the_touched_variant_to_the_stores_of_its_location(box, tmp_path):
    runner, skus = settled(box, tmp_path)
    a, b, c = (box.stores[n] for n in ("shop-a", "shop-b", "shop-c"))
    with runner:
        box.katana.set_stock(skus[1], "A", 20)
        variant = box.katana.variant(skus[1])["id"]
        location = box.katana.location_id("A")
        focused = runner.apply(stores=["shop-a", "shop-b"], focus=changes.Focus({location: frozenset({variant})}))
        assert not focused.has_failures, str(focused)
        assert a.stock_of(skus[1]) == b.stock_of(skus[1]) == 20
        focused_calls = katana_calls(focused)
        # The locations (read each run), the order lifecycle's listing (issue 12), the variant's inventory.
        assert focused_calls == {"katana GET /locations": 1, "katana GET /sales_orders": 1,
                                 "katana GET /inventory": 1}, focused_calls
        # The same kind of event, run as before (the incremental run over every store):
        box.katana.set_stock(skus[2], "A", 21)
        broad = runner.apply()
        assert not broad.has_failures and a.stock_of(skus[2]) == 21
        broad_calls = katana_calls(broad)
        assert sum(broad_calls.values()) > sum(focused_calls.values()), (broad_calls, focused_calls)
        assert c.stock_of(skus[1]) == 30
