"""The inbox worker: turns waiting deliveries into work, runs it, and finishes each entry once.

Called by `service.loop` whenever the inbox has entries and their debounce window has passed.
One `drain()`:

1. reads the pending entries (oldest first) and triages each against fresh data, never its payload:
   * WooCommerce `order.*`: the order is re-read by id; a version (`date_modified_gmt` + status)
     already finished once changes nothing ("unchanged"), so duplicates, replays and an
     `order.updated` arriving before its `order.created` (both re-read the same order) do the work once;
   * Katana `sales_order.created` of a sales order this state imported itself is the echo of our own
     write: its effect was pushed by the run that made it;
   * anything else (a new or changed order, a Katana stock or sales order change) needs a run;
2. when something needs a run, runs the engines once for all of it: `Runner.apply()`, the same
   apply as the batch, incremental (it reads only what changed since the last run: the orders
   modified since the order cursor, Katana's inventory movements and sales orders changed since the
   watermark). So every event waiting is coalesced into one run, each variant is written at most
   once per run, orders are imported before any stock is pushed, and all of it spends from the one
   Katana rate budget of the process;
3. finishes the entries the run covered (status `done`, with the run id and the version seen), or,
   if the run failed, counts an attempt and leaves them pending for the next drain.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from ..errors import KatanaWooError, NotFoundError
from ..plan import Report
from ..state import InboxEntry
from .events import KATANA, WOO
from .metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Triage:
    """What one pending entry asks for: a run (`needs_run`), or nothing, with why."""
    entry: InboxEntry
    needs_run: bool
    note: str
    version: str = ""


@dataclass(frozen=True)
class DrainResult:
    """One drain: how many entries it finished, whether it ran the engines, and the run's report."""
    finished: int
    ran: bool
    report: Report | None = None
    failed: str | None = None


class Worker:
    """`run(full)` is the engines' apply (`service.loop` gives `Runner.apply` with its options)."""

    def __init__(self, runner: Any, inbox: Any, metrics: Metrics, run: Callable[[], Report]):
        self.runner, self.inbox, self.metrics, self._run = runner, inbox, metrics, run

    def drain(self, limit: int = 1000) -> DrainResult:
        pending = self.inbox.inbox_pending(limit)
        if not pending:
            return DrainResult(0, False)
        triaged = [self._triage(e) for e in pending]
        finished = 0
        for t in triaged:
            if not t.needs_run:
                finished += self._finish([t], t.note)
        wanted = [t for t in triaged if t.needs_run]
        if not wanted:
            return DrainResult(finished, False)
        try:
            report = self._run()
        except KatanaWooError as exc:      # e.g. the lock of a store is held by another runner
            self.inbox.inbox_retry([t.entry.id for t in wanted], f"run failed: {exc}")
            return DrainResult(finished, True, None, str(exc))
        runs = self.runner.state.runs(limit=1)
        run_id = runs[0].id if runs else None
        if report.has_failures:
            failed = "; ".join(f"{s.store}: {s.error or 'an action failed'}" for s in report.stores
                               if s.error or any(r.outcome == "failed" for r in s.results))
            self.inbox.inbox_retry([t.entry.id for t in wanted], f"run {run_id} failed: {failed}"[:500])
            return DrainResult(finished, True, report, failed)
        finished += self._finish(wanted, f"run {run_id}")
        return DrainResult(finished, True, report)

    def _finish(self, triaged: list[Triage], outcome: str) -> int:
        versions = {t.entry.id: t.version for t in triaged if t.version}
        done = self.inbox.inbox_finish([t.entry.id for t in triaged], outcome, version=versions)
        now = datetime.now(timezone.utc)
        for t in triaged:
            self.metrics.event_latency.labels(t.entry.source).observe((now - t.entry.received_at).total_seconds())
        return done

    def _triage(self, entry: InboxEntry) -> Triage:
        if entry.source == WOO:
            return self._triage_woo(entry)
        if entry.source == KATANA:
            if entry.topic == "sales_order.created" and entry.resource_id.isdigit() \
                    and self.inbox.sales_order_imported_here(int(entry.resource_id)):
                return Triage(entry, False, f"sales order {entry.resource_id} is our own import (its stock was "
                                            f"pushed by the run that created it)")
            return Triage(entry, True, "")
        return Triage(entry, False, f"unknown source {entry.source}")

    def _triage_woo(self, entry: InboxEntry) -> Triage:
        client = self.runner.woo.get(entry.store)
        if client is None:
            return Triage(entry, False, f"{entry.store} is not an enabled store of this config")
        if entry.resource != "order" or not entry.resource_id.isdigit():
            return Triage(entry, False, f"{entry.topic} {entry.resource_id}: nothing to do")
        try:
            order = client.orders.get(int(entry.resource_id))
        except NotFoundError:
            # Deleted for good (or trashed and purged): what it took comes back in the store; a run
            # re-reads the store's changed orders and products.
            return Triage(entry, True, "", "gone")
        except KatanaWooError as exc:
            log.warning("%s: cannot re-read order %s (%s): a run will look", entry.store, entry.resource_id, exc)
            return Triage(entry, True, "")
        stamp = order.date_modified_gmt.isoformat() if order.date_modified_gmt else ""
        version = f"{stamp}|{order.status}"
        if self.inbox.inbox_last_version(WOO, entry.store, "order", entry.resource_id) == version:
            return Triage(entry, False, f"order {entry.resource_id} unchanged since it was last processed", version)
        return Triage(entry, True, "", version)


def wait_debounce(oldest: datetime, window: float, stop: Callable[[float], bool]) -> bool:
    """Wait until `window` s after the oldest pending delivery (so a burst is one run); False if
    stopping was asked meanwhile. `stop(timeout)` waits on the stop signal."""
    remaining = window - (datetime.now(timezone.utc) - oldest).total_seconds()
    return not (remaining > 0 and stop(remaining))


__all__ = ["Worker", "Triage", "DrainResult", "wait_debounce"]
