"""WooClient with a fake session: batching, verdicts, parameters, auth selection, secrets.

The fake session is the seam `_http` offers: it receives exactly what requests would send (it
prepares each request with the client's auth, so signatures and headers are real) and answers
like a WooCommerce 10.0.2 store (shapes taken from the recorded cassettes).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
import requests
import yaml
from requests.structures import CaseInsensitiveDict

from katana_woo_sdk._http import CallCounter, RetryPolicy
from katana_woo_sdk.errors import AuthError, ConfigError, UnexpectedResponseError
from katana_woo_sdk.models import StockWrite
from katana_woo_sdk.woo import WooClient

CASSETTES = Path(__file__).resolve().parent / "cassettes" / "woocommerce-10.0.2"
CK, CS = "ck_unit_test_key_not_a_real_one_zzzzzzzz", "cs_unit_test_secret_not_a_real_one_zzzzz"
STORE = "https://shop.example.com"


@dataclass
class Sent:
    method: str
    url: str
    path: str
    query: dict[str, str]
    body: Any
    headers: CaseInsensitiveDict
    kwargs: dict


@dataclass
class FakeStore:
    """`handler(sent) -> (status, body, headers)`; body is JSON-encoded unless bytes."""

    handler: Callable[[Sent], tuple[int, Any, dict]]
    sent: list[Sent] = field(default_factory=list)
    closed: int = 0

    def request(self, method, url, *, params=None, json=None, headers=None, auth=None, **kwargs):
        prepared = requests.Request(method, url, params=params, json=json, headers=headers, auth=auth).prepare()
        parts = urlsplit(prepared.url)
        body = None if prepared.body is None else globals()["json"].loads(prepared.body)
        sent = Sent(method, prepared.url, unquote(parts.path), dict(parse_qsl(parts.query)), body,
                    CaseInsensitiveDict(prepared.headers), kwargs)
        self.sent.append(sent)
        status, payload, extra = self.handler(sent)
        resp = requests.Response()
        resp.status_code = status
        resp._content = payload if isinstance(payload, bytes) else globals()["json"].dumps(payload).encode()
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json; charset=UTF-8", **extra})
        resp.url = prepared.url
        return resp

    def close(self):
        self.closed += 1


def client(handler, url=STORE, **kwargs) -> tuple[WooClient, FakeStore]:
    store = FakeStore(handler)
    kwargs.setdefault("sleep", lambda s: None)
    return WooClient(url, CK, CS, session=store, **kwargs), store


def recorded_response(cassette: str, index: int) -> Any:
    data = yaml.safe_load((CASSETTES / f"{cassette}.yaml").read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


# --- a store that applies stock writes -----------------------------------------------------------

CATALOGUE = {17: True, 18: True, 19: True, 20: False, 26: False}   # product id -> manage_stock
VARIATIONS = {22: 21, 23: 21, 24: 21, 25: 21}                       # variation id -> parent


def batch_store(sent: Sent) -> tuple[int, Any, dict]:
    items = sent.body["update"]
    if len(items) > 100:
        return 413, {"code": "woocommerce_rest_request_entity_too_large",
                     "message": "Unable to accept more than 100 items for this request.", "data": {"status": 413}}, {}
    echoes = []
    for item in items:
        pid, qty = item["id"], item["stock_quantity"]
        if sent.path == "/wp-json/wc/v3/products/batch":
            if pid in VARIATIONS:
                echoes.append({"id": pid, "error": {"code": "woocommerce_rest_invalid_product_id",
                                                    "message": "To manipulate product variations you should use "
                                                               "the /products/&lt;product_id&gt;/variations/&lt;id&gt; "
                                                               "endpoint.", "data": {"status": 404}}})
                continue
            managed = CATALOGUE.get(pid, True)
            echoes.append({"id": pid, "type": "simple", "manage_stock": managed,
                           "stock_quantity": qty if managed else None})
        else:
            parent = int(sent.path.split("/")[-3])
            managed = "parent" if pid == 25 else True
            echoes.append({"id": pid, "type": "variation", "parent_id": parent, "manage_stock": managed,
                           "stock_quantity": 20 if managed == "parent" else qty})
    return 200, {"update": echoes}, {}


# --- stock.write ---------------------------------------------------------------------------------

def test_batches_hold_at_most_100_and_split_products_from_each_parents_variations():
    writes = []
    for i in range(230):
        writes.append(StockWrite(1000 + i, i))
        if i < 120:
            writes.append(StockWrite(5000 + i, i, parent_id=21))
        if i < 5:
            writes.append(StockWrite(9000 + i, i, parent_id=30))
    woo, store = client(batch_store)
    results = woo.stock.write(writes)

    # Grouped in first-seen order (products, parent 21, parent 30), each group cut at 100.
    assert [(s.path, len(s.body["update"])) for s in store.sent] == [
        ("/wp-json/wc/v3/products/batch", 100), ("/wp-json/wc/v3/products/batch", 100),
        ("/wp-json/wc/v3/products/batch", 30), ("/wp-json/wc/v3/products/21/variations/batch", 100),
        ("/wp-json/wc/v3/products/21/variations/batch", 20), ("/wp-json/wc/v3/products/30/variations/batch", 5)]
    assert all(s.method == "POST" for s in store.sent)
    assert all(item.keys() == {"id", "stock_quantity"} for s in store.sent for item in s.body["update"])
    sent_ids = [item["id"] for s in store.sent for item in s.body["update"]]
    assert sorted(sent_ids) == sorted(w.product_id for w in writes)            # each exactly once
    assert [r.write for r in results] == writes                                # input order
    assert all(r.applied and r.echoed_quantity == r.write.quantity for r in results)
    assert woo.calls.by_route("woocommerce") == {"POST /products/batch": 3,
                                                 "POST /products/{id}/variations/batch": 3}


def test_batch_limit_follows_the_store():
    woo, store = client(batch_store, batch_limit=40)
    woo.stock.write([StockWrite(1000 + i, 1) for i in range(90)])
    assert [len(s.body["update"]) for s in store.sent] == [40, 40, 10]


def test_each_item_is_judged_on_its_echo():
    woo, store = client(batch_store)
    writes = [StockWrite(17, 5), StockWrite(22, 7), StockWrite(20, 7), StockWrite(25, 3, parent_id=21),
              StockWrite(23, 4, parent_id=21)]
    ok, wrong_route, unmanaged, parent_managed, variation = woo.stock.write(writes)
    assert ok.applied and variation.applied
    assert (wrong_route.applied, wrong_route.error_code) == (False, "woocommerce_rest_invalid_product_id")
    assert "/products/<product_id>/variations/<id>" in wrong_route.reason
    assert (unmanaged.applied, unmanaged.error_code) == (False, "ignored_by_store")
    assert "manage_stock false" in unmanaged.reason
    assert (parent_managed.applied, parent_managed.echoed_quantity) == (False, 20)
    assert 'manage_stock "parent"' in parent_managed.reason and "#21" in parent_managed.reason


def test_the_recorded_silent_ignore_is_caught_in_a_batch_too():
    """The store's real echo of a dropped write (cassette batch_stock_update #5), inside a batch."""
    echo = recorded_response("batch_stock_update", 4)
    assert (echo["id"], echo["manage_stock"], echo["stock_quantity"]) == (20, False, None)
    woo, _ = client(lambda sent: (200, {"update": [echo]}, {}))
    (result,) = woo.stock.write([StockWrite(20, 7)])
    assert not result.applied and "ignored by the store" in result.reason


def test_an_echo_with_another_quantity_or_missing_is_not_applied():
    def store(sent):
        return 200, {"update": [{"id": 17, "manage_stock": True, "stock_quantity": 4}]}, {}
    woo, _ = client(store)
    changed, missing = woo.stock.write([StockWrite(17, 5), StockWrite(18, 6)])
    assert not changed.applied and "echoed stock_quantity 4, 5 was sent" in changed.reason
    assert (missing.applied, missing.error_code) == (False, "missing_echo")


def test_echoes_are_paired_by_id_when_the_order_differs():
    def store(sent):
        items = list(reversed(sent.body["update"]))
        return 200, {"update": [{"id": i["id"], "manage_stock": True, "stock_quantity": i["stock_quantity"]}
                                for i in items]}, {}
    woo, _ = client(store)
    results = woo.stock.write([StockWrite(17, 1), StockWrite(18, 2), StockWrite(19, 3)])
    assert [(r.write.product_id, r.applied, r.echoed_quantity) for r in results] == [(17, True, 1), (18, True, 2),
                                                                                    (19, True, 3)]


def test_a_refused_request_fails_its_items_only_and_other_batches_still_go():
    def store(sent):
        if any(item["id"] == 250 for item in sent.body["update"]):
            return 413, {"code": "woocommerce_rest_request_entity_too_large",
                         "message": "Unable to accept more than 100 items for this request.", "data": {"status": 413}}, {}
        return batch_store(sent)
    woo, store_ = client(store)
    results = woo.stock.write([StockWrite(100 + i, 1) for i in range(250)])
    assert len(store_.sent) == 3
    assert [r.applied for r in results] == [True] * 100 + [False] * 100 + [True] * 50
    failed = results[150]
    assert failed.error_code == "woocommerce_rest_request_entity_too_large"
    assert "413" in failed.reason and "hint:" in failed.reason


def test_idempotent_batches_are_retried_after_a_gateway_error():
    answers = iter([(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})])
    woo, store = client(lambda sent: next(answers, None) or batch_store(sent),
                        retry=RetryPolicy(max_attempts=3, base=0.0))
    (result,) = woo.stock.write([StockWrite(17, 9)])
    assert result.applied and len(store.sent) == 2


def test_after_a_401_no_further_batch_is_sent():
    def store(sent):
        return 401, {"code": "woocommerce_rest_authentication_error",
                     "message": "The API key provided does not have write permissions.", "data": {"status": 401}}, {}
    woo, store_ = client(store)
    results = woo.stock.write([StockWrite(17, 1), StockWrite(22, 1, parent_id=21), StockWrite(30, 1, parent_id=29)])
    assert len(store_.sent) == 1
    assert not any(r.applied for r in results)
    assert results[1].reason.startswith("not sent: an earlier batch was refused")
    assert {r.error_code for r in results} == {"woocommerce_rest_authentication_error"}


def test_quantities_must_be_whole():
    woo, store = client(batch_store)
    whole, fractional = woo.stock.write([StockWrite(17, Decimal("7.00000")), StockWrite(18, Decimal("2.5"))])
    assert store.sent[0].body == {"update": [{"id": 17, "stock_quantity": 7}]}
    assert whole.applied and (fractional.applied, fractional.error_code) == (False, "invalid_quantity")
    assert woo.stock.write([]) == []


def test_write_one_uses_put_on_the_right_route():
    def store(sent):
        return 200, {"id": int(sent.path.rsplit("/", 1)[1]), "manage_stock": True,
                     "stock_quantity": sent.body["stock_quantity"]}, {}
    woo, store_ = client(store)
    assert woo.stock.write_one(StockWrite(17, 3)).applied
    assert woo.stock.write_one(StockWrite(22, 4, parent_id=21)).applied
    assert [(s.method, s.path, s.body) for s in store_.sent] == [
        ("PUT", "/wp-json/wc/v3/products/17", {"stock_quantity": 3}),
        ("PUT", "/wp-json/wc/v3/products/21/variations/22", {"stock_quantity": 4})]


# --- listing parameters --------------------------------------------------------------------------

def pages(items: list[dict], per_page_header=True):
    def store(sent):
        per_page, page = int(sent.query["per_page"]), int(sent.query["page"])
        chunk = items[(page - 1) * per_page: page * per_page]
        total_pages = -(-len(items) // per_page)
        headers = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(total_pages)} if per_page_header else {}
        return 200, chunk, headers
    return store


def order(i, modified="2026-11-26T15:31:20"):
    return {"id": i, "number": str(i), "status": "processing", "date_modified_gmt": modified, "line_items": []}


def test_orders_iter_sends_the_documented_parameters_and_is_lazy():
    woo, store = client(pages([order(i) for i in range(1, 251)]))
    since = datetime(2026, 11, 26, 17, 31, 14, 999999, tzinfo=timezone(timedelta(hours=2)))
    until = datetime(2026, 11, 27, 0, 0, 0)  # naive: UTC
    orders = woo.orders.iter(statuses=("processing", "on-hold"), modified_after=since, modified_before=until)
    assert store.sent == []                                        # nothing until iterated
    first = next(orders)
    assert first.id == 1 and len(store.sent) == 1
    assert store.sent[0].query == {"status": "processing,on-hold", "modified_after": "2026-11-26T15:31:14",
                                   "modified_before": "2026-11-27T00:00:00", "dates_are_gmt": "true",
                                   "orderby": "modified", "order": "asc", "per_page": "100", "page": "1"}
    assert [o.id for o in orders] == list(range(2, 251)) and len(store.sent) == 3


def test_orders_iter_defaults_and_the_store_default_order():
    woo, store = client(pages([]))
    assert list(woo.orders.iter()) == []
    assert store.sent[0].query == {"status": "processing", "orderby": "modified", "order": "asc",
                                   "per_page": "100", "page": "1"}
    list(woo.orders.iter(statuses=None, orderby=None, per_page=10, customer=5))
    assert store.sent[1].query == {"per_page": "10", "page": "1", "customer": "5"}


def test_listing_drops_repeats_when_pages_shift(caplog):
    data = [order(1), order(2), order(2), order(3)]                 # order 2 moved across a page edge
    woo, _ = client(pages(data))
    with caplog.at_level(logging.WARNING, logger="katana_woo_sdk"):
        assert [o.id for o in woo.orders.iter(per_page=2)] == [1, 2, 3]
    assert "came twice while paging" in caplog.text


def test_products_and_variations_are_listed_by_id_with_filters_encoded_for_wordpress():
    items = [{"id": i, "sku": f"S{i}", "type": "variation", "manage_stock": True, "stock_quantity": 1}
             for i in (22, 23)]
    woo, store = client(pages(items))
    assert [p.id for p in woo.products.iter(type="simple", include=[1, 2, 3], featured=True, search=None)] == [22, 23]
    assert store.sent[0].query == {"orderby": "id", "order": "asc", "per_page": "100", "page": "1", "type": "simple",
                                   "include": "1,2,3", "featured": "true"}
    with pytest.raises(ValueError, match="include is empty"):
        woo.orders.iter(include=[])                                     # would list every order
    variations = list(woo.variations.iter(21))
    assert store.sent[1].path == "/wp-json/wc/v3/products/21/variations"
    assert store.sent[1].query == {"orderby": "id", "order": "asc", "per_page": "100", "page": "1"}
    assert all(v.parent_id == 21 for v in variations)


def test_by_skus_chunks_rechecks_exactly_and_handles_commas():
    def store(sent):
        if "search_sku" in sent.query:
            term = sent.query["search_sku"]
            return 200, [{"id": 900, "sku": term}, {"id": 901, "sku": term + "-XL"}], {"X-WP-TotalPages": "1"}
        asked = sent.query["sku"].split(",")
        # MySQL's collation: a lookup for "widget-1" finds "WIDGET-1".
        found = [{"id": 100 + n, "sku": sku.upper(), "type": "simple"} for n, sku in enumerate(asked)
                 if sku != "MISSING"]
        return 200, found, {"X-WP-TotalPages": "1"}
    woo, store_ = client(store)
    skus = [f"SKU-{i}" for i in range(120)] + ["SKU-0", "widget-1", "MISSING", "A,B", ""]
    found = woo.products.by_skus(skus)
    sku_queries = [s.query["sku"].split(",") for s in store_.sent if "sku" in s.query]
    assert [len(q) for q in sku_queries] == [100, 22]
    assert all(s.query["per_page"] == "100" for s in store_.sent)
    assert [s.query for s in store_.sent if "search_sku" in s.query] == [{"search_sku": "A,B", "per_page": "100",
                                                                           "page": "1"}]
    assert "widget-1" not in found and "MISSING" not in found and "" not in found
    assert found["A,B"].id == 900 and "A,B-XL" not in found
    assert list(found)[:3] == ["SKU-0", "SKU-1", "SKU-2"] and len(found) == 121


def test_by_skus_keeps_urls_short():
    woo, store = client(lambda sent: (200, [], {"X-WP-TotalPages": "0"}))
    woo.products.by_skus(["X" * 100 + str(i) for i in range(80)])
    # SKU_QUERY_BUDGET: with OAuth's parameters and the rest, the whole URL stays well under 8 KB.
    assert len(store.sent) > 1 and all(len(s.query["sku"]) <= 4000 for s in store.sent)
    assert all(len(s.url) < 6000 for s in store.sent)


def test_order_writes():
    def store(sent):
        if sent.path.endswith("/notes") and sent.method == "POST":
            return 201, {"id": 18, "author": "WooCommerce", "note": sent.body["note"],
                         "customer_note": sent.body["customer_note"], "date_created_gmt": "2026-11-26T15:31:18"}, {}
        return 200, order(27) | {"status": sent.body["status"]}, {}
    woo, store_ = client(store)
    assert woo.orders.update_status(27, "completed").status == "completed"
    note = woo.orders.add_note(27, "Imported to Katana as SO-1")
    assert (note.id, note.customer_note, note.date_created_gmt.tzinfo) == (18, False, timezone.utc)
    assert [(s.method, s.path, s.body) for s in store_.sent] == [
        ("PUT", "/wp-json/wc/v3/orders/27", {"status": "completed"}),
        ("POST", "/wp-json/wc/v3/orders/27/notes", {"note": "Imported to Katana as SO-1", "customer_note": False})]


# --- errors --------------------------------------------------------------------------------------

def test_non_json_and_wrongly_shaped_answers_are_unexpected():
    captcha = (202, b"<html><body>SG-Captcha: challenge</body></html>", {"Content-Type": "text/html"})
    woo, _ = client(lambda sent: captcha)
    with pytest.raises(UnexpectedResponseError) as blocked:
        woo.products.get(17)
    assert "bot protection" in blocked.value.hint
    woo, _ = client(lambda sent: (200, [1, 2], {}))
    with pytest.raises(UnexpectedResponseError):
        woo.orders.get(27)


def test_401_cannot_view_is_an_auth_error_with_the_hint():
    woo, _ = client(lambda sent: (401, {"code": "woocommerce_rest_cannot_view",
                                        "message": "Sorry, you cannot list resources.", "data": {"status": 401}}, {}))
    with pytest.raises(AuthError) as err:
        next(woo.orders.iter())
    assert "never reached" in err.value.hint


def test_credentials_in_urls_and_link_headers_never_reach_errors_or_logs(caplog):
    answers = iter([(503, {"code": "busy", "message": "later", "data": {"status": 503}}, {"Retry-After": "0"})])

    def store(sent):
        link = f'<{sent.url}&page=2>; rel="next"'                    # WooCommerce echoes the query string
        return next(answers, None) or (400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): x",
                                             "data": {"status": 400}}, {"Link": link})
    woo, store_ = client(store, query_string_auth=True)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(Exception) as err:
            woo.request("GET", "products", params={"x": "1"})
    assert CS in store_.sent[0].url                                   # it was sent ...
    assert CS not in str(err.value) and CK not in str(err.value)      # ... and never shown
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("katana_woo_sdk")]
    assert ours and not any(CS in line or CK in line for line in ours)

    woo, _ = client(lambda sent: (200, [], {"Link": f'<{sent.url}&page=2>; rel="next"', "X-WP-TotalPages": "1"}),
                    query_string_auth=True)
    resp = woo.request("GET", "products")
    assert CS not in resp.headers["Link"] and "consumer_secret=REDACTED" in resp.headers["Link"]


# --- auth selection, configuration, repr ---------------------------------------------------------

def ok(sent):
    return 200, [], {"X-WP-TotalPages": "0"}


def test_https_uses_basic_auth():
    woo, store = client(ok)
    woo.request("GET", "products")
    expected = "Basic " + base64.b64encode(f"{CK}:{CS}".encode()).decode()
    assert store.sent[0].headers["Authorization"] == expected
    assert "consumer_key" not in store.sent[0].url and woo.auth_mode == "basic"


def test_https_query_string_auth_for_hosts_that_drop_the_authorization_header():
    woo, store = client(ok, query_string_auth=True)
    woo.request("GET", "products", params={"per_page": 1})
    assert store.sent[0].query == {"per_page": "1", "consumer_key": CK, "consumer_secret": CS}
    assert "Authorization" not in store.sent[0].headers


def wc_oauth1_signature(method: str, url: str, secret: str, extra: dict[str, str] | None = None) -> tuple[str, str]:
    """(expected, given) signature as WooCommerce's PHP computes it (class-wc-rest-authentication.php),
    written independently of oauthlib: rawurlencode keys and values, sort, join, encode again."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    params.update(extra or {})
    given = params.pop("oauth_signature")
    enc = lambda s: quote(s, safe="~")                               # PHP rawurlencode (RFC 3986)
    pairs = sorted((enc(k), enc(v)) for k, v in params.items())
    query = "%26".join(enc(f"{k}={v}") for k, v in pairs)
    base = f"{method}&{enc(f'{parts.scheme}://{parts.netloc}{parts.path}')}&{query}"
    algo = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}[params["oauth_signature_method"]]
    digest = hmac.new(f"{secret}&".encode(), base.encode(), algo).digest()
    return base64.b64encode(digest).decode(), given


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9000",
                                 "http://127.5.6.7/shop"])
def test_loopback_http_signs_oauth1_hmac_sha256_in_the_query(url):
    woo, store = client(ok, url=url)
    list(woo.orders.iter(statuses=("processing", "on-hold"), modified_after=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    sent = store.sent[0]
    assert "Authorization" not in sent.headers and woo.auth_mode == "oauth1-query"
    assert sent.query["oauth_signature_method"] == "HMAC-SHA256" and sent.query["oauth_consumer_key"] == CK
    assert "oauth_token" not in sent.query and CS not in sent.url
    expected, given = wc_oauth1_signature("GET", sent.url, CS)
    assert given == expected


def test_oauth1_in_the_header_and_on_writes():
    woo, store = client(lambda sent: (200, {"update": []}, {}), url="http://127.0.0.1:8080", oauth1_in="header")
    woo.stock.write([StockWrite(17, 1)])
    sent = store.sent[0]
    header = sent.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth ") and "oauth_" not in sent.url
    oauth = {k.strip(): unquote(v.strip('"')) for k, v in (p.split("=", 1) for p in header[6:].split(","))}
    expected, given = wc_oauth1_signature("POST", sent.url, CS, oauth)
    assert given == expected                                            # JSON bodies are not signed


def test_plain_http_to_another_host_is_refused_unless_allowed():
    with pytest.raises(ConfigError, match="ignores HTTP Basic auth over http"):
        WooClient("http://shop.example.com", CK, CS)
    woo, store = client(ok, url="http://shop.example.com", allow_insecure_http=True)
    woo.request("GET", "products")
    assert "oauth_signature=" in store.sent[0].url
    with pytest.raises(ConfigError, match="query parameters"):
        WooClient("http://127.0.0.1", CK, CS, query_string_auth=True)


@pytest.mark.parametrize("url", ["ftp://shop.example.com", "shop.example.com", "https://", "https://u:p@shop.example.com",
                                 "https://shop.example.com/?a=1"])
def test_bad_store_urls_are_config_errors(url):
    with pytest.raises(ConfigError) as err:
        WooClient(url, CK, CS)
    assert "p@" not in str(err.value)


def test_bad_options_are_config_errors(tmp_path):
    for kwargs in ({"oauth1_in": "body"}, {"batch_limit": 0}, {"verify": str(tmp_path / "missing.pem")}):
        with pytest.raises(ConfigError):
            WooClient(STORE, CK, CS, **kwargs)
    with pytest.raises(ConfigError):
        WooClient(STORE, "", CS)


def test_base_url_host_and_verify(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    woo, store = client(ok, url="HTTPS://Shop.Example.com:8443/store/wp-json/wc/v3/", verify=bundle)
    assert (woo.url, woo.host) == ("https://shop.example.com:8443/store", "shop.example.com:8443")
    woo.request("GET", "products")
    assert store.sent[0].url.startswith("https://shop.example.com:8443/store/wp-json/wc/v3/products")
    assert store.sent[0].kwargs["verify"] == str(bundle)
    woo, store = client(ok, verify=False)
    woo.request("GET", "products")
    assert store.sent[0].kwargs["verify"] is False
    woo, store = client(ok)
    woo.request("GET", "products")
    assert store.sent[0].kwargs["verify"] is True


def test_repr_is_one_line_without_secrets_and_the_session_is_left_to_its_owner():
    woo, store = client(ok, name="eu-store")
    text = repr(woo)
    assert text == "WooClient('eu-store', host='shop.example.com', auth='basic')"
    assert CK not in text and CS not in text
    with woo:
        pass
    assert store.closed == 0                                          # the caller's session stays open
    assert repr(WooClient("http://127.0.0.1:8080", CK, CS)) == "WooClient(host='127.0.0.1:8080', auth='oauth1-query')"


def test_a_shared_call_counter_counts_every_request():
    counter = CallCounter()
    woo, _ = client(pages([order(1)]), counter=counter)
    list(woo.orders.iter())
    woo.products.by_skus(["A"])
    assert woo.calls is counter
    assert counter.snapshot() == {"woocommerce GET /orders": 1, "woocommerce GET /products": 1}


# --- the same client against the sandbox's WooCommerce emulator (OAuth1 over loopback http) ------

@pytest.fixture
def emulator():
    module = pytest.importorskip("katana_woo_sdk.sandbox.woo_emulator", reason="the Woo emulator has not landed")
    with module.WooEmulator("shop", consumer_key=CK, consumer_secret=CS) as store:
        for n in range(1, 6):
            store.add_product(f"WIDGET-{n}", f"Widget {n}", "12.50", stock=10 * n)
        store.add_product("NOSTOCK-1", "Gift Card", "25.00", stock=None)
        store.add_variable_product("TSHIRT", "T-Shirt", [
            {"sku": "TSHIRT-S", "price": "19.00", "stock": 5, "attributes": {"Size": "S"}},
            {"sku": "TSHIRT-M", "price": "19.00", "stock": 0, "attributes": {"Size": "M"}},
            {"sku": "TSHIRT-XL", "price": "21.00", "stock": None, "attributes": {"Size": "XL"}}], stock=20)
        yield store


@pytest.mark.parametrize("oauth1_in", ["query", "header"])
def test_emulator_oauth1_pagination_sku_lookup_and_variations(emulator, oauth1_in):
    with WooClient(emulator.url, CK, CS, oauth1_in=oauth1_in) as woo:
        assert woo.auth_mode == f"oauth1-{oauth1_in}"
        listed = list(woo.products.iter(per_page=2))
        assert [p.sku for p in listed] == ["WIDGET-1", "WIDGET-2", "WIDGET-3", "WIDGET-4", "WIDGET-5", "NOSTOCK-1",
                                           "TSHIRT"]
        assert woo.calls.by_route("woocommerce")["GET /products"] == 4
        shirt = listed[-1]
        found = woo.products.by_skus(["WIDGET-2", "TSHIRT-M", "NO-SUCH-SKU"])
        assert list(found) == ["WIDGET-2", "TSHIRT-M"]
        assert (found["TSHIRT-M"].type, found["TSHIRT-M"].parent_id) == ("variation", shirt.id)
        variations = list(woo.variations.iter(shirt.id))
        assert [v.sku for v in variations] == ["TSHIRT-S", "TSHIRT-M", "TSHIRT-XL"]
        assert variations[2].manage_stock == "parent" and variations[2].stock_managed_by == shirt.id
        assert woo.products.get(shirt.id).variations == tuple(v.id for v in variations)


def test_emulator_stock_batches_item_errors_and_silent_ignores(emulator):
    with WooClient(emulator.url, CK, CS) as woo:
        skus = woo.products.by_skus(["WIDGET-1", "WIDGET-2", "NOSTOCK-1", "TSHIRT-S", "TSHIRT-M", "TSHIRT-XL"])
        s, m, xl = skus["TSHIRT-S"], skus["TSHIRT-M"], skus["TSHIRT-XL"]
        results = woo.stock.write([
            StockWrite(skus["WIDGET-1"].id, 7), StockWrite(s.id, 9, parent_id=s.parent_id),
            StockWrite(m.id, 1),                                     # a variation sent as a product
            StockWrite(skus["NOSTOCK-1"].id, 3),                     # manage_stock false
            StockWrite(xl.id, 2, parent_id=xl.parent_id),            # manage_stock "parent"
            StockWrite(skus["WIDGET-2"].id, 0)])
        assert [r.applied for r in results] == [True, True, False, False, False, True]
        assert results[2].error_code == "woocommerce_rest_invalid_product_id"
        assert "manage_stock false" in results[3].reason and 'manage_stock "parent"' in results[4].reason
        assert [emulator.stock_of(k) for k in ("WIDGET-1", "TSHIRT-S", "TSHIRT-M", "NOSTOCK-1", "TSHIRT", "WIDGET-2")] \
            == [7, 9, 0, None, 20, 0]

    with WooClient(emulator.url, CK, CS, batch_limit=101) as lenient:    # the store's limit is 100
        refused = lenient.stock.write([StockWrite(skus["WIDGET-1"].id, 1)] * 101)
    assert {r.error_code for r in refused} == {"woocommerce_rest_request_entity_too_large"}
    assert emulator.stock_of("WIDGET-1") == 7


def test_emulator_many_products_go_in_batches_of_100(emulator):
    for n in range(150):
        emulator.add_product(f"BULK-{n}", f"Bulk {n}", "1.00", stock=1)
    with WooClient(emulator.url, CK, CS) as woo:
        products = woo.products.by_skus(f"BULK-{n}" for n in range(150))
        assert len(products) == 150 and woo.calls.by_route("woocommerce")["GET /products"] == 2   # 100 + 50
        results = woo.stock.write([StockWrite(p.id, 40) for p in products.values()])
        assert all(r.applied for r in results)
        assert woo.calls.by_route("woocommerce")["POST /products/batch"] == 2
    assert {emulator.stock_of(f"BULK-{n}") for n in range(150)} == {40}


def test_emulator_orders_listing_status_notes_and_deleted_products(emulator):
    emulator.add_product("TEMP-1", "Temp Gadget", "3.00", stock=5)
    before = datetime.now(timezone.utc) - timedelta(seconds=2)
    first = emulator.place_order([("WIDGET-1", 1), ("TSHIRT-S", 2)])
    held = emulator.place_order([("WIDGET-2", 1)], status="on-hold")
    temp = emulator.place_order([("TEMP-1", 1)])
    emulator.delete_product("TEMP-1")
    with WooClient(emulator.url, CK, CS) as woo:
        assert [o.id for o in woo.orders.iter(modified_after=before)] == [first["id"], temp["id"]]
        assert [o.id for o in woo.orders.iter(statuses=("processing", "on-hold"), modified_after=before)] == [
            first["id"], held["id"], temp["id"]]
        line = woo.orders.get(first["id"]).line_items[1]
        assert (line.sku, line.quantity, line.variation_id > 0) == ("TSHIRT-S", 2, True)
        gone = woo.orders.get(temp["id"]).line_items[0]
        assert (gone.product_id, gone.sku, gone.name) == (0, None, "Temp Gadget")
        assert woo.orders.update_status(first["id"], "completed").status == "completed"
        note = woo.orders.add_note(first["id"], "Imported to Katana as sales order SO-1.")
        assert note.note in [n.note for n in woo.orders.notes(first["id"])]


def test_emulator_wrong_secret_is_an_auth_error_without_secrets(emulator):
    with WooClient(emulator.url, CK, "cs_wrong") as woo:
        with pytest.raises(AuthError) as err:
            woo.products.get(17)
    assert err.value.code == "woocommerce_rest_authentication_error" and "OAuth signature" in err.value.hint
    assert CK not in str(err.value) and "cs_wrong" not in str(err.value)
