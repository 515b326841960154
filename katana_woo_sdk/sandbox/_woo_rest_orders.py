"""REST handlers for /orders, /orders/{id}, /orders/batch and /orders/{id}/notes.

Registered by `woo_emulator` on a `WooHttp` (`_woo_http`); transitions, stock and totals live in
`_woo_orders`, shapes in `_woo_json`. As a 10.0.2 store (cassettes orders, errors):
* `status` filters take a comma list or `status[]=`; values are checked against the core enum
  (`status[0] is not one of any, trash, ... and checkout-draft.`); `any` (the default) is every
  status but trash and auto-draft; listings sort by `date ID` (a total order) unless asked otherwise;
* a line item is found by `sku`, else `product_id` (a variation id there is normalised to parent +
  `variation_id`), else `variation_id`; none of them: 400 `woocommerce_rest_required_product_reference`;
* the store has no taxes, no coupons and no customers of its own (customers exist once an order
  names them through the admin API): `coupon_lines` and unknown `customer_id`s are refused as a
  store without them would;
* notes are not paginated, newest first, every note by "WooCommerce" unless `added_by_user`.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
import math
from datetime import datetime
from typing import Any, Callable, Iterator

from ._woo_catalog import Catalog
from ._woo_http import Call, date_bound, item_filter, paginate, sort_items
from ._woo_json import note_json, order_json
from ._woo_model import Note, Order, StoreContext, WooError, php_int
from ._woo_orders import OrderBook
from ._woo_params import BATCH_BODY, ITEM_QUERY, NOTE_BODY, NOTE_QUERY, ORDER_BODY, ORDER_DEFAULTS, ORDER_QUERY, validate
from ._woo_rest_products import BATCH_LIMIT, _item_error

# The filters `_walk` serves from the index: status and modified_after, ordered by modified.
_NOT_WALK = ("include", "exclude", "parent", "parent_exclude", "customer", "product", "created_via", "search",
             "after", "before", "modified_before")


def _walk_only(args: dict[str, Any]) -> bool:
    return args.get("orderby") == "modified" and all(args.get(name) in (None, "", []) for name in _NOT_WALK)


def _tail(keys: list[tuple[datetime, int]], start: int, descending: bool) -> Iterator[tuple[datetime, int]]:
    """keys[start:], lazily (no copy of what the page does not reach), newest first if `descending`."""
    if descending:
        return (keys[i] for i in range(len(keys) - 1, start - 1, -1))
    return (keys[i] for i in range(start, len(keys)))


_BODY = {**ORDER_BODY, "line_items": {"type": "array", "items": {"type": "object"}},
         "shipping_lines": {"type": "array", "items": {"type": "object"}},
         "fee_lines": {"type": "array", "items": {"type": "object"}},
         "coupon_lines": {"type": "array", "items": {"type": "object"}}}


def _invalid_order(status: int) -> WooError:
    return WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", status)


class OrderHandlers:
    def __init__(self, ctx: StoreContext, catalog: Catalog, book: OrderBook):
        self.ctx, self.catalog, self.book = ctx, catalog, book

    def routes(self) -> list[tuple[str, str, dict[str, Callable[[Call], tuple[int, Any]]]]]:
        update = self.update
        return [
            ("/orders", "/orders", {"GET": self.list, "POST": self.create}),
            ("/orders/batch", "/orders/batch", {"POST": self.batch, "PUT": self.batch, "PATCH": self.batch}),
            (r"/orders/(?P<id>\d+)", "/orders/{id}",
             {"GET": self.get, "POST": update, "PUT": update, "PATCH": update, "DELETE": self.delete}),
            (r"/orders/(?P<order_id>\d+)/notes", "/orders/{order_id}/notes",
             {"GET": self.notes, "POST": self.note_create}),
            (r"/orders/(?P<order_id>\d+)/notes/(?P<id>\d+)", "/orders/{order_id}/notes/{id}",
             {"GET": self.note_get, "DELETE": self.note_delete}),
        ]

    def _render(self, call: Call, order: Order, dp: int = 2) -> dict[str, Any]:
        return order_json(self.catalog, order, call.base, dp=dp)

    # --- /orders -------------------------------------------------------------------------------

    def list(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ORDER_QUERY)
        call.permit("list")
        if _walk_only(args):
            return self._walk(call, args)
        if args.get("include"):
            pool = [o for o in (self.book.get(i) for i in dict.fromkeys(args["include"])) if o is not None]
        else:
            pool = list(self.book.orders.values())
        keep = self._filter(args, set(args["status"]))
        keys = {"date": lambda o: o.created, "modified": lambda o: o.modified, "id": lambda o: o.id,
                "title": lambda o: o.id, "slug": lambda o: o.id}
        items = sort_items([o for o in pool if keep(o)], args, keys, date_tie_by_id=True)
        return paginate(call, args, items, lambda o: self._render(call, o, args["dp"]), f"{call.api}/orders")

    def _walk(self, call: Call, args: dict[str, Any]) -> tuple[int, Any]:
        """`orderby=modified` by status and `modified_after` alone (the walk a sync makes), through
        the book's index: the same orders, in the same `date ID` order, as filtering and sorting
        every order, at the cost of the page and a bisection per status."""
        statuses = set(args["status"])
        index = self.book.walk_index()
        if "any" in statuses:
            chosen = [keys for status, keys in index.items() if status not in ("trash", "auto-draft")]
        else:
            chosen = [index[status] for status in statuses if status in index]
        bound = date_bound(self.ctx, args, "modified_after")
        # `modified_after` is strict: the first key past (bound, any id).
        starts = [bisect.bisect_right(keys, (bound, math.inf)) if bound is not None else 0 for keys in chosen]
        descending = (args.get("order") or "desc") == "desc"

        def window(offset: int, limit: int) -> list[Order]:
            tails = [_tail(keys, start, descending) for keys, start in zip(chosen, starts)]
            merged = heapq.merge(*tails, reverse=descending)
            return [self.book.orders[oid] for _, oid in itertools.islice(merged, offset, offset + limit)]
        return paginate(call, args, [], lambda o: self._render(call, o, args["dp"]), f"{call.api}/orders",
                        total=sum(len(keys) - start for keys, start in zip(chosen, starts)), window=window)

    def _filter(self, args: dict[str, Any], statuses: set[str]) -> Callable[[Order], bool]:
        def text(order: Order) -> str:
            return " ".join([*order.billing.values(), *order.shipping.values(),
                             *(li.name for li in order.line_items)]).lower()
        checks: list[tuple[str, Callable[[Order, Any], bool]]] = [
            ("customer", lambda o, v: o.customer_id == v), ("include", lambda o, v: o.id in v),
            ("exclude", lambda o, v: o.id not in v), ("parent", lambda o, v: 0 in v),
            ("parent_exclude", lambda o, v: 0 not in v), ("created_via", lambda o, v: o.created_via in v),
            ("product", lambda o, v: any(v in (li.product_id, li.variation_id) for li in o.line_items)),
            ("search", lambda o, v: v.lower() in text(o)),
        ]
        rest = item_filter(self.ctx, args, checks, lambda o: (o.created, o.modified))

        def keep(order: Order) -> bool:
            if "any" in statuses:
                if order.status in ("trash", "auto-draft"):
                    return False
            elif order.status not in statuses:
                return False
            return rest(order)
        return keep

    def get(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ITEM_QUERY)
        order = self.book.get(call.params["id"])
        call.permit("view", exists=order is not None)
        if order is None:
            raise _invalid_order(404)
        return 200, self._render(call, order, args["dp"])

    def create(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, _BODY, defaults=ORDER_DEFAULTS)
        call.permit("create")
        order = self._create(data)
        call.headers["Location"] = f"{call.api}/orders/{order.id}"
        return 201, self._render(call, order, php_int(data.get("dp", 2)))

    def _create(self, data: dict[str, Any]) -> Order:
        if data.get("id"):
            raise WooError("woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.", 400)
        customer_id = php_int(data.get("customer_id") or 0)
        if customer_id and customer_id not in self.book.customers:
            raise WooError("woocommerce_rest_invalid_customer_id", "Customer ID is invalid.", 400)
        for coupon in data.get("coupon_lines") or []:
            raise WooError("woocommerce_rest_invalid_coupon", f'Coupon "{coupon.get("code", "")}" does not exist!', 400)
        lines = [self._line(row) for row in data.get("line_items") or []]
        return self.book.create(
            lines, status=data.get("status") or "pending", billing=data.get("billing"), shipping=data.get("shipping"),
            customer_id=customer_id, currency=data.get("currency") or "USD",
            shipping_lines=data.get("shipping_lines"), fee_lines=data.get("fee_lines"),
            created_via=data.get("created_via") or "rest-api", payment_method=str(data.get("payment_method") or ""),
            payment_method_title=str(data.get("payment_method_title") or ""),
            transaction_id=str(data.get("transaction_id") or ""), customer_note=str(data.get("customer_note") or ""),
            meta_data=data.get("meta_data"), set_paid=bool(data.get("set_paid")))

    def _line(self, row: dict[str, Any]) -> dict[str, Any]:
        """WC_REST_Orders_V2_Controller::get_product_id(): sku, then product_id, then variation_id.
        An id that is no product leaves a line without product (product_id 0), as WooCommerce does."""
        if row.get("sku"):
            product = self.catalog.by_sku(str(row["sku"]))
        elif row.get("product_id") and not row.get("variation_id"):
            product = self.catalog.get(row["product_id"])
        elif row.get("variation_id"):
            product = self.catalog.get(row["variation_id"])
        else:
            raise WooError("woocommerce_rest_required_product_reference", "Product ID or SKU is required.", 400)
        return {"product": product, "quantity": php_int(row.get("quantity", 1)) or 1, "name": row.get("name"),
                "subtotal": row.get("subtotal"), "total": row.get("total")}

    def update(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, _BODY)
        order = self.book.get(call.params["id"])
        call.permit("edit", exists=order is not None)
        return 200, self._update(order, data, call)

    def _update(self, order: Order | None, data: dict[str, Any], call: Call) -> dict[str, Any]:
        if order is None:
            raise _invalid_order(400)
        self.book.update(order, data)
        return self._render(call, order)

    def delete(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ITEM_QUERY)
        order = self.book.get(call.params["id"])
        call.permit("delete", exists=order is not None)
        return 200, self._delete(order, args["force"], call)

    def _delete(self, order: Order | None, force: bool, call: Call) -> dict[str, Any]:
        if order is None:
            raise _invalid_order(404)
        if not force and order.status == "trash":
            raise WooError("woocommerce_rest_already_trashed", "The shop_order has already been deleted.", 410)
        before = self._render(call, order)
        self.book.delete(order, force=force)
        return before if force else self._render(call, order)

    def batch(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, BATCH_BODY)
        call.permit("batch")
        if sum(len(data.get(op) or []) for op in ("create", "update", "delete")) > BATCH_LIMIT:
            raise WooError("woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {BATCH_LIMIT} items for this request.", 413)
        runs: dict[str, Callable[[Any], Any]] = {
            "create": lambda item: self._render(call, self._create({**ORDER_DEFAULTS, **item})),
            "update": lambda item: self._update(self.book.get(item.get("id")), item, call),
            "delete": lambda item: self._delete(self.book.get(item), True, call)}
        out: dict[str, list[Any]] = {}
        for op, run in runs.items():
            if op not in data:
                continue
            out[op] = []
            for item in data[op] or []:
                item_id = 0 if op == "create" else (item.get("id", 0) if isinstance(item, dict) else item)
                try:
                    out[op].append(run(item))
                except WooError as exc:
                    out[op].append(_item_error(item_id, exc))
        return 200, out

    # --- /orders/{order_id}/notes --------------------------------------------------------------

    def _order_for_notes(self, call: Call) -> Order:
        order = self.book.get(call.params["order_id"])
        if order is None:
            raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
        return order

    def notes(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, NOTE_QUERY)
        call.permit("list")
        order = self._order_for_notes(call)
        notes = [n for n in order.notes
                 if args["type"] == "any" or n.customer_note == (args["type"] == "customer")]
        notes.sort(key=lambda n: n.id)
        notes.sort(key=lambda n: n.created, reverse=True)   # newest first; same second: oldest id first
        return 200, [note_json(self.ctx, order, n, call.base) for n in notes]

    def note_create(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, NOTE_BODY)
        call.permit("create")
        order = self._order_for_notes(call)
        note = self.book.add_note(order, data["note"], customer_note=bool(data.get("customer_note")),
                                  author="admin" if data.get("added_by_user") else "WooCommerce")
        call.headers["Location"] = f"{call.api}/orders/{order.id}/notes/{note.id}"
        return 201, note_json(self.ctx, order, note, call.base)

    def _note(self, call: Call, order: Order) -> Note:
        for note in order.notes:
            if note.id == int(call.params["id"]):
                return note
        raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)

    def note_get(self, call: Call) -> tuple[int, Any]:
        validate(call.params, NOTE_QUERY)
        call.permit("view", exists=self.book.get(call.params["order_id"]) is not None)
        order = self._order_for_notes(call)
        return 200, note_json(self.ctx, order, self._note(call, order), call.base)

    def note_delete(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ITEM_QUERY)
        call.permit("delete", exists=self.book.get(call.params["order_id"]) is not None)
        if not args["force"]:
            # The v1 notes controller reuses the webhooks controller's wording.
            raise WooError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        order = self._order_for_notes(call)
        note = self._note(call, order)
        order.notes.remove(note)
        return 200, note_json(self.ctx, order, note, call.base)
