"""`katana-woo run`'s receiver, inbox and worker against the sandbox: signatures (recorded real
deliveries included), pings, duplicates, replays, out-of-order deliveries, the loop end to end,
and a WooCommerce webhook that disabled itself."""
from __future__ import annotations

import json

import pytest
import requests

import _katana_gateway as gateway
from _harness import orders_for, sales_orders
from _service import Running, load, post_katana, post_woo, until
from _shared import require_shared
from katana_woo_sdk import sandbox
from katana_woo_sdk.runner import Runner
from katana_woo_sdk.service import webhooks
from katana_woo_sdk.service.signatures import katana_signature, verify_katana, verify_woo, woo_signature


# --- signatures -------------------------------------------------------------------------------------

def test_recorded_woocommerce_deliveries_verify_and_tampering_does_not():
    recorded = json.loads(require_shared("cassettes", "woocommerce-10.0.2", "webhooks", "deliveries.json")
                          .read_text())
    signed = [d for d in recorded["deliveries"] if "X-WC-Webhook-Signature" in d["headers"]]
    assert len(signed) >= 10
    for d in signed:
        body, header = d["body"].encode(), d["headers"]["X-WC-Webhook-Signature"]
        assert verify_woo(body, header, recorded["secret"])
        assert not verify_woo(body, header, recorded["secret"] + "x")          # wrong secret
        assert not verify_woo(body + b" ", header, recorded["secret"])          # one byte more
    assert not verify_woo(signed[0]["body"].encode(), None, recorded["secret"])  # missing
    assert not verify_woo(signed[0]["body"].encode(), "not base64!", recorded["secret"])


def test_katana_signature_hex_with_or_without_prefix():
    body, token = b'{"action":"sales_order.created"}', "73f82127d57a2cea"
    hexed = katana_signature(body, token)
    assert verify_katana(body, hexed, token) and verify_katana(body, "sha256=" + hexed, token)
    assert verify_katana(body, hexed.upper(), token)
    assert not verify_katana(body, hexed, "0" * 16) and not verify_katana(body, None, token)
    assert not verify_katana(body, woo_signature(body, token), token)      # base64 is not Katana's hex


# --- the receiver -------------------------------------------------------------------------------------

@pytest.fixture
def box():
    with sandbox.start() as sb:
        yield sb


def test_receiver_refuses_unsigned_and_wrongly_signed_and_stores_a_replay_once(box, tmp_path):
    config, env = load(box, tmp_path)
    secret = env["WOO_SHOP_US_WEBHOOK_SECRET"]
    svc = Running(config, every=3600, debounce=3600)    # acknowledged, never processed here
    try:
        svc.wait_ready()
        body = {"id": 424242, "status": "processing"}
        assert post_woo(svc.url, "shop-us", body, None).status_code == 401                       # missing
        assert post_woo(svc.url, "shop-us", body, None, signature="AAAA").status_code == 401    # invalid
        assert post_woo(svc.url, "shop-us", body, env["WOO_SHOP_EU_WEBHOOK_SECRET"]).status_code == 401  # wrong secret
        assert post_woo(svc.url, "shop-nope", body, secret).status_code == 401                  # unknown store
        assert svc.service.inbox.inbox_entries() == []
        ping = requests.post(f"{svc.url}/webhooks/woocommerce/shop-us", data=b"webhook_id=7",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
        assert ping.status_code == 200 and svc.service.inbox.inbox_entries() == []
        first = post_woo(svc.url, "shop-us", body, secret, delivery_id="d" * 32)
        replay = post_woo(svc.url, "shop-us", body, secret, delivery_id="d" * 32)
        assert first.status_code == replay.status_code == 200
        assert (first.json()["result"], replay.json()["result"]) == ("new", "duplicate")
        assert len(svc.service.inbox.inbox_entries()) == 1
        event = {"resource_type": "sales_order", "action": "sales_order.updated", "webhook_id": 1,
                 "object": {"id": 1, "status": "NOT_SHIPPED"}}
        assert post_katana(svc.url, event, None).status_code == 401
        assert post_katana(svc.url, event, "0123456789abcdef").status_code == 401     # no token installed yet
        metrics = requests.get(f"{svc.url}/metrics", timeout=5).text
        assert 'katana_woo_webhook_deliveries_total{result="unauthorized",source="woocommerce"} 4.0' in metrics
        assert "katana_woo_inbox_depth 1.0" in metrics
        assert requests.get(f"{svc.url}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{svc.url}/readyz", timeout=5).json()["lock_held"] is True
    finally:
        svc.close()


def test_duplicate_and_out_of_order_deliveries_import_once_and_the_loop_follows(box, tmp_path):
    config, env = load(box, tmp_path)
    svc = Running(config, every=3600, debounce=0.3)
    try:
        svc.wait_ready()
        # Katana wants an https URL; the sandbox also takes http on loopback, which the gateway check refuses.
        with Runner(config, progress=False) as r, gateway.unchecked():
            report = webhooks.install(config, r.katana, r.woo, svc.url)
        assert report.exit_code == 0, report
        us = box.stores["shop-us"]
        hooks_before = len(us.webhooks.sender.sent)
        order = us.place_order([("MUG-CLASSIC", 2)])
        so = until(lambda: orders_for(box, "shop-us", order["id"]), 20, "the sales order")
        until(lambda: svc.service.inbox.inbox_depth() == 0, 30, "the inbox to drain")
        secret = env["WOO_SHOP_US_WEBHOOK_SECRET"]
        # The same order again: updated before created, a replay of each, both long after.
        for topic in ("order.updated", "order.created", "order.updated", "order.created"):
            assert post_woo(svc.url, "shop-us", order, secret, topic=topic).status_code == 200
        token = (tmp_path / "katana-webhook.token").read_text().strip()
        event = {"resource_type": "sales_order", "action": "sales_order.created", "webhook_id": 1,
                 "object": {"id": str(so[0]["id"]), "status": "NOT_SHIPPED"}}
        assert post_katana(svc.url, event, token, prefix="sha256=").status_code == 200
        until(lambda: svc.service.inbox.inbox_depth() == 0, 30, "the inbox to drain")
        assert len(orders_for(box, "shop-us", order["id"])) == 1
        entries = svc.service.inbox.inbox_entries()
        assert len(us.webhooks.sender.sent) > hooks_before           # the sandbox delivered by itself
        runs = [e for e in entries if e.outcome.startswith("run ")]
        unchanged = [e for e in entries if "unchanged" in e.outcome]
        echo = [e for e in entries if "our own import" in e.outcome]
        assert runs and unchanged and echo      # the replays re-read the order: nothing new, no run
        assert {e.status for e in entries[-5:]} <= {"done", "coalesced"}
        assert all(e.status in ("done", "coalesced") for e in entries)

        # Katana changes the stock: both stores on the location follow within seconds.
        box.katana.set_stock("MUG-CLASSIC", "Main Warehouse", 123)
        figure = box.katana.inventory_of("MUG-CLASSIC", "Main Warehouse")
        want = int(figure["in_stock"] - figure["committed"])
        until(lambda: box.stores["shop-eu"].stock_of("MUG-CLASSIC") == want
              and box.stores["shop-outlet"].stock_of("MUG-CLASSIC") == want, 30, "the stores to follow Katana")
        metrics = requests.get(f"{svc.url}/metrics", timeout=5).text
        assert 'katana_woo_orders_imported_total{store="shop-us"}' in metrics
        assert 'katana_woo_api_calls_total{status="200",system="katana"}' in metrics
        assert "katana_woo_event_to_done_seconds_count" in metrics
    finally:
        svc.close()


def test_a_disabled_woocommerce_webhook_still_syncs_by_polling_and_status_says_why(box, tmp_path):
    config, env = load(box, tmp_path)
    with Runner(config, progress=False) as r:
        # A receiver that is not there: every delivery fails, and WooCommerce gives up after the 7th.
        with gateway.unchecked():     # http on loopback, as above
            report = webhooks.install(config, r.katana, r.woo, "http://127.0.0.1:9")
        assert report.exit_code == 0
        us = box.stores["shop-us"]
        placed = [us.place_order([("MUG-CLASSIC", 1)]) for _ in range(8)]
        until(lambda: {h.status for h in us.webhooks.hooks.values() if h.topic == "order.created"} == {"disabled"},
              30, "WooCommerce to disable the webhook")
        svc = Running(config, every=3600)
        try:
            svc.wait_ready()
        finally:
            svc.close()
        assert all(len(orders_for(box, "shop-us", o["id"])) == 1 for o in placed)
        status = webhooks.status(config, r.katana, r.woo, r.state, "http://127.0.0.1:9")
        assert status.exit_code == 1 and any("disabled" in p and "shop-us" in p for p in status.problems)
        condition = r.status().stores[[s.store for s in r.status().stores].index("shop-us")].condition(
            webhooks.CONDITION)
        assert condition.status == "False" and condition.reason == "WebhookDisabled"
        assert "webhooks install" in condition.message
        assert r.status().stores[1].phase == "Degraded"
        with gateway.unchecked():
            again = webhooks.install(config, r.katana, r.woo, "http://127.0.0.1:9")
        assert any(row.action == "re-enabled" for row in again.rows)
    assert len(sales_orders(box)) >= 8


def test_the_readme_example_runs(monkeypatch):
    """README, "Continuous sync": the sandbox, `run`, an order in Katana and stock following."""
    import contextlib
    import io
    from pathlib import Path

    from test_readme import code_blocks, section
    (block,) = code_blocks(section("Continuous sync: `katana-woo run`"), "python")
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), gateway.unchecked():    # http on loopback, as above
        exec(compile(block, "README.md (Continuous sync)", "exec"), {"__name__": "__readme__"})
    seconds = float(out.getvalue().split("after ")[1].split(" s")[0])
    assert seconds < 10


def test_a_standby_serves_its_probes_and_inbox_then_takes_over_when_the_holder_stops(box, tmp_path):
    """`run --standby` (the second replica): it waits for the state lock as long as it takes, ready
    and receiving meanwhile (its deliveries go to the shared inbox, which the holder drains), and
    works as soon as the holder lets go."""
    import threading

    from katana_woo_sdk.service import Service, ServiceOptions
    config, env = load(box, tmp_path)
    active = Running(config, every=3600)
    standby = Service(config, ServiceOptions(every=3600, listen=("127.0.0.1", 0), debounce=0.2, standby=True))
    waiting = threading.Thread(target=standby.start, daemon=True)
    try:
        active.wait_ready()
        waiting.start()
        ready = until(lambda: standby.url and requests.get(f"{standby.url}/readyz", timeout=5), 20, "the standby")
        assert ready.status_code == 200 and ready.json()["standby"] is True and ready.json()["lock_held"] is False
        assert requests.get(f"{standby.url}/healthz", timeout=5).status_code == 200
        order = box.stores["shop-us"].place_order([("MUG-CLASSIC", 1)])
        assert post_woo(standby.url, "shop-us", order, env["WOO_SHOP_US_WEBHOOK_SECRET"],
                        topic="order.created").status_code == 200
        until(lambda: orders_for(box, "shop-us", order["id"]), 20, "the holder to import it")
        assert not standby.holds_lock
        active.close()
        waiting.join(30)
        assert standby.holds_lock
    finally:
        active.close()
        standby.close()
        waiting.join(10)
