"""The catalogue of the WooCommerce emulator: products, variations and their stock.

Used by `_woo_orders` (stock moves), `_woo_rest` (the REST handlers) and `woo_emulator` (the Python
admin API). The rules are WooCommerce's, as read in 10.0.2 and seen in the recorded cassettes:
* a variation's `manage_stock` reads `"parent"` when it does not manage stock but its parent does;
  its quantity is then the parent's and stock moves go to the parent (`get_stock_managed_by_id`);
* `stock_quantity` is silently dropped on a save while `manage_stock` is off (saved as '' and read as
  null), unless the same request turns management on;
* with management on, the stock status follows the quantity (> 0 instock, else onbackorder when
  backorders are allowed, else outofstock); a variable parent that does not manage stock shows the
  best status of its children; a parent-managed variation shows its parent's status;
* SKUs are unique across products and variations (trash excluded) and, like every SKU lookup of a
  real store (MySQL's case-insensitive collation), compared without regard to case; a clash is
  `product_invalid_sku` with the owner's id and a suggested unique SKU, and no id is consumed;
* a variation without its own SKU shows its parent's SKU when read in view context
  (`WC_Product_Variation::get_sku('view')`), while SKU lookups (the `wc_product_meta_lookup` table)
  only know its own empty SKU.

Lookups are indexed, as the store's database is: by id (`products`, in id order since ids only
grow), by lower-cased SKU and by slug. Every change of a product's SKU or slug, and every insert or
removal, goes through `_add`/`_remove`/`_set_sku`/`_set_slug` so the indexes cannot go stale; a
catalogue of 10,000 SKUs then seeds in seconds instead of minutes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ._woo_model import (Product, StoreContext, WooError, dec, php_int, product_changed, sanitize_title,
                         to_bool)

PRODUCT_TYPES = ("simple", "grouped", "external", "variable")


def stock_status_for(quantity: int | None, backorders: str) -> str:
    if int(quantity or 0) > 0:   # woocommerce_notify_no_stock_amount defaults to 0
        return "instock"
    return "onbackorder" if backorders in ("yes", "notify") else "outofstock"


class Catalog:
    def __init__(self, ctx: StoreContext):
        self.ctx = ctx
        self.products: dict[int, Product] = {}     # read-only outside this class: writes go through _add
        self._skus: dict[str, set[int]] = {}       # lower-cased own SKU -> ids (trash too: filtered on read)
        self._slugs: dict[str, set[int]] = {}      # slug -> ids of non-variation products

    # --- indexes -------------------------------------------------------------------------------

    def _add(self, product: Product) -> None:
        product_changed()
        self.products[product.id] = product
        self._index(self._skus, product.sku.lower(), product.id)
        if product.type != "variation":
            self._index(self._slugs, product.slug, product.id)

    def _remove(self, product: Product) -> None:
        product_changed()
        self.products.pop(product.id, None)
        self._unindex(self._skus, product.sku.lower(), product.id)
        self._unindex(self._slugs, product.slug, product.id)

    def _set_sku(self, product: Product, sku: str) -> None:
        if product.id in self.products:
            self._unindex(self._skus, product.sku.lower(), product.id)
            self._index(self._skus, sku.lower(), product.id)
        product.sku = sku

    def _set_slug(self, product: Product, slug: str) -> None:
        if product.id in self.products and product.type != "variation":
            self._unindex(self._slugs, product.slug, product.id)
            self._index(self._slugs, slug, product.id)
        product.slug = slug

    @staticmethod
    def _index(index: dict[str, set[int]], key: str, product_id: int) -> None:
        if key:
            index.setdefault(key, set()).add(product_id)

    @staticmethod
    def _unindex(index: dict[str, set[int]], key: str, product_id: int) -> None:
        ids = index.get(key)
        if ids is not None:
            ids.discard(product_id)
            if not ids:
                del index[key]

    # --- lookups -------------------------------------------------------------------------------

    def get(self, product_id: Any) -> Product | None:
        try:
            return self.products.get(int(product_id))
        except (TypeError, ValueError):
            return None

    def by_sku(self, sku: str) -> Product | None:
        """SKUs compare as MySQL's default collation does: case-insensitively (trash excluded).
        Only a product's own SKU counts: a variation inheriting its parent's is not found by it."""
        if not sku:
            return None
        live = [self.products[i] for i in self._skus.get(sku.lower(), ()) if self.products[i].status != "trash"]
        return min(live, key=lambda p: p.id) if live else None

    def by_skus(self, skus: set[str]) -> list[Product]:
        """Every product or variation whose own SKU is one of `skus` (lower-cased), any status."""
        ids = {i for sku in skus for i in self._skus.get(sku, ())}
        return [self.products[i] for i in sorted(ids)]

    def view_sku(self, product: Product) -> str:
        """`get_sku()` in view context: an empty variation SKU inherits the parent's."""
        if product.sku or product.type != "variation":
            return product.sku
        parent = self.parent_of(product)
        return parent.sku if parent is not None else ""

    def resolve(self, sku_or_id: Any) -> Product:
        """For the admin API: an int (or digit string that is no SKU) is an id, anything else a SKU."""
        if isinstance(sku_or_id, str):
            product = self.by_sku(sku_or_id)
            if product is None and sku_or_id.isdigit():
                product = self.get(sku_or_id)
        else:
            product = self.get(sku_or_id)
        if product is None:
            raise KeyError(f"no product with SKU or id {sku_or_id!r}")
        return product

    def children(self, parent: Product) -> list[Product]:
        return [self.products[c] for c in parent.children if c in self.products]

    def parent_of(self, product: Product) -> Product | None:
        return self.get(product.parent_id) if product.type == "variation" else None

    # --- derived stock -------------------------------------------------------------------------

    def managing_stock(self, product: Product) -> bool | str:
        if product.manage_stock:
            return True
        parent = self.parent_of(product)
        if parent is not None and parent.manage_stock:
            return "parent"
        return False

    def stock_owner(self, product: Product) -> Product | None:
        managed = self.managing_stock(product)
        if managed is True:
            return product
        if managed == "parent":
            return self.parent_of(product)
        return None

    def quantity(self, product: Product) -> int | None:
        owner = self.stock_owner(product)
        return None if owner is None else owner.stock_quantity

    def backorders(self, product: Product) -> str:
        owner = self.stock_owner(product)
        return owner.backorders if owner is not None else product.backorders

    def stock_status(self, product: Product) -> str:
        owner = self.stock_owner(product)
        if owner is not None:
            return stock_status_for(owner.stock_quantity, owner.backorders)
        if product.type == "variable":
            statuses = [self.stock_status(c) for c in self.children(product) if c.status == "publish"]
            for status in ("instock", "onbackorder", "outofstock"):
                if status in statuses:
                    return status
        return product.stock_status

    def set_quantity(self, owner: Product, quantity: int, at: datetime | None = None) -> None:
        """wc_update_product_stock(): the owner's level changes and the owner is saved (modified)."""
        owner.stock_quantity = int(quantity)
        owner.modified = at or self.ctx.now()

    # --- prices and names ----------------------------------------------------------------------

    def price(self, product: Product) -> str:
        if product.type == "variable":
            prices = [self.price(c) for c in self.children(product) if c.status == "publish"]
            prices = [p for p in prices if p != ""]
            return min(prices, key=dec) if prices else ""
        if product.sale_price != "" and dec(product.sale_price) < dec(product.regular_price):
            return product.sale_price
        return product.regular_price

    def price_range(self, product: Product) -> tuple[str, str] | None:
        prices = [self.price(c) for c in self.children(product) if c.status == "publish"]
        prices = [p for p in prices if p != ""]
        if not prices:
            return None
        return min(prices, key=dec), max(prices, key=dec)

    def purchasable(self, product: Product) -> bool:
        if product.type == "variable":
            return any(self.purchasable(c) for c in self.children(product))
        return self.price(product) != "" and product.status != "trash"

    def options(self, variation: Product) -> list[str]:
        return [option for _, _, option in variation.variation_attributes if option]

    def display_name(self, product: Product) -> str:
        """What /products and order lines call it: 'T-Shirt - S' for a variation."""
        parent = self.parent_of(product)
        if product.type != "variation" or parent is None:
            return product.name
        options = self.options(product)
        return f"{parent.name} - {', '.join(options)}" if options else parent.name

    def formatted_name(self, product: Product) -> str:
        """WC_Product::get_formatted_name(), as stock notes show it (the SKU read in view context)."""
        identifier = self.view_sku(product) or f"#{product.id}"
        if product.type == "variation":
            return f'{self.display_name(product)} ({identifier})<span class="description"></span>'
        return f"{product.name} ({identifier})"

    # --- writes --------------------------------------------------------------------------------

    def check_sku(self, sku: str, owner_id: int | None) -> None:
        clash = self.by_sku(sku)
        if clash is not None and clash.id != owner_id:
            raise WooError("product_invalid_sku", "Invalid or duplicated SKU.", 400,
                           resource_id=clash.id, unique_sku=self._unique_sku(sku))

    def _unique_sku(self, sku: str) -> str:
        n = 1
        while self.by_sku(f"{sku}-{n}") is not None:
            n += 1
        return f"{sku}-{n}"

    def _unique_slug(self, slug: str, owner_id: int | None) -> str:
        """wp_unique_post_slug(): the slug, else slug-2, slug-3, ... (variations are not counted)."""
        def taken(candidate: str) -> bool:
            return bool(self._slugs.get(candidate, set()) - {owner_id})
        if not taken(slug):
            return slug
        n = 2
        while taken(f"{slug}-{n}"):
            n += 1
        return f"{slug}-{n}"

    def create_product(self, data: dict[str, Any]) -> Product:
        """POST /products after argument validation (defaults already merged by the caller)."""
        sku = str(data.get("sku") or "").strip()
        self.check_sku(sku, None)   # before the id is taken: a refused SKU creates nothing
        now = self.ctx.now()
        product_type = data.get("type") or "simple"
        product = Product(id=self.ctx.next_id(), type=product_type if product_type in PRODUCT_TYPES else "simple",
                          name=str(data.get("name") or ""), slug="", created=now, modified=now)
        self.apply(product, data, creating=True)
        self._add(product)
        return product

    def create_variation(self, parent: Product, data: dict[str, Any]) -> Product:
        sku = str(data.get("sku") or "").strip()
        self.check_sku(sku, None)
        now = self.ctx.now()
        variation = Product(id=self.ctx.next_id(), type="variation", name="", slug="", created=now, modified=now,
                            parent_id=parent.id, tax_class="parent")
        self.apply(variation, data, creating=True)
        self._add(variation)
        parent.children.append(variation.id)
        parent.modified = now   # saving a variation syncs and saves its parent
        return variation

    def apply(self, product: Product, data: dict[str, Any], *, creating: bool) -> None:
        """prepare_object_for_database(): the fields a request may set, in WooCommerce's order."""
        now = self.ctx.now()
        if "sku" in data and not creating:
            sku = str(data.get("sku") or "").strip()
            self.check_sku(sku, product.id)
        if "sku" in data:
            self._set_sku(product, str(data.get("sku") or "").strip())
        if product.type != "variation":
            if "type" in data and data["type"] in PRODUCT_TYPES:
                product.type = data["type"]
            if "name" in data:
                product.name = str(data["name"] or "")
            if "slug" in data and data["slug"]:
                self._set_slug(product, self._unique_slug(sanitize_title(str(data["slug"])), product.id))
            elif creating or not product.slug:
                self._set_slug(product, self._unique_slug(sanitize_title(product.name) or str(product.id), product.id))
            for key in ("featured", "virtual", "downloadable"):
                if key in data:
                    setattr(product, key, to_bool(data[key]))
            for key in ("catalog_visibility", "short_description"):
                if key in data:
                    setattr(product, key, str(data[key]))
            if "attributes" in data and isinstance(data["attributes"], list):
                product.attributes = [_attribute_row(a, i) for i, a in enumerate(data["attributes"])
                                      if isinstance(a, dict) and a.get("name")]
        else:
            if "attributes" in data and isinstance(data["attributes"], list):
                product.variation_attributes = self._variation_attributes(product, data["attributes"])
            self._set_slug(product, sanitize_title(self.display_name(product)))
        if "status" in data and data["status"]:
            product.status = str(data["status"])
        for key in ("description", "tax_status", "tax_class", "weight"):
            if key in data and data[key] is not None:
                setattr(product, key, str(data[key]))
        if "menu_order" in data and data["menu_order"]:
            product.menu_order = php_int(data["menu_order"])
        if isinstance(data.get("dimensions"), dict):
            product.dimensions.update({k: str(v) for k, v in data["dimensions"].items() if k in product.dimensions})
        if isinstance(data.get("meta_data"), list):
            self._update_meta(product.meta_data, data["meta_data"])
        self._apply_stock(product, data)
        for key in ("regular_price", "sale_price"):
            if key in data and data[key] is not None:
                setattr(product, key, str(data[key]))
        product.modified = now
        parent = self.parent_of(product)
        if parent is not None and not creating:
            parent.modified = now

    def _apply_stock(self, product: Product, data: dict[str, Any]) -> None:
        if "manage_stock" in data and product.type not in ("grouped", "external"):
            product.manage_stock = to_bool(data["manage_stock"])
        if "stock_status" in data and data["stock_status"]:
            product.stock_status = str(data["stock_status"])
        if "backorders" in data and data["backorders"]:
            product.backorders = str(data["backorders"])
        if product.manage_stock:
            if data.get("stock_quantity") is not None:
                product.stock_quantity = php_int(data["stock_quantity"])
            elif data.get("inventory_delta") is not None:
                product.stock_quantity = int(product.stock_quantity or 0) + php_int(data["inventory_delta"])
            if "low_stock_amount" in data:
                value = data["low_stock_amount"]
                product.low_stock_amount = None if value in (None, "") else php_int(value)
        else:
            # The documented trap: the quantity is silently discarded (saved as '', read as null).
            product.backorders = "no"
            product.stock_quantity = None
            product.low_stock_amount = None

    def _variation_attributes(self, variation: Product, rows: list[Any]) -> list[tuple[str, str, str]]:
        parent = self.parent_of(variation)
        if parent is None:
            raise WooError("woocommerce_rest_product_variation_invalid_parent",
                           "Cannot set attributes due to invalid parent product.", 404)
        by_key = {sanitize_title(a["name"]): a for a in parent.attributes}
        chosen: list[tuple[str, str, str]] = []
        for row in rows:
            if not isinstance(row, dict) or not row.get("name"):
                continue   # global (pa_) attributes by id are not emulated
            attribute = by_key.get(sanitize_title(str(row["name"])))
            if attribute is None or not attribute.get("variation"):
                continue
            chosen.append((attribute["name"], sanitize_title(attribute["name"]), str(row.get("option") or "")))
        return chosen

    def _update_meta(self, meta: list[dict[str, Any]], rows: list[Any]) -> None:
        for row in rows:
            if not isinstance(row, dict) or "key" not in row:
                continue
            for existing in meta:
                if existing["key"] == row["key"]:
                    existing["value"] = row.get("value")
                    break
            else:
                meta.append({"id": self.ctx.next_meta_id(), "key": str(row["key"]), "value": row.get("value")})

    def delete(self, product: Product, *, force: bool) -> None:
        """force: gone for good (a variable parent takes its variations along); else trashed."""
        now = self.ctx.now()
        if not force:
            product.trashed_from, product.status, product.modified = product.status, "trash", now
            return
        for child in self.children(product):
            self._remove(child)
        self._remove(product)
        parent = self.parent_of(product) or self.get(product.parent_id)
        if parent is not None and product.id in parent.children:
            parent.children.remove(product.id)
            parent.modified = now

    def related_ids(self, product: Product) -> list[int]:
        """Up to 5 other published products of the same category (all are 'Uncategorized' here),
        highest ids first. The real store shuffles them; the emulator keeps a stable order. Walks the
        id-ordered table from the end, so it costs a few steps, not a scan of the catalogue."""
        if product.type == "variation":
            return []
        out: list[int] = []
        for other in reversed(self.products.values()):
            if other.id != product.id and other.type != "variation" and other.status == "publish":
                out.append(other.id)
                if len(out) == 5:
                    break
        return out


def _attribute_row(row: dict[str, Any], position: int) -> dict[str, Any]:
    options = row.get("options") or []
    if isinstance(options, str):
        options = [o.strip() for o in options.split("|") if o.strip()]
    return {"id": 0, "name": str(row["name"]), "slug": str(row["name"]),
            "position": php_int(row.get("position", position) or 0), "visible": to_bool(row.get("visible", False)),
            "variation": to_bool(row.get("variation", False)), "options": [str(o) for o in options]}

