"""A local WooCommerce 10.0.2 store (REST namespace wc/v3) for tests, notebooks and rehearsals.

Built by `sandbox/__init__.py` (one per configured store) and used directly by tests:

    store = WooEmulator("shop-eu", consumer_key="ck_test", consumer_secret="cs_test").start()
    store.add_product("WIDGET-1", "Widget 1", "12.50", stock=10)
    order = store.place_order([("WIDGET-1", 2)])          # processing: stock 10 -> 8
    ...  # point a client at store.url (API under store.url + "/wp-json/wc/v3")
    store.stop()

It is an independent emulation of a real store, checked against recordings of one: it imports
nothing from the SDK. Like a real store reached over plain http it wants one-legged OAuth 1.0a;
`https_mode=True` (also settable later) makes it behave as if TLS ended in front of it, so Basic
auth and `?consumer_key=` are accepted. Dates come from `clock` (a callable returning an aware
datetime or POSIX seconds), shown in the site's timezone (`timezone_offset_hours`) plus `_gmt`.
Ids come from one sequence shared by products, variations, orders and refunds, from `first_id`.

`https_mode` changes who may authenticate (and the scheme in the OAuth base string, as `is_ssl()`
does); links in answers always point at the emulator's reachable http URL so they can be followed.

One store under two names: `aliases=("localhost",)` declares other host names the store answers
on (`store.url_via("localhost")` is `http://localhost:PORT`). The site index (`GET /wp-json/`)
reports the same `home` whichever name is used, and a request that arrives under an alias Host is
OAuth-checked against that Host, so a client configured with the alias URL authenticates. (A real
store signs over its home URL whatever the Host; an undeclared Host gets that real behaviour here.)

After checkout, what a shop does in wp-admin: `set_order_status` (cancelling puts stock back),
`refund_order` (partial or full, restocking or not) and `edit_order` (line quantities, lines
added or removed, stock adjusted), in `_woo_after`; each moves the order's `date_modified`.

Thread safety: every admin method and every REST request takes the store's one lock, so a
background thread can place orders and change statuses while a client reads and writes over HTTP.

Deliberate simplifications (each also noted where it is implemented):
* the store is the recorded one: taxes off, no coupons, no customers for REST-created orders
  (`coupon_lines` and unknown `customer_id`s are refused); `place_order` can still compute taxes
  (one or more rates, `_woo_taxes`), a fixed-cart coupon and flat-rate shipping, as a checkout would;
* not emulated: global (`pa_`) attributes, images, categories/tags filters, /customers, /coupons,
  /refunds over REST (refunds are made by `refund_order` and listed in an order's `refunds[]`),
  /variations (WC 10.3+); /webhooks deliver order topics only (`_woo_webhooks`);
* the default product sort keeps same-second products in id order (the real MySQL order is not
  stable); `related_ids` are not shuffled;
* a variation is only created under an existing variable parent, and a variations batch refuses
  ids that are not variations (WooCommerce would create or re-parent orphans);
* OAuth timestamps are checked against the wall clock, not `clock`, since clients sign with it.

Modules: `_woo_model` (records), `_woo_catalog` (products, stock), `_woo_orders` (orders, totals,
transitions, notes), `_woo_taxes` (tax rates and arithmetic), `_woo_json` (shapes), `_woo_params`
(WordPress argument checks), `_woo_auth`, `_woo_http` (the REST server stages), `_woo_index` (the
`/wp-json/` indexes), `_woo_rest_products` / `_woo_rest_orders` (handlers).
Admin routes under `/__sandbox__/woo/` mirror the Python admin API for out-of-process callers.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Iterable

from ._server import Emulator, EmulatorServer, Request, Response
from ._woo_auth import Authenticator
from ._woo_catalog import Catalog
from ._woo_http import API_PREFIX, WooHttp
from ._woo_json import order_json, product_json
from ._woo_model import ORDER_STATUSES, Order, StoreContext, WooError, as_utc
from ._woo_after import edit_lines, refund
from ._woo_orders import OrderBook
from ._woo_rest_orders import OrderHandlers
from ._woo_rest_products import ProductHandlers
from ._woo_webhooks import WooWebhooks

log = logging.getLogger(__name__)

DEFAULT_BILLING = {"first_name": "Sandy", "last_name": "Box", "address_1": "1 Test Street", "city": "Springfield",
                   "state": "IL", "postcode": "62701", "country": "US", "email": "customer@example.test",
                   "phone": "555-0100"}
_ADMIN_STATUSES = (*ORDER_STATUSES, "trash")


class _WooServer(EmulatorServer):
    """EmulatorServer whose unrouted requests get WordPress's answer (rest_no_route, after auth)."""

    def __init__(self, name: str, fallback: Callable[[Request], Response]):
        super().__init__(name)
        self._fallback = fallback

    def not_found(self, request: Request, *, method_mismatch: bool) -> Response:
        return self._fallback(request)


class WooEmulator(Emulator):
    def __init__(self, name: str, *, consumer_key: str, consumer_secret: str, first_id: int = 17,
                 clock: Callable[[], Any] | None = None, timezone_offset_hours: float = 0,
                 https_mode: bool = False, key_permissions: str = "read_write", aliases: Iterable[str] = (),
                 site_name: str | None = None):
        self.name = name
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.https_mode = https_mode   # settable at any time: is_ssl() as WordPress sees it
        self.aliases = tuple(aliases)  # other host names this store answers on as itself (settable later)
        self._ctx = StoreContext(first_id=first_id, clock=clock, timezone_offset_hours=timezone_offset_hours)
        self._catalog = Catalog(self._ctx)
        self._book = OrderBook(self._ctx, self._catalog)
        self._auth = Authenticator(consumer_key, consumer_secret, key_permissions, store_url=self._base,
                                   https_mode=lambda: self.https_mode, aliases=lambda: self.aliases)
        self._http = WooHttp(self._ctx, self._auth, self._base, site_name=site_name or name,
                             https_mode=lambda: self.https_mode)
        self.server = _WooServer(f"woo-{name}", self._http.not_found)
        self.webhooks = WooWebhooks(self._ctx, lambda: self._book.orders, self._webhook_order, self._base, name)
        handlers = [*ProductHandlers(self._ctx, self._catalog).routes(),
                    *OrderHandlers(self._ctx, self._catalog, self._book).routes(), *self.webhooks.routes()]
        for pattern, route_name, methods in handlers:
            route = self._http.add(pattern, route_name, methods)
            endpoint = self._http.endpoint(route)
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
                self.server.route(method, API_PREFIX + pattern, endpoint, name=route_name)
        self._install_admin_routes()

    def __repr__(self) -> str:   # never the secret
        return f"WooEmulator({self.name!r}, url={self._base()!r})"

    def stop(self) -> None:
        self.webhooks.stop()
        super().stop()

    def _webhook_order(self, order_id: int) -> dict[str, Any] | None:
        order = self._book.get(order_id)
        return None if order is None else order_json(self._catalog, order, self._base())

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def url_via(self, host: str) -> str:
        """The store's URL under another host name, e.g. `url_via("localhost")` ->
        `http://localhost:PORT` (https when served over TLS; the server listens on 127.0.0.1, which
        `localhost` reaches).
        Declare the name in `aliases` for OAuth-signed requests through it to authenticate."""
        return f"{self.server.scheme}://{host}:{self.server.port}"

    def _base(self) -> str:
        try:
            return self.server.base_url
        except RuntimeError:   # seeding before start(): links get a placeholder host
            return "http://127.0.0.1"

    def set_clock(self, clock: Callable[[], Any] | None = None) -> None:
        """Replace the store's business clock (order and product dates; a callable returning an aware
        datetime or epoch seconds); None: the wall clock. OAuth timestamps and the HTTP `Date`
        header keep the wall clock, as they are the web server's."""
        with self._ctx.lock:
            self._ctx.set_clock(clock)

    # --- admin API: catalogue ------------------------------------------------------------------

    def add_product(self, sku: str, name: str, price: Any, *, stock: int | None = None,
                    status: str = "publish") -> dict[str, Any]:
        """A simple product; `stock=None` means manage_stock false (stock_quantity null)."""
        with self._ctx.lock:
            data = {"type": "simple", "sku": sku, "name": name, "regular_price": _price(price), "status": status,
                    "manage_stock": stock is not None}
            if stock is not None:
                data["stock_quantity"] = int(stock)
            product = self._catalog.create_product(data)
            return product_json(self._catalog, product, self._base())

    def add_variable_product(self, sku: str, name: str, variations: list[dict[str, Any]], *,
                             stock: int | None = None) -> dict[str, Any]:
        """A variable product and its variations, created in order. `stock` given: the parent
        manages stock. Each variation: {"sku", "price", "stock": int | None | "parent",
        "attributes": {"Size": "S"}}; stock None is an unmanaged variation (it reads "parent" when
        the parent manages stock, as in WooCommerce), "parent" requires a parent stock. A variation
        whose "sku" is "" or None has none of its own: REST reads show the parent's SKU for it."""
        with self._ctx.lock:
            seen: set[str] = set()
            for variation in variations:
                if variation.get("stock") == "parent" and stock is None:
                    raise ValueError(f"variation {variation.get('sku')!r}: stock 'parent' needs a parent stock")
                own = str(variation.get("sku") or "").strip()   # "" or None: no SKU of its own
                self._catalog.check_sku(own, None)
                if own and own.lower() in seen | {sku.lower()}:   # checked before anything is created
                    raise ValueError(f"SKU {own!r} is given twice")
                seen.add(own.lower())
            options: dict[str, list[str]] = {}
            for variation in variations:
                for attr, option in (variation.get("attributes") or {}).items():
                    options.setdefault(attr, [])
                    if option not in options[attr]:
                        options[attr].append(option)
            data: dict[str, Any] = {"type": "variable", "sku": sku, "name": name, "manage_stock": stock is not None,
                                    "attributes": [{"name": a, "visible": True, "variation": True, "options": o}
                                                   for a, o in options.items()]}
            if stock is not None:
                data["stock_quantity"] = int(stock)
            parent = self._catalog.create_product(data)
            for variation in variations:
                own_stock = variation.get("stock")
                body: dict[str, Any] = {"sku": variation.get("sku") or "", "regular_price": _price(variation["price"]),
                                        "manage_stock": isinstance(own_stock, int) and not isinstance(own_stock, bool),
                                        "attributes": [{"name": a, "option": o}
                                                       for a, o in (variation.get("attributes") or {}).items()]}
                if body["manage_stock"]:
                    body["stock_quantity"] = own_stock
                self._catalog.create_variation(parent, body)
            return product_json(self._catalog, parent, self._base())

    def set_stock(self, sku_or_id: Any, qty: int) -> None:
        """Set the level of whatever holds the item's stock (the parent for "parent" variations);
        an item that does not manage stock starts managing it, as an admin editing it would."""
        with self._ctx.lock:
            product = self._catalog.resolve(sku_or_id)
            owner = self._catalog.stock_owner(product)
            if owner is None:
                product.manage_stock, owner = True, product
            self._catalog.set_quantity(owner, int(qty))

    def stock_of(self, sku_or_id: Any) -> int | None:
        with self._ctx.lock:
            return self._catalog.quantity(self._catalog.resolve(sku_or_id))

    def product_by_sku(self, sku: str) -> dict[str, Any]:
        """The item as `GET /products?sku=` shows it (variations in the product shape)."""
        with self._ctx.lock:
            product = self._catalog.by_sku(sku)
            if product is None:
                raise KeyError(f"no product with SKU {sku!r}")
            return product_json(self._catalog, product, self._base())

    def delete_product(self, id_or_sku: Any, force: bool = True) -> dict[str, Any]:
        with self._ctx.lock:
            product = self._catalog.resolve(id_or_sku)
            before = product_json(self._catalog, product, self._base(), context="edit")
            self._catalog.delete(product, force=force)
            return before if force else product_json(self._catalog, product, self._base(), context="edit")

    # --- admin API: orders ---------------------------------------------------------------------

    def place_order(self, lines: Iterable[tuple[Any, int]], *, status: str = "processing",
                    billing: dict[str, Any] | None = None, shipping: dict[str, Any] | None = None,
                    customer_id: int = 0, prices_include_tax: bool = False, tax_percent: Any = None,
                    tax_rates: list[Any] | None = None, coupon_amount: Any = None, shipping_total: Any = None,
                    currency: str = "USD", created_at: datetime | float | None = None, coupon_code: str = "sandbox",
                    payment_method: str = "bacs", payment_method_title: str = "Direct bank transfer") -> dict[str, Any]:
        """An order as a checkout would make it: lines by SKU or id (a variation without a SKU of
        its own by its id), totals, taxes, a fixed cart coupon of `coupon_amount` spread over the
        lines, one flat-rate shipping line of `shipping_total` (ex tax); then the status transition
        with its stock reduction and notes. `created_at` backdates the order.

        Taxes: `tax_percent` is one rate (id 1, "Tax", code "US-TAX-1"); `tax_rates` takes rates of
        the store's tax table, e.g. `[{"percent": 20, "label": "VAT", "country": "GB"}]` or a state
        plus a county rate, each {"percent", "id"?, "label"?, "rate_code"?, "country"?, "state"?,
        "priority"?, "compound"?, "shipping"? (default True)}. With `prices_include_tax` the product
        prices include them."""
        if status not in _ADMIN_STATUSES:
            raise ValueError(f"unknown order status {status!r}")
        with self._ctx.lock:
            rows = []
            for key, quantity in lines:
                product = self._catalog.resolve(key)
                if product.type == "variable":
                    raise ValueError(f"{key!r} is a variable product: order one of its variations")
                rows.append({"product": product, "quantity": int(quantity)})
            order = self._book.create(
                rows, status=status, billing=billing if billing is not None else dict(DEFAULT_BILLING),
                shipping=shipping, customer_id=customer_id, prices_include_tax=prices_include_tax,
                tax_percent=tax_percent, tax_rates=tax_rates, coupon_amount=coupon_amount, coupon_code=coupon_code,
                shipping_total=shipping_total, currency=currency,
                created_at=as_utc(created_at) if created_at is not None else None, created_via="checkout",
                payment_method=payment_method, payment_method_title=payment_method_title)
            return order_json(self._catalog, order, self._base())

    def set_order_status(self, order_id: int, status: str) -> dict[str, Any]:
        if status not in _ADMIN_STATUSES:
            raise ValueError(f"unknown order status {status!r}")
        with self._ctx.lock:
            order = self._book.get(order_id)
            if order is None:
                raise KeyError(f"no order {order_id}")
            self._book.transition(order, status)
            return order_json(self._catalog, order, self._base())

    def refund_order(self, order_id: int, *, amount: Any = None, lines: dict[Any, int] | None = None,
                     restock: bool = False, reason: str = "") -> dict[str, Any]:
        """A refund as wp-admin makes it (`_woo_after.refund`): `amount` (None: what `lines` are
        worth, or all that is left), `lines` {SKU or line item id: quantity}, `restock` puts those
        quantities back on the shelf. Reaching the order's total makes it `refunded`."""
        with self._ctx.lock:
            order = self._order(order_id)
            items = {self._line_id(order, key): int(q) for key, q in (lines or {}).items()}
            return refund(self._book, order, amount=amount, lines=items or None, restock=restock, reason=reason)

    def edit_order(self, order_id: int, lines: dict[Any, int]) -> dict[str, Any]:
        """An edit of the line items in wp-admin (`_woo_after.edit_lines`): {SKU or line item id:
        new quantity}; 0 removes a line, a SKU the order lacks adds one; stock follows."""
        with self._ctx.lock:
            order = self._order(order_id)
            edit_lines(self._book, order, {self._line_id(order, k, new_ok=True): int(q) for k, q in lines.items()})
            return order_json(self._catalog, order, self._base())

    def _order(self, order_id: int) -> Order:
        order = self._book.get(order_id)
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def _line_id(self, order: Order, key: Any, *, new_ok: bool = False) -> Any:
        """A line item id from an id or the SKU of one of the order's lines (a SKU the order lacks
        stays a SKU when `new_ok`: a line to add)."""
        for line in order.line_items:
            product = self._catalog.get(line.variation_id or line.product_id) if line.product_id else None
            if key == line.id or (product is not None and product.sku == key):
                return line.id
        if new_ok and isinstance(key, str):
            return key
        raise KeyError(f"order {order.id} has no line {key!r}")

    def order(self, order_id: int) -> dict[str, Any]:
        with self._ctx.lock:
            order = self._book.get(order_id)
            if order is None:
                raise KeyError(f"no order {order_id}")
            return order_json(self._catalog, order, self._base())

    def orders(self) -> list[dict[str, Any]]:
        with self._ctx.lock:
            return [order_json(self._catalog, o, self._base()) for o in sorted(self._book.orders.values(),
                                                                               key=lambda o: o.id)]

    # --- /__sandbox__/woo/... ------------------------------------------------------------------

    def _install_admin_routes(self) -> None:
        def run(action: Callable[[Request], tuple[int, Any]]) -> Callable[[Request], Response]:
            def handler(request: Request) -> Response:
                try:
                    status, body = action(request)
                except KeyError as exc:
                    return Response.json(404, {"message": str(exc.args[0] if exc.args else exc)})
                except (ValueError, TypeError, WooError) as exc:
                    message = exc.message if isinstance(exc, WooError) else str(exc)
                    return Response.json(400, {"message": message})
                return Response.json(status, body)
            return handler

        def body(request: Request) -> dict[str, Any]:
            data = request.json() if request.body else {}
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            return data

        def seed_product(request: Request) -> tuple[int, Any]:
            data = body(request)
            if data.get("variations") is not None:
                return 201, self.add_variable_product(data["sku"], data["name"], data["variations"],
                                                      stock=data.get("stock"))
            return 201, self.add_product(data["sku"], data["name"], data["price"], stock=data.get("stock"),
                                         status=data.get("status", "publish"))

        def place(request: Request) -> tuple[int, Any]:
            data = body(request)
            lines = [(row["sku"], row["quantity"]) if isinstance(row, dict) else (row[0], row[1])
                     for row in data.pop("lines")]
            allowed = {"status", "billing", "shipping", "customer_id", "prices_include_tax", "tax_percent",
                       "tax_rates", "coupon_amount", "shipping_total", "currency", "created_at", "coupon_code",
                       "payment_method", "payment_method_title"}
            unknown = set(data) - allowed
            if unknown:
                raise ValueError(f"unknown fields: {sorted(unknown)}")
            if isinstance(data.get("created_at"), str):
                data["created_at"] = datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
            return 201, self.place_order(lines, **data)

        def key(request: Request) -> Any:
            value = request.params["key"]
            with self._ctx.lock:   # the catalogue is read here too, so under the store's lock
                return value if self._catalog.by_sku(value) is not None or not value.isdigit() else int(value)

        def set_stock(request: Request) -> tuple[int, Any]:
            data = body(request)
            self.set_stock(key(request), int(data["quantity"]))
            return 200, {"stock_quantity": self.stock_of(key(request))}

        admin = self.server.admin_route
        admin("POST", "/woo/products", run(seed_product))
        admin("GET", "/woo/products/(?P<key>[^/]+)", run(lambda r: (200, self.product_by_sku(r.params["key"]))))
        admin("DELETE", "/woo/products/(?P<key>[^/]+)",
              run(lambda r: (200, self.delete_product(key(r), force=r.arg("force", "true") != "false"))))
        admin("PUT", "/woo/stock/(?P<key>[^/]+)", run(set_stock))
        admin("GET", "/woo/stock/(?P<key>[^/]+)", run(lambda r: (200, {"stock_quantity": self.stock_of(key(r))})))
        admin("POST", "/woo/orders", run(place))
        admin("GET", "/woo/orders", run(lambda r: (200, self.orders())))
        admin("PUT", r"/woo/orders/(?P<id>\d+)/status",
              run(lambda r: (200, self.set_order_status(int(r.params["id"]), body(r)["status"]))))


def _price(value: Any) -> str:
    """Prices are stored as the string given; numbers get two decimals ("12.50")."""
    if isinstance(value, str):
        return value
    return f"{float(value):.2f}"


__all__ = ["WooEmulator", "DEFAULT_BILLING"]
