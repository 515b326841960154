"""The neutral document every view is built into, and its three writers: text, Markdown, HTML.

Only the `render` modules call this one. A view (plan, report, status, history, explain) first
becomes one `Doc` (a heading, a summary line, an overview table, one `Section` per store or
subject made of `Block`s of rows and compact `Note`s); the writers here know nothing about plans,
so the formats cannot drift apart. Every value is escaped for its format: Markdown specials and
`<`/`&` for a pull request comment, `html.escape` for notebooks and browsers.

Why the writers are shaped as they are:

* Markdown must fit in a GitHub comment (65,536 characters): `render_markdown` renders with fewer
  rows per list until the whole text fits `budget`, says "… and N more" wherever rows were cut and
  names where the full version is (`pointer`).
* Tables leave out columns that are empty in every row shown, and a block with one column is a
  list, not a one-cell table; notes are one compact list per section, not a table each.
* HTML is self-contained (inline styles on tables only, no `<style>`, no scripts, no links), so it
  survives Jupyter's and GitHub's sanitisers; stores are collapsed `<details>` unless something
  failed there, so 50 stores stay one screen.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

MD_CAP = 200          # rows of one list inside a Markdown <details> block before "… and N more"
MD_BUDGET = 60_000    # characters of a Markdown document: GitHub refuses comments over 65,536
LIMIT = 10            # rows of a list shown in text and HTML before "… and N more"

_GREEN, _BLUE, _AMBER, _RED, _GREY, _PURPLE = "#1a7f37", "#0969da", "#9a6700", "#cf222e", "#6e7781", "#8250df"
COLORS = {
    "ok": _GREEN, "ready": _GREEN, "true": _GREEN, "applied": _BLUE, "changes": _BLUE, "imported": _BLUE,
    "attention": _AMBER, "degraded": _AMBER, "held": _AMBER, "replanned": _PURPLE, "blocked": _RED,
    "error": _RED, "failed": _RED, "false": _RED, "disabled": _GREY, "unknown": _GREY, "skipped": _GREY,
    "dropped": _GREY,
}


# --- small formatting helpers ---------------------------------------------------------------------

def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def fmt(value: Any) -> str:
    """A figure for people: 5 not 5.000, "none" for a missing one, times in UTC to the second."""
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return ts(value)
    if isinstance(value, timedelta):
        return age(value)
    return str(value)


def ts(value: datetime | str | None) -> str:
    if value is None:
        return "never"
    if isinstance(value, str):
        return value
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def age(delta: timedelta) -> str:
    """A duration for people: "45 s", "12 min", "3 h", "5 d"."""
    seconds = max(0.0, delta.total_seconds())
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def calls_line(calls: Mapping[str, int], what: str) -> str:
    if not calls:
        return f"Calls {what}: none."
    systems: dict[str, int] = {}
    for key, n in calls.items():
        system = key.split(" ", 1)[0]
        systems[system] = systems.get(system, 0) + n
    parts = ", ".join(f"{s} {n}" for s, n in sorted(systems.items()))
    return f"Calls {what}: {parts} ({sum(systems.values())} total)."


def calls_rows(calls: Mapping[str, int]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for key, n in sorted(calls.items()):
        system, _, endpoint = key.partition(" ")
        rows.append((system, endpoint, n))
    return rows


# --- the neutral document ---------------------------------------------------------------------------

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Block:
    """Rows under a title. Columns named "" (a +/~ symbol) are for text only."""

    title: str                               # a plural noun: "order imports", "held orders"
    columns: tuple[str, ...]
    rows: Sequence[Row]
    line: Callable[[Row], str] | None = None   # text: one line per row (None: "title (N): a, b")
    heading: bool = False                    # text: a "title (N):" line above the rows
    full: bool = False                       # never cut (failures, errors)
    status_col: int | None = None            # HTML: the column whose value is a status to colour
    total: int | None = None                 # the full count when `rows` is already cut short

    @property
    def count(self) -> int:
        return self.total if self.total is not None else len(self.rows)

    def visible(self, limit: int | None) -> tuple[list[Row], int]:
        """The rows to show within `limit`, and how many are left out."""
        rows = list(self.rows) if self.full or limit is None else list(self.rows)[:limit]
        return rows, self.count - len(rows)


@dataclass(frozen=True)
class Note:
    """One compact remark: a list of items (`items`, of `total` in all) or a single value."""

    label: str
    items: tuple[Any, ...] | None = None
    value: Any = None
    total: int | None = None

    @property
    def count(self) -> int:
        return self.total if self.total is not None else len(self.items or ())

    def text(self, limit: int | None) -> str:
        if self.items is None:
            return f"{self.label}: {fmt(self.value)}" if self.label else fmt(self.value)
        shown = list(self.items) if limit is None else list(self.items)[:limit]
        hidden = self.count - len(shown)
        items = ", ".join(fmt(i) for i in shown) + (f", … and {hidden} more" if hidden else "")
        return f"{self.label} ({self.count}): {items}"


@dataclass(frozen=True)
class Section:
    name: str
    status: str
    subtitle: str                            # mapping, or location for status
    header: str                              # the text header line
    blocks: Sequence[Block] = ()
    notes: Sequence[Note] = ()

    @property
    def empty(self) -> bool:
        return not self.blocks and not self.notes


@dataclass(frozen=True)
class Doc:
    kind: str                                # "plan" | "report" | "status" | "history" | "order" | "sku"
    heading: str                             # first text line (what, when)
    summary: str                             # the one status line
    overview_columns: tuple[str, ...]
    overview_rows: Sequence[Row]
    sections: Sequence[Section]
    calls: Mapping[str, int] | None = None
    calls_what: str = ""
    pointer: str = ""                        # where the complete version is, named when rows are cut
    empty: str = "nothing"                   # what an empty section says in text
    footer: Sequence[str] = field(default_factory=tuple)   # text lines after the summary
    text_overview: bool = False              # text shows the overview as aligned columns (history)


# --- text ------------------------------------------------------------------------------------------

def text_table(columns: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """Aligned columns for a terminal, without the columns empty in every row."""
    keep = _shown_columns(columns, rows)
    cells = [[columns[i] for i in keep]] + [[fmt(r[i]) for i in keep] for r in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(keep))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def render_text(doc: Doc, limit: int | None) -> str:
    out = [doc.heading, ""]
    if doc.text_overview and doc.overview_rows:
        out += text_table(doc.overview_columns, doc.overview_rows) + [""]
    for section in doc.sections:
        out.append(section.header)
        for block in section.blocks:
            rows, hidden = block.visible(limit)
            more = f"… and {hidden} more" if hidden else ""
            if block.line is None:
                items = ", ".join(fmt(r[0]) for r in rows) + (f", {more}" if more else "")
                out.append(f"  {block.title} ({block.count}): {items}")
                continue
            indent = "  "
            if block.heading:
                out.append(f"  {block.title} ({block.count}):")
                indent = "    "
            out.extend(indent + block.line(r) for r in rows)
            if more:
                out.append(f"{indent}{more} {block.title}")
        out.extend(f"  note: {n.text(limit)}" for n in section.notes)
        if section.empty:
            out.append(f"  ({doc.empty})")
        out.append("")
    out.append(doc.summary)
    out.extend(doc.footer)
    if doc.calls is not None:
        out.append(calls_line(doc.calls, doc.calls_what))
    return "\n".join(out)


# --- shared by Markdown and HTML -------------------------------------------------------------------

def _shown_columns(columns: Sequence[str], rows: Sequence[Row]) -> list[int]:
    """Indexes of the columns worth a table column: named, and not empty in every row shown."""
    keep = []
    for i, name in enumerate(columns):
        if not name:
            continue
        if rows and all(i >= len(r) or (r[i] is not None and fmt(r[i]) == "") for r in rows):
            continue
        keep.append(i)
    return keep


# --- Markdown --------------------------------------------------------------------------------------

# Inline Markdown specials; "<" and "&" become entities so no HTML tag or entity gets through.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: Any) -> str:
    text = fmt(value).replace("&", "&amp;").replace("<", "&lt;").replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_table(columns: Sequence[str], rows: Iterable[Row]) -> list[str]:
    lines = ["| " + " | ".join(md(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(md(v) for v in row) + " |" for row in rows]
    return lines


def _md_block(block: Block, limit: int, cap: int, pointer: str) -> list[str]:
    rows, hidden = block.visible(cap)
    keep = _shown_columns(block.columns, rows)
    more = f"… and {hidden} more" if hidden else ""
    if hidden and pointer and len(rows) < len(block.rows):     # cut here, not already by the runner
        more += f" ({pointer})"
    title = f"{md(block.title)} ({block.count})"
    if len(keep) <= 1:
        i = keep[0] if keep else 0
        body = [f"- {md(r[i])}" for r in rows] + ([f"- {md(more)}"] if more else [])
    else:
        body = md_table([block.columns[i] for i in keep], [tuple(r[i] for i in keep) for r in rows])
        body += ["", md(more)] if more else []
    if block.count > limit and not block.full:
        return [f"<details><summary>{title}</summary>", "", *body, "", "</details>", ""]
    return [f"**{title}**", "", *body, ""]


def _markdown(doc: Doc, limit: int, cap: int, pointer: str, *, sections: bool = True) -> str:
    out = [f"**{md(doc.summary)}**", "", f"_{md(doc.heading)}_", ""]
    if doc.overview_rows:
        keep = _shown_columns(doc.overview_columns, doc.overview_rows)
        out += md_table([doc.overview_columns[i] for i in keep],
                        [tuple(r[i] for i in keep) for r in doc.overview_rows]) + [""]
    shown = [s for s in doc.sections if not s.empty] if sections else []
    for section in shown:
        out += [f"#### {md(section.name)}: {md(section.status)}", "", md(section.subtitle), ""]
        for block in section.blocks:
            out += _md_block(block, limit, cap, pointer)
        if section.notes:
            out += [f"- {md(n.text(min(cap, limit)))}" for n in section.notes] + [""]
    if not sections and any(not s.empty for s in doc.sections):
        out += [md(f"Per-store details left out to fit a comment; {pointer or 'see the full output'}."), ""]
    if doc.calls:
        out += [f"<details><summary>{md(calls_line(doc.calls, doc.calls_what))}</summary>", "",
                *md_table(("system", "endpoint", "calls"), calls_rows(doc.calls)), "", "</details>", ""]
    elif doc.calls is not None:
        out += [md(calls_line(doc.calls, doc.calls_what)), ""]
    return "\n".join(out).rstrip() + "\n"


def render_markdown(doc: Doc, limit: int = LIMIT, *, budget: int = MD_BUDGET, pointer: str | None = None) -> str:
    """Markdown no longer than `budget` characters: lists are cut shorter and shorter (each saying
    "… and N more", with `pointer` to the full version) until it fits; as a last resort the
    per-store details go and only the summary and the overview remain (cut, if even they are
    too long)."""
    where = doc.pointer if pointer is None else pointer
    for cap in (MD_CAP, 100, 50, 20, 10, 5, 2):
        text = _markdown(doc, limit, cap, where)
        if len(text) <= budget:
            return text
    text = _markdown(doc, limit, 0, where, sections=False)
    if len(text) <= budget:
        return text
    tail = f"\n\n… cut to fit a comment; {where or 'see the full output'}.\n"
    return text[:max(0, budget - len(tail))].rsplit("\n", 1)[0] + tail


# --- HTML ------------------------------------------------------------------------------------------

class Raw(str):
    """HTML already escaped by this module."""


def h(value: Any) -> str:
    return value if isinstance(value, Raw) else html.escape(fmt(value), quote=True)


def colored(text: str, status: str) -> str:
    color = COLORS.get(status.lower(), "inherit")
    return f'<span style="color:{color};font-weight:bold">{h(text)}</span>'


# Borders and padding come from table attributes, not a style on every cell: a 50-SKU plan was
# 42 KB of mostly repeated cell styles. Jupyter's own table CSS still wins where it applies.
_TABLE = '<table border="1" cellpadding="3" style="border-collapse:collapse;margin:4px 0;font-size:90%">'


def html_table(columns: Sequence[str], rows: Sequence[Row], limit: int | None, caption: str = "",
               total: int | None = None) -> str:
    visible = list(rows) if limit is None else list(rows)[:limit]
    hidden = (total if total is not None else len(rows)) - len(visible)
    keep = _shown_columns(columns, visible)
    parts = [_TABLE]
    if caption:
        parts.append(f'<caption style="text-align:left;font-weight:bold;white-space:nowrap">{h(caption)}</caption>')
    parts.append("<tr>" + "".join(f'<th style="text-align:left">{h(columns[i])}</th>' for i in keep) + "</tr>")
    for row in visible:
        parts.append("<tr>" + "".join(f"<td>{h(row[i])}</td>" for i in keep) + "</tr>")
    if hidden:
        parts.append(f'<tr><td colspan="{max(1, len(keep))}">… and {hidden} more</td></tr>')
    parts.append("</table>")
    return "".join(parts)


def _html_list(title: str, items: Sequence[Any], hidden: int) -> str:
    lis = "".join(f"<li>{h(i)}</li>" for i in items) + (f"<li>… and {hidden} more</li>" if hidden else "")
    return f'<div style="margin:4px 0"><b>{h(title)}</b><ul style="margin:2px 0">{lis}</ul></div>'


def _html_block(block: Block, limit: int) -> str:
    rows: Sequence[Row] = block.rows
    if block.status_col is not None:
        i = block.status_col
        rows = [(*r[:i], Raw(colored(str(r[i]), str(r[i]))), *r[i + 1:]) for r in rows]
    shown, hidden = block.visible(None if block.full else limit)
    keep = _shown_columns(block.columns, shown)
    title = f"{block.title} ({block.count})"
    if len(keep) <= 1:
        i = keep[0] if keep else 0
        return _html_list(title, [r[i] for r in list(rows)[:len(shown)]], hidden)
    return html_table(block.columns, rows, None if block.full else limit, title, block.count)


def _html_notes(notes: Sequence[Note], limit: int) -> str:
    """One two-column table for all of a section's notes; a label never wraps (it is short), the
    items do."""
    rows = []
    for n in notes:
        if n.items is None:
            label, items = (n.label or "note"), fmt(n.value)
        else:
            label, items = f"{n.label} ({n.count})", n.text(limit).split("): ", 1)[1]
        rows.append(f'<tr><td data-note style="white-space:nowrap">{h(label)}</td><td>{h(items)}</td></tr>')
    return f'{_TABLE}<tr><th style="text-align:left">note</th><th style="text-align:left">items</th></tr>' \
           f'{"".join(rows)}</table>'


def render_html(doc: Doc, limit: int = LIMIT) -> str:
    status_col = 1  # overview tables put the status (or state) second
    overview = [tuple(Raw(colored(str(v), str(v))) if i == status_col else v for i, v in enumerate(row))
                for row in doc.overview_rows]
    parts = ['<div class="katana-woo">', f"<p><b>{h(doc.summary)}</b><br><small>{h(doc.heading)}</small></p>"]
    if overview:
        parts.append(html_table(doc.overview_columns, overview, None))
    shown = [s for s in doc.sections if not s.empty]
    for section in shown:
        opened = " open" if len(shown) == 1 or section.status.lower() in ("failed", "error") else ""
        parts.append(f"<details{opened}><summary><b>{h(section.name)}</b> {colored(section.status, section.status)} "
                     f"{h(section.subtitle)}</summary>")
        parts.extend(_html_block(block, limit) for block in section.blocks)
        if section.notes:
            parts.append(_html_notes(section.notes, limit))
        parts.append("</details>")
    if doc.calls is not None:
        if doc.calls:
            parts.append(f"<details><summary>{h(calls_line(doc.calls, doc.calls_what))}</summary>"
                         + html_table(("system", "endpoint", "calls"), calls_rows(doc.calls), None) + "</details>")
        else:
            parts.append(f"<p><small>{h(calls_line(doc.calls, doc.calls_what))}</small></p>")
    parts.append("</div>")
    return "".join(parts)
