"""The HTTP layer: retries (which, how long, never a blind re-create), sanitising, errors, paginators.

No network and no real sleeping: a scripted fake session answers, a fake clock records the waits.
`FakeSession`/`make_response` are reused by the Katana client tests.
"""
from __future__ import annotations

import http.client
import json
import logging
import random
import socket
from email.utils import formatdate

import pytest
import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from katana_woo_sdk._http import (CallCounter, HttpClient, RetryPolicy, parse_retry_after, route_template,
                                  sanitise_link_header, sanitise_url)
from katana_woo_sdk.errors import (AuthError, NotFoundError, RateLimitedError, RejectedError, ServerError,
                                   TransportError, UnexpectedResponseError)
from katana_woo_sdk.ratelimit import TokenBucket

BASE = "https://api.katanamrp.com/v1"


# --- fakes -----------------------------------------------------------------------------------------

class FakeClock:
    """Monotonic + wall clock that only moves when something sleeps."""

    def __init__(self, start: float = 1000.0, wall: float = 1_700_000_000.0):
        self.now = start
        self.wall_offset = wall - start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


def make_response(status: int = 200, body=None, *, headers=None, url: str = BASE, raw: bytes | None = None):
    resp = requests.Response()
    resp.status_code = status
    hdrs = CaseInsensitiveDict(headers or {})
    if raw is None:
        raw = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
    resp._content = raw
    resp.headers = hdrs
    resp.url = url
    resp.encoding = "utf-8"
    return resp


class FakeSession:
    """Answers from a script: each entry a Response, an exception, or a callable(method, url, kw)."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls: list[tuple[str, str, dict]] = []
        self.closed = False

    def request(self, method, url, **kw):
        self.calls.append((method, url, kw))
        if not self.script:
            raise AssertionError(f"unexpected request {method} {url} {kw.get('params')}")
        item = self.script.pop(0)
        if callable(item) and not isinstance(item, requests.Response):
            item = item(method, url, kw)
        if isinstance(item, BaseException):
            raise item
        if not item.url or item.url == BASE:
            prepared = requests.Request(method, url, params=kw.get("params")).prepare()
            item.url = prepared.url
        return item

    def close(self):
        self.closed = True


def connect_refused() -> requests.exceptions.ConnectionError:
    new = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    new.__context__ = ConnectionRefusedError(111, "Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/x", new))


def remote_disconnected() -> requests.exceptions.ConnectionError:
    proto = urllib3.exceptions.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))
    return requests.exceptions.ConnectionError(proto)


def client(session, clock=None, **kw) -> HttpClient:
    clock = clock or FakeClock()
    return HttpClient("katana", BASE, session=session, sleep=clock.sleep, rng=random.Random(7),
                      wall_clock=clock.wall, **kw)


# --- sanitising ------------------------------------------------------------------------------------

def test_sanitise_url_redacts_credentials_and_oauth_params():
    url = ("https://shop.example/wp-json/wc/v3/orders?page=2&consumer_key=ck_abc&consumer_secret=cs_def"
           "&oauth_signature=sig%3D&oauth_nonce=n1&oauth_whatever=x&status=processing")
    out = sanitise_url(url)
    for secret in ("ck_abc", "cs_def", "sig%3D", "n1", "=x&"):
        assert secret not in out
    assert "page=2" in out and "status=processing" in out
    assert out.count("REDACTED") == 5
    assert sanitise_url("https://user:pw123@host/x") == "https://user:REDACTED@host/x"
    assert sanitise_url(BASE + "/variants?sku=A&sku=B") == BASE + "/variants?sku=A&sku=B"


def test_sanitise_link_header():
    link = ('<https://shop.example/wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_2&page=3>; rel="next", '
            '<https://shop.example/wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_2&page=1>; rel="prev"')
    out = sanitise_link_header(link)
    assert "ck_1" not in out and "cs_2" not in out
    assert 'page=3>; rel="next"' in out and 'page=1>; rel="prev"' in out


def test_link_header_sanitised_on_response_and_errors_never_carry_secrets():
    secret_url = "https://shop.example/wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_2"
    link = f'<{secret_url}&page=2>; rel="next"'
    session = FakeSession(make_response(200, [], headers={"Link": link}, url=secret_url),
                          make_response(401, {"code": "woocommerce_rest_cannot_view", "message": "no"},
                                        url=secret_url))
    http = HttpClient("woocommerce", "https://shop.example/wp-json/wc/v3", session=session, sleep=lambda s: None)
    resp = http.get("/orders", {"consumer_key": "ck_1", "consumer_secret": "cs_2"})
    assert "ck_1" not in resp.headers["Link"] and "ck_1" not in resp.url and "ck_1" not in repr(resp)
    with pytest.raises(AuthError) as err:
        http.get("/orders")
    assert "ck_1" not in str(err.value) and "cs_2" not in err.value.url and err.value.hint


# --- retries ---------------------------------------------------------------------------------------

def test_retry_after_seconds_is_honoured():
    clock = FakeClock()
    session = FakeSession(make_response(429, {"statusCode": 429, "name": "TooManyRequests"}, headers={"Retry-After": "7"}),
                          make_response(200, {"data": []}))
    assert client(session, clock).get("/locations").status == 200
    assert clock.sleeps == [7.0]
    assert len(session.calls) == 2


def test_retry_after_http_date_is_honoured():
    clock = FakeClock()
    when = formatdate(clock.wall() + 12, usegmt=True)
    session = FakeSession(make_response(429, {}, headers={"Retry-After": when}), make_response(200, {"data": []}))
    client(session, clock).get("/locations")
    assert clock.sleeps == [pytest.approx(12, abs=1)]


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after(formatdate(1000.0, usegmt=True), now=990.0) == pytest.approx(10.0)


def test_huge_retry_after_is_not_waited_for():
    clock = FakeClock()
    session = FakeSession(make_response(429, {}, headers={"Retry-After": "86400"}))
    with pytest.raises(RateLimitedError) as err:
        client(session, clock).get("/locations")
    assert err.value.retry_after == 86400 and clock.sleeps == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_reads_retry_on_gateway_errors(status):
    session = FakeSession(make_response(status, {"message": "bad gateway"}), make_response(200, {"data": [1]}))
    assert client(session).get("/x").data == {"data": [1]}
    assert len(session.calls) == 2


@pytest.mark.parametrize("exc", [connect_refused(), remote_disconnected(), requests.exceptions.ReadTimeout("read"),
                                 requests.exceptions.ConnectTimeout("connect")])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "PUT"])
def test_idempotent_requests_retry_on_transport_errors(exc, method):
    session = FakeSession(exc, make_response(200, {"ok": True}))
    assert client(session).request(method, "/sales_orders/5").data == {"ok": True}
    assert len(session.calls) == 2


def test_reads_do_not_retry_500_or_4xx():
    session = FakeSession(make_response(500, {"message": "boom"}))
    with pytest.raises(ServerError):
        client(session).get("/x")
    session = FakeSession(make_response(422, {"error": {"statusCode": 422, "code": "VALIDATION_FAILED",
                                                         "message": "bad", "details": [{"path": ".x"}]}}))
    with pytest.raises(RejectedError) as err:
        client(session).get("/x")
    assert err.value.code == "VALIDATION_FAILED" and err.value.details == [{"path": ".x"}]
    assert len(session.calls) == 1


@pytest.mark.parametrize("failure", [
    make_response(500, {"message": "boom"}), make_response(502, {}), make_response(503, {}), make_response(504, {}),
    requests.exceptions.ReadTimeout("read timed out"), remote_disconnected(),
    requests.exceptions.ConnectionError(ConnectionResetError(104, "reset")),
])
def test_create_is_never_resent_after_the_server_may_have_acted(failure):
    session = FakeSession(failure, make_response(200, {"id": 1}))
    with pytest.raises((ServerError, TransportError, UnexpectedResponseError)) as err:
        client(session).request("POST", "/sales_orders", json={"a": 1}, creates=True)
    assert len(session.calls) == 1
    if isinstance(err.value, TransportError):
        assert err.value.connect_failed is False


def test_post_defaults_to_create_semantics():
    session = FakeSession(make_response(503, {}), make_response(200, {}))
    with pytest.raises(ServerError):
        client(session).request("POST", "/sales_orders", json={})
    assert len(session.calls) == 1
    session = FakeSession(make_response(503, {}), make_response(200, {"update": []}))
    client(session).request("POST", "/products/batch", json={}, creates=False)
    assert len(session.calls) == 2


@pytest.mark.parametrize("failure", [
    make_response(429, {"name": "TooManyRequests"}, headers={"Retry-After": "2"}),
    connect_refused(), requests.exceptions.ConnectTimeout("connect timed out"),
])
def test_create_is_resent_after_429_or_failed_connect(failure):
    session = FakeSession(failure, make_response(200, {"id": 1}))
    assert client(session).request("POST", "/sales_orders", json={}, creates=True).data == {"id": 1}
    assert len(session.calls) == 2


def test_transport_error_says_whether_connect_failed():
    with pytest.raises(TransportError) as err:
        client(FakeSession(*[connect_refused()] * 6)).get("/x")
    assert err.value.connect_failed is True
    with pytest.raises(TransportError) as err:
        client(FakeSession(requests.exceptions.ReadTimeout("t")), retry=RetryPolicy(max_attempts=1)).get("/x")
    assert err.value.connect_failed is False


def test_gaierror_counts_as_failed_connect():
    new = urllib3.exceptions.NameResolutionError("h", None, socket.gaierror(-2, "Name or service not known"))
    exc = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", new))
    session = FakeSession(exc, make_response(200, {"id": 1}))
    assert client(session).request("POST", "/x", json={}, creates=True).data == {"id": 1}


def test_ssl_errors_are_not_retried():
    session = FakeSession(requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(TransportError) as err:
        client(session).get("/x")
    assert len(session.calls) == 1 and err.value.retryable is False


def test_max_attempts_then_the_last_error():
    session = FakeSession(*[make_response(503, {})] * 4)
    with pytest.raises(ServerError):
        client(session, retry=RetryPolicy(max_attempts=4)).get("/x")
    assert len(session.calls) == 4


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(max_attempts=10, base=1.0, cap=8.0)
    rng = random.Random(1)
    for attempt in range(1, 10):
        raw = min(8.0, 2 ** (attempt - 1))
        waits = {policy.backoff(attempt, rng) for _ in range(50)}
        assert all(raw / 2 <= w <= raw for w in waits)
        assert len(waits) > 1  # jittered
    clock = FakeClock()
    session = FakeSession(*[make_response(503, {})] * 9, make_response(200, {}))
    client(session, clock, retry=policy).get("/x")
    assert len(clock.sleeps) == 9 and max(clock.sleeps) <= 8.0
    assert clock.sleeps[5] >= 4.0  # grows: attempt 6 waits at least half the cap


def test_retry_log_lines_name_the_url_and_hold_no_secrets(caplog):
    secret = "https://shop.example/wp-json/wc/v3/orders?consumer_key=ck_live_1&consumer_secret=cs_live_2"
    session = FakeSession(make_response(503, {}, url=secret), remote_disconnected(), make_response(200, []))
    http = HttpClient("woocommerce", "https://shop.example/wp-json/wc/v3", session=session, sleep=lambda s: None)
    with caplog.at_level(logging.DEBUG):
        http.get("/orders", {"consumer_key": "ck_live_1", "consumer_secret": "cs_live_2"})
        http_url = http.url_for("/orders?consumer_key=ck_live_1&oauth_signature=abc")
        http2 = HttpClient("woocommerce", "https://shop.example", session=FakeSession(remote_disconnected(),
                           make_response(200, [])), sleep=lambda s: None)
        http2.get(http_url)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert "503" in warnings[0].getMessage() and "retry 1/5 in" in warnings[0].getMessage()
    assert "/orders" in warnings[2].getMessage() and "no answer: RemoteDisconnected" in warnings[2].getMessage()
    for record in caplog.records:
        text = record.getMessage()
        assert "ck_live_1" not in text and "cs_live_2" not in text and "abc" not in text


def test_transport_error_message_is_sanitised():
    url = "https://shop.example/x?consumer_secret=cs_9"
    exc = requests.exceptions.ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: /x?consumer_secret=cs_9")
    with pytest.raises(TransportError) as err:
        HttpClient("woocommerce", "https://shop.example", session=FakeSession(*[exc] * 6),
                   sleep=lambda s: None).get(url)
    assert "cs_9" not in str(err.value)


# --- answers ---------------------------------------------------------------------------------------

def test_html_202_is_unexpected_response_not_json_error():
    html = b"<html><body>Please complete the captcha</body></html>"
    session = FakeSession(make_response(202, raw=html, headers={"Content-Type": "text/html"}))
    with pytest.raises(UnexpectedResponseError) as err:
        client(session).get("/x")
    assert err.value.status == 202 and "bot protection" in err.value.hint
    assert len(session.calls) == 1


def test_2xx_garbage_with_json_content_type_is_unexpected():
    session = FakeSession(make_response(200, raw=b"<br />Notice: PHP junk{", headers={"Content-Type": "application/json"}))
    with pytest.raises(UnexpectedResponseError):
        client(session).get("/x")


def test_204_and_bom():
    session = FakeSession(make_response(204), make_response(200, raw=b'\xef\xbb\xbf{"a": 1}',
                                                            headers={"Content-Type": "application/json"}))
    http = client(session)
    assert http.request("DELETE", "/sales_orders/1").data is None
    assert http.get("/x").data == {"a": 1}


@pytest.mark.parametrize("body", [
    {"error": {"statusCode": 404, "name": "NotFoundError", "message": "Entity not found", "code": "NOT_FOUND"}},
    {"statusCode": 404, "name": "NotFoundError", "message": "Entity not found", "code": "NOT_FOUND"},
])
def test_both_katana_error_shapes(body):
    with pytest.raises(NotFoundError) as err:
        client(FakeSession(make_response(404, body))).get("/sales_orders/9")
    assert err.value.code == "NOT_FOUND" and err.value.api_message == "Entity not found"
    assert "GET" in str(err.value) and "/sales_orders/9" in str(err.value)


def test_request_shape_headers_timeouts_verify_and_redirects():
    session = FakeSession(make_response(200, {}), make_response(200, {}))
    http = HttpClient("katana", BASE, session=session, headers={"Authorization": "Bearer k"}, verify=False)
    http.get("/variants", {"sku": ["A", "B"]})
    http.request("PATCH", "/sales_orders/1", json={"location_id": 2})
    (m1, u1, k1), (m2, u2, k2) = session.calls
    assert u1 == BASE + "/variants" and k1["params"] == {"sku": ["A", "B"]}
    assert k1["headers"]["Accept"] == "application/json" and k1["headers"]["User-Agent"].startswith("katana-woo/")
    assert k1["headers"]["Authorization"] == "Bearer k" and k1["timeout"] == (10.0, 60.0) and k1["verify"] is False
    assert k1["allow_redirects"] is True and k2["allow_redirects"] is False
    assert "Bearer" not in repr(http)


def test_owned_session_closed_injected_left_open():
    session = FakeSession()
    with client(session):
        pass
    assert session.closed is False


# --- counting --------------------------------------------------------------------------------------

def test_route_template():
    assert route_template(BASE + "/sales_orders/42?x=1", "/v1") == "/sales_orders/{id}"
    assert route_template("https://s/wp-json/wc/v3/products/12/variations/batch", "/wp-json/wc/v3") == \
        "/products/{id}/variations/batch"
    assert route_template("https://h/v1x/7", "/v1") == "/v1x/{id}"


def test_call_counter_counts_every_send_including_retries():
    counter = CallCounter()
    session = FakeSession(make_response(503, {}), make_response(200, {}), make_response(200, {}))
    http = client(session, counter=counter)
    http.get("/sales_orders/1")
    http.request("POST", "/products/7/variations/batch", json={}, creates=False)
    assert counter.snapshot() == {"katana GET /sales_orders/{id}": 2, "katana POST /products/{id}/variations/batch": 1}
    assert counter.total("katana") == 3 and counter.total("woocommerce") == 0
    assert counter.by_route("katana")["GET /sales_orders/{id}"] == 2
    assert http.calls is counter


# --- limiter integration ---------------------------------------------------------------------------

def test_limiter_acquired_before_every_send_and_fed_every_answer():
    clock = FakeClock()
    bucket = TokenBucket(2, 10.0, clock=clock, sleep=clock.sleep, wall_clock=clock.wall)
    session = FakeSession(*[make_response(200, {}) for _ in range(3)])
    http = client(session, clock, limiter=bucket)
    for _ in range(3):
        http.get("/x")
    assert clock.sleeps == [10.0]  # the third send waited for the first to leave the window


def test_429_penalises_the_limiter():
    clock = FakeClock()
    bucket = TokenBucket(60, 60.0, clock=clock, sleep=clock.sleep, wall_clock=clock.wall)
    session = FakeSession(make_response(429, {}, headers={"Retry-After": "5"}), make_response(200, {}))
    client(session, clock, limiter=bucket).get("/x")
    assert sum(clock.sleeps) == pytest.approx(5.0)


# --- pagination ------------------------------------------------------------------------------------

def _page(items, **pagination):
    headers = {"X-Pagination": json.dumps(pagination)} if pagination else {}
    return make_response(200, {"data": items}, headers=headers)


def test_iter_katana_string_numbers_and_booleans():
    session = FakeSession(
        _page([1, 2], total_records="5", total_pages="3", page="1", first_page="true", last_page="false"),
        _page([3, 4], total_records="5", total_pages="3", page="2", first_page="false", last_page="false"),
        _page([5], total_records="5", total_pages="3", page="3", first_page="false", last_page="true"))
    assert list(client(session).iter_katana("/variants", {"sku": ["A"]}, limit=2)) == [1, 2, 3, 4, 5]
    assert [c[2]["params"] for c in session.calls] == [{"sku": ["A"], "limit": 2, "page": p} for p in (1, 2, 3)]


def test_iter_katana_last_page_string_true_stops_even_with_full_page():
    session = FakeSession(_page([1, 2], page="1", last_page="true", total_pages="9"))
    assert list(client(session).iter_katana("/x", limit=2)) == [1, 2]


def test_iter_katana_total_pages_native_types():
    session = FakeSession(_page([1, 2], page=1, total_pages=2), _page([3, 4], page=2, total_pages=2))
    assert list(client(session).iter_katana("/x", limit=2)) == [1, 2, 3, 4]


def test_iter_katana_missing_header_stops_on_short_page():
    session = FakeSession(_page([1, 2]), _page([3, 4]), _page([5]))
    assert list(client(session).iter_katana("/x", limit=2)) == [1, 2, 3, 4, 5]
    session = FakeSession(_page([1, 2]), _page([]))
    assert list(client(session).iter_katana("/x", limit=2)) == [1, 2]


def test_iter_katana_is_lazy_and_validates_eagerly():
    session = FakeSession(_page([1, 2]), _page([3]))
    it = client(session).iter_katana("/x", limit=2)
    assert session.calls == []
    assert next(it) == 1 and len(session.calls) == 1
    with pytest.raises(ValueError):
        client(session).iter_katana("/x", limit=251)
    with pytest.raises(ValueError):
        client(session).iter_woo("/x", per_page=101)


def test_iter_katana_refuses_a_non_list():
    with pytest.raises(UnexpectedResponseError):
        list(client(FakeSession(make_response(200, {"data": {"id": 1}}))).iter_katana("/x"))


def test_iter_woo_total_pages_and_fallback():
    pages = [make_response(200, [1, 2], headers={"X-WP-TotalPages": "2", "X-WP-Total": "4"}),
             make_response(200, [3, 4], headers={"X-WP-TotalPages": "2", "X-WP-Total": "4"})]
    session = FakeSession(*pages)
    assert list(client(session).iter_woo("/orders", {"status": "processing"}, per_page=2)) == [1, 2, 3, 4]
    assert session.calls[1][2]["params"] == {"status": "processing", "per_page": 2, "page": 2}
    session = FakeSession(make_response(200, [1, 2]), make_response(200, [3]))
    assert list(client(session).iter_woo("/orders", per_page=2)) == [1, 2, 3]
    session = FakeSession(make_response(200, [1, 2]))
    it = client(session).iter_woo("/orders", per_page=2)
    assert session.calls == [] and next(it) == 1
