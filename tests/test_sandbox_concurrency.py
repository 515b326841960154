"""The emulators under concurrent use: a shopper thread calls the admin API while a client works
over HTTP, as `katana-woo` runs against a sandbox whose shoppers keep buying.

Each emulator holds one lock that every admin method and every REST request takes, so each call is
atomic. These tests hammer both paths at once and check the books afterwards: every order reduced
exactly its own quantities, once, every stock push landed exactly once, and nothing raised. The
amounts are deterministic (a seeded Random); only the interleaving varies from run to run.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
import requests
from requests_oauthlib import OAuth1

from _woo_schema import try_watch
from katana_woo_sdk.sandbox.katana_emulator import KatanaEmulator
from katana_woo_sdk.sandbox.woo_emulator import WooEmulator

KEY, SECRET = "ck_sandbox_busy_key", "cs_sandbox_busy_secret"
ORDERS = 80
REDUCED_STATUSES = ("processing", "on-hold", "completed")


def _run(*targets) -> list[BaseException]:
    """Run each target in its own thread; the exceptions any of them raised."""
    errors: list[BaseException] = []

    def guarded(target):
        def run():
            try:
                target()
            except BaseException as exc:   # noqa: BLE001 - reported to the test, not swallowed
                errors.append(exc)
        return run
    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a thread hung (deadlock?)"
    return errors


@pytest.fixture
def store():
    store = WooEmulator("shop-busy", consumer_key=KEY, consumer_secret=SECRET)
    failures = try_watch(store) or []
    with store:
        store.add_product("A", "Apple", "1.00", stock=1000)
        store.add_product("B", "Banana", "2.00", stock=1000)
        store.add_variable_product("TEE", "Tee", [
            {"sku": "TEE-S", "price": "9.00", "stock": 1000, "attributes": {"Size": "S"}},
            {"sku": "TEE-M", "price": "9.00", "stock": "parent", "attributes": {"Size": "M"}}], stock=1000)
        yield store
    assert not failures, "answers outside the OpenAPI schema:\n" + "\n".join(failures)


def test_shoppers_and_a_syncing_client_never_leave_stock_inconsistent(store):
    ids = {sku: store.product_by_sku(sku)["id"] for sku in ("A", "B", "TEE", "TEE-S", "TEE-M")}
    owner = {"A": "A", "B": "B", "TEE-S": "TEE-S", "TEE-M": "TEE"}   # who holds each item's stock
    rng = random.Random(7)
    plan = [[(sku, rng.randint(1, 3)) for sku in rng.sample(sorted(owner), rng.randint(1, 3))] for _ in range(ORDERS)]
    placed: list[tuple[int, list[tuple[str, int]], str]] = []
    shopping, client_ready = threading.Event(), threading.Event()
    shopping.set()
    pushed: Counter[str] = Counter()
    seen_pages = Counter()

    def shopper():
        try:
            assert client_ready.wait(30)   # start together, so the two really interleave
            for i, lines in enumerate(plan):
                order = store.place_order(lines, status="on-hold" if i % 7 == 0 else "processing")
                final = order["status"]
                if i % 4 == 3:
                    final = store.set_order_status(order["id"], "cancelled")["status"]
                elif i % 5 == 0:
                    final = store.set_order_status(order["id"], "completed")["status"]
                placed.append((order["id"], lines, final))
                time.sleep(0.002)   # a shopper's pace: lets the client's requests in between
        finally:
            shopping.clear()

    def client():
        with requests.Session() as s:
            s.auth = OAuth1(KEY, client_secret=SECRET, signature_method="HMAC-SHA256", signature_type="query")
            client_ready.set()
            page = 1
            while shopping.is_set():
                # One page of the orders (checked order by order), then a stock push, over and over.
                r = s.get(store.api_url + "/orders", params={"per_page": 10, "page": page, "orderby": "id",
                                                             "order": "asc", "status": "any"}, timeout=30)
                assert r.status_code == 200, r.text
                for order in r.json():
                    _assert_consistent(order)
                seen_pages["orders"] += 1
                page = page + 1 if page < int(r.headers["X-WP-TotalPages"]) else 1
                batch = s.post(store.api_url + "/products/batch", timeout=30,
                               json={"update": [{"id": ids["A"], "inventory_delta": 1},
                                                {"id": ids["TEE"], "inventory_delta": 2}]})
                assert batch.status_code == 200 and all("error" not in item for item in batch.json()["update"])
                pushed["A"] += 1
                pushed["TEE"] += 2
                variation = s.post(store.api_url + f"/products/{ids['TEE']}/variations/batch", timeout=30,
                                   json={"update": [{"id": ids["TEE-S"], "inventory_delta": 1}]})
                assert variation.status_code == 200 and "error" not in variation.json()["update"][0]
                pushed["TEE-S"] += 1

    errors = _run(shopper, client)
    assert not errors, errors
    assert len(placed) == ORDERS and seen_pages["orders"] > 0

    expected = Counter({"A": 1000, "B": 1000, "TEE": 1000, "TEE-S": 1000}) + pushed
    auth = OAuth1(KEY, client_secret=SECRET, signature_method="HMAC-SHA256", signature_type="query")
    for order_id, lines, status in placed:
        order = store.order(order_id)
        assert order["status"] == status
        _assert_consistent(order)
        notes = [n["note"] for n in requests.get(store.api_url + f"/orders/{order_id}/notes", auth=auth,
                                                 timeout=30).json()]
        assert sum(n.startswith("Stock levels reduced") for n in notes) == 1   # reduced once, never twice
        assert sum(n.startswith("Stock levels increased") for n in notes) == (status == "cancelled")
        if status in REDUCED_STATUSES:
            for sku, quantity in lines:
                expected[owner[sku]] -= quantity
    assert {sku: store.stock_of(sku) for sku in expected} == dict(expected)
    assert store.stock_of("TEE-M") == store.stock_of("TEE")


def _assert_consistent(order: dict) -> None:
    """An order is never seen half-made: reduced statuses carry `_reduced_stock` on every line, the
    others on none."""
    for line in order["line_items"]:
        reduced = [m["value"] for m in line["meta_data"] if m["key"] == "_reduced_stock"]
        if order["status"] in REDUCED_STATUSES:
            assert reduced == [str(line["quantity"])], order
        else:
            assert reduced == [], order


def test_katana_admin_changes_and_api_writes_interleave_safely():
    with KatanaEmulator(rate=None) as katana:
        main = katana.add_location("Main Warehouse")["id"]
        skus = [f"S-{i}" for i in range(20)]
        for sku in skus:
            katana.add_variant(sku)
        customer = katana.add_customer("Jane")["id"]
        done = threading.Event()
        posted: Counter[str] = Counter()

        def admin():
            try:
                for round_ in range(15):
                    for sku in skus[:5]:
                        katana.set_stock(sku, main, 100 + round_)
                    so = katana.create_sales_order({"customer_id": customer, "sales_order_rows": [
                        {"variant_id": katana.variant(skus[round_])["id"], "quantity": 1}]})
                    katana.deliver_sales_order(so["id"])
            finally:
                done.set()

        def api():
            with requests.Session() as s:
                s.headers["Authorization"] = f"Bearer {katana.api_key}"
                n = 0
                while not done.is_set() or n < 3:
                    n += 1
                    rows = s.get(katana.base_url + "/inventory", params={"limit": 7, "page": n % 3 + 1}, timeout=30)
                    assert rows.status_code == 200
                    body = {"stock_adjustment_number": f"SA-{n}", "location_id": main,
                            "stock_adjustment_rows": [{"variant_id": katana.variant(skus[-1])["id"], "quantity": 2}]}
                    assert s.post(katana.base_url + "/stock_adjustments", json=body, timeout=30).status_code == 200
                    posted[skus[-1]] += 2

        errors = _run(admin, api)
        assert not errors, errors
        assert katana.inventory_of(skus[-1], main)["in_stock"] == posted[skus[-1]]
        assert katana.inventory_of(skus[0], main)["in_stock"] == 114   # the last set_stock (round 14)
        for i in range(5, 15):
            assert katana.inventory_of(skus[i], main)["in_stock"] == Decimal(-1)   # delivered from nothing
        # Each in-stock change left exactly one movement whose running balance ends at the level.
        for sku in (skus[-1], skus[7]):
            movements = katana.inventory_movements(sku)
            assert movements[-1]["balance_after"] == katana.inventory_of(sku, main)["in_stock"]
            assert sum(m["quantity_change"] for m in movements) == movements[-1]["balance_after"]
