"""The lifecycle in a moving world (issue 12): while applies run, shoppers place orders, the shop
cancels and completes orders, Katana delivers sales orders, and some answers are lost on the
routes the lifecycle writes. Whatever the interleaving: a sales order is delivered once (stock
leaves once), a shipped order is never deleted, a cancelled one not shipped is deleted, a delivered
one completes its store order with exactly one note, and a last apply finds nothing left to do."""
from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

from katana_woo_sdk import sandbox

from _harness import make_runner, orders_for

SKUS = ("MUG", "TEE", "CAP")


def test_transitions_on_both_sides_during_applies_happen_once(tmp_path):
    with sandbox.start(dataset=None, katana_rate=None) as box:
        box.katana.seed({"locations": [{"name": "Main", "is_primary": True}],
                         "variants": [{"sku": s} for s in SKUS],
                         "stock": [{"sku": s, "location": "Main", "quantity": 500} for s in SKUS]})
        shop = box.add_store("shop")
        for sku in SKUS:
            shop.add_product(sku, sku.title(), "9.00", stock=500)
        rnd = random.Random(12)
        placed = [shop.place_order([(rnd.choice(SKUS), rnd.randint(1, 3))]) for _ in range(24)]
        stores = {"shop": {"location": "Main", "orders": {"cancelled": "delete_if_not_shipped"}}}
        with make_runner(box, tmp_path, stores) as runner:
            assert not runner.apply().has_failures
            sos = {o["id"]: orders_for(box, "shop", o["id"])[0] for o in placed}
            # Lost answers on the lifecycle's writes: each is found (or left owed) and never doubled.
            box.katana.server.inject_fault(method="POST", path=r"/sales_order_fulfillments$", status=502, after=True)
            box.katana.server.inject_fault(method="DELETE", path=r"/sales_orders/\d+$", status=503, times=1)
            shop.server.inject_fault(method="POST", path=r"/orders/\d+/notes$", status=500, times=1)
            events = list(placed)
            rnd.shuffle(events)

            def world():
                for order in events:
                    so = sos[order["id"]]
                    roll = rnd.random()
                    if roll < 0.3:
                        box.katana.deliver_sales_order(so["id"])
                    elif roll < 0.55:
                        shop.set_order_status(order["id"], "completed")
                    elif roll < 0.75:
                        shop.set_order_status(order["id"], "cancelled")
                    elif roll < 0.85:                     # shipped, then cancelled by the shop: never touched
                        box.katana.deliver_sales_order(so["id"])
                        shop.set_order_status(order["id"], "cancelled")
                    if rnd.random() < 0.3:
                        shop.place_order([(rnd.choice(SKUS), 1)])
                    time.sleep(0.005)

            seen: list[tuple[str, str]] = []
            for _ in range(2):                            # the world moves while two applies run
                thread = threading.Thread(target=world)
                thread.start()
                seen += [(r.action.kind, r.outcome) for r in runner.apply().results]
                thread.join()
                events = []
            for _ in range(4):                            # then it settles
                time.sleep(1.1)
                report = runner.apply()
                assert not report.has_failures, str(report)
                seen += [(r.action.kind, r.outcome) for r in report.results]
                if not [r for r in report.results if r.action.kind.startswith("order.") and r.action.kind not in
                        ("order.import",)]:
                    break
            final = runner.apply()
            assert [r for r in final.results if r.action.kind.startswith("order.")] == [], str(final)

            delivered_units = {s: Decimal(0) for s in SKUS}
            for order in placed:
                so = box.katana.sales_order(sos[order["id"]]["id"])
                woo = shop.order(order["id"])
                fulfilled = box.katana.fulfilments(so["id"])
                if so["status"] == "DELIVERED":
                    assert so["deleted_at"] is None, "a shipped order was deleted"
                    assert len([f for f in fulfilled if f["status"] == "DELIVERED"]) == 1, so["order_no"]
                    for row in so["sales_order_rows"]:
                        delivered_units[box.katana.variant(row["variant_id"])["sku"]] += Decimal(row["quantity"])
                    if woo["status"] != "cancelled":
                        assert woo["status"] == "completed", (order["id"], woo["status"])
                        notes = [n.note for n in runner.woo["shop"].orders.notes(order["id"])]
                        assert sum(so["order_no"] in n for n in notes) <= 1
                elif woo["status"] == "cancelled":
                    assert so["deleted_at"] is not None, f"{so['order_no']}: cancelled, not shipped, not deleted"
                else:
                    assert so["status"] == "NOT_SHIPPED" and woo["status"] == "processing"
            # The world did move under the applies: each kind of transition happened, some on a fault.
            kinds = {kind for kind, outcome in seen if outcome in ("applied", "replanned")}
            assert {"order.deliver", "order.complete_in_store", "order.delete"} <= kinds, seen
            for sku in SKUS:                              # stock left Katana exactly once per delivered unit
                assert box.katana.inventory_of(sku, "Main")["in_stock"] == Decimal(500) - delivered_units[sku]
