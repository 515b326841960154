"""Taxes of the WooCommerce emulator's checkout orders: tax rates and WC_Tax's arithmetic.

Used by `_woo_orders` (`OrderBook.create`, so `WooEmulator.place_order`). The recorded store has
taxes off, so REST-created orders carry none; a checkout through `place_order` can apply one or more
rates (say 20 % VAT, or a state rate plus a county rate), as WooCommerce 10.0.2 computes them:

* `calc_tax()` is `WC_Tax::calc_exclusive_tax` / `calc_inclusive_tax`: simple rates apply to the
  price, a compound rate to the price plus the simple rates' tax; an inclusive price has its taxes
  taken out (compound ones first, working backwards);
* what an order item stores per rate is that amount unrounded, as `wc_format_decimal()` keeps a
  float: at most 6 decimals, trailing zeros trimmed ("0.9", "0.998"); `stored()` does that and
  `php_float()` writes it. The docs' order 727 shows such a value ("0.9" where dp formatting
  would give "0.90");
* an item's `total_tax`/`subtotal_tax` and the order's tax lines add up those amounts rounded to
  cents one by one (`wc_round_tax_total`, half away from zero: the default "round tax at subtotal
  level" is off). So shipping of 4.99 at 20 % stores 0.998 in `taxes[]` and shows 1.00 of tax, which
  does not divide back to exactly 20 %;
* a tax line's `rate_code` is `WC_Tax::get_rate_code()`: COUNTRY-STATE-NAME-PRIORITY upper-cased,
  empty parts left out, "TAX" for an unnamed rate; `label` is the rate's name or "Tax".

Not emulated: tax classes other than the standard one, fee taxes, per-item shipping taxes,
"round at subtotal", location matching (every rate given applies to the order).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

_STORED = Decimal("0.000001")   # wc_format_decimal() of a float: sprintf('%.6f') then trimmed
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class TaxRate:
    """One rate of the store's tax table (`woocommerce_tax_rates` row)."""

    id: int
    percent: Decimal
    label: str = ""              # tax_rate_name; shown as "Tax" when empty
    country: str = ""
    state: str = ""
    priority: int = 1
    compound: bool = False
    shipping: bool = True        # tax_rate_shipping: applies to shipping lines too
    code: str = ""               # an explicit rate_code (else computed as WooCommerce does)

    @property
    def rate_code(self) -> str:
        if self.code:
            return self.code
        parts = [self.country, self.state, self.label or "TAX", str(abs(int(self.priority)))]
        return "-".join(p for p in parts if p and p != "0").upper()

    @property
    def display_label(self) -> str:
        return self.label or "Tax"


def parse_tax_rates(rates: Iterable[Any] | None, tax_percent: Any = None) -> list[TaxRate]:
    """The rates an order applies. `rates`: TaxRate objects or dicts with `percent` (or `rate`) and
    optionally `id`, `label`, `rate_code`, `country`, `state`, `priority`, `compound`, `shipping`;
    ids default to 1, 2, ... in the order given. `tax_percent` alone is the older one-rate form:
    rate id 1, labelled "Tax", code "US-TAX-1"."""
    out: list[TaxRate] = []
    if tax_percent not in (None, ""):
        out.append(TaxRate(1, Decimal(str(tax_percent)), country="US"))
    for i, rate in enumerate(rates or (), start=len(out) + 1):
        if isinstance(rate, TaxRate):
            out.append(rate)
            continue
        if not isinstance(rate, dict):
            raise TypeError(f"a tax rate is a dict or a TaxRate, not {rate!r}")
        unknown = set(rate) - {"id", "percent", "rate", "label", "rate_code", "country", "state", "priority",
                               "compound", "shipping"}
        if unknown:
            raise ValueError(f"unknown tax rate fields: {sorted(unknown)}")
        percent = rate.get("percent", rate.get("rate"))
        if percent in (None, ""):
            raise ValueError(f"tax rate {rate!r} has no percent")
        out.append(TaxRate(int(rate.get("id", i)), Decimal(str(percent)), str(rate.get("label") or ""),
                           str(rate.get("country") or ""), str(rate.get("state") or ""),
                           int(rate.get("priority", 1)), bool(rate.get("compound", False)),
                           bool(rate.get("shipping", True)), str(rate.get("rate_code") or "")))
    if len({r.id for r in out}) != len(out):
        raise ValueError("tax rate ids must be distinct")
    return out


def calc_tax(price: Decimal, rates: list[TaxRate], *, inclusive: bool) -> dict[int, Decimal]:
    """rate id -> tax on `price`, unrounded (as stored)."""
    taxes: dict[int, Decimal] = {r.id: Decimal(0) for r in rates}
    if inclusive:
        non_compound = price
        for rate in reversed([r for r in rates if r.compound]):   # working backwards
            amount = non_compound - non_compound / (1 + rate.percent / 100)
            taxes[rate.id] += amount
            non_compound -= amount
        regular = [r for r in rates if not r.compound]
        regular_total = 1 + sum((r.percent for r in regular), Decimal(0)) / 100
        for rate in regular:
            taxes[rate.id] += (rate.percent / 100) / regular_total * non_compound
    else:
        for rate in rates:
            if not rate.compound:
                taxes[rate.id] += price * rate.percent / 100
        for rate in rates:
            if rate.compound:
                taxes[rate.id] += (price + sum(taxes.values(), Decimal(0))) * rate.percent / 100
    return {rate_id: stored(amount) for rate_id, amount in taxes.items()}


def stored(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(_STORED, rounding=ROUND_HALF_UP)


def round_tax(amount: Decimal) -> Decimal:
    """wc_round_tax_total(): to cents, half away from zero."""
    return Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_UP)


def php_float(amount: Decimal) -> str:
    """A stored amount as PHP writes the float: no trailing zeros, no exponent ("2", "0.998")."""
    text = format(stored(amount).normalize(), "f")
    return "0" if text in ("-0", "") else text
