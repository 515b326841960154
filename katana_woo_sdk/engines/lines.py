"""How a WooCommerce order line meets Katana: its variant, and its tax rate. One rule each.

Called by the order engine (building sales orders and holds) and by `pending` (which units a
store took): both must agree on which Katana variant a line took its units from, or a push would
subtract from one variant what the import commits on another.

* A line matches the Katana variant with exactly its SKU (case-sensitive, as Katana's own
  integration does), with one exception: WooCommerce shows a variation that has no SKU of its own
  with its parent's SKU (`WC_Product_Variation::get_sku` falls back to the parent's in view
  context, on the line item as on the product). Matching that through the parent's SKU would book
  the variation's units on the parent's variant, so such a line matches nothing and its order is
  held with that reason. `parent_skus` maps a parent product id to the parent's own SKU.
* Tax comes from the order's own tax lines: each line's `taxes[]` names rate ids, and
  `tax_lines[]` gives each rate's `rate_percent`; several rates on one line add up (compound rates
  are compounded). A percentage is never derived by dividing rounded amounts: a 20 % store would
  get "19.904 %" from a 4.99 shipping line taxed 1.00.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from ..actions import TaxRef
from ..models import WooLineItem, WooOrder, dec


@dataclass(frozen=True)
class LineMatch:
    """The Katana variant a line took its units from, or why there is none (`reason`, `detail`)."""

    variant: Any = None
    reason: str | None = None
    detail: str = ""


def match_line(li: WooLineItem, variants: Mapping[str, Any], parent_skus: Mapping[int, str]) -> LineMatch:
    if not li.sku and li.product_id == 0:
        return LineMatch(None, "deleted_product", f"line {li.name!r}: the product was deleted in WooCommerce "
                                                  f"and the line has no SKU; recreate it or edit the order")
    if not li.sku:
        return LineMatch(None, "no_sku", f"line {li.name!r} has no SKU; give the product a SKU that exists in Katana")
    if li.variation_id and parent_skus.get(li.product_id) == li.sku:
        return LineMatch(None, "variation_without_sku",
                         f"line {li.name!r} is variation #{li.variation_id} of product #{li.product_id}, which has "
                         f"no SKU of its own (WooCommerce shows the parent's SKU {li.sku!r}); give the variation "
                         f"a unique SKU that exists in Katana")
    variant = variants.get(li.sku)
    if variant is None:
        return LineMatch(None, "unknown_sku", f"SKU {li.sku!r} (line {li.name!r}) has no Katana variant "
                                              f"(SKUs match exactly and case-sensitively)")
    return LineMatch(variant)


def variation_parents(order: WooOrder) -> set[int]:
    """Parent product ids of the order's variation lines (whose own SKU must be checked)."""
    return {li.product_id for li in order.line_items if li.variation_id and li.product_id}


def variant_quantities(order: WooOrder, variants: Mapping[str, Any],
                       parent_skus: Mapping[int, str]) -> dict[int, Decimal]:
    """Katana variant id -> units of the order's lines that match a variant (see `match_line`)."""
    out: dict[int, Decimal] = {}
    for li in order.line_items:
        match = match_line(li, variants, parent_skus)
        if match.variant is not None and li.quantity > 0:
            out[match.variant.id] = out.get(match.variant.id, Decimal(0)) + Decimal(li.quantity)
    return out


class TaxUnknown(Exception):
    """A taxed line whose rate the order's tax lines do not state."""


def _rates(order: WooOrder) -> dict[int, Mapping[str, Any]]:
    return {int(t.get("rate_id") or 0): t for t in order.tax_lines if t.get("rate_id") is not None}


def tax_ref(order: WooOrder, taxes: Any, *, taxed: bool, what: str) -> TaxRef | None:
    """The rate of one line (`taxes`: its `taxes[]`), from the order's tax lines; None if untaxed.

    Raises TaxUnknown when the line is taxed but its rate cannot be read from the tax lines."""
    rates = _rates(order)
    applied = []
    for tax in taxes or ():
        amount = dec(tax.get("total"), Decimal(0)) or dec(tax.get("subtotal"), Decimal(0))
        if amount:
            applied.append(int(tax.get("id") or 0))
    if not applied:
        if taxed:
            raise TaxUnknown(f"{what} is taxed but names no tax rate")
        return None
    simple, compound = Decimal(0), Decimal(1)
    labels = []
    for rate_id in sorted(set(applied)):
        line = rates.get(rate_id)
        percent = dec(line.get("rate_percent"), None) if line else None
        if percent is None or line is None:
            raise TaxUnknown(f"{what} is taxed at rate #{rate_id}, which the order's tax lines do not state")
        if line.get("compound"):
            compound *= 1 + percent / 100
        else:
            simple += percent
        labels.append(str(line.get("label") or line.get("rate_code") or f"#{rate_id}"))
    total = ((1 + simple / 100) * compound - 1) * 100
    return TaxRef(total.normalize() if total != total.to_integral_value() else total.quantize(Decimal(1)),
                  tuple(sorted(set(applied))), ", ".join(labels))
