"""Order import: WooCommerce orders become Katana sales orders at the store's mapped location,
exactly once.

Called by the runner, in this order: `read_orders` (the store's candidates, as `OrderFacts`),
`plan_orders` (reads only: an `order.import` action per importable order, an `order.complete`
action per sales order an interrupted run left without its shipping fee, a `Hold` per order that
cannot be imported yet; with `orders.unknown_sku: create_product`, a `product.create` per SKU Katana
lacks first, from `engines.products`), then at apply `apply_import` / `apply_completion` per action,
`record_outcomes` (ledger and cursor); `duplicates` then checks what was created. `read_changed` is
the freshness read the runner makes right before a location's stock writes.

Exactly once rests on Katana, not on local memory: every sales order carries
`ecommerce_store_name` + `ecommerce_order_id`, and before creating anything the store's orders are
listed from Katana with deleted ones included (re-checked client-side, since Katana ignores
filters it does not know). So a lost state, a crash between create and ledger, or a sales order
deleted in Katana never leads to a second import. A create that failed with a 5xx or a timeout
may have succeeded; it is looked up before it is tried again. Two runners that got past all of
that (two machines, a listing that lagged) leave two sales orders with one key: every run checks
the keys it created and deletes the newer of two while it is not shipped (`engines.duplicates`).

A planned action carries no customer contact data: apply builds the customer and the addresses
from the order as it re-reads it, so a plan file can be posted on a pull request.
"""
from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterator, Mapping, Sequence

from ..actions import CustomerData, ImportRow, OrderCompletion, OrderImport, ShippingFee, TaxRef
from ..config import StoreConfig
from ..errors import KatanaWooError, ReconcileError, RejectedError, ServerError, TransportError, UnexpectedResponseError
from ..models import AddressDraft, CustomerDraft, Location, SalesOrder, SalesOrderDraft, SalesOrderRowDraft, WooOrder
from ..plan import FAILED, SKIPPED, Action, ActionResult, Hold, fingerprint
from ..state import LedgerEntry
from ..woo import WooClient
from .context import RunContext
from . import order_book, products
from .lines import TaxUnknown, match_line, tax_ref, variation_parents

log = logging.getLogger(__name__)

CURSOR = "orders.modified_after"
SEEN = "orders.seen"          # the versions the last walk returned: the next, overlapping walk skips them
CENT = Decimal("0.0001")
PAGE = 100  # WooCommerce's per_page maximum


# --- reading -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderFacts:
    """What a run read of one store's orders."""

    store: str
    orders: tuple[WooOrder, ...] = ()            # import candidates: changed since the cursor, held ones re-read
    uncommitted: tuple[WooOrder, ...] = ()       # the book: stock-taking orders Katana has not committed
    newest_modified: datetime | None = None      # cursor candidate
    read_started: datetime | None = None         # our clock just before the first read
    store_time: datetime | None = None           # the store's clock (`Date`) at the walk's last answer
    open_orders: tuple[WooOrder, ...] | None = None   # a full run's listing of every open order
    changed: tuple[WooOrder, ...] = ()           # orders the walk returned that the last run had not seen so
    walked: tuple[WooOrder, ...] = ()            # every order the walk since the cursor returned

    @property
    def seen(self) -> tuple[WooOrder, ...]:
        return self.uncommitted + self.orders

    def by_id(self) -> dict[int, WooOrder]:
        return {o.id: o for o in self.seen}


OPEN = ("processing", "on-hold")       # WooCommerce has deducted their stock; they are not finished
HELD_CHUNK = 100                       # held orders re-read by id per call: a safe URL length


def read_orders(ctx: RunContext, store: StoreConfig, *, full: bool = True) -> OrderFacts:
    """The store's orders that matter this run.

    Incremental: one walk of the orders changed since the cursor (any status, less an overlap
    window, in GMT), the book of uncommitted orders from the state (`order_book`), and the held
    orders again by id. Full (the first run, a lost state, the daily reconcile): the walk in the
    imported statuses and every open order listed (the book is rebuilt from it).
    """
    woo, opts = ctx.woo[store.name], store.orders
    started = datetime.now(timezone.utc)
    cursor = ctx.state.get_cursor(store.name, CURSOR)
    full = full or cursor is None
    since = _parse(cursor) - timedelta(minutes=opts.overlap_minutes) if cursor else opts.since
    walked: dict[int, WooOrder] = {}
    newest = None
    open_orders = None
    if full and since is None and set(opts.statuses) <= set(OPEN):
        # A first run without `orders.since`: every open order is listed for the book anyway, and the
        # import candidates are among them; one listing serves both.
        open_orders = _open(woo)
        walked = {o.id: o for o in open_orders if o.status in opts.statuses}
    else:
        walked = {o.id: o for o in walk_slim(woo, tuple(opts.statuses) if full else (), since)}
    store_time = woo.server_time
    for order in walked.values():
        if order.date_modified_gmt and (newest is None or order.date_modified_gmt > newest):
            newest = order.date_modified_gmt
    # The walk overlaps the last one: an order seen then, in the same version, is no change now.
    seen = json.loads(ctx.state.get_cursor(store.name, SEEN) or "{}")
    changed = tuple(o for o in walked.values()
                    if seen.get(str(o.id)) != (o.date_modified_gmt.isoformat() if o.date_modified_gmt else None))
    held = {oid: e for oid, e in ctx.state.ledger(store.name, status="held").items() if oid not in walked}
    book = order_book.load(ctx.state, store)
    if full:
        if open_orders is None:
            open_orders = _open(woo)
        book = {o.id: o for o in open_orders}
    # Held orders are tried again on every run (a SKU added in Katana or in the store lifts a hold
    # without the order changing), read by id 100 a call: a URL stays short however many are held.
    reread = sorted(held)
    ledger_held = set(ctx.state.ledger(store.name, status="held"))
    candidates = {oid: o for oid, o in walked.items() if o.status in opts.statuses or oid in ledger_held}
    for start in range(0, len(reread), HELD_CHUNK):
        for order in woo.orders.iter(statuses=("any",), include=reread[start:start + HELD_CHUNK], orderby="id"):
            candidates.setdefault(order.id, order)
    book.update({oid: o for oid, o in walked.items()})
    book.update(candidates)
    return OrderFacts(store.name, tuple(sorted(candidates.values(), key=lambda o: o.id)),
                      tuple(sorted(book.values(), key=lambda o: o.id)), newest, started, store_time, open_orders,
                      changed, tuple(walked.values()))


def keep_book(ctx: RunContext, store: StoreConfig, facts: OrderFacts) -> int:
    """After an apply: what stays in the book (stock-taking, still not committed in Katana), and
    the versions of the orders the walk returned (the next walk overlaps this one)."""
    ctx.state.set_cursor(store.name, SEEN, json.dumps(
        {str(o.id): o.date_modified_gmt.isoformat() if o.date_modified_gmt else None for o in facts.walked}))
    keep = [o for o in facts.uncommitted
            if o.status in OPEN or (o.status in store.orders.statuses and o.status == "completed")]
    # `is_committed` of each, with the ledger read once for those the listing does not show.
    known = ctx.katana_orders(store, read=False)
    rest = [o for o in keep if str(o.id) not in known]
    imported = ctx.state.ledger_of(store.name, (o.id for o in rest), status="imported") if rest else {}
    return order_book.save(ctx.state, store, [o for o in rest if o.id not in imported])


def _open(woo: WooClient) -> tuple[WooOrder, ...]:
    """Every open order, read as a keyset walk (an order changing meanwhile cannot push another off
    a page unread), each once."""
    return tuple({o.id: o for o in walk_slim(woo, OPEN, None)}.values())


def read_changed(ctx: RunContext, store: StoreConfig, since: datetime) -> tuple[WooOrder, ...]:
    """Orders of any status modified after `since` (GMT, to the second): what shoppers did while a
    run was under way. One call unless more than a page changed."""
    return tuple(walk_modified(ctx.woo[store.name], (), since))


def walk_modified(woo: WooClient, statuses: tuple[str, ...], since: datetime | None) -> Iterator[WooOrder]:
    """Orders modified after `since`, oldest change first, read as a keyset walk: every request is
    the first page after the last change seen (less a second, as `modified_after` is exclusive and
    to the second). Page numbers would shift under an order changed or closed during the walk and
    skip the order that slid onto an already-read page, for good, once the cursor moved past it;
    restarting from the last change cannot skip. Repeats are dropped by id by the caller."""
    after, page = since, 1
    while True:
        batch = list(itertools.islice(woo.orders.iter(statuses=statuses or None, modified_after=after, page=page,
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


def walk_slim(woo: WooClient, statuses: tuple[str, ...], since: datetime | None) -> Iterator[WooOrder]:
    """`walk_modified`, each order `slim` as it arrives: how a run reads orders it keeps."""
    return (slim(o) for o in walk_modified(woo, statuses, since))


def slim(order: WooOrder) -> WooOrder:
    """The order as a run keeps it: every field the engines read, without the payload it came from
    (`.raw`, but its refunds, which `policies.refunds` reads) nor its lines' payloads, and only the
    address fields that are set (every reader asks `.get(key)` and takes "" as unset). A first run
    holds every open order: 100,000 read whole took 1.5 GB, a tenth of that kept so."""
    refunds = order.raw.get("refunds")
    return replace(order, raw={"refunds": refunds} if refunds else {},
                   billing={k: v for k, v in order.billing.items() if v not in ("", None)},
                   shipping={k: v for k, v in order.shipping.items() if v not in ("", None)},
                   line_items=tuple(replace(li, raw={}) for li in order.line_items))


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# --- planning ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderPlan:
    actions: tuple[Action, ...] = ()
    holds: tuple[Hold, ...] = ()
    recovered: int = 0          # already in Katana but missing from the ledger (state lost / crash)


def is_committed(ctx: RunContext, store: StoreConfig, woo_order_id: int) -> bool:
    """Katana has (or had, if deleted there) a sales order for the order, as far as this run knows
    without a call: the ledger, and the store's sales orders if they were listed."""
    if str(woo_order_id) in ctx.katana_orders(store, read=False):
        return True       # asked per order the run saw (100,000 in a first run): the listing costs no query
    entry = ctx.state.ledger_get(store.name, woo_order_id)
    return entry is not None and entry.status == "imported"


def plan_orders(ctx: RunContext, store: StoreConfig, location: Location, facts: OrderFacts, *,
                include_customer_data: bool = False) -> OrderPlan:
    opts = store.orders
    ledger = ctx.state.ledger_of(store.name, (o.id for o in facts.orders))   # not the whole history
    # Listed only when some candidate is not imported yet: a run with nothing new lists nothing.
    new = [o for o in facts.orders if (ledger.get(o.id) is None or ledger[o.id].status != "imported")]
    existing = ctx.katana_orders(store) if new else {}
    variants = ctx.variants(li.sku for o in facts.orders for li in o.line_items)
    parents = ctx.parent_skus(store, {pid for o in facts.orders for pid in variation_parents(o)})
    creating = store.lifecycle.unknown_sku == "create_product"
    if creating:     # an unknown SKU plans its product (`engines.products`) instead of holding the order
        variants = products.placeholders(facts.orders, variants, parents)
    importable: list[tuple[WooOrder, OrderImport]] = []
    actions: list[Action] = []
    holds: list[Hold] = []
    recovered = 0
    for order in facts.orders:
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
        payload, hold = build_import(store, location, order, variants, parents,
                                     include_customer_data=include_customer_data)
        if hold is not None:
            holds.append(hold)
            continue
        assert payload is not None  # build_import gives a payload or a hold
        importable.append((order, payload))
        actions.append(Action(
            store=store.name, kind="order.import", key=f"order:{order.id}",
            summary=f"{payload.order_no}: {len(payload.rows)} rows -> {location.name}",
            before=None, after={"order_no": payload.order_no, "location_id": location.id,
                                "rows": [[r.sku, str(r.quantity)] for r in payload.rows]},
            fingerprint=fingerprint(payload.fingerprint_parts()), payload=payload))
    if creating:     # the products first: apply runs the actions in this order
        actions = products.plan_products(store, location, importable) + actions
    return OrderPlan(tuple(actions), tuple(holds), recovered)


def build_import(store: StoreConfig, location: Location, order: WooOrder, variants: Mapping[str, Any],
                 parents: Mapping[int, str], *, include_customer_data: bool = False
                 ) -> tuple[OrderImport | None, Hold | None]:
    """The sales order to create for `order`, or why the order must wait."""
    def hold(reason: str, detail: str) -> tuple[None, Hold]:
        return None, Hold(store.name, order.id, order.number, reason, detail)

    if not order.line_items:
        return hold("no_lines", "the order has no line items")
    rows = []
    try:
        for li in order.line_items:
            match = match_line(li, variants, parents)
            if match.variant is None or li.sku is None:  # a line without a SKU matches no variant
                return hold(match.reason or "unmatched", match.detail)
            quantity = Decimal(li.quantity)
            if quantity <= 0:
                continue
            # WooCommerce keeps line subtotals ex tax even when the store's prices include tax, so the
            # unit price Katana wants (ex tax, like Katana's own integration) is subtotal / quantity.
            unit = (li.subtotal / quantity).quantize(CENT, ROUND_HALF_UP)
            discount = (li.subtotal - li.total).quantize(CENT, ROUND_HALF_UP)
            tax = tax_ref(order, li.taxes, taxed=bool(li.total_tax or li.subtotal_tax), what=f"line {li.name!r}")
            rows.append(ImportRow(li.sku, match.variant.id, quantity, unit, max(discount, Decimal(0)), tax))
        shipping = _shipping(order)
    except TaxUnknown as exc:
        return hold("tax_rate_unknown", f"{exc}; Katana needs the rate, and it is never guessed from amounts")
    if not rows:
        return hold("no_lines", "no line has a positive quantity")
    if _customer_name(order) is None:
        return hold("no_customer", "the order has neither a billing email nor a name")
    created = order.date_created_gmt or datetime.now(timezone.utc)
    return OrderImport(
        woo_order_id=order.id, number=order.number,
        order_no=store.orders.order_no_format.format(store=store.name, number=order.number, id=order.id),
        location_id=location.id, rows=tuple(rows), shipping=shipping, currency=order.currency or None,
        created=created, delivery=created + timedelta(days=store.orders.delivery_days),
        customer=f"WooCommerce customer #{order.customer_id}" if order.customer_id else "guest",
        customer_data=_customer_data(order) if include_customer_data else None), None


def _shipping(order: WooOrder) -> ShippingFee | None:
    """The shipping fee the sales order gets (ex tax, like the rows), its rate from the tax lines."""
    if not order.shipping_total > 0:
        return None
    taxes = [t for line in order.shipping_lines for t in (line.get("taxes") or ())]
    tax = tax_ref(order, taxes, taxed=order.shipping_tax > 0, what="the shipping")
    return ShippingFee(order.shipping_total, tax)


def _lacks_fee(so: SalesOrder, shipping: ShippingFee | None) -> bool:
    """A live sales order without the shipping fee its WooCommerce order has (Katana answers
    `shipping_fee` null or {} when there is none)."""
    return shipping is not None and so.deleted_at is None and not so.raw.get("shipping_fee")


def _completion(store: StoreConfig, order: WooOrder, so: SalesOrder) -> Action | None:
    """An `order.complete` action finishing a sales order an interrupted run created, or None."""
    try:
        shipping = _shipping(order)
    except TaxUnknown:
        return None
    if shipping is None or not _lacks_fee(so, shipping):
        return None
    payload = OrderCompletion(order.id, order.number, so.order_no, so.location_id or 0, so.id, shipping)
    return Action(store=store.name, kind="order.complete", key=f"order:{order.id}",
                  summary=f"{so.order_no}: already in Katana (#{so.id}); add the missing shipping fee",
                  before={"order_no": so.order_no, "shipping_fee": None},
                  after={"order_no": so.order_no, "shipping_fee": str(shipping.amount)},
                  fingerprint=fingerprint(payload.fingerprint_parts()), payload=payload)


def _customer_name(order: WooOrder) -> str | None:
    b = order.billing
    email = (b.get("email") or "").strip()
    name = " ".join(x for x in (b.get("first_name"), b.get("last_name")) if x).strip() or (b.get("company") or "")
    return name or email or None


def _customer_data(order: WooOrder) -> CustomerData:
    b = order.billing
    return CustomerData((b.get("email") or "").strip() or None, _customer_name(order), b.get("phone") or None,
                        tuple(a.to_api() for a in _addresses(order)))


def _addresses(order: WooOrder) -> list[AddressDraft]:
    out = []
    for kind, a in (("billing", order.billing), ("shipping", order.shipping)):
        if not any(a.get(k) for k in ("address_1", "city", "postcode", "country")):
            continue
        out.append(AddressDraft(kind, a.get("first_name") or None, a.get("last_name") or None,
                                a.get("company") or None, a.get("phone") or None, a.get("address_1") or None,
                                a.get("address_2") or None, a.get("city") or None, a.get("state") or None,
                                a.get("postcode") or None, a.get("country") or None))
    return out


# --- applying ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    """What an import or completion did in Katana."""

    sales_order_id: int
    order_no: str
    created: bool
    location_id: int | None = None
    shipping_fee: Decimal | None = None
    note: str = ""
    note_error: str | None = None
    customer_created: int | None = None     # the Katana customer this import created, if it did


def import_payload(action: Action) -> OrderImport:
    """The payload of an `order.import` action."""
    assert isinstance(action.payload, OrderImport)
    return action.payload


def apply_import(ctx: RunContext, store: StoreConfig, action: Action, order: WooOrder) -> ImportResult:
    """Create the sales order `action` describes, with the customer and addresses of `order` (the
    WooCommerce order as this run read it)."""
    p = import_payload(action)
    existing = ctx.katana_orders(store).get(str(p.woo_order_id))
    if existing is not None:
        fee = None
        if p.shipping is not None and _lacks_fee(existing, p.shipping):
            _add_shipping_fee(ctx, store, existing, p.shipping)
            fee = p.shipping.amount
        _record(ctx, store, p.woo_order_id, p.number, p.rows, existing)
        return ImportResult(existing.id, existing.order_no, False, existing.location_id, fee, "already in Katana")
    customer_id, customer_created = _customer_id(ctx, store, order)
    rows = tuple(SalesOrderRowDraft(r.variant_id, r.quantity, r.price_per_unit, _tax_rate_id(ctx, r.tax),
                                    r.total_discount, p.location_id) for r in products.resolve_rows(ctx, p.rows))
    draft = SalesOrderDraft(
        order_no=p.order_no, customer_id=customer_id, location_id=p.location_id, rows=rows,
        ecommerce_store_name=store.ecommerce_store_name, ecommerce_order_id=str(p.woo_order_id),
        order_created_date=p.created, delivery_date=p.delivery, currency=p.currency,
        addresses=tuple(_addresses(order)),
        additional_info=f"WooCommerce order #{p.number} from {store.ecommerce_store_name}")
    so = _create_once(ctx, store, draft)
    ctx.remember_order(store, so)
    ctx.forget_inventory(p.location_id)
    fee = None
    # The fee before the ledger: an order the ledger calls imported is complete. If the fee fails
    # or the process dies here, the next run finds the sales order and adds the fee (`_completion`).
    if p.shipping is not None:
        _add_shipping_fee(ctx, store, so, p.shipping)
        fee = p.shipping.amount
    _record(ctx, store, p.woo_order_id, p.number, p.rows, so)
    note_error = None
    if store.orders.add_order_note:
        # A courtesy after the import is complete: its failure must not report the import as failed.
        try:
            ctx.woo[store.name].orders.add_note(p.woo_order_id, f"Imported to Katana as sales order {so.order_no}.")
        except KatanaWooError as exc:
            log.warning("%s: order #%s imported as %s, but the order note failed: %s",
                        store.name, p.number, so.order_no, exc)
            note_error = f"order note not added: {exc}"
    return ImportResult(so.id, so.order_no, True, so.location_id, fee, "", note_error,
                        customer_id if customer_created else None)


def apply_completion(ctx: RunContext, store: StoreConfig, action: Action) -> ImportResult:
    p = action.payload
    assert isinstance(p, OrderCompletion)  # an order.complete action carries its completion
    so = ctx.katana_orders(store).get(str(p.woo_order_id))
    if so is None or so.id != p.sales_order_id:
        so = ctx.katana.sales_orders.get(p.sales_order_id)
    fee = None
    if _lacks_fee(so, p.shipping):
        _add_shipping_fee(ctx, store, so, p.shipping)
        fee = p.shipping.amount
    _record(ctx, store, p.woo_order_id, p.number, (), so)
    return ImportResult(so.id, so.order_no, False, so.location_id, fee, "completed an interrupted import")


def _add_shipping_fee(ctx: RunContext, store: StoreConfig, so: SalesOrder, shipping: ShippingFee) -> None:
    tax_id = _tax_rate_id(ctx, shipping.tax)
    fee = ctx.katana.sales_order_shipping_fee.create(so.id, shipping.amount, "Shipping", tax_id)
    ctx.remember_order(store, replace(so, raw={**so.raw, "shipping_fee": fee or {"amount": str(shipping.amount)}}))


class CreateUnconfirmed(ReconcileError):
    """A create got no clear answer (5xx, timeout, dropped connection) and Katana does not show the
    object yet: it is never sent again in the same run; the next run's listing decides."""


# How a failed import is held: an unconfirmed create, a product not created yet, anything else.
_FAILURE_REASONS = {CreateUnconfirmed.__name__: "create_unconfirmed",
                    products.AwaitingProduct.__name__: "awaiting_product"}


def _create_once(ctx: RunContext, store: StoreConfig, draft: SalesOrderDraft) -> SalesOrder:
    """Create the sales order, sent at most once per run. After an ambiguous failure (the create
    may have succeeded while its answer was lost) it is looked up once; if Katana does not show it,
    the order is held as unconfirmed and the next run's listing finds it or imports it then. (The
    HTTP layer already retries a connect that never reached Katana, and a 429.)"""
    try:
        return ctx.katana.sales_orders.create(draft)
    except (ServerError, UnexpectedResponseError, TransportError) as exc:
        found = _lookup(ctx, store, draft)
        if found is not None:
            log.warning("create of %s failed (%s) but Katana has it as %s; not creating again",
                        draft.order_no, exc, found.order_no)
            return found
        raise CreateUnconfirmed(f"the create of {draft.order_no} got no clear answer ({exc}) and Katana does "
                                f"not show it yet; not sent again: the next run finds it or imports it") from exc
    except RejectedError:
        # A sales order with this number may exist already (Katana says order_no is unique).
        found = _lookup(ctx, store, draft)
        if found is not None:
            return found
        raise


def _lookup(ctx: RunContext, store: StoreConfig, draft: SalesOrderDraft) -> SalesOrder | None:
    matches = ctx.katana.sales_orders.list(ecommerce_store_name=store.ecommerce_store_name,
                                           ecommerce_order_id=draft.ecommerce_order_id, include_deleted=True)
    live = sorted((so for so in matches if so.deleted_at is None), key=lambda so: so.id)
    return live[0] if live else (matches[0] if matches else None)


def _record(ctx: RunContext, store: StoreConfig, woo_order_id: int, number: str, rows: Sequence[ImportRow],
            so: SalesOrder) -> None:
    ctx.state.ledger_put(LedgerEntry(
        store=store.name, woo_order_id=int(woo_order_id), woo_number=str(number), status="imported",
        sales_order_id=so.id, order_no=so.order_no, location_id=so.location_id,
        reason="deleted in Katana" if so.deleted_at else None,
        lines_qty={r.sku: r.quantity for r in rows} or None))


def _customer_id(ctx: RunContext, store: StoreConfig, order: WooOrder) -> tuple[int, bool]:
    """The Katana customer for the order's buyer (found by e-mail, once per run), or a new one;
    and whether it was created now (`repair_customers` checks those for a twin)."""
    b = order.billing
    email = (b.get("email") or "").strip() or None
    if email:
        found = ctx.customer(email)
        if found is not None:
            return found.id, False
    name = _customer_name(order) or ""
    created = ctx.katana.customers.create(CustomerDraft(
        name=name, email=email, first_name=b.get("first_name") or None, last_name=b.get("last_name") or None,
        company=b.get("company") or None, phone=b.get("phone") or None, currency=order.currency or None,
        reference_id=f"woo:{store.ecommerce_store_name}:{order.customer_id}" if order.customer_id else None))
    if email:
        ctx.remember_customer(email, created)
    return created.id, True


def _tax_rate_id(ctx: RunContext, tax: TaxRef | None) -> int | None:
    if tax is None:
        return None
    found = ctx.tax_rate(tax.percent)
    if found is None:
        name = f"{plain_percent(tax.percent)}% (WooCommerce{': ' + tax.label if tax.label else ''})"
        found = ctx.katana.tax_rates.create(tax.percent, name[:100])
        ctx.remember_tax_rate(tax.percent, found)
    return found.id


def plain_percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


# --- after applying: ledger, cursor, duplicates --------------------------------------------------

def record_outcomes(ctx: RunContext, store: StoreConfig, facts: OrderFacts, plan: OrderPlan,
                    results: Sequence[ActionResult]) -> tuple[Hold, ...]:
    """Holds recorded (with failed imports among them), recovered orders adopted, the cursor moved
    only past orders this run dealt with (never past one a saved plan left out). Returns the
    store's holds after the run."""
    existing = ctx.katana_orders(store, read=False)
    ledger = ctx.state.ledger_of(store.name, (o.id for o in facts.orders))
    by_id = facts.by_id()
    failed = tuple(Hold(store.name, import_payload(r.action).woo_order_id, import_payload(r.action).number,
                        _FAILURE_REASONS.get(getattr(r.result, "error", ""), "create_failed"), r.message)
                   for r in results if r.action.kind == "order.import" and r.outcome == FAILED)
    holds = tuple(plan.holds) + failed
    # Written in one transaction, in this order (a lost state adopts up to every order it read).
    writes = [_hold_entry(hold, by_id.get(hold.woo_order_id)) for hold in holds]
    for order in facts.orders:
        entry = ledger.get(order.id)
        so = existing.get(str(order.id))
        if so is not None and (entry is None or entry.status != "imported"):
            writes.append(_existing_entry(store, order, so))
        elif so is None and entry is not None and entry.status == "held" and order.status not in store.orders.statuses:
            writes.append(replace(entry, status="skipped", reason=f"left the imported statuses (now {order.status})"))
    ctx.state.ledger_put_many(writes)
    left_out = [by_id[import_payload(r.action).woo_order_id] for r in results
                if r.action.kind == "order.import" and r.outcome == SKIPPED and import_payload(r.action).woo_order_id in by_id]
    cursor = facts.newest_modified
    if facts.store_time is not None and (cursor is None or facts.store_time > cursor):
        # The walk read every change up to the store's own clock at its last answer: the next walk
        # starts there (less the overlap), not at the newest change, which may be days old (a bulk
        # edit then a quiet week would otherwise be read again by every run of that week).
        cursor = facts.store_time
    if cursor is None and not ctx.state.get_cursor(store.name, CURSOR):
        # Nothing to read yet: start from this run (the overlap window covers the store's clock).
        cursor = facts.read_started
    if left_out:
        oldest = min(o.date_modified_gmt for o in left_out if o.date_modified_gmt)
        cursor = min(cursor, oldest - timedelta(seconds=1)) if cursor else oldest - timedelta(seconds=1)
    if cursor is not None:
        ctx.state.set_cursor(store.name, CURSOR, cursor.isoformat())
    return holds


def _existing_entry(store: StoreConfig, order: WooOrder, so: SalesOrder) -> LedgerEntry:
    """The ledger's repair for an order Katana already has (lost state, crash before the ledger).
    One whose import did not finish (no shipping fee yet) stays held, so the next run re-reads it
    by id and `_completion` finishes it."""
    try:
        incomplete = _lacks_fee(so, _shipping(order))
    except TaxUnknown:
        incomplete = False
    if incomplete:
        return LedgerEntry(
            store=store.name, woo_order_id=order.id, woo_number=order.number, status="held",
            sales_order_id=so.id, order_no=so.order_no, location_id=so.location_id,
            reason=f"incomplete: {so.order_no} is in Katana without its shipping fee; added on the next run")
    return LedgerEntry(
        store=store.name, woo_order_id=order.id, woo_number=order.number, status="imported",
        sales_order_id=so.id, order_no=so.order_no, location_id=so.location_id,
        reason="deleted in Katana" if so.deleted_at else "found in Katana", lines_qty=None)


def _hold_entry(hold: Hold, order: WooOrder | None) -> LedgerEntry:
    lines: dict[str, Decimal] = {}
    for li in (order.line_items if order else ()):
        if li.sku:
            lines[li.sku] = lines.get(li.sku, Decimal(0)) + Decimal(li.quantity)
    return LedgerEntry(
        store=hold.store, woo_order_id=hold.woo_order_id, woo_number=hold.number, status="held",
        reason=f"{hold.reason}: {hold.detail}", lines_qty=lines or None)
