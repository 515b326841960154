"""The service's Prometheus metrics, on a registry of its own, and the hooks that feed them.

Called by `service.loop` (which builds one `Metrics` per service and hands it to the receiver, the
worker and the clients) and by `/metrics` in `service.receiver`. Uses `prometheus_client`, the
maintained client library, for the text format and its types; nothing here is hand-formatted.

What is measured and where it comes from:
* API calls by system and status, and 429s: a `requests` response hook on the sessions the service
  gives its clients (`metered_session`), so every attempt counts, retries included;
* throttle waits: `MeteredLimiter` wraps the process-wide Katana bucket and times `acquire()`;
* orders imported and held, stock writes, last successful reconcile per store: from each run's
  `Report` (`observe_report`);
* inbox depth: read from the state when scraped; event-to-done latency: by the worker.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import requests
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .._http import _session_for
from ..plan import APPLIED, REPLANNED, Report

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120, 300)


class Metrics:
    """Every metric of one service; `render()` is the `/metrics` body."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.orders_imported = Counter("katana_woo_orders_imported", "WooCommerce orders imported as Katana "
                                       "sales orders", ["store"], registry=r)
        self.orders_held = Gauge("katana_woo_orders_held", "Orders held (not importable yet) after the last run",
                                 ["store"], registry=r)
        self.stock_writes = Counter("katana_woo_stock_writes", "Stock levels written to the stores", ["store"],
                                    registry=r)
        self.api_calls = Counter("katana_woo_api_calls", "HTTP requests sent (retries included) by system and "
                                 "answer status", ["system", "status"], registry=r)
        self.rate_limited = Counter("katana_woo_rate_limited", "429 answers received", ["system"], registry=r)
        self.throttle_waits = Counter("katana_woo_throttle_waits", "Times a Katana request waited for the "
                                      "client-side rate budget", registry=r)
        self.throttle_seconds = Counter("katana_woo_throttle_wait_seconds", "Seconds spent waiting for the "
                                        "Katana rate budget", registry=r)
        self.inbox_depth = Gauge("katana_woo_inbox_depth", "Webhook deliveries waiting in the inbox", registry=r)
        self.deliveries = Counter("katana_woo_webhook_deliveries", "Webhook deliveries received, by source and "
                                  "what became of them", ["source", "result"], registry=r)
        self.event_latency = Histogram("katana_woo_event_to_done_seconds", "From a delivery's receipt to the end "
                                       "of the work it caused", ["source"], buckets=LATENCY_BUCKETS, registry=r)
        self.runs = Counter("katana_woo_runs", "Runs of the engines by kind and outcome", ["kind", "outcome"],
                            registry=r)
        self.last_reconcile = Gauge("katana_woo_last_successful_reconcile_timestamp_seconds", "When the last "
                                    "run that succeeded for the store finished (Unix time)", ["store"], registry=r)

    def watch_inbox(self, depth: Callable[[], int]) -> None:
        self.inbox_depth.set_function(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def count_response(self, system: str) -> Callable[..., Any]:
        """A `requests` response hook counting each answer of `system` by status."""
        def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
            status = str(getattr(response, "status_code", "none"))
            self.api_calls.labels(system, status).inc()
            if status == "429":
                self.rate_limited.labels(system).inc()
            return response
        return hook

    def observe_report(self, report: Report, kind: str, finished: float | None = None) -> None:
        """A run's effects: orders imported and held, levels written, and per store the time of
        the last run that succeeded for it."""
        self.runs.labels(kind, "failed" if report.has_failures else "ok").inc()
        finished = time.time() if finished is None else finished
        for store in report.stores:
            imported = sum(1 for r in store.results if r.action.kind == "order.import"
                           and r.outcome in (APPLIED, REPLANNED))
            if imported:
                self.orders_imported.labels(store.store).inc(imported)
            self.orders_held.labels(store.store).set(len(store.holds))
            written = sum(len(getattr(r.result, "pushed", None) or ()) for r in store.results
                          if r.action.kind.startswith("stock.") and r.outcome in (APPLIED, REPLANNED))
            if written:
                self.stock_writes.labels(store.store).inc(written)
            if store.error is None and not any(r.outcome == "failed" for r in store.results):
                self.last_reconcile.labels(store.store).set(finished)


def metered_session(base_url: str, metrics: Metrics, system: str) -> requests.Session:
    """A session like the clients make their own (`_http._session_for`), counting its answers."""
    session = _session_for(base_url)
    session.hooks["response"].append(metrics.count_response(system))
    return session


class MeteredLimiter:
    """The shared Katana bucket, timed: every `acquire()` that had to wait is counted."""

    def __init__(self, bucket: Any, metrics: Metrics):
        self._bucket, self._metrics = bucket, metrics

    def acquire(self) -> float:
        started = time.monotonic()
        result: float = self._bucket.acquire()
        waited = time.monotonic() - started
        if waited > 0.001:
            self._metrics.throttle_waits.inc()
            self._metrics.throttle_seconds.inc(waited)
        return result

    def __getattr__(self, name: str) -> Any:     # observe, penalise, tighten, delay ...: the bucket's own
        return getattr(self._bucket, name)

    def __repr__(self) -> str:
        return f"MeteredLimiter({self._bucket!r})"


__all__ = ["Metrics", "MeteredLimiter", "metered_session"]
