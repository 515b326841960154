"""The state's order lifecycle records (`state._lifecycle`), on both backends: a time per transition
written once, the state that follows from them, open records, counts per state."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from katana_woo_sdk.state import LedgerEntry, LifecycleRecord, State

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, tmp_path, clock):
    if request.param == "sqlite":
        target, options = tmp_path / "kw.db", {}
    else:
        target, options = request.getfixturevalue("pg_url"), {"schema": request.getfixturevalue("pg_schema")}
    with State(target, clock=clock, **options) as s:
        yield s


def _imported(state, store, woo_id, so_id):
    state.ledger_put(LedgerEntry(store, woo_id, str(woo_id), "imported", sales_order_id=so_id, order_no=f"SO-{so_id}"))


def test_a_transition_time_is_written_once_and_the_state_follows_the_times(state, clock):
    _imported(state, "shop", 7, 70)
    first = state.lifecycle_put(LifecycleRecord("shop", 7, "7", 70, "SO-70", delivered_at=T0,
                                                pending="order.complete_in_store", detail="delivered in Katana"))
    assert first.state == "delivered" and first.updated_at == T0 and first.pending == "order.complete_in_store"
    clock.now = T0 + timedelta(minutes=5)
    later = T0 + timedelta(minutes=5)
    # Seen again later (a re-run, another runner): the first time stays; clearing `pending` is allowed.
    again = state.lifecycle_put(LifecycleRecord("shop", 7, delivered_at=later, completed_at=later,
                                                detail="completed in the store"))
    assert again.delivered_at == T0 and again.completed_at == later and again.state == "completed"
    assert again.sales_order_id == 70 and again.order_no == "SO-70" and again.pending is None
    assert state.lifecycle_get("shop", 7) == again
    cancelled = state.lifecycle_put(LifecycleRecord("shop", 7, cancelled_at=later, facts={"refunds": [5]},
                                                    attention="refunded_after_delivery: reported only"))
    assert cancelled.state == "cancelled" and cancelled.facts == {"refunds": [5]}
    assert state.lifecycle_get("shop", 7).attention.startswith("refunded_after_delivery")


def test_open_records_and_batch_reads(state):
    for woo_id in range(1, 1201):
        _imported(state, "shop", woo_id, 1000 + woo_id) if woo_id <= 3 else None
    state.lifecycle_put(LifecycleRecord("shop", 1, cancelled_at=T0, attention="cancelled_after_import: SO-1001"))
    state.lifecycle_put(LifecycleRecord("shop", 2, completed_at=T0, pending="order.deliver"))
    state.lifecycle_put(LifecycleRecord("shop", 3, delivered_at=T0, completed_at=T0))
    state.lifecycle_put(LifecycleRecord("other", 1, deleted_at=T0, attention="x"))
    assert sorted(state.lifecycle_open("shop")) == [1, 2]
    found = state.lifecycle_of("shop", range(1, 1201))      # more ids than one IN (...) takes
    assert sorted(found) == [1, 2, 3] and found[3].state == "completed"
    assert state.lifecycle_of("shop", []) == {}


def test_counts_per_state_include_the_imports_that_moved_no_further(state):
    for woo_id in range(1, 6):
        _imported(state, "shop", woo_id, 100 + woo_id)
    state.ledger_put(LedgerEntry("shop", 9, "9", "held", reason="unknown_sku: X"))
    state.lifecycle_put(LifecycleRecord("shop", 1, delivered_at=T0))
    state.lifecycle_put(LifecycleRecord("shop", 2, delivered_at=T0, completed_at=T0))
    state.lifecycle_put(LifecycleRecord("shop", 3, cancelled_at=T0, deleted_at=T0))
    assert state.lifecycle_counts("shop") == {"imported": 2, "delivered": 1, "completed": 1, "deleted": 1}
    assert state.lifecycle_counts("nobody") == {}


def test_many_writes_in_one_transaction_are_the_single_writes_in_order(state, clock):
    """`ledger_put_many` / `lifecycle_put_many` (a run adopting or shipping 100,000 orders writes
    them in one transaction) keep every rule of the single writes, applied in order: first_seen
    kept, held attempts counted, transition times never moved; `ledger_of` reads only what is asked."""
    state.ledger_put(LedgerEntry("s", 1, "1", "held", reason="first"))
    clock.now = T0 + timedelta(hours=1)
    stored = state.ledger_put_many([LedgerEntry("s", 1, "1", "held", reason="again"),
                                    LedgerEntry("s", 2, "2", "imported", sales_order_id=72),
                                    LedgerEntry("s", 1, "1", "imported", sales_order_id=71)])
    assert [(e.woo_order_id, e.status, e.attempts) for e in stored] == [(1, "held", 2), (2, "imported", 0),
                                                                        (1, "imported", 2)]
    one = state.ledger_get("s", 1)
    assert (one.status, one.attempts, one.first_seen, one.updated_at) == ("imported", 2, T0, T0 + timedelta(hours=1))
    assert state.ledger_put_many([]) == []
    assert list(state.ledger_of("s", [2, 1, 9, 1])) == [1, 2]
    assert list(state.ledger_of("s", range(1, 1200), status="imported")) == [1, 2]
    assert state.ledger_of("s", [2], status="held") == {} and state.ledger_of("other", [1]) == {}

    state.lifecycle_put(LifecycleRecord("s", 1, "1", 71, "SO-71", delivered_at=T0))
    written = state.lifecycle_put_many([
        LifecycleRecord("s", 1, delivered_at=T0 + timedelta(hours=2), completed_at=T0 + timedelta(hours=2)),
        LifecycleRecord("s", 2, "2", 72, "SO-72", pending="order.deliver")])
    assert [(r.woo_order_id, r.state, r.delivered_at, r.order_no) for r in written] == [
        (1, "completed", T0, "SO-71"), (2, "imported", None, "SO-72")]
    assert state.lifecycle_of("s", [1, 2]) == {1: written[0], 2: written[1]}
    assert list(state.lifecycle_open("s")) == [2]
