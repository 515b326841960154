"""What became of imported orders: fulfilment both ways, cancellations, refunds and edits after the
import. Each is found by a read the run makes anyway (or an incremental one), acted on once, and
every outcome shows in plan, report and status.

Called by the runner, per store whose orders it planned: `plan_lifecycle` (reads only: the
store's `order.deliver`, `order.complete_in_store`, `order.delete` and `order.update_rows` actions,
what a person must look at as `plan.Attention`, and the facts to record); at apply `fulfilment`
runs each action, then `record_lifecycle` writes what the run saw and did into the state's
lifecycle records (`state._lifecycle`) and returns the store's attention items after the run.

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
WooCommerce orders or 150 sales orders a call). A run where nothing changed makes no lifecycle read
at all, however many orders were imported. Without a watermark (a first run, a lost state) the
store's sales orders are listed in full, as the import does, and set against its open orders: a
delivered sales order whose order is still open, an open sales order whose order is not.

The rules (Katana's integration and `orders.*` of the config, `config.LifecycleConfig`):
* Katana DELIVERED, the order open in the store -> `order.complete_in_store` (fulfilment_to_store);
  partially delivered or packed -> nothing.
* the order completed in the store, its sales order not delivered -> `order.deliver`
  (fulfilment_to_katana); already delivered -> left alone.
* the order cancelled, refunded or failed: its sales order NOT_SHIPPED or PENDING -> reported while
  it commits stock (`cancelled: report`, lasting attention) or `order.delete`
  (`delete_if_not_shipped`); shipped -> never touched, reported once.
* refunds that leave the order open or completed are reported once each (Katana is not changed).
* lines or quantities edited: the sales order's rows differ from the order's lines -> reported while
  they differ (`edits: report`) or `order.update_rows` while not shipped (`update_rows`); after
  shipping -> reported once.
Before acting, both sides are looked at (the store's status, the sales order's), so a re-run or a
lost state repeats no transition; the lifecycle records keep when each one happened.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from ..actions import OrderDeletion, OrderDelivery, OrderRow, RowChange, RowUpdate, StoreCompletion, plain
from ..config import StoreConfig
from ..models import Location, SalesOrder, WooOrder
from ..plan import Action, Attention, fingerprint
from ..state import LedgerEntry, LifecycleRecord
from . import changes, orders as order_engine
from .context import RunContext
from .lines import variation_parents

WATERMARK = "lifecycle.watermark"                 # an account cursor ("" store): sales orders changed since
CLOSED = ("cancelled", "refunded", "failed")       # the store's order is off: its sales order commits for nothing
OPEN_SO = ("NOT_SHIPPED", "PENDING")               # Katana lets these be edited and deleted
KINDS = ("order.deliver", "order.complete_in_store", "order.delete", "order.update_rows")
STOCK_KINDS = ("order.deliver", "order.delete", "order.update_rows")   # they move Katana's figures
WOO_CHUNK, SO_CHUNK = 100, 150
_OTHER_STATUSES = ("completed", "cancelled", "refunded", "failed")


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
    facts: Mapping[str, Any] | None = None


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
    imported = ctx.state.ledger(store.name, status="imported")
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
            woo_seen.update((o.id, o) for o in order_engine.walk_modified(ctx.woo[store.name], others, since))
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
        records.update(ctx.state.lifecycle_of(store.name, [_woo_id(so) for so in changed if _woo_id(so)]))
        for so in changed:
            oid = _woo_id(so)
            if oid and _so_may_matter(so, records.get(oid)):
                found.setdefault(oid, _Order()).so = so
    else:
        open_ids = {o.id for o in (facts.open_orders or ())}
        for so in ctx.katana_orders(store).values():
            oid = _woo_id(so)
            if not oid or so.deleted_at is not None:
                continue
            if (so.status == "DELIVERED" and oid in open_ids) or (so.status in OPEN_SO and oid not in open_ids):
                entry = found.setdefault(oid, _Order())
                entry.so = so
                if oid in woo_seen:
                    entry.woo = woo_seen[oid]
    for oid, record in records_open.items():
        if record.pending:
            found.setdefault(oid, _Order())
    if not found:
        return LifecyclePlan(attention=tuple(_carried(store.name, records_open, set())), horizon=horizon,
                             listed=watermark is None)

    _fill(ctx, store, found, woo_seen)
    records.update(ctx.state.lifecycle_of(store.name, [i for i in found if i not in records]))
    ready = {oid: o for oid, o in found.items() if o.woo is not None and o.so is not None}
    # The SKUs of the orders' lines, and of what was imported (the sales orders' rows), named by SKU.
    skus = {li.sku for o in ready.values() for li in o.woo.line_items if li.sku}
    skus |= {sku for oid in ready if oid in imported for sku in (imported[oid].lines_qty or ())}
    variants = ctx.variants(skus)
    by_variant = {v.id: sku for sku, v in {**ctx.known_variants(), **variants}.items()}
    parents = ctx.parent_skus(store, {pid for o in ready.values() for pid in variation_parents(o.woo)})
    actions: list[Action] = []
    attention: list[Attention] = []
    observations: list[Observation] = []
    for oid in sorted(ready):
        o = ready[oid]
        decided = _decide(ctx, store, location, o.woo, o.so, records.get(oid), imported.get(oid), by_variant,
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


def _lines(order: WooOrder) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for li in order.line_items:
        if li.sku and li.quantity > 0:
            out[li.sku] = out.get(li.sku, Decimal(0)) + Decimal(li.quantity)
    return out


def _refunds(order: WooOrder) -> dict[int, Decimal]:
    return {int(r["id"]): -Decimal(str(r.get("total") or 0)) for r in order.raw.get("refunds") or () if "id" in r}


def _may_have_moved(order: WooOrder, entry: LedgerEntry, record: LifecycleRecord | None, store: StoreConfig) -> bool:
    """Whether an imported order the store changed needs its sales order looked at (no call)."""
    if record is not None and (record.pending or record.attention):
        return True
    if order.status in CLOSED:
        return record is None or record.cancelled_at is None
    if order.status == "completed" and (record is None or record.completed_at is None):
        return True
    reported = set((record.facts or {}).get("refunds", ())) if record else set()
    if set(_refunds(order)) - reported:
        return True
    baseline = entry.lines_qty
    return baseline is None or {k: Decimal(v) for k, v in baseline.items()} != _lines(order)


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
    ledger = {oid: ctx.state.ledger_get(store.name, oid) for oid, o in found.items() if o.so is None}
    need_so = sorted({e.sales_order_id for e in ledger.values() if e is not None and e.sales_order_id})
    for start in range(0, len(need_so), SO_CHUNK):
        for so in ctx.katana.sales_orders.list(ids=need_so[start:start + SO_CHUNK], include_deleted=True):
            oid = _woo_id(so)
            if oid in found and so.ecommerce_store_name == store.ecommerce_store_name:
                found[oid].so = so


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


def _decide(ctx: RunContext, store: StoreConfig, location: Location, woo: WooOrder, so: SalesOrder,
            record: LifecycleRecord | None, entry: LedgerEntry | None, by_variant: Mapping[int, str],
            variants: Mapping[str, Any], parents: Mapping[int, str]) -> tuple[list[Action], list[Observation]]:
    policy = store.lifecycle
    acts: list[Action] = []
    seen: list[Observation] = []
    so_id, no = so.id, so.order_no

    def observe(events=(), detail="", kind=None, text="", lasting=False, facts=None) -> None:
        note = Attention(store.name, woo.id, woo.number, kind, text, so_id, no, lasting) if kind else None
        seen.append(Observation(woo.id, woo.number, so_id, no, tuple(events), detail, note, facts))

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
                payload = OrderDeletion(woo.id, woo.number, so_id, no, so.location_id or location.id, woo.status,
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
    refunds = _refunds(woo)
    reported = set((record.facts or {}).get("refunds", ())) if record else set()
    new = {i: amount for i, amount in refunds.items() if i not in reported}
    if new:
        kind = "refunded_after_delivery" if so.status == "DELIVERED" else "partially_refunded"
        amounts = ", ".join(f"{plain(a)} {woo.currency}".strip() for a in new.values())
        observe((), "refunded in part", kind, f"refunded {amounts}; {no} is unchanged in Katana (reported only)",
                facts={"refunds": sorted(set(refunds))})
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
        if (record.facts or {}).get("drift") != text if record else True:
            observe(("drift",), f"edited after shipping: {text}", "edited_after_shipping",
                    f"{text}; {no} is {so.status}: not changed, reported only", facts={"drift": text})
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


def _drift(woo: WooOrder, rows: Sequence[OrderRow], entry: LedgerEntry | None) -> list[tuple[str, Decimal, Decimal]]:
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
    store = _lines(woo)
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
    wanted: dict[int, Any] = {}
    for r in payload.rows:
        wanted.setdefault(r.variant_id, []).append(r)
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
    for oid in sorted(set(plan.looked_at) | set(seen) | set(acted)):
        prior = ctx.state.lifecycle_get(store.name, oid)
        events: list[str] = []
        facts = dict(prior.facts or {}) if prior else {}
        detail = prior.detail if prior else None
        attention = pending = None
        ident = (prior.woo_number, prior.sales_order_id, prior.order_no) if prior else (None, None, None)
        for ob in seen.get(oid, ()):
            events += ob.events
            facts.update(ob.facts or {})
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
        ctx.state.lifecycle_put(LifecycleRecord(store.name, oid, *ident, **{f"{e}_at": now for e in events},
                                                pending=pending, attention=attention, detail=detail,
                                                facts=facts or None))
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
