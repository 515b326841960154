"""Allocation of a shared location's figure (issue 14), as pure functions: properties and examples.

The properties are the acceptance's: for any available figure, shares and reserve, the stores'
figures are non-negative integers whose sum never exceeds the available figure, and a store with
share s never gets more than ceil(s x available). Checked on the splitting functions and, through
`slice_of`, on the figures the stock engine pushes (with the policy, the units the stores took,
Katana's safety stock and each store's buffer and maximum in play). Pooled stays exactly the
figure every store saw before allocation existed.
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katana_woo_sdk.config import (AllocationConfig, Config, KatanaConfig, LocationConfig, StateConfig, StockConfig,
                                   StoreConfig, load_config_text)
from katana_woo_sdk.engines import allocation
from katana_woo_sdk.errors import ReconcileError
from katana_woo_sdk.models import InventoryRow, Location

LOCATION = Location(101, "Main Warehouse")
NAMES = [f"shop-{c}" for c in "abcdef"]

quantities = st.decimals(min_value=-50, max_value=100_000, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def share_lists(draw, max_stores: int = 6):
    """1-6 stores with percentages (0-100, two decimals at most) adding up to at most 100."""
    n = draw(st.integers(1, max_stores))
    left, out = Decimal(100), []
    for name in NAMES[:n]:
        percent = draw(st.decimals(min_value=0, max_value=left, places=2, allow_nan=False, allow_infinity=False))
        out.append((name, percent))
        left -= percent
    return out


def config_with(rule: AllocationConfig, stores: list[StoreConfig]) -> Config:
    return Config(1, KatanaConfig(), tuple(stores), StateConfig(path=__file__),
                  locations=(LocationConfig("Main Warehouse", rule),))


def store(name: str, **stock) -> StoreConfig:
    return StoreConfig(name, f"https://{name}.example.com", None, None, location="Main Warehouse",
                       stock=StockConfig(**stock))


# --- the splitting functions ------------------------------------------------------------------------

@settings(max_examples=200, deadline=None, database=None)
@given(units=st.integers(-100, 10**7), shares=share_lists())
def test_share_split_never_hands_out_more_than_there_is(units, shares):
    slices = allocation.share_split(units, shares)
    assert list(slices) == [name for name, _ in shares]
    assert all(isinstance(v, int) and v >= 0 for v in slices.values())
    assert sum(slices.values()) <= max(units, 0)
    for name, percent in shares:
        quota = Fraction(str(percent)) * max(units, 0) / 100
        assert floor(quota) <= slices[name] <= ceil(quota)          # largest remainder: within one unit
    # every unit the shares cover is handed out: nothing is lost to rounding
    assert sum(slices.values()) == floor(sum(Fraction(str(p)) for _, p in shares) * max(units, 0) / 100)
    assert allocation.share_split(units, shares) == slices         # deterministic


@settings(max_examples=200, deadline=None, database=None)
@given(units=st.integers(-100, 10**7), n=st.integers(1, 6), reserve=st.integers(0, 10**6))
def test_priority_split_fills_from_the_top_and_never_exceeds(units, n, reserve):
    ranked = NAMES[:n]
    slices = allocation.priority_split(units, ranked, reserve)
    assert all(isinstance(v, int) and v >= 0 for v in slices.values())
    assert sum(slices.values()) == max(units, 0)
    assert all(slices[name] <= reserve for name in ranked[:-1])
    # the lowest-ranked store sees the units minus the reserves above it
    assert slices[ranked[-1]] == max(max(units, 0) - reserve * (n - 1), 0)
    # a store gets anything only once every store above it holds its full reserve
    for i, name in enumerate(ranked[1:], 1):
        if slices[name]:
            assert all(slices[above] == reserve for above in ranked[:i])


def test_largest_remainder_examples():
    assert allocation.share_split(17, [("eu", 60), ("outlet", 40)]) == {"eu": 10, "outlet": 7}    # 10.2 / 6.8
    assert allocation.share_split(10, [("a", "33.33"), ("b", "33.33"), ("c", "33.34")]) == {"a": 3, "b": 3, "c": 4}
    # a tie goes to the larger share, then to the store listed first
    assert allocation.share_split(5, [("a", 50), ("b", 50)]) == {"a": 3, "b": 2}
    assert allocation.share_split(5, [("b", 50), ("a", 50)]) == {"b": 3, "a": 2}
    assert allocation.share_split(1, [("small", 30), ("big", 70)]) == {"small": 0, "big": 1}
    # shares under 100 % leave the rest unsold; a negative figure divides as nothing
    assert allocation.share_split(10, [("a", 25), ("b", 25)]) == {"a": 3, "b": 2}
    assert allocation.share_split(-4, [("a", 50), ("b", 50)]) == {"a": 0, "b": 0}
    with pytest.raises(ValueError):
        allocation.share_split(10, [("a", 60), ("b", 41)])


def test_priority_examples():
    assert allocation.priority_split(17, ["eu", "outlet"], 5) == {"eu": 5, "outlet": 12}
    assert allocation.priority_split(3, ["eu", "outlet"], 5) == {"eu": 3, "outlet": 0}
    assert allocation.priority_split(12, ["a", "b", "c"], 5) == {"a": 5, "b": 5, "c": 2}
    assert allocation.priority_split(7, ["a", "b", "c"], 5) == {"a": 5, "b": 2, "c": 0}


# --- the figures the stock engine pushes -------------------------------------------------------------

@settings(max_examples=200, deadline=None, database=None)
@given(in_stock=quantities, committed=quantities, taken=quantities, safety=st.decimals(0, 50, places=1),
       shares=share_lists(), buffers=st.lists(st.integers(0, 5), min_size=6, max_size=6),
       maximum=st.one_of(st.none(), st.integers(0, 500)), policy=st.sampled_from(["available", "in_stock"]),
       subtract=st.booleans())
def test_shared_figures_never_add_up_to_more_than_the_location_has(in_stock, committed, taken, safety, shares,
                                                                  buffers, maximum, policy, subtract):
    stores = [store(name, buffer=b, maximum=maximum, policy=policy) for (name, _), b in zip(shares, buffers)]
    config = config_with(AllocationConfig("share", tuple(shares), subtract_safety_stock=subtract), stores)
    rows = [InventoryRow(1, 101, in_stock, committed, raw={"safety_stock_level": str(safety)})]
    figures = {s.name: allocation.slice_of(config, s, LOCATION, in_stock - taken, committed, rows) for s in stores}
    available = in_stock - taken - (committed if policy == "available" else 0) - (safety if subtract else 0)
    whole = max(floor(available), 0)
    assert all(isinstance(t, int) and t >= 0 for t, _ in figures.values())
    assert sum(t for t, _ in figures.values()) <= whole
    for name, percent in shares:
        target, how = figures[name]
        assert target <= ceil(Fraction(str(percent)) * whole / 100)
        assert how.units == whole and how.slice == how.slices[name] and how.share == percent
        assert (how.safety_stock == safety) if subtract else (how.safety_stock == 0)


@settings(max_examples=200, deadline=None, database=None)
@given(in_stock=quantities, committed=quantities, taken=quantities, n=st.integers(1, 5),
       reserve=st.integers(1, 500), buffer=st.integers(0, 5))
def test_priority_figures_never_add_up_to_more_than_the_location_has(in_stock, committed, taken, n, reserve, buffer):
    stores = [store(name, buffer=buffer) for name in NAMES[:n]]
    config = config_with(AllocationConfig("priority", priorities=tuple(NAMES[:n]), reserve=reserve), stores)
    rows = [InventoryRow(1, 101, in_stock, committed)]
    targets = [allocation.slice_of(config, s, LOCATION, in_stock - taken, committed, rows)[0] for s in stores]
    assert all(t >= 0 for t in targets)
    assert sum(targets) <= max(floor(in_stock - taken - committed), 0)


@settings(max_examples=200, deadline=None, database=None)
@given(in_stock=quantities, committed=quantities, taken=quantities, buffer=st.integers(0, 9),
       maximum=st.one_of(st.none(), st.integers(0, 500)), floor_zero=st.booleans(),
       policy=st.sampled_from(["available", "in_stock"]))
def test_pooled_is_exactly_the_figure_of_before(in_stock, committed, taken, buffer, maximum, floor_zero, policy):
    """No `locations:` entry: every store sees the figure its policy gives, as before allocation."""
    s = store("shop-a", buffer=buffer, maximum=maximum, floor_zero=floor_zero, policy=policy)
    config = Config(1, KatanaConfig(), (s,), StateConfig(path=__file__))
    target, how = allocation.slice_of(config, s, LOCATION, in_stock - taken, committed, [])
    assert target == s.stock.target_quantity(in_stock - taken, committed)
    assert not how.divided and how.units is None


def test_a_slice_says_how_it_was_computed():
    stores = [store("shop-eu", buffer=2), store("shop-outlet")]
    config = config_with(AllocationConfig("share", (("shop-eu", Decimal(60)), ("shop-outlet", Decimal(40))),
                                          subtract_safety_stock=True), stores)
    rows = [InventoryRow(1, 101, Decimal(25), Decimal(3), raw={"safety_stock_level": "5.00000"})]
    eu, outlet = (allocation.slice_of(config, s, LOCATION, Decimal(25), Decimal(3), rows) for s in stores)
    # 25 in stock - 3 committed - 5 safety stock = 17 units: 60 % = 10.2 -> 10, 40 % = 6.8 -> 7; eu's buffer 2 -> 8
    assert (eu[0], outlet[0]) == (8, 7)
    assert eu[1].how() == ("share 60 % of 17 units (22 less safety stock 5) = 10.2 -> 10 (largest remainder); "
                           "slices shop-eu 10, shop-outlet 7")
    assert eu[1].short() == \
        "10 of 17 units (60 %; 22 less safety stock 5; slices shop-eu 10 / shop-outlet 7)"
    assert allocation.describe(eu[1]) == ("Main Warehouse: share shop-eu 60 %, shop-outlet 40 % (largest remainder), "
                                          "less Katana's safety stock")
    config = config_with(AllocationConfig("priority", priorities=("shop-eu", "shop-outlet"), reserve=5), stores)
    eu, outlet = (allocation.slice_of(config, s, LOCATION, Decimal(25), Decimal(3), rows)[1] for s in stores)
    assert eu.how() == "priority 1 of 2: reserve 5 of 22 units -> 5; slices shop-eu 5, shop-outlet 17"
    assert outlet.how() == ("priority 2 of 2: what is beyond the reserves of 22 units -> 17; "
                            "slices shop-eu 5, shop-outlet 17")
    assert allocation.describe(eu) == "Main Warehouse: priority shop-eu > shop-outlet, reserve 5"


def test_a_store_the_rule_does_not_list_gets_no_slice_and_no_figure():
    stores = [store("shop-eu"), store("shop-outlet")]
    config = config_with(AllocationConfig("share", (("shop-eu", Decimal(100)),)), stores)
    with pytest.raises(ReconcileError, match="shop-outlet sells from Main Warehouse.*does not list it"):
        allocation.slice_of(config, stores[1], LOCATION, Decimal(10), Decimal(0), [])


# --- the config ----------------------------------------------------------------------------------------

CONFIG = """\
version: 1
stores:
  - {name: shop-eu, url: "https://eu.example.com", consumer_key_env: K1, consumer_secret_env: S1, location: 12}
  - {name: shop-outlet, url: "https://outlet.example.com", consumer_key_env: K2, consumer_secret_env: S2,
     location: 12}
  - {name: shop-us, url: "https://us.example.com", consumer_key_env: K3, consumer_secret_env: S3,
     location: 13}
"""
ENV = {"KATANA_API_KEY": "key-123456", **{f"{p}{i}": f"{p.lower()}{i}-value-123" for p in "KS" for i in (1, 2, 3)}}


def test_locations_load_into_frozen_rules_found_by_id_or_name():
    text = CONFIG + """\
locations:
  - location: 12
    allocation: {mode: share, shares: {shop-eu: 60, shop-outlet: 39.5}, subtract_safety_stock: true}
  - location: 13
    allocation: {mode: priority, priorities: [shop-us], reserve: 3}
"""
    config = load_config_text(text, env=ENV)
    assert config.allocation(12, "Main Warehouse") == AllocationConfig(
        "share", (("shop-eu", Decimal(60)), ("shop-outlet", Decimal("39.5"))), subtract_safety_stock=True)
    assert config.allocation(13, "East Coast DC") == AllocationConfig("priority", priorities=("shop-us",), reserve=3)
    assert config.allocation(99, "Elsewhere") == AllocationConfig()          # pooled
    by_name = dataclasses.replace(config, locations=(LocationConfig("East Coast DC", AllocationConfig("pooled")),))
    assert by_name.allocation(13, "East Coast DC") == AllocationConfig("pooled")
    assert by_name.allocation(12, "East Coast DC ") == AllocationConfig()   # names match exactly
    plain = load_config_text(CONFIG, env=ENV)
    assert config.config_hash != plain.config_hash
    assert config.store_hash("shop-eu") != plain.store_hash("shop-eu")       # its figures change
    # An empty list is no allocation at all: the hashes of every existing config stay what they were.
    empty = load_config_text(CONFIG + "locations: []\n", env=ENV)
    assert (empty.config_hash, empty.store_hash("shop-eu")) == (plain.config_hash, plain.store_hash("shop-eu"))
