"""Unknown SKUs under `orders.unknown_sku: create_product` (issue 12): the plan shows each product it
would create; two orders of one new SKU make exactly one product and are both imported; a crash
between the product's creation and the imports, or a creation whose answer is lost, makes no second
product; lines that cannot make a product (no SKU of their own) stay held as before."""
from __future__ import annotations

import pytest

from katana_woo_sdk import sandbox
from katana_woo_sdk.engines import orders as order_engine

from _harness import make_runner, orders_for


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.seed({"locations": [{"name": "Main", "is_primary": True}],
                        "variants": [{"sku": "MUG", "sales_price": 10}],
                        "stock": [{"sku": "MUG", "location": "Main", "quantity": 40}]})
        shop = sb.add_store("shop")
        shop.add_product("MUG", "Mug", "10.00", stock=40)
        shop.add_product("LAMP-NEW", "Desk lamp", "35.00", stock=10)
        yield sb


STORES = {"shop": {"location": "Main", "orders": {"unknown_sku": "create_product"}}}


def _products(box, sku):
    return [p for p in box.katana.products() if any(v["sku"] == sku for v in p["variants"])]


def test_two_orders_of_one_new_sku_make_one_product_and_both_are_imported(box, tmp_path):
    shop = box.stores["shop"]
    first = shop.place_order([("LAMP-NEW", 1), ("MUG", 1)])
    second = shop.place_order([("LAMP-NEW", 2)])
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        creates = plan.store("shop").actions_of("product.create")
        assert [a.payload.sku for a in creates] == ["LAMP-NEW"]
        assert creates[0].payload.orders == (first["id"], second["id"]) and "Desk lamp" in creates[0].summary
        assert str(creates[0].payload.price) == "35.0000"
        assert "product.create" in plan.to_markdown() and plan.store("shop").holds == ()
        report = runner.apply(plan)
        assert not report.has_failures, str(report)
        assert [(r.action.kind, r.outcome) for r in report.results if r.action.kind not in ("stock.push", "mapping")] == [
            ("product.create", "applied"), ("order.import", "applied"), ("order.import", "applied")]
        (product,) = _products(box, "LAMP-NEW")
        assert product["name"] == "Desk lamp" and product["variants"][0]["sales_price"] == 35
        for order in (first, second):
            (so,) = orders_for(box, "shop", order["id"])
            lamp = box.katana.variant("LAMP-NEW")["id"]
            assert any(r["variant_id"] == lamp for r in so["sales_order_rows"])
        again = runner.apply()
        assert not again.has_failures and [r for r in again.results if r.action.kind not in ("stock.push", "mapping")] == []
        assert len(_products(box, "LAMP-NEW")) == 1


class Crash(BaseException):
    """The process dying between two writes (not an error the runner would catch)."""


def test_a_crash_between_the_product_and_the_imports_makes_no_second_product(box, tmp_path, monkeypatch):
    shop = box.stores["shop"]
    orders = [shop.place_order([("LAMP-NEW", 1)]), shop.place_order([("LAMP-NEW", 1)])]

    def crash(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(order_engine, "apply_import", crash)
    with make_runner(box, tmp_path, STORES) as runner:
        with pytest.raises(Crash):
            runner.apply()
    assert len(_products(box, "LAMP-NEW")) == 1 and box.katana.sales_orders() == []
    monkeypatch.undo()
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        assert plan.store("shop").actions_of("product.create") == []      # found by its SKU
        report = runner.apply()
        assert not report.has_failures, str(report)
    assert len(_products(box, "LAMP-NEW")) == 1
    assert all(len(orders_for(box, "shop", o["id"])) == 1 for o in orders)


@pytest.mark.parametrize("fault", [{"status": 502}, {"drop": True}], ids=["502", "dropped"])
def test_a_product_create_whose_answer_is_lost_is_found_not_repeated(box, tmp_path, fault):
    shop = box.stores["shop"]
    order = shop.place_order([("LAMP-NEW", 1)])
    box.katana.server.inject_fault(method="POST", path=r"/products$", after=True, **fault)
    with make_runner(box, tmp_path, STORES) as runner:
        report = runner.apply()
        assert not report.has_failures, str(report)
        assert box.katana.server.count("POST", r"/products$") == 1
        assert len(_products(box, "LAMP-NEW")) == 1 and len(orders_for(box, "shop", order["id"])) == 1


def test_a_product_create_lost_before_katana_saw_it_holds_the_order_until_the_next_run(box, tmp_path):
    shop = box.stores["shop"]
    order = shop.place_order([("LAMP-NEW", 1)])
    box.katana.server.inject_fault(method="POST", path=r"/products$", status=502, times=1)
    with make_runner(box, tmp_path, STORES) as runner:
        report = runner.apply()
        assert [h.reason for h in report.store("shop").holds] == ["awaiting_product"]
        assert box.katana.server.count("POST", r"/products$") == 1             # never sent twice in a run
        assert _products(box, "LAMP-NEW") == []
        later = runner.apply()
        assert not later.has_failures and later.store("shop").holds == ()
    assert len(_products(box, "LAMP-NEW")) == 1 and len(orders_for(box, "shop", order["id"])) == 1


def test_hold_stays_the_default_and_a_line_without_its_own_sku_still_holds(box, tmp_path):
    shop = box.stores["shop"]
    held = shop.place_order([("LAMP-NEW", 1)])
    with make_runner(box, tmp_path, {"shop": {"location": "Main"}}) as runner:
        plan = runner.plan()
        assert plan.store("shop").actions_of("product.create") == []
        assert [h.reason for h in plan.store("shop").holds] == ["unknown_sku"]
    shop.delete_product("LAMP-NEW")                                  # the line loses its SKU
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        assert plan.store("shop").actions_of("product.create") == []
        assert [(h.woo_order_id, h.reason) for h in plan.store("shop").holds] == [(held["id"], "deleted_product")]
