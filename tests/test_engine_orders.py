"""Order import engine, end to end against the sandbox (issue 5 acceptance, orders half).

Every test runs the real runner (plan -> apply) on an emulated Katana and WooCommerce store and
asserts what ended up in Katana, in the local state and in the report: the mapped location on the
sales order and every row, each hold reason retried every run, ex-tax prices and spread coupons,
tax rates found or created once, shipping fees, and exactly one sales order per WooCommerce order
whatever crashes, lost answers, deleted sales orders or deleted state come in between.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from katana_woo_sdk import sandbox
from katana_woo_sdk.engines import orders as order_engine
from katana_woo_sdk.state import State

from _harness import make_runner

PRICES = {"W1": "24.00", "W2": "12.00", "W3": "7.50"}
CURSOR = order_engine.CURSOR


@pytest.fixture
def box():
    """Katana with locations A and B (B primary and the default sales location, so an order that
    forgot its location would land there), three variants stocked at both; store shop-a sells them."""
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("B", is_primary=True)
        sb.katana.add_location("A")
        sb.katana.set_default_sales_location("B")
        shop = sb.add_store("shop-a")
        for sku, price in PRICES.items():
            sb.katana.add_variant(sku, sales_price=price)
            sb.katana.set_stock(sku, "A", 20)
            sb.katana.set_stock(sku, "B", 30)
            shop.add_product(sku, f"Product {sku}", price, stock=20)
        yield sb


def runner_for(sb, tmp_path, *, state_name: str = "state.sqlite", **orders):
    return make_runner(sb, tmp_path, {"shop-a": {"location": "A", "orders": dict(orders)}}, state_name=state_name)


def host(sb, store: str = "shop-a") -> str:
    return sb.stores[store].url.split("://", 1)[1]


def sos(sb, woo_id: int, store: str = "shop-a") -> list[dict]:
    """Katana's sales orders (deleted ones included) for one WooCommerce order."""
    return [so for so in sb.katana.sales_orders(include_deleted=True)
            if so["ecommerce_store_name"] == host(sb, store) and str(so["ecommerce_order_id"]) == str(woo_id)]


def the_so(sb, woo_id: int, store: str = "shop-a") -> dict:
    found = sos(sb, woo_id, store)
    assert len(found) == 1, f"expected exactly one sales order for Woo order {woo_id}, found {len(found)}"
    return found[0]


def writes(server) -> int:
    return sum(server.count(m) for m in ("POST", "PUT", "PATCH", "DELETE"))


def katana_get(sb, path: str) -> list[dict]:
    answer = requests.get(sb.katana.base_url + path, headers={"Authorization": f"Bearer {sb.katana.api_key}"},
                          params={"limit": 250})
    answer.raise_for_status()
    return answer.json()["data"]


def held_reasons(holds) -> dict[int, str]:
    return {h.woo_order_id: h.reason for h in holds}


# --- location --------------------------------------------------------------------------------------

def test_imports_at_the_mapped_location_and_commits_stock_there_only(box, tmp_path):
    a, b = box.katana.location_id("A"), box.katana.location_id("B")
    order = box.stores["shop-a"].place_order([("W1", 2), ("W2", 1)])
    with runner_for(box, tmp_path) as runner:
        plan = runner.plan()
        [action] = plan.store("shop-a").actions_of("order.import")
        assert action.after["location_id"] == a
        report = runner.apply()
        assert report.store("shop-a").status == "applied", str(report)
        so = the_so(box, order["id"])
        assert so["location_id"] == a
        rows = so["sales_order_rows"]
        assert sorted((box.katana.variant(r["variant_id"])["sku"], Decimal(str(r["quantity"]))) for r in rows) == \
            [("W1", Decimal(2)), ("W2", Decimal(1))]
        assert {r["location_id"] for r in rows} == {a}
        # Committed where the order ships from, and nowhere else.
        assert box.katana.inventory_of("W1", "A")["committed"] == 2
        assert box.katana.inventory_of("W2", "A")["committed"] == 1
        assert box.katana.inventory_of("W1", "B")["committed"] == 0
        assert box.katana.inventory_of("W2", "B")["committed"] == 0
        entry = runner.state.ledger_get("shop-a", order["id"])
        assert (entry.status, entry.sales_order_id, entry.location_id) == ("imported", so["id"], a)
        assert so["order_no"] == f"WC-shop-a-{order['number']}"


# --- holds -----------------------------------------------------------------------------------------

def test_every_hold_reason_is_reported_retried_every_run_and_never_blocks_other_orders(box, tmp_path):
    shop = box.stores["shop-a"]
    now = datetime.now(timezone.utc)
    shop.add_product("GHOST", "Not in Katana yet", "5.00", stock=5)
    no_sku = shop.add_product("", "Sticker without SKU", "1.50", stock=9)
    shop.add_product("TMP", "Temp gadget", "3.00", stock=5)
    box.katana.add_variant("TMP")   # known to Katana: the deleted product's line still has no SKU left
    # Backdated well beyond the overlap window: after the first run the modified-after cursor has
    # passed it, so only the by-id re-read of held orders can bring it back.
    unknown = shop.place_order([("W1", 1), ("GHOST", 1)], created_at=now - timedelta(hours=2))
    deleted = shop.place_order([("TMP", 1)])
    shop.delete_product("TMP")
    nosku = shop.place_order([(no_sku["id"], 1)])
    nocustomer = shop.place_order([("W2", 1)], billing={})
    good = shop.place_order([("W3", 2)])
    expected = {unknown["id"]: "unknown_sku", deleted["id"]: "deleted_product", nosku["id"]: "no_sku",
                nocustomer["id"]: "no_customer"}

    with runner_for(box, tmp_path) as runner:
        plan = runner.plan()
        assert held_reasons(plan.store("shop-a").holds) == expected
        assert [a.key for a in plan.store("shop-a").actions_of("order.import")] == [f"order:{good['id']}"]
        report = runner.apply()
        assert held_reasons(report.store("shop-a").holds) == expected
        assert report.store("shop-a").status == "attention"
        assert len(sos(box, good["id"])) == 1
        for woo_id in expected:
            assert sos(box, woo_id) == []
        status = runner.status().store("shop-a")
        assert held_reasons(status.held) == expected
        assert status.imported == 1
        details = {h.woo_order_id: h.detail for h in status.held}
        assert "GHOST" in details[unknown["id"]]
        assert runner.status().store("shop-a").condition("OrdersSynced").status == "False"

        # Held orders never block new ones, and are tried again on every run.
        later = shop.place_order([("W1", 1)])
        report = runner.apply()
        assert held_reasons(report.store("shop-a").holds) == expected
        assert [r.action.key for r in report.results if r.action.kind == "order.import"] == [f"order:{later['id']}"]
        assert len(sos(box, later["id"])) == 1
        assert {e.woo_order_id: e.attempts for e in runner.state.ledger("shop-a", status="held").values()} == \
            {woo_id: 2 for woo_id in expected}
        cursor = datetime.fromisoformat(runner.state.get_cursor("shop-a", CURSOR))
        assert cursor - timedelta(minutes=10) > datetime.fromisoformat(unknown["date_modified_gmt"] + "+00:00")

        # Fix the SKU in Katana: the next run imports the held order, at the mapped location.
        box.katana.add_variant("GHOST")
        report = runner.apply()
        imported = [r for r in report.results if r.action.kind == "order.import"]
        assert [(r.action.key, r.outcome) for r in imported] == [(f"order:{unknown['id']}", "applied")]
        so = the_so(box, unknown["id"])
        assert so["location_id"] == box.katana.location_id("A")
        assert {r["location_id"] for r in so["sales_order_rows"]} == {box.katana.location_id("A")}
        del expected[unknown["id"]]
        assert held_reasons(report.store("shop-a").holds) == expected
        assert held_reasons(runner.status().store("shop-a").held) == expected
        assert runner.state.ledger_get("shop-a", unknown["id"]).status == "imported"


def test_a_held_order_that_leaves_processing_is_no_longer_held(box, tmp_path):
    shop = box.stores["shop-a"]
    shop.add_product("GHOST", "Not in Katana", "5.00", stock=5)
    order = shop.place_order([("GHOST", 1)])
    with runner_for(box, tmp_path) as runner:
        assert held_reasons(runner.apply().store("shop-a").holds) == {order["id"]: "unknown_sku"}
        shop.set_order_status(order["id"], "cancelled")
        report = runner.apply()
        assert report.store("shop-a").holds == ()
        assert runner.status().store("shop-a").held == ()
        box.katana.add_variant("GHOST")
        runner.apply()
        assert sos(box, order["id"]) == []   # cancelled: never imported


# --- prices, taxes, discounts, shipping ------------------------------------------------------------

@pytest.mark.parametrize("rate_exists", [False, True], ids=["rate-created", "rate-found"])
def test_tax_inclusive_prices_spread_coupon_one_tax_rate_and_shipping_fee(box, tmp_path, rate_exists):
    shop = box.stores["shop-a"]
    if rate_exists:
        existing = box.katana.add_tax_rate(20, "VAT 20%")
    first = shop.place_order([("W1", 2), ("W2", 1)], prices_include_tax=True, tax_percent=20,
                             coupon_amount="6.00", shipping_total="5.00")
    second = shop.place_order([("W2", 3)], prices_include_tax=True, tax_percent=20)
    box.katana.server.clear_log()
    with runner_for(box, tmp_path) as runner:
        report = runner.apply()
    assert not report.has_failures, str(report)

    assert box.katana.server.count("POST", "/tax_rates$") == (0 if rate_exists else 1)  # once for both orders
    assert box.katana.server.count("GET", "/tax_rates$") == 1      # looked up once per run, then remembered

    so = the_so(box, first["id"])
    rows = {box.katana.variant(r["variant_id"])["sku"]: r for r in so["sales_order_rows"]}
    # 24.00 including 20 % tax is 20.00 ex tax (Katana's own integration divides by 1 + tax).
    assert Decimal(str(rows["W1"]["price_per_unit"])) == Decimal("20.00")
    assert Decimal(str(rows["W2"]["price_per_unit"])) == Decimal("10.00")
    # The 6.00 (incl. tax) cart coupon is 5.00 ex tax, spread in proportion to the lines (40 : 10).
    assert Decimal(rows["W1"]["total_discount"]) == Decimal("4.00")
    assert Decimal(rows["W2"]["total_discount"]) == Decimal("1.00")
    assert sum(Decimal(r["total_discount"]) for r in rows.values()) == Decimal(first["discount_total"])
    tax_ids = {r["tax_rate_id"] for r in rows.values()} | \
        {r["tax_rate_id"] for r in the_so(box, second["id"])["sales_order_rows"]}
    assert len(tax_ids) == 1
    [tax_id] = tax_ids
    if rate_exists:
        assert tax_id == existing["id"]
    assert Decimal(str(rows["W1"]["tax_rate"])) == Decimal(20)
    # The shipping line becomes the order's shipping fee (ex tax, with the same rate).
    fee = so["shipping_fee"]
    assert fee is not None and Decimal(str(fee["amount"])) == Decimal("5.00")
    assert fee.get("tax_rate_id") == tax_id
    assert the_so(box, second["id"])["shipping_fee"] is None
    assert [t["id"] for t in katana_get(box, "/tax_rates") if Decimal(str(t["rate"])) == 20] == [tax_id]


# --- exactly once ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [{"status": 500}, {"drop": True}], ids=["500-after-create", "dropped-after-create"])
def test_a_create_whose_answer_is_lost_is_found_not_repeated(box, tmp_path, fault):
    order = box.stores["shop-a"].place_order([("W1", 1)], shipping_total="4.00")
    box.katana.server.inject_fault(method="POST", path="/sales_orders$", after=True, **fault)
    with runner_for(box, tmp_path) as runner:
        report = runner.apply()
        [result] = [r for r in report.results if r.action.kind == "order.import"]
        assert result.outcome == "applied", str(report)
        so = the_so(box, order["id"])
        assert box.katana.server.count("POST", "/sales_orders$") == 1     # never re-sent
        assert so["shipping_fee"] is not None and Decimal(str(so["shipping_fee"]["amount"])) == Decimal("4.00")
        entry = runner.state.ledger_get("shop-a", order["id"])
        assert (entry.status, entry.sales_order_id) == ("imported", so["id"])
        assert runner.apply().store("shop-a").results == ()
    assert len(sos(box, order["id"])) == 1


class Crash(BaseException):
    """A process dying (KeyboardInterrupt, OOM kill): nothing in the runner catches it."""


@pytest.mark.parametrize("where", ["record", "ledger_put"])
def test_a_crash_between_create_and_ledger_does_not_duplicate_and_the_ledger_is_repaired(box, tmp_path,
                                                                                        monkeypatch, where):
    shop = box.stores["shop-a"]
    order = shop.place_order([("W1", 2)], shipping_total="4.00")
    other = shop.place_order([("W2", 1)])
    calls = {"n": 0}
    if where == "record":
        real = order_engine._record

        def crashing(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise Crash("killed after the sales order was created")
            return real(*args, **kwargs)
        monkeypatch.setattr(order_engine, "_record", crashing)
    else:
        real = State.ledger_put

        def crashing(self, entry):
            if entry.status == "imported":
                calls["n"] += 1
                if calls["n"] == 1:
                    raise Crash("killed before the ledger write")
            return real(self, entry)
        monkeypatch.setattr(State, "ledger_put", crashing)

    with runner_for(box, tmp_path) as runner:
        with pytest.raises(Crash):
            runner.apply()
    so = the_so(box, order["id"])                   # created, but the state never heard of it
    with runner_for(box, tmp_path) as runner:
        assert runner.state.ledger_get("shop-a", order["id"]) is None
        report = runner.apply()
        assert not report.has_failures, str(report)
        assert the_so(box, order["id"])["id"] == so["id"]   # still exactly one
        assert len(sos(box, other["id"])) == 1
        assert box.katana.server.count("POST", "/sales_orders$") == 2
        entry = runner.state.ledger_get("shop-a", order["id"])
        assert (entry.status, entry.sales_order_id, entry.location_id) == \
            ("imported", so["id"], box.katana.location_id("A"))
        # What the crash interrupted is completed: the shipping line still becomes the fee.
        assert the_so(box, order["id"])["shipping_fee"] is not None
        box.katana.server.clear_log()
        assert runner.apply().store("shop-a").results == ()
        assert writes(box.katana.server) == 0


@pytest.mark.parametrize("after", [False, True], ids=["fee-refused", "fee-answer-lost"])
def test_a_failed_shipping_fee_is_added_by_the_next_run_without_a_second_order(box, tmp_path, after):
    order = box.stores["shop-a"].place_order([("W1", 1)], shipping_total="4.00")
    box.katana.server.inject_fault(method="POST", path="/sales_order_shipping_fee$", status=500, after=after)
    with runner_for(box, tmp_path) as runner:
        first = runner.apply()
        [result] = [r for r in first.results if r.action.kind == "order.import"]
        assert result.outcome == "failed" and first.has_failures
        so = the_so(box, order["id"])
        # Not adopted as imported while the fee may be missing: it stays held and is re-read by id.
        assert runner.state.ledger_get("shop-a", order["id"]).status == "held"
        second = runner.apply()
        assert not second.has_failures, str(second)
        assert the_so(box, order["id"])["id"] == so["id"]
        assert box.katana.server.count("POST", "/sales_orders$") == 1
        fee = the_so(box, order["id"])["shipping_fee"]
        assert fee is not None and Decimal(str(fee["amount"])) == Decimal("4.00")
        # One fee, whether the first one was refused or created with its answer lost.
        assert box.katana.server.count("POST", "/sales_order_shipping_fee$") == (2 if not after else 1)
        entry = runner.state.ledger_get("shop-a", order["id"])
        assert (entry.status, entry.sales_order_id) == ("imported", so["id"])
        assert runner.status().store("shop-a").held == ()


def test_a_sales_order_deleted_in_katana_is_not_imported_again_even_without_state(box, tmp_path):
    order = box.stores["shop-a"].place_order([("W1", 1)])
    with runner_for(box, tmp_path) as runner:
        runner.apply()
        so = the_so(box, order["id"])
        box.katana.delete_sales_order(so["id"])
        box.katana.server.clear_log()
        report = runner.apply()
        assert [r for r in report.results if r.action.kind == "order.import"] == []
        assert box.katana.server.count("POST", "/sales_orders$") == 0
    with runner_for(box, tmp_path, state_name="fresh.sqlite") as runner:   # the state file is gone
        plan = runner.plan()
        assert plan.store("shop-a").actions_of("order.import") == []
        assert plan.store("shop-a").notes.get("orders_already_in_katana") == 1
        runner.apply()
        assert box.katana.server.count("POST", "/sales_orders$") == 0
        entry = runner.state.ledger_get("shop-a", order["id"])
        assert entry.status == "imported" and entry.sales_order_id == so["id"]
        assert "deleted" in (entry.reason or "")
    [again] = sos(box, order["id"])
    assert again["id"] == so["id"] and again["deleted_at"] is not None


def test_lost_state_imports_nothing_twice(box, tmp_path):
    shop = box.stores["shop-a"]
    ids = [shop.place_order([("W1", 1), ("W2", 1)], shipping_total="3.00")["id"],
           shop.place_order([("W3", 2)])["id"]]
    with runner_for(box, tmp_path) as runner:
        runner.apply()
    before = {i: the_so(box, i)["id"] for i in ids}
    box.katana.server.clear_log()
    shop.server.clear_log()
    with runner_for(box, tmp_path, state_name="fresh.sqlite") as runner:
        report = runner.apply()
        assert not report.has_failures
        assert {i: the_so(box, i)["id"] for i in ids} == before
        assert writes(box.katana.server) == 0 and writes(shop.server) == 0
        assert {i: runner.state.ledger_get("shop-a", i).sales_order_id for i in ids} == before


def test_a_failed_order_note_does_not_turn_an_imported_order_into_a_failure(box, tmp_path):
    shop = box.stores["shop-a"]
    order = shop.place_order([("W1", 1)])
    shop.server.inject_fault(method="POST", path=r"/orders/\d+/notes$", status=500)
    with runner_for(box, tmp_path, add_order_note=True) as runner:
        report = runner.apply()
        [result] = [r for r in report.results if r.action.kind == "order.import"]
        assert result.outcome == "applied", str(report)
        assert "note" in (result.result.note_error or "")
        so = the_so(box, order["id"])
        entry = runner.state.ledger_get("shop-a", order["id"])
        assert (entry.status, entry.sales_order_id) == ("imported", so["id"])
        assert runner.status().store("shop-a").held == ()
        later = shop.place_order([("W2", 1)])
        assert not runner.apply().has_failures
        assert shop.server.count("POST", rf"/orders/{later['id']}/notes$") == 1


@pytest.mark.parametrize("ignored", [False, True], ids=["filters-honoured", "filters-ignored"])
def test_stores_whose_order_ids_coincide_each_get_their_own_sales_order(box, tmp_path, ignored):
    """Every store numbers its orders from the same sequence start, so two stores' order 20 are
    different orders; told apart by ecommerce_store_name even when Katana ignores the filters."""
    shop_b = box.add_store("shop-b")
    for sku, price in PRICES.items():
        shop_b.add_product(sku, f"Product {sku}", price, stock=20)
    if ignored:
        box.katana.ignore_filter("sales_orders", "ecommerce_store_name")
        box.katana.ignore_filter("sales_orders", "ecommerce_order_id")
    a_order = box.stores["shop-a"].place_order([("W1", 1)])
    b_order = shop_b.place_order([("W2", 2)])
    assert a_order["id"] == b_order["id"]
    stores = {"shop-a": {"location": "A"}, "shop-b": {"location": "B"}}
    with make_runner(box, tmp_path, stores) as runner:
        report = runner.apply()
        assert not report.has_failures, str(report)
        so_a, so_b = the_so(box, a_order["id"], "shop-a"), the_so(box, b_order["id"], "shop-b")
        assert so_a["id"] != so_b["id"]
        assert (so_a["location_id"], so_b["location_id"]) == (box.katana.location_id("A"), box.katana.location_id("B"))
        again = runner.apply()
        assert [r for r in again.results if r.action.kind == "order.import"] == []
    assert len(box.katana.sales_orders()) == 2
