"""History, an order's story and a SKU's figure as documents, records and DataFrames.

Callers: `render/__init__` registers these as the views of `history.History`, `explain.OrderStory`
and `explain.SkuStory`. The data classes are only annotations here (no import at run time), so
loading the rendering never loads the engines behind `explain`. Pure functions, no I/O.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._doc import Block, Doc, Note, Row, Section, age, fmt, plural, ts
from ._frames import frame

if TYPE_CHECKING:
    from ..explain import OrderStory, SkuFigure, SkuStory
    from ..history import History, RunEntry

__all__ = ["history_doc", "history_records", "history_frame", "order_doc", "order_records", "order_frame",
           "sku_doc", "sku_records", "sku_frame"]


# --- history ----------------------------------------------------------------------------------------

def _stores_text(run: RunEntry) -> str:
    return ", ".join(f"{name} {status}" for name, status in sorted(run.stores.items()))


def history_doc(history: History) -> Doc:
    runs = history.runs
    where = f" of {history.store}" if history.store else ""
    since = f" since {ts(history.since)}" if history.since else ""
    heading = f"History{where}{since} ({plural(len(runs), 'run')}, newest first)"
    outcomes = [r.outcome or "unfinished" for r in runs]
    if runs:
        summary = (f"History: {plural(len(runs), 'run')}: "
                   + ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))
                   + f"; last {ts(runs[0].started_at)}.")
    else:
        summary = "History: no runs recorded yet" + (f" ({history.message})" if history.message else "") + "."
    rows = [(f"#{r.id}", r.outcome or "unfinished", r.command, ts(r.started_at),
             "" if r.seconds is None else f"{r.seconds:.1f}", _stores_text(r), r.outcomes.get("applied", 0),
             r.outcomes.get("failed", 0), r.outcomes.get("skipped", 0),
             "" if r.calls is None else r.calls_to("katana"), "" if r.calls is None else r.calls_to("woocommerce"))
            for r in runs]
    return Doc("history", heading, summary,
               ("run", "outcome", "command", "started", "seconds", "stores", "applied", "failed", "skipped",
                "katana calls", "woocommerce calls"), rows, (), pointer="all of it: katana-woo history --json",
               text_overview=True)


HISTORY_COLUMNS = ("run", "command", "outcome", "started_at", "finished_at", "seconds", "stores", "applied",
                   "failed", "skipped", "katana_calls", "woocommerce_calls")


def history_records(history: History) -> list[dict[str, Any]]:
    """One row per run."""
    return [{"run": r.id, "command": r.command, "outcome": r.outcome, "started_at": r.started_at,
             "finished_at": r.finished_at, "seconds": r.seconds, "stores": _stores_text(r),
             "applied": r.outcomes.get("applied", 0), "failed": r.outcomes.get("failed", 0),
             "skipped": r.outcomes.get("skipped", 0), "katana_calls": r.calls_to("katana"),
             "woocommerce_calls": r.calls_to("woocommerce")} for r in history.runs]


def history_frame(history: History) -> Any:
    return frame(history_records(history), HISTORY_COLUMNS,
                 numeric=("run", "seconds", "applied", "failed", "skipped", "katana_calls", "woocommerce_calls"),
                 times=("started_at", "finished_at"))


# --- an order ---------------------------------------------------------------------------------------

def _order_summary(story: OrderStory) -> str:
    name = f"Order #{story.number or story.woo_order_id} of {story.store}"
    if story.hold is not None:
        hold = story.hold
        since = f" for {age(story.checked_at - hold.since)}" if hold.since else ""
        return f"{name}: held ({hold.reason}){since}, {plural(hold.attempts, 'run')} so far."
    if story.sales_order_id is not None:
        where = f" at {story.location}" if story.location else ""
        return f"{name}: {story.state}, {story.order_no} (#{story.sales_order_id}) {story.katana_status}{where}."
    return f"{name}: {story.state}."


def order_doc(story: OrderStory) -> Doc:
    heading = (f"Order #{story.number or story.woo_order_id} of {story.store} (WooCommerce id {story.woo_order_id}), "
               f"checked {ts(story.checked_at)}")
    events = [(ts(e.at) if e.at else "", e.what, e.detail, f"#{e.run_id}" if e.run_id else "") for e in story.events]
    blocks = [Block("story", ("when", "event", "detail", "run"), events, full=True,
                    line=lambda r: f"{r[0] or '?':20} {r[1]}" + (f": {r[2]}" if r[2] else "")
                                   + (f" (run {r[3]})" if r[3] else ""))]
    notes = [Note("lines", tuple(f"{sku} x {fmt(q)}" for sku, q in story.lines))] if story.lines else []
    notes += [Note("", value=n) for n in story.notes]
    status = story.state if story.hold is None else "held"
    subtitle = ", ".join(x for x in (f"WooCommerce {story.woo_status}" if story.woo_status else "",
                                     f"Katana {story.order_no} {story.katana_status}" if story.order_no else "",
                                     f"at {story.location}" if story.location else "") if x)
    section = Section(f"{story.store} #{story.number or story.woo_order_id}", status, subtitle,
                      f"{story.store} #{story.number or story.woo_order_id}: {subtitle} [{status}]", blocks, notes)
    rows = [(story.store, status, story.woo_status or "", story.order_no or "", story.katana_status or "",
             str(story.location) if story.location else "")]
    return Doc("order", heading, _order_summary(story),
               ("store", "state", "woocommerce status", "sales order", "katana status", "location"), rows, [section])


def order_records(story: OrderStory) -> list[dict[str, Any]]:
    """One row per event of the story."""
    return [{"store": story.store, "woo_order_id": story.woo_order_id, "at": e.at, "event": e.what,
             "detail": e.detail, "run": e.run_id} for e in story.events]


def order_frame(story: OrderStory) -> Any:
    return frame(order_records(story), ("store", "woo_order_id", "at", "event", "detail", "run"),
                 numeric=("woo_order_id", "run"), times=("at",))


# --- a SKU ------------------------------------------------------------------------------------------

def _derivation(f: SkuFigure) -> list[Row]:
    """(step, value, why) rows: the engine's inputs and figure, in the order the figure applies them."""
    where = str(f.location) if f.location else "?"
    rows: list[Row] = [("in stock", f.in_stock, f"Katana at {where}"
                        + (f", pooled with {plural(len(f.pooled), 'variation')} the parent manages" if f.pooled else ""))]
    if f.policy == "available":
        rows.append(("- committed", f.committed, "sales orders Katana holds (policy available)"))
    else:
        rows.append(("  committed", f.committed, "not subtracted (policy in_stock)"))
    rows.append(("- taken, not committed", f.pending,
                 plural(len(f.orders), "order") + " the stores took that Katana has not committed" if f.orders
                 else "no order waiting"))
    for o in f.orders:
        rows.append(("", o.quantity, f"{o.store} #{o.number} ({o.status}, {o.why})"))
    if f.allocation:
        rows.append(("this store's slice", f.share, f.allocation))
    rows.append(("- buffer", f.buffer, "safety stock (stock.buffer)"))
    rows.append(("maximum", "none" if f.maximum is None else f.maximum, "cap (stock.maximum)"))
    rows.append(("floor at zero", "yes" if f.floor_zero else "no", "stock.floor_zero; rounded down to whole units"))
    rows.append(("= figure", f.figure, "what a push writes"))
    shows = "in sync" if f.in_sync else "differs: the next apply pushes the figure" if f.sync else "not pushed"
    rows.append(("store shows", f.store_quantity, shows))
    return rows


def _sku_section(f: SkuFigure) -> Section:
    where = str(f.location) if f.location else "no location"
    status = "no figure" if f.figure is None else ("in sync" if f.in_sync else "out of sync")
    blocks: list[Block] = []
    if f.figure is not None:
        blocks.append(Block("derivation", ("step", "value", "why"), _derivation(f), full=True,
                            line=lambda r: f"{r[0]:24} {fmt(r[1]):>6}  {r[2]}" if r[0]
                                           else f"{'':24} {fmt(r[1]):>6}    {r[2]}"))
    pushes = [(f"#{p.run_id}", ts(p.at), p.kind, "" if p.before is None else p.before,
               "" if p.after is None else p.after) for p in f.pushes]
    if pushes:
        blocks.append(Block("levels written", ("run", "at", "kind", "before", "after"), pushes[::-1],
                            line=lambda r: f"run {r[0]} {r[1]} {r[2]}: {fmt(r[3]) if r[3] != '' else '?'} -> {fmt(r[4])}",
                            heading=True))
    notes = [Note("note", value=f.note)] if f.note else []
    if f.last_pushed is not None:
        notes.append(Note("last pushed", value=f"{f.last_pushed} at {ts(f.last_pushed_at)}"))
    return Section(f.store, status, where, f"{f.store} @ {where}: [{status}]", blocks, notes)


def sku_doc(story: SkuStory) -> Doc:
    variant = f" (Katana variant #{story.variant_id})" if story.variant_id else ""
    heading = f"SKU {story.sku}{variant}, checked {ts(story.checked_at)}"
    parts = [f"{f.store} {f.figure}" + ("" if f.in_sync else f" (store shows {fmt(f.store_quantity)})")
             for f in story.figures if f.figure is not None]
    summary = f"{story.sku}: " + ("; ".join(parts) if parts else "no figure") + "."
    rows = [(f.store, "no figure" if f.figure is None else ("in sync" if f.in_sync else "out of sync"),
             str(f.location) if f.location else "", f.in_stock, f.committed, f.pending, f.buffer,
             "" if f.maximum is None else f.maximum, f.figure, f.store_quantity, f.last_pushed)
            for f in story.figures]
    sections = [_sku_section(f) for f in story.figures]
    return Doc("sku", heading, summary, ("store", "state", "location", "in stock", "committed", "taken", "buffer",
                                         "maximum", "figure", "store shows", "last pushed"), rows, sections,
               footer=tuple(f"note: {n}" for n in story.notes))


SKU_COLUMNS = ("sku", "store", "location_id", "location", "in_stock", "committed", "pending", "buffer", "maximum",
               "figure", "store_quantity", "in_sync", "last_pushed", "last_pushed_at", "note")


def sku_records(story: SkuStory) -> list[dict[str, Any]]:
    """One row per store: the SKU's figure and its inputs."""
    return [{"sku": story.sku, "store": f.store, "location_id": f.location.id if f.location else None,
             "location": f.location.name if f.location else None, "in_stock": f.in_stock, "committed": f.committed,
             "pending": f.pending, "buffer": f.buffer, "maximum": f.maximum, "figure": f.figure,
             "store_quantity": f.store_quantity, "in_sync": f.in_sync, "last_pushed": f.last_pushed,
             "last_pushed_at": f.last_pushed_at, "note": f.note} for f in story.figures]


def sku_frame(story: SkuStory) -> Any:
    return frame(sku_records(story), SKU_COLUMNS,
                 numeric=("location_id", "in_stock", "committed", "pending", "buffer", "maximum", "figure",
                          "store_quantity", "last_pushed"), times=("last_pushed_at",))
