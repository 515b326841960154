"""The stock comparison notebooks ask for, and the rendering functions under their first names.

Callers: `runner.Runner.compare_stock` builds a `StockComparison` (store stock next to Katana's
figures, per SKU); code written against this module's functions (`report.plan_text(plan)`, ...)
keeps working: they live in the `render` package now and are re-exported here::

    cmp = runner.compare_stock("shop-eu")   # an HTML table in a notebook, out-of-sync rows first
    cmp.to_pandas().query("not in_sync")    # a DataFrame with numeric columns
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

from .actions import LocationRef
from .render import (LIMIT, NOTE_LABELS, PLAN_COLUMNS, REPORT_COLUMNS, Raw, colored, fmt, html_table, plan_html,
                     plan_markdown, plan_records, plan_text, report_html, report_markdown, report_records,
                     report_text, status_html, status_markdown, status_records, status_text, stock_items)
from .render._frames import frame

__all__ = [
    "plan_text", "plan_markdown", "plan_html", "plan_records",
    "report_text", "report_markdown", "report_html", "report_records",
    "status_text", "status_markdown", "status_html", "status_records",
    "to_pandas", "StockRow", "StockComparison", "stock_comparison_html", "stock_items", "NOTE_LABELS", "LIMIT",
    "PLAN_COLUMNS", "REPORT_COLUMNS", "STOCK_COLUMNS",
]


def to_pandas(records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Any:
    """A pandas DataFrame of records (pandas is optional: ``pip install katana-woo[notebook]``)."""
    return frame(records, columns)


# --- stock comparison (built by the runner for notebooks) --------------------------------------------

@dataclass(frozen=True)
class StockRow:
    """One SKU: what the store shows, Katana's figures at the mapped location, and what would be pushed."""

    sku: str
    woo_quantity: int | None
    in_stock: Decimal
    committed: Decimal
    available: Decimal
    target: int | None          # the figure to push (per the store's stock policy); None: not pushed
    in_sync: bool | None = None  # None: computed as woo_quantity == target

    def __post_init__(self) -> None:
        if self.in_sync is None:
            object.__setattr__(self, "in_sync", self.target is None or self.woo_quantity == self.target)


STOCK_COLUMNS = ("sku", "woo_quantity", "in_stock", "committed", "available", "target", "in_sync")


@dataclass(frozen=True)
class StockComparison:
    """Store stock next to Katana's, per SKU; the runner builds it for one store::

        cmp                                   # an HTML table in a notebook, out-of-sync rows first
        cmp.to_pandas().query("not in_sync")  # a DataFrame when pandas is installed
    """

    store: str
    location: LocationRef | None
    rows: tuple[StockRow, ...] = ()

    @property
    def out_of_sync(self) -> list[StockRow]:
        return [r for r in self.rows if not r.in_sync]

    def to_records(self) -> list[dict[str, Any]]:
        return [{c: getattr(r, c) for c in STOCK_COLUMNS} for r in self.rows]

    def to_pandas(self) -> Any:
        """One row per SKU; quantities as numbers (Int64, or float64 where Katana has fractions)."""
        return frame(self.to_records(), STOCK_COLUMNS,
                     numeric=("woo_quantity", "in_stock", "committed", "available", "target"))

    def _repr_html_(self) -> str:
        title = f"{self.store} @ {self.location}" if self.location else self.store
        return stock_comparison_html(self.rows, title=title)

    def __repr__(self) -> str:
        where = f" @ {self.location}" if self.location else ""
        return f"StockComparison({self.store}{where}: {len(self.rows)} SKUs, {len(self.out_of_sync)} out of sync)"


def stock_comparison_html(rows: Sequence[StockRow | Mapping[str, Any]], *, title: str = "", limit: int = 50) -> str:
    """An HTML table of stock rows (`StockRow`s or mappings with `STOCK_COLUMNS`), out-of-sync rows first."""
    stock = [r if isinstance(r, StockRow) else _stock_row(r) for r in rows]
    ordered = sorted(stock, key=lambda r: (bool(r.in_sync), str(r.sku)))
    body = [tuple(Raw(colored("yes" if r.in_sync else "no", "ok" if r.in_sync else "failed"))
                  if c == "in_sync" else fmt(getattr(r, c)) for c in STOCK_COLUMNS) for r in ordered]
    caption = f"{title}: " if title else ""
    caption += f"{len(stock)} SKUs, {sum(not r.in_sync for r in stock)} out of sync"
    return f"<div>{html_table(STOCK_COLUMNS, body, limit, caption)}</div>"


def _stock_row(data: Mapping[str, Any]) -> StockRow:
    values: dict[str, Any] = {c: data.get(c) for c in STOCK_COLUMNS}
    return StockRow(**values)
