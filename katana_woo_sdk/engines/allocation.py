"""Allocation: how one Katana location's figure is divided among the stores that sell from it.

Called by `engines.stock.figures()`, once per store item, where the item's figure is computed:
`slice_of` turns the location's figure (Katana's in stock - committed, less what the stores took
that Katana has not committed, as `engines.pending` counts it) into this store's slice, and the
store's own `buffer`, `maximum` and `floor_zero` then shape the slice as they shape a pooled
figure. `plan_notes` is what the plan and the report say about it. Everything here is a pure
function of its arguments; the rule comes from the config's `locations[].allocation`.

The modes (one per location; `pooled` when the location is not listed):

* `pooled` (the default, what Katana's own integration does): every store sees the whole figure.
  Two stores can then sell the same last units between two syncs.
* `share`: each store gets a percentage of the whole units available. Largest remainder
  (Hamilton's method): each store first gets the whole part of its quota (share x units); the
  units the shares still cover (the whole part of the quotas' sum, less what was handed out) go
  one each to the stores with the largest fractional parts, ties to the larger share, then to
  the store listed first. So the stores' figures never add up to more than the units available,
  and a store with share s never gets more than ceil(s x units).
* `priority` with a `reserve`: the stores are ranked, highest first. Each store above the lowest
  holds up to `reserve` units that the stores below it cannot sell; the lowest-ranked store sells
  whatever is beyond the reserves. Filled from the top, so when stock runs short the lowest store
  shows 0 first and the highest last. A higher-priority store sees only its reserve: the slices
  must add up to no more than Katana has, or both could sell one unit between two syncs.

`subtract_safety_stock` (any mode) first takes Katana's own `safety_stock_level` of the variant
at the location (summed over a parent's pool) off the figure. Units are whole: the figure is
rounded down before it is divided, and a negative figure divides into slices of 0. The division
is recomputed from Katana's figure on every sync, so a store that sold its slice gets a new one
from what is left (the other stores' slices shrink with it): that is the re-balancing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Any, Iterable, Mapping, Sequence

from ..config import POOLED, PRIORITY, SHARE, AllocationConfig, Config, StoreConfig
from ..errors import ReconcileError
from ..models import EMPTY, InventoryRow, Location

LIST_LIMIT = 50   # how many SKUs a note lists before "and N more"
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)   # one per store item: 100,000s in a big plan
class Slice:
    """One store's part of a location's figure for one item, and how it was computed (for the
    plan, the report, `compare_stock` and `explain sku`)."""

    mode: str                                  # pooled | share | priority
    location: str                              # the location's name
    available: Decimal                         # the location's figure: policy, less what the stores took
    safety_stock: Decimal = Decimal(0)         # Katana's safety stock level taken off it (subtract_safety_stock)
    units: int | None = None                   # whole units divided (share, priority)
    slice: int | None = None                   # this store's part of them (share, priority)
    slices: Mapping[str, int] = EMPTY    # every store's part, in the rule's order
    share: Decimal | None = None               # percent (share)
    rank: int | None = None                    # 1 = highest (priority)
    reserve: int | None = None                 # units each store above the lowest holds (priority)
    rule: AllocationConfig = field(default_factory=AllocationConfig)

    @property
    def divided(self) -> bool:
        return self.mode != POOLED

    def how(self) -> str:
        """One line: the store's slice and where it came from, e.g. "share 60 % of 17 units = 10.2
        -> 10 (largest remainder); slices shop-eu 10, shop-outlet 7"."""
        less = f"{_num(self.available)} less safety stock {_num(self.safety_stock)}"
        if not self.divided:
            return f"pooled: {less} = {_num(self.available - self.safety_stock)}" if self.safety_stock \
                else f"pooled: the whole figure, {_num(self.available)}"
        units = f"{self.units} units" + (f" ({less})" if self.safety_stock else "")
        slices = ", ".join(f"{name} {part}" for name, part in self.slices.items())
        if self.mode == SHARE:
            exact = Fraction(str(self.share)) * (self.units or 0) / 100
            head = f"share {_num(self.share)} % of {units} = {_num(exact)} -> {self.slice} (largest remainder)"
        else:
            what = "what is beyond the reserves" if self.rank == len(self.slices) else f"reserve {self.reserve}"
            head = f"priority {self.rank} of {len(self.slices)}: {what} of {units} -> {self.slice}"
        return f"{head}; slices {slices}"

    def short(self) -> str:
        """The slice in a few words, without commas (the plan lists many of them on one line), e.g.
        "10 of 17 units (60 %; slices shop-eu 10 / shop-outlet 7)"."""
        less = f"{_num(self.available)} less safety stock {_num(self.safety_stock)}"
        if not self.divided:
            return f"{_num(self.available - self.safety_stock)} ({less})"
        rule = f"{_num(self.share)} %" if self.mode == SHARE else \
            f"priority {self.rank} of {len(self.slices)} with reserve {self.reserve}"
        parts = [rule, *([less] if self.safety_stock else []),
                 "slices " + " / ".join(f"{name} {part}" for name, part in self.slices.items())]
        return f"{self.slice} of {self.units} unit{'' if self.units == 1 else 's'} ({'; '.join(parts)})"


def share_split(units: int, shares: Sequence[tuple[str, Decimal | int | float | str]]) -> dict[str, int]:
    """`units` divided by percentages (store, percent), largest remainder; see the module docstring.
    Shares must add up to at most 100; a negative `units` divides as 0."""
    units = max(int(units), 0)
    quotas = [(name, Fraction(str(percent)) * units / 100) for name, percent in shares]
    if sum((Fraction(str(p)) for _, p in shares), Fraction(0)) > 100:
        raise ValueError("shares add up to more than 100 %")
    out = {name: floor(q) for name, q in quotas}
    covered = floor(sum((q for _, q in quotas), Fraction(0)))
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i][1] - floor(quotas[i][1])),
                                                      -Fraction(str(shares[i][1])), i))
    for i in order[:covered - sum(out.values())]:
        out[quotas[i][0]] += 1
    return out


def priority_split(units: int, ranked: Sequence[str], reserve: int) -> dict[str, int]:
    """`units` down the ranks (highest first): each store above the lowest holds up to `reserve`,
    the lowest gets the rest. A negative `units` divides as 0."""
    left = max(int(units), 0)
    out: dict[str, int] = {}
    for name in ranked[:-1]:
        out[name] = min(max(int(reserve), 0), left)
        left -= out[name]
    if ranked:
        out[ranked[-1]] = left
    return out


def split(units: int, rule: AllocationConfig) -> dict[str, int]:
    """Every listed store's slice of `units` under `rule` (empty for pooled)."""
    if rule.mode == SHARE:
        return share_split(units, rule.shares)
    if rule.mode == PRIORITY:
        return priority_split(units, rule.priorities, rule.reserve)
    return {}


def safety_stock(rows: Iterable[InventoryRow]) -> Decimal:
    """Katana's `safety_stock_level` of the rows (a parent's pool: summed); absent reads as 0."""
    total = Decimal(0)
    for row in rows:
        if row.safety_stock_level is not None:
            total += row.safety_stock_level
            continue
        value = row.raw.get("safety_stock_level") if row.raw else None
        if value not in (None, ""):
            total += Decimal(str(value))
    return total


def slice_of(config: Config, store: StoreConfig, location: Location, in_stock_less_taken: Decimal,
             committed: Decimal, rows: Sequence[InventoryRow], *, rule: AllocationConfig | None = None
             ) -> tuple[int, Slice]:
    """The store's figure for one item and how it came about.

    `in_stock_less_taken`: Katana's in stock (with this run's planned initial import) less what the
    stores took that Katana has not committed; `committed`: Katana's committed; `rows`: the item's
    inventory rows (for the safety stock). Pooled gives exactly the figure the store's policy gives
    (`StockConfig.target_quantity`). Raises `ReconcileError` for a store the location's rule does
    not list: it has no slice, and nothing is pushed to it rather than the whole figure. `rule`: the
    location's allocation when the caller looked it up once for many items."""
    rule = rule if rule is not None else config.allocation(location.id, location.name)
    policy = store.stock
    safety = safety_stock(rows) if rule.subtract_safety_stock else _ZERO
    base = in_stock_less_taken - safety if safety else in_stock_less_taken
    available = in_stock_less_taken - (committed if policy.policy == "available" else 0)
    if rule.mode == POOLED:
        return policy.target_quantity(base, committed), Slice(POOLED, location.name, available, safety, rule=rule)
    # The whole units on offer: the policy's figure, rounded down, never below 0.
    units = max(replace(policy, buffer=0, maximum=None, floor_zero=False).target_quantity(base, committed), 0)
    slices = split(units, rule)
    if store.name not in slices:
        listed = "shares" if rule.mode == SHARE else "priorities"
        raise ReconcileError(f"{store.name} sells from {location.name}, whose allocation ({rule.mode}) does not list "
                             f"it in locations[].allocation.{listed}: it has no slice, so nothing is pushed to it")
    mine = slices[store.name]
    out = Slice(rule.mode, location.name, available, safety, units, mine, slices,
                share=Decimal(str(dict(rule.shares)[store.name])) if rule.mode == SHARE else None,
                rank=rule.priorities.index(store.name) + 1 if rule.mode == PRIORITY else None,
                reserve=rule.reserve if rule.mode == PRIORITY else None, rule=rule)
    # The store's buffer and maximum shape its slice as they shape a pooled figure (they only lower
    # it); the slice is already net of commitments, so it is taken as it is ("in_stock").
    return replace(policy, policy="in_stock").target_quantity(mine), out


def plan_notes(figures: Iterable[Any], written: Sequence[str] = ()) -> dict[str, Any]:
    """What a store's plan and report say about its slices: the rule (`allocation`), and each
    written SKU's slice (`allocated_skus`, `Slice.short`); `figures`: `engines.stock.ItemFigure`s
    with an `allocation`. Nothing for a pooled location without safety stock, so the default plan
    reads as before."""
    found = [f for f in figures if getattr(f, "allocation", None) is not None]
    shaped = [f for f in found if f.allocation.divided or f.allocation.safety_stock]
    if not shaped:
        return {}
    notes: dict[str, Any] = {"allocation": describe(shaped[0].allocation)}
    wanted = set(written)
    lines = [f"{f.sku}: {f.allocation.short()}" for f in shaped if f.sku in wanted]
    if lines:
        notes["allocated_skus"] = lines[:LIST_LIMIT]
        notes["allocated_count"] = len(lines)
    return notes


def describe(example: Slice) -> str:
    """The location's rule in one line, e.g. "Main Warehouse: share shop-eu 60 %, shop-outlet 40 %
    (largest remainder)"."""
    rule = example.rule
    less = ", less Katana's safety stock" if rule.subtract_safety_stock else ""
    if rule.mode == SHARE:
        shares = ", ".join(f"{name} {_num(Decimal(str(p)))} %" for name, p in rule.shares)
        return f"{example.location}: share {shares} (largest remainder){less}"
    if rule.mode == PRIORITY:
        return f"{example.location}: priority {' > '.join(rule.priorities)}, reserve {rule.reserve}{less}"
    return f"{example.location}: pooled{less}"


def _num(value: Decimal | Fraction | None) -> str:
    """A quantity as people write it: 17, 10.2, 2.33 (at most two decimals)."""
    if value is None:
        return "-"
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    text = format(Decimal(value).quantize(Decimal("0.01")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
