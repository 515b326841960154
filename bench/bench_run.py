"""Benchmark a full apply and a no-change re-apply on a big sandbox dataset.

    python bench/bench_run.py                      # 2000 SKUs, 3 stores, 300 orders
    python bench/bench_run.py --skus 500 --orders 60

Not a test. The sandbox (Katana without its rate limit, `katana_rate=None`, and the stores) runs in
a child process, so the parent measures the runner alone: wall time, peak Python memory
(tracemalloc) and the calls per system and endpoint from the run's report. Each measure is taken
on a fresh, identical sandbox: once without tracemalloc for the times, once with it for memory
(tracemalloc slows allocation-heavy code, so its times are not the real ones).

The dataset (deterministic for a given --seed): Katana has two locations and --skus variants: simple
products plus variable products of 4 variations each (the parent is a variant too, as Katana's own
integration makes it). Every store sells the whole catalogue; its stock is close to Katana's, so a
first push has some work. Stores alternate between the two locations (shop-1 and shop-3 share L1;
shop-1 seeds L1 with the one-time initial import). Orders are spread over the stores: mostly
processing, some on-hold, pending, completed and cancelled; 1 in 30 has a SKU Katana does not
know and is held.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VARIATIONS = 4
STATUSES = ["processing"] * 14 + ["on-hold"] * 2 + ["pending", "completed", "cancelled"]


# --- the dataset (runs in the child) ---------------------------------------------------------------

def catalogue(n_skus: int) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(simple SKUs, [(parent SKU, variation SKUs)]) totalling n_skus Katana variants; about a
    quarter of the variants belong to variable products."""
    n_variable = max(1, n_skus // 4 // (VARIATIONS + 1))
    variable = [(f"VAR-{p:04d}", [f"VAR-{p:04d}-{v}" for v in range(VARIATIONS)]) for p in range(n_variable)]
    simple = [f"SKU-{i:05d}" for i in range(n_skus - n_variable * (VARIATIONS + 1))]
    return simple, variable


def build(box: Any, n_skus: int, n_stores: int, n_orders: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    katana = box.katana
    locations = ["L1", "L2"]
    for name in locations:
        katana.add_location(name, is_primary=name == "L1")
    simple, variable = catalogue(n_skus)
    all_skus = list(simple) + [s for p, vs in variable for s in (p, *vs)]
    stock: dict[tuple[str, str], int] = {}
    for sku in all_skus:
        katana.add_variant(sku, sales_price="10.00")
        for loc in locations:
            qty = rng.randint(0, 60)
            katana.set_stock(sku, loc, qty)
            stock[sku, loc] = qty
    stores = {}
    sellable = list(simple) + [v for _, vs in variable for v in vs]
    for i in range(n_stores):
        name, loc = f"shop-{i + 1}", locations[i % 2]
        shop = box.add_store(name)
        drift = lambda sku: stock[sku, loc] + (rng.choice((-2, -1, 1, 2)) if rng.random() < 0.1 else 0)
        for sku in simple:
            shop.add_product(sku, f"Product {sku}", "10.00", stock=max(drift(sku), 0))
        for parent, variations in variable:
            shop.add_variable_product(parent, f"Product {parent}", [
                {"sku": v, "price": "12.00", "stock": max(drift(v), 0), "attributes": {"Size": str(k)}}
                for k, v in enumerate(variations)])
        shop.add_product(f"WOO-ONLY-{i + 1}", "Only in the store", "5.00", stock=100)
        stores[name] = loc
    names = list(stores)
    for n in range(n_orders):
        name = names[n % len(names)]
        lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(sellable, rng.randint(1, 3))]
        if n % 30 == 7:
            lines.append((f"WOO-ONLY-{names.index(name) + 1}", 1))
        extra: dict[str, Any] = {}
        if n % 4 == 0:
            extra["shipping_total"] = "4.90"
        if n % 5 == 0:
            extra.update(tax_percent="20", prices_include_tax=n % 10 == 0)
        box.stores[name].place_order(lines, status=rng.choice(STATUSES),
                                     billing={"first_name": "Buyer", "last_name": str(n % 97),
                                              "email": f"buyer{n % 97}@example.test"}, **extra)
    return {"stores": stores, "variants": len(all_skus), "products_per_store": len(simple) + len(variable) + 1,
            "variable_products": len(variable)}


def serve(conn, n_skus: int, n_stores: int, n_orders: int, seed: int, nodelay: bool) -> None:
    from katana_woo_sdk import sandbox
    if nodelay:
        # The sandbox's handler writes headers and body in two sends on a keep-alive connection
        # without TCP_NODELAY: Nagle + delayed ACK add ~40 ms to every request (measured: 45 ms
        # per call instead of 2-5 ms). Real servers set TCP_NODELAY; so does the bench by default.
        from katana_woo_sdk.sandbox import _server
        _server._RequestHandler.disable_nagle_algorithm = True
    started = time.perf_counter()
    with sandbox.start(None, katana_rate=None) as box:
        info = build(box, n_skus, n_stores, n_orders, seed)
        info["build_seconds"] = round(time.perf_counter() - started, 1)
        conn.send((box.env(), info))
        conn.recv()                      # "stop"
        conn.send({"katana": box.katana.server.count(),
                   "woocommerce": sum(s.server.count() for s in box.stores.values())})


# --- the measured runs (parent) ----------------------------------------------------------------------

def config_yaml(stores: dict[str, str], state: Path) -> str:
    lines = ["version: 1", "katana:", "  base_url: ${KATANA_BASE_URL}", "  api_key_env: KATANA_API_KEY",
             "  rate_limit: {requests: 1000000, period_seconds: 60}", "stores:"]
    for i, (name, loc) in enumerate(stores.items()):
        env = "WOO_" + name.upper().replace("-", "_")
        lines += [f"  - name: {name}", f"    url: ${{{env}_URL}}", f"    consumer_key_env: {env}_KEY",
                  f"    consumer_secret_env: {env}_SECRET", f"    location: {loc}"]
        if i == 0:
            lines += ["    stock: {initial_import: true}"]
    lines += ["state:", f"  path: {state}"]
    return "\n".join(lines) + "\n"


def measure(args, *, trace: bool) -> dict[str, Any]:
    from katana_woo_sdk.config import load_config_text
    from katana_woo_sdk.runner import Runner

    parent, child = mp.Pipe()
    proc = mp.Process(target=serve, args=(child, args.skus, args.stores, args.orders, args.seed,
                                                      not args.keep_nagle), daemon=True)
    proc.start()
    env, info = parent.recv()
    out: dict[str, Any] = {"dataset": info, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        text = config_yaml(info["stores"], Path(tmp) / "state.sqlite")
        config = load_config_text(text, filename="bench.yaml", base_dir=tmp, env=env)
        with Runner(config, progress=False) as runner:
            for label in ("full apply", "no-change re-apply"):
                if trace:
                    tracemalloc.start()
                t0 = time.perf_counter()
                report = runner.apply()
                seconds = time.perf_counter() - t0
                peak = None
                if trace:
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                out["runs"].append({
                    "label": label, "seconds": seconds, "peak_bytes": peak, "calls": dict(report.calls),
                    "applied": sum(1 for r in report.results if r.outcome in ("applied", "replanned")),
                    "failed": sum(1 for r in report.results if r.outcome == "failed"),
                    "held": sum(len(s.holds) for s in report.stores),
                    "pushed": sum(len(getattr(r.result, "pushed", None) or ()) for r in report.results
                                  if r.action.kind == "stock.push"),
                    "status": {s.store: s.status for s in report.stores}})
    parent.send("stop")
    out["server_counts"] = parent.recv()
    proc.join(10)
    return out


def render(timed: dict[str, Any], traced: dict[str, Any], args) -> str:
    info = timed["dataset"]
    lines = [f"sandbox sockets: {'as they are (Nagle on)' if args.keep_nagle else 'TCP_NODELAY'}",
             f"dataset: {info['variants']} Katana variants ({info['variable_products']} variable products x "
             f"{VARIATIONS} variations), {args.stores} stores x {info['products_per_store']} products, "
             f"{args.orders} orders; built in {info['build_seconds']} s (child process)", ""]
    for run, mem in zip(timed["runs"], traced["runs"]):
        calls = run["calls"]
        katana = sum(n for k, n in calls.items() if k.startswith("katana "))
        woo = sum(n for k, n in calls.items() if k.startswith("woocommerce "))
        writes = {system: sum(n for k, n in calls.items() if k.startswith(system + " ") and k.split()[1] != "GET")
                  for system in ("katana", "woocommerce")}
        lines.append(f"{run['label']}: {run['seconds']:.2f} s wall, peak {mem['peak_bytes'] / 2**20:.1f} MiB "
                     f"(tracemalloc; {mem['seconds']:.2f} s traced); calls katana {katana}, woocommerce {woo} "
                     f"(writes: katana {writes['katana']}, woocommerce {writes['woocommerce']}); {run['applied']} applied, {run['failed']} failed, {run['held']} held, "
                     f"{run['pushed']} levels pushed")
        for key in sorted(calls):
            lines.append(f"    {calls[key]:6d}  {key}")
        lines.append(f"    stores: {run['status']}")
    lines.append(f"emulator request logs (both runs): {timed['server_counts']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--stores", type=int, default=3)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-nagle", action="store_true",
                        help="leave the sandbox's sockets as they are (~40 ms extra per request)")
    args = parser.parse_args(argv)
    timed = measure(args, trace=False)
    traced = measure(args, trace=True)
    if [r["calls"] for r in timed["runs"]] != [r["calls"] for r in traced["runs"]]:
        print("warning: the traced run made different calls from the timed one", file=sys.stderr)
    print(render(timed, traced, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
