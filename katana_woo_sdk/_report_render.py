"""The three writers behind `report`: one neutral document out as text, Markdown or HTML.

Only `report` calls this module. `report` turns a Plan, Report or Status into a `Doc` (a summary
line, an overview table, one section per store made of `Block`s of rows); the writers here know
nothing about plans, so the three formats cannot drift apart. Every value is escaped for its
format: Markdown specials and `<`/`&` for a PR comment, `html.escape` for notebooks.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

MD_CAP = 200      # items inside a Markdown <details> block: a PR comment holds at most 65536 characters

_GREEN, _BLUE, _AMBER, _RED, _GREY, _PURPLE = "#1a7f37", "#0969da", "#9a6700", "#cf222e", "#6e7781", "#8250df"
COLORS = {
    "ok": _GREEN, "ready": _GREEN, "true": _GREEN, "applied": _BLUE, "changes": _BLUE,
    "attention": _AMBER, "degraded": _AMBER, "replanned": _PURPLE, "blocked": _RED, "error": _RED,
    "failed": _RED, "false": _RED, "disabled": _GREY, "unknown": _GREY, "skipped": _GREY, "dropped": _GREY,
}


# --- small formatting helpers ---------------------------------------------------------------------

def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def fmt(value: Any) -> str:
    """A figure for people: 5 not 5.000, "none" for a missing one."""
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return ts(value)
    return str(value)


def ts(value: datetime | str | None) -> str:
    if value is None:
        return "never"
    if isinstance(value, str):
        return value
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def calls_line(calls: Mapping[str, int], what: str) -> str:
    if not calls:
        return f"Calls {what}: none."
    systems: dict[str, int] = {}
    for key, n in calls.items():
        systems[key.split(" ", 1)[0]] = systems.get(key.split(" ", 1)[0], 0) + n
    parts = ", ".join(f"{s} {n}" for s, n in sorted(systems.items()))
    return f"Calls {what}: {parts} ({sum(systems.values())} total)."


def calls_rows(calls: Mapping[str, int]) -> list[tuple]:
    rows = []
    for key, n in sorted(calls.items()):
        system, _, endpoint = key.partition(" ")
        rows.append((system, endpoint, n))
    return rows


# --- the neutral document ---------------------------------------------------------------------------

@dataclass
class Block:
    title: str                               # a plural noun: "order imports", "held orders"
    columns: tuple[str, ...]
    rows: list[tuple]
    line: Callable[[tuple], str] | None = None   # text: one line per row; None = inline "title (N): a, b"
    heading: bool = False                    # text: a "title (N):" line above the rows
    full: bool = False                       # never truncated (failures, errors)
    status_col: int | None = None            # HTML: the column whose value is a status to colour
    total: int | None = None                 # the full count when `rows` is already cut short

    @property
    def count(self) -> int:
        return self.total if self.total is not None else len(self.rows)

    def visible(self, limit: int | None) -> tuple[list, int]:
        """The rows to show within `limit`, and how many are left out."""
        rows = self.rows if self.full or limit is None else self.rows[:limit]
        return rows, self.count - len(rows)


@dataclass
class Section:
    name: str
    status: str
    subtitle: str                            # mapping, or location for status
    header: str                              # the text header line
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Doc:
    kind: str                                # "plan" | "report" | "status"
    heading: str                             # first text line (what, when)
    summary: str                             # the one status line
    overview_columns: tuple[str, ...]
    overview_rows: list[tuple]
    sections: list[Section]
    calls: Mapping[str, int] | None = None
    calls_what: str = ""


# --- renderers --------------------------------------------------------------------------------------

_EMPTY = {"plan": "nothing to do", "report": "nothing applied", "status": "no conditions recorded yet"}


def render_text(doc: Doc, limit: int | None) -> str:
    out = [doc.heading, ""]
    for section in doc.sections:
        out.append(section.header)
        for block in section.blocks:
            rows, hidden = block.visible(limit)
            more = f"… and {hidden} more" if hidden else ""
            if block.line is None:
                items = ", ".join(fmt(r[0]) for r in rows) + (f", {more}" if more else "")
                out.append(f"  note: {block.title} ({block.count}): {items}")
                continue
            indent = "  "
            if block.heading:
                out.append(f"  {block.title} ({block.count}):")
                indent = "    "
            out.extend(indent + block.line(r) for r in rows)
            if more:
                out.append(f"{indent}{more} {block.title}")
        if not section.blocks:
            out.append(f"  ({_EMPTY.get(doc.kind, 'nothing')})")
        out.append("")
    out.append(doc.summary)
    if doc.calls is not None:
        out.append(calls_line(doc.calls, doc.calls_what))
    return "\n".join(out)


# Inline Markdown specials; "<" and "&" become entities so no HTML tag or entity gets through.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: Any) -> str:
    text = fmt(value).replace("&", "&amp;").replace("<", "&lt;").replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_table(columns: Sequence[str], rows: Iterable[tuple]) -> list[str]:
    lines = ["| " + " | ".join(md(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(md(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(doc: Doc, limit: int) -> str:
    out = [f"**{md(doc.summary)}**", "", f"_{md(doc.heading)}_", ""]
    out += md_table(doc.overview_columns, doc.overview_rows) + [""]
    for section in doc.sections:
        if not section.blocks:
            continue
        out += [f"#### {md(section.name)}: {md(section.status)}", "", md(section.subtitle), ""]
        for block in section.blocks:
            rows, hidden = block.visible(MD_CAP)
            if block.line is None:
                body = [", ".join(md(r[0]) for r in rows) + (f", … and {hidden} more" if hidden else "")]
            else:
                body = md_table(block.columns, rows) + (["", f"… and {hidden} more"] if hidden else [])
            title = f"{md(block.title)} ({block.count})"
            if block.count > limit and not block.full:
                out += [f"<details><summary>{title}</summary>", "", *body, "", "</details>", ""]
            else:
                out += [f"**{title}**", "", *body, ""]
    if doc.calls:
        rows = calls_rows(doc.calls)
        out += [f"<details><summary>{md(calls_line(doc.calls, doc.calls_what))}</summary>", "",
                *md_table(("system", "endpoint", "calls"), rows), "", "</details>", ""]
    elif doc.calls is not None:
        out += [md(calls_line(doc.calls, doc.calls_what)), ""]
    return "\n".join(out).rstrip() + "\n"


class Raw(str):
    """HTML already escaped by this module."""


def h(value: Any) -> str:
    return value if isinstance(value, Raw) else html.escape(fmt(value), quote=True)


def colored(text: str, status: str) -> str:
    color = COLORS.get(status.lower(), "inherit")
    return f'<span style="color:{color};font-weight:bold">{h(text)}</span>'


_TABLE = '<table style="border-collapse:collapse;margin:4px 0;font-size:90%">'
_CELL = 'style="border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top"'


def html_table(columns: Sequence[str], rows: Sequence[tuple], limit: int | None, caption: str = "",
               total: int | None = None) -> str:
    visible = list(rows) if limit is None else list(rows)[:limit]
    hidden = (total if total is not None else len(rows)) - len(visible)
    parts = [_TABLE]
    if caption:
        parts.append(f'<caption style="text-align:left;font-weight:bold">{h(caption)}</caption>')
    parts.append("<tr>" + "".join(f"<th {_CELL}>{h(c)}</th>" for c in columns) + "</tr>")
    for row in visible:
        parts.append("<tr>" + "".join(f"<td {_CELL}>{h(v)}</td>" for v in row) + "</tr>")
    if hidden:
        parts.append(f'<tr><td {_CELL} colspan="{len(columns)}">… and {hidden} more</td></tr>')
    parts.append("</table>")
    return "".join(parts)


def render_html(doc: Doc, limit: int) -> str:
    status_col = 1  # overview tables put the status (or state) second
    overview = [tuple(Raw(colored(str(v), str(v))) if i == status_col else v for i, v in enumerate(row))
                for row in doc.overview_rows]
    parts = ['<div class="katana-woo">', f"<p><b>{h(doc.summary)}</b><br><small>{h(doc.heading)}</small></p>",
             html_table(doc.overview_columns, overview, None)]
    for section in doc.sections:
        if not section.blocks:
            continue
        parts.append(f"<details open><summary><b>{h(section.name)}</b> {colored(section.status, section.status)} "
                     f"{h(section.subtitle)}</summary>")
        for block in section.blocks:
            rows = block.rows
            if block.status_col is not None:
                i = block.status_col
                rows = [(*r[:i], Raw(colored(str(r[i]), str(r[i]))), *r[i + 1:]) for r in rows]
            parts.append(html_table(block.columns, rows, None if block.full else limit,
                                    f"{block.title} ({block.count})", block.count))
        parts.append("</details>")
    if doc.calls is not None:
        parts.append(html_table(("system", "endpoint", "calls"), calls_rows(doc.calls), None,
                                calls_line(doc.calls, doc.calls_what)))
    parts.append("</div>")
    return "".join(parts)
