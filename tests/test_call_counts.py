"""What a run costs: the exact calls per system and endpoint of `configs/demo.yaml` on the demo
dataset, for a first (full) apply and for an incremental apply with nothing to change (issue 5 and
issue 10 acceptance).

Every expected number is derived below from the dataset (`katana_woo_sdk.sandbox.demo`): the
inventory read with its variants once per location, one sales-order listing per store with import
candidates, one create per order plus amortised lookups (one per distinct customer e-mail; the tax
rates listed once), WooCommerce read in pages of 100 or by SKU, written only where a level changes,
in batches of up to 100, with no per-item GET or PUT. An incremental run with nothing to change
reads only what changed since the last run and writes nothing. Where the runner spends more than
the minimum, the comment says so (and why).
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.config import load_config
from katana_woo_sdk.runner import Runner
from katana_woo_sdk.sandbox import demo

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
KATANA_PAGE, WOO_PAGE, WOO_BATCH = 250, 100, 100
OVERLAP_MINUTES = 10          # orders.overlap_minutes default: the modified-after window's overlap
STORES = tuple(demo.DEMO_STORES)
INITIAL_IMPORT_STORES = ("shop-eu",)          # configs/demo.yaml: only shop-eu seeds Katana


def pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


# --- the dataset, restated as counts -----------------------------------------------------------------

def _orders(store: str):
    return demo.ORDERS[store]


def _is_held(lines) -> bool:
    """An order the engine must hold: a SKU Katana does not know, or a line without SKU."""
    return any(sku in (demo.UNKNOWN_SKU, demo.NO_SKU_PRODUCT) for sku, _ in lines)


def imported_orders(store: str):
    return [o for o in _orders(store) if o[1] == "processing" and not _is_held(o[0])]


def held_orders(store: str):
    return [o for o in _orders(store) if o[1] == "processing" and _is_held(o[0])]


def store_product_skus(store: str) -> list[str]:
    """SKUs of the items `/products` lists for a store (simple products and variable parents)."""
    simple = demo.OUTLET_SIMPLE if store == "shop-outlet" else [s for s, _, _ in demo.SIMPLE]
    variable = demo.VARIABLE[:1] if store == "shop-outlet" else demo.VARIABLE
    extra = {"shop-eu": ["SERVICE-GIFTWRAP"], "shop-us": ["SERVICE-GIFTWRAP", demo.UNKNOWN_SKU],
             "shop-outlet": []}[store]
    return list(simple) + [p for p, _, _, _, _ in variable] + extra


def store_catalog(store: str) -> tuple[int, list[tuple[str, list[str]]]]:
    """(number of /products items, [(variable parent SKU, its variation SKUs)]) of one store."""
    simple = demo.OUTLET_SIMPLE if store == "shop-outlet" else [s for s, _, _ in demo.SIMPLE]
    variable = demo.VARIABLE[:1] if store == "shop-outlet" else demo.VARIABLE
    extra = {"shop-eu": 1, "shop-us": 2, "shop-outlet": 1}[store]   # gift wrap (+ gift card) / SKU-less bag
    return len(simple) + len(variable) + extra, [(p, [v for v, _, _ in vs]) for p, _, _, vs, _ in variable]


def needs_refetch(store: str) -> int:
    """Held orders a later run must read again by id: those modified before the cursor (the store's
    clock at the last walk's answer) less the overlap window, which is every held demo order (its
    age, `hours before now`, is hours, as the demo's orders are never modified after creation)."""
    return sum(1 for o in held_orders(store) if o[3] * 60 > OVERLAP_MINUTES)


def distinct(values) -> int:
    return len(set(values))


def variation_skus() -> set[str]:
    return {v for _, _, _, variations, _ in demo.VARIABLE for v, _, _ in variations}


def candidates(store: str, first: bool):
    """The orders a run reads as import candidates: every processing order on the first run; later
    the ones modified within the overlap window before the last walk's answer (the demo's orders are
    never modified after creation, so age = hours before now), and held orders re-read by id."""
    processing = [o for o in _orders(store) if o[1] == "processing"]
    if first:
        return processing
    recent = [o for o in processing if o[3] * 60 <= OVERLAP_MINUTES]
    return recent + [o for o in held_orders(store) if o not in recent and needs_refetch(store)]


def expected_katana_first() -> dict[str, int]:
    imported = [o for s in STORES for o in imported_orders(s)]   # 3 + 2 + 1 = 6
    emails = {demo._PEOPLE[o[2]]["email"] for o in imported}     # anna, luca, mia, jane, omar
    known_emails = {"jane.doe@example.com"}                      # the demo's Katana knows Jane Doe
    locations = set(demo.DEMO_STORES.values())                   # Main Warehouse, East Coast DC
    return {
        # Locations: read once per run, whatever the number of stores.
        "katana GET /locations": 1,
        # No variant listing: the inventory is read with `extend[]=variant`, and the SKUs the import
        # candidates need before it is read are looked up by SKU, all stores together: 1 call (< 100 SKUs).
        "katana GET /variants": 1,
        # One listing per store of its sales orders, deleted ones included (exactly-once by ecommerce ids),
        # and one more per store that created some: the check of the keys it created for a twin another
        # runner created meanwhile (duplicates are repaired, never left behind).
        "katana GET /sales_orders": len(STORES) * 2,
        # One read per location, after the imports (1 page: 50 variants). Main Warehouse is read once more,
        # before: the initial import's adjustment is the figure minus what Katana holds.
        "katana GET /inventory": (len(locations) + 1) * pages(len(demo.katana_skus()), KATANA_PAGE),
        # The account's customers listed once (1 page: fewer pages than e-mails to look up), one create per
        # unknown buyer, and one listing of the customers created during the run (a twin from another
        # runner is merged).
        "katana GET /customers": 1 + 1,
        "katana POST /customers": len(emails - known_emails),
        # The account's tax rates listed once (both exist, none created).
        "katana GET /tax_rates": 1,
        # One create per importable processing order; one fee per order with shipping.
        "katana POST /sales_orders": len(imported),
        "katana POST /sales_order_shipping_fee": sum(1 for o in imported if o[4].get("shipping_total")),
        # The initial import: looked up by its deterministic number when planning, the location's
        # adjustments listed once (another store's initial import there, from any config, makes this one
        # add instead of set), looked up ONE MORE TIME before creating it (apply re-checks the
        # precondition, as for saved plans); one create; then one listing of that number, to catch a
        # second adjustment another runner created.
        "katana GET /stock_adjustments": 4 * len(INITIAL_IMPORT_STORES),
        "katana POST /stock_adjustments": len(INITIAL_IMPORT_STORES),
    }


def stores_with_held() -> list[str]:
    return [s for s in STORES if held_orders(s)]


def expected_katana_steady() -> dict[str, int]:
    """An incremental run with nothing new: the account's changes since the watermark, and what the
    held orders need to be tried again (their SKUs looked up, their stores' recent sales orders)."""
    return {
        "katana GET /locations": 1,
        "katana GET /inventory_movements": 1,
        # The account's changed sales orders; plus, per store with a held order (a candidate not yet
        # imported), its sales orders created since the watermark: never the whole history. Plus ONE
        # for the order lifecycle (issue 12: deliveries, deletions made in Katana), the account's sales
        # orders changed since the lifecycle's own watermark, shared by every store: it is read while
        # planning, before the run's writes, so the stock's later read (with the inventory movements it
        # goes with) cannot stand in for it; whatever the number of stores or imported orders.
        "katana GET /sales_orders": 1 + len(stores_with_held()) + 1,
        # The held orders' SKUs, to see whether Katana knows them now: 1 call (< 100 SKUs).
        "katana GET /variants": 1,
    }


def expected_woo_reads_first() -> dict[str, int]:
    orders = products = variations = 0
    for store in STORES:
        n_products, variable = store_catalog(store)
        complete = store in INITIAL_IMPORT_STORES
        # The parents of variation lines (a variation without a SKU of its own shows its parent's), one
        # `include=` call, unless the store's catalogue was read before its orders (the initial import's).
        if not complete and any(sku in variation_skus() for o in candidates(store, True) for sku, _ in o[0]):
            products += 1
        # The catalogue: a listing (pages of 100; the first page tells what the listing costs) while it
        # costs at most one call more than reading every Katana SKU by SKU. The initial import needs every
        # item: one variations listing per variable product. Otherwise the variations come by SKU, 100 a call.
        products += pages(n_products, WOO_PAGE)
        if complete:
            variations += len(variable)
        elif variable:
            products += 1
        # Every open (processing, on-hold) order, once: the import candidates, and the book of what the
        # store took that Katana has not committed. A run that writes stock reads each store's orders
        # changed meanwhile once right before the location's writes and once right after them.
        orders += 1 + 2
    return {"woocommerce GET /orders": orders, "woocommerce GET /products": products,
            "woocommerce GET /products/{id}/variations": variations,
            # Each store's site identity (WordPress's REST index, `home`): read once, then kept in the state.
            "woocommerce GET /wp-json/": len(STORES)}


def expected_woo_reads_steady() -> dict[str, int]:
    """Per store: the orders changed since the cursor (any status), the held orders outside that
    window again by id, and the products modified since the product watermark."""
    return {"woocommerce GET /orders": sum(1 + (1 if needs_refetch(s) else 0) for s in STORES),
            "woocommerce GET /products": len(STORES)}


# --- the run --------------------------------------------------------------------------------------------

def managed_items(box, store: str) -> dict[str, tuple[int, int | None]]:
    """SKU -> (stock, parent id or None) of every item that keeps its own stock (what a push may write)."""
    _, variable = store_catalog(store)
    simple = demo.OUTLET_SIMPLE if store == "shop-outlet" else [s for s, _, _ in demo.SIMPLE]
    skus = list(simple) + [p for p, _ in variable] + [v for _, vs in variable for v in vs]
    out = {}
    for sku in skus:
        item = box.stores[store].product_by_sku(sku)
        if item["manage_stock"] is True:
            out[sku] = (item["stock_quantity"], item["parent_id"] or None)
    return out


def expected_woo_writes(before, after) -> dict[str, int]:
    """Only changed levels are written: products in batches of <= 100 per store, variations in one
    batch per parent with a change (WooCommerce takes variations only through their parent)."""
    product_batches = variation_batches = 0
    for store in STORES:
        changed = [sku for sku, (qty, _) in after[store].items() if qty != before[store][sku][0]]
        simple = [s for s in changed if after[store][s][1] is None]
        parents = {after[store][s][1] for s in changed if after[store][s][1] is not None}
        product_batches += math.ceil(len(simple) / WOO_BATCH)
        variation_batches += len(parents)
    out = {}
    if product_batches:
        out["woocommerce POST /products/batch"] = product_batches
    if variation_batches:
        out["woocommerce POST /products/{id}/variations/batch"] = variation_batches
    return out


@pytest.fixture
def demo_runner(tmp_path):
    with sandbox.start("demo", katana_rate=None) as box:
        config = load_config(DEMO_CONFIG, env=box.env())
        config = dataclasses.replace(config, state=dataclasses.replace(config.state, path=tmp_path / "state.sqlite"))
        with Runner(config, progress=False) as runner:
            yield box, runner


def test_call_counts_of_a_full_apply_and_of_a_no_change_re_apply_are_the_minimum(demo_runner):
    box, runner = demo_runner
    before = {s: managed_items(box, s) for s in STORES}
    first = runner.apply()
    assert not first.has_failures, str(first)
    assert first.messages[0].startswith("full run")
    after = {s: managed_items(box, s) for s in STORES}
    writes = expected_woo_writes(before, after)
    assert writes, "the demo's stores start out of sync: the first run must push something"

    expected = {**expected_katana_first(), **expected_woo_reads_first(), **writes}
    assert dict(first.calls) == expected
    # The literal figures for the demo, so a change to either the dataset or the runner is noticed:
    # Katana 31 calls (15 writes: 4 customers, 6 sales orders, 2 fees, 1 adjustment; 5 reads check that no
    # other runner created a twin of what this one created), WooCommerce 23 reads.
    assert first.calls_to("katana") == 31
    assert sum(n for k, n in first.calls.items() if k.startswith("woocommerce GET")) == 23
    # Per store: at most one product batch, and every variation batch names a parent with a change.
    assert first.calls["woocommerce POST /products/batch"] <= len(STORES)

    # Runs are minutes apart in life: two seconds keep the first run's writes out of the second a store's
    # `modified_after` starts from. The run after a full one still reads back what that one wrote and
    # created (it changes nothing); the one after that is the steady state.
    time.sleep(2)
    settle = runner.apply()
    assert not settle.has_failures and [r for r in settle.results] == [], str(settle)
    steady = runner.apply()
    assert not steady.has_failures, str(steady)
    assert steady.messages[0].startswith("incremental run")
    assert [r for r in steady.results] == []
    assert {k: n for k, n in steady.calls.items() if k.split()[1] != "GET"} == {}     # no write at all
    assert dict(steady.calls) == {**expected_katana_steady(), **expected_woo_reads_steady()}
    # Katana 7: 6 before issue 12, plus the order lifecycle's one shared listing of changed sales orders.
    assert steady.calls_to("katana") == 7 and steady.calls_to("woocommerce") == 8
    # No per-item request on either side, in any run.
    per_item = [k for k in {**first.calls, **settle.calls, **steady.calls}
                if k.split()[1] in ("PUT", "PATCH") or k.endswith("/{id}") or "/{id}/notes" in k]
    assert per_item == []
    # The emulators saw exactly what the client counted (nothing retried, nothing unseen).
    assert sum(s.server.count() for s in box.stores.values()) + box.katana.server.count() == \
        sum(first.calls.values()) + sum(settle.calls.values()) + sum(steady.calls.values())
