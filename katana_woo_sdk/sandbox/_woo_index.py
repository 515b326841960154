"""WordPress's REST indexes in the WooCommerce emulator: `GET /wp-json/` and `GET /wp-json/wc/v3`.

Used by `_woo_http.WooHttp.not_found` (neither index is a wc/v3 route). As WordPress 6.8 builds them
(`WP_REST_Server::get_index`, `get_namespace_index`, `rest_filter_response_fields`):
* the site index answers `name`, `description`, `url` (siteurl), `home` (home_url(), no trailing
  slash), `gmt_offset`, `timezone_string`, `page_for_posts`, `page_on_front`, `show_on_front`,
  `namespaces`, `authentication`, `routes`; without `_fields` it adds `_links` (`help`) and the
  `site_logo`/`site_icon`/`site_icon_url` of a site that has none (0, 0, "");
* `authentication` is `[]` (PHP's empty array) unless application passwords are available, which
  WordPress allows only over https (`wp_is_application_passwords_available()`): in `https_mode` it
  names the authorisation endpoint;
* `_fields=a,b.c` keeps only those keys (dotted paths reach into objects), for any answer;
* the site index needs no authentication, and WooCommerce's own check (`WC_REST_Authentication`)
  only runs for URLs containing `wp-json/wc/`: credentials sent to `/wp-json/` are ignored, even
  wrong ones. The namespace index `/wp-json/wc/v3` is under that check.
* `gmt_offset` is the option as stored for a site set to a UTC offset (a string, "0" or "5.5"), with
  `timezone_string` "" (the recorded store runs on "UTC+0").
Routes are listed with their namespace and methods, and one entry per endpoint (the methods one
handler serves); the per-endpoint `args` schemas a real index carries are left out (assumption: no
client of this project reads them).
"""
from __future__ import annotations

from typing import Any, Callable

DOCS_URL = "https://developer.wordpress.org/rest-api/"


def route_key(pattern: str) -> str:
    """The index key of a wc/v3 route: its regex as WooCommerce registers it (`(?P<id>[\\d]+)`)."""
    return "/wc/v3" + pattern.replace(r"\d+", r"[\d]+")


def route_data(api_url: str, pattern: str, methods: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """get_data_for_route(): methods in registration order, an endpoint per handler, and a `self`
    link for routes without parameters."""
    endpoints: list[dict[str, Any]] = []
    seen: dict[int, dict[str, Any]] = {}
    for method, handler in methods.items():
        if id(handler) in seen:
            seen[id(handler)]["methods"].append(method)
        else:
            seen[id(handler)] = {"methods": [method]}
            endpoints.append(seen[id(handler)])
    data: dict[str, Any] = {"namespace": "wc/v3", "methods": list(methods), "endpoints": endpoints}
    if "(?P<" not in pattern:
        data["_links"] = {"self": [{"href": f"{api_url}{pattern}"}]}
    return data


def site_index(*, name: str, description: str, home: str, gmt_offset_hours: float, https: bool,
               routes: dict[str, Any], fields: str | None) -> dict[str, Any]:
    offset = int(gmt_offset_hours) if float(gmt_offset_hours).is_integer() else gmt_offset_hours
    authentication: Any = []
    if https:
        authentication = {"application-passwords": {"endpoints": {
            "authorization": f"{home}/wp-admin/authorize-application.php"}}}
    index_routes = {"/": {"namespace": "", "methods": ["GET"], "endpoints": [{"methods": ["GET"]}],
                          "_links": {"self": [{"href": f"{home}/wp-json/"}]}},
                    "/wc/v3": {"namespace": "wc/v3", "methods": ["GET"], "endpoints": [{"methods": ["GET"]}],
                               "_links": {"self": [{"href": f"{home}/wp-json/wc/v3"}]}},
                    **routes}
    data: dict[str, Any] = {
        "name": name, "description": description, "url": home, "home": home, "gmt_offset": str(offset),
        "timezone_string": "", "page_for_posts": 0, "page_on_front": 0, "show_on_front": "posts",
        "namespaces": ["wc/v3"], "authentication": authentication, "routes": index_routes}
    wanted = parse_fields(fields)
    if not wanted or "_links" in wanted:
        data.update({"site_logo": 0, "site_icon": 0, "site_icon_url": ""})
        data["_links"] = {"help": [{"href": DOCS_URL}]}
    shown: dict[str, Any] = filter_fields(data, wanted)
    return shown


def namespace_index(home: str, routes: dict[str, Any], fields: str | None) -> dict[str, Any]:
    data = {"namespace": "wc/v3", "routes": routes, "_links": {"up": [{"href": f"{home}/wp-json/"}]}}
    shown: dict[str, Any] = filter_fields(data, parse_fields(fields))
    return shown


def parse_fields(fields: Any) -> list[str]:
    """wp_parse_list(): a comma (or space) separated string, or a list."""
    if fields is None:
        return []
    items = fields if isinstance(fields, list) else str(fields).replace(" ", ",").split(",")
    return [f.strip() for f in items if f and f.strip()]


def filter_fields(data: Any, fields: list[str]) -> Any:
    """rest_filter_response_fields(): keep the named keys; `a.b` keeps `b` inside `a`."""
    if not fields:
        return data
    tree: dict[str, Any] = {}
    for field in fields:
        node = tree
        *parents, last = field.split(".")
        for part in parents:
            if node.get(part) is True:   # the whole parent is already kept
                break
            node = node.setdefault(part, {})
        else:
            node[last] = True
    return _intersect(data, tree)


def _intersect(data: Any, tree: dict[str, Any]) -> Any:
    if isinstance(data, list):
        return [_intersect(item, tree) for item in data]
    if not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        if key in tree:
            out[key] = value if tree[key] is True else _intersect(value, tree[key])
    return out
