"""Order import: WooCommerce orders become Katana sales orders at the store's mapped location,
exactly once.

Called by the runner: `read_orders` (the store's candidates), `plan_orders` (reads only: one
`order.import` action per importable order, a `Hold` per order that cannot be imported yet) and
`apply_import` (creates the customer, tax rates, sales order and shipping fee, then the ledger).

Exactly once rests on Katana, not on local memory: every sales order carries
`ecommerce_store_name` + `ecommerce_order_id`, and before creating anything the store's orders are
listed from Katana with deleted ones included (re-checked client-side, since Katana ignores
filters it does not know). So a lost state, a crash between create and ledger, or a sales order
deleted in Katana never leads to a second import. A create that failed with a 5xx or a timeout
may have succeeded; it is looked up before it is tried again.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from ..config import StoreConfig
from ..errors import KatanaWooError, RejectedError, ServerError, TransportError, UnexpectedResponseError
from ..models import (AddressDraft, CustomerDraft, Location, SalesOrder, SalesOrderDraft, SalesOrderRowDraft,
                      WooOrder, dec, parse_datetime)
from ..plan import Action, Hold, fingerprint
from ..state import LedgerEntry
from .context import RunContext, StoreRead

log = logging.getLogger(__name__)

CURSOR = "orders.modified_after"
# WooCommerce reduces stock when an order enters these statuses (recorded on a real 10.0.2 store).
STOCK_TAKING_STATUSES = ("processing", "on-hold", "completed")
CENT = Decimal("0.0001")
PAGE = 100  # WooCommerce's per_page maximum


# --- reading -------------------------------------------------------------------------------------

def read_orders(ctx: RunContext, store: StoreConfig) -> StoreRead:
    """Candidates since the cursor (minus an overlap window, in GMT), held orders again by id, and
    the stock-taking orders that will not be imported (for the stock figure)."""
    woo, opts = ctx.woo[store.name], store.orders
    read = StoreRead()
    cursor = ctx.state.get_cursor(store.name, CURSOR)
    if cursor:
        since = parse_datetime(cursor) - timedelta(minutes=opts.overlap_minutes)
    else:
        since = opts.since
    seen: dict[int, WooOrder] = {}
    for order in _walk_modified(woo, tuple(opts.statuses), since):
        seen[order.id] = order
        if order.date_modified_gmt and (read.newest_modified is None or order.date_modified_gmt > read.newest_modified):
            read.newest_modified = order.date_modified_gmt
    held_ids = [oid for oid, e in ctx.state.ledger(store.name, status="held").items() if oid not in seen]
    if held_ids:
        read.held_refetched = list(woo.orders.iter(statuses=("any",), include=held_ids, orderby="id"))
        for order in read.held_refetched:
            seen.setdefault(order.id, order)
    read.orders = sorted(seen.values(), key=lambda o: o.id)
    # Orders WooCommerce already took stock for that this run will not import (e.g. on-hold when
    # only processing is imported): Katana does not commit them, so the pushed figure must.
    extra = [s for s in STOCK_TAKING_STATUSES if s not in opts.statuses and s != "completed"]
    if extra:
        imported = ctx.state.ledger(store.name, status="imported")
        read.uncommitted = [o for o in woo.orders.iter(statuses=tuple(extra))
                            if o.id not in imported and str(o.id) not in ctx.katana_orders(store)]
    ctx.reads[store.name] = read
    return read


def _walk_modified(woo, statuses: tuple[str, ...], since: datetime | None):
    """Orders modified after `since`, oldest change first, read as a keyset walk: every request is
    the first page after the last change seen (less a second, as `modified_after` is exclusive and
    to the second). Page numbers would shift under an order changed or closed during the walk and
    skip the order that slid onto an already-read page, for good, once the cursor moved past it;
    restarting from the last change cannot skip. Repeats are dropped by id by the caller."""
    after, page = since, 1
    while True:
        batch = list(itertools.islice(woo.orders.iter(statuses=statuses, modified_after=after, page=page,
                                                      per_page=PAGE), PAGE))
        yield from batch
        if len(batch) < PAGE:
            return
        last = batch[-1].date_modified_gmt
        next_after = last - timedelta(seconds=1) if last is not None else None
        if next_after is not None and (after is None or next_after > after):
            after, page = next_after, 1
        else:
            page += 1          # more than a page changed within one second: page through that second


# --- planning ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrdersPlan:
    actions: tuple[Action, ...]
    holds: tuple[Hold, ...]
    recovered: int              # already in Katana but missing from the ledger (state lost / crash)
    pending_qty: Mapping[int, Decimal]  # variant id -> quantity WooCommerce took that Katana has not committed


def plan_orders(ctx: RunContext, store: StoreConfig, location: Location, read: StoreRead) -> OrdersPlan:
    opts = store.orders
    ledger = ctx.state.ledger(store.name)
    existing = ctx.katana_orders(store)
    variants = ctx.variants_by_sku()
    actions: list[Action] = []
    holds: list[Hold] = []
    pending: dict[int, Decimal] = {}
    recovered = 0
    for order in read.orders:
        entry = ledger.get(order.id)
        if entry is not None and entry.status == "imported":
            continue
        so = existing.get(str(order.id))
        if so is not None:
            # Already in Katana (lost state, or a crash between create and ledger): never created
            # again, but what the interrupted import had still to do (the shipping fee) is finished.
            completion = _completion(store, order, so)
            if completion is None:
                recovered += 1
            else:
                actions.append(completion)
            continue
        if order.status not in opts.statuses:
            continue  # a held order that left the imported statuses (e.g. cancelled): nothing to do
        draft, hold = build_payload(ctx, store, location, order, variants)
        add_quantities(pending, variant_quantities(order, variants))
        if hold is not None:
            holds.append(hold)
            continue
        actions.append(Action(
            store=store.name, kind="order.import", key=f"order:{order.id}",
            summary=f"{draft['order_no']}: {len(draft['rows'])} rows -> {location.name}",
            before=None, after={"order_no": draft["order_no"], "location_id": location.id,
                                "rows": [[r["sku"], r["quantity"]] for r in draft["rows"]]},
            fingerprint=fingerprint(draft), payload=draft))
    for order in read.uncommitted:
        add_quantities(pending, variant_quantities(order, variants))
    return OrdersPlan(tuple(actions), tuple(holds), recovered, pending)


def _line_quantities(order: WooOrder) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for li in order.line_items:
        if li.sku:
            out[li.sku] = out.get(li.sku, Decimal(0)) + Decimal(li.quantity)
    return out


def variant_quantities(order: WooOrder, variants: Mapping[str, Any]) -> dict[int, Decimal]:
    """Katana variant id -> quantity on the order's lines whose SKU Katana knows."""
    out: dict[int, Decimal] = {}
    for sku, qty in _line_quantities(order).items():
        if sku in variants:
            out[variants[sku].id] = out.get(variants[sku].id, Decimal(0)) + qty
    return out


def add_quantities(into: dict[int, Decimal], quantities: Mapping[int, Decimal]) -> None:
    for variant_id, qty in quantities.items():
        into[variant_id] = into.get(variant_id, Decimal(0)) + qty


def build_payload(ctx: RunContext, store: StoreConfig, location: Location, order: WooOrder,
                  variants: Mapping[str, Any]) -> tuple[dict[str, Any], Hold | None]:
    """The JSON-able description of the sales order to create, or why the order must wait."""
    def hold(reason: str, detail: str) -> tuple[dict[str, Any], Hold]:
        return {}, Hold(store.name, order.id, order.number, reason, detail)

    if not order.line_items:
        return hold("no_lines", "the order has no line items")
    rows = []
    tax_percent_by_rate_id = {int(t.get("rate_id") or 0): dec(t.get("rate_percent"), None)
                              for t in order.tax_lines}
    for li in order.line_items:
        if not li.sku and li.product_id == 0:
            return hold("deleted_product", f"line {li.name!r}: the product was deleted in WooCommerce and "
                                           f"the line has no SKU; recreate it or edit the order")
        if not li.sku:
            return hold("no_sku", f"line {li.name!r} has no SKU; give the product a SKU that exists in Katana")
        variant = variants.get(li.sku)
        if variant is None:
            return hold("unknown_sku", f"SKU {li.sku!r} (line {li.name!r}) has no Katana variant "
                                       f"(SKUs match exactly and case-sensitively)")
        quantity = Decimal(li.quantity)
        if quantity <= 0:
            continue
        # WooCommerce keeps line subtotals ex tax even when the store's prices include tax, so the
        # unit price Katana wants (ex tax, like Katana's own integration) is subtotal / quantity.
        unit = (li.subtotal / quantity).quantize(CENT, ROUND_HALF_UP)
        discount = (li.subtotal - li.total).quantize(CENT, ROUND_HALF_UP)
        rows.append({"sku": li.sku, "variant_id": variant.id, "quantity": str(quantity), "price_per_unit": str(unit),
                     "total_discount": str(max(discount, Decimal(0))),
                     "tax_percent": _tax_percent(li, tax_percent_by_rate_id)})
    if not rows:
        return hold("no_lines", "no line has a positive quantity")
    customer = _customer(store, order)
    if customer is None:
        return hold("no_customer", "the order has neither a billing email nor a name")
    created = order.date_created_gmt or datetime.now(timezone.utc)
    return {
        "woo_order_id": order.id, "woo_number": order.number, "woo_modified": order.date_modified_gmt,
        "order_no": store.orders.order_no_format.format(store=store.name, number=order.number, id=order.id),
        "location_id": location.id, "currency": order.currency or None,
        "order_created_date": created.isoformat(),
        "delivery_date": (created + timedelta(days=store.orders.delivery_days)).isoformat(),
        "rows": rows, "customer": customer,
        "addresses": [a for a in (_address("billing", order.billing), _address("shipping", order.shipping)) if a],
        "shipping": _shipping(order),
    }, None


def _shipping(order: WooOrder) -> dict[str, Any] | None:
    """The shipping fee the sales order gets (ex tax, like the rows), or None."""
    if not order.shipping_total > 0:
        return None
    tax_percent = None
    if order.shipping_tax > 0:
        tax_percent = str((order.shipping_tax / order.shipping_total * 100).quantize(Decimal("0.001")))
    return {"amount": str(order.shipping_total), "tax_percent": tax_percent}


def _lacks_fee(so: SalesOrder, shipping: Mapping[str, Any] | None) -> bool:
    """A live sales order without the shipping fee its WooCommerce order has (Katana answers
    `shipping_fee` null or {} when there is none)."""
    return bool(shipping) and so.deleted_at is None and not so.raw.get("shipping_fee")


def _completion(store: StoreConfig, order: WooOrder, so: SalesOrder) -> Action | None:
    """An `order.import` action finishing a sales order an interrupted run created, or None."""
    shipping = _shipping(order)
    if not _lacks_fee(so, shipping):
        return None
    payload = {"woo_order_id": order.id, "woo_number": order.number, "order_no": so.order_no,
               "location_id": so.location_id, "sales_order_id": so.id, "shipping": shipping,
               "rows": [{"sku": sku, "quantity": str(qty)} for sku, qty in _line_quantities(order).items()]}
    return Action(store=store.name, kind="order.import", key=f"order:{order.id}",
                  summary=f"{so.order_no}: already in Katana (#{so.id}); add the missing shipping fee",
                  before={"order_no": so.order_no, "shipping_fee": None},
                  after={"order_no": so.order_no, "shipping_fee": shipping["amount"]},
                  fingerprint=fingerprint(payload), payload=payload)


def _tax_percent(li, by_rate_id: Mapping[int, Decimal | None]) -> str | None:
    if li.total_tax == 0 and li.subtotal_tax == 0:
        return None
    for tax in li.taxes:
        rate = by_rate_id.get(int(tax.get("id") or 0))
        if rate is not None:
            return str(rate.normalize())
    base = li.subtotal if li.subtotal else li.total
    if not base:
        return None
    taxed = li.subtotal_tax if li.subtotal else li.total_tax
    return str((taxed / base * 100).quantize(Decimal("0.001")).normalize())


def _customer(store: StoreConfig, order: WooOrder) -> dict[str, Any] | None:
    b = order.billing
    email = (b.get("email") or "").strip() or None
    name = " ".join(x for x in (b.get("first_name"), b.get("last_name")) if x).strip() or (b.get("company") or "")
    if not email and not name:
        return None
    reference = f"woo:{store.ecommerce_store_name}:{order.customer_id}" if order.customer_id else None
    return {"email": email, "name": name or email, "first_name": b.get("first_name") or None,
            "last_name": b.get("last_name") or None, "company": b.get("company") or None,
            "phone": b.get("phone") or None, "currency": order.currency or None, "reference_id": reference}


def _address(kind: str, a: Mapping[str, Any]) -> dict[str, Any] | None:
    if not any(a.get(k) for k in ("address_1", "city", "postcode", "country")):
        return None
    return {"entity_type": kind, "first_name": a.get("first_name") or None, "last_name": a.get("last_name") or None,
            "company": a.get("company") or None, "phone": a.get("phone") or None,
            "line_1": a.get("address_1") or None, "line_2": a.get("address_2") or None,
            "city": a.get("city") or None, "state": a.get("state") or None, "zip": a.get("postcode") or None,
            "country": a.get("country") or None}


# --- applying ------------------------------------------------------------------------------------

def apply_import(ctx: RunContext, store: StoreConfig, action: Action) -> dict[str, Any]:
    """Create the sales order described by `action.payload`; returns what was created."""
    p = action.payload
    woo_id = int(p["woo_order_id"])
    existing = ctx.katana_orders(store).get(str(woo_id))
    if existing is not None:
        result = {"sales_order_id": existing.id, "order_no": existing.order_no, "created": False,
                  "note": "already in Katana"}
        if _lacks_fee(existing, p.get("shipping")):
            _add_shipping_fee(ctx, store, existing, p["shipping"])
            result["shipping_fee"] = p["shipping"]["amount"]
        _record(ctx, store, p, existing)
        return result
    customer_id = _customer_id(ctx, p["customer"])
    rows = []
    for r in p["rows"]:
        tax_id = _tax_rate_id(ctx, r.get("tax_percent"))
        rows.append(SalesOrderRowDraft(int(r["variant_id"]), Decimal(r["quantity"]), Decimal(r["price_per_unit"]),
                                       tax_id, Decimal(r["total_discount"]), int(p["location_id"])))
    draft = SalesOrderDraft(
        order_no=p["order_no"], customer_id=customer_id, location_id=int(p["location_id"]), rows=tuple(rows),
        ecommerce_store_name=store.ecommerce_store_name, ecommerce_order_id=str(woo_id),
        order_created_date=parse_datetime(p["order_created_date"]), delivery_date=parse_datetime(p["delivery_date"]),
        currency=p.get("currency"), addresses=tuple(AddressDraft(**a) for a in p.get("addresses") or ()),
        additional_info=f"WooCommerce order #{p['woo_number']} from {store.ecommerce_store_name}")
    so = _create_once(ctx, store, draft)
    ctx.remember_order(store, so)
    ctx.forget_inventory(int(p["location_id"]))
    result = {"sales_order_id": so.id, "order_no": so.order_no, "created": True}
    # The fee before the ledger: an order the ledger calls imported is complete. If the fee fails
    # or the process dies here, the next run finds the sales order and adds the fee (`_completion`).
    if p.get("shipping"):
        _add_shipping_fee(ctx, store, so, p["shipping"])
        result["shipping_fee"] = p["shipping"]["amount"]
    _record(ctx, store, p, so)
    if store.orders.add_order_note:
        # A courtesy after the import is complete: its failure must not report the import as failed.
        try:
            ctx.woo[store.name].orders.add_note(woo_id, f"Imported to Katana as sales order {so.order_no}.")
        except KatanaWooError as exc:
            log.warning("%s: order #%s imported as %s, but the order note failed: %s",
                        store.name, p["woo_number"], so.order_no, exc)
            result["note_error"] = f"order note not added: {exc}"
    return result


def _add_shipping_fee(ctx: RunContext, store: StoreConfig, so: SalesOrder, shipping: Mapping[str, Any]) -> None:
    tax_id = _tax_rate_id(ctx, shipping.get("tax_percent"))
    fee = ctx.katana.sales_order_shipping_fee.create(so.id, Decimal(shipping["amount"]), "Shipping", tax_id)
    ctx.remember_order(store, replace(so, raw={**so.raw, "shipping_fee": fee or {"amount": shipping["amount"]}}))


def _create_once(ctx: RunContext, store: StoreConfig, draft: SalesOrderDraft) -> SalesOrder:
    """Create, but after an ambiguous failure look the order up before trying again, so a create
    that succeeded while its answer was lost is never repeated."""
    for attempt in (1, 2):
        try:
            return ctx.katana.sales_orders.create(draft)
        except (ServerError, UnexpectedResponseError, TransportError) as exc:
            if isinstance(exc, TransportError) and exc.connect_failed and attempt == 1:
                continue  # never reached Katana
            found = _lookup(ctx, store, draft)
            if found is not None:
                log.warning("create of %s failed (%s) but Katana has it as %s; not creating again",
                            draft.order_no, exc, found.order_no)
                return found
            if attempt == 2:
                raise
            log.warning("create of %s failed (%s) and Katana does not have it; trying once more", draft.order_no, exc)
        except RejectedError:
            # A sales order with this number may exist already (Katana says order_no is unique).
            found = _lookup(ctx, store, draft)
            if found is not None:
                return found
            raise
    raise AssertionError("unreachable")


def _lookup(ctx: RunContext, store: StoreConfig, draft: SalesOrderDraft) -> SalesOrder | None:
    matches = ctx.katana.sales_orders.list(ecommerce_store_name=store.ecommerce_store_name,
                                           ecommerce_order_id=draft.ecommerce_order_id, include_deleted=True)
    return matches[0] if matches else None


def _record(ctx: RunContext, store: StoreConfig, p: Mapping[str, Any], so: SalesOrder) -> None:
    ctx.state.ledger_put(LedgerEntry(
        store=store.name, woo_order_id=int(p["woo_order_id"]), woo_number=str(p["woo_number"]), status="imported",
        sales_order_id=so.id, order_no=so.order_no, location_id=so.location_id,
        reason="deleted in Katana" if so.deleted_at else None,
        lines_qty={r["sku"]: Decimal(r["quantity"]) for r in p.get("rows", ())}))


def record_existing(ctx: RunContext, store: StoreConfig, order: WooOrder, so: SalesOrder) -> None:
    """Repair the ledger for an order Katana already has (lost state, crash before the ledger).
    One whose import did not finish (no shipping fee yet) stays held, so the next run re-reads it
    by id and `_completion` finishes it."""
    if _lacks_fee(so, _shipping(order)):
        ctx.state.ledger_put(LedgerEntry(
            store=store.name, woo_order_id=order.id, woo_number=order.number, status="held",
            sales_order_id=so.id, order_no=so.order_no, location_id=so.location_id,
            reason=f"incomplete: {so.order_no} is in Katana without its shipping fee; added on the next run"))
        return
    ctx.state.ledger_put(LedgerEntry(
        store=store.name, woo_order_id=order.id, woo_number=order.number, status="imported",
        sales_order_id=so.id, order_no=so.order_no, location_id=so.location_id,
        reason="deleted in Katana" if so.deleted_at else "found in Katana", lines_qty=None))


def record_hold(ctx: RunContext, hold: Hold, order: WooOrder | None) -> None:
    ctx.state.ledger_put(LedgerEntry(
        store=hold.store, woo_order_id=hold.woo_order_id, woo_number=hold.number, status="held",
        reason=f"{hold.reason}: {hold.detail}",
        lines_qty={k: v for k, v in _line_quantities(order).items()} if order else None))


def _customer_id(ctx: RunContext, c: Mapping[str, Any]) -> int:
    email = c.get("email")
    if email:
        found = ctx.customer(email)
        if found is not None:
            return found.id
    created = ctx.katana.customers.create(CustomerDraft(
        name=c["name"], email=email, first_name=c.get("first_name"), last_name=c.get("last_name"),
        company=c.get("company"), phone=c.get("phone"), currency=c.get("currency"),
        reference_id=c.get("reference_id")))
    if email:
        ctx.remember_customer(email, created)
    return created.id


def _tax_rate_id(ctx: RunContext, percent: str | None) -> int | None:
    if percent is None:
        return None
    rate = Decimal(percent)
    found = ctx.tax_rate(rate)
    if found is None:
        found = ctx.katana.tax_rates.create(rate, f"{rate.normalize()}% (WooCommerce)")
        ctx.remember_tax_rate(rate, found)
    return found.id
