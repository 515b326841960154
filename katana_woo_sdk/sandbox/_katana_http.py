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

Lists filter the records first and serialise only the page asked for; `/inventory` never builds the
rows of other pages at all, and `ids`, `sku` and `variant_ids` filters are index lookups.
"""
from __future__ import annotations

import hmac
import json
import math
import threading
from decimal import Decimal
from typing import Any, Callable, Iterator

from ._katana_data import KatanaData
from ._katana_model import KatanaApiError, SalesOrder, SalesOrderRow, Variant, not_found
from ._katana_query import MAX_LIMIT, Query, filter_dates, filter_eq, filter_in, records
from ._katana_ratelimit import RateLimiter
from ._server import Request, Response

_Answer = tuple[int, Any, dict[str, str]]   # a handler's status, JSON payload and extra headers
_ECOMMERCE = ("ecommerce_order_type", "ecommerce_store_name", "ecommerce_order_id")


def _date_bounds(q: Query) -> tuple[Any, ...]:
    """The date filters `filter_dates` applies, as a query's part of a `_matching` key."""
    return tuple(q.date(f"{field}_{end}") for field in ("created_at", "updated_at") for end in ("min", "max"))

class KatanaApi:
    """Route handlers; `lock` guards `data`, `limiter` may be None (no rate limit)."""

    def __init__(self, data: KatanaData, lock: threading.RLock, *, api_key: Callable[[], str],
                 limiter: RateLimiter | None):
        self.data, self.lock, self._api_key, self.limiter = data, lock, api_key, limiter
        self.ignored_filters: dict[str, set[str]] = {}
        # Per list endpoint, the last query's matches: (filters, state stamp, records). A client pages
        # through one query (page 1, 2, ... with the same filters); each page used to filter and sort
        # the whole table again, which made a walk of 100,000 sales orders quadratic. The stamp moves
        # with every change the filters could see, so a page never answers from an older state.
        self._matches: dict[str, tuple[tuple[Any, ...], int, list[Any]]] = {}

    # --- plumbing ---------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Response]]]:
        n = r"(?P<id>\d+)"
        table = [
            ("GET", "/locations", self.list_locations), ("GET", f"/locations/{n}", self.get_location),
            ("GET", "/factory", self.get_factory),
            ("GET", "/variants", self.list_variants), ("GET", f"/variants/{n}", self.get_variant),
            ("GET", "/inventory", self.list_inventory), ("GET", "/inventory_movements", self.list_movements),
            ("GET", "/stock_adjustments", self.list_stock_adjustments),
            ("POST", "/stock_adjustments", self.create_stock_adjustment),
            ("DELETE", f"/stock_adjustments/{n}", self.delete_stock_adjustment),
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
            ("DELETE", f"/customers/{n}", self.delete_customer),
            ("GET", "/tax_rates", self.list_tax_rates), ("POST", "/tax_rates", self.create_tax_rate),
            # after the order is created: fulfilments, rows of an open order, products (`_katana_lifecycle`)
            ("GET", "/sales_order_fulfillments", self.list_fulfilments),
            ("POST", "/sales_order_fulfillments", self.create_fulfilment),
            ("GET", f"/sales_order_fulfillments/{n}", self.get_fulfilment),
            ("PATCH", f"/sales_order_fulfillments/{n}", self.patch_fulfilment),
            ("DELETE", f"/sales_order_fulfillments/{n}", self.delete_fulfilment),
            ("POST", "/sales_order_rows", self.create_sales_order_row),
            ("DELETE", f"/sales_order_rows/{n}", self.delete_sales_order_row),
            ("GET", "/products", self.list_products), ("POST", "/products", self.create_product),
        ]
        # The route name (what the request log counts) drops the /v1 prefix, matching the
        # clients' own call counters ("GET /sales_orders/{id}").
        return [(method, "/v1" + path, path.replace(n, "{id}"), self._wrap(handler))
                for method, path, handler in table]

    def _wrap(self, handler: Callable[[Request, Query], _Answer]) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            if not self._authorised(request):
                return _error(KatanaApiError(401, "UnauthorizedError", "Unauthorized"),
                              self.limiter.peek_headers() if self.limiter else {})
            headers: dict[str, str] = {}
            if self.limiter is not None:
                decision = self.limiter.hit(self._api_key())
                headers = dict(decision.headers)
                if not decision.allowed:
                    headers["Retry-After"] = self.limiter.retry_after_header(decision.retry_after or 0)
                    return _error(KatanaApiError(429, "TooManyRequests", "Too Many Requests"), headers)
            try:
                endpoint = request.path.split("/")[2] if request.path.count("/") >= 2 else ""
                with self.lock:   # one lock for all state, the ignored filters included
                    query = Query(request, self.ignored_filters.get(endpoint, ()))
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

    def _matching(self, endpoint: str, filters: tuple[Any, ...], stamp: int, find: Callable[[], list[Any]]) -> list[Any]:
        """`find()`, or what it found for the same `filters` while the state's `stamp` stood still."""
        held = self._matches.get(endpoint)
        if held is not None and held[0] == filters and held[1] == stamp:
            return held[2]
        found = find()
        self._matches[endpoint] = (filters, stamp, found)
        return found

    @staticmethod
    def _page(items: list[Any], q: Query, render: Callable[[Any], Any] | None = None, *,
              total: int | None = None,
              window: Callable[[int, int], list[Any]] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One page of `items`, each rendered by `render`. Without `items`, `total` and
        `window(offset, limit)` describe a list too big to build: only the page is produced."""
        limit, page = q.page_args()
        limit = min(limit, MAX_LIMIT)   # Katana: "we will automatically change the limit to 250"
        total = len(items) if total is None else total
        pages = math.ceil(total / limit)
        offset = (page - 1) * limit
        meta = {"total_records": str(total), "total_pages": str(pages), "offset": str(offset), "page": str(page),
                "first_page": "true" if page == 1 else "false", "last_page": "true" if page >= pages else "false"}
        chunk = window(offset, limit) if window is not None else items[offset:offset + limit]
        data = [render(item) for item in chunk] if render is not None else chunk
        return 200, {"data": data}, {"X-Pagination": json.dumps(meta, separators=(",", ":"))}

    @staticmethod
    def _id(request: Request) -> int:
        return int(request.params["id"])

    # --- locations, factory, variants, inventory --------------------------------------------

    def list_locations(self, request: Request, q: Query) -> _Answer:
        locs = sorted(self.data.locations.values(), key=lambda loc: loc.id)
        if not q.bool("include_deleted"):
            locs = [loc for loc in locs if loc.deleted_at is None]
        locs = filter_in(locs, lambda loc: loc.id, q.ints("ids"))
        locs = filter_eq(locs, lambda loc: loc.name, q.str("name"))
        locs = filter_eq(locs, lambda loc: loc.legal_name, q.str("legal_name"))
        locs = filter_eq(locs, lambda loc: loc.is_primary, q.bool("is_primary"))
        locs = filter_eq(locs, lambda loc: loc.sales_allowed, q.bool("sales_allowed"))
        locs = filter_eq(locs, lambda loc: loc.manufacturing_allowed, q.bool("manufacturing_allowed"))
        locs = filter_eq(locs, lambda loc: loc.purchase_allowed, q.bool("purchases_allowed"))
        return self._page(filter_dates([loc.to_api() for loc in locs], q), q)

    def get_location(self, request: Request, q: Query) -> _Answer:
        loc = self.data.locations.get(self._id(request))
        if loc is None:   # a soft-deleted location still resolves, with deleted_at set
            raise not_found()
        return 200, loc.to_api(), {}

    def get_factory(self, request: Request, q: Query) -> _Answer:
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

    def _variant_api(self, variant: Variant, extend: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = variant.to_api()
        if "product_or_material" in extend:
            out["product_or_material"] = self.data.product_api(self.data.products[variant.product_id])
        return out

    def _variant_pool(self, ids: list[int], skus: list[str], include_deleted: bool) -> list[Any]:
        """The variants a filter can name, found through the indexes (ids, then SKUs), in id order."""
        data = self.data
        if ids:
            pool = [data.variants[i] for i in sorted(set(ids)) if i in data.variants]
        elif skus and not include_deleted:
            pool = [v for v in (data.variant_by_sku(sku) for sku in dict.fromkeys(skus)) if v is not None]
            pool.sort(key=lambda v: v.id)
        else:
            pool = list(data.variants.values())   # insertion order is id order: ids only grow
        if not include_deleted:
            pool = [v for v in pool if v.deleted_at is None]
        return filter_in(pool, lambda v: v.sku, skus)   # exact and case-sensitive

    def list_variants(self, request: Request, q: Query) -> _Answer:
        variants = self._variant_pool(q.ints("ids"), q.strs("sku"), bool(q.bool("include_deleted")))
        variants = filter_eq(variants, lambda v: v.product_id, q.int("product_id"))
        if q.int("material_id") is not None or q.str("type") not in (None, "product"):
            variants = []   # the emulator holds products only
        extend = q.strs("extend")
        variants = filter_dates(variants, q, lambda v: (v.created_at, v.created_at))
        return self._page(variants, q, lambda v: self._variant_api(v, extend))

    def get_variant(self, request: Request, q: Query) -> _Answer:
        variant = self.data.variants.get(self._id(request))
        if variant is None:
            raise not_found()
        return 200, self._variant_api(variant, q.strs("extend")), {}

    def list_inventory(self, request: Request, q: Query) -> _Answer:
        """A row per live (location, variant), oldest locations first, variants in id order. The rows
        of one page are built from their position, so a walk of 10,000 variants stays linear."""
        # /inventory takes no ids/date filters (Katana documents that); they are ignored like any unknown one.
        location_id, variant_ids, extend = q.int("location_id"), q.ints("variant_id"), q.strs("extend")
        locations = sorted((loc for loc in self.data.live_locations()
                            if location_id is None or loc.id == location_id), key=lambda loc: loc.id)
        variants = self._variant_pool(variant_ids, [], include_deleted=False)
        committed = self.data.committed()

        def window(offset: int, limit: int) -> list[dict[str, Any]]:
            rows = []
            for index in range(offset, min(offset + limit, len(locations) * len(variants))):
                loc, variant = locations[index // len(variants)], variants[index % len(variants)]
                rows.append(self.data.inventory_row(variant, loc, committed.get((variant.id, loc.id), Decimal(0)),
                                                    extend))
            return rows
        return self._page([], q, total=len(locations) * len(variants), window=window)

    def list_movements(self, request: Request, q: Query) -> _Answer:
        """Most recent first (Katana: "with the most recent movements appearing first")."""
        equal = (("location_id", q.int("location_id")), ("resource_type", q.str("resource_type")),
                 ("resource_id", q.int("resource_id")), ("caused_by_order_no", q.str("caused_by_order_no")),
                 ("caused_by_resource_id", q.int("caused_by_resource_id")))

        def find() -> list[Any]:
            movements = self.data.movements_of(q.ints("variant_ids"))
            movements = filter_in(movements, lambda m: m.id, q.ints("ids"))
            for name, value in equal:
                movements = filter_eq(movements, lambda m, name=name: getattr(m, name), value)
            movements = filter_dates(movements, q, lambda m: (m.created_at, m.created_at))
            movements.sort(key=lambda m: (m.created_at, m.id), reverse=True)
            return movements
        # Movements are only ever added, never changed: their count is the stamp.
        filters = (tuple(q.ints("variant_ids")), tuple(q.ints("ids")), equal, _date_bounds(q))
        return self._page(self._matching("movements", filters, len(self.data.movements), find), q,
                          lambda m: m.to_api())

    # --- stock adjustments ------------------------------------------------------------------

    def list_stock_adjustments(self, request: Request, q: Query) -> _Answer:
        adjs = records(self.data.stock_adjustments, q.ints("ids"))
        if not q.bool("include_deleted"):
            adjs = [a for a in adjs if a["deleted_at"] is None]
        adjs = filter_eq(adjs, lambda a: a["stock_adjustment_number"], q.str("stock_adjustment_number"))
        adjs = filter_eq(adjs, lambda a: a["location_id"], q.int("location_id"))
        return self._page(filter_dates(adjs, q), q, self.data.stock_adjustment_api)

    def create_stock_adjustment(self, request: Request, q: Query) -> _Answer:
        adj = self.data.create_stock_adjustment(self._body(request))
        return 200, self.data.stock_adjustment_api(adj), {}

    def delete_stock_adjustment(self, request: Request, q: Query) -> _Answer:
        # 204 as the community spec says (the gateway's own spec says 200 for every DELETE, and
        # DELETE /sales_orders/{id} was seen answering 204).
        self.data.delete_stock_adjustment(self._id(request))
        return 204, None, {}

    # --- sales orders -----------------------------------------------------------------------

    def list_sales_orders(self, request: Request, q: Query) -> _Answer:
        def find() -> list[Any]:
            orders = records(self.data.sales_orders, q.ints("ids"))
            if not q.bool("include_deleted"):
                orders = [so for so in orders if so.deleted_at is None]
            orders = filter_eq(orders, lambda so: so.order_no, q.str("order_no"))
            orders = filter_eq(orders, lambda so: so.customer_id, q.int("customer_id"))
            orders = filter_eq(orders, lambda so: so.location_id, q.int("location_id"))
            orders = filter_eq(orders, lambda so: so.status, q.str("status"))
            orders = filter_eq(orders, lambda so: so.currency, q.str("currency"))
            orders = filter_eq(orders, lambda so: so.source, q.str("source"))
            for name in _ECOMMERCE:
                orders = filter_eq(orders, lambda so, name=name: so.extra.get(name), q.str(name))
            return filter_dates(orders, q, lambda so: (so.created_at, so.updated_at or so.created_at))
        # Every change of an order moves `order_changes` (`_touch`, an insertion).
        filters = (tuple(q.ints("ids")), q.bool("include_deleted"), q.str("order_no"), q.int("customer_id"),
                   q.int("location_id"), q.str("status"), q.str("currency"), q.str("source"),
                   tuple(q.str(name) for name in _ECOMMERCE), _date_bounds(q))
        orders = self._matching("sales_orders", filters, self.data.order_changes, find)
        committed = self.data.committed()
        availability = q.str("product_availability")
        if availability is not None:   # computed, so only this filter needs the orders rendered
            orders = [so for so in orders
                      if self.data.sales_order_api(so, committed)["product_availability"] == availability]
        return self._page(orders, q, lambda so: self.data.sales_order_api(so, committed))

    def get_sales_order(self, request: Request, q: Query) -> _Answer:
        so = self.data.sales_orders.get(self._id(request))
        if so is None:   # soft-deleted orders still resolve by id, with deleted_at set
            raise not_found()
        return 200, self.data.sales_order_api(so), {}

    def create_sales_order(self, request: Request, q: Query) -> _Answer:
        return 200, self.data.sales_order_api(self.data.create_sales_order(self._body(request))), {}

    def patch_sales_order(self, request: Request, q: Query) -> _Answer:
        so = self.data.update_sales_order(self._id(request), self._body(request))
        return 200, self.data.sales_order_api(so), {}

    def delete_sales_order(self, request: Request, q: Query) -> _Answer:
        self.data.delete_sales_order(self._id(request))
        return 204, None, {}

    def _all_rows(self, include_deleted: bool, order_ids: list[int]) -> Iterator[tuple[SalesOrder, SalesOrderRow]]:
        for so in records(self.data.sales_orders, order_ids):
            if include_deleted or so.deleted_at is None:
                for row in so.rows:
                    yield so, row

    def list_sales_order_rows(self, request: Request, q: Query) -> _Answer:
        row_ids, order_ids = q.ints("ids"), q.ints("sales_order_ids")
        if row_ids and not order_ids:   # through the row index: read only the orders holding those rows
            order_ids = [o for o in (self.data.row_order(r) for r in row_ids) if o is not None] or [0]   # 0: none
        pairs = list(self._all_rows(bool(q.bool("include_deleted")), order_ids))
        pairs = filter_in(pairs, lambda p: p[1].id, row_ids)
        pairs = filter_in(pairs, lambda p: p[0].id, q.ints("sales_order_ids"))
        pairs = filter_eq(pairs, lambda p: p[1].variant_id, q.int("variant_id"))
        pairs = filter_eq(pairs, lambda p: p[1].location_id, q.int("location_id"))
        pairs = filter_eq(pairs, lambda p: p[1].tax_rate_id, q.int("tax_rate_id"))
        committed = self.data.committed()
        return self._page(filter_dates([self.data.row_api(row, so, committed) for so, row in pairs], q), q)

    def get_sales_order_row(self, request: Request, q: Query) -> _Answer:
        so, row = self.data.find_row(self._id(request))
        return 200, self.data.row_api(row, so, self.data.committed()), {}

    def patch_sales_order_row(self, request: Request, q: Query) -> _Answer:
        so, row = self.data.update_sales_order_row(self._id(request), self._body(request))
        return 200, self.data.row_api(row, so, self.data.committed()), {}

    def list_shipping_fees(self, request: Request, q: Query) -> _Answer:
        fees = [so.shipping_fee for so in sorted(self.data.sales_orders.values(), key=lambda so: so.id)
                if so.shipping_fee and so.deleted_at is None]
        fees = filter_eq(fees, lambda f: f["sales_order_id"], q.int("sales_order_id"))
        return self._page([dict(f) for f in fees], q)

    def create_shipping_fee(self, request: Request, q: Query) -> _Answer:
        return 200, dict(self.data.add_shipping_fee(self._body(request))), {}

    def list_sales_order_addresses(self, request: Request, q: Query) -> _Answer:
        addresses = [dict(a, deleted_at=None) for so in sorted(self.data.sales_orders.values(), key=lambda so: so.id)
                     if so.deleted_at is None for a in so.addresses]
        addresses = filter_in(addresses, lambda a: a["id"], q.ints("ids"))
        addresses = filter_in(addresses, lambda a: a["sales_order_id"], q.ints("sales_order_ids"))
        addresses = filter_eq(addresses, lambda a: a["entity_type"], q.str("entity_type"))
        return self._page(addresses, q)

    def create_sales_order_address(self, request: Request, q: Query) -> _Answer:
        return 200, dict(self.data.add_sales_order_address(self._body(request)), deleted_at=None), {}

    # --- customers and tax rates ------------------------------------------------------------

    def list_customers(self, request: Request, q: Query) -> _Answer:
        customers = records(self.data.customers, q.ints("ids"))
        if not q.bool("include_deleted"):
            customers = [c for c in customers if c["deleted_at"] is None]
        # Text filters match exactly: Katana does not say how they match, and clients re-check.
        for name in ("name", "first_name", "last_name", "company", "email", "phone", "reference_id", "category",
                     "currency"):
            customers = filter_eq(customers, lambda c, name=name: c.get(name), q.str(name))
        return self._page(filter_dates(customers, q), q, dict)

    def create_customer(self, request: Request, q: Query) -> _Answer:
        return 200, dict(self.data.create_customer(self._body(request))), {}

    def delete_customer(self, request: Request, q: Query) -> _Answer:
        self.data.delete_customer(self._id(request))
        return 204, None, {}

    def list_tax_rates(self, request: Request, q: Query) -> _Answer:
        rates = sorted(self.data.tax_rates.values(), key=lambda r: r["id"])
        rates = filter_in(rates, lambda r: r["id"], q.ints("ids"))
        rates = filter_eq(rates, lambda r: r["_rate"], q.number("rate"))
        rates = filter_eq(rates, lambda r: r["name"], q.str("name"))
        rates = filter_eq(rates, lambda r: r["is_default_sales"], q.bool("is_default_sales"))
        rates = filter_eq(rates, lambda r: r["is_default_purchases"], q.bool("is_default_purchases"))
        return self._page(filter_dates([self.data.tax_rate_api(r) for r in rates], q), q)

    def create_tax_rate(self, request: Request, q: Query) -> _Answer:
        return 200, self.data.tax_rate_api(self.data.create_tax_rate(self._body(request))), {}

    # --- after the order is created (`_katana_lifecycle`) -------------------------------------

    def list_fulfilments(self, request: Request, q: Query) -> _Answer:
        pairs = self.data.fulfilments(include_deleted=bool(q.bool("include_deleted")))
        pairs = filter_in(pairs, lambda p: p[1]["id"], q.ints("ids"))
        pairs = filter_eq(pairs, lambda p: p[0].id, q.int("sales_order_id"))
        pairs = filter_eq(pairs, lambda p: p[1]["status"], q.str("status"))
        pairs = filter_eq(pairs, lambda p: p[1].get("tracking_number"), q.str("tracking_number"))
        pairs = filter_dates(pairs, q, lambda p: (p[1]["created_at"], p[1]["updated_at"]))
        return self._page(pairs, q, lambda p: self.data.fulfilment_api(*p))

    def create_fulfilment(self, request: Request, q: Query) -> _Answer:
        return 200, self.data.fulfilment_api(*self.data.create_fulfilment(self._body(request))), {}

    def get_fulfilment(self, request: Request, q: Query) -> _Answer:
        return 200, self.data.fulfilment_api(*self.data.find_fulfilment(self._id(request))), {}

    def patch_fulfilment(self, request: Request, q: Query) -> _Answer:
        return 200, self.data.fulfilment_api(*self.data.update_fulfilment(self._id(request), self._body(request))), {}

    def delete_fulfilment(self, request: Request, q: Query) -> _Answer:
        self.data.delete_fulfilment(self._id(request))
        return 204, None, {}

    def create_sales_order_row(self, request: Request, q: Query) -> _Answer:
        so, row = self.data.add_sales_order_row(self._body(request))
        return 200, self.data.row_api(row, so, self.data.committed()), {}

    def delete_sales_order_row(self, request: Request, q: Query) -> _Answer:
        self.data.delete_sales_order_row(self._id(request))
        return 204, None, {}

    def list_products(self, request: Request, q: Query) -> _Answer:
        products = records(self.data.products, q.ints("ids"))
        products = filter_eq(products, lambda p: p.name, q.str("name"))
        return self._page(products, q, self.data.product_api)

    def create_product(self, request: Request, q: Query) -> _Answer:
        return 200, self.data.create_product(self._body(request)), {}


def _error(exc: KatanaApiError, headers: dict[str, str]) -> Response:
    return Response.json(exc.status, exc.body(), headers)
