"""The Katana emulator's vocabulary: records, Katana's error shape and its wire formats.

Used by `_katana_data` and `_katana_orders` (state and rules) and `_katana_http` (answers). No
state lives here: the records are plain mutable dataclasses that `KatanaData` owns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from ._katana_validate import DTOS, validate

OPEN = "NOT_SHIPPED"                         # the one status that commits stock
EDITABLE = frozenset({"NOT_SHIPPED", "PENDING"})
SHIPPED = frozenset({"PACKED", "DELIVERED"})  # stock already left quantity_in_stock

_Q5 = Decimal("0.00001")
_Q10 = Decimal("0.0000000001")


class KatanaApiError(Exception):
    """An answer in Katana's error shape; the HTTP layer wraps it in {"error": {...}}."""

    def __init__(self, status: int, name: str, message: str, *, code: str | None = None,
                 details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.name, self.message, self.code, self.details = status, name, message, code, details

    def body(self) -> dict[str, Any]:
        inner: dict[str, Any] = {"statusCode": self.status, "name": self.name, "message": self.message}
        if self.code is not None:
            inner["code"] = self.code
        if self.details is not None:
            inner["details"] = self.details
        return {"error": inner}


def not_found() -> KatanaApiError:
    return KatanaApiError(404, "NotFoundError", "Not found")


def invalid(details: list[dict[str, Any]]) -> KatanaApiError:
    return KatanaApiError(422, "UnprocessableEntityError",
                          "The request body is invalid. See error object `details` property for more info.",
                          code="VALIDATION_FAILED", details=details)


def detail(path: str, code: str, message: str, **info: Any) -> dict[str, Any]:
    return {"path": path, "code": code, "message": message, "info": info}


def check_dto(name: str, body: Any) -> dict[str, Any]:
    errors = validate(DTOS[name], body)
    if errors:
        raise invalid(errors)
    checked: dict[str, Any] = body   # valid: the DTO's object
    return checked


# --- wire formats ---------------------------------------------------------------------------

def iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def q5(value: Decimal) -> str:
    """Katana's inventory quantities: decimal strings with five places ("7.00000")."""
    return format((value + 0).quantize(_Q5), "f")   # + 0 turns -0 into 0


def q10(value: Decimal) -> str:
    """Katana's money strings: ten places ("1250.0000000000")."""
    return format((value + 0).quantize(_Q10), "f")


def num(value: Decimal | None) -> int | float | None:
    """A JSON number where Katana sends numbers (integral values without a fraction)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


# --- records --------------------------------------------------------------------------------

@dataclass
class Location:
    id: int
    name: str
    created_at: datetime
    is_primary: bool = False
    sales_allowed: bool = True
    purchase_allowed: bool = True
    manufacturing_allowed: bool = True
    legal_name: str | None = None
    address: dict[str, Any] | None = None
    deleted_at: datetime | None = None
    updated_at: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "legal_name": self.legal_name,
                "address_id": self.address["id"] if self.address else None, "address": self.address,
                "is_primary": self.is_primary, "sales_allowed": self.sales_allowed,
                "purchase_allowed": self.purchase_allowed, "manufacturing_allowed": self.manufacturing_allowed,
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at or self.created_at),
                "deleted_at": iso(self.deleted_at)}


@dataclass
class Product:
    id: int
    name: str
    created_at: datetime
    category_name: str | None = None


@dataclass
class Variant:
    id: int
    sku: str | None
    product_id: int
    created_at: datetime
    sales_price: Decimal | None = None
    purchase_price: Decimal = Decimal(0)
    config: dict[str, str] = field(default_factory=dict)
    name: str | None = None            # the admin's label; not an API field
    deleted_at: datetime | None = None
    kind: str = "product"              # the API's `type`: product | material | service (a snapshot's own)

    def to_api(self) -> dict[str, Any]:
        out = {"id": self.id, "sku": self.sku, "sales_price": num(self.sales_price),
                "purchase_price": num(self.purchase_price), "product_id": self.product_id, "material_id": None,
                "type": self.kind, "internal_barcode": None, "registered_barcode": None,
                "supplier_item_codes": [], "lead_time": None, "minimum_order_quantity": None,
                "config_attributes": [{"config_name": k, "config_value": v} for k, v in self.config.items()],
                "custom_fields": [], "created_at": iso(self.created_at), "updated_at": iso(self.created_at),
                "deleted_at": iso(self.deleted_at)}
        if self.sales_price is None:   # the spec's VariantResponse has no null price: the key is left out
            del out["sales_price"]
        return out


@dataclass
class StockCell:
    in_stock: Decimal = Decimal(0)
    expected: Decimal = Decimal(0)
    average_cost: Decimal = Decimal(0)
    safety_stock: Decimal = Decimal(0)
    updated_at: datetime | None = None


@dataclass
class SalesOrderRow:
    id: int
    sales_order_id: int
    variant_id: int
    quantity: Decimal
    price_per_unit: Decimal
    location_id: int
    created_at: datetime
    tax_rate_id: int | None = None
    total_discount: Decimal | None = None
    attributes: list[dict[str, str]] = field(default_factory=list)
    custom_fields: dict[str, Any] | None = None
    linked_manufacturing_order_id: int | None = None
    updated_at: datetime | None = None

    @property
    def total(self) -> Decimal:
        return self.quantity * self.price_per_unit - (self.total_discount or 0)


@dataclass
class SalesOrder:
    id: int
    order_no: str
    customer_id: int
    location_id: int
    status: str
    currency: str
    order_created_date: datetime
    delivery_date: datetime | None
    created_at: datetime
    rows: list[SalesOrderRow]
    addresses: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)   # plain stored fields (customer_ref, ecommerce_*, ...)
    shipping_fee: dict[str, Any] | None = None
    picked_date: datetime | None = None
    conversion_rate: Decimal | None = None
    conversion_date: datetime | None = None
    source: str = "API"
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    fulfilments: list[dict[str, Any]] = field(default_factory=list)   # packing and delivery records (`_katana_lifecycle`)
