"""Conversions between the state's records and rows, and the run log's JSON: one row format for
SQLite and PostgreSQL alike.

Callers: `state._core` (`State` writes records with `_cell`, reads them back with `_record`, checks
enum columns with `_choice`, serialises the run log with `_dumps`), `migrations`, the backends and
`_filelock` (`_iso` timestamps). Private: the row format is whatever `migrations` says.

Column names are the record field names, so a record maps to a row field by field. Timestamps are
aware UTC datetimes in Python, fixed-width ISO 8601 strings in SQL (TEXT in both backends, so that a
state copied from one to the other is the same text, byte for byte); `before`/`after`/`summary` are
JSON text, never PostgreSQL's jsonb, which would reorder keys; an order's `lines_qty` is JSON with
Decimal quantities kept as exact strings.
"""
from __future__ import annotations

import dataclasses
import enum
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_R = TypeVar("_R", bound="DataclassInstance")

_TIMESTAMPS = {"valid_from", "valid_to", "first_seen", "updated_at", "pushed_at", "at", "last_transition",
               "started_at", "finished_at"}
_JSON_COLUMNS = {"before", "after", "summary"}


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: the state stores aware UTC datetimes only")
    return dt.astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    # Fixed width (always microseconds), so that ISO strings sort like the instants they name.
    return _utc(dt).isoformat(timespec="microseconds")


def _jsonable(obj: Any) -> Any:
    """`json.dumps(default=...)`: Decimal keeps its exact digits as a string; datetimes become ISO."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return _iso(obj) if obj.tzinfo else obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # Only repr-visible fields: secrets and bulky raw payloads are repr=False by convention.
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.repr}
    raise TypeError(f"cannot store {type(obj).__name__} in the run log; pass JSON-serialisable data")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_jsonable, sort_keys=True, ensure_ascii=False)


def _cell(name: str, value: Any) -> Any:
    """A record field as stored: datetimes as ISO text, data as JSON text."""
    if value is None:
        return None
    if name in _TIMESTAMPS:
        return _iso(value)
    if name in _JSON_COLUMNS:
        return _dumps(value)
    if name == "lines_qty":
        return json.dumps({str(sku): str(qty) for sku, qty in value.items()}, sort_keys=True)
    return value


def _record(cls: type[_R], row: tuple[Any, ...]) -> _R:
    """A record from a row of `_cols(cls)`; the inverse of `_cell`."""
    values = {}
    for field, value in zip(dataclasses.fields(cls), row, strict=True):
        if value is not None and field.name in _TIMESTAMPS:
            value = datetime.fromisoformat(value)
        elif value is not None and field.name in _JSON_COLUMNS:
            value = json.loads(value)
        elif value is not None and field.name == "lines_qty":
            value = {sku: Decimal(qty) for sku, qty in json.loads(value).items()}
        values[field.name] = value
    return cls(**values)


def _cols(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return value
