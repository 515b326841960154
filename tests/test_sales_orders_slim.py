"""Sales orders read slim (a long order history kept for the run without its payloads), and the
stock's change read sharing the lifecycle's listing of changed sales orders
(`RunContext.sales_orders_changed_now`): what it answers is what a listing made at that moment
would answer, and a history delivered since the last run is not listed twice."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from katana_woo_sdk.engines.context import RunContext
from katana_woo_sdk.models import EMPTY, SalesOrder

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def payload(so_id: int, updated: datetime, *, status: str = "NOT_SHIPPED", fee: Any = None) -> dict[str, Any]:
    return {"id": so_id, "order_no": f"WC-{so_id}", "customer_id": 7, "location_id": 3, "status": status,
            "ecommerce_order_type": "wooCommerce", "ecommerce_store_name": "shop.example",
            "ecommerce_order_id": str(1000 + so_id), "additional_info": "WooCommerce order", "shipping_fee": fee,
            "addresses": [{"id": 1, "line_1": "Somewhere 1"}], "total": "10.00",
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": updated.isoformat().replace("+00:00", "Z"),
            "deleted_at": None,
            "sales_order_rows": [{"id": so_id * 10, "variant_id": 5, "quantity": "2.00000", "location_id": 3,
                                  "price_per_unit": "5.00", "total": "10.00", "tax_rate_id": None}]}


def test_a_slim_sales_order_keeps_what_the_engines_read_and_equals_the_full_one():
    p = payload(1, T0 + timedelta(hours=1))
    full, slim = SalesOrder.from_api(p), SalesOrder.from_api(p, slim=True)
    assert slim == full
    for name in ("id", "order_no", "customer_id", "location_id", "status", "ecommerce_order_type",
                 "ecommerce_store_name", "ecommerce_order_id", "deleted_at", "created_at", "updated_at"):
        assert getattr(slim, name) == getattr(full, name), name
    assert slim.updated_at == T0 + timedelta(hours=1) and slim.created_at == T0
    assert slim.raw is EMPTY and slim.rows[0].raw is EMPTY
    assert (slim.rows[0].id, slim.rows[0].variant_id, slim.rows[0].quantity, slim.rows[0].location_id) == \
        (10, 5, Decimal(2), 3)
    assert full.raw["additional_info"] == "WooCommerce order" and full.rows[0].raw["total"] == "10.00"
    # Whether a shipping fee was added (`engines.orders._lacks_fee`) is kept.
    with_fee = SalesOrder.from_api(payload(2, T0, fee={"id": 9, "amount": "4.90"}), slim=True)
    assert with_fee.raw == {"shipping_fee": {"id": 9, "amount": "4.90"}}
    # A copy with another `.raw` (what `engines.orders` remembers after adding a fee) keeps the times.
    assert replace(slim, raw={**slim.raw, "shipping_fee": {"amount": "1"}}).updated_at == slim.updated_at


def test_a_sales_order_made_by_hand_still_reads_its_times_from_raw():
    so = SalesOrder(1, "WC-1", 7, 3, "NOT_SHIPPED", raw={"updated_at": "2026-01-01T00:00:00Z"})
    assert so.updated_at == T0 and so.created_at is None


class _Orders:
    """`katana.sales_orders` as the context uses it: answers from a table changed by the test, each
    listing recorded with the time it started from."""

    def __init__(self) -> None:
        self.table: dict[int, dict[str, Any]] = {}
        self.listings: list[datetime | None] = []

    def iter(self, *, updated_after: datetime | None = None, include_deleted: bool = False,
             slim: bool = False, **_: Any) -> Any:
        assert include_deleted and slim
        self.listings.append(updated_after)
        return iter([SalesOrder.from_api(p, slim=True) for p in self.table.values()
                     if updated_after is None or datetime.fromisoformat(p["updated_at"].replace("Z", "+00:00"))
                     >= updated_after])

    def list(self, **kw: Any) -> list[SalesOrder]:
        return list(self.iter(**kw))


class _Katana:
    def __init__(self) -> None:
        self.sales_orders = _Orders()


def _context() -> tuple[RunContext, _Orders]:
    katana = _Katana()
    ctx = RunContext(None, katana, {}, None)  # type: ignore[arg-type]   # only Katana is read here
    return ctx, katana.sales_orders


def _versions(orders: list[SalesOrder]) -> dict[int, tuple[str, datetime | None]]:
    return {so.id: (so.status, so.updated_at) for so in orders}


def test_the_stock_read_reuses_the_lifecycle_listing_and_sees_what_changed_after_it():
    ctx, orders = _context()
    for i in range(1, 6):
        orders.table[i] = payload(i, T0 + timedelta(minutes=i))
    lifecycle = ctx.sales_orders_changed(T0)
    assert len(lifecycle) == 5 and orders.listings == [T0]
    # Between the lifecycle's read and the stock's: one order delivered (this run's own write, or
    # anybody's), one new order created.
    orders.table[2] = payload(2, T0 + timedelta(minutes=10), status="DELIVERED")
    orders.table[6] = payload(6, T0 + timedelta(minutes=11))
    now = ctx.sales_orders_changed_now(T0)
    # One more listing, from the newest change the lifecycle's read saw (inclusive), not from T0.
    assert orders.listings == [T0, T0 + timedelta(minutes=5)]
    assert _versions(now) == _versions(orders.list(updated_after=T0, include_deleted=True, slim=True))
    assert _versions(now)[2] == ("DELIVERED", T0 + timedelta(minutes=10))


def test_the_stock_read_from_a_later_watermark_keeps_only_the_orders_changed_since_it():
    ctx, orders = _context()
    for i in range(1, 6):
        orders.table[i] = payload(i, T0 + timedelta(minutes=i))
    ctx.sales_orders_changed(T0)
    later = T0 + timedelta(minutes=3)
    now = ctx.sales_orders_changed_now(later)
    assert sorted(so.id for so in now) == [3, 4, 5]
    assert orders.listings == [T0, T0 + timedelta(minutes=5)]


def test_without_a_listing_from_at_or_before_its_watermark_the_stock_read_lists_its_own():
    ctx, orders = _context()
    for i in range(1, 4):
        orders.table[i] = payload(i, T0 + timedelta(minutes=i))
    assert len(ctx.sales_orders_changed_now(T0)) == 3 and orders.listings == [T0]     # no lifecycle read
    ctx.sales_orders_changed(T0 + timedelta(minutes=2))                             # from after it
    assert len(ctx.sales_orders_changed_now(T0)) == 3 and orders.listings[-1] == T0
    empty_ctx, empty = _context()
    empty_ctx.sales_orders_changed(T0)                                               # nothing changed then
    empty.table[1] = payload(1, T0 + timedelta(minutes=1))
    assert [so.id for so in empty_ctx.sales_orders_changed_now(T0)] == [1] and empty.listings == [T0, T0]


def test_a_history_delivered_since_the_last_run_is_listed_once_not_twice(tmp_path, monkeypatch):
    """600 imported orders (the state lost: the first run adopts them), then every one completed in
    the store and delivered in Katana: the run after reads the account's changed sales orders once
    for the lifecycle (three pages of 250) and, for the stock's change read, only what changed after
    that listing (one page), not the three pages again. No sales order is created by either run."""
    from katana_woo_sdk import sandbox
    from _harness import make_runner

    n = 600
    monkeypatch.setenv("KATANA_WOO_SANDBOX_SELFCHECK", "0")   # it recounts every order on each read
    with sandbox.start(dataset=None, katana_rate=None) as box:
        box.katana.seed({"locations": [{"name": "Main", "is_primary": True}], "variants": [{"sku": "S-1"}],
                         "stock": [{"sku": "S-1", "location": "Main", "quantity": 10 * n}]})
        customer = box.katana.add_customer("Sandy Box", email="sandy@example.com")["id"]
        shop = box.add_store("shop")
        shop.add_product("S-1", "S-1", "5.00", stock=10 * n)
        host = shop.url.split("://", 1)[1]
        variant = box.katana.variant("S-1")["id"]
        made = []
        for _ in range(n):
            order = shop.place_order([("S-1", 1)], billing={"first_name": "Sandy", "last_name": "Box",
                                                           "email": "sandy@example.com"})
            so = box.katana.create_sales_order({
                "order_no": f"WC-shop-{order['number']}", "customer_id": customer, "ecommerce_order_type": "wooCommerce",
                "ecommerce_store_name": host, "ecommerce_order_id": str(order["id"]),
                "sales_order_rows": [{"variant_id": variant, "quantity": 1, "price_per_unit": 5}]})
            made.append((order["id"], so["id"]))
        with make_runner(box, tmp_path, {"shop": {"location": "Main"}}) as runner:
            adopt = runner.apply()
            assert not adopt.has_failures and "full run" in adopt.messages[0], str(adopt)
            assert adopt.calls.get("katana POST /sales_orders", 0) == 0
            time.sleep(1.1)                      # the store's modified_after is to the second
            for order_id, so_id in made:
                shop.set_order_status(order_id, "completed")
                box.katana.deliver_sales_order(so_id)
            shipped = runner.apply()
            assert not shipped.has_failures and "incremental run" in shipped.messages[0], str(shipped)
            assert shipped.calls.get("katana POST /sales_orders", 0) == 0
            assert shipped.calls["katana GET /sales_orders"] == 3 + 1, dict(shipped.calls)
            assert len(box.katana.sales_orders(include_deleted=True)) == n
