"""The reconciling runner: plan (reads only) -> apply (writes what the plan allows) -> status.

Called by the CLI (`katana-woo plan/apply/status/move-order`), by notebooks and by users' own
Python::

    with Runner.from_config_file("configs/demo.yaml") as runner:
        plan = runner.plan()          # what would change, per store; nothing written
        report = runner.apply(plan)   # re-checks each action, applies, records state
        print(runner.status())

The runner only sequences the engines; every business rule lives in one engine. Per run: resolve
each store's mapping (a deleted location blocks the store: nothing is read or written for it),
check that no two stores are one shop, read and plan each store's orders, plan the one-time
initial imports, compute what the stores took that Katana has not committed (`engines.pending`),
then plan each store's push. Apply runs the same planning on fresh data, lets the saved plan's
contract (`contract`) decide what may run, imports orders and initial stock store by store, and
then, location by location: re-reads the inventory, re-reads the orders shoppers placed meanwhile,
and writes the stock, revising the figures while it writes and correcting any level an order
made stale in the instant before its write. One store's failure never stops the others.
"""
from __future__ import annotations

import contextlib
import logging
import os
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ._http import CallCounter
from ._location_sync import Changed, LocationSync
from ._store_work import StoreWork
from .actions import LocationRef, MappingChange, OrderDeletion, OrderDelivery, RowUpdate
from .conditions import read_status, record_conditions
from .config import Config, StoreConfig, load_config, revealed
from .contract import Decision, check_saved_plan, decide
from .engines import changes
from .engines import duplicates
from .engines import fulfilment
from .engines import initial_import as import_engine
from .engines import lifecycle as lifecycle_engine
from .engines import orders as order_engine
from .engines import products as products_engine
from .engines import stock as stock_engine
from .engines import stores as stores_engine
from ._progress import progress
from .engines.context import RunContext
from .engines.pending import Pending, taken_not_committed
from .errors import KatanaWooError, ReconcileError, SavedPlanError
from .explain import OrderStory, SkuStory, StoreSide, order_story, sku_story
from .history import History, logged_after, read_history, run_summary
from .katana import KatanaClient
from .locks import store_locks
from .models import Location, WooOrder
from .moves import MoveResult, move_sales_order
from .plan import (APPLIED, Failure, DISABLED, DROPPED, FAILED, INVALID, REMAP, REPLANNED, SKIPPED, Action,
                   ActionResult, Hold, MappingPlan, Plan, Report, Status, StorePlan, StoreReport,
                   now_utc)
from .report import StockComparison, StockRow
from .state import State
from .woo import WooClient

log = logging.getLogger(__name__)
# An incremental run's reads: what changed in Katana, and each syncing store's changed SKUs.
_Found = tuple[changes.KatanaChanges, dict[str, frozenset[str]]]

DEFAULT_MAX_PLAN_AGE = timedelta(days=1)


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
        self.state = state if state is not None else State.from_config(config.state)
        self._own_katana, self._own_woo = katana is None, woo is None
        if katana is None:
            key = config.katana.api_key.reveal() if config.katana.api_key else ""
            katana = KatanaClient(key, base_url=config.katana.base_url, rate=config.katana.rate_limit.requests,
                                  period=config.katana.rate_limit.period_seconds, counter=self.calls)
        self.katana = katana
        if woo is None:
            woo = {s.name: WooClient(s.url, revealed(s.consumer_key), revealed(s.consumer_secret),
                                     allow_insecure_http=s.allow_insecure_http, verify=s.verify, name=s.name,
                                     counter=self.calls)
                   for s in config.enabled_stores}
        self.woo = dict(woo)
        self.progress = progress
        limiter = getattr(katana, "limiter", None)
        if progress is False and limiter is not None:
            limiter.show_waits = False    # `--no-progress`: no countdown for the rate limit's waits either
        # Set by `katana-woo run` (`service.loop`): it holds the state lock for its lifetime, and asks
        # each action whether the service is stopping (then the action is skipped, and logged so).
        self.state_lock_held = False
        self.stopping: Callable[[], bool] | None = None

    @classmethod
    def from_config_file(cls, path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None,
                         progress: bool | None = None, **kwargs: Any) -> "Runner":
        """`env`: where the config's variables are read (default: the process environment)."""
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

    def plan(self, stores: Sequence[str] | None = None, *, confirm_shared_import: bool = False,
             include_customer_data: bool = False) -> Plan:
        """What apply would do now, per store. Reads only. `include_customer_data` puts each order's
        contact data into the plan (never needed by apply; keep such a plan private)."""
        before = self.calls.snapshot()
        work = self._read_and_plan(self._context(), self._select(stores), confirm_shared_import,
                                   include_customer_data)
        return Plan(now_utc(), self.config.config_hash, _shown_path(self.config.source),
                    tuple(w.store_plan() for w in work if not w.companion), _diff(self.calls.snapshot(), before),
                    includes_customer_data=include_customer_data)

    def _context(self, *, keep: bool = False) -> RunContext:
        return RunContext(self.config, self.katana, self.woo, self.state, progress=self.progress, keep=keep)

    def _select(self, names: Sequence[str] | None) -> list[StoreConfig]:
        if not names:
            return list(self.config.stores)
        return [self.config.store(n) for n in names]  # KeyError names the known stores

    def _read_and_plan(self, ctx: RunContext, stores: list[StoreConfig], confirm: bool,
                       include_customer_data: bool, *, stock: bool = True, full: bool = True) -> list[StoreWork]:
        """Read and plan every store. `stock=False` (apply) leaves the pushes out: apply reads each
        location's inventory once, after its imports, and computes the pushes then."""
        try:
            locations = ctx.locations()
        except KatanaWooError as exc:
            out = []
            for s in stores:
                w = StoreWork(s, MappingPlan(INVALID if s.enabled else DISABLED), self.config.store_hash(s.name))
                w.fail(f"cannot read Katana locations: {exc}")
                out.append(w)
            return out
        work = [self._mapping(s, locations) for s in stores]
        live = [w for w in work if w.live]
        work += self._companions(stores, live, locations)
        live = [w for w in work if w.live]
        self._check_identities(ctx, live)
        if stock:
            # The inventory is read with its variants: read first, it names every SKU the orders need.
            for location_id in sorted({w.known_location.id for w in live if w.live and w.config.stock.sync}):
                self._guard_all([w for w in live if w.known_location.id == location_id],
                                lambda location_id=location_id: ctx.inventory(location_id), prefix="stock: ")
        for w in [w for w in live if w.live]:          # every store's orders read first ...
            self._guard(w, lambda w=w: self._read_orders(ctx, w, full))
        self._guard_all([w for w in live if w.live], lambda: ctx.variants(
            li.sku for w in live if w.facts for o in w.facts.seen for li in o.line_items))
        earlier: dict[int, list[str]] = {}
        for w in [w for w in live if w.live and not w.companion]:  # ... the one-time initial imports ...
            if w.config.stock.initial_import:
                self._guard(w, lambda w=w: self._plan_initial(ctx, w, confirm, earlier), fatal=False)
        for w in [w for w in live if w.live and not w.companion]:  # ... the orders to import ...
            self._guard(w, lambda w=w: self._plan_orders(ctx, w, include_customer_data))
        for w in [w for w in live if w.live and not w.companion and w.facts is not None]:   # ... their lives since ...
            self._plan_lifecycle(ctx, w, full)
        if not stock:
            return work
        try:
            pending = self._pending(ctx, [w for w in work if w.facts is not None])
        except KatanaWooError as exc:
            for w in live:
                if w.live and not w.companion and w.config.stock.sync:
                    w.fail(f"stock: cannot tell what the stores took: {exc}", fatal=False)
            return work
        adjustments: dict[int, dict[int, Any]] = {}
        for w in live:
            if w.initial is not None:
                for vid, qty in w.initial.adjustments.items():
                    at = adjustments.setdefault(w.known_location.id, {})
                    at[vid] = at.get(vid, 0) + qty
        for w in [w for w in live if w.live and not w.companion]:   # ... then stock, shared per location
            if w.error is None:
                self._guard(w, lambda w=w: self._plan_push(ctx, w, pending, adjustments.get(w.known_location.id, {})),
                            fatal=False, prefix="stock: ")
        return work

    # `step` is called with no argument; `...` lets a loop's `lambda w=w:` bind its store.
    def _guard_all(self, stores: list[StoreWork], step: Callable[..., object], *, prefix: str = "") -> None:
        """A read several stores need: its failure stays with them (stock failures are not fatal)."""
        try:
            step()
        except KatanaWooError as exc:
            for w in stores:
                w.fail(prefix + str(exc), fatal=not prefix)

    def _mapping(self, store: StoreConfig, locations: list[Location], *, companion: bool = False) -> StoreWork:
        h = self.config.store_hash(store.name)
        if not store.enabled:
            return StoreWork(store, MappingPlan(DISABLED, message="enabled: false"), h, companion=companion)
        step = stores_engine.plan_mapping(store, locations, self.state.current_mapping(store.name))
        w = StoreWork(store, step.mapping, h, step.location if step.error is None else None, companion=companion,
                      mapping_action=step.action)
        if step.error:
            w.fail(step.error)
        return w

    def _companions(self, selected: list[StoreConfig], live: list[StoreWork],
                    locations: list[Location]) -> list[StoreWork]:
        """Stores left out by `--store` that share a location with a selected one: their orders
        are read (never applied) because what they took lowers the figure every store there sees."""
        names = {s.name for s in selected}
        wanted = {w.known_location.id for w in live}
        out = []
        for store in self.config.enabled_stores:
            if store.name in names:
                continue
            w = self._mapping(store, locations, companion=True)
            if w.live and w.known_location.id in wanted:
                out.append(w)
        return out

    def _guard(self, w: StoreWork, step: Callable[..., object], *, fatal: bool = True, prefix: str = "") -> None:
        """Run one planning step; whatever goes wrong stays with this store. A failed stock step
        is not fatal: the store's orders do not need the figure and are still imported."""
        try:
            step()
        except Exception as exc:  # a bug must not stop the other stores either; it is reported loudly
            if isinstance(exc, KatanaWooError):
                log.warning("%s: %s", w.name, exc)
                message = str(exc)
            else:
                log.exception("%s: unexpected error while planning", w.name)
                message = f"unexpected {type(exc).__name__}: {exc}"
            w.fail(prefix + message, fatal=fatal)

    def _check_identities(self, ctx: RunContext, stores: list[StoreWork]) -> None:
        refused = stores_engine.same_shops(ctx, [w.config for w in stores])
        for w in stores:
            if w.name in refused:
                w.fail(refused[w.name])

    def _read_orders(self, ctx: RunContext, w: StoreWork, full: bool = True) -> None:
        if w.config.orders.enabled:
            w.facts = order_engine.read_orders(ctx, w.config, full=full)
        w.store_time = ctx.woo[w.name].server_time

    def _plan_orders(self, ctx: RunContext, w: StoreWork, include_customer_data: bool) -> None:
        if w.facts is None:
            return
        w.orders = order_engine.plan_orders(ctx, w.config, w.known_location, w.facts,
                                            include_customer_data=include_customer_data)
        if w.orders.recovered:
            w.notes["orders_already_in_katana"] = w.orders.recovered

    def _plan_lifecycle(self, ctx: RunContext, w: StoreWork, full: bool) -> None:
        """What became of the store's imported orders. A failure does not stop its imports or its
        stock: it is a warning, and the cursors it reads from stay where they were (`apply`)."""
        try:
            w.lifecycle = lifecycle_engine.plan_lifecycle(ctx, w.config, w.known_location, w.known_facts, full=full)
        except Exception as exc:  # a bug must not stop the store either; it is reported loudly
            if not isinstance(exc, KatanaWooError):
                log.exception("%s: unexpected error while looking at imported orders", w.name)
            w.lifecycle_failed = True
            w.warnings.append(f"lifecycle: could not look at what became of imported orders ({exc}); "
                              f"the next run looks again")

    def _plan_initial(self, ctx: RunContext, w: StoreWork, confirm: bool, earlier: dict[int, list[str]]) -> None:
        others = [s for s in self.config.enabled_stores if s.name != w.name]
        w.initial = import_engine.plan_initial_import(ctx, w.config, w.known_location, w.facts, others=others,
                                                      earlier_in_run=earlier.get(w.known_location.id, ()),
                                                      confirmed=confirm)
        if w.initial.state == "refused":
            w.fail(w.initial.message, fatal=False)
        if w.initial.state == "planned":
            earlier.setdefault(w.known_location.id, []).append(w.name)

    def _plan_push(self, ctx: RunContext, w: StoreWork, pending: Pending, adjustments: Mapping[int, Any]) -> None:
        if not w.config.stock.sync:
            return
        w.push = stock_engine.plan_push(ctx, w.config, w.known_location, pending, adjustments)

    def _pending(self, ctx: RunContext, stores: Iterable[StoreWork],
                 fresh: Mapping[str, Sequence[WooOrder]] | None = None) -> Pending:
        """The one figure (`engines.pending`) from every order this run has seen of `stores`."""
        by_name = {w.name: w for w in stores}
        fresh = fresh or {}
        observed = {name: [*(w.facts.seen if w.facts else ()), *fresh.get(name, ())] for name, w in by_name.items()}
        held = {(w.name, h.woo_order_id) for w in by_name.values() if w.orders for h in w.orders.holds}

        def parents(name: str) -> Mapping[int, str]:
            ids = {li.product_id for o in observed[name] for li in o.line_items if li.variation_id}
            try:
                return ctx.parent_skus(by_name[name].config, ids)
            except KatanaWooError as exc:
                # Unknown parents: every variation line counts under its SKU, which can only lower a
                # figure (a line of a variation without its own SKU then lowers its parent's).
                log.warning("%s: cannot read the parents of variation lines (%s)", name, exc)
                return {}

        return taken_not_committed(
            observed, stores={n: w.config for n, w in by_name.items()},
            locations={n: w.location.id for n, w in by_name.items() if w.location is not None},
            committed=lambda name, woo_id: order_engine.is_committed(ctx, by_name[name].config, woo_id),
            variants=ctx.variants(li.sku for orders in observed.values() for o in orders for li in o.line_items),
            parent_skus=parents, held=lambda name, woo_id: (name, woo_id) in held)

    # --- apply -------------------------------------------------------------------------------------

    def apply(self, plan: Plan | None = None, *, stores: Sequence[str] | None = None,
              confirm_shared_import: bool = False, replan: bool = False,
              max_plan_age: timedelta | None = None, full: bool = False,
              focus: changes.Focus | None = None) -> Report:
        """Apply `plan` (or a fresh one).

        A saved plan is a contract (see `contract`): refused with `SavedPlanError` when the config
        changed since, when it was applied already, or when it is older than `max_plan_age`
        (default: the config's `plans.max_age_minutes`); within it, each action is re-checked
        against fresh data and runs only where the change cannot widen what was approved.
        `replan=True` lifts the contract (the old behaviour) and says so in the report.

        A run is incremental (only what changed since the last run is read, `engines.changes`) or
        full (everything: the first run, `full=True`, a changed config, and at least every
        `reconcile.full_every_hours`); the report says which ran. The account's Katana watermark
        moves only after a run that covered every enabled store: a run filtered with `stores` leaves
        it, so the other stores still see the changes it read.

        `focus` (the service's events, `changes.Focus`): an incremental run that reads none of the
        account's changes; it imports the selected stores' changed orders and pushes only the
        variants of `focus` and those its orders moved, and leaves every watermark where it was.
        A run that must be full ignores it."""
        started = now_utc()
        before = self.calls.snapshot()
        names = stores or ([s.store for s in plan.stores] if plan is not None else None)
        selected = self._select(names)
        if plan is not None and not replan:
            check_saved_plan(plan, config_hash=self.config.config_hash, config_path=_shown_path(self.config.source),
                             applied=self.state.plan_applied(plan.plan_id), now=started,
                             max_age=max_plan_age if max_plan_age is not None else self._max_plan_age())
        timeout = self.config.state.lock_timeout_seconds
        owner = "katana-woo apply"
        with (contextlib.nullcontext() if self.state_lock_held else self.state.lock(timeout=timeout, owner=owner)), \
                store_locks(self.config, [s for s in selected if s.enabled], timeout=timeout, owner=owner):
            messages: list[str] = []
            if plan is not None:
                first = self.state.record_plan_applied(plan.plan_id, plan.config_hash)
                if not first and not replan:
                    raise SavedPlanError("already_applied", f"plan {plan.plan_id} was applied already; plan again")
                if replan:
                    messages.append("applied with --replan: the saved plan was not enforced as a contract; changed "
                                    "actions ran as re-planned")
            run_id = self.state.start_run("apply" if plan is None else "apply-saved-plan", self.config.config_hash)
            ctx = self._context(keep=True)
            kind = changes.run_kind(self.state, self.config, now=started, full=full)
            ctx.orders_since = changes.orders_since(self.state, kind)
            work = self._read_and_plan(ctx, selected, confirm_shared_import, False, stock=False, full=kind.full)
            applying = [w for w in work if not w.companion]
            # Every store's buyers at once: one listing of the account's customers can beat a lookup each.
            ctx.prefetch_customers(_buyers(applying))
            results: dict[str, list[ActionResult]] = {w.name: [] for w in applying}
            holds: dict[str, tuple[Hold, ...]] = {}
            for w in applying:
                holds[w.name] = self._apply_store(ctx, run_id, w, _saved_store(plan, w.name), replan, started,
                                                  results[w.name])
            messages.extend(self._repair_customers(ctx, results, started))
            focus = None if kind.full else focus
            kind, stock_ok, katana_changes = self._apply_stock(ctx, run_id, work, plan, replan, results, kind,
                                                               messages, focus)
            messages.insert(0, str(kind) if focus is None else f"{kind}, {focus}")
            everyone = {s.name for s in self.config.enabled_stores} <= {s.name for s in selected}
            self._keep_for_next_run(ctx, work, kind, started, stock_ok, katana_changes, results,
                                    scope="focus" if focus is not None else "all" if everyone else "some")
            reports = []
            for w in applying:
                sp = w.store_plan()
                rep = StoreReport(w.name, w.mapping, tuple(results[w.name]), holds.get(w.name, sp.holds),
                                  sp.warnings, sp.notes, w.error,
                                  w.attention if w.attention is not None else sp.attention)
                record_conditions(self.state, self.config, w.config, rep,
                                  stock_issue=w.push.warning if w.push is not None else None)
                reports.append(rep)
            report = Report(started, now_utc(), self.config.config_hash, tuple(reports),
                            _diff(self.calls.snapshot(), before), plan.plan_id if plan else None, tuple(messages))
            self.state.finish_run(run_id, "failed" if report.has_failures else "ok",
                                  run_summary({s.store: s.status for s in report.stores}, report.calls))
        return report

    def _max_plan_age(self) -> timedelta | None:
        minutes = self.config.plans.max_age_minutes
        return None if minutes is None else timedelta(minutes=minutes)

    def _apply_store(self, ctx: RunContext, run_id: int, w: StoreWork, saved: StorePlan | None, replan: bool,
                     started: datetime, results: list[ActionResult]) -> tuple[Hold, ...]:
        """Mapping, orders and the initial import of one store; returns its holds after the run."""
        if not w.live:
            return w.orders.holds if w.orders else ()
        store = w.config
        for d in decide(saved, [w.mapping_action] if w.mapping_action else [], {"mapping"}, replan=replan):
            results.append(self._run(ctx, run_id, w, d, self._apply_mapping))
        if w.orders is not None:
            by_id = w.known_facts.by_id()
            created: dict[int, int] = {}
            decisions = list(decide(saved, list(w.orders.actions), {"product.create", "order.import", "order.complete"},
                                    replan=replan))
            for d in progress(decisions, desc=f"{w.name} orders", total=len(decisions), enabled=self.progress):
                def step(ctx: RunContext, w: StoreWork, action: Action,
                         by_id: Mapping[int, WooOrder] = by_id) -> object:
                    if action.kind == "product.create":
                        return products_engine.apply_creation(ctx, store, action)
                    if action.kind == "order.complete":
                        return order_engine.apply_completion(ctx, store, action)
                    return order_engine.apply_import(ctx, store, action,
                                                     by_id[order_engine.import_payload(action).woo_order_id])
                result = self._run(ctx, run_id, w, d, step)
                results.append(result)
                if d.action.kind == "order.import" and result.outcome in (APPLIED, REPLANNED) \
                        and getattr(result.result, "created", False):
                    created[order_engine.import_payload(d.action).woo_order_id] = result.result.sales_order_id
            cursor = self.state.get_cursor(store.name, order_engine.CURSOR)
            holds = order_engine.record_outcomes(ctx, store, w.known_facts, w.orders, results)
            if w.lifecycle_failed:
                # What the walk returned was not looked at for its lifecycle: the next walk reads it again.
                self.state.set_cursor(store.name, order_engine.CURSOR, cursor)
            try:
                for repair in duplicates.repair_duplicates(ctx, store, created, started):
                    w.warnings.append(str(repair))
            except KatanaWooError as exc:
                w.warnings.append(f"could not check this run's sales orders for duplicates: {exc}")
        else:
            holds = ()
        if w.lifecycle is not None:
            for d in decide(saved, list(w.lifecycle.actions), set(lifecycle_engine.KINDS), replan=replan):
                result = self._run(ctx, run_id, w, d, lambda ctx, w, action: fulfilment.apply_lifecycle(
                    ctx, store, action))
                results.append(result)
                if getattr(result.result, "note_error", None):     # the completion stands; its note is missing
                    w.warnings.append(f"{d.action.summary}: {result.result.note_error}")
            try:
                w.attention = lifecycle_engine.record_lifecycle(ctx, store, w.lifecycle, results)
            except KatanaWooError as exc:
                w.warnings.append(f"lifecycle: could not record what became of imported orders: {exc}")
        if w.initial is not None and w.initial.state == "done":
            import_engine.adopt(ctx, store, w.initial)
        if w.initial is not None and w.initial.state == "planned":
            assert w.initial.action is not None  # a planned import has its action
            for d in decide(saved, [w.initial.action], {"stock.initial_import"}, replan=replan):
                result = self._run(ctx, run_id, w, d, lambda ctx, w, action: import_engine.apply_initial_import(
                    ctx, store, action))
                results.append(result)
                for repair in getattr(result.result, "repairs", ()):
                    w.warnings.append(repair)
        return holds

    @staticmethod
    def _repair_customers(ctx: RunContext, results: Mapping[str, list[ActionResult]], started: datetime) -> list[str]:
        """Customers are shared by every store: checked for twins once per run, after the imports."""
        created: dict[int, list[int]] = {}
        for store_results in results.values():
            for r in store_results:
                cid = getattr(r.result, "customer_created", None)
                if cid is not None and r.outcome in (APPLIED, REPLANNED):
                    created.setdefault(cid, []).append(r.result.sales_order_id)
        try:
            return list(duplicates.repair_customers(ctx, created, started))
        except KatanaWooError as exc:
            return [f"could not check this run's new customers for duplicates: {exc}"]

    def _apply_mapping(self, ctx: RunContext, w: StoreWork, action: Action) -> MappingChange:
        self.state.record_mapping(w.name, w.known_location.id, w.known_location.name, w.store_hash,
                                  reason=str(w.mapping))
        if w.mapping.kind == REMAP:
            self.state.forget_pushed(w.name)
        assert isinstance(action.payload, MappingChange)  # a mapping action carries its change
        return action.payload

    def _run(self, ctx: RunContext, run_id: int, w: StoreWork, d: Decision,
             step: Callable[[RunContext, StoreWork, Action], Any]) -> ActionResult:
        """One decided action: executed unless dropped or skipped, logged either way."""
        action = d.action
        if self.stopping is not None and d.outcome not in (DROPPED, SKIPPED) and self.stopping():
            d = Decision(action, SKIPPED, "not run: the service is stopping (the next run does it)")
        if d.outcome in (DROPPED, SKIPPED):
            self.state.log_action(run_id, w.name, action.kind, action.key, action.before, action.after,
                                  "skipped", d.note)
            log.info("%s: %s %s %s: %s", w.name, d.outcome, action.kind, action.key, d.note)
            return ActionResult(action, d.outcome, d.note)
        try:
            result = step(ctx, w, action)
        except Exception as exc:  # one action's failure, expected or not, never stops the others
            if not isinstance(exc, KatanaWooError):
                log.exception("%s: unexpected error in %s %s", w.name, action.kind, action.key)
                exc = ReconcileError(f"unexpected {type(exc).__name__}: {exc}")
            log.warning("%s: %s %s failed: %s", w.name, action.kind, action.key, exc)
            self.state.log_action(run_id, w.name, action.kind, action.key, action.before, action.after,
                                  "failed", str(exc))
            return ActionResult(action, FAILED, str(exc), Failure(type(exc).__name__))
        outcome, note = d.outcome, d.note
        if isinstance(result, stock_engine.PushResult) and result.not_applied:
            missed = result.not_applied
            outcome = FAILED
            note = (f"{len(missed)} of {len(missed) + len(result.pushed)} stock levels not applied by the store: "
                    + "; ".join(f"{m.sku} ({m.reason})" for m in missed[:10])
                    + (f"; … and {len(missed) - 10} more" if len(missed) > 10 else ""))
        self.state.log_action(run_id, w.name, action.kind, action.key, action.before,
                              logged_after(action.kind, action.after, result),
                              "applied" if outcome != FAILED else "failed", note)
        log.info("%s: %s %s %s: %s%s", w.name, outcome, action.kind, action.key, action.summary,
                 f" ({note})" if note else "")
        return ActionResult(action, outcome, note, result)

    # --- status, comparison, moves ----------------------------------------------------------------

    def status(self) -> Status:
        """Per-store conditions, as the last apply left them (reads the state only)."""
        return read_status(self.config, self.state)

    def compare_stock(self, store: str) -> StockComparison:
        """The store's stock next to its location's figures and what a push would write (reads only):
        the same figures a push computes, from the same planning."""
        cfg = self.config.store(store)
        work = {w.name: w for w in self._read_and_plan(self._context(), list(self.config.enabled_stores),
                                                       False, False)}
        w = work.get(cfg.name)
        if w is None or w.location is None or w.error or w.push is None:
            why = (w.error or w.mapping.message or "stock sync is off") if w else "store is disabled"
            raise ReconcileError(f"{store}: cannot compare stock: {why}")
        rows = [StockRow(f.sku, f.item.stock_quantity, f.in_stock, f.committed, f.available, f.target)
                for f in w.push.figures.values()]
        return StockComparison(cfg.name, LocationRef(w.location.id, w.location.name), tuple(rows))

    def move_order(self, store: str, order: int | str, to_location: int | str) -> MoveResult:
        """Move an imported, still open sales order (and its rows) to another location: the only
        way imported orders change location; a remap never moves them silently."""
        cfg = self.config.store(store)
        with store_locks(self.config, [cfg], timeout=self.config.state.lock_timeout_seconds,
                         owner="katana-woo move-order"):
            return move_sales_order(self.config, self.katana, self.state, self._context(), store, order,
                                    to_location)

    # --- apply: stock, location by location ----------------------------------------------------------

    def _apply_stock(self, ctx: RunContext, run_id: int, work: list[StoreWork], plan: Plan | None, replan: bool,
                     results: dict[str, list[ActionResult]], kind: changes.RunKind,
                     messages: list[str], focus: changes.Focus | None = None,
                     ) -> tuple[changes.RunKind, bool, changes.KatanaChanges | None]:
        """Every location's writes. Returns the run's kind (an incremental run whose change reads
        failed becomes a full one for stock) and whether every stock read succeeded."""
        found: _Found | None = None
        if focus is not None:
            found = (changes.KatanaChanges(focus.at_locations({w.known_location.id for w in work if w.live})), {})
        elif not kind.full:
            try:
                found = self._changes(ctx, work, kind)
            except KatanaWooError as exc:
                messages.append(f"the incremental reads failed ({exc}): stock reconciled in full")
                kind = changes.RunKind(True, "the incremental reads failed", None)
        by_location: dict[int, list[StoreWork]] = {}
        for w in work:
            if w.live:
                by_location.setdefault(w.known_location.id, []).append(w)
        for location_id, members in by_location.items():
            writers = []
            for w in members:
                if w.companion or not w.config.stock.sync:
                    continue
                if w.error is not None:
                    continue          # e.g. a refused initial import: reported already, nothing pushed
                if not import_engine.is_confirmed(ctx, w.config):
                    failed = [r for r in results[w.name] if r.action.kind == "stock.initial_import"]
                    why = failed[-1].message if failed and failed[-1].message else "it did not run"
                    w.fail(f"initial stock import not confirmed in Katana ({why}): nothing pushed to {w.name}, "
                           f"so its levels are kept for the import; the next run imports them", fatal=False)
                    continue
                writers.append(w)
            if writers:
                changed = None if found is None else self._changed_at(location_id, members, results, found)
                LocationSync(ctx, members, writers, plan, replan, results,
                             run_action=lambda w, d, step: self._run(ctx, run_id, w, d, step),
                             pending=lambda stores, fresh: self._pending(ctx, stores, fresh), changed=changed,
                             log_write=lambda w, items, result: self.state.log_action(
                                 run_id, w.name, "stock.correct", "stock-push", {i.sku: i.before for i in items},
                                 result, "applied", "lowered right after the writes: an order arrived meanwhile")
                             ).run()
        # A read that failed leaves the watermark where it was, so the next run looks at these changes again.
        stock_ok = not any("stock sync:" in (w.error or "") or "stock:" in (w.error or "") for w in work)
        return kind, stock_ok, (found[0] if found is not None else None)

    def _changes(self, ctx: RunContext, work: list[StoreWork], kind: changes.RunKind) -> _Found:
        """An incremental run's reads: what changed in Katana (two calls for the account) and each
        syncing store's products modified since its watermark (one call each)."""
        assert kind.katana_since is not None  # an incremental run reads the changes since then
        katana = changes.katana_changes(ctx, kind.katana_since)
        products: dict[str, frozenset[str]] = {}
        for w in work:
            if w.live and not w.companion and w.config.stock.sync:
                since = changes.products_since(self.state, w.config) or kind.katana_since
                items = changes.store_changes(ctx, w.config, since)
                ctx.remember_items(w.config, items)
                products[w.name] = frozenset(items)
        return katana, products

    @staticmethod
    def _changed_at(location_id: int, members: list[StoreWork], results: Mapping[str, list[ActionResult]],
                    found: _Found) -> Changed:
        katana, products = found
        variant_ids = set(katana.at(location_id))
        skus: set[str] = set()
        for w in members:
            for order in (w.facts.changed if w.facts else ()):
                skus |= {li.sku for li in order.line_items if li.sku}
            for r in results.get(w.name, ()):
                if r.action.kind == "order.import" and r.outcome in (APPLIED, REPLANNED):
                    variant_ids |= {row.variant_id for row in order_engine.import_payload(r.action).rows}
                elif r.action.kind in lifecycle_engine.STOCK_KINDS and r.outcome in (APPLIED, REPLANNED):
                    moved = r.action.payload
                    assert isinstance(moved, (OrderDelivery, OrderDeletion, RowUpdate))  # the lifecycle's stock kinds
                    variant_ids |= set(moved.variant_ids)     # a commitment freed or changed
        return Changed(frozenset(variant_ids), frozenset(skus),
                       {w.name: products.get(w.name, frozenset()) for w in members})

    def _keep_for_next_run(self, ctx: RunContext, work: list[StoreWork], kind: changes.RunKind,
                           started: datetime, stock_ok: bool, katana_changes: changes.KatanaChanges | None,
                           results: Mapping[str, list[ActionResult]], scope: str = "all") -> None:
        """What the next run starts from: each store's book of uncommitted orders, the product
        watermarks of stores whose stock was synced, and (when every read succeeded and `scope` is
        "all": every enabled store was covered) the account's watermark. A focused run read no
        product and no account change: it adds only the sales orders it created to what was seen."""
        for w in work:
            if w.live and not w.companion and w.facts is not None:
                order_engine.keep_book(ctx, w.config, w.facts)
        if scope != "focus":
            changes.record_products(self.state, {w.name: w.store_time for w in work if w.live and not w.companion
                                                 and w.config.stock.sync and not w.error}, started)
        # The lifecycle's watermark moves only when every store with orders looked at what changed.
        looked = [w for w in work if w.live and not w.companion and w.lifecycle is not None]
        if len(looked) == sum(1 for s in self.config.enabled_stores if s.orders.enabled):
            lifecycle_engine.record_watermark(self.state, [w.lifecycle for w in looked if w.lifecycle is not None],
                                              started)
        if stock_ok:
            created = {r.result.sales_order_id: now_utc() for rs in results.values() for r in rs
                       if r.action.kind == "order.import" and getattr(r.result, "created", False)}
            if scope == "focus":
                changes.keep_created(self.state, created)
            elif scope == "all":
                changes.keep_seen(self.state, katana_changes, created)
                changes.record_run(self.state, self.config, kind, started, katana_changes)

    # --- history and explain: thin entries into `history` and `explain` ---------------------------------

    def history(self, *, store: str | None = None, since: datetime | None = None, limit: int = 50) -> History:
        """Past runs, newest first: outcome, each store's status, counts and calls (the state only)."""
        if store is not None:
            self.config.store(store)           # KeyError naming the known stores
        return read_history(self.state, store=store, since=since, limit=limit)

    def explain_order(self, store: str, woo_order_id: int) -> OrderStory:
        """The order's whole story: first seen, holds (reason, age, attempts), import, sales order,
        moves, and where it stands now in WooCommerce and Katana. Reads only."""
        cfg = self.config.store(store)
        if cfg.name not in self.woo:
            raise ReconcileError(f"{store} is disabled in the config: nothing to explain")
        return order_story(self.config, self.state, self.katana, self.woo[cfg.name], cfg.name, int(woo_order_id))

    def explain_sku(self, sku: str, *, store: str | None = None) -> SkuStory:
        """How each store's figure for `sku` comes about: the planning's own reads and
        `engines.stock.figures()`, the orders behind its pending units, the levels pushed. Reads only."""
        if store is not None:
            self.config.store(store)
        ctx = self._context()
        work = self._read_and_plan(ctx, list(self.config.enabled_stores), False, False)
        pending = self._pending(ctx, [w for w in work if w.facts is not None])
        sides = [StoreSide(w.config, w.location if w.live else None,
                           w.error or (None if w.live else str(w.mapping)), w.push.notes if w.push else None)
                 for w in work if not w.companion and (store is None or w.name == store)]
        return sku_story(sku, ctx, pending, sides, self.state)


# --- helpers ---------------------------------------------------------------------------------------


def _shown_path(path: os.PathLike[str] | None) -> str | None:
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


def _buyers(applying: Sequence[StoreWork]) -> Iterator[str]:
    """The e-mail of each order the stores will import (each store's orders indexed once: a store
    with 100,000 orders to adopt must not rebuild the index per order)."""
    for w in applying:
        if not w.live or w.orders is None:
            continue
        orders = w.known_facts.by_id()
        for a in w.orders.actions:
            if a.kind == "order.import":
                yield orders[order_engine.import_payload(a).woo_order_id].billing.get("email") or ""
