"""What one run reads once and shares: Katana locations, the variant catalogue, inventory per
location, each store's catalogue and open orders, customers and tax rates found so far.

Created by the runner for each plan or apply; read by the engines. Caching here is what keeps a
run near the minimum number of calls: every store on one Katana key shares its rate limit, so the
inventory of a location is read once per run however many stores map to it.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from ..config import Config, StoreConfig
from ..katana import KatanaClient
from ..models import Customer, InventoryRow, Location, SalesOrder, TaxRate, Variant, WooOrder, WooProduct
from ..state import State
from ..woo import SKU_CHUNK, WooClient

log = logging.getLogger(__name__)


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


@dataclass
class StoreRead:
    """What a run read from one store."""

    orders: list[WooOrder] = field(default_factory=list)          # import candidates, by modified cursor
    held_refetched: list[WooOrder] = field(default_factory=list)   # held orders read again by id
    uncommitted: list[WooOrder] = field(default_factory=list)      # stock-taking orders that are not imported
    newest_modified: Any = None                                    # cursor candidate


class RunContext:
    def __init__(self, config: Config, katana: KatanaClient, woo: Mapping[str, WooClient], state: State,
                 *, progress: bool | None = None):
        self.config, self.katana, self.woo, self.state = config, katana, woo, state
        self.progress = progress
        self._locations: list[Location] | None = None
        self._variants: dict[str, Variant] | None = None
        self._inventory: dict[int, dict[int, InventoryRow]] = {}
        self._catalog: dict[str, list[WooProduct]] = {}
        self._katana_orders: dict[str, dict[str, SalesOrder]] = {}
        self._customers: dict[str, Customer] = {}
        self._tax_rates: dict[Decimal, TaxRate] = {}
        self.reads: dict[str, StoreRead] = {}
        self.unread_variations: dict[str, int] = {}   # store -> variations skipped by the SKU lookup
        # location id -> variant id -> quantity the stores took that Katana has not committed
        self.pending: dict[int, dict[int, Decimal]] = {}
        # the part of it that comes from stores a `--store` run leaves out
        self.companion_pending: dict[int, dict[int, Decimal]] = {}

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
                # Keep a live order over a deleted one with the same key.
                if so.ecommerce_order_id not in found or found[so.ecommerce_order_id].deleted_at is not None:
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

    def catalog(self, store: StoreConfig) -> list[WooProduct]:
        """Every product of the store (pages of 100) and the variations that matter.

        Variations are read per variable product (one listing each) or, when that would cost more
        calls, by SKU: `GET /products?sku=A,B,...` returns variations too, 50 SKUs a call, for the
        Katana SKUs no simple product carries. A variation whose SKU Katana does not know is then not
        read (nothing could be pushed to it); `unread_variations` counts them for the report.
        """
        if store.name not in self._catalog:
            woo = self.woo[store.name]
            items = list(progress(woo.products.iter(), desc=f"{store.name} products", enabled=self.progress))
            variable = [p for p in items if p.type == "variable" and p.variations]
            wanted = sorted(set(self.variants_by_sku()) - {p.sku for p in items if p.sku}) if variable else []
            by_sku_calls = -(-len(wanted) // SKU_CHUNK)
            if variable and by_sku_calls < len(variable):
                found = [p for p in woo.products.by_skus(wanted).values() if p.is_variation]
                owned = {v for p in variable for v in p.variations}
                read = [p for p in found if p.id in owned]
                items.extend(read)
                self.unread_variations[store.name] = len(owned) - len(read)
            else:
                for product in variable:
                    items.extend(woo.variations.iter(product.id))
            self._catalog[store.name] = items
        return self._catalog[store.name]
