"""Outgoing webhook deliveries for the emulators: a background sender, and a change watcher.

Used by `_woo_webhooks` and `_katana_webhooks`. Deliveries go out over plain HTTP with the stdlib
(`urllib.request`), one worker thread per emulator, in order; a delivery that fails is reported to
its `done` callback, which decides about retries (Katana) or the failure count (WooCommerce).
The sandbox imports nothing of the SDK, so nothing here is shared with the receiver it feeds.

Where the real systems deliver from save hooks, the emulators find changes by a watcher polling
their own records every `interval` s (only while a webhook exists): it never touches the code that
makes the changes, and like WooCommerce's own queue it folds changes that follow each other
quickly into one delivery of the latest state.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass(order=True)
class Job:
    due: float
    seq: int
    url: str = field(compare=False)
    render: Callable[[], tuple[bytes, dict[str, str]]] = field(compare=False)   # body and headers, at send time
    done: Callable[[int | None], None] = field(compare=False)                    # status, None: no answer


class Sender:
    """Sends `Job`s when due, one at a time; `timeout` is how long a receiver may take to answer."""

    def __init__(self, name: str, *, timeout: float = 10.0):
        self.name, self.timeout = name, timeout
        self._jobs: list[Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.sent: list[tuple[str, int | None]] = []     # (url, status) of every attempt, for tests

    def submit(self, url: str, render: Callable[[], tuple[bytes, dict[str, str]]],
               done: Callable[[int | None], None], *, delay: float = 0.0) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._jobs, Job(time.monotonic() + delay, next(self._seq), url, render, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"{self.name}-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(self.timeout + 1)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._jobs or self._jobs[0].due > time.monotonic()):
                    self._cond.wait(None if not self._jobs else max(0.0, self._jobs[0].due - time.monotonic()))
                if self._stopped:
                    return
                job = heapq.heappop(self._jobs)
            try:
                body, headers = job.render()
            except Exception:   # an emulator bug must not kill the sender
                log.exception("%s: cannot render a webhook delivery", self.name)
                continue
            status = self._post(job.url, body, headers)
            self.sent.append((job.url, status))
            try:
                job.done(status)
            except Exception:
                log.exception("%s: webhook bookkeeping failed", self.name)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int | None:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            exc.read()
            exc.close()
            return int(exc.code)
        except (urllib.error.URLError, OSError, ValueError):
            return None


class Watcher:
    """Calls `scan()` every `interval` s from a daemon thread until `stop()`."""

    def __init__(self, name: str, scan: Callable[[], None], *, interval: float = 0.05):
        self._scan, self.interval = scan, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{name}-watcher", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._scan()
            except Exception:
                log.exception("webhook watcher failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def ok(status: int | None) -> bool:
    return status is not None and (200 <= status < 300 or status in (301, 302))


__all__ = ["Sender", "Watcher", "Job", "ok"]
