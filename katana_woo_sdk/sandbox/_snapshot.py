"""Seeding the sandbox from a snapshot of real accounts: the format's one definition, and its reader.

Called by `sandbox.start(snapshot=...)`, which `katana-woo rehearse` (`katana_woo_sdk.rehearsal`)
uses to apply a config to a copy of reality. The snapshot is written by `katana-woo snapshot`
(`katana_woo_sdk.snapshot`); this module reads it with nothing but `json`, since the sandbox imports
nothing of the SDK. Records keep their ids, so a plan made here names the same locations, variants,
products and orders as one made against the real accounts.

The format (plain JSON, ``"format": "katana-woo-snapshot"``, ``"version": 1``). Quantities and money
are strings or numbers as the APIs send them; times are ISO 8601 in UTC; unknown keys are ignored.

    katana.factory           {"base_currency_code", "default_sales_location_id"}
    katana.locations[]       {"id", "name", "is_primary", "sales_allowed", "purchase_allowed",
                              "manufacturing_allowed", "legal_name", "address", "created_at", "deleted_at"}
    katana.variants[]        {"id", "sku", "product_id", "type", "sales_price", "purchase_price",
                              "config_attributes": [{"config_name", "config_value"}], "created_at", "deleted_at"}
    katana.inventory[]       {"variant_id", "location_id", "quantity_in_stock", "quantity_committed",
                              "quantity_expected", "safety_stock_level", "average_cost"}
    katana.customers[]       {"id", "name", "email", "currency", "category", "created_at"}  (pseudonyms)
    katana.tax_rates[]       {"id", "rate", "name", "created_at"}
    katana.sales_orders[]    {"id", "order_no", "customer_id", "location_id", "status", "currency",
                              "order_created_date", "delivery_date", "created_at", "deleted_at", "source",
                              "ecommerce_order_type", "ecommerce_store_name", "ecommerce_order_id",
                              "shipping_fee": {...} | null,
                              "sales_order_rows": [{"id", "variant_id", "quantity", "price_per_unit",
                                                    "location_id", "tax_rate_id", "total_discount"}]}
    katana.stock_adjustments[] {"id", "stock_adjustment_number", "location_id", "stock_adjustment_date",
                              "reason", "created_at", "deleted_at",
                              "stock_adjustment_rows": [{"id", "variant_id", "quantity", "cost_per_unit"}]}
    stores[]                 {"name", "products": [...], "orders": [...]}: each product and order as the
                              store's REST API shows it (`GET /products`, `/products/{id}/variations`,
                              `/orders`), trimmed; a variation carries `parent_id`.

A cell's committed figure is the snapshot's `quantity_committed`: what the copied open orders commit
is computed as usual, and the rest (manufacturing orders, orders the snapshot did not copy) is kept
as `committed_elsewhere`. Seeding moves no stock and records no inventory movement.
"""
from __future__ import annotations

import itertools
import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from ._katana_model import OPEN, Location, Product, SalesOrder, SalesOrderRow, Variant
from ._woo_model import REDUCE_ON, LineItem, Order, as_utc, sanitize_title
from ._woo_model import Product as WooProduct

FORMAT, VERSION = "katana-woo-snapshot", 1
_KATANA_KINDS = {"locations": "location", "variants": "variant", "customers": "customer", "tax_rates": "tax_rate",
                 "sales_orders": "sales_order", "stock_adjustments": "stock_adjustment"}


def read(snapshot: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot as data: a path to its JSON file, or the data itself. Checks its format."""
    data = dict(snapshot) if isinstance(snapshot, Mapping) else json.loads(Path(snapshot).read_text("utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"not a katana-woo snapshot (format {data.get('format')!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"snapshot version {data.get('version')!r} is not supported (this sandbox reads {VERSION})")
    return data


def store_names(data: Mapping[str, Any]) -> list[str]:
    return [str(s["name"]) for s in data.get("stores") or ()]


def seed_katana(katana: Any, data: Mapping[str, Any]) -> None:
    """Fill a started, empty Katana emulator with the snapshot's Katana half, ids kept."""
    part = data.get("katana") or {}
    with katana._lock:
        seed = _KatanaSeed(katana.data)
        seed.factory(part.get("factory") or {})
        for loc in part.get("locations") or ():
            seed.location(loc)
        for variant in part.get("variants") or ():
            seed.variant(variant)
        for customer in part.get("customers") or ():
            seed.customer(customer)
        for rate in part.get("tax_rates") or ():
            seed.tax_rate(rate)
        for so in part.get("sales_orders") or ():
            seed.sales_order(so)
        for adjustment in part.get("stock_adjustments") or ():
            seed.stock_adjustment(adjustment)
        seed.inventory(part.get("inventory") or ())
        seed.next_ids(part)


def seed_store(store: Any, entry: Mapping[str, Any]) -> None:
    """Fill a started, empty store emulator with one snapshot store's catalogue and orders, ids kept."""
    ctx, catalog, book = store._ctx, store._catalog, store._book
    with ctx.lock:
        products = list(entry.get("products") or ())
        parents = {p["id"]: p for p in products if not p.get("parent_id")}
        for raw in sorted(products, key=lambda p: (bool(p.get("parent_id")), p["id"])):
            catalog._add(_woo_product(raw, parents.get(raw.get("parent_id"))))
        for raw in parents.values():         # a parent's variations in the order the store lists them
            product = catalog.get(raw["id"])
            product.children = [v for v in raw.get("variations") or () if catalog.get(v) is not None]
        for raw in products:
            parent = catalog.get(raw.get("parent_id")) if raw.get("parent_id") else None
            if parent is not None and raw["id"] not in parent.children:
                parent.children.append(raw["id"])
        for product in catalog.products.values():
            if product.type == "variation" and not product.slug:
                catalog._set_slug(product, sanitize_title(catalog.display_name(product)))
        for raw in entry.get("orders") or ():
            order = _woo_order(raw, ctx)
            book.orders[order.id] = order
            if order.customer_id:
                book.customers.add(order.customer_id)
        # The next id of the store's one sequence comes after every seeded product and order.
        highest = max([0, *catalog.products, *book.orders,
                       *(r["id"] for o in book.orders.values() for r in o.refunds)])
        ctx._ids = itertools.count(max(highest + 1, next(ctx._ids)))
        items = [li.id for o in book.orders.values() for li in o.line_items] + \
                [x["id"] for o in book.orders.values()
                 for x in (*o.shipping_lines, *o.fee_lines, *o.coupon_lines, *o.tax_lines)]
        ctx._item_ids = itertools.count(max(items, default=0) + 1)


# --- Katana ------------------------------------------------------------------------------------------

class _KatanaSeed:
    def __init__(self, data: Any):
        self.data = data
        self.now = data.now()

    def factory(self, raw: Mapping[str, Any]) -> None:
        for key in ("base_currency_code", "default_sales_location_id"):
            if raw.get(key) is not None:
                self.data.factory[key] = raw[key]

    def location(self, raw: Mapping[str, Any]) -> None:
        loc = Location(int(raw["id"]), str(raw["name"]), _when(raw.get("created_at")) or self.now,
                       is_primary=bool(raw.get("is_primary")), sales_allowed=raw.get("sales_allowed", True) is not False,
                       purchase_allowed=raw.get("purchase_allowed", True) is not False,
                       manufacturing_allowed=raw.get("manufacturing_allowed", True) is not False,
                       legal_name=raw.get("legal_name"), address=dict(raw["address"]) if raw.get("address") else None,
                       deleted_at=_when(raw.get("deleted_at")))
        self.data.locations[loc.id] = loc

    def variant(self, raw: Mapping[str, Any]) -> None:
        data = self.data
        product_id = int(raw.get("product_id") or raw.get("material_id") or raw["id"])
        if product_id not in data.products:
            name = str(raw.get("product_name") or f"Product {product_id}")
            data.products[product_id] = Product(product_id, name, self.now)
            data._product_by_name.setdefault(name, product_id)
        config = {str(a.get("config_name")): str(a.get("config_value")) for a in raw.get("config_attributes") or ()}
        variant = Variant(int(raw["id"]), raw.get("sku"), product_id, _when(raw.get("created_at")) or self.now,
                          sales_price=_dec_or_none(raw.get("sales_price")),
                          purchase_price=_dec_or_none(raw.get("purchase_price")) or Decimal(0), config=config,
                          deleted_at=_when(raw.get("deleted_at")), kind=str(raw.get("type") or "product"))
        data.variants[variant.id] = variant
        data._variants_of.setdefault(product_id, []).append(variant.id)
        if variant.sku is not None and variant.deleted_at is None:
            data._variant_by_sku[variant.sku] = variant.id

    def customer(self, raw: Mapping[str, Any]) -> None:
        at = raw.get("created_at") or _iso(self.now)
        self.data.customers[int(raw["id"])] = {
            "id": int(raw["id"]), "name": str(raw.get("name") or f"Customer {raw['id']}"),
            **{k: raw.get(k) for k in ("first_name", "last_name", "company", "email", "phone", "comment",
                                       "reference_id", "category", "discount_rate")},
            "currency": raw.get("currency") or self.data.factory["base_currency_code"],
            "default_billing_id": None, "default_shipping_id": None, "addresses": [],
            "created_at": at, "updated_at": at, "deleted_at": raw.get("deleted_at")}

    def tax_rate(self, raw: Mapping[str, Any]) -> None:
        rate = Decimal(str(raw["rate"]))
        name = raw.get("name") or f"{rate.normalize()}%"
        at = raw.get("created_at") or _iso(self.now)
        self.data.tax_rates[int(raw["id"])] = {"id": int(raw["id"]), "name": name, "rate": rate, "_rate": rate,
                                               "is_default_sales": False, "is_default_purchases": False,
                                               "display_name": name, "created_at": at, "updated_at": at}

    def sales_order(self, raw: Mapping[str, Any]) -> None:
        data = self.data
        so_id = int(raw["id"])
        created = _when(raw.get("created_at")) or self.now
        ordered = _when(raw.get("order_created_date")) or created
        location_id = int(raw["location_id"])
        rows = [SalesOrderRow(int(r["id"]), so_id, int(r["variant_id"]), Decimal(str(r["quantity"])),
                              Decimal(str(r.get("price_per_unit") or 0)), int(r.get("location_id") or location_id),
                              created, tax_rate_id=r.get("tax_rate_id"),
                              total_discount=_dec_or_none(r.get("total_discount")))
                for r in raw.get("sales_order_rows") or ()]
        extra = {k: raw.get(k) for k in ("customer_ref", "additional_info", "ecommerce_order_type",
                                         "ecommerce_store_name", "ecommerce_order_id")}
        so = SalesOrder(so_id, str(raw["order_no"]), int(raw.get("customer_id") or 0), location_id,
                        str(raw.get("status") or OPEN), str(raw.get("currency") or data.factory["base_currency_code"]),
                        ordered, _when(raw.get("delivery_date")), created, rows, [], extra,
                        shipping_fee=dict(raw["shipping_fee"]) if raw.get("shipping_fee") else None,
                        source=str(raw.get("source") or "API"), updated_at=_when(raw.get("updated_at")),
                        deleted_at=_when(raw.get("deleted_at")))
        data._set_order_no(so, so.order_no)      # before it is stored: the index counts it once
        data.sales_orders[so.id] = so
        for row in rows:
            data._row_order[row.id] = so.id

    def stock_adjustment(self, raw: Mapping[str, Any]) -> None:
        at = raw.get("created_at") or _iso(self.now)
        rows = [{"id": int(r["id"]), "variant_id": int(r["variant_id"]), "quantity": Decimal(str(r["quantity"])),
                 "cost_per_unit": _dec_or_none(r.get("cost_per_unit")) or Decimal(0), "batch_transactions": [],
                 "traceability": []} for r in raw.get("stock_adjustment_rows") or ()]
        self.data.stock_adjustments[int(raw["id"])] = {
            "id": int(raw["id"]), "stock_adjustment_number": str(raw["stock_adjustment_number"]),
            "stock_adjustment_date": raw.get("stock_adjustment_date") or at, "location_id": int(raw["location_id"]),
            "reason": raw.get("reason"), "additional_info": raw.get("additional_info"),
            "stock_adjustment_rows": rows, "created_at": at, "updated_at": at, "deleted_at": raw.get("deleted_at")}

    def inventory(self, rows: Any) -> None:
        data = self.data
        from_orders = data.committed()
        for raw in rows:
            key = (int(raw["variant_id"]), int(raw["location_id"]))
            cell = data.cell(*key)
            cell.in_stock = Decimal(str(raw.get("quantity_in_stock") or 0))
            cell.expected = Decimal(str(raw.get("quantity_expected") or 0))
            cell.average_cost = Decimal(str(raw.get("average_cost") or 0))
            cell.safety_stock = Decimal(str(raw.get("safety_stock_level") or 0))
            cell.updated_at = self.now
            rest = Decimal(str(raw.get("quantity_committed") or 0)) - from_orders.get(key, Decimal(0))
            if rest:
                data.committed_elsewhere[key] = rest

    def next_ids(self, part: Mapping[str, Any]) -> None:
        """New records get ids after every seeded one, in each resource's own range."""
        data = self.data
        seen: dict[str, list[int]] = {kind: [int(r["id"]) for r in part.get(name) or ()]
                                      for name, kind in _KATANA_KINDS.items()}
        seen["product"] = list(data.products)
        seen["sales_order_row"] = list(data._row_order)
        seen["stock_adjustment_row"] = [r["id"] for a in data.stock_adjustments.values()
                                        for r in a["stock_adjustment_rows"]]
        for kind, ids in seen.items():
            if ids:
                data._next[kind] = max(data._next[kind], max(ids) + 1)


# --- WooCommerce -------------------------------------------------------------------------------------

def _woo_product(raw: Mapping[str, Any], parent: Mapping[str, Any] | None) -> WooProduct:
    created = _woo_when(raw.get("date_created_gmt")) or datetime.now(timezone.utc).replace(microsecond=0)
    is_variation = bool(raw.get("parent_id"))
    sku = str(raw.get("sku") or "")
    if is_variation and parent is not None and sku and sku == parent.get("sku"):
        sku = ""    # shown with its parent's SKU: it has none of its own
    manage = raw.get("manage_stock") is True
    # A variation's name is derived from its parent's and its options, as the emulator derives it.
    product = WooProduct(id=int(raw["id"]), type="variation" if is_variation else str(raw.get("type") or "simple"),
                         name="" if is_variation else str(raw.get("name") or ""),
                         slug="" if is_variation else str(raw.get("slug") or ""), created=created,
                         modified=_woo_when(raw.get("date_modified_gmt")) or created, sku=sku,
                         status=str(raw.get("status") or "publish"), regular_price=str(raw.get("regular_price") or ""),
                         sale_price=str(raw.get("sale_price") or ""), manage_stock=manage,
                         stock_quantity=int(raw["stock_quantity"]) if manage and raw.get("stock_quantity") is not None
                         else None, backorders=str(raw.get("backorders") or "no"),
                         parent_id=int(raw.get("parent_id") or 0), tax_status=str(raw.get("tax_status") or "taxable"),
                         tax_class="parent" if is_variation else str(raw.get("tax_class") or ""))
    if raw.get("stock_status"):
        product.stock_status = str(raw["stock_status"])
    if is_variation:
        product.variation_attributes = [(str(a.get("name")), sanitize_title(str(a.get("name"))), str(a.get("option")))
                                        for a in raw.get("attributes") or () if a.get("name")]
    else:
        product.attributes = [{"id": int(a.get("id") or 0), "name": str(a.get("name")), "slug": str(a.get("name")),
                               "position": int(a.get("position") or i), "visible": bool(a.get("visible", True)),
                               "variation": bool(a.get("variation", False)),
                               "options": [str(o) for o in a.get("options") or ()]}
                              for i, a in enumerate(raw.get("attributes") or ()) if a.get("name")]
    return product


def _woo_order(raw: Mapping[str, Any], ctx: Any) -> Order:
    created = _woo_when(raw.get("date_created_gmt")) or ctx.now()
    order = Order(id=int(raw["id"]), order_key=str(raw.get("order_key") or f"wc_order_snapshot{raw['id']}"),
                  created=created, modified=_woo_when(raw.get("date_modified_gmt")) or created,
                  status=str(raw.get("status") or "pending"), currency=str(raw.get("currency") or "USD"),
                  prices_include_tax=bool(raw.get("prices_include_tax")), customer_id=int(raw.get("customer_id") or 0),
                  billing={k: str(v) for k, v in (raw.get("billing") or {}).items() if v is not None},
                  shipping={k: str(v) for k, v in (raw.get("shipping") or {}).items() if v is not None},
                  payment_method=str(raw.get("payment_method") or ""),
                  payment_method_title=str(raw.get("payment_method_title") or ""),
                  created_via=str(raw.get("created_via") or "checkout"),
                  paid=_woo_when(raw.get("date_paid_gmt")), completed=_woo_when(raw.get("date_completed_gmt")),
                  number=str(raw["number"]) if raw.get("number") not in (None, "", str(raw["id"])) else None)
    for li in raw.get("line_items") or ():
        order.line_items.append(LineItem(
            id=int(li["id"]), name=str(li.get("name") or ""), product_id=int(li.get("product_id") or 0),
            variation_id=int(li.get("variation_id") or 0), quantity=int(li.get("quantity") or 0),
            subtotal=_dec(li.get("subtotal")), total=_dec(li.get("total")), subtotal_tax=_dec(li.get("subtotal_tax")),
            total_tax=_dec(li.get("total_tax")), tax_class=str(li.get("tax_class") or ""),
            taxes=[{"id": int(t["id"]), "total": _dec(t.get("total")), "subtotal": _dec(t.get("subtotal"))}
                   for t in li.get("taxes") or ()],
            meta=[dict(m) for m in li.get("meta_data") or () if m.get("key") == "_reduced_stock"]))
    for s in raw.get("shipping_lines") or ():
        order.shipping_lines.append({"id": int(s["id"]), "method_title": str(s.get("method_title") or ""),
                                     "method_id": str(s.get("method_id") or ""),
                                     "instance_id": str(s.get("instance_id") or ""), "total": _dec(s.get("total")),
                                     "total_tax": _dec(s.get("total_tax")),
                                     "taxes": [{"id": int(t["id"]), "total": _dec(t.get("total"))}
                                               for t in s.get("taxes") or ()]})
    for f in raw.get("fee_lines") or ():
        order.fee_lines.append({"id": int(f["id"]), "name": str(f.get("name") or ""),
                                "tax_class": str(f.get("tax_class") or ""), "tax_status": str(f.get("tax_status") or ""),
                                "total": _dec(f.get("total")), "total_tax": _dec(f.get("total_tax")), "taxes": []})
    for c in raw.get("coupon_lines") or ():
        order.coupon_lines.append({"id": int(c["id"]), "code": str(c.get("code") or ""),
                                   "discount": _dec(c.get("discount")), "discount_tax": _dec(c.get("discount_tax")),
                                   "discount_type": str(c.get("discount_type") or "fixed_cart"),
                                   "nominal_amount": c.get("nominal_amount") or 0,
                                   "free_shipping": bool(c.get("free_shipping"))})
    for t in raw.get("tax_lines") or ():
        order.tax_lines.append({"id": int(t["id"]), "rate_code": str(t.get("rate_code") or ""),
                                "rate_id": int(t.get("rate_id") or 0), "label": str(t.get("label") or ""),
                                "compound": bool(t.get("compound")), "tax_total": _dec(t.get("tax_total")),
                                "shipping_tax_total": _dec(t.get("shipping_tax_total")),
                                "rate_percent": t.get("rate_percent")})
    for name in ("discount_total", "discount_tax", "shipping_total", "shipping_tax", "cart_tax", "total", "total_tax"):
        setattr(order, name, _dec(raw.get(name)))
    order.refunds = [{"id": int(r["id"]), "reason": str(r.get("reason") or ""), "total": _dec(r.get("total"))}
                     for r in raw.get("refunds") or ()]
    # WooCommerce reduced the stock of an order that entered processing, on-hold or completed.
    order.stock_reduced = order.recorded_sales = order.status in REDUCE_ON
    return order


# --- values ------------------------------------------------------------------------------------------

def _dec(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return Decimal(str(value))


def _dec_or_none(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _when(value: Any) -> datetime | None:
    """Katana's times ("2025-06-02T12:00:00.000Z")."""
    if not value:
        return None
    text = str(value).strip()
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _woo_when(value: Any) -> datetime | None:
    """WooCommerce's `_gmt` times ("2025-06-02T09:00:00", UTC without an offset)."""
    return as_utc(datetime.fromisoformat(str(value))) if value else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
