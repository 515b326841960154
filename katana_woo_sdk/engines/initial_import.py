"""The one-time initial stock import: a store's WooCommerce stock becomes one Katana stock
adjustment at its mapped location.

Called by the runner: `plan_initial_import` after the orders are planned (it needs the store's
open orders), `apply_initial_import` at apply, and `is_confirmed` before any push to the store:
while a configured import has not been confirmed in Katana, nothing is pushed to the store, or
the push would write Katana's pre-import figures over the levels the import was meant to carry.

The figure follows Katana's own integration (help centre, "Importing initial stock levels"):
Katana in stock = WooCommerce stock + the units on the store's open orders (WooCommerce already
deducted them, and Katana records them as committed once imported), plus the units of orders in
statuses that are not imported (on-hold), which the pushed figure subtracts as taken.

One meaning for a location that several stores share, whatever the run boundaries: the first
store to import into a location **sets** Katana's in stock there to its figure (the adjustment
posts `figure - current`); every further store (its import confirmed with
`confirm_shared_location_import`) **adds** its own figure. "Further" means another store's import
into the location is recorded in the state, found in Katana by its number, or planned earlier in
the same run. So two stores showing 5 and 7 give 12 whether they import in one apply or in two.

The adjustment's number is derived from the store (`WOO-INIT-<ecommerce_store_name>`), so Katana
itself records that the import was done; it is found by that number before anything is created,
and a run that created it checks for a second one with the same number (another runner) and
deletes the newer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping, Sequence

from ..actions import AdjustmentRow, InitialImport, plain
from ..config import StoreConfig
from ..errors import KatanaWooError, NotFoundError, ServerError, TransportError, UnexpectedResponseError
from ..models import Location, StockAdjustment
from ..plan import Action, fingerprint
from .context import RunContext
from .orders import OrderFacts
from .lines import variant_quantities, variation_parents
from .stock import parent_pools

log = logging.getLogger(__name__)

CURSOR = "stock.initial_import"
OPEN_TAKEN = ("processing", "on-hold")   # WooCommerce deducted the units; they are still on the shelf
SET, ADD = "set", "add"


PREFIX = "WOO-INIT-"


def initial_import_number(store: StoreConfig) -> str:
    """Deterministic, so Katana itself tells whether the import was done (state may be lost)."""
    return f"{PREFIX}{store.ecommerce_store_name}"


@dataclass(frozen=True)
class InitialImportPlan:
    """`state`: off | done | planned | refused. A refused import is a failure of the store (its
    stock is not pushed); `message` says why."""

    state: str
    action: Action | None = None
    message: str = ""
    notes: Mapping[str, Any] = field(default_factory=dict)
    found: StockAdjustment | None = None     # done: the adjustment Katana has (the state had lost it)

    @property
    def adjustments(self) -> dict[int, Decimal]:
        """Variant id -> the in-stock change this import will make (for the plan's push figures)."""
        if self.action is None:
            return {}
        payload = self.action.payload
        assert isinstance(payload, InitialImport)  # a stock.initial_import action carries its rows
        return {r.variant_id: r.quantity for r in payload.rows}


def is_confirmed(ctx: RunContext, store: StoreConfig) -> bool:
    """The store's configured import is done (recorded), or not configured at all."""
    return not store.stock.initial_import or bool(ctx.state.get_cursor(store.name, CURSOR))


def plan_initial_import(ctx: RunContext, store: StoreConfig, location: Location, facts: OrderFacts | None, *,
                        others: Sequence[StoreConfig], earlier_in_run: Sequence[str], confirmed: bool
                        ) -> InitialImportPlan:
    """`others`: the config's other enabled stores (to name them); `earlier_in_run`: stores whose
    import into the same location this run plans before this one."""
    if not store.stock.initial_import:
        return InitialImportPlan("off")
    number = initial_import_number(store)
    done = ctx.state.get_cursor(store.name, CURSOR)
    if done:
        return InitialImportPlan("done", notes={"initial_import": f"done ({done}); not repeated"})
    existing = ctx.katana.stock_adjustments.find(number, include_deleted=False)
    if existing is not None:
        return InitialImportPlan("done", notes={"initial_import": f"already in Katana as adjustment {number} "
                                                               f"(#{existing.id}) at location #{existing.location_id}; "
                                                               f"not repeated"}, found=existing)
    earlier = set(earlier_in_run) | {r.store for r in ctx.state.initial_imports_at(location.id) if r.store != store.name}
    # Katana itself tells which stores imported here, whatever config or state they ran from: every
    # initial import's number starts with the same prefix (one listing, once per store's lifetime).
    names = {initial_import_number(o): o.name for o in others}
    for adjustment in ctx.katana.stock_adjustments.at_location(location.id):
        if adjustment.stock_adjustment_number.startswith(PREFIX) and adjustment.stock_adjustment_number != number:
            earlier.add(names.get(adjustment.stock_adjustment_number, adjustment.stock_adjustment_number))
    if earlier and not (confirmed or store.stock.confirm_shared_location_import):
        return InitialImportPlan("refused", message=(
            f"initial stock import for {store.name} refused: {location} already has (or gets in this run) an "
            f"initial import from {', '.join(sorted(earlier))}; a second one adds this store's stock to it. Set "
            f"stock.confirm_shared_location_import (or pass --confirm-shared-location-import) if the stores hold "
            f"separate stock, or turn initial_import off; until then nothing is pushed to {store.name}."))
    mode = ADD if earlier else SET
    rows, notes = _rows(ctx, store, location, facts, mode)
    payload = InitialImport(number, location.id, mode, tuple(rows), store.stock.initial_cost_per_unit)
    verb = "adds to" if mode == ADD else "sets"
    action = Action(store=store.name, kind="stock.initial_import", key="initial-import",
                    summary=f"stock adjustment {number} at {location.name} ({verb} in stock): {len(rows)} rows",
                    before={r.sku: plain(r.before) for r in rows}, after={r.sku: plain(r.after) for r in rows},
                    fingerprint=fingerprint(payload.fingerprint_parts()), payload=payload)
    return InitialImportPlan("planned", action, notes=notes)


def _rows(ctx: RunContext, store: StoreConfig, location: Location, facts: OrderFacts | None,
          mode: str) -> tuple[list[AdjustmentRow], dict[str, Any]]:
    inventory = ctx.inventory(location.id)
    catalog = ctx.catalog(store, location.id, complete=True)       # every item: Katana may not know them all
    variants = ctx.variants(item.sku for item in catalog)
    taken = _open_quantities(ctx, store, facts)
    pools = parent_pools(catalog, variants)
    rows, unmanaged, unknown = [], [], []
    for item in catalog:
        if not item.sku:
            continue
        if item.manage_stock is not True or item.stock_quantity is None:
            if item.type != "variable":
                unmanaged.append(item.sku)
            continue
        variant = variants.get(item.sku)
        if variant is None:
            unknown.append(item.sku)
            continue
        # A parent managing its variations' stock: their open orders came out of its quantity, and
        # its figure is the pool's (see stock.parent_pools), so the pool's in stock is what is booked.
        pool = [variant, *pools.get(item.id, ())]
        figure = Decimal(item.stock_quantity) + sum((taken.get(v.id, Decimal(0)) for v in pool), Decimal(0))
        current = sum((inventory[v.id].quantity_in_stock for v in pool if v.id in inventory), Decimal(0))
        delta = figure if mode == ADD else figure - current
        if delta != 0:
            rows.append(AdjustmentRow(item.sku, variant.id, delta, current, current + delta))
    return rows, {"initial_import_unmanaged": unmanaged, "initial_import_unknown_skus": unknown}


def _open_quantities(ctx: RunContext, store: StoreConfig, facts: OrderFacts | None) -> dict[int, Decimal]:
    """Katana variant id -> units on the store's open orders that WooCommerce deducted and that
    have not shipped: processing and on-hold, imported or not (Katana commits imported ones, the
    push subtracts the others). Lines match variants as everywhere (`lines.match_line`). A full
    run (every first run is one) has listed them all already; otherwise they are listed now."""
    if facts is not None and facts.open_orders is not None:
        orders = list(facts.open_orders)
    else:
        orders = list(ctx.woo[store.name].orders.iter(statuses=OPEN_TAKEN))
    variants = ctx.variants(li.sku for o in orders for li in o.line_items)
    parents = ctx.parent_skus(store, {pid for o in orders for pid in variation_parents(o)})
    out: dict[int, Decimal] = {}
    seen: set[int] = set()
    for order in orders:
        if order.id in seen or order.status not in OPEN_TAKEN:
            continue
        seen.add(order.id)
        for variant_id, qty in variant_quantities(order, variants, parents).items():
            out[variant_id] = out.get(variant_id, Decimal(0)) + qty
    return out


# --- applying ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InitialImportResult:
    adjustment_id: int | None
    number: str
    rows: int
    created: bool
    repairs: tuple[str, ...] = ()


def apply_initial_import(ctx: RunContext, store: StoreConfig, action: Action) -> InitialImportResult:
    """Create the adjustment unless Katana has it by number; then record the import as confirmed.
    A create that failed without an answer is looked up once; if Katana does not have it the error
    stands (the store's stock is then not pushed) and the next run decides from Katana's listing."""
    p = action.payload
    assert isinstance(p, InitialImport)  # a stock.initial_import action carries its adjustment
    existing = ctx.katana.stock_adjustments.find(p.number, include_deleted=False)
    created = False
    repairs: tuple[str, ...] = ()
    if existing is None and p.rows:
        rows = [(r.variant_id, r.quantity, p.cost_per_unit if r.quantity > 0 else None) for r in p.rows]
        try:
            existing = ctx.katana.stock_adjustments.create(
                p.number, p.location_id, rows, reason=f"Initial stock import from WooCommerce store {store.name}")
            created = True
        except (ServerError, UnexpectedResponseError, TransportError) as exc:
            found = ctx.katana.stock_adjustments.find(p.number, include_deleted=False)
            if found is None:
                raise
            log.warning("%s: creating %s failed (%s) but Katana has it (#%d); not creating again",
                        store.name, p.number, exc, found.id)
            existing = found
        ctx.forget_inventory(p.location_id)
        survivor, repairs = _repair(ctx, p.number)
        existing = survivor or existing
    adjustment_id = existing.id if existing is not None else None
    ctx.state.record_initial_import(store.name, p.location_id, p.number, adjustment_id)
    ctx.state.set_cursor(store.name, CURSOR, p.number + ("" if existing else " (nothing to adjust)"))
    return InitialImportResult(adjustment_id, p.number, len(p.rows), created, repairs)


def adopt(ctx: RunContext, store: StoreConfig, plan: InitialImportPlan) -> None:
    """Record an import Katana has but the state had lost (found by number while planning)."""
    if plan.found is not None and not ctx.state.get_cursor(store.name, CURSOR):
        ctx.state.record_initial_import(store.name, plan.found.location_id, plan.found.stock_adjustment_number,
                                        plan.found.id)
        ctx.state.set_cursor(store.name, CURSOR, f"{plan.found.stock_adjustment_number} (found in Katana)")


def _repair(ctx: RunContext, number: str) -> tuple[StockAdjustment | None, tuple[str, ...]]:
    """A second live adjustment with our number (another runner imported too): keep the oldest,
    delete the others (Katana reverses a deleted adjustment's stock). Returns the one kept."""
    copies = sorted(ctx.katana.stock_adjustments.find_all(number), key=lambda a: a.id)
    out = []
    for dup in copies[1:]:
        try:
            ctx.katana.stock_adjustments.delete(dup.id)
            out.append(f"adjustment {number} existed twice (#{copies[0].id} and #{dup.id}): deleted the newer")
        except NotFoundError:
            out.append(f"adjustment {number} #{dup.id} was a duplicate, deleted meanwhile")
        except KatanaWooError as exc:
            out.append(f"adjustment {number} exists twice (#{copies[0].id} and #{dup.id}); the newer could not be "
                       f"deleted: {exc}")
    return (copies[0] if copies else None), tuple(out)
