"""The demo dataset: two Katana locations, three WooCommerce stores, ~50 SKUs and orders in every status.

Loaded by `sandbox.start(dataset="demo")` (so by `katana-woo demo` and `katana-woo sandbox up`)
through `load_demo(sandbox)`. It matches `configs/demo.yaml`: shop-eu and shop-outlet map to
"Main Warehouse", shop-us to "East Coast DC" (the default sales location is Main Warehouse).
Everything is deterministic: no randomness, and order dates are fixed offsets from `now`
(`DEMO_NOW` unless given), so a run of the demo reads the same every time.

The cases a connector must handle are all in it:
- variable products (t-shirts, hoodies, socks) whose variations carry the SKUs, one variation
  (`PARENT_STOCK_SKU`) keeping its stock on the parent (manage_stock "parent");
- a product that does not manage stock (`NO_STOCK_SKU`) and one without any SKU (shop-outlet);
- a WooCommerce SKU Katana does not know (`UNKNOWN_SKU`, shop-us): its order must be held;
- orders in processing, on-hold, pending, completed and cancelled, with and without tax,
  coupon and shipping; one customer whose e-mail Katana already knows;
- Katana-only variants and a wholesale sales order already committing stock at Main Warehouse.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

DEMO_NOW = datetime(2025, 6, 2, 12, 0, tzinfo=timezone.utc)
MAIN, EAST = "Main Warehouse", "East Coast DC"
DEMO_STORES = {"shop-eu": MAIN, "shop-us": EAST, "shop-outlet": MAIN}
UNKNOWN_SKU = "GIFTCARD-25"             # in shop-us only, no Katana variant
NO_STOCK_SKU = "SERVICE-GIFTWRAP"       # manage_stock false in the stores
PARENT_STOCK_SKU = "TSHIRT-CLASSIC-XL"  # a variation whose stock is its parent's
NO_SKU_PRODUCT = "Mystery Sticker Bag"  # shop-outlet, no SKU at all
KATANA_ONLY_SKUS = ("WHOLESALE-BOX-10", "SAMPLE-KIT")

SIMPLE: list[tuple[str, str, str]] = [
    ("MUG-CLASSIC", "Classic Mug", "12.00"), ("MUG-TRAVEL", "Travel Mug", "18.50"),
    ("MUG-ESPRESSO", "Espresso Cup", "8.00"), ("BOTTLE-500", "Steel Bottle 500 ml", "22.00"),
    ("BOTTLE-750", "Steel Bottle 750 ml", "26.00"), ("CAP-BLACK", "Baseball Cap, Black", "15.00"),
    ("CAP-NAVY", "Baseball Cap, Navy", "15.00"), ("BEANIE-GREY", "Knit Beanie, Grey", "14.00"),
    ("TOTE-CANVAS", "Canvas Tote", "16.00"), ("TOTE-JUTE", "Jute Tote", "13.00"),
    ("NOTEBOOK-A5", "Notebook A5", "9.50"), ("NOTEBOOK-A4", "Notebook A4", "12.50"),
    ("PEN-GEL-BLK", "Gel Pen, Black", "2.50"), ("PEN-GEL-BLU", "Gel Pen, Blue", "2.50"),
    ("STICKER-PACK", "Sticker Pack", "4.00"), ("POSTER-A2", "Poster A2", "19.00"),
    ("SOCKS-STRIPE", "Striped Socks", "9.00"), ("KEYCHAIN-LOGO", "Logo Keychain", "5.00"),
    ("CANDLE-CEDAR", "Cedar Candle", "21.00"), ("CANDLE-VANILLA", "Vanilla Candle", "21.00"),
    ("APRON-DENIM", "Denim Apron", "32.00"), ("UMBRELLA-COMPACT", "Compact Umbrella", "24.00"),
    ("LANYARD-RED", "Lanyard, Red", "3.50"), ("PIN-ENAMEL", "Enamel Pin", "6.00"),
    ("COASTER-CORK", "Cork Coaster Set", "11.00"), ("JOURNAL-LEATHER", "Leather Journal", "34.00"),
    ("PLANNER-WEEKLY", "Weekly Planner", "17.00"), ("BAG-BACKPACK", "Rolltop Backpack", "79.00"),
    ("PATCH-IRON", "Iron-on Patch", "4.50"), ("MAGNET-FRIDGE", "Fridge Magnet", "3.00"),
    ("PUZZLE-500", "Puzzle, 500 pieces", "23.00"), ("GLASS-PINT", "Pint Glass", "9.00"),
]

# (parent SKU, name, attribute, [(variation SKU, option, price)], parent stock or None)
VARIABLE: list[tuple[str, str, str, list[tuple[str, str, str]], int | None]] = [
    ("TSHIRT-CLASSIC", "Classic T-shirt", "Size",
     [("TSHIRT-CLASSIC-S", "S", "19.90"), ("TSHIRT-CLASSIC-M", "M", "19.90"), ("TSHIRT-CLASSIC-L", "L", "19.90"),
      (PARENT_STOCK_SKU, "XL", "21.90")], 12),
    ("HOODIE-ZIP", "Zip Hoodie", "Size",
     [("HOODIE-ZIP-S", "S", "49.00"), ("HOODIE-ZIP-M", "M", "49.00"), ("HOODIE-ZIP-L", "L", "49.00")], None),
    ("TSHIRT-VNECK", "V-neck T-shirt", "Colour",
     [("TSHIRT-VNECK-BLK", "Black", "21.00"), ("TSHIRT-VNECK-WHT", "White", "21.00")], None),
    ("SOCKS-WOOL", "Wool Socks", "Size",
     [("SOCKS-WOOL-3640", "36-40", "12.00"), ("SOCKS-WOOL-4145", "41-45", "12.00")], None),
]

OUTLET_SIMPLE = [sku for sku, _, _ in SIMPLE[:12]]

_PEOPLE = {
    "anna": {"first_name": "Anna", "last_name": "Schmidt", "address_1": "Torstraße 12", "city": "Berlin",
             "postcode": "10119", "country": "DE", "email": "anna.schmidt@example.de", "phone": "+49 30 1234567"},
    "luca": {"first_name": "Luca", "last_name": "Rossi", "address_1": "Via Roma 5", "city": "Milano",
             "postcode": "20121", "country": "IT", "email": "luca.rossi@example.it", "phone": ""},
    "jane": {"first_name": "Jane", "last_name": "Doe", "address_1": "350 Fifth Avenue", "city": "New York",
             "state": "NY", "postcode": "10118", "country": "US", "email": "jane.doe@example.com",
             "phone": "+1 212 555 0100"},
    "omar": {"first_name": "Omar", "last_name": "Haddad", "company": "Haddad Design", "address_1": "1 Main St",
             "city": "Boston", "state": "MA", "postcode": "02108", "country": "US", "email": "omar@example.com",
             "phone": ""},
    "mia": {"first_name": "Mia", "last_name": "Virtanen", "address_1": "Mannerheimintie 3", "city": "Helsinki",
            "postcode": "00100", "country": "FI", "email": "mia.virtanen@example.fi", "phone": ""},
}

# store -> [(lines, status, person, hours before now, extra place_order kwargs)]
ORDERS: dict[str, list[tuple[list[tuple[Any, int]], str, str, float, dict[str, Any]]]] = {
    "shop-eu": [
        ([("MUG-CLASSIC", 2), ("TSHIRT-CLASSIC-M", 1)], "processing", "anna", 3,
         {"currency": "EUR", "prices_include_tax": True, "tax_percent": "19"}),
        ([("HOODIE-ZIP-L", 1), (NO_STOCK_SKU, 1)], "processing", "luca", 2,
         {"currency": "EUR", "coupon_amount": "5.00", "shipping_total": "4.90"}),
        ([(PARENT_STOCK_SKU, 2), ("SOCKS-WOOL-4145", 1)], "processing", "mia", 1, {"currency": "EUR"}),
        ([("NOTEBOOK-A5", 3)], "on-hold", "anna", 26, {"currency": "EUR"}),
        ([("CANDLE-CEDAR", 2)], "pending", "luca", 0.5, {"currency": "EUR"}),
        ([("CAP-BLACK", 1)], "completed", "mia", 120, {"currency": "EUR"}),
        ([("POSTER-A2", 1)], "cancelled", "anna", 96, {"currency": "EUR"}),
    ],
    "shop-us": [
        ([("BOTTLE-500", 1), ("TSHIRT-VNECK-BLK", 2)], "processing", "jane", 5, {"tax_percent": "8.875"}),
        ([(UNKNOWN_SKU, 1), ("MUG-TRAVEL", 1)], "processing", "omar", 4, {}),
        ([("BAG-BACKPACK", 1), ("HOODIE-ZIP-M", 1)], "processing", "omar", 1.5, {"shipping_total": "9.99"}),
        ([("UMBRELLA-COMPACT", 1)], "on-hold", "jane", 30, {}),
        ([("PUZZLE-500", 2)], "pending", "omar", 0.25, {}),
        ([("GLASS-PINT", 4)], "completed", "jane", 200, {}),
        ([("JOURNAL-LEATHER", 1)], "cancelled", "omar", 150, {}),
    ],
    "shop-outlet": [
        ([("TSHIRT-CLASSIC-S", 1), ("MUG-ESPRESSO", 2)], "processing", "mia", 6, {"currency": "EUR"}),
        ([(NO_SKU_PRODUCT, 1), ("TOTE-JUTE", 1)], "processing", "luca", 2.5, {"currency": "EUR"}),
        ([("CAP-NAVY", 1)], "completed", "anna", 72, {"currency": "EUR"}),
        ([("BEANIE-GREY", 1)], "cancelled", "mia", 48, {"currency": "EUR"}),
    ],
}


def katana_skus() -> list[str]:
    """Every SKU with a Katana variant, in creation order (parents before their variations)."""
    out = [sku for sku, _, _ in SIMPLE] + [NO_STOCK_SKU]
    for parent, _, _, variations, _ in VARIABLE:
        out.append(parent)
        out.extend(sku for sku, _, _ in variations)
    return out + list(KATANA_ONLY_SKUS)


def katana_stock(index: int, sku: str) -> tuple[int, int]:
    """(Main Warehouse, East Coast DC) quantity in stock for the index-th Katana SKU."""
    if sku == NO_STOCK_SKU or any(sku == parent and stock is None for parent, _, _, _, stock in VARIABLE):
        return 0, 0   # a service, and parents whose variations hold the stock
    return (index * 7) % 37 + 8, (index * 5) % 23


def load_demo(sandbox: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """Fill a started sandbox with the demo data (adds the three stores if missing).

    Returns {"stores": {name: [woo order ids]}, "katana_sales_orders": [ids]}.
    """
    now = now or DEMO_NOW
    katana = sandbox.katana
    _load_katana(katana)
    orders: dict[str, list[int]] = {}
    for name in DEMO_STORES:
        store = sandbox.stores.get(name) or sandbox.add_store(name)
        product_ids = _load_store(store, name, katana)
        orders[name] = [_place(store, spec, now, product_ids) for spec in ORDERS[name]]
    wholesale = katana.create_sales_order({
        "order_no": "WHOLESALE-1001", "customer_id": katana.customers()[1]["id"],
        "location_id": katana.location_id(MAIN), "additional_info": "Wholesale order entered in Katana",
        "sales_order_rows": [{"variant_id": katana.variant("WHOLESALE-BOX-10")["id"], "quantity": 2},
                             {"variant_id": katana.variant("MUG-CLASSIC")["id"], "quantity": 4,
                              "price_per_unit": 8}]})
    return {"stores": orders, "katana_sales_orders": [wholesale["id"]]}


def _load_katana(katana: Any) -> None:
    main = katana.add_location(MAIN, is_primary=True, address={
        "line_1": "Peetri 7", "city": "Tallinn", "state": "Harju", "zip": "10411", "country": "EE"})
    east = katana.add_location(EAST, address={
        "line_1": "200 Harbor Dr", "city": "Newark", "state": "NJ", "zip": "07114", "country": "US"})
    katana.set_default_sales_location(main["id"])
    prices = {sku: price for sku, _, price in SIMPLE}
    names = {sku: name for sku, name, _ in SIMPLE}
    configs: dict[str, tuple[str, dict[str, str]]] = {}
    for parent, name, attribute, variations, _ in VARIABLE:
        configs[parent] = (name, {})
        for sku, option, price in variations:
            configs[sku] = (name, {attribute: option})
            prices[sku] = price
    for index, sku in enumerate(katana_skus()):
        product_name, config = configs.get(sku, (names.get(sku, sku.replace("-", " ").title()), {}))
        katana.add_variant(sku, product_name=product_name, config=config, sales_price=prices.get(sku, "3.00"))
        in_main, in_east = katana_stock(index, sku)
        katana.set_stock(sku, main["id"], in_main, average_cost="4.00")
        katana.set_stock(sku, east["id"], in_east, average_cost="4.00")
    katana.add_customer("Jane Doe", email="jane.doe@example.com", first_name="Jane", last_name="Doe",
                        currency="USD", category="Retail")
    katana.add_customer("Wholesale Partner GmbH", email="orders@partner.example", currency="EUR",
                        category="Wholesale")
    katana.add_tax_rate(19, "VAT 19%")
    katana.add_tax_rate("8.875", "NY sales tax 8.875%")


def _woo_stock(store_name: str, katana: Any, sku: str, index: int) -> int:
    """The store's own stock figure: close to Katana's, not equal everywhere, so a sync has work."""
    available = int(katana.inventory_of(sku, DEMO_STORES[store_name])["available"])
    if store_name == "shop-eu":
        return max(available - index % 3, 0)
    if store_name == "shop-us":
        return max(available + index % 2, 0)
    return max(available // 2, 0)


def _load_store(store: Any, name: str, katana: Any) -> dict[str, int]:
    """Create the store's catalogue; returns {product name: id} for products without a SKU."""
    skus = katana_skus()
    simple = SIMPLE if name != "shop-outlet" else [p for p in SIMPLE if p[0] in OUTLET_SIMPLE]
    for sku, title, price in simple:
        store.add_product(sku, title, price, stock=_woo_stock(name, katana, sku, skus.index(sku)))
    variable = VARIABLE if name != "shop-outlet" else VARIABLE[:1]
    for parent, title, attribute, variations, parent_stock in variable:
        rows = []
        for sku, option, price in variations:
            stock: Any = "parent" if sku == PARENT_STOCK_SKU else _woo_stock(name, katana, sku, skus.index(sku))
            rows.append({"sku": sku, "price": price, "stock": stock, "attributes": {attribute: option}})
        store.add_variable_product(parent, title, rows, stock=parent_stock)
    if name != "shop-outlet":
        store.add_product(NO_STOCK_SKU, "Gift wrapping", "3.00", stock=None)
    if name == "shop-us":
        store.add_product(UNKNOWN_SKU, "Gift card $25", "25.00", stock=None)
    if name == "shop-outlet":
        return {NO_SKU_PRODUCT: int(store.add_product("", NO_SKU_PRODUCT, "7.00", stock=20)["id"])}
    return {}


def _place(store: Any, spec: tuple[Any, ...], now: datetime, product_ids: dict[str, int]) -> int:
    lines, status, person, hours_ago, extra = spec
    # The SKU-less product cannot be found by SKU: its line names the product id instead.
    resolved = [(product_ids.get(sku_or_name, sku_or_name), qty) for sku_or_name, qty in lines]
    address = _PEOPLE[person]
    order = store.place_order(resolved, status=status, billing=address,
                              shipping={k: v for k, v in address.items() if k != "email"},
                              created_at=now - timedelta(hours=hours_ago), **extra)
    return int(order["id"])
