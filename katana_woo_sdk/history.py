"""What past runs did: the run log of the state, as `History` (``katana-woo history``).

Called by `Runner.history()` and by `cli` (``katana-woo history CONFIG [--store] [--since]``), which
reads the state alone, without credentials. Every apply and move is a run in the state
(`State.runs()`), with its outcome, each store's status and, since this version, the calls it
made; every action it took is in the run log (`State.actions(run_id)`), with before and after
for each SKU a stock write changed. Nothing here talks to an API::

    history = runner.history(store="shop-eu", since=datetime(2025, 1, 1, tzinfo=timezone.utc))
    history                   # an HTML table in Jupyter; print(history) for text
    history.to_pandas()       # one row per run: outcome, seconds, calls, counts

`run_summary` and `logged_after` fix what the runner writes into the run log, so that this module
and `explain` can read it back: the per-store statuses and the calls of a run, and the per-SKU
levels of each stock write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterator, Mapping

from ._views import Rendered
from .config import Config
from .plan import to_jsonable
from .state import ActionRecord, RunRecord, State

__all__ = ["RunEntry", "History", "read_history", "history_from_file", "parse_since", "run_summary", "logged_after", "scan_actions",
           "RUN_SCAN"]

RUN_SCAN = 5000     # runs searched at most, newest first (a run every 15 minutes: about 7 weeks)


@dataclass(frozen=True)
class RunEntry:
    """One run: what started it, how it ended, what each store came to and what it cost."""

    id: int
    command: str                       # "apply" | "apply-saved-plan" | "move-order"
    config_hash: str
    started_at: datetime
    finished_at: datetime | None       # None: still running, or it died
    outcome: str | None                # "ok" | "failed" | None
    stores: Mapping[str, str] = field(default_factory=dict)    # store -> its status in the run
    outcomes: Mapping[str, int] = field(default_factory=dict)  # action outcome -> count
    kinds: Mapping[str, int] = field(default_factory=dict)     # kind of the actions applied -> count
    calls: Mapping[str, int] | None = None   # "katana GET /variants" -> n; None: not recorded

    @property
    def seconds(self) -> float | None:
        """How long the run took; None while it runs (or if it died)."""
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()

    def calls_to(self, system: str) -> int | None:
        """Requests the run sent to "katana" or "woocommerce"; None for a run that did not record them."""
        if self.calls is None:
            return None
        return sum(n for k, n in self.calls.items() if k.startswith(system + " "))

    def __repr__(self) -> str:
        return f"RunEntry(#{self.id} {self.command} {self.outcome or 'unfinished'}, {len(self.stores)} stores)"


@dataclass(frozen=True)
class History(Rendered):
    """Runs, newest first, as the state recorded them (`store`/`since`: the filter applied)."""

    _view: ClassVar[str] = "history"

    runs: tuple[RunEntry, ...]
    store: str | None = None
    since: datetime | None = None
    state_found: bool = True
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The runs as JSON data (``history --json``), with seconds and calls per system."""
        return {"store": self.store, "since": self.since.isoformat() if self.since else None,
                "state_found": self.state_found, "message": self.message,
                "runs": [{**to_jsonable(_run_dict(r)), "seconds": r.seconds,
                          "katana_calls": r.calls_to("katana"), "woocommerce_calls": r.calls_to("woocommerce")}
                         for r in self.runs]}

    def __repr__(self) -> str:
        where = f" of {self.store}" if self.store else ""
        return f"History({len(self.runs)} runs{where})"


def _run_dict(r: RunEntry) -> dict[str, Any]:
    return {"id": r.id, "command": r.command, "config_hash": r.config_hash, "started_at": r.started_at,
            "finished_at": r.finished_at, "outcome": r.outcome, "stores": dict(r.stores),
            "outcomes": dict(r.outcomes), "kinds": dict(r.kinds), "calls": dict(r.calls) if r.calls else r.calls}


# --- what the runner writes -------------------------------------------------------------------------

def run_summary(stores: Mapping[str, str], calls: Mapping[str, int]) -> dict[str, Any]:
    """The summary `State.finish_run` keeps for a run: each store's status and the calls made."""
    return {"stores": dict(stores), "calls": dict(calls)}


def logged_after(kind: str, after: Any, result: Any) -> Any:
    """What the run log keeps as an applied action's "after": the engine's result, and for an
    initial import also the in stock it set per SKU (its result counts rows only). A stock
    push's result already holds the level written per SKU (`pushed`)."""
    if kind == "stock.initial_import" and isinstance(after, Mapping):
        return {"levels": dict(after), "result": result}
    return result


def _summary(record: RunRecord) -> tuple[dict[str, str], dict[str, int] | None]:
    """(store -> status, calls) from either shape: {"stores", "calls"} or the older {store: status}."""
    summary = record.summary or {}
    if isinstance(summary.get("stores"), Mapping):
        calls = summary.get("calls")
        return ({str(k): str(v) for k, v in summary["stores"].items()},
                {str(k): int(v) for k, v in calls.items()} if isinstance(calls, Mapping) else None)
    return {str(k): str(v) for k, v in summary.items() if isinstance(v, str)}, None


# --- reading ----------------------------------------------------------------------------------------

def scan_actions(state: State, *, limit: int = RUN_SCAN) -> Iterator[tuple[RunRecord, ActionRecord]]:
    """Every logged action of the latest `limit` runs, oldest run first."""
    for record in reversed(state.runs(limit=limit)):
        for action in state.actions(record.id):
            yield record, action


def read_history(state: State | None, *, store: str | None = None, since: datetime | None = None,
                 limit: int = 50, message: str = "") -> History:
    """The latest `limit` runs (newest first) that started at or after `since` and, with `store`,
    touched that store. `state` None: there is no state yet (nothing ran)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    if state is None:
        return History((), store, since, False, message)
    out: list[RunEntry] = []
    for record in state.runs(limit=RUN_SCAN):
        if len(out) >= limit or (since is not None and record.started_at < since):
            break
        stores, calls = _summary(record)
        actions = state.actions(record.id)
        if store is not None:
            if store not in stores and not any(a.store == store for a in actions):
                continue
            actions = [a for a in actions if a.store == store]
            stores = {k: v for k, v in stores.items() if k == store}
        outcomes: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for a in actions:
            outcomes[a.outcome] = outcomes.get(a.outcome, 0) + 1
            if a.outcome == "applied":
                kinds[a.kind] = kinds.get(a.kind, 0) + 1
        out.append(RunEntry(record.id, record.command, record.config_hash, record.started_at, record.finished_at,
                            record.outcome, stores, outcomes, kinds, calls))
    return History(tuple(out), store, since, True, message)


def history_from_file(config: Config, *, store: str | None = None, since: datetime | None = None,
                      limit: int = 50) -> History:
    """The history from the config's state, opened only if it exists (never created), as
    `conditions.status_from_file` opens it for status: no credentials needed."""
    state = State.existing(config.state)  # a SQLite file or a PostgreSQL schema; never created here
    if state is None:
        return read_history(None, store=store, since=since,
                            message=f"no state yet at {config.state.where}: run apply first")
    with state:
        return read_history(state, store=store, since=since, limit=limit)


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``--since``: an ISO 8601 date or date-time (UTC unless it says otherwise), or an age such as
    ``90m``, ``12h``, ``7d`` before now. ValueError otherwise."""
    value = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if value[-1:].lower() in units and value[:-1].replace(".", "", 1).isdigit():
        seconds = float(value[:-1]) * units[value[-1].lower()]
        return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
