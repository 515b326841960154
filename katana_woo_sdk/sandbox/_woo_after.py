"""What a shop does to an order after checkout, in the WooCommerce emulator: refunds (partial or
full, with or without restocking) and edits of the line items, as wp-admin makes them.

Called by `woo_emulator` (`refund_order`, `edit_order`) under the store's lock, on its `OrderBook`.
As WooCommerce 10.0.2 does (`wc_create_refund`, `wc_restock_refunded_items`, `wc_save_order_items`
with `wc_maybe_adjust_line_item_product_stock`; cassette `orders` for the notes' wording):
* a refund is a post of its own (its id from the shared sequence) listed in the order's `refunds[]`
  with a negative `total`; restocking puts the refunded quantities back on the shelf ("Item #id
  stock increased from 5 to 6.") and lowers the line's `_reduced_stock`; a refund that reaches the
  order's total moves the order to `refunded` (WooCommerce's `woocommerce_order_fully_refunded`);
* an edit of a line's quantity scales its amounts by its unit price and, when the order reduced
  stock, adjusts the product's stock by the difference ("Adjusted stock: Mug (MUG) 5&rarr;4"); a
  quantity of 0 removes the line, and a new SKU adds one (stock reduced for it the same way);
* either moves `date_modified`, which is how a client reading `modified_after` sees it.
Taxes are scaled with the line; coupons are not re-spread over an edited order (the emulator's
simplification: a coupon's share stays on the line it was on).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ._woo_model import LineItem, Order, Product, dec, round2
from ._woo_orders import OrderBook


def refund(book: OrderBook, order: Order, *, amount: Any = None, lines: dict[int, int] | None = None,
           restock: bool = False, reason: str = "") -> dict[str, Any]:
    """Refund `amount` (None: what `lines` are worth, else everything not refunded yet); `lines`
    {line item id: quantity}. Returns the refund as the order's `refunds[]` shows it."""
    at = book.ctx.now()
    refunded = -sum((dec(r["total"]) for r in order.refunds), Decimal(0))
    by_id = {li.id: li for li in order.line_items}
    if amount is None:
        if lines:
            amount = sum((round2((by_id[i].total + by_id[i].total_tax) / by_id[i].quantity * q)
                          for i, q in lines.items()), Decimal(0))
        else:
            amount = order.total - refunded
    amount = dec(amount)
    if amount <= 0 or amount > order.total - refunded:
        raise ValueError(f"invalid refund amount {amount}: {order.total - refunded} can still be refunded")
    entry = {"id": book.ctx.next_id(), "reason": reason, "total": -amount}
    order.refunds.append(entry)
    if restock:
        for item_id, quantity in (lines or {}).items():
            _restock(book, order, by_id[item_id], int(quantity), at)
    order.modified = at
    if refunded + amount >= order.total and order.status != "refunded":
        book.transition(order, "refunded", at=at)
    return {"id": entry["id"], "reason": reason, "total": str(-amount)}


def _restock(book: OrderBook, order: Order, line: LineItem, quantity: int, at: datetime | None) -> None:
    owner = _owner(book, line)
    reduced = next((m for m in line.meta if m["key"] == "_reduced_stock"), None)
    if owner is None or reduced is None or quantity <= 0:
        return
    old = int(owner.stock_quantity or 0)
    book.catalog.set_quantity(owner, old + quantity, at)
    left = int(reduced["value"]) - quantity
    if left > 0:
        reduced["value"] = reduced["display_value"] = str(left)
    else:
        line.meta.remove(reduced)
    book.add_note(order, f"Item #{owner.id} stock increased from {old} to {old + quantity}.", at=at)


def _owner(book: OrderBook, line: LineItem) -> Product | None:
    product = book.catalog.get(line.variation_id or line.product_id) if (line.variation_id or line.product_id) else None
    return book.catalog.stock_owner(product) if product is not None else None


def edit_lines(book: OrderBook, order: Order, quantities: dict[Any, int]) -> None:
    """Set line quantities by line item id or SKU (0 removes the line; an unknown SKU adds one)."""
    at = book.ctx.now()
    changes: list[str] = []
    for key, quantity in quantities.items():
        line = _line(book, order, key)
        if line is None:
            product = book.catalog.resolve(key)
            line = book._line({"product": product, "quantity": int(quantity)})
            order.line_items.append(line)
            old_qty = 0
        else:
            old_qty = line.quantity
            if int(quantity) > 0:
                _scale(line, Decimal(int(quantity)) / Decimal(old_qty))
                line.quantity = int(quantity)
        change = _adjust_stock(book, order, line, int(quantity) - old_qty, at)
        if change:
            changes.append(change)
        if int(quantity) <= 0:
            order.line_items.remove(line)
    if changes:
        book.add_note(order, "Adjusted stock: " + ", ".join(changes), at=at)
    _totals(order)
    order.modified = at


def _line(book: OrderBook, order: Order, key: Any) -> LineItem | None:
    for line in order.line_items:
        if line.id == key:
            return line
        product = book.catalog.get(line.variation_id or line.product_id) if line.product_id else None
        if isinstance(key, str) and product is not None and product.sku == key:
            return line
    return None


def _scale(line: LineItem, ratio: Decimal) -> None:
    line.subtotal, line.total = line.subtotal * ratio, line.total * ratio
    line.subtotal_tax, line.total_tax = round2(line.subtotal_tax * ratio), round2(line.total_tax * ratio)
    line.taxes = [{**t, "total": dec(t["total"]) * ratio, "subtotal": dec(t["subtotal"]) * ratio} for t in line.taxes]


def _adjust_stock(book: OrderBook, order: Order, line: LineItem, delta: int, at: datetime | None) -> str | None:
    """wc_maybe_adjust_line_item_product_stock: only for an order that reduced stock."""
    owner = _owner(book, line)
    if not order.stock_reduced or owner is None or delta == 0:
        return None
    old = int(owner.stock_quantity or 0)
    book.catalog.set_quantity(owner, old - delta, at)
    reduced = next((m for m in line.meta if m["key"] == "_reduced_stock"), None)
    value = str((int(reduced["value"]) if reduced else 0) + delta)
    if reduced is None:
        line.meta.append({"id": book.ctx.next_meta_id(), "key": "_reduced_stock", "value": value,
                          "display_key": "_reduced_stock", "display_value": value})
    else:
        reduced["value"] = reduced["display_value"] = value
    product = book.catalog.get(line.variation_id or line.product_id)
    assert product is not None  # the line's product holds the stock adjusted above
    return f"{book.catalog.formatted_name(product)} {old}&rarr;{old - delta}"


def _totals(order: Order) -> None:
    lines = order.line_items
    order.discount_total = sum((li.subtotal - li.total for li in lines), Decimal(0))
    order.discount_tax = sum((li.subtotal_tax - li.total_tax for li in lines), Decimal(0))
    order.cart_tax = sum((li.total_tax for li in lines), Decimal(0))
    order.total_tax = order.cart_tax + order.shipping_tax
    fees = sum((f["total"] for f in order.fee_lines), Decimal(0))
    order.total = round2(sum((li.total for li in lines), Decimal(0)) + order.shipping_total + fees + order.total_tax)
    for tax_line in order.tax_lines:
        tax_line["tax_total"] = sum((round2(dec(t["total"])) for li in lines for t in li.taxes
                                     if t["id"] == tax_line["rate_id"]), Decimal(0))


__all__ = ["refund", "edit_lines"]
