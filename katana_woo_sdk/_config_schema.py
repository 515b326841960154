"""The config JSON Schema, and its validation errors rewritten for people.

Private helper of `config` (its only caller). The schema ships inside the package
(``katana_woo_sdk/schemas/config.schema.json``, a byte-identical copy of the repository's
``schemas/config.schema.json``, which editors can point at).

jsonschema's own messages are written for schema authors ("Additional properties are not allowed
('locaton' was unexpected)"); `humanise` turns each error into one or more
``(path, message, at_key)`` triples a shop owner can act on ("unknown property 'locaton'; did you
mean 'location'?"). A schema node may carry an ``errorMessage`` mapping (the ajv-errors convention)
from a keyword to the message to show when that keyword fails.
"""
from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

PathT = tuple[Any, ...]
Finding = tuple[PathT, str, bool]  # (path, message, point at the key rather than the value)


@lru_cache(maxsize=1)
def schema_text() -> str:
    """The packaged schema, as text."""
    return resources.files("katana_woo_sdk").joinpath("schemas", "config.schema.json").read_text("utf-8")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The packaged schema, parsed."""
    parsed: dict[str, Any] = json.loads(schema_text())
    return parsed


def _strict_integer(checker: Any, instance: Any) -> bool:
    # JSON Schema counts 3.0 as an integer; a location id or a day count written as 3.0 is a mistake.
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(  # type: ignore[no-untyped-call]  # types-jsonschema leaves extend unannotated
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)


@lru_cache(maxsize=1)
def validator() -> Validator:
    checker: Validator = _Validator(schema())
    return checker


def _kind(value: Any) -> str:
    """How a YAML author would name the type of `value`."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({_short(value)})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "null": "null"}


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def suggest(word: str, choices: list[str]) -> str | None:
    """The closest of `choices` to `word` (case-insensitively), or None."""
    lowered = {choice.lower(): choice for choice in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _unknown_key(key: Any, node: dict[str, Any]) -> str:
    known = list(node.get("properties", {}))
    message = f"unknown property '{key}'"
    if isinstance(key, str):
        guess = suggest(key, known)
        if guess:
            return f"{message}; did you mean '{guess}'?"
        for parent, sub in node.get("properties", {}).items():
            if key in sub.get("properties", {}):
                return f"{message}; it belongs under '{parent}'"
    return f"{message}; allowed here: {', '.join(known)}"


def _type_message(error: ValidationError) -> str:
    # Every error jsonschema yields has its validator_value and instance set (the stubs allow Unset).
    wanted: Any = error.validator_value
    value: Any = error.instance
    expected: list[Any] = wanted if isinstance(wanted, list) else [wanted]
    message = f"expected {_join([_TYPE_NAMES.get(t, t) for t in expected])}, got {_kind(value)}"
    if isinstance(value, bool) and "string" in expected:
        message += "; YAML reads unquoted yes/no/on/off/true/false as booleans, quote the text"
    elif isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value) and {"integer", "number"} & set(expected):
        message += "; remove the quotes to make it a number"
    elif isinstance(value, float) and "integer" in expected:
        message += "; write a whole number"
    return message


def _enum_hint(value: Any, options: list[Any]) -> str:
    if isinstance(value, str):
        strings = [o for o in options if isinstance(o, str)]
        guess = suggest(value.removeprefix("wc-"), strings)
        if guess:
            return f"; did you mean '{guess}'?"
    return ""


def humanise(error: ValidationError) -> Iterator[Finding]:
    """One jsonschema error -> the findings to report (several for several unknown keys)."""
    path = tuple(error.absolute_path)
    keyword = error.validator
    # Every error jsonschema yields has its schema, validator_value and instance set (the stubs allow Unset).
    here: Any = error.schema
    v: Any = error.validator_value
    value: Any = error.instance
    custom = here.get("errorMessage", {}) if isinstance(here, dict) else {}

    if keyword == "additionalProperties" and isinstance(value, dict):
        known = here.get("properties", {})
        patterns = here.get("patternProperties", {})
        for key in value:
            if key in known or (isinstance(key, str) and any(re.search(p, key) for p in patterns)):
                continue
            yield path + (key,), _unknown_key(key, here), True
        return
    if keyword == "required":
        missing = re.match(r"^'(.+)' is a required property$", error.message)
        names = [missing.group(1)] if missing else [n for n in v if n not in value]
        for name in names:
            yield path, f"missing required property '{name}'", False
        return
    if keyword == "dependentRequired":
        for name, needs in v.items():
            for need in needs:
                if name in value and need not in value:
                    yield path + (name,), f"'{name}' needs '{need}' as well", True
        return
    if keyword in custom:
        message = custom[keyword]
        if keyword in ("anyOf", "oneOf"):
            for sub in v:
                if "enum" in sub:
                    message += _enum_hint(value, sub["enum"])
        yield path, message, False
        return
    if keyword == "type":
        message = _type_message(error)
    elif keyword == "enum":
        message = f"{_short(value)} is not one of {', '.join(map(repr, v))}" + _enum_hint(value, v)
    elif keyword == "const":
        message = f"must be {v!r}"
    elif keyword == "minimum":
        message = f"must be at least {v}, got {_short(value)}"
    elif keyword == "exclusiveMinimum":
        message = f"must be greater than {v}, got {_short(value)}"
    elif keyword == "maximum":
        message = f"must be at most {v}, got {_short(value)}"
    elif keyword == "minLength":
        message = "must not be empty" if v == 1 else f"must be at least {v} characters long"
    elif keyword == "maxLength":
        message = f"must be at most {v} characters long (it has {len(value)})"
    elif keyword == "minItems":
        message = "must not be empty" if v == 1 else f"must list at least {v} items"
    elif keyword == "uniqueItems":
        message = "lists the same item twice"
    elif keyword == "pattern":
        message = f"{_short(value)} does not match the pattern {v}"
    else:  # a keyword this module has no wording for: jsonschema's own, minus the instance dump
        message = error.message
    yield path, message, False


def findings(data: Any) -> list[Finding]:
    """Every schema finding for `data`, each error rewritten by `humanise`."""
    out: list[Finding] = []
    for error in validator().iter_errors(data):
        out.extend(humanise(error))
    return out


def node(*keys: str) -> dict[str, Any]:
    """The schema node of a property, e.g. ``node("stores", "orders", "since")`` (lists are stepped into)."""
    out = schema()
    for key in keys:
        out = out["properties"][key]
        if isinstance(out.get("items"), dict) and "properties" in out["items"]:
            out = out["items"]
    return out


def default(*keys: str) -> Any:
    """The schema's `default` for a property (same key walk as `node`)."""
    return node(*keys).get("default")
