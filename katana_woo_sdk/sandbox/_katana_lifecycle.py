"""What happens to a sales order after it is created, in the Katana emulator: fulfilments (packing
and delivery, whole or partial), rows added to or removed from an open order, and products created
through the API (the way Katana's integration adds a product for an unknown SKU).

Mixed into `_katana_data.KatanaData` and called under the emulator's one lock, by `_katana_http`
(the API) and `katana_emulator` (admin helpers). From the fact sheet (katana-api.md) and the specs:
* `POST /sales_order_fulfillments {sales_order_id, status: PACKED|DELIVERED,
  sales_order_fulfillment_rows: [{sales_order_row_id, quantity}], tracking_*}` is how an order is
  marked shipped. Each fulfilled quantity leaves `quantity_in_stock` at its row's location (one
  `SalesOrderRow` movement per row, as a delivery PATCH makes) and stops being committed.
* The order's status follows its fulfilments (the `PARTIALLY_*` states are server-computed): every
  row covered -> PACKED, or DELIVERED once every covering fulfilment is delivered; some -> the
  PARTIALLY_ state. A PATCH of the order's status to PACKED/DELIVERED fulfils what is left in one
  go (what Katana's "mark as delivered" does); a PATCH back to NOT_SHIPPED removes the fulfilments.
  `PATCH /sales_order_fulfillments/{id}` moves PACKED -> DELIVERED (and tracking); DELETE puts the
  stock back.
* `POST /sales_order_rows` adds a row and `DELETE /sales_order_rows/{id}` removes one, both only
  while the order is NOT_SHIPPED or PENDING (the fact sheet: "add a row (only NOT_SHIPPED/PENDING)").
* `POST /products {name, uom?, variants: [{sku, sales_price?, ...}]}` creates a product and its
  variants; a SKU a live variant has already is refused (422 `unique`), as Katana keeps SKUs unique.

Choices where Katana's behaviour is unknown (the harder case for a client each time): a fulfilment
of more than a row has left to fulfil is 422; a quote (PENDING) cannot be fulfilled; a deleted
fulfilment is gone from the listing unless `include_deleted=true`. Every change stamps the order
through `_touch`, so its commitment is counted again and `updated_at` moves.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ._katana_shared import KatanaShared
from ._katana_model import (EDITABLE, Product, SalesOrder, SalesOrderRow, Variant, check_dto, dec, detail, invalid,
                            iso, not_found, num)

COMMITTING = frozenset({"NOT_SHIPPED", "PARTIALLY_PACKED", "PARTIALLY_DELIVERED"})   # what is left still commits
FULFILMENT_STATUSES = ("PACKED", "DELIVERED")


def fulfilled(so: SalesOrder, row_id: int) -> Decimal:
    """The quantity of a row that live fulfilments (packed or delivered) cover."""
    return sum((Decimal(r["quantity"]) for f in so.fulfilments if f["deleted_at"] is None
                for r in f["rows"] if r["sales_order_row_id"] == row_id), Decimal(0))


def committing(so: SalesOrder) -> dict[tuple[int, int], Decimal]:
    """(variant id, location id) -> what the order still commits: each row's quantity not yet
    packed or delivered, while the order is open or partly shipped and not deleted."""
    out: dict[tuple[int, int], Decimal] = {}
    if so.deleted_at is None and so.status in COMMITTING:
        for row in so.rows:
            left = row.quantity - fulfilled(so, row.id) if so.fulfilments else row.quantity
            if left > 0:
                key = (row.variant_id, row.location_id)
                out[key] = out.get(key, Decimal(0)) + left
    return out


class LifecycleRules(KatanaShared):
    """The fulfilment, row and product half of `KatanaData` (see there for the state it uses)."""

    # --- fulfilments ------------------------------------------------------------------------------

    def fulfilment_api(self, so: SalesOrder, f: dict[str, Any]) -> dict[str, Any]:
        return {"id": f["id"], "sales_order_id": so.id, "picked_date": iso(f["picked_date"]), "status": f["status"],
                "invoice_status": "NOT_INVOICED", "conversion_rate": num(so.conversion_rate),
                "conversion_date": iso(so.conversion_date), "tracking_number": f.get("tracking_number"),
                "tracking_url": f.get("tracking_url"), "tracking_carrier": f.get("tracking_carrier"),
                "tracking_method": f.get("tracking_method"), "packer_id": None,
                "sales_order_fulfillment_rows": [{"sales_order_row_id": r["sales_order_row_id"],
                                                  "quantity": num(Decimal(r["quantity"])), "batch_transactions": [],
                                                  "serial_numbers": []} for r in f["rows"]],
                "created_at": iso(f["created_at"]), "updated_at": iso(f["updated_at"]),
                "deleted_at": iso(f["deleted_at"])}

    def fulfilments(self, include_deleted: bool = False) -> list[tuple[SalesOrder, dict[str, Any]]]:
        """Every fulfilment with its order, oldest first."""
        out = [(so, f) for so in self.sales_orders.values() for f in so.fulfilments
               if include_deleted or (f["deleted_at"] is None and so.deleted_at is None)]
        return sorted(out, key=lambda pair: pair[1]["id"])

    def find_fulfilment(self, fulfilment_id: int) -> tuple[SalesOrder, dict[str, Any]]:
        for so, f in self.fulfilments():
            if f["id"] == fulfilment_id:
                return so, f
        raise not_found()

    def create_fulfilment(self, body: Any) -> tuple[SalesOrder, dict[str, Any]]:
        check_dto("CreateSalesOrderFulfillmentDto", body)
        details: list[Any] = []
        so = self.sales_orders.get(int(body["sales_order_id"]))
        if so is None or so.deleted_at is not None:
            raise invalid([detail(".sales_order_id", "notFound", "sales order does not exist",
                                  value=body["sales_order_id"])])
        if so.status == "PENDING":
            details.append(detail(".sales_order_id", "status", "a quote (PENDING) cannot be fulfilled",
                                  status=so.status))
        rows = {row.id: row for row in so.rows}
        wanted: dict[int, Decimal] = {}
        for i, item in enumerate(body["sales_order_fulfillment_rows"]):
            row = rows.get(int(item["sales_order_row_id"]))
            path = f".sales_order_fulfillment_rows[{i}]"
            if row is None:
                details.append(detail(f"{path}.sales_order_row_id", "notFound",
                                      "the row is not a row of this sales order", value=item["sales_order_row_id"]))
                continue
            quantity = dec(item["quantity"])
            wanted[row.id] = wanted.get(row.id, Decimal(0)) + quantity
            left = row.quantity - fulfilled(so, row.id)
            if quantity <= 0 or wanted[row.id] > left:
                details.append(detail(f"{path}.quantity", "maximum", f"the row has {num(left)} left to fulfil",
                                      limit=num(left)))
        picked = self._date(body, "picked_date", details)
        if details:
            raise invalid(details)
        now = self.now()
        f = {"id": self.new_id("fulfilment"), "status": body["status"], "picked_date": picked or now,
             "rows": [{"sales_order_row_id": row_id, "quantity": str(q)} for row_id, q in wanted.items()],
             "created_at": now, "updated_at": now, "deleted_at": None,
             **{k: body.get(k) for k in ("tracking_number", "tracking_url", "tracking_carrier", "tracking_method")}}
        self._ship(so, f, out=True)
        so.fulfilments.append(f)
        self._derive_status(so)
        f["updated_at"] = self._touch(so)
        return so, f

    def update_fulfilment(self, fulfilment_id: int, body: Any) -> tuple[SalesOrder, dict[str, Any]]:
        so, f = self.find_fulfilment(fulfilment_id)
        check_dto("UpdateSalesOrderFulfillmentDto", body)
        details: list[Any] = []
        picked = self._date(body, "picked_date", details) if "picked_date" in body else None
        if details:
            raise invalid(details)
        for key in ("status", "tracking_number", "tracking_url", "tracking_carrier", "tracking_method"):
            if key in body:
                f[key] = body[key]
        if picked is not None:
            f["picked_date"] = picked
        self._derive_status(so)
        f["updated_at"] = self._touch(so)
        return so, f

    def delete_fulfilment(self, fulfilment_id: int) -> None:
        so, f = self.find_fulfilment(fulfilment_id)
        self._ship(so, f, out=False)
        f["deleted_at"] = self.now()
        self._derive_status(so)
        f["updated_at"] = self._touch(so)

    def _ship(self, so: SalesOrder, f: dict[str, Any], *, out: bool) -> None:
        """A fulfilment's quantities leave in stock (or come back when it is deleted)."""
        sign = Decimal(-1) if out else Decimal(1)
        rows = {row.id: row for row in so.rows}
        for item in f["rows"]:
            row = rows[item["sales_order_row_id"]]
            self.move_stock(row.variant_id, row.location_id, sign * Decimal(item["quantity"]),
                            resource_type="SalesOrderRow", resource_id=row.id, order_no=so.order_no, caused_by=so.id)

    def _derive_status(self, so: SalesOrder) -> None:
        live = [f for f in so.fulfilments if f["deleted_at"] is None]
        if not live:
            if so.status not in EDITABLE:
                so.status = "NOT_SHIPPED"
            return
        covered = all(fulfilled(so, row.id) >= row.quantity for row in so.rows)
        delivered = any(f["status"] == "DELIVERED" for f in live)
        if covered:
            so.status = "DELIVERED" if all(f["status"] == "DELIVERED" for f in live) else "PACKED"
        else:
            so.status = "PARTIALLY_DELIVERED" if delivered else "PARTIALLY_PACKED"
        if so.picked_date is None:
            so.picked_date = self.now()
        if so.conversion_rate is None:
            so.conversion_rate, so.conversion_date = Decimal(1), self.now()

    def fulfil_rest(self, so: SalesOrder, status: str) -> None:
        """An order PATCHed to PACKED or DELIVERED: packed fulfilments become delivered (for
        DELIVERED), and what no fulfilment covers yet is fulfilled in one more."""
        if status == "DELIVERED":
            for f in so.fulfilments:
                if f["deleted_at"] is None and f["status"] == "PACKED":
                    f["status"], f["updated_at"] = "DELIVERED", self.now()
        left = [(row, row.quantity - fulfilled(so, row.id)) for row in so.rows]
        left = [(row, q) for row, q in left if q > 0]
        if left:
            now = self.now()
            f = {"id": self.new_id("fulfilment"), "status": status, "picked_date": now,
                 "rows": [{"sales_order_row_id": row.id, "quantity": str(q)} for row, q in left],
                 "created_at": now, "updated_at": now, "deleted_at": None}
            self._ship(so, f, out=True)
            so.fulfilments.append(f)
        self._derive_status(so)

    def unfulfil(self, so: SalesOrder) -> None:
        """An order PATCHed back to an open status: its fulfilments are undone (stock back)."""
        for f in so.fulfilments:
            if f["deleted_at"] is None:
                self._ship(so, f, out=False)
                f["deleted_at"] = f["updated_at"] = self.now()

    # --- rows of an open order --------------------------------------------------------------------

    def add_sales_order_row(self, body: Any) -> tuple[SalesOrder, SalesOrderRow]:
        check_dto("CreateSalesOrderRowWithSalesOrderIdDto", body)
        details: list[Any] = []
        so = self.sales_orders.get(int(body["sales_order_id"]))
        if so is None or so.deleted_at is not None:
            raise invalid([detail(".sales_order_id", "notFound", "sales order does not exist",
                                  value=body["sales_order_id"])])
        if so.status not in EDITABLE:
            details.append(detail(".sales_order_id", "status", "rows can be added only while the sales order is "
                                  f"NOT_SHIPPED or PENDING, not {so.status}", status=so.status))
        self._check_variant(body["variant_id"], ".variant_id", details)
        location_id = body.get("location_id", so.location_id)
        self._check_location(location_id, ".location_id", details, for_sales=True)
        self._check_tax_rate(body.get("tax_rate_id"), ".tax_rate_id", details)
        if details:
            raise invalid(details)
        variant = self.variants[int(body["variant_id"])]
        price = body.get("price_per_unit", variant.sales_price if variant.sales_price is not None else 0)
        now = self.now()
        row = SalesOrderRow(self.new_id("sales_order_row"), so.id, variant.id, dec(body["quantity"]), dec(price),
                            int(location_id), now, tax_rate_id=body.get("tax_rate_id"),
                            total_discount=dec(body["total_discount"]) if "total_discount" in body else None,
                            attributes=list(body.get("attributes") or []), custom_fields=body.get("custom_fields"))
        so.rows.append(row)
        self._row_order[row.id] = so.id
        row.updated_at = self._touch(so)
        return so, row

    def delete_sales_order_row(self, row_id: int) -> None:
        so, row = self.find_row(row_id)
        if so.status not in EDITABLE:
            raise invalid([detail(".id", "status", "rows can be removed only while the sales order is NOT_SHIPPED "
                                  f"or PENDING, not {so.status}", status=so.status)])
        so.rows.remove(row)
        self._row_order.pop(row.id, None)
        self._touch(so)

    # --- products -----------------------------------------------------------------------------------

    def create_product(self, body: Any) -> dict[str, Any]:
        check_dto("CreateProductDto", body)
        details: list[Any] = []
        skus = [v.get("sku") for v in body["variants"]]
        for i, sku in enumerate(skus):
            if sku is not None and (self.variant_by_sku(sku) is not None or skus.index(sku) < i):
                details.append(detail(f".variants[{i}].sku", "unique", f"SKU {sku!r} is already used", value=sku))
        if details:
            raise invalid(details)
        # A product of its own, even when another has the same name (Katana does not keep names unique).
        now = self.now()
        product = Product(self.new_id("product"), body["name"], now, category_name=body.get("category_name"))
        self.products[product.id] = product
        self._product_by_name.setdefault(product.name, product.id)
        for v in body["variants"]:
            price = v.get("sales_price")
            variant = Variant(self.new_id("variant"), v.get("sku"), product.id, now,
                              sales_price=None if price is None else dec(price),
                              config={a["config_name"]: a["config_value"] for a in v.get("config_attributes") or ()})
            self.variants[variant.id] = variant
            self._variants_of.setdefault(product.id, []).append(variant.id)
            if variant.sku is not None:
                self._variant_by_sku[variant.sku] = variant.id
        return self.product_api(product)


__all__ = ["LifecycleRules", "committing", "fulfilled", "COMMITTING", "FULFILMENT_STATUSES"]
