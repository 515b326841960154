"""`katana-woo run` on the sandbox with Katana's limit enforced: how fast events become work.

    python bench/bench_service.py [--orders 10] [--stock-changes 5] [--burst 1000] [--time-scale 1]

Measures, with the service's receiver and webhooks installed on the sandbox:
* p50/p95 from a WooCommerce order to its Katana sales order (orders placed one every 6 s);
* p50/p95 from a Katana stock change to both stores of the location showing it;
* Katana calls per event: what one order event and one Katana stock event cost (the service's
  focused runs: `changes.Focus`);
* a burst of `--burst` signed deliveries (order.created/updated for the orders placed, each many
  times: duplicates as a retrying or replaying sender makes them): acknowledgement p50/p99, time
  until the inbox is drained, and 429s Katana answered (goal 0). The burst is sent from a separate
  process (as the stores are other machines; in this process its client threads would take the
  receiver's interpreter lock and be measured as acknowledgement time), `--concurrency` deliveries
  at a time, each on a new connection as WooCommerce sends them.
Katana's limit is 60 requests per 60 s times `--time-scale` (1: the real window; a smaller one
scales Katana's window and the client's alike, and the figures say so). Not a test: no assertions.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import secrets
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import _katana_gateway  # noqa: E402,F401  (tests helpers: the service's test config)
from _harness import orders_for  # noqa: E402
from _service import Running, load, until  # noqa: E402
from katana_woo_sdk import sandbox  # noqa: E402
from katana_woo_sdk.runner import Runner  # noqa: E402
from katana_woo_sdk.service import webhooks  # noqa: E402
from katana_woo_sdk.service.signatures import woo_signature  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def burst(url: str, secret: str, orders: list[dict], n: int, concurrency: int) -> tuple[float, list[float]]:
    """In a process of its own: `n` signed deliveries, `concurrency` at a time; (seconds, acks)."""
    acks: list[float] = []
    lock = threading.Lock()

    host, port = url.split("://", 1)[1].rsplit(":", 1)
    bodies = [json.dumps(o, separators=(",", ":")).encode() for o in orders]
    signed = [(b, woo_signature(b, secret)) for b in bodies]

    def deliver(i: int) -> None:
        # http.client, a new connection per delivery as WooCommerce makes them: a light client, so
        # that this process takes as little of the 2 cores from the receiver as a sender can.
        body, signature = signed[i % len(signed)]
        topic = "order.created" if i % 2 else "order.updated"
        headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order",
                   "X-WC-Webhook-Event": topic.split(".")[1], "X-WC-Webhook-ID": "1",
                   "X-WC-Webhook-Delivery-ID": secrets.token_hex(16), "X-WC-Webhook-Signature": signature}
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request("POST", "/webhooks/woocommerce/shop-us", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
        finally:
            conn.close()
        with lock:
            acks.append(time.monotonic() - t0)
        assert answer.status == 200, answer.status

    t0 = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(deliver, range(n)))
    return time.monotonic() - t0, acks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=10)
    ap.add_argument("--stock-changes", type=int, default=5)
    ap.add_argument("--burst", type=int, default=1000)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None, help="the receiver's threads (default: the service's)")
    ap.add_argument("--hold-worker", action="store_true",
                    help="the worker waits until the burst is sent (the acknowledgement path alone)")
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="sys.setswitchinterval for this process (the service's; default: the service's own)")
    args = ap.parse_args()
    scale = args.time_scale
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    with sandbox.start(time_scale=scale) as box, tempfile.TemporaryDirectory() as tmp:
        config, env = load(box, Path(tmp), rate=60, period=60 * scale)
        svc = Running(config, every=3600, debounce=0.5, **({"threads": args.threads} if args.threads else {}))
        try:
            with Runner(config, progress=False) as r:
                webhooks.install(config, r.katana, r.woo, svc.url)
            svc.wait_ready(600)
            time.sleep(60 * scale)       # the first full reconcile's calls leave the window
            us, eu, outlet = box.stores["shop-us"], box.stores["shop-eu"], box.stores["shop-outlet"]
            order_lat, placed, order_calls = [], [], []
            katana_log = box.katana.server.requests
            for _ in range(args.orders):
                n0 = len(katana_log())
                t0 = time.monotonic()
                order = us.place_order([("MUG-CLASSIC", 1)])
                placed.append(order)
                until(lambda: orders_for(box, "shop-us", order["id"]), 300, "the sales order", 0.02)
                order_lat.append(time.monotonic() - t0)
                time.sleep(max(0.0, 6 * scale - (time.monotonic() - t0)))
                until(lambda: svc.service.inbox.inbox_depth() == 0, 300, "a quiet inbox", 0.05)
                order_calls.append(len(katana_log()) - n0)
            stock_lat, stock_calls = [], []
            for i in range(args.stock_changes):
                until(lambda: svc.service.inbox.inbox_depth() == 0, 300, "a quiet inbox", 0.05)
                n0 = len(katana_log())
                box.katana.set_stock("MUG-CLASSIC", "Main Warehouse", 200 + i)
                figure = box.katana.inventory_of("MUG-CLASSIC", "Main Warehouse")
                want = int(figure["in_stock"] - figure["committed"])
                t0 = time.monotonic()
                until(lambda: eu.stock_of("MUG-CLASSIC") == want and outlet.stock_of("MUG-CLASSIC") == want,
                      300, "the stores to follow", 0.02)
                stock_lat.append(time.monotonic() - t0)
                time.sleep(max(0.0, 6 * scale - (time.monotonic() - t0)))
                until(lambda: svc.service.inbox.inbox_depth() == 0, 300, "a quiet inbox", 0.05)
                stock_calls.append(len(katana_log()) - n0)
            until(lambda: svc.service.inbox.inbox_depth() == 0, 300, "a quiet inbox", 0.05)
            before_429 = box.katana.server.count(None, None) and sum(
                1 for q in box.katana.server.requests() if q.status == 429)
            secret = env["WOO_SHOP_US_WEBHOOK_SECRET"]
            gate, drain = threading.Event(), svc.service.worker.drain
            if args.hold_worker:
                svc.service.worker.drain = lambda *a, **k: (gate.wait(), drain(*a, **k))[1]  # type: ignore[method-assign]
            t0 = time.monotonic()
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client:
                sent, acks = client.submit(burst, svc.url, secret, placed, args.burst, args.concurrency).result()
            gate.set()
            svc.service.worker.drain = drain  # type: ignore[method-assign]
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
    print(f"Katana calls per event: order (import + stock of its SKUs) mean {statistics.mean(order_calls):.1f} "
          f"(min {min(order_calls)}, max {max(order_calls)}); Katana stock change mean "
          f"{statistics.mean(stock_calls):.1f} (min {min(stock_calls)}, max {max(stock_calls)})")
    print(f"burst of {args.burst} deliveries ({args.concurrency} at a time, from another process): sent in {sent:.2f} s, ack p50 {1000 * statistics.median(acks):.1f} ms, "
          f"p99 {1000 * pct(acks, 99):.1f} ms; inbox drained {drained:.2f} s after the first; "
          f"429s during the whole bench: {after_429} (before the burst {before_429})")
    print(f"inbox: {len(entries)} entries, {sum(e.status == 'coalesced' for e in entries)} coalesced, "
          f"{sum(e.status == 'done' for e in entries)} done")


if __name__ == "__main__":
    main()
