"""`katana-woo snapshot`: a read-only copy of the real accounts, to rehearse a config on the sandbox.

Called by `rehearsal` (the ``snapshot`` command, and `take_snapshot` from Python)::

    config = load_config("configs/shops.yaml")
    data = take_snapshot(config)                      # reads only; nothing is written anywhere
    write_snapshot(data, "snapshot.json")             # then: sandbox.start(snapshot="snapshot.json")

What is read is what a plan and an apply of `config` read, no more: Katana's locations and factory;
the inventory (with its variants) of every location a store maps to or `locations:` lists; the
variants of the SKUs the stores' catalogues and orders name; the stores' sales orders in Katana
(by `ecommerce_store_name`) that are still open or belong to an order in the snapshot; the
customers the snapshot's orders would be matched with; the tax rates; the initial stock imports
(`WOO-INIT-`) at those locations; and per store the whole catalogue (products and variations) and
the orders in the statuses it imports or that hold stock (pending, processing, on-hold), from
`orders.since`. Katana orders of other channels are not copied: their commitments are, in the
inventory's committed figure.

No customer contact data is kept: e-mail addresses become pseudonyms (`customer-<12 hex>@example.invalid`,
a keyed hash whose key is random per snapshot and never written, so the same buyer matches the
same Katana customer in the rehearsal but cannot be looked up), names become "Customer <hex>",
and phones, addresses, companies, notes, IP addresses, order keys and meta data are dropped. The
file is plain JSON in the format `sandbox/_snapshot.py` defines (and reads: the sandbox imports
nothing of the SDK).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from ._http import CallCounter
from .config import Config, StoreConfig, revealed
from .engines.initial_import import PREFIX as INITIAL_IMPORT_PREFIX
from .engines.pending import STOCK_TAKING
from .katana import KatanaClient
from .mapping import resolve_location
from .models import Location
from .woo import WooClient

log = logging.getLogger(__name__)

FORMAT, VERSION = "katana-woo-snapshot", 1
OPEN_STATUSES = ("pending", *STOCK_TAKING[:2])          # orders that hold or will hold stock
KATANA_OPEN = ("NOT_SHIPPED", "PENDING")                # sales orders Katana has not shipped
ORDER_FIELDS = ("id", "number", "status", "currency", "prices_include_tax", "date_created_gmt", "date_modified_gmt",
                "date_paid_gmt", "date_completed_gmt", "customer_id", "discount_total", "discount_tax",
                "shipping_total", "shipping_tax", "cart_tax", "total", "total_tax", "payment_method",
                "payment_method_title", "created_via", "tax_lines", "shipping_lines", "fee_lines", "coupon_lines")
LINE_FIELDS = ("id", "name", "product_id", "variation_id", "quantity", "tax_class", "subtotal", "subtotal_tax",
               "total", "total_tax", "taxes", "sku", "price")
PRODUCT_FIELDS = ("id", "name", "slug", "type", "status", "sku", "regular_price", "sale_price", "manage_stock",
                  "stock_quantity", "stock_status", "backorders", "parent_id", "attributes", "variations",
                  "tax_status", "tax_class", "date_created_gmt", "date_modified_gmt")
VARIANT_FIELDS = ("id", "sku", "product_id", "material_id", "type", "sales_price", "purchase_price",
                  "config_attributes", "created_at", "deleted_at")
ROW_FIELDS = ("variant_id", "location_id", "quantity_in_stock", "quantity_committed", "quantity_expected",
              "safety_stock_level", "average_cost")
SALES_ORDER_FIELDS = ("id", "order_no", "customer_id", "location_id", "status", "currency", "order_created_date",
                      "delivery_date", "created_at", "updated_at", "deleted_at", "source", "ecommerce_order_type",
                      "ecommerce_store_name", "ecommerce_order_id")
SO_ROW_FIELDS = ("id", "variant_id", "quantity", "price_per_unit", "location_id", "tax_rate_id", "total_discount")


def take_snapshot(config: Config, *, katana: KatanaClient | None = None, woo: Mapping[str, WooClient] | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """Read what a plan and an apply of `config` would read, without contact data (see the module
    docstring). Reads only. Clients passed in are not closed."""
    calls = CallCounter()
    own_katana = katana is None
    if katana is None:
        key = config.katana.api_key.reveal() if config.katana.api_key else ""
        katana = KatanaClient(key, base_url=config.katana.base_url, rate=config.katana.rate_limit.requests,
                              period=config.katana.rate_limit.period_seconds, counter=calls)
    stores = list(config.enabled_stores)
    own_woo = woo is None
    if woo is None:
        woo = {s.name: WooClient(s.url, revealed(s.consumer_key), revealed(s.consumer_secret),
                                 allow_insecure_http=s.allow_insecure_http, verify=s.verify, name=s.name,
                                 counter=calls) for s in stores}
    try:
        return _Reader(config, katana, woo, now or datetime.now(timezone.utc)).read(stores)
    finally:
        if own_katana:
            katana.close()
        if own_woo:
            for client in woo.values():
                client.close()


def write_snapshot(data: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the snapshot as JSON (only its owner may read it: it describes a business)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    if os.name == "posix":
        os.chmod(out, 0o600)
    return out


class _Reader:
    def __init__(self, config: Config, katana: KatanaClient, woo: Mapping[str, WooClient], now: datetime):
        self.config, self.katana, self.woo, self.now = config, katana, woo, now
        self.pseudonyms = Pseudonyms()

    def read(self, stores: list[StoreConfig]) -> dict[str, Any]:
        katana = self.katana
        locations = katana.locations.list(include_deleted=True)
        wanted = self._locations(stores, locations)
        log.info("snapshot: inventory of %s", ", ".join(loc.name for loc in wanted) or "no location")
        variants: dict[int, dict[str, Any]] = {}
        inventory: list[dict[str, Any]] = []
        for loc in wanted:
            for row in katana.inventory.list(loc.id, with_variants=True).values():
                inventory.append(_pick(row.raw, ROW_FIELDS))
                if isinstance(row.raw.get("variant"), Mapping):
                    variants[row.variant_id] = _pick(row.raw["variant"], VARIANT_FIELDS)
        out_stores, skus, emails = [], set(), set()
        for store in stores:
            entry, store_skus, store_emails = self._store(store)
            out_stores.append(entry)
            skus |= store_skus
            emails |= store_emails
        known = {v.get("sku") for v in variants.values()}
        for variant in katana.variants.by_skus(sorted(s for s in skus if s not in known)).values():
            variants[variant.id] = _pick(variant.raw, VARIANT_FIELDS)
        sales_orders, customer_ids = self._sales_orders(stores, out_stores)
        customers = self._customers(emails, customer_ids)
        adjustments = [_adjustment(a.raw) for loc in wanted for a in katana.stock_adjustments.at_location(loc.id)
                       if a.stock_adjustment_number.startswith(INITIAL_IMPORT_PREFIX)]
        factory = katana.factory.get().raw
        return {
            "format": FORMAT, "version": VERSION, "taken_at": self.now.isoformat().replace("+00:00", "Z"),
            "config": os.path.basename(self.config.source) if self.config.source else None,
            "contact_data": "removed: e-mail addresses are keyed pseudonyms, names are 'Customer <hex>'; phones, "
                            "addresses, companies, notes and meta data are left out",
            "katana": {
                "factory": {k: factory.get(k) for k in ("base_currency_code", "default_sales_location_id")},
                "locations": [dict(loc.raw) for loc in locations],
                "variants": sorted(variants.values(), key=lambda v: v["id"]),
                "inventory": inventory,
                "customers": customers,
                "tax_rates": [_pick(t.raw, ("id", "rate", "name", "created_at")) for t in katana.tax_rates.list()],
                "sales_orders": sales_orders,
                "stock_adjustments": adjustments,
            },
            "stores": out_stores,
        }

    def _locations(self, stores: list[StoreConfig], locations: list[Location]) -> list[Location]:
        """The live locations the stores map to, and those `locations:` lists."""
        found: dict[int, Location] = {}
        for store in stores:
            res = resolve_location(store.name, store.location, locations)
            if res.location is not None and res.location.deleted_at is None:
                found[res.location.id] = res.location
        for entry in self.config.locations:
            for loc in locations:
                if loc.deleted_at is None and entry.location in (loc.id, loc.name):
                    found[loc.id] = loc
        return [found[k] for k in sorted(found)]

    def _store(self, store: StoreConfig) -> tuple[dict[str, Any], set[str], set[str]]:
        woo = self.woo[store.name]
        products = []
        for product in woo.products.iter():
            products.append(_pick(product.raw, PRODUCT_FIELDS))
            if product.type == "variable" and product.variations:
                for variation in woo.variations.iter(product.id):
                    products.append({**_pick(variation.raw, PRODUCT_FIELDS), "parent_id": product.id})
        statuses = sorted(set(OPEN_STATUSES) | set(store.orders.statuses))
        orders = [self._order(o.raw) for o in woo.orders.iter(statuses, modified_after=store.orders.since)] \
            if store.orders.enabled else []
        skus = {p["sku"] for p in products if p.get("sku")} | \
            {li.get("sku") for o in orders for li in o["line_items"] if li.get("sku")}
        emails = {e for e in (self.pseudonyms.real(o["billing"].get("email")) for o in orders
                              if o["status"] in store.orders.statuses) if e}
        log.info("snapshot: %s: %d products and variations, %d orders", store.name, len(products), len(orders))
        return ({"name": store.name, "ecommerce_store_name": store.ecommerce_store_name, "products": products,
                 "orders": orders}, skus, emails)

    def _order(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        order = _pick(raw, ORDER_FIELDS)
        order["billing"] = self.pseudonyms.buyer(raw.get("billing") or {})
        order["shipping"] = {}
        order["line_items"] = [{**_pick(li, LINE_FIELDS),
                                "meta_data": [m for m in li.get("meta_data") or () if m.get("key") == "_reduced_stock"]}
                               for li in raw.get("line_items") or ()]
        order["refunds"] = [_pick(r, ("id", "total")) for r in raw.get("refunds") or ()]
        for group in ("tax_lines", "shipping_lines", "fee_lines", "coupon_lines"):
            order[group] = [{k: v for k, v in item.items() if k != "meta_data"} for item in order.get(group) or ()]
        return order

    def _sales_orders(self, stores: list[StoreConfig],
                      entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[int]]:
        """The stores' sales orders in Katana that a run would look at: open, or of an order copied."""
        out, customers = [], set()
        for store, entry in zip(stores, entries):
            copied = {str(o["id"]) for o in entry["orders"]}
            for so in self.katana.sales_orders.list(ecommerce_store_name=store.ecommerce_store_name,
                                                    include_deleted=True):
                if so.ecommerce_order_id not in copied and (so.raw.get("status") not in KATANA_OPEN or so.deleted_at):
                    continue
                record = _pick(so.raw, SALES_ORDER_FIELDS)
                record["sales_order_rows"] = [_pick(r, SO_ROW_FIELDS) for r in so.raw.get("sales_order_rows") or ()]
                fee = so.raw.get("shipping_fee")
                record["shipping_fee"] = _pick(fee, ("id", "sales_order_id", "amount", "description", "tax_rate_id")) \
                    if isinstance(fee, Mapping) else None
                out.append(record)
                if record.get("customer_id"):
                    customers.add(int(record["customer_id"]))
        return out, customers

    def _customers(self, emails: Iterable[str], referenced: set[int]) -> list[dict[str, Any]]:
        """The Katana customers the copied orders' buyers match (by e-mail), and those the copied sales
        orders name, each as a pseudonym."""
        out: dict[int, dict[str, Any]] = {}
        for email in sorted(emails):
            found = self.katana.customers.find_by_email(email)
            if found is not None:
                out[found.id] = self._customer(found.raw)
        for cid in sorted(referenced - set(out)):
            out[cid] = {"id": cid, "name": f"Customer {cid}"}
        return [out[k] for k in sorted(out)]

    def _customer(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        email = raw.get("email")
        return {"id": raw["id"], "name": self.pseudonyms.name(email or f"katana-customer-{raw['id']}"),
                "email": self.pseudonyms.email(email) if email else None,
                **_pick(raw, ("currency", "category", "created_at", "deleted_at"))}


class Pseudonyms:
    """Stable, unguessable stand-ins for buyers: a keyed hash (HMAC-SHA256) of the lower-cased e-mail
    (or the name, when there is no e-mail) with a key that lives only in memory."""

    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(32)
        self._real: dict[str, str] = {}

    def tag(self, text: str) -> str:
        return hmac.new(self._key, text.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()[:12]

    def email(self, email: str) -> str:
        pseudonym = f"customer-{self.tag(email)}@example.invalid"
        self._real[pseudonym] = email
        return pseudonym

    def name(self, key: str) -> str:
        return f"Customer {self.tag(key)}"

    def real(self, pseudonym: str | None) -> str | None:
        """The address a pseudonym stands for (in memory only, to find its Katana customer)."""
        return self._real.get(pseudonym or "")

    def buyer(self, billing: Mapping[str, Any]) -> dict[str, str]:
        """A billing block with nothing but a pseudonymous name and e-mail: what a buyer with no contact
        data looks like. A block with neither e-mail nor name stays empty (such an order is held)."""
        email = str(billing.get("email") or "").strip()
        name = " ".join(str(billing.get(k) or "") for k in ("first_name", "last_name")).strip() \
            or str(billing.get("company") or "").strip()
        if not email and not name:
            return {}
        out = {"first_name": "Customer", "last_name": self.tag(email or name)}
        if email:
            out["email"] = self.email(email)
        return out


def _pick(raw: Mapping[str, Any] | None, fields: Iterable[str]) -> dict[str, Any]:
    return {k: raw[k] for k in fields if raw is not None and k in raw}


def _adjustment(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(raw, ("id", "stock_adjustment_number", "location_id", "stock_adjustment_date", "reason", "created_at",
                      "deleted_at"))
    out["stock_adjustment_rows"] = [_pick(r, ("id", "variant_id", "quantity", "cost_per_unit"))
                                    for r in raw.get("stock_adjustment_rows") or ()]
    return out
