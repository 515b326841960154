"""The sandbox over https (`sandbox.start(tls=...)`), as real stores and Katana are served.

Over TLS a store is what WordPress calls `is_ssl()`: the client sends HTTP Basic, not OAuth1, and
trusts the server through the CA bundle a config names (`verify:`) or `REQUESTS_CA_BUNDLE`. A wrong
CA is a certificate error at once, never retried. The CA and certificate come from trustme, a
throwaway CA made for tests.
"""
from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.errors import TransportError
from katana_woo_sdk.katana import KatanaClient
from katana_woo_sdk.woo import WooClient

trustme = pytest.importorskip("trustme", reason="trustme (in the test extra) makes the throwaway CA")


@pytest.fixture(scope="module")
def ca() -> "trustme.CA":
    return trustme.CA()


@pytest.fixture(scope="module")
def box(ca: "trustme.CA"):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with sandbox.start("demo", tls=context, katana_rate=None) as started:
        yield started


@pytest.fixture(scope="module")
def bundle(ca: "trustme.CA", tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_every_server_is_https(box):
    env = box.env()
    assert env["KATANA_BASE_URL"].startswith("https://127.0.0.1:")
    assert all(env[f"{sandbox.env_prefix(n)}_URL"].startswith("https://") for n in box.stores)


def test_a_store_over_tls_takes_basic_auth_and_the_named_ca(box, bundle):
    env = box.env()
    store = box.stores["shop-eu"]
    with WooClient(env["WOO_SHOP_EU_URL"], env["WOO_SHOP_EU_KEY"], env["WOO_SHOP_EU_SECRET"],
                   verify=str(bundle)) as woo:
        assert woo.auth_mode == "basic"
        products = list(woo.products.iter())
    assert products and all(store.product_by_sku(p.sku)["id"] == p.id for p in products if p.sku)
    sent = store.server.requests("GET")[-1]
    assert sent.status == 200 and not any(k.startswith("oauth_") for k in sent.query)   # Basic, not signed


def test_katana_over_tls_with_the_ca_from_the_environment(box, bundle, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    env = box.env()
    katana = KatanaClient(env["KATANA_API_KEY"], base_url=env["KATANA_BASE_URL"])
    assert {loc.name for loc in katana.locations.list()} == {loc["name"] for loc in box.katana.locations()}


def test_a_server_the_ca_does_not_vouch_for_fails_at_once(box, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    env = box.env()
    started = time.monotonic()
    with WooClient(env["WOO_SHOP_EU_URL"], env["WOO_SHOP_EU_KEY"], env["WOO_SHOP_EU_SECRET"],
                   verify=str(other)) as woo, pytest.raises(TransportError) as caught:
        woo.products.first_page()
    assert time.monotonic() - started < 5
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate" in str(caught.value).lower()
    assert caught.value.retryable is False
    assert env["WOO_SHOP_EU_SECRET"] not in str(caught.value)
