"""Validate request bodies against Katana's live-gateway spec, as the real gateway would.

Katana's gateway answers 422 to any body field its DTO does not declare (`additionalProperties:
false`), so a body the emulator accepts but the gateway refuses would only fail in production. The
spec (`../shared/specs/katana-upstream-live-gateway.yaml`, OpenAPI 3.0) is read from ../shared and
never copied into the repo. OpenAPI 3.0's `nullable: true` becomes a JSON Schema type union and
`$ref`s resolve inside the converted document.

Used by the autouse `_katana_gateway_guard` fixture in conftest.py (every Katana request with a JSON
body sent through `requests.Session.send` during the suite is checked) and by test_katana_client.py.
A test that deliberately sends an invalid body (e.g. to see the emulator's 422) opts out with
`with unchecked(): ...` or a module-level `KATANA_GATEWAY_CHECK = False`.
"""
from __future__ import annotations

import contextlib
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator

SPEC_PARTS = ("specs", "katana-upstream-live-gateway.yaml")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_DROP = {"nullable", "example", "examples", "discriminator", "xml", "externalDocs", "x-nullable"}


def openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema 2020-12 (nullable -> type union / null branch)."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key in ("properties", "patternProperties", "schemas", "definitions", "$defs"):
            # A mapping of names to schemas: the names are data, not keywords.
            out[key] = {name: openapi_to_jsonschema(sub) for name, sub in value.items()}
        else:
            out[key] = openapi_to_jsonschema(value)
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        elif kind is None and any(k in out for k in ("$ref", "anyOf", "oneOf", "allOf")):
            out = {"anyOf": [out, {"type": "null"}]}
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def load_yaml(path: Path) -> Any:
    """The specs are megabytes of YAML: libyaml's C loader when present (seconds -> a fraction)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern
    schema: dict | None      # the JSON requestBody schema, converted; None when the operation takes none


class Gateway:
    """The gateway's operations and their request DTOs."""

    def __init__(self, spec: dict):
        self.components = openapi_to_jsonschema(spec.get("components") or {})
        self.operations: list[Operation] = []
        for template, item in (spec.get("paths") or {}).items():
            regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "/?$")
            for method, op in item.items():
                if method not in HTTP_METHODS or not isinstance(op, dict):
                    continue
                body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
                schema = openapi_to_jsonschema(body["schema"]) if "schema" in body else None
                self.operations.append(Operation(method.upper(), template, regex, schema))
        # Literal paths before templated ones: /sales_orders/search must not match /sales_orders/{id}.
        self.operations.sort(key=lambda op: op.template.count("{"))

    @classmethod
    def load(cls, path: Path) -> "Gateway":
        return cls(load_yaml(Path(path)))

    def find(self, method: str, path: str) -> Operation | None:
        method = method.upper()
        return next((op for op in self.operations if op.method == method and op.pattern.match(path)), None)

    def validate(self, method: str, path: str, body: Any) -> list[str]:
        """Problems the gateway would answer 422 (or 404) to; empty when the body is acceptable."""
        op = self.find(method, path)
        if op is None:
            return [f"{method} {path}: the live gateway has no such operation"]
        if op.schema is None:
            return [f"{method} {op.template}: the gateway takes no JSON body here"] if body is not None else []
        schema = {**op.schema, "components": self.components}
        validator = Draft202012Validator(schema)
        problems = []
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            problems.append(f"{method} {op.template}: {where}: {error.message}")
        return problems


@functools.lru_cache(maxsize=4)
def load_gateway(path: str) -> Gateway:
    return Gateway.load(Path(path))


def katana_api_path(url: str, headers: Any) -> str | None:
    """`/sales_orders/5` for a Katana API request (a `/v1/` path sent with a Bearer token), else None."""
    auth = ""
    if headers is not None:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
    if isinstance(auth, bytes):
        auth = auth.decode("latin-1")
    if not str(auth).startswith("Bearer "):
        return None
    path = urlsplit(url).path
    marker = path.find("/v1/")
    if marker < 0:
        return None
    return path[marker + 3:]


def request_json(body: Any, headers: Any) -> tuple[bool, Any]:
    """(True, parsed) when a prepared request carries a JSON body."""
    if body is None or body == b"" or body == "":
        return False, None
    ctype = (headers.get("Content-Type") or "") if headers is not None else ""
    if "json" not in str(ctype).lower():
        return False, None
    try:
        return True, json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except ValueError:
        return True, "<unparseable JSON body>"


_unchecked_global = [0]


def is_unchecked() -> bool:
    return _unchecked_global[0] > 0


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Send deliberately invalid Katana bodies inside this block without failing the test."""
    _unchecked_global[0] += 1
    try:
        yield
    finally:
        _unchecked_global[0] -= 1
