"""The Katana emulator after an order's creation (`sandbox._katana_lifecycle`): fulfilments whole and
partial, the statuses they give, stock and commitment; rows of an open order; products created
through the API. Every answer goes through the spec check of `_katana_schema` (session hook) and the
suite-wide guards."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from katana_woo_sdk.sandbox.katana_emulator import KatanaEmulator


@pytest.fixture
def katana():
    with KatanaEmulator(rate=None) as k:
        k.add_location("Main Warehouse", is_primary=True)
        k.add_variant("MUG", sales_price=12)
        k.add_variant("TEE", sales_price=20)
        k.set_stock("MUG", "Main Warehouse", 10)
        k.set_stock("TEE", "Main Warehouse", 10)
        k.add_customer("Jane Doe", email="jane@example.com")
        yield k


@pytest.fixture
def api(katana):
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {katana.api_key}"
        from _shared import SHARED
        if SHARED is not None:
            from _katana_schema import KatanaSchema
            s.hooks["response"].append(KatanaSchema().session_hook())
        yield s


def _order(api, katana, mug=3, tee=2) -> dict:
    body = {"customer_id": katana.customers()[0]["id"], "sales_order_rows": [
        {"variant_id": katana.variant("MUG")["id"], "quantity": mug},
        {"variant_id": katana.variant("TEE")["id"], "quantity": tee}]}
    r = api.post(katana.base_url + "/sales_orders", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _stock(katana, sku):
    row = katana.inventory_of(sku, "Main Warehouse")
    return row["in_stock"], row["committed"]


def test_a_partial_fulfilment_ships_its_quantities_and_leaves_the_rest_committed(api, katana):
    so = _order(api, katana)
    mug_row, tee_row = (r["id"] for r in so["sales_order_rows"])
    r = api.post(katana.base_url + "/sales_order_fulfillments", json={
        "sales_order_id": so["id"], "status": "DELIVERED", "tracking_number": "TRK-1",
        "sales_order_fulfillment_rows": [{"sales_order_row_id": mug_row, "quantity": 1}]})
    assert r.status_code == 200, r.text
    assert r.json()["tracking_number"] == "TRK-1" and r.json()["status"] == "DELIVERED"
    assert api.get(f"{katana.base_url}/sales_orders/{so['id']}").json()["status"] == "PARTIALLY_DELIVERED"
    assert _stock(katana, "MUG") == (Decimal(9), Decimal(2)) and _stock(katana, "TEE") == (Decimal(10), Decimal(2))
    # More than a row has left is refused; the rest is delivered in a second fulfilment.
    over = api.post(katana.base_url + "/sales_order_fulfillments", json={
        "sales_order_id": so["id"], "status": "DELIVERED",
        "sales_order_fulfillment_rows": [{"sales_order_row_id": mug_row, "quantity": 3}]})
    assert over.status_code == 422 and over.json()["error"]["details"][0]["path"].endswith(".quantity")
    katana.fulfil_sales_order(so["id"])
    assert katana.sales_order(so["id"])["status"] == "DELIVERED"
    assert _stock(katana, "MUG") == (Decimal(7), Decimal(0)) and _stock(katana, "TEE") == (Decimal(8), Decimal(0))
    listed = api.get(katana.base_url + "/sales_order_fulfillments", params={"sales_order_id": so["id"]}).json()
    assert [f["tracking_number"] for f in listed["data"]] == ["TRK-1", None]
    # Deleting a fulfilment puts its stock back and the order is partly delivered again.
    first = listed["data"][0]["id"]
    assert api.delete(f"{katana.base_url}/sales_order_fulfillments/{first}").status_code == 204
    assert katana.sales_order(so["id"])["status"] == "PARTIALLY_DELIVERED"
    assert _stock(katana, "MUG") == (Decimal(8), Decimal(1))


def test_packed_then_delivered_and_the_status_patch_fulfils_what_is_left(api, katana):
    so = _order(api, katana)
    packed = katana.fulfil_sales_order(so["id"], {"MUG": 3, "TEE": 2}, status="PACKED")
    assert katana.sales_order(so["id"])["status"] == "PACKED"
    assert _stock(katana, "MUG") == (Decimal(7), Decimal(0))
    r = api.patch(f"{katana.base_url}/sales_order_fulfillments/{packed['id']}", json={"status": "DELIVERED"})
    assert r.status_code == 200 and katana.sales_order(so["id"])["status"] == "DELIVERED"
    assert _stock(katana, "MUG") == (Decimal(7), Decimal(0))          # packing took it out already
    # Katana's "mark as delivered" (a PATCH of the order) on another order: one fulfilment of all of it.
    other = _order(api, katana, mug=1, tee=1)
    katana.deliver_sales_order(other["id"])
    assert [f["status"] for f in katana.fulfilments(other["id"])] == ["DELIVERED"]
    assert _stock(katana, "MUG") == (Decimal(6), Decimal(0))


def test_rows_change_only_while_the_order_is_open(api, katana):
    so = _order(api, katana)
    added = api.post(katana.base_url + "/sales_order_rows", json={
        "sales_order_id": so["id"], "variant_id": katana.variant("MUG")["id"], "quantity": 2})
    assert added.status_code == 200, added.text
    assert _stock(katana, "MUG") == (Decimal(10), Decimal(5))
    assert api.delete(f"{katana.base_url}/sales_order_rows/{added.json()['id']}").status_code == 204
    assert _stock(katana, "MUG") == (Decimal(10), Decimal(3))
    katana.deliver_sales_order(so["id"])
    refused = api.post(katana.base_url + "/sales_order_rows", json={
        "sales_order_id": so["id"], "variant_id": katana.variant("MUG")["id"], "quantity": 1})
    assert refused.status_code == 422
    row = so["sales_order_rows"][0]["id"]
    assert api.delete(f"{katana.base_url}/sales_order_rows/{row}").status_code == 422


def test_a_product_created_through_the_api_is_found_by_its_sku_once(api, katana):
    r = api.post(katana.base_url + "/products", json={"name": "Espresso cup", "uom": "pcs",
                                                     "variants": [{"sku": "CUP-1", "sales_price": 7.5}]})
    assert r.status_code == 200, r.text
    product = r.json()
    assert product["name"] == "Espresso cup" and [v["sku"] for v in product["variants"]] == ["CUP-1"]
    found = api.get(katana.base_url + "/variants", params={"sku": "CUP-1"}).json()["data"]
    assert [v["product_id"] for v in found] == [product["id"]] and found[0]["sales_price"] == 7.5
    again = api.post(katana.base_url + "/products", json={"name": "Cup", "variants": [{"sku": "CUP-1"}]})
    assert again.status_code == 422 and again.json()["error"]["details"][0]["code"] == "unique"
    # An unknown field is what the gateway refuses (additionalProperties: false).
    from _katana_gateway import unchecked
    with unchecked():
        bad = api.post(katana.base_url + "/products", json={"name": "X", "variants": [{"sku": "X", "price": 1}]})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["code"] == "additionalProperties"
