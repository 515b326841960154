"""Products for SKUs Katana does not know (`orders.unknown_sku: create_product`), created the way
Katana's own integration does ("a line item that matches no product creates a new product"), then
the orders that needed them are imported in the same run.

Called by `orders.plan_orders` (`placeholders`, then `plan_products`: a `product.create` action per
new SKU, placed before the imports), at apply by the runner (`apply_creation`, before the imports)
and by `orders.apply_import` (`resolve_rows`: a row planned for a product to be created gets the
variant the creation made).

Only a line that has a SKU of its own can make a product: a deleted product's line (no SKU), or a
variation that shows its parent's SKU (`lines.match_line`), stays held as before. Name and price
come from the store's line (its name, and its unit price before discounts, ex tax, as the import
prices rows); one product with one variant per SKU, unit `pcs` (Katana's default).

Exactly once, as for sales orders: the SKU is the product's natural key in Katana. Before creating,
the SKU is looked up (another store of this run, or an earlier run, may have created it: then it is
used). A create that gets no clear answer (5xx, timeout) is looked up once and never sent again in
the run; if Katana does not show it yet, the orders waiting for it are held (`awaiting_product`)
and the next run's lookup decides. A crash between the creation and the import leaves a product
the next run finds by its SKU: two orders of one new SKU make one product, whatever happens between.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Mapping, Sequence

from ..actions import ImportRow, OrderImport, ProductCreation
from ..config import StoreConfig
from ..errors import (AwaitingProduct, ProductUnconfirmed, ReconcileError, RejectedError, ServerError, TransportError,
                      UnexpectedResponseError)
from ..models import Location, WooOrder
from ..plan import Action, fingerprint
from .context import RunContext
from .lines import match_line

PLANNED = 0        # the variant id of a row whose product this run creates (resolved at apply)


@dataclass(frozen=True)
class Planned:
    """Stands for the variant a `product.create` action will make (id `PLANNED`)."""

    sku: str
    id: int = PLANNED


@dataclass(frozen=True)
class ProductResult:
    """What `apply_creation` did: the variant the SKU has now, and whether this run created it."""

    sku: str
    variant_id: int
    product_id: int | None
    created: bool
    note: str = ""


def placeholders(orders: Sequence[WooOrder], variants: Mapping[str, Any],
                 parents: Mapping[int, str]) -> dict[str, Any]:
    """`variants` plus a `Planned` stand-in for each SKU the orders' lines name that Katana lacks
    and that a product can be made for (a line with a SKU of its own)."""
    out: dict[str, Any] = dict(variants)
    for order in orders:
        for li in order.line_items:
            if li.sku and match_line(li, variants, parents).reason == "unknown_sku":
                out.setdefault(li.sku, Planned(li.sku))
    return out


def plan_products(store: StoreConfig, location: Location,
                  imports: Sequence[tuple[WooOrder, OrderImport]]) -> list[Action]:
    """A `product.create` per new SKU the importable orders need, named and priced from the first
    order's line (in id order, so a re-plan gives the same action)."""
    wanted: dict[str, tuple[str, Decimal | None, list[int]]] = {}
    for order, payload in sorted(imports, key=lambda pair: pair[0].id):
        for row in payload.rows:
            if row.variant_id != PLANNED:
                continue
            if row.sku not in wanted:
                line = next((li for li in order.line_items if li.sku == row.sku), None)
                name = (line.name if line is not None and line.name else row.sku)[:200]
                wanted[row.sku] = (name, row.price_per_unit, [])
            if order.id not in wanted[row.sku][2]:
                wanted[row.sku][2].append(order.id)
    actions = []
    for sku, (name, price, orders) in wanted.items():
        creation = ProductCreation(sku, name, price, location.id, tuple(orders))
        numbers = ", ".join(f"#{o}" for o in orders[:5]) + (f" and {len(orders) - 5} more" if len(orders) > 5 else "")
        actions.append(Action(
            store=store.name, kind="product.create", key=f"product:{sku}",
            summary=f"{sku}: new Katana product {name!r} at {price} (for order {numbers})",
            before=None, after={"sku": sku, "name": name, "sales_price": str(price) if price is not None else None},
            fingerprint=fingerprint(creation.fingerprint_parts()), payload=creation))
    return actions


def resolve_rows(ctx: RunContext, rows: Sequence[ImportRow]) -> tuple[ImportRow, ...]:
    """Rows planned for a product to be created get its variant (created by this run or an earlier
    one, found by SKU); `AwaitingProduct` when Katana does not know the SKU yet."""
    waiting = [r.sku for r in rows if r.variant_id == PLANNED]
    if not waiting:
        return tuple(rows)
    known = ctx.variants(waiting)
    missing = [sku for sku in waiting if sku not in known]
    if missing:
        raise AwaitingProduct(f"the Katana product for SKU {', '.join(missing)} is not created (or not confirmed) "
                              f"yet; the order is imported once it exists")
    return tuple(replace(r, variant_id=known[r.sku].id) if r.variant_id == PLANNED else r for r in rows)


def apply_creation(ctx: RunContext, store: StoreConfig, action: Action) -> ProductResult:
    p = action.payload
    assert isinstance(p, ProductCreation)  # a product.create action carries its product
    existing = ctx.variants([p.sku]).get(p.sku)
    if existing is not None:
        return ProductResult(p.sku, existing.id, existing.product_id, False, "already in Katana")
    try:
        product = ctx.katana.products.create(p.name, [(p.sku, p.price)])
    except (ServerError, UnexpectedResponseError, TransportError) as exc:
        found = ctx.katana.variants.by_skus([p.sku]).get(p.sku)
        if found is None:
            raise ProductUnconfirmed(f"the create of product {p.sku} got no clear answer ({exc}) and Katana does not "
                                     f"show the SKU yet; not sent again: the next run finds it or creates it") from exc
        ctx.remember_variant(found)
        return ProductResult(p.sku, found.id, found.product_id, True, "created (its answer was lost)")
    except RejectedError:
        # Katana keeps SKUs unique: someone (a person, another runner) may have created it meanwhile.
        found = ctx.katana.variants.by_skus([p.sku]).get(p.sku)
        if found is None:
            raise
        ctx.remember_variant(found)
        return ProductResult(p.sku, found.id, found.product_id, False, "created meanwhile by someone else")
    variant = next((v for v in product.variants if v.sku == p.sku), None)
    if variant is None:
        raise ReconcileError(f"Katana created product #{product.id} without a variant of SKU {p.sku}")
    ctx.remember_variant(variant)
    return ProductResult(p.sku, variant.id, product.id, True)


__all__ = ["PLANNED", "Planned", "AwaitingProduct", "ProductUnconfirmed", "ProductResult", "placeholders",
           "plan_products", "resolve_rows", "apply_creation"]
