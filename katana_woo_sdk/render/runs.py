"""Plans, reports and status as documents (text, Markdown, HTML) and as records and DataFrames.

Callers: `render/__init__` registers these functions as the views of `plan.Plan`,
`plan.Report` and `plan.Status` (``print(plan)``, ``plan.to_markdown()``, ``plan._repr_html_()``,
``plan.to_records()``, ``plan.to_pandas()``); `report` re-exports them under their old names.
Pure functions, no I/O.

Conventions read from the data (the runner writes them):

* stock actions (`stock.push`, `stock.initial_import`) list their items in their typed payload
  (`actions.StockPush.writes`, `actions.InitialImport.rows`), each with its SKU and before/after;
  an action without a payload compares its `before`/`after` mappings SKU -> quantity. Each
  differing item counts as one "stock change" and is one row of a DataFrame.
* `notes` values that are lists are shown as lists (a ``<name>_count`` beside ``<name>_skus`` is the
  full length of a list the runner cut short); other values as ``label: value`` (zeros and
  empty values are left out). Known keys have the labels in `NOTE_LABELS`, others their name.
* an error several stores share (a wrong Katana key fails every store alike) is shown once.

What is shown comes from the objects alone, which never hold a credential; `Action.payload` is
read only for the stock figures, never dumped, so contact data a private plan may carry
(`OrderImport.customer_data`) never reaches any output.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from ..actions import InitialImport, StockPush, plain
from ..plan import (APPLIED, DROPPED, FAILED, REPLANNED, SKIPPED, Action, ActionResult, Attention, Hold, MappingPlan,
                    Plan, Report, Status, StoreStatus)
from ._doc import Block, Doc, Note, Row, Section, age, fmt, plural, ts
from ._frames import frame

NOTE_LABELS = {
    "katana_only_skus": "Katana variants with no store match",
    "store_only_skus": "store SKUs with no Katana variant",
    "unmanaged_skus": "store items that do not manage stock",
    "parent_managed_skus": "variations whose stock the parent product manages",
    "no_inventory_row_skus": "SKUs with no Katana inventory row at the location",
    "items_without_sku": "store items without a SKU",
    "in_sync": "items already in sync",
    "variations_not_read": "variations not read (their SKUs are not in Katana, so nothing is pushed to them)",
    "store_read_by_sku": "store read by SKU",
    "initial_import": "initial stock import",
    "initial_import_unmanaged": "initial import: store items that do not manage stock",
    "initial_import_unknown_skus": "initial import: store SKUs with no Katana variant",
    "orders_already_in_katana": "orders found already in Katana (ledger re-filled)",
    "variations_without_sku": "variations without a SKU of their own (WooCommerce shows the parent's; not synced)",
    "stock_corrected_after_write": "levels lowered right after their write (an order arrived in that instant)",
    "order_lifecycle": "imported orders by lifecycle state",
}
KIND_ORDER = ("mapping", "stock.initial_import", "product.create", "order.import", "order.complete",
              "order.deliver", "order.complete_in_store", "order.delete", "order.update_rows", "stock.push")
STOCK_KINDS = ("stock.initial_import", "stock.push")
OUTCOME_ORDER = (FAILED, REPLANNED, APPLIED, SKIPPED, DROPPED)
OUTCOME_SYMBOL = {APPLIED: "+", REPLANNED: "~", FAILED: "x", SKIPPED: "=", DROPPED: "-"}

PLAN_POINTER = "all of it: katana-woo show plan.json, after plan --out plan.json"
REPORT_POINTER = "all of it: katana-woo apply --json, or katana-woo history --json"
STATUS_POINTER = "all of it: katana-woo status --json"


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
    """"5 -> 3" for an action changing one scalar value; stock lists and creations show none."""
    if action.before is None or isinstance(action.before, (Mapping, list, tuple)) \
            or isinstance(action.after, (Mapping, list, tuple)) or action.kind == "mapping":
        return ""
    return f"{fmt(action.before)} -> {fmt(action.after)}"


def _mapping_text(mapping: MappingPlan) -> str:
    return str(mapping).rstrip().rstrip(":")


def _store_section(store: str, status: str, mapping: MappingPlan, blocks: list[Block], notes: list[Note]) -> Section:
    """Text header like terraform's: ``shop-eu: remap Main Warehouse (#1) -> East Coast DC (#2) [changes]``."""
    text = _mapping_text(mapping)
    return Section(store, status, text, f"{store}: {text} [{status}]", blocks, notes)


def _by_kind(actions: Sequence[Action]) -> list[tuple[str, list[Action]]]:
    kinds = [k for k in KIND_ORDER if any(a.kind == k for a in actions)]
    kinds += list(dict.fromkeys(a.kind for a in actions if a.kind not in KIND_ORDER))
    return [(k, [a for a in actions if a.kind == k]) for k in kinds]


def _hold_line(row: Row) -> str:
    extra = ", ".join(x for x in (f"since {row[4]}" if row[4] else "", f"{row[5]} attempts" if row[5] else "") if x)
    return f"! held order {row[0]} ({row[2]}): {row[3]}" + (f" [{extra}]" if extra else "")


def hold_rows(holds: Sequence[Hold], now: datetime | None) -> list[Row]:
    """(order, woo id, reason, detail, since (age), attempts); unknown age and attempts are ""."""
    rows: list[Row] = []
    for hh in holds:
        since = ""
        if hh.since is not None:
            since = ts(hh.since) + (f" ({age(now - hh.since)} ago)" if now is not None else "")
        rows.append((f"#{hh.number}", hh.woo_order_id, hh.reason, hh.detail, since, hh.attempts or ""))
    return rows


def _notes(notes: Mapping[str, Any]) -> list[Note]:
    out: list[Note] = []
    for key, value in (notes or {}).items():
        if key.endswith("_count") and f"{key[:-6]}_skus" in notes:
            continue  # the total of a list that was cut short: shown with the list
        label = NOTE_LABELS.get(key, key.replace("_", " "))
        if isinstance(value, (list, tuple, set, frozenset)):
            if value:
                items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
                total = notes.get(f"{key[:-5]}_count") if key.endswith("_skus") else None
                total = total if isinstance(total, int) and total > len(items) else None
                out.append(Note(label, tuple(items), total=total))
        elif isinstance(value, Mapping):
            if value:
                out.append(Note(label, tuple(f"{k} = {fmt(v)}" for k, v in value.items())))
        elif value not in (None, "", 0, False):
            out.append(Note(label, value=value))
    return out


def _attention_line(row: Row) -> str:
    return f"! order {row[0]} ({row[2]}): {row[3]}" + (f" [since {row[4]}]" if row[4] else "")


def attention_rows(items: Sequence[Attention]) -> list[Row]:
    """(order, woo id, kind, detail, since): imported orders a person must look at."""
    return [(f"#{a.number}", a.woo_order_id, a.kind, a.detail, ts(a.since) if a.since else "") for a in items]


def _common(holds: Sequence[Hold], warnings: Sequence[str], notes: Mapping[str, Any], error: str | None,
            now: datetime | None = None, attention: Sequence[Attention] = ()) -> tuple[list[Block], list[Note]]:
    blocks = []
    if holds:
        blocks.append(Block("held orders", ("order", "woo id", "reason", "detail", "held since", "attempts"),
                            hold_rows(holds, now), line=_hold_line))
    if attention:
        blocks.append(Block("orders to look at", ("order", "woo id", "what", "detail", "since"),
                            attention_rows(attention), line=_attention_line, full=True))
    if warnings:
        blocks.append(Block("warnings", ("warning",), [(w,) for w in warnings], line=lambda r: f"warning: {r[0]}"))
    if error:
        blocks.append(Block("errors", ("error",), [(error,)], line=lambda r: f"error: {r[0]}", full=True))
    return blocks, _notes(notes)


def _shared_errors(stores: Sequence[Any]) -> dict[str, list[str]]:
    """Error text -> the stores that share it, for errors of two stores or more."""
    by_text: dict[str, list[str]] = {}
    for s in stores:
        if s.error:
            by_text.setdefault(s.error, []).append(s.store)
    return {text: names for text, names in by_text.items() if len(names) > 1}


def _shared_section(shared: Mapping[str, list[str]]) -> list[Section]:
    out = []
    for text, names in shared.items():
        who = ", ".join(names)
        out.append(Section(f"{len(names)} stores", "error", who, f"{who}: [error]",
                           [Block("errors", ("error",), [(text,)], line=lambda r: f"error: {r[0]}", full=True)]))
    return out


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
    looks = sum(len(s.attention) for s in plan.stores)
    if looks:
        text += f", {plural(looks, 'order')} to look at"
    stores = [f"{plural(c[k], 'store')} {label}" for k, label in
              (("blocked", "blocked"), ("error", "in error"), ("disabled", "disabled")) if c[k]]
    return text + ("; " + ", ".join(stores) if stores else "") + "."


def plan_doc(plan: Plan) -> Doc:
    shared = _shared_errors(plan.stores)
    sections = _shared_section(shared)
    for s in plan.stores:
        blocks, notes = _common(s.holds, s.warnings, s.notes, None if s.error in shared else s.error,
                                attention=s.attention)
        blocks = _action_blocks(s.actions) + blocks
        if s.error in shared and not blocks and not notes:
            continue          # its only news is the shared error, shown once above
        sections.append(_store_section(s.store, s.status, s.mapping, blocks, notes))
    where = f" for {plan.config_path}" if plan.config_path else ""
    heading = f"Plan{where} (config {plan.config_hash[:12] or '?'}, {ts(plan.created_at)})"
    rows = [(s.store, s.status, _mapping_text(s.mapping), sum(a.kind == "order.import" for a in s.actions),
             sum(a.kind == "stock.initial_import" for a in s.actions), _stock_change_count(s.actions),
             len(s.holds), len(s.warnings)) for s in plan.stores]
    if plan.includes_customer_data:
        heading += " - holds customer contact data: keep it private"
    return Doc("plan", heading, _plan_summary(plan),
               ("store", "status", "mapping", "to import", "initial import", "stock changes", "held", "warnings"),
               rows, sections, plan.calls, "while planning", pointer=PLAN_POINTER, empty="nothing to do")


PLAN_COLUMNS = ("store", "store_status", "mapping", "location_id", "location", "kind", "key", "sku", "summary",
                "before", "after", "reason", "detail")


def plan_records(plan: Plan) -> list[dict[str, Any]]:
    """One row per action, per SKU of a stock action and per held order (kind "hold"); every row
    has `PLAN_COLUMNS`, and `before`/`after` are numbers (stock levels) or None."""
    records = []
    for s in plan.stores:
        loc = s.mapping.to_location
        base = {"store": s.store, "store_status": s.status, "mapping": s.mapping.kind,
                "location_id": loc.id if loc else None, "location": loc.name if loc else None}
        for a in s.actions:
            items: list[tuple[str | None, Any, Any]] = list(stock_items(a)) or [(None, None, None)]
            for sku, before, after in items:
                records.append({**base, "kind": a.kind, "key": a.key, "sku": sku, "summary": a.summary,
                                "before": before, "after": after, "reason": None, "detail": None})
        for hh in s.holds:
            records.append({**base, "kind": "hold", "key": f"order:{hh.woo_order_id}", "sku": None, "summary": str(hh),
                            "before": None, "after": None, "reason": hh.reason, "detail": hh.detail})
        for att in s.attention:
            records.append({**base, "kind": "attention", "key": f"order:{att.woo_order_id}", "sku": None,
                            "summary": str(att), "before": None, "after": None, "reason": att.kind,
                            "detail": att.detail})
    return records


def plan_frame(plan: Plan) -> Any:
    return frame(plan_records(plan), PLAN_COLUMNS, numeric=("location_id", "before", "after"))


# --- report -----------------------------------------------------------------------------------------

def _report_summary(report: Report) -> str:
    outcomes = [r.outcome for r in report.results]
    statuses = [s.status for s in report.stores]
    c = {o: outcomes.count(o) for o in OUTCOME_ORDER}
    held = sum(len(s.holds) for s in report.stores)
    text = (f"Apply: {c[APPLIED]} applied, {c[REPLANNED]} replanned, {c[FAILED]} failed, {c[SKIPPED]} skipped, "
            f"{c[DROPPED]} dropped; {held} held")
    looks = sum(len(s.attention) for s in report.stores)
    if looks:
        text += f", {plural(looks, 'order')} to look at"
    stores = [f"{plural(statuses.count(k), 'store')} {k}" for k in ("failed", "blocked") if statuses.count(k)]
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


def report_doc(report: Report) -> Doc:
    shared = _shared_errors(report.stores)
    sections = _shared_section(shared)
    for s in report.stores:
        blocks, notes = _common(s.holds, s.warnings, s.notes, None if s.error in shared else s.error,
                                attention=s.attention)
        blocks = _result_blocks(s.results) + blocks
        if s.error in shared and not blocks and not notes:
            continue
        sections.append(_store_section(s.store, s.status, s.mapping, blocks, notes))
    seconds = (report.finished_at - report.started_at).total_seconds()
    heading = f"Report (config {report.config_hash[:12] or '?'}, {ts(report.started_at)}, {seconds:.1f} s)"
    rows = []
    for s in report.stores:
        outcomes = [r.outcome for r in s.results]
        rows.append((s.store, s.status, _mapping_text(s.mapping), *(outcomes.count(o) for o in OUTCOME_ORDER),
                     len(s.holds)))
    return Doc("report", heading, _report_summary(report), ("store", "status", "mapping", *OUTCOME_ORDER, "held"),
               rows, sections, report.calls, "during the run", pointer=REPORT_POINTER, empty="nothing applied")


REPORT_COLUMNS = ("store", "store_status", "kind", "key", "sku", "summary", "outcome", "message", "before", "after",
                  "reason", "detail")


def _result_items(r: ActionResult) -> list[tuple[str | None, Any, Any, str, str]]:
    """(sku, before, after, outcome, message) per SKU of a stock result: the level the store
    took where the result says, the planned one otherwise; one row with no SKU for the rest."""
    items = stock_items(r.action)
    if not items:
        return [(None, None, None, r.outcome, r.message)]
    pushed = getattr(r.result, "pushed", None) or {}
    missed = {m.sku: m for m in getattr(r.result, "not_applied", ())}
    out: list[tuple[str | None, Any, Any, str, str]] = []
    for sku, before, after in items:
        if sku in missed:
            out.append((sku, before, after, FAILED, str(missed[sku].reason or "not applied")))
        else:
            out.append((sku, before, pushed.get(sku, after), r.outcome, r.message))
    return out


def report_records(report: Report) -> list[dict[str, Any]]:
    """One row per action result (per SKU for stock writes) and per held order (outcome "held")."""
    records = []
    for s in report.stores:
        base = {"store": s.store, "store_status": s.status}
        for r in s.results:
            for sku, before, after, outcome, message in _result_items(r):
                records.append({**base, "kind": r.action.kind, "key": r.action.key, "sku": sku,
                                "summary": r.action.summary, "outcome": outcome, "message": message,
                                "before": before, "after": after, "reason": None, "detail": None})
        for hh in s.holds:
            records.append({**base, "kind": "hold", "key": f"order:{hh.woo_order_id}", "sku": None, "summary": str(hh),
                            "outcome": "held", "message": hh.detail, "before": None, "after": None,
                            "reason": hh.reason, "detail": hh.detail})
        for a in s.attention:
            records.append({**base, "kind": "attention", "key": f"order:{a.woo_order_id}", "sku": None,
                            "summary": str(a), "outcome": "attention", "message": a.detail, "before": None,
                            "after": None, "reason": a.kind, "detail": a.detail})
    return records


def report_frame(report: Report) -> Any:
    return frame(report_records(report), REPORT_COLUMNS, numeric=("before", "after"))


# --- status -----------------------------------------------------------------------------------------

def _stale(store: StoreStatus, observed: str) -> bool:
    return bool(observed and store.config_hash and observed != store.config_hash)


def status_doc(status: Status) -> Doc:
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
        if s.stale:
            blocks.append(Block("stale", ("why",), [(why,) for why in s.stale], line=lambda r: f"stale: {r[0]}"))
        held, _ = _common(s.held, (), {}, None, status.checked_at, attention=s.attention)
        sections.append(Section(s.store, s.state, subtitle, f"{s.store}: {s.state}  {subtitle}", blocks + held,
                                _notes(s.notes)))
    states = [s.state for s in status.stores]
    summary = "Status: " + (", ".join(f"{states.count(k)} {k}" for k in ("Ready", "Blocked", "Degraded", "Unknown")
                                      if states.count(k)) or "no stores") + "."
    if not status.state_found:
        sections, summary = [], f"Status: {status.message or 'no state yet: run apply first'}."
    if status.stale:
        summary += f" {plural(sum(1 for s in status.stores if s.stale), 'store')} stale."
    last = f"last run {ts(status.last_run_at)}" + (f" ({status.last_run_outcome})" if status.last_run_outcome else "")
    overview = [(s.store, s.state, str(s.location) if s.location else "", s.imported, len(s.held),
                 ts(s.last_stock_push), "yes" if s.stale else "") for s in status.stores]
    footer = (status.message,) if status.message and status.state_found else ()
    return Doc("status", f"Status ({last})", summary,
               ("store", "state", "location", "imported", "held", "last stock push", "stale"), overview, sections,
               pointer=STATUS_POINTER, empty="no conditions recorded yet", footer=footer)


STATUS_COLUMNS = ("store", "phase", "stale", "location_id", "location", "imported", "held", "last_stock_push",
                  "observed_at")


def status_records(status: Status) -> list[dict[str, Any]]:
    """One row per store; each condition type gives a column with its status ("True"/"False"/"Unknown")."""
    types = list(dict.fromkeys(c.type for s in status.stores for c in s.conditions))
    records = []
    for s in status.stores:
        row: dict[str, Any] = {
            "store": s.store, "phase": s.phase, "state": s.state, "stale": bool(s.stale),
            "location_id": s.location.id if s.location else None, "location": s.location.name if s.location else None,
            "imported": s.imported, "held": len(s.held), "last_stock_push": s.last_stock_push,
            "observed_at": s.observed_at}
        for t in types:
            cond = s.condition(t)
            row[t] = cond.status if cond else None
        row["stale_conditions"] = ", ".join(c.type for c in s.conditions if _stale(s, c.observed_config_hash))
        records.append(row)
    return records


def status_frame(status: Status) -> Any:
    return frame(status_records(status), None, numeric=("location_id", "imported", "held"),
                 times=("last_stock_push", "observed_at"))

