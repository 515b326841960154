"""What each kind of action carries: typed, frozen payloads instead of free-form dicts.

Built by the engines when they plan (`engines.orders`, `engines.initial_import`, `engines.stock`,
`engines.products`, `engines.lifecycle`, and the runner's mapping step), carried by `plan.Action.payload`, saved in plan files and read back
by `from_dict`, compared by the saved-plan contract (`contract`) and shown by `report`. Nothing
here talks to an API or knows about rendering.

Every payload names the Katana location it acts at (`location_id`), so the saved-plan contract
can refuse an action that would now go somewhere the reviewed plan never named. No payload holds
customer contact data unless a plan was made with `include_customer_data=True`, and then only in
`OrderImport.customer_data`, which apply never reads: apply re-reads the WooCommerce order.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, Union

__all__ = [
    "LocationRef", "MappingChange", "TaxRef", "ImportRow", "ShippingFee", "CustomerData", "OrderImport",
    "OrderCompletion", "AdjustmentRow", "InitialImport", "StockWriteItem", "StockPush", "ProductCreation",
    "OrderRow", "OrderDelivery", "StoreCompletion", "OrderDeletion", "RowChange", "RowUpdate", "Payload",
    "PAYLOAD_KINDS", "payload_to_dict", "payload_from_dict", "plain",
]


def plain(value: Decimal | int | None) -> str:
    """'15' rather than Katana's '15.00000' in plans people read."""
    if value is None:
        return ""
    return format(Decimal(value).normalize(), "f")


@dataclass(frozen=True)
class LocationRef:
    id: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} (#{self.id})"


@dataclass(frozen=True)
class MappingChange:
    """The store's mapping becomes `location` (from `previous`, None for a new store)."""

    location: LocationRef
    previous: LocationRef | None = None

    @property
    def location_id(self) -> int:
        return self.location.id


@dataclass(frozen=True)
class TaxRef:
    """A tax rate as the WooCommerce order's own tax lines state it (never derived from amounts):
    the summed `rate_percent` of the rates applied, their rate ids and labels."""

    percent: Decimal
    rate_ids: tuple[int, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class ImportRow:
    sku: str
    variant_id: int
    quantity: Decimal
    price_per_unit: Decimal
    total_discount: Decimal = Decimal(0)
    tax: TaxRef | None = None


@dataclass(frozen=True)
class ShippingFee:
    amount: Decimal            # ex tax, like the rows
    tax: TaxRef | None = None


@dataclass(frozen=True, repr=False)
class CustomerData:
    """Contact data, only in plans made with `include_customer_data=True`; never shown in a repr."""

    email: str | None = None
    name: str | None = None
    phone: str | None = None
    addresses: tuple[Mapping[str, Any], ...] = ()

    def __repr__(self) -> str:
        return "CustomerData(<redacted>)"


@dataclass(frozen=True)
class OrderImport:
    """Create one Katana sales order for one WooCommerce order at `location_id`."""

    woo_order_id: int
    number: str
    order_no: str
    location_id: int
    rows: tuple[ImportRow, ...]
    shipping: ShippingFee | None = None
    currency: str | None = None
    created: datetime | None = None
    delivery: datetime | None = None
    customer: str = ""                  # "WooCommerce customer #12" or "guest": never contact data
    customer_data: CustomerData | None = None

    def fingerprint_parts(self) -> dict[str, Any]:
        """What the fingerprint covers: the order as Katana will get it, without contact data."""
        data = payload_to_dict(self)
        data.pop("customer_data", None)
        return data


@dataclass(frozen=True)
class OrderCompletion:
    """Finish a sales order an interrupted run created (today: add its missing shipping fee)."""

    woo_order_id: int
    number: str
    order_no: str
    location_id: int
    sales_order_id: int
    shipping: ShippingFee

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


@dataclass(frozen=True)
class AdjustmentRow:
    sku: str
    variant_id: int
    quantity: Decimal          # the signed delta posted to Katana
    before: Decimal            # Katana in stock before (pooled for a parent)
    after: Decimal             # in stock after


@dataclass(frozen=True)
class InitialImport:
    """One Katana stock adjustment `number` at `location_id`.

    `mode` "set": the first import into the location makes Katana's in stock equal the store's
    figure; "add": a further store on a shared location adds its figure (see
    `engines.initial_import`)."""

    number: str
    location_id: int
    mode: str
    rows: tuple[AdjustmentRow, ...]
    cost_per_unit: Decimal | None = None

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


@dataclass(frozen=True)
class StockWriteItem:
    sku: str
    product_id: int
    parent_id: int | None
    before: int | None         # what the store showed when read
    after: int                 # the figure written


@dataclass(frozen=True)
class StockPush:
    """Absolute stock levels for the store's items from `location_id`'s figures."""

    location_id: int
    writes: tuple[StockWriteItem, ...]

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


# --- after the import (`engines.products`, `engines.lifecycle`, `engines.fulfilment`) ------------

@dataclass(frozen=True)
class ProductCreation:
    """Create a Katana product with one variant for a SKU the store sells and Katana lacks
    (`orders.unknown_sku: create_product`), before the orders waiting for it are imported.
    `location_id`: where those orders go (a product has no location; a remap drops the action)."""

    sku: str
    name: str
    price: Decimal | None
    location_id: int
    orders: tuple[int, ...] = ()        # the WooCommerce orders waiting for it

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


@dataclass(frozen=True)
class OrderRow:
    """A quantity of one sales order row (`row_id` None: a row still to add)."""

    sku: str
    variant_id: int
    quantity: Decimal
    row_id: int | None = None


@dataclass(frozen=True)
class OrderDelivery:
    """The store completed the order (shipped it): deliver its sales order in Katana, the way Katana
    records deliveries: packed fulfilments (`packed`) become delivered, and one fulfilment delivers
    what no fulfilment covers yet (`rows`)."""

    woo_order_id: int
    number: str
    sales_order_id: int
    order_no: str
    location_id: int
    rows: tuple[OrderRow, ...] = ()
    packed: tuple[int, ...] = ()

    @property
    def variant_ids(self) -> tuple[int, ...]:
        return tuple(r.variant_id for r in self.rows)

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


@dataclass(frozen=True)
class StoreCompletion:
    """Katana delivered the sales order: the WooCommerce order becomes `completed`, with a private
    note naming the sales order (and its tracking number, read at apply)."""

    woo_order_id: int
    number: str
    sales_order_id: int
    order_no: str
    location_id: int

    variant_ids = ()          # the store's stock does not move (its order reduced it at checkout)

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


@dataclass(frozen=True)
class OrderDeletion:
    """The order was cancelled, refunded or failed in the store after its import: its sales order,
    still NOT_SHIPPED or PENDING, is deleted, which frees what it commits (`committed`)."""

    woo_order_id: int
    number: str
    sales_order_id: int
    order_no: str
    location_id: int
    woo_status: str
    committed: tuple[OrderRow, ...] = ()

    @property
    def variant_ids(self) -> tuple[int, ...]:
        return tuple(r.variant_id for r in self.committed)

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


@dataclass(frozen=True)
class RowChange:
    """One row of an edited order: Katana's quantity `before`, the store's line now `after` (0:
    remove the row); a new row (`row_id` None) gets the line's price, discount and tax."""

    sku: str
    variant_id: int
    before: Decimal
    after: Decimal
    row_id: int | None = None
    price_per_unit: Decimal | None = None
    total_discount: Decimal = Decimal(0)
    tax: TaxRef | None = None


@dataclass(frozen=True)
class RowUpdate:
    """The store's order was edited after its import (`orders.edits: update_rows`): its sales order's
    rows follow, while it is NOT_SHIPPED or PENDING."""

    woo_order_id: int
    number: str
    sales_order_id: int
    order_no: str
    location_id: int
    changes: tuple[RowChange, ...] = ()

    @property
    def variant_ids(self) -> tuple[int, ...]:
        return tuple(c.variant_id for c in self.changes)

    def fingerprint_parts(self) -> dict[str, Any]:
        return payload_to_dict(self)


Payload = Union[MappingChange, OrderImport, OrderCompletion, InitialImport, StockPush, ProductCreation,
                OrderDelivery, StoreCompletion, OrderDeletion, RowUpdate]

# The action kind each payload type belongs to (one payload type per kind).
PAYLOAD_KINDS: dict[str, type] = {
    "mapping": MappingChange, "order.import": OrderImport, "order.complete": OrderCompletion,
    "stock.initial_import": InitialImport, "stock.push": StockPush,
    "product.create": ProductCreation, "order.deliver": OrderDelivery,
    "order.complete_in_store": StoreCompletion, "order.delete": OrderDeletion, "order.update_rows": RowUpdate,
}


# --- JSON (plan files) ---------------------------------------------------------------------------

def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def payload_to_dict(payload: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = _encode(payload)
    return encoded


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decode(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        return tuple(_decode(inner, v) for v in value)
    if hint is Decimal:
        return Decimal(str(value))
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is int:
        return int(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        known = {f.name for f in dataclasses.fields(hint)}
        return hint(**{k: _decode(hints[k], v) for k, v in value.items() if k in known})
    if origin in (dict, Mapping) or hint is Any:
        return value
    return value


def payload_from_dict(kind: str, data: Mapping[str, Any] | None) -> Payload | None:
    """The typed payload of an action of `kind` from its JSON form (None stays None)."""
    if data is None:
        return None
    cls = PAYLOAD_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown action kind {kind!r}")
    payload: Payload = _decode(cls, data)
    return payload
