"""The writes of an order's life after its import: deliveries both ways, the deletion of a cancelled
order's sales order, an edit applied to its rows. One function per action kind `lifecycle` plans.

Called by the runner at apply (`apply_lifecycle`, one action at a time, after the store's imports);
`lifecycle.record_lifecycle` then records what each did. Every write is preceded by a fresh look at
the side it changes, so nothing is done twice and nothing shipped is touched:
* `order.deliver`: the sales order is read; if Katana delivered it meanwhile, nothing. Packed
  fulfilments become delivered, and one fulfilment delivers the rest (Katana's way of recording a
  delivery). A create that gets no clear answer is never sent again in the run: the order is looked
  at again, and if Katana does not show it delivered the action stays owed (`DeliveryUnconfirmed`);
  the next run reads the sales order's status and decides.
* `order.complete_in_store`: the store's order is read; only an order still open (processing,
  on-hold) is set to `completed` (never over a cancellation made meanwhile), then a private note
  names the sales order and the tracking number of its latest delivery. The note is a courtesy: its
  failure leaves the completion done, with a warning; a crash between the two loses the note.
* `order.delete`: the sales order is read; deleted only while NOT_SHIPPED or PENDING (shipped in the
  meantime: refused, never touched), which frees its commitment. A 404 means it is gone already.
* `order.update_rows`: the sales order is read; only while it is open are rows patched, added or
  removed. An added row that gets no clear answer is looked for among the rows before anything else.
Each write at a location forgets its inventory, so the stock sync reads the freed figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from decimal import Decimal

from ..actions import OrderDeletion, OrderDelivery, RowUpdate, StoreCompletion
from ..config import StoreConfig
from ..errors import DeliveryUnconfirmed, KatanaWooError, NotFoundError, ReconcileError, ServerError, \
    TransportError, UnexpectedResponseError
from ..plan import Action
from .context import RunContext
from .orders import OPEN, _tax_rate_id

OPEN_SO = ("NOT_SHIPPED", "PENDING")


@dataclass(frozen=True)
class LifecycleResult:
    """What one lifecycle action did. `done` False: nothing was needed after all (the other side
    had moved), so no transition is recorded for it."""

    sales_order_id: int
    done: bool = True
    note: str = ""
    note_error: str | None = None
    fulfilment_ids: tuple[int, ...] = ()
    tracking_number: str | None = None


def apply_lifecycle(ctx: RunContext, store: StoreConfig, action: Action) -> LifecycleResult:
    steps: dict[str, Callable[[RunContext, StoreConfig, Any], LifecycleResult]] = {
        "order.deliver": _deliver, "order.complete_in_store": _complete, "order.delete": _delete,
        "order.update_rows": _update_rows}
    step = steps[action.kind]
    return step(ctx, store, action.payload)


def _deliver(ctx: RunContext, store: StoreConfig, p: OrderDelivery) -> LifecycleResult:
    so = ctx.katana.sales_orders.get(p.sales_order_id)
    if so.deleted_at is not None:
        raise ReconcileError(f"{p.order_no} was deleted in Katana meanwhile: nothing to deliver")
    if so.status == "DELIVERED":
        return LifecycleResult(so.id, True, f"{p.order_no} was delivered in Katana already")
    done: list[int] = []
    for fulfilment_id in p.packed:
        done.append(ctx.katana.sales_order_fulfillments.update_status(fulfilment_id, "DELIVERED").id)
    rows = {r.row_id: r.quantity for r in p.rows if r.row_id is not None and r.quantity > 0}
    if rows:
        try:
            done.append(ctx.katana.sales_order_fulfillments.create(so.id, rows, status="DELIVERED").id)
        except (ServerError, UnexpectedResponseError, TransportError) as exc:
            if ctx.katana.sales_orders.get(so.id).status != "DELIVERED":
                raise DeliveryUnconfirmed(f"the delivery of {p.order_no} got no clear answer ({exc}) and Katana does "
                                          f"not show it delivered; not sent again: the next run decides") from exc
    ctx.forget_inventory(p.location_id)
    return LifecycleResult(so.id, True, f"{p.order_no} delivered in Katana", fulfilment_ids=tuple(done))


def _complete(ctx: RunContext, store: StoreConfig, p: StoreCompletion) -> LifecycleResult:
    woo = ctx.woo[store.name]
    order = woo.orders.get(p.woo_order_id)
    if order.status == "completed":
        return LifecycleResult(p.sales_order_id, True, f"order #{p.number} was completed in the store already")
    if order.status not in OPEN:
        return LifecycleResult(p.sales_order_id, False, f"order #{p.number} is {order.status} now: not completed")
    tracking = _tracking(ctx, p.sales_order_id)
    woo.orders.update_status(p.woo_order_id, "completed")
    text = f"Delivered in Katana as sales order {p.order_no}" + (f"; tracking number {tracking}" if tracking else "")
    note_error = None
    try:
        woo.orders.add_note(p.woo_order_id, text + ".")
    except KatanaWooError as exc:
        note_error = f"order note not added: {exc}"
    return LifecycleResult(p.sales_order_id, True, f"order #{p.number} completed in the store ({text})", note_error,
                           tracking_number=tracking)


def _tracking(ctx: RunContext, sales_order_id: int) -> str | None:
    """The tracking number of the order's latest delivery, where Katana has one (else the order's
    own, deprecated field)."""
    delivered = [f for f in ctx.katana.sales_order_fulfillments.list(sales_order_id) if f.status == "DELIVERED"]
    for f in reversed(delivered):
        if f.tracking_number:
            return f.tracking_number
    return None


def _delete(ctx: RunContext, store: StoreConfig, p: OrderDeletion) -> LifecycleResult:
    so = ctx.katana.sales_orders.get(p.sales_order_id)
    if so.deleted_at is not None:
        return LifecycleResult(so.id, True, f"{p.order_no} was deleted in Katana already")
    if so.status not in OPEN_SO:
        # Shipped since the plan read it: a shipped order is never touched.
        raise ReconcileError(f"{p.order_no} is {so.status} now: a shipped order is not deleted (reported instead)")
    try:
        ctx.katana.sales_orders.delete(so.id)
    except NotFoundError:
        pass                                  # gone already: what was wanted
    ctx.forget_inventory(p.location_id)
    freed = ", ".join(f"{r.sku} x {r.quantity.normalize()}" for r in p.committed) or "nothing"
    return LifecycleResult(so.id, True, f"{p.order_no} deleted in Katana (order #{p.number} {p.woo_status}; "
                                        f"freed {freed})")


def _update_rows(ctx: RunContext, store: StoreConfig, p: RowUpdate) -> LifecycleResult:
    so = ctx.katana.sales_orders.get(p.sales_order_id)
    if so.deleted_at is not None or so.status not in OPEN_SO:
        raise ReconcileError(f"{p.order_no} is {'deleted' if so.deleted_at else so.status} now: its rows are not "
                             f"changed (reported instead)")
    rows = {r.id: r for r in so.rows}
    for change in p.changes:
        if change.row_id is not None:
            if change.row_id not in rows:
                continue                      # removed meanwhile
            if change.after <= 0:
                ctx.katana.sales_order_rows.delete(change.row_id)
            elif rows[change.row_id].quantity != change.after:
                ctx.katana.sales_order_rows.update(change.row_id, quantity=change.after)
            continue
        try:
            ctx.katana.sales_order_rows.create(
                so.id, change.variant_id, change.after, price_per_unit=change.price_per_unit,
                tax_rate_id=_tax_rate_id(ctx, change.tax), total_discount=change.total_discount or None,
                location_id=so.location_id)
        except (ServerError, UnexpectedResponseError, TransportError) as exc:
            added = [r for r in ctx.katana.sales_order_rows.list(so.id)
                     if r.variant_id == change.variant_id and r.quantity == change.after]
            if not added:
                raise ReconcileError(f"adding {change.sku} to {p.order_no} got no clear answer ({exc}) and Katana "
                                     f"does not show the row; not sent again: the next run decides") from exc
    ctx.forget_inventory(p.location_id)
    text = ", ".join(f"{c.sku} {_n(c.before)} -> {_n(c.after)}" for c in p.changes)
    return LifecycleResult(so.id, True, f"{p.order_no} rows follow the edited order: {text}")


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


__all__ = ["apply_lifecycle", "LifecycleResult", "DeliveryUnconfirmed"]
