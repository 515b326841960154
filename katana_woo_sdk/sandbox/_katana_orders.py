"""Sales orders in the Katana emulator: create, PATCH, rows, delete, shipping fees, addresses.

Mixed into `_katana_data.KatanaData` (which holds the state and the lookups used here) and called
under the emulator's lock. The commitment is never stored: `KatanaData.committed()` derives it
from the NOT_SHIPPED orders' rows, so moving a row, changing a status or deleting an order moves
it with no bookkeeping. Crossing into PACKED/DELIVERED takes the rows' quantities out of
`quantity_in_stock` at each row's location (and crossing back puts them back).

Choices where Katana's behaviour is unknown (the harder case for a client each time):
- `PATCH {location_id}` does not cascade to the rows;
- duplicate `order_no` -> 422 `unique`, soft-deleted orders included (`unique_order_no`);
- PENDING (a quote) commits nothing;
- a PATCH without `additional_info` clears it (`patch_wipes_additional_info`), as Katana does on
  the resources where that was checked live;
- a location with `sales_allowed: false` is refused for orders and rows;
- a second shipping fee for one order is refused (422 `unique`).

`updated_at` moves on every change of an order: a PATCH, a row PATCH, a shipping fee or address
added, packing/delivering, deletion. It never stands still on a change, even within one
millisecond (Katana's resolution), so an `updated_at_min` cursor sees every change.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ._katana_shared import KatanaShared
from ._katana_model import (EDITABLE, OPEN, SHIPPED, SalesOrder, SalesOrderRow, StockCell, check_dto, dec, detail,
                            invalid, iso, not_found, num, q10)


class SalesOrderRules(KatanaShared):
    """The sales-order half of `KatanaData` (see there for the state it uses)."""

    def _touch(self, so: SalesOrder) -> datetime:
        """Stamp a change: now, or 1 ms after the previous stamp if the clock has not moved on."""
        now, previous = self.now(), so.updated_at or so.created_at
        so.updated_at = max(now, previous + timedelta(milliseconds=1))
        self._order_changed(so.id)          # its commitment is counted again on the next read
        return so.updated_at

    def row_api(self, row: SalesOrderRow, so: SalesOrder, committed: dict[tuple[int, int], Decimal]) -> dict[str, Any]:
        rate = self.tax_rates.get(row.tax_rate_id) if row.tax_rate_id else None
        return {"id": row.id, "sales_order_id": row.sales_order_id, "quantity": num(row.quantity),
                "variant_id": row.variant_id, "tax_rate_id": row.tax_rate_id,
                "tax_rate": num(rate["_rate"]) if rate else None, "location_id": row.location_id,
                "product_availability": self._availability(row, so, committed), "product_expected_date": None,
                "price_per_unit": q10(row.price_per_unit), "price_per_unit_in_base_currency": num(row.price_per_unit),
                "total": num(row.total), "total_in_base_currency": num(row.total),
                "total_discount": None if row.total_discount is None else f"{row.total_discount:.2f}",
                "cogs_value": None, "attributes": list(row.attributes), "batch_transactions": [],
                "serial_numbers": [], "linked_manufacturing_order_id": row.linked_manufacturing_order_id,
                "conversion_rate": num(so.conversion_rate), "conversion_date": iso(so.conversion_date),
                "custom_fields": row.custom_fields, "created_at": iso(row.created_at),
                "updated_at": iso(row.updated_at or row.created_at), "deleted_at": iso(so.deleted_at)}

    def _availability(self, row: SalesOrderRow, so: SalesOrder, committed: dict[tuple[int, int], Decimal]) -> str:
        if so.status in SHIPPED:
            return "PICKED" if so.status == "PACKED" else "NOT_APPLICABLE"
        cell = self.stock.get((row.variant_id, row.location_id)) or StockCell()
        need = committed.get((row.variant_id, row.location_id), Decimal(0))
        if so.status != OPEN:
            need += row.quantity
        return "IN_STOCK" if cell.in_stock >= need else ("EXPECTED" if cell.in_stock + cell.expected >= need
                                                         else "NOT_AVAILABLE")

    def sales_order_api(self, so: SalesOrder, committed: dict[tuple[int, int], Decimal] | None = None) -> dict[str, Any]:
        if committed is None:
            committed = self.committed({(r.variant_id, r.location_id) for r in so.rows})
        rows = [self.row_api(r, so, committed) for r in so.rows]
        order_availability = "IN_STOCK"
        for rank in ("NOT_AVAILABLE", "EXPECTED", "PICKED", "NOT_APPLICABLE"):
            if any(r["product_availability"] == rank for r in rows):
                order_availability = rank
                break
        total = sum((r.total for r in so.rows), Decimal(0))
        billing = next((a["id"] for a in so.addresses if a["entity_type"] == "billing"), None)
        shipping = next((a["id"] for a in so.addresses if a["entity_type"] == "shipping"), None)
        return {"id": so.id, "customer_id": so.customer_id, "order_no": so.order_no, "source": so.source,
                "order_created_date": iso(so.order_created_date), "delivery_date": iso(so.delivery_date),
                "picked_date": iso(so.picked_date), "location_id": so.location_id, "status": so.status,
                "currency": so.currency, "conversion_rate": num(so.conversion_rate),
                "conversion_date": iso(so.conversion_date), "invoicing_status": "notInvoiced",
                "total": num(total), "total_in_base_currency": num(total),
                "additional_info": so.extra.get("additional_info"), "customer_ref": so.extra.get("customer_ref"),
                "sales_order_rows": rows,
                "ecommerce_order_type": so.extra.get("ecommerce_order_type"),
                "ecommerce_store_name": so.extra.get("ecommerce_store_name"),
                "ecommerce_order_id": so.extra.get("ecommerce_order_id"),
                "product_availability": order_availability, "product_expected_date": None,
                "ingredient_availability": "NOT_APPLICABLE", "ingredient_expected_date": None,
                "production_status": "NOT_APPLICABLE", "tracking_number": so.extra.get("tracking_number"),
                "tracking_number_url": so.extra.get("tracking_number_url"), "billing_address_id": billing,
                "shipping_address_id": shipping, "linked_manufacturing_order_id": None,
                "shipping_fee": dict(so.shipping_fee) if so.shipping_fee else None,
                "addresses": [dict(a, deleted_at=iso(so.deleted_at)) for a in so.addresses],
                "custom_fields": so.extra.get("custom_fields"), "created_at": iso(so.created_at),
                "updated_at": iso(so.updated_at or so.created_at), "deleted_at": iso(so.deleted_at)}

    def create_sales_order(self, body: Any) -> SalesOrder:
        check_dto("CreateSalesOrderDto", body)
        details: list[Any] = []
        customer = self.customers.get(body["customer_id"])
        if customer is None or customer.get("deleted_at"):
            details.append(detail(".customer_id", "notFound", f"customer {body['customer_id']} does not exist",
                                  value=body["customer_id"]))
        location_id = body.get("location_id", self.factory["default_sales_location_id"])
        self._check_location(location_id, ".location_id", details, for_sales=True)
        for i, row in enumerate(body["sales_order_rows"]):
            self._check_variant(row["variant_id"], f".sales_order_rows[{i}].variant_id", details)
            if "location_id" in row:
                self._check_location(row["location_id"], f".sales_order_rows[{i}].location_id", details,
                                     for_sales=True)
            self._check_tax_rate(row.get("tax_rate_id"), f".sales_order_rows[{i}].tax_rate_id", details)
        if "order_no" in body:
            self._check_order_no(body["order_no"], details)
        created = self._date(body, "order_created_date", details)
        delivery = self._date(body, "delivery_date", details)
        if details:
            raise invalid(details)
        assert customer is not None  # a missing customer was reported above
        now = self.now()
        so_id = self.new_id("sales_order")
        order_no = body.get("order_no") or self._next_order_no()
        created = created or now
        rows = []
        for row in body["sales_order_rows"]:
            variant = self.variants[int(row["variant_id"])]
            price = row.get("price_per_unit", variant.sales_price if variant.sales_price is not None else 0)
            rows.append(SalesOrderRow(
                self.new_id("sales_order_row"), so_id, variant.id, dec(row["quantity"]), dec(price),
                int(row.get("location_id", location_id)), now, tax_rate_id=row.get("tax_rate_id"),
                total_discount=dec(row["total_discount"]) if "total_discount" in row else None,
                attributes=list(row.get("attributes") or []), custom_fields=row.get("custom_fields")))
        addresses = [{"id": self.new_id("so_address"), "sales_order_id": so_id, "entity_type": a["entity_type"],
                      **{k: a.get(k) for k in ("first_name", "last_name", "company", "phone", "line_1", "line_2",
                                               "city", "state", "zip", "country")},
                      "created_at": iso(now), "updated_at": iso(now)} for a in body.get("addresses") or []]
        extra = {k: body.get(k) for k in ("customer_ref", "additional_info", "tracking_number", "tracking_number_url",
                                          "ecommerce_order_type", "ecommerce_store_name", "ecommerce_order_id",
                                          "custom_fields")}
        so = SalesOrder(so_id, order_no, int(body["customer_id"]), int(location_id), body.get("status", OPEN),
                        body.get("currency") or customer.get("currency") or self.factory["base_currency_code"],
                        created, delivery or created + timedelta(days=14), now, rows, addresses, extra)
        self._set_order_no(so, order_no)
        self.sales_orders[so.id] = so
        for row in rows:
            self._row_order[row.id] = so.id
        return so

    def _next_order_no(self) -> str:
        n = len(self.sales_orders) + 1
        while f"SO-{n}" in self._order_nos:
            n += 1
        return f"SO-{n}"

    def live_sales_order(self, so_id: int) -> SalesOrder:
        so = self.sales_orders.get(so_id)
        if so is None or so.deleted_at is not None:
            raise not_found()
        return so

    def _set_status(self, so: SalesOrder, status: str) -> None:
        """Shipping goes through fulfilments (`_katana_lifecycle`): PACKED/DELIVERED fulfils what is
        left, which moves its stock out of in_stock; back to NOT_SHIPPED/PENDING undoes them."""
        if status in SHIPPED:
            self.fulfil_rest(so, status)
            return
        if so.status not in EDITABLE:
            self.unfulfil(so)
        so.status = status

    def update_sales_order(self, so_id: int, body: Any) -> SalesOrder:
        so = self.live_sales_order(so_id)
        check_dto("UpdateSalesOrderDto", body)
        details: list[Any] = []
        if so.status not in EDITABLE:
            for name in ("location_id", "order_no", "customer_id", "currency", "picked_date", "delivery_date"):
                if name in body:
                    details.append(detail(f".{name}", "status", f"{name} is updatable only while the sales order "
                                          f"status is NOT_SHIPPED or PENDING, not {so.status}", status=so.status))
        if so.status not in SHIPPED and body.get("status") not in SHIPPED:
            for name in ("conversion_rate", "conversion_date"):
                if name in body:
                    details.append(detail(f".{name}", "status", f"{name} is updatable only while the sales order "
                                          "status is PACKED or DELIVERED", status=so.status))
        if "location_id" in body:
            self._check_location(body["location_id"], ".location_id", details, for_sales=True)
        if "customer_id" in body and (body["customer_id"] not in self.customers
                                      or self.customers[body["customer_id"]].get("deleted_at")):
            details.append(detail(".customer_id", "notFound", "customer does not exist", value=body["customer_id"]))
        if "order_no" in body:
            self._check_order_no(body["order_no"], details, exclude=so.id)
        dates = {name: self._date(body, name, details) for name in
                 ("order_created_date", "delivery_date", "picked_date", "conversion_date") if name in body}
        if details:
            raise invalid(details)
        # Deliberately NOT cascading location_id to the rows: whether Katana does is unknown, and
        # a client that assumes it does would leave stock committed at the old location.
        for name in ("location_id", "order_no", "customer_id", "currency", "customer_ref", "tracking_number",
                     "tracking_number_url", "custom_fields"):
            if name in body:
                if name in ("location_id", "customer_id"):
                    setattr(so, name, int(body[name]))
                elif name == "order_no":
                    self._set_order_no(so, body[name])
                elif hasattr(so, name):
                    setattr(so, name, body[name])
                else:
                    so.extra[name] = body[name]
        if "additional_info" in body or self.patch_wipes_additional_info:
            so.extra["additional_info"] = body.get("additional_info")
        for name, value in dates.items():
            setattr(so, name, value)
        if "conversion_rate" in body:
            so.conversion_rate = dec(body["conversion_rate"])
        if "status" in body:
            self._set_status(so, body["status"])
        self._touch(so)
        return so

    def delete_sales_order(self, so_id: int) -> SalesOrder:
        so = self.live_sales_order(so_id)
        so.deleted_at = self._touch(so)   # commitment disappears with it (computed)
        return so

    def row_order(self, row_id: int) -> int | None:
        """The id of the order holding row `row_id` (deleted orders too), from the row index."""
        return self._row_order.get(row_id)

    def find_row(self, row_id: int) -> tuple[SalesOrder, SalesOrderRow]:
        so = self.sales_orders.get(self._row_order.get(row_id, -1))
        if so is None or so.deleted_at is not None:
            raise not_found()
        return so, next(row for row in so.rows if row.id == row_id)

    def update_sales_order_row(self, row_id: int, body: Any) -> tuple[SalesOrder, SalesOrderRow]:
        so, row = self.find_row(row_id)
        check_dto("UpdateSalesOrderRowDto", body)
        details: list[Any] = []
        editable_fields = ("location_id", "variant_id", "quantity", "price_per_unit", "tax_rate_id", "total_discount")
        if so.status not in EDITABLE:
            details += [detail(f".{n}", "status", f"{n} is updatable only while the row is NOT_SHIPPED or PENDING",
                               status=so.status) for n in editable_fields if n in body]
        if "location_id" in body:
            if row.linked_manufacturing_order_id is not None:
                details.append(detail(".location_id", "linkedManufacturingOrder",
                                      "location_id is not updatable on a row linked to a manufacturing order",
                                      linked_manufacturing_order_id=row.linked_manufacturing_order_id))
            self._check_location(body["location_id"], ".location_id", details, for_sales=True)
        if "variant_id" in body:
            self._check_variant(body["variant_id"], ".variant_id", details)
        self._check_tax_rate(body.get("tax_rate_id"), ".tax_rate_id", details)
        if details:
            raise invalid(details)
        for name in ("location_id", "variant_id", "tax_rate_id"):
            if name in body:
                setattr(row, name, int(body[name]))
        for name in ("quantity", "price_per_unit", "total_discount"):
            if name in body:
                setattr(row, name, dec(body[name]))
        if "attributes" in body:
            row.attributes = list(body["attributes"])   # replaced wholesale, as documented
        if "custom_fields" in body:
            row.custom_fields = body["custom_fields"]
        row.updated_at = self._touch(so)
        return so, row

    def add_shipping_fee(self, body: Any) -> dict[str, Any]:
        check_dto("AddShippingFeeDto", body)
        details: list[Any] = []
        so = self.sales_orders.get(int(body["sales_order_id"])) if float(body["sales_order_id"]).is_integer() else None
        if so is None or so.deleted_at is not None:
            details.append(detail(".sales_order_id", "notFound", "sales order does not exist",
                                  value=body["sales_order_id"]))
        elif so.shipping_fee is not None:
            # One fee per order (the SO object has a single `shipping_fee`); a second POST is refused
            # rather than silently doubling the charge after a retried request.
            details.append(detail(".sales_order_id", "unique", "the sales order already has a shipping fee",
                                  value=body["sales_order_id"]))
        try:
            amount = dec(body["amount"])
        except ValueError:
            details.append(detail(".amount", "format", "should be a decimal number string"))
        self._check_tax_rate(body.get("tax_rate_id"), ".tax_rate_id", details)
        if details:
            raise invalid(details)
        assert so is not None  # a missing order was reported above
        fee: dict[str, Any] = {"id": self.new_id("shipping_fee"), "sales_order_id": so.id, "amount": q10(amount),
                               "description": body.get("description")}
        if body.get("tax_rate_id") is not None:
            fee["tax_rate_id"] = int(body["tax_rate_id"])
        so.shipping_fee = fee
        self._touch(so)
        return fee

    def add_sales_order_address(self, body: Any) -> dict[str, Any]:
        check_dto("CreateSalesOrderAddressDto", body)
        so = self.sales_orders.get(body["sales_order_id"])
        if so is None or so.deleted_at is not None:
            raise invalid([detail(".sales_order_id", "notFound", "sales order does not exist",
                                  value=body["sales_order_id"])])
        now = iso(self.now())
        address = {"id": self.new_id("so_address"), "sales_order_id": so.id, "entity_type": body["entity_type"],
                   **{k: body.get(k) for k in ("first_name", "last_name", "company", "phone", "line_1", "line_2",
                                               "city", "state", "zip", "country")},
                   "created_at": now, "updated_at": now}
        so.addresses.append(address)
        self._touch(so)
        return address
