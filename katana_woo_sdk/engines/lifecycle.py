"""What became of imported orders: fulfilment both ways, cancellations, refunds and edits after the
import. Each is found by a read the run makes anyway (or an incremental one), acted on once, and
every outcome shows in plan, report and status.

Called by the runner, per store whose orders it planned: `plan_lifecycle` (reads only: finds the
orders that may have moved, reads their other side, and asks `policies.decide` for each: the
store's `order.deliver`, `order.complete_in_store`, `order.delete` and `order.update_rows` actions,
what a person must look at as `plan.Attention`, and the observations to record); at apply
`fulfilment` runs each action, then `record_lifecycle` writes what the run saw and did into the
state's lifecycle records (`state._lifecycle`) and returns the store's attention items after the
run. After every store's apply the runner calls `record_watermark`; `conditions` calls
`lasting_attention` for `status`.

Found without re-reading every order:
* the store's side: the walk of orders changed since the order cursor (`OrderFacts.walked`, any
  status in an incremental run; a full run's walk keeps to the imported statuses, so one more walk
  of the others is made, since the same cursor);
* Katana's side: the account's sales orders changed since the lifecycle's own watermark
  (`RunContext.sales_orders_changed`, one listing for every store). Its own: the stock's watermark
  moves with reads made later in the run (inventory movements), and a delivery made between the two
  reads would fall between them; this one moves only to the newest change its own read saw
  (`record_watermark`), and only when every store looked at it;
* what an earlier run owes: records with a `pending` action (retried until done).
Only the orders found there are looked at, and for those the side not read yet is read by id (100
WooCommerce orders or 150 sales orders a call). A run where nothing changed makes that one shared
listing and nothing else, however many orders were imported. Without a watermark (a first run, a lost state) the
store's sales orders are listed in full, as the import does, and set against its open orders: a
delivered sales order whose order is still open, an open sales order whose order is not.

The rules themselves (what each combination of the two sides calls for, per policy) are in
`policies`. Before acting, both sides are looked at (the store's status, the sales order's), so a re-run or a
lost state repeats no transition; the lifecycle records keep when each one happened.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from ..actions import RowUpdate
from ..config import StoreConfig
from ..models import Location, SalesOrder, WooOrder
from ..plan import Action, Attention
from ..state import LedgerEntry, LifecycleRecord
from . import changes, orders as order_engine, policies
from .context import RunContext
from .lines import variation_parents
from .policies import CLOSED, OPEN_SO, Observation

WATERMARK = "lifecycle.watermark"                 # an account cursor ("" store): sales orders changed since
KINDS = ("order.deliver", "order.complete_in_store", "order.delete", "order.update_rows")
STOCK_KINDS = ("order.deliver", "order.delete", "order.update_rows")   # they move Katana's figures
WOO_CHUNK, SO_CHUNK = 100, 150
_OTHER_STATUSES = ("completed", "cancelled", "refunded", "failed")


@dataclass(frozen=True)
class LifecyclePlan:
    """One store's lifecycle for this run: actions, attention items (lasting and one-time), facts,
    and the orders it looked at (whose earlier attention or owed action it re-decided)."""

    actions: tuple[Action, ...] = ()
    attention: tuple[Attention, ...] = ()
    observations: tuple[Observation, ...] = ()
    looked_at: tuple[int, ...] = ()
    horizon: datetime | None = None     # the newest sales order change the read saw (or, listed in full, the run's start)
    listed: bool = False                # no watermark: the store's sales orders were listed in full


@dataclass
class _Order:
    woo: WooOrder | None = None
    so: SalesOrder | None = None


# --- reading and planning ----------------------------------------------------------------------------

def plan_lifecycle(ctx: RunContext, store: StoreConfig, location: Location, facts: order_engine.OrderFacts, *,
                   full: bool) -> LifecyclePlan:
    key = store.ecommerce_store_name
    records_open = ctx.state.lifecycle_open(store.name)
    found: dict[int, _Order] = {}

    # The store's side: orders changed since the cursor (one more walk when a full run's kept to the
    # imported statuses), and, without a watermark, every open order (the full run's listing).
    woo_seen: dict[int, WooOrder] = {o.id: o for o in facts.walked}
    cursor = ctx.state.get_cursor(store.name, order_engine.CURSOR)
    if full and cursor:
        since = order_engine._parse(cursor) - timedelta(minutes=store.orders.overlap_minutes)
        others = tuple(s for s in _OTHER_STATUSES if s not in store.orders.statuses)
        if others:
            woo_seen.update((o.id, o) for o in order_engine.walk_slim(ctx.woo[store.name], others, since))
    # The ledger's imports among the orders looked at (more are read below, for the orders found on
    # Katana's side): never the whole history, which a quiet run would read for nothing.
    imported = ctx.state.ledger_of(store.name, woo_seen, status="imported")
    records = ctx.state.lifecycle_of(store.name, [i for i in woo_seen if i in imported])
    for oid, order in woo_seen.items():
        if oid in imported and _may_have_moved(order, imported[oid], records.get(oid), store):
            found.setdefault(oid, _Order()).woo = order

    # Katana's side: this store's sales orders changed since the watermark; without one, all of them.
    watermark = since_watermark(ctx.state)
    horizon = None
    if watermark is not None:
        every = ctx.sales_orders_changed(watermark)
        horizon = max((so.updated_at for so in every if so.updated_at), default=None)
        changed = [so for so in every if so.ecommerce_store_name == key]
        records.update(ctx.state.lifecycle_of(store.name, [i for so in changed if (i := _woo_id(so))]))
        for so in changed:
            so_oid = _woo_id(so)
            if so_oid and _so_may_matter(so, records.get(so_oid)):
                found.setdefault(so_oid, _Order()).so = so
    else:
        open_ids = {o.id for o in (facts.open_orders or ())}
        for so in ctx.katana_orders(store).values():
            so_oid = _woo_id(so)
            if not so_oid or so.deleted_at is not None:
                continue
            if (so.status == "DELIVERED" and so_oid in open_ids) or (so.status in OPEN_SO and so_oid not in open_ids):
                entry = found.setdefault(so_oid, _Order())
                entry.so = so
                if so_oid in woo_seen:
                    entry.woo = woo_seen[so_oid]
    for oid, record in records_open.items():
        if record.pending:
            found.setdefault(oid, _Order())
    if not found:
        return LifecyclePlan(attention=tuple(_carried(store.name, records_open, set())), horizon=horizon,
                             listed=watermark is None)

    imported.update(ctx.state.ledger_of(store.name, [i for i in found if i not in woo_seen], status="imported"))
    _fill(ctx, store, found, woo_seen)
    records.update(ctx.state.lifecycle_of(store.name, [i for i in found if i not in records]))
    ready = {oid: (o.woo, o.so) for oid, o in found.items() if o.woo is not None and o.so is not None}
    # The SKUs of the orders' lines, and of what was imported (the sales orders' rows), named by SKU.
    skus = {li.sku for woo, _ in ready.values() for li in woo.line_items if li.sku}
    skus |= {sku for oid in ready if oid in imported for sku in (imported[oid].lines_qty or ())}
    variants = ctx.variants(skus)
    by_variant = {v.id: sku for sku, v in {**ctx.known_variants(), **variants}.items()}
    parents = ctx.parent_skus(store, {pid for woo, _ in ready.values() for pid in variation_parents(woo)})
    actions: list[Action] = []
    attention: list[Attention] = []
    observations: list[Observation] = []
    for oid in sorted(ready):
        woo, so = ready[oid]
        decided = policies.decide(ctx, store, location, woo, so, records.get(oid), imported.get(oid), by_variant,
                          variants, parents)
        actions.extend(decided[0])
        observations.extend(decided[1])
        attention.extend(ob.attention for ob in decided[1] if ob.attention is not None)
    return LifecyclePlan(tuple(actions), tuple(_carried(store.name, records_open, set(ready))) + tuple(attention),
                         tuple(observations), tuple(sorted(ready)), horizon, watermark is None)


def since_watermark(state: Any) -> datetime | None:
    """Where this run's read of changed sales orders starts: the lifecycle's watermark, else (a state
    from before it existed) the stock's; None for a new or lost state (the orders are listed in full)."""
    return (changes._time(state.get_cursor(changes.ACCOUNT, WATERMARK))
            or changes._time(state.get_cursor(changes.ACCOUNT, changes.KATANA_WATERMARK)))


def record_watermark(state: Any, plans: Sequence[LifecyclePlan], started: datetime) -> None:
    """After an apply in which every store looked at its orders' lives: the next read starts at the
    newest change this one saw (inclusive: re-reading it is harmless), or, after a full listing, at
    the run's start less a margin for the clocks."""
    previous = since_watermark(state)
    if any(p.listed for p in plans) or previous is None:
        value = started - changes.MARGIN
    else:
        newest = max((p.horizon for p in plans if p.horizon is not None), default=None)
        value = max(previous, newest) if newest is not None else previous
    state.set_cursor(changes.ACCOUNT, WATERMARK, value.isoformat())


def _woo_id(so: SalesOrder) -> int | None:
    try:
        return int(so.ecommerce_order_id) if so.ecommerce_order_id else None
    except ValueError:
        return None


def _may_have_moved(order: WooOrder, entry: LedgerEntry, record: LifecycleRecord | None, store: StoreConfig) -> bool:
    """Whether an imported order the store changed needs its sales order looked at (no call)."""
    if record is not None and (record.pending or record.attention):
        return True
    if order.status in CLOSED:
        return record is None or record.cancelled_at is None
    if order.status == "completed" and (record is None or record.completed_at is None):
        return True
    if set(policies.refunds(order)) - policies.reported_refunds(record):
        return True
    baseline = entry.lines_qty
    return baseline is None or {k: Decimal(v) for k, v in baseline.items()} != policies.store_lines(order)


def _so_may_matter(so: SalesOrder, record: LifecycleRecord | None) -> bool:
    if record is not None and (record.pending or record.attention):
        return True
    if so.deleted_at is not None:
        return record is not None and record.deleted_at is None
    return so.status == "DELIVERED" and (record is None or record.completed_at is None)


def _fill(ctx: RunContext, store: StoreConfig, found: dict[int, _Order], woo_seen: Mapping[int, WooOrder]) -> None:
    """Read the side not read yet, by id, in chunks (the order lists are bounded by what changed)."""
    for oid, o in found.items():
        if o.woo is None and oid in woo_seen:
            o.woo = woo_seen[oid]
        if o.so is None:
            o.so = ctx.katana_orders(store, read=False).get(str(oid))
    need_woo = sorted(oid for oid, o in found.items() if o.woo is None)
    for start in range(0, len(need_woo), WOO_CHUNK):
        for order in ctx.woo[store.name].orders.iter(statuses=("any",), include=need_woo[start:start + WOO_CHUNK],
                                                     orderby="id"):
            if order.id in found:
                found[order.id].woo = order
    ledger = ctx.state.ledger_of(store.name, [oid for oid, o in found.items() if o.so is None])
    need_so = sorted({e.sales_order_id for e in ledger.values() if e.sales_order_id})
    for start in range(0, len(need_so), SO_CHUNK):
        for so in ctx.katana.sales_orders.list(ids=need_so[start:start + SO_CHUNK], include_deleted=True):
            so_oid = _woo_id(so)
            if so_oid in found and so.ecommerce_store_name == store.ecommerce_store_name:
                found[so_oid].so = so


def _carried(store: str, records: Mapping[int, LifecycleRecord], looked_at: set[int]) -> list[Attention]:
    """The lasting attention items of orders this run did not look at again: still true, as nothing
    changed on either side."""
    out = []
    for oid, r in sorted(records.items()):
        if r.attention and oid not in looked_at:
            kind, _, detail = r.attention.partition(": ")
            since = r.cancelled_at if kind.startswith("cancelled") else r.drift_at
            out.append(Attention(store, oid, r.woo_number or str(oid), kind, detail or kind, r.sales_order_id,
                                 r.order_no, True, since))
    return out


# --- after applying --------------------------------------------------------------------------------

# The transitions an applied action makes (the store's completion is what a delivery follows).
_DONE = {"order.deliver": ("delivered", "completed"), "order.complete_in_store": ("completed", "delivered"),
         "order.delete": ("cancelled", "deleted"), "order.update_rows": ("drift",)}


def record_lifecycle(ctx: RunContext, store: StoreConfig, plan: LifecyclePlan, results: Iterable[Any]
                     ) -> tuple[Attention, ...]:
    """What the run saw and did, into the lifecycle records (each transition's time written once).
    An action not applied stays owed (`pending`, retried by the next run); an order looked at again
    keeps a lasting attention only if this run raised it again. Returns the store's attention items
    after the run: the lasting ones in the state and those this run reported once."""
    now = ctx.state._now()
    seen: dict[int, list[Observation]] = {}
    for ob in plan.observations:
        seen.setdefault(ob.woo_order_id, []).append(ob)
    acted = {r.action.payload.woo_order_id: r for r in results if r.action.kind in KINDS}
    oids = sorted(set(plan.looked_at) | set(seen) | set(acted))
    priors = ctx.state.lifecycle_of(store.name, oids)     # one read and one write for them all
    writes: list[LifecycleRecord] = []
    for oid in oids:
        prior = priors.get(oid)
        events: list[str] = []
        facts = dict(prior.facts or {}) if prior else {}
        detail = prior.detail if prior else None
        attention = pending = None
        ident = (prior.woo_number, prior.sales_order_id, prior.order_no) if prior else (None, None, None)
        for ob in seen.get(oid, ()):
            events += ob.events
            if ob.refunds is not None:
                facts["refunds"] = list(ob.refunds)
            if ob.drift is not None:
                facts["drift"] = ob.drift
            detail = ob.detail or detail
            ident = (ob.number, ob.sales_order_id, ob.order_no)
            if ob.attention is not None and ob.attention.lasting:
                attention = f"{ob.attention.kind}: {ob.attention.detail}"
        r = acted.get(oid)
        if r is not None:
            p = r.action.payload
            ident = (p.number, p.sales_order_id, p.order_no)
            if r.outcome in ("applied", "replanned") and getattr(r.result, "done", True):
                events += _DONE[r.action.kind]
                detail = getattr(r.result, "note", "") or r.action.summary
                if r.action.kind == "order.update_rows":
                    _relines(ctx, store, p)
            else:
                pending, detail = r.action.kind, f"owed ({r.outcome}): {r.message or r.action.summary}"
                attention = attention or (prior.attention if prior else None)
        if prior is None and not events and attention is None and pending is None and not facts:
            continue
        if prior is not None and not events and (attention, pending) == (prior.attention, prior.pending) \
                and facts == (prior.facts or {}):
            continue
        times: dict[str, Any] = {f"{e}_at": now for e in events}
        writes.append(LifecycleRecord(store.name, oid, *ident, **times, pending=pending, attention=attention,
                                      detail=detail, facts=facts or None))
    ctx.state.lifecycle_put_many(writes)
    lasting = _carried(store.name, ctx.state.lifecycle_open(store.name), set())
    return tuple(lasting) + tuple(a for a in plan.attention if not a.lasting)


def _relines(ctx: RunContext, store: StoreConfig, p: RowUpdate) -> None:
    """After the rows followed an edit, the ledger's lines are the order's new lines."""
    entry = ctx.state.ledger_get(store.name, p.woo_order_id)
    if entry is None:
        return
    lines = dict(entry.lines_qty or {})
    for c in p.changes:
        if c.after > 0:
            lines[c.sku] = c.after
        else:
            lines.pop(c.sku, None)
    ctx.state.ledger_put(LedgerEntry(entry.store, entry.woo_order_id, entry.woo_number, entry.status,
                                     entry.sales_order_id, entry.order_no, entry.location_id, entry.reason,
                                     lines or None))


def lasting_attention(state: Any, store: str) -> tuple[Attention, ...]:
    """What a person must still do for a store, from the state alone (`conditions.read_status`)."""
    return tuple(_carried(store, state.lifecycle_open(store), set()))


__all__ = ["LifecyclePlan", "Observation", "plan_lifecycle", "record_lifecycle", "lasting_attention",
           "since_watermark", "record_watermark", "KINDS", "STOCK_KINDS", "CLOSED", "WATERMARK"]
