"""The lifecycle's writes when an answer is lost or the world moves under the apply (issue 12),
deterministically: a `POST /sales_order_fulfillments` or `POST /products` that fails with a 5xx or
a dropped connection is never re-sent blind (the sales order, or the SKU, is looked up first); an
order cancelled in the store, shipped in Katana or edited again between the plan's read and the
action's write is never acted on as it was planned."""
from __future__ import annotations

import time

import pytest

from katana_woo_sdk.engines import fulfilment

from _harness import make_runner, orders_for
from _lifecycle_world import imported, lifecycle_world

FULFIL = r"/sales_order_fulfillments$"


@pytest.fixture
def box():
    with lifecycle_world() as sb:
        yield sb


def _lifecycle(report):
    return [(r.action.kind, r.outcome) for r in report.results
            if r.action.kind in ("order.deliver", "order.complete_in_store", "order.delete", "order.update_rows")]


@pytest.mark.parametrize("fault", [{"status": 502}, {"drop": True}], ids=["502", "dropped"])
def test_a_fulfilment_whose_answer_is_lost_is_looked_up_not_sent_again(box, tmp_path, fault):
    runner, order, so = imported(box, tmp_path)
    box.stores["shop"].set_order_status(order["id"], "completed")
    box.katana.server.inject_fault(method="POST", path=FULFIL, after=True, **fault)
    report = runner.apply()
    assert not report.has_failures and _lifecycle(report) == [("order.deliver", "applied")], str(report)
    assert box.katana.server.count("POST", FULFIL) == 1
    assert box.katana.sales_order(so["id"])["status"] == "DELIVERED" and len(box.katana.fulfilments(so["id"])) == 1
    time.sleep(1.1)
    assert _lifecycle(runner.apply()) == []
    runner.close()


def test_a_fulfilment_lost_before_katana_saw_it_stays_owed_and_the_next_run_delivers_once(box, tmp_path):
    runner, order, so = imported(box, tmp_path)
    box.stores["shop"].set_order_status(order["id"], "completed")
    box.katana.server.inject_fault(method="POST", path=FULFIL, status=503, times=1)
    report = runner.apply()
    assert _lifecycle(report) == [("order.deliver", "failed")]
    (failed,) = [r for r in report.results if r.action.kind == "order.deliver"]
    assert failed.result.error == "DeliveryUnconfirmed" and "not sent again" in failed.message
    assert box.katana.server.count("POST", FULFIL) == 1                      # never twice in a run
    assert box.katana.sales_order(so["id"])["status"] == "NOT_SHIPPED"
    assert runner.state.lifecycle_get("shop", order["id"]).pending == "order.deliver"
    later = runner.apply()                                                   # the owed action, without a new change
    assert _lifecycle(later) == [("order.deliver", "applied")], str(later)
    assert len(box.katana.fulfilments(so["id"])) == 1 and box.katana.sales_order(so["id"])["status"] == "DELIVERED"
    time.sleep(1.1)
    assert _lifecycle(runner.apply()) == []
    runner.close()


def _before(monkeypatch, kind, world):
    """Let `world` move right before the runner writes an action of `kind` (after the plan's reads)."""
    original = fulfilment.apply_lifecycle

    def wrapped(ctx, store, action):
        if action.kind == kind:
            world(action)
        return original(ctx, store, action)

    monkeypatch.setattr(fulfilment, "apply_lifecycle", wrapped)


def test_an_order_shipped_in_katana_during_the_apply_is_not_deleted(box, tmp_path, monkeypatch):
    runner, order, so = imported(box, tmp_path, cancelled="delete_if_not_shipped")
    box.stores["shop"].set_order_status(order["id"], "cancelled")
    _before(monkeypatch, "order.delete", lambda action: box.katana.deliver_sales_order(so["id"]))
    report = runner.apply()
    assert _lifecycle(report) == [("order.delete", "failed")]
    (refused,) = [r for r in report.results if r.action.kind == "order.delete"]
    assert "DELIVERED now: a shipped order is not deleted" in refused.message
    assert box.katana.sales_order(so["id"])["deleted_at"] is None
    assert box.katana.sales_order(so["id"])["status"] == "DELIVERED"
    monkeypatch.undo()
    time.sleep(1.1)
    after = runner.apply()                          # now it is a shipped order: reported, never touched
    assert not after.has_failures and _lifecycle(after) == [], str(after)
    assert [a.kind for a in after.store("shop").attention] == ["cancelled_after_shipping"]
    assert box.katana.sales_order(so["id"])["deleted_at"] is None
    time.sleep(1.1)
    assert _lifecycle(runner.apply()) == []
    runner.close()


def test_an_order_cancelled_in_the_store_during_the_apply_is_not_completed(box, tmp_path, monkeypatch):
    runner, order, so = imported(box, tmp_path)
    box.katana.deliver_sales_order(so["id"])
    shop = box.stores["shop"]
    _before(monkeypatch, "order.complete_in_store", lambda action: shop.set_order_status(order["id"], "cancelled"))
    report = runner.apply()
    assert not report.has_failures, str(report)
    assert shop.order(order["id"])["status"] == "cancelled"                  # never completed over it
    assert not any(so["order_no"] in n.note for n in runner.woo["shop"].orders.notes(order["id"]))
    monkeypatch.undo()
    time.sleep(1.1)
    after = runner.apply()
    assert _lifecycle(after) == [] and [a.kind for a in after.store("shop").attention] == \
        ["cancelled_after_shipping"]
    time.sleep(1.1)
    again = runner.apply()
    assert _lifecycle(again) == [] and again.store("shop").attention == ()
    runner.close()


def test_an_order_edited_again_during_the_apply_ends_with_the_rows_of_its_last_edit(box, tmp_path, monkeypatch):
    runner, order, so = imported(box, tmp_path, lines=(("MUG", 2), ("TEE", 1)), edits="update_rows")
    shop = box.stores["shop"]
    shop.edit_order(order["id"], {"MUG": 1})
    _before(monkeypatch, "order.update_rows", lambda action: shop.edit_order(order["id"], {"MUG": 4, "TEE": 0}))
    first = runner.apply()
    assert not first.has_failures and _lifecycle(first) == [("order.update_rows", "applied")], str(first)
    monkeypatch.undo()
    time.sleep(1.1)
    second = runner.apply()                         # the second edit is a change of its own: followed too
    assert not second.has_failures and _lifecycle(second) == [("order.update_rows", "applied")], str(second)
    rows = {box.katana.variant(r["variant_id"])["sku"]: r["quantity"]
            for r in box.katana.sales_order(so["id"])["sales_order_rows"]}
    assert rows == {"MUG": 4}
    time.sleep(1.1)
    assert _lifecycle(runner.apply()) == []
    runner.close()


def test_a_saved_plan_carries_every_lifecycle_action_through_its_file(box, tmp_path):
    """`plan --out plan.json`, then `apply CONFIG plan.json`: each kind of action after the import
    survives the file (typed payloads back from JSON) and is applied as planned, once."""
    from katana_woo_sdk.plan import Plan

    shop = box.stores["shop"]
    shop.add_product("LAMP-NEW", "Desk lamp", "35.00", stock=10)
    orders = [shop.place_order([("MUG", 1), ("TEE", 1)]) for _ in range(4)]
    stores = {"shop": {"location": "Main", "orders": {"cancelled": "delete_if_not_shipped", "edits": "update_rows",
                                                     "unknown_sku": "create_product"}}}
    runner = make_runner(box, tmp_path, stores)
    assert not runner.apply().has_failures
    sos = [orders_for(box, "shop", o["id"])[0] for o in orders]
    shop.set_order_status(orders[0]["id"], "cancelled")              # -> order.delete
    shop.set_order_status(orders[1]["id"], "completed")              # -> order.deliver
    box.katana.deliver_sales_order(sos[2]["id"])                     # -> order.complete_in_store
    shop.edit_order(orders[3]["id"], {"MUG": 3, "TEE": 0})           # -> order.update_rows
    new = shop.place_order([("LAMP-NEW", 1)])                        # -> product.create, order.import
    saved = Plan.load(runner.plan().save(tmp_path / "plan.json"))
    kinds = sorted(a.kind for a in saved.store("shop").actions if a.kind != "stock.push")
    assert kinds == ["order.complete_in_store", "order.delete", "order.deliver", "order.import", "order.update_rows",
                     "product.create"]
    report = runner.apply(saved)
    assert not report.has_failures, str(report)
    assert sorted((r.action.kind, r.outcome) for r in report.results if r.action.kind != "stock.push") == \
        [(k, "applied") for k in kinds]
    assert box.katana.sales_order(sos[0]["id"])["deleted_at"] is not None
    assert box.katana.sales_order(sos[1]["id"])["status"] == "DELIVERED"
    assert shop.order(orders[2]["id"])["status"] == "completed"
    assert [r["quantity"] for r in box.katana.sales_order(sos[3]["id"])["sales_order_rows"]] == [3]
    assert len(orders_for(box, "shop", new["id"])) == 1
    time.sleep(1.1)
    again = runner.apply()
    assert not again.has_failures and _lifecycle(again) == [], str(again)
    runner.close()


def test_a_completion_whose_note_fails_stands_and_says_so(box, tmp_path):
    runner, order, so = imported(box, tmp_path)
    box.katana.deliver_sales_order(so["id"])
    shop = box.stores["shop"]
    shop.server.inject_fault(method="POST", path=r"/orders/\d+/notes$", status=500, times=1)
    report = runner.apply()
    assert _lifecycle(report) == [("order.complete_in_store", "applied")], str(report)
    assert shop.order(order["id"])["status"] == "completed"
    assert any("order note not added" in w for w in report.store("shop").warnings), str(report)
    time.sleep(1.1)
    assert _lifecycle(runner.apply()) == []                       # the completion is not repeated for its note
    runner.close()
