"""What the parts of the emulated Katana state read of each other, declared for a type checker.

`KatanaData` is built from `SalesOrderRules`, `StockRules` and `LifecycleRules`, each a mixin that
uses the tables and helpers `KatanaData` (or another mixin) defines. `KatanaShared`, their common
base, declares those names and signatures under `TYPE_CHECKING` only: at run time it is an empty
class and every name resolves exactly as before.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ._katana_model import Product, SalesOrder, SalesOrderRow, StockCell, Variant


class KatanaShared:
    """The common base of the `KatanaData` mixins (declarations only)."""

    if TYPE_CHECKING:
        # Defined by KatanaData.__init__.
        now: Callable[[], datetime]
        unique_stock_adjustment_number: bool
        patch_wipes_additional_info: bool
        factory: dict[str, Any]
        products: dict[int, Product]
        variants: dict[int, Variant]
        stock: dict[tuple[int, int], StockCell]
        customers: dict[int, dict[str, Any]]
        tax_rates: dict[int, dict[str, Any]]
        sales_orders: dict[int, SalesOrder]
        _variant_by_sku: dict[str, int]
        _product_by_name: dict[str, int]
        _variants_of: dict[int, list[int]]
        _row_order: dict[int, int]
        _order_nos: dict[str, int]

        # Defined by KatanaData.
        def new_id(self, kind: str) -> int: ...
        def variant_by_sku(self, sku: str) -> Variant | None: ...
        def cell(self, variant_id: int, location_id: int) -> StockCell: ...
        def committed(self, keys: Iterable[tuple[int, int]] | None = None) -> dict[tuple[int, int], Decimal]: ...
        def _order_changed(self, so_id: int) -> None: ...
        def product_api(self, product: Product) -> dict[str, Any]: ...
        def _check_location(self, location_id: Any, path: str, details: list[Any], *, for_sales: bool) -> None: ...
        def _check_variant(self, variant_id: Any, path: str, details: list[Any]) -> None: ...
        def _check_tax_rate(self, tax_rate_id: Any, path: str, details: list[Any]) -> None: ...
        def _check_order_no(self, order_no: str, details: list[Any], *, exclude: int | None = None) -> None: ...
        def _set_order_no(self, so: SalesOrder, order_no: str) -> None: ...
        def _date(self, body: dict[str, Any], name: str, details: list[Any]) -> datetime | None: ...

        # Defined by SalesOrderRules.
        def _touch(self, so: SalesOrder) -> datetime: ...
        def find_row(self, row_id: int) -> tuple[SalesOrder, SalesOrderRow]: ...

        # Defined by StockRules.
        def move_stock(self, variant_id: int, location_id: int, delta: Decimal, *, resource_type: str,
                       resource_id: int | None = None, order_no: str | None = None, caused_by: int | None = None,
                       movement_date: datetime | None = None, value_per_unit: Decimal | None = None) -> StockCell: ...

        # Defined by LifecycleRules.
        def fulfil_rest(self, so: SalesOrder, status: str) -> None: ...
        def unfulfil(self, so: SalesOrder) -> None: ...
