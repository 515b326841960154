"""What a run intends to do (`Plan`) and what it did (`Report`), as immutable data.

`runner.Runner.plan()` builds a `Plan` by reading only; `Runner.apply()` executes exactly its
actions after re-checking each one, and returns a `Report`; `Runner.status()` reads a `Status`
from the state. All serialise to JSON (`plan --out`, `apply plan.json`, `--json`). They are shown
for people (text, Markdown for a pull request comment, HTML for notebooks, DataFrames) by the
`render` package, through the `_views.Rendered` seam: nothing here imports rendering, and nothing
here talks to an API.

An `Action` carries a typed payload (`actions`) and a `fingerprint` of it. A saved plan is a
contract, enforced by `contract`: applying it re-plans first, and an action whose fingerprint
changed is never applied as saved; its fresh version runs only where the change cannot widen what
was approved (`replanned`), else it is dropped with the reason. Each plan has an id, so a plan is
applied once.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from ._views import Rendered
from .actions import LocationRef, Payload, payload_from_dict, payload_to_dict

PLAN_FORMAT = 2

# Mapping kinds shown per store.
NEW, UNCHANGED, REMAP, BLOCKED, INVALID, DISABLED = "new", "unchanged", "remap", "blocked", "invalid", "disabled"


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able inputs."""
    text = json.dumps(parts, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def to_jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_json_default))


@dataclass(frozen=True)
class MappingPlan:
    """The store's location mapping: new, unchanged, remap A -> B, blocked, invalid or disabled."""

    kind: str
    to_location: LocationRef | None = None
    from_location: LocationRef | None = None
    reason: str = ""
    message: str = ""

    def __str__(self) -> str:
        if self.kind == REMAP:
            return f"remap {self.from_location} -> {self.to_location}"
        if self.kind in (NEW, UNCHANGED):
            return f"{self.kind}: {self.to_location}"
        return f"{self.kind}: {self.message or self.reason}"


@dataclass(frozen=True)
class Action:
    """One change a run will make. `key` is unique within the store."""

    store: str
    kind: str            # "mapping" | "order.import" | "order.complete" | "stock.initial_import" | "stock.push"
    key: str             # "mapping", "order:27", "initial-import", "stock-push"
    summary: str
    before: Any = None   # what the change replaces, for people (SKU -> level for stock actions)
    after: Any = None
    fingerprint: str = ""
    payload: Payload | None = field(default=None, compare=False)   # typed: see `actions`

    @property
    def location_id(self) -> int | None:
        """The Katana location the action acts at."""
        return getattr(self.payload, "location_id", None)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "payload"}
        data = to_jsonable(data)
        data["payload"] = payload_to_dict(self.payload) if self.payload is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Action":
        known = {f.name for f in fields(cls)} - {"payload"}
        payload = data.get("payload")
        return cls(**{k: v for k, v in data.items() if k in known},
                   payload=payload_from_dict(data["kind"], payload) if payload else None)

    def __repr__(self) -> str:
        return f"Action({self.store}: {self.kind} {self.key}: {self.summary})"


@dataclass(frozen=True)
class Hold:
    """An order that cannot be imported yet, and why. Retried every run; never dropped.

    `since` and `attempts` come from the state's ledger (first seen, runs that held it) where the
    object is read from it (`Runner.status()`, `explain`); a fresh plan leaves them unknown."""

    store: str
    woo_order_id: int
    number: str
    reason: str          # "unknown_sku" | "deleted_product" | "no_customer" | "create_failed" | ...
    detail: str
    since: datetime | None = None
    attempts: int = 0

    def __str__(self) -> str:
        return f"order #{self.number} held ({self.reason}): {self.detail}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Hold":
        since = data.get("since")
        return cls(str(data["store"]), int(data["woo_order_id"]), str(data["number"]), str(data["reason"]),
                   str(data["detail"]), datetime.fromisoformat(since) if isinstance(since, str) else since,
                   int(data.get("attempts") or 0))


@dataclass(frozen=True)
class Attention:
    """What a person must know or do about an imported order (`engines.lifecycle`): it was cancelled
    while its sales order still commits stock, edited after the import, refunded after delivery...
    Plan, report and status show it; `lasting` ones stay (and keep the store Degraded) until the
    cause goes away, the others are told in the run that saw them and kept in the order's story."""

    store: str
    woo_order_id: int
    number: str
    kind: str            # "cancelled_after_import" | "cancelled_after_shipping" | "edited_after_import" | ...
    detail: str
    sales_order_id: int | None = None
    order_no: str | None = None
    lasting: bool = False
    since: datetime | None = None

    def __str__(self) -> str:
        return f"order #{self.number} ({self.kind}): {self.detail}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Attention":
        since = data.get("since")
        return cls(str(data["store"]), int(data["woo_order_id"]), str(data["number"]), str(data["kind"]),
                   str(data["detail"]), data.get("sales_order_id"), data.get("order_no"), bool(data.get("lasting")),
                   datetime.fromisoformat(since) if isinstance(since, str) else since)


@dataclass(frozen=True)
class StorePlan:
    """One store's part of a plan: its mapping, actions, held orders, warnings and notes."""

    store: str
    mapping: MappingPlan
    actions: tuple[Action, ...] = ()
    holds: tuple[Hold, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)  # unmatched SKU lists, counts
    error: str | None = None
    config_hash: str = ""
    attention: tuple[Attention, ...] = ()   # imported orders a person must look at (`engines.lifecycle`)

    @property
    def status(self) -> str:
        """ok | changes | attention | blocked | error | disabled."""
        if self.mapping.kind == DISABLED:
            return "disabled"
        if self.error or self.mapping.kind == INVALID:
            return "error"
        if self.mapping.kind == BLOCKED:
            return "blocked"
        if self.actions:
            return "changes"
        if self.holds or self.warnings or self.attention:
            return "attention"
        return "ok"

    def actions_of(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable({f.name: getattr(self, f.name) for f in fields(self) if f.name != "actions"})
        data["actions"] = [a.to_dict() for a in self.actions]
        return data

    def __repr__(self) -> str:
        return (f"StorePlan({self.store}: {self.status}, {self.mapping}, {len(self.actions)} actions, "
                f"{len(self.holds)} held)")


# Exit codes, one table for every command (README, "Exit codes"): terraform's -detailed-exitcode
# (0 nothing, 1 error, 2 changes) plus 3 for "attention only", so a pipeline can tell "nothing to
# do" from "an order is still held" instead of seeing 2 for as long as one order waits.
EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_ATTENTION = 0, 1, 2, 3


def exit_code_for(stores: Sequence[Any]) -> int:
    """1 an error or failure; 2 changes planned or made; 3 attention only (held orders, warnings,
    a blocked store) with no change; 0 nothing to do."""
    statuses = {s.status for s in stores}
    if "error" in statuses or "failed" in statuses:
        return EXIT_ERROR
    changed = any(getattr(s, "actions", ()) for s in stores) or any(
        r.outcome in ("applied", "replanned") for s in stores for r in getattr(s, "results", ()))
    if changed or statuses & {"changes", "applied"}:
        return EXIT_CHANGES
    if statuses & {"attention", "blocked"}:
        return EXIT_ATTENTION
    return EXIT_OK


@dataclass(frozen=True)
class Plan(Rendered):
    """What an apply would do, per store; built by `Runner.plan()` (reads only)::

        plan = runner.plan()
        plan                      # an HTML table in Jupyter; print(plan) for text
        plan.save("plan.json")    # apply exactly this later: runner.apply(Plan.load("plan.json"))
    """

    _view: ClassVar[str] = "plan"

    created_at: datetime
    config_hash: str
    config_path: str | None
    stores: tuple[StorePlan, ...]
    calls: Mapping[str, int] = field(default_factory=dict)  # "katana GET /variants" -> n, while planning
    plan_id: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)   # applied once
    includes_customer_data: bool = False    # made with include_customer_data=True: keep it private

    @property
    def actions(self) -> list[Action]:
        """Every store's actions, in store order."""
        return [a for s in self.stores for a in s.actions]

    @property
    def has_changes(self) -> bool:
        """Some store has an action to apply."""
        return any(s.actions for s in self.stores)

    @property
    def has_errors(self) -> bool:
        """Some store could not be planned (its error says why)."""
        return any(s.status == "error" for s in self.stores)

    @property
    def exit_code(self) -> int:
        """0 nothing to do, 2 changes planned, 3 attention only (held, blocked), 1 an error."""
        return exit_code_for(self.stores)

    def store(self, name: str) -> StorePlan:
        """The plan of the store called `name` (KeyError if it is not in the plan)."""
        for s in self.stores:
            if s.store == name:
                return s
        raise KeyError(name)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s.store}={s.status}" for s in self.stores)
        return f"Plan({len(self.actions)} actions; {counts})"

    # --- serialisation (plan --out / apply plan.json) ---------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON data (what `save` writes and `from_dict` reads back)."""
        return {"format": PLAN_FORMAT, "plan_id": self.plan_id, "created_at": self.created_at.isoformat(),
                "config_hash": self.config_hash, "config_path": self.config_path,
                "includes_customer_data": self.includes_customer_data,
                "stores": [s.to_dict() for s in self.stores], "calls": dict(self.calls)}

    def save(self, path: str | Path) -> Path:
        """Write the plan as JSON for `apply CONFIG plan.json` / `Runner.apply(Plan.load(path))`."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Plan":
        if data.get("format") != PLAN_FORMAT:
            raise ValueError(f"unsupported plan format {data.get('format')!r} (expected {PLAN_FORMAT})")
        stores = tuple(_store_plan_from_dict(s) for s in data["stores"])
        return cls(datetime.fromisoformat(data["created_at"]), data["config_hash"], data.get("config_path"),
                   stores, dict(data.get("calls") or {}), str(data["plan_id"]),
                   bool(data.get("includes_customer_data")))

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _loc(data: Mapping[str, Any] | None) -> LocationRef | None:
    return LocationRef(int(data["id"]), str(data["name"])) if data else None


def _store_plan_from_dict(d: Mapping[str, Any]) -> StorePlan:
    m = d["mapping"]
    mapping = MappingPlan(m["kind"], _loc(m.get("to_location")), _loc(m.get("from_location")),
                          m.get("reason", ""), m.get("message", ""))
    actions = tuple(Action.from_dict(a) for a in d.get("actions", ()))
    holds = tuple(Hold.from_dict(h) for h in d.get("holds", ()))
    return StorePlan(d["store"], mapping, actions, holds, tuple(d.get("warnings", ())), dict(d.get("notes") or {}),
                     d.get("error"), d.get("config_hash", ""),
                     tuple(Attention.from_dict(a) for a in d.get("attention", ())))


# --- results -------------------------------------------------------------------------------------

APPLIED, SKIPPED, FAILED, REPLANNED, DROPPED = "applied", "skipped", "failed", "replanned", "dropped"


@dataclass(frozen=True)
class Failure:
    """The `result` of a failed action: which error it was (its class name), for whoever must tell
    kinds of failure apart (an unconfirmed create is held differently from a refused one)."""

    error: str


@dataclass(frozen=True)
class ActionResult:
    """What became of one action at apply: its outcome, a message, and the engine's result."""

    action: Action
    outcome: str          # applied | skipped | failed | replanned | dropped
    message: str = ""
    result: Any = None    # the engine's typed result: ImportResult, InitialImportResult, PushResult, ...

    def __repr__(self) -> str:
        return f"ActionResult({self.action.store}: {self.action.key} {self.outcome}: {self.message})"


@dataclass(frozen=True)
class StoreReport:
    """One store's part of a report: its mapping, results, held orders, warnings and notes."""

    store: str
    mapping: MappingPlan
    results: tuple[ActionResult, ...] = ()
    holds: tuple[Hold, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    attention: tuple[Attention, ...] = ()

    @property
    def status(self) -> str:
        """ok | applied | attention | blocked | failed | disabled."""
        if self.mapping.kind == DISABLED:
            return "disabled"
        if self.error or self.mapping.kind == INVALID or any(r.outcome == FAILED for r in self.results):
            return "failed"
        if self.mapping.kind == BLOCKED:
            return "blocked"
        if self.holds or self.warnings or self.attention:
            return "attention"
        if any(r.outcome in (APPLIED, REPLANNED) for r in self.results):
            return "applied"
        return "ok"

    def __repr__(self) -> str:
        return f"StoreReport({self.store}: {self.status}, {len(self.results)} results, {len(self.holds)} held)"


@dataclass(frozen=True)
class Report(Rendered):
    """What an apply did, per store and action; returned by `Runner.apply()`::

        report = runner.apply(plan)
        report.exit_code          # 0 nothing done, 2 changes, 3 attention only, 1 a failure
        report.to_pandas()        # one row per result, per SKU of stock writes
    """

    _view: ClassVar[str] = "report"

    started_at: datetime
    finished_at: datetime
    config_hash: str
    stores: tuple[StoreReport, ...]
    calls: Mapping[str, int] = field(default_factory=dict)  # "katana POST /sales_orders" -> n, whole run
    plan_id: str | None = None        # the saved plan applied, if any
    messages: tuple[str, ...] = ()    # about the run as a whole (e.g. --replan)

    @property
    def has_failures(self) -> bool:
        """Some action or store failed."""
        return any(s.status == "failed" for s in self.stores)

    @property
    def exit_code(self) -> int:
        """0 nothing done, 2 changes made, 3 attention only (held, blocked), 1 a failure."""
        return exit_code_for(self.stores)

    @property
    def results(self) -> list[ActionResult]:
        """Every store's results, in store order."""
        return [r for s in self.stores for r in s.results]

    def store(self, name: str) -> StoreReport:
        """The report of the store called `name` (KeyError if it is not in the report)."""
        for s in self.stores:
            if s.store == name:
                return s
        raise KeyError(name)

    def calls_to(self, system: str) -> int:
        """Requests sent to "katana" or "woocommerce" during the run, retries included."""
        return sum(n for k, n in self.calls.items() if k.startswith(system + " "))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data (``apply --json``)."""
        data: dict[str, Any] = to_jsonable(asdict(self))
        return data

    def __repr__(self) -> str:
        counts = ", ".join(f"{s.store}={s.status}" for s in self.stores)
        return f"Report({len(self.results)} results; {counts}; calls katana={self.calls_to('katana')} " \
               f"woocommerce={self.calls_to('woocommerce')})"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# --- status (read from the state by `Runner.status()` / `conditions.read_status`) --------------------

CONDITION_TYPES = ("MappingValid", "LocationAvailable", "OrdersSynced", "StockSynced")
PHASES = ("Ready", "Degraded", "Blocked", "Unknown")


@dataclass(frozen=True)
class ConditionView:
    """One condition of a store as the last apply recorded it (Kubernetes style)."""

    type: str
    status: str               # "True" | "False" | "Unknown"
    reason: str = ""
    message: str = ""
    last_transition: datetime | None = None
    observed_config_hash: str = ""


@dataclass(frozen=True)
class StoreStatus:
    """One store's conditions and counts, as the last apply left them in the state."""

    store: str
    location: LocationRef | None
    conditions: tuple[ConditionView, ...]
    imported: int = 0
    held: tuple[Hold, ...] = ()
    last_stock_push: datetime | None = None
    config_hash: str = ""     # the store's current config hash; a condition observed under another is stale
    notes: Mapping[str, Any] = field(default_factory=dict)  # SKU matching as the last apply saw it
    observed_at: datetime | None = None   # when an apply last recorded the store's conditions
    stale: tuple[str, ...] = ()           # why what is shown may no longer hold (config changed, too old)
    attention: tuple[Attention, ...] = ()   # imported orders a person must still act on (lasting ones)

    @property
    def state(self) -> str:
        """Ready | Blocked | Degraded | Unknown: the one word a dashboard shows."""
        by_type = {c.type: c for c in self.conditions}
        if not by_type:
            return "Unknown"
        if by_type.get("LocationAvailable") and by_type["LocationAvailable"].status == "False":
            return "Blocked"
        if any(c.status == "False" for c in self.conditions) or self.held or self.attention:
            return "Degraded"
        if any(c.status == "Unknown" for c in self.conditions):
            return "Unknown"
        return "Ready"

    @property
    def phase(self) -> str:
        """The same word as `state`, under the name machines look for (``status --json``)."""
        return self.state

    @property
    def config_changed(self) -> bool:
        """A condition was observed under another version of this store's config."""
        return any(c.observed_config_hash and self.config_hash and c.observed_config_hash != self.config_hash
                   for c in self.conditions)

    def condition(self, type: str) -> ConditionView | None:
        return next((c for c in self.conditions if c.type == type), None)

    def __repr__(self) -> str:
        return f"StoreStatus({self.store}: {self.state}, location={self.location}, imported={self.imported}, " \
               f"held={len(self.held)})"


@dataclass(frozen=True)
class Status(Rendered):
    """Every store's phase and conditions, read from the local state only (no API call)::

        status = runner.status()
        status.phase              # "Ready" when every store is Ready; else the worst of them
        status.exit_code          # 0 all Ready and fresh, 3 not (held, blocked, stale, no state yet)
    """

    _view: ClassVar[str] = "status"

    stores: tuple[StoreStatus, ...]
    last_run_at: datetime | None = None
    last_run_outcome: str | None = None
    checked_at: datetime | None = None      # when the state was read
    stale_after: timedelta | None = None    # a store's conditions older than this are stale
    state_found: bool = True                # False: no state file yet ("run apply first")
    message: str = ""                       # about the state as a whole

    @property
    def phase(self) -> str:
        """Blocked, Degraded or Unknown when any store is; Ready when every store is."""
        phases = {s.phase for s in self.stores}
        if not self.state_found or not self.stores:
            return "Unknown"
        for word in ("Blocked", "Degraded", "Unknown"):
            if word in phases:
                return word
        return "Ready"

    @property
    def stale(self) -> bool:
        """Some store's status may no longer hold (see each store's `stale` reasons)."""
        return any(s.stale for s in self.stores)

    @property
    def exit_code(self) -> int:
        """For ``status --exit-code``: 0 every store Ready and fresh, 3 attention (anything else)."""
        return EXIT_OK if self.phase == "Ready" and not self.stale else EXIT_ATTENTION

    def store(self, name: str) -> StoreStatus:
        """The status of the store called `name` (KeyError if the config has none)."""
        for s in self.stores:
            if s.store == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON data with the computed words a pipeline gates on: `phase`, `stale`, `exit_code`."""
        raw = asdict(self)
        raw["stale_after"] = self.stale_after.total_seconds() if self.stale_after is not None else None
        data: dict[str, Any] = to_jsonable(raw)
        data.update(phase=self.phase, stale=self.stale, exit_code=self.exit_code)
        for out, s in zip(data["stores"], self.stores):
            out.update(phase=s.phase, config_changed=s.config_changed)
        return data

    def __repr__(self) -> str:
        return "Status(" + ", ".join(f"{s.store}={s.state}" for s in self.stores) + ")"
