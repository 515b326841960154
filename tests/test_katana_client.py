"""KatanaClient against an in-memory fake Katana mounted as a requests adapter.

The fake goes through a real `requests.Session`, so the conftest gateway guard validates every body
the client sends against Katana's live-gateway DTOs. The fake deliberately IGNORES filters where
Katana might (it answers everything it holds), so each test also proves the client-side re-check.
Katana's own response examples (../shared PORTAL spec) are parsed into the models.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from _katana_gateway import Gateway, katana_api_path, load_gateway, load_yaml, openapi_to_jsonschema, request_json, unchecked
from _shared import require_shared
from katana_woo_sdk import ratelimit
from katana_woo_sdk.errors import (AuthError, NotFoundError, RateLimitedError, RejectedError, ServerError,
                                   TransportError, ApiError)
from katana_woo_sdk.katana import KatanaClient, SalesOrderNotOpenError
from katana_woo_sdk.models import (AddressDraft, Customer, CustomerDraft, Factory, InventoryRow, Location, SalesOrder,
                                   SalesOrderDraft, SalesOrderRow, SalesOrderRowDraft, StockAdjustment, TaxRate, Variant)
from katana_woo_sdk.ratelimit import TokenBucket

BASE = "https://api.katanamrp.com/v1"


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class FakeKatana(BaseAdapter):
    """Routes `(METHOD, path-without-/v1)` to handlers `(query, body) -> (status, payload[, headers])`;
    a list of payloads is served one page at a time with an X-Pagination header (strings, as SPEC shows)."""

    def __init__(self):
        super().__init__()
        self.routes: dict[tuple[str, str], Callable] = {}
        self.requests: list[tuple[str, str, dict, Any]] = []
        self.scripted: dict[tuple[str, str], list] = {}

    def on(self, method: str, path: str, handler):
        self.routes[(method, path)] = handler if callable(handler) else (lambda q, b, h=handler: (200, h))
        return self

    def script(self, method: str, path: str, *answers):
        self.scripted.setdefault((method, path), []).extend(answers)
        return self

    def list(self, path: str, items: list[dict]):
        def handler(query, body):
            limit, page = int(query.get("limit", ["50"])[0]), int(query.get("page", ["1"])[0])
            chunk = items[(page - 1) * limit: page * limit]
            pages = max(1, -(-len(items) // limit))
            pagination = {"total_records": str(len(items)), "total_pages": str(pages), "page": str(page),
                          "first_page": "true" if page == 1 else "false",
                          "last_page": "true" if page >= pages else "false"}
            return 200, {"data": chunk}, {"X-Pagination": json.dumps(pagination)}
        return self.on("GET", path, handler)

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        path = parts.path[len("/v1"):]
        query = parse_qs(parts.query, keep_blank_values=True)
        body = json.loads(request.body) if request.body else None
        self.requests.append((request.method, path, query, body))
        assert request.headers["Authorization"].startswith("Bearer ")
        key = (request.method, path)
        if self.scripted.get(key):
            answer = self.scripted[key].pop(0)
            if isinstance(answer, BaseException):
                raise answer
        else:
            handler = self.routes.get(key)
            if handler is None:
                answer = (404, {"error": {"statusCode": 404, "name": "NotFoundError", "message": "Not found"}})
            else:
                answer = handler(query, body)
        status, payload, *rest = answer
        resp = requests.Response()
        resp.status_code = status
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **(rest[0] if rest else {})})
        resp._content = b"" if payload is None else json.dumps(payload).encode()
        resp.url = request.url
        resp.request = request
        return resp

    def close(self):
        pass

    def sent(self, method: str | None = None, path: str | None = None):
        return [r for r in self.requests if (method is None or r[0] == method) and (path is None or r[1] == path)]


@pytest.fixture
def fake():
    return FakeKatana()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def katana(fake, clock):
    session = requests.Session()
    session.mount("https://", fake)
    client = KatanaClient(f"key-{uuid.uuid4()}", session=session, sleep=clock.sleep, clock=clock)
    yield client
    client.close()


def so_payload(id_, **over):
    base = {"id": id_, "order_no": f"WC-s-{id_}", "customer_id": 1, "location_id": 1, "status": "NOT_SHIPPED",
            "ecommerce_order_type": "wooCommerce", "ecommerce_store_name": "shop.example",
            "ecommerce_order_id": str(id_), "deleted_at": None, "additional_info": "keep me",
            "sales_order_rows": [{"id": id_ * 10, "variant_id": 5, "quantity": "2.00", "location_id": 1,
                                  "sales_order_id": id_, "linked_manufacturing_order_id": None}]}
    base.update(over)
    return base


# --- basics ----------------------------------------------------------------------------------------

def test_repr_auth_header_and_counter(katana, fake):
    fake.on("GET", "/factory", {"default_sales_location_id": 3, "base_currency_code": "EUR"})
    key = katana.http._headers["Authorization"].split()[1]
    assert key not in repr(katana) and "\n" not in repr(katana)
    assert katana.factory.get() == Factory(3, "EUR")
    assert katana.calls.snapshot() == {"katana GET /factory": 1}


def test_context_manager_and_empty_key():
    with pytest.raises(ValueError):
        KatanaClient("")
    with KatanaClient("k-" + uuid.uuid4().hex, limiter=False) as client:
        assert client.limiter is None and client.base_url == BASE


def test_one_bucket_per_key_across_clients():
    key = "shared-" + uuid.uuid4().hex
    a, b = KatanaClient(key), KatanaClient(key)
    assert a.limiter is b.limiter and isinstance(a.limiter, TokenBucket)
    assert KatanaClient("other-" + uuid.uuid4().hex).limiter is not a.limiter


def test_429_waits_retry_after_and_shares_the_penalty(fake, clock):
    key = f"key-{uuid.uuid4()}"
    session = requests.Session()
    session.mount("https://", fake)
    fake.script("GET", "/factory", (429, {"statusCode": 429, "name": "TooManyRequests", "message": "Too Many Requests"},
                                    {"Retry-After": "4"}))
    fake.on("GET", "/factory", {"default_sales_location_id": 1})
    one = KatanaClient(key, session=session, sleep=clock.sleep, clock=clock)
    assert one.factory.get().default_sales_location_id == 1
    assert sum(clock.sleeps) == pytest.approx(4.0)
    assert one.calls.total() == 2


def test_budget_is_never_exceeded_with_two_clients(fake, clock):
    key = f"key-{uuid.uuid4()}"
    session = requests.Session()
    session.mount("https://", fake)
    fake.on("GET", "/factory", {"default_sales_location_id": 1})
    one = KatanaClient(key, session=session, sleep=clock.sleep, clock=clock, rate=5, period=10.0)
    two = KatanaClient(key, session=session, sleep=clock.sleep, clock=clock)
    for _ in range(6):
        one.factory.get()
        two.factory.get()
    assert clock.now >= 100.0 + 20.0  # 12 sends at 5 per 10 s: two full waits


def test_server_remaining_is_trusted(fake, clock):
    key = f"key-{uuid.uuid4()}"
    session = requests.Session()
    session.mount("https://", fake)
    fake.on("GET", "/factory", lambda q, b: (200, {"default_sales_location_id": 1},
                                              {"X-Ratelimit-Limit": "60", "X-Ratelimit-Remaining": "0"}))
    client = KatanaClient(key, session=session, sleep=clock.sleep, clock=clock)
    client.factory.get()
    client.factory.get()
    assert clock.sleeps and clock.sleeps[0] == pytest.approx(60.0)


# --- locations, variants, inventory ----------------------------------------------------------------

def test_locations(katana, fake):
    fake.list("/locations", [{"id": 1, "name": "Main", "sales_allowed": True, "deleted_at": None},
                             {"id": 2, "name": "Old", "deleted_at": "2024-01-01T00:00:00.000Z"}])
    fake.on("GET", "/locations/1", {"id": 1, "name": "Main", "is_primary": True})
    assert [loc.id for loc in katana.locations.list()] == [1]
    assert [loc.id for loc in katana.locations.list(include_deleted=True)] == [1, 2]
    assert fake.sent("GET", "/locations")[1][2]["include_deleted"] == ["true"]
    assert katana.locations.get(1).is_primary
    with pytest.raises(NotFoundError):
        katana.locations.get(9)


def test_variants_by_skus_exact_case_sensitive_and_ignoring_deleted(katana, fake):
    fake.list("/variants", [
        {"id": 1, "sku": "MUG-1", "product_id": 1, "type": "product"},
        {"id": 2, "sku": "mug-1", "product_id": 1},                               # other case: not a match
        {"id": 3, "sku": "MUG-2", "deleted_at": "2024-01-01T00:00:00Z"},          # deleted
        {"id": 4, "sku": "MUG-2"},
        {"id": 5, "sku": "UNRELATED"},                                            # the filter was ignored
        {"id": 6, "sku": None},
    ])
    found = katana.variants.by_skus(["MUG-1", "MUG-2", "MUG-3", "", None, "MUG-1"])
    assert {sku: v.id for sku, v in found.items()} == {"MUG-1": 1, "MUG-2": 4}
    (_, _, query, _), = fake.sent("GET", "/variants")
    assert query["sku"] == ["MUG-1", "MUG-2", "MUG-3"] and query["limit"] == ["250"]


def test_variants_by_skus_chunks(katana, fake):
    fake.on("GET", "/variants", lambda q, b: (200, {"data": [{"id": int(s[1:]), "sku": s} for s in q["sku"]]}))
    skus = [f"S{i}" for i in range(1, 251)]
    found = katana.variants.by_skus(skus)
    assert len(found) == 250 and found["S250"].id == 250
    assert [len(r[2]["sku"]) for r in fake.sent("GET", "/variants")] == [100, 100, 50]
    assert katana.variants.by_skus([]) == {} and len(fake.sent("GET", "/variants")) == 3


def test_variants_by_ids_and_iter(katana, fake):
    fake.list("/variants", [{"id": 1, "sku": "A"}, {"id": 2, "sku": "B"}, {"id": 3, "sku": "C", "deleted_at": "2024-01-01"}])
    assert set(katana.variants.by_ids([1, 3])) == {1}
    assert fake.sent("GET", "/variants")[0][2]["ids"] == ["1", "3"]
    assert set(katana.variants.by_ids([3], include_deleted=True)) == {3}
    assert [v.sku for v in katana.variants.iter()] == ["A", "B"]


def test_inventory_rows_rechecked_decimal_and_chunked(katana, fake):
    rows = [{"variant_id": v, "location_id": loc, "quantity_in_stock": "7.00000", "quantity_committed": "2.50000",
             "quantity_expected": "0"} for v in range(1, 4) for loc in (1, 2)]
    fake.list("/inventory", rows)
    stock = katana.inventory.list(2, [1, 3, 99])
    assert set(stock) == {1, 3}
    assert stock[1] == InventoryRow(1, 2, Decimal("7.00000"), Decimal("2.50000"), Decimal(0))
    assert stock[1].available == Decimal("4.5")
    (_, _, query, _), = fake.sent("GET", "/inventory")
    assert query["location_id"] == ["2"] and query["variant_id"] == ["1", "3", "99"]
    assert set(katana.inventory.list(1)) == {1, 2, 3}
    assert katana.inventory.list(1, []) == {}


def test_inventory_pages_through_everything(katana, fake):
    fake.list("/inventory", [{"variant_id": v, "location_id": 1, "quantity_in_stock": "1"} for v in range(600)])
    assert len(katana.inventory.list(1)) == 600
    assert [r[2]["page"] for r in fake.sent("GET", "/inventory")] == [["1"], ["2"], ["3"]]


# --- sales orders ----------------------------------------------------------------------------------

def _draft(**over) -> SalesOrderDraft:
    fields = dict(order_no="WC-shop-1001", customer_id=7, location_id=3,
                  rows=(SalesOrderRowDraft(5, Decimal("2"), Decimal("9.99"), tax_rate_id=1, location_id=3),),
                  ecommerce_store_name="shop.example", ecommerce_order_id="1001",
                  order_created_date=datetime(2025, 1, 2, 10, tzinfo=timezone.utc), currency="EUR",
                  addresses=(AddressDraft("billing", "Jane", "Doe", line_1="1 Road", city="Town", country="EE"),),
                  additional_info="Imported from WooCommerce", customer_ref="#1001")
    fields.update(over)
    return SalesOrderDraft(**fields)


def test_sales_order_create_sends_a_gateway_valid_body(katana, fake):
    fake.on("POST", "/sales_orders", lambda q, b: (200, so_payload(1001, order_no=b["order_no"], location_id=3)))
    so = katana.sales_orders.create(_draft())
    assert isinstance(so, SalesOrder) and so.order_no == "WC-shop-1001" and so.location_id == 3
    (_, _, _, body), = fake.sent("POST", "/sales_orders")
    assert body["ecommerce_order_type"] == "wooCommerce" and body["sales_order_rows"][0]["quantity"] == 2


@pytest.mark.parametrize("failure", [
    (500, {"error": {"statusCode": 500, "message": "Internal"}}),
    (503, {"message": "unavailable"}),
    requests.exceptions.ReadTimeout("read timed out"),
])
def test_sales_order_create_not_resent_after_the_server_may_have_acted(katana, fake, failure):
    fake.script("POST", "/sales_orders", failure)
    fake.on("POST", "/sales_orders", lambda q, b: (200, so_payload(1)))
    with pytest.raises((ServerError, TransportError)):
        katana.sales_orders.create(_draft())
    assert len(fake.sent("POST", "/sales_orders")) == 1


def test_sales_order_create_resent_after_429(katana, fake, clock):
    fake.script("POST", "/sales_orders", (429, {"statusCode": 429}, {"Retry-After": "1"}))
    fake.on("POST", "/sales_orders", lambda q, b: (200, so_payload(1)))
    assert katana.sales_orders.create(_draft()).id == 1
    assert len(fake.sent("POST", "/sales_orders")) == 2


def test_sales_orders_list_rechecks_every_filter(katana, fake):
    fake.list("/sales_orders", [
        so_payload(1), so_payload(2, ecommerce_store_name="other.example", ecommerce_order_id="1"),
        so_payload(3, ecommerce_order_id="1", deleted_at="2024-05-05T00:00:00Z"),
        so_payload(4, ecommerce_order_id=1),  # a number on the wire is still order "1"
        so_payload(5, ecommerce_order_id="1", order_no="X", location_id=2),
    ])
    got = katana.sales_orders.list(ecommerce_store_name="shop.example", ecommerce_order_id=1)
    assert [so.id for so in got] == [1, 4, 5]
    assert [so.id for so in katana.sales_orders.list(ecommerce_store_name="shop.example", ecommerce_order_id="1",
                                                     include_deleted=True)] == [1, 3, 4, 5]
    assert [so.id for so in katana.sales_orders.list(order_no="X")] == [5]
    assert [so.id for so in katana.sales_orders.list(location_id=2)] == [5]
    assert [so.id for so in katana.sales_orders.list(ids=[2, 3, 9])] == [2]
    assert katana.sales_orders.list(ids=[]) == []
    query = fake.sent("GET", "/sales_orders")[1][2]
    assert query["ecommerce_store_name"] == ["shop.example"] and query["ecommerce_order_id"] == ["1"]
    assert query["include_deleted"] == ["true"]


def test_update_location_patches_so_echoing_additional_info_then_rows_left_behind(katana, fake):
    so = so_payload(7, location_id=1, sales_order_rows=[])
    fake.on("GET", "/sales_orders/7", so)
    fake.on("PATCH", "/sales_orders/7", lambda q, b: (200, {**so, "location_id": b["location_id"]}))
    fake.list("/sales_order_rows", [
        {"id": 70, "sales_order_id": 7, "variant_id": 5, "quantity": 1, "location_id": 1},
        {"id": 71, "sales_order_id": 7, "variant_id": 6, "quantity": 1, "location_id": 4},   # already moved
        {"id": 72, "sales_order_id": 7, "variant_id": 7, "quantity": 1, "location_id": 1,
         "linked_manufacturing_order_id": 9},                                                  # cannot move
        {"id": 80, "sales_order_id": 8, "variant_id": 5, "quantity": 1, "location_id": 1},   # another SO
    ])
    fake.on("PATCH", "/sales_order_rows/70", lambda q, b: (200, {"id": 70, "sales_order_id": 7, "variant_id": 5,
                                                                  "quantity": 1, "location_id": b["location_id"]}))
    moved = katana.sales_orders.update_location(7, 4)
    assert moved.location_id == 4
    assert {r.id: r.location_id for r in moved.rows} == {70: 4, 71: 4, 72: 1}
    (_, _, _, body), = fake.sent("PATCH", "/sales_orders/7")
    assert body == {"location_id": 4, "additional_info": "keep me"}
    assert fake.sent("GET", "/sales_order_rows")[0][2]["sales_order_ids"] == ["7"]
    assert [r[1] for r in fake.sent("PATCH")] == ["/sales_orders/7", "/sales_order_rows/70"]


def test_a_slim_order_is_read_whole_before_a_patch_echoes_its_additional_info(katana, fake):
    """A bulk listing's orders are slim (no `additional_info`): a PATCH built from one would send
    None and Katana may wipe the note, so set_customer and update_location read the SO first."""
    so = so_payload(7, location_id=1, sales_order_rows=[])
    fake.on("GET", "/sales_orders/7", so)
    fake.on("PATCH", "/sales_orders/7", lambda q, b: (200, {**so, **b}))
    fake.list("/sales_order_rows", [])
    slim = SalesOrder.from_api(so, slim=True)
    katana.sales_orders.set_customer(slim, 42)
    katana.sales_orders.update_location(7, 4, order=slim)
    bodies = [body for *_, body in fake.sent("PATCH", "/sales_orders/7")]
    assert bodies == [{"customer_id": 42, "additional_info": "keep me"},
                      {"location_id": 4, "additional_info": "keep me"}]
    assert len(fake.sent("GET", "/sales_orders/7")) == 2
    whole = SalesOrder.from_api(so)
    katana.sales_orders.set_customer(whole, 43)        # a whole order is not read again
    assert len(fake.sent("GET", "/sales_orders/7")) == 2


@pytest.mark.parametrize("status", ["DELIVERED", "PACKED", "PARTIALLY_DELIVERED"])
def test_update_location_refuses_a_shipped_order_before_sending(katana, fake, status):
    fake.on("GET", "/sales_orders/7", so_payload(7, status=status))
    with pytest.raises(SalesOrderNotOpenError) as err:
        katana.sales_orders.update_location(7, 4)
    assert status in str(err.value) and fake.sent("PATCH") == []


def test_update_location_refuses_a_deleted_order(katana, fake):
    fake.on("GET", "/sales_orders/7", so_payload(7, deleted_at="2024-01-01T00:00:00Z"))
    with pytest.raises(SalesOrderNotOpenError):
        katana.sales_orders.update_location(7, 4)


def test_update_location_already_there_only_fixes_rows(katana, fake):
    fake.on("GET", "/sales_orders/7", so_payload(7, location_id=4))
    fake.list("/sales_order_rows", [{"id": 70, "sales_order_id": 7, "variant_id": 5, "quantity": 1, "location_id": 4}])
    assert katana.sales_orders.update_location(7, 4, rows=True).rows[0].location_id == 4
    assert fake.sent("PATCH") == []


def test_sales_order_delete_and_rows_update(katana, fake):
    fake.on("DELETE", "/sales_orders/7", lambda q, b: (204, None))
    assert katana.sales_orders.delete(7) is None
    fake.on("PATCH", "/sales_order_rows/70", lambda q, b: (200, {"id": 70, "variant_id": 5, **b}))
    row = katana.sales_order_rows.update(70, location_id=2, quantity=Decimal("3"))
    assert row.location_id == 2 and row.quantity == 3
    assert fake.sent("PATCH")[0][3] == {"location_id": 2, "quantity": 3}
    with pytest.raises(TypeError):
        katana.sales_order_rows.update(70, ecommerce_order_id="x")


def test_shipping_fee_amount_is_a_string(katana, fake):
    fake.on("POST", "/sales_order_shipping_fee", lambda q, b: (200, {"id": 1, **b}))
    fee = katana.sales_order_shipping_fee.create(7, Decimal("4.90"), "Flat rate", tax_rate_id=2)
    assert fee["amount"] == "4.90"
    fake.list("/sales_order_shipping_fee", [{"id": 1, "sales_order_id": 7}, {"id": 2, "sales_order_id": 8}])
    assert [f["id"] for f in katana.sales_order_shipping_fee.list(7)] == [1]


# --- stock adjustments -----------------------------------------------------------------------------

def test_stock_adjustment_body(katana, fake):
    fake.on("POST", "/stock_adjustments", lambda q, b: (200, {"id": 9, **b, "stock_adjustment_rows": [
        {"id": i, **r} for i, r in enumerate(b["stock_adjustment_rows"])]}))
    sa = katana.stock_adjustments.create(
        "WC-IMPORT-shop-1", 3, [(1, Decimal("10"), Decimal("2.50")), (2, -3, 4), (3, 0, 1), (4, Decimal("1.5"))],
        reason="Initial stock import", date=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert isinstance(sa, StockAdjustment) and sa.id == 9
    (_, _, _, body), = fake.sent("POST", "/stock_adjustments")
    assert body == {"stock_adjustment_number": "WC-IMPORT-shop-1", "location_id": 3,
                    "reason": "Initial stock import", "stock_adjustment_date": "2025-01-01T00:00:00.000Z",
                    "stock_adjustment_rows": [{"variant_id": 1, "quantity": 10, "cost_per_unit": 2.5},
                                              {"variant_id": 2, "quantity": -3},
                                              {"variant_id": 4, "quantity": 1.5}]}
    with pytest.raises(ValueError):
        katana.stock_adjustments.create("N", 3, [(1, 0)])
    with pytest.raises(ValueError):
        katana.stock_adjustments.create("", 3, [(1, 1)])


def test_stock_adjustment_not_resent_after_500(katana, fake):
    fake.script("POST", "/stock_adjustments", (500, {"message": "boom"}))
    with pytest.raises(ServerError):
        katana.stock_adjustments.create("N-1", 3, [(1, 1)])
    assert len(fake.sent("POST", "/stock_adjustments")) == 1


def test_stock_adjustment_find_rechecked(katana, fake):
    fake.list("/stock_adjustments", [
        {"id": 1, "stock_adjustment_number": "WC-IMPORT-shop-1x", "location_id": 3},
        {"id": 2, "stock_adjustment_number": "WC-IMPORT-shop-1", "location_id": 4},
        {"id": 3, "stock_adjustment_number": "WC-IMPORT-shop-1", "location_id": 3, "deleted_at": "2024-01-01T00:00:00Z"},
        {"id": 4, "stock_adjustment_number": "WC-IMPORT-shop-1", "location_id": 3},
    ])
    assert katana.stock_adjustments.find("WC-IMPORT-shop-1", 3).id == 4
    assert katana.stock_adjustments.find("WC-IMPORT-shop-1").id == 2
    assert katana.stock_adjustments.find("nope") is None
    query = fake.sent("GET", "/stock_adjustments")[0][2]
    assert query["stock_adjustment_number"] == ["WC-IMPORT-shop-1"] and query["include_deleted"] == ["true"]


def test_stock_adjustment_find_deleted_only(katana, fake):
    fake.list("/stock_adjustments", [{"id": 3, "stock_adjustment_number": "N", "location_id": 3,
                                      "deleted_at": "2024-01-01T00:00:00Z"}])
    assert katana.stock_adjustments.find("N", 3).deleted_at is not None
    assert katana.stock_adjustments.find("N", 3, include_deleted=False) is None


# --- customers and tax rates -----------------------------------------------------------------------

def test_customers(katana, fake):
    fake.list("/customers", [{"id": 5, "name": "J", "email": "other@example.com"},
                             {"id": 4, "name": "J", "email": "Jane@Example.com ", "deleted_at": "2024-01-01"},
                             {"id": 3, "name": "Jane", "email": "jane@example.com", "reference_id": "woo:s:1"},
                             {"id": 6, "name": "Jane", "email": "JANE@example.com"}])
    assert katana.customers.find_by_email("Jane@Example.com").id == 3
    assert katana.customers.find_by_email("nobody@example.com") is None
    assert katana.customers.find_by_email("") is None
    assert katana.customers.find_by_reference_id("woo:s:1").id == 3
    assert katana.customers.find_by_reference_id("woo:s:") is None
    fake.on("POST", "/customers", lambda q, b: (200, {"id": 11, **b}))
    created = katana.customers.create(CustomerDraft("Jane Doe", email="jane@example.com", first_name="Jane",
                                                    reference_id="woo:s:2",
                                                    addresses=(AddressDraft("billing", city="Town"),)))
    assert isinstance(created, Customer) and created.id == 11 and created.reference_id == "woo:s:2"


def test_tax_rates(katana, fake):
    fake.list("/tax_rates", [{"id": 1, "rate": 15, "name": "15%"}, {"id": 2, "rate": "20.00", "name": "VAT"},
                             {"id": 3, "rate": 20, "name": "VAT again"}])
    assert katana.tax_rates.find_by_rate(Decimal("20")).id == 2
    assert katana.tax_rates.find_by_rate("15.0").id == 1
    assert katana.tax_rates.find_by_rate(7) is None
    assert fake.sent("GET", "/tax_rates")[0][2]["rate"] == ["20"]
    fake.on("POST", "/tax_rates", lambda q, b: (200, {"id": 4, **b}))
    assert katana.tax_rates.create(Decimal("7.5"), "VAT 7.5%") == TaxRate(4, Decimal("7.5"), "VAT 7.5%")
    assert fake.sent("POST", "/tax_rates")[0][3] == {"rate": 7.5, "name": "VAT 7.5%"}
    assert [t.id for t in katana.tax_rates.list()] == [1, 2, 3]


# --- errors ----------------------------------------------------------------------------------------

def test_auth_error_has_a_hint_and_no_key(fake, clock):
    key = f"secret-{uuid.uuid4()}"
    session = requests.Session()
    session.mount("https://", fake)
    fake.on("GET", "/factory", lambda q, b: (401, {"statusCode": 401, "name": "UnauthorizedError",
                                                   "message": "Unauthorized"}))
    with pytest.raises(AuthError) as err:
        KatanaClient(key, session=session, sleep=clock.sleep, clock=clock).factory.get()
    assert key not in str(err.value) and "Professional" in err.value.hint


def test_validation_error_details(katana, fake):
    fake.on("POST", "/tax_rates", lambda q, b: (422, {"error": {
        "statusCode": 422, "name": "UnprocessableEntityError", "code": "VALIDATION_FAILED", "message": "invalid",
        "details": [{"path": ".rate", "code": "maximum", "message": "should be <= 999.999"}]}}))
    with pytest.raises(RejectedError) as err:
        katana.tax_rates.create(5)
    assert err.value.code == "VALIDATION_FAILED" and err.value.details[0]["path"] == ".rate"


# --- ground truth from ../shared -------------------------------------------------------------------

PORTAL_MODELS = [
    ("/locations", "get", Location, True), ("/locations/{id}", "get", Location, False),
    ("/factory", "get", Factory, False), ("/variants", "get", Variant, True), ("/variants/{id}", "get", Variant, False),
    ("/inventory", "get", InventoryRow, True), ("/stock_adjustments", "get", StockAdjustment, True),
    ("/stock_adjustments", "post", StockAdjustment, False), ("/sales_orders", "get", SalesOrder, True),
    ("/sales_orders", "post", SalesOrder, False), ("/sales_orders/{id}", "get", SalesOrder, False),
    ("/sales_orders/{id}", "patch", SalesOrder, False), ("/sales_order_rows", "get", SalesOrderRow, True),
    ("/sales_order_rows/{id}", "patch", SalesOrderRow, False), ("/customers", "get", Customer, True),
    ("/customers", "post", Customer, False), ("/tax_rates", "get", TaxRate, True), ("/tax_rates", "post", TaxRate, False),
]


@pytest.fixture(scope="module")
def portal():
    return load_yaml(require_shared("specs", "katana-upstream-readme-portal.yaml"))


def _example(portal, path, method, status="200"):
    return portal["paths"][path][method]["responses"][status]["content"]["application/json"]["example"]


@pytest.mark.parametrize("path,method,model,is_list", PORTAL_MODELS, ids=[f"{m} {p}" for p, m, *_ in PORTAL_MODELS])
def test_portal_examples_parse_into_models(portal, path, method, model, is_list):
    example = _example(portal, path, method)
    payloads = example["data"] if is_list else [example]
    assert payloads
    for payload in payloads:
        obj = model.from_api(payload)
        assert obj.raw == payload
    if model is InventoryRow:
        assert isinstance(obj.quantity_in_stock, Decimal)
    if model is SalesOrder and method != "patch":
        assert obj.rows and all(isinstance(r.quantity, Decimal) for r in obj.rows)


def test_portal_examples_through_the_client(portal, katana, fake):
    fake.on("GET", "/inventory", _example(portal, "/inventory", "get"))
    fake.on("GET", "/sales_orders", _example(portal, "/sales_orders", "get"))
    rows = katana.inventory.list(1)
    assert rows and all(isinstance(r.quantity_committed, Decimal) for r in rows.values())
    shopify = _example(portal, "/sales_orders", "get")["data"][0]
    found = katana.sales_orders.list(ecommerce_store_name=shopify["ecommerce_store_name"],
                                     ecommerce_order_id=shopify["ecommerce_order_id"])
    assert [so.id for so in found] == [shopify["id"]]


@pytest.mark.parametrize("status,cls", [("401", AuthError), ("422", RejectedError), ("429", RateLimitedError),
                                        ("500", ServerError)])
def test_portal_error_examples(portal, status, cls):
    example = _example(portal, "/sales_orders", "post", status)
    err = ApiError.from_response(system="katana", method="POST", url=BASE + "/sales_orders", status=int(status),
                                 headers={"Content-Type": "application/json"}, body=json.dumps(example))
    assert type(err) is cls and err.api_message == example.get("message", "")
    wrapped = ApiError.from_response(system="katana", method="POST", url=BASE + "/sales_orders", status=int(status),
                                     headers={"Content-Type": "application/json"}, body=json.dumps({"error": example}))
    assert type(wrapped) is cls and wrapped.code == err.code and wrapped.details == err.details


# --- the gateway validator itself ------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return load_gateway(str(require_shared("specs", "katana-upstream-live-gateway.yaml")))


def test_nullable_becomes_a_type_union():
    schema = openapi_to_jsonschema({"type": "object", "properties": {
        "nullable": {"type": "string"},  # a property NAMED nullable is kept
        "a": {"type": "string", "nullable": True}, "b": {"enum": ["x"], "type": "string", "nullable": True},
        "c": {"allOf": [{"$ref": "#/x"}], "nullable": True}}})
    props = schema["properties"]
    assert props["nullable"] == {"type": "string"} and props["a"] == {"type": ["string", "null"]}
    assert props["b"]["enum"] == ["x", None] and props["c"]["anyOf"][1] == {"type": "null"}


def test_gateway_refuses_unknown_fields_and_accepts_our_bodies(gateway):
    assert gateway.validate("POST", "/sales_orders", _draft().to_api()) == []
    assert gateway.validate("POST", "/sales_orders", {**_draft().to_api(), "source": "x"})
    assert gateway.validate("PATCH", "/sales_orders/5", {"location_id": 2, "additional_info": None}) == []
    assert gateway.validate("PATCH", "/sales_orders/5", {"ecommerce_store_name": "x"})
    assert gateway.validate("POST", "/stock_adjustments", {"location_id": 1, "stock_adjustment_rows": []})  # no number
    assert gateway.validate("POST", "/sales_order_shipping_fee", {"sales_order_id": 1, "amount": 4.9})  # not a string
    assert gateway.validate("POST", "/no_such_thing", {}) == ["POST /no_such_thing: the live gateway has no such operation"]
    assert gateway.validate("PATCH", "/sales_order_rows/1", {"location_id": 2}) == []


def test_gateway_guard_helpers():
    headers = CaseInsensitiveDict({"Authorization": "Bearer k", "Content-Type": "application/json"})
    assert katana_api_path("http://127.0.0.1:5000/v1/sales_orders/5?x=1", headers) == "/sales_orders/5"
    assert katana_api_path("https://shop/wp-json/wc/v3/orders", headers) is None
    assert katana_api_path(BASE + "/x", CaseInsensitiveDict({"Authorization": "Basic abc"})) is None
    assert request_json(b'{"a": 1}', headers) == (True, {"a": 1})
    assert request_json(None, headers) == (False, None)


def test_unchecked_block_lets_an_invalid_body_through(katana, fake):
    fake.on("POST", "/tax_rates", lambda q, b: (200, {"id": 1, "rate": 5}))
    with unchecked():
        katana.http.request("POST", "/tax_rates", json={"rate": 5, "bogus": True}, creates=True)


# --- the same client against the sandbox's Katana emulator (issue 3 acceptance) --------------------

class EmulatorClock(FakeClock):
    """Wall-clock time for the emulator, advanced only by the client's (fake) sleeps."""

    def __init__(self):
        super().__init__()
        self.now = 1_750_000_000.0


@pytest.fixture
def emulator_cls():
    module = pytest.importorskip("katana_woo_sdk.sandbox.katana_emulator",
                                 reason="the sandbox Katana emulator is not in this checkout")
    return module.KatanaEmulator


@pytest.fixture
def emulated(emulator_cls):
    clock = EmulatorClock()
    emulator = emulator_cls(rate=60, clock=clock).start()
    bucket = TokenBucket(60, 60.0, clock=clock, sleep=clock.sleep, wall_clock=clock)
    client = KatanaClient(emulator.api_key, base_url=emulator.base_url, limiter=bucket, sleep=clock.sleep)
    yield emulator, client, clock
    client.close()
    emulator.stop()


def _emulated_draft(main: int, customer: int, variant_ids: list[int], woo_id: str = "1001") -> SalesOrderDraft:
    return _draft(order_no=f"WC-shop-{woo_id}", customer_id=customer, location_id=main, ecommerce_order_id=woo_id,
                  rows=tuple(SalesOrderRowDraft(v, Decimal("2"), Decimal("9.99"), location_id=main)
                             for v in variant_ids))


def test_emulator_end_to_end(emulated):
    emulator, katana, clock = emulated
    main = emulator.add_location("Main Warehouse", is_primary=True)["id"]
    shop = emulator.add_location("Shop")["id"]
    emulator.set_default_sales_location(main)
    for sku in ("MUG-1", "MUG-2", "mug-1"):
        emulator.add_variant(sku, product_name="Mug")
    emulator.set_stock("MUG-1", main, 10)

    assert {loc.name for loc in katana.locations.list()} == {"Main Warehouse", "Shop"}
    assert katana.factory.get().default_sales_location_id == main
    variants = katana.variants.by_skus(["MUG-1", "MUG-2", "MUG-9"])
    assert set(variants) == {"MUG-1", "MUG-2"} and variants["MUG-1"].sku == "MUG-1"
    ids = [variants["MUG-1"].id, variants["MUG-2"].id]
    stock = katana.inventory.list(main, ids)
    assert stock[ids[0]].quantity_in_stock == Decimal(10)

    customer = katana.customers.create(CustomerDraft("Jane Doe", email="jane@example.com", reference_id="woo:shop:7"))
    assert katana.customers.find_by_email("JANE@example.com").id == customer.id
    assert katana.customers.find_by_reference_id("woo:shop:7").id == customer.id
    tax = katana.tax_rates.find_by_rate(20) or katana.tax_rates.create(20, "VAT 20%")
    assert katana.tax_rates.find_by_rate(Decimal("20.000")).id == tax.id

    so = katana.sales_orders.create(_emulated_draft(main, customer.id, ids))
    assert so.ecommerce_order_type == "wooCommerce" and so.location_id == main
    found = katana.sales_orders.list(ecommerce_store_name="shop.example", ecommerce_order_id="1001",
                                     include_deleted=True)
    assert [s.id for s in found] == [so.id]
    assert katana.inventory.list(main, ids)[ids[0]].quantity_committed == Decimal(2)

    moved = katana.sales_orders.update_location(so.id, shop)
    assert moved.location_id == shop and {r.location_id for r in moved.rows} == {shop}
    again = katana.sales_orders.get(so.id)
    assert again.location_id == shop and again.raw.get("additional_info") == "Imported from WooCommerce"
    assert katana.inventory.list(shop, ids)[ids[0]].quantity_committed == Decimal(2)

    fee = katana.sales_order_shipping_fee.create(so.id, Decimal("4.90"), "Flat rate")
    assert Decimal(str(fee["amount"])) == Decimal("4.90")

    sa = katana.stock_adjustments.create("WC-IMPORT-shop-1", main, [(ids[0], 5, Decimal("3.5")), (ids[1], -1, 2)],
                                         reason="Initial stock import")
    assert katana.stock_adjustments.find("WC-IMPORT-shop-1", main).id == sa.id
    assert katana.stock_adjustments.find("WC-IMPORT-shop-1", shop) is None
    assert katana.inventory.list(main, ids)[ids[0]].quantity_in_stock == Decimal(15)

    emulator.deliver_sales_order(so.id)
    with pytest.raises(SalesOrderNotOpenError):
        katana.sales_orders.update_location(so.id, main)
    katana.sales_orders.delete(so.id)
    assert katana.sales_orders.list(ecommerce_store_name="shop.example", ecommerce_order_id="1001") == []
    assert [s.id for s in katana.sales_orders.list(ecommerce_order_id="1001", include_deleted=True)] == [so.id]


def test_emulator_pagination(emulated):
    emulator, katana, clock = emulated
    main = emulator.add_location("Main")["id"]
    for i in range(520):
        emulator.add_variant(f"SKU-{i:04d}", product_name=f"P{i}")
        emulator.set_stock(f"SKU-{i:04d}", main, i)
    assert len(list(katana.variants.iter())) == 520
    assert len(katana.inventory.list(main)) == 520
    assert katana.calls.snapshot() == {"katana GET /variants": 3, "katana GET /inventory": 3}
    assert emulator.server.count("GET", "/variants") == 3


def test_emulator_ignored_filters_are_rechecked(emulated):
    emulator, katana, clock = emulated
    main = emulator.add_location("Main")["id"]
    v = emulator.add_variant("A-1")["id"]
    customer = katana.customers.create(CustomerDraft("C"))
    for woo_id in ("1", "2", "3"):
        katana.sales_orders.create(_emulated_draft(main, customer.id, [v], woo_id))
    emulator.ignore_filter("sales_orders", "ecommerce_order_id")
    emulator.ignore_filter("variants", "sku")
    assert [s.ecommerce_order_id for s in katana.sales_orders.list(ecommerce_store_name="shop.example",
                                                                   ecommerce_order_id="2")] == ["2"]
    emulator.add_variant("B-1")
    assert set(katana.variants.by_skus(["B-1"])) == {"B-1"}


def test_emulator_429_is_waited_out_and_retried(emulator_cls):
    clock = EmulatorClock()
    with emulator_cls(rate=5, period=60.0, clock=clock) as emulator:
        emulator.add_location("Main")
        # A client that does not know the budget (another process on the key): Katana's 429 is honoured.
        blind = KatanaClient(emulator.api_key, base_url=emulator.base_url, limiter=False, sleep=clock.sleep)
        for _ in range(7):
            assert blind.locations.list()
        assert emulator.server.count(path="/locations") >= 7
        assert any(r.status == 429 for r in emulator.server.requests())
        assert clock.sleeps and all(s <= 60 for s in clock.sleeps)


def test_emulator_throttled_client_never_gets_a_429(emulator_cls):
    clock = EmulatorClock()
    with emulator_cls(rate=5, period=60.0, clock=clock) as emulator:
        emulator.add_location("Main")
        bucket = TokenBucket(60, 60.0, clock=clock, sleep=clock.sleep, wall_clock=clock)
        one = KatanaClient(emulator.api_key, base_url=emulator.base_url, limiter=bucket, sleep=clock.sleep)
        two = KatanaClient(emulator.api_key, base_url=emulator.base_url, limiter=bucket, sleep=clock.sleep)
        for _ in range(6):
            one.locations.list()
            two.factory.get()
        # The bucket adopted the server's X-Ratelimit-Limit of 5 after the first answer.
        assert bucket.rate == 5
        assert not any(r.status == 429 for r in emulator.server.requests())


def test_emulator_lost_create_answer_is_not_resent(emulated):
    emulator, katana, clock = emulated
    main = emulator.add_location("Main")["id"]
    v = emulator.add_variant("A-1")["id"]
    customer = katana.customers.create(CustomerDraft("C"))
    emulator.server.inject_fault(method="POST", path="/sales_orders$", status=502, after=True)
    with pytest.raises(ServerError):
        katana.sales_orders.create(_emulated_draft(main, customer.id, [v], "77"))
    assert emulator.server.count("POST", "/sales_orders$") == 1
    # ... and the natural-key lookup finds what the lost answer created.
    assert len(katana.sales_orders.list(ecommerce_store_name="shop.example", ecommerce_order_id="77")) == 1
    emulator.server.inject_fault(method="POST", path="/stock_adjustments$", drop=True, after=True)
    with pytest.raises(TransportError) as err:
        katana.stock_adjustments.create("SA-77", main, [(v, 1)])
    assert err.value.connect_failed is False
    assert katana.stock_adjustments.find("SA-77", main) is not None
    emulator.server.inject_fault(method="GET", path="/locations$", status=503, times=2)
    assert katana.locations.list()


def test_emulator_html_answer_is_unexpected(emulated):
    emulator, katana, clock = emulated
    emulator.server.inject_fault(method="GET", path="/factory$", status=202, html="<html>captcha</html>")
    with pytest.raises(Exception) as err:
        katana.factory.get()
    assert type(err.value).__name__ == "UnexpectedResponseError"


def test_emulator_via_sandbox_start():
    sandbox = pytest.importorskip("katana_woo_sdk.sandbox", reason="the sandbox is not in this checkout")
    with sandbox.start(dataset=None, katana_rate=None) as box:
        with KatanaClient(box.katana.api_key, base_url=box.katana.base_url, limiter=False) as katana:
            assert katana.locations.list() == []
            assert katana.factory.get() is not None
