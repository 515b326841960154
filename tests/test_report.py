"""Rendering of plans, reports and status (`katana_woo_sdk.report`): text, Markdown, HTML, records.

Everything is built by hand here, so these tests pin the output format without a runner.
"""
from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from katana_woo_sdk import report
from katana_woo_sdk.actions import AdjustmentRow, CustomerData, ImportRow, InitialImport, OrderImport, StockPush, StockWriteItem
from katana_woo_sdk.plan import (Action, ActionResult, ConditionView, Hold, LocationRef, MappingPlan, Plan, Report,
                                 Status, StorePlan, StoreReport, StoreStatus)
from katana_woo_sdk.report import StockComparison, StockRow

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MAIN, EAST = LocationRef(1, "Main Warehouse"), LocationRef(2, "East Coast DC")
SECRET = "anna.private@example.test"    # contact data a plan may carry (include_customer_data): never rendered


def order(store: str, n: int, location: str = "Main Warehouse") -> Action:
    payload = OrderImport(n, str(n), f"WC-{store}-{n}", 1, (ImportRow("A", 11, Decimal(1), Decimal("9.5")),),
                          created=T0, customer="guest",
                          customer_data=CustomerData(SECRET, "Anna", "555-0100", ({"line_1": "1 Road"},)))
    return Action(store, "order.import", f"order:{n}", f"WC-{store}-{n}: 3 rows -> {location}",
                  after={"order_no": f"WC-{store}-{n}", "location_id": 1, "rows": [["A", "1"]]},
                  fingerprint=f"fp{n}", payload=payload)


def big_plan() -> Plan:
    actions = [order("shop-eu", n) for n in range(27, 39)]                     # 12 imports
    actions.append(Action("shop-eu", "stock.initial_import", "initial-import",
                          "stock adjustment WOO-INIT-shop-eu at Main Warehouse: 2 rows",
                          before={"A": "0", "B": "0"}, after={"A": "5", "B": "7"},
                          payload=InitialImport("WOO-INIT-shop-eu", 1, "set", (
                              AdjustmentRow("A", 11, Decimal(5), Decimal(0), Decimal(5)),
                              AdjustmentRow("B", 12, Decimal(7), Decimal(0), Decimal(7))))))
    before = {f"SKU-{i:02}": i + 5 for i in range(37)}
    after = {f"SKU-{i:02}": i for i in range(37)}
    writes = tuple(StockWriteItem(sku, 100 + i, None, before[sku], after[sku]) for i, sku in enumerate(before))
    actions.append(Action("shop-eu", "stock.push", "stock-push", "37 stock levels from Main Warehouse",
                          before=before, after=after, payload=StockPush(1, writes)))
    holds = (Hold("shop-eu", 40, "40", "unknown_sku", "SKU <NOPE> is not in Katana"),
             Hold("shop-eu", 41, "41", "no_customer", "no billing email"))
    eu = StorePlan("shop-eu", MappingPlan("remap", EAST, MAIN), tuple(actions), holds,
                   ("order #39 has a fee line | ignored",),
                   {"katana_only_skus": [f"K-{i}" for i in range(14)], "katana_only_count": 120,
                    "store_only_skus": ["W-1", "W-2"], "store_only_count": 2, "unmanaged_skus": [],
                    "items_without_sku": 0, "in_sync": 3}, config_hash="h-eu")
    us = StorePlan("shop-us", MappingPlan("blocked", MAIN, reason="LocationDeleted",
                                          message="Main Warehouse (#1) was deleted in Katana"), config_hash="h-us")
    outlet = StorePlan("shop-outlet", MappingPlan("unchanged", MAIN), config_hash="h-out")
    return Plan(T0, "0123456789abcdef", "configs/demo.yaml", (eu, us, outlet),
                {"katana GET /variants": 3, "katana GET /locations": 1, "woocommerce GET /orders": 2})


# --- plan text ---------------------------------------------------------------------------------------

def test_plan_text_reads_like_terraform():
    text = str(big_plan())
    lines = text.splitlines()
    assert "shop-eu: remap Main Warehouse (#1) -> East Coast DC (#2) [changes]" in lines
    assert "  + order.import order:27  WC-shop-eu-27: 3 rows -> Main Warehouse" in lines
    assert "  … and 2 more order.import actions" in lines                       # 12 imports, 10 shown
    assert "order:37" not in text and "order:36" in text
    assert "  ~ stock.push stock-push  37 stock levels from Main Warehouse" in lines
    assert "  stock changes (37):" in lines and "    SKU-00: 5 -> 0" in lines
    assert "    … and 27 more stock changes" in lines
    assert "  + stock.initial_import initial-import  stock adjustment WOO-INIT-shop-eu at Main Warehouse: 2 rows" \
        in lines
    assert "    A: 0 -> 5" in lines
    assert "  ! held order #40 (unknown_sku): SKU <NOPE> is not in Katana" in lines
    assert "  warning: order #39 has a fee line | ignored" in lines
    # the runner cut the list at 14 of 120: the count is the real total
    assert "  note: Katana variants with no store match (120): K-0, K-1, K-2, K-3, K-4, K-5, K-6, K-7, K-8, K-9, " \
           "… and 110 more" in lines
    assert "  note: store SKUs with no Katana variant (2): W-1, W-2" in lines
    assert "  note: items already in sync: 3" in lines
    assert "store items without a SKU" not in text and "do not manage stock" not in text   # zeros, empties left out
    assert "shop-us: blocked: Main Warehouse (#1) was deleted in Katana [blocked]" in lines
    assert "shop-outlet: unchanged: Main Warehouse (#1) [ok]" in lines
    assert lines[-2] == "Plan: 12 to import, 1 initial stock import, 37 stock changes, 2 held; 1 store blocked."
    assert lines[-1] == "Calls while planning: katana 4, woocommerce 2 (6 total)."
    assert SECRET not in text


def test_plan_text_without_limit_shows_everything():
    text = report.plan_text(big_plan(), limit=None)
    assert "order:38" in text and "SKU-36: 41 -> 36" in text
    assert re.findall("… and [0-9]+ more", text) == ["… and 106 more"]     # the runner's own cut remains


def test_summary_counts_errors_mapping_changes_and_plurals():
    mapping = Action("a", "mapping", "mapping", "remap", before={"id": 1, "name": "M"}, after={"id": 2, "name": "E"})
    stores = (StorePlan("a", MappingPlan("remap", EAST, MAIN), (mapping,)),
              StorePlan("b", MappingPlan("invalid", reason="LocationUnknown", message="no location 'X'")),
              StorePlan("c", MappingPlan("new", MAIN), error="katana GET /variants -> 500"),
              StorePlan("d", MappingPlan("disabled")))
    plan = Plan(T0, "h", None, stores)
    text = str(plan)
    assert text.splitlines()[-2] == ("Plan: 0 to import, 0 initial stock imports, 0 stock changes, 0 held, "
                                     "1 mapping change; 2 stores in error, 1 store disabled.")
    assert "  ~ mapping mapping  remap" in text
    assert "  error: katana GET /variants -> 500" in text
    assert "d: disabled [disabled]" in text
    assert "Calls while planning: none." in text
    assert plan.exit_code == 1


def test_empty_plan_says_nothing_to_do():
    plan = Plan(T0, "h", None, (StorePlan("a", MappingPlan("unchanged", MAIN)),))
    assert "  (nothing to do)" in str(plan)
    assert "Plan: 0 to import, 0 initial stock imports, 0 stock changes, 0 held." in str(plan)
    assert plan.exit_code == 0


# --- plan markdown / html ------------------------------------------------------------------------------

def test_plan_markdown_for_a_pull_request_comment():
    md = big_plan().to_markdown()
    first = md.splitlines()[0]
    assert first == "**Plan: 12 to import, 1 initial stock import, 37 stock changes, 2 held; 1 store blocked.**"
    assert not re.search("[\U0001F000-\U0001FFFF\u2600-\u27BF]", md)        # no emoji anywhere
    assert "| store | status | mapping | to import | initial import | stock changes | held | warnings |" in md
    assert "| shop-eu | changes | remap Main Warehouse (#1) -> East Coast DC (#2) | 12 | 1 | 37 | 2 | 1 |" in md
    assert "<details><summary>order.import actions (12)</summary>" in md     # long lists fold
    assert "order:38" in md                                                 # ...but are complete inside
    assert "**held orders (2)**" in md                                      # short lists do not
    assert "SKU &lt;NOPE> is not in Katana" in md                           # no raw HTML from data
    assert "fee line \\| ignored" in md                                      # no broken table cells
    assert "unknown\\_sku" in md
    assert "| katana | GET /variants | 3 |" in md
    assert "<script" not in md and SECRET not in md


def test_plan_html_is_escaped_self_contained_and_coloured():
    plan = big_plan()
    evil = Action("shop-eu", "order.import", "order:1", "<script>alert(1)</script> & co")
    eu = plan.stores[0]
    plan = Plan(plan.created_at, plan.config_hash, plan.config_path,
                (StorePlan(eu.store, eu.mapping, (evil,) + eu.actions, eu.holds, eu.warnings, eu.notes),)
                + plan.stores[1:], plan.calls)
    out = plan._repr_html_()
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in out
    for external in ("<link", "<style", "src=", "href="):
        assert external not in out
    assert '<span style="color:#cf222e;font-weight:bold">blocked</span>' in out
    assert '<span style="color:#0969da;font-weight:bold">changes</span>' in out
    assert "… and 3 more" in out                                            # 13 imports, 10 rows
    assert "… and 110 more" in out
    assert "SKU &lt;NOPE&gt; is not in Katana" in out
    assert SECRET not in out


# --- plan JSON and records --------------------------------------------------------------------------------

def test_plan_json_round_trip(tmp_path):
    plan = big_plan()
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    assert [a.payload for a in again.actions] == [a.payload for a in plan.actions]   # typed, field by field
    assert again.plan_id == plan.plan_id
    assert str(again) == str(plan) and again.to_markdown() == plan.to_markdown()
    loaded = Plan.load(plan.save(tmp_path / "plan.json"))
    assert loaded == plan and loaded.exit_code == 2


def test_plan_records_and_pandas_shape():
    plan = big_plan()
    records = plan.to_records()
    assert len(records) == 12 + 2 + 37 + 2          # one row per import, per SKU of a stock action, per hold
    assert all(set(r) == set(report.PLAN_COLUMNS) for r in records)
    holds = [r for r in records if r["kind"] == "hold"]
    assert [(h["store"], h["key"], h["reason"]) for h in holds] == [("shop-eu", "order:40", "unknown_sku"),
                                                                    ("shop-eu", "order:41", "no_customer")]
    assert records[0]["location"] == "East Coast DC" and records[0]["location_id"] == 2
    frame = plan.to_pandas()
    assert frame.shape == (len(records), len(report.PLAN_COLUMNS))
    assert frame.groupby("kind").size().to_dict() == {"hold": 2, "order.import": 12, "stock.initial_import": 2,
                                                      "stock.push": 37}
    # numbers, not Decimals or dicts in cells: stock levels can be summed and compared
    assert str(frame["before"].dtype) == "Int64" and str(frame["after"].dtype) == "Int64"
    push = frame[frame.kind == "stock.push"]
    assert int((push.before - push.after).sum()) == 37 * 5 and push.sku.is_unique


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        big_plan().to_pandas()


def test_one_line_reprs():
    plan = big_plan()
    assert repr(plan) == "Plan(14 actions; shop-eu=changes, shop-us=blocked, shop-outlet=ok)"
    for obj in (plan, plan.stores[0], plan.actions[0], sample_report(), sample_status()):
        assert "\n" not in repr(obj)


# --- report -----------------------------------------------------------------------------------------------

def sample_report() -> Report:
    a = order("shop-eu", 27)
    results = (ActionResult(a, "applied", "sales order #9001", {"sales_order_id": 9001}),
               ActionResult(order("shop-eu", 28), "replanned", "order changed since the plan"),
               ActionResult(order("shop-eu", 29), "skipped", "already in Katana"),
               ActionResult(order("shop-eu", 30), "dropped", "no longer processing"),
               ActionResult(Action("shop-eu", "stock.push", "stock-push", "2 stock levels", before={"A": 1, "B": 2},
                                   after={"A": 0, "B": 1}), "failed", "woocommerce 500 <html>"))
    many = tuple(ActionResult(order("shop-us", n), "applied") for n in range(100, 115))
    stores = (StoreReport("shop-eu", MappingPlan("unchanged", MAIN), results,
                          (Hold("shop-eu", 40, "40", "unknown_sku", "SKU X"),), ("a warning",)),
              StoreReport("shop-us", MappingPlan("new", EAST), many),
              StoreReport("shop-outlet", MappingPlan("blocked", MAIN, message="location deleted")))
    calls = {"katana GET /variants": 3, "katana POST /sales_orders": 16, "woocommerce GET /orders": 4,
             "woocommerce POST /products/batch": 1}
    return Report(T0, T0 + timedelta(seconds=42), "0123456789abcdef", stores, calls)


def test_report_text_lists_outcomes_and_calls():
    rep = sample_report()
    lines = str(rep).splitlines()
    assert lines[0] == "Report (config 0123456789ab, 2024-05-01T12:00:00Z, 42.0 s)"
    assert "shop-eu: unchanged: Main Warehouse (#1) [failed]" in lines
    assert "  x failed stock.push stock-push  2 stock levels: woocommerce 500 <html>" in lines
    assert "  + applied order.import order:27  WC-shop-eu-27: 3 rows -> Main Warehouse: sales order #9001" in lines
    assert "  ~ replanned order.import order:28  WC-shop-eu-28: 3 rows -> Main Warehouse: order changed since the plan" \
        in lines
    assert "  = skipped order.import order:29  WC-shop-eu-29: 3 rows -> Main Warehouse: already in Katana" in lines
    assert "  - dropped order.import order:30  WC-shop-eu-30: 3 rows -> Main Warehouse: no longer processing" in lines
    assert "  ! held order #40 (unknown_sku): SKU X" in lines
    assert "  … and 5 more applied" in lines                                  # 15 applied in shop-us
    assert "shop-outlet: blocked: location deleted [blocked]" in lines and "  (nothing applied)" in lines
    assert lines[-2] == "Apply: 16 applied, 1 replanned, 1 failed, 1 skipped, 1 dropped; 1 held; 1 store failed, " \
                        "1 store blocked."
    assert lines[-1] == "Calls during the run: katana 19, woocommerce 5 (24 total)."
    assert rep.exit_code == 1 and rep.has_failures


def test_failures_are_never_truncated():
    failures = tuple(ActionResult(order("s", n), "failed", f"boom {n}") for n in range(25))
    rep = Report(T0, T0, "h", (StoreReport("s", MappingPlan("unchanged", MAIN), failures),))
    text = str(rep)
    assert "boom 24" in text and "more failed" not in text
    assert "boom 24" in rep._repr_html_()


def test_report_markdown_and_html():
    rep = sample_report()
    md = rep.to_markdown()
    assert md.startswith("**Apply: 16 applied, 1 replanned, 1 failed")
    assert "| store | status | mapping | failed | replanned | applied | skipped | dropped | held |" in md
    assert "| shop-eu | failed | unchanged: Main Warehouse (#1) | 1 | 1 | 1 | 1 | 1 | 1 |" in md
    assert "<details><summary>applied (15)</summary>" in md
    assert "| katana | POST /sales\\_orders | 16 |" in md
    assert "woocommerce 500 &lt;html>" in md
    out = rep._repr_html_()
    assert "woocommerce 500 &lt;html&gt;" in out
    assert '<span style="color:#cf222e;font-weight:bold">failed</span>' in out
    assert "<td>POST /sales_orders</td>" in out                              # no style repeated on every cell


def test_report_records_and_json():
    rep = sample_report()
    records = rep.to_records()
    assert len(records) == 4 + 2 + 15 + 1                                    # the stock push: one row per SKU
    assert all(set(r) == set(report.REPORT_COLUMNS) for r in records)
    assert {r["outcome"] for r in records} == {"applied", "replanned", "skipped", "dropped", "failed", "held"}
    assert [(r["sku"], r["before"], r["after"]) for r in records if r["kind"] == "stock.push"] == [("A", 1, 0),
                                                                                                   ("B", 2, 1)]
    assert rep.to_pandas().shape == (22, len(report.REPORT_COLUMNS))
    data = json.loads(json.dumps(rep.to_dict()))
    assert data["calls"]["katana POST /sales_orders"] == 16
    assert data["stores"][0]["results"][0]["result"] == {"sales_order_id": 9001}


# --- status -----------------------------------------------------------------------------------------------

def sample_status() -> Status:
    ready = StoreStatus("shop-eu", MAIN, (
        ConditionView("MappingValid", "True", "LocationResolved", "Main Warehouse (#1)", T0, "cfg-eu"),
        ConditionView("LocationAvailable", "True", "Available", "sales allowed", T0, "cfg-eu"),
        ConditionView("OrdersSynced", "True", "Imported", "27 orders", T0, "cfg-eu"),
        ConditionView("StockSynced", "True", "Pushed", "37 levels", T0, "cfg-old")),
        imported=27, last_stock_push=T0, config_hash="cfg-eu")
    blocked = StoreStatus("shop-us", EAST, (
        ConditionView("LocationAvailable", "False", "LocationDeleted", "East Coast DC (#2) was <deleted>", T0, "c"),),
        held=(Hold("shop-us", 5, "5", "unknown_sku", "SKU Q"),), config_hash="c")
    return Status((ready, blocked, StoreStatus("shop-new", None, ())), T0, "applied")


def test_status_text():
    st = sample_status()
    lines = str(st).splitlines()
    assert lines[0] == "Status (last run 2024-05-01T12:00:00Z (applied))"
    assert "shop-eu: Ready  location Main Warehouse (#1), 27 imported, 0 held, last stock push 2024-05-01T12:00:00Z" \
        in lines
    assert "  MappingValid=True LocationResolved: Main Warehouse (#1) (since 2024-05-01T12:00:00Z)" in lines
    assert "  StockSynced=True Pushed: 37 levels (since 2024-05-01T12:00:00Z) " \
           "[stale: observed under config cfg-old, now cfg-eu]" in lines
    assert sum("stale" in line for line in lines) == 1
    assert "shop-us: Blocked  location East Coast DC (#2), 0 imported, 1 held, last stock push never" in lines
    assert "  ! held order #5 (unknown_sku): SKU Q" in lines
    assert "shop-new: Unknown  no location resolved, 0 imported, 0 held, last stock push never" in lines
    assert "  (no conditions recorded yet)" in lines
    assert lines[-1] == "Status: 1 Ready, 1 Blocked, 1 Unknown."


def test_status_markdown_html_records():
    st = sample_status()
    md = st.to_markdown()
    assert md.startswith("**Status: 1 Ready, 1 Blocked, 1 Unknown.**")
    assert "| StockSynced | True | Pushed | 37 levels | 2024-05-01T12:00:00Z | observed under config cfg-old, " \
           "now cfg-eu |" in md
    out = st._repr_html_()
    assert "was &lt;deleted&gt;" in out
    assert '<span style="color:#cf222e;font-weight:bold">Blocked</span>' in out
    assert '<span style="color:#1a7f37;font-weight:bold">Ready</span>' in out
    records = st.to_records()
    assert [r["state"] for r in records] == ["Ready", "Blocked", "Unknown"]
    assert records[0]["StockSynced"] == "True" and records[0]["stale_conditions"] == "StockSynced"
    assert records[1]["MappingValid"] is None and records[1]["held"] == 1
    assert st.to_pandas().shape[0] == 3
    assert json.loads(json.dumps(st.to_dict()))["stores"][0]["imported"] == 27


# --- stock comparison -------------------------------------------------------------------------------------

def test_stock_comparison():
    rows = (StockRow("A", 5, Decimal("5"), Decimal("1"), Decimal("4"), 4),
            StockRow("<B>", 2, Decimal("2.000"), Decimal("0"), Decimal("2"), 2),
            StockRow("C", None, Decimal("3"), Decimal("0"), Decimal("3"), 3))
    cmp = StockComparison("shop-eu", MAIN, rows)
    assert repr(cmp) == "StockComparison(shop-eu @ Main Warehouse (#1): 3 SKUs, 2 out of sync)"
    assert [r.sku for r in cmp.out_of_sync] == ["A", "C"]
    assert cmp.to_records()[1] == {"sku": "<B>", "woo_quantity": 2, "in_stock": Decimal("2.000"),
                                   "committed": Decimal("0"), "available": Decimal("2"), "target": 2,
                                   "in_sync": True}
    out = cmp._repr_html_()
    assert "&lt;B&gt;" in out and "<B>" not in out
    assert out.index(">A<") < out.index("&lt;B&gt;")                       # out of sync first
    assert "3 SKUs, 2 out of sync" in out
    frame = cmp.to_pandas()
    assert list(frame.columns) == list(report.STOCK_COLUMNS) and int((~frame.in_sync).sum()) == 2
    assert "<td" in report.stock_comparison_html([{"sku": "D", "woo_quantity": 1, "in_stock": 1, "committed": 0,
                                                   "available": 1, "target": 1, "in_sync": None}])
