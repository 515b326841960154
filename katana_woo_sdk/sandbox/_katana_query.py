"""Query strings as the Katana emulator reads them: typed parameters, filters, date ranges.

Used by `_katana_http` (every list handler). Katana's rules, as documented and seen live:
- a filter whose value does not parse is not applied, like an unknown one ("if an invalid parameter
  is added to the filter, it won't be applied to the results"); only the pagination parameters are
  strict (`page_args`), since the gateway models them as a schema;
- array parameters take repeated keys (`sku=A&sku=B`) or `ids[]=`; a comma is part of the value;
- `created_at_min/_max`, `updated_at_min/_max` include their bounds.
"""
from __future__ import annotations

import builtins   # Query has methods named str, int and bool: its annotations name the types through it
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable

from ._katana_model import KatanaApiError, dec, detail, invalid, parse_date
from ._server import Request

DEFAULT_LIMIT = 50
MAX_LIMIT = 250


class Query:
    """Typed access to a request's query string.

    A filter whose value does not parse is not applied, like an unknown one: Katana documents that
    "if an invalid parameter is added to the filter, it won't be applied to the results". Only
    the pagination parameters are strict (`page_args`), since the gateway models them as a schema.
    """

    def __init__(self, request: Request, ignored: Iterable[str] = ()):
        self._q = request.query
        self._ignored = set(ignored)

    def strs(self, name: str) -> list[str]:
        if name in self._ignored:
            return []
        return list(self._q.get(name, [])) + list(self._q.get(name + "[]", []))

    def str(self, name: str) -> str | None:
        values = self.strs(name)
        return values[-1] if values else None

    def ints(self, name: builtins.str) -> list[builtins.int]:
        out = []
        for value in self.strs(name):
            try:
                out.append(int(value))
            except ValueError:
                continue
        return out

    def int(self, name: builtins.str) -> builtins.int | None:
        values = self.ints(name)
        return values[-1] if values else None

    def bool(self, name: builtins.str) -> builtins.bool | None:
        value = (self.str(name) or "").lower()
        return True if value in ("true", "1") else False if value in ("false", "0") else None

    def number(self, name: builtins.str) -> Decimal | None:
        try:
            return dec(self.str(name)) if self.str(name) is not None else None
        except ValueError:
            return None

    def date(self, name: builtins.str) -> datetime | None:
        try:
            return parse_date(self.str(name))
        except ValueError:
            return None

    def page_args(self) -> tuple[builtins.int, builtins.int]:
        out = []
        for name, default in (("limit", DEFAULT_LIMIT), ("page", 1)):
            raw = self._q.get(name, [])
            if not raw:
                out.append(default)
                continue
            try:
                value = int(raw[-1])
            except ValueError:
                raise _query_error(name, "type", "should be integer", type="integer") from None
            if value < 1:
                raise _query_error(name, "minimum", "should be >= 1", comparison=">=", limit=1)
            out.append(value)
        return out[0], out[1]


def _query_error(name: str, code: str, message: str, **info: Any) -> KatanaApiError:
    error = invalid([detail(f".{name}", code, message, **info)])
    error.message = "The request query is invalid. See error object `details` property for more info."
    return error


def records(table: dict[int, Any], ids: list[int]) -> list[Any]:
    """The records of `table` (keyed by id, ids only ever growing) in id order: those named by an
    `ids` filter (a lookup each), or all of them."""
    if ids:
        return [table[i] for i in sorted(set(ids)) if i in table]
    return list(table.values())


# `key` takes the item (`...`: a loop's `lambda so, name=name:` binds its name).
def filter_eq(items: list[Any], key: Callable[..., Any], wanted: Any) -> list[Any]:
    return items if wanted is None else [item for item in items if key(item) == wanted]


def filter_in(items: list[Any], key: Callable[[Any], Any], wanted: list[Any]) -> list[Any]:
    return items if not wanted else [item for item in items if key(item) in wanted]


def iso_stamps(item: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    return parse_date(item.get("created_at")), parse_date(item.get("updated_at"))


def filter_dates(items: list[Any], q: Query,
                 stamps: Callable[[Any], tuple[datetime | None, datetime | None]] = iso_stamps) -> list[Any]:
    """`created_at_min/_max`, `updated_at_min/_max`, bounds included. `stamps(item)` gives the
    item's (created_at, updated_at), so records are filtered before anything is serialised."""
    bounds = []
    for i, field in enumerate(("created_at", "updated_at")):
        low, high = q.date(f"{field}_min"), q.date(f"{field}_max")
        if low is not None or high is not None:
            bounds.append((i, low, high))
    if not bounds:
        return items

    def keep(item: Any) -> bool:
        # Compared as the client sees them: to the millisecond (a record's own `updated_at` used as
        # an inclusive bound must find the record).
        moments = [m.replace(microsecond=m.microsecond // 1000 * 1000) if m is not None else None
                   for m in stamps(item)]
        for i, low, high in bounds:
            moment = moments[i]
            if moment is None or (low is not None and moment < low) or (high is not None and moment > high):
                return False
        return True
    return [item for item in items if keep(item)]
