"""Stock in the Katana emulator: quantity-in-stock changes, stock adjustments and inventory movements.

Mixed into `_katana_data.KatanaData` (which holds the stock cells and the other state) and called
under the emulator's one lock, by `_katana_orders` (packing and delivering), `_katana_http`
(`/stock_adjustments`, `/inventory_movements`) and `katana_emulator` (admin `set_stock`).

Every change of `quantity_in_stock` goes through `move_stock`, which records exactly one inventory
movement (shape: the community spec's `InventoryMovement`): a stock adjustment row, a sales order
row crossing into or out of PACKED/DELIVERED, an adjustment's deletion, or an admin `set_stock`.
Commitments and expected quantities change no stock, so they record nothing.

Assumptions where Katana's documents are silent (each stated again where it is applied):
- deleting a stock adjustment is a soft delete that takes its quantities back out of stock (Katana's
  fact sheet calls the stock effect of a DELETE unverified); the reversal is recorded as one
  movement per row, of the opposite sign, against the same row, and the average cost is left alone;
- an admin `set_stock` (a seam standing for a UI edit) is a `SystemGenerated` movement;
- `rank` numbers the movements of one (variant, location) from 1, in the order they happened;
- `movement_date` is the adjustment's `stock_adjustment_date` for adjustment rows and the moment of
  the change otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ._katana_shared import KatanaShared
from ._katana_model import StockCell, check_dto, dec, detail, invalid, iso, not_found, num


@dataclass
class Movement:
    id: int
    variant_id: int
    location_id: int
    resource_type: str
    quantity_change: Decimal
    balance_after: Decimal
    value_per_unit: Decimal
    average_cost_after: Decimal
    movement_date: datetime
    created_at: datetime
    rank: int
    resource_id: int | None = None
    caused_by_order_no: str | None = None
    caused_by_resource_id: int | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "variant_id": self.variant_id, "location_id": self.location_id,
            "resource_type": self.resource_type, "movement_date": iso(self.movement_date),
            "quantity_change": num(self.quantity_change), "balance_after": num(self.balance_after),
            "value_per_unit": num(self.value_per_unit),
            "value_in_stock_after": num(max(self.balance_after, Decimal(0)) * self.average_cost_after),
            "average_cost_after": num(self.average_cost_after), "rank": self.rank,
            "created_at": iso(self.created_at), "updated_at": iso(self.created_at)}
        # The spec types these as plain strings/integers (not nullable): a movement with no causing
        # document (SystemGenerated) leaves them out rather than sending null.
        for name in ("resource_id", "caused_by_order_no", "caused_by_resource_id"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


class StockRules(KatanaShared):
    """The stock half of `KatanaData` (see there for `stock`, `cell()`, `new_id()` and `now`)."""

    def _init_stock(self) -> None:
        self.stock_adjustments: dict[int, dict[str, Any]] = {}
        self.movements: dict[int, Movement] = {}                       # by id, in creation order
        self._movements_by_variant: dict[int, list[int]] = {}         # the natural index of the filters
        self._ranks: dict[tuple[int, int], int] = {}

    def move_stock(self, variant_id: int, location_id: int, delta: Decimal, *, resource_type: str,
                   resource_id: int | None = None, order_no: str | None = None, caused_by: int | None = None,
                   movement_date: datetime | None = None, value_per_unit: Decimal | None = None) -> StockCell:
        """The one way `quantity_in_stock` changes: the cell moves by `delta` and one movement is
        recorded (nothing for a zero delta, which moves nothing)."""
        cell = self.cell(variant_id, location_id)
        now = self.now()
        cell.in_stock += delta
        cell.updated_at = now
        if delta == 0:
            return cell
        key = (variant_id, location_id)
        self._ranks[key] = rank = self._ranks.get(key, 0) + 1
        movement = Movement(self.new_id("inventory_movement"), variant_id, location_id, resource_type, delta,
                            cell.in_stock, cell.average_cost if value_per_unit is None else value_per_unit,
                            cell.average_cost, movement_date or now, now, rank, resource_id, order_no, caused_by)
        self.movements[movement.id] = movement
        self._movements_by_variant.setdefault(variant_id, []).append(movement.id)
        return cell

    def movements_of(self, variant_ids: list[int]) -> list[Movement]:
        if not variant_ids:
            return list(self.movements.values())
        ids = sorted({m for v in variant_ids for m in self._movements_by_variant.get(v, ())})
        return [self.movements[m] for m in ids]

    # --- stock adjustments ----------------------------------------------------------------------

    def create_stock_adjustment(self, body: Any) -> dict[str, Any]:
        check_dto("CreateStockAdjustmentDto", body)
        details: list[Any] = []
        self._check_location(body["location_id"], ".location_id", details, for_sales=False)
        for i, row in enumerate(body["stock_adjustment_rows"]):
            self._check_variant(row["variant_id"], f".stock_adjustment_rows[{i}].variant_id", details)
            if "cost_per_unit" in row and row["quantity"] < 0:
                details.append(detail(f".stock_adjustment_rows[{i}].cost_per_unit", "costForNegative",
                                      "cost_per_unit is only accepted on positive quantities"))
        number, location_id = body["stock_adjustment_number"], int(body["location_id"])
        if self.unique_stock_adjustment_number and any(
                a["stock_adjustment_number"] == number for a in self.stock_adjustments.values()):
            details.append(detail(".stock_adjustment_number", "unique", "stock_adjustment_number is already used"))
        date = self._date(body, "stock_adjustment_date", details)
        if details:
            raise invalid(details)
        now = self.now()
        adj_id = self.new_id("stock_adjustment")
        rows = []
        for row in body["stock_adjustment_rows"]:
            qty, variant_id, row_id = dec(row["quantity"]), int(row["variant_id"]), self.new_id("stock_adjustment_row")
            cell = self.cell(variant_id, location_id)
            cost = dec(row["cost_per_unit"]) if "cost_per_unit" in row else None
            if qty > 0 and cost is not None:
                held = max(cell.in_stock, Decimal(0))
                cell.average_cost = (held * cell.average_cost + qty * cost) / (held + qty)
            self.move_stock(variant_id, location_id, qty, resource_type="StockAdjustmentRow", resource_id=row_id,
                            order_no=number, caused_by=adj_id, movement_date=date or now, value_per_unit=cost)
            rows.append({"id": row_id, "variant_id": variant_id, "quantity": qty,
                         "cost_per_unit": cost if cost is not None else cell.average_cost,
                         "batch_transactions": list(row.get("batch_transactions") or []),
                         "traceability": [dict(t, quantity=str(t["quantity"])) for t in row.get("traceability") or []]})
        adj = {"id": adj_id, "stock_adjustment_number": number,
               "stock_adjustment_date": iso(date or now), "location_id": location_id,
               "reason": body.get("reason"), "additional_info": body.get("additional_info"),
               "stock_adjustment_rows": rows, "created_at": iso(now), "updated_at": iso(now), "deleted_at": None}
        self.stock_adjustments[adj["id"]] = adj
        return adj

    def delete_stock_adjustment(self, adj_id: int) -> dict[str, Any]:
        """Soft delete: `deleted_at` set (listed again with include_deleted=true) and, the emulator's
        assumption since Katana's effect is unverified, each row's quantity taken back out of stock
        at the adjustment's location, average cost unchanged. A deleted adjustment is a 404."""
        adj = self.stock_adjustments.get(adj_id)
        if adj is None or adj["deleted_at"] is not None:
            raise not_found()
        for row in adj["stock_adjustment_rows"]:
            self.move_stock(row["variant_id"], adj["location_id"], -row["quantity"],
                            resource_type="StockAdjustmentRow", resource_id=row["id"],
                            order_no=adj["stock_adjustment_number"], caused_by=adj["id"])
        adj["deleted_at"] = adj["updated_at"] = iso(self.now())
        return adj

    @staticmethod
    def stock_adjustment_api(adj: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in adj.items() if k != "stock_adjustment_rows"}
        out["stock_adjustment_rows"] = [
            {k: (num(v) if k in ("quantity", "cost_per_unit") else v) for k, v in row.items()}
            for row in adj["stock_adjustment_rows"]]
        return out
