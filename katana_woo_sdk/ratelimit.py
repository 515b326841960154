"""Client-side throttle for Katana: never send a request we know the server will refuse.

Used by `_http.HttpClient` (acquire before every send, retries included; observe every answer) and
created by `katana.KatanaClient` through `bucket_for_key`, so every client and every store using one
Katana API key shares one budget (Katana limits per key: 60 requests per 60 s by default)::

    bucket = bucket_for_key(api_key)          # the same object for every caller with this key
    bucket.acquire()                          # blocks until a send is allowed
    bucket.observe(response.headers)          # trust the server when it counts more than we did

The "bucket" is a sliding window of send times: a send is allowed when fewer than `rate` sends
started in the last `period` seconds. That is exactly the guarantee we need ("never more than
`rate` in ANY `period`-long window"), which a refilling token bucket only approximates.
"""
from __future__ import annotations

import bisect
import hashlib
import logging
import threading
import time
from typing import Any, Callable, Mapping, Protocol

from ._progress import WAIT_BAR_SECONDS, sleep_with_bar

__all__ = ["TokenBucket", "bucket_for_key"]

log = logging.getLogger(__name__)


def _header(headers: Mapping[str, Any], name: str) -> Any:
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is not None:
            return value
    lowered = name.lower()
    for key, value in dict(headers).items():
        if str(key).lower() == lowered:
            return value
    return None


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


class Limiter(Protocol):
    """What the HTTP layer asks of a rate limiter: a `TokenBucket`, or a wrapper of one (the
    service's `MeteredLimiter`, which times the waits)."""

    def acquire(self) -> float: ...

    def observe(self, headers: Mapping[str, Any]) -> None: ...

    def penalise(self, retry_after: float | None) -> None: ...


class TokenBucket:
    """At most `rate` sends start within any `period`-second window; thread-safe.

    `clock` is monotonic (for the window), `wall_clock` is epoch time (to read the server's
    `X-Ratelimit-Reset`), `sleep` is how `acquire` waits. Tests inject all three.
    """

    def __init__(self, rate: int = 60, period: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, wall_clock: Callable[[], float] = time.time):
        if rate < 1 or period <= 0:
            raise ValueError("rate must be >= 1 and period > 0")
        self.configured_rate = int(rate)
        self.rate = int(rate)
        self.period = float(period)
        self._clock, self._sleep, self._wall = clock, sleep, wall_clock
        self._lock = threading.Lock()
        # Sorted start times: our own sends, plus placeholders for sends the server counted that we
        # did not (another process on the same key); both expire `period` after their time.
        self._stamps: list[float] = []
        self._blocked_until = float("-inf")
        self.show_waits: bool | None = None   # a countdown bar for long waits; None: when interactive

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, period={self.period:g})"

    # -- core ------------------------------------------------------------------------------------

    def _prune(self, now: float) -> None:
        # `stamp + period <= now`, written exactly like the wait below (not `stamp <= now - period`,
        # which rounds differently and could let a send start a hair early).
        cut = 0
        while cut < len(self._stamps) and self._stamps[cut] + self.period <= now:
            cut += 1
        if cut:
            del self._stamps[:cut]

    def _wait(self, now: float) -> float:
        self._prune(now)
        wait = self._blocked_until - now
        if len(self._stamps) >= self.rate:
            # The send `rate` places back must leave the window before another may start.
            wait = max(wait, self._stamps[-self.rate] + self.period - now)
        return wait

    def delay(self) -> float:
        """Seconds until `acquire` would return without waiting (0 when a send is allowed now)."""
        with self._lock:
            return max(0.0, self._wait(self._clock()))

    def try_acquire(self) -> bool:
        """Take a send slot if one is free now; never waits."""
        with self._lock:
            now = self._clock()
            if self._wait(now) > 0:
                return False
            bisect.insort(self._stamps, now)
            return True

    def acquire(self) -> float:
        """Block until a send may start, count it as started, and return its (clock) start time."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0:
                    bisect.insort(self._stamps, now)
                    return now
            # Sleep outside the lock so observe()/penalise() from other threads are never held up.
            # A long wait (the window spent, a Retry-After) is said at INFO and drawn as a countdown
            # where output is interactive: minutes of silence look like a hang.
            log.log(logging.INFO if wait >= WAIT_BAR_SECONDS else logging.DEBUG, "rate limit: waiting %.2fs", wait)
            sleep_with_bar(wait, self._sleep, desc="Katana rate limit", enabled=self.show_waits)

    # -- adapting to the server ----------------------------------------------------------------

    def observe(self, headers: Mapping[str, Any]) -> None:
        """Adapt to `X-Ratelimit-Limit/Remaining/Reset` from any answer.

        A lower Limit than configured is adopted (never a higher one). A Remaining lower than our
        own count means someone else spends this key too: the server is trusted, and the missing
        sends are booked until Reset (ms since epoch; seconds if < 1e12; one period if absent).
        """
        limit = _number(_header(headers, "X-Ratelimit-Limit"))
        remaining = _number(_header(headers, "X-Ratelimit-Remaining"))
        reset = _number(_header(headers, "X-Ratelimit-Reset"))
        with self._lock:
            now = self._clock()
            self._prune(now)
            if limit is not None and 1 <= limit < self.rate:
                log.info("rate limit: server allows %d requests per window, adopting it", int(limit))
                self.rate = int(limit)
            if remaining is None:
                return
            expiry = self._reset_to_monotonic(reset, now)
            ours = self.rate - len(self._stamps)
            deficit = ours - max(0, int(remaining))
            if deficit > 0:
                # Book the sends we did not see so that they leave the window exactly at Reset.
                stamp = min(now, expiry - self.period)
                for _ in range(deficit):
                    bisect.insort(self._stamps, stamp)
            if remaining <= 0:
                self._blocked_until = max(self._blocked_until, expiry)

    def tighten(self, rate: int, period: float) -> None:
        """Adopt a stricter setting than the current one (fewer requests, or a longer window)."""
        with self._lock:
            if rate < self.rate:
                self.rate = int(rate)
            if period > self.period:
                self.period = float(period)

    def penalise(self, retry_after: float | None) -> None:
        """After a 429: no send before `retry_after` seconds (a full period when the server gave none)."""
        with self._lock:
            now = self._clock()
            wait = self.period if retry_after is None else max(0.0, float(retry_after))
            self._blocked_until = max(self._blocked_until, now + wait)

    def _reset_to_monotonic(self, reset: float | None, now: float) -> float:
        if reset is None:
            return now + self.period
        seconds = reset / 1000.0 if reset >= 1e12 else reset
        until = now + (seconds - self._wall())
        # A reset in the past frees nothing we don't already know; one further than a period away
        # (clock skew, wrong unit) must not freeze the client for longer than the window itself.
        return min(max(until, now), now + self.period)


_REGISTRY: dict[str, TokenBucket] = {}
_REGISTRY_LOCK = threading.Lock()


def bucket_for_key(api_key: str, rate: int = 60, period: float = 60.0, *, base_url: str = "",
                   **kwargs: Any) -> TokenBucket:
    """The process-wide bucket for one API key on one server (created on first use with
    `rate`/`period` and any TokenBucket keyword such as `clock`/`sleep`): every client of that key
    and base URL shares it, whatever their number. A later caller with a stricter setting tightens
    it (the lower rate, the longer period); a looser one never loosens it. Keyed by a sha256 of
    the base URL and the key, never the key itself."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode("utf-8")).hexdigest()
    with _REGISTRY_LOCK:
        bucket = _REGISTRY.get(digest)
        if bucket is None:
            bucket = _REGISTRY[digest] = TokenBucket(rate, period, **kwargs)
        else:
            bucket.tighten(rate, period)
        return bucket


def _clear_registry() -> None:
    """Forget every shared bucket (tests)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
