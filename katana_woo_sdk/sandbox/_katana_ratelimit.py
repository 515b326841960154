"""Katana's rate limit as the emulator enforces it: `rate` requests per `period` seconds per API key.

Called by `_katana_http` once per authenticated API request. Katana documents 60 requests / 60 s
and the `X-Ratelimit-Limit/Remaining/Reset` headers (Reset in ms since epoch) plus `Retry-After`
on a 429; it does not say whether the window is fixed or sliding. The default here is a sliding
log, the stricter of the two: no `period`-long interval ever holds more than `rate` accepted
requests, so a client that bursts across a fixed-window boundary is caught. A rejected request
does not use up quota.
"""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after: float | None = None


class RateLimiter:
    def __init__(self, rate: int, period: float, *, clock: Callable[[], float], window: str = "sliding"):
        if window not in ("sliding", "fixed"):
            raise ValueError("window must be 'sliding' or 'fixed'")
        if rate < 1 or period <= 0:
            raise ValueError("rate must be >= 1 and period > 0")
        self.rate, self.period, self.window, self._clock = rate, period, window, clock
        self._log: dict[str, deque[float]] = {}
        self._fixed: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Decision:
        with self._lock:
            now = self._clock()
            if self.window == "sliding":
                return self._sliding(key, now)
            return self._fixed_window(key, now)

    def peek_headers(self) -> dict[str, str]:
        """Headers for an answer that does not count (401, unrouted): a fresh window."""
        return self._headers(self.rate, self._clock() + self.period)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._fixed.clear()

    def _sliding(self, key: str, now: float) -> Decision:
        log = self._log.setdefault(key, deque())
        while log and log[0] <= now - self.period:
            log.popleft()
        if len(log) >= self.rate:
            frees_at = log[0] + self.period
            return Decision(False, self._headers(0, frees_at), max(frees_at - now, 0.001))
        log.append(now)
        return Decision(True, self._headers(self.rate - len(log), log[0] + self.period))

    def _fixed_window(self, key: str, now: float) -> Decision:
        start, used = self._fixed.get(key, (now, 0))
        if now >= start + self.period:
            start, used = now, 0
        if used >= self.rate:
            self._fixed[key] = (start, used)
            return Decision(False, self._headers(0, start + self.period), max(start + self.period - now, 0.001))
        self._fixed[key] = (start, used + 1)
        return Decision(True, self._headers(self.rate - used - 1, start + self.period))

    def _headers(self, remaining: int, reset_at: float) -> dict[str, str]:
        return {"X-Ratelimit-Limit": str(self.rate), "X-Ratelimit-Remaining": str(remaining),
                "X-Ratelimit-Reset": str(math.ceil(reset_at * 1000))}

    def retry_after_header(self, seconds: float) -> str:
        # Katana sends whole seconds. A scaled-down period (tests) needs fractions to stay useful.
        if float(self.period).is_integer():
            return str(max(1, math.ceil(seconds)))
        return f"{math.ceil(seconds * 1000) / 1000:.3f}"
