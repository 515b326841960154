"""Resources of both APIs as frozen dataclasses, and the drafts we send.

Built by the clients (`katana`, `woo`) with `from_api(payload)`, read by the engines and the runner.
Each resource keeps the payload it came from in `.raw` (not compared, not shown), so a field this
SDK does not model is never lost. Katana sends quantities and money as decimal strings
("7.00000"); they become `Decimal`, never float. WooCommerce sends dates without an offset; the
`_gmt` twins are read and made aware UTC datetimes.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Mapping, overload

__all__ = [
    "dec", "parse_datetime", "Location", "Factory", "Variant", "InventoryRow", "InventoryMovement", "StockAdjustment",
    "StockAdjustmentRow", "SalesOrder", "SalesOrderRow", "Customer", "TaxRate", "SalesOrderDraft",
    "SalesOrderRowDraft", "AddressDraft", "CustomerDraft", "WooOrder", "WooLineItem", "WooProduct",
    "WooOrderNote", "StockWrite", "StockWriteResult",
    "SalesOrderFulfillment", "Product",
]

def _raw_field() -> Any:
    """The `.raw` field of every model: the payload it was read from, empty by default, left out of
    repr and of equality (a helper, so a type checker reads it as a `field(...)` with a default)."""
    return field(default_factory=dict, repr=False, compare=False)


class _Empty(dict[str, Any]):
    """An empty dict that refuses to be filled. A dict, not a mappingproxy, so that JSON and
    `dataclasses.asdict` (which deep-copies) take it like the empty dict it stands for."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a shared empty mapping is read-only")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = __ior__ = _refuse

    def __hash__(self) -> int:  # type: ignore[override]  # never changes; a dataclass default must hash
        return 0


# One shared empty mapping rather than an empty dict each (64 bytes x the 700,000 rows, variants,
# store items and slices of a big plan): the `.raw` of an object read slim, a pooled slice's slices.
EMPTY: Mapping[str, Any] = _Empty()


def _own(p: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as `.raw`: a plain dict is kept as it is (a freshly parsed answer, owned by the
    one object made from it; a copy would double a big read's memory), anything else copied."""
    return p if type(p) is dict else dict(p)


@overload
def dec(value: Any, default: Decimal = ...) -> Decimal: ...
@overload
def dec(value: Any, default: Decimal | None) -> Decimal | None: ...


def dec(value: Any, default: Decimal | None = Decimal(0)) -> Decimal | None:
    """A Decimal from Katana's strings or numbers; `default` where the value is absent or bad."""
    if value is None or value == "":
        return default
    kind = type(value)
    if kind is str or kind is int:
        known = _DECIMALS.get((kind, value))
        if known is not None:
            return known
    if isinstance(value, float):
        value = repr(value)
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    if (kind is str or kind is int) and len(_DECIMALS) < _DECIMALS_KEPT:
        _DECIMALS[(kind, value)] = out
    return out


# Decimals are immutable, and a big inventory read repeats a few hundred figures ("0", "12.0", ...)
# 600,000 times: each text is converted once and its Decimal shared (one object, not one per row).
_DECIMALS: dict[tuple[type, Any], Decimal] = {}
_DECIMALS_KEPT = 10_000


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 to an aware datetime; a value without offset (WooCommerce's `_gmt`) is UTC."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _opt_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# --- Katana --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Location:
    id: int
    name: str
    sales_allowed: bool = True
    is_primary: bool = False
    deleted_at: datetime | None = None
    raw: Mapping[str, Any] = _raw_field()

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "Location":
        return cls(int(p["id"]), str(p.get("name") or ""), bool(p.get("sales_allowed", True)),
                   bool(p.get("is_primary", False)), parse_datetime(p.get("deleted_at")), dict(p))

    def __str__(self) -> str:
        return f"{self.name} (#{self.id})"


@dataclass(frozen=True)
class Factory:
    default_sales_location_id: int | None
    base_currency_code: str | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "Factory":
        return cls(_opt_int(p.get("default_sales_location_id")), p.get("base_currency_code"), dict(p))


@dataclass(frozen=True, slots=True)   # 100,000s of these in a big plan
class Variant:
    id: int
    sku: str | None
    product_id: int | None = None
    material_id: int | None = None
    type: str | None = None
    deleted_at: datetime | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any], *, slim: bool = False) -> "Variant":
        """`slim`: without `.raw` (a bulk read that keeps only the fields above)."""
        return cls(int(p["id"]), p.get("sku"), _opt_int(p.get("product_id")), _opt_int(p.get("material_id")),
                   p.get("type"), parse_datetime(p.get("deleted_at")), EMPTY if slim else _own(p))


@dataclass(frozen=True, slots=True)   # 100,000s of these in a big plan
class InventoryRow:
    variant_id: int
    location_id: int
    quantity_in_stock: Decimal = Decimal(0)
    quantity_committed: Decimal = Decimal(0)
    quantity_expected: Decimal = Decimal(0)
    raw: Mapping[str, Any] = _raw_field()
    safety_stock_level: Decimal | None = None     # Katana's reorder point at the location, when given
    row_variant: "Variant | None" = field(default=None, repr=False, compare=False)   # read with `extend[]=variant`

    @property
    def available(self) -> Decimal:
        """What Katana's own e-commerce sync pushes: in stock minus committed."""
        return self.quantity_in_stock - self.quantity_committed

    @property
    def variant(self) -> "Variant | None":
        """The row's variant, when it was read with `extend[]=variant`."""
        if self.row_variant is not None:
            return self.row_variant
        data = self.raw.get("variant")
        return Variant.from_api(data) if isinstance(data, Mapping) and data.get("id") is not None else None

    @classmethod
    def from_api(cls, p: Mapping[str, Any], *, slim: bool = False) -> "InventoryRow":
        """`slim`: without `.raw` (the figures, the safety stock and the variant are kept): a big
        location's rows then cost a fifth of the memory."""
        data = p.get("variant")
        variant = Variant.from_api(data, slim=slim) if isinstance(data, dict) and data.get("id") is not None \
            else None
        safety = p.get("safety_stock_level")
        return cls(int(p["variant_id"]), int(p["location_id"]), dec(p.get("quantity_in_stock")),
                   dec(p.get("quantity_committed")), dec(p.get("quantity_expected")), EMPTY if slim else _own(p),
                   None if safety in (None, "") else dec(safety), variant)


@dataclass(frozen=True)
class InventoryMovement:
    """One change of a variant's stock at a location (adjustment, delivery, receipt, production...)."""

    id: int
    variant_id: int
    location_id: int
    resource_type: str = ""
    created_at: datetime | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "InventoryMovement":
        return cls(int(p.get("id") or 0), int(p["variant_id"]), int(p["location_id"]), str(p.get("resource_type") or ""),
                   parse_datetime(p.get("created_at")), dict(p))


@dataclass(frozen=True)
class StockAdjustmentRow:
    variant_id: int
    quantity: Decimal
    id: int | None = None


@dataclass(frozen=True)
class StockAdjustment:
    id: int
    stock_adjustment_number: str
    location_id: int
    rows: tuple[StockAdjustmentRow, ...] = ()
    deleted_at: datetime | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "StockAdjustment":
        rows = tuple(StockAdjustmentRow(int(r["variant_id"]), dec(r.get("quantity")), _opt_int(r.get("id")))
                     for r in p.get("stock_adjustment_rows") or ())
        return cls(int(p["id"]), str(p.get("stock_adjustment_number") or ""), int(p["location_id"]), rows,
                   parse_datetime(p.get("deleted_at")), dict(p))


@dataclass(frozen=True, slots=True)   # a long order history: 100,000s of these in a run
class SalesOrderRow:
    id: int
    variant_id: int
    quantity: Decimal
    location_id: int | None = None
    price_per_unit: Decimal | None = None
    tax_rate_id: int | None = None
    linked_manufacturing_order_id: int | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any], *, slim: bool = False) -> "SalesOrderRow":
        """`slim`: without `.raw` (the fields above are kept)."""
        return cls(int(p["id"]), int(p["variant_id"]), dec(p.get("quantity")), _opt_int(p.get("location_id")),
                   dec(p.get("price_per_unit"), None), _opt_int(p.get("tax_rate_id")),
                   _opt_int(p.get("linked_manufacturing_order_id")), EMPTY if slim else dict(p))


OPEN_SO_STATUSES = frozenset({"NOT_SHIPPED", "PENDING"})


@dataclass(frozen=True, slots=True)   # a long order history: 100,000s of these in a run
class SalesOrder:
    id: int
    order_no: str
    customer_id: int | None
    location_id: int | None
    status: str
    ecommerce_order_type: str | None = None
    ecommerce_store_name: str | None = None
    ecommerce_order_id: str | None = None
    deleted_at: datetime | None = None
    rows: tuple[SalesOrderRow, ...] = ()
    raw: Mapping[str, Any] = _raw_field()
    # Read from the payload by `from_api`; left None, they are read from `raw` (as they always were):
    # fields, not properties, so that a slim order (no `raw`) keeps them.
    created_at: datetime | None = field(default=None, repr=False, compare=False)
    updated_at: datetime | None = field(default=None, repr=False, compare=False)

    # What a slim order keeps of its payload: the keys the engines read from `.raw` (whether a
    # shipping fee was added, `engines.orders`), where they are set.
    SLIM_RAW: ClassVar[tuple[str, ...]] = ("shipping_fee",)

    def __post_init__(self) -> None:
        if self.raw:
            if self.created_at is None and self.raw.get("created_at"):
                object.__setattr__(self, "created_at", parse_datetime(self.raw.get("created_at")))
            if self.updated_at is None and self.raw.get("updated_at"):
                object.__setattr__(self, "updated_at", parse_datetime(self.raw.get("updated_at")))

    @property
    def is_open(self) -> bool:
        """Ship From can still move: Katana allows location changes only in these statuses."""
        return self.status in OPEN_SO_STATUSES and self.deleted_at is None

    @classmethod
    def from_api(cls, p: Mapping[str, Any], *, slim: bool = False) -> "SalesOrder":
        """`slim`: without the payload, what a listing of a long order history keeps (a fifth of the
        memory): the fields above, the rows slim, and of `.raw` only `SLIM_RAW`'s keys that are set
        (else the shared `EMPTY`). A slim order has no `additional_info` to echo in a PATCH:
        `SalesOrders.set_customer` and `update_location` read such an order whole first."""
        ecommerce_id = p.get("ecommerce_order_id")
        status = str(p.get("status") or "")
        kind, store = p.get("ecommerce_order_type"), p.get("ecommerce_store_name")
        if slim:
            # The few status words and the store's keys are interned: one string each, not one per order.
            status = sys.intern(status)
            kind = sys.intern(kind) if isinstance(kind, str) else kind
            store = sys.intern(store) if isinstance(store, str) else store
            kept = {k: p[k] for k in cls.SLIM_RAW if p.get(k)}
            raw: Mapping[str, Any] = kept if kept else EMPTY
        else:
            raw = dict(p)
        return cls(int(p["id"]), str(p.get("order_no") or ""), _opt_int(p.get("customer_id")),
                   _opt_int(p.get("location_id")), status, kind, store,
                   None if ecommerce_id is None else str(ecommerce_id), parse_datetime(p.get("deleted_at")),
                   tuple(SalesOrderRow.from_api(r, slim=slim) for r in p.get("sales_order_rows") or ()), raw,
                   parse_datetime(p.get("created_at")), parse_datetime(p.get("updated_at")))


@dataclass(frozen=True)
class SalesOrderFulfillment:
    """How Katana records packing and delivery: quantities of a sales order's rows (`rows`: row id
    -> quantity), PACKED or DELIVERED, with tracking where the shop gave it."""

    id: int
    sales_order_id: int
    status: str
    rows: Mapping[int, Decimal] = field(default_factory=dict)
    tracking_number: str | None = None
    tracking_url: str | None = None
    deleted_at: datetime | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "SalesOrderFulfillment":
        rows: dict[int, Decimal] = {}
        for r in p.get("sales_order_fulfillment_rows") or ():
            row_id = _opt_int(r.get("sales_order_row_id"))
            if row_id is not None:
                rows[row_id] = rows.get(row_id, Decimal(0)) + dec(r.get("quantity"))
        return cls(int(p["id"]), int(p["sales_order_id"]), str(p.get("status") or ""), rows,
                   p.get("tracking_number") or None, p.get("tracking_url") or None,
                   parse_datetime(p.get("deleted_at")), dict(p))


@dataclass(frozen=True)
class Product:
    """A Katana product and its variants (what `POST /products` answers)."""

    id: int
    name: str
    variants: tuple[Variant, ...] = ()
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "Product":
        return cls(int(p["id"]), str(p.get("name") or ""),
                   tuple(Variant.from_api({"product_id": p["id"], **v}) for v in p.get("variants") or ()), dict(p))


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    email: str | None = None
    reference_id: str | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "Customer":
        return cls(int(p["id"]), str(p.get("name") or ""), p.get("email"), p.get("reference_id"), dict(p))


@dataclass(frozen=True)
class TaxRate:
    id: int
    rate: Decimal
    name: str | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "TaxRate":
        return cls(int(p["id"]), dec(p.get("rate")), p.get("name"), dict(p))


# --- what we send to Katana (only fields the gateway accepts: it rejects unknown ones with 422) ---

def _num(value: Decimal | int | float) -> int | float:
    """Katana request bodies take JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _drop_none(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class AddressDraft:
    entity_type: str  # "billing" | "shipping"
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone: str | None = None
    line_1: str | None = None
    line_2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None

    def to_api(self) -> dict[str, Any]:
        return _drop_none({k: (v or None) if k != "entity_type" else v for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class SalesOrderRowDraft:
    variant_id: int
    quantity: Decimal
    price_per_unit: Decimal | None = None
    tax_rate_id: int | None = None
    total_discount: Decimal | None = None
    location_id: int | None = None

    def to_api(self) -> dict[str, Any]:
        return _drop_none({
            "variant_id": self.variant_id, "quantity": _num(self.quantity),
            "price_per_unit": None if self.price_per_unit is None else _num(self.price_per_unit),
            "tax_rate_id": self.tax_rate_id,
            "total_discount": None if not self.total_discount else _num(self.total_discount),
            "location_id": self.location_id,
        })


@dataclass(frozen=True)
class SalesOrderDraft:
    order_no: str
    customer_id: int
    location_id: int
    rows: tuple[SalesOrderRowDraft, ...]
    ecommerce_store_name: str
    ecommerce_order_id: str
    order_created_date: datetime | None = None
    delivery_date: datetime | None = None
    currency: str | None = None
    addresses: tuple[AddressDraft, ...] = ()
    additional_info: str | None = None
    customer_ref: str | None = None
    ecommerce_order_type: str = "wooCommerce"  # the exact literal Katana recognises and deep-links

    def to_api(self) -> dict[str, Any]:
        return _drop_none({
            "order_no": self.order_no, "customer_id": self.customer_id, "location_id": self.location_id,
            "order_created_date": _iso(self.order_created_date), "delivery_date": _iso(self.delivery_date),
            "currency": self.currency, "status": "NOT_SHIPPED",
            "customer_ref": self.customer_ref, "additional_info": self.additional_info,
            "ecommerce_order_type": self.ecommerce_order_type,
            "ecommerce_store_name": self.ecommerce_store_name,
            "ecommerce_order_id": str(self.ecommerce_order_id),
            "addresses": [a.to_api() for a in self.addresses] or None,
            "sales_order_rows": [r.to_api() for r in self.rows],
        })


@dataclass(frozen=True)
class CustomerDraft:
    name: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone: str | None = None
    currency: str | None = None
    reference_id: str | None = None
    category: str | None = "WooCommerce"
    addresses: tuple[AddressDraft, ...] = ()

    def to_api(self) -> dict[str, Any]:
        body = {k: (v or None) for k, v in self.__dict__.items() if k != "addresses"}
        body["name"] = self.name
        body["addresses"] = [a.to_api() for a in self.addresses] or None
        return _drop_none(body)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- WooCommerce ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class WooLineItem:
    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    sku: str | None            # the product's CURRENT sku; None once the product is deleted
    subtotal: Decimal          # before discounts, ex tax
    subtotal_tax: Decimal
    total: Decimal             # after discounts, ex tax
    total_tax: Decimal
    taxes: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "WooLineItem":
        return cls(int(p.get("id") or 0), str(p.get("name") or ""), _opt_int(p.get("product_id")) or 0,
                   _opt_int(p.get("variation_id")) or 0, int(p.get("quantity") or 0), p.get("sku") or None,
                   dec(p.get("subtotal")), dec(p.get("subtotal_tax")), dec(p.get("total")),
                   dec(p.get("total_tax")), tuple(p.get("taxes") or ()), dict(p))


@dataclass(frozen=True)
class WooOrder:
    id: int
    number: str
    status: str
    currency: str
    prices_include_tax: bool
    date_created_gmt: datetime | None
    date_modified_gmt: datetime | None
    customer_id: int
    billing: Mapping[str, Any]
    shipping: Mapping[str, Any]
    line_items: tuple[WooLineItem, ...]
    shipping_total: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    discount_total: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    shipping_lines: tuple[Mapping[str, Any], ...] = ()
    fee_lines: tuple[Mapping[str, Any], ...] = ()
    coupon_lines: tuple[Mapping[str, Any], ...] = ()
    tax_lines: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "WooOrder":
        return cls(
            int(p["id"]), str(p.get("number") or p["id"]), str(p.get("status") or ""), str(p.get("currency") or ""),
            bool(p.get("prices_include_tax")), parse_datetime(p.get("date_created_gmt")),
            parse_datetime(p.get("date_modified_gmt")), int(p.get("customer_id") or 0),
            dict(p.get("billing") or {}), dict(p.get("shipping") or {}),
            tuple(WooLineItem.from_api(li) for li in p.get("line_items") or ()),
            dec(p.get("shipping_total")), dec(p.get("shipping_tax")), dec(p.get("discount_total")),
            dec(p.get("total")), tuple(p.get("shipping_lines") or ()), tuple(p.get("fee_lines") or ()),
            tuple(p.get("coupon_lines") or ()), tuple(p.get("tax_lines") or ()), dict(p))

    def __repr__(self) -> str:  # one line in a notebook; no addresses or emails
        return (f"WooOrder(id={self.id}, number={self.number!r}, status={self.status!r}, "
                f"lines={len(self.line_items)}, total={self.total} {self.currency})")


@dataclass(frozen=True)
class WooOrderNote:
    """A note on an order: WooCommerce's own audit trail, and ours ("Imported to Katana as SO-12")."""

    id: int
    note: str
    customer_note: bool = False      # True: shown to the customer and emailed to them
    author: str = ""
    date_created_gmt: datetime | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_api(cls, p: Mapping[str, Any]) -> "WooOrderNote":
        return cls(int(p["id"]), str(p.get("note") or ""), bool(p.get("customer_note")), str(p.get("author") or ""),
                   parse_datetime(p.get("date_created_gmt")), dict(p))


@dataclass(frozen=True, slots=True)   # 100,000s of these in a big plan
class WooProduct:
    """A product or a variation (`type == "variation"`, `parent_id` set)."""

    id: int
    sku: str
    type: str
    parent_id: int
    manage_stock: bool | str       # True, False, or "parent" (a variation whose parent manages stock)
    stock_quantity: int | None
    stock_status: str | None = None
    name: str = ""
    variations: tuple[int, ...] = ()
    raw: Mapping[str, Any] = _raw_field()
    modified_gmt: str | None = field(default=None, repr=False, compare=False)   # `date_modified_gmt` as sent

    # What `from_api` and `modified` read: a stock read asks for these alone (`_fields`), about a
    # tenth of a product's JSON, which is most of a big catalogue's parsing time and memory.
    FIELDS: ClassVar[tuple[str, ...]] = ("id", "sku", "type", "parent_id", "manage_stock", "stock_quantity",
                                         "stock_status", "name", "variations", "date_modified_gmt")

    @property
    def is_variation(self) -> bool:
        return self.type == "variation" or (self.parent_id > 0 and self.type not in ("simple", "variable"))

    @property
    def modified(self) -> datetime | None:
        """When the store last modified the item (`date_modified_gmt`, the store's clock)."""
        return parse_datetime(self.modified_gmt or self.raw.get("date_modified_gmt"))

    @property
    def stock_managed_by(self) -> int | None:
        """The id whose stock a write must change, or None where stock is not managed."""
        if self.manage_stock == "parent":
            return self.parent_id
        return self.id if self.manage_stock is True else None

    @classmethod
    def from_api(cls, p: Mapping[str, Any], *, parent_id: int | None = None, slim: bool = False) -> "WooProduct":
        """`slim`: without `.raw` (what a read asked with `_fields` for, `FIELDS`, is kept)."""
        manage = p.get("manage_stock")
        manage = "parent" if manage == "parent" else bool(manage)
        pid = _opt_int(p.get("parent_id")) or parent_id or 0
        kind = p.get("type") or ("variation" if parent_id else "simple")
        status = p.get("stock_status")
        variations = p.get("variations")
        # The few type and stock status words are interned: one string each, not one per item.
        return cls(int(p["id"]), str(p.get("sku") or ""), sys.intern(str(kind)), pid, manage,
                   _opt_int(p.get("stock_quantity")), sys.intern(status) if isinstance(status, str) else status,
                   str(p.get("name") or ""), tuple(map(int, variations)) if variations else (),
                   EMPTY if slim else _own(p), p.get("date_modified_gmt"))


@dataclass(frozen=True)
class StockWrite:
    """Set `product_id`'s stock to `quantity`; `parent_id` is set for a variation."""

    product_id: int
    quantity: int
    parent_id: int | None = None
    sku: str = ""


@dataclass(frozen=True)
class StockWriteResult:
    write: StockWrite
    applied: bool
    reason: str | None = None            # why not applied: the store's error, or "ignored by the store"
    error_code: str | None = None
    echoed_quantity: int | None = None
