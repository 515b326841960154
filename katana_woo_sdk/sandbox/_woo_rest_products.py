"""REST handlers for /products, /products/{id}, /products/batch and the variation routes.

Registered by `woo_emulator` on a `WooHttp` (`_woo_http`); stock and SKU rules live in `_woo_catalog`,
shapes in `_woo_json`. What these handlers add, as a 10.0.2 store does (cassettes catalog_setup,
list_products_paginated, find_by_sku, list_variations, batch_stock_update):
* listings never contain variations, except with `sku=` (a comma list, exact match) which searches
  products and variations alike and returns variations in the product shape;
* writes answer in `context=edit`; POST answers 201 with `Location` (for variations WooCommerce
  leaves its route regex in it: `/products/(?P<product_id>[\\d]+)/variations/25`, kept as recorded;
  the variations' pagination links are built from the same unexpanded base);
* /products refuses variation ids on writes ("To manipulate product variations you should use the
  /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.", 404; in a batch: per item);
* batches: at most 100 items over create+update+delete (413 before anything is touched), HTTP 200
  with per-item results in request order, keys only for the operations asked; items are not
  schema-validated (WooCommerce calls the item handlers directly), creates get the schema defaults.
"""
from __future__ import annotations

from typing import Any, Callable

from ._woo_catalog import Catalog
from ._woo_http import Call, item_filter, paginate, sort_items
from ._woo_json import product_json, variation_json
from ._woo_model import Product, StoreContext, WooError, dec, product_changes
from ._woo_params import (BATCH_BODY, ITEM_QUERY, PRODUCT_BODY, PRODUCT_DEFAULTS, PRODUCT_QUERY, VARIATION_BODY,
                          VARIATION_DEFAULTS, VARIATION_QUERY, validate)

BATCH_LIMIT = 100
VARIATION_BASE = "/products/(?P<product_id>[\\d]+)/variations"   # WooCommerce's unexpanded rest_base


def _variation_in_products() -> WooError:
    return WooError("woocommerce_rest_invalid_product_id",
                    "To manipulate product variations you should use the /products/&lt;product_id&gt;/variations/"
                    "&lt;id&gt; endpoint.", 404)


def _invalid(kind: str, status: int) -> WooError:
    return WooError(f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.", status)


def _item_error(item_id: Any, error: WooError) -> dict[str, Any]:
    return {"id": item_id, "error": {"code": error.code, "message": error.message,
                                     "data": {"status": error.status, **error.data}}}


def _context(args: dict[str, Any]) -> str:
    return args.get("context") or "view"


def _sort_keys(catalog: Catalog) -> dict[str, Callable[[Product], Any]]:
    return {"date": lambda p: p.created, "modified": lambda p: p.modified, "id": lambda p: p.id,
            "title": lambda p: catalog.display_name(p).lower(), "slug": lambda p: p.slug,
            "menu_order": lambda p: (p.menu_order, catalog.display_name(p).lower()),
            "price": lambda p: dec(catalog.price(p)), "popularity": lambda p: p.total_sales, "rating": lambda p: 0}


# What only pages or renders a listing: the same matches serve every page of one walk (and what
# is not a filter at all, such as OAuth1's nonce and signature, never counts).
_PAGING = frozenset({"page", "per_page", "offset", "_fields", "context"})


class ProductHandlers:
    def __init__(self, ctx: StoreContext, catalog: Catalog):
        self.ctx, self.catalog = ctx, catalog
        # The last listing's matches, filtered and sorted, with what they were computed from: the
        # query less its paging and rendering, and the product change count at the time.
        self._listing: tuple[tuple[str, int], list[Product]] | None = None

    def routes(self) -> list[tuple[str, str, dict[str, Callable[[Call], tuple[int, Any]]]]]:
        update, vupdate = self.update, self.variation_update
        return [
            ("/products", "/products", {"GET": self.list, "POST": self.create}),
            ("/products/batch", "/products/batch", {"POST": self.batch, "PUT": self.batch, "PATCH": self.batch}),
            (r"/products/(?P<id>\d+)", "/products/{id}",
             {"GET": self.get, "POST": update, "PUT": update, "PATCH": update, "DELETE": self.delete}),
            (r"/products/(?P<product_id>\d+)/variations", "/products/{product_id}/variations",
             {"GET": self.variations, "POST": self.variation_create}),
            (r"/products/(?P<product_id>\d+)/variations/batch", "/products/{product_id}/variations/batch",
             {"POST": self.variation_batch, "PUT": self.variation_batch, "PATCH": self.variation_batch}),
            (r"/products/(?P<product_id>\d+)/variations/(?P<id>\d+)", "/products/{product_id}/variations/{id}",
             {"GET": self.variation_get, "POST": vupdate, "PUT": vupdate, "PATCH": vupdate,
              "DELETE": self.variation_delete}),
        ]

    # --- /products -----------------------------------------------------------------------------

    def list(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, PRODUCT_QUERY)
        call.permit("list")
        cat = self.catalog
        if args.get("sku"):
            # The SKU lookup table holds each item's own SKU: an indexed lookup, variations included.
            pool = cat.by_skus({s.strip().lower() for s in str(args["sku"]).split(",") if s.strip()})
        elif args.get("include"):
            pool = [p for p in (cat.get(i) for i in dict.fromkeys(args["include"]))
                    if p is not None and p.type != "variation"]
        else:
            key = (repr(sorted((k, v) for k, v in args.items() if k in PRODUCT_QUERY and k not in _PAGING)),
                   product_changes())
            if self._listing is not None and self._listing[0] == key:
                items = self._listing[1]
            else:
                pool = [p for p in cat.products.values() if p.type != "variation"]
                keep = self._filter(args)
                items = sort_items([p for p in pool if keep(p)], args, _sort_keys(cat), date_tie_by_id=False)
                self._listing = (key, items)
            context = _context(args)
            return paginate(call, args, items, lambda p: product_json(cat, p, call.base, context=context),
                            f"{call.api}/products")
        keep = self._filter(args)
        items = sort_items([p for p in pool if keep(p)], args, _sort_keys(cat), date_tie_by_id=False)
        context = _context(args)
        return paginate(call, args, items, lambda p: product_json(cat, p, call.base, context=context),
                        f"{call.api}/products")

    def _filter(self, args: dict[str, Any]) -> Callable[[Product], bool]:
        cat = self.catalog
        status = args.get("status") or "any"
        checks: list[tuple[str, Callable[[Product, Any], bool]]] = [
            ("type", lambda p, v: p.type == v), ("include", lambda p, v: p.id in v),
            ("exclude", lambda p, v: p.id not in v), ("parent", lambda p, v: p.parent_id in v),
            ("parent_exclude", lambda p, v: p.parent_id not in v), ("slug", lambda p, v: p.slug == v),
            ("search", lambda p, v: v.lower() in (cat.display_name(p) + " " + p.description).lower()),
            ("search_sku", lambda p, v: v.lower() in p.sku.lower()),   # the lookup table: own SKU only
            ("stock_status", lambda p, v: cat.stock_status(p) == v),
            ("featured", lambda p, v: p.featured == v), ("virtual", lambda p, v: p.virtual == v),
            ("downloadable", lambda p, v: p.downloadable == v),
            ("on_sale", lambda p, v: (p.sale_price != "") == v),
            ("min_price", lambda p, v: cat.price(p) != "" and dec(cat.price(p)) >= dec(v)),
            ("max_price", lambda p, v: cat.price(p) != "" and dec(cat.price(p)) <= dec(v)),
        ]
        rest = item_filter(self.ctx, args, checks, lambda p: (p.created, p.modified))

        def keep(product: Product) -> bool:
            if status == "any":
                if product.status in ("trash", "auto-draft"):
                    return False
            elif product.status != status:
                return False
            return rest(product)
        return keep

    def get(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ITEM_QUERY)
        product = self.catalog.get(call.params["id"])
        call.permit("view", exists=product is not None)
        if product is None:
            raise _invalid("product", 404)
        return 200, product_json(self.catalog, product, call.base, context=_context(args))

    def create(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, PRODUCT_BODY, defaults=PRODUCT_DEFAULTS)
        call.permit("create")
        product = self._create(data)
        call.headers["Location"] = f"{call.api}/products/{product.id}"
        return 201, product_json(self.catalog, product, call.base, context="edit")

    def _create(self, data: dict[str, Any]) -> Product:
        if data.get("id"):
            raise WooError("woocommerce_rest_product_exists", "Cannot create existing product.", 400)
        return self.catalog.create_product(data)

    def update(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, PRODUCT_BODY)
        product = self.catalog.get(call.params["id"])
        call.permit("edit", exists=product is not None)
        return 200, self._update(product, data, call)

    def _update(self, product: Product | None, data: dict[str, Any], call: Call) -> dict[str, Any]:
        if product is None:
            raise _invalid("product", 400)
        if product.type == "variation":
            raise _variation_in_products()
        self.catalog.apply(product, data, creating=False)
        return product_json(self.catalog, product, call.base, context="edit")

    def delete(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ITEM_QUERY)
        product = self.catalog.get(call.params["id"])
        call.permit("delete", exists=product is not None)
        return 200, self._delete(product, args["force"], call, variation=False)

    def _delete(self, product: Product | None, force: bool, call: Call, *, variation: bool) -> dict[str, Any]:
        kind = "product_variation" if variation else "product"
        if product is None or (variation and product.type != "variation"):
            raise _invalid(kind, 404)
        if not variation and product.type == "variation":
            raise _variation_in_products()
        render = variation_json if variation else product_json
        if force:
            before = render(self.catalog, product, call.base, context="edit")
            self.catalog.delete(product, force=True)
            return before
        if product.status == "trash":
            raise WooError("woocommerce_rest_already_trashed", f"The {kind} has already been deleted.", 410)
        self.catalog.delete(product, force=False)
        return render(self.catalog, product, call.base, context="edit")

    def batch(self, call: Call) -> tuple[int, Any]:
        def create(item: dict[str, Any]) -> dict[str, Any]:
            product = self._create({**PRODUCT_DEFAULTS, **item})
            return product_json(self.catalog, product, call.base, context="edit")

        def update(item: dict[str, Any]) -> dict[str, Any]:
            return self._update(self.catalog.get(item.get("id")), item, call)

        def delete(item_id: Any) -> dict[str, Any]:
            return self._delete(self.catalog.get(item_id), True, call, variation=False)

        return self._batch(call, create, update, delete)

    def _batch(self, call: Call, create: Callable[[dict[str, Any]], dict[str, Any]],
               update: Callable[[dict[str, Any]], dict[str, Any]],
               delete: Callable[[Any], dict[str, Any]]) -> tuple[int, Any]:
        data = validate(call.params, BATCH_BODY)
        call.permit("batch")
        if sum(len(data.get(op) or []) for op in ("create", "update", "delete")) > BATCH_LIMIT:
            raise WooError("woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {BATCH_LIMIT} items for this request.", 413)
        out: dict[str, list[Any]] = {}
        for op, run in (("create", create), ("update", update), ("delete", delete)):
            if op not in data:
                continue
            out[op] = []
            for item in data[op] or []:
                item_id = 0 if op == "create" else (item.get("id", 0) if isinstance(item, dict) else item)
                try:
                    out[op].append(run(item))
                except WooError as exc:
                    out[op].append(_item_error(item_id, exc))
        return 200, out

    # --- /products/{product_id}/variations -----------------------------------------------------

    def variations(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, VARIATION_QUERY)
        call.permit("list")
        cat, parent = self.catalog, self.catalog.get(call.params["product_id"])
        pool = [v for v in cat.children(parent) if v.type == "variation"] if parent is not None else []
        if args.get("sku"):
            wanted = {s.strip().lower() for s in str(args["sku"]).split(",") if s.strip()}
            pool = [p for p in pool if p.sku.lower() in wanted]   # the own SKU, as the meta query sees it
        keep = self._filter(args)
        items = sort_items([p for p in pool if keep(p)], args, _sort_keys(cat), date_tie_by_id=True)
        context = _context(args)
        return paginate(call, args, items, lambda v: variation_json(cat, v, call.base, context=context),
                        call.api + VARIATION_BASE)

    def variation_get(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ITEM_QUERY)
        variation = self.catalog.get(call.params["id"])
        call.permit("view", exists=variation is not None)
        if variation is None or variation.type != "variation" or variation.parent_id != int(call.params["product_id"]):
            raise _invalid("product_variation", 404)
        return 200, variation_json(self.catalog, variation, call.base, context=_context(args))

    def variation_create(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, VARIATION_BODY, defaults=VARIATION_DEFAULTS)
        call.permit("create")
        variation = self._variation_create(int(call.params["product_id"]), data)
        call.headers["Location"] = f"{call.api}{VARIATION_BASE}/{variation.id}"
        return 201, variation_json(self.catalog, variation, call.base, context="edit")

    def _variation_create(self, parent_id: int, data: dict[str, Any]) -> Product:
        parent = self.catalog.get(parent_id)
        if data.get("id"):
            raise WooError("woocommerce_rest_product_variation_exists", "Cannot create existing product_variation.", 400)
        if parent is None or parent.type != "variable":
            # Deliberate simplification: WooCommerce only notices a bad parent when attributes are
            # sent (and would otherwise create an orphan variation); the emulator always refuses.
            raise WooError("woocommerce_rest_product_variation_invalid_parent",
                           "Cannot set attributes due to invalid parent product.", 404)
        return self.catalog.create_variation(parent, data)

    def variation_update(self, call: Call) -> tuple[int, Any]:
        data = validate(call.params, VARIATION_BODY)
        variation = self.catalog.get(call.params["id"])
        call.permit("edit", exists=variation is not None)
        return 200, self._variation_update(int(call.params["product_id"]), variation, data, call)

    def _variation_update(self, parent_id: int, variation: Product | None, data: dict[str, Any],
                          call: Call) -> dict[str, Any]:
        if variation is not None and variation.parent_id and variation.parent_id != parent_id:
            raise WooError("woocommerce_rest_cannot_edit", "Parent product does not match current variation.", 403)
        if variation is None or variation.type != "variation":
            # (WooCommerce would load any product id here and re-parent it; the emulator refuses.)
            raise _invalid("product_variation", 400)
        self.catalog.apply(variation, data, creating=False)
        return variation_json(self.catalog, variation, call.base, context="edit")

    def variation_delete(self, call: Call) -> tuple[int, Any]:
        args = validate(call.params, ITEM_QUERY)
        variation = self.catalog.get(call.params["id"])
        call.permit("delete", exists=variation is not None)
        if variation is not None and variation.parent_id != int(call.params["product_id"]):
            variation = None
        return 200, self._delete(variation, args["force"], call, variation=True)

    def variation_batch(self, call: Call) -> tuple[int, Any]:
        parent_id = int(call.params["product_id"])

        def create(item: dict[str, Any]) -> dict[str, Any]:
            variation = self._variation_create(parent_id, {**VARIATION_DEFAULTS, **item})
            return variation_json(self.catalog, variation, call.base, context="edit")

        def update(item: dict[str, Any]) -> dict[str, Any]:
            return self._variation_update(parent_id, self.catalog.get(item.get("id")), item, call)

        def delete(item_id: Any) -> dict[str, Any]:
            variation = self.catalog.get(item_id)
            if variation is not None and variation.parent_id != parent_id:
                variation = None
            return self._delete(variation, True, call, variation=True)

        return self._batch(call, create, update, delete)
