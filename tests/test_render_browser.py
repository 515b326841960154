"""The HTML of plan, report, status, history and explain, as a real browser shows it.

Debian's chromium, headless, loads one page holding every view and reports what is visible
(`innerText`, which leaves out what a closed `<details>` hides), first as rendered and then with
every `<details>` opened, plus a few layout facts: empty table headers, captions and note labels
that wrap onto a second line, the page's width. One browser start (~2 s) for all of it.

Chromium is not a Python dependency: `.ci/run` installs it with apt (about 30 s). Elsewhere the
test is skipped with the reason, unless KATANA_WOO_REQUIRE_BROWSER is set (CI sets it), which
turns a missing browser into a failure.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from katana_woo_sdk.actions import LocationRef
from katana_woo_sdk.explain import Event, OrderStory, PendingOrder, Push, SkuFigure, SkuStory
from katana_woo_sdk.history import History, RunEntry
from katana_woo_sdk.plan import Hold

from katana_woo_sdk.plan import MappingPlan, Plan, StorePlan

from test_report import big_plan, order, sample_report, sample_status

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1200,2000")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MAIN = LocationRef(1, "Main Warehouse")

if BROWSER is None and not os.environ.get("KATANA_WOO_REQUIRE_BROWSER"):
    pytestmark = pytest.mark.skip(reason="chromium is not installed (apt-get install -y chromium); .ci/run "
                                         "installs it and sets KATANA_WOO_REQUIRE_BROWSER")

PROBE = """
<pre id="result"></pre>
<script>
const lines = el => { const r = document.createRange(); r.selectNodeContents(el); return r.getClientRects().length; };
const out = {};
for (const s of document.querySelectorAll("section[data-case]")) {
  const r = {closed: s.innerText, summaries: [...s.querySelectorAll("summary")].map(e => e.innerText)};
  s.querySelectorAll("details").forEach(d => { d.open = true; });
  r.open = s.innerText;
  r.headers = [...s.querySelectorAll("th")].map(e => e.innerText.trim());
  r.captionLines = [...s.querySelectorAll("caption")].map(lines);
  r.noteLines = [...s.querySelectorAll("td[data-note]")].map(lines);
  r.width = s.scrollWidth;
  out[s.dataset.case] = r;
}
document.getElementById("result").textContent = JSON.stringify(out);
</script>
"""


def order_story() -> OrderStory:
    hold = Hold("shop-us", 67, "67", "unknown_sku", "SKU 'GIFTCARD-25' has no Katana variant", T0, 4)
    events = (Event(T0 - timedelta(days=2), "placed", "in shop-us, status now processing"),
              Event(T0, "first seen", "by a run of katana-woo"),
              Event(T0 + timedelta(hours=3), "held", "unknown_sku: SKU 'GIFTCARD-25' has no Katana variant", 4))
    return OrderStory("shop-us", 67, "67", "held", "processing", None, None, None, None, hold,
                      (("GIFTCARD-25", Decimal(1)), ("MUG-TRAVEL", Decimal(1))), events,
                      ("held orders are retried on every run, never dropped",), T0 + timedelta(hours=5))


def sku_story() -> SkuStory:
    takes = (PendingOrder("shop-outlet", 36, "36", "processing", "held", Decimal(1)),
             PendingOrder("shop-eu", 70, "70", "on-hold", "status not imported (on-hold)", Decimal(2)))
    push = (Push(1, T0, "stock.push", 6, 2),)
    figure = dict(location=MAIN, in_stock=Decimal(40), committed=Decimal(3), pending=Decimal(3), orders=takes,
                  figure=34, store_quantity=34, pushes=push, last_pushed=34, last_pushed_at=T0)
    return SkuStory("MUG-CLASSIC", 30001, (SkuFigure("shop-eu", **figure), SkuFigure("shop-outlet", **figure),
                                           SkuFigure("shop-us", LocationRef(2, "East Coast DC"),
                                                     note="the store item does not manage stock")), (), T0)


def history() -> History:
    calls = {"katana GET /inventory": 2, "woocommerce GET /orders": 3}
    return History((RunEntry(2, "apply", "h", T0, T0 + timedelta(seconds=3), "ok", {"shop-eu": "applied"},
                             {"applied": 5}, {"stock.push": 1}, calls),
                    RunEntry(1, "move-order", "h", T0, T0, "ok", {"shop-eu": "moved"}, {"applied": 1},
                             {"order.move": 1}, None)))


def two_store_plan() -> Plan:
    """big_plan's stores and one more with an import: two stores to collapse."""
    plan = big_plan()
    us = StorePlan("shop-new", MappingPlan("new", LocationRef(2, "East Coast DC")), (order("shop-new", 50),))
    return Plan(plan.created_at, plan.config_hash, plan.config_path, plan.stores + (us,), plan.calls)


def browse(tmp_path, views: dict[str, str]) -> dict[str, dict]:
    if BROWSER is None:
        pytest.fail("KATANA_WOO_REQUIRE_BROWSER is set but chromium is not installed")
    body = "".join(f'<section data-case="{name}">{markup}</section>' for name, markup in views.items())
    page = tmp_path / "views.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}{PROBE}</body></html>",
                    encoding="utf-8")
    done = subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium printed no result (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_views_as_a_browser_shows_them(tmp_path):
    seen = browse(tmp_path, {"plan": two_store_plan()._repr_html_(), "report": sample_report()._repr_html_(),
                             "status": sample_status()._repr_html_(), "order": order_story()._repr_html_(),
                             "sku": sku_story()._repr_html_(), "history": history()._repr_html_()})
    for name, view in seen.items():
        assert "" not in view["headers"], f"{name}: a table column without a header"
        assert set(view["captionLines"]) <= {1}, f"{name}: a table caption wraps"
        assert set(view["noteLines"]) <= {1}, f"{name}: a note label wraps"
        assert view["width"] <= 1200, f"{name}: wider than the window"

    plan = seen["plan"]
    assert plan["closed"].startswith("Plan: 13 to import, 1 initial stock import, 37 stock changes, 2 held")
    assert [s.split()[0] for s in plan["summaries"]] == ["shop-eu", "shop-new", "Calls"]   # stores collapsed...
    assert "order:27" not in plan["closed"] and "SKU-00" not in plan["closed"]
    assert "order:27" in plan["open"] and "… and 27 more" in plan["open"]            # ...one click away
    assert "change" not in plan["headers"]                                          # never-filled column left out
    assert "Katana variants with no store match (120)" in plan["open"] and "… and 110 more" in plan["open"]

    report = seen["report"]
    assert report["closed"].startswith("Apply: 16 applied, 1 replanned, 1 failed")
    assert "woocommerce 500 <html>" in report["closed"]                           # a failed store stays open
    assert "WC-shop-us-100" not in report["closed"] and "WC-shop-us-100" in report["open"]

    status = seen["status"]
    assert status["closed"].startswith("Status: 1 Ready, 1 Blocked, 1 Unknown.")
    assert "Blocked" in status["closed"] and "was <deleted>" in status["open"]
    assert "observed under config cfg-old, now cfg-eu" in status["open"]

    order = seen["order"]                        # a single subject: shown open
    assert order["closed"].startswith("Order #67 of shop-us: held (unknown_sku) for 5 h, 4 runs so far.")
    assert "GIFTCARD-25 x 1" in order["closed"] and "first seen" in order["closed"]

    sku = seen["sku"]
    assert sku["closed"].startswith("MUG-CLASSIC: shop-eu 34; shop-outlet 34.")
    assert "= figure" not in sku["closed"]
    assert "= figure" in sku["open"] and "shop-outlet #36 (processing, held)" in sku["open"]
    assert "the store item does not manage stock" in sku["open"]

    runs = seen["history"]
    assert runs["closed"].startswith("History: 2 runs: 2 ok")
    assert "#2" in runs["closed"] and "move-order" in runs["closed"]
