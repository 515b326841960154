"""What changed since the last run: the incremental runs' reads, and when a full run is due.

Called by the runner at the start of every run (`run_kind`: full or incremental, and why) and, in an
incremental run, per location (`katana_changes`, `store_changes`) to find the SKUs whose figure may
have moved. Everything else keeps its last pushed level, so a run where little changed costs a
handful of calls whatever the size of the catalogue and of the order history.

A figure moves only when one of its inputs does, and each input has a cheap read since a watermark:
* Katana's in stock: every change is an inventory movement (adjustments, deliveries, receipts,
  production, transfers): `GET /inventory_movements?created_at_min=` (creation, not movement date,
  so a backdated movement is seen too);
* Katana's committed: sales orders created, edited, delivered or deleted:
  `GET /sales_orders?updated_at_min=&include_deleted=true`, their rows naming variants and locations;
* what the stores took: orders changed since the order cursor (read anyway for the import);
* a store's own level: products modified since the product watermark (`modified_after`), and the
  items of every changed order.
Assumptions, each caught by the scheduled full reconcile if wrong (see README): manufacturing
orders' ingredient commitments and direct edits of a variation's stock in WooCommerce (which do not
bump the parent's modified date, and WooCommerce 10.0 has no variations listing to ask) are not
seen incrementally; a deleted sales order's `updated_at` moves (unverified live).

A full reconcile runs on the first run, on `--full`, every `reconcile.full_every_hours` (default
24), after a remap or a config change, and when an incremental read fails.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from ..config import Config, StoreConfig
from ..models import WooProduct
from ..state import State
from .context import RunContext

KATANA_WATERMARK = "katana.watermark"       # cursors of the "" store: the whole account
LAST_FULL = "reconcile.last_full"
LAST_CONFIG = "reconcile.config_hash"
PRODUCTS_WATERMARK = "products.modified_after"
MARGIN = timedelta(minutes=5)               # our clock against a server's, where no server time is known yet
ACCOUNT = ""                                # the state's "store" column for account-wide cursors


@dataclass(frozen=True)
class RunKind:
    """`full` or incremental, and why (the report says which kind ran)."""

    full: bool
    reason: str
    katana_since: datetime | None = None     # incremental: changes since (margin included)

    def __str__(self) -> str:
        return f"{'full' if self.full else 'incremental'} run ({self.reason})"


def run_kind(state: State, config: Config, *, now: datetime, full: bool = False) -> RunKind:
    if full:
        return RunKind(True, "asked for (--full)")
    watermark = _time(state.get_cursor(ACCOUNT, KATANA_WATERMARK))
    last_full = _time(state.get_cursor(ACCOUNT, LAST_FULL))
    if watermark is None or last_full is None:
        return RunKind(True, "no earlier run in this state")
    if state.get_cursor(ACCOUNT, LAST_CONFIG) != config.config_hash:
        return RunKind(True, "the config changed since the last run")
    every = config.reconcile.full_every_hours
    if every is not None and now - last_full >= timedelta(hours=every):
        return RunKind(True, f"the last full reconcile is older than {every:g} h", watermark)
    return RunKind(False, f"changes since {watermark.isoformat(timespec='seconds')}", watermark)


def record_run(state: State, config: Config, kind: RunKind, started: datetime,
               changes: "KatanaChanges | None" = None) -> None:
    """After a run whose reads all succeeded, where the next run reads Katana's changes from: after
    an incremental run, the newest change it saw (Katana's own time; inclusive, what it saw at that
    instant is skipped as seen); after a full run, which read everything after its start, its start
    less a margin for our clock against Katana's."""
    previous = _time(state.get_cursor(ACCOUNT, KATANA_WATERMARK))
    if kind.full or previous is None:
        watermark = started - MARGIN
    else:
        newest = changes.newest if changes is not None else None
        watermark = max(previous, newest) if newest is not None else previous
    state.set_cursor(ACCOUNT, KATANA_WATERMARK, watermark.isoformat())
    state.set_cursor(ACCOUNT, LAST_CONFIG, config.config_hash)
    if kind.full:
        state.set_cursor(ACCOUNT, LAST_FULL, started.isoformat())


SEEN = "katana.seen"     # what the last runs already dealt with inside the margin: not a change again


@dataclass(frozen=True)
class KatanaChanges:
    """Location id -> variant ids whose stock or commitments changed since the watermark; `seen`:
    the movements and sales-order versions read, for the next run to skip inside its margin."""

    variants: Mapping[int, frozenset[int]] = field(default_factory=dict)
    seen: Mapping[str, object] = field(default_factory=dict)
    newest: datetime | None = None           # the newest change read: the next run starts there

    def at(self, location_id: int) -> frozenset[int]:
        return self.variants.get(location_id, frozenset())


def katana_changes(ctx: RunContext, since: datetime) -> KatanaChanges:
    """Two reads for the whole account: inventory movements and sales orders changed since (the
    latter, where the lifecycle listed them already this run, that listing and what changed after
    it: `RunContext.sales_orders_changed_now`). What an earlier run already dealt with (its reads
    overlap by `MARGIN`, and the sales orders it created itself) is not a change again."""
    seen = json.loads(ctx.state.get_cursor(ACCOUNT, SEEN) or "{}")
    old_moves, old_orders = set(seen.get("movements", ())), dict(seen.get("sales_orders", {}))
    found: dict[int, set[int]] = {}
    moves: list[int] = []
    newest: datetime | None = None
    # One at a time: only a digest of each is kept (100,000 deliveries are 100,000 movements).
    for movement in ctx.katana.inventory_movements.iter_created_since(since):
        moves.append(movement.id)
        newest = _later(newest, movement.created_at)
        if movement.id not in old_moves:
            found.setdefault(movement.location_id, set()).add(movement.variant_id)
    versions: dict[str, str] = {}
    for so in ctx.sales_orders_changed_now(since):
        stamp = so.updated_at.isoformat() if so.updated_at else ""
        versions[str(so.id)] = stamp
        newest = _later(newest, so.updated_at)
        if str(so.id) in old_orders and stamp and stamp <= old_orders[str(so.id)]:
            continue
        for row in so.rows:
            location = row.location_id or so.location_id
            if location is not None:
                found.setdefault(int(location), set()).add(row.variant_id)
    return KatanaChanges({loc: frozenset(ids) for loc, ids in found.items()},
                         {"movements": moves, "sales_orders": versions}, newest)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def keep_seen(state: State, changes: KatanaChanges | None, created: Mapping[int, datetime]) -> None:
    """What the next run skips: the changes read now, and the sales orders this run created (their
    effect is in the figures pushed now; a later change moves their `updated_at` past `created`)."""
    seen: dict[str, Any] = dict(changes.seen) if changes is not None else {"movements": [], "sales_orders": {}}
    orders = dict(seen.get("sales_orders", {}))
    orders.update({str(so_id): at.isoformat() for so_id, at in created.items()})
    state.set_cursor(ACCOUNT, SEEN, json.dumps({"movements": seen.get("movements", []), "sales_orders": orders}))


def keep_created(state: State, created: Mapping[int, datetime]) -> None:
    """After a focused run (`Focus`): the sales orders it created join what was seen, the rest of
    what was seen stays (the watermark did not move). Their effect was pushed by that run to every
    store of their location, which a focused run always covers."""
    if not created:
        return
    seen = json.loads(state.get_cursor(ACCOUNT, SEEN) or "{}")
    orders = dict(seen.get("sales_orders", {}))
    orders.update({str(so_id): at.isoformat() for so_id, at in created.items()})
    state.set_cursor(ACCOUNT, SEEN, json.dumps({"movements": seen.get("movements", []), "sales_orders": orders}))


@dataclass(frozen=True)
class Focus:
    """A targeted incremental run (the service's events, `Runner.apply(focus=...)`): no account-wide
    change read; `variants` (location id -> variant ids) are the Katana variants an event touched,
    re-read and pushed to the stores of that location together with what the run's own orders moved.
    `why` is for the report."""

    variants: Mapping[int, frozenset[int]] = field(default_factory=dict)
    why: str = "events"
    everywhere: frozenset[int] = frozenset()   # variants to look at on every location of the run

    def at_locations(self, location_ids: "frozenset[int] | set[int]") -> dict[int, frozenset[int]]:
        return {loc: self.variants.get(loc, frozenset()) | self.everywhere for loc in set(location_ids) | set(self.variants)}

    def __str__(self) -> str:
        n = len(self.everywhere | frozenset().union(*self.variants.values()))
        return f"focused on {self.why}" + (f" ({n} Katana variants)" if n else "")


def orders_since(state: State, kind: RunKind) -> datetime | None:
    """Where this run's listings of a store's sales orders start: every order imported before the
    last run's newest change is in the ledger (a margin for ours and Katana's clocks). None (the
    store's whole history) when the state is new or `--full` was asked."""
    watermark = _time(state.get_cursor(ACCOUNT, KATANA_WATERMARK))
    if watermark is None or kind.reason.startswith("asked for"):
        return None
    return watermark - MARGIN


def products_since(state: State, store: StoreConfig) -> datetime | None:
    """The newest product modification the last run saw in the store (the store's own clock);
    `modified_after` is exclusive and to the second, so a second is given back."""
    value = _time(state.get_cursor(store.name, PRODUCTS_WATERMARK))
    return None if value is None else value - timedelta(seconds=1)


def store_changes(ctx: RunContext, store: StoreConfig, since: datetime) -> dict[str, WooProduct]:
    """SKU -> the store's item for every product modified since `since` (one listing, usually one
    page) whose level is not the one last pushed to it: a product this run's own write modified,
    or one edited without touching its stock, is not a change of its figure."""
    pushed = ctx.state.last_pushed(store.name)
    return {p.sku: p for p in ctx.woo[store.name].products.iter(modified_after=since, dates_are_gmt=True,
                                                                   fields=WooProduct.FIELDS)
            if p.sku and (p.manage_stock is not True or pushed.get(p.sku) != p.stock_quantity)}


def record_products(state: State, newest: Mapping[str, datetime | None], started: datetime) -> None:
    """Per synced store: the newest modification of a product the run read or wrote (store time);
    a store the run read nothing of keeps its watermark (or starts from this run, less the margin)."""
    for name, when in newest.items():
        previous = _time(state.get_cursor(name, PRODUCTS_WATERMARK))
        value = max(t for t in (previous, when) if t is not None) if (previous or when) else started - MARGIN
        state.set_cursor(name, PRODUCTS_WATERMARK, value.isoformat())


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


__all__ = ["RunKind", "run_kind", "record_run", "KatanaChanges", "katana_changes", "keep_seen", "keep_created",
           "Focus", "store_changes",
           "products_since", "record_products", "orders_since"]
