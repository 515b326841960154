"""API calls against the computed minimum, per workload (issue 10), with time and memory.

    python bench/bench_calls.py                  # every workload at the issue's sizes (~15 min)
    python bench/bench_calls.py w1 w2            # some of them
    python bench/bench_calls.py --quick          # a tenth of the sizes, to try the script

Workloads (datasets in `_workloads.py`; each runs in its own process, the sandbox in a child of it,
so CPU time and peak memory are the client's alone):

  w1        stock sync, 10,000 SKUs (6,000 simple + 400 parents x 10 variations), 3 stores on 2
            locations, 2 % of Katana's figures moved; then a run with nothing changed.
  w2-1      600 new orders over the 3 stores by one buyer, with Katana's limit enforced in a
  w2-600    time-scaled sandbox (60 requests per 60 s x --time-scale); the same by 600 buyers.
  history   one store whose 100,000 orders were imported and shipped; a run with nothing changed
            (and the same at 1,000 orders, to show the count does not grow).
  plan      planning 100,000 SKUs x 5 stores, then 200,000: client CPU, peak memory, growth.

Counts come from the emulators' own request logs (the client's counter is checked against them).
The minimum is derived from the dataset, term by term (printed), never from what the runner did:
what any client must read or write to do the job with these APIs, by their documented page sizes.
A script, not a test: timings belong to a machine; tests pin the call counts.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workloads import Remote, config_text  # noqa: E402

KATANA_PAGE, WOO_PAGE, SKUS_PER_LOOKUP = 250, 100, 100


def pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def runner_for(remote: Remote, tmp: str, **kwargs: Any):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from katana_woo_sdk.config import load_config_text
    from katana_woo_sdk.runner import Runner
    text = config_text(remote.info["stores"], Path(tmp) / "state.sqlite", **kwargs)
    config = load_config_text(text, filename="bench.yaml", base_dir=tmp, env=remote.env)
    return Runner(config, progress=False)


def split(routes: dict[str, int]) -> dict[str, int]:
    out = {"katana": 0, "woocommerce reads": 0, "woocommerce writes": 0}
    for key, n in routes.items():
        if key.startswith("katana "):
            out["katana"] += n
        elif key.split()[1] == "GET":
            out["woocommerce reads"] += n
        else:
            out["woocommerce writes"] += n
    return out


def checked(report: Any, server: dict[str, Any]) -> dict[str, int]:
    """The servers' counts per route; a difference from the client's own count is reported."""
    routes = server["routes"]
    client = {k: v for k, v in report.calls.items()}
    if sum(client.values()) != sum(routes.values()):
        print(f"  ! client counted {sum(client.values())} calls, the servers logged {sum(routes.values())}")
    return routes


def row(label: str, calls: int, minimum: int | None, terms: str = "") -> dict[str, Any]:
    return {"label": label, "calls": calls, "minimum": minimum,
            "ratio": round(calls / minimum, 3) if minimum else None, "terms": terms}


# --- workloads ---------------------------------------------------------------------------------------

def w1(args) -> dict[str, Any]:
    scale = 0.1 if args.quick else 1.0
    params = {"simple": int(6000 * scale), "parents": int(400 * scale), "variations": 10}
    with Remote("w1", **params) as remote, tempfile.TemporaryDirectory() as tmp:
        info = remote.info
        variants, stores = info["variants"], info["stores"]
        locations = sorted(set(stores.values()))
        with runner_for(remote, tmp) as runner:
            t0, c0 = time.perf_counter(), time.process_time()
            report = runner.apply()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            first = checked(report, remote.call("counts"))
            wrong = remote.call("verify_stock", stores)
            after = runner.apply()            # reads back the full run's margin and its own writes
            settle = checked(after, remote.call("counts"))
            again = runner.apply()
            second = checked(again, remote.call("counts"))
        # A first run (no state) lists each store's sales orders in Katana once: what a lost state
        # must learn before importing (never twice) and before the order lifecycle's transitions.
        k_min = 1 + len(locations) * pages(variants, KATANA_PAGE) + len(stores)
        per_store_lookup = min(pages(variants, SKUS_PER_LOOKUP),
                               pages(info["products_per_store"], WOO_PAGE) + info["variable_parents"])
        w_min = len(stores) * (per_store_lookup + 1 + 1)
        writes_min = sum(info["writes_minimum"].values())
        got, again_got = split(first), split(second)
        return {"workload": "w1", "dataset": info, "wall": wall, "cpu": cpu, "failures": report.has_failures,
                "stock_mismatches_after": wrong, "routes": first, "settle_routes": settle, "again_routes": second,
                "rows": [
                    row("Katana calls, full sync", got["katana"], k_min,
                        f"1 GET /locations + {len(locations)} locations x {pages(variants, KATANA_PAGE)} pages of "
                        f"GET /inventory?extend[]=variant ({variants} variants, 250 a page) + {len(stores)} stores x 1 "
                        f"GET /sales_orders?ecommerce_store_name= (the store's orders in Katana, none yet)"),
                    row("WooCommerce reads, full sync", got["woocommerce reads"], w_min,
                        f"{len(stores)} stores x ({per_store_lookup} SKU lookups, 100 SKUs a call + 1 listing of "
                        f"the open orders + 1 read of the orders changed before the writes)"),
                    row("WooCommerce writes", got["woocommerce writes"], writes_min,
                        "per store: ceil(changed simple / 100) products/batch + 1 variations/batch per parent "
                        f"with a changed variation ({info['writes_minimum']})"),
                    row("Katana calls, the run after", split(settle)["katana"], None,
                        "re-reads Katana's changes in the full run's clock margin (here: the seeding) and the "
                        "products the sync wrote"),
                    row("Katana calls, nothing changed", again_got["katana"], None, "acceptance: <= 5"),
                    row("WooCommerce calls per store, nothing changed",
                        math.ceil((again_got["woocommerce reads"] + again_got["woocommerce writes"]) / len(stores)),
                        None, "acceptance: <= 2"),
                ]}


def w2(args, buyers: int) -> dict[str, Any]:
    scale = 0.1 if args.quick else 1.0
    orders = int(600 * scale)
    params = {"orders": orders, "buyers": buyers if buyers == 1 else orders,
              "simple": int(6000 * scale), "parents": int(400 * scale), "variations": 10}
    period = 60 * args.time_scale
    with Remote("w2", katana_rate=60, time_scale=args.time_scale, **params) as remote, \
            tempfile.TemporaryDirectory() as tmp:
        info = remote.info
        stores = info["stores"]
        locations = sorted(set(stores.values()))
        with runner_for(remote, tmp, rate=(60, period)) as runner:
            t0, c0 = time.perf_counter(), time.process_time()
            report = runner.apply()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            server = remote.call("counts")
        routes = checked(report, server)
        creates = [t for t, r in zip(server["katana_times"], server["katana_routes"])
                   if r in ("POST /sales_orders", "POST /sales_order_shipping_fee", "POST /customers")]
        in_phase = [t for t in server["katana_times"] if creates and creates[0] <= t <= creates[-1]]
        span = (creates[-1] - creates[0]) if len(creates) > 1 else 0.0
        # The limit allows 60 requests in any window of `period`. Two views of the import phase: at
        # most 60 x (span / period + 1) requests fit in it (a full window's burst at its start), and,
        # after its first window, 60 per period sustained.
        fraction = len(in_phase) / (60 * (span / period + 1)) if span else None
        sustained_span = span - period
        sustained = (sum(1 for t in in_phase if t >= creates[0] + period) / (60 * sustained_span / period)
                     if sustained_span > 0 else None)
        customers_min = 1 + info["buyers"]      # one read shows who exists (none), then each created
        terms = (f"1 locations + {pages(info['ordered_skus'], SKUS_PER_LOOKUP)} variants by SKU "
                 f"({info['ordered_skus']} SKUs ordered) + 1 tax rates + {customers_min} customers (1 read + "
                 f"{info['buyers']} created) + {len(stores)} sales-order listings + {info['orders']} sales orders + "
                 f"{info['fees']} shipping fees + {len(locations)} x {pages(info['variants'], KATANA_PAGE)} "
                 "inventory pages after the imports")
        k_min = (1 + pages(info["ordered_skus"], SKUS_PER_LOOKUP) + 1 + customers_min + len(stores)
                 + info["orders"] + info["fees"] + len(locations) * pages(info["variants"], KATANA_PAGE))
        imported = sum(1 for r in report.results if r.action.kind == "order.import" and r.outcome == "applied")
        return {"workload": f"w2-{buyers}", "dataset": info, "wall": wall, "cpu": cpu,
                "failures": report.has_failures, "imported": imported, "routes": routes,
                "limit": {"period_seconds": period, "import_phase_seconds": round(span, 2),
                          "requests_in_phase": len(in_phase), "fraction_of_limit": round(fraction or 0, 3),
                          "sustained_fraction": round(sustained or 0, 3),
                          "429s": server["429"]},
                "rows": [row("Katana calls, new orders", split(routes)["katana"], k_min, terms)]}


def history(args) -> dict[str, Any]:
    sizes = [1_000, 10_000] if args.quick else [1_000, 100_000]
    out: dict[str, Any] = {"workload": "history", "rows": [], "sizes": {}}
    for n in sizes:
        # Each size in a fresh process: the peak RSS (`ru_maxrss`) is then this size's alone.
        proc = subprocess.run([sys.executable, __file__, "--history-size", str(n)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        s = out["sizes"][n] = json.loads(proc.stdout.strip().splitlines()[-1])
        got = split(s["routes"])
        out["rows"].append(row(f"Katana calls, nothing changed, {n:,} orders of history", got["katana"], None,
                               "acceptance: <= 5"))
        out["rows"].append(row(f"WooCommerce calls, nothing changed, {n:,} orders of history",
                               got["woocommerce reads"] + got["woocommerce writes"], None,
                               "acceptance: <= 2 (one store)"))
        out["failures"] = out.get("failures") or s["failures"]
    return out


def history_size(n: int) -> dict[str, Any]:
    """One size of `history`: the sandbox's build, the run adopting the history (a lost state: every
    sales order found in Katana), the run reading it shipped, then the run with nothing changed;
    wall and CPU time of each, and the client's peak RSS after each."""
    def rss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    phases: dict[str, dict[str, float]] = {}

    def timed(name: str, fn: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        phases[name] = {"wall": round(time.perf_counter() - t0, 2), "cpu": round(time.process_time() - c0, 2),
                        "peak_rss": rss()}
        return value

    t0 = time.perf_counter()
    with Remote("history", orders=n) as remote, tempfile.TemporaryDirectory() as tmp:
        build = time.perf_counter() - t0
        with runner_for(remote, tmp) as runner:
            adopt = timed("adopt", runner.apply)                        # adopts the orders found in Katana
            adopt_routes = remote.call("counts")["routes"]
            timed("finish_history", lambda: remote.call("finish_history"))
            shipped = timed("shipped", runner.apply)                    # reads the shipped orders (a big change)
            shipped_routes = remote.call("counts")["routes"]
            still = timed("no_change", runner.apply)                    # nothing changed
            routes = checked(still, remote.call("counts"))
            ledger = len(runner.state.ledger("shop-1", status="imported"))
    return {"setup_seconds": round(build, 1), "build_seconds": remote.info.get("build_seconds"),
            "wall": phases["no_change"]["wall"], "cpu": phases["no_change"]["cpu"], "peak_rss": rss(),
            "phases": phases, "routes": routes, "adopt_routes": adopt_routes, "shipped_routes": shipped_routes,
            "created_in_adoption": adopt_routes.get("katana POST /sales_orders", 0), "ledger_imported": ledger,
            "failures": adopt.has_failures or shipped.has_failures or still.has_failures}


def plan(args) -> dict[str, Any]:
    sizes = [10_000, 20_000] if args.quick else [100_000, 200_000]
    out: dict[str, Any] = {"workload": "plan", "rows": [], "sizes": {}}
    for n in sizes:
        # Each size in a fresh process: the peak RSS (`ru_maxrss`) is then this size's alone.
        proc = subprocess.run([sys.executable, __file__, "--plan-size", str(n), *(["--tls"] if args.tls else [])],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        out["sizes"][n] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["transport"] = "https (HTTP Basic to the stores)" if args.tls else "plain http (OAuth1-signed store calls)"
    small, big = (out["sizes"][n] for n in sizes)
    for n in sizes:
        s = out["sizes"][n]
        out["rows"].append(row(f"calls to plan {n:,} SKUs x 5 stores", s["calls"], s["minimum"], s["terms"]))
    out["growth"] = round(big["cpu"] / small["cpu"], 2)
    return out


def plan_size(n: int, *, tls: bool = False) -> dict[str, Any]:
    """One size of `plan`, over the sandbox's plain http (every store call OAuth1-signed, about half a
    millisecond of the client's CPU each) or, with `--tls`, over https as real stores and Katana are
    (HTTP Basic to the stores, and the client decrypting every answer: on this machine the dearer)."""
    with Remote("planning", skus=n, tls=tls) as remote, tempfile.TemporaryDirectory() as tmp:
        info = remote.info
        if "REQUESTS_CA_BUNDLE" in remote.env:
            os.environ["REQUESTS_CA_BUNDLE"] = remote.env["REQUESTS_CA_BUNDLE"]
        with runner_for(remote, tmp) as runner:
            c0, t0 = time.process_time(), time.perf_counter()
            planned = runner.plan()
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            routes = checked(planned, remote.call("counts"))
            tracemalloc.start()
            runner.plan()
            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            remote.call("counts")
        stores = info["stores"]
        locations = sorted(set(stores.values()))
        k = 1 + len(locations) * pages(n, KATANA_PAGE) + len(stores)   # + each store's sales orders (w1)
        w = len(stores) * (pages(n, SKUS_PER_LOOKUP) + 1)
        return {"cpu": cpu, "wall": wall, "peak_rss": rss, "traced_peak": traced, "calls": sum(routes.values()),
                "minimum": k + w, "routes": routes, "actions": sum(len(s.actions) for s in planned.stores),
                "terms": f"Katana {k} (1 locations + {len(locations)} x {pages(n, KATANA_PAGE)} inventory pages + "
                         f"{len(stores)} stores' sales orders) + "
                         f"WooCommerce {w} ({len(stores)} stores x ({pages(n, SKUS_PER_LOOKUP)} SKU lookups + 1 "
                         f"open-orders listing))"}


# --- output ------------------------------------------------------------------------------------------

def render(result: dict[str, Any]) -> str:
    lines = [f"== {result['workload']}"]
    if "dataset" in result:
        lines.append(f"   dataset: {json.dumps(result['dataset'], default=str)[:400]}")
    for r in result["rows"]:
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "-"
        minimum = r["minimum"] if r["minimum"] is not None else "-"
        lines.append(f"   {r['label']:58s} calls {r['calls']:6d}   minimum {minimum!s:>6}   ratio {ratio}")
        if r["terms"]:
            lines.append(f"      {r['terms']}")
    if "wall" in result:
        lines.append(f"   wall {result['wall']:.1f} s, client CPU {result['cpu']:.1f} s, "
                     f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (this process)")
    if "limit" in result:
        lim = result["limit"]
        lines.append(f"   limit: 60 requests / {lim['period_seconds']:g} s; import phase {lim['import_phase_seconds']} s, "
                     f"{lim['requests_in_phase']} requests: {lim['fraction_of_limit']:.3f} of what the limit allows "
                     f"in it (a window's burst included), {lim['sustained_fraction']:.3f} sustained after its first "
                     f"window; {lim['429s']} answered 429")
    if "stock_mismatches_after" in result:
        lines.append(f"   store items off their location's figure after the sync: {result['stock_mismatches_after']}")
    for key in ("routes", "settle_routes", "again_routes"):
        if key in result:
            lines.append(f"   {key}: " + ", ".join(f"{k} {v}" for k, v in sorted(result[key].items())))
    for n, s in (result.get("sizes") or {}).items():
        if "traced_peak" in s:
            lines.append(f"   {n:,} SKUs x 5 stores: client CPU {s['cpu']:.1f} s, wall {s['wall']:.1f} s, "
                         f"peak RSS {s['peak_rss'] / 2**20:.0f} MiB, Python peak {s['traced_peak'] / 2**20:.0f} MiB "
                         f"(tracemalloc), {s['calls']} calls, {s['actions']} actions")
        else:
            lines.append(f"   {n:,} orders: no-change run {s['wall']:.2f} s wall, {s['cpu']:.2f} s CPU; "
                         f"{s['ledger_imported']} orders in the ledger; routes {s['routes']}")
            lines.append(f"      the first run adopted the history with {sum(s['adopt_routes'].values())} calls, "
                         f"creating {s['created_in_adoption']} sales orders (0: none twice); the shipped run made "
                         f"{sum(s['shipped_routes'].values())} calls")
            lines.append(f"      sandbox built in {s['setup_seconds']} s; client peak RSS {s['peak_rss'] / 2**20:.0f} MiB; "
                         + "; ".join(f"{k} {v['wall']:.1f} s wall, {v['cpu']:.1f} s CPU, peak RSS "
                                     f"{v['peak_rss'] / 2**20:.0f} MiB" for k, v in s["phases"].items()))
    if "growth" in result:
        lines.append(f"   doubling the SKUs multiplies the client CPU by {result['growth']}")
    if "transport" in result:
        lines.append(f"   transport: {result['transport']}")
    if result.get("failures"):
        lines.append("   ! the run reported failures")
    return "\n".join(lines)


WORKLOADS = {"w1": w1, "w2-1": lambda a: w2(a, 1), "w2-600": lambda a: w2(a, 600), "history": history,
             "plan": plan}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--time-scale", type=float, default=0.05,
                        help="Katana's 60 s window is multiplied by this in w2 (default 0.05: 60 per 3 s)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON lines")
    parser.add_argument("--tls", action="store_true",
                        help="plan: serve Katana and the stores over https (HTTP Basic to the stores), not plain http")
    parser.add_argument("--plan-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--history-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plan_size:
        print(json.dumps(plan_size(args.plan_size, tls=args.tls)))
        return 0
    if args.history_size:
        print(json.dumps(history_size(args.history_size)))
        return 0
    for name in args.workloads or list(WORKLOADS):
        result = WORKLOADS[name](args)
        print(json.dumps(result, default=str) if args.json else render(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
