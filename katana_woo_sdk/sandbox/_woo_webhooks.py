"""WooCommerce webhooks: `/wc/v3/webhooks` and their deliveries, as WooCommerce 10.0.2 sends them.

Registered by `woo_emulator` (routes on its `WooHttp`; `stop()` from the emulator's). From the
reference (WooCommerce's `class-wc-webhook.php`, the REST webhooks controller) and the 18
deliveries recorded from a real store (shared/cassettes/woocommerce-10.0.2/webhooks/):
* CRUD with `{name, status: active|paused|disabled, topic, delivery_url, secret}`; `secret` is
  write-only and, left out, a random 50-character one; an unknown topic is 400
  `woocommerce_rest_webhook_invalid_topic`; DELETE needs `force=true` (no trash for webhooks);
* saving a webhook as active sends the ping: a form body `webhook_id=N`, no X-WC header;
* order topics only (`order.created/updated/deleted/restored`): a new order fires `order.created`
  and `order.updated` with one body; a change fires `order.updated`; trashing fires `order.deleted`
  with `{"id": N}`, untrashing `order.restored`;
* headers `X-WC-Webhook-Source` (home URL + "/"), `-Topic`, `-Resource`, `-Event`, `-Signature`
  (base64 HMAC-SHA256 of the raw body with the secret), `-ID`, `-Delivery-ID` (32 hex), a
  `WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)` User-Agent; the body is `wp_json_encode` of the
  order as `GET /orders/{id}` renders it at delivery time (slashes escaped, as PHP does);
* no retry of a failed delivery; 2xx, 301 and 302 reset the failure count, any other answer (or
  none) adds one, and a failure while the count is already above 5 disables the webhook: the 7th
  failure in a row, as the recording shows. Nothing tells the receiver;
* a delivery waiting for one (webhook, order) absorbs later changes of that order.
Deviation on purpose: a real store refuses loopback and private delivery URLs
(`wp_safe_remote_post`); the sandbox delivers to them, so the loop runs on one machine.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit

from ._webhook_sender import Sender, Watcher, ok
from ._woo_http import Call
from ._woo_model import StoreContext, WooError, php_int

TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
USER_AGENT = "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)"
MAX_FAILURES = 5
_HOOKS = {"order.created": ["woocommerce_new_order"],
          "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
          "order.deleted": ["wp_trash_post"], "order.restored": ["untrashed_post"]}


@dataclass
class Hook:
    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str = field(repr=False)
    created: datetime
    modified: datetime
    failure_count: int = 0


class WooWebhooks:
    """The store's webhooks; `order_body(order_id)` renders an order (None once it is gone)."""

    def __init__(self, ctx: StoreContext, orders: Callable[[], dict[int, Any]],
                 order_body: Callable[[int], dict[str, Any] | None], home: Callable[[], str], name: str):
        self.ctx, self._orders, self._order_body, self._home = ctx, orders, order_body, home
        self.hooks: dict[int, Hook] = {}
        self.sender = Sender(f"woo-{name}", timeout=60.0)
        self._watcher: Watcher | None = None
        self._seen: dict[int, tuple[Any, ...]] = {}
        self._waiting: set[tuple[int, int]] = set()

    def routes(self) -> list[tuple[str, str, dict[str, Callable[[Call], tuple[int, Any]]]]]:
        item: dict[str, Callable[[Call], tuple[int, Any]]] = {"GET": self.get, "POST": self.update, "PUT": self.update, "PATCH": self.update, "DELETE": self.delete}
        return [("/webhooks", "/webhooks", {"GET": self.list, "POST": self.create}),
                (r"/webhooks/(?P<id>\d+)", "/webhooks/{id}", item)]

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.sender.stop()

    # --- REST ----------------------------------------------------------------------------------

    def _json(self, hook: Hook, call: Call) -> dict[str, Any]:
        resource, event = hook.topic.split(".", 1)
        return {"id": hook.id, "name": hook.name, "status": hook.status, "topic": hook.topic, "resource": resource,
                "event": event, "hooks": _HOOKS.get(hook.topic, []), "delivery_url": hook.delivery_url,
                "date_created": self.ctx.local(hook.created), "date_created_gmt": _gmt(hook.created),
                "date_modified": self.ctx.local(hook.modified), "date_modified_gmt": _gmt(hook.modified),
                "_links": {"self": [{"href": f"{call.api}/webhooks/{hook.id}"}],
                           "collection": [{"href": f"{call.api}/webhooks"}]}}

    def list(self, call: Call) -> tuple[int, Any]:
        call.permit("list")
        status = call.params.get("status", "all")
        hooks = [h for h in sorted(self.hooks.values(), key=lambda h: h.id, reverse=True)
                 if status in ("all", None) or h.status == status]
        page, per_page = max(1, php_int(call.params.get("page", 1))), max(1, min(100, php_int(call.params.get("per_page", 10))))
        chunk = hooks[(page - 1) * per_page: page * per_page]
        call.headers.update({"X-WP-Total": str(len(hooks)), "X-WP-TotalPages": str(max(1, -(-len(hooks) // per_page)))})
        return 200, [self._json(h, call) for h in chunk]

    def _hook(self, call: Call) -> Hook:
        hook = self.hooks.get(php_int(call.params.get("id")))
        if hook is None:
            raise WooError("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
        return hook

    def get(self, call: Call) -> tuple[int, Any]:
        call.permit("view")
        return 200, self._json(self._hook(call), call)

    def create(self, call: Call) -> tuple[int, Any]:
        call.permit("create")
        p = call.params
        if not p.get("topic") or not p.get("delivery_url"):
            missing = "topic" if not p.get("topic") else "delivery_url"
            raise WooError("rest_missing_callback_param", f"Missing parameter(s): {missing}", 400,
                           params=[missing])
        self._check(p)
        now = self.ctx.now()
        hook = Hook(self.ctx.next_id(), str(p.get("name") or f"Webhook created on {now:%b %d, %Y @ %I:%M %p}"),
                    str(p.get("status") or "active"), str(p["topic"]), str(p["delivery_url"]),
                    str(p.get("secret") or secrets.token_urlsafe(38)[:50]), now, now)
        self.hooks[hook.id] = hook
        if hook.status == "active":
            self._ping(hook)
        self._watch()
        return 201, self._json(hook, call)

    def update(self, call: Call) -> tuple[int, Any]:
        call.permit("edit")
        hook, p = self._hook(call), call.params
        self._check(p)
        was = hook.status
        for key in ("name", "status", "topic", "delivery_url", "secret"):
            if p.get(key) not in (None, ""):
                setattr(hook, key, str(p[key]))
        if hook.status == "active" and was != "active":
            hook.failure_count = 0
            self._ping(hook)
        hook.modified = self.ctx.now()
        return 200, self._json(hook, call)

    def delete(self, call: Call) -> tuple[int, Any]:
        call.permit("delete")
        hook = self._hook(call)
        if str(call.params.get("force", "")).lower() not in ("1", "true", "yes"):
            raise WooError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        body = self._json(hook, call)
        del self.hooks[hook.id]
        return 200, body

    @staticmethod
    def _check(p: dict[str, Any]) -> None:
        if p.get("topic") not in (None, "") and p["topic"] not in TOPICS and not str(p["topic"]).startswith("action."):
            raise WooError("woocommerce_rest_webhook_invalid_topic", "Webhook topic is invalid.", 400)
        url = p.get("delivery_url")
        if url not in (None, "") and urlsplit(str(url)).scheme not in ("http", "https"):
            raise WooError("woocommerce_rest_webhook_invalid_delivery_url", "Webhook delivery URL must be a "
                           "valid URL starting with http:// or https://.", 400)
        if p.get("status") not in (None, "", "active", "paused", "disabled"):
            raise WooError("rest_invalid_param", "Invalid parameter(s): status", 400)

    # --- deliveries ------------------------------------------------------------------------------

    def _ping(self, hook: Hook) -> None:
        body = f"webhook_id={hook.id}".encode()
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
        self.sender.submit(hook.delivery_url, lambda: (body, headers), lambda status: None)

    def _watch(self) -> None:
        if self._watcher is None:
            self._seen = self._fingerprints()      # what exists now fires nothing
            self._watcher = Watcher(f"woo-{id(self)}", self.scan)

    def _fingerprints(self) -> dict[int, tuple[Any, ...]]:
        # The second-resolution `modified` misses a second edit within one second; the lines do not.
        return {oid: (o.modified, o.status, tuple((li.id, li.quantity) for li in o.line_items))
                for oid, o in self._orders().items()}

    def scan(self) -> None:
        """Compare the orders with what the last scan saw and queue the deliveries the changes fire."""
        with self.ctx.lock:
            now = self._fingerprints()
            for oid, fingerprint in now.items():
                before, status = self._seen.get(oid), fingerprint[1]
                if before is None:
                    self._fire(oid, ("order.created", "order.updated"))
                elif before != fingerprint:
                    if status == "trash" and before[1] != "trash":
                        self._fire(oid, ("order.deleted",))
                    elif before[1] == "trash" and status != "trash":
                        self._fire(oid, ("order.restored",))
                    else:
                        self._fire(oid, ("order.updated",))
            for oid in set(self._seen) - set(now):
                if self._seen[oid][1] != "trash":
                    self._fire(oid, ("order.deleted",))
            self._seen = now

    def _fire(self, order_id: int, topics: tuple[str, ...]) -> None:
        for hook in sorted(self.hooks.values(), key=lambda h: h.id):
            if hook.status != "active" or hook.topic not in topics or (hook.id, order_id) in self._waiting:
                continue
            self._waiting.add((hook.id, order_id))
            self.sender.submit(hook.delivery_url, functools.partial(self._render, hook, order_id),
                               functools.partial(self._delivered, hook))

    def _render(self, hook: Hook, order_id: int) -> tuple[bytes, dict[str, str]]:
        with self.ctx.lock:
            self._waiting.discard((hook.id, order_id))
            data = None if hook.topic == "order.deleted" else self._order_body(order_id)
            payload = data if data is not None else {"id": order_id}
            # wp_json_encode: ASCII with \u escapes and "\/" for every slash, trimmed.
            body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").strip().encode()
            resource, event = hook.topic.split(".", 1)
            headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json",
                       "X-WC-Webhook-Source": self._home().rstrip("/") + "/", "X-WC-Webhook-Topic": hook.topic,
                       "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
                       "X-WC-Webhook-Signature": base64.b64encode(
                           hmac.new(hook.secret.encode(), body, hashlib.sha256).digest()).decode(),
                       "X-WC-Webhook-ID": str(hook.id),
                       "X-WC-Webhook-Delivery-ID": hashlib.md5(secrets.token_bytes(16)).hexdigest()}
            return body, headers

    def _delivered(self, hook: Hook, status: int | None) -> None:
        with self.ctx.lock:
            if ok(status):
                hook.failure_count = 0
            elif hook.failure_count > MAX_FAILURES:
                hook.status = "disabled"
            else:
                hook.failure_count += 1


def _gmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


__all__ = ["WooWebhooks", "TOPICS"]
