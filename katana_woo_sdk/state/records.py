"""The state's records: what `State` hands back, one frozen dataclass per kind of row.

Callers: `State` (every backend builds these from rows, through `_rows`), the runner, the engines
and `conditions`, which read them, and people in notebooks. `katana_woo_sdk.state` re-exports every
name here, so that stays the one import path.

Column names in both backends are these field names, so a record maps to a row field by field.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any

LEDGER_STATUSES = ("imported", "held", "skipped")
CONDITION_STATUSES = ("True", "False", "Unknown")
ACTION_OUTCOMES = ("applied", "skipped", "failed", "held", "planned")


@dataclasses.dataclass(frozen=True)
class MappingRecord:
    """A period during which `store` was mapped to a Katana location; `valid_to` None = current."""
    store: str
    location_id: int
    location_name: str
    valid_from: datetime
    valid_to: datetime | None
    config_hash: str
    reason: str = ""

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """What the order engine did with one Woo order. `State.ledger_put` maintains `first_seen`,
    `updated_at` and `attempts` (how many times the order was held); values passed in are ignored."""
    store: str
    woo_order_id: int
    woo_number: str | None
    status: str  # one of LEDGER_STATUSES
    sales_order_id: int | None = None
    order_no: str | None = None
    location_id: int | None = None
    reason: str | None = None
    lines_qty: dict[str, Decimal] | None = None  # sku -> quantity, as imported
    first_seen: datetime | None = None
    updated_at: datetime | None = None
    attempts: int = 0


@dataclasses.dataclass(frozen=True)
class PushedRecord:
    """The last stock quantity written to a store for one SKU."""
    store: str
    sku: str
    quantity: int
    pushed_at: datetime


@dataclasses.dataclass(frozen=True)
class InitialImportRecord:
    """The stock adjustment that imported a store's initial stock into a Katana location."""
    store: str
    location_id: int
    adjustment_number: str
    adjustment_id: int | None
    at: datetime


@dataclasses.dataclass(frozen=True)
class Condition:
    """A Kubernetes-style status condition of a store (type "Synced", status "False", reason ...)."""
    type: str
    status: str  # one of CONDITION_STATUSES
    reason: str
    message: str
    last_transition: datetime  # when `status` last changed
    observed_config_hash: str
    updated_at: datetime


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One runner invocation; `finished_at`/`outcome` stay None while it runs (or if it died)."""
    id: int
    command: str
    config_hash: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    summary: dict[str, Any] | None


@dataclasses.dataclass(frozen=True)
class ActionRecord:
    """One action of a run; `before`/`after` read back as plain JSON (Decimal, datetime as strings)."""
    id: int
    run_id: int
    store: str
    kind: str
    target: str
    before: Any
    after: Any
    outcome: str  # one of ACTION_OUTCOMES
    message: str
    at: datetime


@dataclasses.dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) a lock: the state's, a store's or a lease.

    `pid` and `host` are the holder's process and machine. For a PostgreSQL lock they are read
    from the holder's connection (its application_name), as the server shows it to other sessions.
    """
    pid: int
    host: str
    started_at: datetime | None
    command: str

    def describe(self) -> str:
        since = f" since {self.started_at.isoformat(timespec='seconds')}" if self.started_at else ""
        return f"pid {self.pid} on {self.host} ({self.command or 'unknown command'}){since}"
