"""Twins that two runners created: every run checks what it created, and repairs.

Called by the runner after a store's imports (`repair_duplicates`: sales orders by their natural
key) and once per run after every store's imports (`repair_customers`: customers are shared by the
stores). On one machine the store locks (`locks`) keep two runners off one store; across machines,
or when a listing lagged, both can look a key up, find nothing and create. The rule is the same for
both: keep the oldest, delete the newer (a sales order only while NOT_SHIPPED or PENDING; a shipped
one is reported, never touched), point what used the newer at the oldest, and say so in the report.
The initial import's adjustment has its own check in `initial_import`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from ..config import StoreConfig
from ..errors import KatanaWooError, NotFoundError
from ..models import SalesOrder
from .context import RunContext

MARGIN = timedelta(minutes=5)   # clocks differ: a twin may look a little older than this run


@dataclass(frozen=True)
class Repair:
    """A duplicate a run found among the keys it created, and what it did about it."""

    woo_order_id: int
    kept: int
    duplicate: int
    deleted: bool
    message: str

    def __str__(self) -> str:
        return self.message


def repair_duplicates(ctx: RunContext, store: StoreConfig, created: Mapping[int, int],
                      since: datetime) -> tuple[Repair, ...]:
    """Check the keys this run created (`created`: woo order id -> sales order id) for a second
    live sales order with the same key; keep the oldest, delete the newer while NOT_SHIPPED or
    PENDING, report either way. One listing of the store's orders created since `since`."""
    if not created:
        return ()
    listed = ctx.katana.sales_orders.list(ecommerce_store_name=store.ecommerce_store_name,
                                          created_after=since - MARGIN)
    by_key: dict[str, list[SalesOrder]] = {}
    for so in listed:
        if so.deleted_at is None and so.ecommerce_order_id is not None:
            by_key.setdefault(so.ecommerce_order_id, []).append(so)
    repairs = []
    for woo_id in sorted(created):
        copies = sorted(by_key.get(str(woo_id), ()), key=lambda so: so.id)
        if not copies:
            continue
        keep = copies[0]       # ours may be gone already: the other runner's check deleted it
        for dup in copies[1:]:
            if dup.is_open:
                try:
                    ctx.katana.sales_orders.delete(dup.id)
                    deleted, how = True, "deleted it"
                except NotFoundError:
                    deleted, how = True, "it was deleted meanwhile"
                except KatanaWooError as exc:
                    deleted, how = False, f"could not delete it: {exc}"
            else:
                deleted, how = False, f"it is {dup.status}, so it was left for you to resolve"
            repairs.append(Repair(woo_id, keep.id, dup.id, deleted,
                                  f"order #{woo_id} had two sales orders ({keep.order_no} #{keep.id} and "
                                  f"{dup.order_no} #{dup.id}): kept the older, {how}"))
        ctx.remember_order(store, keep)
        entry = ctx.state.ledger_get(store.name, woo_id)
        if entry is not None and entry.sales_order_id != keep.id:
            ctx.state.ledger_put(replace(entry, sales_order_id=keep.id, order_no=keep.order_no,
                                         location_id=keep.location_id))
    return tuple(repairs)


def repair_customers(ctx: RunContext, created: Mapping[int, Sequence[int]], since: datetime) -> tuple[str, ...]:
    """Customers this run created (`created`: customer id -> the sales orders given it) that another
    runner created too (both looked the e-mail up, both found none): the older is kept, our orders
    are pointed at it and ours is deleted. One listing of the customers created since `since`."""
    if not created:
        return ()
    recent = ctx.katana.customers.created_since(since - MARGIN)
    by_email: dict[str, list[Any]] = {}
    for c in recent:
        if c.email:
            by_email.setdefault(c.email.strip().lower(), []).append(c)
    ours = {c.id: c for c in recent if c.id in created}
    out = []
    for cid, so_ids in created.items():
        mine = ours.get(cid)
        if mine is None or not mine.email:
            continue
        oldest = min(by_email.get(mine.email.strip().lower(), [mine]), key=lambda c: c.id)
        if oldest.id == cid:
            continue
        try:
            for so_id in so_ids:
                so = ctx.katana.sales_orders.get(so_id)
                if so.deleted_at is None:      # a sales order deleted as a twin needs no customer
                    ctx.katana.sales_orders.set_customer(so, oldest.id)
            ctx.katana.customers.delete(cid)
            ctx.remember_customer(mine.email, oldest)
            out.append(f"customer #{cid} duplicated #{oldest.id} (same e-mail, created by two runners): "
                       f"its {len(so_ids)} sales order(s) now use #{oldest.id}, #{cid} was deleted")
        except KatanaWooError as exc:
            out.append(f"customer #{cid} duplicates #{oldest.id} (same e-mail); it could not be merged: {exc}")
    return tuple(out)
