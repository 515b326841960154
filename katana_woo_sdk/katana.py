"""KatanaClient: the Katana MRP REST API (v1) as the runner and the engines need it.

Called by `mapping`, the engines, the runner and notebooks; it stands on `_http.HttpClient` (retries,
sanitised URLs, paginators, call counting) and on `ratelimit.bucket_for_key`, so every client built
with one API key shares one 60-requests-per-minute budget::

    with KatanaClient(os.environ["KATANA_API_KEY"]) as katana:
        shop = katana.locations.get(3)
        variants = katana.variants.by_skus(["MUG-1", "MUG-2"])
        stock = katana.inventory.list(shop.id, [v.id for v in variants.values()])

Katana facts this client is built around (../shared/reference/katana-api.md):
* Katana silently IGNORES filters it does not know ("if an invalid parameter is added to the
  filter, it won't be applied"), so every list filter is applied again here on the results.
* Request DTOs are `additionalProperties: false`: an unknown body field is a 422, so bodies carry
  only the fields the live gateway spec declares.
* There is no idempotency key: creates are never blindly re-sent after a 5xx or a timeout (see
  `_http`); callers look the object up by its natural key (`sales_orders.list(ecommerce_...)`,
  `stock_adjustments.find(number)`, `customers.find_by_reference_id`).
* PATCH may wipe `additional_info` when omitted, so it is echoed.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ._http import CallCounter, HttpClient, RetryPolicy, Timeouts, _katana_pagination as _pagination
from .errors import ReconcileError
from .models import (OPEN_SO_STATUSES, Customer, CustomerDraft, Factory, InventoryMovement, InventoryRow, Location,
                     Product, SalesOrder,
                     SalesOrderDraft, SalesOrderFulfillment, SalesOrderRow, StockAdjustment, TaxRate, Variant, dec,
                     parse_datetime)
from .ratelimit import Limiter, bucket_for_key

__all__ = ["KatanaClient", "SalesOrderNotOpenError", "DEFAULT_BASE_URL", "SYSTEM"]

log = logging.getLogger(__name__)

SYSTEM = "katana"
DEFAULT_BASE_URL = "https://api.katanamrp.com/v1"
SKU_CHUNK = 100        # SKUs per `?sku=A&sku=B…` request: keeps the URL well under proxies' 8 KB limits
ID_CHUNK = 150         # ids / variant ids per request


class SalesOrderNotOpenError(ReconcileError):
    """Katana only lets an SO's location change while it is NOT_SHIPPED or PENDING (and not deleted);
    raised before anything is sent."""

    def __init__(self, order: SalesOrder):
        self.sales_order_id, self.status = order.id, order.status
        state = "deleted" if order.deleted_at else f"status {order.status}"
        super().__init__(f"sales order {order.order_no or order.id} (#{order.id}) is {state}: Katana allows its "
                         f"location to change only while it is {' or '.join(sorted(OPEN_SO_STATUSES))}")


# --- small helpers -------------------------------------------------------------------------------

def _flag(value: bool) -> str:
    return "true" if value else "false"


def _number(value: Any) -> int | float:
    """A JSON number for Katana request bodies (Decimal is not JSON-serialisable)."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a quantity")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    number: int | float = value
    return number


def _iso(value: datetime | str | None) -> str | None:
    """UTC ISO 8601 with milliseconds, as Katana writes its own (`2021-04-14T10:39:40.054Z`): a
    date filter keeps the instant it was given, not the second before."""
    if value is None or isinstance(value, str):
        return value
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: dict[Any, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _deleted(payload: Mapping[str, Any]) -> bool:
    return parse_datetime(payload.get("deleted_at")) is not None


def _same_id(value: Any, wanted: int) -> bool:
    try:
        return int(value) == int(wanted)
    except (TypeError, ValueError):
        return False


class _Namespace:
    def __init__(self, http: HttpClient):
        self._http = http


# --- namespaces ----------------------------------------------------------------------------------

class Locations(_Namespace):
    """`katana.locations`: the account's locations (warehouses, shops), deleted ones on request."""

    def list(self, include_deleted: bool = False) -> list[Location]:
        params = {"include_deleted": "true"} if include_deleted else {}
        found = (Location.from_api(p) for p in self._http.iter_katana("/locations", params))
        return [loc for loc in found if include_deleted or not loc.deleted]

    def get(self, location_id: int) -> Location:
        return Location.from_api(self._http.get(f"/locations/{int(location_id)}").data)


class FactoryNamespace(_Namespace):
    """`katana.factory`: the account's settings (base currency, default locations)."""

    def get(self) -> Factory:
        return Factory.from_api(self._http.get("/factory").data)


class Variants(_Namespace):
    """`katana.variants`: product and material variants, by SKU (exact), by id, or all of them."""

    def by_skus(self, skus: Iterable[str | None]) -> dict[str, Variant]:
        """The live variant for each SKU that has one, by exact (case-sensitive) SKU.

        Katana's own WooCommerce sync matches SKUs case-sensitively, and whether the `sku` filter
        is exact is undocumented: every returned variant is re-checked, deleted ones are ignored.
        """
        wanted = _unique(s for s in skus if s)
        found: dict[str, Variant] = {}
        for chunk in _chunks(wanted, SKU_CHUNK):
            members = set(chunk)
            for payload in self._http.iter_katana("/variants", {"sku": chunk}):
                variant = Variant.from_api(payload)
                if variant.sku is None or variant.sku not in members or variant.deleted_at is not None:
                    continue
                if variant.sku in found and found[variant.sku].id != variant.id:
                    log.warning("Katana has two live variants with SKU %r (#%d and #%d); using the older",
                                variant.sku, found[variant.sku].id, variant.id)
                    if variant.id > found[variant.sku].id:
                        continue
                found[variant.sku] = variant
        return found

    def by_ids(self, ids: Iterable[int], *, include_deleted: bool = False) -> dict[int, Variant]:
        wanted = _unique(int(i) for i in ids)
        found: dict[int, Variant] = {}
        extra = {"include_deleted": "true"} if include_deleted else {}
        for chunk in _chunks(wanted, ID_CHUNK):
            members = set(chunk)
            for payload in self._http.iter_katana("/variants", {"ids": chunk, **extra}):
                variant = Variant.from_api(payload)
                if variant.id in members and (include_deleted or variant.deleted_at is None):
                    found[variant.id] = variant
        return found

    def iter(self, *, include_deleted: bool = False) -> Iterator[Variant]:
        params = {"include_deleted": "true"} if include_deleted else {}
        for payload in self._http.iter_katana("/variants", params):
            variant = Variant.from_api(payload)
            if include_deleted or variant.deleted_at is None:
                yield variant


class Inventory(_Namespace):
    """`katana.inventory`: in stock and committed per variant at a location."""

    def list(self, location_id: int, variant_ids: Iterable[int] | None = None, *,
             with_variants: bool = False, slim: bool = False) -> dict[int, InventoryRow]:
        """Stock at one location, keyed by variant id. A variant without a row has none (treat as 0).

        `/inventory` takes `variant_id` as a repeated array parameter; rows are re-checked to be at
        `location_id` (and among `variant_ids`) since an ignored filter would return every location.
        `with_variants` asks for `extend[]=variant`: each row then carries its variant (`row.variant`,
        SKU included), so the variant catalogue costs no call of its own. `slim`: rows without
        `.raw` (`InventoryRow.from_api`), for reads of a whole big location.
        """
        location_id = int(location_id)
        rows: dict[int, InventoryRow] = {}
        extend: dict[str, Any] = {"extend": ["variant"]} if with_variants else {}
        if variant_ids is None:
            batches: list[dict[str, Any]] = [{"location_id": location_id, **extend}]
            members: set[int] | None = None
        else:
            wanted = _unique(int(v) for v in variant_ids)
            if not wanted:
                return rows
            members = set(wanted)
            batches = [{"location_id": location_id, "variant_id": chunk, **extend}
                       for chunk in _chunks(wanted, ID_CHUNK)]
        for params in batches:
            for payload in self._http.iter_katana("/inventory", params):
                row = InventoryRow.from_api(payload, slim=slim)
                if row.location_id != location_id or (members is not None and row.variant_id not in members):
                    continue
                if row.variant_id in rows:
                    log.warning("Katana returned two inventory rows for variant %d at location %d; keeping the first",
                                row.variant_id, location_id)
                    continue
                rows[row.variant_id] = row
        return rows


class InventoryMovements(_Namespace):
    """`katana.inventory_movements`: the stock changes Katana recorded, since a time."""

    def created_since(self, since: datetime, *, location_id: int | None = None) -> list[InventoryMovement]:
        """Movements recorded since `since` (Katana's `created_at_min`, re-checked here: an ignored
        filter returns the whole history, which is slow but not wrong), optionally at one location."""
        return [*self.iter_created_since(since, location_id=location_id)]

    def iter_created_since(self, since: datetime, *, location_id: int | None = None) -> Iterator[InventoryMovement]:
        """`created_since`, one movement at a time, a page read as the caller gets to it: a caller
        that keeps a digest of each (`engines.changes`) never holds them all with their payloads
        (100,000 deliveries since the last run are 100,000 movements)."""
        params: dict[str, Any] = {"created_at_min": _iso(since)}
        if location_id is not None:
            params["location_id"] = int(location_id)
        for payload in self._http.iter_katana("/inventory_movements", params):
            movement = InventoryMovement.from_api(payload)
            if movement.created_at is not None and movement.created_at < since:
                continue
            if location_id is not None and movement.location_id != int(location_id):
                continue
            yield movement


class StockAdjustments(_Namespace):
    """`katana.stock_adjustments`: create, find (by number) and delete stock adjustments."""

    def create(self, number: str, location_id: int, rows: Iterable[Any], reason: str | None = None,
               date: datetime | str | None = None, *, additional_info: str | None = None) -> StockAdjustment:
        """Post one adjustment; each row is `(variant_id, quantity_delta[, cost_per_unit])` or an object
        with those attributes. Quantities are signed deltas. A cost on a negative row is dropped
        (Katana removes stock at average cost and refuses a cost there); zero rows are skipped.

        Never re-sent after a 5xx or timeout: call `find(number, location_id)` to see whether it exists.
        """
        if not number:
            raise ValueError("a stock adjustment needs a number (it is our idempotency key)")
        body_rows = []
        for row in rows:
            variant_id, quantity, cost = _adjustment_row(row)
            if quantity == 0:
                continue
            item: dict[str, Any] = {"variant_id": int(variant_id), "quantity": _number(quantity)}
            if cost is not None and quantity > 0:
                item["cost_per_unit"] = _number(dec(cost))
            body_rows.append(item)
        if not body_rows:
            raise ValueError("a stock adjustment needs at least one non-zero row")
        body: dict[str, Any] = {"stock_adjustment_number": str(number), "location_id": int(location_id),
                                "stock_adjustment_rows": body_rows}
        if reason:
            body["reason"] = reason
        if date is not None:
            body["stock_adjustment_date"] = _iso(date)
        if additional_info is not None:
            body["additional_info"] = additional_info
        resp = self._http.request("POST", "/stock_adjustments", json=body, creates=True)
        return StockAdjustment.from_api(resp.data)

    def find(self, number: str, location_id: int | None = None, *,
             include_deleted: bool = True) -> StockAdjustment | None:
        """The adjustment with exactly this number (and location), live ones first; deleted ones only
        when `include_deleted` (check `.deleted_at`: a deleted import may be re-run)."""
        params: dict[str, Any] = {"stock_adjustment_number": str(number)}
        if location_id is not None:
            params["location_id"] = int(location_id)
        if include_deleted:
            params["include_deleted"] = "true"
        matches = []
        for payload in self._http.iter_katana("/stock_adjustments", params):
            if str(payload.get("stock_adjustment_number") or "") != str(number):
                continue
            if location_id is not None and not _same_id(payload.get("location_id"), location_id):
                continue
            if _deleted(payload) and not include_deleted:
                continue
            matches.append(StockAdjustment.from_api(payload))
        matches.sort(key=lambda sa: (sa.deleted_at is not None, sa.id))
        return matches[0] if matches else None

    def at_location(self, location_id: int) -> list[StockAdjustment]:
        """Every live adjustment at one location (re-checked here: an ignored filter returns all)."""
        found = (StockAdjustment.from_api(p) for p in
                 self._http.iter_katana("/stock_adjustments", {"location_id": int(location_id)}))
        return [a for a in found if a.location_id == int(location_id) and a.deleted_at is None]

    def find_all(self, number: str) -> list[StockAdjustment]:
        """Every live adjustment with exactly this number, oldest first (two mean two runners both
        created it: see `engines.initial_import`)."""
        found = (StockAdjustment.from_api(p) for p in
                 self._http.iter_katana("/stock_adjustments", {"stock_adjustment_number": str(number)}))
        return sorted((a for a in found if a.stock_adjustment_number == str(number) and a.deleted_at is None),
                      key=lambda a: a.id)

    def delete(self, adjustment_id: int) -> None:
        """Delete an adjustment (Katana reverses its stock effect; unverified live, see the fact sheet)."""
        self._http.request("DELETE", f"/stock_adjustments/{int(adjustment_id)}")


def _adjustment_row(row: Any) -> tuple[int, Decimal, Any]:
    if isinstance(row, (tuple, list)):
        if len(row) not in (2, 3):
            raise ValueError(f"a stock adjustment row is (variant_id, quantity[, cost_per_unit]), not {row!r}")
        variant_id, quantity = row[0], row[1]
        cost = row[2] if len(row) == 3 else None
    else:
        variant_id, quantity = row.variant_id, row.quantity
        cost = getattr(row, "cost_per_unit", None)
    qty = dec(quantity, None)
    if qty is None:
        raise ValueError(f"bad quantity {quantity!r} for variant {variant_id}")
    return int(variant_id), qty, cost


class SalesOrders(_Namespace):
    """`katana.sales_orders`: list (by e-commerce keys, deleted ones on request), get, create, move, delete."""

    def __init__(self, http: HttpClient, rows: "SalesOrderRows"):
        super().__init__(http)
        self._rows = rows

    def create(self, draft: SalesOrderDraft) -> SalesOrder:
        """Create the SO. Never re-sent after a 5xx/timeout: look it up with
        `list(ecommerce_store_name=…, ecommerce_order_id=…, include_deleted=True)` instead."""
        resp = self._http.request("POST", "/sales_orders", json=draft.to_api(), creates=True)
        return SalesOrder.from_api(resp.data)

    def list(self, *, ecommerce_store_name: str | None = None, ecommerce_order_id: str | int | None = None,
             order_no: str | None = None, location_id: int | None = None, include_deleted: bool = False,
             ids: Iterable[int] | None = None, created_after: datetime | None = None,
             updated_after: datetime | None = None, slim: bool = False) -> list[SalesOrder]:
        """Sales orders matching ALL given filters; each is sent to Katana and applied again here.
        `created_after` / `updated_after` are sent as Katana's `created_at_min` / `updated_at_min`.
        `slim`: each order without its payload (`SalesOrder.from_api(slim=True)`): what a listing
        of a store's whole order history keeps for the run."""
        return [*self.iter(ecommerce_store_name=ecommerce_store_name, ecommerce_order_id=ecommerce_order_id,
                           order_no=order_no, location_id=location_id, include_deleted=include_deleted, ids=ids,
                           created_after=created_after, updated_after=updated_after, slim=slim)]

    def iter(self, *, ecommerce_store_name: str | None = None, ecommerce_order_id: str | int | None = None,
             order_no: str | None = None, location_id: int | None = None, include_deleted: bool = False,
             ids: Iterable[int] | None = None, created_after: datetime | None = None,
             updated_after: datetime | None = None, slim: bool = False) -> Iterator[SalesOrder]:
        """`list`, one order at a time, a page read as the caller gets to it: a caller that keeps
        only some of them (or a digest of each) never holds them all."""
        params: dict[str, Any] = {}
        if created_after is not None:
            params["created_at_min"] = _iso(created_after)
        if updated_after is not None:
            params["updated_at_min"] = _iso(updated_after)
        if ecommerce_store_name is not None:
            params["ecommerce_store_name"] = ecommerce_store_name
        if ecommerce_order_id is not None:
            ecommerce_order_id = str(ecommerce_order_id)
            params["ecommerce_order_id"] = ecommerce_order_id
        if order_no is not None:
            params["order_no"] = order_no
        if location_id is not None:
            params["location_id"] = int(location_id)
        if include_deleted:
            params["include_deleted"] = "true"
        id_set: set[int] | None = None
        if ids is not None:
            id_set = {int(i) for i in ids}
            if not id_set:
                return iter(())
            params["ids"] = sorted(id_set)

        def keep(so: SalesOrder) -> bool:
            return ((ecommerce_store_name is None or so.ecommerce_store_name == ecommerce_store_name)
                    and (ecommerce_order_id is None or so.ecommerce_order_id == ecommerce_order_id)
                    and (order_no is None or so.order_no == order_no)
                    and (location_id is None or so.location_id == int(location_id))
                    and (include_deleted or so.deleted_at is None)
                    and (id_set is None or so.id in id_set)
                    and (created_after is None or so.created_at is None or so.created_at >= created_after)
                    and (updated_after is None or so.updated_at is None or so.updated_at >= updated_after))

        return (so for so in (SalesOrder.from_api(p, slim=slim) for p in self._http.iter_katana("/sales_orders", params))
                if keep(so))

    def get(self, sales_order_id: int) -> SalesOrder:
        return SalesOrder.from_api(self._http.get(f"/sales_orders/{int(sales_order_id)}").data)

    def update_location(self, sales_order_id: int, location_id: int, *, rows: bool = True,
                        order: SalesOrder | None = None) -> SalesOrder:
        """Move an open SO (and, with `rows`, each of its rows) to `location_id`.

        Refused with `SalesOrderNotOpenError` before sending anything unless the SO is NOT_SHIPPED or
        PENDING. Whether Katana cascades the SO's location to its rows is undocumented, so the rows
        are read back and each one left behind is PATCHed; a row linked to a manufacturing order
        cannot move (Katana refuses) and is left with a warning. `order` skips the initial GET when
        the caller has just read the SO.
        """
        location_id = int(location_id)
        # A slim order (a bulk listing's) has no `additional_info` to echo: the SO is read whole then.
        given = order is not None and order.id == int(sales_order_id) and _whole(order)
        current = order if given and order is not None else self.get(sales_order_id)
        if not current.is_open:
            raise SalesOrderNotOpenError(current)
        updated = current
        if current.location_id != location_id:
            body = {"location_id": location_id,
                    # Katana's PATCH may wipe additional_info when it is omitted: echo it.
                    "additional_info": current.raw.get("additional_info")}
            updated = SalesOrder.from_api(self._http.request("PATCH", f"/sales_orders/{current.id}", json=body).data)
        if not rows:
            return updated
        final_rows = []
        for row in self._rows.list(current.id):
            if row.location_id is not None and row.location_id != location_id:
                if row.linked_manufacturing_order_id is not None:
                    log.warning("sales order #%d row #%d is linked to manufacturing order #%d; Katana does not "
                                "let it change location, left at %d", current.id, row.id,
                                row.linked_manufacturing_order_id, row.location_id)
                else:
                    row = self._rows.update(row.id, location_id=location_id)
            final_rows.append(row)
        return dataclasses.replace(updated, rows=tuple(final_rows))

    def set_customer(self, order: SalesOrder, customer_id: int) -> SalesOrder:
        """Point an open SO at another customer (Katana allows it while NOT_SHIPPED or PENDING);
        `additional_info` is echoed, since Katana's PATCH may wipe it when omitted."""
        if not _whole(order):   # a slim order (a bulk listing's) has no `additional_info` to echo
            order = self.get(order.id)
        if not order.is_open:
            raise SalesOrderNotOpenError(order)
        body = {"customer_id": int(customer_id), "additional_info": order.raw.get("additional_info")}
        return SalesOrder.from_api(self._http.request("PATCH", f"/sales_orders/{order.id}", json=body).data)

    def delete(self, sales_order_id: int) -> None:
        self._http.request("DELETE", f"/sales_orders/{int(sales_order_id)}")


def _whole(order: SalesOrder) -> bool:
    """Read with its payload: a PATCH can echo its `additional_info` (Katana may wipe it if omitted)."""
    return "additional_info" in order.raw


_ROW_FIELDS: dict[str, Callable[[Any], Any]] = {"location_id": int, "quantity": _number, "price_per_unit": _number, "tax_rate_id": int,
               "total_discount": _number, "variant_id": int}


class SalesOrderRows(_Namespace):
    """`katana.sales_order_rows`: the rows of a sales order."""

    def list(self, sales_order_id: int) -> list[SalesOrderRow]:
        sales_order_id = int(sales_order_id)
        params = {"sales_order_ids": [sales_order_id]}
        return [SalesOrderRow.from_api(p) for p in self._http.iter_katana("/sales_order_rows", params)
                if _same_id(p.get("sales_order_id"), sales_order_id) and not _deleted(p)]

    def update(self, row_id: int, **fields: Any) -> SalesOrderRow:
        """PATCH a row; accepted fields: location_id, quantity, price_per_unit, tax_rate_id,
        total_discount, variant_id."""
        unknown = set(fields) - set(_ROW_FIELDS)
        if unknown:
            raise TypeError(f"cannot update sales order row field(s) {sorted(unknown)}")
        if not fields:
            raise TypeError("nothing to update")
        body = {k: _ROW_FIELDS[k](dec(v) if _ROW_FIELDS[k] is _number else v) for k, v in fields.items()}
        return SalesOrderRow.from_api(self._http.request("PATCH", f"/sales_order_rows/{int(row_id)}", json=body).data)

    def create(self, sales_order_id: int, variant_id: int, quantity: Decimal | int, **fields: Any) -> SalesOrderRow:
        """Add a row to an open order (Katana allows it while NOT_SHIPPED or PENDING); `fields` as for
        `update`. Never re-sent after a 5xx or timeout: `list(sales_order_id)` shows whether it exists."""
        unknown = set(fields) - set(_ROW_FIELDS)
        if unknown:
            raise TypeError(f"cannot set sales order row field(s) {sorted(unknown)}")
        body = {k: _ROW_FIELDS[k](dec(v) if _ROW_FIELDS[k] is _number else v) for k, v in fields.items()
                if v is not None}
        body.update(sales_order_id=int(sales_order_id), variant_id=int(variant_id), quantity=_number(dec(quantity)))
        return SalesOrderRow.from_api(self._http.request("POST", "/sales_order_rows", json=body, creates=True).data)

    def delete(self, row_id: int) -> None:
        """Remove a row of an open order."""
        self._http.request("DELETE", f"/sales_order_rows/{int(row_id)}")


class SalesOrderFulfillments(_Namespace):
    """`katana.sales_order_fulfillments`: how Katana records packing and delivery of a sales order."""

    def list(self, sales_order_id: int, *, include_deleted: bool = False) -> list[SalesOrderFulfillment]:
        """The order's fulfilments, oldest first (re-checked to be the order's: an ignored filter
        would return every order's)."""
        params: dict[str, Any] = {"sales_order_id": int(sales_order_id)}
        if include_deleted:
            params["include_deleted"] = "true"
        found = (SalesOrderFulfillment.from_api(p) for p in self._http.iter_katana("/sales_order_fulfillments", params))
        return sorted((f for f in found if f.sales_order_id == int(sales_order_id)
                       and (include_deleted or f.deleted_at is None)), key=lambda f: f.id)

    def create(self, sales_order_id: int, rows: Mapping[int, Decimal | int], *, status: str = "DELIVERED",
               tracking_number: str | None = None, tracking_url: str | None = None) -> SalesOrderFulfillment:
        """Fulfil `rows` (row id -> quantity) of an order as PACKED or DELIVERED. Never re-sent after
        a 5xx or timeout: call `list(sales_order_id)` to see whether it exists."""
        body: dict[str, Any] = {"sales_order_id": int(sales_order_id), "status": status,
                                "sales_order_fulfillment_rows": [
                                    {"sales_order_row_id": int(row_id), "quantity": _number(dec(q))}
                                    for row_id, q in rows.items()]}
        if tracking_number:
            body["tracking_number"] = tracking_number
        if tracking_url:
            body["tracking_url"] = tracking_url
        resp = self._http.request("POST", "/sales_order_fulfillments", json=body, creates=True)
        return SalesOrderFulfillment.from_api(resp.data)

    def update_status(self, fulfilment_id: int, status: str) -> SalesOrderFulfillment:
        """Move a fulfilment to `status` (a PACKED one becomes DELIVERED when the goods left)."""
        resp = self._http.request("PATCH", f"/sales_order_fulfillments/{int(fulfilment_id)}", json={"status": status})
        return SalesOrderFulfillment.from_api(resp.data)


class Products(_Namespace):
    """`katana.products`: products created through the API (a variant per SKU)."""

    def create(self, name: str, variants: Iterable[tuple[str, Decimal | int | float | None]], *,
               uom: str = "pcs") -> Product:
        """One product with a variant per (SKU, sales price). Never re-sent after a 5xx or timeout:
        look the SKUs up with `variants.by_skus` to see whether it exists."""
        body: dict[str, Any] = {"name": name, "uom": uom, "variants": [
            {"sku": sku, **({"sales_price": _number(dec(price))} if price is not None else {})}
            for sku, price in variants]}
        return Product.from_api(self._http.request("POST", "/products", json=body, creates=True).data)


class SalesOrderShippingFees(_Namespace):
    """`katana.sales_order_shipping_fee`: a sales order's shipping fees."""

    def create(self, sales_order_id: int, amount: Decimal | int | float | str, description: str | None = None,
               tax_rate_id: int | None = None) -> dict[str, Any]:
        """Add a shipping fee to an SO (fees cannot be sent inline with the SO). Returns Katana's JSON.
        The gateway takes `amount` as a string."""
        body: dict[str, Any] = {"sales_order_id": int(sales_order_id), "amount": str(dec(amount))}
        if description:
            body["description"] = description
        if tax_rate_id is not None:
            body["tax_rate_id"] = int(tax_rate_id)
        fee: dict[str, Any] = self._http.request("POST", "/sales_order_shipping_fee", json=body, creates=True).data
        return fee

    def list(self, sales_order_id: int) -> list[dict[str, Any]]:
        return [p for p in self._http.iter_katana("/sales_order_shipping_fee", {"sales_order_id": int(sales_order_id)})
                if _same_id(p.get("sales_order_id"), sales_order_id) and not _deleted(p)]


class Customers(_Namespace):
    """`katana.customers`: find (by e-mail or reference), create and delete customers."""

    def find_by_email(self, email: str) -> Customer | None:
        """The live customer with this email, compared case-insensitively (as mail systems do); the
        oldest when several match. Whether Katana's `email` filter ignores case is undocumented, so
        when the address as given finds nothing, its lower-case form is tried too (one more request)."""
        given = (email or "").strip()
        wanted = given.lower()
        if not wanted:
            return None

        def same(c: Customer) -> bool:
            return (c.email or "").strip().lower() == wanted

        found = self._first({"email": given}, same)
        if found is None and given != wanted:
            found = self._first({"email": wanted}, same)
        return found

    def find_by_reference_id(self, reference_id: str) -> Customer | None:
        """The live customer with exactly this `reference_id` (where we keep the Woo customer key)."""
        if not reference_id:
            return None
        return self._first({"reference_id": reference_id}, lambda c: c.reference_id == reference_id)

    def first_page(self) -> tuple[list[Customer], int | None]:
        """The first 250 live customers and Katana's total page count (None without `X-Pagination`):
        what listing them all would cost, for the price of its first call."""
        resp = self._http.get("/customers", {"limit": 250, "page": 1})
        items = resp.data.get("data") if isinstance(resp.data, dict) else resp.data
        meta = _pagination(resp.headers.get("X-Pagination"))
        pages = meta.get("total_pages") if meta else None
        return [Customer.from_api(p) for p in items or () if not _deleted(p)], pages

    def iter(self, *, page: int = 1) -> Iterator[Customer]:
        """Every live customer, 250 a page, from `page` on."""
        for payload in self._http.iter_katana("/customers", {"page": page} if page > 1 else {}):
            if not _deleted(payload):
                yield Customer.from_api(payload)

    def created_since(self, since: datetime) -> list[Customer]:
        """Live customers created at or after `since` (Katana's `created_at_min`, re-checked here)."""
        out = []
        for payload in self._http.iter_katana("/customers", {"created_at_min": _iso(since)}):
            created = parse_datetime(payload.get("created_at"))
            if not _deleted(payload) and (created is None or created >= since):
                out.append(Customer.from_api(payload))
        return out

    def _first(self, params: dict[str, Any], keep: Callable[[Customer], bool]) -> Customer | None:
        matches = [Customer.from_api(p) for p in self._http.iter_katana("/customers", params) if not _deleted(p)]
        matches = sorted((c for c in matches if keep(c)), key=lambda c: c.id)
        return matches[0] if matches else None

    def create(self, draft: CustomerDraft) -> Customer:
        return Customer.from_api(self._http.request("POST", "/customers", json=draft.to_api(), creates=True).data)

    def delete(self, customer_id: int) -> None:
        self._http.request("DELETE", f"/customers/{int(customer_id)}")


class TaxRates(_Namespace):
    """`katana.tax_rates`: the account's tax rates, found by rate or created."""

    def list(self) -> list[TaxRate]:
        return [TaxRate.from_api(p) for p in self._http.iter_katana("/tax_rates") if not _deleted(p)]

    def find_by_rate(self, rate: Decimal | int | float | str) -> TaxRate | None:
        """A tax rate whose percentage equals `rate` (compared as Decimal: 20 == 20.00); the oldest."""
        wanted = dec(rate, None)
        if wanted is None:
            raise ValueError(f"not a tax rate: {rate!r}")
        params = {"rate": _number(wanted)}
        matches = sorted((TaxRate.from_api(p) for p in self._http.iter_katana("/tax_rates", params)
                          if not _deleted(p)), key=lambda t: t.id)
        return next((t for t in matches if t.rate == wanted), None)

    def create(self, rate: Decimal | int | float | str, name: str | None = None) -> TaxRate:
        body: dict[str, Any] = {"rate": _number(dec(rate))}
        if name:
            body["name"] = name
        return TaxRate.from_api(self._http.request("POST", "/tax_rates", json=body, creates=True).data)


# --- the client ----------------------------------------------------------------------------------

class KatanaClient:
    """Katana's REST API. The key goes in a Bearer header and nowhere else (not in repr, logs, errors).

    `limiter`: by default the process-wide bucket for this key and base URL
    (`ratelimit.bucket_for_key`, created with `rate`/`period`/`clock`/`sleep` on first use, the
    stricter setting winning), so several stores and clients on one key never exceed Katana's limit
    together; pass a `TokenBucket` to control it, or `False` to disable throttling.

    Namespaces (each has its own help())::

        katana.locations.list(include_deleted=True)        katana.factory.get()
        katana.variants.iter() / .by_skus([...]) / .by_ids([...])
        katana.inventory.list(location_id)                 katana.inventory_movements.created_since(t)
        katana.stock_adjustments.create / .find / .at_location / .delete
        katana.sales_orders.list(ecommerce_store_name=..., include_deleted=True) / .get / .create
                          / .update_location / .delete
        katana.sales_order_rows.list(so_id) / .create / .update / .delete
        katana.sales_order_shipping_fee.create(...)        katana.sales_order_fulfillments.list / .create
        katana.products.create(name, [(sku, price)])
        katana.customers.find_by_email / .create          katana.tax_rates.list / .find_by_rate
        katana.http                                        an endpoint not wrapped
    """

    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, session: Any = None, rate: int = 60,
                 period: float = 60.0, limiter: Limiter | None | bool = None, timeouts: Timeouts = Timeouts(),
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
                 counter: CallCounter | None = None, verify: bool | str = True,
                 clock: Callable[[], float] = time.monotonic):
        if not api_key or not str(api_key).strip():
            raise ValueError("a Katana API key is required (Katana > Settings > API)")
        if limiter is None or limiter is True:
            limiter = bucket_for_key(str(api_key), rate, period, base_url=base_url, clock=clock, sleep=sleep)
        elif limiter is False:
            limiter = None
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self._http = HttpClient(SYSTEM, self.base_url, session=session, timeouts=timeouts, verify=verify,
                                headers={"Authorization": f"Bearer {str(api_key).strip()}"},
                                limiter=limiter, retry=retry, sleep=sleep, counter=counter)
        self.locations = Locations(self._http)
        self.factory = FactoryNamespace(self._http)
        self.variants = Variants(self._http)
        self.inventory = Inventory(self._http)
        self.inventory_movements = InventoryMovements(self._http)
        self.stock_adjustments = StockAdjustments(self._http)
        self.sales_order_rows = SalesOrderRows(self._http)
        self.sales_orders = SalesOrders(self._http, self.sales_order_rows)
        self.sales_order_shipping_fee = SalesOrderShippingFees(self._http)
        self.sales_order_fulfillments = SalesOrderFulfillments(self._http)
        self.products = Products(self._http)
        self.customers = Customers(self._http)
        self.tax_rates = TaxRates(self._http)

    @property
    def calls(self) -> CallCounter:
        return self._http.calls

    @property
    def http(self) -> HttpClient:
        """The underlying HttpClient, for endpoints this client does not wrap."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "KatanaClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KatanaClient({self.base_url!r}, calls={self.calls.total()})"
