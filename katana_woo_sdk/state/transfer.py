"""Copying a state exactly, from one backend to another: what `katana-woo state migrate` does.

Callers: `cli_state` (``katana-woo state migrate --from sqlite:PATH --to postgresql://...`` and the
reverse) and users' own scripts::

    with State("old/state.sqlite") as source, State(url, password=secret) as target:
        report = copy_state(source, target)     # every table, in one transaction, verified
        print(report)

Every table that `migrations.TABLES` lists is copied row for row, ids included (the run log's action
rows point at their runs): the ledger, cursors, pushed figures, runs and actions, mapping history,
conditions, initial imports and applied plans. Both states are migrated to this version when opened,
so their columns match. The rows are the same text in both backends (see `_rows`), so nothing is
converted on the way. The target must be empty; it is written in one transaction, and before that
transaction commits, each table is read back and its row count and a SHA-256 of its rows compared
with the source's: the copy is verified or not made. Both states' locks are held meanwhile, so no
apply changes either while it is copied. Each state keeps its own `schema_version` history (when
*it* was migrated), which is not copied.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..errors import StateError
from . import migrations as _migrations

OWNER = "katana-woo state migrate"


@dataclass(frozen=True)
class TableCopy:
    """One table copied: its rows, counted in the source and read back from the target."""

    table: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class CopyReport:
    """What `copy_state` copied and verified."""

    source: str
    target: str
    schema_version: int
    tables: tuple[TableCopy, ...]

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "schema_version": self.schema_version,
                "tables": {t.table: {"rows": t.rows, "sha256": t.sha256} for t in self.tables},
                "total_rows": self.total_rows, "verified": True}

    def __str__(self) -> str:
        width = max(len(t.table) for t in self.tables)
        lines = [f"copied {self.source} -> {self.target} (schema version {self.schema_version})"]
        lines += [f"  {t.table:<{width}}  {t.rows:>8} {'row ' if t.rows == 1 else 'rows'}  verified"
                  for t in self.tables]
        lines.append(f"  {'total':<{width}}  {self.total_rows:>8} rows, counts and contents identical")
        return "\n".join(lines)


def _digest(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(json.dumps([list(r) for r in rows], ensure_ascii=False).encode("utf-8")).hexdigest()


def table_rows(state: Any, table: str, columns: list[str] | None = None) -> list[tuple[Any, ...]]:
    """Every row of `table`, in its key order, columns in their defined order (or `columns`)."""
    cols = columns or state._db.columns(table)
    order = ", ".join(_migrations.TABLES[table])
    rows: list[tuple[Any, ...]] = state._query(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}")
    return rows


def copy_state(source: Any, target: Any, *, timeout: float = 0.0) -> CopyReport:
    """Copy every row of `source` into the empty `target` (two `State`s), verified; see the module doc.

    `timeout` is how long to wait for either state's lock. Raises StateError (nothing written) when
    the target is not empty, the schemas differ, or the copy does not read back identical.
    """
    if source.schema_version != target.schema_version:
        raise StateError(f"state {source.name} is at schema version {source.schema_version}, "
                         f"{target.name} at {target.schema_version}; they cannot be copied into each other")
    if source.name == target.name and source.backend == target.backend:
        raise StateError(f"cannot copy state {source.name} into itself")
    with source.lock(timeout=timeout, owner=OWNER), target.lock(timeout=timeout, owner=OWNER):
        occupied = {t: n for t in _migrations.TABLES
                    if (n := target._query(f"SELECT COUNT(*) FROM {t}")[0][0])}
        if occupied:
            held = ", ".join(f"{n} row{'s' if n != 1 else ''} in {t}" for t, n in occupied.items())
            raise StateError(f"state {target.name} is not empty ({held}); copy into an empty state")
        copied = []
        with target._tx() as conn:
            for table in _migrations.TABLES:
                columns = source._db.columns(table)
                if columns != target._db.columns(table):
                    raise StateError(f"table {table} has other columns in {source.name} than in {target.name}")
                rows = table_rows(source, table, columns)
                if rows:
                    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                                     f"VALUES ({', '.join('?' * len(columns))})", rows)
                back = conn.execute(f"SELECT {', '.join(columns)} FROM {table} "
                                    f"ORDER BY {', '.join(_migrations.TABLES[table])}").fetchall()
                if len(back) != len(rows) or _digest([tuple(r) for r in back]) != _digest(rows):
                    raise StateError(f"copy of {table} did not read back identical ({len(rows)} rows "
                                     f"copied, {len(back)} read back); nothing was written")
                copied.append(TableCopy(table, len(rows), _digest(rows)))
            target._db.after_copy(conn)
    return CopyReport(_shown(source), _shown(target), source.schema_version, tuple(copied))


def _shown(state: Any) -> str:
    return state.name if state.backend == "postgresql" else f"sqlite:{state.name}"
