"""The lifecycle pays for what changed, not for what was imported (issue 12 acceptance): a no-change
run with 5,000 imported orders makes no more lifecycle reads than one with 50, because both sides
are read since a watermark (the store's walk since the order cursor, Katana's sales orders since
the lifecycle's watermark) and nothing is read per imported order.

The history is made directly in the emulators, a month ago (3 in 5 orders open with their sales
orders not shipped, the rest completed and delivered), and the ledger says they were imported; a
first apply (full) and a second one (reading back what the first wrote) come before the run that
is measured."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from katana_woo_sdk import sandbox
from katana_woo_sdk.state import LedgerEntry

from _harness import make_runner

EMULATOR_SCHEMA_CHECK = False     # pages of 250 sales orders: the spec check would cost half a minute
SKUS = [f"SKU-{i}" for i in range(10)]
MONTH_AGO = datetime.now(timezone.utc) - timedelta(days=30)


def _steady_calls(tmp_path, n: int, monkeypatch) -> dict[str, int]:
    tmp_path.mkdir()
    with sandbox.start(dataset=None, katana_rate=None) as box:
        box.katana.seed({"locations": [{"name": "Main", "is_primary": True}],
                         "variants": [{"sku": s} for s in SKUS],
                         "stock": [{"sku": s, "location": "Main", "quantity": 100000} for s in SKUS]})
        customer = box.katana.add_customer("Sandy Box", email="sandy@example.com")["id"]
        shop = box.add_store("shop")
        for sku in SKUS:
            shop.add_product(sku, sku, "5.00", stock=100000)
        host = shop.url.split("://", 1)[1]
        box.katana.set_clock(lambda: MONTH_AGO.timestamp())
        # The emulator's self-check recounts every order's commitment on each read: quadratic while
        # thousands of orders are made one by one. It is back on for the runs below.
        monkeypatch.setenv("KATANA_WOO_SANDBOX_SELFCHECK", "0")
        imported = []
        for i in range(n):
            sku = SKUS[i % len(SKUS)]
            done = i % 5 >= 3
            order = shop.place_order([(sku, 1)], status="completed" if done else "processing", created_at=MONTH_AGO)
            so = box.katana.create_sales_order({
                "order_no": f"WC-shop-{order['number']}", "customer_id": customer, "ecommerce_order_type": "wooCommerce",
                "ecommerce_store_name": host, "ecommerce_order_id": str(order["id"]),
                "sales_order_rows": [{"variant_id": box.katana.variant(sku)["id"], "quantity": 1}]})
            if done:
                box.katana.deliver_sales_order(so["id"])
            imported.append((order, so, sku))
        box.katana.set_clock()
        monkeypatch.setenv("KATANA_WOO_SANDBOX_SELFCHECK", "1")
        with make_runner(box, tmp_path, {"shop": {"location": "Main"}}) as runner:
            for order, so, sku in imported:
                runner.state.ledger_put(LedgerEntry("shop", order["id"], order["number"], "imported",
                                                    sales_order_id=so["id"], order_no=so["order_no"],
                                                    location_id=so["location_id"], lines_qty={sku: 1}))
            first = runner.apply()
            assert not first.has_failures and "full run" in first.messages[0], str(first)
            time.sleep(1.1)            # the store's modified_after is to the second
            settle = runner.apply()
            assert not settle.has_failures, str(settle)
            steady = runner.apply()
            assert not steady.has_failures and "incremental run" in steady.messages[0], str(steady)
            assert [r for r in steady.results if r.action.kind != "mapping"] == [], str(steady)
            return dict(steady.calls)


def test_a_no_change_run_reads_as_much_with_5000_imported_orders_as_with_50(tmp_path, monkeypatch):
    small = _steady_calls(tmp_path / "small", 50, monkeypatch)
    large = _steady_calls(tmp_path / "large", 5000, monkeypatch)
    assert large == small
    # Katana: the stock's changes (movements, sales orders) and the lifecycle's sales orders changed
    # since its watermark: one listing each, whatever was imported. WooCommerce: the store's orders
    # changed since the cursor (the lifecycle reads that walk, no call of its own) and its products.
    assert large == {"katana GET /locations": 1, "katana GET /inventory_movements": 1, "katana GET /sales_orders": 2,
                     "woocommerce GET /orders": 1, "woocommerce GET /products": 1}
