"""What a webhook delivery means: parsed from its headers and raw body into a typed `Delivery`.

Called by `service.receiver` after the signature verified (never before: an unsigned body is
never parsed), and by the worker and tests. Facts from shared/reference and the recorded deliveries:

* WooCommerce sends `X-WC-Webhook-Topic` (`order.updated`), `-Resource`, `-Event`, `-ID` and a
  32-hex `X-WC-Webhook-Delivery-ID`; the body is the resource as `GET /orders/{id}` renders it, or
  `{"id": N}` for `*.deleted`. One order creation fires both `order.created` and `order.updated`
  with one body. The ping sent on creation is a form body `webhook_id=N` without any X-WC header.
* Katana sends an event object `{"resource_type", "action", "webhook_id", "object": {"id", ...}}`,
  ids as numbers or strings, no delivery id, and `X-Katana-Retry-Num: 1|2|3` on its retries. The
  delivery id used here is the SHA-256 of the raw body (a retry repeats the body exactly).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

WOO, KATANA = "woocommerce", "katana"
WOO_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
KATANA_EVENTS = ("sales_order.created", "sales_order.updated", "sales_order.deleted", "sales_order.delivered",
                 "sales_order.packed", "current_inventory.product_updated",
                 "current_inventory.product_out_of_stock")


@dataclass(frozen=True)
class Delivery:
    """One verified delivery: what the inbox keeps (a hint: the resource is re-read by id)."""
    source: str
    store: str              # "" for Katana
    delivery_id: str
    topic: str
    resource: str
    resource_id: str
    retry: int = 0          # Katana's X-Katana-Retry-Num (0: the first attempt)


class NotAnEvent(ValueError):
    """A body that verified but names nothing this service handles (the answer is still 2xx)."""


def is_woo_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's creation ping: a form body `webhook_id=N` and no X-WC-Webhook-* header."""
    if any(k.lower().startswith("x-wc-webhook-") for k in headers):
        return False
    text = body.decode("latin-1").strip()
    name, _, value = text.partition("=")
    return name == "webhook_id" and value.isdigit()


def woo_delivery(store: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    topic = _header(headers, "X-WC-Webhook-Topic")
    delivery_id = _header(headers, "X-WC-Webhook-Delivery-ID")
    if topic not in WOO_TOPICS:
        raise NotAnEvent(f"topic {topic or '(none)'} is not one this service subscribes to")
    if not delivery_id:
        raise NotAnEvent("no X-WC-Webhook-Delivery-ID")
    data = _json(body)
    resource_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(resource_id, int) or isinstance(resource_id, bool):
        raise NotAnEvent("the body names no order id")
    return Delivery(WOO, store, delivery_id, topic, topic.split(".")[0], str(resource_id))


def katana_delivery(headers: Mapping[str, str], body: bytes) -> Delivery:
    data = _json(body)
    if not isinstance(data, dict):
        raise NotAnEvent("not a Katana event object")
    action = data.get("action")
    if action not in KATANA_EVENTS:
        raise NotAnEvent(f"event {action or '(none)'} is not one this service subscribes to")
    obj: dict[str, Any] = data["object"] if isinstance(data.get("object"), dict) else {}
    resource_id = obj.get("id")
    retry = _header(headers, "X-Katana-Retry-Num")
    return Delivery(KATANA, "", hashlib.sha256(body).hexdigest()[:40], action,
                    str(data.get("resource_type") or action.split(".")[0]),
                    "" if resource_id is None else str(resource_id), int(retry) if retry.isdigit() else 0)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value).strip()
    return ""


def _json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotAnEvent(f"the body is not JSON ({exc.__class__.__name__})") from None


__all__ = ["Delivery", "NotAnEvent", "WOO", "KATANA", "WOO_TOPICS", "KATANA_EVENTS", "is_woo_ping", "woo_delivery",
           "katana_delivery"]
