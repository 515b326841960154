"""`katana-woo run` on the sandbox with Katana's limit enforced: how fast events become work.

    python bench/bench_service.py [--orders 10] [--stock-changes 5] [--burst 1000] [--time-scale 1]

Measures, with the service's receiver and webhooks installed on the sandbox:
* p50/p95 from a WooCommerce order to its Katana sales order (orders placed one every 6 s);
* p50/p95 from a Katana stock change to both stores of the location showing it;
* a burst of `--burst` signed deliveries (order.created/updated for the orders placed, each many
  times: duplicates as a retrying or replaying sender makes them): acknowledgement p99, time until
  the inbox is drained, and 429s Katana answered (goal 0).
Katana's limit is 60 requests per 60 s times `--time-scale` (1: the real window; a smaller one
scales Katana's window and the client's alike, and the figures say so). Not a test: no assertions.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import _katana_gateway  # noqa: E402,F401  (tests helpers: the service's test config)
from _harness import orders_for  # noqa: E402
from _service import Running, load, post_woo, until  # noqa: E402
from katana_woo_sdk import sandbox  # noqa: E402
from katana_woo_sdk.runner import Runner  # noqa: E402
from katana_woo_sdk.service import webhooks  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=10)
    ap.add_argument("--stock-changes", type=int, default=5)
    ap.add_argument("--burst", type=int, default=1000)
    ap.add_argument("--time-scale", type=float, default=1.0)
    args = ap.parse_args()
    scale = args.time_scale
    with sandbox.start(time_scale=scale) as box, tempfile.TemporaryDirectory() as tmp:
        config, env = load(box, Path(tmp), rate=60, period=60 * scale)
        svc = Running(config, every=3600, debounce=0.5)
        try:
            with Runner(config, progress=False) as r:
                webhooks.install(config, r.katana, r.woo, svc.url)
            svc.wait_ready(600)
            time.sleep(60 * scale)       # the first full reconcile's calls leave the window
            us, eu, outlet = box.stores["shop-us"], box.stores["shop-eu"], box.stores["shop-outlet"]
            order_lat, placed = [], []
            for _ in range(args.orders):
                t0 = time.monotonic()
                order = us.place_order([("MUG-CLASSIC", 1)])
                placed.append(order)
                until(lambda: orders_for(box, "shop-us", order["id"]), 300, "the sales order", 0.02)
                order_lat.append(time.monotonic() - t0)
                time.sleep(max(0.0, 6 * scale - (time.monotonic() - t0)))
            stock_lat = []
            for i in range(args.stock_changes):
                until(lambda: svc.service.inbox.inbox_depth() == 0, 300, "a quiet inbox", 0.05)
                box.katana.set_stock("MUG-CLASSIC", "Main Warehouse", 200 + i)
                figure = box.katana.inventory_of("MUG-CLASSIC", "Main Warehouse")
                want = int(figure["in_stock"] - figure["committed"])
                t0 = time.monotonic()
                until(lambda: eu.stock_of("MUG-CLASSIC") == want and outlet.stock_of("MUG-CLASSIC") == want,
                      300, "the stores to follow", 0.02)
                stock_lat.append(time.monotonic() - t0)
                time.sleep(max(0.0, 6 * scale - (time.monotonic() - t0)))
            until(lambda: svc.service.inbox.inbox_depth() == 0, 300, "a quiet inbox", 0.05)
            before_429 = box.katana.server.count(None, None) and sum(
                1 for q in box.katana.server.requests() if q.status == 429)
            secret = env["WOO_SHOP_US_WEBHOOK_SECRET"]
            acks: list[float] = []
            lock = threading.Lock()

            def deliver(i: int) -> None:
                order = placed[i % len(placed)]
                t0 = time.monotonic()
                answer = post_woo(svc.url, "shop-us", order, secret,
                                  topic="order.created" if i % 2 else "order.updated")
                with lock:
                    acks.append(time.monotonic() - t0)
                assert answer.status_code == 200

            t0 = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(deliver, range(args.burst)))
            sent = time.monotonic() - t0
            until(lambda: svc.service.inbox.inbox_depth() == 0, 600, "the inbox to drain", 0.02)
            drained = time.monotonic() - t0
            after_429 = sum(1 for q in box.katana.server.requests() if q.status == 429)
            entries = svc.service.inbox.inbox_entries()
        finally:
            svc.close()
    print(f"Katana limit: 60 requests per {60 * scale:g} s (time scale {scale:g})")
    print(f"order -> Katana sales order: p50 {statistics.median(order_lat):.2f} s, p95 {pct(order_lat, 95):.2f} s "
          f"({len(order_lat)} orders)")
    print(f"Katana stock change -> both stores: p50 {statistics.median(stock_lat):.2f} s, "
          f"p95 {pct(stock_lat, 95):.2f} s ({len(stock_lat)} changes)")
    print(f"burst of {args.burst} deliveries: sent in {sent:.2f} s, ack p50 {1000 * statistics.median(acks):.1f} ms, "
          f"p99 {1000 * pct(acks, 99):.1f} ms; inbox drained {drained:.2f} s after the first; "
          f"429s during the whole bench: {after_429} (before the burst {before_429})")
    print(f"inbox: {len(entries)} entries, {sum(e.status == 'coalesced' for e in entries)} coalesced, "
          f"{sum(e.status == 'done' for e in entries)} done")


if __name__ == "__main__":
    main()
