"""Orders of the WooCommerce emulator: creation, totals, status transitions, stock and notes.

Used by `_woo_rest` (POST/PUT /orders, notes) and `woo_emulator` (`place_order`, `set_order_status`).
Behaviour as recorded from WooCommerce 10.0.2 (cassettes `orders`, `stock_after_orders`):
* an order is born `pending`; asking for another status is a transition from "Pending payment",
  which writes "Order status changed from Pending payment to Processing." as a system note;
* entering processing, on-hold or completed reduces stock once (`_order_stock_reduced`): every line
  whose product (or parent, for parent-managed variations) manages stock gets `_reduced_stock` meta
  and one note lists "Name (SKU) old&rarr;new"; it is written before the status note;
* entering cancelled or pending after a reduction puts the stock back (the meta is removed) with a
  "Stock levels increased: ..." note; an order created as cancelled or pending changes nothing;
* `date_paid` is set on entering processing or completed, `date_completed` on entering completed,
  `date_modified` on every change; entering refunded records a full refund ("Order fully refunded.")
  whose id comes from the shared post sequence;
* `total_sales` of the ordered product (the parent for variations) grows with processing/on-hold/
  completed and shrinks again when such an order is cancelled;
* a checkout's taxes (`tax_rates`, or the one-rate `tax_percent`) follow `_woo_taxes`: per rate and
  per item, unrounded amounts in `taxes[]`, cent-rounded sums everywhere else, one tax line per rate.
"""
from __future__ import annotations

import random
import string
from datetime import datetime
from decimal import Decimal
from typing import Any

from ._woo_catalog import Catalog
from ._woo_model import (BILLING_KEYS, PAID_STATUSES, REDUCE_ON, RESTORE_ON, SHIPPING_KEYS, STATUS_LABELS,
                         LineItem, Note, Order, Product, StoreContext, dec, order_changed, order_changes, round2)
from ._woo_taxes import TaxRate, calc_tax, parse_tax_rates, round_tax


class _OrderTable(dict[int, Order]):
    """Orders by id; adding or removing one is a change the walk index counts (`order_changed`)."""

    def __setitem__(self, key: int, value: Order) -> None:
        order_changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: int) -> None:
        order_changed()
        super().__delitem__(key)

    def pop(self, key: int, *default: Any) -> Any:
        order_changed()
        return super().pop(key, *default)


class OrderBook:
    def __init__(self, ctx: StoreContext, catalog: Catalog):
        self.ctx = ctx
        self.catalog = catalog
        self.orders: dict[int, Order] = _OrderTable()
        self._walk_index: tuple[int, dict[str, list[tuple[datetime, int]]]] | None = None
        self.customers: set[int] = set()
        self._random = random.SystemRandom()   # order keys are random on a real store too

    def get(self, order_id: Any) -> Order | None:
        try:
            return self.orders.get(int(order_id))
        except (TypeError, ValueError):
            return None

    def walk_index(self) -> dict[str, list[tuple[datetime, int]]]:
        """Status -> its orders' (modified, id), ascending: the index of HPOS's `date_updated_gmt`
        column that `GET /orders?orderby=modified&modified_after=` pages through. Built again only
        after an order changed (a walk of 100,000 orders reads 1,000 pages of one index; filtering
        and sorting every order for each page made the walk quadratic). Naive UTC: dates are stored
        in UTC to the second, as the filters compare them."""
        stamp = order_changes()
        if self._walk_index is None or self._walk_index[0] != stamp:
            index: dict[str, list[tuple[datetime, int]]] = {}
            for order in self.orders.values():
                index.setdefault(order.status, []).append((order.modified.replace(tzinfo=None), order.id))
            for keys in index.values():
                keys.sort()
            self._walk_index = (stamp, index)
        return self._walk_index[1]

    # --- creation ------------------------------------------------------------------------------

    def create(self, lines: list[dict[str, Any]], *, status: str = "pending", billing: dict[str, Any] | None = None,
               shipping: dict[str, Any] | None = None, customer_id: int = 0, prices_include_tax: bool = False,
               tax_percent: Any = None, tax_rates: list[Any] | None = None, coupon_amount: Any = None,
               coupon_code: str = "sandbox",
               shipping_total: Any = None, shipping_lines: list[dict[str, Any]] | None = None,
               fee_lines: list[dict[str, Any]] | None = None, currency: str = "USD", created_at: datetime | None = None,
               created_via: str = "rest-api", payment_method: str = "", payment_method_title: str = "",
               transaction_id: str = "", customer_note: str = "", meta_data: list[Any] | None = None,
               set_paid: bool = False) -> Order:
        """`lines`: {"product": Product|None, "quantity": int, optional "name"/"subtotal"/"total"}."""
        at = created_at or self.ctx.now()
        order = Order(id=self.ctx.next_id(), order_key=self._order_key(), created=at, modified=at,
                      currency=currency, prices_include_tax=prices_include_tax, customer_id=int(customer_id or 0),
                      billing=_address(billing, BILLING_KEYS), shipping=_address(shipping, SHIPPING_KEYS),
                      payment_method=payment_method, payment_method_title=payment_method_title,
                      transaction_id=transaction_id, customer_note=customer_note, created_via=created_via)
        if order.customer_id:
            self.customers.add(order.customer_id)
        for row in meta_data or []:
            if isinstance(row, dict) and "key" in row:
                order.meta_data.append({"id": self.ctx.next_meta_id(), "key": str(row["key"]),
                                        "value": row.get("value")})
        order.line_items = [self._line(row) for row in lines]
        for row in shipping_lines or []:
            order.shipping_lines.append({"id": self.ctx.next_item_id(), "method_title": str(row.get("method_title", "")),
                                         "method_id": str(row.get("method_id", "")),
                                         "instance_id": str(row.get("instance_id", "")),
                                         "total": dec(row.get("total")), "total_tax": Decimal(0), "taxes": []})
        if shipping_total is not None:
            order.shipping_lines.append({"id": self.ctx.next_item_id(), "method_title": "Flat rate",
                                         "method_id": "flat_rate", "instance_id": "1", "total": dec(shipping_total),
                                         "total_tax": Decimal(0), "taxes": []})
        for row in fee_lines or []:
            order.fee_lines.append({"id": self.ctx.next_item_id(), "name": str(row.get("name", "")),
                                    "tax_class": str(row.get("tax_class", "")),
                                    "tax_status": str(row.get("tax_status", "taxable")),
                                    "total": dec(row.get("total")), "total_tax": Decimal(0), "taxes": []})
        self._compute_totals(order, parse_tax_rates(tax_rates, tax_percent),
                             dec(coupon_amount) if coupon_amount not in (None, "") else None, coupon_code)
        self.orders[order.id] = order
        if status != "pending":
            self.transition(order, status, at=at)
        if set_paid:
            self.payment_complete(order, at=at)
        return order

    def _order_key(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "wc_order_" + "".join(self._random.choice(alphabet) for _ in range(13))

    def _line(self, row: dict[str, Any]) -> LineItem:
        product: Product | None = row.get("product")
        quantity = int(row.get("quantity") or 1)
        meta: list[dict[str, Any]] = []
        if product is None:
            name, product_id, variation_id, unit = str(row.get("name") or ""), 0, 0, Decimal(0)
        elif product.type == "variation":
            product_id, variation_id = product.parent_id, product.id
            name, unit = self.catalog.display_name(product), dec(self.catalog.price(product))
            for attr_name, key, option in product.variation_attributes:
                meta.append({"id": self.ctx.next_meta_id(), "key": key, "value": option,
                             "display_key": attr_name, "display_value": option})
        else:
            product_id, variation_id = product.id, 0
            name, unit = product.name, dec(self.catalog.price(product))
        if row.get("name"):
            name = str(row["name"])
        subtotal = dec(row["subtotal"]) if row.get("subtotal") not in (None, "") else unit * quantity
        total = dec(row["total"]) if row.get("total") not in (None, "") else subtotal
        return LineItem(id=self.ctx.next_item_id(), name=name, product_id=product_id, variation_id=variation_id,
                        quantity=quantity, subtotal=subtotal, total=total, meta=meta)

    def _compute_totals(self, order: Order, rates: list[TaxRate], coupon: Decimal | None, coupon_code: str) -> None:
        """Taxes by `rates` (see `_woo_taxes`), one fixed-cart coupon spread over the lines in
        proportion to their value (the last line takes the rounding rest), shipping taxed by the
        rates that apply to shipping. total = lines + shipping + fees + all taxes, to the cent;
        discount = sum(subtotal - total)."""
        lines = order.line_items
        gross = [li.subtotal for li in lines]   # with prices_include_tax these include the tax
        discounts = [Decimal(0)] * len(lines)
        if coupon:
            base = sum(gross, Decimal(0))
            coupon = min(coupon, base)
            running = Decimal(0)
            for i, value in enumerate(gross):
                share = coupon - running if i == len(gross) - 1 else round2(coupon * value / base) if base else 0
                share = min(Decimal(share), value)
                discounts[i], running = share, running + share
        inclusive = order.prices_include_tax
        for li, value, discount in zip(lines, gross, discounts):
            after = value - discount if coupon else li.total
            li.subtotal, li.total = value, after
            if not rates:
                continue
            subtotal_taxes = calc_tax(value, rates, inclusive=inclusive)
            total_taxes = calc_tax(after, rates, inclusive=inclusive)
            if inclusive:   # WooCommerce takes the unrounded taxes out of the line amounts
                li.subtotal = value - sum(subtotal_taxes.values(), Decimal(0))
                li.total = after - sum(total_taxes.values(), Decimal(0))
            li.subtotal_tax = sum((round_tax(t) for t in subtotal_taxes.values()), Decimal(0))
            li.total_tax = sum((round_tax(t) for t in total_taxes.values()), Decimal(0))
            li.taxes = [{"id": r.id, "total": total_taxes[r.id], "subtotal": subtotal_taxes[r.id]} for r in rates]
        shipping_rates = [r for r in rates if r.shipping]
        for ship in order.shipping_lines:
            if shipping_rates and ship["total"]:
                taxes = calc_tax(ship["total"], shipping_rates, inclusive=False)   # shipping costs are ex tax
                ship["total_tax"] = sum((round_tax(t) for t in taxes.values()), Decimal(0))
                ship["taxes"] = [{"id": rate_id, "total": amount} for rate_id, amount in taxes.items()]
        order.discount_total = sum((li.subtotal - li.total for li in lines), Decimal(0))
        order.discount_tax = sum((li.subtotal_tax - li.total_tax for li in lines), Decimal(0))
        order.cart_tax = sum((li.total_tax for li in lines), Decimal(0))
        order.shipping_total = sum((s["total"] for s in order.shipping_lines), Decimal(0))
        order.shipping_tax = sum((s["total_tax"] for s in order.shipping_lines), Decimal(0))
        fees = sum((f["total"] for f in order.fee_lines), Decimal(0))
        order.total_tax = order.cart_tax + order.shipping_tax
        order.total = round2(sum((li.total for li in lines), Decimal(0)) + order.shipping_total + fees
                             + order.total_tax)
        order.tax_lines = []
        for rate in rates:   # WC_Abstract_Order::update_taxes(): each rate's rounded amounts, summed
            cart = sum((round_tax(t["total"]) for li in lines for t in li.taxes if t["id"] == rate.id), Decimal(0))
            ship_tax = sum((round_tax(t["total"]) for s in order.shipping_lines for t in s["taxes"]
                            if t["id"] == rate.id), Decimal(0))
            if cart or ship_tax:
                order.tax_lines.append({"id": self.ctx.next_item_id(), "rate_code": rate.rate_code, "rate_id": rate.id,
                                        "label": rate.display_label, "compound": rate.compound, "tax_total": cart,
                                        "shipping_tax_total": ship_tax, "rate_percent": float(rate.percent)})
        if coupon:
            order.coupon_lines = [{"id": self.ctx.next_item_id(), "code": coupon_code, "discount": order.discount_total,
                                   "discount_tax": order.discount_tax, "discount_type": "fixed_cart",
                                   "nominal_amount": float(coupon), "free_shipping": False}]

    # --- status --------------------------------------------------------------------------------

    def transition(self, order: Order, new: str, *, at: datetime | None = None) -> None:
        old = order.status
        if new == old:
            return
        at = at or self.ctx.now()
        if new == "trash":   # wp_trash_post: no status transition hooks, no note
            order.trashed_from, order.status, order.modified = old, "trash", at
            return
        order.status = new
        if new in PAID_STATUSES and order.paid is None:
            order.paid = at
        if new == "completed":
            order.completed = at
        if new in REDUCE_ON and not order.stock_reduced:
            self._reduce_stock(order, at)
        elif new in RESTORE_ON and order.stock_reduced:
            self._restore_stock(order, at)
        if new in REDUCE_ON and not order.recorded_sales:
            self._record_sales(order, +1)
        elif new == "cancelled" and order.recorded_sales:
            self._record_sales(order, -1)
        if new == "refunded":
            self._full_refund(order)
        self.add_note(order, f"Order status changed from {STATUS_LABELS.get(old, old)} to "
                             f"{STATUS_LABELS.get(new, new)}.", at=at)
        order.modified = at

    def payment_complete(self, order: Order, *, at: datetime | None = None) -> None:
        """set_paid: pending/on-hold/failed/cancelled orders become processing and are paid."""
        if order.status in ("pending", "on-hold", "failed", "cancelled", "checkout-draft"):
            at = at or self.ctx.now()
            order.paid = order.paid or at
            self.transition(order, "processing", at=at)

    def _stock_product(self, line: LineItem) -> Product | None:
        return self.catalog.get(line.variation_id or line.product_id) if (line.variation_id or line.product_id) else None

    def _reduce_stock(self, order: Order, at: datetime) -> None:
        changes = []
        for line in order.line_items:
            product = self._stock_product(line)
            owner = self.catalog.stock_owner(product) if product is not None else None
            if product is None or owner is None or any(m["key"] == "_reduced_stock" for m in line.meta):
                continue
            old = int(owner.stock_quantity or 0)
            self.catalog.set_quantity(owner, old - line.quantity, at)
            line.meta.append({"id": self.ctx.next_meta_id(), "key": "_reduced_stock", "value": str(line.quantity),
                              "display_key": "_reduced_stock", "display_value": str(line.quantity)})
            changes.append(f"{self.catalog.formatted_name(product)} {old}&rarr;{old - line.quantity}")
        if changes:
            self.add_note(order, "Stock levels reduced: " + ", ".join(changes), at=at)
        order.stock_reduced = True

    def _restore_stock(self, order: Order, at: datetime) -> None:
        changes = []
        for line in order.line_items:
            reduced = [m for m in line.meta if m["key"] == "_reduced_stock"]
            product = self._stock_product(line)
            owner = self.catalog.stock_owner(product) if product is not None else None
            if not reduced or product is None or owner is None:
                continue
            quantity = int(reduced[0]["value"])
            old = int(owner.stock_quantity or 0)
            self.catalog.set_quantity(owner, old + quantity, at)
            line.meta.remove(reduced[0])
            changes.append(f"{self.catalog.formatted_name(product)} {old}&rarr;{old + quantity}")
        if changes:
            self.add_note(order, "Stock levels increased: " + ", ".join(changes), at=at)
        order.stock_reduced = False

    def _record_sales(self, order: Order, sign: int) -> None:
        for line in order.line_items:
            product = self.catalog.get(line.product_id) if line.product_id else None
            if product is not None:
                product.total_sales = max(0, product.total_sales + sign * line.quantity)
        order.recorded_sales = sign > 0

    def _full_refund(self, order: Order) -> None:
        refunded = -sum((dec(r["total"]) for r in order.refunds), Decimal(0))
        remaining = order.total - refunded
        if remaining > 0:
            order.refunds.append({"id": self.ctx.next_id(), "reason": "Order fully refunded.", "total": -remaining})

    # --- notes and updates ---------------------------------------------------------------------

    def add_note(self, order: Order, text: str, *, customer_note: bool = False, at: datetime | None = None,
                 author: str = "WooCommerce") -> Note:
        note = Note(id=self.ctx.next_note_id(), note=text, created=at or self.ctx.now(),
                    customer_note=customer_note, author=author)
        order.notes.append(note)
        return note

    def update(self, order: Order, data: dict[str, Any]) -> None:
        """PUT /orders/{id}: addresses merge, scalars replace, a status change is a transition."""
        at = self.ctx.now()
        if isinstance(data.get("billing"), dict):
            order.billing.update({k: str(v) for k, v in data["billing"].items() if k in BILLING_KEYS and v is not None})
        if isinstance(data.get("shipping"), dict):
            order.shipping.update({k: str(v) for k, v in data["shipping"].items()
                                   if k in SHIPPING_KEYS and v is not None})
        for key in ("customer_note", "payment_method", "payment_method_title", "transaction_id"):
            if key in data and data[key] is not None:
                setattr(order, key, str(data[key]))
        if "customer_id" in data:
            order.customer_id = int(data["customer_id"] or 0)
        if isinstance(data.get("meta_data"), list):
            self.catalog._update_meta(order.meta_data, data["meta_data"])
        if data.get("status"):
            self.transition(order, str(data["status"]), at=at)
        if data.get("set_paid") in (True, "true", "1", 1):
            self.payment_complete(order, at=at)
        order.modified = at

    def delete(self, order: Order, *, force: bool) -> None:
        if force:
            self.orders.pop(order.id, None)
        else:
            self.transition(order, "trash")


def _address(given: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, str]:
    given = given or {}
    return {key: "" if given.get(key) is None else str(given.get(key)) for key in keys}
