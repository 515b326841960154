"""Stock sync: the mapped location's figure for every stock-managed store item, pushed to the
store where it differs, in batches.

Called by the runner: `plan_push` when planning and again at write time (with the pending figure
read fresh), `write_push` to send it batch by batch (with a hook that re-reads the orders shoppers
placed meanwhile once writing has lasted a while), and `figures` for `Runner.compare_stock`.

The figure follows Katana's own integration: WooCommerce stock = Katana in stock - committed at
the mapped location (`policy: available`), less what the stores already took for orders Katana has
not committed (`pending.taken_not_committed`: held, not yet imported, on-hold), less the buffer,
capped by the maximum. A figure is never computed from an empty or failed read: a location
without inventory rows gets no push (unless this run's initial import creates them).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..actions import StockPush, StockWriteItem
from ..config import StockConfig, StoreConfig
from ..models import InventoryRow, Location, StockWrite, WooProduct
from ..plan import Action, fingerprint
from . import allocation
from .allocation import Slice
from .._progress import progress
from .context import RunContext, StockView
from .pending import Pending

log = logging.getLogger(__name__)

LIST_LIMIT = 50   # how many SKUs a note lists before "and N more"
# Notes about the whole catalogue: an incremental run, which reads only the changed items, leaves them out.
CATALOGUE_NOTES = ("katana_only_skus", "katana_only_count", "store_only_skus", "store_only_count",
                   "items_without_sku")


@dataclass(frozen=True, slots=True)   # one per store item: 100,000s in a big plan
class ItemFigure:
    """One store item's figure and how it was derived (for the push, `compare_stock`, reports)."""

    sku: str
    item: WooProduct
    variant_ids: tuple[int, ...]     # the Katana variants pooled into it (a parent and its variations)
    in_stock: Decimal
    committed: Decimal
    pending: Decimal
    target: int
    allocation: Slice | None = None  # the store's slice of the location's figure, and how it was computed

    @property
    def available(self) -> Decimal:
        return self.in_stock - self.committed


@dataclass(frozen=True)
class StockPlan:
    action: Action | None = None
    figures: Mapping[str, ItemFigure] = field(default_factory=dict)
    notes: Mapping[str, Any] = field(default_factory=dict)
    warning: str | None = None


def figure(row: InventoryRow, pending: Decimal, policy: StockConfig) -> int:
    """The quantity to show in the store for one variant at the mapped location: the policy's
    figure, less what WooCommerce already took for orders Katana has not committed."""
    return policy.target_quantity(row.quantity_in_stock - pending, row.quantity_committed)


def parent_pools(catalog: Iterable[WooProduct], variants: Mapping[str, Any]) -> dict[int, list[Any]]:
    """Parent product id -> the Katana variants of its variations whose stock the parent manages.

    WooCommerce sells such a variation (manage_stock "parent") from the parent's quantity, while
    the imported sales order commits the variation's own Katana variant. So the parent's figure is
    that of one pool: the parent's variant and these variants together (in stock and committed
    summed), or each of their orders would be re-raised in the store by the next push."""
    parent_skus = {p.id: p.sku for p in catalog if p.type == "variable"}
    pools: dict[int, list[Any]] = {}
    for item in catalog:
        if item.manage_stock == "parent" and item.sku and item.parent_id and item.sku in variants \
                and item.sku != parent_skus.get(item.parent_id):
            pools.setdefault(item.parent_id, []).append(variants[item.sku])
    return pools


def without_own_sku(item: WooProduct, parent_skus: Mapping[int, str]) -> bool:
    """A variation WooCommerce shows with its parent's SKU because it has none of its own."""
    return item.is_variation and bool(item.sku) and parent_skus.get(item.parent_id) == item.sku


def figures(ctx: RunContext, store: StoreConfig, location: Location, pending: Pending,
            adjustments: Mapping[int, Decimal] | None = None, *, view: StockView | None = None
            ) -> dict[str, ItemFigure]:
    """SKU -> figure for every stock-managed store item with a Katana variant and an inventory row
    at the location (or an in-stock change this run's initial import plans: `adjustments`), among
    the items of `view` (default: all of them, `RunContext.stock_view`)."""
    view = view or ctx.stock_view(store, location.id)
    variants, inventory, catalog = view.variants, view.rows, view.catalog
    pools = parent_pools(catalog, variants)
    parents = catalog.parent_skus()
    adjustments = adjustments or {}
    rule = ctx.config.allocation(location.id, location.name)
    zero = Decimal(0)
    out: dict[str, ItemFigure] = {}
    for item in catalog:
        variant = variants.get(item.sku) if item.sku else None
        if variant is None or item.manage_stock is not True:
            continue
        if item.parent_id and without_own_sku(item, parents):   # (a product without a parent never is)
            continue
        pool = pools.get(item.id)
        members = (variant.id, *(v.id for v in pool)) if pool else (variant.id,)
        rows = [inventory[v] for v in members if v in inventory]
        planned = sum((adjustments.get(v, zero) for v in members), zero) if adjustments else zero
        if not rows and not planned:
            continue
        if len(rows) == 1:      # the usual item: one variant, one row (a plan makes 100,000s of these)
            in_stock, committed = rows[0].quantity_in_stock + planned, rows[0].quantity_committed
        else:
            in_stock = sum((r.quantity_in_stock for r in rows), zero) + planned
            committed = sum((r.quantity_committed for r in rows), zero)
        taken = pending.quantity(location.id, members)
        # The location's figure becomes this store's slice of it (`engines.allocation`; pooled: all of it).
        target, share = allocation.slice_of(ctx.config, store, location, in_stock - taken, committed, rows,
                                            rule=rule)
        out[item.sku] = ItemFigure(item.sku, item, members, in_stock, committed, taken, target, share)
    return out


def plan_push(ctx: RunContext, store: StoreConfig, location: Location, pending: Pending,
              adjustments: Mapping[int, Decimal] | None = None, *, view: StockView | None = None) -> StockPlan:
    """The writes that bring the store to its figures (only the items whose level differs), among
    the items of `view` (default: all of them; an incremental run passes the changed ones)."""
    if not store.stock.sync:
        return StockPlan()
    view = view or ctx.stock_view(store, location.id)
    variants, inventory, catalog = view.variants, view.rows, view.catalog
    parents = catalog.parent_skus()
    found = figures(ctx, store, location, pending, adjustments, view=view)
    writes: list[StockWriteItem] = []
    unmanaged, parent_managed, store_only, no_row, no_own_sku, no_sku = [], [], [], [], [], 0
    store_skus = set()
    for item in catalog:
        if not item.sku:
            no_sku += 1
            continue
        if item.parent_id and without_own_sku(item, parents):
            no_own_sku.append(f"{item.name or item.id} (#{item.id})")
            continue
        store_skus.add(item.sku)
        if item.sku not in variants:
            if item.type != "variable":
                store_only.append(item.sku)
            continue
        if item.manage_stock == "parent":
            parent_managed.append(item.sku)
            continue
        if item.manage_stock is not True:
            unmanaged.append(item.sku)
            continue
        fig = found.get(item.sku)
        if fig is None:
            no_row.append(item.sku)
            continue
        if item.stock_quantity != fig.target:
            writes.append(StockWriteItem(item.sku, item.id, item.parent_id if item.is_variation else None,
                                         item.stock_quantity, fig.target))
    katana_only = sorted(s for s, v in variants.items() if s not in store_skus and (v.type in (None, "product"))) \
        if view.complete else []
    notes: dict[str, Any] = {
        "katana_only_skus": katana_only[:LIST_LIMIT], "katana_only_count": len(katana_only),
        "store_only_skus": store_only[:LIST_LIMIT], "store_only_count": len(store_only),
        "unmanaged_skus": unmanaged, "parent_managed_skus": parent_managed, "no_inventory_row_skus": no_row,
        "variations_without_sku": no_own_sku, "items_without_sku": no_sku,
        "in_sync": sum(1 for f in found.values() if f.item.stock_quantity == f.target),
    }
    if not view.complete:
        # Only the changed items were read: notes about the whole catalogue would be wrong.
        notes = {k: v for k, v in notes.items() if k not in CATALOGUE_NOTES}
        notes["incremental"] = f"{len(catalog)} changed items looked at; the others keep their last pushed level"
    elif catalog.by_sku:
        notes["store_read_by_sku"] = ("only items whose SKU Katana has at this location were read (the cheaper "
                                      "way); store items unknown to Katana are not listed")
    notes.update(allocation.plan_notes(found.values(), [w.sku for w in writes]))   # each written SKU's slice
    warning = None
    if view.complete and not inventory and not adjustments:
        warning = (f"Katana has no inventory rows at {location} yet; nothing pushed to {store.name} (an empty read "
                   f"is never pushed as zeros)")
    if not writes:
        return StockPlan(None, found, notes, warning)
    return StockPlan(push_action(store, location, writes), found, notes, warning)


def push_action(store: StoreConfig, location: Location, writes: Sequence[StockWriteItem]) -> Action:
    payload = StockPush(location.id, tuple(writes))
    return Action(store=store.name, kind="stock.push", key="stock-push",
                  summary=f"{len(writes)} stock levels from {location.name}",
                  before={w.sku: w.before for w in writes}, after={w.sku: w.after for w in writes},
                  fingerprint=fingerprint(payload.fingerprint_parts()), payload=payload)


# --- writing -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NotApplied:
    sku: str
    quantity: int
    reason: str | None
    code: str | None


@dataclass(frozen=True)
class PushResult:
    """What the store applied (`pushed`: SKU -> level written), what it did not, and how often the
    figures were revised from a fresh read while writing."""

    pushed: Mapping[str, int] = field(default_factory=dict)
    not_applied: tuple[NotApplied, ...] = ()
    revisions: int = 0


def batches(items: Sequence[StockWriteItem], limit: int) -> list[list[StockWriteItem]]:
    """One list per request the store will get: products together, each parent's variations
    together (WooCommerce takes variations only through their parent's batch), `limit` at most."""
    groups: dict[int | None, list[StockWriteItem]] = {}
    for item in items:
        groups.setdefault(item.parent_id, []).append(item)
    return [group[i:i + limit] for group in groups.values() for i in range(0, len(group), limit)]


def write_push(ctx: RunContext, store: StoreConfig, items: Sequence[StockWriteItem], *,
               revise: Callable[[Sequence[StockWriteItem]], Sequence[StockWriteItem]] | None = None,
               every: float = 2.0, clock: Callable[[], float] = time.monotonic) -> PushResult:
    """Send `items` batch by batch. Once writing has lasted `every` seconds since the figures were
    last computed, `revise(remaining)` recomputes the remaining items' figures from a fresh read."""
    woo = ctx.woo[store.name]
    pending_items = list(items)
    pushed: dict[str, int] = {}
    failed: list[NotApplied] = []
    revisions = 0
    since = clock()
    bar = progress(range(len(pending_items)), desc=f"{store.name} stock", enabled=ctx.progress)
    bar_update = getattr(bar, "update", None)
    while pending_items:
        if revise is not None and clock() - since >= every:
            pending_items = list(revise(pending_items))
            revisions += 1
            since = clock()
            if not pending_items:
                break
        batch = batches(pending_items, woo.batch_limit)[0]
        sent = {id(i) for i in batch}
        pending_items = [i for i in pending_items if id(i) not in sent]
        results = woo.stock.write([StockWrite(i.product_id, i.after, i.parent_id, i.sku) for i in batch])
        for r in results:
            if r.applied:
                pushed[r.write.sku] = r.write.quantity
            else:
                failed.append(NotApplied(r.write.sku, r.write.quantity, r.reason, r.error_code))
        if bar_update:
            bar_update(len(batch))
        if pushed:
            ctx.state.record_pushed(store.name, {s: q for s, q in pushed.items()
                                                 if s in {i.sku for i in batch}})
    if hasattr(bar, "close"):
        bar.close()
    return PushResult(pushed, tuple(failed), revisions)


def too_high(ctx: RunContext, store: StoreConfig, location: Location, pending: Pending,
             written: Mapping[str, int], *, view: StockView | None = None) -> list[StockWriteItem]:
    """Items whose level is now above their figure: what this run wrote (`written`: SKU -> level),
    else what the store showed when read. An order of the store itself after that only lowers the
    level and the figure alike, so comparing with the known level never raises a level."""
    out = []
    for sku, fig in figures(ctx, store, location, pending, view=view).items():
        known = written.get(sku, fig.item.stock_quantity)
        if known is not None and fig.target < known:
            out.append(StockWriteItem(sku, fig.item.id, fig.item.parent_id if fig.item.is_variation else None,
                                      known, fig.target))
    return out


def revised(items: Sequence[StockWriteItem], fresh: Mapping[str, ItemFigure]) -> list[StockWriteItem]:
    """`items` with each figure recomputed (`fresh`: SKU -> figure from a fresh read)."""
    out = []
    for item in items:
        fig = fresh.get(item.sku)
        out.append(item if fig is None or fig.target == item.after else replace(item, after=fig.target))
    return out
