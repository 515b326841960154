"""Explicit Ship From moves: an imported, still open sales order (and its rows) to another location.

Called by `Runner.move_order` (and so by `katana-woo move-order STORE ORDER --to LOCATION` and
notebooks). It is the only way an imported order changes location: remapping a store sends new
orders to the new location and never moves the ones already imported, as in Katana's own
integration ("their Ship From location can be updated manually on the order").
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .actions import LocationRef
from .config import Config, StoreConfig
from .engines.context import RunContext
from .errors import MappingError, ReconcileError
from .katana import KatanaClient
from .mapping import resolve_location
from .models import SalesOrder
from .state import State


@dataclass(frozen=True)
class MoveResult:
    store: str
    woo_order_id: int | None
    sales_order_id: int
    order_no: str
    from_location: LocationRef | None
    to_location: LocationRef
    rows_moved: int

    def __str__(self) -> str:
        return (f"{self.order_no} (store {self.store}) Ship From moved {self.from_location} -> {self.to_location}"
                f"; {self.rows_moved} rows followed")


def move_sales_order(config: Config, katana: KatanaClient, state: State, ctx: RunContext, store: str,
                     order: int | str, to_location: int | str) -> MoveResult:
    """`order` is the WooCommerce order id or the Katana order number; `to_location` a name or id.
    Refused (before anything is sent) when the order is no longer NOT_SHIPPED or PENDING."""
    cfg = config.store(store)
    res = resolve_location(store, to_location, ctx.locations())
    target = res.location
    if not res.ok or target is None:
        raise MappingError(res.message, reason=res.reason)
    so, woo_id = _find_sales_order(katana, state, cfg, order)
    if not so.is_open:
        raise ReconcileError(f"{so.order_no} is {so.status}{' and deleted' if so.deleted_at else ''}: Katana "
                             f"lets Ship From change only while NOT_SHIPPED or PENDING; not moved")
    names = {loc.id: loc.name for loc in ctx.locations()}
    before = LocationRef(so.location_id, names.get(so.location_id, "?")) if so.location_id else None
    if so.location_id == target.id:
        raise ReconcileError(f"{so.order_no} already ships from {before}: nothing moved")
    with state.lock(timeout=config.state.lock_timeout_seconds, owner="katana-woo move-order"):
        run_id = state.start_run("move-order", config.config_hash)
        moved = katana.sales_orders.update_location(so.id, target.id)
        rows = sum(1 for r in moved.rows if r.location_id == target.id)
        if woo_id is not None:
            entry = state.ledger_get(store, woo_id)
            if entry is not None:
                state.ledger_put(replace(entry, location_id=target.id))
        # Keyed like the order's import ("order:<woo id>"), so `explain` finds the move in the run log.
        state.log_action(run_id, store, "order.move", f"order:{woo_id}" if woo_id is not None else so.order_no,
                         {"location_id": so.location_id, "order_no": so.order_no},
                         {"location_id": target.id, "rows_moved": rows}, "applied", "")
        state.finish_run(run_id, "ok", {store: "moved"})
    return MoveResult(store, woo_id, so.id, so.order_no, before, LocationRef(target.id, target.name), rows)


def _find_sales_order(katana: KatanaClient, state: State, store: StoreConfig,
                      order: int | str) -> tuple[SalesOrder, int | None]:
    text = str(order).strip().lstrip("#")
    if text.isdigit():
        woo_id = int(text)
        entry = state.ledger_get(store.name, woo_id)
        if entry is not None and entry.sales_order_id:
            return katana.sales_orders.get(entry.sales_order_id), woo_id
        found = katana.sales_orders.list(ecommerce_store_name=store.ecommerce_store_name,
                                         ecommerce_order_id=str(woo_id), include_deleted=True)
        if found:
            return found[0], woo_id
    found = katana.sales_orders.list(order_no=text, include_deleted=True)
    if found:
        so = found[0]
        key = so.ecommerce_order_id or ""
        return so, int(key) if key.isdigit() else None
    raise ReconcileError(f"no sales order for {store.name} order {order!r} in Katana (by WooCommerce id or "
                         f"order number)")
