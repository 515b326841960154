"""Stock between a store and its mapped location: the one-time initial import (WooCommerce ->
one Katana stock adjustment) and the stock sync (the location's figure -> WooCommerce).

Called by the runner after order import: `plan_initial_import` / `apply_initial_import` and
`plan_stock_sync` / `apply_stock_push`.

The figures follow Katana's own integration (help centre, "Importing initial stock levels"):
Katana in stock = WooCommerce stock + quantity on open orders (which Katana records as
committed), and WooCommerce stock = Katana in stock - committed. On top of that, quantities
WooCommerce already took for orders Katana has not committed yet (held, not yet imported,
on-hold) are subtracted, so a push never re-raises stock that was sold: the oversell other
connectors' users report. A figure is never computed from an empty or failed read.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Mapping, Sequence

from ..config import StockConfig, StoreConfig
from ..models import InventoryRow, Location, StockWrite, WooProduct
from ..plan import Action, fingerprint
from .context import RunContext, progress

log = logging.getLogger(__name__)

INITIAL_CURSOR = "stock.initial_import"
LIST_LIMIT = 50   # how many SKUs a note lists before "and N more"


def initial_import_number(store: StoreConfig) -> str:
    """Deterministic, so Katana itself tells whether the import was done (state may be lost)."""
    return f"WOO-INIT-{store.ecommerce_store_name}"


@dataclass(frozen=True)
class StockPlan:
    action: Action | None
    warnings: tuple[str, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


# --- initial import ------------------------------------------------------------------------------

def plan_initial_import(ctx: RunContext, store: StoreConfig, location: Location,
                        open_qty: Mapping[str, Decimal], *, others_on_location: Sequence[StoreConfig],
                        confirmed: bool) -> StockPlan:
    """`open_qty`: SKU -> quantity on the store's open orders in the imported statuses (imported,
    to import, or held): WooCommerce already deducted them and Katana records them as committed."""
    if not store.stock.initial_import:
        return StockPlan(None)
    number = initial_import_number(store)
    done = ctx.state.get_cursor(store.name, INITIAL_CURSOR)
    if done:
        return StockPlan(None, notes={"initial_import": f"done ({done}); not repeated"})
    existing = ctx.katana.stock_adjustments.find(number, include_deleted=False)
    if existing is not None:
        return StockPlan(None, notes={"initial_import": f"already in Katana as adjustment {number} "
                                                        f"(#{existing.id}) at location #{existing.location_id}; not repeated"})
    # Another store's initial import into the same location would be counted twice.
    earlier = {r.store for r in ctx.state.initial_imports_at(location.id) if r.store != store.name}
    for other in others_on_location:
        if other.name in earlier or other.name == store.name or not other.stock.initial_import:
            continue
        found = ctx.katana.stock_adjustments.find(initial_import_number(other), include_deleted=False)
        if found is not None and found.location_id == location.id:
            earlier.add(other.name)
    if earlier and not (confirmed or store.stock.confirm_shared_location_import):
        return StockPlan(None, warnings=(
            f"initial stock import for {store.name} skipped: {location} already received an initial import "
            f"from {', '.join(sorted(earlier))}; importing again would double-count. Set "
            f"stock.confirm_shared_location_import (or pass --confirm-shared-location-import) if that is "
            f"really wanted.",))
    inventory = ctx.inventory(location.id)
    variants = ctx.variants_by_sku()
    # Orders WooCommerce took stock for that Katana will not commit (on-hold when only processing
    # is imported): the units are still on the shelf, and the pushed figure subtracts them as
    # pending, so the in-stock booked here must include them or the first push takes them off twice.
    taken = dict(open_qty)
    read = ctx.reads.get(store.name)
    for order in (read.uncommitted if read is not None else ()):
        for li in order.line_items:
            if li.sku:
                taken[li.sku] = taken.get(li.sku, Decimal(0)) + Decimal(li.quantity)
    pools = parent_pools(ctx.catalog(store), variants)
    rows, unmanaged, unknown = [], [], []
    for item in ctx.catalog(store):
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
        # its figure is the pool's (see parent_pools), so the pool's in stock is what is booked.
        pool = [variant, *pools.get(item.id, ())]
        target = Decimal(item.stock_quantity) + sum((taken.get(v.sku, Decimal(0)) for v in pool), Decimal(0))
        current = sum((inventory[v.id].quantity_in_stock for v in pool if v.id in inventory), Decimal(0))
        delta = target - current
        if delta != 0:
            rows.append({"sku": item.sku, "variant_id": variant.id, "quantity": _plain(delta),
                         "from": _plain(current), "to": _plain(target)})
    notes = {"initial_import_unmanaged": unmanaged, "initial_import_unknown_skus": unknown}
    payload = {"number": number, "location_id": location.id, "rows": rows,
               "cost_per_unit": None if store.stock.initial_cost_per_unit is None else str(store.stock.initial_cost_per_unit)}
    action = Action(store=store.name, kind="stock.initial_import", key="initial-import",
                    summary=f"stock adjustment {number} at {location.name}: {len(rows)} rows",
                    before={r["sku"]: r["from"] for r in rows}, after={r["sku"]: r["to"] for r in rows},
                    fingerprint=fingerprint(payload), payload=payload)
    return StockPlan(action, notes=notes)


def apply_initial_import(ctx: RunContext, store: StoreConfig, action: Action) -> dict[str, Any]:
    p = action.payload
    location_id = int(p["location_id"])
    existing = ctx.katana.stock_adjustments.find(p["number"], include_deleted=False)
    if existing is None and p["rows"]:
        cost = Decimal(p["cost_per_unit"]) if p.get("cost_per_unit") else None
        rows = [(int(r["variant_id"]), Decimal(r["quantity"]), cost if Decimal(r["quantity"]) > 0 else None)
                for r in p["rows"]]
        existing = ctx.katana.stock_adjustments.create(
            p["number"], location_id, rows, reason=f"Initial stock import from WooCommerce store {store.name}")
        ctx.forget_inventory(location_id)
    adjustment_id = existing.id if existing is not None else None
    ctx.state.record_initial_import(store.name, location_id, p["number"], adjustment_id)
    ctx.state.set_cursor(store.name, INITIAL_CURSOR, p["number"] + ("" if existing else " (nothing to adjust)"))
    return {"adjustment_id": adjustment_id, "number": p["number"], "rows": len(p["rows"])}


def _plain(value: Decimal) -> str:
    """'15' rather than Katana's '15.00000' in plans people read."""
    text = format(value.normalize(), "f")
    return text


# --- stock sync ----------------------------------------------------------------------------------

def figure(row: InventoryRow, pending: Decimal, policy: StockConfig) -> int:
    """The quantity to show in the store for one variant at the mapped location: the policy's
    figure, less what WooCommerce already took for orders Katana has not committed."""
    return policy.target_quantity(row.quantity_in_stock - pending, row.quantity_committed)


def parent_pools(catalog: Sequence[WooProduct], variants: Mapping[str, Any]) -> dict[int, list[Any]]:
    """Parent product id -> the Katana variants of its variations whose stock the parent manages.

    WooCommerce sells such a variation (manage_stock "parent") from the parent's quantity, while
    the imported sales order commits the variation's own Katana variant. So the parent's figure is
    that of one pool: the parent's variant and these variants together (in stock and committed
    summed), or each of their orders would be re-raised in the store by the next push."""
    pools: dict[int, list[Any]] = {}
    for item in catalog:
        if item.manage_stock == "parent" and item.sku and item.parent_id and item.sku in variants:
            pools.setdefault(item.parent_id, []).append(variants[item.sku])
    return pools


def _pooled(variant_id: int, location_id: int, rows: Sequence[InventoryRow]) -> InventoryRow:
    if len(rows) == 1 and rows[0].variant_id == variant_id:
        return rows[0]
    return InventoryRow(variant_id, location_id, sum((r.quantity_in_stock for r in rows), Decimal(0)),
                        sum((r.quantity_committed for r in rows), Decimal(0)),
                        sum((r.quantity_expected for r in rows), Decimal(0)))


def item_target(ctx: RunContext, store: StoreConfig, location: Location, item: WooProduct,
                pending: Mapping[int, Decimal], adjustments: Mapping[int, Decimal] | None = None, *,
                pools: Mapping[int, Sequence[Any]] | None = None) -> tuple[InventoryRow, int] | None:
    """The Katana figures (pooled for a parent, see `parent_pools`) and the quantity to push for one
    stock-managed store item; None when the item has no variant or no inventory row at the location.
    `pools`: `parent_pools(catalog, variants)`, computed once by callers looping over a catalogue."""
    variants = ctx.variants_by_sku()
    variant = variants.get(item.sku) if item.sku else None
    if variant is None or item.manage_stock is not True:
        return None
    if pools is None:
        pools = parent_pools(ctx.catalog(store), variants)
    inventory = ctx.inventory(location.id)
    members = [variant.id, *(v.id for v in pools.get(item.id, ()))]
    rows = [inventory[vid] for vid in members if vid in inventory]
    if not rows:
        return None
    row = _pooled(variant.id, location.id, rows)
    if adjustments and variant.id in adjustments:
        row = replace(row, quantity_in_stock=row.quantity_in_stock + adjustments[variant.id])
    return row, figure(row, sum((pending.get(vid, Decimal(0)) for vid in members), Decimal(0)), store.stock)


def plan_stock_sync(ctx: RunContext, store: StoreConfig, location: Location,
                    pending: Mapping[int, Decimal], adjustments: Mapping[int, Decimal] | None = None) -> StockPlan:
    """`pending`: variant id -> quantity WooCommerce took that Katana has not committed (all
    stores on the location); `adjustments`: in-stock changes planned earlier in the same run."""
    if not store.stock.sync:
        return StockPlan(None)
    variants = ctx.variants_by_sku()
    inventory = ctx.inventory(location.id)
    if variants and not inventory:
        return StockPlan(None, error=f"Katana returned no inventory rows for {location}; nothing pushed "
                                     f"(a figure is never computed from an empty read)")
    catalog = ctx.catalog(store)
    pools = parent_pools(catalog, variants)
    writes, before, after = [], {}, {}
    unmanaged, parent_managed, store_only, no_row, no_sku = [], [], [], [], 0
    store_skus = set()
    for item in catalog:
        if not item.sku:
            no_sku += 1
            continue
        store_skus.add(item.sku)
        variant = variants.get(item.sku)
        if variant is None:
            if item.type != "variable":
                store_only.append(item.sku)
            continue
        if item.manage_stock == "parent":
            parent_managed.append(item.sku)
            continue
        if item.manage_stock is not True:
            unmanaged.append(item.sku)
            continue
        found = item_target(ctx, store, location, item, pending, adjustments, pools=pools)
        if found is None:
            no_row.append(item.sku)
            continue
        value = found[1]
        if item.stock_quantity != value:
            writes.append({"product_id": item.id, "parent_id": item.parent_id if item.is_variation else None,
                           "sku": item.sku, "quantity": value})
            before[item.sku], after[item.sku] = item.stock_quantity, value
    katana_only = sorted(s for s, v in variants.items() if s not in store_skus and (v.type in (None, "product")))
    notes = {
        "katana_only_skus": katana_only[:LIST_LIMIT], "katana_only_count": len(katana_only),
        "store_only_skus": store_only[:LIST_LIMIT], "store_only_count": len(store_only),
        "unmanaged_skus": unmanaged, "parent_managed_skus": parent_managed, "no_inventory_row_skus": no_row,
        "items_without_sku": no_sku, "in_sync": len(catalog) - len(writes),
        "variations_not_read": ctx.unread_variations.get(store.name, 0),
    }
    if not writes:
        return StockPlan(None, notes=notes)
    action = Action(store=store.name, kind="stock.push", key="stock-push",
                    summary=f"{len(writes)} stock levels from {location.name}", before=before, after=after,
                    fingerprint=fingerprint(writes), payload={"writes": writes, "location_id": location.id})
    return StockPlan(action, notes=notes)


def apply_stock_push(ctx: RunContext, store: StoreConfig, action: Action) -> dict[str, Any]:
    writes = [StockWrite(int(w["product_id"]), int(w["quantity"]), w.get("parent_id"), w.get("sku", ""))
              for w in action.payload["writes"]]
    results = ctx.woo[store.name].stock.write(list(progress(writes, desc=f"{store.name} stock", enabled=ctx.progress)))
    applied = {r.write.sku: r.write.quantity for r in results if r.applied}
    failed = [{"sku": r.write.sku, "quantity": r.write.quantity, "reason": r.reason, "code": r.error_code}
              for r in results if not r.applied]
    if applied:
        ctx.state.record_pushed(store.name, applied)
    return {"pushed": len(applied), "not_applied": failed}
