"""The one figure behind every oversell guard: units the stores took that Katana has not committed.

WooCommerce deducts stock when an order enters processing, on-hold or completed; Katana commits
stock only when a sales order exists. Between the two, the units are gone from the store's shelf
count but still available in Katana's. A push of Katana's available figure must subtract them, or
it re-raises stock that was sold. Who calls it: the runner when it plans (before the imports) and
again right before each location's writes (after the imports and a fresh read of the orders
changed meanwhile), `Runner.compare_stock`, and `--store` runs (which read the orders of the other
stores on the same location for this and nothing else). All of them pass the orders they have
seen to `taken_not_committed`; nothing else computes the figure.

An order counts when, at the time of its latest version seen:
* WooCommerce took its stock: status processing or on-hold, or completed if the store imports
  completed orders (a completed order that is never imported was never going to reach Katana, as
  in Katana's own integration, and is not carried forever);
* and Katana had not committed it when the location's inventory was read: it is not imported (no
  ledger entry, no sales order found by its key, not created by this run before the read). An
  order whose sales order was deleted in Katana counts as decided: not taken again.
Its units count against the Katana variants `lines.match_line` gives its lines, at the store's
mapped location. The same order seen twice (a fresh read after the first) counts once, as its
latest version says.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from ..config import StoreConfig
from ..models import WooOrder
from .lines import variant_quantities

# Statuses in which WooCommerce has reduced the order's stock (recorded on a real 10.0.2 store).
STOCK_TAKING = ("processing", "on-hold", "completed")

# Why an order's units are taken but not committed, as reports and `explain` show it.
HELD, TO_IMPORT, NOT_IMPORTED_STATUS = "held", "not yet imported", "status not imported"


@dataclass(frozen=True)
class Take:
    """One order's units that Katana has not committed, at one location."""

    store: str
    woo_order_id: int
    number: str
    status: str
    why: str
    quantities: Mapping[int, Decimal]      # Katana variant id -> units


@dataclass(frozen=True)
class Pending:
    """Per location: every `Take`, and their sum per variant."""

    takes: Mapping[int, tuple[Take, ...]] = field(default_factory=dict)
    # Per location, the sum per variant, made on first use: a plan asks once per store item.
    _totals: dict[int, dict[int, Decimal]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def totals(self, location_id: int) -> dict[int, Decimal]:
        if location_id not in self._totals:
            out: dict[int, Decimal] = {}
            for take in self.takes.get(location_id, ()):
                for variant_id, qty in take.quantities.items():
                    out[variant_id] = out.get(variant_id, Decimal(0)) + qty
            self._totals[location_id] = out
        return dict(self._totals[location_id])

    def quantity(self, location_id: int, variant_ids: Iterable[int]) -> Decimal:
        """Units taken of any of `variant_ids` (a parent's pool) at the location."""
        if location_id not in self._totals:
            self.totals(location_id)
        totals = self._totals[location_id]
        if not totals:
            return Decimal(0)
        return sum((totals.get(v, Decimal(0)) for v in set(variant_ids)), Decimal(0))

    def of_variant(self, location_id: int, variant_id: int) -> list[Take]:
        """The orders behind one variant's figure (for reports and `explain`)."""
        return [t for t in self.takes.get(location_id, ()) if variant_id in t.quantities]


def takes_stock(order: WooOrder, store: StoreConfig) -> bool:
    """WooCommerce reduced this order's stock, and Katana would commit it if imported."""
    if order.status == "completed":
        return "completed" in store.orders.statuses
    return order.status in STOCK_TAKING


def taken_not_committed(observed: Mapping[str, Iterable[WooOrder]], *, stores: Mapping[str, StoreConfig],
                        locations: Mapping[str, int], committed: Callable[[str, int], bool],
                        variants: Mapping[str, object], parent_skus: Callable[[str], Mapping[int, str]],
                        held: Callable[[str, int], bool] = lambda store, order_id: False) -> Pending:
    """The figure, from every order seen per store (`observed`: store name -> orders; a later
    version of an order replaces an earlier one). `locations`: store -> mapped location id (stores
    without one contribute nothing); `committed(store, woo_id)`: Katana commits the order;
    `parent_skus(store)`: parent product id -> its own SKU; `held(store, woo_id)`: for the label."""
    takes: dict[int, list[Take]] = {}
    for name, orders in observed.items():
        store, location_id = stores.get(name), locations.get(name)
        if store is None or location_id is None or not store.orders.enabled:
            continue
        latest: dict[int, WooOrder] = {}
        for order in orders:
            seen = latest.get(order.id)
            if seen is None or _newer(order, seen):
                latest[order.id] = order
        parents = parent_skus(name)
        for order in latest.values():
            if not takes_stock(order, store) or committed(name, order.id):
                continue
            quantities = variant_quantities(order, variants, parents)
            if not quantities:
                continue
            if order.status not in store.orders.statuses:
                why = f"{NOT_IMPORTED_STATUS} ({order.status})"
            else:
                why = HELD if held(name, order.id) else TO_IMPORT
            takes.setdefault(location_id, []).append(
                Take(name, order.id, order.number, order.status, why, quantities))
    return Pending({loc: tuple(sorted(ts, key=lambda t: (t.store, t.woo_order_id))) for loc, ts in takes.items()})


def _newer(order: WooOrder, than: WooOrder) -> bool:
    if order.date_modified_gmt is None or than.date_modified_gmt is None:
        return True          # no date to compare: the later read wins
    return order.date_modified_gmt >= than.date_modified_gmt
