"""How orders meet Katana (issue 9): variations without a SKU of their own, tax rates from the
order's own tax lines, and one shop configured twice.

* WooCommerce shows a variation without its own SKU with its parent's SKU, on the product and on
  order lines. Its lines used to be imported against the parent's Katana variant (and reported as
  "do not manage stock"); they are held with the true reason, and the push leaves it alone.
* Shipping tax was derived by dividing rounded amounts: a 20 % store got "19.904% (WooCommerce)"
  and "20.12% (WooCommerce)" in Katana. Rates now come from the tax lines (`rate_percent`).
* The same shop configured under two addresses imported every order twice and pushed two
  locations' figures onto the same products. Plans now refuse it, naming both entries.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from katana_woo_sdk import sandbox
from katana_woo_sdk.config import load_config_text
from katana_woo_sdk.katana import KatanaClient
from katana_woo_sdk.engines.lines import TaxUnknown, tax_ref
from katana_woo_sdk.models import WooOrder
from katana_woo_sdk.runner import Runner

from _harness import config_text, make_runner, orders_for


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        for sku in ("TEE", "TEE-S", "W1"):
            sb.katana.add_variant(sku, sales_price="10.00")
            sb.katana.set_stock(sku, "A", 20)
        shop = sb.add_store("shop-a")
        shop.add_product("W1", "Widget", "9.99", stock=20)
        yield sb


def katana_tax_rates(box):
    with KatanaClient(box.katana.api_key, base_url=box.katana.base_url, limiter=False) as katana:
        return katana.tax_rates.list()


def _tee(shop):
    """TEE with S (own SKU) and M (none of its own: WooCommerce shows it as "TEE")."""
    return shop.add_variable_product("TEE", "Tee", [
        {"sku": "TEE-S", "price": "19.00", "stock": 20, "attributes": {"Size": "S"}},
        {"sku": "", "price": "19.00", "stock": 20, "attributes": {"Size": "M"}}], stock=20)


def test_a_variation_without_its_own_sku_is_held_never_matched_through_its_parent(box, tmp_path):
    shop = box.stores["shop-a"]
    tee = _tee(shop)
    m_id = next(v for v in tee["variations"] if v != shop.product_by_sku("TEE-S")["id"])
    order = shop.place_order([(m_id, 2)])
    [line] = shop.order(order["id"])["line_items"]
    assert line["sku"] == "TEE" and line["variation_id"] == m_id      # as WooCommerce shows it
    ok = shop.place_order([("TEE-S", 1)])
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        plan = runner.plan()
        [hold] = plan.store("shop-a").holds
        assert (hold.woo_order_id, hold.reason) == (order["id"], "variation_without_sku")
        assert "no SKU of its own" in hold.detail and "do not manage stock" not in str(plan)
        report = runner.apply()
        assert orders_for(box, "shop-a", order["id"]) == [] and len(orders_for(box, "shop-a", ok["id"])) == 1
        assert not report.has_failures, str(report)
        # The held order's units were the variation's own, not the parent's: TEE's figure is untouched
        # (20 in stock, nothing committed, nothing taken from it), TEE-S is lowered by its import.
        assert shop.stock_of("TEE") == 20 and shop.stock_of("TEE-S") == 19
        assert box.katana.inventory_of("TEE", "A")["committed"] == 0
        assert shop.stock_of(m_id) == 18                                  # never written by the push


def test_tax_rates_come_from_the_orders_tax_lines_never_from_rounded_amounts(box, tmp_path):
    """A 20 % store: the shipping of 4.99 is taxed 1.00 (WooCommerce rounds per line), which
    divides back to 20.04 %; a 9.99 item taxed 2.00 gives 20.02 %. Katana gets one rate: 20 %."""
    shop = box.stores["shop-a"]
    order = shop.place_order([("W1", 1)], tax_rates=[{"percent": 20, "label": "VAT", "country": "GB"}],
                             shipping_total="4.99")
    data = shop.order(order["id"])
    assert Decimal(data["shipping_tax"]) == Decimal("1.00") and Decimal(data["total_tax"]) == Decimal("3.00")
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        report = runner.apply()
    assert not report.has_failures, str(report)
    rates = katana_tax_rates(box)
    assert [t.rate for t in rates] == [Decimal(20)] and "VAT" in rates[0].name
    [so] = orders_for(box, "shop-a", order["id"])
    assert {r["tax_rate_id"] for r in so["sales_order_rows"]} == {rates[0].id}
    assert so["shipping_fee"]["tax_rate_id"] == rates[0].id


def test_several_rates_on_one_line_add_up_and_compound_ones_compound():
    def order(lines_taxes, tax_lines):
        return WooOrder.from_api({"id": 1, "number": "1", "status": "processing", "tax_lines": tax_lines,
                                  "line_items": [{"id": 1, "quantity": 1, "sku": "X", "taxes": lines_taxes}]})
    state_and_county = order([{"id": 1, "total": "0.6"}, {"id": 2, "total": "0.1"}],
                             [{"rate_id": 1, "rate_percent": 6, "label": "State"},
                              {"rate_id": 2, "rate_percent": 1, "label": "County"}])
    ref = tax_ref(state_and_county, state_and_county.line_items[0].taxes, taxed=True, what="line")
    assert ref.percent == Decimal(7) and ref.rate_ids == (1, 2) and ref.label == "State, County"
    compound = order([{"id": 1, "total": "1"}, {"id": 2, "total": "0.55"}],
                     [{"rate_id": 1, "rate_percent": 10}, {"rate_id": 2, "rate_percent": 5, "compound": True}])
    assert tax_ref(compound, compound.line_items[0].taxes, taxed=True, what="line").percent == Decimal("15.5")
    unknown = order([{"id": 9, "total": "1"}], [])
    with pytest.raises(TaxUnknown):
        tax_ref(unknown, unknown.line_items[0].taxes, taxed=True, what="line")


def test_an_order_whose_tax_rate_is_unknown_is_held_not_guessed(box, tmp_path, monkeypatch):
    shop = box.stores["shop-a"]
    order = shop.place_order([("W1", 1)], tax_percent=20)
    real = WooOrder.from_api

    def without_rates(payload, *args, **kwargs):
        return real({**payload, "tax_lines": []}, *args, **kwargs)
    monkeypatch.setattr(WooOrder, "from_api", staticmethod(without_rates))
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        [hold] = runner.plan().store("shop-a").holds
    assert (hold.woo_order_id, hold.reason) == (order["id"], "tax_rate_unknown")
    assert katana_tax_rates(box) == []


def test_one_shop_configured_under_two_addresses_is_refused(box, tmp_path):
    shop = box.stores["shop-a"]
    shop.aliases = ("localhost",)
    shop.place_order([("W1", 1)])
    env = dict(box.env(), WOO_SHOP_A2_URL=shop.url_via("localhost"), WOO_SHOP_A2_KEY=shop.consumer_key,
               WOO_SHOP_A2_SECRET=shop.consumer_secret)
    doc = yaml.safe_load(config_text({"shop-a": {"location": "A"}, "shop-a2": {"location": "A"}},
                                     state_path=tmp_path / "state.sqlite"))
    config = load_config_text(yaml.safe_dump(doc), filename=str(tmp_path / "k.yaml"), base_dir=tmp_path, env=env)
    with Runner(config, progress=False) as runner:
        plan = runner.plan()
        assert plan.exit_code == 1
        for name in ("shop-a", "shop-a2"):
            assert "same WooCommerce site" in plan.store(name).error and "shop-a, shop-a2" in plan.store(name).error
        report = runner.apply()
        assert report.exit_code == 1
    assert box.katana.sales_orders() == [] and shop.server.count("POST") == 0


def test_a_shops_identity_is_read_once_and_kept(box, tmp_path):
    with make_runner(box, tmp_path, {"shop-a": {"location": "A"}}) as runner:
        runner.apply()
        runner.apply()
    assert box.stores["shop-a"].server.count("GET", "^/wp-json/?$") == 1
