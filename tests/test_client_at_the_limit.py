"""A client that behaves at Katana's real limit (issue 10, point 3).

`Retry-After` is honoured on a 503 as on a 429; a refused connection fails within seconds, with its
reason; a create that failed ambiguously is never sent again in the same run (held as unconfirmed,
the next run's listing decides); every client of one (key, base URL) shares one budget, the
stricter setting winning.
"""
from __future__ import annotations

import socket
import time

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk._http import RetryPolicy
from katana_woo_sdk.errors import TransportError
from katana_woo_sdk.katana import KatanaClient
from katana_woo_sdk.ratelimit import _clear_registry, bucket_for_key

from _harness import make_runner, orders_for
from test_http import FakeClock, FakeSession, client, connect_refused, make_response


def test_retry_after_is_honoured_on_a_503_as_on_a_429():
    clock = FakeClock()
    session = FakeSession(make_response(503, {"statusCode": 503, "name": "ServiceUnavailable"},
                                        headers={"Retry-After": "9"}),
                          make_response(200, {"data": []}))
    assert client(session, clock).get("/inventory").status == 200
    assert clock.sleeps == [9.0]


def test_a_refused_connection_gives_up_after_a_few_attempts_with_the_reason():
    clock = FakeClock()
    session = FakeSession(*[connect_refused() for _ in range(10)])
    with pytest.raises(TransportError) as err:
        client(session, clock).get("/locations")
    assert err.value.connect_failed and "refused" in str(err.value).lower()
    assert len(session.calls) == RetryPolicy().connect_attempts == 3
    assert sum(clock.sleeps) < 4.0                       # seconds, not the half minute of full backoff


def test_a_refused_connection_to_a_real_port_fails_fast():
    with socket.socket() as sock:                         # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    katana = KatanaClient("k" * 20, base_url=f"http://127.0.0.1:{port}/v1", limiter=False)
    started = time.monotonic()
    with pytest.raises(TransportError) as err:
        katana.locations.list()
    assert time.monotonic() - started < 5.0 and err.value.connect_failed
    assert "could not connect" in str(err.value)


def test_one_budget_per_key_and_base_url_the_stricter_setting_winning():
    _clear_registry()
    try:
        a = bucket_for_key("key-1", 60, 60.0, base_url="https://api.katanamrp.com/v1")
        b = bucket_for_key("key-1", 120, 60.0, base_url="https://api.katanamrp.com/v1/")
        assert a is b and (a.rate, a.period) == (60, 60.0)           # a looser setting never loosens it
        c = bucket_for_key("key-1", 30, 90.0, base_url="https://api.katanamrp.com/v1")
        assert c is a and (a.rate, a.period) == (30, 90.0)           # a stricter one tightens it
        other = bucket_for_key("key-1", 60, 60.0, base_url="http://127.0.0.1:9/v1")
        assert other is not a                                         # another server, another budget
        clients = [KatanaClient("key-1", base_url="https://api.katanamrp.com/v1", rate=60) for _ in range(3)]
        assert {id(k.limiter) for k in clients} == {id(a)}
    finally:
        _clear_registry()


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        sb.katana.add_variant("W1", sales_price="10.00")
        shop = sb.add_store("shop-a")
        shop.add_product("W1", "W1", "10.00", stock=50)
        yield sb


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 504, "delay": 1.0}, {"drop": True}],
                         ids=["500", "timeout", "dropped"])
def test_an_ambiguous_create_is_never_sent_again_in_the_run_and_the_next_run_decides(box, tmp_path, fault):
    """The create fails without Katana acting (and Katana does not show the order): the order is
    held as unconfirmed, the create is not sent a second time, and the next run imports it once."""
    order = box.stores["shop-a"].place_order([("W1", 1)])
    box.katana.server.inject_fault(method="POST", path="/sales_orders$", **fault)
    from _harness import custom_runner
    with custom_runner(box, tmp_path, {"shop-a": {"location": "A"}}, read_timeout=0.5) as runner:
        first = runner.apply()
        assert box.katana.server.count("POST", "/sales_orders$") <= 1        # sent once, never again
        [hold] = first.store("shop-a").holds
        assert (hold.woo_order_id, hold.reason) == (order["id"], "create_unconfirmed")
        assert orders_for(box, "shop-a", order["id"]) == []
        second = runner.apply()
        assert not second.has_failures, str(second)
        assert len(orders_for(box, "shop-a", order["id"])) == 1
        assert runner.state.ledger_get("shop-a", order["id"]).status == "imported"
    deadline = time.monotonic() + 3          # a delayed fault is logged once its delay has passed
    while box.katana.server.count("POST", "/sales_orders$") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert box.katana.server.count("POST", "/sales_orders$") == 2     # the first run's one, the second's one
