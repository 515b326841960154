"""A local emulator of Katana MRP's public REST API (`/v1`), for tests, notebooks and rehearsals.

Used by `sandbox.start()` (and so by `katana-woo sandbox up`) and directly by tests. It is an
independent re-implementation of Katana's observable behaviour, written from Katana's published
specs and the team's research notes, and shares no code with `katana_woo_sdk.katana`: sharing
would share the client's misreadings too.

    with KatanaEmulator(rate=None) as katana:
        main = katana.add_location("Main Warehouse")
        katana.add_variant("MUG-1"); katana.set_stock("MUG-1", main["id"], 10)
        requests.get(katana.base_url + "/inventory", headers={"Authorization": f"Bearer {katana.api_key}"})

Layout: `_katana_validate` (Ajv-style DTO validation), `_katana_data` (state and rules, with the
order rules in `_katana_orders` and what follows an order's creation in `_katana_lifecycle`),
`_katana_http` (routes, filters, pagination), `_katana_ratelimit`; this module wires them to an
`EmulatorServer` and adds the admin helpers, as Python methods and as `/__sandbox__/katana/...`
routes. Admin changes stand for what a person does in Katana's UI; they never count against the
rate limit nor show up in the request log.

Choices made where Katana's real behaviour is unknown (each one the harder case for a client):
- duplicate `order_no` on create/PATCH -> 422 `{path: ".order_no", code: "unique"}`, soft-deleted
  orders included (`unique_order_no=False` lets duplicates through instead);
- `PATCH /sales_orders/{id} {location_id}` moves the order only, not its rows; commitments follow
  each row's `location_id`, so a client must PATCH the rows itself;
- PENDING orders (quotes) commit no stock; PACKED/DELIVERED take it out of `quantity_in_stock`;
  deleting a delivered order does not put stock back;
- shipping is recorded as fulfilments (`_katana_lifecycle`): a partial one leaves the order
  PARTIALLY_PACKED/DELIVERED with the rest still committed; a PATCH to PACKED/DELIVERED fulfils what
  is left; rows are added or removed and products created through the API as the fact sheet says;
- `PATCH /sales_orders/{id}` without `additional_info` clears it (`patch_wipes_additional_info`);
- creating an order at a location with `sales_allowed: false` -> 422;
- a second `POST /sales_order_shipping_fee` for the same order -> 422 `unique`;
- duplicate `stock_adjustment_number` is accepted (`unique_stock_adjustment_number=True` refuses);
- `DELETE /stock_adjustments/{id}` soft-deletes and takes the quantities back out of stock (one
  reversing inventory movement per row); `DELETE /customers/{id}` soft-deletes even a customer with
  orders; both answer 204 as the community spec says (the gateway's spec says 200);
- every in-stock change is one `/inventory_movements` entry; an admin `set_stock` is `SystemGenerated`;
- text filters (`email`, `name`, `order_no`, ...) match exactly; a comma in an array parameter is
  part of the value; `GET /sales_orders/{id}` of a deleted order answers 200 with `deleted_at`;
- the rate-limit window slides (`window="fixed"` for the other reading); with `rate=None` no
  limit applies and no `X-Ratelimit-*` headers are sent.
"""
from __future__ import annotations

import secrets
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import unquote

from ._katana_data import KatanaData
from ._katana_model import KatanaApiError, Location, Variant, dec
from ._katana_http import KatanaApi
from ._katana_lifecycle import fulfilled
from ._katana_ratelimit import RateLimiter
from ._katana_webhooks import KatanaWebhooks
from ._server import Emulator, EmulatorServer, Request, Response

__all__ = ["KatanaEmulator"]


class _KatanaServer(EmulatorServer):
    def __init__(self, api: KatanaApi):
        super().__init__("katana")
        self._api = api

    def not_found(self, request: Request, *, method_mismatch: bool) -> Response:
        return self._api.unrouted(request)


class KatanaEmulator(Emulator):
    """Katana's API on `http://127.0.0.1:<port>/v1`, with admin helpers. Thread-safe."""

    def __init__(self, *, api_key: str | None = None, rate: int | None = 60, period: float = 60.0,
                 time_scale: float = 1.0, window: str = "sliding", clock: Callable[[], float] = time.time,
                 base_currency_code: str = "USD", unique_order_no: bool = True,
                 unique_stock_adjustment_number: bool = False, patch_wipes_additional_info: bool = True):
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.api_key = api_key or secrets.token_hex(20)
        self._clock = clock
        self._lock = threading.RLock()
        self.data = KatanaData(now=lambda: datetime.fromtimestamp(self._clock(), timezone.utc),
                               base_currency_code=base_currency_code, unique_order_no=unique_order_no,
                               unique_stock_adjustment_number=unique_stock_adjustment_number,
                               patch_wipes_additional_info=patch_wipes_additional_info)
        self.limiter = (RateLimiter(rate, period * time_scale, clock=clock, window=window)
                        if rate is not None else None)
        self.api = KatanaApi(self.data, self._lock, api_key=lambda: self.api_key, limiter=self.limiter)
        self.server: EmulatorServer = _KatanaServer(self.api)
        for method, pattern, name, handler in self.api.routes():
            self.server.route(method, pattern, handler, name=name)
        self.webhooks = KatanaWebhooks(self.data, self._lock, lambda: self.base_url, time_scale)
        for method, path, hook_handler in self.webhooks.routes():
            self.server.route(method, "/v1" + path, self.api._wrap(hook_handler), name=path.replace(r"(?P<id>\d+)", "{id}"))
        self._install_admin_routes()

    def stop(self) -> None:
        self.webhooks.stop()
        super().stop()

    def set_clock(self, clock: Callable[[], float] = time.time) -> None:
        """Replace the business clock the records are stamped with (`created_at`, `updated_at`, the
        movements'); the rate limiter keeps the clock it was made with. For making a past: history
        seeded "a day ago", then `set_clock()` back to the wall clock."""
        with self._lock:
            self._clock = clock

    @property
    def base_url(self) -> str:
        """What a client uses as Katana's base URL (`.../v1`)."""
        return self.server.base_url + "/v1"

    def __repr__(self) -> str:
        where = self.base_url if self.server.port else "not running"
        with self._lock:
            return (f"<KatanaEmulator {where} locations={len(self.data.live_locations())} "
                    f"variants={len(self.data.live_variants())} sales_orders={len(self.data.sales_orders)}>")

    # --- knobs ------------------------------------------------------------------------------

    def ignore_filter(self, endpoint: str, name: str) -> None:
        """Make a declared filter be ignored, e.g. ("sales_orders", "ecommerce_order_id"): Katana has
        been seen ignoring a documented filter live, and clients must re-check results."""
        with self._lock:
            self.api.ignored_filters.setdefault(endpoint.strip("/"), set()).add(name)

    def reset_rate_limit(self) -> None:
        if self.limiter is not None:
            self.limiter.reset()

    # --- admin helpers (what a person does in Katana's UI) ----------------------------------

    def _location(self, id_or_name: int | str, *, include_deleted: bool = True) -> Location:
        with self._lock:
            if isinstance(id_or_name, int) or (isinstance(id_or_name, str) and id_or_name.isdigit()):
                loc = self.data.locations.get(int(id_or_name))
            else:
                candidates = [loc for loc in self.data.locations.values() if loc.name == id_or_name]
                candidates.sort(key=lambda loc: loc.deleted_at is not None)   # live one first
                loc = candidates[0] if candidates else None
            if loc is None or (loc.deleted_at is not None and not include_deleted):
                raise KeyError(f"no location {id_or_name!r}")
            return loc

    def add_location(self, name: str, *, sales_allowed: bool = True, is_primary: bool = False,
                     address: dict[str, Any] | None = None, unique_name: bool = True) -> dict[str, Any]:
        with self._lock:
            return self.data.add_location(name, sales_allowed=sales_allowed, is_primary=is_primary,
                                          address=address, unique_name=unique_name).to_api()

    def delete_location(self, id_or_name: int | str) -> dict[str, Any]:
        """Soft-delete, as the UI does: hidden from lists and inventory, still found by id. Stock
        and open order rows at the location stay as they are; the factory default is not moved."""
        with self._lock:
            loc = self._location(id_or_name, include_deleted=False)
            loc.deleted_at = loc.updated_at = self.data.now()
            return loc.to_api()

    def location_id(self, name: str) -> int:
        return self._location(name, include_deleted=False).id

    def locations(self, include_deleted: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            return [loc.to_api() for loc in self.data.locations.values()
                    if include_deleted or loc.deleted_at is None]

    def set_default_sales_location(self, id_or_name: int | str) -> None:
        with self._lock:
            self.data.factory["default_sales_location_id"] = self._location(id_or_name).id

    def set_base_currency(self, code: str) -> None:
        with self._lock:
            self.data.factory["base_currency_code"] = code

    def add_variant(self, sku: str | None, *, name: str | None = None, product_name: str | None = None,
                    sales_price: Any = None, config: dict[str, str] | None = None) -> dict[str, Any]:
        """A product variant; variants given the same `product_name` share one product."""
        with self._lock:
            return self.data.add_variant(sku, name=name, product_name=product_name, sales_price=sales_price,
                                         config=config).to_api()

    def delete_variant(self, sku_or_id: str | int) -> None:
        with self._lock:
            self.data.delete_variant(self._variant(sku_or_id))

    def _variant(self, sku_or_id: str | int) -> Variant:
        with self._lock:
            if isinstance(sku_or_id, int):
                v = self.data.variants.get(sku_or_id)
            else:
                v = self.data.variant_by_sku(sku_or_id)
            if v is None:
                raise KeyError(f"no variant {sku_or_id!r}")
            return v

    def variant(self, sku_or_id: str | int) -> dict[str, Any]:
        with self._lock:
            return self._variant(sku_or_id).to_api()

    def variants(self) -> list[dict[str, Any]]:
        with self._lock:
            return [v.to_api() for v in self.data.variants.values()]

    def set_stock(self, sku_or_variant_id: str | int, location: int | str, quantity: Any, *,
                  expected: Any = None, average_cost: Any = None, safety_stock: Any = None) -> None:
        """Set the absolute quantity in stock (not an adjustment: nothing shows in /stock_adjustments;
        the change is one `SystemGenerated` inventory movement, the emulator's stand-in for a UI edit).
        `safety_stock` sets the row's `safety_stock_level` (Katana's reorder point)."""
        with self._lock:
            variant_id, location_id = self._variant(sku_or_variant_id).id, self._location(location).id
            cell = self.data.cell(variant_id, location_id)
            if average_cost is not None:
                cell.average_cost = dec(average_cost)
            if expected is not None:
                cell.expected = dec(expected)
            if safety_stock is not None:
                cell.safety_stock = dec(safety_stock)
            self.data.move_stock(variant_id, location_id, dec(quantity) - cell.in_stock,
                                 resource_type="SystemGenerated")

    def inventory_of(self, sku: str | int, location: int | str) -> dict[str, Decimal]:
        with self._lock:
            variant, loc = self._variant(sku), self._location(location)
            cell = self.data.stock.get((variant.id, loc.id))
            in_stock = cell.in_stock if cell else Decimal(0)
            committed = self.data.committed().get((variant.id, loc.id), Decimal(0))
            return {"in_stock": in_stock, "committed": committed, "expected": cell.expected if cell else Decimal(0),
                    "available": in_stock - committed}

    def add_customer(self, name: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            return dict(self.data.create_customer({"name": name, **fields}))

    def customers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self.data.customers.values()]

    def delete_customer(self, customer_id: int) -> dict[str, Any]:
        """Soft-delete a customer, as `DELETE /customers/{id}` does (KeyError if unknown or deleted)."""
        with self._lock:
            try:
                return dict(self.data.delete_customer(int(customer_id)))
            except KatanaApiError:
                raise KeyError(f"no live customer {customer_id}") from None

    def add_tax_rate(self, rate: Any, name: str | None = None) -> dict[str, Any]:
        with self._lock:
            body = {"rate": float(rate), **({"name": name} if name else {})}
            return self.data.tax_rate_api(self.data.create_tax_rate(body))

    def create_sales_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """An order created in Katana itself (wholesale, manual): same rules as the API."""
        with self._lock:
            so = self.data.create_sales_order(body)
            so.source = "Katana"
            return self.data.sales_order_api(so)

    def sales_orders(self, include_deleted: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            return [self.data.sales_order_api(so) for so in self.data.sales_orders.values()
                    if include_deleted or so.deleted_at is None]

    def sales_order(self, so_id: int) -> dict[str, Any]:
        with self._lock:
            so = self.data.sales_orders.get(so_id)
            if so is None:
                raise KeyError(f"no sales order {so_id}")
            return self.data.sales_order_api(so)

    def deliver_sales_order(self, so_id: int) -> dict[str, Any]:
        with self._lock:
            return self.data.sales_order_api(self.data.update_sales_order(
                so_id, {"status": "DELIVERED", "additional_info": self.data.live_sales_order(so_id).extra.get(
                    "additional_info")}))

    def fulfil_sales_order(self, so_id: int, rows: dict[int | str, Any] | None = None, *, status: str = "DELIVERED",
                           tracking_number: str | None = None, tracking_url: str | None = None) -> dict[str, Any]:
        """What a person does in Katana when an order is packed or shipped: one fulfilment of
        `rows` ({row id or SKU: quantity}; None: everything not fulfilled yet) with `status`
        (PACKED or DELIVERED) and an optional tracking number. A part of the rows makes the order
        PARTIALLY_PACKED / PARTIALLY_DELIVERED. Returns the fulfilment as the API shows it."""
        with self._lock:
            so = self.data.live_sales_order(so_id)
            wanted: dict[int | str, Decimal]   # row id (or a SKU none of its rows has) -> quantity
            if rows is None:
                wanted = {row.id: row.quantity - fulfilled(so, row.id) for row in so.rows}
            else:
                by_sku: dict[str | None, int | str] = {self.data.variants[row.variant_id].sku: row.id for row in so.rows}
                wanted = {by_sku.get(k, k) if isinstance(k, str) else k: dec(q) for k, q in rows.items()}
            body: dict[str, Any] = {"sales_order_id": so.id, "status": status, "sales_order_fulfillment_rows": [
                {"sales_order_row_id": int(row_id), "quantity": float(q)} for row_id, q in wanted.items() if q > 0]}
            if tracking_number:
                body["tracking_number"] = tracking_number
            if tracking_url:
                body["tracking_url"] = tracking_url
            return self.data.fulfilment_api(*self.data.create_fulfilment(body))

    def fulfilments(self, so_id: int | None = None) -> list[dict[str, Any]]:
        """Live fulfilments (of one sales order, or all), oldest first."""
        with self._lock:
            return [self.data.fulfilment_api(so, f) for so, f in self.data.fulfilments()
                    if so_id is None or so.id == so_id]

    def products(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.data.product_api(p) for p in self.data.products.values()]

    def delete_sales_order(self, so_id: int) -> None:
        with self._lock:
            self.data.delete_sales_order(so_id)

    def link_manufacturing_order(self, row_id: int, mo_id: int = 1) -> None:
        """Link an order row to a (fictional) manufacturing order: its location is then frozen."""
        with self._lock:
            _, row = self.data.find_row(row_id)
            row.linked_manufacturing_order_id = mo_id

    def stock_adjustments(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.data.stock_adjustment_api(a) for a in self.data.stock_adjustments.values()]

    def delete_stock_adjustment(self, adjustment_id: int) -> dict[str, Any]:
        """What `DELETE /stock_adjustments/{id}` does: soft delete, and (the emulator's assumption)
        its quantities leave stock again. KeyError if unknown or already deleted."""
        with self._lock:
            try:
                return self.data.stock_adjustment_api(self.data.delete_stock_adjustment(int(adjustment_id)))
            except KatanaApiError:
                raise KeyError(f"no live stock adjustment {adjustment_id}") from None

    def inventory_movements(self, sku: str | int | None = None, location: int | str | None = None, *,
                            resource_type: str | None = None) -> list[dict[str, Any]]:
        """The movements `GET /inventory_movements` lists (oldest first here, for reading in tests),
        optionally of one variant (SKU or id), at one location (name or id), of one resource type."""
        with self._lock:
            variant_ids = [self._variant(sku).id] if sku is not None else []
            location_id = self._location(location).id if location is not None else None
            return [m.to_api() for m in self.data.movements_of(variant_ids)
                    if (location_id is None or m.location_id == location_id)
                    and (resource_type is None or m.resource_type == resource_type)]

    def seed(self, spec: dict[str, Any]) -> dict[str, int]:
        """Bulk set-up from plain data (what `POST /__sandbox__/katana/seed` takes):
        {"locations": [{"name", "sales_allowed"?, "is_primary"?}], "default_sales_location": name|id,
         "variants": [{"sku", "name"?, "product_name"?, "sales_price"?, "config"?}],
         "stock": [{"sku", "location", "quantity", "expected"?}], "customers": [{"name", ...}],
         "tax_rates": [{"rate", "name"?}]}"""
        with self._lock:
            for loc in spec.get("locations", []):
                self.add_location(**loc)
            if spec.get("default_sales_location") is not None:
                self.set_default_sales_location(spec["default_sales_location"])
            for variant in spec.get("variants", []):
                self.add_variant(**variant)
            for row in spec.get("stock", []):
                self.set_stock(row["sku"], row["location"], row["quantity"], expected=row.get("expected"))
            for customer in spec.get("customers", []):
                self.add_customer(**customer)
            for rate in spec.get("tax_rates", []):
                self.add_tax_rate(**rate)
            return {"locations": len(self.data.locations), "variants": len(self.data.variants),
                    "customers": len(self.data.customers), "tax_rates": len(self.data.tax_rates)}

    # --- the same over HTTP -----------------------------------------------------------------

    def _install_admin_routes(self) -> None:
        def guarded(fn: Callable[[Request], Any], status: int = 200) -> Callable[[Request], Response]:
            def handler(request: Request) -> Response:
                try:
                    result = fn(request)
                except KeyError as exc:
                    return Response.json(404, {"message": str(exc.args[0] if exc.args else exc)})
                except (ValueError, TypeError) as exc:
                    return Response.json(400, {"message": str(exc)})
                except KatanaApiError as exc:
                    return Response.json(exc.status, exc.body())
                return Response(204) if result is None else Response.json(status, result)
            return handler

        def body(request: Request) -> dict[str, Any]:
            data = request.json() or {}
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            return data

        def key(request: Request) -> int | str:
            value = unquote(request.params["key"])
            return int(value) if value.isdigit() else value

        def number(request: Request) -> int:   # the key of a `\d+` route
            return int(unquote(request.params["key"]))

        def set_stock(request: Request) -> None:
            b = body(request)
            ref: Any = b.get("sku", b.get("variant_id"))   # as the request gives it
            self.set_stock(ref, b["location"], b["quantity"], expected=b.get("expected"))

        def inventory(request: Request) -> dict[str, str]:
            row = self.inventory_of(request.arg("sku") or "", request.arg("location") or "")
            return {k: str(v) for k, v in row.items()}

        def default_location(request: Request) -> None:
            self.set_default_sales_location(body(request)["default_sales_location_id"])

        k = r"(?P<key>[^/]+)"
        table = [
            ("POST", "/katana/seed", lambda r: self.seed(body(r))),
            ("GET", "/katana/locations", lambda r: self.locations()),
            ("POST", "/katana/locations", lambda r: self.add_location(**body(r))),
            ("DELETE", f"/katana/locations/{k}", lambda r: self.delete_location(key(r))),
            ("PUT", "/katana/factory", default_location),
            ("GET", "/katana/variants", lambda r: self.variants()),
            ("POST", "/katana/variants", lambda r: self.add_variant(**body(r))),
            ("PUT", "/katana/stock", set_stock),
            ("GET", "/katana/inventory", inventory),
            ("GET", "/katana/sales_orders", lambda r: self.sales_orders()),
            ("POST", r"/katana/sales_orders/(?P<key>\d+)/deliver", lambda r: self.deliver_sales_order(number(r))),
            ("POST", r"/katana/sales_orders/(?P<key>\d+)/fulfil",
             lambda r: self.fulfil_sales_order(number(r), **body(r))),
            ("DELETE", r"/katana/sales_orders/(?P<key>\d+)", lambda r: self.delete_sales_order(number(r))),
            ("GET", "/katana/stock_adjustments", lambda r: self.stock_adjustments()),
            ("DELETE", r"/katana/stock_adjustments/(?P<key>\d+)", lambda r: self.delete_stock_adjustment(number(r))),
            ("GET", "/katana/inventory_movements",
             lambda r: self.inventory_movements(r.arg("sku"), r.arg("location"), resource_type=r.arg("resource_type"))),
            ("GET", "/katana/customers", lambda r: self.customers()),
            ("DELETE", r"/katana/customers/(?P<key>\d+)", lambda r: self.delete_customer(number(r))),
        ]
        for method, pattern, fn in table:
            self.server.admin_route(method, pattern, guarded(fn))
