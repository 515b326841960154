"""The Katana emulator: wire shapes (checked against the spec in ../shared), rules and admin seams.

Every answer the emulator gives through the `api` session below is validated against the
response schema the community OpenAPI spec declares for its path, method and status
(`tests/_katana_schema.py`); without ../shared that check is skipped and the behaviour tests run.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from decimal import Decimal

import pytest
import requests
import yaml

from _katana_gateway import unchecked
from _shared import SHARED, require_shared
from katana_woo_sdk.sandbox._katana_validate import DTOS
from katana_woo_sdk.sandbox.katana_emulator import KatanaEmulator


@pytest.fixture(scope="module")
def schema():
    if SHARED is None:
        return None
    from _katana_schema import KatanaSchema
    return KatanaSchema()


def _session(katana: KatanaEmulator, schema, key: str | None = "valid") -> requests.Session:
    s = requests.Session()
    if key is not None:
        s.headers["Authorization"] = f"Bearer {katana.api_key if key == 'valid' else key}"
    if schema is not None:
        s.hooks["response"].append(schema.session_hook())
    return s


@pytest.fixture
def katana():
    with KatanaEmulator(rate=None) as k:
        main = k.add_location("Main Warehouse", is_primary=True,
                              address={"line_1": "1 Dock Rd", "city": "Tallinn", "state": "Harju", "zip": "10111",
                                       "country": "EE"})
        east = k.add_location("East Coast DC")
        k.add_location("Workshop", sales_allowed=False)
        k.set_default_sales_location(main["id"])
        k.add_variant("MUG", name="Mug", sales_price=12)
        k.add_variant("TEE-S", product_name="Tee", config={"Size": "S"}, sales_price="19.90")
        k.add_variant("TEE-M", product_name="Tee", config={"Size": "M"}, sales_price="19.90")
        k.set_stock("MUG", main["id"], 10)
        k.set_stock("MUG", east["id"], 4)
        k.set_stock("TEE-S", "Main Warehouse", 5)
        k.add_customer("Jane Doe", email="jane@example.com", reference_id="woo:shop-eu:7")
        k.add_tax_rate(20, "VAT 20%")
        yield k


@pytest.fixture
def api(katana, schema):
    with _session(katana, schema) as s:
        yield s


def _url(katana, path):
    return katana.base_url + path


def _customer_id(katana):
    return katana.customers()[0]["id"]


def _so_body(katana, **extra):
    body = {"customer_id": _customer_id(katana),
            "sales_order_rows": [{"variant_id": katana.variant("MUG")["id"], "quantity": 3, "price_per_unit": 12.5}]}
    body.update(extra)
    return body


def _error(response, status):
    assert response.status_code == status, response.text
    err = response.json()["error"]
    assert err["statusCode"] == status
    return err


# --- auth, errors, routing -------------------------------------------------------------------

@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_key_is_401_in_katanas_wrapped_shape(katana, schema, key):
    with _session(katana, schema, key=key) as s:
        r = s.get(_url(katana, "/locations"))
    err = _error(r, 401)
    assert err == {"statusCode": 401, "name": "UnauthorizedError", "message": "Unauthorized"}
    assert katana.api_key not in r.text


def test_not_found_answers_wrapped(api, katana):
    assert _error(api.get(_url(katana, "/sales_orders/99999")), 404)["name"] == "NotFoundError"
    assert _error(api.get(_url(katana, "/variants/1")), 404)["name"] == "NotFoundError"  # a location id
    r = requests.get(_url(katana, "/no_such_resource"), headers=api.headers)
    assert r.status_code == 404 and r.json()["error"]["name"] == "NotFoundError"


def test_admin_namespace_is_not_reachable_through_the_api_and_not_logged(api, katana):
    assert requests.get(_url(katana, "/__sandbox__/requests"), headers=api.headers).status_code == 404
    conn = http.client.HTTPConnection("127.0.0.1", katana.server.port, timeout=5)
    conn.request("GET", "/v1/../__sandbox__/katana/locations", headers=dict(api.headers))
    raw = conn.getresponse()
    assert raw.status == 404 and json.loads(raw.read())["error"]["name"] == "NotFoundError"
    conn.close()
    katana.server.clear_log()
    admin = katana.url + "/__sandbox__/katana"
    assert requests.get(admin + "/locations").status_code == 200
    assert requests.post(admin + "/seed", json={"variants": [{"sku": "NEW-1"}]}).json()["variants"] == 4
    assert katana.server.requests() == []
    api.get(_url(katana, "/locations"))
    assert katana.server.counts_by_route() == {"GET /locations": 1}


def test_repr_is_one_line_without_the_key(katana):
    text = repr(katana)
    assert "\n" not in text and katana.api_key not in text and "locations=3" in text


# --- lists: pagination, filters --------------------------------------------------------------

def test_pagination_header_uses_strings_and_limit_is_clamped(api, katana):
    for i in range(9):
        katana.add_variant(f"BULK-{i}")
    r = api.get(_url(katana, "/variants"), params={"limit": 5, "page": 2})
    meta = json.loads(r.headers["X-Pagination"])
    assert meta == {"total_records": "12", "total_pages": "3", "offset": "5", "page": "2",
                    "first_page": "false", "last_page": "false"}
    assert [v["sku"] for v in r.json()["data"]] == ["BULK-2", "BULK-3", "BULK-4", "BULK-5", "BULK-6"]
    last = api.get(_url(katana, "/variants"), params={"limit": 5, "page": 3})
    assert json.loads(last.headers["X-Pagination"])["last_page"] == "true" and len(last.json()["data"]) == 2
    beyond = api.get(_url(katana, "/variants"), params={"limit": 5, "page": 9})
    assert beyond.json()["data"] == []
    default = api.get(_url(katana, "/variants"))
    assert json.loads(default.headers["X-Pagination"])["total_pages"] == "1"
    for i in range(250):
        katana.add_variant(f"MORE-{i}")
    clamped = api.get(_url(katana, "/variants"), params={"limit": 1000})
    assert len(clamped.json()["data"]) == 250
    assert json.loads(clamped.headers["X-Pagination"])["total_pages"] == "2"
    assert _error(api.get(_url(katana, "/variants"), params={"limit": "x"}), 422)["details"][0]["path"] == ".limit"
    assert _error(api.get(_url(katana, "/variants"), params={"page": 0}), 422)["details"][0]["code"] == "minimum"


def test_unknown_filters_are_silently_ignored(api, katana):
    everything = api.get(_url(katana, "/variants")).json()["data"]
    assert api.get(_url(katana, "/variants"), params={"colour": "red", "skuu": "MUG"}).json()["data"] == everything
    # /inventory does not take ids or dates: ignored, not applied
    rows = api.get(_url(katana, "/inventory")).json()["data"]
    assert api.get(_url(katana, "/inventory"), params={"ids": 1, "created_at_min": "2099-01-01"}).json()["data"] == rows
    # a filter whose value does not parse is not applied either ("invalid parameters" in Katana's words)
    assert api.get(_url(katana, "/inventory"), params={"location_id": "main"}).json()["data"] == rows
    assert api.get(_url(katana, "/variants"), params={"ids": "x", "include_deleted": "yes"}).json()["data"] == everything
    assert api.get(_url(katana, "/variants"), params={"created_at_min": "2099-01-01T00:00:00Z"}).json()["data"] == []


def test_sku_filter_is_exact_case_sensitive_and_takes_repeated_keys(api, katana):
    def skus(params):
        return sorted(v["sku"] for v in api.get(_url(katana, "/variants"), params=params).json()["data"])
    assert skus({"sku": ["MUG", "TEE-S"]}) == ["MUG", "TEE-S"]
    assert skus({"sku": "mug"}) == [] and skus({"sku": "MU"}) == []
    assert skus({"sku": "MUG,TEE-S"}) == []   # a comma is part of the value
    ids = [katana.variant("TEE-M")["id"], katana.variant("MUG")["id"]]
    assert skus({"ids[]": ids}) == ["MUG", "TEE-M"] == skus({"ids": ids})
    product_id = katana.variant("TEE-S")["product_id"]
    assert skus({"product_id": product_id}) == ["TEE-M", "TEE-S"]
    one = api.get(_url(katana, f"/variants/{ids[0]}"), params={"extend": "product_or_material"}).json()
    assert one["product_or_material"]["name"] == "Tee" and one["config_attributes"][0]["config_value"] == "M"


def test_locations_soft_delete_and_include_deleted(api, katana):
    east = katana.location_id("East Coast DC")
    katana.delete_location("East Coast DC")
    names = [loc["name"] for loc in api.get(_url(katana, "/locations")).json()["data"]]
    assert names == ["Main Warehouse", "Workshop"]
    with_deleted = api.get(_url(katana, "/locations"), params={"include_deleted": "true"}).json()["data"]
    assert [loc["deleted_at"] is not None for loc in with_deleted] == [False, True, False]
    one = api.get(_url(katana, f"/locations/{east}")).json()
    assert one["name"] == "East Coast DC" and one["deleted_at"]
    assert [loc["name"] for loc in api.get(_url(katana, "/locations"), params={"sales_allowed": "false"}).json()["data"]] \
        == ["Workshop"]
    assert {row["location_id"] for row in api.get(_url(katana, "/inventory")).json()["data"]} == {
        katana.location_id("Main Warehouse"), katana.location_id("Workshop")}
    main = api.get(_url(katana, "/locations"), params={"name": "Main Warehouse"}).json()["data"][0]
    assert main["address"]["city"] == "Tallinn" and main["is_primary"] is True


def test_factory_names_the_default_sales_location(api, katana):
    factory = api.get(_url(katana, "/factory")).json()
    assert factory["default_sales_location_id"] == katana.location_id("Main Warehouse")
    assert factory["base_currency_code"] == "USD"


def test_inventory_has_a_row_per_variant_and_location_with_decimal_strings(api, katana):
    rows = api.get(_url(katana, "/inventory")).json()["data"]
    assert len(rows) == 3 * 3
    main = katana.location_id("Main Warehouse")
    mug = katana.variant("MUG")["id"]
    row = next(r for r in rows if r["variant_id"] == mug and r["location_id"] == main)
    assert row["quantity_in_stock"] == "10.00000" and row["quantity_committed"] == "0.00000"
    assert row["quantity_expected"] == "0.00000"
    zero = next(r for r in rows if r["variant_id"] == katana.variant("TEE-M")["id"])
    assert zero["quantity_in_stock"] == "0.00000"
    filtered = api.get(_url(katana, "/inventory"), params={"location_id": main, "variant_id": [mug],
                                                          "extend": ["variant", "location"]}).json()["data"]
    assert len(filtered) == 1 and filtered[0]["variant"]["sku"] == "MUG" and filtered[0]["location"]["id"] == main


# --- stock adjustments -----------------------------------------------------------------------

def test_stock_adjustment_applies_signed_deltas(api, katana):
    main = katana.location_id("Main Warehouse")
    body = {"stock_adjustment_number": "WC-IMPORT-1", "location_id": main, "reason": "initial import",
            "stock_adjustment_rows": [{"variant_id": katana.variant("MUG")["id"], "quantity": -4},
                                      {"variant_id": katana.variant("TEE-M")["id"], "quantity": 7,
                                       "cost_per_unit": 3.5}]}
    r = api.post(_url(katana, "/stock_adjustments"), json=body)
    assert r.status_code == 200
    created = r.json()
    assert created["stock_adjustment_number"] == "WC-IMPORT-1" and len(created["stock_adjustment_rows"]) == 2
    assert all(row["id"] for row in created["stock_adjustment_rows"])
    assert katana.inventory_of("MUG", main)["in_stock"] == Decimal(6)
    assert katana.inventory_of("TEE-M", "Main Warehouse")["in_stock"] == Decimal(7)
    found = api.get(_url(katana, "/stock_adjustments"), params={"stock_adjustment_number": "WC-IMPORT-1"}).json()
    assert [a["id"] for a in found["data"]] == [created["id"]]
    assert api.get(_url(katana, "/stock_adjustments"), params={"location_id": 999}).json()["data"] == []
    assert katana.stock_adjustments()[0]["id"] == created["id"]


@pytest.mark.parametrize("mutate, path, code", [
    (lambda b: b["stock_adjustment_rows"][0].update(unit="pcs"), ".stock_adjustment_rows[0].unit",
     "additionalProperties"),
    (lambda b: b.update(note="x"), ".note", "additionalProperties"),
    (lambda b: b.pop("stock_adjustment_number"), ".stock_adjustment_number", "required"),
    (lambda b: b.update(stock_adjustment_rows=[]), ".stock_adjustment_rows", "minItems"),
    (lambda b: b.update(location_id="101"), ".location_id", "type"),
    (lambda b: b.update(location_id=30001), ".location_id", "notFound"),
    (lambda b: b["stock_adjustment_rows"][0].update(quantity=-1, cost_per_unit=2), ".stock_adjustment_rows[0].cost_per_unit",
     "costForNegative"),
])
def test_stock_adjustment_422s(api, katana, mutate, path, code):
    body = {"stock_adjustment_number": "SA-X", "location_id": katana.location_id("Main Warehouse"),
            "stock_adjustment_rows": [{"variant_id": katana.variant("MUG")["id"], "quantity": 1}]}
    mutate(body)
    with unchecked():   # deliberately invalid bodies (see conftest's gateway guard)
        err = _error(api.post(_url(katana, "/stock_adjustments"), json=body), 422)
    assert err["code"] == "VALIDATION_FAILED" and err["name"] == "UnprocessableEntityError"
    assert {"path": path, "code": code} in [{"path": d["path"], "code": d["code"]} for d in err["details"]]
    if code == "additionalProperties":
        assert err["details"][0]["info"] == {"additionalProperty": path.rsplit(".", 1)[1]}
    assert katana.inventory_of("MUG", "Main Warehouse")["in_stock"] == Decimal(10)


# --- sales orders ----------------------------------------------------------------------------

def test_create_sales_order_defaults_location_and_commits_stock(api, katana):
    main, east = katana.location_id("Main Warehouse"), katana.location_id("East Coast DC")
    body = _so_body(katana, order_no="WC-shop-eu-1001", ecommerce_order_type="wooCommerce",
                    ecommerce_store_name="127.0.0.1:8080", ecommerce_order_id="1001",
                    addresses=[{"entity_type": "billing", "first_name": "Jane", "city": "Tallinn"},
                               {"entity_type": "shipping", "first_name": "Jane", "city": "Tartu"}])
    body["sales_order_rows"].append({"variant_id": katana.variant("MUG")["id"], "quantity": 1, "location_id": east})
    r = api.post(_url(katana, "/sales_orders"), json=body)
    assert r.status_code == 200
    so = r.json()
    assert so["location_id"] == main and so["source"] == "API" and so["status"] == "NOT_SHIPPED"
    assert [row["location_id"] for row in so["sales_order_rows"]] == [main, east]
    assert so["sales_order_rows"][0]["price_per_unit"] == "12.5000000000"
    assert (so["ecommerce_order_type"], so["ecommerce_store_name"], so["ecommerce_order_id"]) == (
        "wooCommerce", "127.0.0.1:8080", "1001")
    assert {a["entity_type"] for a in so["addresses"]} == {"billing", "shipping"}
    assert so["billing_address_id"] and so["shipping_address_id"]
    assert katana.inventory_of("MUG", main)["committed"] == Decimal(3)
    assert katana.inventory_of("MUG", east) == {"in_stock": Decimal(4), "committed": Decimal(1),
                                                "expected": Decimal(0), "available": Decimal(3)}
    inv = api.get(_url(katana, "/inventory"), params={"location_id": main,
                                                     "variant_id": katana.variant("MUG")["id"]}).json()["data"][0]
    assert inv["quantity_committed"] == "3.00000" and inv["quantity_in_stock"] == "10.00000"
    assert api.get(_url(katana, f"/sales_orders/{so['id']}")).json()["order_no"] == "WC-shop-eu-1001"
    default_price = api.post(_url(katana, "/sales_orders"), json={
        "customer_id": _customer_id(katana), "status": "PENDING",
        "sales_order_rows": [{"variant_id": katana.variant("MUG")["id"], "quantity": 1}]}).json()
    assert default_price["sales_order_rows"][0]["price_per_unit"] == "12.0000000000"
    assert default_price["order_no"].startswith("SO-")
    assert katana.inventory_of("MUG", main)["committed"] == Decimal(3)   # a PENDING quote commits nothing


@pytest.mark.parametrize("mutate, path, code", [
    (lambda k, b: b.update(ecommerce_channel="woo"), ".ecommerce_channel", "additionalProperties"),
    (lambda k, b: b["sales_order_rows"][0].update(sku="MUG"), ".sales_order_rows[0].sku", "additionalProperties"),
    (lambda k, b: b.pop("customer_id"), ".customer_id", "required"),
    (lambda k, b: b.pop("sales_order_rows"), ".sales_order_rows", "required"),
    (lambda k, b: b.update(status="DELIVERED"), ".status", "enum"),
    (lambda k, b: b.update(ecommerce_order_id=1001), ".ecommerce_order_id", "type"),
    (lambda k, b: b.update(customer_id=12345), ".customer_id", "notFound"),
    (lambda k, b: b["sales_order_rows"][0].update(variant_id=101), ".sales_order_rows[0].variant_id", "notFound"),
    (lambda k, b: b.update(location_id=k.location_id("Workshop")), ".location_id", "salesNotAllowed"),
    (lambda k, b: b["sales_order_rows"][0].update(location_id=999), ".sales_order_rows[0].location_id", "notFound"),
])
def test_create_sales_order_422s(api, katana, mutate, path, code):
    body = _so_body(katana)
    mutate(katana, body)
    with unchecked():
        err = _error(api.post(_url(katana, "/sales_orders"), json=body), 422)
    assert {"path": path, "code": code} in [{"path": d["path"], "code": d["code"]} for d in err["details"]]
    assert katana.sales_orders() == []


def test_create_sales_order_at_a_deleted_default_location_is_422(api, katana):
    katana.delete_location("Main Warehouse")
    err = _error(api.post(_url(katana, "/sales_orders"), json=_so_body(katana)), 422)
    assert err["details"][0]["path"] == ".location_id" and err["details"][0]["code"] == "deleted"


def test_duplicate_order_no_is_422_unique_even_after_delete(api, katana):
    first = api.post(_url(katana, "/sales_orders"), json=_so_body(katana, order_no="WC-1")).json()
    err = _error(api.post(_url(katana, "/sales_orders"), json=_so_body(katana, order_no="WC-1")), 422)
    assert err["details"] == [{"path": ".order_no", "code": "unique", "message": "order_no 'WC-1' is already used",
                               "info": {"value": "WC-1"}}]
    assert api.delete(_url(katana, f"/sales_orders/{first['id']}")).status_code == 204
    _error(api.post(_url(katana, "/sales_orders"), json=_so_body(katana, order_no="WC-1")), 422)


def test_duplicates_allowed_when_the_knob_says_so(schema):
    with KatanaEmulator(rate=None, unique_order_no=False) as k:
        k.add_location("Main")
        k.add_variant("MUG")
        k.add_customer("Jane")
        with _session(k, schema) as s:
            for _ in range(2):
                assert s.post(_url(k, "/sales_orders"), json=_so_body(k, order_no="DUP")).status_code == 200
        assert [so["order_no"] for so in k.sales_orders()] == ["DUP", "DUP"]


def test_patch_rejects_ecommerce_fields_and_keeps_them(api, katana):
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana, ecommerce_order_id="77")).json()
    with unchecked():
        err = _error(api.patch(_url(katana, f"/sales_orders/{so['id']}"), json={"ecommerce_order_id": "78"}), 422)
    assert err["details"] == [{"path": ".ecommerce_order_id", "code": "additionalProperties",
                               "message": "should NOT have additional properties",
                               "info": {"additionalProperty": "ecommerce_order_id"}}]
    assert api.get(_url(katana, f"/sales_orders/{so['id']}")).json()["ecommerce_order_id"] == "77"


def test_patch_location_does_not_cascade_and_row_patch_moves_the_commitment(api, katana):
    main, east = katana.location_id("Main Warehouse"), katana.location_id("East Coast DC")
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana, additional_info="gift")).json()
    moved = api.patch(_url(katana, f"/sales_orders/{so['id']}"),
                      json={"location_id": east, "additional_info": "gift"}).json()
    assert moved["location_id"] == east and moved["additional_info"] == "gift"
    assert [row["location_id"] for row in moved["sales_order_rows"]] == [main]   # rows stay put
    assert katana.inventory_of("MUG", main)["committed"] == Decimal(3)
    assert katana.inventory_of("MUG", east)["committed"] == Decimal(0)
    rows = api.get(_url(katana, "/sales_order_rows"), params={"sales_order_ids": so["id"]}).json()["data"]
    assert [r["id"] for r in rows] == [so["sales_order_rows"][0]["id"]]
    row = api.patch(_url(katana, f"/sales_order_rows/{rows[0]['id']}"), json={"location_id": east}).json()
    assert row["location_id"] == east
    assert katana.inventory_of("MUG", main)["committed"] == Decimal(0)
    assert katana.inventory_of("MUG", east)["committed"] == Decimal(3)
    with unchecked():
        _error(api.patch(_url(katana, f"/sales_order_rows/{rows[0]['id']}"), json={"location_ids": east}), 422)


def test_patch_without_additional_info_wipes_it(api, katana):
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana, additional_info="gift wrap")).json()
    patched = api.patch(_url(katana, f"/sales_orders/{so['id']}"), json={"customer_ref": "r-1"}).json()
    assert patched["additional_info"] is None and patched["customer_ref"] == "r-1"


def test_delivery_lowers_stock_and_commitment_then_locks_the_location(api, katana):
    main, east = katana.location_id("Main Warehouse"), katana.location_id("East Coast DC")
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana)).json()
    delivered = api.patch(_url(katana, f"/sales_orders/{so['id']}"), json={"status": "DELIVERED"}).json()
    assert delivered["status"] == "DELIVERED"
    assert katana.inventory_of("MUG", main) == {"in_stock": Decimal(7), "committed": Decimal(0),
                                                "expected": Decimal(0), "available": Decimal(7)}
    err = _error(api.patch(_url(katana, f"/sales_orders/{so['id']}"), json={"location_id": east}), 422)
    assert err["details"][0]["path"] == ".location_id" and err["details"][0]["info"] == {"status": "DELIVERED"}
    row_id = so["sales_order_rows"][0]["id"]
    _error(api.patch(_url(katana, f"/sales_order_rows/{row_id}"), json={"location_id": east}), 422)
    # the admin helper takes the same path
    other = api.post(_url(katana, "/sales_orders"), json=_so_body(katana)).json()
    katana.deliver_sales_order(other["id"])
    assert katana.inventory_of("MUG", main)["in_stock"] == Decimal(4)


def test_row_linked_to_a_manufacturing_order_keeps_its_location(api, katana):
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana)).json()
    row_id = so["sales_order_rows"][0]["id"]
    katana.link_manufacturing_order(row_id, 5)
    err = _error(api.patch(_url(katana, f"/sales_order_rows/{row_id}"),
                           json={"location_id": katana.location_id("East Coast DC")}), 422)
    assert err["details"][0]["code"] == "linkedManufacturingOrder"


def test_delete_is_soft_and_releases_the_commitment(api, katana):
    main = katana.location_id("Main Warehouse")
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana, ecommerce_store_name="shop",
                                                              ecommerce_order_id="5")).json()
    assert katana.inventory_of("MUG", main)["committed"] == Decimal(3)
    r = api.delete(_url(katana, f"/sales_orders/{so['id']}"))
    assert r.status_code == 204 and r.content == b""
    assert katana.inventory_of("MUG", main)["committed"] == Decimal(0)
    params = {"ecommerce_store_name": "shop", "ecommerce_order_id": "5"}
    assert api.get(_url(katana, "/sales_orders"), params=params).json()["data"] == []
    found = api.get(_url(katana, "/sales_orders"), params={**params, "include_deleted": "true"}).json()["data"]
    assert [s["id"] for s in found] == [so["id"]] and found[0]["deleted_at"]
    assert api.get(_url(katana, f"/sales_orders/{so['id']}")).json()["deleted_at"]
    _error(api.delete(_url(katana, f"/sales_orders/{so['id']}")), 404)
    _error(api.patch(_url(katana, f"/sales_orders/{so['id']}"), json={"status": "DELIVERED"}), 404)
    assert katana.sales_orders(include_deleted=False) == [] and len(katana.sales_orders()) == 1


def test_sales_order_filters_and_the_ignore_filter_knob(api, katana):
    east = katana.location_id("East Coast DC")
    a = api.post(_url(katana, "/sales_orders"), json=_so_body(katana, order_no="A", ecommerce_store_name="eu",
                                                             ecommerce_order_id="1")).json()
    b = api.post(_url(katana, "/sales_orders"), json=_so_body(katana, order_no="B", ecommerce_store_name="us",
                                                             ecommerce_order_id="1", location_id=east,
                                                             status="PENDING")).json()

    def ids(**params):
        return [so["id"] for so in api.get(_url(katana, "/sales_orders"), params=params).json()["data"]]
    assert ids(ecommerce_order_id="1") == [a["id"], b["id"]]
    assert ids(ecommerce_store_name="eu", ecommerce_order_id="1") == [a["id"]]
    assert ids(order_no="B") == [b["id"]] and ids(location_id=east) == [b["id"]] and ids(status="PENDING") == [b["id"]]
    assert ids(ecommerce_order_type="wooCommerce") == [] and ids(ids=[b["id"]]) == [b["id"]]
    assert ids(customer_id=_customer_id(katana)) == [a["id"], b["id"]]
    katana.ignore_filter("sales_orders", "ecommerce_store_name")
    assert ids(ecommerce_store_name="eu") == [a["id"], b["id"]]


def test_shipping_fee_and_addresses(api, katana):
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana)).json()
    tax = katana.add_tax_rate(9, "VAT 9%")
    fee = api.post(_url(katana, "/sales_order_shipping_fee"),
                   json={"sales_order_id": so["id"], "amount": "4.95", "description": "Flat rate",
                         "tax_rate_id": tax["id"]})
    assert fee.status_code == 200 and fee.json()["amount"] == "4.9500000000"
    again = _error(api.post(_url(katana, "/sales_order_shipping_fee"),
                            json={"sales_order_id": so["id"], "amount": "4.95"}), 422)
    assert again["details"][0]["code"] == "unique"
    with unchecked():
        _error(api.post(_url(katana, "/sales_order_shipping_fee"), json={"sales_order_id": so["id"], "amount": 4.95}),
               422)
    assert api.get(_url(katana, f"/sales_orders/{so['id']}")).json()["shipping_fee"]["description"] == "Flat rate"
    fees = api.get(_url(katana, "/sales_order_shipping_fee"), params={"sales_order_id": so["id"]}).json()["data"]
    assert len(fees) == 1
    addr = api.post(_url(katana, "/sales_order_addresses"),
                    json={"sales_order_id": so["id"], "entity_type": "shipping", "city": "Tartu"})
    assert addr.status_code == 200 and addr.json()["city"] == "Tartu"
    listed = api.get(_url(katana, "/sales_order_addresses"), params={"sales_order_ids": so["id"]}).json()["data"]
    assert [a["id"] for a in listed] == [addr.json()["id"]]
    assert api.get(_url(katana, f"/sales_orders/{so['id']}")).json()["shipping_address_id"] == addr.json()["id"]


# --- customers and tax rates -----------------------------------------------------------------

def test_customers_create_and_find(api, katana):
    created = api.post(_url(katana, "/customers"), json={
        "name": "Max Mustermann", "email": "max@example.com", "reference_id": "woo:shop-eu:9", "currency": "EUR",
        "addresses": [{"entity_type": "billing", "line_1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}]})
    assert created.status_code == 200
    c = created.json()
    assert c["currency"] == "EUR" and c["default_billing_id"] == c["addresses"][0]["id"]
    assert c["default_shipping_id"] is None

    def names(**params):
        return [x["name"] for x in api.get(_url(katana, "/customers"), params=params).json()["data"]]
    assert names(email="max@example.com") == ["Max Mustermann"]
    assert names(email="MAX@example.com") == [] and names(reference_id="woo:shop-eu:7") == ["Jane Doe"]
    assert names(name="Jane Doe") == ["Jane Doe"] and len(names()) == 2 and names(ids=[c["id"]]) == ["Max Mustermann"]
    with unchecked():
        err = _error(api.post(_url(katana, "/customers"), json={"email": "x@example.com", "reference": "1"}), 422)
    assert {d["code"] for d in err["details"]} == {"required", "additionalProperties"}


def test_tax_rates_create_and_find(api, katana):
    created = api.post(_url(katana, "/tax_rates"), json={"rate": 8.875, "name": "NY sales tax"}).json()
    assert created["rate"] == 8.875 and created["display_name"] == "NY sales tax"
    unnamed = api.post(_url(katana, "/tax_rates"), json={"rate": 0}).json()
    assert unnamed["name"] == "0%"
    assert [t["id"] for t in api.get(_url(katana, "/tax_rates"), params={"rate": "8.875"}).json()["data"]] == [
        created["id"]]
    assert [t["name"] for t in api.get(_url(katana, "/tax_rates"), params={"rate": 20}).json()["data"]] == ["VAT 20%"]
    with unchecked():
        assert _error(api.post(_url(katana, "/tax_rates"), json={"rate": 1000}), 422)["details"][0]["code"] == "maximum"
        assert _error(api.post(_url(katana, "/tax_rates"), json={"rate": -1}), 422)["details"][0]["code"] == "minimum"
        assert _error(api.post(_url(katana, "/tax_rates"), json={"name": "x"}), 422)["details"][0]["code"] == "required"


def test_malformed_json_is_400(api, katana):
    with unchecked():
        r = api.post(_url(katana, "/tax_rates"), data=b"{not json", headers={"Content-Type": "application/json"})
    assert _error(r, 400)["name"] == "BadRequestError"


# --- rate limit ------------------------------------------------------------------------------

def test_rate_limit_429_with_retry_after_and_headers_on_a_scaled_clock(schema):
    with KatanaEmulator(rate=3, time_scale=0.005) as k:   # 3 requests per 0.3 s
        k.add_location("Main")
        with _session(k, schema) as s:
            answers = [s.get(_url(k, "/locations")) for _ in range(4)]
            assert [r.status_code for r in answers] == [200, 200, 200, 429]
            assert [r.headers["X-Ratelimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
            assert all(r.headers["X-Ratelimit-Limit"] == "3" for r in answers)
            reset_ms = int(answers[3].headers["X-Ratelimit-Reset"])
            assert abs(reset_ms / 1000 - time.time()) < 1
            assert answers[3].json() == {"error": {"statusCode": 429, "name": "TooManyRequests",
                                                   "message": "Too Many Requests"}}
            retry_after = float(answers[3].headers["Retry-After"])
            assert 0 < retry_after <= 0.3 and "." in answers[3].headers["Retry-After"]
            time.sleep(retry_after + 0.01)
            assert s.get(_url(k, "/locations")).status_code == 200
        # admin calls are neither counted nor limited
        for _ in range(5):
            assert requests.get(k.url + "/__sandbox__/katana/locations").status_code == 200


@pytest.mark.parametrize("window", ["sliding", "fixed"])
def test_rate_limit_windows_on_an_injected_clock(schema, window):
    now = [1_000_000.0]
    with KatanaEmulator(rate=2, period=60, window=window, clock=lambda: now[0]) as k:
        with _session(k, schema) as s:
            get = lambda: s.get(_url(k, "/factory"))   # noqa: E731
            assert get().status_code == 200
            now[0] += 30
            assert get().status_code == 200
            blocked = get()
            assert blocked.status_code == 429
            assert blocked.headers["Retry-After"] == "30"   # both readings: the first slot frees at +60
            assert blocked.headers["X-Ratelimit-Reset"] == str(int((1_000_000 + 60) * 1000))
            now[0] += 30
            assert get().status_code == 200
            # sliding: the +30 request still holds its slot; fixed: a fresh window started at +60
            assert get().status_code == (429 if window == "sliding" else 200)


def test_rate_limit_is_per_key_and_can_be_off(schema):
    with KatanaEmulator(rate=None) as k:
        with _session(k, schema) as s:
            r = s.get(_url(k, "/factory"))
            assert r.status_code == 200 and "X-Ratelimit-Limit" not in r.headers


def test_401_does_not_use_up_the_quota(schema):
    with KatanaEmulator(rate=1, period=60) as k:
        with _session(k, schema, key="wrong") as bad:
            assert bad.get(_url(k, "/factory")).status_code == 401
        with _session(k, schema) as s:
            assert s.get(_url(k, "/factory")).status_code == 200
            assert s.get(_url(k, "/factory")).status_code == 429


# --- admin over HTTP, concurrency --------------------------------------------------------------

def test_http_admin_routes(api, katana):
    admin = katana.url + "/__sandbox__/katana"
    seeded = requests.post(admin + "/seed", json={"locations": [{"name": "West DC"}],
                                                  "variants": [{"sku": "CAP", "sales_price": 9}],
                                                  "stock": [{"sku": "CAP", "location": "West DC", "quantity": 6}]})
    assert seeded.status_code == 200
    assert requests.put(admin + "/stock", json={"sku": "CAP", "location": "Main Warehouse", "quantity": 2}).status_code == 204
    inv = requests.get(admin + "/inventory", params={"sku": "CAP", "location": "West DC"}).json()
    assert inv == {"in_stock": "6", "committed": "0", "expected": "0", "available": "6"}
    assert katana.inventory_of("CAP", "Main Warehouse")["in_stock"] == Decimal(2)
    so = api.post(_url(katana, "/sales_orders"), json=_so_body(katana)).json()
    delivered = requests.post(f"{admin}/sales_orders/{so['id']}/deliver")
    assert delivered.status_code == 200 and delivered.json()["status"] == "DELIVERED"
    assert requests.delete(f"{admin}/sales_orders/{so['id']}").status_code == 204
    assert requests.delete(f"{admin}/sales_orders/{so['id']}").status_code == 404
    assert requests.delete(admin + "/locations/West DC").json()["deleted_at"]
    assert requests.delete(admin + "/locations/Nowhere").status_code == 404
    assert requests.put(admin + "/factory", json={"default_sales_location_id": katana.location_id("East Coast DC")}
                        ).status_code == 204
    assert api.get(_url(katana, "/factory")).json()["default_sales_location_id"] == katana.location_id("East Coast DC")
    assert requests.post(admin + "/seed", json={"variants": [{"sku": "CAP"}]}).status_code == 400   # duplicate SKU
    assert [a["id"] for a in requests.get(admin + "/stock_adjustments").json()] == []
    assert len(requests.get(admin + "/sales_orders").json()) == 1


def test_concurrent_orders_keep_the_books_straight(katana, schema):
    body = _so_body(katana)
    ids: list[int] = []

    def worker():
        with _session(katana, schema) as s:
            for _ in range(5):
                ids.append(s.post(_url(katana, "/sales_orders"), json=body).json()["id"])
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 20
    assert katana.inventory_of("MUG", "Main Warehouse")["committed"] == Decimal(60)


# --- the emulator's request DTOs are the gateway's -------------------------------------------

_DROP = {"title", "description", "deprecated", "example", "examples"}
# Deliberate differences, each explained in `_katana_validate`.
_DEVIATIONS = {("CreateStockAdjustmentDto", ("properties", "stock_adjustment_rows", "minItems")): 1}


def _normalise(node, components):
    if isinstance(node, dict):
        if "$ref" in node:
            return _normalise(components[node["$ref"].rsplit("/", 1)[-1]], components)
        return {k: _normalise(v, components) for k, v in node.items()
                if not (k in _DROP and not isinstance(v, dict)) and k not in ("example", "examples")}
    if isinstance(node, list):
        return [_normalise(v, components) for v in node]
    return node


def _without(schema, path):
    node = schema
    for part in path[:-1]:
        node = node[part]
    node.pop(path[-1])
    return schema


@pytest.fixture(scope="module")
def gateway_schemas():
    path = require_shared("specs", "katana-upstream-live-gateway.yaml")
    gateway = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return gateway["components"]["schemas"]


@pytest.mark.parametrize("name", sorted(DTOS))
def test_request_dtos_equal_the_live_gateway(name, gateway_schemas):
    components = gateway_schemas
    theirs = _normalise(components[name], components)
    ours = json.loads(json.dumps(DTOS[name]))
    for (dto, path), value in _DEVIATIONS.items():
        if dto == name:
            node = ours
            for part in path[:-1]:
                node = node[part]
            assert node[path[-1]] == value
            _without(ours, path)
    assert ours == theirs


def test_the_spec_check_catches_a_bad_answer(schema):
    if schema is None:
        pytest.skip("../shared is absent: the spec check is not in use")
    inventory = schema.response_spec("GET", "/inventory", 200)["content"]["application/json"]["schema"]
    with pytest.raises(AssertionError, match="does not match the spec"):
        schema.validate({"$ref": "urn:katana-openapi#/" + inventory["$ref"].lstrip("#/")},
                        {"data": [{"variant_id": 1, "location_id": 1, "quantity_in_stock": 7}]}, "bad inventory")
    with pytest.raises(AssertionError, match="does not match the spec"):   # a typed Ajv code needs its info
        schema.validate({"$ref": "urn:katana-openapi#/components/schemas/DetailedErrorResponse"},
                        {"statusCode": 422, "name": "x", "message": "m", "code": "VALIDATION_FAILED",
                         "details": [{"path": ".a", "code": "additionalProperties", "message": "m"}]}, "bad 422")
