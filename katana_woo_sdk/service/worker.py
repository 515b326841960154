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
   apply as the batch, *focused* (`changes.Focus`) on what the events name, so an event costs the
   calls of its own work, not those of an incremental run over the account:
   * a WooCommerce order: the stores of that order's location (the store and those sharing its
     location) import their changed orders, and the variants those orders move are pushed to them;
   * a Katana sales order: that sales order is read by id (one call), and its variants are pushed to
     the stores of its location;
   * a Katana `current_inventory.*`: the variant (the event does not say which location) is pushed
     to every store;
   * anything the event does not pin down (a deleted sales order, an id that is not a number), or a
     run that must be full: the incremental run over every store, as the interval runs it.
   Every event waiting is coalesced into one run (the stores and variants of all of them), each
   variant is written at most once per run, orders are imported before any stock is pushed, and all
   of it spends from the one Katana rate budget of the process. A focused run moves no watermark:
   the interval's run still reads everything that changed since the last one (polling is the truth);
3. finishes the entries the run covered (status `done`, with the run id and the version seen), or,
   if the run failed, counts an attempt and leaves them pending for the next drain.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from ..engines import changes
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
    scope: "Scope | None" = None     # what the run needs to cover (None: every store, unfocused)


@dataclass(frozen=True)
class Scope:
    """The part of the account an event touches: stores to run, Katana variants per location id
    (`everywhere`: variants to push at every location of the run's stores)."""
    stores: frozenset[str]
    variants: Mapping[int, frozenset[int]]
    everywhere: frozenset[int] = frozenset()


@dataclass(frozen=True)
class DrainResult:
    """One drain: how many entries it finished, whether it ran the engines, and the run's report."""
    finished: int
    ran: bool
    report: Report | None = None
    failed: str | None = None


class Worker:
    """`run(stores, focus)` is the engines' apply (`service.loop` gives `Runner.apply` with its
    options; `stores=None, focus=None`: the unfocused incremental run over every store)."""

    def __init__(self, runner: Any, inbox: Any, metrics: Metrics,
                 run: Callable[[list[str] | None, changes.Focus | None], Report]):
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
        stores, focus = self._focus(wanted)
        try:
            report = self._run(stores, focus)
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

    def _focus(self, wanted: list[Triage]) -> tuple[list[str] | None, changes.Focus | None]:
        """One run for every entry: the union of their scopes, or everything when one of them is
        unscoped or the run is due to be full anyway."""
        if any(t.scope is None for t in wanted):
            return None, None
        if changes.run_kind(self.runner.state, self.runner.config, now=datetime.now(timezone.utc)).full:
            return None, None
        stores: set[str] = set()
        variants: dict[int, set[int]] = {}
        everywhere: set[int] = set()
        for t in wanted:
            scope = t.scope
            assert scope is not None  # an unscoped entry returned above
            stores |= scope.stores
            everywhere |= scope.everywhere
            for location, ids in scope.variants.items():
                variants.setdefault(location, set()).update(ids)
        sources = sorted({t.entry.topic for t in wanted})
        focus = changes.Focus({k: frozenset(v) for k, v in variants.items()}, f"{len(wanted)} events "
                              f"({', '.join(sources)})", frozenset(everywhere))
        enabled = [s.name for s in self.runner.config.enabled_stores]
        return [n for n in enabled if n in stores], focus

    def _stores_sharing(self, store: str) -> frozenset[str]:
        """The store and every enabled store on its location (by the config: the same location
        name or id; when the config names locations both ways, every store)."""
        enabled = list(self.runner.config.enabled_stores)
        mine = next((s.location for s in enabled if s.name == store), None)
        if mine is None or any(s.location is None or type(s.location) is not type(mine) for s in enabled):
            return frozenset(s.name for s in enabled)
        return frozenset(s.name for s in enabled if s.location == mine)

    def _every_store(self) -> frozenset[str]:
        return frozenset(s.name for s in self.runner.config.enabled_stores)

    def _finish(self, triaged: list[Triage], outcome: str) -> int:
        versions = {t.entry.id: t.version for t in triaged if t.version}
        done: int = self.inbox.inbox_finish([t.entry.id for t in triaged], outcome, version=versions)
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
            return self._triage_katana(entry)
        return Triage(entry, False, f"unknown source {entry.source}")

    def _triage_katana(self, entry: InboxEntry) -> Triage:
        if not entry.resource_id.isdigit():
            return Triage(entry, True, "")
        if entry.topic.startswith("current_inventory."):
            # Katana's event names the variant, not the location: the variant, at every location.
            return Triage(entry, True, "", scope=Scope(self._every_store(), {}, frozenset({int(entry.resource_id)})))
        if entry.resource == "sales_order" and entry.topic != "sales_order.deleted":
            try:
                so = self.runner.katana.sales_orders.get(int(entry.resource_id))
            except KatanaWooError:      # gone, or Katana did not answer: the unfocused run looks
                return Triage(entry, True, "")
            variants: dict[int, set[int]] = {}
            for row in so.rows:
                location = row.location_id or so.location_id
                if location is not None and row.variant_id is not None:
                    variants.setdefault(int(location), set()).add(int(row.variant_id))
            if not variants:
                return Triage(entry, True, "")
            return Triage(entry, True, "", f"{so.updated_at.isoformat() if so.updated_at else ''}",
                          Scope(self._every_store(), {k: frozenset(v) for k, v in variants.items()}))
        return Triage(entry, True, "")

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
        return Triage(entry, True, "", version, Scope(self._stores_sharing(entry.store), {}))


def wait_debounce(oldest: datetime, window: float, stop: Callable[[float], bool]) -> bool:
    """Wait until `window` s after the oldest pending delivery (so a burst is one run); False if
    stopping was asked meanwhile. `stop(timeout)` waits on the stop signal."""
    remaining = window - (datetime.now(timezone.utc) - oldest).total_seconds()
    return not (remaining > 0 and stop(remaining))


__all__ = ["Worker", "Triage", "Scope", "DrainResult", "wait_debounce"]
