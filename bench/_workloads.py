"""The datasets `bench_calls.py` measures, and the child process that serves them.

Called by `bench/bench_calls.py` only. The sandbox runs in a child process (`Remote`), so the
parent's CPU time and memory are the client's alone; the parent asks the child, by name, to build a
workload, to change it between runs (`COMMANDS`), and for the emulators' own request logs, which are
the counts the bench reports (the client's counter is compared with them, never trusted alone).

Every builder returns the facts the computed minimum is derived from (how many variants, which
store items differ from their location's figure, ...), taken from the dataset itself, not from what
the runner did.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOCATIONS = ("L1", "L2")


def store_names(n: int) -> list[str]:
    return [f"shop-{i + 1}" for i in range(n)]


def location_of(store: str) -> str:
    """Stores alternate between the two locations: shop-1 and shop-3 share L1, shop-2 has L2."""
    return LOCATIONS[(int(store.rsplit("-", 1)[1]) - 1) % len(LOCATIONS)]


# --- catalogue ------------------------------------------------------------------------------------

def catalogue(simple: int, parents: int, variations: int) -> tuple[list[str], dict[str, list[str]]]:
    """(simple SKUs, {parent SKU: variation SKUs}). Katana has one variant per sellable SKU (the
    variations; a variable product's parent is Katana's product, not a variant)."""
    return ([f"S-{i:06d}" for i in range(simple)],
            {f"P-{p:05d}": [f"P-{p:05d}-{v:02d}" for v in range(variations)] for p in range(parents)})


def seed_catalogue(box: Any, simple: list[str], variable: dict[str, list[str]], stores: list[str],
                   rng: random.Random, *, stock: bool = True) -> dict[tuple[str, str], int]:
    """Katana variants with stock at both locations; every store sells the whole catalogue with its
    location's figure as its stock (in step: nothing to push until something changes)."""
    katana = box.katana
    for i, name in enumerate(LOCATIONS):
        katana.add_location(name, is_primary=i == 0)
    levels: dict[tuple[str, str], int] = {}
    for sku in simple:
        katana.add_variant(sku, product_name=sku)
    for parent, skus in variable.items():
        for sku in skus:
            katana.add_variant(sku, product_name=parent)
    for sku in [*simple, *(s for skus in variable.values() for s in skus)]:
        for loc in LOCATIONS:
            qty = rng.randint(0, 60) if stock else 1000
            katana.set_stock(sku, loc, qty)
            levels[sku, loc] = qty
    for name in stores:
        shop = box.add_store(name)
        loc = location_of(name)
        for sku in simple:
            shop.add_product(sku, f"Product {sku}", "10.00", stock=levels[sku, loc])
        for parent, skus in variable.items():
            shop.add_variable_product(parent, f"Product {parent}", [
                {"sku": s, "price": "12.00", "stock": levels[s, loc], "attributes": {"Size": str(k)}}
                for k, s in enumerate(skus)])
    return levels


def writes_minimum(changed: set[str], simple: set[str], parent_of: dict[str, str]) -> int:
    """WooCommerce writes to set `changed` items: products/batch takes 100 updates a call, and a
    variation can only be written through its parent's variations/batch (the real store refuses
    variation ids in products/batch: `tests/cassettes`), one call per parent."""
    simple_changed = sum(1 for s in changed if s in simple)
    parents = {parent_of[s] for s in changed if s in parent_of}
    return math.ceil(simple_changed / 100) + len(parents)


# --- W1: a stock sync on 10,000 SKUs --------------------------------------------------------------

def build_w1(box: Any, *, simple: int = 6000, parents: int = 400, variations: int = 10, stores: int = 3,
             changed: float = 0.02, seed: int = 1) -> dict[str, Any]:
    """The catalogue in step everywhere, then `changed` of Katana's figures at each location moved
    (as receipts and sales in Katana would move them)."""
    rng = random.Random(seed)
    names = store_names(stores)
    simple_skus, variable = catalogue(simple, parents, variations)
    levels = seed_catalogue(box, simple_skus, variable, names, rng)
    skus = [*simple_skus, *(s for v in variable.values() for s in v)]
    moved: dict[str, set[str]] = {}
    for loc in LOCATIONS:
        moved[loc] = set(rng.sample(skus, round(len(skus) * changed)))
        for sku in moved[loc]:
            box.katana.set_stock(sku, loc, levels[sku, loc] + rng.choice((-3, -2, -1, 1, 2, 5)) % 61)
    parent_of = {s: p for p, v in variable.items() for s in v}
    simple_set = set(simple_skus)
    return {"variants": len(skus), "store_items": {n: len(skus) for n in names},
            "products_per_store": simple + parents, "variable_parents": parents,
            "stores": {n: location_of(n) for n in names},
            "writes_minimum": {n: writes_minimum(moved[location_of(n)], simple_set, parent_of) for n in names},
            "changed": {n: len(moved[location_of(n)]) for n in names}}


def verify_stock(box: Any, stores: dict[str, str]) -> int:
    """Store items whose stock differs from their location's in stock - committed: 0 after a sync."""
    katana = box.katana
    wrong = 0
    for name, loc in stores.items():
        shop = box.stores[name]
        for variant in katana.variants():
            if variant.get("sku") is None:
                continue
            figure = katana.inventory_of(variant["sku"], loc)
            try:
                level = shop.stock_of(variant["sku"])
            except KeyError:
                continue
            if level != max(int(figure["in_stock"] - figure["committed"]), 0):
                wrong += 1
    return wrong


# --- W2: 600 new orders ---------------------------------------------------------------------------

def build_w2(box: Any, *, orders: int = 600, buyers: int = 1, stores: int = 3, simple: int = 6000,
             parents: int = 400, variations: int = 10, seed: int = 2) -> dict[str, Any]:
    """The W1 catalogue in step (plenty of stock), then `orders` processing orders spread over the
    stores, by `buyers` distinct e-mails; every 4th order has shipping, every 5th a 20 % tax line."""
    rng = random.Random(seed)
    names = store_names(stores)
    simple_skus, variable = catalogue(simple, parents, variations)
    seed_catalogue(box, simple_skus, variable, names, rng, stock=False)
    box.katana.add_tax_rate("20", "VAT 20%")
    sellable = [*simple_skus, *(s for v in variable.values() for s in v)]
    ordered: set[str] = set()
    fees = 0
    for n in range(orders):
        lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(sellable, rng.randint(1, 3))]
        ordered.update(s for s, _ in lines)
        extra: dict[str, Any] = {}
        if n % 4 == 0:
            extra["shipping_total"] = "4.90"
            fees += 1
        if n % 5 == 0:
            extra["tax_percent"] = "20"
        buyer = n % buyers
        box.stores[names[n % len(names)]].place_order(
            lines, billing={"first_name": "Buyer", "last_name": str(buyer), "email": f"buyer{buyer}@example.test"},
            **extra)
    return {"variants": len(sellable), "stores": {n: location_of(n) for n in names}, "orders": orders,
            "buyers": min(buyers, orders), "fees": fees, "ordered_skus": len(ordered), "taxed": True}


# --- H: a long order history ----------------------------------------------------------------------

def build_history(box: Any, *, orders: int = 100_000, skus: int = 200, seed: int = 3) -> dict[str, Any]:
    """One store, one location, `orders` processing orders, each with the sales order our import
    makes for it already in Katana (as if imported before the state was lost): the first run
    adopts them all, `finish_history` then ships them on both sides, as a year of trade would.
    History is history: both emulators' business clocks read a day back while it is made."""
    rng = random.Random(seed)
    katana = box.katana
    katana.add_location("L1", is_primary=True)
    catalogue_skus = [f"H-{i:05d}" for i in range(skus)]
    shop = box.add_store("shop-1")
    _yesterday(box)
    for sku in catalogue_skus:
        katana.add_variant(sku, product_name=sku)
        katana.set_stock(sku, "L1", 10 * orders)
        shop.add_product(sku, f"Product {sku}", "10.00", stock=10 * orders)
    customer = katana.add_customer("History Buyer", email="history@example.test")
    loc = katana.location_id("L1")
    variant_ids = {s: katana.variant(s)["id"] for s in catalogue_skus}
    # The key our import writes: the store's `ecommerce_store_name` (by default its URL's host:port,
    # as the runner's config resolves it) and its default order number. Another key would make the
    # first run import every order anew instead of adopting it.
    store_key = urlsplit(shop.url).netloc.lower()
    made = _HISTORY.setdefault(id(box), [])
    for n in range(orders):
        sku = rng.choice(catalogue_skus)
        order = shop.place_order([(sku, 1)], billing={"first_name": "History", "last_name": "Buyer",
                                                      "email": "history@example.test"})
        so = katana.create_sales_order({
            "order_no": f"WC-shop-1-{order['number']}", "customer_id": customer["id"], "location_id": loc,
            "ecommerce_order_type": "woocommerce", "ecommerce_store_name": store_key,
            "ecommerce_order_id": str(order["id"]),
            "sales_order_rows": [{"variant_id": variant_ids[sku], "quantity": 1, "price_per_unit": 10}]})
        made.append((order["id"], so["id"]))
    _today(box)
    return {"orders": orders, "stores": {"shop-1": "L1"}, "skus": skus, "ecommerce_store_name": store_key}


# The (WooCommerce order id, sales order id) pairs `build_history` made, per sandbox: what
# `finish_history` ships, without listing (and rendering) every order of both emulators to find them.
_HISTORY: dict[int, list[tuple[int, int]]] = {}


def finish_history(box: Any) -> int:
    """Every order completed in the store and its sales order delivered in Katana, after the first
    run adopted them: the next run sees the whole history shipped since it last looked (one big
    change on both sides: every order and sales order changed, one inventory movement each).

    The store dates its completions `OVERLAP` back: a run's order walk starts that long before the
    store's clock at the last walk, so a completion dated now would be read once more by the run
    after the shipped one (by design: see `orders.overlap_minutes`), and the quiet run measured last
    would measure that instead. Dated so, the shipped run still reads them (they are after the
    adopting run's walk less the overlap: hence the second's wait, the store dates to the second),
    the run after does not. Katana's deliveries are dated now."""
    shop = box.stores["shop-1"]
    time.sleep(1.1)
    shop.set_clock(lambda: time.time() - OVERLAP)
    done = 0
    for order_id, so_id in _HISTORY.get(id(box), ()):
        shop.set_order_status(order_id, "completed")
        box.katana.deliver_sales_order(so_id)
        done += 1
    shop.set_clock()
    return done


OVERLAP = 600     # seconds: `orders.overlap_minutes`' default


def _yesterday(box: Any) -> None:
    box.katana.set_clock(lambda: time.time() - 86_400)
    for shop in box.stores.values():
        shop.set_clock(lambda: time.time() - 86_400)


def _today(box: Any) -> None:
    box.katana.set_clock()
    for shop in box.stores.values():
        shop.set_clock()


# --- P: planning a big catalogue ------------------------------------------------------------------

def build_planning(box: Any, *, skus: int = 100_000, stores: int = 5, seed: int = 4) -> dict[str, Any]:
    """`skus` simple products in Katana (two locations) and in each of `stores` stores, 1 % off."""
    rng = random.Random(seed)
    names = store_names(stores)
    simple_skus = [f"S-{i:07d}" for i in range(skus)]
    levels = seed_catalogue(box, simple_skus, {}, names, rng)
    for loc in LOCATIONS:
        for sku in rng.sample(simple_skus, skus // 100):
            box.katana.set_stock(sku, loc, (levels[sku, loc] + 1) % 61)
    return {"variants": skus, "stores": {n: location_of(n) for n in names}}


BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "w1": build_w1, "w2": build_w2, "history": build_history, "planning": build_planning}


# --- between runs ---------------------------------------------------------------------------------

def counts(box: Any, clear: bool = True) -> dict[str, Any]:
    """The emulators' own request logs: per route, 429s, and the times of Katana's requests."""
    out: dict[str, Any] = {"routes": {}, "429": 0, "katana_times": [], "katana_routes": []}
    for system, server in [("katana", box.katana.server), *(("woocommerce", s.server) for s in box.stores.values())]:
        for r in server.requests():
            key = f"{system} {r.route}"
            out["routes"][key] = out["routes"].get(key, 0) + 1
            out["429"] += r.status == 429 and system == "katana"
            if system == "katana":
                out["katana_times"].append(r.at.timestamp())
                out["katana_routes"].append(r.route)
        if clear:
            server.clear_log()
    return out


COMMANDS: dict[str, Callable[..., Any]] = {
    "counts": counts, "verify_stock": verify_stock, "finish_history": finish_history}


# --- the child process ----------------------------------------------------------------------------

def _serve(conn: Any, workload: str, params: dict[str, Any], katana_rate: int | None, time_scale: float,
           tls: bool = False) -> None:
    from katana_woo_sdk import sandbox
    from katana_woo_sdk.sandbox import _server
    # The sandbox's handler writes headers and body in two sends on a keep-alive connection; without
    # TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every request. Real servers set it.
    _server._RequestHandler.disable_nagle_algorithm = True
    started = time.perf_counter()
    context, ca_dir = _tls_context() if tls else (None, None)
    with sandbox.start(None, katana_rate=katana_rate, time_scale=time_scale, tls=context) as box:
        info = BUILDERS[workload](box, **params)
        info["build_seconds"] = round(time.perf_counter() - started, 1)
        for s in [box.katana.server, *(s.server for s in box.stores.values())]:
            s.clear_log()
        env = box.env()
        if ca_dir is not None:   # the clients' trust: requests reads this variable (`_http._env_ca_bundle`)
            env["REQUESTS_CA_BUNDLE"] = str(Path(ca_dir.name) / "ca.pem")
        conn.send((env, info))
        while True:
            name, args = conn.recv()
            if name == "stop":
                break
            try:
                conn.send(("ok", COMMANDS[name](box, *args)))
            except Exception as exc:  # report to the parent rather than hang it
                conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _tls_context() -> tuple[Any, Any]:
    """A server context from a throwaway CA (trustme), and the directory holding that CA's PEM."""
    import ssl
    import tempfile
    import trustme
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    folder = tempfile.TemporaryDirectory(prefix="bench-ca-")
    ca.cert_pem.write_to_path(str(Path(folder.name) / "ca.pem"))
    return context, folder


class Remote:
    """A sandbox holding one workload, in a child process. `tls`: Katana and the stores served over
    https, as the real ones are (the stores then take HTTP Basic, not OAuth1); `env` then carries
    `REQUESTS_CA_BUNDLE`, which the caller puts in its own environment before making clients."""

    def __init__(self, workload: str, *, katana_rate: int | None = None, time_scale: float = 1.0, tls: bool = False,
                 **params: Any):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, workload, params, katana_rate, time_scale, tls),
                                 daemon=True)
        self._proc.start()
        self.env, self.info = self._conn.recv()

    def call(self, name: str, *args: Any) -> Any:
        self._conn.send((name, args))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"sandbox command {name}: {value}")
        return value

    def close(self) -> None:
        try:
            self._conn.send(("stop", ()))
        except OSError:
            pass
        self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()

    def __enter__(self) -> "Remote":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def config_text(stores: dict[str, str], state: Path, *, rate: tuple[int, float] | None = None,
                initial_import: str | None = None) -> str:
    """The runner's YAML for a workload: each store at its location, secrets from the child's env."""
    requests_, period = rate or (1_000_000, 60)
    lines = ["version: 1", "katana:", "  base_url: ${KATANA_BASE_URL}", "  api_key_env: KATANA_API_KEY",
             f"  rate_limit: {{requests: {requests_}, period_seconds: {period}}}", "stores:"]
    for name, loc in stores.items():
        env = "WOO_" + name.upper().replace("-", "_")
        lines += [f"  - name: {name}", f"    url: ${{{env}_URL}}", f"    consumer_key_env: {env}_KEY",
                  f"    consumer_secret_env: {env}_SECRET", f"    location: {loc}"]
        if name == initial_import:
            lines += ["    stock: {initial_import: true}"]
    lines += ["state:", f"  path: {state}"]
    return "\n".join(lines) + "\n"
