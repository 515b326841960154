"""Request-body validation for the Katana emulator, the way Katana's gateway does it (Ajv).

Called by `_katana_data` before any write. Katana validates every request body against a DTO
schema with `additionalProperties: false` and answers 422 with Ajv-style `details`
(`path`, `code` = Ajv keyword, `message`, `info` = Ajv params). The DTOs below restate the live
gateway's schemas (`CreateSalesOrderDto`, ...) field for field; `tests/test_sandbox_katana.py`
compares them with the gateway spec in `../shared` so they cannot drift apart silently.

Only the JSON-Schema keywords those DTOs use are implemented. Two choices where Katana's exact
Ajv configuration is unknown:
- every error is reported (Ajv `allErrors`), not just the first;
- `required` and `additionalProperties` errors carry the *property's* path (`.customer_id`), as
  Ajv's `errorDataPath: "property"` does, which is the most useful form for a caller.
"""
from __future__ import annotations

import math
import re
from typing import Any

Schema = dict[str, Any]

INT32 = 2147483647
_BIG = 1000000000000000000   # Katana's money ceiling (1e18)
_QTY = 100000000000000000    # Katana's quantity ceiling (1e17)
_RATE = 1000000000000        # conversion rates and a purchase unit's conversion (1e12)
_PRICE = 100000000000        # a variant's sales and purchase price (1e11)


# --- a terse vocabulary for restating the DTOs -------------------------------------------------

def _t(kind: str, *, nullable: bool | None = None, **kw: Any) -> Schema:
    out: Schema = {"type": kind, **kw}
    if nullable is not None:
        out["nullable"] = nullable
    return out


def _obj(props: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    out: Schema = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = list(required)
    return out


def _arr(items: Schema, **kw: Any) -> Schema:
    return {"type": "array", "items": items, **kw}


def _nstr() -> Schema:
    return _t("string", nullable=True)


def _id(minimum: int | None = None, **kw: Any) -> Schema:
    extra: dict[str, Any] = {"minimum": minimum} if minimum is not None else {}
    return _t("integer", maximum=INT32, **extra, **kw)


_FREE_OBJECT: Schema = {"type": "object", "additionalProperties": True, "nullable": True}

_ADDRESS_FIELDS = ("first_name", "last_name", "company", "phone", "line_1", "line_2", "city", "state", "zip",
                   "country")
_ENTITY_TYPE = ["billing", "shipping"]

_ROW_ATTRIBUTE = _obj({"key": _t("string"), "value": _t("string")}, ("key", "value"))

_TRACE_QUANTITY: Schema = {"allOf": [
    {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^(-|)[0-9]+?\.?[0-9]*$"}]},
    {"anyOf": [{"type": "number", "not": {"const": 0}}, {"type": "string", "not": {"pattern": r"^(-|)[0]+?\.?[0]*$"}}]},
]}


def _traceability_item(*, quantity_required: bool) -> Schema:
    return _obj({
        "batch_id": _t("number", nullable=True, minimum=0, maximum=INT32),
        "bin_location_id": _t("number", nullable=True, minimum=0, maximum=INT32),
        "serial_number_id": _t("number", nullable=True, minimum=0, maximum=INT32),
        "quantity": _TRACE_QUANTITY,
    }, ("quantity",) if quantity_required else ())


CREATE_SALES_ORDER_ROW = _obj({
    "variant_id": _id(1, nullable=False),
    "quantity": _t("number", nullable=False, minimum=0, maximum=_QTY),
    "price_per_unit": _t("number", nullable=False, minimum=0, maximum=_BIG),
    "tax_rate_id": _id(1, nullable=False),
    "total_discount": _t("number", nullable=False, minimum=0, maximum=_BIG),
    "location_id": _id(1, nullable=False),
    "attributes": _arr(_ROW_ATTRIBUTE, nullable=False),
    "custom_fields": _FREE_OBJECT,
}, ("quantity", "variant_id"))

DTOS: dict[str, Schema] = {
    "CreateSalesOrderDto": _obj({
        "order_no": _t("string", nullable=False, minLength=1),
        "customer_id": _id(0, nullable=False),
        "location_id": _id(0, nullable=False),
        "order_created_date": _t("string"),
        "delivery_date": _t("string"),
        "currency": _t("string"),
        "status": _t("string", nullable=False, enum=["PENDING", "NOT_SHIPPED"]),
        "customer_ref": _nstr(),
        "additional_info": _nstr(),
        "tracking_number": _t("string", nullable=True, minLength=0, maxLength=256),
        "tracking_number_url": _t("string", nullable=True, minLength=0, maxLength=2048),
        "ecommerce_order_type": _t("string", nullable=True, minLength=1),
        "ecommerce_store_name": _t("string", nullable=True, minLength=1),
        "ecommerce_order_id": _t("string", nullable=True, minLength=1),
        "addresses": _arr(_obj({"entity_type": _t("string", nullable=False, enum=_ENTITY_TYPE),
                                **{f: _nstr() for f in _ADDRESS_FIELDS}}, ("entity_type",)), nullable=False),
        "custom_fields": _FREE_OBJECT,
        "sales_order_rows": _arr(CREATE_SALES_ORDER_ROW, minItems=1),
    }, ("customer_id", "sales_order_rows")),

    "UpdateSalesOrderDto": _obj({
        "order_no": _t("string", minLength=1),
        "customer_id": _id(1, nullable=False),
        "location_id": _id(1, nullable=False),
        "order_created_date": _t("string"),
        "delivery_date": _t("string"),
        "picked_date": _t("string"),
        "currency": _t("string"),
        "status": _t("string", nullable=False, enum=["PENDING", "NOT_SHIPPED", "PACKED", "DELIVERED"]),
        "customer_ref": _nstr(),
        "additional_info": _nstr(),
        "tracking_number": _t("string", nullable=True, minLength=1, maxLength=256),
        "tracking_number_url": _t("string", nullable=True, minLength=1, maxLength=2048),
        "conversion_rate": _t("number"),
        "conversion_date": _t("string"),
        "custom_fields": _FREE_OBJECT,
    }),

    "UpdateSalesOrderRowDto": _obj({
        "variant_id": _id(1, nullable=False),
        "quantity": _t("number", nullable=False, minimum=0, maximum=_QTY),
        "price_per_unit": _t("number", nullable=False, minimum=0, maximum=_BIG),
        "tax_rate_id": _id(1, nullable=False),
        "total_discount": _t("number", nullable=False, minimum=0, maximum=_BIG),
        "location_id": _id(1, nullable=False),
        "attributes": _arr(_ROW_ATTRIBUTE, nullable=False),
        "batch_transactions": _arr(_obj({"batch_id": _id(), "quantity": _t("number")}, ("batch_id",)),
                                   nullable=False),
        "serial_number_transactions": _arr(_obj({"serial_number_id": _id(),
                                                 "quantity": _t("integer", minimum=0, maximum=1)},
                                                ("serial_number_id",)), nullable=False),
        "traceability": _arr(_traceability_item(quantity_required=False)),
        "custom_fields": _FREE_OBJECT,
    }),

    "CreateStockAdjustmentDto": _obj({
        "stock_adjustment_number": _t("string"),
        "location_id": _id(),
        "stock_adjustment_date": _t("string"),
        "reason": _t("string"),
        "additional_info": _nstr(),
        # minItems: the live gateway snapshot omits it, Katana's portal spec declares it; an
        # adjustment without rows is meaningless, so the emulator takes the stricter reading.
        "stock_adjustment_rows": _arr(_obj({
            "variant_id": _id(),
            "quantity": _t("number", maximum=_QTY),
            "cost_per_unit": _t("number", minimum=0, maximum=_BIG),
            "batch_transactions": _arr(_obj({"batch_id": _id(nullable=True), "quantity": _t("number")},
                                            ("batch_id", "quantity"))),
            "traceability": _arr(_traceability_item(quantity_required=True)),
        }, ("quantity", "variant_id")), minItems=1),
    }, ("stock_adjustment_number", "location_id", "stock_adjustment_rows")),

    "CreateCustomerDto": _obj({
        "name": _t("string", minLength=1),
        "first_name": _t("string"),
        "last_name": _t("string"),
        "company": _t("string"),
        "email": _t("string"),
        "phone": _t("string"),
        "comment": _t("string"),
        "currency": _t("string"),
        "reference_id": _t("string"),
        "category": _t("string"),
        "discount_rate": _t("number", nullable=True, minimum=0, maximum=100),
        "addresses": _arr(_obj({"entity_type": _t("string", enum=_ENTITY_TYPE), "default": _t("boolean"),
                                **{f: _nstr() for f in _ADDRESS_FIELDS}}, ("entity_type",))),
    }, ("name",)),

    "CreateTaxRateDto": _obj({"rate": _t("number", minimum=0, maximum=999.999), "name": _t("string")}, ("rate",)),

    "AddShippingFeeDto": _obj({"sales_order_id": _t("number"), "amount": _t("string"),
                               "description": _t("string"), "tax_rate_id": _t("number")},
                              ("sales_order_id", "amount")),

    "CreateSalesOrderAddressDto": _obj({"sales_order_id": _id(), "entity_type": _t("string", enum=_ENTITY_TYPE),
                                        **{f: _nstr() for f in _ADDRESS_FIELDS}},
                                       ("entity_type", "sales_order_id")),

    # After the order is created (`_katana_lifecycle`): fulfilments, rows of an open order, products.
    "CreateSalesOrderFulfillmentDto": _obj({
        "conversion_date": _t("string", nullable=True, minLength=0),
        "conversion_rate": _t("number", nullable=True, minimum=0, maximum=_RATE),
        "picked_date": _t("string", nullable=False, minLength=1),
        "sales_order_fulfillment_rows": _arr({**_obj({
            "batch_transactions": _arr(_obj({"batch_id": _id(nullable=True), "quantity": _t("number")},
                                            ("batch_id", "quantity")), nullable=False),
            "quantity": _t("number", nullable=False, minimum=0, maximum=_QTY),
            "sales_order_row_id": _id(1, nullable=False),
            "serial_numbers": _arr(_t("number")),
            "traceability": _arr(_traceability_item(quantity_required=False)),
        }, ("sales_order_row_id", "quantity")),
            # The gateway declares the traceability item's DTO here too (and refers to it by $ref).
            "definitions": {"TraceabilityInputItemDto": _traceability_item(quantity_required=False)}},
            minItems=1, nullable=False),
        "sales_order_id": _id(1, nullable=False),
        "status": _t("string", nullable=False, enum=["PACKED", "DELIVERED"]),
        "tracking_carrier": _t("string", nullable=True, minLength=0),
        "tracking_method": _t("string", nullable=True, minLength=0),
        "tracking_number": _t("string", nullable=True, minLength=0, maxLength=256),
        "tracking_url": _t("string", nullable=True, minLength=0, maxLength=2048),
    }, ("sales_order_id", "status", "sales_order_fulfillment_rows")),

    "UpdateSalesOrderFulfillmentDto": _obj({
        "conversion_date": _t("string", nullable=True, minLength=1),
        "conversion_rate": _t("number", nullable=True, minimum=0, maximum=_RATE),
        "packer_id": _id(1, nullable=False),
        "picked_date": _t("string", nullable=False, minLength=1),
        "status": _t("string", nullable=False, enum=["PACKED", "DELIVERED"]),
        "tracking_carrier": _t("string", nullable=True, minLength=1),
        "tracking_method": _t("string", nullable=True, minLength=1),
        "tracking_number": _t("string", nullable=True, minLength=1, maxLength=256),
        "tracking_url": _t("string", nullable=True, minLength=1, maxLength=2048),
    }),

    "CreateSalesOrderRowWithSalesOrderIdDto": _obj({
        **CREATE_SALES_ORDER_ROW["properties"],
        "sales_order_id": _id(1, nullable=False),
    }, ("quantity", "variant_id", "sales_order_id")),

    "CreateProductDto": _obj({
        "additional_info": _t("string"),
        "batch_tracked": _t("boolean", nullable=False, default=False),
        "category_name": _t("string", minLength=1),
        "configs": _arr(_obj({"name": _t("string"), "values": _arr(_t("string"))}, ("name", "values")),
                        maxItems=10, minItems=1),
        "custom_field_collection_id": _t("number", nullable=True),
        "default_supplier_id": _id(),
        "is_auto_assembly": _t("boolean"),
        "is_producible": _t("boolean"),
        "is_purchasable": _t("boolean"),
        "is_sellable": _t("boolean"),
        "name": _t("string", minLength=1),
        "operations_in_sequence": _t("boolean", nullable=False, default=False),
        "purchase_uom": _t("string", nullable=True, minLength=1, maxLength=7),
        "purchase_uom_conversion_rate": _t("number", maximum=_RATE),
        "serial_tracked": _t("boolean", nullable=False, default=False),
        "uom": _t("string", nullable=False, minLength=1, maxLength=7),
        "variants": _arr(_obj({
            "config_attributes": _arr(_obj({"config_name": _t("string"), "config_value": _t("string")},
                                           ("config_name", "config_value")), minItems=1),
            "custom_fields": _arr(_obj({"field_name": _t("string"), "field_value": _t("string")},
                                       ("field_name", "field_value")), maxItems=3),
            "internal_barcode": _t("string", minLength=3, maxLength=40),
            "lead_time": _t("number", nullable=True, minimum=0, maximum=INT32),
            "minimum_order_quantity": _t("number", nullable=True, minimum=0, maximum=INT32),
            "purchase_price": _t("number", nullable=True, minimum=0, maximum=_PRICE),
            "registered_barcode": _t("string", minLength=3, maxLength=40),
            "sales_price": _t("number", nullable=True, minimum=0, maximum=_PRICE),
            "sku": _t("string", minLength=1),
            "supplier_item_codes": _arr(_t("string", minLength=1, maxLength=40)),
        }), minItems=1),
    }, ("name", "variants")),
}


# --- the validator ------------------------------------------------------------------------------

def validate(schema: Schema, value: Any, path: str = "") -> list[dict[str, Any]]:
    """Ajv-style error objects for `value` against `schema` (empty list: valid)."""
    errors: list[dict[str, Any]] = []
    _check(schema, value, path, errors)
    return errors


def _err(path: str, code: str, message: str, **info: Any) -> dict[str, Any]:
    return {"path": path, "code": code, "message": message, "info": info}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":   # JSON has one number type; 3.0 is an integer to Ajv as to JavaScript
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unsupported type {kind!r}")


def _check(schema: Schema, value: Any, path: str, errors: list[dict[str, Any]]) -> None:
    if value is None and schema.get("nullable") is True:
        return
    kinds = schema.get("type")
    if kinds is not None:
        kinds_list = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, k) for k in kinds_list):
            expected = ",".join(kinds_list)
            errors.append(_err(path, "type", f"should be {expected}", type=expected))
            return
    for sub in schema.get("allOf", ()):
        _check(sub, value, path, errors)
    if "anyOf" in schema and not any(not validate(sub, value, path) for sub in schema["anyOf"]):
        errors.append(_err(path, "anyOf", "should match some schema in anyOf"))
    if "not" in schema and not validate(schema["not"], value, path):
        errors.append(_err(path, "not", "should NOT be valid"))
    if "const" in schema and value != schema["const"]:
        errors.append(_err(path, "const", "should be equal to constant", allowedValue=schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        errors.append(_err(path, "enum", "should be equal to one of the allowed values",
                           allowedValues=list(schema["enum"])))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(_err(path, "minimum", f"should be >= {schema['minimum']}", comparison=">=",
                               limit=schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(_err(path, "maximum", f"should be <= {schema['maximum']}", comparison="<=",
                               limit=schema["maximum"]))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(_err(path, "minLength", f"should NOT be shorter than {schema['minLength']} characters",
                               limit=schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(_err(path, "maxLength", f"should NOT be longer than {schema['maxLength']} characters",
                               limit=schema["maxLength"]))
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(_err(path, "pattern", f'should match pattern "{schema["pattern"]}"',
                               pattern=schema["pattern"]))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(_err(path, "minItems", f"should NOT have fewer than {schema['minItems']} items",
                               limit=schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(_err(path, "maxItems", f"should NOT have more than {schema['maxItems']} items",
                               limit=schema["maxItems"]))
        if "items" in schema:
            for i, item in enumerate(value):
                _check(schema["items"], item, f"{path}[{i}]", errors)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                errors.append(_err(f"{path}.{name}", "required", f"should have required property '{name}'",
                                   missingProperty=name))
        for name, item in value.items():
            if name in props:
                _check(props[name], item, f"{path}.{name}", errors)
            elif schema.get("additionalProperties") is False:
                errors.append(_err(f"{path}.{name}", "additionalProperties", "should NOT have additional properties",
                                   additionalProperty=name))
