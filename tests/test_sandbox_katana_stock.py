"""The Katana emulator's stock history and the newer routes: DELETE /stock_adjustments/{id},
DELETE /customers/{id}, GET /inventory_movements, `extend[]=variant` on /inventory, and the
created/updated date filters with sales orders whose `updated_at` moves on every change.

Every answer is validated by conftest's `_emulator_response_guard` against the community spec in
../shared (paths, statuses and shapes, e.g. `InventoryMovementListResponse`), and every request body
against the live gateway's DTOs; without ../shared only the behaviour is tested.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from katana_woo_sdk.sandbox.katana_emulator import KatanaEmulator

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Clock:
    """Seconds since the epoch, moved by hand (the emulator's `clock`)."""

    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def katana(clock):
    with KatanaEmulator(rate=None, clock=clock) as k:
        main = k.add_location("Main Warehouse")["id"]
        k.add_location("East Coast DC")
        k.add_variant("MUG", sales_price=12)
        k.add_variant("TEE-S", product_name="Tee")
        k.set_stock("MUG", main, 10)
        k.add_customer("Jane Doe", email="jane@example.com")
        yield k


@pytest.fixture
def api(katana):
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {katana.api_key}"
        yield s


def _get(api, katana, path, **params):
    response = api.get(katana.base_url + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _in_stock(katana, sku, location="Main Warehouse") -> Decimal:
    return katana.inventory_of(sku, location)["in_stock"]


def _adjust(api, katana, number, rows, **extra):
    body = {"stock_adjustment_number": number, "location_id": katana.location_id("Main Warehouse"),
            "stock_adjustment_rows": [{"variant_id": katana.variant(sku)["id"], "quantity": qty} for sku, qty in rows],
            **extra}
    response = api.post(katana.base_url + "/stock_adjustments", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


# --- DELETE /stock_adjustments/{id} -----------------------------------------------------------------

def test_deleting_a_stock_adjustment_soft_deletes_it_and_takes_its_stock_back(api, katana, clock):
    adj = _adjust(api, katana, "WC-IMPORT-1", [("MUG", 7), ("TEE-S", 3)])
    assert (_in_stock(katana, "MUG"), _in_stock(katana, "TEE-S")) == (17, 3)
    clock.advance(60)
    response = api.delete(katana.base_url + f"/stock_adjustments/{adj['id']}", timeout=10)
    assert (response.status_code, response.content) == (204, b"")
    assert (_in_stock(katana, "MUG"), _in_stock(katana, "TEE-S")) == (10, 0)   # the emulator's assumption
    assert _get(api, katana, "/stock_adjustments") == []
    [deleted] = _get(api, katana, "/stock_adjustments", include_deleted="true")
    assert deleted["id"] == adj["id"] and deleted["deleted_at"] == _iso(T0 + timedelta(seconds=60))
    assert deleted["updated_at"] == deleted["deleted_at"]
    assert deleted["stock_adjustment_rows"] == adj["stock_adjustment_rows"]
    again = api.delete(katana.base_url + f"/stock_adjustments/{adj['id']}", timeout=10)
    assert again.status_code == 404 and again.json()["error"]["name"] == "NotFoundError"
    with pytest.raises(KeyError):
        katana.delete_stock_adjustment(adj["id"])


def test_admin_delete_stock_adjustment(api, katana):
    adj = _adjust(api, katana, "SA-9", [("MUG", -4)])
    assert _in_stock(katana, "MUG") == 6
    assert katana.delete_stock_adjustment(adj["id"])["deleted_at"] is not None
    assert _in_stock(katana, "MUG") == 10
    assert [a["deleted_at"] is not None for a in katana.stock_adjustments()] == [True]


# --- DELETE /customers/{id} ---------------------------------------------------------------------------

def test_deleting_a_customer(api, katana, clock):
    jane = katana.customers()[0]
    clock.advance(5)
    assert api.delete(katana.base_url + f"/customers/{jane['id']}", timeout=10).status_code == 204
    assert _get(api, katana, "/customers") == []
    [listed] = _get(api, katana, "/customers", include_deleted="true")
    assert listed["deleted_at"] == listed["updated_at"] == _iso(T0 + timedelta(seconds=5))
    assert api.delete(katana.base_url + f"/customers/{jane['id']}", timeout=10).status_code == 404
    refused = api.post(katana.base_url + "/sales_orders", timeout=10, json={
        "customer_id": jane["id"], "sales_order_rows": [{"variant_id": katana.variant("MUG")["id"], "quantity": 1}]})
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["path"] == ".customer_id"
    other = katana.add_customer("John Roe")
    assert katana.delete_customer(other["id"])["deleted_at"] is not None
    with pytest.raises(KeyError):
        katana.delete_customer(other["id"])


# --- GET /inventory?extend[]=variant ----------------------------------------------------------------

def test_inventory_embeds_each_rows_variant(api, katana):
    rows = _get(api, katana, "/inventory", **{"extend[]": "variant"})
    assert len(rows) == 4 and all(r["variant"]["id"] == r["variant_id"] for r in rows)
    assert {r["variant"]["sku"] for r in rows} == {"MUG", "TEE-S"} and "location" not in rows[0]
    both = _get(api, katana, "/inventory", **{"extend[]": ["variant", "location"]})
    assert all(r["location"]["id"] == r["location_id"] for r in both)
    assert all("variant" not in r for r in _get(api, katana, "/inventory"))


# --- GET /inventory_movements -----------------------------------------------------------------------

def test_every_in_stock_change_is_one_movement(api, katana, clock):
    main = katana.location_id("Main Warehouse")
    mug = katana.variant("MUG")["id"]
    clock.advance(10)
    adj = _adjust(api, katana, "SA-1", [("MUG", 5), ("TEE-S", 2)], stock_adjustment_date="2026-03-01T00:00:00Z")
    clock.advance(10)
    so = katana.create_sales_order({"customer_id": katana.customers()[0]["id"], "order_no": "WS-1",
                                    "sales_order_rows": [{"variant_id": mug, "quantity": 3}]})
    assert len(katana.inventory_movements("MUG")) == 2   # committing stock is no movement
    clock.advance(10)
    katana.deliver_sales_order(so["id"])
    clock.advance(10)
    katana.delete_stock_adjustment(adj["id"])
    movements = _get(api, katana, "/inventory_movements", variant_ids=mug)
    # Most recent first: the reversal, the delivery, the adjustment row, the admin's set_stock.
    assert [(m["resource_type"], m["quantity_change"], m["balance_after"]) for m in movements] == [
        ("StockAdjustmentRow", -5, 7), ("SalesOrderRow", -3, 12), ("StockAdjustmentRow", 5, 15),
        ("SystemGenerated", 10, 10)]
    assert movements[-1]["balance_after"] + sum(m["quantity_change"] for m in movements[:-1]) \
        == _in_stock(katana, "MUG") == 7
    delivery, row = movements[1], so["sales_order_rows"][0]
    assert (delivery["resource_id"], delivery["caused_by_order_no"], delivery["caused_by_resource_id"],
            delivery["location_id"]) == (row["id"], "WS-1", so["id"], main)
    adjusted = movements[2]
    assert (adjusted["caused_by_order_no"], adjusted["caused_by_resource_id"]) == ("SA-1", adj["id"])
    assert adjusted["movement_date"] == "2026-03-01T00:00:00.000Z"   # the adjustment's own date
    assert adjusted["created_at"] == _iso(T0 + timedelta(seconds=10))
    assert "resource_id" not in movements[-1] and "caused_by_order_no" not in movements[-1]
    assert [m["rank"] for m in movements] == [4, 3, 2, 1]


def test_movement_filters(api, katana, clock):
    clock.advance(100)
    _adjust(api, katana, "SA-A", [("MUG", 1), ("TEE-S", 1)])
    clock.advance(100)
    _adjust(api, katana, "SA-B", [("TEE-S", 2)])
    east = katana.location_id("East Coast DC")
    katana.set_stock("MUG", east, 4)

    def kinds(**params):
        return [(m["caused_by_order_no"] if "caused_by_order_no" in m else m["resource_type"], m["quantity_change"])
                for m in _get(api, katana, "/inventory_movements", **params)]

    assert kinds(caused_by_order_no="SA-B") == [("SA-B", 2)]
    assert kinds(resource_type="StockAdjustmentRow", variant_ids=katana.variant("TEE-S")["id"]) == [
        ("SA-B", 2), ("SA-A", 1)]
    assert kinds(location_id=east) == [("SystemGenerated", 4)]
    assert kinds(**{"variant_ids[]": [katana.variant("MUG")["id"], katana.variant("TEE-S")["id"]],
                    "created_at_min": _iso(T0 + timedelta(seconds=150))}) == [("SystemGenerated", 4), ("SA-B", 2)]
    assert kinds(created_at_max=_iso(T0)) == [("SystemGenerated", 10)]
    assert kinds(resource_type="SalesOrderRow") == []
    first = _get(api, katana, "/inventory_movements", limit=1)[0]
    assert kinds(ids=first["id"]) == [("SystemGenerated", 4)]
    assert katana.inventory_movements("MUG", "East Coast DC") == [first]
    assert [m["quantity_change"] for m in katana.inventory_movements(resource_type="StockAdjustmentRow")] == [1, 1, 2]


# --- dates: created_at / updated_at -------------------------------------------------------------------

def test_sales_orders_updated_at_moves_on_every_change(api, katana, clock):
    mug = katana.variant("MUG")["id"]
    body = {"customer_id": katana.customers()[0]["id"], "order_no": "WC-1",
            "sales_order_rows": [{"variant_id": mug, "quantity": 1}]}
    so = api.post(katana.base_url + "/sales_orders", json=body, timeout=10).json()
    assert so["updated_at"] == so["created_at"] == _iso(T0)
    stamps = [so["updated_at"]]

    def changed(response):
        assert response.status_code in (200, 204), response.text
        current = api.get(katana.base_url + f"/sales_orders/{so['id']}", timeout=10).json()["updated_at"]
        assert current > stamps[-1]
        stamps.append(current)

    clock.advance(1)
    changed(api.patch(katana.base_url + f"/sales_orders/{so['id']}", json={"additional_info": "x"}, timeout=10))
    # The clock stands still now: each change still moves updated_at (by a millisecond).
    changed(api.patch(katana.base_url + f"/sales_orders/{so['id']}", json={"additional_info": "y"}, timeout=10))
    changed(api.patch(katana.base_url + f"/sales_order_rows/{so['sales_order_rows'][0]['id']}",
                      json={"quantity": 2}, timeout=10))
    changed(api.post(katana.base_url + "/sales_order_shipping_fee", timeout=10,
                     json={"sales_order_id": so["id"], "amount": "4.99"}))
    changed(api.post(katana.base_url + "/sales_order_addresses", timeout=10,
                     json={"sales_order_id": so["id"], "entity_type": "shipping", "line_1": "1 Road"}))
    clock.advance(1)
    changed(api.patch(katana.base_url + f"/sales_orders/{so['id']}", json={"status": "DELIVERED"}, timeout=10))
    clock.advance(1)
    changed(api.delete(katana.base_url + f"/sales_orders/{so['id']}", timeout=10))
    deleted = api.get(katana.base_url + f"/sales_orders/{so['id']}", timeout=10).json()
    assert deleted["deleted_at"] == deleted["updated_at"] == stamps[-1]


def test_date_filters_on_sales_orders_stock_adjustments_and_customers(api, katana, clock):
    mug = katana.variant("MUG")["id"]
    jane = katana.customers()[0]["id"]
    early = katana.create_sales_order({"customer_id": jane, "sales_order_rows": [{"variant_id": mug, "quantity": 1}]})
    clock.advance(3600)
    late = katana.create_sales_order({"customer_id": jane, "sales_order_rows": [{"variant_id": mug, "quantity": 1}]})
    _adjust(api, katana, "SA-LATE", [("MUG", 1)])
    katana.add_customer("Late Larry")
    clock.advance(3600)
    api.patch(katana.base_url + f"/sales_orders/{early['id']}", json={"additional_info": "edited"}, timeout=10)
    half = _iso(T0 + timedelta(minutes=30))

    def ids(path, **params):
        return [item["id"] for item in _get(api, katana, path, **params)]

    assert ids("/sales_orders", created_at_min=half) == [late["id"]]
    assert ids("/sales_orders", created_at_max=half) == [early["id"]]
    assert ids("/sales_orders", updated_at_min=_iso(T0 + timedelta(minutes=90))) == [early["id"]]
    assert ids("/sales_orders", created_at_min=_iso(T0), created_at_max=_iso(T0)) == [early["id"]]   # inclusive
    assert len(ids("/stock_adjustments", created_at_min=half)) == 1
    assert ids("/stock_adjustments", created_at_max=half) == []
    assert [c["name"] for c in _get(api, katana, "/customers", created_at_min=half)] == ["Late Larry"]
    assert [c["name"] for c in _get(api, katana, "/customers", updated_at_max=half)] == ["Jane Doe"]
    # A bound that does not parse is not applied (Katana ignores invalid filters).
    assert len(ids("/sales_orders", created_at_min="yesterday")) == 2
