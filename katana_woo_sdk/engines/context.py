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
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping

from ..config import Config, StoreConfig
from ..katana import KatanaClient
from ..models import Customer, InventoryRow, Location, SalesOrder, TaxRate, Variant, WooProduct
from ..state import State
from ..woo import SKU_CHUNK, WooClient

log = logging.getLogger(__name__)

IDENTITY_CURSOR = "site.identity"
PARENT_CHUNK = 100      # parent ids per `GET /products?include=`: well inside a safe URL length


def progress(iterable: Iterable, *, desc: str, total: int | None = None, enabled: bool | None = None):
    """A tqdm.auto bar in notebooks and terminals; nothing when output is not interactive."""
    if enabled is None:
        enabled = _interactive()
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, total=total, leave=False)


def _interactive() -> bool:
    try:
        from IPython import get_ipython  # type: ignore
        if get_ipython() is not None and "IPKernelApp" in get_ipython().config:
            # tqdm.auto needs ipywidgets in a kernel; without it it warns and prints text bars.
            import importlib.util
            return importlib.util.find_spec("ipywidgets") is not None
    except Exception:  # IPython absent or not a kernel
        pass
    return sys.stderr.isatty()


@dataclass(frozen=True)
class Catalog:
    """A store's products and the variations that matter; `unread_variations`: variations skipped
    by the SKU lookup because Katana knows none of their SKUs (nothing could be pushed to them)."""

    items: tuple[WooProduct, ...]
    unread_variations: int = 0

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def parent_skus(self) -> dict[int, str]:
        return {p.id: p.sku for p in self.items if p.type == "variable"}


class RunContext:
    def __init__(self, config: Config, katana: KatanaClient, woo: Mapping[str, WooClient], state: State,
                 *, progress: bool | None = None, keep: bool = False):
        """`keep`: remember what is worth keeping across runs (site identities) in the state; an
        apply does, a plan (which only reads) does not."""
        self.config, self.katana, self.woo, self.state = config, katana, woo, state
        self.progress, self._keep = progress, keep
        self._locations: list[Location] | None = None
        self._variants: dict[str, Variant] | None = None
        self._inventory: dict[int, dict[int, InventoryRow]] = {}
        self._catalog: dict[str, Catalog] = {}
        self._katana_orders: dict[str, dict[str, SalesOrder]] = {}
        self._customers: dict[str, Customer] = {}
        self._tax_rates: dict[Decimal, TaxRate] = {}
        self._parents: dict[str, dict[int, str]] = {}

    # --- Katana ----------------------------------------------------------------------------------

    def locations(self) -> list[Location]:
        if self._locations is None:
            self._locations = self.katana.locations.list(include_deleted=True)
        return self._locations

    def variants_by_sku(self) -> dict[str, Variant]:
        """Every live variant with a SKU, read once per run (ceil(N/250) pages)."""
        if self._variants is None:
            variants: dict[str, Variant] = {}
            for variant in self.katana.variants.iter():
                if variant.sku and variant.deleted_at is None:
                    variants[variant.sku] = variant
            self._variants = variants
        return self._variants

    def inventory(self, location_id: int) -> dict[int, InventoryRow]:
        if location_id not in self._inventory:
            self._inventory[location_id] = self.katana.inventory.list(location_id)
        return self._inventory[location_id]

    def forget_inventory(self, location_id: int) -> None:
        """After we changed stock or commitments at a location, its figures must be read again."""
        self._inventory.pop(location_id, None)

    def katana_orders(self, store: StoreConfig) -> dict[str, SalesOrder]:
        """This store's sales orders in Katana, deleted ones included, by WooCommerce order id:
        one listing per run instead of a lookup per order."""
        key = store.ecommerce_store_name
        if key not in self._katana_orders:
            found: dict[str, SalesOrder] = {}
            for so in self.katana.sales_orders.list(ecommerce_store_name=key, include_deleted=True):
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
        self.katana_orders(store)[str(so.ecommerce_order_id)] = so

    def customer(self, email: str) -> Customer | None:
        key = email.strip().lower()
        if key not in self._customers:
            found = self.katana.customers.find_by_email(email)
            if found is None:
                return None
            self._customers[key] = found
        return self._customers[key]

    def remember_customer(self, email: str, customer: Customer) -> None:
        self._customers[email.strip().lower()] = customer

    def tax_rate(self, rate: Decimal) -> TaxRate | None:
        if rate not in self._tax_rates:
            found = self.katana.tax_rates.find_by_rate(rate)
            if found is None:
                return None
            self._tax_rates[rate] = found
        return self._tax_rates[rate]

    def remember_tax_rate(self, rate: Decimal, tax_rate: TaxRate) -> None:
        self._tax_rates[rate] = tax_rate

    # --- WooCommerce -----------------------------------------------------------------------------

    def catalog(self, store: StoreConfig) -> Catalog:
        """Every product of the store (pages of 100) and the variations that matter.

        Variations are read per variable product (one listing each) or, when that would cost more
        calls, by SKU: `GET /products?sku=A,B,...` returns variations too, 50 SKUs a call, for the
        Katana SKUs no simple product carries. A variation whose SKU Katana does not know is then not
        read (nothing could be pushed to it); the catalogue counts them.
        """
        if store.name not in self._catalog:
            woo = self.woo[store.name]
            items = list(progress(woo.products.iter(), desc=f"{store.name} products", enabled=self.progress))
            variable = [p for p in items if p.type == "variable" and p.variations]
            wanted = sorted(set(self.variants_by_sku()) - {p.sku for p in items if p.sku}) if variable else []
            by_sku_calls = -(-len(wanted) // SKU_CHUNK)
            unread = 0
            if variable and by_sku_calls < len(variable):
                found = [p for p in woo.products.by_skus(wanted).values() if p.is_variation]
                owned = {v for p in variable for v in p.variations}
                read = [p for p in found if p.id in owned]
                items.extend(read)
                unread = len(owned) - len(read)
            else:
                for product in variable:
                    items.extend(woo.variations.iter(product.id))
            self._catalog[store.name] = Catalog(tuple(items), unread)
        return self._catalog[store.name]

    def parent_skus(self, store: StoreConfig, parent_ids: Iterable[int] = ()) -> dict[int, str]:
        """Parent product id -> the parent's own SKU, for telling a variation without a SKU of its
        own (WooCommerce shows it with the parent's) from one with its own. From the catalogue when
        it was read, else one `GET /products?include=` per 100 parents not yet known."""
        known = self._parents.setdefault(store.name, {})
        if store.name in self._catalog or store.stock.sync or store.stock.initial_import:
            # The run reads this store's catalogue anyway: its variable products name every parent.
            known.update(self.catalog(store).parent_skus())
        missing = sorted({int(i) for i in parent_ids if i} - set(known))
        for start in range(0, len(missing), PARENT_CHUNK):
            chunk = missing[start:start + PARENT_CHUNK]
            for product in self.woo[store.name].products.iter(include=chunk):
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
                return data.get("home")
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
