"""Helpers for runner and engine tests against the sandbox: a config written from a dict, a runner
on it, and small queries of the emulators' state."""
from __future__ import annotations

import hashlib
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from katana_woo_sdk.config import load_config_text
from katana_woo_sdk.runner import Runner


# Set by tests/_postgres.py for the `[postgresql]` run of a test: a session database's URL. Each state
# a test names (its `state_path`) is then an empty schema of its own in that database (STATE_SCHEMA).
STATE_URL: str | None = None
STATE_SCHEMA: Callable[[Path], str] = lambda path: "s_" + hashlib.sha256(str(path).encode()).hexdigest()[:20]


def state_block(state_path: Path) -> dict[str, Any]:
    """The config's `state:` for a test's state: its SQLite file, or (see STATE_URL) a PostgreSQL schema."""
    if STATE_URL is None:
        return {"path": str(state_path)}
    return {"url": STATE_URL, "schema": STATE_SCHEMA(state_path)}


def env_name(store: str) -> str:
    return store.upper().replace("-", "_")


def config_text(stores: Mapping[str, Mapping[str, Any]], *, state_path: Path, rate: int = 6000,
                period: float = 60.0, defaults: Mapping[str, Any] | None = None,
                extra: Mapping[str, Any] | None = None) -> str:
    """YAML for `stores` = {name: {location: ..., orders: {...}, stock: {...}}} on the sandbox;
    `extra`: more top-level keys (e.g. `locations`)."""
    doc: dict[str, Any] = {
        "version": 1,
        "katana": {"base_url": "${KATANA_BASE_URL}", "api_key_env": "KATANA_API_KEY",
                   "rate_limit": {"requests": rate, "period_seconds": period}},
        "stores": [],
        "state": state_block(state_path),
    }
    if defaults:
        doc["defaults"] = dict(defaults)
    for name, opts in stores.items():
        entry = {"name": name, "url": f"${{WOO_{env_name(name)}_URL}}",
                 "consumer_key_env": f"WOO_{env_name(name)}_KEY", "consumer_secret_env": f"WOO_{env_name(name)}_SECRET"}
        entry.update(opts)
        doc["stores"].append(entry)
    doc.update(extra or {})
    return yaml.safe_dump(doc, sort_keys=False)


def make_runner(sandbox, tmp_path: Path, stores: Mapping[str, Mapping[str, Any]], *, state_name: str = "state.sqlite",
                **kwargs: Any) -> Runner:
    text = config_text(stores, state_path=tmp_path / state_name, **kwargs)
    path = tmp_path / "katana-woo.yaml"
    path.write_text(text)
    config = load_config_text(text, filename=str(path), base_dir=tmp_path, env=sandbox.env())
    return Runner(config, progress=False)


def sales_orders(sandbox, *, include_deleted: bool = True) -> list[dict]:
    return sandbox.katana.sales_orders(include_deleted=include_deleted)


def orders_for(sandbox, store: str, woo_id: int) -> list[dict]:
    host = sandbox.stores[store].url.split("://", 1)[1]
    return [so for so in sales_orders(sandbox) if so.get("ecommerce_store_name") == host
            and str(so.get("ecommerce_order_id")) == str(woo_id)]


def available(sandbox, sku: str, location: str) -> Decimal:
    return sandbox.katana.inventory_of(sku, location)["available"]


def custom_runner(sandbox, tmp_path: Path, stores: Mapping[str, Mapping[str, Any]], *, attempts: int = 2,
                  read_timeout: float = 60.0, batch_limit: int | None = None, state_name: str = "state.sqlite",
                  **kwargs: Any) -> "Runner":
    """A runner whose clients retry `attempts` times 10 ms apart (a test can exhaust retries quickly),
    wait `read_timeout` s for an answer and send at most `batch_limit` stock writes per batch.
    The runner closes the clients it was given when it is closed (see `_OwningRunner`)."""
    from katana_woo_sdk._http import CallCounter, RetryPolicy, Timeouts
    from katana_woo_sdk.katana import KatanaClient
    from katana_woo_sdk.woo import WooClient

    text = config_text(stores, state_path=tmp_path / state_name, **kwargs)
    config = load_config_text(text, filename=str(tmp_path / "katana-woo.yaml"), base_dir=tmp_path,
                              env=sandbox.env())
    counter = CallCounter()
    retry = RetryPolicy(max_attempts=attempts, base=0.01, cap=0.02)
    timeouts = Timeouts(connect=2.0, read=read_timeout)
    katana = KatanaClient(config.katana.api_key.reveal(), base_url=config.katana.base_url, retry=retry,
                          counter=counter, rate=config.katana.rate_limit.requests,
                          period=config.katana.rate_limit.period_seconds, timeouts=timeouts)
    extra = {"batch_limit": batch_limit} if batch_limit else {}
    woo = {s.name: WooClient(s.url, s.consumer_key.reveal(), s.consumer_secret.reveal(), retry=retry,
                             counter=counter, name=s.name, timeouts=timeouts, **extra) for s in config.stores}
    return _OwningRunner(config, katana=katana, woo=woo, progress=False, calls=counter)


class _OwningRunner(Runner):
    """A Runner handed its clients that still closes them (tests build clients with special settings)."""

    def close(self) -> None:
        super().close()
        self.katana.close()
        for client in self.woo.values():
            client.close()


class Shoppers:
    """Shoppers buying on a background thread: random lines of `skus` in random `stores`, one order
    every `every` seconds, until stopped. Records each order placed (store, WooCommerce order)."""

    def __init__(self, sandbox, stores, skus, *, every: float = 0.01, seed: int = 7, max_qty: int = 2,
                 statuses=("processing", "processing", "processing", "on-hold"), limit: int = 400,
                 attempts: int | None = None):
        """`attempts`: stop by itself after that many checkouts (placed or refused), so a test can wait
        for a fixed amount of shopping (`join`) and get the same orders on every run."""
        import random
        import threading

        self.sandbox, self.stores, self.skus = sandbox, list(stores), list(skus)
        self.every, self.max_qty, self.statuses, self.limit = every, max_qty, tuple(statuses), limit
        self.attempts = attempts
        self.random = random.Random(seed)
        self.placed: list[tuple[str, dict]] = []
        self.placed_at: list[tuple[str, dict, float]] = []   # with time.monotonic() once it exists
        self.refused = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shoppers", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.placed) < self.limit and \
                (self.attempts is None or len(self.placed) + self.refused < self.attempts):
            store = self.random.choice(self.stores)
            shop = self.sandbox.stores[store]
            lines = [(sku, self.random.randint(1, self.max_qty)) for sku in self.random.sample(self.skus, 2)]
            if any((shop.stock_of(sku) or 0) < qty for sku, qty in lines):
                self.refused += 1            # a checkout refuses what the shelf does not have
            else:
                try:
                    order = shop.place_order(lines, status=self.random.choice(self.statuses))
                    self.placed_at.append((store, order, time.monotonic()))
                    self.placed.append((store, order))
                except BaseException as exc:  # reported by stop(): a shopper must not die silently
                    self.errors.append(exc)
                    return
            self._stop.wait(self.every)

    def __enter__(self) -> "Shoppers":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self, timeout: float = 10) -> None:
        """Wait for the thread to end by itself (`attempts`, `limit`) or after `stop`."""
        self._thread.join(timeout)
        if self.errors:
            raise self.errors[0]


def taken_not_committed(sandbox, stores) -> dict[str, int]:
    """SKU -> units on orders of `stores` that WooCommerce deducted (processing, on-hold) and that
    Katana has no live or deleted sales order for: what the stores took that Katana has not committed."""
    keys = {(so.get("ecommerce_store_name"), str(so.get("ecommerce_order_id"))) for so in sales_orders(sandbox)}
    total: dict[str, int] = {}
    for store in stores:
        shop = sandbox.stores[store]
        host = shop.url.split("://", 1)[1]
        for order in shop.orders():
            if order["status"] not in ("processing", "on-hold") or (host, str(order["id"])) in keys:
                continue
            for li in order["line_items"]:
                if li.get("sku"):
                    total[li["sku"]] = total.get(li["sku"], 0) + li["quantity"]
    return total
