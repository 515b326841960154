"""The order cursor walk cannot skip an order when others change while it pages (unit, no I/O)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from katana_woo_sdk.engines.orders import PAGE, walk_modified

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


class FakeStore:
    """Answers like WooCommerce: modified_after exclusive and to the second, sorted by modified then id;
    `on_request` lets the test change orders between two requests of one walk."""

    def __init__(self, modified: dict[int, datetime]):
        self.modified = dict(modified)
        self.requests = 0
        self.on_request = lambda n: None
        self.orders = SimpleNamespace(iter=self._iter)

    def _iter(self, *, statuses, modified_after, page=1, per_page=100):
        self.on_request(self.requests)
        self.requests += 1
        rows = sorted((m, i) for i, m in self.modified.items() if modified_after is None or m > modified_after)
        start = (page - 1) * per_page
        return iter([SimpleNamespace(id=i, date_modified_gmt=m) for m, i in rows[start:start + per_page]])


def test_an_order_changed_mid_walk_does_not_push_another_off_the_page():
    store = FakeStore({i: T0 + timedelta(minutes=i) for i in range(1, 251)})

    def change(n):
        if n == 1:   # after the first page: order 5 is edited, so it moves to the end of the order
            store.modified[5] = T0 + timedelta(days=1)
    store.on_request = change
    seen = {o.id for o in walk_modified(store, ("processing",), None)}
    assert seen == set(range(1, 251))     # page numbers would have skipped order 101
    assert store.requests == 3


def test_more_than_a_page_changed_in_one_second_is_paged_through():
    same = T0 + timedelta(hours=1)
    store = FakeStore({i: same for i in range(1, PAGE + 31)} | {999: same + timedelta(seconds=5)})
    seen = [o.id for o in walk_modified(store, ("processing",), T0)]
    assert set(seen) == set(range(1, PAGE + 31)) | {999}
    assert store.requests <= 4
