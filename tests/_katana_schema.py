"""Check the Katana emulator's answers against the community OpenAPI spec in ../shared.

Used by `tests/test_sandbox_katana.py`: `KatanaSchema.check(response)` validates one
`requests.Response` (status, JSON body, pagination and rate-limit headers) against the response
declared for its method and path; `session_hook()` does it for every answer of a session, so no
response in those tests escapes the check. The spec is OpenAPI 3.1 (JSON Schema 2020-12), so
`jsonschema` resolves its `$ref`s through a `referencing` registry holding the whole document.

Three readings of the spec, each stated where it is applied:
- error bodies travel wrapped in {"error": {...}} (verified live; the spec's own 412 note says the
  `ErrorResponse` schema describes the inner object), so the inner object is what is validated;
- a status the operation does not list (e.g. 422 on POST /sales_orders) is checked against the
  spec's shared response for that status (`components/responses/UnprocessableEntityError`, ...);
- `ValidationErrorDetail` is a `oneOf` whose generic fallback also matches every typed variant;
  its description says "first match wins", so the fallback is narrowed to codes no typed variant
  claims, and a typed code must satisfy its typed schema.
"""
from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from _shared import require_shared

SPEC_URI = "urn:katana-openapi"
_FALLBACK = {400: "BadRequestError", 401: "UnauthorizedError", 404: "NotFoundError", 412: "PreconditionFailedError",
             422: "UnprocessableEntityError", 429: "TooManyRequests", 500: "InternalServerError"}


@lru_cache(maxsize=1)
def _load_spec(path: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        spec = yaml.load(fh, Loader=loader)
    _narrow_validation_detail(spec)
    return spec


def _narrow_validation_detail(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    detail = schemas["ValidationErrorDetail"]
    typed_codes = []
    for ref in detail["oneOf"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        if name == "GenericValidationError":
            continue
        for part in schemas[name].get("allOf", []):
            code = part.get("properties", {}).get("code", {})
            typed_codes.extend(code.get("enum", []))
    generic = copy.deepcopy(schemas["GenericValidationError"])
    generic["not"] = {"properties": {"code": {"enum": typed_codes}}, "required": ["code"]}
    schemas["GenericValidationError"] = generic


class KatanaSchema:
    def __init__(self) -> None:
        path = require_shared("specs", "katana-openapi.yaml")
        self.spec = _load_spec(str(path))
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self._paths = [(re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", p) + "$"), p) for p in self.spec["paths"]]
        self.checked = 0

    def _template(self, path: str) -> str:
        exact = [t for rx, t in self._paths if t == path]
        if exact:
            return exact[0]
        matches = [t for rx, t in self._paths if rx.match(path)]
        if not matches:
            raise AssertionError(f"{path} is not a path of the Katana spec")
        return min(matches, key=lambda t: t.count("{"))   # the most literal template wins

    def _resolve(self, obj: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in obj:
            node: Any = self.spec
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def response_spec(self, method: str, template: str, status: int) -> dict[str, Any]:
        op = self.spec["paths"][template][method.lower()]
        declared = op.get("responses", {})
        if str(status) in declared:
            return self._resolve(declared[str(status)])
        if status in _FALLBACK:
            return self._resolve({"$ref": f"#/components/responses/{_FALLBACK[status]}"})
        raise AssertionError(f"{method} {template} declares no {status} response")

    def validate(self, schema: dict[str, Any], instance: Any, what: str) -> None:
        validator = Draft202012Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5]]
            raise AssertionError(f"{what} does not match the spec:\n  " + "\n  ".join(lines))

    def check(self, response) -> None:
        """Validate a `requests.Response` from the emulator (path relative to `/v1`)."""
        method = response.request.method
        path = urlsplit(response.request.url).path
        if "/__sandbox__/" in path:
            return
        path = path.split("/v1", 1)[1] if "/v1" in path else path
        template = self._template(path)
        what = f"{method} {path} -> {response.status_code}"
        declared = self.response_spec(method, template, response.status_code)
        self._check_headers(declared, response, what)
        content = declared.get("content", {}).get("application/json")
        if content is None:
            assert not response.content, f"{what}: the spec declares no body, got {response.content[:100]!r}"
            self.checked += 1
            return
        body = response.json()
        if response.status_code >= 400:
            assert set(body) == {"error"}, f"{what}: error body is not wrapped in {{'error': ...}}: {body}"
            body = body["error"]
        self.validate({"$ref": f"{SPEC_URI}#/{_pointer(self.spec, content['schema'])}"}, body, what)
        self.checked += 1

    def _check_headers(self, declared: dict[str, Any], response, what: str) -> None:
        headers = response.headers
        for name in ("X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"):
            if name in headers:
                assert re.fullmatch(r"\d+", headers[name]), f"{what}: {name} is not an integer: {headers[name]}"
        if "Retry-After" in headers:
            # The spec says integer seconds; a time-scaled sandbox sends fractions on purpose.
            assert re.fullmatch(r"\d+(\.\d+)?", headers["Retry-After"]), f"{what}: bad Retry-After"
        schema_ref = json.dumps(declared.get("content", {}).get("application/json", {}).get("schema", {}))
        if response.status_code == 200 and "ListResponse" in schema_ref:
            assert "X-Pagination" in headers, f"{what}: list answer without X-Pagination"
        if "X-Pagination" in headers:
            header_schema = self.spec["components"]["headers"]["X-Pagination"]["schema"]
            self.validate(header_schema, json.loads(headers["X-Pagination"]), f"{what} X-Pagination")

    def session_hook(self):
        def hook(response, *args, **kwargs):
            self.check(response)
            return response
        return hook


def _pointer(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    """JSON pointer (without '#/') of a response schema: its $ref, or the inline node's location."""
    if "$ref" in schema:
        return schema["$ref"].lstrip("#/")
    raise AssertionError("inline response schemas are not expected in the Katana spec")
