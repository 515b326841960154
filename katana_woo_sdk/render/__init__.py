"""Everything the SDK shows people and machines: text, Markdown, HTML, records and DataFrames.

Imported by the package's ``__init__``, which makes every view available: importing this package
registers one function per (view, format) in `_views`, and the data classes (`plan.Plan`,
`plan.Report`, `plan.Status`, `history.History`, `explain.OrderStory`, `explain.SkuStory`) call
them through `_views.Rendered`. Rendering imports the data it renders, never the reverse::

    print(plan)                      # terraform-like text for a terminal
    comment = report.to_markdown()   # a pull request comment (GitHub flavoured, under 60,000 characters)
    status.to_pandas()               # a DataFrame with numeric columns, when pandas is installed

Modules: `_doc` (the neutral document and its text/Markdown/HTML writers), `runs` (plan, report,
status), `stories` (history, explain order, explain sku), `_frames` (records to DataFrames).
Pure functions, no I/O.
"""
from __future__ import annotations

from typing import Any, Callable

from .._views import register
from ..plan import Plan, Report, Status
from . import runs, stories
from ._doc import LIMIT, MD_BUDGET, Doc, Raw, colored, fmt, html_table, render_html, render_markdown, render_text
from ._frames import frame
from .runs import (NOTE_LABELS, PLAN_COLUMNS, REPORT_COLUMNS, STATUS_COLUMNS, plan_doc, plan_records, report_doc,
                   report_records, status_doc, status_records, stock_items)

__all__ = [
    "plan_text", "plan_markdown", "plan_html", "plan_records",
    "report_text", "report_markdown", "report_html", "report_records",
    "status_text", "status_markdown", "status_html", "status_records",
    "frame", "stock_items", "NOTE_LABELS", "LIMIT", "MD_BUDGET", "PLAN_COLUMNS", "REPORT_COLUMNS",
    "STATUS_COLUMNS", "Raw", "colored", "fmt", "html_table",
]


def plan_text(plan: Plan, *, limit: int | None = LIMIT) -> str:
    return render_text(plan_doc(plan), limit)


def plan_markdown(plan: Plan, *, limit: int = LIMIT, budget: int = MD_BUDGET, pointer: str | None = None) -> str:
    return render_markdown(plan_doc(plan), limit, budget=budget, pointer=pointer)


def plan_html(plan: Plan, *, limit: int = LIMIT) -> str:
    return render_html(plan_doc(plan), limit)


def report_text(report: Report, *, limit: int | None = LIMIT) -> str:
    return render_text(report_doc(report), limit)


def report_markdown(report: Report, *, limit: int = LIMIT, budget: int = MD_BUDGET,
                    pointer: str | None = None) -> str:
    return render_markdown(report_doc(report), limit, budget=budget, pointer=pointer)


def report_html(report: Report, *, limit: int = LIMIT) -> str:
    return render_html(report_doc(report), limit)


def status_text(status: Status, *, limit: int | None = LIMIT) -> str:
    return render_text(status_doc(status), limit)


def status_markdown(status: Status, *, limit: int = LIMIT, budget: int = MD_BUDGET,
                    pointer: str | None = None) -> str:
    return render_markdown(status_doc(status), limit, budget=budget, pointer=pointer)


def status_html(status: Status, *, limit: int = LIMIT) -> str:
    return render_html(status_doc(status), limit)


def _register(view: str, doc: Callable[[Any], Doc], records: Callable[[Any], list[dict[str, Any]]],
              pandas: Callable[[Any], Any]) -> None:
    def text(obj: Any, *, limit: int | None = LIMIT) -> str:
        return render_text(doc(obj), limit)

    def markdown(obj: Any, *, limit: int = LIMIT, budget: int = MD_BUDGET, pointer: str | None = None) -> str:
        return render_markdown(doc(obj), limit, budget=budget, pointer=pointer)

    def html(obj: Any, *, limit: int = LIMIT) -> str:
        return render_html(doc(obj), limit)

    for fmt_, function in (("text", text), ("markdown", markdown), ("html", html), ("records", records),
                           ("pandas", pandas)):
        register(view, fmt_, function)


_register("plan", plan_doc, plan_records, runs.plan_frame)
_register("report", report_doc, report_records, runs.report_frame)
_register("status", status_doc, status_records, runs.status_frame)
_register("history", stories.history_doc, stories.history_records, stories.history_frame)
_register("order", stories.order_doc, stories.order_records, stories.order_frame)
_register("sku", stories.sku_doc, stories.sku_records, stories.sku_frame)
