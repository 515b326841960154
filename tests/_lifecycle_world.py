"""The small world the order-lifecycle tests share (test_lifecycle*.py): one Katana location
"Main" and one store "shop" selling the same SKUs, 40 of each on both sides."""
from __future__ import annotations

import contextlib
from typing import Iterator

from katana_woo_sdk import sandbox

from _harness import make_runner, orders_for

PRICES = {"MUG": "10.00", "TEE": "20.00", "CAP": "5.00"}


@contextlib.contextmanager
def lifecycle_world(skus: tuple[str, ...] = ("MUG", "TEE")) -> Iterator[sandbox.Sandbox]:
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.seed({"locations": [{"name": "Main", "is_primary": True}],
                        "variants": [{"sku": s, "sales_price": int(float(PRICES[s]))} for s in skus],
                        "stock": [{"sku": s, "location": "Main", "quantity": 40} for s in skus]})
        shop = sb.add_store("shop")
        for sku in skus:
            shop.add_product(sku, sku.title(), PRICES[sku], stock=40)
        yield sb


def imported(box, tmp_path, lines=(("MUG", 2),), state_name: str = "state.sqlite", **orders):
    """An order placed and imported; returns (runner, WooCommerce order, its sales order)."""
    order = box.stores["shop"].place_order(list(lines))
    runner = make_runner(box, tmp_path, {"shop": {"location": "Main", "orders": orders}}, state_name=state_name)
    report = runner.apply()
    assert not report.has_failures, str(report)
    (so,) = orders_for(box, "shop", order["id"])
    return runner, order, so
