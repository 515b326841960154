"""Why: the whole story of one order (`OrderStory`) and the derivation of one SKU's figure (`SkuStory`).

Called by `Runner.explain_order()` and `Runner.explain_sku()` (and so by ``katana-woo explain``
and notebooks). An order's story comes from the state's ledger (first seen, holds with their
reason, age and attempts), the run log (import, failures, moves), WooCommerce (its status) and
Katana (its sales order, location and lifecycle). A SKU's figure comes from the engines
themselves, never recomputed here: `engines.stock.figures()` gives in stock, committed, the units
taken but not committed and the figure; `engines.pending.Pending.of_variant()` the orders behind
those units; the run log each level pushed::

    runner.explain_order("shop-us", 67)     # why is order 67 held, since when, how many tries?
    runner.explain_sku("MUG-CLASSIC")       # why does shop-eu show 12 when Katana says 13?

No customer contact data is read into a story: an order is its number, status, SKUs and
quantities.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar, Mapping, Sequence

from ._views import Rendered
from .actions import LocationRef
from .config import Config, StoreConfig
from .engines import stock as stock_engine
from .engines.context import RunContext
from .engines.pending import Pending
from .errors import KatanaWooError, NotFoundError
from .history import RUN_SCAN, scan_actions
from .katana import KatanaClient
from .models import Location, SalesOrder, parse_datetime
from .plan import Hold, to_jsonable
from .state import State
from .woo import WooClient

__all__ = ["Event", "OrderStory", "PendingOrder", "Push", "SkuFigure", "SkuStory", "StoreSide", "order_story",
           "sku_story"]

# What to do about a hold, by its reason (the engines' reason codes).
ADVICE = {
    "unknown_sku": "create the SKU in Katana, or fix the line's SKU in WooCommerce; the next run imports it",
    "no_sku": "give the product a SKU that exists in Katana; the next run imports it",
    "deleted_product": "the line's product was deleted in WooCommerce; edit the order's line",
    "no_customer": "the order needs a billing e-mail or name",
    "tax_rate_unknown": "the order's tax lines must state their rate",
    "create_failed": "Katana refused or failed the create; the next run looks it up and tries again",
    "incomplete": "the sales order exists without its shipping fee; the next run adds it",
}


# --- an order ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """One step of an order's story; `run_id` names the run that took it."""

    at: datetime | None
    what: str              # "placed", "first seen", "held", "imported", "moved", "import failed", ...
    detail: str = ""
    run_id: int | None = None


@dataclass(frozen=True)
class OrderStory(Rendered):
    """Everything known about one WooCommerce order, oldest event first."""

    _view: ClassVar[str] = "order"

    store: str
    woo_order_id: int
    number: str | None
    state: str                         # "imported" | "held" | "skipped" | "not seen" (by any run)
    woo_status: str | None
    sales_order_id: int | None
    order_no: str | None
    katana_status: str | None          # NOT_SHIPPED, ..., DELIVERED; "deleted" when deleted in Katana
    location: LocationRef | None       # where its sales order ships from now
    hold: Hold | None                  # why it waits, since when, after how many runs
    lines: tuple[tuple[str, Decimal], ...]   # (SKU, quantity)
    events: tuple[Event, ...]
    notes: tuple[str, ...]
    checked_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The story as JSON data (``explain --json``)."""
        data: dict[str, Any] = to_jsonable(asdict(self))
        return data

    def __repr__(self) -> str:
        return f"OrderStory({self.store} #{self.number or self.woo_order_id}: {self.state}, {len(self.events)} events)"


def order_story(config: Config, state: State, katana: KatanaClient, woo: WooClient, store: str,
                woo_order_id: int, *, now: datetime | None = None, scan: int = RUN_SCAN) -> OrderStory:
    """The order's story from the ledger, the run log, WooCommerce and Katana (reads only).
    A system that cannot be read leaves a note; the rest of the story is still told."""
    cfg = config.store(store)
    now = now or datetime.now(timezone.utc)
    entry = state.ledger_get(store, woo_order_id)
    notes: list[str] = []
    events: list[Event] = []
    number = entry.woo_number if entry else None
    woo_status, lines = None, _lines(entry.lines_qty if entry else None)
    try:
        order = woo.orders.get(woo_order_id)
        number, woo_status = order.number, order.status
        lines = lines or tuple((li.sku or f"(no SKU: {li.name})", Decimal(li.quantity)) for li in order.line_items)
        events.append(Event(order.date_created_gmt, "placed", f"in {store}, status now {order.status}"))
    except NotFoundError:
        notes.append(f"WooCommerce has no order {woo_order_id} in {store} (deleted, or another id)")
    except KatanaWooError as exc:
        notes.append(f"WooCommerce could not be read: {exc}")
    if entry is not None and entry.first_seen is not None:
        events.append(Event(entry.first_seen, "first seen", "by a run of katana-woo"))
    so, names = _sales_order(katana, cfg, entry.sales_order_id if entry else None, woo_order_id, notes)
    order_no = (so.order_no if so else None) or (entry.order_no if entry else None)
    events += _logged(state, store, woo_order_id, order_no, names, scan)
    hold = None
    if entry is not None and entry.status == "held":
        code, _, detail = (entry.reason or "held").partition(": ")
        hold = Hold(store, woo_order_id, number or str(woo_order_id), code, detail or code, entry.first_seen,
                    entry.attempts)
        since = f"held since {_ts(entry.first_seen)}, " if entry.first_seen else ""
        events.append(Event(entry.updated_at, "held", f"{code}: {detail or code} ({since}{_attempts(entry.attempts)})"))
        notes.append("held orders are retried on every run, never dropped; "
                     + ADVICE.get(code, "fix the cause and the next run imports it"))
    elif entry is not None and entry.status == "skipped":
        events.append(Event(entry.updated_at, "skipped", entry.reason or ""))
    elif entry is not None and entry.attempts:
        notes.append(f"held {_attempts(entry.attempts)} before it was imported")
    location = None
    katana_status = None
    if so is not None:
        location = LocationRef(so.location_id, names.get(so.location_id, "?")) if so.location_id else None
        katana_status = "deleted" if so.deleted_at else so.status
        if so.deleted_at:
            events.append(Event(so.deleted_at, "deleted in Katana", f"{so.order_no}: never imported again"))
        elif not so.is_open:
            events.append(Event(_updated(so), so.status.lower().replace("_", " "),
                                f"{so.order_no} is {so.status} in Katana (as of its last change): "
                                "Ship From can no longer move"))
        if not any(e.what == "imported" for e in events):
            events.append(Event(so.created_at, "in Katana", f"{so.order_no} (#{so.id}) at {location}"))
    state_word = entry.status if entry is not None else ("imported" if so is not None else "not seen")
    if entry is None and so is None:
        notes.append("no run has seen this order: it is not in an imported status, older than orders.since, "
                     "or newer than the last run")
    events.sort(key=lambda e: (e.at is None, e.at or now))
    return OrderStory(store, woo_order_id, number, state_word, woo_status, so.id if so else None, order_no,
                      katana_status, location, hold, lines, tuple(events), tuple(notes), now)


def _ts(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _attempts(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


def _lines(lines: Mapping[str, Decimal] | None) -> tuple[tuple[str, Decimal], ...]:
    return tuple((sku, Decimal(q)) for sku, q in (lines or {}).items())


def _updated(so: SalesOrder) -> datetime | None:
    # Katana keeps no time of delivery; its last change is when the status was last set.
    return parse_datetime(so.raw.get("updated_at"))


def _sales_order(katana: KatanaClient, store: StoreConfig, so_id: int | None, woo_order_id: int,
                 notes: list[str]) -> tuple[SalesOrder | None, dict[int, str]]:
    try:
        names = {loc.id: loc.name for loc in katana.locations.list(include_deleted=True)}
        if so_id:
            return katana.sales_orders.get(so_id), names
        found = katana.sales_orders.list(ecommerce_store_name=store.ecommerce_store_name,
                                         ecommerce_order_id=str(woo_order_id), include_deleted=True)
        live = sorted((s for s in found if s.deleted_at is None), key=lambda s: s.id)
        chosen = live or found
        return (chosen[0] if chosen else None), names
    except KatanaWooError as exc:
        notes.append(f"Katana could not be read: {exc}")
        return None, {}


def _logged(state: State, store: str, woo_order_id: int, order_no: str | None, names: Mapping[Any, str],
            scan: int) -> list[Event]:
    """The run log's entries for the order: imports, completions, failures, moves."""
    out: list[Event] = []
    key = f"order:{woo_order_id}"
    for run, a in scan_actions(state, limit=scan):
        if a.store != store:
            continue
        if a.target == key and a.kind in ("order.import", "order.complete"):
            after = a.after if isinstance(a.after, Mapping) else {}
            if a.outcome == "applied" and a.kind == "order.import":
                where = names.get(after.get("location_id"), after.get("location_id"))
                made = "created" if after.get("created", True) else "found already in Katana"
                out.append(Event(a.at, "imported", f"{after.get('order_no')} (#{after.get('sales_order_id')}) "
                                                   f"{made} at {where}", run.id))
            elif a.outcome == "applied":
                out.append(Event(a.at, "completed", f"shipping fee {after.get('shipping_fee')} added", run.id))
            else:
                out.append(Event(a.at, f"import {a.outcome}", a.message, run.id))
        elif a.kind == "order.move" and (a.target == order_no or a.target == key):
            before = a.before.get("location_id") if isinstance(a.before, Mapping) else None
            after_id = a.after.get("location_id") if isinstance(a.after, Mapping) else None
            out.append(Event(a.at, "moved", f"Ship From {names.get(before, before)} -> {names.get(after_id, after_id)}",
                             run.id))
    return out


# --- a SKU ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoreSide:
    """What the runner's planning knows of one store, handed to `sku_story`."""

    config: StoreConfig
    location: Location | None
    problem: str | None = None                     # why no figure can be computed (blocked, error)
    notes: Mapping[str, Any] | None = None         # the stock plan's notes (unmatched SKUs ...)


@dataclass(frozen=True)
class PendingOrder:
    """An order whose units the store took and Katana has not committed, subtracted from the figure."""

    store: str
    woo_order_id: int
    number: str
    status: str
    why: str               # "held" | "not yet imported" | "status not imported (on-hold)"
    quantity: Decimal


@dataclass(frozen=True)
class Push:
    """One level written to the store for the SKU, from the run log."""

    run_id: int
    at: datetime
    kind: str              # "stock.push" | "stock.correct" | "stock.initial_import" (Katana's in stock)
    before: Any
    after: Any


@dataclass(frozen=True)
class SkuFigure:
    """One store's figure for the SKU, step by step, as `engines.stock.figures()` computed it."""

    store: str
    location: LocationRef | None
    policy: str = "available"
    buffer: int = 0
    maximum: int | None = None
    floor_zero: bool = True
    sync: bool = True
    in_stock: Decimal | None = None
    committed: Decimal | None = None
    pending: Decimal | None = None
    orders: tuple[PendingOrder, ...] = ()
    figure: int | None = None            # the engine's figure: what a push writes
    store_quantity: int | None = None    # what the store shows now
    pooled: tuple[int, ...] = ()         # Katana variant ids pooled into the figure (a parent's variations)
    last_pushed: int | None = None
    last_pushed_at: datetime | None = None
    pushes: tuple[Push, ...] = ()
    note: str = ""                       # why there is no figure, or no push
    share: int | None = None             # the store's slice where the location's figure is divided
    allocation: str = ""                 # how that slice was computed (`locations[].allocation`)

    @property
    def in_sync(self) -> bool | None:
        return None if self.figure is None else self.figure == self.store_quantity


@dataclass(frozen=True)
class SkuStory(Rendered):
    """How each store's figure for one SKU comes about, and what was pushed."""

    _view: ClassVar[str] = "sku"

    sku: str
    variant_id: int | None
    figures: tuple[SkuFigure, ...]
    notes: tuple[str, ...]
    checked_at: datetime

    def figure(self, store: str) -> SkuFigure:
        """The figure of the store called `store` (KeyError if the story has none)."""
        for f in self.figures:
            if f.store == store:
                return f
        raise KeyError(store)

    def to_dict(self) -> dict[str, Any]:
        """The story as JSON data (``explain --json``)."""
        data: dict[str, Any] = to_jsonable(asdict(self))
        return data

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.store}={f.figure if f.figure is not None else '-'}" for f in self.figures)
        return f"SkuStory({self.sku}: {shown})"


_WHY_NONE = (("store_only_skus", "Katana has no variant with this SKU (SKUs match exactly and case-sensitively)"),
             ("unmanaged_skus", "the store item does not manage stock"),
             ("parent_managed_skus", "the parent product manages this variation's stock: see the parent's SKU"),
             ("no_inventory_row_skus", "Katana has no inventory row for it at the location"))


def sku_story(sku: str, ctx: RunContext, pending: Pending, stores: Sequence[StoreSide], state: State, *,
              now: datetime | None = None, scan: int = RUN_SCAN) -> SkuStory:
    """Each store's figure for `sku` from `engines.stock.figures()` and the orders behind its
    pending units from `Pending.of_variant()`, with the levels the run log shows pushed."""
    now = now or datetime.now(timezone.utc)
    pushes = _pushes(state, sku, scan)
    out: list[SkuFigure] = []
    variant_id = None
    for side in stores:
        cfg, stock = side.config, side.config.stock
        loc = LocationRef(side.location.id, side.location.name) if side.location is not None else None
        record = state.pushed_records(cfg.name).get(sku)
        base = SkuFigure(cfg.name, loc, stock.policy, stock.buffer, stock.maximum, stock.floor_zero, stock.sync,
                         pushes=tuple(pushes.get(cfg.name, ())), last_pushed=record.quantity if record else None,
                         last_pushed_at=record.pushed_at if record else None)
        if side.problem or side.location is None:
            out.append(replace(base, note=side.problem or "no location"))
            continue
        try:
            fig = stock_engine.figures(ctx, cfg, side.location, pending).get(sku)
        except KatanaWooError as exc:
            out.append(replace(base, note=f"cannot compute: {exc}"))
            continue
        if fig is None:
            out.append(replace(base, note=_why_none(sku, side.notes or {})))
            continue
        variant_id = variant_id or fig.variant_ids[0]
        orders = _orders(pending, side.location.id, fig.variant_ids)
        # A location divided among its stores: the engine's slice, and its own account of it.
        part = getattr(fig, "allocation", None)
        if part is not None and getattr(part, "divided", False):
            base = replace(base, share=getattr(part, "slice", None), allocation=str(part.how()))
        out.append(replace(base, in_stock=fig.in_stock, committed=fig.committed, pending=fig.pending, orders=orders,
                           figure=fig.target, store_quantity=fig.item.stock_quantity, pooled=tuple(fig.variant_ids[1:]),
                           note="" if stock.sync else "stock sync is off for this store: nothing is pushed"))
    notes = []
    if not any(f.figure is not None for f in out):
        notes.append(f"no store has a figure for {sku}")
    return SkuStory(sku, variant_id, tuple(out), tuple(notes), now)


def _why_none(sku: str, notes: Mapping[str, Any]) -> str:
    for key, why in _WHY_NONE:
        if sku in (notes.get(key) or ()):
            return why
    return "the store has no stock-managed item with this SKU matched to a Katana variant at the location"


def _orders(pending: Pending, location_id: int, variant_ids: Sequence[int]) -> tuple[PendingOrder, ...]:
    """The takes behind the figure's pending units (a pooled figure: any of its variants)."""
    found: dict[tuple[str, int], PendingOrder] = {}
    for variant_id in variant_ids:
        for take in pending.of_variant(location_id, variant_id):
            key = (take.store, take.woo_order_id)
            qty = sum((q for v, q in take.quantities.items() if v in variant_ids), Decimal(0))
            found[key] = PendingOrder(take.store, take.woo_order_id, take.number, take.status, take.why, qty)
    return tuple(sorted(found.values(), key=lambda o: (o.store, o.woo_order_id)))


def _pushes(state: State, sku: str, scan: int) -> dict[str, list[Push]]:
    """Store -> each level of `sku` the run log shows written, oldest first."""
    out: dict[str, list[Push]] = {}
    for run, a in scan_actions(state, limit=scan):
        if a.outcome != "applied" or a.kind not in ("stock.push", "stock.correct", "stock.initial_import"):
            continue
        before = a.before.get(sku) if isinstance(a.before, Mapping) else None
        after: Any = None
        if isinstance(a.after, Mapping):
            levels = a.after.get("pushed") if a.kind != "stock.initial_import" else a.after.get("levels")
            after = levels.get(sku) if isinstance(levels, Mapping) else None
        if after is None and before is None:
            continue
        out.setdefault(a.store, []).append(Push(run.id, a.at, a.kind, before, after))
    return out
