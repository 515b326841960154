"""Records to pandas DataFrames with real dtypes: numbers as numbers, times as UTC datetimes.

Called by every `render` view's ``to_pandas()``. Katana's figures are `Decimal`s and a cell of
`Decimal`s is an object column pandas cannot sum or plot; so each numeric column becomes
``Int64`` (nullable integers) when every value is whole, else ``float64``, and each time column
``datetime64[ns, UTC]``. pandas is optional: ``pip install 'katana-woo[notebook]'``.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Sequence

__all__ = ["frame", "number"]


def number(value: Any) -> Decimal | None:
    """A Decimal for a number or a numeric string ("15", "2.5"); None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as error:
        raise ImportError("to_pandas() needs pandas, which is not installed: pip install pandas "
                          "(or pip install 'katana-woo[notebook]')") from error
    return pandas


def frame(records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *,
          numeric: Sequence[str] = (), times: Sequence[str] = ()) -> Any:
    """A DataFrame of `records` (all of `columns` first, in that order, when given)."""
    pandas = _pandas()
    rows = [dict(r) for r in records]
    names = list(columns or [])
    for r in rows:
        names.extend(k for k in r if k not in names)
    data: dict[str, Any] = {name: [r.get(name) for r in rows] for name in names}
    # Converted from the records, not from a built frame: pandas would already have turned a
    # column of ints and Nones into floats.
    for name in numeric:
        if name not in data:
            continue
        values = [number(v) for v in data[name]]
        if all(v is None or v == v.to_integral_value() for v in values):
            data[name] = pandas.array([None if v is None else int(v) for v in values], dtype="Int64")
        else:
            data[name] = pandas.array([float("nan") if v is None else float(v) for v in values], dtype="float64")
    df = pandas.DataFrame(data, columns=names)
    for name in times:
        if name in df.columns:
            df[name] = pandas.to_datetime(df[name], utc=True)
    return df
