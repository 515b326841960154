"""The policies for what happens after the import (issue 12), on the sandbox: a cancelled order under
`report` (attention in plan, report and status until a person acts) and a shipped one under either
policy (never touched); refunds after delivery and partial ones (reported only); edits before and
after shipping, reported or applied to the rows. Each change is applied, then applied again: the
second run changes nothing."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from _lifecycle_world import imported, lifecycle_world


@pytest.fixture
def box():
    with lifecycle_world(("MUG", "TEE", "CAP")) as sb:
        yield sb


def _imported(box, tmp_path, lines=(("MUG", 2), ("TEE", 1)), **orders):
    return imported(box, tmp_path, lines, **orders)


def _apply(runner):
    report = runner.apply()
    assert not report.has_failures, str(report)
    return report


def _lifecycle(report):
    return [(r.action.kind, r.outcome) for r in report.results
            if r.action.kind in ("order.deliver", "order.complete_in_store", "order.delete", "order.update_rows")]


def _looks(report_or_plan, store="shop"):
    return [(a.kind, a.woo_order_id) for a in report_or_plan.store(store).attention]


def test_a_cancelled_order_is_reported_while_its_sales_order_commits_stock(box, tmp_path):
    runner, order, so = _imported(box, tmp_path)
    box.stores["shop"].set_order_status(order["id"], "cancelled")
    plan = runner.plan()
    assert _looks(plan) == [("cancelled_after_import", order["id"])]
    (item,) = plan.store("shop").attention
    assert so["order_no"] in item.detail and "MUG x 2" in item.detail and "TEE x 1" in item.detail
    assert "to look at" in plan.to_markdown() and so["order_no"] in plan.to_markdown()
    report = _apply(runner)
    assert _lifecycle(report) == [] and _looks(report) == [("cancelled_after_import", order["id"])]
    assert "1 order to look at" in str(report)
    # What the report names: the store put the units back, Katana still commits them, so the push
    # holds them back (38 and 39 of 40) until a person deletes the sales order.
    assert box.stores["shop"].stock_of("MUG") == 38 and box.stores["shop"].stock_of("TEE") == 39
    status = runner.status()
    assert status.store("shop").phase == "Degraded" and _looks(status) == [("cancelled_after_import", order["id"])]
    assert json.loads(json.dumps(status.to_dict()))["stores"][0]["attention"][0]["order_no"] == so["order_no"]
    assert box.katana.sales_order(so["id"])["deleted_at"] is None       # reported, never deleted
    time.sleep(1.1)
    again = _apply(runner)                                                # nothing new: still reported
    assert _lifecycle(again) == [] and _looks(again) == [("cancelled_after_import", order["id"])]
    # A person deletes the sales order in Katana: the next run sees it, and the store is Ready again.
    box.katana.delete_sales_order(so["id"])
    done = _apply(runner)
    assert _looks(done) == [] and runner.status().store("shop").phase == "Ready"
    assert box.stores["shop"].stock_of("MUG") == 40                     # freed, and pushed
    assert runner.status().store("shop").notes["order_lifecycle"] == {"deleted": 1}
    runner.close()


@pytest.mark.parametrize("policy", ["report", "delete_if_not_shipped"])
def test_a_shipped_order_cancelled_in_the_store_is_never_touched_only_reported(box, tmp_path, policy):
    runner, order, so = _imported(box, tmp_path, cancelled=policy)
    box.katana.fulfil_sales_order(so["id"], status="PACKED")
    box.stores["shop"].set_order_status(order["id"], "cancelled")
    report = _apply(runner)
    assert _lifecycle(report) == [] and _looks(report) == [("cancelled_after_shipping", order["id"])]
    assert box.katana.sales_order(so["id"])["status"] == "PACKED" and box.katana.sales_order(so["id"])["deleted_at"] \
        is None
    time.sleep(1.1)
    again = _apply(runner)
    assert _lifecycle(again) == [] and _looks(again) == []                # told once, kept in the order's story
    assert runner.state.lifecycle_get("shop", order["id"]).state == "cancelled"
    runner.close()


def test_refunds_are_reported_and_change_nothing_in_katana(box, tmp_path):
    runner, order, so = _imported(box, tmp_path)
    shop = box.stores["shop"]
    shop.refund_order(order["id"], lines={"TEE": 1}, reason="torn")      # a partial refund: reported
    report = _apply(runner)
    assert _looks(report) == [("partially_refunded", order["id"])] and _lifecycle(report) == []
    assert "20" in report.store("shop").attention[0].detail
    time.sleep(1.1)
    assert _looks(_apply(runner)) == []
    # Delivered, completed, then refunded in full: reported only, the delivered order is not touched.
    box.katana.fulfil_sales_order(so["id"])
    assert _lifecycle(_apply(runner)) == [("order.complete_in_store", "applied")]
    shop.refund_order(order["id"])
    report = _apply(runner)
    assert _looks(report) == [("refunded_after_delivery", order["id"])] and _lifecycle(report) == []
    assert box.katana.sales_order(so["id"])["status"] == "DELIVERED"
    time.sleep(1.1)
    assert _looks(_apply(runner)) == [] and runner.state.lifecycle_get("shop", order["id"]).state == "cancelled"
    runner.close()


def test_an_edit_before_shipping_is_reported_as_drift_by_default(box, tmp_path):
    runner, order, so = _imported(box, tmp_path)
    box.stores["shop"].edit_order(order["id"], {"MUG": 1, "CAP": 2})
    report = _apply(runner)
    assert _lifecycle(report) == [] and _looks(report) == [("edited_after_import", order["id"])]
    detail = report.store("shop").attention[0].detail
    assert "MUG 2 -> 1" in detail and "CAP 0 -> 2" in detail and "update_rows" in detail
    assert [r["quantity"] for r in box.katana.sales_order(so["id"])["sales_order_rows"]] == [2, 1]
    time.sleep(1.1)
    assert _looks(_apply(runner)) == [("edited_after_import", order["id"])]       # still true: still shown
    runner.close()


def test_an_edit_before_shipping_updates_the_rows_with_update_rows_and_not_after_shipping(box, tmp_path):
    runner, order, so = _imported(box, tmp_path, edits="update_rows")
    shop = box.stores["shop"]
    shop.edit_order(order["id"], {"MUG": 1, "TEE": 0, "CAP": 2})
    report = _apply(runner)
    assert _lifecycle(report) == [("order.update_rows", "applied")] and _looks(report) == []
    rows = {box.katana.variant(r["variant_id"])["sku"]: r["quantity"]
            for r in box.katana.sales_order(so["id"])["sales_order_rows"]}
    assert rows == {"MUG": 1, "CAP": 2}
    committed = {s: box.katana.inventory_of(s, "Main")["committed"] for s in ("MUG", "TEE", "CAP")}
    assert committed == {"MUG": Decimal(1), "TEE": Decimal(0), "CAP": Decimal(2)}
    assert runner.state.ledger_get("shop", order["id"]).lines_qty == {"MUG": Decimal(1), "CAP": Decimal(2)}
    time.sleep(1.1)
    assert _lifecycle(_apply(runner)) == []
    # After shipping an edit is reported once and the rows stay as shipped.
    box.katana.fulfil_sales_order(so["id"])
    _apply(runner)                                                         # completes the order in the store
    shop.edit_order(order["id"], {"MUG": 3})
    report = _apply(runner)
    assert _lifecycle(report) == [] and _looks(report) == [("edited_after_shipping", order["id"])]
    assert {r["quantity"] for r in box.katana.sales_order(so["id"])["sales_order_rows"]} == {1, 2}
    time.sleep(1.1)
    again = _apply(runner)                                                 # told once: nothing the second time
    assert _lifecycle(again) == [] and _looks(again) == []
    assert {r["quantity"] for r in box.katana.sales_order(so["id"])["sales_order_rows"]} == {1, 2}
    runner.close()
