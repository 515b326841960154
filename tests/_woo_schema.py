"""Check WooCommerce answers against the OpenAPI description in ../shared (wc-v3-openapi.json).

Used by `tests/test_sandbox_woo.py` and `tests/test_sandbox_woo_differential.py`:
* `woo_schema()` loads the spec through `_shared.require_shared` (the test is skipped, saying why,
  when ../shared is absent) and builds a JSON Schema 2020-12 validator with a `referencing`
  registry holding the whole document;
* `WooSchema.errors(method, path, status, body)` picks the response schema declared for that
  operation and status (the `default`/`Error` response for undeclared statuses) and returns every
  problem; on top of the schema it reports keys the schema does not declare (the schemas do not
  forbid extra keys, so without this check a misspelt field would pass);
* `watch(emulator)` hooks an emulator so that EVERY answer it gives during a test (HTTP API,
  `/__sandbox__/woo/` admin routes and the Python admin API's return values) is checked; the
  fixture asserts the returned list is empty at teardown. `try_watch` does the same when the spec
  is present and returns None without ../shared: the behaviour tests then still run, and the
  tests that are about the schema skip with the reason.

Format keywords are annotations (the 2020-12 default), as for the recorded real answers: a real
store sends `"src": ""` where the schema says `format: uri`.

The spec covers the operations the SDK uses; the few write routes it leaves out answer with the
same resources (`EXTRA_OPERATIONS`). Two places where a real 10.0.2 store answers outside the spec
are patched here, narrowly, and listed in `ERRATA`; `ALLOWED_EXTRA_KEYS` lists keys real answers
carry that the schemas do not declare. Both lists come from the recordings (or, for one entry,
WooCommerce's source) and are kept as short as the evidence allows.
"""
from __future__ import annotations

import copy
import fnmatch
import json
import re
from functools import lru_cache
from typing import Any, Callable

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from _shared import SHARED, require_shared

SPEC_PARTS = ("specs", "woocommerce", "wc-v3-openapi.json")
SPEC_URI = "urn:wc-v3-openapi"
API_PREFIX = "/wp-json/wc/v3"

# Operations absent from the spec, answered with the resource they create or delete.
EXTRA_OPERATIONS = {
    ("POST", "/products"): "Product",
    ("DELETE", "/products/{id}"): "Product",
    ("POST", "/products/{product_id}/variations"): "ProductVariation",
    ("DELETE", "/products/{product_id}/variations/{id}"): "ProductVariation",
}
# POST, PUT and PATCH are WordPress's EDITABLE: one handler, so one response shape, whichever the spec lists.
_EDITABLE = ("POST", "PUT", "PATCH")

# Where a real WooCommerce 10.0.2 store answers outside the spec (component, property, patched schema, why).
ERRATA = [
    ("Product", "total_sales", {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]},
     "a variation read through /products?sku= has total_sales \"0\", a string (cassette find_by_sku #1, #2)"),
    ("Product", "manage_stock", {"type": ["boolean", "string"], "x-known-values": [True, False, "parent"]},
     "a parent-managed variation read through /products says \"parent\" (WC_Product_Variation::"
     "get_manage_stock(), the same value /variations returns and ProductVariation already allows)"),
]
# Keys real answers carry that the component schemas do not declare (JSON pointer-ish location -> keys).
# "Component:path inside it" (fnmatch patterns, lists as []) -> keys. Every entry occurs in the recordings.
ALLOWED_EXTRA_KEYS: dict[str, set[str]] = {
    "Order:": {"currency_symbol"},
    "*:_links/*[]": {"targetHints", "embeddable"},          # HAL link attributes (self, email_templates)
    "Product:attributes[]": {"slug", "option"},             # attribute slug; a variation's chosen option
    "ProductVariation:attributes[]": {"slug"},
}


class WooSchema:
    def __init__(self, spec: dict[str, Any]):
        self.spec = copy.deepcopy(spec)
        for component, prop, schema, _why in ERRATA:
            self.spec["components"]["schemas"][component]["properties"][prop] = schema
        self.registry = Registry().with_resource(SPEC_URI, Resource(self.spec, specification=DRAFT202012))
        self._operations = []
        for path, item in self.spec["paths"].items():
            regex = re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$")
            self._operations.append((path.count("{"), regex, path, item))
        self._operations.sort(key=lambda op: op[0])   # literal segments first: /products/batch before /{id}

    # --- picking the schema ----------------------------------------------------------------------

    def template(self, api_path: str) -> str | None:
        for _, regex, path, _ in self._operations:
            if regex.match(api_path):
                return path
        for (_, path) in EXTRA_OPERATIONS:
            if re.match("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$", api_path):
                return path
        return None

    def response_schema(self, method: str, api_path: str, status: int) -> tuple[dict[str, Any], str]:
        """(schema, label). Unknown routes and undeclared statuses answer with the WP_Error shape."""
        template = self.template(api_path)
        item = self.spec["paths"].get(template or "", {})
        operation = item.get(method.lower())
        if operation is None and method in _EDITABLE:
            operation = next((item[m.lower()] for m in _EDITABLE if m.lower() in item), None)
        if operation is not None:
            responses = operation["responses"]
            response = responses.get(str(status)) or responses.get("default")
            if "$ref" in response:
                response = _pointer(self.spec, response["$ref"])
            schema = response["content"]["application/json"]["schema"]
            return _absolute(schema), f"{method} {template} {status}"
        component = EXTRA_OPERATIONS.get((method, template or ""))
        if component is not None and status < 400:
            return {"$ref": f"{SPEC_URI}#/components/schemas/{component}"}, f"{method} {template} {status} (extra)"
        return {"$ref": f"{SPEC_URI}#/components/schemas/WPError"}, f"{method} {api_path} {status} (WPError)"

    # --- checking --------------------------------------------------------------------------------

    def errors(self, method: str, api_path: str, status: int, body: Any) -> list[str]:
        schema, label = self.response_schema(method, api_path, status)
        return [f"{label}: {problem}" for problem in self.check(schema, body)]

    def check_component(self, component: str, instance: Any) -> list[str]:
        return self.check({"$ref": f"{SPEC_URI}#/components/schemas/{component}"}, instance)

    def check(self, schema: dict[str, Any], instance: Any) -> list[str]:
        validator = Draft202012Validator(schema, registry=self.registry)
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
                    for e in validator.iter_errors(instance)]
        if not problems:
            problems = [f"{where}: undeclared key {key!r}" for where, key in self._extra_keys(schema, instance, "")]
        return problems

    def _resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        name = None
        while "$ref" in schema:
            ref = schema["$ref"]
            name = ref.rsplit("/", 1)[-1] if "/components/schemas/" in ref else name
            schema = _pointer(self.spec, ref.split("#", 1)[1])
        return schema, name

    def _extra_keys(self, schema: dict[str, Any], instance: Any, rel: str, owner: str = "") -> list[tuple[str, str]]:
        """(location, key) for every key the schema does not declare; `rel` is the path inside the
        component (`owner`) being walked, lists marked `[]`."""
        schema, name = self._resolve(schema)
        if name is not None and name != owner:
            owner, rel = name, ""
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:   # the valid branch that explains the most keys
                results = [self._extra_keys(branch, instance, rel, owner) for branch in schema[keyword]
                           if not list(Draft202012Validator(_absolute(branch), registry=self.registry)
                                       .iter_errors(instance))]
                return min(results, key=len) if results else []
        found: list[tuple[str, str]] = []
        join = (lambda key: f"{rel}/{key}" if rel else key)
        if isinstance(instance, dict) and ("properties" in schema or isinstance(schema.get("additionalProperties"), dict)):
            # Keys beyond `properties` are reported unless the schema allows them (`additionalProperties`).
            props = schema.get("properties", {})
            for key, value in instance.items():
                if key in props:
                    found += self._extra_keys(props[key], value, join(key), owner)
                elif isinstance(schema.get("additionalProperties"), dict):
                    found += self._extra_keys(schema["additionalProperties"], value, join(key), owner)
                elif schema.get("additionalProperties") is not True and not _allowed(owner, rel, key):
                    found.append((f"{owner}:{rel or '<root>'}", key))
        elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
            for item in instance:
                found += self._extra_keys(schema["items"], item, f"{rel}[]", owner)
        return found


def _allowed(owner: str, rel: str, key: str) -> bool:
    for pattern, keys in ALLOWED_EXTRA_KEYS.items():
        owner_pattern, _, rel_pattern = pattern.partition(":")
        if key in keys and fnmatch.fnmatchcase(owner, owner_pattern) and fnmatch.fnmatchcase(rel, rel_pattern):
            return True
    return False


def _pointer(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _absolute(schema: Any) -> Any:
    """Local refs of a schema taken out of the document, made absolute so they resolve."""
    return json.loads(json.dumps(schema).replace('"$ref": "#/', f'"$ref": "{SPEC_URI}#/'))


@lru_cache(maxsize=1)
def _load(path: str) -> WooSchema:
    with open(path, encoding="utf-8") as fh:
        return WooSchema(json.load(fh))


def woo_schema() -> WooSchema:
    """The validator; skips the calling test, saying why, when ../shared is absent."""
    return _load(str(require_shared(*SPEC_PARTS)))


def spec_available() -> bool:
    return SHARED is not None and SHARED.joinpath(*SPEC_PARTS).exists()


# --- hooking an emulator -----------------------------------------------------------------------

_ADMIN_COMPONENTS = [
    ("POST", r"^/__sandbox__/woo/products$", "Product"), ("GET", r"^/__sandbox__/woo/products/[^/]+$", "Product"),
    ("DELETE", r"^/__sandbox__/woo/products/[^/]+$", "Product"), ("POST", r"^/__sandbox__/woo/orders$", "Order"),
    ("GET", r"^/__sandbox__/woo/orders$", "Order[]"), ("PUT", r"^/__sandbox__/woo/orders/\d+/status$", "Order"),
]
_PYTHON_API = {"add_product": "Product", "add_variable_product": "Product", "product_by_sku": "Product",
               "delete_product": "Product", "place_order": "Order", "set_order_status": "Order", "order": "Order",
               "orders": "Order[]"}


def try_watch(emulator: Any) -> list[str] | None:
    """`watch` when the spec is there; None (nothing checked) without ../shared, so the behaviour
    tests still run and only the schema tests skip, with their reason."""
    return watch(emulator) if spec_available() else None


def watch(emulator: Any, schema: WooSchema | None = None) -> list[str]:
    """Validate every answer `emulator` gives from now on; problems are appended to the list returned."""
    schema = schema or woo_schema()
    failures: list[str] = []
    server = emulator.server
    dispatch = server.dispatch

    def checked_dispatch(request):
        response = dispatch(request)
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type or request.method == "HEAD" or response.headers.get("X-Sandbox-Fault"):
            return response   # not JSON, no body, or an answer a test injected
        body = json.loads(response.body.decode("utf-8")) if response.body else None
        if request.path.startswith(API_PREFIX):
            api_path = request.path[len(API_PREFIX):] or "/"
            if api_path != "/":   # the index is no resource of the spec
                failures.extend(schema.errors(request.method, api_path, response.status, body))
        elif response.status < 300:
            for method, pattern, component in _ADMIN_COMPONENTS:
                if method == request.method and re.match(pattern, request.path):
                    failures.extend(_component_errors(schema, component, body, f"admin {request.method} {request.path}"))
        return response

    server.dispatch = checked_dispatch
    for name, component in _PYTHON_API.items():
        setattr(emulator, name, _checked_method(getattr(emulator, name), schema, component, failures, name))
    return failures


def _component_errors(schema: WooSchema, component: str, body: Any, label: str) -> list[str]:
    if component.endswith("[]"):
        items = body if isinstance(body, list) else [body]
        return [f"{label}[{i}]: {p}" for i, item in enumerate(items)
                for p in schema.check_component(component[:-2], item)]
    return [f"{label}: {p}" for p in schema.check_component(component, body)]


def _checked_method(method: Callable[..., Any], schema: WooSchema, component: str, failures: list[str],
                    name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        failures.extend(_component_errors(schema, component, result, f"python {name}()"))
        return result
    wrapper.__name__ = name
    return wrapper
