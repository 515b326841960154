"""The WooCommerce emulator as a WordPress site and a checkout: the REST site index, one store under
two host names, variations without a SKU of their own, and taxes as a real store records them.

Every answer under /wp-json/wc/v3 and every admin answer is checked against the OpenAPI description
in ../shared by `try_watch` (skipped without ../shared; the behaviour is still tested). The site
index is WordPress's, not WooCommerce's, so no schema in ../shared covers it: its shape is checked
here key by key against `WP_REST_Server::get_index` (WordPress 6.8).
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from requests_oauthlib import OAuth1

from _woo_schema import try_watch
from katana_woo_sdk.sandbox.woo_emulator import WooEmulator

KEY, SECRET = "ck_sandbox_site_key", "cs_sandbox_site_secret"
INDEX_KEYS = ["name", "description", "url", "home", "gmt_offset", "timezone_string", "page_for_posts",
              "page_on_front", "show_on_front", "namespaces", "authentication", "routes", "site_logo", "site_icon",
              "site_icon_url", "_links"]


def oauth(secret: str = SECRET) -> OAuth1:
    return OAuth1(KEY, client_secret=secret, signature_method="HMAC-SHA256", signature_type="query")


def _store(**options) -> tuple[WooEmulator, list[str]]:
    store = WooEmulator("shop-site", consumer_key=KEY, consumer_secret=SECRET, **options)
    failures = try_watch(store)
    return store.start(), failures if failures is not None else []


@pytest.fixture
def make_store():
    started: list[tuple[WooEmulator, list[str]]] = []

    def make(**options) -> WooEmulator:
        started.append(_store(**options))
        return started[-1][0]
    yield make
    for store, failures in started:
        store.stop()
        assert not failures, "answers outside the OpenAPI schema:\n" + "\n".join(failures)


@pytest.fixture
def store(make_store):
    return make_store()


# --- the site index ------------------------------------------------------------------------------

def test_site_index_answers_like_wordpress(store):
    for path in ("/wp-json/", "/wp-json"):
        response = requests.get(store.url + path, timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
        index = response.json()
        assert list(index) == INDEX_KEYS
        assert (index["name"], index["url"], index["home"]) == ("shop-site", store.url, store.url)
        assert (index["gmt_offset"], index["timezone_string"], index["show_on_front"]) == ("0", "", "posts")
        assert index["namespaces"] == ["wc/v3"] and index["authentication"] == []   # PHP's empty array
        assert index["_links"] == {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]}
    routes = index["routes"]
    assert routes["/wc/v3/products"]["methods"] == ["GET", "POST"]
    assert routes["/wc/v3/products"]["_links"]["self"][0]["href"] == store.api_url + "/products"
    item = routes["/wc/v3/products/(?P<id>[\\d]+)"]
    assert item["namespace"] == "wc/v3" and "_links" not in item   # no self link for a route with parameters
    assert [e["methods"] for e in item["endpoints"]] == [["GET"], ["POST", "PUT", "PATCH"], ["DELETE"]]


def test_fields_trims_the_index(store):
    assert requests.get(store.url + "/wp-json/", params={"_fields": "name,url,home"}, timeout=10).json() == {
        "name": "shop-site", "url": store.url, "home": store.url}
    nested = requests.get(store.url + "/wp-json/", params={"_fields": "home,routes./wc/v3/orders.methods"},
                          timeout=10).json()
    assert nested == {"home": store.url, "routes": {"/wc/v3/orders": {"methods": ["GET", "POST"]}}}
    assert list(requests.get(store.url + "/wp-json/", params={"_fields[]": ["home", "_links"]},
                             timeout=10).json()) == ["home", "_links"]


def test_the_index_needs_no_authentication_and_ignores_any_sent(store):
    for auth in (oauth(), oauth(secret="wrong"), (KEY, "wrong")):
        response = requests.get(store.url + "/wp-json/", params={"_fields": "home"}, auth=auth, timeout=10)
        assert (response.status_code, response.json()) == (200, {"home": store.url})
    # POST is no route of the index; the namespace index sits under WooCommerce's own auth check.
    assert requests.post(store.url + "/wp-json/", timeout=10).json()["code"] == "rest_no_route"
    assert requests.get(store.api_url, timeout=10).json()["namespace"] == "wc/v3"
    refused = requests.get(store.api_url, auth=oauth(secret="wrong"), timeout=10)
    assert (refused.status_code, refused.json()["message"]) == (
        401, "Invalid signature - provided signature does not match.")


def test_index_reports_the_sites_offset_and_application_passwords_over_https(make_store):
    india = make_store(timezone_offset_hours=5.5)
    assert requests.get(india.url + "/wp-json/", timeout=10).json()["gmt_offset"] == "5.5"
    secure = make_store(timezone_offset_hours=-5, https_mode=True)
    index = requests.get(secure.url + "/wp-json/", timeout=10).json()
    assert index["gmt_offset"] == "-5"
    assert index["authentication"] == {"application-passwords": {"endpoints": {
        "authorization": secure.url + "/wp-admin/authorize-application.php"}}}


# --- one store, two host names -------------------------------------------------------------------

def test_an_aliased_store_reports_one_home_and_authenticates_the_alias(make_store):
    store = make_store(aliases=("localhost",))
    via = store.url_via("localhost")
    assert via.startswith("http://localhost:") and via != store.url
    for base in (store.url, via):
        assert requests.get(base + "/wp-json/", params={"_fields": "home"}, timeout=10).json() == {"home": store.url}
    store.add_product("W-1", "Widget", "10.00", stock=3)
    listed = requests.get(via + "/wp-json/wc/v3/products", auth=oauth(), timeout=10)
    assert listed.status_code == 200 and [p["sku"] for p in listed.json()] == ["W-1"]
    assert listed.json()[0]["_links"]["self"][0]["href"].startswith(store.url)   # links name the home URL
    created = requests.post(via + "/wp-json/wc/v3/products", auth=oauth(), json={"name": "Gadget", "sku": "G-1"},
                            timeout=10)
    assert created.status_code == 201 and created.headers["Location"].startswith(store.api_url)
    # A wrong secret is still wrong under the alias; the canonical URL keeps working.
    assert requests.get(via + "/wp-json/wc/v3/products", auth=oauth("x"), timeout=10).status_code == 401
    assert requests.get(store.api_url + "/products", auth=oauth(), timeout=10).status_code == 200


def test_an_undeclared_host_is_checked_against_home_as_woocommerce_does(store):
    # WooCommerce signs over get_home_url(): a client configured with another name for the same
    # site fails over plain http, although the unauthenticated index answers there.
    via = store.url_via("localhost")
    assert requests.get(via + "/wp-json/", params={"_fields": "home"}, timeout=10).json() == {"home": store.url}
    refused = requests.get(via + "/wp-json/wc/v3/products", auth=oauth(), timeout=10)
    assert (refused.status_code, refused.json()["message"]) == (
        401, "Invalid signature - provided signature does not match.")


# --- variations without a SKU of their own -------------------------------------------------------

def _tee(store: WooEmulator) -> tuple[dict, dict[str, int]]:
    parent = store.add_variable_product("TEE", "Tee", [
        {"sku": "", "price": "19.00", "stock": 5, "attributes": {"Size": "S"}},
        {"sku": None, "price": "19.00", "stock": "parent", "attributes": {"Size": "M"}},
        {"sku": "TEE-L", "price": "21.00", "stock": 2, "attributes": {"Size": "L"}},
    ], stock=10)
    ids = dict(zip("SML", parent["variations"]))
    return parent, ids


def test_a_variation_without_sku_reads_its_parents_in_view_context(store):
    parent, ids = _tee(store)
    variations = requests.get(store.api_url + f"/products/{parent['id']}/variations", auth=oauth(),
                              params={"orderby": "id", "order": "asc"}, timeout=10).json()
    assert [(v["id"], v["sku"]) for v in variations] == [(ids["S"], "TEE"), (ids["M"], "TEE"), (ids["L"], "TEE-L")]
    as_product = requests.get(store.api_url + f"/products/{ids['S']}", auth=oauth(), timeout=10).json()
    assert (as_product["type"], as_product["sku"], as_product["name"]) == ("variation", "TEE", "Tee - S")
    edit = requests.get(store.api_url + f"/products/{ids['S']}", auth=oauth(), params={"context": "edit"},
                        timeout=10).json()
    assert edit["sku"] == ""   # its own, empty
    written = requests.put(store.api_url + f"/products/{parent['id']}/variations/{ids['M']}", auth=oauth(),
                           json={"regular_price": "20.00"}, timeout=10).json()
    assert written["sku"] == ""   # writes answer in edit context
    # The SKU lookup table holds the variation's own (empty) SKU: a search by the parent's finds the parent only.
    found = requests.get(store.api_url + "/products", auth=oauth(), params={"sku": "TEE"}, timeout=10).json()
    assert [(p["id"], p["type"]) for p in found] == [(parent["id"], "variable")]
    partial = requests.get(store.api_url + "/products", auth=oauth(), params={"search_sku": "TEE"}, timeout=10)
    assert [p["id"] for p in partial.json()] == [parent["id"]]   # listings never hold variations


def test_orders_for_a_variation_without_sku_carry_the_parents_sku(store):
    parent, ids = _tee(store)
    order = store.place_order([(ids["S"], 2), (ids["M"], 1)])
    first, second = order["line_items"]
    assert (first["sku"], first["product_id"], first["variation_id"], first["name"]) == (
        "TEE", parent["id"], ids["S"], "Tee - S")
    assert (second["sku"], second["variation_id"], second["parent_name"]) == ("TEE", ids["M"], "Tee")
    assert store.stock_of(ids["S"]) == 3 and store.stock_of("TEE") == 9   # M's stock is the parent's
    over_rest = requests.get(store.api_url + f"/orders/{order['id']}", auth=oauth(), timeout=10).json()
    assert [li["sku"] for li in over_rest["line_items"]] == ["TEE", "TEE"]
    notes = requests.get(store.api_url + f"/orders/{order['id']}/notes", auth=oauth(), timeout=10).json()
    reduced = next(n["note"] for n in notes if n["note"].startswith("Stock levels reduced"))
    assert "Tee - S (TEE)" in reduced   # get_formatted_name() reads the SKU in view context too
    # Through the admin route, by id (a digit string that is no SKU is an id).
    placed = requests.post(store.url + "/__sandbox__/woo/orders", timeout=10,
                           json={"lines": [{"sku": str(ids["S"]), "quantity": 1}]})
    assert placed.status_code == 201 and placed.json()["line_items"][0]["sku"] == "TEE"


def test_a_variable_product_refuses_a_sku_given_twice_before_creating_anything(store):
    before = requests.get(store.api_url + "/products", auth=oauth(), timeout=10).headers["X-WP-Total"]
    with pytest.raises(ValueError, match="given twice"):
        store.add_variable_product("CAP", "Cap", [{"sku": "CAP-1", "price": "5"}, {"sku": "cap-1", "price": "5"}])
    with pytest.raises(ValueError, match="given twice"):
        store.add_variable_product("CAP", "Cap", [{"sku": "CAP", "price": "5"}])
    assert requests.get(store.api_url + "/products", auth=oauth(), timeout=10).headers["X-WP-Total"] == before


# --- taxes -----------------------------------------------------------------------------------------

def test_a_20_percent_store_rounds_shipping_tax_per_woocommerce(store):
    store.add_product("W", "Widget", "10.00", stock=10)
    order = store.place_order([("W", 1)], shipping_total="4.99",
                              tax_rates=[{"percent": 20, "label": "VAT", "country": "GB"}])
    line, ship = order["line_items"][0], order["shipping_lines"][0]
    assert (line["total_tax"], line["subtotal_tax"], line["taxes"]) == (
        "2.00", "2.00", [{"id": 1, "total": "2", "subtotal": "2"}])
    assert (ship["total"], ship["total_tax"], [(t["id"], t["total"]) for t in ship["taxes"]]) == (
        "4.99", "1.00", [(1, "0.998")])   # stored unrounded, shown rounded
    assert order["tax_lines"] == [{"id": order["tax_lines"][0]["id"], "rate_code": "GB-VAT-1", "rate_id": 1,
                                   "label": "VAT", "compound": False, "tax_total": "2.00",
                                   "shipping_tax_total": "1.00", "rate_percent": 20.0, "meta_data": []}]
    assert (order["shipping_tax"], order["cart_tax"], order["total_tax"], order["total"]) == (
        "1.00", "2.00", "3.00", "17.99")
    # The rounded shipping tax does not divide back to the rate: the percent must come from tax_lines.
    assert Decimal(order["shipping_tax"]) / Decimal(order["shipping_total"]) * 100 != 20
    again = requests.get(store.api_url + f"/orders/{order['id']}", auth=oauth(), timeout=10).json()
    assert again["tax_lines"] == order["tax_lines"] and again["shipping_lines"] == order["shipping_lines"]


def test_state_and_county_rates_on_one_order(store):
    store.add_product("W", "Widget", "19.99", stock=10)
    order = store.place_order([("W", 3)], shipping_total="5.00", tax_rates=[
        {"id": 10, "percent": "6.25", "label": "IL State", "country": "US", "state": "IL"},
        {"id": 11, "percent": "1.75", "label": "County", "country": "US", "state": "IL", "priority": 2,
         "shipping": False}])
    line = order["line_items"][0]
    assert line["taxes"] == [{"id": 10, "total": "3.748125", "subtotal": "3.748125"},
                             {"id": 11, "total": "1.049475", "subtotal": "1.049475"}]
    assert line["total_tax"] == "4.80"   # 3.75 + 1.05: each rate rounded, then added
    assert order["shipping_lines"][0]["taxes"][0]["total"] == "0.3125" and order["shipping_tax"] == "0.31"
    assert [(t["rate_id"], t["rate_code"], t["label"], t["tax_total"], t["shipping_tax_total"], t["rate_percent"])
            for t in order["tax_lines"]] == [(10, "US-IL-IL STATE-1", "IL State", "3.75", "0.31", 6.25),
                                             (11, "US-IL-COUNTY-2", "County", "1.05", "0.00", 1.75)]
    assert order["total"] == "70.08"   # 59.97 + 4.80 + 5.00 + 0.31


def test_compound_and_inclusive_rates_and_an_explicit_rate_code(store):
    store.add_product("W", "Widget", "100.00", stock=10)
    compound = store.place_order([("W", 1)], tax_rates=[{"percent": 5, "label": "GST"},
                                                        {"percent": 10, "label": "PST", "compound": True,
                                                         "priority": 2}])
    assert [t["total"] for t in compound["line_items"][0]["taxes"]] == ["5", "10.5"]   # 10 % of 105
    assert [t["compound"] for t in compound["tax_lines"]] == [False, True] and compound["total"] == "115.50"
    store.add_product("I", "Inclusive", "12.00", stock=10)
    inclusive = store.place_order([("I", 1)], prices_include_tax=True,
                                  tax_rates=[{"id": 7, "percent": "20", "label": "VAT", "rate_code": "UK-STANDARD"}])
    line = inclusive["line_items"][0]
    assert (line["subtotal"], line["total"], line["total_tax"], inclusive["total"]) == ("10.00", "10.00", "2.00",
                                                                                        "12.00")
    assert (inclusive["tax_lines"][0]["rate_code"], inclusive["tax_lines"][0]["rate_id"]) == ("UK-STANDARD", 7)
    one_rate = store.place_order([("W", 1)], tax_percent="8.875")
    assert (one_rate["tax_lines"][0]["rate_code"], one_rate["tax_lines"][0]["label"]) == ("US-TAX-1", "Tax")
    with pytest.raises(ValueError):
        store.place_order([("W", 1)], tax_rates=[{"percent": 5, "colour": "red"}])
    with pytest.raises(ValueError):
        store.place_order([("W", 1)], tax_rates=[{"id": 1, "percent": 5}, {"id": 1, "percent": 6}])
