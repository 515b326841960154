"""One location's stock writes at apply time: the runner's step that keeps figures fresh while
shoppers buy.

Called by `Runner.apply` once per location with stores to push to, after every store's imports.
In order: re-read the location's inventory (imports changed its commitments), compute each
store's writes; if there are any, read every one of the location's stores' orders changed since
the run read them (`engines.orders.read_changed`, one call per store) and compute again; write
store by store, batch by batch (`engines.stock.write_push`), revising the remaining figures from a
fresh read once writing has lasted `REVISE_EVERY` seconds; then read once more and lower any level
an order placed in the meantime made too high (`engines.stock.too_high`), a few rounds at most.
Each figure comes from `engines.pending` and `engines.stock`: no rule of its own here.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from ._store_work import StoreWork
from .actions import StockPush, StockWriteItem
from .contract import Decision, decide
from .engines import orders as order_engine
from .engines import stock as stock_engine
from .engines.context import RunContext, StockView
from .engines.pending import Pending
from .errors import KatanaWooError
from .models import Location, WooOrder
from .plan import Action, ActionResult, Plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changed:
    """An incremental run's changes at one location: Katana variants whose stock or commitments
    moved, SKUs of orders changed in any of its stores, and per store the SKUs of its products
    modified since the product watermark (`engines.changes`)."""

    variant_ids: frozenset[int] = frozenset()
    skus: frozenset[str] = frozenset()
    store_skus: Mapping[str, frozenset[str]] = field(default_factory=dict)

REVISE_EVERY = 2.0          # seconds of writing after which the figures are revised from a fresh read
CORRECTION_ROUNDS = 3       # post-write checks at most, per location


def _location(w: StoreWork) -> Location:
    """The Katana location of a store that writes stock: always known (only ready stores write)."""
    assert w.location is not None
    return w.location


class LocationSync:
    """One location's stock writes at apply: fresh figures, written, revised, checked, corrected.

    `run_action(w, decision, step)` executes and logs one decided action (the runner's);
    `pending(stores, fresh)` computes the taken-not-committed figure from what the run has seen of
    `stores` plus `fresh` orders (the runner's, over `engines.pending`)."""

    def __init__(self, ctx: RunContext, members: list[StoreWork], writers: list[StoreWork], saved: Plan | None,
                 replan: bool, results: dict[str, list[ActionResult]], *,
                 run_action: Callable[[StoreWork, Decision, Callable[[RunContext, StoreWork, Action], Any]],
                                      ActionResult],
                 pending: Callable[[list[StoreWork], Mapping[str, Sequence[WooOrder]]], Pending],
                 changed: Changed | None = None,
                 log_write: Callable[[StoreWork, Sequence[Any], stock_engine.PushResult], None] | None = None):
        """`changed`: an incremental run's changes at this location (None: a full run, every item).
        `log_write(w, items, result)`: records a write made outside an action (a correction) in the
        run log, so every level written is there with its before and after."""
        self.ctx, self._run_action, self._pending = ctx, run_action, pending
        self._log_write = log_write
        self.changed = changed
        self._views: dict[str, StockView] = {}
        self.members, self.writers, self.plan, self.replan, self.results = members, writers, saved, replan, results
        self.location = _location(writers[0])
        self.fresh: dict[str, list[WooOrder]] = {}
        self.read_at: datetime | None = None        # when orders were last read fresh (our clock)

    def run(self) -> None:
        try:
            self._read_views()
        except KatanaWooError as exc:
            for w in self.writers:
                w.fail(f"stock sync: {exc}", fatal=False)
            return
        plans = self._plans()
        if any(p.action is not None for p in plans.values()):
            self._refresh()                      # right before writing: what shoppers did meanwhile
            if self.changed is not None:
                self._read_views()               # their items may not have been looked at yet
            plans = self._plans()
        written: dict[str, dict[str, int]] = {}
        for w in self.writers:
            predicted = [w.push.action] if w.push is not None and w.push.action is not None else []
            push = w.push = plans[w.name]
            fresh_actions = [push.action] if push.action else []
            saved = self.plan.store(w.name) if self.plan is not None and w.name in {s.store for s in self.plan.stores} else None
            for d in decide(saved, fresh_actions, {"stock.push"}, replan=self.replan, predicted=predicted):
                result = self._run_action(w, d, self._write)
                self.results[w.name].append(result)
                if isinstance(result.result, stock_engine.PushResult):
                    written.setdefault(w.name, {}).update(result.result.pushed)
        if written:
            self._correct(written)

    def _plans(self) -> dict[str, stock_engine.StockPlan]:
        out: dict[str, stock_engine.StockPlan] = {}
        try:
            pending = self._pending(self.members, self.fresh)
        except KatanaWooError as exc:
            for w in self.writers:
                w.fail(f"stock sync: cannot tell what the stores took: {exc}", fatal=False)
                out[w.name] = stock_engine.StockPlan()
            return out
        for w in self.writers:
            try:
                out[w.name] = stock_engine.plan_push(self.ctx, w.config, _location(w), pending, view=self._views[w.name])
            except KatanaWooError as exc:
                w.fail(f"stock sync: {exc}", fatal=False)
                out[w.name] = stock_engine.StockPlan()
        return out

    def _read_views(self, extra_skus: Iterable[str] = ()) -> None:
        """What each writer's figures are computed from: the whole location and store in a full run;
        in an incremental one, the items whose figure may have moved (`Changed`), plus `extra_skus`."""
        if self.changed is None:
            self.ctx.inventory(self.location.id)
            for w in self.writers:
                self._views[w.name] = self.ctx.stock_view(w.config, self.location.id)
            return
        skus = set(self.changed.skus) | set(extra_skus)
        for orders in self.fresh.values():
            skus |= {li.sku for o in orders for li in o.line_items if li.sku}
        for w in self.writers:
            mine = skus | set(self.changed.store_skus.get(w.name, ()))
            self._views[w.name] = self.ctx.stock_view(w.config, self.location.id, mine, self.changed.variant_ids)

    def _refresh(self) -> None:
        """Read every order of the location's stores changed since this run first read them (or
        since the last fresh read), with the stores' overlap window."""
        now = datetime.now(timezone.utc)
        for w in self.members:
            if w.facts is None or w.facts.read_started is None:
                continue
            since = (self.read_at or w.facts.read_started) - timedelta(minutes=w.config.orders.overlap_minutes)
            try:
                self.fresh.setdefault(w.name, []).extend(order_engine.read_changed(self.ctx, w.config, since))
            except KatanaWooError as exc:
                log.warning("%s: fresh read of orders failed (%s); writing from the run's first read", w.name, exc)
        self.read_at = now

    def _write(self, ctx: RunContext, w: StoreWork, action: Action) -> stock_engine.PushResult:
        def revise(remaining: Sequence[StockWriteItem]) -> Sequence[StockWriteItem]:
            self._refresh()
            pending = self._pending(self.members, self.fresh)
            if self.changed is not None:
                self._read_views()
            return stock_engine.revised(remaining, stock_engine.figures(ctx, w.config, _location(w), pending,
                                                                        view=self._views[w.name]))
        assert isinstance(action.payload, StockPush)  # a stock.push action carries its writes
        return stock_engine.write_push(ctx, w.config, action.payload.writes, revise=revise, every=REVISE_EVERY)

    def _correct(self, written: dict[str, dict[str, int]]) -> None:
        """After the writes, read the orders once more: one placed in the instant between the last
        read and a write was overwritten by that write, and one placed in another store of the
        location lowered every store's figure. Lower any level now above its figure (never raise),
        and read again after a correction, a few rounds at most."""
        for _ in range(CORRECTION_ROUNDS):
            self._refresh()
            if self.changed is not None:
                self._read_views()
            pending = self._pending(self.members, self.fresh)
            corrections = False
            for w in self.writers:
                items = stock_engine.too_high(self.ctx, w.config, _location(w), pending, written.get(w.name, {}),
                                              view=self._views[w.name])
                if not items:
                    continue
                corrections = True
                result = stock_engine.write_push(self.ctx, w.config, items)
                if self._log_write is not None:
                    self._log_write(w, items, result)
                written.setdefault(w.name, {}).update(result.pushed)
                w.notes["stock_corrected_after_write"] = sorted(
                    set(w.notes.get("stock_corrected_after_write", ())) | set(result.pushed))
                log.info("%s: %d levels lowered right after the writes: orders arrived meanwhile",
                         w.name, len(result.pushed))
            if not corrections:
                return
