"""Rehearsal on a copy of reality (issue 14): `katana-woo snapshot` reads the accounts into one file
without customer contact data; `katana-woo rehearse` (and `sandbox.start(snapshot=...)`) seeds the
sandbox from it, applies the config there and shows what the stores and Katana would hold.

The acceptance: a rehearsal from a snapshot of the demo sandbox reproduces the demo's apply exactly
(same actions, same figures, same sales orders), and the snapshot holds no customer e-mail, phone
or address. The demo sandbox stands in for real accounts: the snapshot is taken through the same
clients, over HTTP, as from a real Katana and real stores.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest

from katana_woo_sdk import cli, sandbox
from katana_woo_sdk.config import RateLimit, load_config
from katana_woo_sdk.rehearsal import _levels, rehearse
from katana_woo_sdk.runner import Runner
from katana_woo_sdk.sandbox import demo as demo_data
from katana_woo_sdk.snapshot import take_snapshot, write_snapshot
from katana_woo_sdk.state import State

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "demo.yaml"


def actions(plan):
    """What a plan would do, comparable across two sandboxes: every action with its fingerprint."""
    return sorted((a.store, a.kind, a.key, a.fingerprint, json.dumps(a.before, sort_keys=True, default=str),
                   json.dumps(a.after, sort_keys=True, default=str)) for s in plan.stores for a in s.actions)


def outcomes(report):
    return sorted((r.action.store, r.action.kind, r.action.key, r.action.fingerprint, r.outcome)
                  for r in report.results)


def created_orders(box, known=()):
    names = {loc["id"]: loc["name"] for loc in box.katana.locations()}
    return sorted((so["order_no"], names[so["location_id"]], so["ecommerce_order_id"],
                   tuple((box.katana.variant(r["variant_id"])["sku"], r["quantity"]) for r in so["sales_order_rows"]))
                  for so in box.katana.sales_orders(include_deleted=False)
                  if so["id"] not in known and so["source"] != "Katana")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo, for real: a snapshot of its sandbox first, then its own plan and apply there."""
    tmp = tmp_path_factory.mktemp("demo")
    with sandbox.start(katana_rate=None) as box:
        config = load_config(DEMO, env=box.env())
        # The sandbox has no rate limit: nor need the clients wait for Katana's real 60 a minute.
        config = dataclasses.replace(config, katana=dataclasses.replace(config.katana, rate_limit=RateLimit(10_000)))
        data = take_snapshot(config)
        config = dataclasses.replace(config, state=dataclasses.replace(config.state, path=tmp / "state.sqlite"))
        with Runner(config, state=State(tmp / "state.sqlite"), progress=False) as runner:
            plan = runner.plan()
            report = runner.apply(plan)
            levels = _levels(runner)
        orders = created_orders(box)
        people = [value for person in demo_data._PEOPLE.values() for value in person.values()]
        contact = [v for v in people if v and v not in ("DE", "IT", "US", "FI", "NY", "MA")] + \
                  [c["email"] for c in box.katana.customers() if c.get("email")]
    return {"data": data, "plan": plan, "report": report, "levels": levels, "orders": orders, "contact": contact}


def test_a_rehearsal_from_a_snapshot_of_the_demo_reproduces_its_apply_exactly(demo_run):
    result = rehearse(DEMO, demo_run["data"])
    assert actions(result.plan) == actions(demo_run["plan"])            # same actions, same fingerprints
    assert outcomes(result.report) == outcomes(demo_run["report"])      # each applied the same way
    assert result.levels == demo_run["levels"]                          # same figures in every store
    assert sorted((o.order_no, o.location, o.woo_order_id, tuple((s, int(q)) for s, q in o.lines))
                  for o in result.sales_orders) == [(n, loc, w, tuple((s, int(q)) for s, q in rows))
                                                    for n, loc, w, rows in demo_run["orders"]]
    assert {s: [h.woo_order_id for h in hs] for s, hs in result.holds.items()} == \
        {s.store: [h.woo_order_id for h in s.holds] for s in demo_run["report"].stores if s.holds}
    assert len(result.plan.actions) == len(demo_run["plan"].actions) > 10
    text = str(result)
    assert "Sales orders that would be created (6):" in text and "Holds (2):" in text
    assert "shop-us: 22 of 43 stock levels changed" in text
    assert "WC-shop-eu-" in result.to_markdown() and json.loads(json.dumps(result.to_dict(), default=str))


def test_a_snapshot_holds_no_customer_email_phone_or_address(demo_run):
    data = demo_run["data"]
    text = json.dumps(data, ensure_ascii=False)
    leaked = [value for value in demo_run["contact"] if value in text]
    assert leaked == []
    # what stands for a buyer is a keyed pseudonym, the same on both sides so matching still works
    emails = set(re.findall(r"[\w.+-]+@[\w.-]+", text))
    assert emails and all(re.fullmatch(r"customer-[0-9a-f]{12}@example\.invalid", e) for e in emails)
    [customer] = data["katana"]["customers"]                       # the one the demo's buyers match: Jane Doe
    jane = [o for s in data["stores"] for o in s["orders"] if o["billing"].get("email") == customer["email"]]
    assert jane and all(set(o["billing"]) == {"first_name", "last_name", "email"} and not o["shipping"] for o in jane)
    for store in data["stores"]:
        for order in store["orders"]:
            assert not {"customer_note", "customer_ip_address", "order_key", "meta_data"} & set(order)


def test_the_sandbox_seeded_from_a_snapshot_holds_the_same_records(demo_run, tmp_path):
    path = write_snapshot(demo_run["data"], tmp_path / "snapshot.json")
    with sandbox.start(katana_rate=None) as original, sandbox.start(snapshot=path, katana_rate=None) as copy:
        assert set(copy.stores) == set(demo_data.DEMO_STORES)
        assert [(loc["id"], loc["name"]) for loc in copy.katana.locations()] == \
            [(loc["id"], loc["name"]) for loc in original.katana.locations()]
        for sku in demo_data.katana_skus():
            assert copy.katana.variant(sku)["id"] == original.katana.variant(sku)["id"]
            for location in (demo_data.MAIN, demo_data.EAST):
                # committed included: the wholesale order Katana holds was not copied, its commitment was
                assert copy.katana.inventory_of(sku, location) == original.katana.inventory_of(sku, location)
        for name in demo_data.DEMO_STORES:
            mine, theirs = copy.stores[name], original.stores[name]
            assert [o["id"] for o in mine.orders()] == [o["id"] for s, o in _open(theirs)]
            for order in mine.orders():
                real = theirs.order(order["id"])
                for key in ("number", "status", "total", "total_tax", "date_created_gmt", "date_modified_gmt"):
                    assert order[key] == real[key], (name, order["id"], key)
                assert [(li["sku"], li["quantity"], li["total"]) for li in order["line_items"]] == \
                    [(li["sku"], li["quantity"], li["total"]) for li in real["line_items"]]
            # new ids continue after the copied ones, in the store's one sequence
            seeded = [o["id"] for o in mine.orders()] + [mine.product_by_sku("MUG-CLASSIC")["id"]]
            assert mine.place_order([("MUG-CLASSIC", 1)])["id"] > max(seeded)


def _open(store):
    return [(None, o) for o in store.orders() if o["status"] in ("pending", "processing", "on-hold")]


def test_what_katana_would_refuse_fails_in_the_rehearsal(demo_run):
    """Every request body goes through the emulator's checks: an order number another channel already
    uses in Katana is refused there as Katana refuses it."""
    data = json.loads(json.dumps(demo_run["data"]))
    katana = data["katana"]
    first = next(o for o in data["stores"][0]["orders"] if o["status"] == "processing")
    taken = f"WC-shop-eu-{first['number']}"
    katana["sales_orders"].append({"id": 79999, "order_no": taken, "customer_id": katana["customers"][0]["id"],
                                   "location_id": katana["locations"][0]["id"], "status": "NOT_SHIPPED",
                                   "sales_order_rows": []})
    result = rehearse(DEMO, data)
    failed = [r for r in result.report.results if r.outcome == "failed"]
    assert [r.action.key for r in failed] == [f"order:{first['id']}"] and "order_no" in failed[0].message
    assert result.exit_code == 1
    assert all(o.order_no != taken for o in result.sales_orders)


def test_rehearsing_an_allocation_shows_the_slices_before_the_real_apply(demo_run, tmp_path):
    """The pull-request step: the config gains a division of Main Warehouse; the rehearsal shows
    what shop-eu and shop-outlet would show, and their figures never add up to more than Katana has."""
    config = tmp_path / "shops.yaml"
    config.write_text(DEMO.read_text() + "\nlocations:\n  - location: Main Warehouse\n    allocation:\n"
                      "      mode: share\n      shares: {shop-eu: 70, shop-outlet: 30}\n")
    result = rehearse(config, demo_run["data"])
    assert not result.report.has_failures, str(result)
    eu, outlet = result.levels["shop-eu"], result.levels["shop-outlet"]
    assert result.report.store("shop-outlet").notes["allocation"] == \
        "Main Warehouse: share shop-eu 70 %, shop-outlet 30 % (largest remainder)"
    with sandbox.start(snapshot=demo_run["data"], katana_rate=None) as box:
        available = {sku: box.katana.inventory_of(sku, demo_data.MAIN)["available"] for sku in outlet}
    shared = [sku for sku in outlet if eu.get(sku) is not None and outlet[sku] is not None]
    assert len(shared) >= 10
    # the imports only lower what is available, so the slices add up to at most the snapshot's figure
    assert all(eu[sku] + outlet[sku] <= available[sku] for sku in shared)
    assert outlet["NOTEBOOK-A5"] < eu["NOTEBOOK-A5"]        # 30 % against 70 %


def test_snapshot_and_rehearse_on_the_command_line(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state.sqlite"
    with sandbox.start(katana_rate=None) as box:
        env = box.env()
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        config = tmp_path / "demo.yaml"
        config.write_text(DEMO.read_text().replace(".katana-woo/demo/state.sqlite", str(state)))
        assert cli.main(["snapshot", str(config), "--out", str(tmp_path / "snap.json")]) == 0
        err = capsys.readouterr().err
        assert "snapshot written to" in err and "no customer contact data" in err
    assert not state.exists()                                  # the snapshot only read
    for key in env:
        monkeypatch.delenv(key)                                # rehearse needs no credentials at all
    State(state).close()
    before = hashlib.sha256(state.read_bytes()).hexdigest()
    code = cli.main(["rehearse", str(config), "--snapshot", str(tmp_path / "snap.json"), "--state", str(state)])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "Sales orders that would be created (6):" in out and "== End state" in out
    assert hashlib.sha256(state.read_bytes()).hexdigest() == before      # a copy was used, never the file
    assert cli.main(["rehearse", str(config), "--snapshot", str(tmp_path / "missing.json")]) == 1
    assert "snapshot not found" in capsys.readouterr().err
