"""The orders a store took stock for that Katana has not committed, kept between runs.

Called by `orders.read_orders` (`load`) and, after an apply, by `orders.keep_book` (`save`). WooCommerce deducts stock for processing and on-hold orders; until Katana
commits an order (its sales order exists) its units count against the figure pushed to every store
of the location (`pending`). Listing every open order on every run would cost one call per 100 open
orders, forever; instead the book keeps each uncommitted order's lines and status in the state, and
a run only reads what changed since its cursor (any status: a cancelled or completed order leaves
the book). A full reconcile rebuilds it from a listing of the open orders.

Each entry keeps what the figure and the hold reasons need, never customer data: status, modified
date, number, and per line its product, variation, SKU, name and quantity.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from ..config import StoreConfig
from ..models import WooOrder
from ..state import State

CURSOR = "orders.book"


def _entry(order: WooOrder) -> dict[str, Any]:
    return {"n": order.number, "s": order.status,
            "m": order.date_modified_gmt.isoformat() if order.date_modified_gmt else None,
            "l": [[li.product_id, li.variation_id, li.sku, li.quantity, li.name] for li in order.line_items]}


def _order(order_id: int, entry: Mapping[str, Any]) -> WooOrder:
    return WooOrder.from_api({
        "id": order_id, "number": entry.get("n") or str(order_id), "status": entry.get("s") or "",
        "date_modified_gmt": entry.get("m"),
        "line_items": [{"id": 0, "product_id": p, "variation_id": v, "sku": sku, "quantity": q, "name": name}
                       for p, v, sku, q, name in entry.get("l") or ()]})


def load(state: State, store: StoreConfig) -> dict[int, WooOrder]:
    """The book as the last apply left it (empty for a new store or a lost state)."""
    raw = state.get_cursor(store.name, CURSOR)
    if not raw:
        return {}
    return {int(oid): _order(int(oid), entry) for oid, entry in json.loads(raw).items()}


def save(state: State, store: StoreConfig, orders: Iterable[WooOrder]) -> int:
    """Keep `orders` (the ones still uncommitted and taking stock); returns how many."""
    book = {str(o.id): _entry(o) for o in orders}
    state.set_cursor(store.name, CURSOR, json.dumps(book, sort_keys=True, separators=(",", ":")))
    return len(book)
