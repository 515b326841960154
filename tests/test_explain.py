"""`explain` and `history` on the sandbox: an order's story (held, imported, moved, delivered), a SKU
shared by two stores on one location, and the run log read back.

One demo sandbox and one apply are shared by the module's tests (`world`); each test then reads,
or changes what it alone looks at. The figures a SKU story shows are compared with the planning's
own (`Runner.compare_stock`), never recomputed here.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.errors import ReconcileError

from _harness import make_runner

STORES = {"shop-eu": {"location": "Main Warehouse", "stock": {"initial_import": True}}, "shop-us": {"location": "East Coast DC"},
          "shop-outlet": {"location": "Main Warehouse"}}
SECRET_MARKERS = ("@example", "ck_", "cs_")      # contact data and credentials never appear


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explain")
    with sandbox.start(katana_rate=None) as sb:
        runner = make_runner(sb, tmp, STORES)
        first = runner.apply()
        # Shared location, shared SKU: shop-outlet holds an order for MUG-CLASSIC (its other line is
        # unknown to Katana), shop-eu has one on-hold (not imported) - both lower both figures.
        sb.stores["shop-outlet"].add_product("NOT-IN-KATANA", "Sold in the outlet only", "5.00", stock=10)
        held = sb.stores["shop-outlet"].place_order([("MUG-CLASSIC", 1), ("NOT-IN-KATANA", 1)])
        on_hold = sb.stores["shop-eu"].place_order([("MUG-CLASSIC", 2)], status="on-hold")
        second = runner.apply()
        yield {"sb": sb, "runner": runner, "first": first, "second": second, "held": held, "on_hold": on_hold,
               "tmp": tmp}
        runner.close()


def so_for(sb, store: str, woo_id: int) -> dict:
    host = sb.stores[store].url.split("://", 1)[1]
    return next(so for so in sb.katana.sales_orders() if so["ecommerce_store_name"] == host
                and str(so["ecommerce_order_id"]) == str(woo_id))


def assert_clean(*texts: str) -> None:
    for text in texts:
        assert not [m for m in SECRET_MARKERS if m in text], text


# --- orders ---------------------------------------------------------------------------------------

def test_explain_a_held_order(world):
    story = world["runner"].explain_order("shop-us", 67)
    assert story.state == "held" and story.hold is not None
    assert story.hold.reason == "unknown_sku" and "GIFTCARD-25" in story.hold.detail
    assert story.hold.attempts == 2 and story.hold.since is not None      # held by both applies
    assert [e.what for e in story.events][:1] == ["placed"]
    assert {"placed", "first seen", "held"} <= {e.what for e in story.events}
    assert story.sales_order_id is None and story.woo_status == "processing"
    text = str(story)
    assert "Order #67 of shop-us: held (unknown_sku)" in text and "2 runs" in text
    assert "retried on every run" in text and "create the SKU in Katana" in text
    assert "GIFTCARD-25 x 1" in text
    assert_clean(text, story.to_markdown(), story._repr_html_(), json.dumps(story.to_dict()))


def test_explain_an_imported_order(world):
    story = world["runner"].explain_order("shop-eu", 65)
    so = so_for(world["sb"], "shop-eu", 65)
    assert story.state == "imported" and story.hold is None
    assert (story.sales_order_id, story.order_no, story.katana_status) == (so["id"], "WC-shop-eu-65", "NOT_SHIPPED")
    assert story.location is not None and story.location.name == "Main Warehouse"
    imported = [e for e in story.events if e.what == "imported"]
    assert len(imported) == 1 and imported[0].run_id == 1 and "created at Main Warehouse" in imported[0].detail
    frame = story.to_pandas()
    assert list(frame.event)[:1] == ["placed"] and str(frame["run"].dtype) == "Int64"


def test_explain_a_moved_order_and_a_move_to_where_it_is(world):
    runner = world["runner"]
    result = runner.move_order("shop-eu", 66, "East Coast DC")
    assert result.to_location.name == "East Coast DC"
    with pytest.raises(ReconcileError, match="already ships from East Coast DC .*nothing moved"):
        runner.move_order("shop-eu", 66, "East Coast DC")
    story = runner.explain_order("shop-eu", 66)
    assert story.location.name == "East Coast DC" and story.katana_status == "NOT_SHIPPED"
    moved = [e for e in story.events if e.what == "moved"]
    assert len(moved) == 1 and moved[0].detail == "Ship From Main Warehouse -> East Coast DC"
    assert [e.what for e in story.events].index("imported") < [e.what for e in story.events].index("moved")
    assert "moved: Ship From Main Warehouse -> East Coast DC" in str(story)


def test_explain_a_delivered_order(world):
    sb, runner = world["sb"], world["runner"]
    sb.katana.deliver_sales_order(so_for(sb, "shop-us", 68)["id"])
    story = runner.explain_order("shop-us", 68)
    assert story.katana_status == "DELIVERED" and story.state == "imported"
    delivered = [e for e in story.events if e.what == "delivered"]
    assert delivered and "Ship From can no longer move" in delivered[0].detail
    assert "DELIVERED" in story.to_markdown()
    with pytest.raises(ReconcileError, match="DELIVERED"):
        runner.move_order("shop-us", 68, "Main Warehouse")


def test_explain_an_order_no_run_has_seen(world):
    story = world["runner"].explain_order("shop-eu", 999999)
    assert story.state == "not seen" and story.events == ()
    assert any("WooCommerce has no order 999999" in n for n in story.notes)
    assert any("no run has seen this order" in n for n in story.notes)
    with pytest.raises(KeyError, match="nosuch"):
        world["runner"].explain_order("nosuch", 1)


# --- a SKU shared by two stores on one location ---------------------------------------------------------

def test_explain_a_sku_shared_by_two_stores(world):
    runner, held, on_hold = world["runner"], world["held"], world["on_hold"]
    story = runner.explain_sku("MUG-CLASSIC")
    eu, outlet, us = story.figure("shop-eu"), story.figure("shop-outlet"), story.figure("shop-us")
    assert eu.location == outlet.location and eu.location.name == "Main Warehouse"
    # one location: the same Katana figures and the same orders behind them, whichever store asks
    assert (eu.in_stock, eu.committed, eu.pending) == (outlet.in_stock, outlet.committed, outlet.pending)
    assert eu.orders == outlet.orders
    assert {(o.store, o.woo_order_id, o.why, o.quantity) for o in eu.orders} == {
        ("shop-outlet", held["id"], "held", Decimal(1)),
        ("shop-eu", on_hold["id"], "status not imported (on-hold)", Decimal(2))}
    assert eu.pending == 3 and us.orders == () and us.location.name == "East Coast DC"
    # the figure is the planning's own, the one a push writes
    for name, fig in (("shop-eu", eu), ("shop-outlet", outlet)):
        row = next(r for r in runner.compare_stock(name).rows if r.sku == "MUG-CLASSIC")
        assert fig.figure == row.target and fig.in_stock == row.in_stock and fig.committed == row.committed
        assert fig.figure == max(0, int(fig.in_stock - fig.committed - fig.pending - fig.buffer))
        assert fig.store_quantity == fig.figure and fig.in_sync
    # each level written, with its run
    assert [p.run_id for p in eu.pushes] == [1] and eu.pushes[0].kind == "stock.push"
    assert eu.pushes[0].before is not None and eu.last_pushed == eu.pushes[0].after
    # since then the store lowered its own level by the orders placed: already the figure, no push
    assert world["first"].store("shop-eu").status == "applied" and not [
        r for r in world["second"].store("shop-eu").results if r.action.kind == "stock.push"]
    text = str(story)
    assert "- taken, not committed" in text and f"shop-outlet #{held['number']} (processing, held)" in text
    assert "= figure" in text and "levels written" in text
    frame = story.to_pandas()
    assert len(frame) == 3 and frame.sku.unique().tolist() == ["MUG-CLASSIC"]
    assert str(frame["figure"].dtype) == "Int64" and str(frame["in_stock"].dtype) == "Int64"
    only = runner.explain_sku("MUG-CLASSIC", store="shop-outlet")
    assert [f.store for f in only.figures] == ["shop-outlet"] and only.figures[0].orders == eu.orders
    assert_clean(text, story.to_markdown(), story._repr_html_())


def test_explain_a_sku_no_store_sells(world):
    story = world["runner"].explain_sku("NOT-IN-KATANA")
    assert all(f.figure is None for f in story.figures)
    assert "Katana has no variant with this SKU" in story.figure("shop-outlet").note
    assert story.notes == ("no store has a figure for NOT-IN-KATANA",)


# --- history ----------------------------------------------------------------------------------------

def test_history_of_the_runs(world):
    runner = world["runner"]
    history = runner.history()
    applies = [r for r in history.runs if r.command == "apply"]
    assert [r.id for r in applies][-2:] == [2, 1]               # newest first
    first = next(r for r in history.runs if r.id == 1)
    assert first.outcome == "ok" and first.stores["shop-us"] == "attention"
    assert first.outcomes["applied"] >= 10 and first.kinds["order.import"] == 6
    assert first.calls_to("katana") == world["first"].calls_to("katana") > 0
    assert first.seconds is not None and first.seconds >= 0
    only_us = runner.history(store="shop-us")
    assert all(set(r.stores) <= {"shop-us"} for r in only_us.runs) and only_us.runs
    assert runner.history(since=datetime.now(timezone.utc) + timedelta(hours=1)).runs == ()
    frame = history.to_pandas()
    assert len(frame) == len(history.runs) and str(frame["katana_calls"].dtype) == "Int64"
    assert str(frame["started_at"].dtype).startswith("datetime64")
    text = str(history)
    assert text.splitlines()[2].split()[:3] == ["run", "outcome", "command"] and "#1" in text
    data = history.to_dict()
    assert data["runs"][-1]["katana_calls"] == first.calls_to("katana")


def test_the_run_log_keeps_each_sku_written(world):
    state = world["runner"].state
    push = next(a for a in state.actions(1) if a.kind == "stock.push" and a.store == "shop-eu")
    assert set(push.before) == set(push.after["pushed"])            # before and after, per SKU
    (initial,) = [a for a in state.actions(1) if a.kind == "stock.initial_import"]
    assert initial.after["levels"] and initial.after["result"]["rows"] == len(initial.after["levels"])
    assert set(initial.before) == set(initial.after["levels"])


def test_a_correction_right_after_the_writes_is_in_the_run_log_and_the_sku_story(tmp_path, monkeypatch):
    """An order placed in the instant before a write is overwritten by it; the level is lowered right
    after. That write too is in the run log, with its before and after, and `explain sku` lists it."""
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        sb.katana.add_variant("W1", sales_price="10.00")
        sb.katana.set_stock("W1", "A", 10)
        shop = sb.add_store("shop-a")
        shop.add_product("W1", "Widget", "10.00", stock=2)
        real, sold = shop.server.dispatch, []

        def dispatch(request):
            if request.method == "POST" and request.path.endswith("/batch") and not sold:
                sold.append(shop.place_order([("W1", 1)]))        # 2 -> 1, then the write sets 10
            return real(request)
        monkeypatch.setattr(shop.server, "dispatch", dispatch)
        with make_runner(sb, tmp_path, {"shop-a": {"location": "A"}}) as runner:
            runner.apply()
            assert shop.stock_of("W1") == 9
            [correction] = [a for a in runner.state.actions(1) if a.kind == "stock.correct"]
            assert correction.before == {"W1": 10} and correction.after["pushed"] == {"W1": 9}
            story = runner.explain_sku("W1")
            assert [(p.kind, p.before, p.after) for p in story.figure("shop-a").pushes] == [
                ("stock.push", 2, 10), ("stock.correct", 10, 9)]


def test_explain_a_sku_whose_location_is_divided_among_its_stores(tmp_path):
    """With `locations[].allocation` the figure is the store's slice: the story says which, and how."""
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        sb.katana.add_variant("W1", sales_price="10.00")
        sb.katana.set_stock("W1", "A", 17)
        for name in ("shop-a", "shop-b"):
            sb.add_store(name).add_product("W1", "Widget", "10.00", stock=0)
        rule = {"locations": [{"location": "A", "allocation": {"mode": "share",
                                                                "shares": {"shop-a": 60, "shop-b": 40}}}]}
        with make_runner(sb, tmp_path, {"shop-a": {"location": "A"}, "shop-b": {"location": "A"}},
                         extra=rule) as runner:
            story = runner.explain_sku("W1")
    a, b = story.figure("shop-a"), story.figure("shop-b")
    assert (a.figure, a.share, b.figure, b.share) == (10, 10, 7, 7)
    assert "share 60 % of 17 units" in a.allocation and "slices shop-a 10, shop-b 7" in a.allocation
    assert "this store's slice" in str(story) and "share 40 % of 17 units" in str(story)
