"""`sandbox.start()`: Katana plus three stores up and down fast, on loopback only, with a usable env().

Also the demo dataset's promises (the cases `configs/demo.yaml` and the engines rely on) and
`serve()`, the body of `katana-woo sandbox up`.
"""
from __future__ import annotations

import io
import threading
import socket
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests

from katana_woo_sdk import sandbox
from katana_woo_sdk.sandbox import demo
from katana_woo_sdk.sandbox._server import EmulatorServer

STORES = ("shop-eu", "shop-us", "shop-outlet")


def _servers(box):
    return [box.katana.server] + [store.server for store in box.stores.values()]


def test_start_serves_every_emulator_and_stop_closes_every_port():
    # How fast this is (the aim: well under a second for Katana + 3 stores) is measured by
    # bench/bench_sandbox.py, not asserted here.
    box = sandbox.start(None, stores=STORES)
    ports = [server.port for server in _servers(box)]
    assert len(set(ports)) == 4 and all(ports)
    for port in ports:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    box.stop()
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_everything_listens_on_loopback_only():
    with sandbox.start(None, stores=STORES) as box:
        for server in _servers(box):
            assert server._httpd.socket.getsockname()[0] == "127.0.0.1"
        urls = [box.katana.base_url] + [store.url for store in box.stores.values()]
        assert {urlsplit(u).hostname for u in urls} == {"127.0.0.1"}
        assert len({urlsplit(u).port for u in urls}) == 4
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer("any", host="0.0.0.0")


def test_env_names_every_variable_and_the_values_work():
    with sandbox.start(None, stores=STORES) as box:
        env = box.env()
        expected = {"KATANA_BASE_URL", "KATANA_API_KEY"} | {
            f"WOO_{name.upper().replace('-', '_')}_{part}" for name in STORES for part in ("URL", "KEY", "SECRET")}
        assert set(env) == expected
        assert env["KATANA_BASE_URL"].endswith("/v1") and env["WOO_SHOP_OUTLET_URL"] == box.stores["shop-outlet"].url
        answer = requests.get(env["KATANA_BASE_URL"] + "/factory",
                              headers={"Authorization": f"Bearer {env['KATANA_API_KEY']}"})
        assert answer.status_code == 200
        assert env["WOO_SHOP_EU_KEY"] == box.stores["shop-eu"].consumer_key
        assert len(set(env.values())) == len(env)   # every credential and URL distinct


def test_credentials_are_fresh_per_start_and_never_in_reprs():
    with sandbox.start(None, stores=["shop-eu"]) as a, sandbox.start(None, stores=["shop-eu"]) as b:
        assert a.katana.api_key != b.katana.api_key
        assert a.stores["shop-eu"].consumer_secret != b.stores["shop-eu"].consumer_secret
        text = repr(a) + repr(a.katana) + repr(a.stores["shop-eu"])
        for secret in (a.katana.api_key, a.stores["shop-eu"].consumer_key, a.stores["shop-eu"].consumer_secret):
            assert secret not in text
        assert "\n" not in repr(a) and "shop-eu" in repr(a)


def test_stop_is_idempotent_and_add_store_checks_names():
    box = sandbox.start(None, stores=["shop-eu"])
    extra = box.add_store("shop_uk")
    extra_url = extra.url
    assert box.env()["WOO_SHOP_UK_URL"] == extra_url
    with pytest.raises(ValueError):
        box.add_store("shop-eu")
    with pytest.raises(ValueError):
        box.add_store("shop-UK")   # would share WOO_SHOP_UK_* with shop_uk
    box.stop()
    box.stop()
    assert "stopped" in repr(box)
    with pytest.raises(RuntimeError):
        box.add_store("late")
    with pytest.raises(requests.ConnectionError):
        requests.get(extra_url, timeout=2)


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="unknown dataset"):
        sandbox.start("everything")


def test_rate_and_time_scale_reach_katana():
    with sandbox.start(None, time_scale=0.01, katana_rate=5) as box:
        assert box.katana.limiter.rate == 5 and box.katana.limiter.period == pytest.approx(0.6)
    with sandbox.start(None, katana_rate=None) as box:
        assert box.katana.limiter is None


def test_demo_dataset():
    with sandbox.start() as box:
        katana = box.katana
        assert set(box.stores) == set(STORES)
        factory = requests.get(katana.base_url + "/factory",
                               headers={"Authorization": f"Bearer {katana.api_key}"}).json()
        assert factory["default_sales_location_id"] == katana.location_id(demo.MAIN)
        assert {loc["name"] for loc in katana.locations()} == {demo.MAIN, demo.EAST}
        skus = {v["sku"] for v in katana.variants()}
        assert len(skus) == 50 and demo.UNKNOWN_SKU not in skus and set(demo.KATANA_ONLY_SKUS) <= skus
        for name in ("shop-eu", "shop-us"):
            store = box.stores[name]
            assert store.product_by_sku(demo.NO_STOCK_SKU)["manage_stock"] is False
            assert store.product_by_sku(demo.PARENT_STOCK_SKU)["manage_stock"] == "parent"
        assert box.stores["shop-us"].product_by_sku(demo.UNKNOWN_SKU)["sku"] == demo.UNKNOWN_SKU
        in_stock = [katana.inventory_of(sku, loc)["in_stock"] for sku in ("MUG-CLASSIC", "TSHIRT-CLASSIC-M")
                    for loc in (demo.MAIN, demo.EAST)]
        assert all(q >= 0 for q in in_stock) and any(q > 0 for q in in_stock)
        wholesale = [so for so in katana.sales_orders() if so["order_no"] == "WHOLESALE-1001"]
        assert wholesale and katana.inventory_of("MUG-CLASSIC", demo.MAIN)["committed"] == Decimal(4)
        assert box.stores["shop-eu"].stock_of("MUG-CLASSIC") is not None


def test_demo_is_deterministic():
    def snapshot():
        with sandbox.start() as box:
            return ([(v["sku"], str(box.katana.inventory_of(v["sku"], demo.MAIN)["in_stock"]))
                     for v in box.katana.variants()],
                    {name: [box.stores[name].stock_of(sku) for sku in demo.OUTLET_SIMPLE] for name in STORES})
    assert snapshot() == snapshot()


def test_serve_prints_urls_and_exports_then_stops_on_request():
    out, stop = io.StringIO(), threading.Event()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(sandbox.serve(None, stores=["shop-eu"], out=out,
                                                                         stop_event=stop, katana_rate=None)))
    worker.start()
    deadline = time.monotonic() + 5
    while "Press Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    text = out.getvalue()
    stop.set()
    worker.join(5)
    assert result == [0]
    assert "export KATANA_BASE_URL='http://127.0.0.1:" in text and "export WOO_SHOP_EU_SECRET='cs_" in text
    url = next(line.split("'")[1] for line in text.splitlines() if line.startswith("export KATANA_BASE_URL"))
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/factory", timeout=2)
