"""The service's durable inbox: webhook deliveries written before they are acknowledged.

Callers: `State` inherits these methods (`InboxMixin`); `service.receiver` adds a delivery with
`inbox_add` (the acknowledgement is sent only after that commit), `service.worker` reads
`inbox_pending`, then marks entries with `inbox_finish` (once: only a pending row changes) or
counts a failed attempt with `inbox_retry`; `/metrics` and tests read `inbox_depth` and
`inbox_entries`; the receiver's connection leaves WAL checkpoints to the loop
(`inbox_defer_checkpoints`, `inbox_checkpoint`). Written in the SQL both backends speak, like the rest of `State`.

What is kept is a *hint*, never a payload: the source, the store, the topic, the resource and its
id (a WooCommerce order body carries the buyer's address; the state keeps no customer data). The
worker re-reads the resource by id, so nothing here has to be trusted beyond "look at this".

Deduplication happens here, in one transaction per delivery:
* by delivery id: `UNIQUE (source, store, delivery_id)`; a second delivery of one id is `duplicate`
  (nothing written);
* by resource: a delivery whose resource already waits in the inbox is stored `coalesced` into
  that entry (kept for the record, never processed on its own).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ._rows import _iso

INBOX_STATUSES = ("pending", "done", "coalesced")
_COLUMNS = ("id", "source", "store", "delivery_id", "topic", "resource", "resource_id", "received_at", "status",
            "attempts", "processed_at", "version", "outcome")


@dataclasses.dataclass(frozen=True)
class InboxEntry:
    """One delivery as the inbox keeps it (`status`: pending, done or coalesced)."""
    id: int
    source: str            # "woocommerce" | "katana"
    store: str             # the store's name for WooCommerce; "" for Katana (the account)
    delivery_id: str
    topic: str             # "order.created", "sales_order.updated", "current_inventory.product_updated", ...
    resource: str          # "order", "sales_order", "current_inventory", ...
    resource_id: str
    received_at: datetime
    status: str
    attempts: int = 0
    processed_at: datetime | None = None
    version: str = ""      # what the worker saw when it re-read the resource (e.g. date_modified_gmt)
    outcome: str = ""


@dataclasses.dataclass(frozen=True)
class InboxAdded:
    """What `inbox_add` did: `new` (pending, to be processed), `coalesced` into a pending entry of
    the same resource, or `duplicate` (this delivery id was stored already)."""
    result: str
    entry_id: int | None


def _entry(row: tuple[Any, ...]) -> InboxEntry:
    cells = dict(zip(_COLUMNS, row))
    cells["received_at"] = datetime.fromisoformat(cells["received_at"])
    cells["processed_at"] = datetime.fromisoformat(cells["processed_at"]) if cells["processed_at"] else None
    return InboxEntry(**cells)


class InboxMixin:
    """The inbox methods of `State` (they use its `_tx`, `_query` and `_now`)."""

    def inbox_add(self: Any, source: str, store: str, delivery_id: str, topic: str, resource: str,
                  resource_id: str, *, rearm_done: bool = False) -> InboxAdded:
        """Store a delivery, deduplicated by delivery id and by resource (see the module docstring).

        `rearm_done`: a delivery id seen before whose entry is done is stored again as new (under
        `<id>#<n>`): for a source that gives no delivery id and whose identical bodies can mean a
        new change of the same resource (Katana; its own retries are not re-armed by the caller).
        """
        now = _iso(self._now())
        with self._tx() as conn:
            known = conn.execute("SELECT id, status FROM inbox WHERE source = ? AND store = ? AND delivery_id = ?",
                                 (source, store, delivery_id)).fetchone()
            if known is not None:
                if not (rearm_done and known[1] == "done"):
                    return InboxAdded("duplicate", known[0])
                count = conn.execute("SELECT COUNT(*) FROM inbox WHERE source = ? AND store = ? AND "
                                     "(delivery_id = ? OR delivery_id LIKE ?)",
                                     (source, store, delivery_id, delivery_id + "#%")).fetchone()[0]
                delivery_id = f"{delivery_id}#{count}"
            waiting = conn.execute("SELECT id FROM inbox WHERE source = ? AND store = ? AND resource = ? AND "
                                   "resource_id = ? AND status = 'pending' ORDER BY id LIMIT 1",
                                   (source, store, resource, resource_id)).fetchone()
            status, processed, outcome = "pending", None, ""
            if waiting is not None:
                status, processed, outcome = "coalesced", now, f"coalesced into #{waiting[0]}"
            entry_id = self._db.insert_id(
                conn, "INSERT INTO inbox (source, store, delivery_id, topic, resource, resource_id, received_at, "
                "status, processed_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (source, store, delivery_id, topic, resource, str(resource_id), now, status, processed, outcome))
        return InboxAdded("new" if waiting is None else "coalesced", entry_id)

    def inbox_pending(self: Any, limit: int = 500) -> list[InboxEntry]:
        """Pending entries, oldest first."""
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM inbox WHERE status = 'pending' ORDER BY id LIMIT ?",
                           (int(limit),))
        return [_entry(r) for r in rows]

    def inbox_finish(self: Any, ids: Iterable[int], outcome: str, *, version: dict[int, str] | None = None) -> int:
        """Mark pending entries done, each once: an entry no longer pending is left alone (so two
        workers, or a worker and a restart, never finish one twice). Returns how many changed."""
        changed = 0
        now = _iso(self._now())
        with self._tx() as conn:
            for entry_id in ids:
                seen = (version or {}).get(entry_id, "")
                cur = conn.execute("UPDATE inbox SET status = 'done', processed_at = ?, outcome = ?, version = ? "
                                   "WHERE id = ? AND status = 'pending'", (now, outcome[:500], seen, int(entry_id)))
                changed += cur.rowcount
        return changed

    def inbox_retry(self: Any, ids: Iterable[int], outcome: str) -> None:
        """Count a failed attempt; the entries stay pending for the next try."""
        with self._tx() as conn:
            for entry_id in ids:
                conn.execute("UPDATE inbox SET attempts = attempts + 1, outcome = ? WHERE id = ? AND status = 'pending'",
                             (outcome[:500], int(entry_id)))

    def inbox_last_version(self: Any, source: str, store: str, resource: str, resource_id: str) -> str | None:
        """The version the worker last saw of a resource it finished (None: never)."""
        rows = self._query("SELECT version FROM inbox WHERE source = ? AND store = ? AND resource = ? AND "
                           "resource_id = ? AND status = 'done' AND version <> '' ORDER BY id DESC LIMIT 1",
                           (source, store, resource, str(resource_id)))
        return rows[0][0] if rows else None

    def inbox_depth(self: Any) -> int:
        return int(self._query("SELECT COUNT(*) FROM inbox WHERE status = 'pending'")[0][0])

    def inbox_entries(self: Any, *, status: str | None = None, limit: int = 10_000) -> list[InboxEntry]:
        """Entries, oldest first (all, or of one status)."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM inbox {where} ORDER BY id LIMIT ?",
                           (*params, int(limit)))
        return [_entry(r) for r in rows]

    def inbox_prune(self: Any, older_than: timedelta) -> int:
        """Forget finished entries older than `older_than` (a replay older than that is processed
        again: harmless, since every action is idempotent, and the table stays small)."""
        cutoff = _iso(self._now() - older_than)
        with self._tx() as conn:
            pruned: int = conn.execute("DELETE FROM inbox WHERE status <> 'pending' AND received_at < ?",
                                       (cutoff,)).rowcount
            return pruned

    def inbox_defer_checkpoints(self: Any) -> None:
        """For the receiver's own connection: never run a WAL checkpoint inside an acknowledgement.

        SQLite (WAL, `synchronous=NORMAL`) makes a commit durable against a crash of the process once
        it is in the WAL file, without waiting for the disk; what can take tens of milliseconds is the
        checkpoint that SQLite runs in whichever connection's commit fills the WAL past 1,000 pages.
        On this connection it is switched off, and the service's loop runs it (`inbox_checkpoint`)
        between its runs. PostgreSQL: nothing to do (its commits are the server's business)."""
        if self._db.kind == "sqlite" and self._db.path is not None:
            with self._mutex:
                self._live().conn.execute("PRAGMA wal_autocheckpoint = 0")

    def inbox_checkpoint(self: Any) -> None:
        """A passive WAL checkpoint (SQLite): copies what it can back into the database file without
        blocking the receiver's writes. Called by the service's loop, outside any acknowledgement."""
        if self._db.kind == "sqlite" and self._db.path is not None:
            with self._mutex:
                self._live().conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def sales_order_imported_here(self: Any, sales_order_id: int) -> bool:
        """Whether the ledger records `sales_order_id` as one this state's runs imported (a Katana
        `sales_order.created` event for it is the echo of our own import)."""
        return bool(self._query("SELECT 1 FROM order_ledger WHERE sales_order_id = ? AND status = 'imported' "
                                "LIMIT 1", (int(sales_order_id),)))


__all__ = ["InboxMixin", "InboxEntry", "InboxAdded", "INBOX_STATUSES"]
