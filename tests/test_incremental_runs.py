"""Pay for what changed, not for what exists (issue 10): incremental runs.

A run where little changed costs a handful of calls whatever the size of the catalogue and of the
order history: no-change runs are pinned at two sizes to show the count does not grow. Every kind
of change still reaches the stores: Katana stock moved, a sales order entered in Katana, a shopper's
order, a level edited in the store; the scheduled full reconcile catches what incremental reads do
not see. Held orders are re-read in bounded chunks, never through one URL that outgrows a proxy.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.engines import changes

from _harness import make_runner, orders_for

LOCATIONS = ("A", "B")


def seed(box, n_skus: int, n_history: int = 0):
    """n_skus SKUs in Katana (40 in stock at A, 30 at B) and in the three stores (one unit each):
    shop-a and shop-b sell from A, shop-c from B."""
    skus = [f"S{i:05}" for i in range(n_skus)]
    box.katana.seed({"locations": [{"name": "A", "is_primary": True}, {"name": "B"}],
                     "variants": [{"sku": s} for s in skus],
                     "stock": [{"sku": s, "location": loc, "quantity": q} for s in skus
                               for loc, q in (("A", 40), ("B", 30))]})
    for name in ("shop-a", "shop-b", "shop-c"):
        shop = box.add_store(name)
        for s in skus:
            shop.add_product(s, s, "5.00", stock=1)
    return skus


def stores_config():
    return {"shop-a": {"location": "A"}, "shop-b": {"location": "A"}, "shop-c": {"location": "B"}}


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        yield sb


def _history(box, skus, n: int):
    """n orders placed and imported long ago: the no-change run must not read them."""
    shop = box.stores["shop-a"]
    long_ago = datetime.now(timezone.utc) - timedelta(days=30)
    return [shop.place_order([(skus[i % len(skus)], 1)], status="completed", created_at=long_ago) for i in range(n)]


@pytest.mark.parametrize("size", [(20, 0), (300, 120)], ids=["20-skus", "300-skus-120-orders"])
def test_a_no_change_run_costs_the_same_handful_of_calls_at_any_size(box, tmp_path, size):
    n_skus, n_history = size
    skus = seed(box, n_skus, n_history)
    _history(box, skus, n_history)
    with make_runner(box, tmp_path, stores_config()) as runner:
        first = runner.apply()
        assert not first.has_failures, str(first)
        assert "full run" in first.messages[0]
        # Runs are minutes apart in life; here two seconds keep the first run's writes out of the second
        # a store's `modified_after` (to the second, given back one second) starts from.
        time.sleep(2)
        # The first incremental run still sees what the first run wrote and the seeding's stock
        # movements; they change nothing. The next run is the steady state.
        settle = runner.apply()
        assert not settle.has_failures and [r for r in settle.results] == [], str(settle)
        second = runner.apply()
        assert not second.has_failures, str(second)
        assert "incremental run" in second.messages[0]
        assert [r for r in second.results] == []
        # Katana: locations, inventory movements and sales orders changed since the watermark; and the
        # order lifecycle's one listing of sales orders changed since its own watermark (issue 12: read
        # while planning, shared by the three stores; the stock's read comes later in the run).
        assert {k: n for k, n in second.calls.items() if k.startswith("katana")} == {
            "katana GET /locations": 1, "katana GET /inventory_movements": 1, "katana GET /sales_orders": 1 + 1}
        # WooCommerce, per store: orders changed since the cursor, products modified since the watermark.
        assert {k: n for k, n in second.calls.items() if k.startswith("woocommerce")} == {
            "woocommerce GET /orders": 3, "woocommerce GET /products": 3}


def test_a_bulk_edit_is_read_once_not_by_every_quiet_run_after_it(box, tmp_path):
    """250 orders completed at once (an admin's bulk action), then nothing: the run after reads them
    (three pages); the quiet runs after that start their walk at the store's clock of the last one,
    not at the newest change, and read one page each. (No overlap window here: it re-reads the last
    ten minutes of changes by default, and this bulk edit is seconds old.)"""
    skus = seed(box, 5, 0)
    a = box.stores["shop-a"]
    placed = [a.place_order([(skus[i % 5], 1)]) for i in range(250)]
    stores = {name: {**entry, "orders": {"overlap_minutes": 0}} for name, entry in stores_config().items()}
    with make_runner(box, tmp_path, stores) as runner:
        assert not runner.apply().has_failures
        assert all(len(orders_for(box, "shop-a", o["id"])) == 1 for o in placed[:3])
        for order in placed:
            a.set_order_status(order["id"], "completed")
        time.sleep(2)
        started = datetime.now(timezone.utc).replace(microsecond=0)
        bulk = runner.apply()
        assert not bulk.has_failures, str(bulk)
        assert bulk.calls["woocommerce GET /orders"] >= 3 + 2      # shop-a's three pages, one page each for b, c
        # The cursor is the store's clock (its `Date`, to the second) when the walk ended, not the
        # newest change it read (2 s older): with the default overlap, a cursor at the newest change
        # would have every later run read the bulk edit again, for as long as the store stays quiet.
        cursor = datetime.fromisoformat(runner.state.get_cursor("shop-a", "orders.modified_after"))
        assert cursor >= started
        time.sleep(1.5)            # `modified_after` is to the second: the walk gives one second back
        quiet = [runner.apply() for _ in range(2)]
        for report in quiet:
            assert not report.has_failures and [r for r in report.results] == [], str(report)
            assert report.calls["woocommerce GET /orders"] == 3     # one per store, whatever the bulk edit was


def test_every_kind_of_change_reaches_the_stores_in_an_incremental_run(box, tmp_path):
    skus = seed(box, 30, 0)
    a, b = box.stores["shop-a"], box.stores["shop-b"]
    with make_runner(box, tmp_path, stores_config()) as runner:
        assert not runner.apply().has_failures
        assert a.stock_of(skus[0]) == 40 and b.stock_of(skus[0]) == 40
        box.katana.set_stock(skus[0], "A", 33)                         # Katana stock moved (a movement)
        wholesale = box.katana.create_sales_order({                     # an order entered in Katana: commits 5
            "order_no": "WHOLESALE-1", "customer_id": box.katana.add_customer("Trade")["id"],
            "location_id": box.katana.location_id("A"),
            "sales_order_rows": [{"variant_id": box.katana.variant(skus[1])["id"], "quantity": 5}]})
        order = a.place_order([(skus[2], 3)])                          # a shopper in shop-a
        b.set_stock(skus[3], 99)                                        # a level edited in shop-b
        report = runner.apply()
        assert not report.has_failures, str(report)
        assert "incremental run" in report.messages[0]
        assert a.stock_of(skus[0]) == b.stock_of(skus[0]) == 33
        assert a.stock_of(skus[1]) == b.stock_of(skus[1]) == 35 and wholesale["id"]
        assert len(orders_for(box, "shop-a", order["id"])) == 1
        assert a.stock_of(skus[2]) == b.stock_of(skus[2]) == 37
        assert b.stock_of(skus[3]) == 40
        # Only the changed items were looked at: a handful of reads, not the catalogue.
        assert report.calls.get("katana GET /inventory", 0) <= 2
        assert report.calls.get("woocommerce GET /products", 0) <= 3 * 3


def test_a_full_reconcile_runs_on_schedule_and_catches_what_increments_miss(box, tmp_path):
    seed(box, 10, 0)
    box.katana.add_variant("TEE-S")
    box.katana.set_stock("TEE-S", "A", 40)
    a = box.stores["shop-a"]
    a.add_variable_product("TEE", "Tee", [{"sku": "TEE-S", "price": "9.00", "stock": 1, "attributes": {"Size": "S"}}])
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        assert not runner.apply().has_failures and a.stock_of("TEE-S") == 40
        assert not runner.apply().has_failures        # reads back what the full run's margin covers
        # A change no incremental read sees (documented): a variation's stock edited directly in the
        # store. Its parent's modified date does not move, and WooCommerce 10.0 lists no variations.
        a.set_stock("TEE-S", 7)
        quiet = runner.apply()
        assert "incremental run" in quiet.messages[0] and a.stock_of("TEE-S") == 7
        # A day later the scheduled full reconcile runs (reconcile.full_every_hours, 24 by default) and puts
        # it right; `apply --full` would do the same at once.
        day_ago = (datetime.now(timezone.utc) - timedelta(hours=25)).isoformat()
        runner.state.set_cursor(changes.ACCOUNT, changes.LAST_FULL, day_ago)
        full = runner.apply()
        assert full.messages[0].startswith("full run") and "24 h" in full.messages[0]
        assert a.stock_of("TEE-S") == 40
        assert "incremental run" in runner.apply().messages[0]


def test_held_orders_are_re_read_in_chunks_that_keep_urls_short(box, tmp_path):
    """Held orders (here: an unknown SKU) are all re-read by id in a full run, 100 ids a call."""
    seed(box, 5, 0)
    shop = box.stores["shop-a"]
    shop.add_product("GHOST", "not in Katana", "1.00", stock=10_000)
    long_ago = datetime.now(timezone.utc) - timedelta(days=3)
    held = [shop.place_order([("GHOST", 1)], created_at=long_ago) for _ in range(250)]
    shop.place_order([("S00001", 1)])       # a newer order: the cursor moves past the held ones
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        first = runner.apply()
        assert len(first.store("shop-a").holds) == 250
        shop.server.clear_log()
        again = runner.apply(full=True)
        assert len(again.store("shop-a").holds) == 250
    rereads = [r for r in shop.server.requests("GET", "/orders$") if "include" in r.query]
    assert len(rereads) == 3
    assert all(len(",".join(r.query["include"])) < 2000 for r in rereads)
    assert sorted(int(i) for r in rereads for i in ",".join(r.query["include"]).split(",")) == \
        sorted(o["id"] for o in held)


def test_a_run_filtered_to_one_store_leaves_the_account_watermark_for_the_others(box, tmp_path):
    """`apply --store shop-a` reads Katana's changes for the whole account but pushes only to shop-a
    (and its location): the watermark and what was seen stay, so shop-c (another location) still
    gets the change on the next run. (It used to move the watermark: shop-c never heard of it.)"""
    skus = seed(box, 5, 0)
    with make_runner(box, tmp_path, stores_config()) as runner:
        assert not runner.apply().has_failures
        time.sleep(2)
        assert not runner.apply().has_failures
        watermark = runner.state.get_cursor(changes.ACCOUNT, changes.KATANA_WATERMARK)
        box.katana.set_stock(skus[0], "B", 22)          # shop-c's location
        box.katana.set_stock(skus[1], "A", 11)          # shop-a's
        only_a = runner.apply(stores=["shop-a"])
        assert not only_a.has_failures and "incremental run" in only_a.messages[0], str(only_a)
        assert box.stores["shop-a"].stock_of(skus[1]) == 11 and box.stores["shop-c"].stock_of(skus[0]) == 30
        assert runner.state.get_cursor(changes.ACCOUNT, changes.KATANA_WATERMARK) == watermark
        everyone = runner.apply()
        assert not everyone.has_failures, str(everyone)
        assert box.stores["shop-c"].stock_of(skus[0]) == 22
        assert box.stores["shop-b"].stock_of(skus[1]) == 11
        assert runner.state.get_cursor(changes.ACCOUNT, changes.KATANA_WATERMARK) != watermark
