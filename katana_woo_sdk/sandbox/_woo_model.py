"""Records and small helpers of the WooCommerce 10.0.2 emulator (`sandbox.woo_emulator`).

Used by `_woo_catalog`, `_woo_orders`, `_woo_json`, `_woo_params`, `_woo_rest` and `woo_emulator`.
Everything here mirrors what a real store keeps: ids from ONE sequence shared by products,
variations, orders and refunds (WordPress posts; HPOS orders still draw from it), order items,
item meta and notes (comments) from their own sequences, dates stored in UTC to the second
(MySQL DATETIME) and shown site-local plus a `_gmt` twin, money as Decimal rendered with `dp`
decimals. Nothing here imports the SDK: the emulator must not share code, or bugs, with the clients.
"""
from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable

WC_VERSION = "10.0.2"

# Core statuses and what WooCommerce calls them in its automatic notes (wc_get_order_statuses()).
STATUS_LABELS = {
    "pending": "Pending payment", "processing": "Processing", "on-hold": "On hold", "completed": "Completed",
    "cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed", "checkout-draft": "Draft",
    "trash": "Trash", "auto-draft": "Auto draft",
}
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                  "checkout-draft")
REDUCE_ON = ("processing", "completed", "on-hold")   # wc_maybe_reduce_stock_levels hooks
RESTORE_ON = ("cancelled", "pending")                 # wc_maybe_increase_stock_levels hooks
PAID_STATUSES = ("processing", "completed")           # wc_get_is_paid_statuses(): date_paid is set on entry

CURRENCY_SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "EUR": "\u20ac", "GBP": "\u00a3",
                    "JPY": "\u00a5", "CNY": "\u00a5", "CHF": "CHF", "SEK": "kr", "NOK": "kr", "DKK": "kr",
                    "PLN": "z\u0142", "INR": "\u20b9", "BRL": "R$", "MXN": "$", "ZAR": "R"}


class WooError(Exception):
    """A WP_Error: `{"code", "message", "data": {"status", ...}}`."""

    def __init__(self, code: str, message: str, status: int, **data: Any):
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}


def invalid_params(errors: dict[str, tuple[str, str, Any]]) -> WooError:
    """WordPress's `rest_invalid_param`: one entry per failing argument, `details` since WP 5.x."""
    return WooError("rest_invalid_param", f"Invalid parameter(s): {', '.join(errors)}", 400,
                    params={name: message for name, (_, message, _) in errors.items()},
                    details={name: {"code": code, "message": message, "data": data}
                             for name, (code, message, data) in errors.items()})


def wp_list(items: list[str]) -> str:
    """wp_sprintf('%l'): 'a', 'a and b', 'a, b, and c'."""
    items = [str(i) for i in items]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def dec(value: Any) -> Decimal:
    """Money from whatever a caller sent; '' and None are 0 (PHP's (float) '')."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def money(value: Decimal, dp: int = 2) -> str:
    """wc_format_decimal($value, $dp): a string, half away from zero like PHP's round()."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP))


def round2(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def number(value: Decimal) -> int | float:
    """PHP floats as json_encode writes them: 19.0 -> 19, 12.5 -> 12.5."""
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def sanitize_title(text: str) -> str:
    """WordPress's sanitize_title for plain ASCII titles: 'Sticker (no SKU)' -> 'sticker-no-sku'."""
    slug = re.sub(r"[^a-z0-9 _-]", "", text.lower())
    slug = re.sub(r"[\s_]+", "-", slug.strip())
    return re.sub(r"-{2,}", "-", slug).strip("-")


def php_int(value: Any) -> int:
    """intval(floatval()) as wc_stock_amount() does: a numeric prefix, else 0 (never an exception)."""
    if isinstance(value, (bool, int, float)):
        return int(value)
    match = re.match(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)", str(value))
    return int(float(match.group())) if match else 0


def to_bool(value: Any) -> bool:
    """wc_string_to_bool / rest_sanitize_boolean: 'parent', 'no', '0', '' and False are false."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass
class Product:
    """A product post (`simple`, `variable`, `grouped`, `external`) or a `variation` post."""

    id: int
    type: str
    name: str
    slug: str
    created: datetime
    modified: datetime
    sku: str = ""
    status: str = "publish"
    regular_price: str = ""
    sale_price: str = ""
    manage_stock: bool = False          # the stored flag; variations show "parent" via the catalog
    stock_quantity: int | None = None
    stock_status: str = "instock"       # stored value; derived when stock is managed
    backorders: str = "no"
    low_stock_amount: int | None = None
    parent_id: int = 0
    attributes: list[dict[str, Any]] = field(default_factory=list)   # parent: WC attribute rows
    variation_attributes: list[tuple[str, str, str]] = field(default_factory=list)  # (name, key, option)
    children: list[int] = field(default_factory=list)
    total_sales: int = 0
    description: str = ""
    short_description: str = ""
    tax_status: str = "taxable"
    tax_class: str = ""
    menu_order: int = 0
    featured: bool = False
    catalog_visibility: str = "visible"
    virtual: bool = False
    downloadable: bool = False
    weight: str = ""
    dimensions: dict[str, str] = field(default_factory=lambda: {"length": "", "width": "", "height": ""})
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    trashed_from: str | None = None     # the status a trashed product had (`_wp_trash_meta_status`)

    def __setattr__(self, name: str, value: Any) -> None:
        product_changed()
        object.__setattr__(self, name, value)


# Counts every product field set (creation included) and every product added or removed: a product
# listing's filtered and sorted matches are kept until it moves (`ProductHandlers.list`), so paging
# through 100,000 products sorts them once, not once a page. One count for every store.
_product_changes = [0]


def product_changes() -> int:
    return _product_changes[0]


def product_changed() -> None:
    _product_changes[0] += 1


@dataclass
class LineItem:
    id: int
    name: str
    product_id: int          # the parent for variations, as stored; shown as 0 once deleted
    variation_id: int
    quantity: int
    subtotal: Decimal
    total: Decimal
    subtotal_tax: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    taxes: list[dict[str, Any]] = field(default_factory=list)   # {"id": rate_id, "total": D, "subtotal": D}
    meta: list[dict[str, Any]] = field(default_factory=list)    # {"id", "key", "value", "display_key", "display_value"}
    tax_class: str = ""


@dataclass
class Note:
    id: int
    note: str
    created: datetime
    customer_note: bool = False
    author: str = "WooCommerce"


# Counts changes to what `OrderBook.walk_index` is built from (an order's status or modified date
# set, creation included; `OrderBook` counts orders added and removed): the index is rebuilt when it
# moved. One count for every store of the process: a change in another store only costs a rebuild.
_order_changes = [0]


def order_changes() -> int:
    return _order_changes[0]


def order_changed() -> None:
    _order_changes[0] += 1


_WALK_FIELDS = frozenset({"status", "modified"})


@dataclass
class Order:
    id: int
    order_key: str
    created: datetime
    modified: datetime
    status: str = "pending"
    currency: str = "USD"
    prices_include_tax: bool = False
    customer_id: int = 0
    billing: dict[str, str] = field(default_factory=dict)
    shipping: dict[str, str] = field(default_factory=dict)
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str = ""
    customer_note: str = ""
    created_via: str = "rest-api"
    paid: datetime | None = None
    completed: datetime | None = None
    line_items: list[LineItem] = field(default_factory=list)
    shipping_lines: list[dict[str, Any]] = field(default_factory=list)
    fee_lines: list[dict[str, Any]] = field(default_factory=list)
    coupon_lines: list[dict[str, Any]] = field(default_factory=list)
    tax_lines: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    discount_total: Decimal = Decimal(0)
    discount_tax: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    cart_tax: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    stock_reduced: bool = False          # `_order_stock_reduced`
    recorded_sales: bool = False         # `_recorded_sales`
    trashed_from: str | None = None
    number: str | None = None            # shown as `number`; None: the id (a sequential-number plugin sets it)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WALK_FIELDS:
            order_changed()
        object.__setattr__(self, name, value)


BILLING_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                "country", "email", "phone")
SHIPPING_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                 "country", "phone")


class StoreContext:
    """What every part of the store shares: the clock, the site timezone, the id sequences and the
    one lock every read and write takes (the HTTP server is threaded)."""

    def __init__(self, *, first_id: int, clock: Callable[[], Any] | None, timezone_offset_hours: float):
        self._ids = itertools.count(first_id)
        self._item_ids = itertools.count(1)
        self._meta_ids = itertools.count(1)
        self._note_ids = itertools.count(1)
        self._clock = clock
        self.offset = timedelta(hours=timezone_offset_hours)
        self.lock = threading.RLock()

    def set_clock(self, clock: Callable[[], Any] | None) -> None:
        self._clock = clock

    def next_id(self) -> int:
        return next(self._ids)

    def next_item_id(self) -> int:
        return next(self._item_ids)

    def next_meta_id(self) -> int:
        return next(self._meta_ids)

    def next_note_id(self) -> int:
        return next(self._note_ids)

    def now(self) -> datetime:
        """UTC, to the second. The clock may return an aware/naive(UTC) datetime or POSIX seconds."""
        return as_utc(self._clock() if self._clock is not None else time.time())

    def local(self, moment: datetime | None) -> str | None:
        return None if moment is None else (moment + self.offset).strftime("%Y-%m-%dT%H:%M:%S")


def as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(value), timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def gmt(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S")


_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$")


def parse_wp_date(text: str) -> tuple[datetime, bool] | None:
    """rest_parse_date(): the moment (naive) and whether the string carried its own offset."""
    match = _DATE_RE.match(text.strip())
    if not match:
        return None
    try:
        moment = datetime.strptime(f"{match.group(1)}T{match.group(2)}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    zone = match.group(4)
    if not zone:
        return moment, False
    if zone in ("Z", "z"):
        return moment, True
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return moment - sign * delta, True   # now naive UTC
