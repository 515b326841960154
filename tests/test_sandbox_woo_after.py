"""The WooCommerce emulator after checkout (`sandbox._woo_after`): refunds and line edits as wp-admin
makes them, and a cancellation putting stock back (cassette `orders` #17). Answers are read over
REST and checked against the store's OpenAPI schema (`_woo_schema.watch`)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from requests_oauthlib import OAuth1

from _woo_schema import try_watch
from katana_woo_sdk.sandbox.woo_emulator import WooEmulator

KEY, SECRET = "ck_after_key", "cs_after_secret"
T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    shop = WooEmulator("after", consumer_key=KEY, consumer_secret=SECRET, clock=clock)
    failures = try_watch(shop) or []
    shop.start()
    shop.add_product("MUG", "Mug", "10.00", stock=10)
    shop.add_product("TEE", "Tee", "20.00", stock=10)
    yield shop
    shop.stop()
    assert not failures, "answers outside the OpenAPI schema:\n" + "\n".join(failures)


def _get(store, order_id):
    r = requests.get(f"{store.api_url}/orders/{order_id}", auth=OAuth1(KEY, client_secret=SECRET,
                                                                        signature_method="HMAC-SHA256",
                                                                        signature_type="query"), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_partial_refund_with_restock_and_then_the_rest(store, clock):
    order = store.place_order([("MUG", 3), ("TEE", 1)], status="processing")
    assert store.stock_of("MUG") == 7
    clock.now += timedelta(minutes=1)
    refund = store.refund_order(order["id"], lines={"MUG": 1}, restock=True, reason="chipped")
    seen = _get(store, order["id"])
    assert refund["total"] == "-10.00" and seen["status"] == "processing"
    assert seen["refunds"] == [{"id": refund["id"], "reason": "chipped", "total": "-10.00"}]
    assert seen["date_modified_gmt"] == (T0 + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert store.stock_of("MUG") == 8
    # Refunding what is left makes the order refunded (no stock back without restock).
    store.refund_order(order["id"])
    seen = _get(store, order["id"])
    assert seen["status"] == "refunded" and sum(float(r["total"]) for r in seen["refunds"]) == -float(seen["total"])
    assert store.stock_of("MUG") == 8 and store.stock_of("TEE") == 9


def test_line_edits_move_stock_and_totals_like_wp_admin(store, clock):
    order = store.place_order([("MUG", 3), ("TEE", 1)], status="processing")
    clock.now += timedelta(minutes=2)
    edited = store.edit_order(order["id"], {"MUG": 1, "TEE": 0})
    assert [(li["sku"], li["quantity"]) for li in edited["line_items"]] == [("MUG", 1)]
    assert edited["total"] == "10.00" and store.stock_of("MUG") == 9 and store.stock_of("TEE") == 10
    added = store.edit_order(order["id"], {"TEE": 2})
    assert [(li["sku"], li["quantity"]) for li in added["line_items"]] == [("MUG", 1), ("TEE", 2)]
    assert added["total"] == "50.00" and store.stock_of("TEE") == 8
    assert any("Adjusted stock" in n["note"] for n in requests.get(
        f"{store.api_url}/orders/{order['id']}/notes",
        auth=OAuth1(KEY, client_secret=SECRET, signature_method="HMAC-SHA256", signature_type="query"),
        timeout=10).json())
    # Cancelling puts back what the order still holds (cassette orders #17: "Stock levels increased").
    store.set_order_status(order["id"], "cancelled")
    assert store.stock_of("MUG") == 10 and store.stock_of("TEE") == 10


def test_a_pending_order_edited_moves_no_stock(store):
    order = store.place_order([("MUG", 2)], status="pending")
    store.edit_order(order["id"], {"MUG": 5})
    assert store.stock_of("MUG") == 10 and _get(store, order["id"])["line_items"][0]["quantity"] == 5
