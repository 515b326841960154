"""The emulators' indexes (SKU, slug, id, order number, row) never go stale.

Both emulators answer SKU and id lookups from indexes so that 10,000-SKU catalogues seed and list in
seconds (`bench/bench_seed.py` measures it; no test here is timed). These tests change SKUs, slugs,
statuses and numbers every way a client or an admin can, and check each lookup still finds exactly
what a scan of everything would. Answers are schema-checked as everywhere (`try_watch`, conftest).
"""
from __future__ import annotations

import json

import pytest
import requests
from requests_oauthlib import OAuth1

from _woo_schema import try_watch
from katana_woo_sdk.sandbox.katana_emulator import KatanaEmulator
from katana_woo_sdk.sandbox.woo_emulator import WooEmulator

KEY, SECRET = "ck_sandbox_index_key", "cs_sandbox_index_secret"
AUTH = OAuth1(KEY, client_secret=SECRET, signature_method="HMAC-SHA256", signature_type="query")


@pytest.fixture
def store():
    store = WooEmulator("shop-index", consumer_key=KEY, consumer_secret=SECRET)
    failures = try_watch(store) or []
    with store:
        yield store
    assert not failures, "answers outside the OpenAPI schema:\n" + "\n".join(failures)


def woo(store, method, path, **kwargs):
    response = requests.request(method, store.api_url + path, auth=AUTH, timeout=10, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def by_sku(store, skus):
    return sorted((p["id"], p["sku"]) for p in woo(store, "GET", "/products", params={"sku": skus}))


# --- WooCommerce: SKUs -------------------------------------------------------------------------------

def test_sku_changes_move_the_index(store):
    a = store.add_product("A-1", "Alpha", "1.00")
    woo(store, "PUT", f"/products/{a['id']}", json={"sku": "A-2"})
    assert by_sku(store, "A-1") == [] and by_sku(store, "a-2") == [(a["id"], "A-2")]   # case-insensitive
    b = woo(store, "POST", "/products", json={"name": "Beta", "sku": "A-1"})           # the old SKU is free again
    clash = requests.post(store.api_url + "/products", auth=AUTH, json={"name": "x", "sku": "a-2"}, timeout=10).json()
    assert (clash["code"], clash["data"]["resource_id"], clash["data"]["unique_sku"]) == (
        "product_invalid_sku", a["id"], "a-2-1")
    woo(store, "PUT", f"/products/{b['id']}", json={"sku": ""})
    assert by_sku(store, "A-1") == [] and store.product_by_sku("A-2")["id"] == a["id"]


def test_trash_frees_a_sku_and_deletion_forgets_it(store):
    a = store.add_product("T-1", "Trashy", "1.00")
    woo(store, "DELETE", f"/products/{a['id']}")                                   # to the trash
    trashed = woo(store, "GET", "/products", params={"sku": "T-1", "status": "trash"})
    assert [p["id"] for p in trashed] == [a["id"]] and by_sku(store, "T-1") == []  # "any" is all but trash
    b = store.add_product("T-1", "Fresh", "1.00")                                  # trash does not hold the SKU
    assert store.product_by_sku("T-1")["id"] == b["id"]
    store.delete_product(b["id"])
    store.delete_product(a["id"])
    assert by_sku(store, "T-1") == []
    with pytest.raises(KeyError):
        store.product_by_sku("T-1")


def test_variation_skus_follow_their_variations(store):
    parent = store.add_variable_product("V", "Vee", [{"sku": "V-S", "price": "1"}, {"sku": "V-M", "price": "1"}])
    s, m = parent["variations"]
    woo(store, "PUT", f"/products/{parent['id']}/variations/{s}", json={"sku": "V-SMALL"})
    woo(store, "POST", f"/products/{parent['id']}/variations/batch", json={"delete": [m]})
    assert by_sku(store, "V-S,V-M,V-SMALL,V") == [(parent["id"], "V"), (s, "V-SMALL")]
    woo(store, "DELETE", f"/products/{parent['id']}", params={"force": "true"})   # takes its variations along
    assert by_sku(store, "V,V-SMALL") == []
    assert store.add_product("V-SMALL", "Reused", "1.00")["sku"] == "V-SMALL"


# --- WooCommerce: slugs, related ids, listings by id --------------------------------------------

def test_slugs_stay_unique_among_products(store):
    ids = [store.add_product(f"W-{i}", "Widget", "1.00")["id"] for i in range(3)]
    slugs = [woo(store, "GET", f"/products/{i}")["slug"] for i in ids]
    assert slugs == ["widget", "widget-2", "widget-3"]
    store.delete_product(ids[1])
    assert woo(store, "POST", "/products", json={"name": "Widget"})["slug"] == "widget-2"   # freed
    woo(store, "PUT", f"/products/{ids[0]}", json={"slug": "gadget"})
    assert woo(store, "PUT", f"/products/{ids[2]}", json={"slug": "widget"})["slug"] == "widget"
    assert woo(store, "PUT", f"/products/{ids[2]}", json={"slug": "gadget"})["slug"] == "gadget-2"
    # Variations are not counted: their slugs repeat their parent's name freely.
    store.add_variable_product("TEE", "Tee", [{"sku": "TEE-S", "price": "1", "attributes": {"Size": "S"}}])
    assert woo(store, "POST", "/products", json={"name": "Tee - S"})["slug"] == "tee-s"


def test_related_ids_are_the_newest_published_others(store):
    ids = [store.add_product(f"R-{i}", f"R {i}", "1.00")["id"] for i in range(8)]
    store.add_variable_product("RV", "RV", [{"sku": "RV-1", "price": "1"}])
    woo(store, "PUT", f"/products/{ids[6]}", json={"status": "draft"})
    parent_id = store.product_by_sku("RV")["id"]
    assert woo(store, "GET", f"/products/{ids[7]}")["related_ids"] == [parent_id, ids[5], ids[4], ids[3], ids[2]]
    assert woo(store, "GET", f"/products/{ids[0]}")["related_ids"] == [parent_id, ids[7], ids[5], ids[4], ids[3]]


def test_include_listings_are_lookups_with_every_other_filter_still_applied(store):
    ids = [store.add_product(f"I-{i}", f"I {i}", "1.00")["id"] for i in range(4)]
    parent = store.add_variable_product("IV", "IV", [{"sku": "IV-1", "price": "1"}])
    woo(store, "PUT", f"/products/{ids[1]}", json={"status": "draft"})
    wanted = ",".join(str(i) for i in (ids[2], 999, ids[0], parent["variations"][0]))   # PHP: a=1&a=2 keeps 2
    listed = woo(store, "GET", "/products", params={"include": wanted, "orderby": "include", "status": "publish"})
    assert [p["id"] for p in listed] == [ids[2], ids[0]]   # no variation, no draft, unknown ids ignored
    orders = [store.place_order([(f"I-{i}", 1)])["id"] for i in (0, 2, 3)]
    store.set_order_status(orders[1], "cancelled")
    found = woo(store, "GET", "/orders", params={"include[]": [orders[2], orders[1], orders[0]],
                                                 "status": "processing"})
    assert [o["id"] for o in found] == [orders[2], orders[0]]


# --- Katana ------------------------------------------------------------------------------------------

@pytest.fixture
def katana():
    with KatanaEmulator(rate=None) as k:
        k.add_location("Main Warehouse")
        k.add_location("East Coast DC")
        k.add_location("Outlet")
        yield k


def kget(katana, path, **params):
    response = requests.get(katana.base_url + path, params=params, timeout=10,
                            headers={"Authorization": f"Bearer {katana.api_key}"})
    assert response.status_code == 200, response.text
    return response


def test_katana_sku_index_follows_deletes_and_reuse(katana):
    old = katana.add_variant("MUG", product_name="Mug")
    with pytest.raises(ValueError):
        katana.add_variant("MUG")
    katana.delete_variant("MUG")
    new = katana.add_variant("MUG", product_name="Mug")
    assert katana.variant("MUG")["id"] == new["id"] != old["id"]
    assert [v["id"] for v in kget(katana, "/variants", sku="MUG").json()["data"]] == [new["id"]]
    assert [v["id"] for v in kget(katana, "/variants", sku="MUG", include_deleted="true").json()["data"]] == [
        old["id"], new["id"]]
    assert [v["id"] for v in kget(katana, "/variants", ids=[new["id"], old["id"], 1]).json()["data"]] == [new["id"]]
    # Variants of one product share it; its product lists only the live ones.
    mug = kget(katana, f"/variants/{new['id']}", extend="product_or_material").json()["product_or_material"]
    assert [v["id"] for v in mug["variants"]] == [new["id"]] and mug["id"] == old["product_id"]


def test_katana_order_numbers_and_rows_are_found_by_index(katana):
    katana.add_variant("MUG")
    customer = katana.add_customer("Jane")["id"]
    row = {"variant_id": katana.variant("MUG")["id"], "quantity": 1}
    first = katana.create_sales_order({"customer_id": customer, "order_no": "A-1", "sales_order_rows": [row]})
    headers = {"Authorization": f"Bearer {katana.api_key}"}
    renamed = requests.patch(f"{katana.base_url}/sales_orders/{first['id']}", json={"order_no": "A-2"},
                             headers=headers, timeout=10)
    assert renamed.status_code == 200
    reused = katana.create_sales_order({"customer_id": customer, "order_no": "A-1", "sales_order_rows": [row]})
    assert reused["order_no"] == "A-1"                              # the old number is free again
    with pytest.raises(Exception) as refused:
        katana.create_sales_order({"customer_id": customer, "order_no": "A-2", "sales_order_rows": [row]})
    assert "unique" in str(getattr(refused.value, "details", refused.value))
    unnamed = katana.create_sales_order({"customer_id": customer, "sales_order_rows": [row]})
    assert unnamed["order_no"] == "SO-3"
    row_id = reused["sales_order_rows"][0]["id"]
    assert kget(katana, f"/sales_order_rows/{row_id}").json()["sales_order_id"] == reused["id"]
    katana.delete_sales_order(reused["id"])
    assert requests.get(f"{katana.base_url}/sales_order_rows/{row_id}", headers=headers, timeout=10).status_code == 404


def test_inventory_pages_build_only_their_rows_yet_match_the_whole_list(katana):
    for i in range(7):
        katana.add_variant(f"V-{i}")
        katana.set_stock(f"V-{i}", "East Coast DC", i)
    katana.delete_variant("V-3")
    whole = kget(katana, "/inventory", limit=250).json()["data"]
    assert len(whole) == 3 * 6
    assert [r["location_id"] for r in whole[:6]] == [katana.location_id("Main Warehouse")] * 6   # oldest first
    pages, page = [], 1
    while True:
        response = kget(katana, "/inventory", limit=4, page=page)
        pages += response.json()["data"]
        meta = json.loads(response.headers["X-Pagination"])
        assert meta["total_records"] == "18" and meta["total_pages"] == "5"
        if meta["last_page"] == "true":
            break
        page += 1
    assert pages == whole
    east = kget(katana, "/inventory", location_id=katana.location_id("East Coast DC"),
                variant_id=[katana.variant("V-5")["id"], katana.variant("V-1")["id"]]).json()["data"]
    assert [(r["variant_id"], r["quantity_in_stock"]) for r in east] == [
        (katana.variant("V-1")["id"], "1.00000"), (katana.variant("V-5")["id"], "5.00000")]
    assert kget(katana, "/inventory", limit=4, page=9).json()["data"] == []


def test_katana_ids_filters_are_lookups_that_still_honour_the_other_filters(katana):
    katana.add_variant("MUG")
    customers = [katana.add_customer(name)["id"] for name in ("Ann", "Bob", "Cy")]
    row = {"variant_id": katana.variant("MUG")["id"], "quantity": 1}
    orders = [katana.create_sales_order({"customer_id": c, "sales_order_rows": [row, row]}) for c in customers]
    katana.delete_sales_order(orders[1]["id"])
    katana.delete_customer(customers[2])
    ids = [o["id"] for o in orders]
    assert [o["id"] for o in kget(katana, "/sales_orders", ids=[ids[2], ids[1], 12345]).json()["data"]] == [ids[2]]
    assert [o["id"] for o in kget(katana, "/sales_orders", ids=ids[1], include_deleted="true").json()["data"]] == [
        ids[1]]
    rows = [r["id"] for o in orders for r in o["sales_order_rows"]]
    assert [r["id"] for r in kget(katana, "/sales_order_rows", ids=[rows[5], rows[0], rows[2]]).json()["data"]] == [
        rows[0], rows[5]]   # rows of the deleted order only with include_deleted
    assert [r["id"] for r in kget(katana, "/sales_order_rows", ids=rows[2], include_deleted="true").json()["data"]] \
        == [rows[2]]
    assert kget(katana, "/sales_order_rows", ids=999999).json()["data"] == []
    assert [r["id"] for r in kget(katana, "/sales_order_rows", ids=rows[0], sales_order_ids=ids[2]).json()["data"]] \
        == []
    assert [c["name"] for c in kget(katana, "/customers", ids=customers).json()["data"]] == ["Ann", "Bob"]


# --- the walks of a long history: indexes and remembered matches ---------------------------------

def test_the_order_walk_index_answers_what_a_scan_of_every_order_does(store):
    """`orderby=modified` with status and `modified_after` (a sync's walk) is read from an index;
    `exclude` of an id no order has sends the same query down the scan. Both must agree, page by
    page, both ways, after every kind of change (created, status moved, trashed, deleted)."""
    import random
    from datetime import datetime, timedelta, timezone

    rng = random.Random(7)
    base = datetime(2026, 5, 1, tzinfo=timezone.utc)
    store.add_product("W-1", "Walked", "3.00", stock=10_000)
    store.set_clock(lambda: base)
    ids = []
    for n in range(60):
        when = base + timedelta(seconds=rng.choice((0, 0, 1, 2, 5, 60, 3600)) + n // 7)
        store.set_clock(lambda when=when: when)
        ids.append(store.place_order([("W-1", 1)], status=rng.choice(("processing", "on-hold", "completed",
                                                                          "pending")))["id"])

    def agree():
        for params in ({"status": "processing,on-hold"}, {"status": "any"}, {"status": "completed"},
                       {"status": "trash"}, {"modified_after": "2026-05-01T00:00:03", "dates_are_gmt": "true"},
                       {"status": "on-hold", "modified_after": "2026-05-01T00:00:01", "dates_are_gmt": "true"}):
            for order in ("asc", "desc"):
                for page in (1, 2, 3, 9):
                    query = {"orderby": "modified", "order": order, "per_page": 7, "page": page, **params}
                    fast = requests.get(store.api_url + "/orders", params=query, auth=AUTH, timeout=10)
                    slow = requests.get(store.api_url + "/orders", params={**query, "exclude": 999999}, auth=AUTH,
                                        timeout=10)
                    assert [o["id"] for o in fast.json()] == [o["id"] for o in slow.json()], (params, order, page)
                    assert fast.headers["X-WP-Total"] == slow.headers["X-WP-Total"]
                    assert fast.headers["X-WP-TotalPages"] == slow.headers["X-WP-TotalPages"]
            query = {"orderby": "modified", "order": "asc", "per_page": 5, "offset": 11, **params}
            fast = requests.get(store.api_url + "/orders", params=query, auth=AUTH, timeout=10).json()
            slow = requests.get(store.api_url + "/orders", params={**query, "exclude": 999999}, auth=AUTH,
                                timeout=10).json()
            assert [o["id"] for o in fast] == [o["id"] for o in slow]

    agree()
    store.set_clock(lambda: base + timedelta(seconds=4))
    store.set_order_status(ids[3], "completed")
    woo(store, "PUT", f"/orders/{ids[8]}", json={"status": "cancelled"})
    woo(store, "DELETE", f"/orders/{ids[9]}")                           # to the trash
    woo(store, "DELETE", f"/orders/{ids[10]}", params={"force": "true"})
    store.place_order([("W-1", 2)])
    agree()


def test_katana_listings_page_from_one_search_yet_see_every_change(katana):
    """Pages of one query are served from the matches its first page found, while no order (or
    movement) changed: a change between two pages is seen on the next one, as a new search would."""
    katana.add_variant("MUG")
    katana.set_stock("MUG", "Main Warehouse", 1000)
    customer = katana.add_customer("Ann")["id"]
    row = {"variant_id": katana.variant("MUG")["id"], "quantity": 1}
    made = [katana.create_sales_order({"customer_id": customer, "ecommerce_store_name": "shop",
                                       "ecommerce_order_id": str(n), "sales_order_rows": [row]})["id"]
            for n in range(12)]

    def listed(**params):
        out, page = [], 1
        while True:
            response = kget(katana, "/sales_orders", limit=5, page=page, **params)
            out += [o["id"] for o in response.json()["data"]]
            if json.loads(response.headers["X-Pagination"])["last_page"] == "true":
                return out
            page += 1

    assert listed(ecommerce_store_name="shop") == made
    assert [o["id"] for o in kget(katana, "/sales_orders", ecommerce_store_name="shop", limit=5,
                                  page=2).json()["data"]] == made[5:10]
    katana.delete_sales_order(made[6])                      # between page 1 and page 2 of a walk
    assert [o["id"] for o in kget(katana, "/sales_orders", ecommerce_store_name="shop", limit=5,
                                  page=2).json()["data"]] == made[5:6] + made[7:11]
    assert listed(ecommerce_store_name="shop", include_deleted="true") == made
    stamp = kget(katana, f"/sales_orders/{made[2]}").json()["updated_at"]
    assert made[2] in listed(updated_at_min=stamp)
    katana.deliver_sales_order(made[0])                     # a change moves updated_at: found again
    assert made[0] in listed(updated_at_min=stamp)
    assert [o["status"] for o in kget(katana, "/sales_orders", ids=made[0]).json()["data"]] == ["DELIVERED"]
    moves = kget(katana, "/inventory_movements", limit=250).json()["data"]
    katana.set_stock("MUG", "Main Warehouse", 5)            # a movement added between two pages
    again = kget(katana, "/inventory_movements", limit=250).json()["data"]
    assert len(again) == len(moves) + 1 and again[1:] == moves


def test_a_product_listing_walked_page_by_page_follows_every_change(store):
    """The listing's matches are kept between pages (`ProductHandlers.list`) until a product changes:
    a rename that moves it in a title sort, a stock change under a stock-status filter, a product
    added or deleted between two pages all show on the next page as a fresh scan would. Each page
    is asked right after the change (nothing in between refreshes the kept matches); the scan after."""
    for i in range(12):
        store.add_product(f"LIST-{i:02d}", f"Item {i:02d}", "5.00", stock=i % 3)

    def page(n, **params):
        return [p["sku"] for p in woo(store, "GET", "/products",
                                      params={"per_page": 5, "page": n, "orderby": "title", "order": "asc",
                                              **params})]

    def whole(**params):
        return [p["sku"] for p in woo(store, "GET", "/products", params={"per_page": 100, "orderby": "title",
                                                                         "order": "asc", **params})]

    def product_id(sku):
        return store.product_by_sku(sku)["id"]

    page(1)
    woo(store, "PUT", f"/products/{product_id('LIST-11')}", json={"name": "Item 00a"})
    assert page(1) == whole()[:5] and whole()[:3] == ["LIST-00", "LIST-11", "LIST-01"]
    page(1)
    store.add_product("LIST-AA", "Item 000", "5.00", stock=1)
    assert page(1) == whole()[:5] and "LIST-AA" in whole()[:5]
    page(1)
    woo(store, "DELETE", f"/products/{product_id('LIST-AA')}", params={"force": "true"})
    assert page(1) == whole()[:5] and "LIST-AA" not in whole()
    before = page(1, stock_status="outofstock")
    store.set_stock("LIST-01", 0)
    after = page(1, stock_status="outofstock")
    assert "LIST-01" not in before and after == whole(stock_status="outofstock")[:5] and "LIST-01" in after
