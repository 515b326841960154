"""What one run reads once and shares: a cache of Katana locations, the variant catalogue,
inventory per location, each store's catalogue, sales orders, parents' SKUs and site identity,
customers and tax rates found so far.

Created by the runner for each plan or apply; read by the engines. It holds reads, never a
figure an engine computed: engines hand their results to the runner as typed values. The only
writes are to keep the cache true after our own changes (`remember_order`, `forget_inventory`).
Caching here is what keeps a run near the minimum number of calls: every store on one Katana key
shares its rate limit, so the inventory of a location is read once per run however many stores
map to it.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping

from .._progress import progress
from ..config import Config, StoreConfig
from ..katana import KatanaClient
from ..models import Customer, InventoryRow, Location, SalesOrder, TaxRate, Variant, WooProduct
from ..state import State
from ..woo import SKU_CHUNK, WooClient

log = logging.getLogger(__name__)

IDENTITY_CURSOR = "site.identity"
FIELDS = WooProduct.FIELDS     # a store item's keys the engines read: every product read asks for these alone
CATALOG_SIZE_CURSOR = "catalog.listing_calls"   # what listing the store's catalogue cost last time
PARENT_CHUNK = 100      # parent ids per `GET /products?include=`: well inside a safe URL length


@dataclass(frozen=True)
class Catalog:
    """A store's items that matter: every product and variation (a listing), or only those whose
    SKU Katana knows (`by_sku`: read by SKU, which costs fewer calls on a large catalogue)."""

    items: tuple[WooProduct, ...]
    by_sku: bool = False
    complete: bool = False     # every item, variations of unknown SKUs included (a full listing)

    def __iter__(self) -> Iterator[WooProduct]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def parent_skus(self) -> dict[int, str]:
        return {p.id: p.sku for p in self.items if p.type == "variable"}


@dataclass(frozen=True)
class StockView:
    """What a store's figures are computed from (`engines.stock`): the location's inventory rows
    and variants, and the store's items. `complete`: every item and row (a full run); else only the
    items whose figure may have changed (an incremental run)."""

    rows: Mapping[int, InventoryRow]
    variants: Mapping[str, Variant]
    catalog: Catalog
    complete: bool = True


class RunContext:
    def __init__(self, config: Config, katana: KatanaClient, woo: Mapping[str, WooClient], state: State,
                 *, progress: bool | None = None, keep: bool = False):
        """`keep`: remember what is worth keeping across runs (site identities) in the state; an
        apply does, a plan (which only reads) does not."""
        self.config, self.katana, self.woo, self.state = config, katana, woo, state
        self.progress, self._keep = progress, keep
        # Sales orders created before this are in the ledger: listings start here (None: everything).
        self.orders_since: datetime | None = None
        self._locations: list[Location] | None = None
        self._by_sku: dict[str, Variant] = {}
        self._unknown: set[str] = set()
        self._location_skus: dict[int, dict[str, Variant]] = {}
        self._inventory: dict[int, dict[int, InventoryRow]] = {}
        self._catalog: dict[str, Catalog] = {}
        self._katana_orders: dict[str, dict[str, SalesOrder]] = {}
        self._changed_orders: dict[datetime, list[SalesOrder]] = {}
        self._customers: dict[str, Customer] = {}
        self._no_customer: set[str] = set()
        self._tax_rates: dict[Decimal, TaxRate] = {}
        self._all_tax_rates: dict[Decimal, TaxRate] | None = None
        self._parents: dict[str, dict[int, str]] = {}
        self._rows: dict[int, dict[int, InventoryRow]] = {}
        self._items: dict[str, dict[str, WooProduct]] = {}
        self._no_item: dict[str, set[str]] = {}
        self._by_id: dict[str, dict[int, WooProduct]] = {}
        self._variations: dict[tuple[str, int], list[WooProduct]] = {}

    # --- Katana ----------------------------------------------------------------------------------

    def locations(self) -> list[Location]:
        if self._locations is None:
            self._locations = self.katana.locations.list(include_deleted=True)
        return self._locations

    def variants(self, skus: Iterable[str | None]) -> dict[str, Variant]:
        """SKU -> the live Katana variant, for each of `skus` that has one. Known from inventory rows
        read with their variants (no call), else looked up by SKU, 100 a call; a SKU Katana does not
        know is remembered as unknown for the rest of the run."""
        wanted = {s for s in skus if s}
        missing = sorted(wanted - set(self._by_sku) - self._unknown)
        if missing:
            found = self.katana.variants.by_skus(missing)
            self._by_sku.update(found)
            self._unknown.update(set(missing) - set(found))
        return {s: self._by_sku[s] for s in wanted if s in self._by_sku}

    def location_variants(self, location_id: int) -> dict[str, Variant]:
        """SKU -> variant of every inventory row at the location (the inventory is read, once)."""
        self.inventory(location_id)
        return self._location_skus[location_id]

    def known_variants(self) -> dict[str, Variant]:
        """Every variant this run has learnt of so far (no call)."""
        return dict(self._by_sku)

    def inventory(self, location_id: int) -> dict[int, InventoryRow]:
        """The location's rows, read with their variants (`extend[]=variant`): that read is also the
        variant catalogue of the location, so no variant listing is ever needed."""
        if location_id not in self._inventory:
            rows = self.katana.inventory.list(location_id, with_variants=True, slim=True)
            skus: dict[str, Variant] = {}
            for row in rows.values():
                variant = row.variant
                if variant is not None and variant.sku and variant.deleted_at is None:
                    skus[variant.sku] = variant
            self._by_sku.update(skus)
            self._unknown.difference_update(skus)
            self._location_skus[location_id] = skus
            self._inventory[location_id] = rows
        return self._inventory[location_id]

    def forget_inventory(self, location_id: int) -> None:
        """After we changed stock or commitments at a location, its figures must be read again."""
        self._inventory.pop(location_id, None)

    def katana_orders(self, store: StoreConfig, *, read: bool = True) -> dict[str, SalesOrder]:
        """This store's sales orders in Katana, deleted ones included, by WooCommerce order id: one
        listing per run instead of a lookup per order, and only of those created since
        `orders_since` (an incremental run: the ledger knows every order imported before; a full
        scan only when the state is new or lost). `read=False`: what is known, without a call."""
        key = store.ecommerce_store_name
        if key not in self._katana_orders:
            if not read:
                return {}
            found: dict[str, SalesOrder] = {}
            # Slim (no payload): a lost state lists the store's whole history, 100,000s of orders
            # kept for the run, of which the engines read a few fields (and whether a shipping fee
            # was added); one read to PATCH is made in full (`engines.duplicates`).
            for so in self.katana.sales_orders.iter(ecommerce_store_name=key, include_deleted=True,
                                                    created_after=self.orders_since, slim=True):
                if so.ecommerce_order_id is None:
                    continue
                # Keep a live order over a deleted one with the same key, and the oldest of two live.
                have = found.get(so.ecommerce_order_id)
                if have is None or (have.deleted_at is not None and so.deleted_at is None) \
                        or (have.deleted_at is None and so.deleted_at is None and so.id < have.id):
                    found[so.ecommerce_order_id] = so
            self._katana_orders[key] = found
        return self._katana_orders[key]

    def remember_order(self, store: StoreConfig, so: SalesOrder) -> None:
        self._katana_orders.setdefault(store.ecommerce_store_name, {})[str(so.ecommerce_order_id)] = so

    def sales_orders_changed(self, since: datetime) -> list[SalesOrder]:
        """The account's sales orders changed since `since` (deleted ones included), slim: one
        listing a run for every store's order lifecycle (`engines.lifecycle`)."""
        if since not in self._changed_orders:
            self._changed_orders[since] = self.katana.sales_orders.list(updated_after=since, include_deleted=True,
                                                                        slim=True)
        return self._changed_orders[since]

    def sales_orders_changed_now(self, since: datetime) -> list[SalesOrder]:
        """The account's sales orders changed since `since` as they are now, for the stock's change
        read (`engines.changes`), which comes later in the run than the lifecycle's and must also
        see what changed in between (this run's own writes among them).

        When the lifecycle listed from `since` or earlier, its listing is reused: its orders
        changed since `since`, each replaced by its newer version where one was changed after it,
        read by one more listing from the newest change it saw (inclusive; Katana stamps every
        change, so a change made after that listing is stamped at or after its newest). That is
        what a listing from `since` made now would answer, without reading a long history twice
        (400 calls for 100,000 orders delivered since the last run). Else one listing from `since`."""
        earlier = [k for k in self._changed_orders if k <= since]
        if not earlier:
            return self.katana.sales_orders.list(updated_after=since, include_deleted=True, slim=True)
        listed = self._changed_orders[max(earlier)]
        horizon = max((so.updated_at for so in listed if so.updated_at), default=None)
        if horizon is None:        # nothing stamped seen: nothing to start the second listing from
            return self.katana.sales_orders.list(updated_after=since, include_deleted=True, slim=True)
        newer = {so.id: so for so in self.katana.sales_orders.iter(updated_after=max(horizon, since),
                                                                   include_deleted=True, slim=True)}
        kept = [so for so in listed if so.id not in newer and (so.updated_at is None or so.updated_at >= since)]
        return kept + list(newer.values())

    def remember_variant(self, variant: Variant) -> None:
        """A variant this run created (`engines.products`): known by its SKU from now on."""
        if variant.sku:
            self._by_sku[variant.sku] = variant
            self._unknown.discard(variant.sku)

    def customer(self, email: str) -> Customer | None:
        """The Katana customer with this e-mail: from this run's reads, else looked up (once)."""
        key = email.strip().lower()
        if key not in self._customers:
            if key in self._no_customer:
                return None
            found = self.katana.customers.find_by_email(email)
            if found is None:
                self._no_customer.add(key)
                return None
            self._customers[key] = found
        return self._customers[key]

    def prefetch_customers(self, emails: Iterable[str]) -> None:
        """Before a batch of imports: learn the customers of `emails` in the fewest calls. One lookup
        per e-mail, or, when the account's customers fit in fewer pages than there are e-mails to
        look up, all of them listed (the first page tells how many pages there are)."""
        wanted = {e.strip().lower() for e in emails if e and e.strip()} - set(self._customers) - self._no_customer
        if len(wanted) < 2:
            return
        first, pages = self.katana.customers.first_page()
        if pages is not None and pages > len(wanted):
            return                                   # looking each one up is cheaper
        everyone = list(first) + (list(self.katana.customers.iter(page=2)) if (pages or 1) > 1 else [])
        oldest: dict[str, Customer] = {}
        for c in sorted(everyone, key=lambda c: c.id):
            if c.email:
                oldest.setdefault(c.email.strip().lower(), c)
        self._customers.update({k: v for k, v in oldest.items()})
        self._no_customer.update(wanted - set(oldest))

    def remember_customer(self, email: str, customer: Customer) -> None:
        self._customers[email.strip().lower()] = customer
        self._no_customer.discard(email.strip().lower())

    def tax_rate(self, rate: Decimal) -> TaxRate | None:
        """The oldest Katana tax rate of this percentage. An account has a handful of rates: they are
        listed once per run (one call) rather than looked up one by one."""
        if self._all_tax_rates is None:
            self._all_tax_rates = {}
            for found in sorted(self.katana.tax_rates.list(), key=lambda t: t.id):
                self._all_tax_rates.setdefault(found.rate, found)
            self._tax_rates.update(self._all_tax_rates)
        return self._tax_rates.get(rate)

    def remember_tax_rate(self, rate: Decimal, tax_rate: TaxRate) -> None:
        self._tax_rates[rate] = tax_rate

    # --- WooCommerce -----------------------------------------------------------------------------

    def catalog(self, store: StoreConfig, location_id: int, *, complete: bool = False) -> Catalog:
        """The store items that matter for the location's figures, read the cheaper way.

        A listing (every product, pages of 100, and the variations whose SKU Katana knows, by SKU)
        tells everything, store-only SKUs included. Reading by SKU (`GET /products?sku=A,B,...`
        returns products and variations alike, 100 SKUs a call, for every product SKU the location's
        inventory names) costs fewer calls on a large catalogue but reads only what Katana knows. The
        listing is used while it costs at most one call more than reading by SKU. Its cost is its
        pages, learnt from the first page's `X-WP-TotalPages`, plus the variations' lookups, estimated
        as the SKUs of Katana products with several variants (a variable product in the store, as
        Katana's own integration maps them); after a listing the state keeps what it really cost.
        When reading by SKU wins, the first page's simple products are not asked for again.
        `complete` asks for everything (the initial import needs every item): a listing with each
        variable product's variations.
        """
        cached = self._catalog.get(store.name)
        if cached is not None and (not complete or cached.complete):
            return cached
        woo = self.woo[store.name]
        variants = self.location_variants(location_id)
        wanted = sorted(s for s, v in variants.items() if v.type != "material")
        by_sku_calls = -(-len(wanted) // SKU_CHUNK)
        known = self.state.get_cursor(store.name, CATALOG_SIZE_CURSOR)
        first: list[WooProduct] = []
        if complete or known is None:
            first, pages = woo.products.first_page(fields=FIELDS)
            siblings: Counter[int | None] = Counter(v.product_id for v in variants.values()
                                                    if v.product_id is not None)
            likely_variations = sum(1 for s in wanted if siblings.get(variants[s].product_id, 0) > 1)
            list_pages = pages if pages is not None else 1 + (len(first) >= 100)
            listing = list_pages + -(-likely_variations // SKU_CHUNK)
        else:
            list_pages = listing = int(known)
        if not complete and listing > by_sku_calls + 1:
            wanted_set = set(wanted)
            have = {p.sku: p for p in first if p.sku in wanted_set and p.type != "variable"}
            found = {**have, **woo.products.by_skus([s for s in wanted if s not in have], fields=FIELDS)}
            self._catalog[store.name] = Catalog(tuple(found.values()), by_sku=True)
            return self._catalog[store.name]
        more = not first or (list_pages > 1 if list_pages else len(first) >= 100)
        rest = (woo.products.iter(page=2, fields=FIELDS) if first else woo.products.iter(fields=FIELDS)) if more else iter(())
        # Page 2 read after page 1: an item that slid across the boundary meanwhile comes twice.
        items = list({p.id: p for p in [*first, *progress(rest, desc=f"{store.name} products",
                                                               enabled=self.progress)]}.values())
        variable = [p for p in items if p.type == "variable" and p.variations]
        if complete:
            for product in variable:
                items.extend(woo.variations.iter(product.id, fields=FIELDS))
        lookups = 0
        if not complete and variable:
            # Variations by SKU: only those whose SKU the location's inventory names matter here.
            missing = sorted(set(wanted) - {p.sku for p in items if p.sku})
            owned = {v for p in variable for v in p.variations}
            lookups = -(-len(missing) // SKU_CHUNK)
            items.extend(p for p in woo.products.by_skus(missing, fields=FIELDS).values() if p.is_variation and p.id in owned)
        if complete:
            # What a listing without the variations' listings would have cost: their lookups by SKU.
            wanted_set = set(wanted)
            lookups = -(-sum(1 for p in items if p.is_variation and p.sku in wanted_set) // SKU_CHUNK)
        if self._keep:
            pages_read = -(-sum(not p.is_variation for p in items) // 100)
            self.state.set_cursor(store.name, CATALOG_SIZE_CURSOR, str(pages_read + lookups))
        self._catalog[store.name] = Catalog(tuple(items), by_sku=False, complete=complete)
        return self._catalog[store.name]

    def stock_view(self, store: StoreConfig, location_id: int, skus: Iterable[str] | None = None,
                   variant_ids: Iterable[int] = ()) -> StockView:
        """All of the location and the store (`skus` None), or only the items of `skus` and of the
        Katana variants `variant_ids`: their inventory rows read by variant id (150 a call) and the
        store's items by SKU (100 a call), each item's parent pool completed (a parent managing its
        variations' stock is one figure, see `stock.parent_pools`)."""
        if skus is None and not variant_ids:
            return StockView(self.inventory(location_id), self.location_variants(location_id),
                             self.catalog(store, location_id))
        rows = self.inventory_rows(location_id, variant_ids)
        wanted = set(skus or ()) | {r.variant.sku for r in rows.values() if r.variant is not None and r.variant.sku}
        items = self.items(store, wanted)
        # Complete the parent pools the changed items belong to: the parent and every variation.
        parents = {p.parent_id for p in items.values() if p.is_variation and p.manage_stock == "parent"}
        parents |= {p.id for p in items.values() if p.type == "variable" and p.manage_stock is True}
        for parent in self.items_by_id(store, parents).values():
            items.setdefault(parent.sku or f"#{parent.id}", parent)
            for variation in self.variations(store, parent.id):
                if variation.sku:
                    items.setdefault(variation.sku, variation)
        variants = self.variants(sku for sku in items if not sku.startswith("#"))
        rows = {**rows, **self.inventory_rows(location_id, [v.id for v in variants.values()])}
        return StockView(rows, variants, Catalog(tuple(items.values()), by_sku=True), complete=False)

    def inventory_rows(self, location_id: int, variant_ids: Iterable[int]) -> dict[int, InventoryRow]:
        """Rows of some variants at a location: from the full read if there was one, else read by
        variant id (with their variants) and kept for the run."""
        wanted = {int(v) for v in variant_ids}
        if location_id in self._inventory:
            full = self._inventory[location_id]
            return {v: full[v] for v in wanted if v in full}
        known = self._rows.setdefault(location_id, {})
        missing = sorted(wanted - set(known))
        if missing:
            for vid, row in self.katana.inventory.list(location_id, missing, with_variants=True, slim=True).items():
                known[vid] = row
                if row.variant is not None and row.variant.sku:
                    self._by_sku.setdefault(row.variant.sku, row.variant)
        return {v: known[v] for v in wanted if v in known}

    def items(self, store: StoreConfig, skus: Iterable[str]) -> dict[str, WooProduct]:
        """The store's items with these SKUs (products and variations): from the catalogue or the
        changed products when read, else by SKU, 100 a call; kept for the run."""
        known = self._items.setdefault(store.name, {})
        if store.name in self._catalog:
            known.update({p.sku: p for p in self._catalog[store.name] if p.sku})
        wanted = {s for s in skus if s}
        missing = sorted(wanted - set(known) - self._no_item.setdefault(store.name, set()))
        if missing:
            found = self.woo[store.name].products.by_skus(missing, fields=FIELDS)
            known.update(found)
            self._no_item[store.name].update(set(missing) - set(found))
        return {s: known[s] for s in wanted if s in known}

    def remember_items(self, store: StoreConfig, items: Mapping[str, WooProduct]) -> None:
        """Items read another way (the products changed since the watermark)."""
        self._items.setdefault(store.name, {}).update(items)

    def items_by_id(self, store: StoreConfig, ids: Iterable[int]) -> dict[int, WooProduct]:
        """Products by id (`include=`, 100 a call), kept for the run."""
        known = self._by_id.setdefault(store.name, {})
        wanted = {int(i) for i in ids if i}
        missing = sorted(wanted - set(known))
        for start in range(0, len(missing), PARENT_CHUNK):
            for product in self.woo[store.name].products.iter(include=missing[start:start + PARENT_CHUNK], fields=FIELDS):
                known[product.id] = product
        return {i: known[i] for i in wanted if i in known}

    def variations(self, store: StoreConfig, parent_id: int) -> list[WooProduct]:
        """A variable product's variations (one listing), kept for the run."""
        key = (store.name, int(parent_id))
        if key not in self._variations:
            self._variations[key] = list(self.woo[store.name].variations.iter(int(parent_id), fields=FIELDS))
        return self._variations[key]

    def parent_skus(self, store: StoreConfig, parent_ids: Iterable[int] = ()) -> dict[int, str]:
        """Parent product id -> the parent's own SKU, for telling a variation without a SKU of its
        own (WooCommerce shows it with the parent's) from one with its own. From the catalogue when
        it was read, else one `GET /products?include=` per 100 parents not yet known."""
        known = self._parents.setdefault(store.name, {})
        if store.name in self._catalog:
            known.update(self._catalog[store.name].parent_skus())
        missing = sorted({int(i) for i in parent_ids if i} - set(known))
        for start in range(0, len(missing), PARENT_CHUNK):
            chunk = missing[start:start + PARENT_CHUNK]
            for product in self.woo[store.name].products.iter(include=chunk, fields=FIELDS):
                known[product.id] = product.sku
            for pid in chunk:
                known.setdefault(pid, "")     # deleted parent: no SKU to confuse a line with
        return known

    def site_identity(self, store: StoreConfig) -> str | None:
        """The shop's own address (WordPress's `home`), read once per store URL and kept in the
        state: two configured stores with the same identity are one shop. None when unreadable."""
        cached = self.state.get_cursor(store.name, IDENTITY_CURSOR)
        if cached:
            data = json.loads(cached)
            if data.get("url") == store.url:
                home: str | None = data.get("home")
                return home
        home = self.woo[store.name].site.home()
        if home and self._keep:
            self.state.set_cursor(store.name, IDENTITY_CURSOR, json.dumps({"url": store.url, "home": home}))
        return home


def normalise_home(url: Any) -> str:
    """`home` as an identity: neither the scheme nor a trailing slash makes another shop."""
    text = str(url or "").strip().lower().rstrip("/")
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text
