"""The one HTTP layer both clients stand on: session, retries, throttle, paginators, call counting.

Called by `katana.KatanaClient` and `woo.WooClient`; nothing else sends HTTP. This is the ONLY place
that retries, so a request is never retried twice over by stacked layers::

    http = HttpClient("katana", "https://api.katanamrp.com/v1", headers={"Authorization": "Bearer …"})
    first = http.get("/locations").data
    for order in http.iter_katana("/sales_orders", {"include_deleted": "true"}): ...

Retry rules (why): reads and idempotent writes (GET/HEAD/PUT/PATCH/DELETE) are retried on 429,
502/503/504, connection errors and read timeouts. A request that creates something (POST with
`creates=True`) is retried ONLY where the server cannot have acted on it: a 429, or a connection
that was never made. After a 5xx, a read timeout or a connection dropped after sending, the object
may exist, and neither Katana nor WooCommerce has an idempotency key, so the error is raised and the
caller looks the object up by its natural key instead of re-sending.

Every URL that reaches a log line, an error or a repr goes through `sanitise_url` first: WooCommerce
credentials travel in the query string (OAuth1, and some hosts' `consumer_key=` fallback), and
WooCommerce echoes that query string into its `Link` header.
"""
from __future__ import annotations

import email.utils
import http.client
import json as _json
import logging
import os
import random
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import unquote, urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict
from tenacity import Retrying, RetryCallState

from . import __version__
from .errors import ApiError, KatanaWooError, RateLimitedError, TransportError, RETRYABLE_STATUSES

__all__ = [
    "SECRET_QUERY_PARAMS", "sanitise_url", "sanitise_link_header", "Timeouts", "RetryPolicy",
    "HttpResponse", "CallCounter", "HttpClient", "route_template", "parse_retry_after",
    "KATANA_MAX_LIMIT", "WOO_MAX_PER_PAGE",
]

log = logging.getLogger(__name__)

SECRET_QUERY_PARAMS = frozenset({
    "consumer_key", "consumer_secret", "oauth_consumer_key", "oauth_nonce", "oauth_signature",
    "oauth_signature_method", "oauth_timestamp", "oauth_token", "oauth_version", "api_key", "token",
})
REDACTED = "REDACTED"
KATANA_MAX_LIMIT = 250     # Katana silently clamps larger limits; we refuse them instead
WOO_MAX_PER_PAGE = 100     # WooCommerce answers 400 above 100
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})

# A query parameter: name=value, bounded by ?, &, ; or the end of a URL (also inside Link headers,
# where URLs sit between <...>).
_PARAM_RE = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&#;<>\s\"',]+)=(?P<value>[^&#;<>\s\"']*)")
_USERINFO_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s<>]*):(?P<pw>[^@/\s<>]*)@")


def _is_secret(name: str) -> bool:
    key = unquote(name).strip().lower()
    return key in SECRET_QUERY_PARAMS or key.startswith("oauth_")


# Text without any of these (case aside) holds no credential the patterns below would find: such
# a text (a Katana URL, a Link header under Basic auth) is returned without running them.
_SECRET_HINTS = ("oauth", "consumer", "key", "token", "%", "@")


def _redact_params(text: str) -> str:
    lowered = text.lower()
    if not any(hint in lowered for hint in _SECRET_HINTS):
        return text

    def sub(m: re.Match[str]) -> str:
        if _is_secret(m.group("name")):
            return f"{m.group('lead')}{m.group('name')}={REDACTED}"
        return m.group(0)
    text = _USERINFO_RE.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    return _PARAM_RE.sub(sub, text)


def sanitise_url(url: str) -> str:
    """`url` with the value of every credential-bearing query parameter (and any password) REDACTED."""
    if not url:
        return url
    return _redact_params(str(url))


def sanitise_link_header(value: str) -> str:
    """A `Link` header with credentials redacted inside each `<url>` (WooCommerce copies the request's
    query string, consumer_key and consumer_secret included, into its pagination links)."""
    if not value:
        return value
    return _redact_params(str(value))


# Third-party loggers that write credentials at DEBUG: oauthlib lists the signed parameters
# (oauth_consumer_key) and requests-oauthlib prints the client's key; urllib3 logs whole URLs,
# consumer_secret included under query-string auth. Their records are redacted at the source, so
# a notebook or `katana-woo -v` at DEBUG never shows a credential.
_CREDENTIAL_LOGGERS = ("oauthlib", "oauthlib.oauth1", "oauthlib.oauth1.rfc5849", "oauthlib.oauth1.rfc5849.signature",
                       "requests_oauthlib", "requests_oauthlib.oauth1_auth", "urllib3.connectionpool")
_PAIR_RE = re.compile(r"""(?P<q>['"])(?P<name>(?:oauth_\w+|consumer_key|consumer_secret))(?P=q)(?P<sep>\s*[,:]\s*)"""
                      r"""(?P<vq>['"])[^'"]*(?P=vq)""")
# The name starts a word, or follows a URL-encoded "&" (an OAuth base string reads
# "..._fields%3Dhome%26oauth_consumer_key%3D...", where no word boundary precedes the name).
_ASSIGN_RE = re.compile(r"(?:(?<=%26)|(?<=%2526)|(?<![A-Za-z0-9_]))"
                        r"(?P<name>oauth_[a-z_]+|consumer_key|consumer_secret)(?P<eq>=|%3D|%253D)"
                        r"(?P<v>.*?)(?=&|%26|%2526|[\s'\"<>,)\]]|$)", re.IGNORECASE)
_KEYWORD_RE = re.compile(r"\b(?P<name>client_key|client_secret|resource_owner_key|resource_owner_secret)=(?P<v>[^,\s>]+)")


def redact_text(text: str) -> str:
    """`text` with credentials in URLs, ('oauth_x', 'value') pairs and client_key=... removed."""
    text = _redact_params(text)
    text = _ASSIGN_RE.sub(lambda m: f"{m.group('name')}{m.group('eq')}{REDACTED}", text)  # also URL-encoded
    text = _PAIR_RE.sub(lambda m: f"{m.group('q')}{m.group('name')}{m.group('q')}{m.group('sep')}'{REDACTED}'", text)
    return _KEYWORD_RE.sub(lambda m: f"{m.group('name')}={REDACTED}" if m.group("v") not in ("None", "****")
                           else m.group(0), text)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_REDACTOR = _RedactingFilter()
for _name in _CREDENTIAL_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTOR)


def route_template(url: str, base_path: str = "") -> str:
    """`/sales_orders/{id}` for `https://api.katanamrp.com/v1/sales_orders/42?x=1` (base path `/v1`)."""
    path = urlsplit(url).path or "/"
    base_path = base_path.rstrip("/")
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        path = path[len(base_path):] or "/"
    parts = ["{id}" if seg.isdigit() else seg for seg in path.split("/")]
    return "/".join(parts) or "/"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date. None if absent/bad."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for the TCP/TLS connect and then for each read of the answer."""

    connect: float = 10.0
    read: float = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff: attempt n waits about min(cap, base * 2**(n-1)), jittered to
    between half and all of it, so several stores that failed together do not retry together.

    `max_retry_after`: a server asking us to wait longer than this is not waited for; the
    RateLimitedError is raised instead (a runner should not hang for an hour inside one request).
    """

    max_attempts: int = 6
    base: float = 1.0
    cap: float = 60.0
    max_retry_after: float = 600.0
    # A refused or unreachable host is rarely back within seconds: give up after this many attempts
    # (about 1.5 s of backoff with the defaults), so a wrong URL or a stopped server is reported at
    # once with its reason instead of after half a minute of retries.
    connect_attempts: int = 3

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after failed attempt number `attempt` (1-based), jittered."""
        raw = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        r = (rng or random).random()
        wait: float = raw / 2 + raw / 2 * r
        return wait


@dataclass(frozen=True, repr=False)
class HttpResponse:
    """A successful answer: parsed JSON in `data` (None for 204/empty), sanitised URL and headers."""

    status: int
    headers: Mapping[str, str]
    data: Any
    url: str

    def __repr__(self) -> str:
        return f"HttpResponse({self.status} {self.url})"


class CallCounter:
    """Counts every request actually sent (each retry counts), by system and route template.

    Keys of `snapshot()` read like `"katana GET /sales_orders/{id}"`. Thread-safe; one counter may
    be shared by several clients (the runner does, to report the cost of a run).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, system: str, route: str, n: int = 1) -> None:
        with self._lock:
            self._counts[(system, route)] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{system} {route}": n for (system, route), n in sorted(self._counts.items())}

    def by_route(self, system: str) -> dict[str, int]:
        """`{"GET /sales_orders/{id}": 3, ...}` for one system."""
        with self._lock:
            return {route: n for (s, route), n in sorted(self._counts.items()) if s == system}

    def total(self, system: str | None = None) -> int:
        with self._lock:
            return sum(n for (s, _), n in self._counts.items() if system is None or s == system)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def __repr__(self) -> str:
        return f"CallCounter(total={self.total()})"


# --- transport failure classification --------------------------------------------------------------

def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps: requests puts urllib3's error in args[0], urllib3's
    MaxRetryError keeps the real one in `.reason`, and Python chains __cause__/__context__."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__,
                  *(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))]
        stack.extend(n for n in nested if isinstance(n, BaseException))


def _connect_failed(exc: BaseException) -> bool:
    """True only when the request provably never reached the server (so even a create may be re-sent)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return False
    causes = list(_causes(exc))
    # Anything showing the connection was up and then dropped wins: the request may have been acted on.
    if any(isinstance(c, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                          urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError))
           for c in causes if c is not exc):
        return False
    return any(isinstance(c, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                              ConnectionRefusedError, socket.gaierror))
               for c in causes)


# --- the client ------------------------------------------------------------------------------------

def _session_for(base_url: str) -> requests.Session:
    """A session with the environment read once, not on every request: requests' `trust_env`
    re-scans the proxy variables and `no_proxy` per call (half a millisecond each, most of a small
    call's CPU on a 5,000-call plan), and would let a `~/.netrc` entry replace Katana's bearer
    header. The proxies for this base URL and a CA bundle named by `REQUESTS_CA_BUNDLE` or
    `CURL_CA_BUNDLE` are taken from the environment here, as requests would take them."""
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    return session


def _env_ca_bundle() -> str | None:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


class HttpClient:
    """One `requests.Session`, the retry policy, an optional rate limiter and the paginators.

    `session` is the test seam (any object with requests.Session's `request`); when given, the
    caller owns it and `close()` leaves it open. `limiter` (a `ratelimit.TokenBucket`) is acquired
    before every send, retries included, and sees every response's headers.
    """

    def __init__(self, system: str, base_url: str, *, session: Any = None, auth: Any = None,
                 headers: Mapping[str, str] | None = None, timeouts: Timeouts = Timeouts(),
                 verify: bool | str = True, limiter: Any = None, retry: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, counter: CallCounter | None = None,
                 rng: random.Random | None = None, wall_clock: Callable[[], float] = time.time):
        self.system = system
        self.base_url = base_url.rstrip("/")
        self._base_path = urlsplit(self.base_url).path.rstrip("/")
        self._owns_session = session is None
        self._session = session if session is not None else _session_for(self.base_url)
        self._auth = auth
        self._headers = {"Accept": "application/json", "User-Agent": f"katana-woo/{__version__}",
                         **dict(headers or {})}
        self.timeouts = timeouts
        # `verify=True` on a session of ours: a CA bundle the environment names, as requests would use.
        self.verify = (_env_ca_bundle() or True) if verify is True and self._owns_session else verify
        self.limiter = limiter
        self.retry = retry
        self._sleep = sleep
        self.calls = counter if counter is not None else CallCounter()
        self._rng = rng or random.Random()
        self.server_time: datetime | None = None   # the server's clock at its latest answer (`Date`)
        self._wall = wall_clock

    # -- plumbing --------------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def __repr__(self) -> str:
        return f"HttpClient({self.system!r}, {sanitise_url(self.base_url)!r})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> HttpResponse:
        return self.request("GET", path, params=params)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                creates: bool | None = None, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """Send with retries; return the parsed 2xx answer or raise an `ApiError`/`TransportError`.

        `creates`: True for a request that creates something (retried only on 429 / failed connect).
        Left at None, a POST counts as a create (the safe reading) and every other method as
        idempotent; pass `creates=False` for a POST that is idempotent (e.g. a batch that sets
        absolute stock levels) to get the read retries.
        """
        method = method.upper()
        is_create = (method not in IDEMPOTENT_METHODS) if creates is None else bool(creates)
        url = self.url_for(path)
        safe_url = sanitise_url(url)
        policy = self.retry

        def should_retry(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            return exc is not None and self._retryable(exc, is_create)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= policy.max_attempts:
                return True
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransportError) and exc.connect_failed:
                return state.attempt_number >= policy.connect_attempts
            return (isinstance(exc, ApiError) and exc.retry_after is not None
                    and exc.retry_after > policy.max_retry_after)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            # Retry-After is honoured on a 503 as on a 429: both say when the server will take requests.
            if isinstance(exc, ApiError) and exc.retry_after is not None:
                return float(exc.retry_after)
            return policy.backoff(state.attempt_number, self._rng)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            what = f"{exc.status}" if isinstance(exc, ApiError) else type(exc).__name__
            if isinstance(exc, TransportError):
                what = ("connect failed: " if exc.connect_failed else "no answer: ") + getattr(exc, "reason", what)
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning("%s %s %s failed with %s; retry %d/%d in %.2fs", self.system, method, safe_url, what,
                        state.attempt_number, policy.max_attempts - 1, delay)

        retrying = Retrying(sleep=self._sleep, stop=stop, wait=wait, retry=should_retry,
                            before_sleep=before_sleep, reraise=True)
        return retrying(self._send_once, method, url, safe_url, params, json, headers)

    def _retryable(self, exc: BaseException, is_create: bool) -> bool:
        if isinstance(exc, RateLimitedError):
            return True  # the server refused before acting: safe for every method
        if isinstance(exc, TransportError):
            if not exc.retryable:
                return False
            return exc.connect_failed or not is_create
        if isinstance(exc, ApiError):
            return not is_create and exc.status in RETRYABLE_STATUSES
        return False

    def _send_once(self, method: str, url: str, safe_url: str, params: Any, json_body: Any,
                   extra_headers: Mapping[str, str] | None) -> HttpResponse:
        if self.limiter is not None:
            self.limiter.acquire()
        self.calls.add(self.system, f"{method} {route_template(url, self._base_path)}")
        headers = dict(self._headers)
        if extra_headers:
            headers.update(extra_headers)
        try:
            resp = self._session.request(
                method, url, params=params, json=json_body, headers=headers, auth=self._auth,
                timeout=(self.timeouts.connect, self.timeouts.read), verify=self.verify,
                # A redirected POST/PATCH silently turns into a GET (http -> https on a store):
                # never follow redirects for writes, report them instead.
                allow_redirects=method in ("GET", "HEAD"))
        except requests.exceptions.SSLError as exc:
            err = TransportError(self.system, method, safe_url, _reason(exc), connect_failed=True)
            err.reason = _reason(exc)
            err.retryable = False  # a certificate problem does not heal by retrying
            raise err from None
        except requests.exceptions.RequestException as exc:
            if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                                requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
                raise
            err = TransportError(self.system, method, safe_url, _reason(exc), connect_failed=_connect_failed(exc))
            err.reason = _reason(exc)  # kept apart for the retry log line
            raise err from None
        if log.isEnabledFor(logging.DEBUG):   # (the URL is sanitised only for a line that is written)
            log.debug("%s %s %s -> %s in %.0f ms", self.system, method,
                      sanitise_url(getattr(resp, "url", "") or safe_url), resp.status_code,
                      getattr(getattr(resp, "elapsed", None), "total_seconds", lambda: 0.0)() * 1000)
        return self._handle(method, resp)

    def _handle(self, method: str, resp: Any) -> HttpResponse:
        headers = CaseInsensitiveDict(resp.headers or {})
        stamp = _http_date(headers.get("Date"))
        if stamp is not None:
            self.server_time = stamp
        if "Link" in headers:
            headers["Link"] = sanitise_link_header(headers["Link"])
        if self.limiter is not None:
            self.limiter.observe(headers)
        safe_url = sanitise_url(getattr(resp, "url", "") or "")
        status = int(resp.status_code)
        body: bytes = resp.content or b""
        if 200 <= status < 300:
            if status in (204, 205) or method == "HEAD" or not body.strip():
                return HttpResponse(status, headers, None, safe_url)
            data = _parse_json_body(body, headers)
            if data is not _NOT_JSON:
                return HttpResponse(status, headers, data, safe_url)
        retry_after = None
        if status == 429 or status == 503:
            retry_after = parse_retry_after(headers.get("Retry-After"), now=self._wall())
            if status == 429 and self.limiter is not None:
                self.limiter.penalise(retry_after)
        raise ApiError.from_response(system=self.system, method=method, url=safe_url, status=status,
                                     headers=headers, body=body, retry_after=retry_after)

    # -- pagination ------------------------------------------------------------------------------

    def iter_katana(self, path: str, params: Mapping[str, Any] | None = None, *,
                    limit: int = KATANA_MAX_LIMIT) -> Iterator[dict[str, Any]]:
        """Every item of a Katana list endpoint, fetching pages only as the caller iterates.

        Katana answers `{"data": [...]}` with an `X-Pagination` JSON header whose numbers and
        booleans may be strings; without the header a page shorter than `limit` is the last.
        """
        if not 1 <= int(limit) <= KATANA_MAX_LIMIT:
            raise ValueError(f"Katana's limit must be 1..{KATANA_MAX_LIMIT}, not {limit}")
        return self._iter_katana(path, dict(params or {}), int(limit))

    def _iter_katana(self, path: str, params: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
        params = dict(params)
        page = int(params.pop("page", 1))   # a caller may start further in (after a page it already has)
        while True:
            resp = self.get(path, {**params, "limit": limit, "page": page})
            data = resp.data
            items = data.get("data") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise _not_a_list(self.system, resp)
            yield from items
            meta = _katana_pagination(resp.headers.get("X-Pagination"))
            if not items:
                return
            if meta is not None and (meta.get("last_page") is True
                                     or (meta.get("total_pages") is not None and page >= meta["total_pages"])):
                return
            if meta is None or (meta.get("last_page") is None and meta.get("total_pages") is None):
                if len(items) < limit:
                    return
            page += 1

    def iter_woo(self, path: str, params: Mapping[str, Any] | None = None, *,
                 per_page: int = WOO_MAX_PER_PAGE) -> Iterator[dict[str, Any]]:
        """Every item of a WooCommerce list endpoint, page by page as the caller iterates.

        Stops at `X-WP-TotalPages`; without that header (some caches strip it) at a short page.
        """
        if not 1 <= int(per_page) <= WOO_MAX_PER_PAGE:
            raise ValueError(f"WooCommerce's per_page must be 1..{WOO_MAX_PER_PAGE}, not {per_page}")
        return self._iter_woo(path, dict(params or {}), int(per_page))

    def _iter_woo(self, path: str, params: dict[str, Any], per_page: int) -> Iterator[dict[str, Any]]:
        params = dict(params)
        page = int(params.pop("page", 1))   # a caller may start further in (a keyset walk's tie)
        while True:
            resp = self.get(path, {**params, "per_page": per_page, "page": page})
            items = resp.data
            if not isinstance(items, list):
                raise _not_a_list(self.system, resp)
            yield from items
            total_pages = _to_int(resp.headers.get("X-WP-TotalPages"))
            if not items:
                return
            if total_pages is not None:
                if page >= total_pages:
                    return
            elif len(items) < per_page:
                return
            page += 1


_NOT_JSON = object()


def _http_date(value: str | None) -> datetime | None:
    """An HTTP `Date` header as an aware UTC datetime (None when absent or unreadable)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _parse_json_body(body: bytes, headers: Mapping[str, str]) -> Any:
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype and "json" not in ctype:
        return _NOT_JSON
    try:
        return _json.loads(body.decode("utf-8-sig").strip())
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return _NOT_JSON


def _to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            return int(float(str(value).strip()))
        except ValueError:
            return None


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def _katana_pagination(header: str | None) -> dict[str, Any] | None:
    """The X-Pagination header coerced: `{"page": 2, "total_pages": 8, "last_page": False, ...}`."""
    if not header:
        return None
    try:
        raw = _json.loads(header)
    except ValueError:
        log.debug("unparseable X-Pagination header %r", header[:200])
        return None
    if not isinstance(raw, dict):
        return None
    return {"page": _to_int(raw.get("page")), "total_pages": _to_int(raw.get("total_pages")),
            "total_records": _to_int(raw.get("total_records")), "offset": _to_int(raw.get("offset")),
            "first_page": _to_bool(raw.get("first_page")), "last_page": _to_bool(raw.get("last_page"))}


def _not_a_list(system: str, resp: HttpResponse) -> KatanaWooError:
    return ApiError.from_response(system=system, method="GET", url=resp.url, status=resp.status,
                                  headers={"Content-Type": "text/plain"},
                                  body=f"expected a list, got {type(resp.data).__name__}")


def _reason(exc: BaseException) -> str:
    """A short, credential-free reason: requests embeds the full URL (query string included) in its
    messages, so only the innermost exception's class and a sanitised message are kept."""
    causes = list(_causes(exc))
    plain = [c for c in causes if not isinstance(c, (requests.exceptions.RequestException,
                                                     urllib3.exceptions.HTTPError))]
    wrapped = [c for c in causes if isinstance(c, urllib3.exceptions.HTTPError)
               and not isinstance(c, urllib3.exceptions.MaxRetryError)]
    inner = (plain or wrapped or [exc])[0]
    return f"{type(inner).__name__}: {sanitise_url(str(inner))}"[:300]
