"""Argument validation of the WooCommerce emulator, done the way WordPress's REST server does it.

Used by `_woo_rest`. WordPress checks every declared argument (query string and body alike) against
its schema *before* the permission callback runs, collects every failure and answers 400
`rest_invalid_param` "Invalid parameter(s): a, b" with `data.params` (name -> message) and
`data.details` (name -> {code, message, data}). Messages are WordPress's own:
"per_page must be between 1 (inclusive) and 100 (inclusive)" (rest_out_of_bounds),
"status[0] is not one of any, trash, ... and checkout-draft." (rest_not_in_enum),
"manage_stock is not of type boolean." (rest_invalid_type, data {"param": ...}).
Query strings follow PHP: a repeated plain key keeps only its LAST value (`sku=A&sku=B` is `B`);
`key[]=a&key[]=b` or `key=a,b` make an array. Arguments nobody declared are ignored.
"""
from __future__ import annotations

import re
from typing import Any

from ._woo_model import ORDER_STATUSES, WooError, invalid_params, parse_wp_date, wp_list

_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

PRODUCT_STATUSES = ["any", "future", "trash", "draft", "pending", "private", "publish"]
PRODUCT_TYPES = ["simple", "grouped", "external", "variable"]
STOCK_STATUSES = ["instock", "outofstock", "onbackorder"]
ORDER_LIST_STATUSES = ["any", "trash", "auto-draft", "pending", "processing", "on-hold", "completed", "cancelled",
                       "refunded", "failed", "checkout-draft"]
CURRENCIES = ("AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTC BTN BWP BYR "
              "BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
              "GGP GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS IMP INR IQD IRR IRT ISK JEP JMD JOD JPY KES "
              "KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
              "MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PRB PYG QAR RON RSD RUB RWF SAR SBD "
              "SCR SDG SEK SGD SHP SLL SOS SRD SSP STN SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU "
              "UZS VEF VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW").split()

# A spec (`validate`): argument name -> its JSON-schema-like rules.
Spec = dict[str, dict[str, Any]]
_INT_ARRAY: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}
_COMMON: Spec = {
    "context": {"type": "string", "enum": ["view", "edit"]},
    "page": {"type": "integer", "minimum": 1, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "search": {"type": "string"},
    "after": {"type": "date-time"}, "before": {"type": "date-time"},
    "modified_after": {"type": "date-time"}, "modified_before": {"type": "date-time"},
    "dates_are_gmt": {"type": "boolean", "default": False},
    "exclude": _INT_ARRAY, "include": _INT_ARRAY, "offset": {"type": "integer"},
    "order": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
}
PRODUCT_QUERY: Spec = {
    **_COMMON,
    "orderby": {"type": "string", "default": "date", "enum": ["date", "id", "include", "title", "slug", "modified",
                                                               "menu_order", "price", "popularity", "rating"]},
    "parent": _INT_ARRAY, "parent_exclude": _INT_ARRAY, "slug": {"type": "string"},
    "status": {"type": "string", "enum": PRODUCT_STATUSES, "default": "any"},
    "type": {"type": "string", "enum": PRODUCT_TYPES}, "sku": {"type": "string"},
    "featured": {"type": "boolean"}, "on_sale": {"type": "boolean"}, "min_price": {"type": "string"},
    "max_price": {"type": "string"}, "stock_status": {"type": "string", "enum": STOCK_STATUSES},
    "search_sku": {"type": "string"}, "virtual": {"type": "boolean"}, "downloadable": {"type": "boolean"},
}
VARIATION_QUERY: Spec = {
    **_COMMON,
    "orderby": {"type": "string", "default": "date", "enum": ["date", "id", "include", "title", "slug", "modified",
                                                               "menu_order"]},
    "parent": _INT_ARRAY, "parent_exclude": _INT_ARRAY, "slug": {"type": "string"},
    "status": {"type": "string", "enum": PRODUCT_STATUSES, "default": "any"}, "sku": {"type": "string"},
    "on_sale": {"type": "boolean"}, "stock_status": {"type": "string", "enum": STOCK_STATUSES},
    "min_price": {"type": "string"}, "max_price": {"type": "string"},
}
ORDER_QUERY: Spec = {
    **_COMMON,
    "orderby": {"type": "string", "default": "date", "enum": ["date", "id", "include", "title", "slug", "modified"]},
    "parent": _INT_ARRAY, "parent_exclude": _INT_ARRAY,
    "status": {"type": "array", "items": {"type": "string", "enum": ORDER_LIST_STATUSES}, "default": ["any"]},
    "customer": {"type": "integer"}, "product": {"type": "integer"}, "dp": {"type": "integer", "default": 2},
    "created_via": {"type": "array", "items": {"type": "string"}},
}
NOTE_QUERY: Spec = {"context": {"type": "string", "enum": ["view", "edit"]},
              "type": {"type": "string", "enum": ["any", "customer", "internal"], "default": "any"}}
ITEM_QUERY: Spec = {"context": {"type": "string", "enum": ["view", "edit"]}, "force": {"type": "boolean", "default": False},
              "dp": {"type": "integer", "default": 2}}

_S, _B, _I = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
_A, _O = {"type": "array"}, {"type": "object"}
PRODUCT_BODY: Spec = {
    "name": _S, "slug": _S, "type": {"type": "string", "enum": PRODUCT_TYPES},
    "status": {"type": "string", "enum": ["draft", "pending", "private", "publish", "future", "auto-draft", "trash"]},
    "featured": _B, "catalog_visibility": {"type": "string", "enum": ["visible", "catalog", "search", "hidden"]},
    "description": _S, "short_description": _S, "sku": _S, "regular_price": _S, "sale_price": _S, "virtual": _B,
    "downloadable": _B, "tax_status": {"type": "string", "enum": ["taxable", "shipping", "none"]}, "tax_class": _S,
    "manage_stock": _B, "stock_quantity": _I, "backorders": {"type": "string", "enum": ["no", "notify", "yes"]},
    "stock_status": {"type": "string", "enum": STOCK_STATUSES}, "low_stock_amount": {"type": "integer|null"},
    "weight": _S, "dimensions": _O, "menu_order": _I, "attributes": _A, "meta_data": _A, "parent_id": _I,
}
# Create defaults WordPress merges in from the item schema (why a bare POST gets manage_stock false).
PRODUCT_DEFAULTS = {"type": "simple", "status": "publish", "featured": False, "catalog_visibility": "visible",
                    "virtual": False, "downloadable": False, "tax_status": "taxable", "manage_stock": False,
                    "backorders": "no", "stock_status": "instock"}
VARIATION_BODY: Spec = {
    "description": _S, "sku": _S, "regular_price": _S, "sale_price": _S,
    "status": {"type": "string", "enum": ["draft", "pending", "private", "publish"]}, "virtual": _B,
    "downloadable": _B, "tax_status": {"type": "string", "enum": ["taxable", "shipping", "none"]}, "tax_class": _S,
    "manage_stock": _B, "stock_quantity": _I, "backorders": {"type": "string", "enum": ["no", "notify", "yes"]},
    "stock_status": {"type": "string", "enum": STOCK_STATUSES}, "low_stock_amount": {"type": "integer|null"},
    "weight": _S, "dimensions": _O, "image": _O, "attributes": _A, "menu_order": _I, "meta_data": _A,
}
VARIATION_DEFAULTS = {"status": "publish", "virtual": False, "downloadable": False, "tax_status": "taxable",
                      "manage_stock": False, "backorders": "no", "stock_status": "instock"}
ORDER_BODY: Spec = {
    "parent_id": _I, "status": {"type": "string", "enum": ["auto-draft", *ORDER_STATUSES]},
    "currency": {"type": "string", "enum": CURRENCIES}, "customer_id": _I, "customer_note": _S,
    "billing": {"type": "object", "email_fields": ["email"]}, "shipping": _O, "payment_method": _S,
    "payment_method_title": _S, "transaction_id": _S, "meta_data": _A, "line_items": _A, "shipping_lines": _A,
    "fee_lines": _A, "coupon_lines": _A, "set_paid": _B, "created_via": _S, "manual_update": _B,
}
ORDER_DEFAULTS = {"status": "pending", "currency": "USD", "customer_id": 0, "set_paid": False}
NOTE_BODY: Spec = {"note": {"type": "string", "required": True}, "customer_note": _B, "added_by_user": _B}
BATCH_BODY: Spec = {"create": {"type": "array", "items": {"type": "object"}},
              "update": {"type": "array", "items": {"type": "object"}},
              "delete": {"type": "array", "items": {"type": "integer"}}}


def query_values(query: dict[str, list[str]]) -> dict[str, Any]:
    """PHP's $_GET: the last value of a plain key, every value of a `key[]` key."""
    values: dict[str, Any] = {}
    for key, items in query.items():
        if key.endswith("[]"):
            values.setdefault(key[:-2], [])
            if isinstance(values[key[:-2]], list):
                values[key[:-2]].extend(items)
        elif items:
            values[key] = items[-1]
    return values


def validate(values: dict[str, Any], specs: dict[str, dict[str, Any]], *,
             defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The declared arguments sanitised (ints, bools, lists), unknown ones passed through.
    Raises the WordPress error for missing required and invalid arguments."""
    missing = [name for name, spec in specs.items() if spec.get("required") and name not in values]
    if missing:
        raise WooError("rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", 400,
                       params=missing)
    out = dict(values)
    errors: dict[str, tuple[str, str, Any]] = {}
    for name, spec in specs.items():
        if name not in values:
            if "default" in spec:
                out[name] = spec["default"]
            continue
        try:
            out[name] = _check(name, values[name], spec)
        except _Invalid as exc:
            errors[name] = exc.args
    if errors:
        raise invalid_params(errors)
    for name, value in (defaults or {}).items():
        out.setdefault(name, value)
    return out


class _Invalid(Exception):
    pass


def _type_error(name: str, type_name: str) -> _Invalid:
    return _Invalid("rest_invalid_type", f"{name} is not of type {type_name}.", {"param": name})


def _check(name: str, value: Any, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "integer|null":
        return None if value is None else _check(name, value, {**spec, "type": "integer"})
    if kind in ("integer", "number"):
        value = _as_number(name, value, kind)
        low, high = spec.get("minimum"), spec.get("maximum")
        if low is not None and high is not None and not low <= value <= high:
            raise _Invalid("rest_out_of_bounds", f"{name} must be between {low} (inclusive) and {high} (inclusive)",
                           None)
        if low is not None and high is None and value < low:
            raise _Invalid("rest_out_of_bounds", f"{name} must be greater than or equal to {low}", None)
    elif kind == "boolean":
        if isinstance(value, bool):
            pass
        elif isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            value = value.lower() in ("true", "1")
        elif isinstance(value, int) and value in (0, 1):
            value = bool(value)
        else:
            raise _type_error(name, "boolean")
    elif kind == "string":
        if not isinstance(value, str):
            raise _type_error(name, "string")
    elif kind == "date-time":
        if not isinstance(value, str):
            raise _type_error(name, "string")
        if parse_wp_date(value) is None:
            raise _Invalid("rest_invalid_date", "Invalid date.", None)
    elif kind == "array":
        if isinstance(value, str):
            value = [v for v in re.split(r"[\s,]+", value) if v]
        if not isinstance(value, list):
            raise _type_error(name, "array")
        item_spec = spec.get("items")
        if item_spec:
            value = [_check(f"{name}[{i}]", item, item_spec) for i, item in enumerate(value)]
    elif kind == "object":
        if value == []:
            value = {}
        if not isinstance(value, dict):
            raise _type_error(name, "object")
        for field_name in spec.get("email_fields", ()):
            email = value.get(field_name)
            if email not in (None, "") and (not isinstance(email, str) or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email)):
                raise _Invalid("rest_invalid_email", f"{name}[{field_name}] is not a valid email address.", None)
    enum = spec.get("enum")
    if enum is not None and value not in enum:
        if len(enum) == 1:
            raise _Invalid("rest_not_in_enum", f"{name} is not {enum[0]}.", None)
        raise _Invalid("rest_not_in_enum", f"{name} is not one of {wp_list(enum)}.", None)
    return value


def _as_number(name: str, value: Any, kind: str) -> Any:
    if isinstance(value, bool):
        raise _type_error(name, kind)
    if isinstance(value, str):
        if not _NUMERIC.match(value):
            raise _type_error(name, kind)
        value = float(value)
    if not isinstance(value, (int, float)):
        raise _type_error(name, kind)
    if kind == "integer":
        if float(value) != int(value):
            raise _type_error(name, kind)
        return int(value)
    return value
