"""The webhook receiver and the health endpoints: one WSGI application, served by waitress.

Called by `service.loop`, which serves `Receiver` with waitress (a maintained, pure-Python,
threaded WSGI server: no HTTP server is written here) on `--listen HOST:PORT`. Routes:

    POST /webhooks/woocommerce/<store>   a store's deliveries (X-WC-Webhook-Signature)
    POST /webhooks/katana                Katana's deliveries (x-sha2-signature)
    GET  /healthz                        200 while the service's loop is alive
    GET  /readyz                         200 while it holds the state lock and its last reconcile is recent
    GET  /metrics                        Prometheus text (prometheus_client)

A delivery is verified over its raw bytes before anything else; a missing or bad signature gets 401
and nothing is stored. WooCommerce's creation ping (no signature, form body `webhook_id=N`) gets
200 and nothing is stored. A verified delivery is written to the inbox in the state, and only
after that commit is it acknowledged (200): a crash right after the answer loses nothing. The work
it asks for is the worker's (`service.worker`), woken here; the answer never waits for it.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from ..errors import KatanaWooError
from .events import KATANA, WOO, NotAnEvent, is_woo_ping, katana_delivery, woo_delivery
from .metrics import Metrics
from .signatures import verify_katana, verify_woo

log = logging.getLogger(__name__)

MAX_BODY = 2 * 1024 * 1024      # a WooCommerce order with hundreds of lines is ~200 KB
WOO_PREFIX = "/webhooks/woocommerce/"
KATANA_PATH = "/webhooks/katana"


@dataclass(frozen=True)
class Health:
    """What `/healthz` and `/readyz` answer from (the loop fills it in)."""
    alive: bool
    ready: bool
    detail: Mapping[str, Any]


class Receiver:
    """The WSGI application. `woo_secret(store)` and `katana_token()` give the current secrets
    (None: that source is not configured, and its deliveries get 401); `inbox` is a `State` of the
    receiver's own (its own connection); `wake()` nudges the worker; `health()` reports the loop."""

    def __init__(self, *, inbox: Any, woo_secret: Callable[[str], str | None], katana_token: Callable[[], str | None],
                 metrics: Metrics, wake: Callable[[], None], health: Callable[[], Health]):
        self.inbox, self.woo_secret, self.katana_token = inbox, woo_secret, katana_token
        self.metrics, self.wake, self.health = metrics, wake, health
        self.last_delivery = 0.0        # time.monotonic() of the last delivery stored (the loop waits out bursts)

    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        try:
            if path.startswith(WOO_PREFIX) or path == KATANA_PATH:
                if method != "POST":
                    return _answer(start_response, 405, {"error": "POST only"}, allow="POST")
                status, body = self._delivery(path, environ)
                return _answer(start_response, status, body)
            if method not in ("GET", "HEAD"):
                return _answer(start_response, 405, {"error": "GET only"}, allow="GET, HEAD")
            if path == "/metrics":
                start_response("200 OK", [("Content-Type", self.metrics.content_type)])
                return [self.metrics.render()]
            if path in ("/healthz", "/readyz"):
                health = self.health()
                ok = health.alive if path == "/healthz" else health.ready
                return _answer(start_response, 200 if ok else 503, {"ok": ok, **dict(health.detail)})
            return _answer(start_response, 404, {"error": "not found"})
        except Exception:        # a bug answers 500 (the sender retries); it never kills a server thread
            log.exception("webhook receiver: %s %s failed", method, path)
            return _answer(start_response, 500, {"error": "internal error"})

    def _delivery(self, path: str, environ: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 400, {"error": "bad Content-Length"}
        if length > MAX_BODY:
            return 413, {"error": "body too large"}
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["CONTENT-TYPE"] = environ["CONTENT_TYPE"]
        source = KATANA if path == KATANA_PATH else WOO
        if source == WOO:
            store = path[len(WOO_PREFIX):].strip("/")
            if is_woo_ping(headers, body):
                self.metrics.deliveries.labels(WOO, "ping").inc()
                log.info("webhook ping from %s accepted", store)
                return 200, {"ok": True, "ping": True}
            if not verify_woo(body, headers.get("X-WC-WEBHOOK-SIGNATURE"), self.woo_secret(store)):
                return self._refused(WOO, store)
        elif not verify_katana(body, headers.get("X-SHA2-SIGNATURE"), self.katana_token()):
            return self._refused(KATANA, "")
        try:
            delivery = woo_delivery(store, headers, body) if source == WOO else katana_delivery(headers, body)
        except NotAnEvent as exc:
            self.metrics.deliveries.labels(source, "ignored").inc()
            return 200, {"ok": True, "ignored": str(exc)}
        try:
            added = self.inbox.inbox_add(delivery.source, delivery.store, delivery.delivery_id, delivery.topic,
                                         delivery.resource, delivery.resource_id,
                                         rearm_done=source == KATANA and delivery.retry == 0)
        except KatanaWooError as exc:      # not stored: not acknowledged, so the sender tries again
            log.error("webhook inbox: cannot store a %s delivery: %s", source, exc)
            return 503, {"error": "the inbox is unavailable; deliver again later"}
        self.metrics.deliveries.labels(source, added.result).inc()
        self.last_delivery = time.monotonic()
        if added.result == "new":
            self.wake()
        return 200, {"ok": True, "result": added.result, "entry": added.entry_id}

    def _refused(self, source: str, store: str) -> tuple[int, dict[str, Any]]:
        self.metrics.deliveries.labels(source, "unauthorized").inc()
        log.warning("webhook from %s%s refused: missing or bad signature", source, f" ({store})" if store else "")
        return 401, {"error": "missing or bad signature"}


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


def _answer(start_response: Callable[..., Any], status: int, body: Mapping[str, Any], *,
            allow: str | None = None) -> list[bytes]:
    data = json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if allow:
        headers.append(("Allow", allow))
    start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
    return [data]


__all__ = ["Receiver", "Health", "WOO_PREFIX", "KATANA_PATH"]
