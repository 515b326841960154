"""WooClient against real WooCommerce 10.0.2 answers: every recorded cassette, every interaction.

The cassettes (copies of ../shared/cassettes/woocommerce-10.0.2, see the README beside them) were
recorded by a plain `requests` script, so a few recorded requests are not exactly what the client
sends. The query matcher bridges only differences that cannot change the recorded answer:

* `page=1` equals no `page` (WordPress's default), and
* a recorded list request without `per_page` whose answer held the whole collection on one page
  (`X-WP-TotalPages` ≤ 1) matches the client's request with any `per_page` ≥ its `X-WP-Total`.

Everything else (method, scheme, host, port, path, every other parameter, JSON body) must match.
Each test replays its whole cassette and checks that every interaction was played.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Iterator

import pytest
import requests
import vcr
import yaml
from requests.auth import HTTPBasicAuth
from vcr.request import Request

from katana_woo_sdk._http import HttpClient
from katana_woo_sdk.errors import AuthError, ConfigError, NotFoundError, RejectedError
from katana_woo_sdk.models import StockWrite, WooOrder, WooProduct
from katana_woo_sdk.woo import SYSTEM, WooClient

from _shared import SHARED

CASSETTES = Path(__file__).resolve().parent / "cassettes" / "woocommerce-10.0.2"
HTTPS_STORE, HTTP_STORE = "https://woo.example.test", "http://woo.example.test"
# Fake but realistic credentials: every test checks they never reach a log line or an error.
CK, CS = "ck_cassette_replay_key_not_a_real_one_xy", "cs_cassette_replay_secret_not_a_real_one"
SECRET_PARAMS = ("consumer_key", "consumer_secret", "oauth_consumer_key", "oauth_nonce", "oauth_signature",
                 "oauth_signature_method", "oauth_timestamp", "oauth_version")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ALL_CASSETTES = ("catalog_setup", "list_products_paginated", "find_by_sku", "list_variations",
                 "batch_stock_update", "orders", "stock_after_orders", "errors", "oauth1_http")


# --- matching ------------------------------------------------------------------------------------

def _without_default_page(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in query if not (k == "page" and v == "1")]


def _complete_single_pages() -> dict[tuple, int]:
    """Recorded list GETs without per_page whose one page held the whole collection -> X-WP-Total."""
    found: dict[tuple, int] = {}
    for path in CASSETTES.glob("*.yaml"):
        for interaction in yaml.load(path.read_text(), Loader=_LOADER)["interactions"]:
            rec, resp = interaction["request"], interaction["response"]
            headers = {k.lower(): v[0] for k, v in resp["headers"].items()}
            if rec["method"] != "GET" or resp["status"]["code"] != 200 or "x-wp-totalpages" not in headers:
                continue
            request = Request("GET", rec["uri"], None, {})
            query = _without_default_page(request.query)
            if int(headers["x-wp-totalpages"]) <= 1 and not any(k == "per_page" for k, _ in query):
                found[(request.host, request.path, tuple(query))] = int(headers["x-wp-total"])
    return found


COMPLETE_SINGLE_PAGES = _complete_single_pages()


def woo_query(r1: Request, r2: Request) -> None:
    q1, q2 = _without_default_page(r1.query), _without_default_page(r2.query)
    if q1 == q2:
        return
    for live, recorded, rec_req in ((q1, q2, r2), (q2, q1, r1)):
        total = COMPLETE_SINGLE_PAGES.get((rec_req.host, rec_req.path, tuple(recorded)))
        per_page = [v for k, v in live if k == "per_page"]
        if total is not None and len(per_page) == 1 and per_page[0].isdigit() and int(per_page[0]) >= total:
            if [(k, v) for k, v in live if k != "per_page"] == recorded:
                return
    raise AssertionError(f"{q1} != {q2}")


def _echo_real_credentials(response: dict) -> dict:
    """Make Link headers look as the live store sent them: with the request's credentials inside."""
    headers = response.get("headers", {})
    for key in list(headers):
        if key.lower() == "link":
            headers[key] = [v.replace("consumer_key=REDACTED", f"consumer_key={CK}")
                             .replace("consumer_secret=REDACTED", f"consumer_secret={CS}") for v in headers[key]]
    return response


REPLAY = vcr.VCR(
    cassette_library_dir=str(CASSETTES), record_mode="none", serializer="yaml",
    filter_query_parameters=[(name, "REDACTED") for name in SECRET_PARAMS],
    match_on=["method", "scheme", "host", "port", "path", "woo_query", "body"],
    before_record_response=_echo_real_credentials,
)
REPLAY.register_matcher("woo_query", woo_query)


@contextmanager
def replay(name: str) -> Iterator[object]:
    with REPLAY.use_cassette(f"{name}.yaml", allow_playback_repeats=False) as cassette:
        yield cassette
        unplayed = [cassette.data[i][0].uri for i in range(len(cassette.data)) if not cassette.play_counts[i]]
        assert cassette.all_played, f"{name}: interactions never replayed: {unplayed}"


@pytest.fixture(autouse=True)
def no_secret_leaks(caplog):
    caplog.set_level(logging.DEBUG, logger="katana_woo_sdk")
    yield
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("katana_woo_sdk")]
    for secret in (CK, CS):
        assert not any(secret in line for line in ours), "a credential reached a log line"


def _recorded_json_bodies(name: str, method: str, path_suffix: str) -> list[dict]:
    data = yaml.load((CASSETTES / f"{name}.yaml").read_text(), Loader=_LOADER)
    return [json.loads(i["request"]["body"]) for i in data["interactions"]
            if i["request"]["method"] == method and i["request"]["uri"].endswith(path_suffix)]


def _no_secret(err: BaseException) -> None:
    assert CK not in str(err) and CS not in str(err)


def woo(**kwargs) -> WooClient:
    return WooClient(HTTPS_STORE, CK, CS, **kwargs)


# --- the cassettes are ours, identical to the shared recordings ----------------------------------

def test_every_cassette_is_copied_unchanged_and_replayed_here():
    here = sorted(p.stem for p in CASSETTES.glob("*.yaml"))
    assert here == sorted(ALL_CASSETTES)
    if SHARED is None or not (SHARED / "cassettes" / "woocommerce-10.0.2").is_dir():
        pytest.skip("../shared/cassettes/woocommerce-10.0.2 is not beside this checkout")
    shared = SHARED / "cassettes" / "woocommerce-10.0.2"
    assert sorted(p.stem for p in shared.glob("*.yaml")) == here
    for stem in here:
        assert (CASSETTES / f"{stem}.yaml").read_bytes() == (shared / f"{stem}.yaml").read_bytes(), stem


# --- 1. catalog_setup ----------------------------------------------------------------------------

def test_catalog_setup_products_variations_and_the_parent_stock_mode():
    products = _recorded_json_bodies("catalog_setup", "POST", "/products")
    variations = _recorded_json_bodies("catalog_setup", "POST", "/products/21/variations")
    with replay("catalog_setup"), woo() as client:
        created = [client.request("POST", "products", json=body) for body in products[:5]]
        assert [r.status for r in created] == [201] * 5
        w1, w2, w3, gift, shirt = (WooProduct.from_api(r.data) for r in created)
        assert (w1.id, w1.sku, w1.manage_stock, w1.stock_quantity) == (17, "WIDGET-1", True, 10)
        assert (w3.id, w3.stock_quantity) == (19, 4)
        assert (gift.manage_stock, gift.stock_quantity, gift.stock_status) == (False, None, "instock")
        assert (shirt.type, shirt.variations) == ("variable", ())

        made = [WooProduct.from_api(client.request("POST", "products/21/variations", json=b).data, parent_id=21)
                for b in variations[:3]]
        assert [(v.id, v.sku, v.parent_id, v.is_variation) for v in made] == [
            (22, "TSHIRT-S", 21, True), (23, "TSHIRT-M", 21, True), (24, "TSHIRT-L", 21, True)]
        assert (made[1].stock_quantity, made[1].stock_status) == (0, "outofstock")

        # "parent" is an output-only value: writing it is a 400 with the offending parameter named.
        with pytest.raises(RejectedError) as refused:
            client.request("POST", "products/21/variations", json=variations[3])
        assert refused.value.code == "rest_invalid_param" and "manage_stock" in refused.value.details
        xl = WooProduct.from_api(client.request("POST", "products/21/variations", json=variations[4]).data)
        assert (xl.sku, xl.manage_stock, xl.stock_quantity, xl.stock_managed_by) == ("TSHIRT-XL", "parent", 20, 21)

        sticker = WooProduct.from_api(client.request("POST", "products", json=products[5]).data)
        assert (sticker.id, sticker.sku, sticker.manage_stock) == (26, "", False)

        assert client.products.get(21).variations == (22, 23, 24, 25)


# --- 2. list_products_paginated ------------------------------------------------------------------

def test_pagination_by_id_is_complete_and_the_default_order_is_not(caplog):
    with replay("list_products_paginated"), woo() as client:
        # The store's default (date desc) over products created in the same second: pages overlap
        # and skip. This is why the client sorts by id; here we ask for the default on purpose.
        default_walk = list(client.products.iter(orderby=None, per_page=2))
        assert [p.sku for p in default_walk] == ["NOSTOCK-1", "TSHIRT", "WIDGET-2", "WIDGET-3"]  # repeats dropped
        assert "came twice while paging" in caplog.text                 # ... and reported
        assert "WIDGET-1" not in {p.sku for p in default_walk}          # skipped for good

        past_end = client.request("GET", "products", params={"per_page": 2, "page": 4})
        assert (past_end.status, past_end.data, past_end.headers["X-WP-TotalPages"]) == (200, [], "3")

        before = client.calls.by_route(SYSTEM).get("GET /products", 0)
        by_id = list(client.products.iter(per_page=2))
        assert [p.id for p in by_id] == [17, 18, 19, 20, 21, 26]
        assert client.calls.by_route(SYSTEM)["GET /products"] - before == 3   # stops at X-WP-TotalPages

        assert len(list(client.products.iter(orderby=None))) == 6          # per_page=100: one page

        with pytest.raises(ValueError):                                   # refused before sending
            client.products.iter(per_page=101)
        with pytest.raises(RejectedError) as too_many:                    # what the store says
            client.request("GET", "products", params={"per_page": 101})
        assert too_many.value.status == 400 and too_many.value.code == "rest_invalid_param"
        assert "between 1 (inclusive) and 100" in too_many.value.details["per_page"]


# --- 3. find_by_sku ------------------------------------------------------------------------------

def test_sku_lookup_returns_variations_and_nothing_for_unknown_skus():
    with replay("find_by_sku"), woo() as client:
        found = client.products.by_skus(["WIDGET-1", "TSHIRT-M"])
        assert list(found) == ["WIDGET-1", "TSHIRT-M"]
        assert (found["WIDGET-1"].id, found["WIDGET-1"].type) == (17, "simple")
        medium = found["TSHIRT-M"]
        assert (medium.id, medium.type, medium.parent_id, medium.is_variation) == (23, "variation", 21, True)
        assert client.products.by_skus(["TSHIRT-M"])["TSHIRT-M"].parent_id == 21
        assert client.products.by_skus(["NO-SUCH-SKU"]) == {}


# --- 4. list_variations --------------------------------------------------------------------------

def test_variations_of_a_parent():
    with replay("list_variations"), woo() as client:
        # Recorded in the store's default order; the client's default is orderby=id.
        variations = list(client.variations.iter(21, orderby=None))
    assert [v.id for v in variations] == [25, 24, 23, 22]
    assert all(v.parent_id == 21 and v.type == "variation" for v in variations)
    xl, _, medium, _ = variations
    assert (xl.name, xl.manage_stock, xl.stock_quantity, xl.stock_managed_by) == ("XL", "parent", 20, 21)
    assert (medium.stock_quantity, medium.stock_status) == (0, "outofstock")


# --- 5. batch_stock_update -----------------------------------------------------------------------

def test_stock_batches_per_item_errors_413_and_silently_ignored_writes():
    with replay("batch_stock_update"), woo() as client:
        # Simple products and variations in one call: two requests, results in the input order.
        writes = [StockWrite(17, 20), StockWrite(22, 8, parent_id=21), StockWrite(18, 30),
                  StockWrite(23, 3, parent_id=21)]
        results = client.stock.write(writes)
        assert [r.write for r in results] == writes
        assert [(r.applied, r.echoed_quantity) for r in results] == [(True, 20), (True, 8), (True, 30), (True, 3)]

        # A variation id sent to /products/batch: HTTP 200, but that item failed on its own.
        ok, wrong_route = client.stock.write([StockWrite(19, 6), StockWrite(22, 7)])
        assert ok.applied and ok.echoed_quantity == 6
        assert not wrong_route.applied
        assert wrong_route.error_code == "woocommerce_rest_invalid_product_id"
        assert "/products/<product_id>/variations/<id>" in wrong_route.reason   # HTML entities undone

        # Silently ignored: 200, no error, but the echo shows the quantity was dropped.
        gift = client.stock.write_one(StockWrite(20, 7))
        assert (gift.applied, gift.error_code, gift.echoed_quantity) == (False, "ignored_by_store", None)
        assert "manage_stock false" in gift.reason
        assert client.products.get(20).stock_quantity is None
        xl = client.stock.write_one(StockWrite(25, 3, parent_id=21))
        assert (xl.applied, xl.echoed_quantity) == (False, 20)
        assert 'manage_stock "parent"' in xl.reason and "#21" in xl.reason
        assert client.products.get(21).stock_quantity == 20

        # 413: a whole request refused. This store's limit is 100; a client told the limit is 101
        # sends 101 items at once and gets every one of them back not applied, with the reason.
        too_many = [StockWrite(pid, qty) for pid, qty in [(17, 20), (18, 30), (19, 6)] * 33 + [(17, 20), (18, 30)]]
        with woo(batch_limit=101) as lenient:
            refused = lenient.stock.write(too_many)
        assert len(refused) == 101 and not any(r.applied for r in refused)
        assert [r.write for r in refused] == too_many
        assert {r.error_code for r in refused} == {"woocommerce_rest_request_entity_too_large"}
        assert "413" in refused[0].reason and "at most 100 objects" in refused[0].reason


# --- 6. orders -----------------------------------------------------------------------------------

def test_orders_listing_modified_after_status_notes_and_deleted_product_lines():
    bodies = _recorded_json_bodies("orders", "POST", "/orders")
    temp_product = _recorded_json_bodies("orders", "POST", "/products")[0]
    with replay("orders"), woo() as client:
        created = [WooOrder.from_api(client.request("POST", "orders", json=b).data) for b in bodies[:7]]
        assert [(o.id, o.status, o.total) for o in created] == [
            (27, "processing", Decimal("50.50")), (28, "processing", Decimal("24.00")),
            (29, "on-hold", Decimal("51.00")), (30, "pending", Decimal("50.00")),
            (31, "completed", Decimal("63.00")), (32, "cancelled", Decimal("16.00")),
            (33, "processing", Decimal("60.00"))]
        shirt_line = created[0].line_items[0]
        assert (shirt_line.product_id, shirt_line.variation_id, shirt_line.sku) == (21, 22, "TSHIRT-S")
        xl_line = created[2].line_items[0]           # sent as {"product_id": 25}: normalised to parent + variation
        assert (xl_line.product_id, xl_line.variation_id) == (21, 25)

        assert client.request("POST", "products", json=temp_product).data["id"] == 34
        assert client.request("POST", "orders", json=bodies[7]).data["id"] == 35
        assert client.request("DELETE", "products/34", params={"force": True}).data["stock_quantity"] == 4

        gone = client.orders.get(35).line_items[0]
        assert (gone.name, gone.product_id, gone.variation_id, gone.sku, gone.quantity) == ("Temp Gadget", 0, 0,
                                                                                             None, 1)

        # Recorded in the store's default order (newest first).
        assert [o.id for o in client.orders.iter(orderby=None)] == [35, 33, 28, 27]

        since = datetime(2026, 11, 26, 15, 31, 14, tzinfo=timezone.utc)
        changed = list(client.orders.iter(statuses=None, modified_after=since))
        assert [o.id for o in changed] == [29, 30, 31, 32, 33, 35]
        stamps = [o.date_modified_gmt for o in changed]
        assert stamps == sorted(stamps) and all(s > since for s in stamps)

        assert client.orders.get(27).status == "processing"
        assert client.orders.update_status(27, "completed").status == "completed"
        note = client.orders.add_note(27, "Exported to the inventory system.")
        assert (note.note, note.customer_note, note.author) == ("Exported to the inventory system.", False,
                                                                "WooCommerce")
        assert client.orders.update_status(33, "cancelled").status == "cancelled"
        assert "Exported to the inventory system." in [n.note for n in client.orders.notes(27)]
        assert any("Stock levels increased" in n.note for n in client.orders.notes(33))
        assert all(n.author == "WooCommerce" for n in client.orders.notes(29))


# --- 7. stock_after_orders -----------------------------------------------------------------------

def test_stock_after_orders():
    with replay("stock_after_orders"), woo() as client:
        products = {p.sku: p for p in client.products.iter(orderby=None)}
        variations = {v.sku: v for v in client.variations.iter(21, orderby=None)}
    assert {s: p.stock_quantity for s, p in products.items()} == {
        "WIDGET-1": 19, "WIDGET-2": 27, "WIDGET-3": 5, "NOSTOCK-1": None, "TSHIRT": 19, "": None}
    assert {s: (v.manage_stock, v.stock_quantity) for s, v in variations.items()} == {
        "TSHIRT-S": (True, 6), "TSHIRT-M": (True, 3), "TSHIRT-L": (True, 10), "TSHIRT-XL": ("parent", 19)}


# --- 8. errors -----------------------------------------------------------------------------------

def test_errors_auth_hints_not_found_validation_duplicate_sku_and_query_string_auth():
    duplicate = _recorded_json_bodies("errors", "POST", "/products")[0]
    with replay("errors"):
        with woo() as client:
            with pytest.raises(AuthError) as wrong_secret:
                client.request("GET", "products")
            assert wrong_secret.value.code == "woocommerce_rest_authentication_error"
            assert "wrong consumer secret" in wrong_secret.value.hint
            with pytest.raises(AuthError) as unknown_key:
                client.request("GET", "orders")
            assert (unknown_key.value.status, unknown_key.value.code) == (401, "woocommerce_rest_cannot_view")
            assert "never reached" in unknown_key.value.hint and "hint:" in str(unknown_key.value)
            with pytest.raises(NotFoundError) as missing:
                client.products.get(999999)
            assert missing.value.code == "woocommerce_rest_product_invalid_id"
            with pytest.raises(RejectedError) as bogus:
                client.request("GET", "orders", params={"status": "bogus"})
            assert bogus.value.code == "rest_invalid_param" and "status" in bogus.value.details
            with pytest.raises(AuthError) as anonymous:
                client.request("GET", "orders", params={"status": "processing"})
            assert anonymous.value.code == "woocommerce_rest_cannot_view"
            with pytest.raises(RejectedError) as dup:
                client.request("POST", "products", json=duplicate)
            assert dup.value.code == "product_invalid_sku" and '"resource_id":17' in dup.value.body
            for err in (wrong_secret, unknown_key, missing, bogus, anonymous, dup):
                _no_secret(err.value)

        # Query-string auth over https: the store echoes the credentials into its Link header.
        with woo(query_string_auth=True) as client:
            page = client.request("GET", "products", params={"per_page": 1})
            assert page.status == 200 and len(page.data) == 1
            link = page.headers["Link"]
            assert "consumer_key=REDACTED" in link and "consumer_secret=REDACTED" in link
            assert CK not in link and CS not in link and CK not in page.url


# --- 9. oauth1_http ------------------------------------------------------------------------------

class _Capture(requests.Session):
    """A real Session that remembers what it sent (after auth signed it)."""

    def __init__(self):
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        return super().send(request, **kwargs)


def test_oauth1_over_http_in_query_and_header_bad_signature_and_basic_ignored():
    with replay("oauth1_http"):
        query_session = _Capture()
        with WooClient(HTTP_STORE, CK, CS, allow_insecure_http=True, session=query_session) as client:
            first = list(islice(client.products.iter(orderby=None, per_page=5), 5))   # page 1 only
        assert len(first) == 5 and first[0].raw["permalink"].startswith("http://")
        signed = query_session.sent[0]
        assert "oauth_signature_method=HMAC-SHA256" in signed.url and "Authorization" not in signed.headers

        header_session = _Capture()
        with WooClient(HTTP_STORE, CK, CS, allow_insecure_http=True, oauth1_in="header",
                       session=header_session) as client:
            again = list(islice(client.products.iter(orderby=None, per_page=5), 5))
        assert [p.id for p in again] == [p.id for p in first]
        authorization = header_session.sent[0].headers["Authorization"]
        authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
        assert authorization.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA256"' in authorization
        assert "oauth_" not in header_session.sent[0].url

        with WooClient(HTTP_STORE, CK, "cs_wrong", allow_insecure_http=True) as client:
            with pytest.raises(AuthError) as bad_signature:
                next(client.orders.iter(statuses=None, orderby=None, per_page=5))
        assert bad_signature.value.code == "woocommerce_rest_authentication_error"
        assert "Invalid signature" in bad_signature.value.api_message
        assert "bad OAuth signature" in bad_signature.value.hint
        _no_secret(bad_signature.value)

        # Why WooClient refuses Basic over http: the store ignores it without saying so.
        with pytest.raises(ConfigError, match="ignores HTTP Basic auth over http"):
            WooClient(HTTP_STORE, CK, CS)
        with HttpClient(SYSTEM, HTTP_STORE + "/wp-json/wc/v3", auth=HTTPBasicAuth(CK, CS)) as basic:
            with pytest.raises(AuthError) as ignored:
                basic.get("orders", {"status": "processing"})
        assert ignored.value.code == "woocommerce_rest_cannot_view"
        assert "over plain http Basic auth is ignored" in ignored.value.hint


def test_modified_after_accepts_any_timezone_and_sends_utc():
    """The same instant in another zone is the same recorded request."""
    since = datetime(2026, 11, 26, 17, 31, 14, tzinfo=timezone(timedelta(hours=2)))
    with REPLAY.use_cassette("orders.yaml", allow_playback_repeats=False), woo() as client:
        assert [o.id for o in client.orders.iter(statuses=None, modified_after=since)] == [29, 30, 31, 32, 33, 35]
