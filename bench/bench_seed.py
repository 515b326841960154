"""How long the emulators take to seed and serve a large catalogue (issue 10, point 4).

    python bench/bench_seed.py [--simple 6000] [--parents 400] [--variations 10]

Seeds one WooCommerce emulator with `simple` simple products plus `parents` variable products of
`variations` variations each (10,000 SKUs with the defaults), and one Katana emulator with a variant
for each of those SKUs and an inventory row at each of two locations; then walks `GET /products`
(per_page=100, orderby=id) and `GET /inventory` (limit=250) over HTTP, and looks one SKU up on each
side. Prints seconds for each step. A script, not a test: timings belong to a machine.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from katana_woo_sdk.sandbox.katana_emulator import KatanaEmulator  # noqa: E402
from katana_woo_sdk.sandbox.woo_emulator import WooEmulator  # noqa: E402


def _timed(label: str, fn):
    t0 = time.perf_counter()
    result = fn()
    print(f"{label:52s} {time.perf_counter() - t0:8.2f} s")
    return result


def seed_woo(store: WooEmulator, simple: int, parents: int, variations: int) -> list[str]:
    skus = []
    for i in range(simple):
        sku = f"SIMPLE-{i:05d}"
        store.add_product(sku, f"Simple {i}", "9.99", stock=i % 50)
        skus.append(sku)
    for p in range(parents):
        rows = [{"sku": f"VAR-{p:04d}-{v:02d}", "price": "19.00", "stock": v, "attributes": {"Size": f"S{v}"}}
                for v in range(variations)]
        store.add_variable_product(f"PARENT-{p:04d}", f"Parent {p}", rows)
        skus.extend(r["sku"] for r in rows)
    return skus


def seed_katana(katana: KatanaEmulator, skus: list[str]) -> None:
    main = katana.add_location("Main Warehouse")["id"]
    east = katana.add_location("East Coast DC")["id"]
    for i, sku in enumerate(skus):
        katana.add_variant(sku, product_name=sku.rsplit("-", 1)[0] if sku.startswith("VAR-") else sku)
        katana.set_stock(sku, main, i % 40)
        katana.set_stock(sku, east, i % 7)


def walk_products(store: WooEmulator) -> int:
    seen, page = 0, 1
    with requests.Session() as s:
        s.auth = (store.consumer_key, store.consumer_secret)
        while True:
            r = s.get(store.api_url + "/products", params={"per_page": 100, "page": page, "orderby": "id",
                                                           "order": "asc"})
            r.raise_for_status()
            seen += len(r.json())
            if page >= int(r.headers["X-WP-TotalPages"]):
                return seen
            page += 1


def walk_inventory(katana: KatanaEmulator) -> int:
    seen, page = 0, 1
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {katana.api_key}"
        while True:
            r = s.get(katana.base_url + "/inventory", params={"limit": 250, "page": page})
            r.raise_for_status()
            seen += len(r.json()["data"])
            if r.headers["X-Pagination"] and '"last_page":"true"' in r.headers["X-Pagination"]:
                return seen
            page += 1


def lookups(store: WooEmulator, katana: KatanaEmulator, sku: str) -> None:
    with requests.Session() as s:
        s.auth = (store.consumer_key, store.consumer_secret)
        for _ in range(20):
            s.get(store.api_url + "/products", params={"sku": sku}).raise_for_status()
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {katana.api_key}"
        variant_id = katana.variant(sku)["id"]
        for _ in range(20):
            s.get(katana.base_url + "/variants", params={"sku": sku}).raise_for_status()
            s.get(katana.base_url + "/inventory", params={"variant_id": variant_id}).raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simple", type=int, default=6000)
    parser.add_argument("--parents", type=int, default=400)
    parser.add_argument("--variations", type=int, default=10)
    args = parser.parse_args()
    total = args.simple + args.parents * args.variations
    print(f"{total} SKUs: {args.simple} simple + {args.parents} parents x {args.variations} variations")
    with WooEmulator("bench", consumer_key="ck_bench", consumer_secret="cs_bench", https_mode=True) as store, \
            KatanaEmulator(rate=None) as katana:
        skus = _timed("seed WooCommerce (admin API)", lambda: seed_woo(store, args.simple, args.parents,
                                                                        args.variations))
        _timed(f"seed Katana ({total} variants, 2 inventory rows each)", lambda: seed_katana(katana, skus))
        n = _timed("walk GET /products (per_page=100, orderby=id)", lambda: walk_products(store))
        print(f"{'':52s} ({n} products)")
        n = _timed("walk GET /inventory (limit=250)", lambda: walk_inventory(katana))
        print(f"{'':52s} ({n} rows)")
        _timed("20 SKU lookups on each side", lambda: lookups(store, katana, skus[len(skus) // 2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
