"""The sandbox: an emulated Katana and emulated WooCommerce stores on 127.0.0.1, for rehearsals and tests.

Used by `katana-woo demo`, `katana-woo sandbox up` (through `serve`), the project's tests and
anyone who wants to try a config or their own code without touching a real system:

    from katana_woo_sdk import sandbox
    with sandbox.start() as box:                  # Katana + shop-eu, shop-us, shop-outlet, demo data
        env = box.env()                           # KATANA_BASE_URL, KATANA_API_KEY, WOO_SHOP_EU_URL, ...
        box.katana.inventory_of("TSHIRT-CLASSIC-M", "Main Warehouse")
    with sandbox.start(snapshot="snapshot.json") as box:   # a copy of real accounts (`katana-woo snapshot`)
        ...

The emulators are independent re-implementations of both APIs (`katana_emulator`,
`woo_emulator`); this package imports nothing else of `katana_woo_sdk`, so it cannot share a
bug with the clients it checks. Credentials are random for every start and never appear in a
repr; `serve` prints them on purpose, since they only open this local sandbox.
"""
from __future__ import annotations

import os
import re
import secrets
import ssl
import sys
import threading
from typing import Any, Callable, Mapping, Sequence, TextIO

from .katana_emulator import KatanaEmulator

__all__ = ["DATASETS", "KatanaEmulator", "Sandbox", "WooEmulator", "serve", "start"]

DATASETS = ("demo",)


def __getattr__(name: str) -> Any:
    # The Woo emulator is imported on first use, so the Katana half stays usable on its own.
    if name == "WooEmulator":
        from .woo_emulator import WooEmulator
        return WooEmulator
    raise AttributeError(name)


def env_prefix(store: str) -> str:
    """`shop-eu` -> `WOO_SHOP_EU`: upper case, anything but letters and digits becomes '_'."""
    return "WOO_" + re.sub(r"[^A-Z0-9]", "_", store.upper())


class Sandbox:
    """A running Katana emulator and its stores. Context manager; `stop()` may be called twice."""

    def __init__(self, katana: KatanaEmulator, *, store_factory: Callable[[str], Any] | None = None,
                 tls: ssl.SSLContext | None = None):
        self.katana = katana
        self.stores: dict[str, Any] = {}
        self._store_factory = store_factory or _new_store
        self._tls = tls
        self._stopped = False

    def add_store(self, name: str) -> Any:
        """Start one more emulated store (fresh random credentials) and return it."""
        if self._stopped:
            raise RuntimeError("the sandbox is stopped")
        if name in self.stores:
            raise ValueError(f"store {name!r} exists")
        if any(env_prefix(other) == env_prefix(name) for other in self.stores):
            raise ValueError(f"store {name!r} would share environment variables with another store")
        store = self._store_factory(name)
        if self._tls is not None:
            # Served over TLS, the store is what WordPress calls `is_ssl()`: it takes HTTP Basic.
            store.server.tls, store.https_mode = self._tls, True
        store.start()
        self.stores[name] = store
        return store

    def env(self) -> dict[str, str]:
        """The variables a config for this sandbox refers to (see `configs/demo.yaml`)."""
        out = {"KATANA_BASE_URL": self.katana.base_url, "KATANA_API_KEY": self.katana.api_key}
        for name, store in self.stores.items():
            prefix = env_prefix(name)
            out[f"{prefix}_URL"] = store.url
            out[f"{prefix}_KEY"] = store.consumer_key
            out[f"{prefix}_SECRET"] = store.consumer_secret
        return out

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # Each server needs a poll interval to notice shutdown; stopping them side by side keeps
        # the whole sandbox's stop well under a second.
        emulators = [self.katana, *self.stores.values()]
        threads = [threading.Thread(target=e.stop, name="sandbox-stop", daemon=True) for e in emulators]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else self.katana.base_url
        return f"<Sandbox katana={state} stores={','.join(self.stores) or '-'}>"


def _new_store(name: str) -> Any:
    from .woo_emulator import WooEmulator
    return WooEmulator(name, consumer_key="ck_" + secrets.token_hex(20), consumer_secret="cs_" + secrets.token_hex(20))


def start(dataset: str | None = "demo", *, time_scale: float = 1.0, katana_rate: int | None = 60,
          stores: Sequence[str] | None = None,
          snapshot: str | os.PathLike[str] | Mapping[str, Any] | None = None,
          tls: ssl.SSLContext | None = None) -> Sandbox:
    """Start Katana and the stores on free loopback ports and load `dataset` ("demo" or None).

    `stores` names extra (empty) stores; the demo dataset always has shop-eu, shop-us and
    shop-outlet. `katana_rate` is Katana's limit per 60 s (None: no limit); `time_scale`
    multiplies the limit's window (0.01: 60 requests per 0.6 s), for fast tests of throttling.
    `snapshot` (a file written by `katana-woo snapshot`, or its data) replaces the dataset: Katana
    and one store per snapshot store hold what the real accounts held, with the same ids (see
    `_snapshot` for the format). `tls`: a server-side `ssl.SSLContext` (e.g. from `trustme`) to serve
    Katana and every store over https, as the real ones are; the caller gives its clients the CA.
    """
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)} (or None for empty)")
    data = None
    if snapshot is not None:
        from . import _snapshot
        data, dataset = _snapshot.read(snapshot), None
    katana = KatanaEmulator(rate=katana_rate, time_scale=time_scale)
    katana.server.tls = tls
    box = Sandbox(katana.start(), tls=tls)
    try:
        for name in stores or ():
            box.add_store(name)
        if dataset == "demo":
            from .demo import load_demo
            load_demo(box)
        if data is not None:
            _snapshot.seed_katana(katana, data)
            for entry in data.get("stores") or ():
                store = box.stores.get(entry["name"]) or box.add_store(entry["name"])
                _snapshot.seed_store(store, entry)
    except BaseException:
        box.stop()
        raise
    return box


def serve(dataset: str | None = "demo", *, time_scale: float = 1.0, katana_rate: int | None = 60,
          stores: Sequence[str] | None = None, out: TextIO | None = None,
          stop_event: threading.Event | None = None) -> int:
    """`katana-woo sandbox up`: start, print the URLs and `export` lines, block until Ctrl-C.

    The credentials are printed: they are random, fresh for this run and open nothing but this
    local sandbox. `stop_event` lets a caller (a test) end the wait instead of Ctrl-C.
    """
    out = out or sys.stdout
    box = start(dataset, time_scale=time_scale, katana_rate=katana_rate, stores=stores)
    try:
        print(f"Katana sandbox:      {box.katana.base_url}", file=out)
        for name, store in box.stores.items():
            print(f"WooCommerce {name + ':':<9} {store.url}", file=out)
        print("\n# paste into another shell to point a config at this sandbox:", file=out)
        for key, value in box.env().items():
            print(f"export {key}='{value}'", file=out)
        print("\nPress Ctrl-C to stop.", file=out, flush=True)
        waiter = stop_event or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        box.stop()
    return 0
