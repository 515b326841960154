"""Per-store status conditions (Kubernetes style): written after every apply, read by `status`.

Called by the runner: `record_conditions` after each store's apply, `read_status` for
`Runner.status()` and notebooks; `status_from_file` for ``katana-woo status`` and ``wait``, which
read the state alone (no credentials needed, and a missing state is never created: "run apply
first"). Four conditions per store, each with a reason, a message, the time it last changed and
the config hash it observed, so a status read after the YAML changed shows which conditions are
stale; so is a store whose last apply is older than `stale_after`:

    MappingValid       the configured location resolves (exists, unambiguous, allows sales)
    LocationAvailable  the mapped location is not deleted (False: the store is Blocked)
    OrdersSynced       every order in the imported statuses is in Katana (False: held or failed)
    StockSynced        the last push was applied in full (False: items the store refused or ignored)
Besides the conditions: imported orders per lifecycle state, and the orders a person must still
act on (a cancelled order whose sales order still commits stock, an edit not applied), which keep
the store Degraded until a run finds them resolved (`engines.lifecycle`).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .actions import LocationRef
from .config import Config, StoreConfig
from .plan import (APPLIED, BLOCKED, DISABLED, FAILED, INVALID, REPLANNED, ConditionView, Hold, Status, StoreReport,
                   StoreStatus)
from .engines import lifecycle as lifecycle_engine
from .state import State


DEFAULT_STALE_AFTER = timedelta(days=1)   # a store no apply has looked at for a day is stale
MATCHING_CURSOR = "stock.matching"
MATCHING_NOTES = ("katana_only_skus", "katana_only_count", "store_only_skus", "store_only_count",
                  "unmanaged_skus", "parent_managed_skus")


def record_conditions(state: State, config: Config, store: StoreConfig, rep: StoreReport, *,
                      stock_issue: str | None = None) -> None:
    """`stock_issue`: why the store's figures could not be computed this run (no push), if so."""
    name, h = store.name, config.store_hash(store.name)
    kind = rep.mapping.kind
    if kind == DISABLED:
        return
    matching = {k: rep.notes[k] for k in MATCHING_NOTES if k in rep.notes}
    # Status shows which SKUs match nothing on the other side; only a run that read the whole
    # catalogue knows (an incremental run looked at the changed items only).
    if matching and "katana_only_skus" in rep.notes:
        state.set_cursor(name, MATCHING_CURSOR, json.dumps(matching))

    def set_(type_: str, status: str, reason: str, message: str) -> None:
        state.set_condition(name, type_, status, reason, message, h)

    if kind == INVALID:
        set_("MappingValid", "False", rep.mapping.reason or "Invalid", rep.error or rep.mapping.message)
        set_("LocationAvailable", "Unknown", "MappingInvalid", "the mapping is invalid")
        set_("OrdersSynced", "Unknown", "MappingInvalid", "nothing imported until the mapping is fixed")
        set_("StockSynced", "Unknown", "MappingInvalid", "nothing pushed until the mapping is fixed")
        return
    mapped = f"mapped to {rep.mapping.to_location}"
    if rep.mapping.kind == "remap":
        mapped += f" (remapped from {rep.mapping.from_location}; orders imported before stay there)"
    set_("MappingValid", "True", rep.mapping.reason or "Resolved", mapped)
    if kind == BLOCKED:
        set_("LocationAvailable", "False", rep.mapping.reason, rep.mapping.message)
        set_("OrdersSynced", "False", "Blocked", "order import stopped: the mapped location was deleted")
        set_("StockSynced", "False", "Blocked", "stock sync stopped: the mapped location was deleted")
        return
    set_("LocationAvailable", "True", "Available", f"{rep.mapping.to_location} exists and allows sales")
    order_results = [r for r in rep.results if r.action.kind == "order.import"]
    failed = [r for r in order_results if r.outcome == FAILED]
    imported = sum(1 for r in order_results if r.outcome in (APPLIED, REPLANNED))
    if rep.error and not rep.results:
        set_("OrdersSynced", "Unknown", "Error", rep.error)
    elif failed or rep.holds:
        set_("OrdersSynced", "False", "ImportFailed" if failed else "OrdersHeld",
             f"{imported} imported this run, {len(rep.holds)} held: " + "; ".join(str(hh) for hh in rep.holds[:3]))
    else:
        set_("OrdersSynced", "True", "UpToDate", f"{imported} imported this run")
    push = [r for r in rep.results if r.action.kind == "stock.push"]
    if not store.stock.sync:
        set_("StockSynced", "True", "SyncDisabled", "stock sync is off for this store")
    elif rep.error:
        set_("StockSynced", "False", "Error", rep.error)
    elif any(r.outcome == FAILED for r in push):
        set_("StockSynced", "False", "NotApplied", "; ".join(r.message for r in push))
    elif stock_issue:
        set_("StockSynced", "False", "NotPushed", stock_issue)
    else:
        pushed = sum(len(getattr(r.result, "pushed", ())) for r in push)
        set_("StockSynced", "True", "UpToDate", f"{pushed} levels pushed this run")


def read_status(config: Config, state: State, *, now: datetime | None = None,
                stale_after: timedelta | None = DEFAULT_STALE_AFTER) -> Status:
    """Each store's conditions, held orders (with their age and attempts) and staleness."""
    now = now or datetime.now(timezone.utc)
    stores = []
    for store in config.stores:
        conditions = state.conditions(store.name)
        mapping = state.current_mapping(store.name)
        ledger = state.ledger(store.name)
        held = tuple(Hold(store.name, e.woo_order_id, e.woo_number or str(e.woo_order_id), *_split_reason(e.reason),
                          e.first_seen, e.attempts)
                     for e in ledger.values() if e.status == "held")
        pushed = state.pushed_records(store.name)
        observed = max((c.updated_at for c in conditions.values()), default=None)
        views = tuple(ConditionView(c.type, c.status, c.reason, c.message, c.last_transition, c.observed_config_hash)
                      for c in conditions.values())
        # A URL left as "${VAR}" (status reads the config without its environment) gives another
        # hash than the apply saw: whether the config changed cannot be told, so it is not claimed.
        store_hash = "" if "${" in store.url else config.store_hash(store.name)
        notes = json.loads(state.get_cursor(store.name, MATCHING_CURSOR) or "{}")
        by_state = state.lifecycle_counts(store.name)
        if set(by_state) - {"imported"}:     # orders that moved on after their import, per state
            notes["order_lifecycle"] = by_state
        stores.append(StoreStatus(
            store.name, LocationRef(mapping.location_id, mapping.location_name) if mapping else None, views,
            sum(1 for e in ledger.values() if e.status == "imported"), held,
            max((r.pushed_at for r in pushed.values()), default=None), store_hash, notes, observed,
            _stale(views, store_hash, observed, now, stale_after) if store.enabled else (),
            lifecycle_engine.lasting_attention(state, store.name)))
    runs = state.runs(limit=1)
    unset = [s.name for s in config.stores if "${" in s.url]
    message = (f"the URL variables of {', '.join(unset)} are not set here: whether their config changed since the "
               f"last apply is not checked" if unset else "")
    return Status(tuple(stores), runs[0].finished_at if runs else None, runs[0].outcome if runs else None,
                  now, stale_after, message=message)


def status_from_file(config: Config, *, now: datetime | None = None,
                     stale_after: timedelta | None = DEFAULT_STALE_AFTER) -> Status:
    """The status from the config's state file, opened only if it exists (never created)."""
    state = State.existing(config.state)  # a SQLite file or a PostgreSQL schema; never created here
    if state is None:
        now = now or datetime.now(timezone.utc)
        stores = tuple(StoreStatus(s.name, None, (), config_hash=config.store_hash(s.name)) for s in config.stores)
        return Status(stores, None, None, now, stale_after, state_found=False,
                      message=f"no state yet at {config.state.where}: run apply first")
    with state:
        return read_status(config, state, now=now, stale_after=stale_after)


def _stale(conditions: tuple[ConditionView, ...], store_hash: str, observed: datetime | None, now: datetime,
           stale_after: timedelta | None) -> tuple[str, ...]:
    """Why a store's recorded conditions may no longer hold."""
    reasons = []
    hashes = {c.observed_config_hash for c in conditions if c.observed_config_hash}
    if store_hash and hashes and hashes != {store_hash}:
        reasons.append("the store's config changed since the last apply looked at it")
    if stale_after is not None and observed is not None and now - observed > stale_after:
        reasons.append(f"no apply has looked at it for {_age(now - observed)} (stale after {_age(stale_after)})")
    return tuple(reasons)


def _age(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _split_reason(reason: str | None) -> tuple[str, str]:
    """The ledger keeps "code: detail"."""
    code, _, detail = (reason or "held").partition(": ")
    return code, detail or code
