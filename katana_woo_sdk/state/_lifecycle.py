"""The order lifecycle after the import: one row per imported order that moved on, with a timestamp
per transition.

Callers: `State` inherits these methods (`LifecycleMixin`); `engines.lifecycle` reads a store's
records (`lifecycle_of`, `lifecycle_open`) and writes what a run saw or did (`lifecycle_put`);
`conditions.read_status` counts orders per state (`lifecycle_counts`) and lists what needs a
person (`lifecycle_open`); `explain` tells an order's story from `lifecycle_get`. Written in the
SQL both backends speak, like the rest of `State`.

The import itself stays in the ledger (`order_ledger`, status "imported"); a row appears here at
the order's first transition after it. Each transition's time is written once and never moved
(`lifecycle_put` keeps the earliest), so what the state says happened happened once: the engine
also asks Katana and the store before it acts, so a lost state repeats nothing either.

`pending` names an action still owed (its attempt failed, or a saved plan left it out): the next
run retries it without waiting for the order to change again. `attention` holds what a person must
do while it lasts (a cancelled order whose sales order still commits stock, an edit not applied).
Neither holds customer data; `facts` is a small JSON memory (refund ids already reported, the lines
Katana's rows now hold).
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ._rows import _iso

# What an order's row says it is now, most advanced first: a state shows the furthest transition
# the order made (a delivered order later cancelled in the store is "cancelled").
LIFECYCLE_STATES = ("deleted", "cancelled", "completed", "delivered", "drift", "imported")
EVENTS = ("imported", "delivered", "completed", "cancelled", "deleted", "drift")
_COLUMNS = ("store", "woo_order_id", "woo_number", "sales_order_id", "order_no", "state",
            *(f"{e}_at" for e in EVENTS), "pending", "attention", "detail", "facts", "updated_at")
_TIMES = {f"{e}_at" for e in EVENTS} | {"updated_at"}
_IN_CHUNK = 500      # ids per `IN (...)`: far below both backends' limits on parameters


@dataclasses.dataclass(frozen=True)
class LifecycleRecord:
    """What became of one imported order. `<event>_at` is when that transition was first seen or
    made; `state` follows from them (see `LIFECYCLE_STATES`)."""

    store: str
    woo_order_id: int
    woo_number: str | None = None
    sales_order_id: int | None = None
    order_no: str | None = None
    state: str = "imported"
    imported_at: datetime | None = None
    delivered_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    deleted_at: datetime | None = None
    drift_at: datetime | None = None
    pending: str | None = None           # the action kind still owed, e.g. "order.deliver"
    attention: str | None = None         # "kind: detail" while a person must act
    detail: str | None = None            # the last transition in words
    facts: dict[str, Any] | None = None  # refund ids reported, lines Katana's rows now hold
    updated_at: datetime | None = None

    def at(self, event: str) -> datetime | None:
        value: datetime | None = getattr(self, f"{event}_at")
        return value


def state_of(record: LifecycleRecord) -> str:
    """The furthest transition the record shows."""
    for state in LIFECYCLE_STATES[:-1]:
        if record.at(state) is not None:
            return state
    return "imported"


def _row(row: tuple[Any, ...]) -> LifecycleRecord:
    cells = dict(zip(_COLUMNS, row))
    for name in _TIMES:
        if cells[name] is not None:
            cells[name] = datetime.fromisoformat(cells[name])
    cells["facts"] = json.loads(cells["facts"]) if cells["facts"] else None
    return LifecycleRecord(**cells)


class LifecycleMixin:
    """The lifecycle methods of `State` (they use its `_tx`, `_query` and `_now`)."""

    def lifecycle_get(self: Any, store: str, woo_order_id: int) -> LifecycleRecord | None:
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM order_lifecycle WHERE store = ? AND woo_order_id = ?",
                           (store, int(woo_order_id)))
        return _row(rows[0]) if rows else None

    def lifecycle_of(self: Any, store: str, woo_order_ids: Iterable[int]) -> dict[int, LifecycleRecord]:
        """The records of these orders that exist, by WooCommerce order id."""
        ids = sorted({int(i) for i in woo_order_ids})
        out: dict[int, LifecycleRecord] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start:start + _IN_CHUNK]
            rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM order_lifecycle WHERE store = ? AND "
                               f"woo_order_id IN ({', '.join('?' * len(chunk))})", (store, *chunk))
            out.update((r.woo_order_id, r) for r in map(_row, rows))
        return out

    def lifecycle_open(self: Any, store: str) -> dict[int, LifecycleRecord]:
        """Records with an action still owed or something a person must do (few: a partial index)."""
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM order_lifecycle WHERE store = ? AND "
                           "(pending IS NOT NULL OR attention IS NOT NULL) ORDER BY woo_order_id", (store,))
        return {r.woo_order_id: r for r in map(_row, rows)}

    def lifecycle_counts(self: Any, store: str) -> dict[str, int]:
        """Orders per lifecycle state; "imported" counts the ledger's imports that moved no further."""
        counts = {state: int(n) for state, n in self._query(
            "SELECT state, COUNT(*) FROM order_lifecycle WHERE store = ? GROUP BY state", (store,))}
        imported = int(self._query("SELECT COUNT(*) FROM order_ledger WHERE store = ? AND status = 'imported'",
                                   (store,))[0][0])
        moved_on = int(self._query(
            "SELECT COUNT(*) FROM order_lifecycle l JOIN order_ledger o ON o.store = l.store AND "
            "o.woo_order_id = l.woo_order_id WHERE l.store = ? AND o.status = 'imported' AND l.state <> 'imported'",
            (store,))[0][0])
        counts["imported"] = counts.get("imported", 0) + imported - moved_on
        return {state: counts[state] for state in reversed(LIFECYCLE_STATES) if counts.get(state)}

    def lifecycle_put(self: Any, record: LifecycleRecord) -> LifecycleRecord:
        """Insert or update; a transition time already recorded is kept (never moved later or
        cleared), and `state` is computed from the times. Returns the stored record."""
        stored: list[LifecycleRecord] = self.lifecycle_put_many([record])
        return stored[0]

    def lifecycle_put_many(self: Any, records: Iterable[LifecycleRecord]) -> list[LifecycleRecord]:
        """`lifecycle_put` of each record, in order, in one transaction (a run that saw 100,000
        orders shipped wrote a transaction each). Returns the stored records."""
        out: list[LifecycleRecord] = []
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("store", "woo_order_id"))
        with self._tx() as conn:
            for record in records:
                key = (record.store, int(record.woo_order_id))
                prior = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM order_lifecycle WHERE store = ? AND "
                                     "woo_order_id = ?", key).fetchone()
                merged = record
                if prior is not None:
                    old = _row(prior)
                    times: dict[str, Any] = {f"{e}_at": old.at(e) or record.at(e) for e in EVENTS}
                    merged = dataclasses.replace(record, **times,
                        woo_number=record.woo_number or old.woo_number,
                        sales_order_id=record.sales_order_id or old.sales_order_id,
                        order_no=record.order_no or old.order_no)
                stored = dataclasses.replace(merged, woo_order_id=key[1], updated_at=self._now())
                stored = dataclasses.replace(stored, state=state_of(stored))
                cells = []
                for name in _COLUMNS:
                    value = getattr(stored, name)
                    if name in _TIMES and value is not None:
                        value = _iso(value)
                    elif name == "facts":
                        value = json.dumps(value, sort_keys=True) if value else None
                    cells.append(value)
                conn.execute(f"INSERT INTO order_lifecycle ({', '.join(_COLUMNS)}) VALUES "
                             f"({', '.join('?' * len(cells))}) ON CONFLICT (store, woo_order_id) DO UPDATE SET {updates}",
                             tuple(cells))
                out.append(stored)
        return out


__all__ = ["LifecycleMixin", "LifecycleRecord", "LIFECYCLE_STATES", "EVENTS", "state_of"]
