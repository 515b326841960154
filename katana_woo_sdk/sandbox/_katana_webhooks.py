"""Katana webhooks: `/v1/webhooks` and their deliveries, as Katana's documentation describes them.

Wired by `katana_emulator` (each route through `KatanaApi`'s auth and rate limit; `stop()` from
the emulator's). From the reference (Katana's webhook guides and its API spec):
* `POST /webhooks {url, subscribed_events, description?, enabled?}` answers 200 with the webhook and
  its `token` (16 lowercase hex), the HMAC key; `url` must be https (pattern `^https://`) and
  `subscribed_events` at least one known event, else 422; `GET /webhooks?url=&enabled=&ids=`,
  `GET/PATCH/DELETE /webhooks/{id}` (DELETE answers 204);
* each event is POSTed as the "event object" `{"resource_type", "action", "webhook_id", "object":
  {"id", "status", "href"}}` (no `href` for `*.deleted`), signed in `x-sha2-signature` as the hex
  HMAC-SHA256 of the raw body keyed with the token;
* a delivery not acknowledged with a 2xx within 10 s is retried three more times, after about
  30 s, 2 min and 15 min (times `time_scale`, like the rate limit), with `X-Katana-Retry-Num: 1|2|3`.
Events fired: `sales_order.created`, `.updated` (any change), `.deleted`, `.packed`, `.delivered`,
and `current_inventory.product_updated` when a variant's in stock at a location changes, with
`object.id` the variant id. Katana does not document that object; ours is a guess, and a receiver
should use only the action (which is what katana-woo does).
Deviations on purpose: an `http://` URL on a loopback host is accepted, so the loop runs on one
machine; changes are found by a watcher polling the records every 50 ms (only while a webhook
exists), so changes within one poll fold into one event, as a real receiver may also see.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import urlsplit

from ._katana_model import KatanaApiError, detail, invalid, iso, not_found
from ._katana_query import Query
from ._server import Request
from ._webhook_sender import Sender, Watcher

EVENTS = ("sales_order.created", "sales_order.approved", "sales_order.updated", "sales_order.deleted",
          "sales_order.ready_for_fulfillment", "sales_order.packed", "sales_order.delivered", "sales_order.invoiced",
          "sales_order.availability_updated", "current_inventory.product_updated",
          "current_inventory.material_updated", "current_inventory.product_out_of_stock",
          "current_inventory.material_out_of_stock", "product.created", "product.updated", "product.deleted",
          "variant.created", "variant.updated", "variant.deleted", "material.created", "material.updated",
          "material.deleted", "manufacturing_order.created", "manufacturing_order.updated",
          "manufacturing_order.done", "purchase_order.received")
RETRY_AFTER = (30.0, 120.0, 900.0)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Webhook:
    id: int
    url: str
    token: str = field(repr=False)
    enabled: bool
    description: str | None
    subscribed_events: list[str]
    created_at: datetime
    updated_at: datetime

    def api(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "token": self.token, "enabled": self.enabled,
                "description": self.description, "subscribed_events": list(self.subscribed_events),
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at)}


class KatanaWebhooks:
    """`data` and `lock` are the emulator's; `base_url()` its `/v1` URL (for `href`)."""

    def __init__(self, data: Any, lock: threading.RLock, base_url: Callable[[], str], time_scale: float = 1.0):
        self.data, self.lock, self.base_url, self.time_scale = data, lock, base_url, time_scale
        self.hooks: dict[int, Webhook] = {}
        self._next = 1
        self.sender = Sender("katana", timeout=10.0)
        self._watcher: Watcher | None = None
        self._orders: dict[int, tuple[Any, ...]] = {}
        self._stock: dict[tuple[int, int], Decimal] = {}

    def routes(self) -> list[tuple[str, str, Callable[[Request, Query], tuple[int, Any, dict[str, str]]]]]:
        n = r"(?P<id>\d+)"
        return [("GET", "/webhooks", self.list), ("POST", "/webhooks", self.create),
                ("GET", f"/webhooks/{n}", self.get), ("PATCH", f"/webhooks/{n}", self.patch),
                ("DELETE", f"/webhooks/{n}", self.delete)]

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.sender.stop()

    # --- REST (called under the emulator's lock) ---------------------------------------------------

    def list(self, request: Request, q: Query) -> tuple[int, Any, dict[str, str]]:
        hooks = sorted(self.hooks.values(), key=lambda h: h.id, reverse=True)   # most recent first
        url, enabled, ids = q.str("url"), q.bool("enabled"), q.ints("ids")
        hooks = [h for h in hooks if (url is None or h.url == url) and (enabled is None or h.enabled == enabled)
                 and (not ids or h.id in ids)]
        limit, page = q.page_args()
        pages = max(1, -(-len(hooks) // limit))
        meta = {"total_records": str(len(hooks)), "total_pages": str(pages), "offset": str((page - 1) * limit),
                "page": str(page), "first_page": "true" if page == 1 else "false",
                "last_page": "true" if page >= pages else "false"}
        return (200, {"data": [h.api() for h in hooks[(page - 1) * limit: page * limit]]},
                {"X-Pagination": json.dumps(meta, separators=(",", ":"))})

    def _hook(self, request: Request) -> Webhook:
        hook = self.hooks.get(int(request.params["id"]))
        if hook is None:
            raise not_found()
        return hook

    def get(self, request: Request, q: Query) -> tuple[int, Any, dict[str, str]]:
        return 200, self._hook(request).api(), {}

    def create(self, request: Request, q: Query) -> tuple[int, Any, dict[str, str]]:
        body = _body(request)
        self._check(body, create=True)
        now = self.data.now()
        hook = Webhook(self._next, body["url"], secrets.token_hex(8), bool(body.get("enabled", True)),
                       body.get("description"), list(body["subscribed_events"]), now, now)
        self._next += 1
        self.hooks[hook.id] = hook
        self._watch()
        return 200, hook.api(), {}

    def patch(self, request: Request, q: Query) -> tuple[int, Any, dict[str, str]]:
        hook, body = self._hook(request), _body(request)
        self._check(body, create=False)
        for key in ("url", "enabled", "description", "subscribed_events"):
            if key in body:
                setattr(hook, key, list(body[key]) if key == "subscribed_events" else body[key])
        hook.updated_at = self.data.now()
        return 200, hook.api(), {}

    def delete(self, request: Request, q: Query) -> tuple[int, Any, dict[str, str]]:
        del self.hooks[self._hook(request).id]
        return 204, None, {}

    @staticmethod
    def _check(body: dict[str, Any], *, create: bool) -> None:
        problems = []
        allowed = {"url", "enabled", "subscribed_events", "description"}
        problems += [detail(f".{k}", "additionalProperties", "must NOT have additional properties")
                     for k in body if k not in allowed]
        url = body.get("url")
        if create and url is None:
            problems.append(detail("", "required", "must have required property 'url'"))
        elif url is not None:
            parts = urlsplit(str(url))
            if not (str(url).startswith("https://") or (parts.scheme == "http" and parts.hostname in _LOOPBACK)):
                problems.append(detail(".url", "pattern", 'must match pattern "^https://.*$"'))
        events = body.get("subscribed_events")
        if create and events is None:
            problems.append(detail("", "required", "must have required property 'subscribed_events'"))
        elif events is not None:
            if not isinstance(events, list) or not events:
                problems.append(detail(".subscribed_events", "minItems", "must NOT have fewer than 1 items"))
            else:
                problems += [detail(f".subscribed_events[{i}]", "enum", "must be equal to one of the allowed values")
                             for i, e in enumerate(events) if e not in EVENTS]
        if "enabled" in body and not isinstance(body["enabled"], bool):
            problems.append(detail(".enabled", "type", "must be boolean"))
        if problems:
            raise invalid(problems)

    # --- deliveries ----------------------------------------------------------------------------------

    def _watch(self) -> None:
        if self._watcher is None:
            self._orders, self._stock = self._order_prints(), self._stock_prints()
            self._watcher = Watcher("katana", self.scan)

    def _order_prints(self) -> dict[int, tuple[Any, ...]]:
        return {so.id: (so.updated_at, so.deleted_at, so.status) for so in self.data.sales_orders.values()}

    def _stock_prints(self) -> dict[tuple[int, int], Decimal]:
        return {key: cell.in_stock for key, cell in self.data.stock.items()}

    def scan(self) -> None:
        with self.lock:
            orders, stock = self._order_prints(), self._stock_prints()
            for so_id, now in orders.items():
                before = self._orders.get(so_id)
                if before is None:
                    self._fire("sales_order", "sales_order.created", so_id, now[2])
                elif before != now:
                    if now[1] is not None and before[1] is None:
                        self._fire("sales_order", "sales_order.deleted", so_id, now[2])
                        continue
                    self._fire("sales_order", "sales_order.updated", so_id, now[2])
                    if now[2] != before[2] and now[2] in ("PACKED", "DELIVERED"):
                        self._fire("sales_order", f"sales_order.{now[2].lower()}", so_id, now[2])
            for key, qty in stock.items():
                if self._stock.get(key, Decimal(0)) != qty:
                    self._fire("current_inventory", "current_inventory.product_updated", key[0], None)
            self._orders, self._stock = orders, stock

    def _fire(self, resource: str, action: str, object_id: int, status: str | None) -> None:
        obj: dict[str, Any] = {"id": object_id}
        if status is not None:
            obj["status"] = status
        if resource == "sales_order" and not action.endswith(".deleted"):
            obj["href"] = f"{self.base_url()}/sales_orders/{object_id}"
        for hook in sorted(self.hooks.values(), key=lambda h: h.id):
            if hook.enabled and action in hook.subscribed_events:
                event = {"resource_type": resource, "action": action, "webhook_id": hook.id, "object": obj}
                self._send(hook, json.dumps(event, separators=(",", ":")).encode(), 0)

    def _send(self, hook: Webhook, body: bytes, retry: int) -> None:
        def render() -> tuple[bytes, dict[str, str]]:
            headers = {"Content-Type": "application/json", "User-Agent": "Katana-Webhooks",
                       "x-sha2-signature": hmac.new(hook.token.encode(), body, hashlib.sha256).hexdigest()}
            if retry:
                headers["X-Katana-Retry-Num"] = str(retry)
            return body, headers

        def done(status: int | None) -> None:
            if (status is None or not 200 <= status < 300) and retry < len(RETRY_AFTER):
                self._send_later(hook, body, retry + 1)

        self.sender.submit(hook.url, render, done, delay=0.0 if retry == 0 else RETRY_AFTER[retry - 1] * self.time_scale)

    def _send_later(self, hook: Webhook, body: bytes, retry: int) -> None:
        with self.lock:
            if hook.id in self.hooks and hook.enabled:
                self._send(hook, body, retry)


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise KatanaApiError(400, "BadRequestError", "Unexpected token in JSON") from None
    if not isinstance(body, dict):
        raise invalid([detail("", "type", "must be object")])
    return body


__all__ = ["KatanaWebhooks", "EVENTS"]
