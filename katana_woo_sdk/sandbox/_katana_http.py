"""The Katana emulator's HTTP face: routes under `/v1`, auth, rate limit, query filters, pagination.

Called by `katana_emulator.KatanaEmulator`, which registers `KatanaApi.routes()` on its
`EmulatorServer`. Each handler parses the query the way Katana does and calls `_katana_data`
under the emulator's lock. Wire conventions reproduced here:
- errors are wrapped `{"error": {statusCode, name, message[, code, details]}}` (verified live);
- every answer carries `X-Ratelimit-Limit/Remaining/Reset` (when a limit is set);
- lists are `{"data": [...]}` with `limit` (default 50, clamped to 250) and 1-based `page`, and an
  `X-Pagination` header whose values are all strings;
- unknown query parameters, and filters whose value does not parse, are silently ignored, as Katana
  documents; a *declared* filter can be made to be ignored too (`ignore_filter`), because Katana
  was seen doing that live;
- array parameters take repeated keys (`sku=A&sku=B`) or `ids[]=`; a comma is part of the value,
  never a separator (so `sku=A,B` looks for the SKU "A,B").
"""
from __future__ import annotations

import hmac
import json
import math
import threading
from decimal import Decimal
from typing import Any, Callable, Iterable

from ._katana_data import KatanaData
from ._katana_model import KatanaApiError, dec, detail, invalid, not_found, parse_date
from ._katana_ratelimit import RateLimiter
from ._server import Request, Response

DEFAULT_LIMIT = 50
MAX_LIMIT = 250


class Query:
    """Typed access to a request's query string.

    A filter whose value does not parse is not applied, like an unknown one: Katana documents that
    "if an invalid parameter is added to the filter, it won't be applied to the results". Only
    the pagination parameters are strict (`page_args`), since the gateway models them as a schema.
    """

    def __init__(self, request: Request, ignored: Iterable[str] = ()):
        self._q = request.query
        self._ignored = set(ignored)

    def strs(self, name: str) -> list[str]:
        if name in self._ignored:
            return []
        return list(self._q.get(name, [])) + list(self._q.get(name + "[]", []))

    def str(self, name: str) -> str | None:
        values = self.strs(name)
        return values[-1] if values else None

    def ints(self, name: str) -> list[int]:
        out = []
        for value in self.strs(name):
            try:
                out.append(int(value))
            except ValueError:
                continue
        return out

    def int(self, name: str) -> int | None:
        values = self.ints(name)
        return values[-1] if values else None

    def bool(self, name: str) -> bool | None:
        value = (self.str(name) or "").lower()
        return True if value in ("true", "1") else False if value in ("false", "0") else None

    def number(self, name: str) -> Decimal | None:
        try:
            return dec(self.str(name)) if self.str(name) is not None else None
        except ValueError:
            return None

    def date(self, name: str):
        try:
            return parse_date(self.str(name))
        except ValueError:
            return None

    def page_args(self) -> tuple[int, int]:
        out = []
        for name, default in (("limit", DEFAULT_LIMIT), ("page", 1)):
            raw = self._q.get(name, [])
            if not raw:
                out.append(default)
                continue
            try:
                value = int(raw[-1])
            except ValueError:
                raise _query_error(name, "type", "should be integer", type="integer") from None
            if value < 1:
                raise _query_error(name, "minimum", "should be >= 1", comparison=">=", limit=1)
            out.append(value)
        return out[0], out[1]


def _query_error(name: str, code: str, message: str, **info: Any) -> KatanaApiError:
    error = invalid([detail(f".{name}", code, message, **info)])
    error.message = "The request query is invalid. See error object `details` property for more info."
    return error


def _filter_eq(items: list, key: Callable[[Any], Any], wanted: Any) -> list:
    return items if wanted is None else [item for item in items if key(item) == wanted]


def _filter_in(items: list, key: Callable[[Any], Any], wanted: list) -> list:
    return items if not wanted else [item for item in items if key(item) in wanted]


def _filter_dates(items: list[dict[str, Any]], q: Query) -> list[dict[str, Any]]:
    for field in ("created_at", "updated_at"):
        low, high = q.date(f"{field}_min"), q.date(f"{field}_max")
        if low is not None:
            items = [i for i in items if i.get(field) and parse_date(i[field]) >= low]
        if high is not None:
            items = [i for i in items if i.get(field) and parse_date(i[field]) <= high]
    return items


class KatanaApi:
    """Route handlers; `lock` guards `data`, `limiter` may be None (no rate limit)."""

    def __init__(self, data: KatanaData, lock: threading.RLock, *, api_key: Callable[[], str],
                 limiter: RateLimiter | None):
        self.data, self.lock, self._api_key, self.limiter = data, lock, api_key, limiter
        self.ignored_filters: dict[str, set[str]] = {}

    # --- plumbing ---------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Response]]]:
        n = r"(?P<id>\d+)"
        table = [
            ("GET", "/locations", self.list_locations), ("GET", f"/locations/{n}", self.get_location),
            ("GET", "/factory", self.get_factory),
            ("GET", "/variants", self.list_variants), ("GET", f"/variants/{n}", self.get_variant),
            ("GET", "/inventory", self.list_inventory),
            ("GET", "/stock_adjustments", self.list_stock_adjustments),
            ("POST", "/stock_adjustments", self.create_stock_adjustment),
            ("GET", "/sales_orders", self.list_sales_orders), ("POST", "/sales_orders", self.create_sales_order),
            ("GET", f"/sales_orders/{n}", self.get_sales_order), ("PATCH", f"/sales_orders/{n}", self.patch_sales_order),
            ("DELETE", f"/sales_orders/{n}", self.delete_sales_order),
            ("GET", "/sales_order_rows", self.list_sales_order_rows),
            ("GET", f"/sales_order_rows/{n}", self.get_sales_order_row),
            ("PATCH", f"/sales_order_rows/{n}", self.patch_sales_order_row),
            ("GET", "/sales_order_shipping_fee", self.list_shipping_fees),
            ("POST", "/sales_order_shipping_fee", self.create_shipping_fee),
            ("GET", "/sales_order_addresses", self.list_sales_order_addresses),
            ("POST", "/sales_order_addresses", self.create_sales_order_address),
            ("GET", "/customers", self.list_customers), ("POST", "/customers", self.create_customer),
            ("GET", "/tax_rates", self.list_tax_rates), ("POST", "/tax_rates", self.create_tax_rate),
        ]
        # The route name (what the request log counts) drops the /v1 prefix, matching the
        # clients' own call counters ("GET /sales_orders/{id}").
        return [(method, "/v1" + path, path.replace(n, "{id}"), self._wrap(handler))
                for method, path, handler in table]

    def _wrap(self, handler: Callable[[Request, Query], tuple[int, Any, dict[str, str]]]):
        def serve(request: Request) -> Response:
            if not self._authorised(request):
                headers = self.limiter.peek_headers() if self.limiter else {}
                return _error(KatanaApiError(401, "UnauthorizedError", "Unauthorized"), headers)
            headers: dict[str, str] = {}
            if self.limiter is not None:
                decision = self.limiter.hit(self._api_key())
                headers = dict(decision.headers)
                if not decision.allowed:
                    headers["Retry-After"] = self.limiter.retry_after_header(decision.retry_after or 0)
                    return _error(KatanaApiError(429, "TooManyRequests", "Too Many Requests"), headers)
            try:
                endpoint = request.path.split("/")[2] if request.path.count("/") >= 2 else ""
                query = Query(request, self.ignored_filters.get(endpoint, ()))
                with self.lock:
                    status, payload, extra = handler(request, query)
            except KatanaApiError as exc:
                return _error(exc, headers)
            headers.update(extra)
            if status == 204:
                return Response(204, b"", headers)
            return Response.json(status, payload, headers)
        return serve

    def _authorised(self, request: Request) -> bool:
        value = request.headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self._api_key().encode())

    def unrouted(self, request: Request) -> Response:
        headers = self.limiter.peek_headers() if self.limiter else {}
        return _error(KatanaApiError(404, "NotFoundError", f"Cannot {request.method} {request.path}"), headers)

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            raise KatanaApiError(400, "BadRequestError", "Unexpected token in JSON body") from None

    @staticmethod
    def _page(items: list[Any], q: Query) -> tuple[int, dict[str, Any], dict[str, str]]:
        limit, page = q.page_args()
        limit = min(limit, MAX_LIMIT)   # Katana: "we will automatically change the limit to 250"
        total = len(items)
        pages = math.ceil(total / limit)
        offset = (page - 1) * limit
        meta = {"total_records": str(total), "total_pages": str(pages), "offset": str(offset), "page": str(page),
                "first_page": "true" if page == 1 else "false", "last_page": "true" if page >= pages else "false"}
        return 200, {"data": items[offset:offset + limit]}, {"X-Pagination": json.dumps(meta, separators=(",", ":"))}

    @staticmethod
    def _id(request: Request) -> int:
        return int(request.params["id"])

    # --- locations, factory, variants, inventory --------------------------------------------

    def list_locations(self, request: Request, q: Query):
        locs = sorted(self.data.locations.values(), key=lambda loc: loc.id)
        if not q.bool("include_deleted"):
            locs = [loc for loc in locs if loc.deleted_at is None]
        locs = _filter_in(locs, lambda loc: loc.id, q.ints("ids"))
        locs = _filter_eq(locs, lambda loc: loc.name, q.str("name"))
        locs = _filter_eq(locs, lambda loc: loc.legal_name, q.str("legal_name"))
        locs = _filter_eq(locs, lambda loc: loc.is_primary, q.bool("is_primary"))
        locs = _filter_eq(locs, lambda loc: loc.sales_allowed, q.bool("sales_allowed"))
        locs = _filter_eq(locs, lambda loc: loc.manufacturing_allowed, q.bool("manufacturing_allowed"))
        locs = _filter_eq(locs, lambda loc: loc.purchase_allowed, q.bool("purchases_allowed"))
        return self._page(_filter_dates([loc.to_api() for loc in locs], q), q)

    def get_location(self, request: Request, q: Query):
        loc = self.data.locations.get(self._id(request))
        if loc is None:   # a soft-deleted location still resolves, with deleted_at set
            raise not_found()
        return 200, loc.to_api(), {}

    def get_factory(self, request: Request, q: Query):
        f = self.data.factory
        default = f["default_sales_location_id"]
        factory = {"legal_name": "Sandbox Manufacturing Ltd", "display_name": "Sandbox Manufacturing",
                     "legal_address": {"line_1": "1 Sandbox Way", "line_2": "", "city": "Tallinn", "state": "",
                                       "zip": "10111", "country": "Estonia"},
                     "base_currency_code": f["base_currency_code"], "currency": f["base_currency_code"],
                     "default_so_delivery_time": "14", "default_po_lead_time": None,
                     "default_sales_location_id": default, "default_manufacturing_location_id": default,
                     "default_purchases_location_id": default, "inventory_closing_date": None}
        # Katana always has a default location; an emulator without locations leaves the keys out.
        return 200, {k: v for k, v in factory.items() if v is not None or not k.endswith("_location_id")}, {}

    def _variant_api(self, variant, extend: list[str]) -> dict[str, Any]:
        out = variant.to_api()
        if "product_or_material" in extend:
            out["product_or_material"] = self.data.product_api(self.data.products[variant.product_id])
        return out

    def list_variants(self, request: Request, q: Query):
        variants = sorted(self.data.variants.values(), key=lambda v: v.id)
        if not q.bool("include_deleted"):
            variants = [v for v in variants if v.deleted_at is None]
        variants = _filter_in(variants, lambda v: v.id, q.ints("ids"))
        variants = _filter_in(variants, lambda v: v.sku, q.strs("sku"))   # exact and case-sensitive
        variants = _filter_eq(variants, lambda v: v.product_id, q.int("product_id"))
        if q.int("material_id") is not None or q.str("type") not in (None, "product"):
            variants = []   # the emulator holds products only
        extend = q.strs("extend")
        return self._page(_filter_dates([self._variant_api(v, extend) for v in variants], q), q)

    def get_variant(self, request: Request, q: Query):
        variant = self.data.variants.get(self._id(request))
        if variant is None:
            raise not_found()
        return 200, self._variant_api(variant, q.strs("extend")), {}

    def list_inventory(self, request: Request, q: Query):
        # /inventory takes no ids/date filters (Katana documents that); they are ignored like any unknown one.
        location_id, variant_ids, extend = q.int("location_id"), q.ints("variant_id"), q.strs("extend")
        committed = self.data.committed()
        rows = []
        for loc in sorted(self.data.live_locations(), key=lambda loc: loc.id):   # oldest locations first
            if location_id is not None and loc.id != location_id:
                continue
            for variant in sorted(self.data.live_variants(), key=lambda v: v.id):
                if variant_ids and variant.id not in variant_ids:
                    continue
                rows.append(self.data.inventory_row(variant, loc, committed.get((variant.id, loc.id), Decimal(0)),
                                                    extend))
        return self._page(rows, q)

    # --- stock adjustments ------------------------------------------------------------------

    def list_stock_adjustments(self, request: Request, q: Query):
        adjs = sorted(self.data.stock_adjustments.values(), key=lambda a: a["id"])
        if not q.bool("include_deleted"):
            adjs = [a for a in adjs if a["deleted_at"] is None]
        adjs = _filter_in(adjs, lambda a: a["id"], q.ints("ids"))
        adjs = _filter_eq(adjs, lambda a: a["stock_adjustment_number"], q.str("stock_adjustment_number"))
        adjs = _filter_eq(adjs, lambda a: a["location_id"], q.int("location_id"))
        return self._page(_filter_dates([self.data.stock_adjustment_api(a) for a in adjs], q), q)

    def create_stock_adjustment(self, request: Request, q: Query):
        adj = self.data.create_stock_adjustment(self._body(request))
        return 200, self.data.stock_adjustment_api(adj), {}

    # --- sales orders -----------------------------------------------------------------------

    def list_sales_orders(self, request: Request, q: Query):
        orders = sorted(self.data.sales_orders.values(), key=lambda so: so.id)
        if not q.bool("include_deleted"):
            orders = [so for so in orders if so.deleted_at is None]
        orders = _filter_in(orders, lambda so: so.id, q.ints("ids"))
        orders = _filter_eq(orders, lambda so: so.order_no, q.str("order_no"))
        orders = _filter_eq(orders, lambda so: so.customer_id, q.int("customer_id"))
        orders = _filter_eq(orders, lambda so: so.location_id, q.int("location_id"))
        orders = _filter_eq(orders, lambda so: so.status, q.str("status"))
        orders = _filter_eq(orders, lambda so: so.currency, q.str("currency"))
        orders = _filter_eq(orders, lambda so: so.source, q.str("source"))
        for name in ("ecommerce_order_type", "ecommerce_store_name", "ecommerce_order_id"):
            orders = _filter_eq(orders, lambda so, name=name: so.extra.get(name), q.str(name))
        committed = self.data.committed()
        items = [self.data.sales_order_api(so, committed) for so in orders]
        items = _filter_eq(items, lambda so: so["product_availability"], q.str("product_availability"))
        return self._page(_filter_dates(items, q), q)

    def get_sales_order(self, request: Request, q: Query):
        so = self.data.sales_orders.get(self._id(request))
        if so is None:   # soft-deleted orders still resolve by id, with deleted_at set
            raise not_found()
        return 200, self.data.sales_order_api(so), {}

    def create_sales_order(self, request: Request, q: Query):
        return 200, self.data.sales_order_api(self.data.create_sales_order(self._body(request))), {}

    def patch_sales_order(self, request: Request, q: Query):
        so = self.data.update_sales_order(self._id(request), self._body(request))
        return 200, self.data.sales_order_api(so), {}

    def delete_sales_order(self, request: Request, q: Query):
        self.data.delete_sales_order(self._id(request))
        return 204, None, {}

    def _all_rows(self, include_deleted: bool):
        for so in sorted(self.data.sales_orders.values(), key=lambda so: so.id):
            if include_deleted or so.deleted_at is None:
                for row in so.rows:
                    yield so, row

    def list_sales_order_rows(self, request: Request, q: Query):
        pairs = list(self._all_rows(bool(q.bool("include_deleted"))))
        pairs = _filter_in(pairs, lambda p: p[1].id, q.ints("ids"))
        pairs = _filter_in(pairs, lambda p: p[0].id, q.ints("sales_order_ids"))
        pairs = _filter_eq(pairs, lambda p: p[1].variant_id, q.int("variant_id"))
        pairs = _filter_eq(pairs, lambda p: p[1].location_id, q.int("location_id"))
        pairs = _filter_eq(pairs, lambda p: p[1].tax_rate_id, q.int("tax_rate_id"))
        committed = self.data.committed()
        return self._page(_filter_dates([self.data.row_api(row, so, committed) for so, row in pairs], q), q)

    def get_sales_order_row(self, request: Request, q: Query):
        so, row = self.data.find_row(self._id(request))
        return 200, self.data.row_api(row, so, self.data.committed()), {}

    def patch_sales_order_row(self, request: Request, q: Query):
        so, row = self.data.update_sales_order_row(self._id(request), self._body(request))
        return 200, self.data.row_api(row, so, self.data.committed()), {}

    def list_shipping_fees(self, request: Request, q: Query):
        fees = [so.shipping_fee for so in sorted(self.data.sales_orders.values(), key=lambda so: so.id)
                if so.shipping_fee and so.deleted_at is None]
        fees = _filter_eq(fees, lambda f: f["sales_order_id"], q.int("sales_order_id"))
        return self._page([dict(f) for f in fees], q)

    def create_shipping_fee(self, request: Request, q: Query):
        return 200, dict(self.data.add_shipping_fee(self._body(request))), {}

    def list_sales_order_addresses(self, request: Request, q: Query):
        addresses = [dict(a, deleted_at=None) for so in sorted(self.data.sales_orders.values(), key=lambda so: so.id)
                     if so.deleted_at is None for a in so.addresses]
        addresses = _filter_in(addresses, lambda a: a["id"], q.ints("ids"))
        addresses = _filter_in(addresses, lambda a: a["sales_order_id"], q.ints("sales_order_ids"))
        addresses = _filter_eq(addresses, lambda a: a["entity_type"], q.str("entity_type"))
        return self._page(addresses, q)

    def create_sales_order_address(self, request: Request, q: Query):
        return 200, dict(self.data.add_sales_order_address(self._body(request)), deleted_at=None), {}

    # --- customers and tax rates ------------------------------------------------------------

    def list_customers(self, request: Request, q: Query):
        customers = sorted(self.data.customers.values(), key=lambda c: c["id"])
        if not q.bool("include_deleted"):
            customers = [c for c in customers if c["deleted_at"] is None]
        customers = _filter_in(customers, lambda c: c["id"], q.ints("ids"))
        # Text filters match exactly: Katana does not say how they match, and clients re-check.
        for name in ("name", "first_name", "last_name", "company", "email", "phone", "reference_id", "category",
                     "currency"):
            customers = _filter_eq(customers, lambda c, name=name: c.get(name), q.str(name))
        return self._page(_filter_dates([dict(c) for c in customers], q), q)

    def create_customer(self, request: Request, q: Query):
        return 200, dict(self.data.create_customer(self._body(request))), {}

    def list_tax_rates(self, request: Request, q: Query):
        rates = sorted(self.data.tax_rates.values(), key=lambda r: r["id"])
        rates = _filter_in(rates, lambda r: r["id"], q.ints("ids"))
        rates = _filter_eq(rates, lambda r: r["_rate"], q.number("rate"))
        rates = _filter_eq(rates, lambda r: r["name"], q.str("name"))
        rates = _filter_eq(rates, lambda r: r["is_default_sales"], q.bool("is_default_sales"))
        rates = _filter_eq(rates, lambda r: r["is_default_purchases"], q.bool("is_default_purchases"))
        return self._page(_filter_dates([self.data.tax_rate_api(r) for r in rates], q), q)

    def create_tax_rate(self, request: Request, q: Query):
        return 200, self.data.tax_rate_api(self.data.create_tax_rate(self._body(request))), {}


def _error(exc: KatanaApiError, headers: dict[str, str]) -> Response:
    return Response.json(exc.status, exc.body(), headers)
