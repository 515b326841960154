"""An order's life after its import, on the sandbox (issue 12): fulfilment both ways, cancellations
under each policy (a shipped order never touched), refunds, edits before and after shipping.

Every transition is applied, then the same apply runs again and changes nothing; some go through a
lost state in between (the state file deleted: Katana and the store are the truth). Each test runs on
both state backends (`state_backend`, see tests/_postgres.py)."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from _harness import make_runner, orders_for
from _lifecycle_world import imported, lifecycle_world


@pytest.fixture
def box():
    with lifecycle_world() as sb:
        yield sb


def _runner(box, tmp_path, state_name="state.sqlite", **orders):
    return make_runner(box, tmp_path, {"shop": {"location": "Main", "orders": orders}}, state_name=state_name)


def _apply(runner):
    report = runner.apply()
    assert not report.has_failures, str(report)
    return report


def _kinds(report, *kinds):
    return [(r.action.kind, r.outcome) for r in report.results if r.action.kind in kinds]


def _lifecycle(report):
    return _kinds(report, "order.deliver", "order.complete_in_store", "order.delete", "order.update_rows")


def _settled(runner):
    """The apply after a change: it may read back what the last one wrote; then nothing is left to do."""
    time.sleep(1.1)          # the store's modified_after is to the second
    report = _apply(runner)
    assert _lifecycle(report) == [], str(report)
    return report


def test_delivered_in_katana_completes_the_order_in_the_store_once(box, tmp_path, state_backend):
    runner, order, so = imported(box, tmp_path)
    box.katana.fulfil_sales_order(so["id"], tracking_number="TRK-123")
    report = _apply(runner)
    assert _lifecycle(report) == [("order.complete_in_store", "applied")]
    shop = box.stores["shop"]
    assert shop.order(order["id"])["status"] == "completed"
    notes = [n.note for n in runner.woo["shop"].orders.notes(order["id"])]
    assert sum(so["order_no"] in n and "TRK-123" in n for n in notes) == 1
    _settled(runner)
    status = runner.status()
    assert status.store("shop").notes["order_lifecycle"] == {"completed": 1}
    # A lost state: Katana and the store say it is done; nothing is done twice.
    runner.close()
    again = _runner(box, tmp_path, state_name="lost.sqlite")       # the state lost: a new, empty one
    assert _lifecycle(_apply(again)) == []
    assert sum(so["order_no"] in n.note for n in again.woo["shop"].orders.notes(order["id"])) == 1
    again.close()


def test_partially_delivered_changes_nothing(box, tmp_path):
    runner, order, so = imported(box, tmp_path, lines=(("MUG", 2), ("TEE", 1)))
    box.katana.fulfil_sales_order(so["id"], {"MUG": 2})
    assert box.katana.sales_order(so["id"])["status"] == "PARTIALLY_DELIVERED"
    assert _lifecycle(_apply(runner)) == []
    assert box.stores["shop"].order(order["id"])["status"] == "processing"
    runner.close()


def test_completed_in_the_store_delivers_the_sales_order_once(box, tmp_path, state_backend):
    runner, order, so = imported(box, tmp_path, lines=(("MUG", 2), ("TEE", 1)))
    box.stores["shop"].set_order_status(order["id"], "completed")
    report = _apply(runner)
    assert _lifecycle(report) == [("order.deliver", "applied")]
    assert box.katana.sales_order(so["id"])["status"] == "DELIVERED"
    assert [f["status"] for f in box.katana.fulfilments(so["id"])] == ["DELIVERED"]
    assert box.katana.inventory_of("MUG", "Main") == {"in_stock": Decimal(38), "committed": Decimal(0),
                                                      "expected": Decimal(0), "available": Decimal(38)}
    _settled(runner)
    runner.close()
    again = _runner(box, tmp_path, state_name="lost.sqlite")
    assert _lifecycle(_apply(again)) == []
    assert len(box.katana.fulfilments(so["id"])) == 1
    again.close()


def test_cancelled_with_delete_if_not_shipped_frees_the_stock_once(box, tmp_path, state_backend):
    other = box.add_store("shop-two")                          # a second store on the same location
    other.add_product("MUG", "Mug", "10.00", stock=40)
    other.add_product("TEE", "Tee", "20.00", stock=40)
    stores = {"shop": {"location": "Main", "orders": {"cancelled": "delete_if_not_shipped"}},
              "shop-two": {"location": "Main"}}
    shop = box.stores["shop"]
    order = shop.place_order([("MUG", 3)])
    runner = make_runner(box, tmp_path, stores)
    _apply(runner)
    (so,) = orders_for(box, "shop", order["id"])
    assert box.katana.inventory_of("MUG", "Main")["committed"] == Decimal(3) and other.stock_of("MUG") == 37
    shop.set_order_status(order["id"], "cancelled")             # the store puts its 3 back (cassette orders #17)
    assert shop.stock_of("MUG") == 40
    report = _apply(runner)
    assert _lifecycle(report) == [("order.delete", "applied")]
    assert box.katana.sales_order(so["id"])["deleted_at"] is not None
    assert box.katana.inventory_of("MUG", "Main")["committed"] == Decimal(0)
    assert other.stock_of("MUG") == 40 and shop.stock_of("MUG") == 40     # the freed stock pushed, in this run
    _settled(runner)
    assert runner.status().store("shop").notes["order_lifecycle"] == {"deleted": 1}
    assert runner.status().store("shop").phase == "Ready"
    runner.close()
    again = make_runner(box, tmp_path, stores, state_name="lost.sqlite")
    assert _lifecycle(_apply(again)) == [] and other.stock_of("MUG") == 40
    again.close()
