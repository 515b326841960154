"""Resolve a store's configured `location` to one Katana location, the way Katana's own
integration does, and say clearly why when it cannot.

Called by the runner on every plan (against `GET /locations?include_deleted=true`, read once
per run) and by `move_order`. Rules (Katana help centre, "How to map WooCommerce orders to a
Katana location"):

* by id, or by exact (case-sensitive) name among the locations that are not deleted;
* no location given: a single-location account uses that location; with several, the mapping
  is required and the error lists the choices;
* the location must exist, must not be deleted, and must allow sales;
* a name two live locations share is ambiguous: the id must be used.

A deleted mapped location does not make the config invalid: it *blocks* the store (order import
and stock sync stop) until the config maps another location, so nothing placed meanwhile is lost.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Sequence

from .models import Location

OK, BLOCKED, INVALID = "ok", "blocked", "invalid"


@dataclass(frozen=True)
class Resolution:
    outcome: str                   # ok | blocked | invalid
    location: Location | None      # the resolved (or, when blocked, the deleted) location
    reason: str                    # a CamelCase reason for status conditions
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome == OK


def resolve_location(store: str, wanted: str | int | None, locations: Sequence[Location]) -> Resolution:
    """`locations` must include deleted ones (`include_deleted=true`), so deletion is told apart
    from a typo."""
    live = [loc for loc in locations if not loc.deleted]
    choices = ", ".join(f"{loc.name!r} (#{loc.id})" for loc in sorted(live, key=lambda l: l.id)) or "none"

    if wanted is None:
        if len(live) == 1:
            return _check_sales(store, live[0], "SingleLocationDefault",
                                f"the account has one location, {live[0]}, so {store} uses it")
        if not live:
            return Resolution(INVALID, None, "NoLocations", "the Katana account has no location")
        return Resolution(INVALID, None, "LocationRequired",
                          f"the Katana account has {len(live)} locations, so {store} must name one "
                          f"(stores[].location): {choices}")

    if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit() and
                                   not any(loc.name == wanted for loc in live)):
        location_id = int(wanted)
        found = next((loc for loc in locations if loc.id == location_id), None)
        if found is None:
            return Resolution(INVALID, None, "LocationNotFound",
                              f"there is no Katana location #{location_id}; choose one of: {choices}")
        if found.deleted:
            return _deleted(store, found)
        return _check_sales(store, found, "LocationById", f"{store} is mapped to {found}")

    matches = [loc for loc in live if loc.name == wanted]
    if len(matches) > 1:
        ids = ", ".join(f"#{loc.id}" for loc in matches)
        return Resolution(INVALID, None, "LocationAmbiguous",
                          f"{len(matches)} Katana locations are named {wanted!r} ({ids}); map {store} by id")
    if matches:
        return _check_sales(store, matches[0], "LocationByName", f"{store} is mapped to {matches[0]}")
    deleted = sorted((loc for loc in locations if loc.deleted and loc.name == wanted),
                     key=lambda l: l.deleted_at or 0, reverse=True)
    if deleted:
        return _deleted(store, deleted[0])
    close = difflib.get_close_matches(wanted, [loc.name for loc in live], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return Resolution(INVALID, None, "LocationNotFound",
                      f"no Katana location is named {wanted!r}{hint} Choose one of: {choices}")


def _check_sales(store: str, location: Location, reason: str, message: str) -> Resolution:
    if not location.sales_allowed:
        return Resolution(INVALID, location, "LocationNotForSales",
                          f"{location} does not allow sales orders (sales_allowed is false in Katana); "
                          f"allow sales there or map {store} to another location")
    return Resolution(OK, location, reason, message)


def _deleted(store: str, location: Location) -> Resolution:
    since = location.deleted_at.strftime("%Y-%m-%d %H:%M UTC") if location.deleted_at else "an unknown time"
    return Resolution(
        BLOCKED, location, "LocationDeleted",
        f"Katana location {location} was deleted at {since}. Order import and stock sync for {store} are "
        f"stopped; nothing is lost: orders placed meanwhile wait in WooCommerce. Map {store} to another "
        f"location in the config (stores[].location) and apply to resume.")
