"""Render plans, reports and status for people and machines: text, Markdown, HTML, records.

Callers: the methods of `plan.Plan`, `plan.Report` and `plan.Status` (``str(plan)``,
``plan.to_markdown()``, ``plan._repr_html_()``, ``plan.to_records()``, ``plan.to_pandas()``)
delegate here; `cli` prints them; `runner` builds a `StockComparison` for notebooks::

    print(plan)                      # terraform-like text for a terminal
    comment = report.to_markdown()   # a pull request comment (GitHub flavoured)
    status.to_pandas()               # a DataFrame, when pandas is installed

Pure functions, no I/O. Each renderer first builds one neutral `Doc` (a summary line, an
overview table, one section per store made of blocks of rows) and then writes it out, so the
three formats always say the same thing. Long lists show their first `limit` items and
"… and N more" (Markdown folds them into ``<details>``). HTML is self-contained: inline styles,
no CSS or JS, every value escaped.

What is shown comes from the objects alone, which never hold a credential; `Action.payload` is
read only for the stock figures below, never dumped, so nothing a payload may carry leaks out.

Conventions read from the data (the runner writes them):

* stock actions (`stock.push`, `stock.initial_import`) list their items in their typed payload
  (`actions.StockPush.writes`, `actions.InitialImport.rows`), each with its SKU and before/after;
  an action without a payload compares its `before`/`after` mappings SKU -> quantity. Each
  differing item counts as one "stock change".
* `notes` values that are lists are shown as lists (a ``<name>_count`` beside ``<name>_skus`` is the
  full length of a list the runner cut short); other values as ``note: label: value`` (zeros and
  empty values are left out). Known keys have the labels in `NOTE_LABELS`, others their name.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from ._report_render import (Block, Doc, Raw, Section, colored, fmt, html_table, plural, render_html,
                             render_markdown, render_text, ts)
from .actions import InitialImport, StockPush, plain
from .plan import (APPLIED, DROPPED, FAILED, REPLANNED, SKIPPED, Action, ActionResult, Hold, LocationRef,
                   MappingPlan, Plan, Report, Status, StorePlan, StoreStatus)

__all__ = [
    "plan_text", "plan_markdown", "plan_html", "plan_records",
    "report_text", "report_markdown", "report_html", "report_records",
    "status_text", "status_markdown", "status_html", "status_records",
    "to_pandas", "StockRow", "StockComparison", "stock_comparison_html", "NOTE_LABELS", "LIMIT",
]

LIMIT = 10        # items of a list shown before "… and N more"

NOTE_LABELS = {
    "katana_only_skus": "Katana variants with no store match",
    "store_only_skus": "store SKUs with no Katana variant",
    "unmanaged_skus": "store items that do not manage stock",
    "parent_managed_skus": "variations whose stock the parent product manages",
    "no_inventory_row_skus": "SKUs with no Katana inventory row at the location",
    "items_without_sku": "store items without a SKU",
    "in_sync": "items already in sync",
    "store_read_by_sku": "store read by SKU",
    "initial_import": "initial stock import",
    "initial_import_unmanaged": "initial import: store items that do not manage stock",
    "initial_import_unknown_skus": "initial import: store SKUs with no Katana variant",
    "orders_already_in_katana": "orders found already in Katana (ledger re-filled)",
    "variations_without_sku": "variations without a SKU of their own (WooCommerce shows the parent's; not synced)",
    "stock_corrected_after_write": "levels lowered right after their write (an order arrived in that instant)",
}
KIND_ORDER = ("mapping", "stock.initial_import", "order.import", "order.complete", "stock.push")
STOCK_KINDS = ("stock.initial_import", "stock.push")
OUTCOME_ORDER = (FAILED, REPLANNED, APPLIED, SKIPPED, DROPPED)
OUTCOME_SYMBOL = {APPLIED: "+", REPLANNED: "~", FAILED: "x", SKIPPED: "=", DROPPED: "-"}


def stock_items(action: Action) -> list[tuple[str, Any, Any]]:
    """(sku, before, after) of each item a stock action changes; [] for other actions."""
    if action.kind not in STOCK_KINDS:
        return []
    payload = action.payload
    if isinstance(payload, InitialImport):
        return [(r.sku, plain(r.before), plain(r.after)) for r in payload.rows]
    if isinstance(payload, StockPush):
        return [(w.sku, w.before, w.after) for w in payload.writes]
    before = action.before if isinstance(action.before, Mapping) else {}
    after = action.after if isinstance(action.after, Mapping) else {}
    keys = sorted(set(before) | set(after), key=str)
    return [(str(k), before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


def _stock_change_count(actions: Iterable[Action]) -> int:
    return sum(len(stock_items(a)) or 1 for a in actions if a.kind == "stock.push")


def _symbol(action: Action) -> str:
    if action.kind == "stock.push" or (action.kind == "mapping" and action.before is not None):
        return "~"
    return "+"


def _change(action: Action) -> str:
    """" (5 -> 3)" for an action changing one scalar value; stock lists and creations show none."""
    if action.before is None or isinstance(action.before, (Mapping, list, tuple)) \
            or isinstance(action.after, (Mapping, list, tuple)) or action.kind == "mapping":
        return ""
    return f"{fmt(action.before)} -> {fmt(action.after)}"


def _mapping_text(mapping: MappingPlan) -> str:
    return str(mapping).rstrip().rstrip(":")


def _store_section(store: str, status: str, mapping: MappingPlan, blocks: list[Block]) -> Section:
    """Text header like terraform's: ``shop-eu: remap Main Warehouse (#1) -> East Coast DC (#2) [changes]``."""
    text = _mapping_text(mapping)
    return Section(store, status, text, f"{store}: {text} [{status}]", blocks)


def _by_kind(actions: Sequence[Action]) -> list[tuple[str, list[Action]]]:
    kinds = [k for k in KIND_ORDER if any(a.kind == k for a in actions)]
    kinds += list(dict.fromkeys(a.kind for a in actions if a.kind not in KIND_ORDER))
    return [(k, [a for a in actions if a.kind == k]) for k in kinds]


def _common_blocks(holds: Sequence[Hold], warnings: Sequence[str], notes: Mapping[str, Any],
                   error: str | None) -> list[Block]:
    blocks = []
    if holds:
        blocks.append(Block("held orders", ("order", "woo id", "reason", "detail"),
                            [(f"#{h.number}", h.woo_order_id, h.reason, h.detail) for h in holds],
                             line=lambda r: f"! held order {r[0]} ({r[2]}): {r[3]}"))
    if warnings:
        blocks.append(Block("warnings", ("warning",), [(w,) for w in warnings], line=lambda r: f"warning: {r[0]}"))
    notes = notes or {}
    for key, value in notes.items():
        if key.endswith("_count") and f"{key[:-6]}_skus" in notes:
            continue  # the total of a list that was cut short: shown with the list
        label = NOTE_LABELS.get(key, key.replace("_", " "))
        if isinstance(value, (list, tuple, set, frozenset)):
            if value:
                items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
                total = notes.get(f"{key[:-5]}_count") if key.endswith("_skus") else None
                total = total if isinstance(total, int) and total > len(items) else None
                blocks.append(Block(label, ("item",), [(v,) for v in items], total=total))
        elif isinstance(value, Mapping):
            if value:
                blocks.append(Block(label, ("item", "value"), [(k, v) for k, v in value.items()],
                                    line=lambda r, label=label: f"note: {label}: {r[0]} = {fmt(r[1])}"))
        elif value not in (None, "", 0, False):
            blocks.append(Block(label, (label,), [(value,)],
                                line=lambda r, label=label: f"note: {label}: {fmt(r[0])}"))
    if error:
        blocks.append(Block("errors", ("error",), [(error,)], line=lambda r: f"error: {r[0]}", full=True))
    return blocks


def _action_blocks(actions: Sequence[Action]) -> list[Block]:
    blocks = []
    for kind, group in _by_kind(actions):
        rows = [(_symbol(a), a.kind, a.key, a.summary, _change(a)) for a in group]
        blocks.append(Block(f"{kind} actions", ("", "action", "key", "summary", "change"), rows,
                            line=lambda r: f"{r[0]} {r[1]} {r[2]}  {r[3]}" + (f" ({r[4]})" if r[4] else "")))
        for a in group:
            items = stock_items(a)
            if items:
                title = "stock changes" if a.kind == "stock.push" else "initial stock rows"
                blocks.append(Block(title, ("sku", "before", "after"), [(s, fmt(b), fmt(x)) for s, b, x in items],
                                    line=lambda r: f"{r[0]}: {r[1]} -> {r[2]}", heading=True))
    return blocks


# --- plan -----------------------------------------------------------------------------------------

def _plan_counts(plan: Plan) -> dict[str, int]:
    actions = plan.actions
    statuses = [s.status for s in plan.stores]
    return {"import": sum(a.kind == "order.import" for a in actions),
            "initial": sum(a.kind == "stock.initial_import" for a in actions),
            "stock": _stock_change_count(actions),
            "remap": sum(a.kind == "mapping" for a in actions),
            "held": sum(len(s.holds) for s in plan.stores),
            "blocked": statuses.count("blocked"), "error": statuses.count("error"),
            "disabled": statuses.count("disabled")}


def _plan_summary(plan: Plan) -> str:
    c = _plan_counts(plan)
    text = (f"Plan: {c['import']} to import, {plural(c['initial'], 'initial stock import')}, "
            f"{plural(c['stock'], 'stock change')}, {c['held']} held")
    if c["remap"]:
        text += f", {plural(c['remap'], 'mapping change')}"
    stores = [f"{plural(c[k], 'store')} {label}" for k, label in
              (("blocked", "blocked"), ("error", "in error"), ("disabled", "disabled")) if c[k]]
    return text + ("; " + ", ".join(stores) if stores else "") + "."


def _store_plan_counts(s: StorePlan) -> tuple:
    return (sum(a.kind == "order.import" for a in s.actions), sum(a.kind == "stock.initial_import" for a in s.actions),
            _stock_change_count(s.actions), len(s.holds), len(s.warnings))


def _plan_doc(plan: Plan) -> Doc:
    sections = []
    for s in plan.stores:
        blocks = _action_blocks(s.actions) + _common_blocks(s.holds, s.warnings, s.notes, s.error)
        sections.append(_store_section(s.store, s.status, s.mapping, blocks))
    where = f" for {plan.config_path}" if plan.config_path else ""
    heading = f"Plan{where} (config {plan.config_hash[:12] or '?'}, {ts(plan.created_at)})"
    rows = [(s.store, s.status, _mapping_text(s.mapping), *_store_plan_counts(s)) for s in plan.stores]
    return Doc("plan", heading, _plan_summary(plan),
               ("store", "status", "mapping", "to import", "initial import", "stock changes", "held", "warnings"),
                rows, sections, plan.calls, "while planning")


def plan_text(plan: Plan, *, limit: int | None = LIMIT) -> str:
    return render_text(_plan_doc(plan), limit)


def plan_markdown(plan: Plan, *, limit: int = LIMIT) -> str:
    return render_markdown(_plan_doc(plan), limit)


def plan_html(plan: Plan, *, limit: int = LIMIT) -> str:
    return render_html(_plan_doc(plan), limit)


PLAN_COLUMNS = ("store", "store_status", "mapping", "location_id", "location", "kind", "key", "summary",
                "before", "after", "reason", "detail")


def plan_records(plan: Plan) -> list[dict[str, Any]]:
    """One row per action and per held order (kind "hold"); every row has `PLAN_COLUMNS`."""
    records = []
    for s in plan.stores:
        loc = s.mapping.to_location
        base = {"store": s.store, "store_status": s.status, "mapping": s.mapping.kind,
                "location_id": loc.id if loc else None, "location": loc.name if loc else None}
        for a in s.actions:
            records.append({**base, "kind": a.kind, "key": a.key, "summary": a.summary, "before": a.before,
                            "after": a.after, "reason": None, "detail": None})
        for h in s.holds:
            records.append({**base, "kind": "hold", "key": f"order:{h.woo_order_id}", "summary": str(h),
                            "before": None, "after": None, "reason": h.reason, "detail": h.detail})
    return records


# --- report -----------------------------------------------------------------------------------------

def _report_counts(report: Report) -> dict[str, int]:
    outcomes = [r.outcome for r in report.results]
    statuses = [s.status for s in report.stores]
    counts = {o: outcomes.count(o) for o in OUTCOME_ORDER}
    counts.update(held=sum(len(s.holds) for s in report.stores), blocked=statuses.count("blocked"),
                  failed_stores=statuses.count("failed"))
    return counts


def _report_summary(report: Report) -> str:
    c = _report_counts(report)
    text = (f"Apply: {c[APPLIED]} applied, {c[REPLANNED]} replanned, {c[FAILED]} failed, {c[SKIPPED]} skipped, "
            f"{c[DROPPED]} dropped; {c['held']} held")
    stores = [f"{plural(c[k], 'store')} {label}" for k, label in (("failed_stores", "failed"), ("blocked", "blocked"))
              if c[k]]
    text += ("; " + ", ".join(stores) if stores else "") + "."
    if report.plan_id:
        text += f" Saved plan {report.plan_id[:12]}."
    for message in report.messages:
        text += f" Note: {message}."
    return text


def _result_blocks(results: Sequence[ActionResult]) -> list[Block]:
    blocks = []
    for outcome in OUTCOME_ORDER + tuple(sorted({r.outcome for r in results} - set(OUTCOME_ORDER))):
        group = [r for r in results if r.outcome == outcome]
        if group:
            rows = [(OUTCOME_SYMBOL.get(outcome, "*"), outcome, r.action.kind, r.action.key, r.action.summary,
                     r.message) for r in group]
            blocks.append(Block(outcome, ("", "outcome", "action", "key", "summary", "message"), rows,
                                line=lambda r: f"{r[0]} {r[1]} {r[2]} {r[3]}  {r[4]}" + (f": {r[5]}" if r[5] else ""),
                                full=outcome == FAILED, status_col=1))
    return blocks


def _report_doc(report: Report) -> Doc:
    sections = []
    for s in report.stores:
        blocks = _result_blocks(s.results) + _common_blocks(s.holds, s.warnings, s.notes, s.error)
        sections.append(_store_section(s.store, s.status, s.mapping, blocks))
    seconds = (report.finished_at - report.started_at).total_seconds()
    heading = f"Report (config {report.config_hash[:12] or '?'}, {ts(report.started_at)}, {seconds:.1f} s)"
    rows = []
    for s in report.stores:
        outcomes = [r.outcome for r in s.results]
        rows.append((s.store, s.status, _mapping_text(s.mapping), *(outcomes.count(o) for o in OUTCOME_ORDER),
                     len(s.holds)))
    return Doc("report", heading, _report_summary(report),
               ("store", "status", "mapping", *OUTCOME_ORDER, "held"), rows, sections, report.calls, "during the run")


def report_text(report: Report, *, limit: int | None = LIMIT) -> str:
    return render_text(_report_doc(report), limit)


def report_markdown(report: Report, *, limit: int = LIMIT) -> str:
    return render_markdown(_report_doc(report), limit)


def report_html(report: Report, *, limit: int = LIMIT) -> str:
    return render_html(_report_doc(report), limit)


REPORT_COLUMNS = ("store", "store_status", "kind", "key", "summary", "outcome", "message", "reason", "detail")


def report_records(report: Report) -> list[dict[str, Any]]:
    """One row per action result and per held order (kind "hold", outcome "held")."""
    records = []
    for s in report.stores:
        base = {"store": s.store, "store_status": s.status}
        for r in s.results:
            records.append({**base, "kind": r.action.kind, "key": r.action.key, "summary": r.action.summary,
                            "outcome": r.outcome, "message": r.message, "reason": None, "detail": None})
        for h in s.holds:
            records.append({**base, "kind": "hold", "key": f"order:{h.woo_order_id}", "summary": str(h),
                            "outcome": "held", "message": h.detail, "reason": h.reason, "detail": h.detail})
    return records


# --- status -----------------------------------------------------------------------------------------

def _stale(store: StoreStatus, observed: str) -> bool:
    return bool(observed and store.config_hash and observed != store.config_hash)


def _status_doc(status: Status) -> Doc:
    sections = []
    for s in status.stores:
        loc = f"location {s.location}" if s.location else "no location resolved"
        subtitle = (f"{loc}, {s.imported} imported, {len(s.held)} held, "
                    f"last stock push {ts(s.last_stock_push)}")
        rows = [(c.type, c.status, c.reason, c.message, ts(c.last_transition),
                 f"observed under config {c.observed_config_hash}, now {s.config_hash}"
                 if _stale(s, c.observed_config_hash) else "") for c in s.conditions]
        blocks = [Block("conditions", ("condition", "status", "reason", "message", "since", "stale"), rows,
                        line=lambda r: f"{r[0]}={r[1]} {r[2]}: {r[3]} (since {r[4]})"
                                       + (f" [stale: {r[5]}]" if r[5] else ""),
                        full=True, status_col=1)] if rows else []
        blocks += _common_blocks(s.held, (), s.notes, None)
        sections.append(Section(s.store, s.state, subtitle, f"{s.store}: {s.state}  {subtitle}", blocks))
    states = [s.state for s in status.stores]
    summary = "Status: " + (", ".join(f"{states.count(k)} {k}" for k in ("Ready", "Blocked", "Degraded", "Unknown")
                                      if states.count(k)) or "no stores") + "."
    last = f"last run {ts(status.last_run_at)}" + (f" ({status.last_run_outcome})" if status.last_run_outcome else "")
    rows = [(s.store, s.state, str(s.location) if s.location else "", s.imported, len(s.held), ts(s.last_stock_push))
            for s in status.stores]
    return Doc("status", f"Status ({last})", summary,
               ("store", "state", "location", "imported", "held", "last stock push"), rows, sections)


def status_text(status: Status, *, limit: int | None = LIMIT) -> str:
    return render_text(_status_doc(status), limit)


def status_markdown(status: Status, *, limit: int = LIMIT) -> str:
    return render_markdown(_status_doc(status), limit)


def status_html(status: Status, *, limit: int = LIMIT) -> str:
    return render_html(_status_doc(status), limit)


def status_records(status: Status) -> list[dict[str, Any]]:
    """One row per store; each condition type gives a column with its status ("True"/"False"/"Unknown")."""
    types = list(dict.fromkeys(c.type for s in status.stores for c in s.conditions))
    records = []
    for s in status.stores:
        row = {"store": s.store, "state": s.state, "location_id": s.location.id if s.location else None,
               "location": s.location.name if s.location else None, "imported": s.imported, "held": len(s.held),
               "last_stock_push": s.last_stock_push}
        for t in types:
            cond = s.condition(t)
            row[t] = cond.status if cond else None
        row["stale"] = ", ".join(c.type for c in s.conditions if _stale(s, c.observed_config_hash))
        records.append(row)
    return records


# --- pandas -----------------------------------------------------------------------------------------

def to_pandas(records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None):
    """A pandas DataFrame of records (pandas is optional: ``pip install katana-woo[notebook]``)."""
    try:
        import pandas
    except ImportError as error:
        raise ImportError("to_pandas() needs pandas, which is not installed: pip install pandas "
                          "(or pip install 'katana-woo[notebook]')") from error
    return pandas.DataFrame.from_records(list(records), columns=list(columns) if columns else None)


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

    def __post_init__(self):
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

    def to_pandas(self):
        return to_pandas(self.to_records(), STOCK_COLUMNS)

    def _repr_html_(self) -> str:
        title = f"{self.store} @ {self.location}" if self.location else self.store
        return stock_comparison_html(self.rows, title=title)

    def __repr__(self) -> str:
        where = f" @ {self.location}" if self.location else ""
        return f"StockComparison({self.store}{where}: {len(self.rows)} SKUs, {len(self.out_of_sync)} out of sync)"


def stock_comparison_html(rows: Sequence[StockRow | Mapping[str, Any]], *, title: str = "", limit: int = 50) -> str:
    """An HTML table of stock rows (`StockRow`s or mappings with `STOCK_COLUMNS`), out-of-sync rows first."""
    rows = [r if isinstance(r, StockRow) else StockRow(**{c: r.get(c) for c in STOCK_COLUMNS}) for r in rows]
    ordered = sorted(rows, key=lambda r: (bool(r.in_sync), str(r.sku)))
    body = [tuple(Raw(colored("yes" if r.in_sync else "no", "ok" if r.in_sync else "failed"))
                  if c == "in_sync" else fmt(getattr(r, c)) for c in STOCK_COLUMNS) for r in ordered]
    caption = f"{title}: " if title else ""
    caption += f"{len(rows)} SKUs, {sum(not r.in_sync for r in rows)} out of sync"
    return f"<div>{html_table(STOCK_COLUMNS, body, limit, caption)}</div>"


