"""The rules of an order's life after its import: given both sides of one imported order (the
store's order and its Katana sales order, both read), what to do and what to tell. No call here
is a write; the one read is the fulfilments of a partly shipped order (what is left to deliver).

Called by `lifecycle.plan_lifecycle` (`decide`, once per order it found moved) and by its cheap
pre-checks (`store_lines`, `refunds`). The rules (Katana's integration and `orders.*` of the
config, `config.LifecycleConfig`):
* Katana DELIVERED, the order open in the store -> `order.complete_in_store` (fulfilment_to_store);
  partially delivered or packed -> nothing.
* the order completed in the store, its sales order not delivered -> `order.deliver`
  (fulfilment_to_katana); already delivered -> left alone; a quote (PENDING) -> told, not delivered.
* the order cancelled, refunded or failed: its sales order NOT_SHIPPED or PENDING -> reported while
  it commits stock (`cancelled: report`, lasting attention) or `order.delete`
  (`delete_if_not_shipped`); shipped -> never touched, reported once.
* refunds that leave the order open or completed are reported once each (Katana is not changed).
* lines or quantities edited: the sales order's rows differ from the order's lines -> reported while
  they differ (`edits: report`) or `order.update_rows` while not shipped (`update_rows`); after
  shipping -> reported once.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

from ..actions import (OrderDeletion, OrderDelivery, OrderRow, Payload, RowChange, RowUpdate, StoreCompletion,
                       plain)
from ..config import StoreConfig
from ..models import Location, SalesOrder, WooOrder
from ..plan import Action, Attention, fingerprint
from ..state import LedgerEntry, LifecycleRecord
from . import orders as order_engine
from .context import RunContext

CLOSED = ("cancelled", "refunded", "failed")       # the store's order is off: its sales order commits for nothing
OPEN_SO = ("NOT_SHIPPED", "PENDING")               # Katana lets these be edited and deleted


@dataclass(frozen=True)
class Observation:
    """What a run records for one order without acting: a transition it saw (`events`), or what a
    person must know (`attention`; a lasting one is kept until a run looks at the order and no
    longer finds it)."""

    woo_order_id: int
    number: str
    sales_order_id: int
    order_no: str
    events: tuple[str, ...] = ()
    detail: str = ""
    attention: Attention | None = None
    refunds: tuple[int, ...] | None = None    # every refund id of the order, once they are reported
    drift: str | None = None                  # the edit reported after shipping (told once per edit)



def store_lines(order: WooOrder) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for li in order.line_items:
        if li.sku and li.quantity > 0:
            out[li.sku] = out.get(li.sku, Decimal(0)) + Decimal(li.quantity)
    return out


def refunds(order: WooOrder) -> dict[int, Decimal]:
    return {int(r["id"]): -Decimal(str(r.get("total") or 0)) for r in order.raw.get("refunds") or () if "id" in r}



def reported_refunds(record: LifecycleRecord | None) -> set[int]:
    """The refund ids an earlier run reported (kept in the order's lifecycle record)."""
    return set((record.facts or {}).get("refunds", ())) if record else set()


def decide(ctx: RunContext, store: StoreConfig, location: Location, woo: WooOrder, so: SalesOrder,
            record: LifecycleRecord | None, entry: LedgerEntry | None, by_variant: Mapping[int, str],
            variants: Mapping[str, Any], parents: Mapping[int, str]) -> tuple[list[Action], list[Observation]]:
    policy = store.lifecycle
    acts: list[Action] = []
    seen: list[Observation] = []
    so_id, no = so.id, so.order_no

    def observe(events: Sequence[str] = (), detail: str = "", kind: str | None = None, text: str = "",
                lasting: bool = False, refunds: tuple[int, ...] | None = None, drift: str | None = None) -> None:
        note = Attention(store.name, woo.id, woo.number, kind, text, so_id, no, lasting) if kind else None
        seen.append(Observation(woo.id, woo.number, so_id, no, tuple(events), detail, note, refunds, drift))

    def action(kind: str, payload: Any, summary: str, before: Any, after: Any) -> None:
        acts.append(Action(store=store.name, kind=kind, key=f"{kind.split('.', 1)[1]}:{woo.id}", summary=summary,
                           before=before, after=after, fingerprint=fingerprint(payload.fingerprint_parts()),
                           payload=payload))

    rows = _rows(so, by_variant)
    held = ", ".join(f"{r.sku} x {plain(r.quantity)}" for r in rows) or "nothing"
    if so.deleted_at is not None:
        observe(("deleted",), f"{no} deleted in Katana")
        return acts, seen
    if woo.status in CLOSED:
        if so.status in OPEN_SO:
            if policy.cancelled == "delete_if_not_shipped":
                payload: Payload = OrderDeletion(woo.id, woo.number, so_id, no, so.location_id or location.id, woo.status,
                                        tuple(rows))
                action("order.delete", payload, f"{no}: order #{woo.number} {woo.status} in the store; delete the "
                       f"sales order (frees {held})", {"status": so.status, "commits": held}, {"deleted": True})
            else:
                observe(("cancelled",), f"{woo.status} in the store", f"{woo.status}_after_import",
                        f"{no} (#{so_id}) still commits {held} at location #{so.location_id}: delete it in Katana "
                        f"to free the stock (or set orders.cancelled: delete_if_not_shipped)", lasting=True)
        elif record is None or record.cancelled_at is None:
            kind = "refunded_after_delivery" if woo.status == "refunded" else f"{woo.status}_after_shipping"
            observe(("cancelled",), f"{woo.status} in the store after shipping", kind,
                    f"{no} is {so.status}: never touched, reported only (a return is Katana's to record)")
        return acts, seen
    refunds_now = refunds(woo)
    new = {i: amount for i, amount in refunds_now.items() if i not in reported_refunds(record)}
    if new:
        kind = "refunded_after_delivery" if so.status == "DELIVERED" else "partially_refunded"
        amounts = ", ".join(f"{plain(a)} {woo.currency}".strip() for a in new.values())
        observe((), "refunded in part", kind, f"refunded {amounts}; {no} is unchanged in Katana (reported only)",
                refunds=tuple(sorted(refunds_now)))
    if woo.status == "completed":
        if so.status == "DELIVERED":
            if record is None or record.completed_at is None or record.delivered_at is None:
                observe(("delivered", "completed"), f"completed in the store, {no} delivered in Katana")
        elif not policy.fulfilment_to_katana:
            if record is None or record.completed_at is None:
                observe(("completed",), "completed in the store (not delivered in Katana: fulfilment_to_katana off)")
        elif so.status == "PENDING":
            observe(("completed",), "completed in the store", "completed_as_quote",
                    f"{no} is a quote (PENDING) in Katana: it cannot be delivered; confirm or delete it there")
        else:
            left, packed = _left_to_deliver(ctx, so, rows)
            payload = OrderDelivery(woo.id, woo.number, so_id, no, so.location_id or location.id, tuple(left),
                                    tuple(packed))
            what = ", ".join(f"{r.sku} x {plain(r.quantity)}" for r in left) or "its packed rows"
            action("order.deliver", payload, f"{no}: order #{woo.number} completed in the store; deliver {what} "
                   f"in Katana", {"status": so.status}, {"status": "DELIVERED"})
    elif so.status == "DELIVERED":
        if policy.fulfilment_to_store:
            payload = StoreCompletion(woo.id, woo.number, so_id, no, so.location_id or location.id)
            action("order.complete_in_store", payload, f"{no} delivered in Katana; complete order #{woo.number} "
                   f"in the store", {"status": woo.status}, {"status": "completed"})
        elif record is None or record.delivered_at is None:
            observe(("delivered",), f"{no} delivered in Katana (the store's order left open: fulfilment_to_store off)")
    drift = _drift(woo, rows, entry)
    if drift is None:
        return acts, seen
    text = ", ".join(f"{sku} {plain(a)} -> {plain(b)}" for sku, a, b in drift)
    if so.status not in OPEN_SO or acts:      # shipped, or delivered now as it was imported: told once
        if record is None or (record.facts or {}).get("drift") != text:
            observe(("drift",), f"edited after shipping: {text}", "edited_after_shipping",
                    f"{text}; {no} is {so.status}: not changed, reported only", drift=text)
        return acts, seen
    if policy.edits == "update_rows":
        change, why = _row_changes(store, location, woo, so, rows, variants, parents)
        if change:
            payload = RowUpdate(woo.id, woo.number, so_id, no, so.location_id or location.id, tuple(change))
            action("order.update_rows", payload, f"{no}: order #{woo.number} edited in the store; rows {text}",
                   {r.sku: plain(r.quantity) for r in rows}, {sku: plain(b) for sku, _, b in drift})
            return acts, seen
        observe(("drift",), f"edited after import: {text}", "edited_after_import",
                f"{text}; {no} cannot follow: {why}", lasting=True)
        return acts, seen
    observe(("drift",), f"edited after import: {text}", "edited_after_import",
            f"{text}; {no} keeps its rows (edits do not sync; set orders.edits: update_rows to apply them)",
            lasting=True)
    return acts, seen


def _rows(so: SalesOrder, by_variant: Mapping[int, str]) -> list[OrderRow]:
    return [OrderRow(by_variant.get(r.variant_id, f"variant #{r.variant_id}"), r.variant_id, r.quantity, r.id)
            for r in so.rows]


def _drift(woo: WooOrder, rows: Sequence[OrderRow],
           entry: LedgerEntry | None) -> list[tuple[str, Decimal, Decimal]] | None:
    """(sku, Katana's quantity, the order's) where they differ; None when they agree. Katana's rows
    are the truth where every row's SKU is known, else the lines the ledger recorded at import."""
    if all(not r.sku.startswith("variant #") for r in rows):
        katana: dict[str, Decimal] = {}
        for r in rows:
            katana[r.sku] = katana.get(r.sku, Decimal(0)) + r.quantity
    elif entry is not None and entry.lines_qty:
        katana = {k: Decimal(v) for k, v in entry.lines_qty.items()}
    else:
        return None
    store = store_lines(woo)
    diff = [(sku, katana.get(sku, Decimal(0)), store.get(sku, Decimal(0))) for sku in sorted(set(katana) | set(store))
            if katana.get(sku, Decimal(0)) != store.get(sku, Decimal(0))]
    return diff or None


def _left_to_deliver(ctx: RunContext, so: SalesOrder, rows: Sequence[OrderRow]) -> tuple[list[OrderRow], list[int]]:
    """What no fulfilment covers yet, and the packed fulfilments to mark delivered. An order not
    shipped at all has no fulfilment (no call); a partly packed or delivered one is read."""
    if so.status == "NOT_SHIPPED":
        return [r for r in rows if r.quantity > 0], []
    covered: dict[int, Decimal] = {}
    packed = []
    for f in ctx.katana.sales_order_fulfillments.list(so.id):
        if f.status == "PACKED":
            packed.append(f.id)
        for row_id, q in f.rows.items():
            covered[row_id] = covered.get(row_id, Decimal(0)) + q
    left = [OrderRow(r.sku, r.variant_id, r.quantity - covered.get(r.row_id or 0, Decimal(0)), r.row_id) for r in rows]
    return [r for r in left if r.quantity > 0], packed


def _row_changes(store: StoreConfig, location: Location, woo: WooOrder, so: SalesOrder, rows: Sequence[OrderRow],
                 variants: Mapping[str, Any], parents: Mapping[int, str]) -> tuple[list[RowChange], str]:
    """The row edits that make Katana's rows the order's lines (priced and taxed as an import
    prices them), or why they cannot be made."""
    payload, hold = order_engine.build_import(store, location, woo, variants, parents)
    if hold is not None:
        return [], hold.detail
    assert payload is not None  # build_import gives a payload or a hold
    wanted: dict[int, Any] = {}
    for line_row in payload.rows:
        wanted.setdefault(line_row.variant_id, []).append(line_row)
    have: dict[int, list[OrderRow]] = {}
    for r in rows:
        have.setdefault(r.variant_id, []).append(r)
    out: list[RowChange] = []
    for variant_id in sorted(set(wanted) | set(have)):
        target = sum((r.quantity for r in wanted.get(variant_id, ())), Decimal(0))
        existing = have.get(variant_id, [])
        if not existing:
            line = wanted[variant_id][0]
            out.append(RowChange(line.sku, variant_id, Decimal(0), target, None, line.price_per_unit,
                                 line.total_discount, line.tax))
            continue
        first, *rest = existing
        if first.quantity != target:
            out.append(RowChange(first.sku, variant_id, first.quantity, target, first.row_id))
        out.extend(RowChange(r.sku, variant_id, r.quantity, Decimal(0), r.row_id) for r in rest)
    return out, ""


__all__ = ["Observation", "decide", "store_lines", "refunds", "reported_refunds", "CLOSED", "OPEN_SO"]
