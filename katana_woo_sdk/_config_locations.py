"""The config checks of `locations[].allocation`, beyond what the schema says.

Private helper of `_config_checks` (its only caller), given its checker: `checker.data` the parsed file,
`checker.result.stores` the stores' effective settings, `checker.problem(path, message, at_key)` to
report, `checker.line_of(path)` for "first at line N"). A store's location is compared as written (a
name with a name, an id with an id), so a divided location and the stores that map to it must name
it the same way: then every store that divides it is known here, and `engines.allocation`'s refusal
of a store its rule does not list is only a last guard.
"""
from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Any

PathT = tuple[Any, ...]


def check(checker: Any) -> None:
    """`locations[].allocation` against the stores: the rule's own fields, then the stores of each
    divided location (`_divided_stores`)."""
    entries, stores = checker.data.get("locations"), checker.data.get("stores")
    if not isinstance(entries, list) or not isinstance(stores, list):
        return
    by_name: dict[str, int] = {s["name"]: i for i, s in enumerate(stores)
                               if isinstance(s, dict) and isinstance(s.get("name"), str)}
    seen: dict[tuple[Any, ...], int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("allocation"), dict):
            continue
        here, rule = ("locations", index), entry["allocation"]
        key = entry.get("location")
        if isinstance(key, (str, int)) and not isinstance(key, bool):
            if (type(key), key) in seen:
                checker.problem(here + ("location",), f"location {key!r} is listed twice (first at line "
                                f"{checker.line_of(('locations', seen[(type(key), key)]))}); give it one allocation")
                continue
            seen[(type(key), key)] = index
        mode = rule.get("mode")
        for needs, names in (("share", ("shares",)), ("priority", ("priorities", "reserve"))):
            for name in names:
                if mode == needs and name not in rule:
                    checker.problem(here + ("allocation",), f"mode {needs} needs '{name}'" + (
                        " (store name -> percent)" if name == "shares" else " (the stores, highest first)"
                        if name == "priorities" else " (the units each higher-priority store holds)"))
        for name, needs in (("shares", "share"), ("priorities", "priority"), ("reserve", "priority")):
            if name in rule and mode in ("pooled", "share", "priority") and mode != needs:
                checker.problem(here + ("allocation", name), f"'{name}' is read only with mode: {needs} (this "
                                f"location's mode is {mode})", True)
        if mode == "priority" and rule.get("reserve") == 0:
            checker.problem(here + ("allocation", "reserve"), "reserve 0 leaves the higher-priority stores "
                            "nothing; give the units each of them holds (at least 1)")
        listed: dict[str, PathT] = {}
        if mode == "share" and isinstance(rule.get("shares"), dict):
            listed = {n: here + ("allocation", "shares", n) for n in rule["shares"] if isinstance(n, str)}
            # Summed as decimals: 33.33 + 33.33 + 33.34 is 100, not 100.00000000000001.
            total = sum((Decimal(str(v)) for v in rule["shares"].values()
                         if isinstance(v, (int, float)) and not isinstance(v, bool)), Decimal(0))
            if total > 100:
                checker.problem(here + ("allocation", "shares"), f"shares add up to {total.normalize():f} %; at most "
                                f"100 % of a location can be divided")
        elif mode == "priority" and isinstance(rule.get("priorities"), list):
            listed = {n: here + ("allocation", "priorities", i) for i, n in enumerate(rule["priorities"])
                      if isinstance(n, str)}
        if mode in ("share", "priority"):
            _divided_stores(checker, key, mode, listed, by_name, stores, here)


def _divided_stores(checker: Any, key: Any, mode: str, listed: dict[str, PathT], by_name: dict[str, int], stores: list[Any],
                   here: PathT) -> None:
    """The stores a divided location lists: known, mapped there, all of them, one stock policy."""
    field_name = "shares" if mode == "share" else "priorities"
    policies: dict[str, str] = {}
    for name, path in listed.items():
        if name not in by_name:
            guess = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.6)
            checker.problem(path, f"no store '{name}' in this file" + (f"; did you mean '{guess[0]}'?" if guess else ""),
                            mode == "share")
            continue
        store = stores[by_name[name]]
        mapped = store.get("location")
        if isinstance(mapped, type(key)) and not isinstance(mapped, bool) and mapped != key:
            checker.problem(path, f"store '{name}' maps to {mapped!r}, not to {key!r}", mode == "share")
        result = checker.result.stores.get(by_name[name])
        if result is not None and store.get("enabled", True) is not False:
            policies[name] = result.stock.get("policy", "available")
    for name, index in by_name.items():
        store = stores[index]
        mapped = store.get("location")
        if store.get("enabled", True) is False or isinstance(mapped, bool) or not isinstance(key, (str, int)):
            continue
        if not isinstance(mapped, type(key)):
            # A store mapped by id (or by default) next to a location listed by name, or the reverse:
            # whether it is this location only Katana knows, so which stores divide it could not be checked.
            how = "by id" if isinstance(mapped, int) else "by name" if isinstance(mapped, str) else "not at all"
            checker.problem(here + ("location",), f"store '{name}' names its location {how} and this entry "
                            f"names one {'by id' if isinstance(key, int) else 'by name'}; name locations the same "
                            f"way in stores[] and locations[], so the stores that divide {key!r} are known")
            continue
        if name in listed:
            continue
        if mapped == key:
            what = "share (0 shows it nothing)" if mode == "share" else "place in the priorities"
            checker.problem(here + ("allocation", field_name), f"store '{name}' maps to {key!r} but has no {what}; "
                            f"without one nothing could be pushed to it")
    if len(set(policies.values())) > 1:
        shown = ", ".join(f"'{n}' {p}" for n, p in policies.items())
        checker.problem(here + ("allocation", field_name), f"the stores dividing {key!r} use different stock.policy "
                        f"({shown}); divided slices must come from one figure")
