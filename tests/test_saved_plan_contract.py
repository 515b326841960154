"""A saved plan is a contract (issue 9): the GitOps recipe is `plan --out plan.json` on the pull
request, `apply CONFIG plan.json` on merge, possibly much later.

Refused with exit 1 and the reason: another config file, a config changed since the plan, a plan
applied already, a plan too old. Within a valid plan: unchanged actions applied, changed ones
applied as re-planned only where they cannot widen what was approved (never another location),
new ones skipped but their units still counted in the stock figures. No customer contact data in
plan files unless asked for; no secret in a signature `help()` shows.
"""
from __future__ import annotations

import inspect
import json
import pydoc
from datetime import timedelta
from pathlib import Path

import pytest

from katana_woo_sdk import cli, sandbox
from katana_woo_sdk.config import load_config
from katana_woo_sdk.errors import SavedPlanError
from katana_woo_sdk.plan import Plan
from katana_woo_sdk.runner import Runner

from _harness import config_text, make_runner, orders_for


@pytest.fixture
def box():
    with sandbox.start(dataset=None, katana_rate=None) as sb:
        sb.katana.add_location("A", is_primary=True)
        sb.katana.add_location("B")
        for sku in ("W1", "W2"):
            sb.katana.add_variant(sku, sales_price="10.00")
            sb.katana.set_stock(sku, "A", 12)
            sb.katana.set_stock(sku, "B", 30)
        shop = sb.add_store("shop-a")
        shop.add_product("W1", "Widget 1", "10.00", stock=7)
        shop.add_product("W2", "Widget 2", "10.00", stock=12)
        yield sb


STORES = {"shop-a": {"location": "A"}}


def test_orders_placed_after_the_plan_are_skipped_and_their_units_not_put_back(box, tmp_path):
    """The README's own recipe: the store showed 7 of W1 with 12 available in Katana. After the plan,
    a shopper buys 3 (the store shows 4). The order is not in the plan, so it is not imported, but
    its units are taken: apply writes 12 - 3 = 9, not 12."""
    shop = box.stores["shop-a"]
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        [push] = plan.store("shop-a").actions_of("stock.push")
        assert push.after == {"W1": 12}
        late = shop.place_order([("W1", 3)])
        assert shop.stock_of("W1") == 4
        report = runner.apply(plan)
        assert not report.has_failures, str(report)
        assert shop.stock_of("W1") == 9
        [skipped] = [r for r in report.results if r.action.key == f"order:{late['id']}"]
        assert skipped.outcome == "skipped" and orders_for(box, "shop-a", late["id"]) == []
        [pushed] = [r for r in report.results if r.action.kind == "stock.push"]
        assert pushed.outcome == "replanned" and pushed.result.pushed == {"W1": 9}
        # The next run imports the order; Katana commits 3; the figure stays 9.
        again = runner.apply()
        assert [r.outcome for r in again.results if r.action.kind == "order.import"] == ["applied"]
        assert shop.stock_of("W1") == 9 and box.katana.inventory_of("W1", "A")["available"] == 9


def _saved(runner, tmp_path) -> Path:
    return runner.plan().save(tmp_path / "plan.json")


def _config_with(tmp_path: Path, box, stores) -> Path:
    path = tmp_path / "katana-woo.yaml"
    path.write_text(config_text(stores, state_path=tmp_path / "state.sqlite"))
    return path


@pytest.mark.parametrize("change", ["remap", "buffer"])
def test_a_config_changed_since_the_plan_refuses_the_plan(box, tmp_path, change, monkeypatch, capsys):
    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    path = _config_with(tmp_path, box, STORES)
    assert cli.main(["plan", str(path), "--out", str(tmp_path / "plan.json"), "--no-progress"]) == 2
    changed = {"shop-a": {"location": "B"}} if change == "remap" else \
        {"shop-a": {"location": "A", "stock": {"buffer": 2}}}
    path.write_text(config_text(changed, state_path=tmp_path / "state.sqlite"))
    capsys.readouterr()
    code = cli.main(["apply", str(path), str(tmp_path / "plan.json"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "config changed since the plan; plan again" in err
    assert box.katana.sales_orders() == [] and box.stores["shop-a"].server.count("POST") == 0
    # --replan: the old behaviour, said plainly in the report.
    code = cli.main(["apply", str(path), str(tmp_path / "plan.json"), "--replan", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 2 and "--replan" in out and "not enforced" in out


def test_a_plan_from_another_config_file_is_refused(box, tmp_path):
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    with make_runner(box, tmp_path / "one", STORES) as one:
        plan = one.plan()
    with make_runner(box, tmp_path / "two", STORES) as two:
        with pytest.raises(SavedPlanError) as refused:
            two.apply(plan)
    assert refused.value.reason in ("other_config", "config_changed")
    assert box.katana.sales_orders() == []


def test_a_plan_is_applied_once(box, tmp_path):
    box.stores["shop-a"].place_order([("W2", 1)])
    with make_runner(box, tmp_path, STORES) as runner:
        plan = Plan.load(_saved(runner, tmp_path))
        assert not runner.apply(plan).has_failures
        with pytest.raises(SavedPlanError) as refused:
            runner.apply(plan)
        assert refused.value.reason == "already_applied" and "applied already" in str(refused.value)
    assert len(box.katana.sales_orders()) == 1


def test_a_plan_older_than_the_allowed_age_is_refused(box, tmp_path):
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        with pytest.raises(SavedPlanError) as refused:
            runner.apply(plan, max_plan_age=timedelta(0))
        assert refused.value.reason == "too_old" and "plan again" in str(refused.value)
        assert runner.config.plans.max_age_minutes == 1440     # the documented default: a day
        assert not runner.apply(plan).has_failures             # within the default age


def test_an_action_that_would_now_go_to_another_location_is_dropped_not_applied(box, tmp_path):
    """The reviewed plan named location A (#id). Someone deletes A in Katana and creates a new location
    called A: the config (by name) now resolves elsewhere. Nothing goes where the plan never said."""
    order = box.stores["shop-a"].place_order([("W1", 1)])
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        old_a = box.katana.location_id("A")
        box.katana.delete_location("A")
        box.katana.add_location("A")
        assert box.katana.location_id("A") != old_a
        report = runner.apply(plan)
        by_kind = {r.action.kind: r for r in report.results}
        assert by_kind["order.import"].outcome == "dropped" and "location" in by_kind["order.import"].message
        assert by_kind["mapping"].outcome == "dropped"
        assert orders_for(box, "shop-a", order["id"]) == []
        assert box.stores["shop-a"].server.count("POST", "/batch$") == 0
        # Planned again, it is reviewed as what it is: a remap to the new location.
        fresh = runner.plan()
        assert "remap" in str(fresh.store("shop-a").mapping) or fresh.store("shop-a").mapping.kind == "new"


def test_a_changed_figure_within_the_plan_is_replanned_at_the_same_location(box, tmp_path):
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        box.katana.set_stock("W2", "A", 15)           # Katana's figure moved after the review
        report = runner.apply(plan)
        [push] = [r for r in report.results if r.action.kind == "stock.push"]
        assert push.outcome == "replanned" and "same location" in push.message
        assert box.stores["shop-a"].stock_of("W2") == 15


# --- no customer data in plans; no secret in help() --------------------------------------------------

CONTACT = {"first_name": "Anna", "last_name": "Privata", "email": "anna.privata@example.test",
           "phone": "+44 20 7946 0958", "address_1": "221B Baker Street", "city": "London",
           "postcode": "NW1 6XE", "country": "GB"}


def test_plans_carry_no_customer_contact_data_unless_asked_and_apply_needs_none(box, tmp_path):
    order = box.stores["shop-a"].place_order([("W1", 1)], billing=CONTACT, shipping=CONTACT)
    secret_bits = (CONTACT["email"], CONTACT["phone"], CONTACT["address_1"], CONTACT["postcode"])
    with make_runner(box, tmp_path, STORES) as runner:
        plan = runner.plan()
        rendered = [json.dumps(plan.to_dict()), plan.to_markdown(), str(plan), plan._repr_html_(),
                    repr(plan.actions)]
        for text in rendered:
            assert not [bit for bit in secret_bits if bit in text]
        private = runner.plan(include_customer_data=True)
        assert private.includes_customer_data and CONTACT["email"] in json.dumps(private.to_dict())
        assert CONTACT["email"] not in str(private) + private.to_markdown()   # never shown, only saved
        saved = Plan.load(plan.save(tmp_path / "plan.json"))
        report = runner.apply(saved)
        assert not report.has_failures, str(report)
    # Apply re-read the order: the customer and the addresses are complete in Katana.
    [so] = orders_for(box, "shop-a", order["id"])
    customer = next(c for c in box.katana.customers() if c["id"] == so["customer_id"])
    assert customer["email"] == CONTACT["email"]
    assert {a["line_1"] for a in so["addresses"]} == {CONTACT["address_1"]}


def test_no_signature_shows_the_environment(monkeypatch):
    monkeypatch.setenv("KATANA_API_KEY", "kat_live_9f8e7d6c5b4a39281706")
    from katana_woo_sdk import config as config_module
    for obj in (Runner, Runner.from_config_file, config_module.load_config, config_module.load_config_text,
                config_module.validate_file, config_module.validate_text):
        assert "kat_live_9f8e7d6c5b4a39281706" not in pydoc.render_doc(obj), obj
    # The environment is still read, at call time, when none is passed.
    assert inspect.signature(load_config).parameters["env"].default is None
    with pytest.raises(Exception) as missing:
        load_config(Path(__file__).parent.parent / "configs" / "demo.yaml")
    assert "KATANA_BASE_URL" in str(missing.value) or "WOO_" in str(missing.value)
