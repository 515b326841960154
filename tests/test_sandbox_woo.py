"""The WooCommerce emulator (katana_woo_sdk.sandbox.woo_emulator): behaviour a 10.0.2 store shows.

Every answer the emulator gives in these tests (HTTP API, admin routes, Python admin API) is checked
against ../shared/specs/woocommerce/wc-v3-openapi.json by the `store` fixture (`_woo_schema.watch`).
The recorded real-store comparison lives in test_sandbox_woo_differential.py; these tests cover the
rest of the contract: auth over plain http, stock rules, batches, orders, taxes, time, admin routes.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from oauthlib.oauth1 import Client
from requests_oauthlib import OAuth1

from _woo_schema import try_watch, woo_schema
from katana_woo_sdk.sandbox.woo_emulator import WooEmulator

KEY, SECRET = "ck_sandbox_test_key", "cs_sandbox_test_secret"
T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
VARIATION_MESSAGE = ("To manipulate product variations you should use the /products/&lt;product_id&gt;/variations/"
                     "&lt;id&gt; endpoint.")


class FakeClock:
    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _start(clock, **options) -> tuple[WooEmulator, list[str]]:
    store = WooEmulator("test", consumer_key=KEY, consumer_secret=SECRET, clock=clock, **options)
    failures = try_watch(store)   # None without ../shared: behaviour still tested, schema not
    return store.start(), failures if failures is not None else []


@pytest.fixture
def store(clock):
    store, failures = _start(clock)
    yield store
    store.stop()
    assert not failures, "answers outside the OpenAPI schema:\n" + "\n".join(failures)


def test_the_schema_check_is_on_and_bites():
    """Skipped, with the reason, without ../shared; then no answer above was schema-checked."""
    schema = woo_schema()
    assert schema.errors("GET", "/products/1", 200, {"id": 1, "stock_quantity": "7"})
    assert schema.errors("GET", "/products/1", 200, {"id": 1, "stock_quanttiy": 7})   # undeclared key
    assert schema.errors("GET", "/orders", 400, {"message": "no code"})
    assert not schema.errors("POST", "/products/batch", 200, {"update": [
        {"id": 22, "error": {"code": "woocommerce_rest_invalid_product_id", "message": "x", "data": {"status": 404}}}]})


def oauth(signature_method: str = "HMAC-SHA256", signature_type: str = "query", secret: str = SECRET,
          key: str = KEY) -> OAuth1:
    return OAuth1(key, client_secret=secret, signature_method=signature_method, signature_type=signature_type)


def call(store: WooEmulator, method: str, path: str, *, auth=None, **kwargs) -> requests.Response:
    return requests.request(method, store.api_url + path, auth=auth if auth is not None else oauth(), timeout=10,
                            **kwargs)


def get(store, path, **kwargs):
    return call(store, "GET", path, **kwargs)


def seed_catalog(store: WooEmulator) -> None:
    store.add_product("WIDGET-1", "Widget 1", "12.50", stock=10)
    store.add_product("NOSTOCK-1", "Gift Card", "25.00")
    store.add_variable_product("TSHIRT", "T-Shirt", [
        {"sku": "TSHIRT-S", "price": "19.00", "stock": 5, "attributes": {"Size": "S"}},
        {"sku": "TSHIRT-XL", "price": "21.00", "stock": "parent", "attributes": {"Size": "XL"}},
    ], stock=20)


# --- authentication over plain http ---------------------------------------------------------------

@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
@pytest.mark.parametrize("placement", ["query", "auth_header"])
def test_oauth1_works_with_both_algorithms_and_placements(store, method, placement):
    store.add_product("A-1", "A", "1.00", stock=1)
    response = get(store, "/products", auth=oauth(method, placement))
    assert response.status_code == 200
    assert [p["sku"] for p in response.json()] == ["A-1"]


def test_oauth1_failures_have_woocommerces_messages(store):
    def error(response):
        return response.status_code, response.json()["code"], response.json()["message"]

    assert error(get(store, "/orders", auth=oauth(secret="wrong"))) == (
        401, "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match.")
    assert error(get(store, "/orders", auth=oauth(key="ck_nobody"))) == (
        401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    assert error(get(store, "/orders", params={"oauth_consumer_key": KEY, "oauth_nonce": "n1"}, auth=False)) == (
        401, "woocommerce_rest_authentication_missing_parameter",
        "Missing OAuth parameters oauth_timestamp, oauth_signature, oauth_signature_method")
    stale = Client(KEY, client_secret=SECRET, signature_method="HMAC-SHA256", signature_type="QUERY",
                   timestamp=str(int(time.time()) - 16 * 60))
    url, _, _ = stale.sign(store.api_url + "/orders")
    assert error(requests.get(url, timeout=10)) == (401, "woocommerce_rest_authentication_error", "Invalid timestamp.")


def test_a_nonce_is_single_use(store):
    signer = Client(KEY, client_secret=SECRET, signature_method="HMAC-SHA1", signature_type="QUERY")
    url, _, _ = signer.sign(store.api_url + "/orders")
    assert requests.get(url, timeout=10).status_code == 200
    again = requests.get(url, timeout=10)
    assert (again.status_code, again.json()["message"]) == (401, "Invalid nonce - nonce has already been used.")


def test_the_signature_covers_the_url_exactly_as_the_store_sees_it(store):
    host_alias = store.api_url.replace("127.0.0.1", "localhost")
    response = requests.get(host_alias + "/orders", auth=oauth(), timeout=10)
    assert response.json()["message"] == "Invalid signature - provided signature does not match."
    # Query parameters are signed too, as PHP reads them.
    assert get(store, "/products", params={"per_page": 3, "orderby": "id"}).status_code == 200


def test_basic_auth_and_query_credentials_are_ignored_over_http(store):
    product = store.add_product("A-1", "A", "1.00")
    for auth, params in (((KEY, SECRET), None), (False, {"consumer_key": KEY, "consumer_secret": SECRET})):
        listing = get(store, "/products", auth=auth, params=params)
        assert (listing.status_code, listing.json()) == (401, {
            "code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
            "data": {"status": 401}})
        item = get(store, f"/products/{product['id']}", auth=auth, params=params)
        assert (item.status_code, item.json()["message"]) == (401, "Sorry, you cannot view this resource.")
    # An item that does not exist is a 404 even unauthenticated: the permission check needs an object.
    assert get(store, "/products/999", auth=(KEY, SECRET)).json()["code"] == "woocommerce_rest_product_invalid_id"
    created = call(store, "POST", "/products", auth=(KEY, SECRET), json={"name": "x"})
    assert (created.status_code, created.json()["code"]) == (401, "woocommerce_rest_cannot_create")


def test_https_mode_accepts_basic_and_query_credentials(clock):
    store, failures = _start(clock, https_mode=True)
    try:
        assert get(store, "/products", auth=(KEY, SECRET)).status_code == 200
        assert get(store, "/products", auth=False, params={"consumer_key": KEY, "consumer_secret": SECRET}).ok
        wrong = get(store, "/products", auth=(KEY, "cs_wrong"))
        assert (wrong.status_code, wrong.json()["message"]) == (401, "Consumer secret is invalid.")
        unknown = get(store, "/products", auth=("ck_unknown", "cs_unknown"))
        assert (unknown.status_code, unknown.json()["code"]) == (401, "woocommerce_rest_cannot_view")
        # The query string wins over the header.
        both = get(store, "/products", auth=(KEY, SECRET), params={"consumer_key": KEY, "consumer_secret": "bad"})
        assert both.json()["message"] == "Consumer secret is invalid."
        store.https_mode = False
        assert get(store, "/products", auth=(KEY, SECRET)).status_code == 401
    finally:
        store.stop()
    assert not failures


def test_a_read_only_key_cannot_write(clock):
    store, failures = _start(clock, key_permissions="read")
    try:
        assert get(store, "/products").status_code == 200
        refused = call(store, "POST", "/products", json={"name": "x"})
        assert (refused.status_code, refused.json()["message"]) == (
            401, "The API key provided does not have write permissions.")
    finally:
        store.stop()
    assert not failures


def test_stage_order_auth_then_route_then_validation_then_permission(store):
    assert get(store, "/nope", auth=oauth(secret="bad")).json()["code"] == "woocommerce_rest_authentication_error"
    assert get(store, "/nope").json() == {"code": "rest_no_route",
                                          "message": "No route was found matching the URL and request method.",
                                          "data": {"status": 404}}
    assert call(store, "DELETE", "/products").json()["code"] == "rest_no_route"   # known path, other method
    unauthenticated_bad_arg = get(store, "/orders", auth=False, params={"status": "bogus"})
    assert (unauthenticated_bad_arg.status_code, unauthenticated_bad_arg.json()["code"]) == (400, "rest_invalid_param")
    assert get(store, "").json()["namespace"] == "wc/v3"   # the index needs no auth
    assert requests.get(store.url + "/wp-json/wc/v3", timeout=10).status_code == 200


# --- products and stock ----------------------------------------------------------------------

def test_admin_catalogue_and_stock_helpers(store):
    seed_catalog(store)
    assert store.stock_of("WIDGET-1") == 10 and store.stock_of("NOSTOCK-1") is None
    assert store.stock_of("TSHIRT-XL") == 20 == store.stock_of("TSHIRT")
    xl = store.product_by_sku("TSHIRT-XL")
    assert (xl["type"], xl["manage_stock"], xl["stock_quantity"], xl["name"]) == ("variation", "parent", 20,
                                                                                  "T-Shirt - XL")
    store.set_stock("TSHIRT-XL", 7)          # parent-managed: the parent's level moves
    assert store.stock_of("TSHIRT") == 7
    store.set_stock("NOSTOCK-1", 3)          # an admin setting a level turns management on
    assert store.product_by_sku("NOSTOCK-1")["manage_stock"] is True
    parent = store.product_by_sku("TSHIRT")
    assert parent["variations"] == [xl["parent_id"] + 1, xl["id"]] and parent["price"] == "19.00"
    with pytest.raises(ValueError):
        store.add_variable_product("X", "X", [{"sku": "X-1", "price": "1", "stock": "parent"}])
    with pytest.raises(KeyError):
        store.stock_of("NOPE")


def test_ids_come_from_one_sequence_like_wordpress_posts(clock):
    store, failures = _start(clock, first_id=100)
    try:
        assert store.add_product("A", "A", "1.00", stock=5)["id"] == 100
        assert store.place_order([("A", 1)])["id"] == 101
        assert store.add_variable_product("V", "V", [{"sku": "V-1", "price": "2", "stock": 1,
                                                      "attributes": {"Size": "S"}}])["variations"] == [103]
    finally:
        store.stop()
    assert not failures


def test_listing_pagination_headers_and_links_copy_the_query(store):
    for i in range(5):
        store.add_product(f"P-{i}", f"P {i}", "1.00")
    first = get(store, "/products", params={"per_page": 2, "orderby": "id", "order": "asc"})
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("5", "3")
    links = requests.utils.parse_header_links(first.headers["Link"])
    assert [link["rel"] for link in links] == ["next"]
    query = dict(parse_qsl(urlsplit(links[0]["url"]).query))
    assert query["page"] == "2" and query["oauth_consumer_key"] == KEY   # credentials come back, as for real
    second = get(store, "/products", params={"per_page": 2, "page": 2, "orderby": "id", "order": "asc"})
    assert [link["rel"] for link in requests.utils.parse_header_links(second.headers["Link"])] == ["prev", "next"]
    assert "per_page=2&page=1&orderby=id" in second.headers["Link"]   # page replaced in place
    past = get(store, "/products", params={"per_page": 2, "page": 9})
    (prev,) = requests.utils.parse_header_links(past.headers["Link"])
    assert past.json() == [] and prev["rel"] == "prev" and dict(parse_qsl(urlsplit(prev["url"]).query))["page"] == "3"
    ids = [p["id"] for page in (1, 2, 3) for p in get(store, "/products", params={
        "per_page": 2, "page": page, "orderby": "id", "order": "asc"}).json()]
    assert ids == sorted(ids) and len(set(ids)) == 5
    everything = get(store, "/products", params={"per_page": 100})
    assert 'rel="https://api.w.org/"' in everything.headers["Link"]
    assert get(store, "/products").headers["X-WP-TotalPages"] == "1"   # default per_page is 10
    too_many = get(store, "/products", params={"per_page": 101}).json()
    assert too_many["data"]["details"]["per_page"]["code"] == "rest_out_of_bounds"


def test_sku_search_returns_variations_in_the_product_shape(store):
    seed_catalog(store)
    found = get(store, "/products", params={"sku": "WIDGET-1,TSHIRT-S"})
    assert found.headers["X-WP-Total"] == "2"
    by_sku = {p["sku"]: p for p in found.json()}
    assert by_sku["TSHIRT-S"]["type"] == "variation" and by_sku["TSHIRT-S"]["parent_id"] > 0
    assert by_sku["TSHIRT-S"]["total_sales"] == "0" and by_sku["TSHIRT-S"]["images"] == []
    nothing = get(store, "/products", params={"sku": "NO-SUCH"})
    assert (nothing.json(), nothing.headers["X-WP-Total"], nothing.headers["X-WP-TotalPages"]) == ([], "0", "0")
    # PHP keeps only the last value of a repeated plain key; comma lists are the way to ask for several.
    # Signed with OAuth, the collapsed key does not even match the client's signature base string.
    repeated = [("sku", "WIDGET-1"), ("sku", "NOSTOCK-1")]
    assert get(store, "/products", params=repeated).json()["message"] == \
        "Invalid signature - provided signature does not match."
    store.https_mode = True
    assert [p["sku"] for p in get(store, "/products", params=repeated, auth=(KEY, SECRET)).json()] == ["NOSTOCK-1"]
    store.https_mode = False
    # MySQL's collation: SKU lookups ignore case, so clients must re-check the SKU they asked for.
    assert [p["sku"] for p in get(store, "/products", params={"sku": "widget-1"}).json()] == ["WIDGET-1"]
    listing = get(store, "/products", params={"per_page": 100}).json()
    assert {p["type"] for p in listing} == {"simple", "variable"}   # variations never in listings


def test_listing_filters(store, clock):
    store.add_product("OLD", "Old", "1.00", stock=0)
    clock.advance(3600)
    store.add_product("NEW", "New", "2.00", stock=4, status="draft")
    cut = (T0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    assert [p["sku"] for p in get(store, "/products", params={"modified_after": cut, "dates_are_gmt": "true"}).json()] \
        == ["NEW"]
    assert [p["sku"] for p in get(store, "/products", params={"stock_status": "outofstock"}).json()] == ["OLD"]
    assert [p["sku"] for p in get(store, "/products", params={"status": "draft"}).json()] == ["NEW"]
    assert [p["sku"] for p in get(store, "/products", params={"orderby": "title", "order": "asc"}).json()] \
        == ["NEW", "OLD"]
    bad = get(store, "/products", params={"modified_after": "yesterday", "page": 0}).json()
    assert bad["message"] == "Invalid parameter(s): page, modified_after"   # WordPress's argument order
    assert bad["data"]["params"]["page"] == "page must be greater than or equal to 1"


def test_site_timezone_and_gmt_twins(clock):
    store, failures = _start(clock, timezone_offset_hours=2)
    try:
        product = store.add_product("TZ", "TZ", "1.00")
        assert (product["date_created"], product["date_created_gmt"]) == ("2026-11-26T14:00:00", "2026-11-26T12:00:00")
        # Without dates_are_gmt a naive bound is site-local.
        assert get(store, "/products", params={"after": "2026-11-26T13:30:00"}).json() != []
        assert get(store, "/products", params={"after": "2026-11-26T13:30:00", "dates_are_gmt": "true"}).json() == []
    finally:
        store.stop()
    assert not failures


def test_stock_quantity_is_silently_ignored_without_stock_management(store):
    seed_catalog(store)
    gift = store.product_by_sku("NOSTOCK-1")
    put = call(store, "PUT", f"/products/{gift['id']}", json={"stock_quantity": 7})
    assert (put.status_code, put.json()["stock_quantity"], put.json()["manage_stock"]) == (200, None, False)
    both = call(store, "PUT", f"/products/{gift['id']}", json={"manage_stock": True, "stock_quantity": 7}).json()
    assert (both["stock_quantity"], both["stock_status"]) == (7, "instock")
    xl = store.product_by_sku("TSHIRT-XL")
    ignored = call(store, "PUT", f"/products/{xl['parent_id']}/variations/{xl['id']}",
                   json={"stock_quantity": 3, "manage_stock": False}).json()
    assert (ignored["manage_stock"], ignored["stock_quantity"]) == ("parent", 20)
    refused = call(store, "POST", f"/products/{xl['parent_id']}/variations",
                   json={"sku": "TSHIRT-M", "manage_stock": "parent"}).json()
    assert refused["data"]["details"]["manage_stock"] == {
        "code": "rest_invalid_type", "message": "manage_stock is not of type boolean.",
        "data": {"param": "manage_stock"}}


def test_stock_status_follows_quantity_backorders_and_parent(store):
    widget = store.add_product("W", "W", "1.00", stock=1)
    zero = call(store, "PUT", f"/products/{widget['id']}", json={"stock_quantity": 0}).json()
    assert zero["stock_status"] == "outofstock"
    backorder = call(store, "PUT", f"/products/{widget['id']}", json={"backorders": "notify"}).json()
    assert (backorder["stock_status"], backorder["backorders_allowed"]) == ("onbackorder", True)
    seed_catalog(store)
    store.set_stock("TSHIRT", 0)
    assert store.product_by_sku("TSHIRT-XL")["stock_status"] == "outofstock"
    assert store.product_by_sku("TSHIRT-S")["stock_status"] == "instock"


def test_variable_products_and_variations_over_rest(store):
    parent = call(store, "POST", "/products", json={"name": "Mug", "type": "variable", "sku": "MUG", "attributes": [
        {"name": "Colour", "variation": True, "visible": True, "options": ["Red", "Blue"]}]})
    assert parent.status_code == 201 and parent.json()["price"] == "" and parent.json()["purchasable"] is False
    pid = parent.json()["id"]
    red = call(store, "POST", f"/products/{pid}/variations", json={
        "sku": "MUG-R", "regular_price": "5.00", "manage_stock": True, "stock_quantity": 2,
        "attributes": [{"name": "Colour", "option": "Red"}]})
    assert red.headers["Location"].endswith(f"/products/(?P<product_id>[\\d]+)/variations/{red.json()['id']}")
    assert (red.json()["name"], red.json()["tax_class"]) == ("Red", "parent")
    call(store, "POST", f"/products/{pid}/variations", json={"sku": "MUG-B", "regular_price": "7.00",
                                                             "attributes": [{"name": "Colour", "option": "Blue"}]})
    got = get(store, f"/products/{pid}").json()
    assert (got["price"], len(got["variations"]), got["stock_status"]) == ("5.00", 2, "instock")
    assert "Price range: &#36;5.00 through &#36;7.00" in got["price_html"]
    listed = get(store, f"/products/{pid}/variations").json()
    assert [v["sku"] for v in listed] == ["MUG-B", "MUG-R"] and listed[0]["image"] is None
    assert get(store, f"/products/{pid}/variations/{pid}").json()["code"] == "woocommerce_rest_product_variation_invalid_id"
    other = store.add_variable_product("O", "O", [{"sku": "O-1", "price": "1", "attributes": {"Size": "S"}}])
    wrong_parent = call(store, "PUT", f"/products/{other['id']}/variations/{red.json()['id']}", json={"sku": "Z"})
    assert (wrong_parent.status_code, wrong_parent.json()["message"]) == (
        403, "Parent product does not match current variation.")
    as_product = call(store, "PUT", f"/products/{red.json()['id']}", json={"stock_quantity": 1})
    assert (as_product.status_code, as_product.json()["message"]) == (404, VARIATION_MESSAGE)
    assert get(store, f"/products/{red.json()['id']}").json()["type"] == "variation"


def test_duplicate_sku_is_refused_without_taking_an_id(store):
    first = store.add_product("DUP", "Dup", "1.00")
    store.add_product("DUP-1", "Dup 1", "1.00")
    refused = call(store, "POST", "/products", json={"name": "Again", "sku": "DUP"})
    assert (refused.status_code, refused.json()) == (400, {
        "code": "product_invalid_sku", "message": "Invalid or duplicated SKU.",
        "data": {"status": 400, "resource_id": first["id"], "unique_sku": "DUP-2"}})
    assert call(store, "POST", "/products", json={"name": "Next"}).json()["id"] == first["id"] + 2


def test_unknown_ids_and_bad_bodies(store):
    assert get(store, "/products/999").json() == {"code": "woocommerce_rest_product_invalid_id",
                                                  "message": "Invalid ID.", "data": {"status": 404}}
    assert call(store, "PUT", "/products/999", json={}).status_code == 400
    assert get(store, "/orders/999").json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    broken = call(store, "POST", "/products", data=b"{nope", headers={"Content-Type": "application/json"})
    assert (broken.status_code, broken.json()["code"]) == (400, "rest_invalid_json")
    typed = call(store, "POST", "/products", json={"name": "x", "regular_price": 12.5, "type": "bundle"}).json()
    assert typed["data"]["params"] == {"type": "type is not one of simple, grouped, external, and variable.",
                                       "regular_price": "regular_price is not of type string."}


def test_delete_force_and_trash(store, clock):
    temp = store.add_product("TEMP-1", "Temp Gadget", "3.00", stock=5)
    order = store.place_order([("TEMP-1", 1)])
    deleted = call(store, "DELETE", f"/products/{temp['id']}", params={"force": "true"})
    assert (deleted.status_code, deleted.json()["stock_quantity"]) == (200, 4)
    line = get(store, f"/orders/{order['id']}").json()["line_items"][0]
    assert (line["product_id"], line["sku"], line["image"], line["name"]) == (0, None, {"id": 0, "src": ""},
                                                                              "Temp Gadget")
    assert [m["key"] for m in line["meta_data"]] == ["_reduced_stock"]
    kept = store.add_product("KEEP", "Keep", "1.00")
    trashed = call(store, "DELETE", f"/products/{kept['id']}").json()
    assert trashed["status"] == "trash" and get(store, "/products").json() == []
    again = call(store, "DELETE", f"/products/{kept['id']}")
    assert (again.status_code, again.json()["code"]) == (410, "woocommerce_rest_already_trashed")
    assert get(store, "/products", params={"status": "trash"}).json()[0]["id"] == kept["id"]


# --- batches -----------------------------------------------------------------------------------

def test_products_batch_reports_per_item_in_request_order(store):
    seed_catalog(store)
    widget, xl = store.product_by_sku("WIDGET-1"), store.product_by_sku("TSHIRT-S")
    body = {"delete": [999], "update": [{"id": xl["id"], "stock_quantity": 1}, {"id": widget["id"], "stock_quantity": 3},
                                        {"id": 998, "stock_quantity": 1}],
            "create": [{"name": "New", "sku": "NEW-1", "regular_price": "2.00"}, {"name": "Dup", "sku": "WIDGET-1"}]}
    answer = call(store, "POST", "/products/batch", json=body)
    assert answer.status_code == 200 and list(answer.json()) == ["create", "update", "delete"]
    created, updated, deleted = answer.json()["create"], answer.json()["update"], answer.json()["delete"]
    assert created[0]["sku"] == "NEW-1" and created[0]["manage_stock"] is False
    assert created[1] == {"id": 0, "error": {"code": "product_invalid_sku", "message": "Invalid or duplicated SKU.",
                                             "data": {"status": 400, "resource_id": widget["id"],
                                                      "unique_sku": "WIDGET-1-1"}}}
    assert updated[0] == {"id": xl["id"], "error": {"code": "woocommerce_rest_invalid_product_id",
                                                     "message": VARIATION_MESSAGE, "data": {"status": 404}}}
    assert updated[1]["stock_quantity"] == 3 and updated[2]["error"]["code"] == "woocommerce_rest_product_invalid_id"
    assert deleted == [{"id": 999, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                                             "data": {"status": 404}}}]
    assert store.stock_of("TSHIRT-S") == 5


def test_batch_limit_is_checked_before_touching_anything(store):
    widget = store.add_product("W", "W", "1.00", stock=1)
    body = {"update": [{"id": widget["id"], "stock_quantity": 50}] * 60, "delete": [widget["id"]] * 41}
    too_big = call(store, "POST", "/products/batch", json=body)
    assert (too_big.status_code, too_big.json()) == (413, {
        "code": "woocommerce_rest_request_entity_too_large",
        "message": "Unable to accept more than 100 items for this request.", "data": {"status": 413}})
    assert store.stock_of("W") == 1
    assert call(store, "POST", "/products/batch", json={"update": [{"id": widget["id"], "stock_quantity": 2}] * 100}).ok


def test_variations_batch(store):
    seed_catalog(store)
    s, xl = store.product_by_sku("TSHIRT-S"), store.product_by_sku("TSHIRT-XL")
    other = store.add_variable_product("O", "O", [{"sku": "O-1", "price": "1", "stock": 1, "attributes": {"Size": "S"}}])
    o1 = store.product_by_sku("O-1")
    answer = call(store, "PUT", f"/products/{s['parent_id']}/variations/batch", json={"update": [
        {"id": s["id"], "stock_quantity": 0}, {"id": xl["id"], "stock_quantity": 9}, {"id": o1["id"], "stock_quantity": 1},
        {"id": 12345, "stock_quantity": 1}]}).json()["update"]
    assert (answer[0]["stock_quantity"], answer[0]["stock_status"]) == (0, "outofstock")
    assert (answer[1]["manage_stock"], answer[1]["stock_quantity"]) == ("parent", 20)   # ignored, as recorded
    assert answer[2]["error"] == {"code": "woocommerce_rest_cannot_edit",
                                  "message": "Parent product does not match current variation.", "data": {"status": 403}}
    assert answer[3]["error"]["code"] == "woocommerce_rest_product_variation_invalid_id"
    assert other["variations"] == [o1["id"]]


# --- orders ------------------------------------------------------------------------------------

def _notes(store, order_id):
    return [n["note"] for n in get(store, f"/orders/{order_id}/notes").json()]


def test_stock_moves_with_order_status_like_woocommerce(store, clock):
    seed_catalog(store)
    order = store.place_order([("TSHIRT-S", 2), ("WIDGET-1", 1), ("TSHIRT-XL", 1), ("NOSTOCK-1", 1)])
    assert (store.stock_of("TSHIRT-S"), store.stock_of("WIDGET-1"), store.stock_of("TSHIRT")) == (3, 9, 19)
    reduced = [[m["value"] for m in li["meta_data"] if m["key"] == "_reduced_stock"] for li in order["line_items"]]
    assert reduced == [["2"], ["1"], ["1"], []]
    assert _notes(store, order["id"]) == [
        'Stock levels reduced: T-Shirt - S (TSHIRT-S)<span class="description"></span> 5&rarr;3, Widget 1 (WIDGET-1) '
        '10&rarr;9, T-Shirt - XL (TSHIRT-XL)<span class="description"></span> 20&rarr;19',
        "Order status changed from Pending payment to Processing."]
    clock.advance(60)
    completed = store.set_order_status(order["id"], "completed")
    assert store.stock_of("WIDGET-1") == 9   # not reduced twice
    assert completed["date_completed_gmt"] == "2026-11-26T12:01:00" and completed["date_paid_gmt"] == "2026-11-26T12:00:00"
    assert completed["date_modified_gmt"] == "2026-11-26T12:01:00"
    clock.advance(60)
    cancelled = store.set_order_status(order["id"], "cancelled")
    assert (store.stock_of("TSHIRT-S"), store.stock_of("WIDGET-1"), store.stock_of("TSHIRT")) == (5, 10, 20)
    assert all(m["key"] != "_reduced_stock" for li in cancelled["line_items"] for m in li["meta_data"])
    assert _notes(store, order["id"])[:2] == [
        'Stock levels increased: T-Shirt - S (TSHIRT-S)<span class="description"></span> 3&rarr;5, Widget 1 (WIDGET-1) '
        '9&rarr;10, T-Shirt - XL (TSHIRT-XL)<span class="description"></span> 19&rarr;20',
        "Order status changed from Completed to Cancelled."]
    assert cancelled["date_modified_gmt"] == "2026-11-26T12:02:00"


def test_orders_that_never_reduce_stock(store):
    seed_catalog(store)
    pending = store.place_order([("WIDGET-1", 4)], status="pending")
    cancelled = store.place_order([("WIDGET-1", 2)], status="cancelled")
    assert store.stock_of("WIDGET-1") == 10
    assert _notes(store, pending["id"]) == [] and pending["needs_payment"] is True and pending["is_editable"] is True
    assert _notes(store, cancelled["id"]) == ["Order status changed from Pending payment to Cancelled."]
    on_hold = store.place_order([("WIDGET-1", 1)], status="on-hold")
    assert store.stock_of("WIDGET-1") == 9 and on_hold["date_paid"] is None
    store.set_order_status(on_hold["id"], "pending")          # back to pending restores
    assert store.stock_of("WIDGET-1") == 10
    store.set_order_status(pending["id"], "processing")
    assert store.stock_of("WIDGET-1") == 6
    assert store.product_by_sku("WIDGET-1")["total_sales"] == 5


@pytest.mark.parametrize("status", ["pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                                    "failed", "checkout-draft", "trash"])
def test_every_core_status(store, status):
    store.add_product("A", "A", "10.00", stock=10)
    order = store.place_order([("A", 1)], status="pending")
    changed = store.set_order_status(order["id"], status)
    assert changed["status"] == status
    listed = [o["id"] for o in get(store, "/orders").json()]
    assert (order["id"] in listed) == (status != "trash")
    assert [o["id"] for o in get(store, "/orders", params={"status": status}).json()] == [order["id"]]
    if status == "refunded":
        assert changed["refunds"][0]["total"] == "-10.00" and changed["refunds"][0]["id"] == order["id"] + 1
    with pytest.raises(ValueError):
        store.set_order_status(order["id"], "bogus")


def test_order_totals_taxes_coupon_and_shipping(store):
    store.add_product("A", "A", "10.00", stock=100)
    store.add_product("B", "B", "30.00", stock=100)
    plain = store.place_order([("A", 2), ("B", 1)], tax_percent=10, coupon_amount="5.00", shipping_total="4.00")
    assert [(li["subtotal"], li["total"], li["subtotal_tax"], li["total_tax"]) for li in plain["line_items"]] == [
        ("20.00", "18.00", "2.00", "1.80"), ("30.00", "27.00", "3.00", "2.70")]
    assert (plain["discount_total"], plain["discount_tax"], plain["shipping_total"], plain["shipping_tax"]) == (
        "5.00", "0.50", "4.00", "0.40")
    assert (plain["cart_tax"], plain["total_tax"], plain["total"]) == ("4.50", "4.90", "53.90")
    # taxes[] hold the stored amounts as PHP writes the floats (no dp formatting, as in the docs' order 727)
    assert plain["line_items"][0]["price"] == 9 and plain["line_items"][0]["taxes"] == [
        {"id": 1, "total": "1.8", "subtotal": "2"}]
    assert plain["coupon_lines"][0]["discount"] == "5.00" and plain["tax_lines"][0]["rate_percent"] == 10.0
    inclusive = store.place_order([("A", 1)], tax_percent=10, prices_include_tax=True)
    line = inclusive["line_items"][0]
    assert (line["subtotal"], line["subtotal_tax"], inclusive["total"], inclusive["prices_include_tax"]) == (
        "9.09", "0.91", "10.00", True)
    for order in (plain, inclusive):
        lines = sum(Decimal(li["total"]) for li in order["line_items"])
        assert Decimal(order["total"]) == lines + Decimal(order["shipping_total"]) + Decimal(order["total_tax"])
        assert Decimal(order["discount_total"]) == sum(
            Decimal(li["subtotal"]) - Decimal(li["total"]) for li in order["line_items"])
    eur = store.place_order([("A", 1)], currency="EUR", billing={"email": "x@example.test", "first_name": "X"})
    assert (eur["currency"], eur["currency_symbol"], eur["billing"]["last_name"]) == ("EUR", "\u20ac", "")
    assert plain["billing"]["email"] and plain["shipping"]["phone"] == ""


def test_orders_over_rest(store, clock):
    seed_catalog(store)
    xl = store.product_by_sku("TSHIRT-XL")
    body = {"payment_method": "bacs", "status": "processing", "billing": {"email": "ada@example.test"},
            "line_items": [{"product_id": xl["id"], "quantity": 1}, {"sku": "WIDGET-1", "quantity": 2}]}
    created = call(store, "POST", "/orders", json=body)
    assert created.status_code == 201 and created.headers["Location"].endswith(f"/orders/{created.json()['id']}")
    order = created.json()
    assert [(li["product_id"], li["variation_id"], li["parent_name"]) for li in order["line_items"]] == [
        (xl["parent_id"], xl["id"], "T-Shirt"), (store.product_by_sku("WIDGET-1")["id"], 0, None)]
    assert order["line_items"][0]["meta_data"][0]["display_key"] == "Size" and order["total"] == "46.00"
    assert order["created_via"] == "rest-api" and order["date_paid"] is not None
    assert call(store, "POST", "/orders", json={"line_items": [{"quantity": 1}]}).json()["code"] == \
        "woocommerce_rest_required_product_reference"
    assert call(store, "POST", "/orders", json={"customer_id": 77}).json()["code"] == "woocommerce_rest_invalid_customer_id"
    assert call(store, "POST", "/orders", json={"coupon_lines": [{"code": "x"}]}).json()["message"] == \
        'Coupon "x" does not exist!'
    clock.advance(5)
    done = call(store, "PUT", f"/orders/{order['id']}", json={"status": "completed"}).json()
    assert done["date_modified_gmt"] == "2026-11-26T12:00:05" and done["date_completed_gmt"] == "2026-11-26T12:00:05"
    note = call(store, "POST", f"/orders/{order['id']}/notes", json={"note": "Exported.", "customer_note": False})
    assert (note.status_code, note.json()["author"]) == (201, "WooCommerce")
    assert _notes(store, order["id"])[:2] == ["Order status changed from Processing to Completed.", "Exported."]
    assert call(store, "POST", f"/orders/{order['id']}/notes", json={}).json()["code"] == "rest_missing_callback_param"
    assert get(store, "/orders/999/notes").json()["code"] == "woocommerce_rest_order_invalid_id"


def test_order_listing_filters_and_sorting(store, clock):
    store.add_product("A", "A", "1.00", stock=100)
    first = store.place_order([("A", 1)], status="processing")
    clock.advance(10)
    second = store.place_order([("A", 1)], status="on-hold")
    third = store.place_order([("A", 1)], status="completed")   # same second as `second`
    clock.advance(10)
    store.set_order_status(first["id"], "completed")
    ids = lambda **params: [o["id"] for o in get(store, "/orders", params=params).json()]  # noqa: E731
    assert ids() == [third["id"], second["id"], first["id"]]               # date desc, then id desc
    assert ids(status="processing,on-hold") == [second["id"]]
    assert [o["id"] for o in get(store, "/orders", params=[("status[]", "on-hold"), ("status[]", "completed")]).json()] \
        == [third["id"], second["id"], first["id"]]
    store.https_mode = True                                               # (OAuth would refuse the signature)
    repeated = get(store, "/orders", auth=(KEY, SECRET), params=[("status", "on-hold"), ("status", "processing")])
    assert repeated.json() == []                                          # repeated plain key: only the last
    store.https_mode = False
    cut = (T0 + timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%S")
    assert ids(modified_after=cut, dates_are_gmt="true", orderby="modified", order="asc") == [first["id"]]
    assert ids(orderby="id", order="asc", per_page=2, page=2) == [third["id"]]
    bad = get(store, "/orders", params={"status": "processing,bogus"}).json()
    assert bad["data"]["params"]["status"].startswith("status[1] is not one of any, trash, auto-draft, pending,")


def test_place_order_backdating_and_bad_input(store, clock):
    store.add_product("A", "A", "1.00", stock=3)
    store.add_variable_product("V", "V", [{"sku": "V-1", "price": "1", "stock": 1, "attributes": {"Size": "S"}}])
    old = store.place_order([("A", 1)], created_at=T0 - timedelta(days=2))
    assert old["date_created_gmt"] == "2026-11-24T12:00:00" and old["date_paid_gmt"] == "2026-11-24T12:00:00"
    with pytest.raises(ValueError):
        store.place_order([("V", 1)])
    with pytest.raises(ValueError):
        store.place_order([("A", 1)], status="shipped")
    assert len(store.orders()) == 1 and store.order(old["id"])["id"] == old["id"]


# --- admin HTTP routes, faults, threads -------------------------------------------------------------

def test_admin_http_routes(store):
    admin = store.url + "/__sandbox__/woo"
    seeded = requests.post(admin + "/products", json={"sku": "A-1", "name": "A", "price": "2.00", "stock": 4}, timeout=10)
    assert seeded.status_code == 201 and seeded.json()["stock_quantity"] == 4
    variable = requests.post(admin + "/products", json={"sku": "V", "name": "V", "stock": 3, "variations": [
        {"sku": "V-S", "price": "1.00", "stock": "parent", "attributes": {"Size": "S"}}]}, timeout=10)
    assert variable.status_code == 201 and variable.json()["type"] == "variable"
    placed = requests.post(admin + "/orders", json={"lines": [{"sku": "A-1", "quantity": 1}, ["V-S", 2]],
                                                    "status": "processing"}, timeout=10)
    assert placed.status_code == 201 and store.stock_of("A-1") == 3 and store.stock_of("V") == 1
    status = requests.put(f"{admin}/orders/{placed.json()['id']}/status", json={"status": "cancelled"}, timeout=10)
    assert status.json()["status"] == "cancelled" and store.stock_of("A-1") == 4
    assert requests.put(admin + "/stock/A-1", json={"quantity": 9}, timeout=10).json() == {"stock_quantity": 9}
    assert requests.get(admin + "/stock/A-1", timeout=10).json() == {"stock_quantity": 9}
    assert requests.get(admin + "/products/V-S", timeout=10).json()["manage_stock"] == "parent"
    assert [o["id"] for o in requests.get(admin + "/orders", timeout=10).json()] == [placed.json()["id"]]
    assert requests.delete(admin + "/products/A-1", timeout=10).json()["sku"] == "A-1"
    assert requests.get(admin + "/stock/A-1", timeout=10).status_code == 404
    assert requests.post(admin + "/orders", json={"lines": [], "bogus": 1}, timeout=10).status_code == 400
    assert store.server.count() == 0   # admin calls never reach the API request log


def test_faults_and_request_log_work_through_the_shared_server(store):
    store.server.inject_fault(method="GET", path="/products$", status=503, times=1, body={
        "code": "service_unavailable", "message": "The host is busy.", "data": {"status": 503}})
    assert get(store, "/products").status_code == 503
    assert get(store, "/products").status_code == 200
    assert store.server.count("GET", "/products$") == 2
    assert store.server.counts_by_route() == {"fault": 1, "GET /products": 1}


def test_concurrent_orders_keep_stock_consistent(store):
    store.add_product("HOT", "Hot", "1.00", stock=200)
    store.add_product("OTHER", "Other", "1.00", stock=5)

    def buy():
        for _ in range(10):
            assert call(store, "POST", "/orders", json={"status": "processing",
                                                        "line_items": [{"sku": "HOT", "quantity": 1}]}).ok

    threads = [threading.Thread(target=buy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.stock_of("HOT") == 160 and len(store.orders()) == 40


# --- WordPress's _fields global --------------------------------------------------------------------

def test_fields_trims_lists_and_objects_as_wordpress_does(store):
    """`_fields` (a WordPress global WooCommerce honours) keeps only the named keys, of each item of
    a list and of a single object; a nested key is named with a dot; a key the item lacks is left out."""
    seed_catalog(store)
    listed = get(store, "/products", params={"_fields": "id,sku,stock_quantity,no_such_key"}).json()
    assert listed and all(set(p) == {"id", "sku", "stock_quantity"} for p in listed)
    by_sku = get(store, "/products", params={"sku": "TSHIRT-S,WIDGET-1", "_fields": "id,sku,parent_id"}).json()
    assert sorted(p["sku"] for p in by_sku) == ["TSHIRT-S", "WIDGET-1"]
    assert all(set(p) == {"id", "sku", "parent_id"} for p in by_sku)
    one = get(store, f"/products/{listed[0]['id']}", params={"_fields": "id,dimensions.width"}).json()
    assert one == {"id": listed[0]["id"], "dimensions": {"width": ""}}
    # Without it, the whole item as before.
    assert {"name", "price", "_links"} <= set(get(store, "/products").json()[0])
