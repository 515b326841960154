"""Which Katana location each store works at this run, and whether two stores are one shop.

Called by the runner first in every plan and apply: `plan_mapping` per store (the mapping, and a
`mapping` action when it is new or changed), then `same_shops` over the stores about to be read.

Mapping rules are `mapping.resolve_location`'s (Katana's own integration): a deleted location
blocks the store, an unknown or ambiguous one is invalid, a changed one is a remap (new orders go
to the new location; orders already imported stay where they are). A store's identity is its
WordPress site's `home` URL (`RunContext.site_identity`, read once and kept): two configured entries
with one identity would import every order twice and push two figures onto the same products.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from ..actions import LocationRef, MappingChange
from ..config import StoreConfig
from ..errors import KatanaWooError
from ..mapping import BLOCKED as RES_BLOCKED, INVALID as RES_INVALID, resolve_location
from ..models import Location
from ..plan import BLOCKED, INVALID, NEW, REMAP, UNCHANGED, Action, MappingPlan, fingerprint
from ..state import MappingRecord
from .context import RunContext, normalise_home

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappingStep:
    """The store's mapping this run: `location` None unless it resolved (blocked keeps the deleted
    one, for the message); `error` when the mapping is invalid."""

    mapping: MappingPlan
    location: Location | None = None
    action: Action | None = None
    error: str | None = None


def plan_mapping(store: StoreConfig, locations: Sequence[Location], current: MappingRecord | None) -> MappingStep:
    res = resolve_location(store.name, store.location, locations)
    previous = LocationRef(current.location_id, current.location_name) if current else None
    if res.outcome == RES_INVALID:
        return MappingStep(MappingPlan(INVALID, None, previous, res.reason, res.message), error=res.message)
    assert res.location is not None  # resolved or blocked: the location was found
    target = LocationRef(res.location.id, res.location.name)
    if res.outcome == RES_BLOCKED:
        return MappingStep(MappingPlan(BLOCKED, target, previous, res.reason, res.message), res.location)
    if previous is None:
        mapping = MappingPlan(NEW, target, None, res.reason, res.message)
    elif previous.id != target.id:
        mapping = MappingPlan(REMAP, target, previous, "Remapped",
                              f"new orders go to {target}; orders already imported stay at {previous}")
    else:
        mapping = MappingPlan(UNCHANGED, target, previous, res.reason, res.message)
    action = None
    if mapping.kind in (NEW, REMAP):
        action = Action(store.name, "mapping", "mapping", str(mapping),
                        before=None if previous is None else {"id": previous.id, "name": previous.name},
                        after={"id": target.id, "name": target.name},
                        fingerprint=fingerprint(target.id, previous.id if previous else None),
                        payload=MappingChange(target, previous))
    return MappingStep(mapping, res.location, action)


def same_shops(ctx: RunContext, stores: Sequence[StoreConfig]) -> dict[str, str]:
    """Store name -> why it is refused, for every store that shares its site identity with another.
    A store whose identity cannot be read is not refused (it is read again next run)."""
    homes: dict[str, list[str]] = {}
    for store in stores:
        try:
            home = ctx.site_identity(store)
        except KatanaWooError as exc:
            log.warning("%s: cannot read the site's identity (%s); checked again next run", store.name, exc)
            continue
        if home:
            homes.setdefault(normalise_home(home), []).append(store.name)
    refused = {}
    for home, names in homes.items():
        if len(names) > 1:
            for name in names:
                refused[name] = (f"stores {', '.join(names)} are the same WooCommerce site ({home}): configure it "
                                 f"once (two entries would import every order twice and push two locations' "
                                 f"figures onto the same products)")
    return refused
