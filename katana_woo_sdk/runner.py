"""The reconciling runner: plan (reads only) -> apply (writes exactly the plan) -> status.

Called by the CLI (`katana-woo plan/apply/status/move-order`), by notebooks and by users' own
Python::

    with Runner.from_config_file("configs/demo.yaml") as runner:
        plan = runner.plan()          # what would change, per store; nothing written
        report = runner.apply(plan)   # re-checks each action, applies, records state
        print(runner.status())

Per store and run: resolve the mapping (a deleted location blocks the store and nothing is read
or written for it), import orders, do the one-time initial stock import, then push stock from
the mapped location. Stock is planned after every store's orders, because orders of all stores
on one location lower that location's figure. One store's failure never stops the others.
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

from ._http import CallCounter
from .config import Config, StoreConfig, load_config
from .engines import orders as order_engine
from .engines import stock as stock_engine
from .engines.context import RunContext
from .errors import KatanaWooError, ReconcileError
from .katana import KatanaClient
from .mapping import BLOCKED as RES_BLOCKED, INVALID as RES_INVALID, resolve_location
from .conditions import read_status, record_conditions
from .moves import MoveResult, move_sales_order
from .models import Location
from .plan import (APPLIED, BLOCKED, DISABLED, DROPPED, FAILED, INVALID, NEW, REMAP, REPLANNED, SKIPPED,
                   UNCHANGED, Action, ActionResult, Hold, LocationRef, MappingPlan, Plan, Report,
                   Status, StorePlan, StoreReport, fingerprint, now_utc)
from .report import StockComparison, StockRow
from .state import State
from .woo import WooClient

log = logging.getLogger(__name__)


@dataclass
class _StoreWork:
    """Everything planning found out about one store, kept for apply."""

    store: StoreConfig
    plan: StorePlan
    location: Location | None = None
    read: Any = None
    orders: Any = None
    fatal: bool = False   # planning failed before stock: nothing can be applied for this store


class Runner:
    """Plans and applies one config. One Katana client (one rate-limit bucket per key) and one
    WooCommerce client per store, sharing a call counter so reports say what a run cost."""

    def __init__(self, config: Config, *, state: State | None = None, katana: KatanaClient | None = None,
                 woo: Mapping[str, WooClient] | None = None, progress: bool | None = None,
                 calls: CallCounter | None = None):
        """`katana`, `woo` and `state` are seams for tests and embedding; clients passed in are not
        closed by the runner and should share `calls` so plans and reports can count them."""
        self.config = config
        self.calls = calls if calls is not None else CallCounter()
        self.state = state if state is not None else State(config.state.path)
        self._own_katana, self._own_woo = katana is None, woo is None
        if katana is None:
            key = config.katana.api_key.reveal() if config.katana.api_key else ""
            katana = KatanaClient(key, base_url=config.katana.base_url, rate=config.katana.rate_limit.requests,
                                  period=config.katana.rate_limit.period_seconds, counter=self.calls)
        self.katana = katana
        if woo is None:
            woo = {s.name: WooClient(s.url, s.consumer_key.reveal(), s.consumer_secret.reveal(),
                                     allow_insecure_http=s.allow_insecure_http, verify=s.verify, name=s.name,
                                     counter=self.calls)
                   for s in config.enabled_stores}
        self.woo = dict(woo)
        self.progress = progress

    @classmethod
    def from_config_file(cls, path: str | os.PathLike, *, env: Mapping[str, str] = os.environ,
                         progress: bool | None = None, **kwargs: Any) -> "Runner":
        return cls(load_config(path, env=env), progress=progress, **kwargs)

    def close(self) -> None:
        if self._own_katana:
            self.katana.close()
        if self._own_woo:
            for client in self.woo.values():
                client.close()
        self.state.close()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Runner({len(self.config.stores)} stores, state={self.state.path})"

    # --- plan --------------------------------------------------------------------------------------

    def plan(self, stores: Sequence[str] | None = None, *, confirm_shared_import: bool = False) -> Plan:
        """What apply would do now, per store. Reads only."""
        before = self.calls.snapshot()
        work = self._plan(self._context(), self._select(stores), confirm_shared_import)
        return Plan(now_utc(), self.config.config_hash, _shown_path(self.config.source),
                    tuple(w.plan for w in work), _diff(self.calls.snapshot(), before))

    def _context(self) -> RunContext:
        return RunContext(self.config, self.katana, self.woo, self.state, progress=self.progress)

    def _select(self, names: Sequence[str] | None) -> list[StoreConfig]:
        if not names:
            return list(self.config.stores)
        return [self.config.store(n) for n in names]  # KeyError names the known stores

    def _plan(self, ctx: RunContext, stores: list[StoreConfig], confirm: bool) -> list[_StoreWork]:
        try:
            locations = ctx.locations()
        except KatanaWooError as exc:
            return [_StoreWork(s, StorePlan(s.name, MappingPlan(INVALID if s.enabled else DISABLED),
                                            error=f"cannot read Katana locations: {exc}",
                                            config_hash=self.config.store_hash(s.name))) for s in stores]
        work = [self._plan_mapping(s, locations) for s in stores]
        live = [w for w in work if w.location is not None and w.plan.mapping.kind not in (BLOCKED, INVALID, DISABLED)]
        companions = self._companions(stores, live, locations)
        for w in live + companions:          # orders of every store first ...
            self._guard(w, lambda: self._plan_orders(ctx, w))
        pending: dict[int, dict[int, Decimal]] = defaultdict(dict)
        for w in live + companions:
            if w.orders is not None:
                order_engine.add_quantities(pending[w.location.id], w.orders.pending_qty)
                if w in companions:
                    order_engine.add_quantities(ctx.companion_pending.setdefault(w.location.id, {}), w.orders.pending_qty)
        ctx.pending = pending
        adjustments: dict[int, dict[int, Decimal]] = defaultdict(dict)
        for w in live:                       # ... then the one-time initial imports, which raise in-stock ...
            if not w.fatal and w.store.stock.initial_import:
                self._guard(w, lambda: self._plan_initial_import(ctx, w, confirm, adjustments[w.location.id]),
                            fatal=False)
        for w in live:                       # ... then stock, which every store on a location shares
            if not w.fatal and w.plan.error is None:
                self._guard(w, lambda: self._plan_stock(ctx, w, pending[w.location.id], adjustments[w.location.id]),
                            fatal=False)
        return work

    def _companions(self, selected: list[StoreConfig], live: list[_StoreWork],
                    locations: list[Location]) -> list[_StoreWork]:
        """Stores left out by `--store` that share a location with a selected one: their orders
        are read (never applied) because what they took lowers the figure every store there sees."""
        names = {s.name for s in selected}
        wanted = {w.location.id for w in live}
        out = []
        for store in self.config.enabled_stores:
            if store.name in names:
                continue
            w = self._plan_mapping(store, locations)
            if w.location is not None and w.location.id in wanted and w.plan.mapping.kind not in (BLOCKED, INVALID):
                out.append(w)
        return out

    def _guard(self, w: _StoreWork, step: Callable[[], None], *, fatal: bool = True) -> None:
        """Run one planning step; whatever goes wrong stays with this store. A failed stock step
        is not fatal: the store's orders do not need the figure and are still imported."""
        try:
            step()
        except Exception as exc:  # a bug must not stop the other stores either; it is reported loudly
            if isinstance(exc, KatanaWooError):
                log.warning("%s: %s", w.store.name, exc)
                message = str(exc)
            else:
                log.exception("%s: unexpected error while planning", w.store.name)
                message = f"unexpected {type(exc).__name__}: {exc}"
            w.plan = replace(w.plan, error=message if fatal else f"stock: {message}")
            w.fatal = w.fatal or fatal

    def _plan_mapping(self, store: StoreConfig, locations: list[Location]) -> _StoreWork:
        store_hash = self.config.store_hash(store.name)
        if not store.enabled:
            return _StoreWork(store, StorePlan(store.name, MappingPlan(DISABLED, message="enabled: false"),
                                               config_hash=store_hash))
        res = resolve_location(store.name, store.location, locations)
        current = self.state.current_mapping(store.name)
        previous = LocationRef(current.location_id, current.location_name) if current else None
        if res.outcome == RES_INVALID:
            mapping = MappingPlan(INVALID, None, previous, res.reason, res.message)
            return _StoreWork(store, StorePlan(store.name, mapping, error=res.message, config_hash=store_hash))
        target = LocationRef(res.location.id, res.location.name)
        if res.outcome == RES_BLOCKED:
            mapping = MappingPlan(BLOCKED, target, previous, res.reason, res.message)
            return _StoreWork(store, StorePlan(store.name, mapping, config_hash=store_hash))
        actions: tuple[Action, ...] = ()
        if previous is None:
            mapping = MappingPlan(NEW, target, None, res.reason, res.message)
        elif previous.id != target.id:
            mapping = MappingPlan(REMAP, target, previous, "Remapped",
                                  f"new orders go to {target}; orders already imported stay at {previous}")
        else:
            mapping = MappingPlan(UNCHANGED, target, previous, res.reason, res.message)
        if mapping.kind in (NEW, REMAP):
            actions = (Action(store.name, "mapping", "mapping", str(mapping),
                              before=None if previous is None else {"id": previous.id, "name": previous.name},
                              after={"id": target.id, "name": target.name},
                              fingerprint=fingerprint(target.id, previous.id if previous else None)),)
        return _StoreWork(store, StorePlan(store.name, mapping, actions, config_hash=store_hash), res.location)

    def _plan_orders(self, ctx: RunContext, w: _StoreWork) -> None:
        if not w.store.orders.enabled:
            w.orders = order_engine.OrdersPlan((), (), 0, {})
            return
        w.read = order_engine.read_orders(ctx, w.store)
        w.orders = order_engine.plan_orders(ctx, w.store, w.location, w.read)
        notes = dict(w.plan.notes)
        if w.orders.recovered:
            notes["orders_already_in_katana"] = w.orders.recovered
        w.plan = replace(w.plan, actions=w.plan.actions + w.orders.actions, holds=w.orders.holds, notes=notes)

    def _plan_initial_import(self, ctx: RunContext, w: _StoreWork, confirm: bool,
                             adjustments: dict[int, Decimal]) -> None:
        others = [s for s in self.config.enabled_stores if s.name != w.store.name]
        init = stock_engine.plan_initial_import(ctx, w.store, w.location, self._open_qty(ctx, w.store),
                                                others_on_location=others, confirmed=confirm)
        if init.action is not None:
            for row in init.action.payload["rows"]:
                vid = int(row["variant_id"])
                adjustments[vid] = adjustments.get(vid, Decimal(0)) + Decimal(row["quantity"])
        notes = dict(w.plan.notes)
        notes.update(init.notes)
        w.plan = replace(w.plan, actions=w.plan.actions + ((init.action,) if init.action else ()),
                         warnings=w.plan.warnings + tuple(init.warnings), notes=notes)

    def _plan_stock(self, ctx: RunContext, w: _StoreWork, pending: Mapping[int, Decimal],
                    adjustments: Mapping[int, Decimal]) -> None:
        """`adjustments`: in-stock changes an initial import planned in this run will make."""
        sync = stock_engine.plan_stock_sync(ctx, w.store, w.location, pending, adjustments)
        notes = dict(w.plan.notes)
        notes.update(sync.notes)
        w.plan = replace(w.plan, actions=w.plan.actions + ((sync.action,) if sync.action else ()), notes=notes,
                         error=sync.error)

    def _open_qty(self, ctx: RunContext, store: StoreConfig) -> dict[str, Decimal]:
        """SKU -> quantity on every open order in the imported statuses (for the initial import).
        A store's first run already read all of them; later runs list them once more."""
        if ctx.state.get_cursor(store.name, stock_engine.INITIAL_CURSOR):
            return {}
        read = ctx.reads.get(store.name)
        first_read = read is not None and not ctx.state.get_cursor(store.name, order_engine.CURSOR) \
            and store.orders.since is None
        orders = (o for o in read.orders if o.status in store.orders.statuses) if first_read else \
            ctx.woo[store.name].orders.iter(statuses=tuple(store.orders.statuses))
        out: dict[str, Decimal] = {}
        for order in orders:
            for li in order.line_items:
                if li.sku:
                    out[li.sku] = out.get(li.sku, Decimal(0)) + Decimal(li.quantity)
        return out

    # --- apply -------------------------------------------------------------------------------------

    def apply(self, plan: Plan | None = None, *, stores: Sequence[str] | None = None,
              confirm_shared_import: bool = False) -> Report:
        """Apply `plan` (or a fresh one). Each saved action is re-checked against a fresh plan: an
        unchanged one is applied, a changed one is applied as re-planned, a vanished one dropped;
        actions the saved plan did not contain are left for the next run."""
        started = now_utc()
        before = self.calls.snapshot()
        names = stores or ([s.store for s in plan.stores] if plan is not None else None)
        with self.state.lock(timeout=self.config.state.lock_timeout_seconds, owner="katana-woo apply"):
            run_id = self.state.start_run("apply" if plan is None else "apply-saved-plan", self.config.config_hash)
            ctx = self._context()
            work = self._plan(ctx, self._select(names), confirm_shared_import)
            reports: dict[str, StoreReport] = {}
            for w in work:
                saved = _saved_store(plan, w.store.name)
                reports[w.store.name] = self._apply_store(ctx, run_id, w, saved)
            self._apply_stock_all(ctx, run_id, work, plan, reports)
            for w in work:
                record_conditions(self.state, self.config, w.store, reports[w.store.name])
            report = Report(started, now_utc(), self.config.config_hash,
                            tuple(reports[w.store.name] for w in work), _diff(self.calls.snapshot(), before))
            self.state.finish_run(run_id, "failed" if report.has_failures else "ok",
                                  {s.store: s.status for s in report.stores})
        return report

    def _apply_store(self, ctx: RunContext, run_id: int, w: _StoreWork, saved: StorePlan | None) -> StoreReport:
        p = w.plan
        if p.mapping.kind in (DISABLED, INVALID, BLOCKED) or w.fatal:
            return StoreReport(p.store, p.mapping, (), p.holds, p.warnings, p.notes, p.error)
        results: list[ActionResult] = []
        kinds = {"mapping", "order.import", "stock.initial_import"}
        pairs = _pair(saved, [a for a in p.actions if a.kind in kinds], kinds)
        for action, outcome_if_ok, note in pairs:
            if outcome_if_ok in (DROPPED, SKIPPED):
                results.append(ActionResult(action, outcome_if_ok, note))
                self.state.log_action(run_id, w.store.name, action.kind, action.key, action.before, action.after,
                                      "skipped", note)
                continue
            results.append(self._run_action(ctx, run_id, w, action, outcome_if_ok, note))
        self._finish_orders(ctx, w, results)
        return StoreReport(p.store, p.mapping, tuple(results), self._current_holds(w, results), p.warnings, p.notes,
                           None)

    def _run_action(self, ctx: RunContext, run_id: int, w: _StoreWork, action: Action, outcome: str,
                    note: str) -> ActionResult:
        store = w.store
        try:
            if action.kind == "mapping":
                self.state.record_mapping(store.name, w.location.id, w.location.name,
                                          self.config.store_hash(store.name), reason=str(w.plan.mapping))
                if w.plan.mapping.kind == REMAP:
                    self.state.forget_pushed(store.name)
                result: Any = action.after
            elif action.kind == "order.import":
                result = order_engine.apply_import(ctx, store, action)
            elif action.kind == "stock.initial_import":
                result = stock_engine.apply_initial_import(ctx, store, action)
            elif action.kind == "stock.push":
                result = stock_engine.apply_stock_push(ctx, store, action)
                if result["not_applied"]:
                    outcome = FAILED
                    missed = result["not_applied"]
                    note = (f"{len(missed)} of {len(missed) + result['pushed']} stock levels not applied by the "
                            f"store: " + "; ".join(f"{m['sku']} ({m['reason']})" for m in missed[:10])
                            + (f"; … and {len(missed) - 10} more" if len(missed) > 10 else ""))
            else:
                raise ReconcileError(f"unknown action kind {action.kind!r}")
        except Exception as exc:  # one action's failure, expected or not, never stops the others
            if not isinstance(exc, KatanaWooError):
                log.exception("%s: unexpected error in %s %s", store.name, action.kind, action.key)
                exc = ReconcileError(f"unexpected {type(exc).__name__}: {exc}")
            log.warning("%s: %s %s failed: %s", store.name, action.kind, action.key, exc)
            if action.kind == "order.import":
                order_engine.record_hold(ctx, Hold(store.name, int(action.payload["woo_order_id"]),
                                                   str(action.payload["woo_number"]), "create_failed", str(exc)),
                                         None)
            self.state.log_action(run_id, store.name, action.kind, action.key, action.before, action.after,
                                  "failed", str(exc))
            return ActionResult(action, FAILED, str(exc))
        self.state.log_action(run_id, store.name, action.kind, action.key, action.before, result,
                              "applied" if outcome != FAILED else "failed", note)
        return ActionResult(action, outcome, note, result)

    def _finish_orders(self, ctx: RunContext, w: _StoreWork, results: list[ActionResult]) -> None:
        """Ledger and cursor: holds recorded, recovered orders adopted, the cursor moved only past
        orders this run dealt with (never past one a saved plan left out)."""
        if w.read is None:
            return
        store = w.store
        existing = ctx.katana_orders(store)
        ledger = self.state.ledger(store.name)
        by_id = {o.id: o for o in w.read.orders}
        for hold in w.orders.holds:
            order_engine.record_hold(ctx, hold, by_id.get(hold.woo_order_id))
        for order in w.read.orders:
            entry = ledger.get(order.id)
            so = existing.get(str(order.id))
            if so is not None and (entry is None or entry.status != "imported"):
                order_engine.record_existing(ctx, store, order, so)
            elif so is None and entry is not None and entry.status == "held" and order.status not in store.orders.statuses:
                self.state.ledger_put(replace(entry, status="skipped",
                                              reason=f"left the imported statuses (now {order.status})"))
        left_out = [by_id[int(r.action.key.split(":")[1])] for r in results
                    if r.action.kind == "order.import" and r.outcome == SKIPPED
                    and int(r.action.key.split(":")[1]) in by_id]
        cursor = w.read.newest_modified
        if left_out:
            oldest = min(o.date_modified_gmt for o in left_out if o.date_modified_gmt)
            cursor = min(cursor, oldest - timedelta(seconds=1)) if cursor else oldest - timedelta(seconds=1)
        if cursor is not None:
            self.state.set_cursor(store.name, order_engine.CURSOR, cursor.isoformat())

    def _current_holds(self, w: _StoreWork, results: list[ActionResult]) -> tuple[Hold, ...]:
        failed = tuple(Hold(w.store.name, int(r.action.payload["woo_order_id"]), str(r.action.payload["woo_number"]),
                            "create_failed", r.message)
                       for r in results if r.action.kind == "order.import" and r.outcome == FAILED)
        return tuple(w.plan.holds) + failed

    def _apply_stock_all(self, ctx: RunContext, run_id: int, work: list[_StoreWork], plan: Plan | None,
                         reports: dict[str, StoreReport]) -> None:
        """Stock after every store's orders: re-read each touched location, re-plan the pushes
        (held and failed imports still lower the figure), then write."""
        live = [w for w in work if reports[w.store.name].status not in ("disabled", "blocked")
                and w.location is not None and not w.fatal and w.store.stock.sync]
        pending: dict[int, dict[int, Decimal]] = defaultdict(dict)
        for location_id, quantities in ctx.companion_pending.items():   # stores left out by --store
            order_engine.add_quantities(pending[location_id], quantities)
        for w in live:
            orders = {o.id: o for o in (w.read.orders if w.read else ())}
            still_open = [orders[h.woo_order_id] for h in reports[w.store.name].holds if h.woo_order_id in orders]
            for order in still_open + list(w.read.uncommitted if w.read else ()):
                order_engine.add_quantities(pending[w.location.id], order_engine.variant_quantities(order, ctx.variants_by_sku()))
        for w in live:
            rep = reports[w.store.name]
            try:
                sync = stock_engine.plan_stock_sync(ctx, w.store, w.location, pending[w.location.id])
            except KatanaWooError as exc:
                reports[w.store.name] = replace(rep, error=f"stock sync: {exc}")
                continue
            notes = dict(rep.notes)
            notes.update(sync.notes)
            if sync.error:
                reports[w.store.name] = replace(rep, notes=notes, error=sync.error)
                continue
            saved = _saved_store(plan, w.store.name)
            fresh = [sync.action] if sync.action else []
            planned = [a for a in w.plan.actions if a.kind == "stock.push"]
            results = list(rep.results)
            for action, outcome, note in _pair(saved, fresh, {"stock.push"}, planned):
                if outcome in (DROPPED, SKIPPED):
                    results.append(ActionResult(action, outcome, note))
                    continue
                results.append(self._run_action(ctx, run_id, w, action, outcome, note))
            reports[w.store.name] = replace(rep, results=tuple(results), notes=notes)

    # --- status ------------------------------------------------------------------------------------

    def status(self) -> Status:
        """Per-store conditions, as the last apply left them (reads the state only)."""
        return read_status(self.config, self.state)

    def compare_stock(self, store: str) -> StockComparison:
        """The store's stock next to its location's figures and what a push would write (reads only)."""
        cfg = self.config.store(store)
        ctx = self._context()
        work = {w.store.name: w for w in self._plan(ctx, list(self.config.enabled_stores), False)}
        w = work.get(cfg.name)
        if w is None or w.location is None or w.plan.error:
            raise ReconcileError(f"{store}: cannot compare stock: "
                                 f"{(w.plan.error or w.plan.mapping.message) if w else 'store is disabled'}")
        inventory, variants = ctx.inventory(w.location.id), ctx.variants_by_sku()
        pending = ctx.pending.get(w.location.id, {})
        rows = []
        catalog = ctx.catalog(cfg)
        # As the push computes it: a parent managing its variations' stock shows the pool's figure.
        pools = stock_engine.parent_pools(catalog, variants)
        for item in catalog:
            variant = variants.get(item.sku) if item.sku else None
            if variant is None or item.manage_stock is not True:
                continue
            members = [variant.id, *(v.id for v in pools.get(item.id, ()))]
            found = [inventory[vid] for vid in members if vid in inventory]
            if not found:
                continue
            row = stock_engine._pooled(variant.id, w.location.id, found)
            target = stock_engine.figure(row, sum((pending.get(vid, Decimal(0)) for vid in members), Decimal(0)),
                                         cfg.stock)
            rows.append(StockRow(item.sku, item.stock_quantity, row.quantity_in_stock, row.quantity_committed,
                                 row.available, target))
        return StockComparison(cfg.name, LocationRef(w.location.id, w.location.name), tuple(rows))

    # --- explicit Ship From move -------------------------------------------------------------------

    def move_order(self, store: str, order: int | str, to_location: int | str) -> MoveResult:
        """Move an imported, still open sales order (and its rows) to another location: the only
        way imported orders change location; a remap never moves them silently."""
        return move_sales_order(self.config, self.katana, self.state, self._context(), store, order, to_location)


# --- helpers ---------------------------------------------------------------------------------------

def _shown_path(path: os.PathLike | None) -> str | None:
    """The config path as a plan shows it: relative to the working directory (a pull-request
    comment must not show the CI machine's layout), or just its name when it lies elsewhere."""
    if path is None:
        return None
    relative = os.path.relpath(path)
    return os.path.basename(path) if relative.startswith("..") else relative


def _diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0)}


def _saved_store(plan: Plan | None, name: str) -> StorePlan | None:
    if plan is None:
        return None
    return next((s for s in plan.stores if s.store == name), None)


def _pair(saved: StorePlan | None, fresh: list[Action], kinds: set[str], predicted: Sequence[Action] = ()):
    """Yield (action, outcome, note) for the actions of `kinds`.

    Without a saved plan every fresh action runs (reported `replanned` where it differs from what
    this run predicted). With one, the saved actions decide what runs: unchanged -> applied as
    planned, changed fingerprint -> the fresh version, reported `replanned`, gone -> dropped; fresh
    actions the saved plan lacks are skipped for the next run."""
    if saved is None:
        predicted_by_key = {a.key: a for a in predicted}
        for a in fresh:
            was = predicted_by_key.get(a.key)
            if was is not None and was.fingerprint != a.fingerprint:
                yield a, REPLANNED, "figures changed since planning; applied as re-computed"
            else:
                yield a, APPLIED, ""
        return
    fresh_by_key = {a.key: a for a in fresh}
    saved_keys = set()
    for old in (a for a in saved.actions if a.kind in kinds):
        saved_keys.add(old.key)
        new = fresh_by_key.get(old.key)
        if new is None:
            yield old, DROPPED, "no longer needed (already done, or the data changed): not applied"
        elif new.fingerprint == old.fingerprint:
            yield new, APPLIED, ""
        else:
            yield new, REPLANNED, "the data changed since the plan was made: applied as re-planned, not as saved"
    for a in fresh:
        if a.key not in saved_keys:
            yield a, SKIPPED, "not in the saved plan: run plan again to include it"
