"""The WordPress REST server of the WooCommerce emulator: routing, the order of checks, headers.

Used by `woo_emulator` (which owns the `EmulatorServer`) and by the handlers in `_woo_rest_products`
and `_woo_rest_orders`. A request goes through the same stages as in WordPress 6.8:
1. authentication (`_woo_auth`): its error is the answer, whatever the route;
2. route and method match, else 404 `rest_no_route` (also for a known path with another method);
3. argument validation (`_woo_params`) -> 400 `rest_invalid_param`, before any permission check;
4. the permission callback: unauthenticated callers get 401 `woocommerce_rest_cannot_*`; the item
   routes only refuse when the item exists (an unknown id falls through to the handler's 404);
5. the handler.
Answers carry WordPress's headers: `Link` holds either the API discovery link or, on collections,
`rel="prev"`/`rel="next"` links that copy the request's query string as PHP parsed it (credentials
included) with `page` replaced in place or appended; `X-WP-Total`/`X-WP-TotalPages`; `Allow`.
Bodies are PHP's json_encode: compact, slashes escaped.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from ._server import Request, Response
from ._woo_auth import Authenticator
from ._woo_index import namespace_index, route_data, route_key, site_index
from ._woo_model import StoreContext, WooError, parse_wp_date
from ._woo_params import query_values

API_PREFIX = "/wp-json/wc/v3"
NO_ROUTE = WooError("rest_no_route", "No route was found matching the URL and request method.", 404)
_CANNOT = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
    "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
}


@dataclass
class Call:
    """One API request as the handlers see it: WordPress's merged parameters and who asked."""

    request: Request
    method: str                      # after X-HTTP-Method-Override / _method, HEAD served as GET
    params: dict[str, Any]           # query (PHP-parsed) < body < URL parameters
    authenticated: bool
    base: str                        # the store URL, e.g. http://127.0.0.1:PORT
    headers: dict[str, str] = field(default_factory=dict)   # extra answer headers set by the handler

    @property
    def api(self) -> str:
        return self.base + API_PREFIX

    def permit(self, kind: str, *, exists: bool = True) -> None:
        """The permission callback; `exists=False` lets item routes fall through to their 404."""
        if not self.authenticated and exists:
            code, message = _CANNOT[kind]
            raise WooError(code, message, 401)


Handler = Callable[[Call], tuple[int, Any]]


@dataclass
class Route:
    pattern: str                     # relative to API_PREFIX, regex with named groups
    name: str                        # for the request log, e.g. "/products/{id}"
    methods: dict[str, Handler]


def only_fields(body: Any, values: list[str]) -> Any:
    """WordPress's `_fields` global (`rest_filter_response_fields`): keep only the named keys of the
    object, or of each object of a list; `a.b` names a nested key. Comma lists and repeats combine."""
    wanted = [f.strip() for v in values for f in v.split(",") if f.strip()]
    if not wanted:
        return body

    def pick(obj: Any) -> Any:
        if not isinstance(obj, dict):
            return obj
        out: dict[str, Any] = {}
        for name in wanted:
            head, _, rest = name.partition(".")
            if head not in obj:
                continue
            if rest and isinstance(obj[head], dict):
                nested = only_fields(obj[head], [rest])
                out[head] = {**out.get(head, {}), **nested} if isinstance(out.get(head), dict) else nested
            else:
                out[head] = obj[head]
        return out

    return [pick(item) for item in body] if isinstance(body, list) else pick(body)


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode("utf-8")


def build_query(query: dict[str, list[str]]) -> list[tuple[str, str]]:
    """$request->get_query_params() rebuilt by add_query_arg(): decoded values, arrays indexed."""
    values = query_values(query)
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        if isinstance(value, list):
            pairs.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
        else:
            pairs.append((key, value))
    return pairs


def page_link(base: str, pairs: list[tuple[str, str]], page: int) -> str:
    out = [(k, str(page) if k == "page" else v) for k, v in pairs]
    if not any(k == "page" for k, _ in pairs):
        out.append(("page", str(page)))
    # add_query_arg does not encode: the values go back exactly as PHP decoded them. Only what
    # would break the header itself is escaped.
    text = "&".join(f"{k}={v}" for k, v in out)
    return f"{base}?" + "".join(c if c.isprintable() and c not in "<>" else f"%{ord(c):02X}" for c in text)


def paginate(call: Call, args: dict[str, Any], items: list[Any], render: Callable[[Any], Any],
             link_base: str, *, total: int | None = None,
             window: Callable[[int, int], list[Any]] | None = None) -> tuple[int, Any]:
    """One page of `items`, with WordPress's headers. `total` and `window(offset, limit)` instead
    describe a list read through an index: only the page is produced."""
    per_page, page, offset = args["per_page"], args["page"], args.get("offset")
    total = len(items) if total is None else total
    pages = math.ceil(total / per_page)
    start = offset if offset is not None else (page - 1) * per_page
    call.headers["X-WP-Total"] = str(total)
    call.headers["X-WP-TotalPages"] = str(pages)
    pairs = build_query(call.request.query)
    links = []
    if page > 1:
        links.append(f'<{page_link(link_base, pairs, min(page - 1, pages))}>; rel="prev"')
    if pages > page:
        links.append(f'<{page_link(link_base, pairs, page + 1)}>; rel="next"')
    if links:
        call.headers["Link"] = ", ".join(links)
    chunk = window(max(start, 0), per_page) if window is not None else items[max(start, 0):max(start, 0) + per_page]
    return 200, [render(item) for item in chunk]


def date_bound(ctx: StoreContext, args: dict[str, Any], name: str) -> datetime | None:
    """A date filter as a UTC moment: naive values are read in the column the request picked
    (`dates_are_gmt` -> the `_gmt` column, else site-local); an explicit offset is honoured."""
    if not args.get(name):
        return None
    parsed = parse_wp_date(args[name])
    if parsed is None:
        return None
    moment, has_offset = parsed
    if not has_offset and not args.get("dates_are_gmt"):
        moment = moment - ctx.offset
    return moment.replace(tzinfo=None)


def item_filter(ctx: StoreContext, args: dict[str, Any],
                checks: list[tuple[str, Callable[[Any, Any], bool]]],
                dates: Callable[[Any], tuple[datetime, datetime]]) -> Callable[[Any], bool]:
    """A collection filter, prepared once per request: every argument given must pass its check
    (`check(item, value)`), and the item's (created, modified) must be in the date window (WP
    date_query / HPOS: strictly after, strictly before). Arguments not given cost nothing."""
    active = [(check, args[name]) for name, check in checks if args.get(name) not in (None, "", [])]
    window = [(index, bound, after) for name, index, after in (("after", 0, True), ("before", 0, False),
                                                                ("modified_after", 1, True),
                                                                ("modified_before", 1, False))
              if (bound := date_bound(ctx, args, name)) is not None]

    def keep(item: Any) -> bool:
        for check, value in active:
            if not check(item, value):
                return False
        if window:
            moments = dates(item)
            for index, bound, after in window:
                value = moments[index].replace(tzinfo=None)
                if (after and not value > bound) or (not after and not value < bound):
                    return False
        return True
    return keep


def sort_items(items: list[Any], args: dict[str, Any], keys: dict[str, Callable[[Any], Any]], *,
               date_tie_by_id: bool) -> list[Any]:
    """`orderby` + `order`. The products query sorts by date alone (same-second products keep the
    table's id order whatever the direction, which is why the real store's default pages overlap);
    orders and variations sort by `date ID`, a total order."""
    orderby, descending = args.get("orderby") or "date", (args.get("order") or "desc") == "desc"
    if orderby == "include" and args.get("include"):
        position = {value: i for i, value in enumerate(args["include"])}
        return sorted(items, key=lambda item: position.get(item.id, len(position)))
    key = keys.get(orderby, keys["id"])
    if key is keys["id"]:   # a unique key: one sort (the tie-break below would sort twice for nothing)
        return sorted(items, key=key, reverse=descending)
    base = sorted(items, key=lambda item: item.id)
    if orderby in ("date", "modified") and not date_tie_by_id:
        return sorted(base, key=key, reverse=descending)   # stable: ties stay in id order
    return sorted(base, key=lambda item: (key(item), item.id), reverse=descending)


class WooHttp:
    """Routes requests under /wp-json/wc/v3 through the stages above; answers the two indexes."""

    def __init__(self, ctx: StoreContext, auth: Authenticator, store_url: Callable[[], str], *,
                 site_name: str = "Sandbox store", https_mode: Callable[[], bool] = lambda: False):
        self.ctx, self.auth, self.store_url = ctx, auth, store_url
        self.site_name, self.https_mode = site_name, https_mode
        self.routes: list[Route] = []

    def add(self, pattern: str, name: str, methods: dict[str, Handler]) -> Route:
        route = Route(pattern, name, methods)
        self.routes.append(route)
        return route

    def endpoint(self, route: Route) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            with self.ctx.lock:
                return self._handle(request, route)
        return handle

    def _handle(self, request: Request, route: Route) -> Response:
        allow = ", ".join(m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m in route.methods)
        authenticated, error = self.auth.authenticate(request, request.method)
        if error is not None:
            return self.error(error)
        method = _effective_method(request)
        handler = route.methods.get(method)
        if handler is None:
            return self.error(NO_ROUTE)
        try:
            call = Call(request, method, _params(request), authenticated, self.store_url())
            status, body = handler(call)
        except WooError as exc:
            return self.error(exc, allow=allow)
        headers = {"Allow": allow, "Cache-Control": "no-cache, must-revalidate, max-age=0, no-store, private",
                   "Expires": "Wed, 11 Jan 1984 05:00:00 GMT", **call.headers}
        fields = request.query.get("_fields")
        if fields and 200 <= status < 300:
            body = only_fields(body, fields)
        return self.respond(status, body, headers)

    def respond(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        merged = {"X-Robots-Tag": "noindex",
                  "Link": f'<{self.store_url()}/wp-json/>; rel="https://api.w.org/"',
                  "X-Content-Type-Options": "nosniff",
                  "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
                  "Access-Control-Allow-Headers": "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, "
                                                  "Content-Type",
                  "Content-Type": "application/json; charset=UTF-8"}
        merged.update(headers or {})
        return Response(status, json_bytes(body), merged)

    def error(self, error: WooError, *, allow: str | None = None) -> Response:
        if error.status == 401:
            return self.respond(401, error.body(), {"Vary": "Origin"})
        headers = {}
        if allow and error is not NO_ROUTE:
            headers = {"Allow": allow, "Cache-Control": "no-cache, must-revalidate, max-age=0, no-store, private",
                       "Expires": "Wed, 11 Jan 1984 05:00:00 GMT"}
        return self.respond(error.status, error.body(), headers)

    def not_found(self, request: Request) -> Response:
        """No wc/v3 route matched: the indexes, or WordPress's rest_no_route (WooCommerce's
        authentication still runs first for URLs under wp-json/wc/, and only for those)."""
        path = request.path.rstrip("/")
        with self.ctx.lock:
            if path == "/wp-json" or path.startswith("/wp-json/wc/"):
                if path.startswith("/wp-json/wc/"):
                    _, error = self.auth.authenticate(request, request.method)
                    if error is not None:
                        return self.error(error)
                if path in ("/wp-json", API_PREFIX) and _effective_method(request) == "GET":
                    return self._index(request, path)
                return self.error(NO_ROUTE)
        if request.path.startswith("/wp-json/"):
            return self.error(NO_ROUTE)
        return Response(404, b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>",
                        {"Content-Type": "text/html; charset=UTF-8"})

    def _index(self, request: Request, path: str) -> Response:
        home, fields = self.store_url(), query_values(request.query).get("_fields")
        routes = {route_key(r.pattern): route_data(home + API_PREFIX, r.pattern, r.methods) for r in self.routes}
        if path == "/wp-json":
            body = site_index(name=self.site_name, description="", home=home,
                              gmt_offset_hours=self.ctx.offset.total_seconds() / 3600, https=self.https_mode(),
                              routes=routes, fields=fields)
        else:
            body = namespace_index(home, routes, fields)
        return self.respond(200, body, {"Allow": "GET"})


def _effective_method(request: Request) -> str:
    method = request.method
    if method == "POST":
        override = request.headers.get("X-HTTP-Method-Override") or request.arg("_method")
        if override:
            method = override.upper()
    return "GET" if method == "HEAD" else method


def _params(request: Request) -> dict[str, Any]:
    """WP_REST_Request::get_params(): query < form or JSON body < URL parameters."""
    params = query_values(request.query)
    content_type = (request.headers.get("Content-Type") or "").lower()
    if request.body:
        if "json" in content_type:
            try:
                body = json.loads(request.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise WooError("rest_invalid_json", "Invalid JSON body passed.", 400, json_error_code=4,
                               json_error_message="Syntax error") from exc
            if isinstance(body, dict):
                params.update(body)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            from urllib.parse import parse_qs
            params.update(query_values(parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)))
    params.update({k: v for k, v in request.params.items() if v is not None})
    return params
