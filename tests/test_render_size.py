"""Output that fits where it goes: a pull request comment (GitHub refuses more than 65,536
characters), a notebook cell, a terminal.

The 2,000-SKU plan is a real one: bench/bench_run.py's dataset (2,000 Katana variants, 3 stores on
2 locations, 300 orders) built into the sandbox and planned by the runner (~5 s). The larger ones
are built by hand, to show the budget holds whatever the size.
"""
from __future__ import annotations

import importlib.util
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.actions import ImportRow, OrderImport, StockPush, StockWriteItem
from katana_woo_sdk.config import load_config_text
from katana_woo_sdk.plan import Action, Hold, LocationRef, MappingPlan, Plan, StorePlan
from katana_woo_sdk.runner import Runner

from test_report import big_plan

REPO = Path(__file__).resolve().parents[1]
# The emulators' answers are checked against the OpenAPI specs elsewhere; here that check of ~200
# pages of 100-250 items would take four times as long as the plan itself.
EMULATOR_SCHEMA_CHECK = False
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
GITHUB_LIMIT = 65_536


def bench_run():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "bench_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_2000_sku_first_plan_fits_a_comment(tmp_path, monkeypatch):
    from katana_woo_sdk.sandbox import _server
    # The emulator's two sends per answer meet Nagle's algorithm: 40 ms a call (see bench_run.serve).
    monkeypatch.setattr(_server._RequestHandler, "disable_nagle_algorithm", True)
    bench = bench_run()
    with sandbox.start(None, katana_rate=None) as box:
        info = bench.build(box, 2000, 3, 300, 1)
        text = bench.config_yaml(info["stores"], tmp_path / "state.sqlite")
        config = load_config_text(text, filename=str(tmp_path / "bench.yaml"), base_dir=tmp_path, env=box.env())
        with Runner(config, progress=False) as runner:
            plan = runner.plan()
    stock = sum(1 for r in plan.to_records() if r["kind"] == "stock.push")
    assert stock > 500 and len(plan.store("shop-2").holds) > 0            # a first plan with work in it
    md = plan.to_markdown()
    print(f"2,000-SKU first plan: {len(md)} characters of Markdown, {len(plan._repr_html_())} of HTML")
    assert len(md) < 60_000
    assert md.startswith(f"**Plan: {sum(a.kind == 'order.import' for a in plan.actions)} to import")
    for store in ("shop-1", "shop-2", "shop-3"):
        assert f"#### {store}: changes" in md
    assert len(plan._repr_html_()) < 60_000 and len(str(plan)) < 20_000


def huge_plan(stores: int = 12, skus: int = 5000, orders: int = 1000) -> Plan:
    out = []
    for s in range(stores):
        name = f"shop-{s:02}"
        actions = [Action(name, "order.import", f"order:{n}", f"WC-{name}-{n}: 2 rows -> Main Warehouse",
                          payload=OrderImport(n, str(n), f"WC-{name}-{n}", 1,
                                              (ImportRow("A", 1, Decimal(1), Decimal(1)),)))
                   for n in range(orders)]
        writes = tuple(StockWriteItem(f"SKU-{i:05}", i, None, i % 50 + 3, i % 50) for i in range(skus))
        actions.append(Action(name, "stock.push", "stock-push", f"{skus} stock levels from Main Warehouse",
                              payload=StockPush(1, writes)))
        holds = tuple(Hold(name, 90000 + i, str(90000 + i), "unknown_sku", f"SKU 'X-{i}' has no Katana variant")
                      for i in range(300))
        notes = {"katana_only_skus": [f"K-{i}" for i in range(50)], "katana_only_count": 4000,
                 "store_only_skus": [f"W-{i}" for i in range(50)], "store_only_count": 900}
        out.append(StorePlan(name, MappingPlan("new", LocationRef(1, "Main Warehouse")), tuple(actions), holds,
                             tuple(f"warning {i}" for i in range(40)), notes))
    return Plan(T0, "h" * 64, "configs/shops.yaml", tuple(out), {"katana GET /inventory": 12})


def test_the_markdown_budget_holds_whatever_the_size():
    plan = huge_plan()
    assert len(plan.to_records()) > 12 * 6000
    md = plan.to_markdown()
    assert len(md) <= 60_000 < GITHUB_LIMIT
    assert md.splitlines()[0] == "**Plan: 12000 to import, 0 initial stock imports, 60000 stock changes, 3600 held.**"
    assert "| shop-11 | changes | new: Main Warehouse (#1) | 1000 | 0 | 5000 | 300 | 40 |" in md   # overview intact
    assert "… and 4980 more (all of it: katana-woo show plan.json, after plan --out plan.json)" in md  # where the rest is
    pointed = plan.to_markdown(pointer="the full plan: plan.json, uploaded as this run's artifact")
    assert "the full plan: plan.json, uploaded as this run's artifact" in pointed and len(pointed) <= 60_000
    tiny = plan.to_markdown(budget=3_000)
    assert len(tiny) <= 3_000 and tiny.startswith("**Plan: 12000 to import")
    assert "Per-store details left out to fit a comment" in tiny or "cut to fit a comment" in tiny


def test_html_stays_small_and_plain():
    out = big_plan()._repr_html_()
    assert len(out) < 14_000, len(out)                       # 42 KB before: a style on every cell
    assert "<td style=" not in out and "<style" not in out and "<script" not in out
    many = huge_plan(stores=3, skus=20, orders=5)._repr_html_()
    assert many.count("<details>") == 4 and "<details open>" not in many   # 3 stores and the calls, collapsed
    assert max(len(line) for line in str(big_plan()).splitlines()) < 200
