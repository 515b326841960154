"""WooClient: one WooCommerce store's REST API (wc/v3) as the runner and engines need it.

Called by the order-import and stock engines, the runner and notebooks; it stands on `_http.HttpClient`
(retries, sanitised URLs, paginators, call counting) and sends nothing itself::

    with WooClient("https://shop.example.com", "ck_…", "cs_…") as woo:
        for order in woo.orders.iter(statuses=("processing",), modified_after=checkpoint): ...
        results = woo.stock.write([StockWrite(product_id=17, quantity=20)])

Facts from the 10.0.2 recordings this client is built around (tests/cassettes/woocommerce-10.0.2):
* Over https WooCommerce reads HTTP Basic; over plain http it ignores Basic (401
  `woocommerce_rest_cannot_view`, no hint) and only one-legged OAuth1 works.
* Sorting by date is not a total order: pages of products created in the same second overlap and
  skip items. Products and variations are therefore listed `orderby=id&order=asc`.
* A batch answers 200 even when items fail: every element is checked for `error`. A stock write on
  an item that does not manage its own stock is *silently* dropped: the echo is compared.
* `GET /products?sku=A,B` also returns variations; an unknown SKU is an empty list, not a 404.
"""
from __future__ import annotations

import html
import ipaddress
import logging
import os
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote, urlsplit

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth1

from ._http import CallCounter, HttpClient, HttpResponse, RetryPolicy, Timeouts
from .errors import ApiError, AuthError, ConfigError, TransportError, UnexpectedResponseError
from .models import StockWrite, StockWriteResult, WooOrder, WooOrderNote, WooProduct

__all__ = ["WooClient", "SYSTEM", "API_PATH", "BATCH_LIMIT"]

log = logging.getLogger(__name__)

SYSTEM = "woocommerce"          # the system name in errors, logs and CallCounter keys
API_PATH = "/wp-json/wc/v3"
BATCH_LIMIT = 100               # create+update+delete per batch; 413 above (a store filter can change it)
SKU_CHUNK = 100                 # SKUs per `?sku=A,B,…` lookup (the most a page returns) ...
SKU_QUERY_BUDGET = 4000         # ... and at most this many URL-encoded characters of them: with the rest of
                                # the URL and OAuth's query parameters well under the 8 KB nginx and Apache
                                # accept by default


class WooClient:
    """A WooCommerce store. Credentials first, options keyword-only; `session=` is the test seam.

    Authentication follows the scheme: https sends HTTP Basic (or, with `query_string_auth=True`,
    `consumer_key`/`consumer_secret` query parameters for hosts whose web server drops the
    Authorization header); http signs one-legged OAuth1 HMAC-SHA256, allowed only for a loopback
    host unless `allow_insecure_http=True`. `oauth1_in` puts the OAuth1 signature in the "query"
    (default, like WooCommerce's own client) or the "header". `batch_limit` follows a store whose
    `woocommerce_rest_batch_items_limit` filter changed the 100-item limit.

    Namespaces (each has its own help()):

    - `site`: the WordPress site behind the store (`home()`, the REST index)
    - `orders`: `iter(statuses=, modified_after=)`, `get`, `update_status`, `add_note`, `notes`
    - `products`: `iter`, `get`, `by_skus` (variations too), `first_page`
    - `variations`: `iter(parent_id)`, `get`
    - `stock`: `write([StockWrite(...)])`, batched, each write judged from the store's echo
    - `request(method, path, ...)`: an endpoint not wrapped
    """

    def __init__(self, url: str, consumer_key: str, consumer_secret: str, *, allow_insecure_http: bool = False,
                 verify: bool | str | os.PathLike[str] = True, session: Any = None, timeouts: Timeouts = Timeouts(),
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
                 counter: CallCounter | None = None, name: str | None = None, query_string_auth: bool = False,
                 oauth1_in: str = "query", batch_limit: int = BATCH_LIMIT):
        self.url, self.host, scheme, hostname = _parse_store_url(url)
        if not consumer_key or not consumer_secret:
            raise ConfigError(f"{self.url}: the consumer key and secret must both be set "
                              "(WooCommerce > Settings > Advanced > REST API)")
        if oauth1_in not in ("query", "header"):
            raise ConfigError(f"oauth1_in must be 'query' or 'header', not {oauth1_in!r}")
        if int(batch_limit) < 1:
            raise ConfigError(f"batch_limit must be at least 1, not {batch_limit!r}")
        if isinstance(verify, os.PathLike) or isinstance(verify, str):
            verify = os.fspath(verify)
            if not os.path.exists(verify):
                raise ConfigError(f"{self.url}: CA bundle {verify!r} does not exist")
        self.name = name or self.host
        self.batch_limit = int(batch_limit)
        auth: AuthBase
        if scheme == "https":
            if query_string_auth:
                auth, self.auth_mode = _QueryStringAuth(consumer_key, consumer_secret), "query"
            else:
                auth, self.auth_mode = HTTPBasicAuth(consumer_key, consumer_secret), "basic"
        else:
            if query_string_auth:
                raise ConfigError(f"{self.url}: over plain http WooCommerce ignores consumer_key/"
                                  "consumer_secret query parameters (it answers 401 woocommerce_rest_cannot_view); "
                                  "use https, or leave query_string_auth off to sign with OAuth1")
            if not (_is_loopback(hostname) or allow_insecure_http):
                raise ConfigError(
                    f"{self.url}: plain http to a non-loopback host. WooCommerce ignores HTTP Basic auth "
                    "over http (it answers 401 woocommerce_rest_cannot_view), so only OAuth1 could work, "
                    "and it would send the consumer key and all store data unencrypted. Use https, or pass "
                    "allow_insecure_http=True for a test store on a trusted network")
            auth = OAuth1(consumer_key, client_secret=consumer_secret, signature_method=SIGNATURE_HMAC_SHA256,
                          signature_type=SIGNATURE_TYPE_QUERY if oauth1_in == "query" else SIGNATURE_TYPE_AUTH_HEADER)
            self.auth_mode = f"oauth1-{oauth1_in}"
        self._http = HttpClient(SYSTEM, self.url + API_PATH, session=session, auth=auth, timeouts=timeouts,
                                verify=verify, retry=retry, sleep=sleep, counter=counter)
        self.site = Site(self)
        self.orders = Orders(self)
        self.products = Products(self)
        self.variations = Variations(self)
        self.stock = Stock(self)

    @property
    def calls(self) -> CallCounter:
        """Requests sent so far (retries included), by route: `{"woocommerce GET /orders": 3}`."""
        return self._http.calls

    @property
    def server_time(self) -> datetime | None:
        """The store's clock (its `Date` header) at its latest answer: a watermark in the store's
        own time, untouched by any difference between its clock and ours."""
        return self._http.server_time

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                creates: bool | None = None) -> HttpResponse:
        """Any wc/v3 endpoint this SDK does not model, with the same auth, retries and errors.
        `path` is relative to `/wp-json/wc/v3` ("products/attributes")."""
        return self._http.request(method, path, params=_params(params or {}), json=json, creates=creates)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "WooClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        named = f"{self.name!r}, " if self.name != self.host else ""
        return f"WooClient({named}host={self.host!r}, auth={self.auth_mode!r})"


class Site:
    """`woo.site`: the WordPress site behind the store (the REST index, which needs no auth)."""

    def __init__(self, client: WooClient):
        self._c = client

    def index(self, fields: Sequence[str] = ("name", "url", "home")) -> Mapping[str, Any]:
        """`GET /wp-json/?_fields=...`: WordPress's site index, cut to `fields` (the full index lists
        every route of every plugin, hundreds of KB)."""
        resp = self._c._http.get(self._c.url + "/wp-json/", {"_fields": ",".join(fields)} if fields else None)
        return _object(resp)

    def home(self) -> str | None:
        """The site's home URL (`home_url()`): the same for every address the shop answers on, so it
        tells two configured URLs of one shop apart from two shops."""
        value = self.index(("home",)).get("home")
        return str(value) if value else None


class Orders:
    """`woo.orders`: list, read, change status, annotate."""

    def __init__(self, client: WooClient):
        self._c = client

    def iter(self, statuses: Sequence[str] | str | None = ("processing",), modified_after: datetime | None = None,
             modified_before: datetime | None = None, orderby: str | None = "modified", *, order: str = "asc",
             per_page: int = 100, **filters: Any) -> Iterator[WooOrder]:
        """Orders in `statuses` (None or empty: any status), oldest modification first, fetched lazily.

        Dates are sent as UTC without offset plus `dates_are_gmt=true` (naive datetimes are taken as
        UTC), to the second: `modified_after` is exclusive on the store's side. `orderby=None` keeps
        the store's default order (newest first). Extra `filters` (`customer=`, `_fields=`) pass through.
        """
        params: dict[str, Any] = {}
        if statuses:
            params["status"] = statuses if isinstance(statuses, str) else ",".join(statuses)
        if modified_after is not None:
            params["modified_after"] = _woo_datetime(modified_after)
        if modified_before is not None:
            params["modified_before"] = _woo_datetime(modified_before)
        if modified_after is not None or modified_before is not None:
            params["dates_are_gmt"] = "true"
        if orderby:
            params["orderby"], params["order"] = orderby, order
        params.update(_params(filters))
        pages = self._c._http.iter_woo("orders", params, per_page=per_page)
        return _unique(pages, WooOrder.from_api, "orders")

    def get(self, order_id: int) -> WooOrder:
        return WooOrder.from_api(_object(self._c._http.get(f"orders/{int(order_id)}")))

    def update_status(self, order_id: int, status: str) -> WooOrder:
        """Set the status (WooCommerce then runs its own transitions: emails, stock changes)."""
        resp = self._c._http.request("PUT", f"orders/{int(order_id)}", json={"status": status})
        return WooOrder.from_api(_object(resp, "PUT"))

    def add_note(self, order_id: int, note: str, customer_note: bool = False) -> WooOrderNote:
        """Add a note; `customer_note=True` shows it to the customer AND emails it to them."""
        resp = self._c._http.request("POST", f"orders/{int(order_id)}/notes",
                                     json={"note": note, "customer_note": bool(customer_note)}, creates=True)
        return WooOrderNote.from_api(_object(resp, "POST"))

    def notes(self, order_id: int) -> list[WooOrderNote]:
        """Every note of an order, newest first, same-second notes by id (the endpoint is not paginated)."""
        return [WooOrderNote.from_api(n) for n in _array(self._c._http.get(f"orders/{int(order_id)}/notes"))]


class Products:
    """`woo.products`: products (and, for SKU lookups and reads by id, variations)."""

    def __init__(self, client: WooClient):
        self._c = client

    def iter(self, *, orderby: str | None = "id", order: str = "asc", per_page: int = 100,
             fields: Sequence[str] | None = None, **filters: Any) -> Iterator[WooProduct]:
        """Every product matching `filters` (`type="variable"`, `status=…`), lazily. Never variations.

        Ordered by id because the default (date) order is not total: products created in the same
        second made pages overlap and skip items. `orderby=None` keeps the store's default.
        `fields` (e.g. `WooProduct.FIELDS`) asks for those keys alone (WordPress's `_fields`); the
        items then come without `.raw` (a big catalogue's memory).
        """
        params = {"orderby": orderby, "order": order} if orderby else {}
        params.update(_params(filters))
        params.update(_fields(fields))
        slim = bool(fields)
        return _unique(self._c._http.iter_woo("products", params, per_page=per_page),
                       lambda item: WooProduct.from_api(item, slim=slim), "products")

    def first_page(self, *, per_page: int = 100, fields: Sequence[str] | None = None
                   ) -> tuple[list[WooProduct], int | None]:
        """The first page of `iter()` and the store's `X-WP-TotalPages` (None if the header is
        missing): what a whole listing would cost, learnt for the price of its first call.
        Continue with `iter(page=2)`."""
        resp = self._c._http.get("products", {"orderby": "id", "order": "asc", "per_page": per_page, "page": 1,
                                              **_fields(fields)})
        pages = resp.headers.get("X-WP-TotalPages")
        return ([WooProduct.from_api(p, slim=bool(fields)) for p in _array(resp)],
                int(pages) if pages is not None and str(pages).isdigit() else None)

    def get(self, product_id: int) -> WooProduct:
        """A product, or a variation by its own id (then `type == "variation"`, `parent_id` set)."""
        return WooProduct.from_api(_object(self._c._http.get(f"products/{int(product_id)}")))

    def by_skus(self, skus: Iterable[str], *, fields: Sequence[str] | None = None) -> dict[str, WooProduct]:
        """`{sku: product or variation}` for the SKUs the store has; missing SKUs are simply absent.

        One `GET /products?sku=A,B,…` per ≤ 100 SKUs (the store matches both products and variations).
        Matches are re-checked exactly: MySQL compares SKUs case-insensitively, so asking for
        "widget-1" also returns "WIDGET-1", which is not what was asked for. A SKU containing a comma
        cannot be sent in that list and is looked up alone through `search_sku` (partial match,
        re-checked). `fields`: as for `iter`.
        """
        wanted = list(dict.fromkeys(s for s in skus if isinstance(s, str) and s))
        found: dict[str, WooProduct] = {}
        listable = [s for s in wanted if "," not in s]
        queries = [({"sku": ",".join(chunk)}, set(chunk)) for chunk in _sku_chunks(listable)]
        queries += [({"search_sku": s}, {s}) for s in wanted if "," in s]
        for params, asked in queries:
            for item in self._c._http.iter_woo("products", {**params, **_fields(fields)}):
                product = WooProduct.from_api(item, slim=bool(fields))
                if product.sku not in asked:
                    continue
                if product.sku in found and found[product.sku].id != product.id:
                    log.warning("%s: SKU %r is held by both #%d and #%d; using #%d", self._c.name, product.sku,
                                found[product.sku].id, product.id, found[product.sku].id)
                    continue
                found[product.sku] = product
        return {s: found[s] for s in wanted if s in found}


class Variations:
    """`woo.variations`: the variations of one variable product."""

    def __init__(self, client: WooClient):
        self._c = client

    def iter(self, parent_id: int, *, orderby: str | None = "id", order: str = "asc", per_page: int = 100,
             fields: Sequence[str] | None = None, **filters: Any) -> Iterator[WooProduct]:
        """Every variation of `parent_id`, lazily, each with `parent_id` set (ordered by id, as
        products). `fields`: as for `Products.iter`."""
        parent = int(parent_id)
        params = {"orderby": orderby, "order": order} if orderby else {}
        params.update(_params(filters))
        params.update(_fields(fields))
        pages = self._c._http.iter_woo(f"products/{parent}/variations", params, per_page=per_page)
        slim = bool(fields)
        return _unique(pages, lambda item: WooProduct.from_api(item, parent_id=parent, slim=slim), "variations")

    def get(self, parent_id: int, variation_id: int) -> WooProduct:
        resp = self._c._http.get(f"products/{int(parent_id)}/variations/{int(variation_id)}")
        return WooProduct.from_api(_object(resp), parent_id=int(parent_id))


class Stock:
    """`woo.stock`: set absolute stock levels and report, per item, whether the store applied them."""

    def __init__(self, client: WooClient):
        self._c = client

    def write(self, writes: Sequence[StockWrite]) -> list[StockWriteResult]:
        """Send every write in batches and return one result per write, in the input order.

        Products go to `POST /products/batch`, variations (`parent_id` set) to
        `POST /products/{parent}/variations/batch`, at most `batch_limit` per request. Nothing is
        raised for a failed request: its items come back `applied=False` with the reason, and the
        other batches still go (except after a 401: the same key would be refused for every batch).
        An item is applied only when the store echoes the quantity sent and manages the stock itself.
        """
        writes = list(writes)
        results: list[StockWriteResult | None] = [None] * len(writes)
        groups: dict[int | None, list[tuple[int, StockWrite, int]]] = {}
        for index, write in enumerate(writes):
            quantity = _whole(write.quantity)
            if quantity is None:
                results[index] = StockWriteResult(write, False, f"WooCommerce stock is whole units; "
                                                  f"{write.quantity!r} is not", error_code="invalid_quantity")
                continue
            groups.setdefault(write.parent_id or None, []).append((index, write, quantity))
        refused: ApiError | None = None
        for parent, items in groups.items():
            path = "products/batch" if parent is None else f"products/{parent}/variations/batch"
            for start in range(0, len(items), self._c.batch_limit):
                chunk = items[start:start + self._c.batch_limit]
                if refused is not None:
                    for index, write, _ in chunk:
                        results[index] = _failed(write, refused, "not sent: an earlier batch was refused: ")
                    continue
                body = {"update": [{"id": write.product_id, "stock_quantity": qty} for _, write, qty in chunk]}
                try:
                    # Absolute levels: re-sending is harmless, so a 5xx or timeout may be retried.
                    resp = self._c._http.request("POST", path, json=body, creates=False)
                except (ApiError, TransportError) as exc:
                    log.warning("%s: stock batch of %d to %s failed: %s", self._c.name, len(chunk), path, exc)
                    for index, write, _ in chunk:
                        results[index] = _failed(write, exc)
                    if isinstance(exc, AuthError) and exc.status == 401:
                        refused = exc
                    continue
                echoes = resp.data.get("update") if isinstance(resp.data, dict) else None
                if not isinstance(echoes, list):
                    echoes = []
                    log.warning("%s: stock batch to %s answered without an `update` list", self._c.name, path)
                for (index, write, qty), echo in zip(chunk, _pair_echoes([w for _, w, _ in chunk], echoes)):
                    results[index] = _judge(write, qty, echo)
        done = [r for r in results if r is not None]
        applied = sum(r.applied for r in done)
        if applied < len(done):
            log.warning("%s: %d of %d stock writes not applied", self._c.name, len(done) - applied, len(done))
        else:
            log.info("%s: %d stock writes applied", self._c.name, applied)
        return done

    def write_one(self, write: StockWrite) -> StockWriteResult:
        """One write through `PUT /products/{id}` (or the variation route), judged like a batch item."""
        quantity = _whole(write.quantity)
        if quantity is None:
            return StockWriteResult(write, False, f"WooCommerce stock is whole units; {write.quantity!r} is not",
                                    error_code="invalid_quantity")
        path = (f"products/{write.parent_id}/variations/{write.product_id}" if write.parent_id
                else f"products/{write.product_id}")
        try:
            resp = self._c._http.request("PUT", path, json={"stock_quantity": quantity})
        except (ApiError, TransportError) as exc:
            return _failed(write, exc)
        return _judge(write, quantity, resp.data)


# --- stock verdicts --------------------------------------------------------------------------------

def _pair_echoes(writes: list[StockWrite], echoes: list[Any]) -> list[Any]:
    """The echo of each write: WooCommerce answers in request order, but trust ids over positions."""
    if len(echoes) == len(writes) and all(isinstance(e, Mapping) and _same_id(e.get("id"), w.product_id)
                                          for w, e in zip(writes, echoes)):
        return echoes
    by_id: dict[int, list[Any]] = {}
    for echo in echoes:
        if isinstance(echo, Mapping) and str(echo.get("id", "")).isdigit():
            by_id.setdefault(int(echo["id"]), []).append(echo)
    return [by_id[w.product_id].pop(0) if by_id.get(w.product_id) else None for w in writes]


def _same_id(value: Any, product_id: int) -> bool:
    return str(value) == str(product_id)


def _judge(write: StockWrite, sent: int, echo: Any) -> StockWriteResult:
    if not isinstance(echo, Mapping):
        return StockWriteResult(write, False, "the store's answer has no entry for this item",
                                error_code="missing_echo")
    error = echo.get("error")
    if error:
        error = error if isinstance(error, Mapping) else {"message": str(error)}
        code = error.get("code")
        # WooCommerce HTML-escapes its messages ("/products/&lt;product_id&gt;/variations").
        message = html.unescape(str(error.get("message") or "")).strip()
        return StockWriteResult(write, False, f"{code}: {message}" if code else message or "failed",
                                error_code=str(code) if code else None)
    manage = echo.get("manage_stock")
    echoed = _int_or_none(echo.get("stock_quantity"))
    if manage == "parent":
        parent = echo.get("parent_id") or write.parent_id
        reason = (f"ignored by the store (manage_stock \"parent\": the quantity is parent product "
                  f"#{parent}'s; write it there)")
    elif manage is not True:
        reason = ("ignored by the store (manage_stock false: the item does not track stock, "
                  "or stock management is off in WooCommerce > Settings > Products > Inventory)")
    elif echoed != sent:
        reason = f"ignored by the store (it echoed stock_quantity {echoed}, {sent} was sent)"
    else:
        return StockWriteResult(write, True, None, echoed_quantity=echoed)
    return StockWriteResult(write, False, reason, error_code="ignored_by_store", echoed_quantity=echoed)


def _failed(write: StockWrite, exc: ApiError | TransportError, prefix: str = "") -> StockWriteResult:
    if isinstance(exc, ApiError):
        code = exc.code or f"http_{exc.status}"
    else:
        code = "no_answer" if not exc.connect_failed else "connect_failed"
    return StockWriteResult(write, False, prefix + str(exc), error_code=code)


def _whole(quantity: Any) -> int | None:
    """The quantity as an int, or None when it is not a whole number (WooCommerce stores integers)."""
    if isinstance(quantity, bool):
        return None
    if isinstance(quantity, int):
        return quantity
    try:
        value = Decimal(str(quantity))
    except ArithmeticError:
        return None
    return int(value) if value.is_finite() and value == value.to_integral_value() else None


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


# --- helpers ---------------------------------------------------------------------------------------

class _QueryStringAuth(AuthBase):
    """`consumer_key`/`consumer_secret` as query parameters: WooCommerce's documented fallback over
    https when the web server drops the Authorization header. `_http` redacts them from URLs."""

    def __init__(self, key: str, secret: str):
        self._key, self._secret = key, secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.prepare_url(r.url, {"consumer_key": self._key, "consumer_secret": self._secret})
        return r

    def __repr__(self) -> str:
        return "_QueryStringAuth(REDACTED)"


def _parse_store_url(url: str) -> tuple[str, str, str, str]:
    """(store URL without trailing slash, host[:port], scheme, hostname) or ConfigError."""
    text = str(url or "").strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"store URL must look like https://shop.example.com, not {text[:80]!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("store URL must not carry a user or password; pass the consumer key and secret")
    if parts.query or parts.fragment:
        raise ConfigError(f"store URL must not carry a query or fragment: {parts.scheme}://{parts.hostname}…")
    hostname = parts.hostname.lower()
    path = parts.path.rstrip("/")
    for suffix in (API_PATH, "/wp-json"):  # tolerate the API URL pasted instead of the store URL
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"store URL has an invalid port: {text[:80]!r}") from None
    shown = f"[{hostname}]" if ":" in hostname else hostname
    host = f"{shown}:{port}" if port else shown
    return f"{scheme}://{host}{path}", host, scheme, hostname


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def _woo_datetime(value: datetime | str) -> str:
    """UTC `YYYY-MM-DDTHH:MM:SS` (no offset: the store reads it as GMT with dates_are_gmt=true)."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        parsed = value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _woo_datetime(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        # PHP keeps only the last of repeated `key=` parameters; WordPress splits comma lists.
        return ",".join(str(_param(v)) for v in value)
    return value


def _params(filters: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in filters.items():
        if isinstance(value, (list, tuple, set, frozenset)) and not value:
            # WordPress reads `include=` as no filter at all: an empty id list would match everything.
            raise ValueError(f"{key} is empty; WordPress would ignore it and match everything")
    return {k: _param(v) for k, v in filters.items() if v is not None}


def _sku_chunks(skus: list[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for sku in skus:
        cost = len(quote(sku, safe="")) + 3  # "%2C"
        if chunk and (len(chunk) >= SKU_CHUNK or size + cost > SKU_QUERY_BUDGET):
            yield chunk
            chunk, size = [], 0
        chunk.append(sku)
        size += cost
    if chunk:
        yield chunk


def _fields(fields: Sequence[str] | None) -> dict[str, str]:
    """WordPress's `_fields` global: the response carries these keys alone (the reference sheet:
    WooCommerce honours it through `get_fields_for_response()`, skipping the work for the rest)."""
    return {"_fields": ",".join(fields)} if fields else {}


def _unique(items: Iterator[dict[str, Any]], build: Callable[[dict[str, Any]], Any], what: str) -> Iterator[Any]:
    """Drop repeats: offset pagination repeats (and skips) items when the list changes while paged."""
    seen: set[int] = set()
    warned = False
    for item in items:
        obj = build(item)
        if obj.id in seen:
            if not warned:
                log.warning("%s #%d came twice while paging: the list changed or its order is not total; "
                            "items may also have been skipped", what, obj.id)
                warned = True
            continue
        seen.add(obj.id)
        yield obj


def _object(resp: HttpResponse, method: str = "GET") -> Mapping[str, Any]:
    """The JSON object a single-resource route answers; anything else is not WooCommerce talking."""
    if not isinstance(resp.data, Mapping):
        raise _unexpected(resp, method, "an object")
    return resp.data


def _array(resp: HttpResponse, method: str = "GET") -> list[Any]:
    if not isinstance(resp.data, list):
        raise _unexpected(resp, method, "a list")
    return resp.data


def _unexpected(resp: HttpResponse, method: str, wanted: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(system=SYSTEM, method=method, url=resp.url, status=resp.status,
                                   message=f"expected {wanted}, got {type(resp.data).__name__}",
                                   hint="something between this client and WooCommerce answered")
