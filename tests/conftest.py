"""Test-wide guards: no test may reach beyond loopback; the Katana emulator checks its own
running commitment against its orders on every read (cheap at test sizes, and a drift would
otherwise only show as a wrong figure somewhere far away)."""
from __future__ import annotations

import ipaddress
import os
import socket

import pytest

pytest_plugins = ["_postgres"]  # a PostgreSQL server, and the runner tests on both state backends

os.environ.setdefault("KATANA_WOO_SANDBOX_SELFCHECK", "1")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
        return real(self, address)
    return connect


@pytest.fixture(autouse=True)
def _block_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
    yield


@pytest.fixture(autouse=True)
def _katana_gateway_guard(request, monkeypatch):
    """Every Katana API request with a JSON body sent during a test is validated against the live
    gateway's request DTOs (../shared); the test fails at teardown listing each body the real
    gateway would refuse. Nothing is raised inside `send`: the runner catches errors per store and
    would hide it. Does nothing when ../shared is absent (the dedicated tests skip with a reason)."""
    from _shared import SHARED
    import _katana_gateway as gw

    spec = SHARED.joinpath(*gw.SPEC_PARTS) if SHARED is not None else None
    if spec is None or not spec.exists() or getattr(request.module, "KATANA_GATEWAY_CHECK", True) is False:
        yield
        return
    import requests

    gateway = gw.load_gateway(str(spec))
    violations: list[str] = []
    real_send = requests.Session.send

    def send(self, prepared, **kwargs):
        try:
            path = gw.katana_api_path(prepared.url, prepared.headers)
            if path is not None and not gw.is_unchecked():
                has_json, body = gw.request_json(prepared.body, prepared.headers)
                if has_json:
                    violations.extend(gateway.validate(prepared.method, path, body))
        except Exception as exc:  # the guard must never break the request it watches
            violations.append(f"gateway guard failed on {prepared.method} {prepared.url}: {exc!r}")
        return real_send(self, prepared, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    yield
    if violations:
        pytest.fail("request bodies Katana's live gateway would refuse (422):\n  " + "\n  ".join(violations),
                    pytrace=False)


@pytest.fixture(autouse=True)
def _emulator_response_guard(request, monkeypatch):
    """Every answer a sandbox emulator gives anywhere in the suite (runner, engine, notebook-free
    tests alike) is validated against the response schemas of ../shared/specs/katana-openapi.yaml
    and ../shared/specs/woocommerce/wc-v3-openapi.json; the test fails at teardown listing each
    mismatch. Does nothing without ../shared (the emulators' own schema tests skip with a reason)."""
    import _woo_schema
    from _shared import SHARED

    if SHARED is None or not _woo_schema.spec_available() or \
            getattr(request.module, "EMULATOR_SCHEMA_CHECK", True) is False:
        yield
        return
    import json as _json
    from urllib.parse import urlsplit

    import requests
    from _katana_schema import KatanaSchema

    katana_schema, woo_schema = KatanaSchema(), _woo_schema.woo_schema()
    failures: list[str] = []
    real_send = requests.Session.send

    def send(self, prepared, **kwargs):
        response = real_send(self, prepared, **kwargs)
        try:
            parts = urlsplit(prepared.url)
            if parts.hostname != "127.0.0.1" or "/__sandbox__/" in parts.path or \
                    response.headers.get("X-Sandbox-Fault"):
                return response   # not an emulator: an admin call, or an answer a test injected
            if parts.path.startswith("/v1/"):
                try:
                    katana_schema.check(response)
                except AssertionError as exc:
                    # A route the spec does not have must be Katana's wrapped 404, nothing else.
                    if "is not a path of the Katana spec" not in str(exc) or response.status_code != 404 \
                            or set(response.json()) != {"error"}:
                        raise
            elif parts.path.startswith(_woo_schema.API_PREFIX + "/"):
                if "json" in response.headers.get("Content-Type", "") and response.content:
                    api_path = parts.path[len(_woo_schema.API_PREFIX):]
                    failures.extend(woo_schema.errors(prepared.method, api_path, response.status_code,
                                                      _json.loads(response.content)))
        except AssertionError as exc:
            failures.append(str(exc))
        except Exception as exc:  # the guard must never break the request it watches
            failures.append(f"schema guard failed on {prepared.method} {prepared.url}: {exc!r}")
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    yield
    if failures:
        pytest.fail("emulator answers that do not match the APIs' response schemas:\n  " +
                    "\n  ".join(failures[:20]), pytrace=False)
