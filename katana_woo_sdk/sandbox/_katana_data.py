"""The Katana emulator's state and its non-order rules, with no HTTP in sight.

Called by `_katana_http` (the API handlers) and `katana_emulator` (the admin helpers), always under
the emulator's one lock. Everything a client can observe derives from a small state: locations,
products/variants, per-(variant, location) stock cells, customers, tax rates, stock adjustments
and inventory movements (their rules live in `_katana_stock`) and sales orders (`_katana_orders`).
`quantity_committed` is derived from the open orders' rows: kept as a running total that every
change to an order updates (`_order_changed`, called by `_touch` and on insertion), so a read
costs the cells it shows, not the order history. `KATANA_WOO_SANDBOX_SELFCHECK=1` (the test suite
sets it) recomputes the total from every order on each read and fails loudly on a difference.

The lookups a client leans on are indexed the way Katana's database indexes them, so 10,000
variants seed and list in seconds: live variants by SKU, products by name, a product's variants,
sales order rows by id, order numbers, movements by variant. Records are only added or soft-deleted
through the methods here (and in the two mixins), which keep those indexes current.
"""
from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable

from ._katana_model import (Location, Product, SalesOrder, StockCell, Variant, check_dto, dec, detail,
                            iso, not_found, num, parse_date, q5, q10)
from ._katana_lifecycle import LifecycleRules, committing
from ._katana_orders import SalesOrderRules
from ._katana_stock import StockRules

# --- the store ------------------------------------------------------------------------------

class _OrderTable(dict[int, SalesOrder]):
    """Sales orders by id; an insertion (`create_sales_order`, a snapshot's seeding) is a change
    the running commitment counts."""

    def __init__(self, changed: Callable[[int], None]):
        super().__init__()
        self._changed = changed

    def __setitem__(self, key: int, value: SalesOrder) -> None:
        super().__setitem__(key, value)
        self._changed(key)


def _commitment(so: SalesOrder) -> dict[tuple[int, int], Decimal]:
    """What one order commits: its rows' quantities not yet packed or delivered, while it is open
    (or partly shipped) and not deleted (`_katana_lifecycle.committing`)."""
    return committing(so)


class KatanaData(SalesOrderRules, StockRules, LifecycleRules):
    """All emulated Katana state. Not thread-safe by itself: the emulator holds one RLock."""

    def __init__(self, *, now: Callable[[], datetime], base_currency_code: str = "USD",
                 unique_order_no: bool = True, unique_stock_adjustment_number: bool = False,
                 patch_wipes_additional_info: bool = True):
        self.now = now
        self.unique_order_no = unique_order_no
        self.unique_stock_adjustment_number = unique_stock_adjustment_number
        self.patch_wipes_additional_info = patch_wipes_additional_info
        self.factory: dict[str, Any] = {"base_currency_code": base_currency_code,
                                        "default_sales_location_id": None}
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.stock: dict[tuple[int, int], StockCell] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.tax_rates: dict[int, dict[str, Any]] = {}
        self.sales_orders: dict[int, SalesOrder] = _OrderTable(self._order_changed)
        # The running commitment: each order's contribution as last counted, their sum, and the
        # orders changed since (counted again on the next read).
        self._commitment_of: dict[int, dict[tuple[int, int], Decimal]] = {}
        self._commitment: dict[tuple[int, int], Decimal] = {}
        self._changed_orders: set[int] = set()
        self.order_changes = 0           # counts every change of an order (`_order_changed`)
        self.committed_elsewhere: dict[tuple[int, int], Decimal] = {}
        self._init_stock()
        # Indexes (see the module docstring). Keys: SKU of a LIVE variant (Katana keeps those unique);
        # product name; product id -> its variant ids; sales order row id -> order id; order_no -> how
        # many orders (soft-deleted ones included) carry it.
        self._variant_by_sku: dict[str, int] = {}
        self._product_by_name: dict[str, int] = {}
        self._variants_of: dict[int, list[int]] = {}
        self._row_order: dict[int, int] = {}
        self._order_nos: dict[str, int] = {}
        # Distinct id ranges per resource: a client that passes a variant id where a location id
        # belongs gets a 404/422 here instead of silently hitting another record.
        self._next = {"location": 101, "address": 501, "product": 20001, "variant": 30001, "customer": 40001,
                      "tax_rate": 301, "stock_adjustment": 60001, "stock_adjustment_row": 61001,
                      "sales_order": 70001, "sales_order_row": 80001, "so_address": 90001, "shipping_fee": 95001,
                      "inventory_movement": 110001, "fulfilment": 130001}

    def new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # --- lookups -----------------------------------------------------------------------------

    def live_locations(self) -> list[Location]:
        return [loc for loc in self.locations.values() if loc.deleted_at is None]

    def live_variants(self) -> list[Variant]:
        return [v for v in self.variants.values() if v.deleted_at is None]

    def variant_by_sku(self, sku: str) -> Variant | None:
        variant_id = self._variant_by_sku.get(sku)
        return self.variants[variant_id] if variant_id is not None else None

    def variants_of(self, product_id: int) -> list[Variant]:
        return [self.variants[v] for v in self._variants_of.get(product_id, ())]

    def cell(self, variant_id: int, location_id: int) -> StockCell:
        return self.stock.setdefault((variant_id, location_id), StockCell())

    def committed(self, keys: Iterable[tuple[int, int]] | None = None) -> dict[tuple[int, int], Decimal]:
        """(variant id, location id) -> quantity committed by open sales orders (and, from a
        snapshot, `committed_elsewhere`: what the real inventory had committed beyond the orders it
        copied, manufacturing orders or other channels, so a seeded cell reads as the real one did).
        `keys`: only those cells (one order's answer needs its rows' cells, not a copy of every
        cell: seeding 100,000 orders copied the whole table 100,000 times)."""
        for so_id in self._changed_orders:
            for key, qty in self._commitment_of.pop(so_id, {}).items():
                self._add_commitment(key, -qty)
            so = self.sales_orders.get(so_id)
            mine = _commitment(so) if so is not None else {}
            if mine:
                self._commitment_of[so_id] = mine
            for key, qty in mine.items():
                self._add_commitment(key, qty)
        self._changed_orders.clear()
        wanted = None if keys is None else set(keys)
        if wanted is not None:
            out = {}
            for key in wanted:
                if key in self.committed_elsewhere or key in self._commitment:
                    out[key] = self.committed_elsewhere.get(key, Decimal(0)) + self._commitment.get(key, Decimal(0))
        else:
            out = dict(self.committed_elsewhere)
            for key, qty in self._commitment.items():
                out[key] = out.get(key, Decimal(0)) + qty
        if os.environ.get("KATANA_WOO_SANDBOX_SELFCHECK") == "1":
            recount = dict(self.committed_elsewhere)
            for so in self.sales_orders.values():
                for key, qty in _commitment(so).items():
                    recount[key] = recount.get(key, Decimal(0)) + qty
            if wanted is not None:
                recount = {k: v for k, v in recount.items() if k in wanted}
            if {k: v for k, v in recount.items() if v} != {k: v for k, v in out.items() if v}:
                raise AssertionError("the emulator's running commitment drifted from its orders: an order "
                                     "changed without _touch()")
        return out

    def _order_changed(self, so_id: int) -> None:
        self._changed_orders.add(so_id)
        self.order_changes += 1          # what a listing found before is stale (`KatanaApi._matching`)

    def _add_commitment(self, key: tuple[int, int], qty: Decimal) -> None:
        total = self._commitment.get(key, Decimal(0)) + qty
        if total:
            self._commitment[key] = total
        else:
            self._commitment.pop(key, None)

    # --- serialisers -------------------------------------------------------------------------

    def inventory_row(self, variant: Variant, location: Location, committed: Decimal,
                      extend: Iterable[str] = ()) -> dict[str, Any]:
        cell = self.stock.get((variant.id, location.id)) or StockCell()
        value = max(cell.in_stock, Decimal(0)) * cell.average_cost
        row: dict[str, Any] = {
            "variant_id": variant.id, "location_id": location.id,
            "safety_stock_level": q5(cell.safety_stock), "reorder_point": q5(cell.safety_stock),
            "average_cost": q10(cell.average_cost), "value_in_stock": q10(value),
            "quantity_in_stock": q5(cell.in_stock), "quantity_committed": q5(committed),
            "quantity_expected": q5(cell.expected),
            "quantity_missing_or_excess": q5(cell.in_stock - committed + cell.expected - cell.safety_stock),
            "quantity_potential": q5(Decimal(0)), "archived_at": None,
        }
        if "variant" in extend:
            row["variant"] = variant.to_api()
        if "location" in extend:
            row["location"] = location.to_api()
        return row

    def product_api(self, product: Product) -> dict[str, Any]:
        variants = [v for v in self.variants_of(product.id) if v.deleted_at is None]
        configs: dict[str, list[str]] = {}
        for v in variants:
            for k, val in v.config.items():
                configs.setdefault(k, [])
                if val not in configs[k]:
                    configs[k].append(val)
        return {"id": product.id, "name": product.name, "uom": "pcs", "category_name": product.category_name,
                "is_sellable": True, "is_producible": True, "is_purchasable": True, "is_auto_assembly": False,
                "batch_tracked": False, "serial_tracked": False, "operations_in_sequence": False,
                "type": "product", "purchase_uom": None, "purchase_uom_conversion_rate": None,
                "default_supplier_id": None, "custom_field_collection_id": None,
                "configs": [{"id": product.id * 10 + i, "name": k, "values": vals, "product_id": product.id}
                            for i, (k, vals) in enumerate(configs.items())],
                "variants": [v.to_api() for v in variants],
                "created_at": iso(product.created_at), "updated_at": iso(product.created_at), "archived_at": None,
                "deleted_at": None}

    @staticmethod
    def tax_rate_api(rate: dict[str, Any]) -> dict[str, Any]:
        return {k: (num(v) if k == "rate" else v) for k, v in rate.items() if not k.startswith("_")}

    # --- admin-level writes (no DTO: the Katana UI does these) --------------------------------

    def add_location(self, name: str, *, sales_allowed: bool = True, is_primary: bool = False,
                     address: dict[str, Any] | None = None, legal_name: str | None = None,
                     unique_name: bool = True) -> Location:
        # Whether Katana ever holds two live locations of one name is unknown; `unique_name=False`
        # lets a test create them to check that a mapping by that name is refused as ambiguous.
        if unique_name and any(loc.name == name for loc in self.live_locations()):
            raise ValueError(f"a location named {name!r} exists")
        if address is not None:
            address = {"id": self.new_id("address"), "line_1": "", "line_2": "", "city": "", "state": "",
                       "zip": "", "country": "", **address}
        loc = Location(self.new_id("location"), name, self.now(), is_primary=is_primary,
                       sales_allowed=sales_allowed, legal_name=legal_name, address=address)
        self.locations[loc.id] = loc
        if self.factory["default_sales_location_id"] is None and sales_allowed:
            self.factory["default_sales_location_id"] = loc.id
        return loc

    def add_variant(self, sku: str | None, *, name: str | None = None, product_name: str | None = None,
                    sales_price: Any = None, config: dict[str, str] | None = None) -> Variant:
        if sku is not None and self.variant_by_sku(sku) is not None:
            raise ValueError(f"a variant with SKU {sku!r} exists")   # Katana keeps SKUs unique
        product_name = product_name or name or sku or "Unnamed product"
        product_id = self._product_by_name.get(product_name)
        if product_id is None:
            product = Product(self.new_id("product"), product_name, self.now())
            self.products[product.id] = product
            self._product_by_name[product_name] = product_id = product.id
        variant = Variant(self.new_id("variant"), sku, product_id, self.now(),
                          sales_price=None if sales_price is None else dec(sales_price),
                          config=dict(config or {}), name=name)
        self.variants[variant.id] = variant
        self._variants_of.setdefault(product_id, []).append(variant.id)
        if sku is not None:
            self._variant_by_sku[sku] = variant.id
        return variant

    def delete_variant(self, variant: Variant) -> None:
        """Soft delete, as the UI does: gone from lists and SKU lookups, still found by id."""
        if variant.deleted_at is None:
            variant.deleted_at = self.now()
            if variant.sku is not None and self._variant_by_sku.get(variant.sku) == variant.id:
                del self._variant_by_sku[variant.sku]

    def delete_customer(self, customer_id: int) -> dict[str, Any]:
        """`DELETE /customers/{id}`: a soft delete (`deleted_at` set, listed with include_deleted).
        Assumed, as Katana documents no 412 for it: a customer with sales orders can be deleted too;
        the orders keep their customer_id, and new orders for the customer are refused."""
        customer = self.customers.get(customer_id)
        if customer is None or customer["deleted_at"] is not None:
            raise not_found()
        customer["deleted_at"] = customer["updated_at"] = iso(self.now())
        return customer

    # --- API writes --------------------------------------------------------------------------

    def _check_location(self, location_id: Any, path: str, details: list[Any], *, for_sales: bool) -> None:
        # dict lookup by value: 101 and 101.0 (an integer to Ajv) find the same location
        loc = self.locations.get(location_id) if isinstance(location_id, (int, float)) else None  # type: ignore[arg-type]  # a float finds its equal int key
        if loc is None:
            details.append(detail(path, "notFound", f"location {location_id} does not exist", value=location_id))
        elif loc.deleted_at is not None:
            details.append(detail(path, "deleted", f"location {location_id} is deleted", value=location_id))
        elif for_sales and not loc.sales_allowed:
            details.append(detail(path, "salesNotAllowed", f"location {location_id} does not allow sales",
                                  value=location_id))

    def _check_variant(self, variant_id: Any, path: str, details: list[Any]) -> None:
        v = self.variants.get(int(variant_id))
        if v is None or v.deleted_at is not None:
            details.append(detail(path, "notFound", f"variant {variant_id} does not exist", value=variant_id))

    def _check_tax_rate(self, tax_rate_id: Any, path: str, details: list[Any]) -> None:
        if tax_rate_id is not None and int(tax_rate_id) not in self.tax_rates:
            details.append(detail(path, "notFound", f"tax rate {tax_rate_id} does not exist", value=tax_rate_id))

    def _check_order_no(self, order_no: str, details: list[Any], *, exclude: int | None = None) -> None:
        taken = self._order_nos.get(order_no, 0)
        if exclude is not None and self.sales_orders[exclude].order_no == order_no:
            taken -= 1   # the order's own number
        if self.unique_order_no and taken > 0:
            details.append(detail(".order_no", "unique", f"order_no {order_no!r} is already used",
                                  value=order_no))

    def _set_order_no(self, so: SalesOrder, order_no: str) -> None:
        """Every order_no change goes through here, so the uniqueness check stays an index lookup."""
        if so.id in self.sales_orders:
            self._order_nos[so.order_no] -= 1
            if not self._order_nos[so.order_no]:
                del self._order_nos[so.order_no]
        so.order_no = order_no
        self._order_nos[order_no] = self._order_nos.get(order_no, 0) + 1

    def _date(self, body: dict[str, Any], name: str, details: list[Any]) -> datetime | None:
        try:
            return parse_date(body.get(name))
        except ValueError:
            details.append(detail(f".{name}", "format", 'should match format "date-time"', format="date-time"))
            return None

    def create_customer(self, body: Any) -> dict[str, Any]:
        check_dto("CreateCustomerDto", body)
        now = iso(self.now())
        cid = self.new_id("customer")
        addresses = []
        for a in body.get("addresses") or []:
            addresses.append({"id": self.new_id("address"), "customer_id": cid, "entity_type": a["entity_type"],
                              "default": bool(a.get("default", False)),
                              **{k: a.get(k) for k in ("first_name", "last_name", "company", "phone", "line_1",
                                                       "line_2", "city", "state", "zip", "country")},
                              "created_at": now, "updated_at": now, "deleted_at": None})

        def default_of(kind: str) -> int | None:
            of_kind = [a for a in addresses if a["entity_type"] == kind]
            chosen = next((a for a in of_kind if a["default"]), of_kind[0] if of_kind else None)
            return chosen["id"] if chosen else None

        customer = {"id": cid, "name": body["name"],
                    **{k: body.get(k) for k in ("first_name", "last_name", "company", "email", "phone", "comment",
                                                "reference_id", "category", "discount_rate")},
                    "currency": body.get("currency") or self.factory["base_currency_code"],
                    "default_billing_id": default_of("billing"), "default_shipping_id": default_of("shipping"),
                    "addresses": addresses, "created_at": now, "updated_at": now, "deleted_at": None}
        self.customers[cid] = customer
        return customer

    def create_tax_rate(self, body: Any) -> dict[str, Any]:
        check_dto("CreateTaxRateDto", body)
        now = iso(self.now())
        rate = dec(body["rate"])
        name = body.get("name") or f"{num(rate)}%"
        record: dict[str, Any] = {"id": self.new_id("tax_rate"), "name": name, "rate": rate, "_rate": rate,
                                  "is_default_sales": False, "is_default_purchases": False, "display_name": name,
                                  "created_at": now, "updated_at": now}
        self.tax_rates[record["id"]] = record
        return record
