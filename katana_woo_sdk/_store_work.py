"""The runner's record of one store during a run: its mapping, what was read and planned, and
what went wrong. Private to `runner` and `_location_sync`; never handed to users (they get
`plan.StorePlan` and `plan.StoreReport`, built from it by `store_plan()`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .config import StoreConfig
from .engines import initial_import as import_engine
from .engines import lifecycle as lifecycle_engine
from .engines import orders as order_engine
from .engines import stock as stock_engine
from .models import Location
from .plan import BLOCKED, DISABLED, INVALID, Action, Attention, MappingPlan, StorePlan


@dataclass
class StoreWork:
    """What one run knows of one store: built by planning, read by apply."""

    config: StoreConfig
    mapping: MappingPlan
    store_hash: str
    location: Location | None = None
    companion: bool = False           # read (never written) for the figure of a `--store` run
    mapping_action: Action | None = None
    facts: order_engine.OrderFacts | None = None
    orders: order_engine.OrderPlan | None = None
    initial: import_engine.InitialImportPlan | None = None
    push: stock_engine.StockPlan | None = None
    lifecycle: lifecycle_engine.LifecyclePlan | None = None   # what became of imported orders
    attention: tuple[Attention, ...] | None = None           # set by apply: the store's items after the run
    lifecycle_failed: bool = False                           # its planning failed: cursors stay for the next run
    store_time: datetime | None = None       # the store's clock when its orders were read (a watermark)
    error: str | None = None
    fatal: bool = False               # nothing can be applied for this store
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def known_location(self) -> Location:
        """The store's Katana location, for a store the run works on (`live`), where it is known."""
        if self.location is None:
            raise RuntimeError(f"store {self.name}: no Katana location")
        return self.location

    @property
    def known_facts(self) -> order_engine.OrderFacts:
        """The store's orders as read this run, for a store whose orders were read."""
        if self.facts is None:
            raise RuntimeError(f"store {self.name}: its orders were not read")
        return self.facts

    @property
    def live(self) -> bool:
        return self.location is not None and self.mapping.kind not in (BLOCKED, INVALID, DISABLED) and not self.fatal

    def fail(self, message: str, *, fatal: bool = True) -> None:
        self.error = message if self.error is None else f"{self.error}; {message}"
        self.fatal = self.fatal or fatal

    def actions(self) -> tuple[Action, ...]:
        out = [self.mapping_action] if self.mapping_action else []
        out += list(self.orders.actions if self.orders else ())
        out += list(self.lifecycle.actions if self.lifecycle else ())
        if self.initial is not None and self.initial.action is not None:
            out.append(self.initial.action)
        if self.push is not None and self.push.action is not None:
            out.append(self.push.action)
        return tuple(out)

    def store_plan(self) -> StorePlan:
        warnings = tuple(self.warnings) + ((self.push.warning,) if self.push and self.push.warning else ())
        notes = dict(self.notes)
        for part in (self.initial, self.push):
            if part is not None:
                notes.update(part.notes)
        return StorePlan(self.name, self.mapping, self.actions(), self.orders.holds if self.orders else (),
                         warnings, notes, self.error, self.store_hash,
                         self.lifecycle.attention if self.lifecycle else ())
