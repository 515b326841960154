"""`katana-woo snapshot` and `katana-woo rehearse`: try a config on a copy of reality before the real apply.

Called by the CLI (`add_commands` registers both commands with `cli.build_parser`) and from Python::

    from katana_woo_sdk.rehearsal import rehearse
    result = rehearse("configs/shops.yaml", "snapshot.json")   # nothing real is touched
    print(result)                                   # the report, then each store's figures, orders, holds
    result.report.exit_code, result.sales_orders, result.levels["shop-eu"]

`rehearse` starts the sandbox from the snapshot (`sandbox.start(snapshot=...)`: Katana and the
stores with the snapshot's records and ids), points the config at it (Katana's URL and key and each
store's URL and keys are swapped for the sandbox's in memory; each store keeps the
`ecommerce_store_name` the snapshot recorded, so its imports are recognised), and plans and applies
there with a fresh state (or a copy of one, `state=`). Every request the apply sends is checked by
the emulator as Katana would check it, so what Katana would refuse fails here. `plan` shows what
would change; a rehearsal also shows what the stores would show afterwards and the sales orders
that would exist. Taking the snapshot (`snapshot.take_snapshot`) is the only step that reads the
real accounts, and it only reads.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .config import Config, RateLimit, Secret, load_config
from .errors import ReconcileError
from .plan import Hold, Plan, Report


@dataclass(frozen=True)
class CreatedOrder:
    """A sales order the rehearsed apply created in (the copy of) Katana."""

    order_no: str
    location: str
    store_key: str | None
    woo_order_id: str | None
    lines: tuple[tuple[str, str], ...]        # (SKU, quantity)

    def __str__(self) -> str:
        return f"{self.order_no} at {self.location}: " + ", ".join(f"{sku} x {qty}" for sku, qty in self.lines)


@dataclass(frozen=True)
class Rehearsal:
    """What applying a config to a copy of the accounts did, and left."""

    source: str                                          # the snapshot: file and when it was taken
    plan: Plan
    report: Report
    levels: Mapping[str, Mapping[str, int | None]]       # store -> SKU -> stock level after the sync
    changed: Mapping[str, Mapping[str, tuple[int | None, int | None]]]   # store -> SKU -> (before, after)
    sales_orders: tuple[CreatedOrder, ...] = ()
    holds: Mapping[str, tuple[Hold, ...]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return int(self.report.exit_code)

    def __str__(self) -> str:
        out = [f"Rehearsal on a copy of the accounts ({self.source}); nothing real was touched.", "",
               str(self.report).rstrip(), "", "== End state " + "=" * 59]
        for store, levels in self.levels.items():
            changed = self.changed.get(store, {})
            out.append(f"{store}: {len(changed)} of {len(levels)} stock levels changed")
            if changed:
                out.append("  changed: " + ", ".join(f"{s} {_q(b)} -> {_q(a)}" for s, (b, a) in changed.items()))
            out.append("  figures: " + (", ".join(f"{s}={_q(q)}" for s, q in levels.items()) or "-"))
        out.append(f"Sales orders that would be created ({len(self.sales_orders)}):")
        out += [f"  {o}" for o in self.sales_orders] or ["  none"]
        held = [(s, h) for s, hs in self.holds.items() for h in hs]
        out.append(f"Holds ({len(held)}):")
        out += [f"  {s} #{h.number or h.woo_order_id}: {h.reason}" + (f" ({h.detail})" if h.detail else "")
                for s, h in held] or ["  none"]
        return "\n".join(out)

    def to_markdown(self) -> str:
        parts = [f"**Rehearsal** on a copy of the accounts ({self.source}); nothing real was touched.", "",
                 self.report.to_markdown().rstrip(), "", "### End state", ""]
        for store, levels in self.levels.items():
            changed = self.changed.get(store, {})
            parts.append(f"- **{store}**: {len(changed)} of {len(levels)} stock levels changed"
                         + (": " + ", ".join(f"`{s}` {_q(b)} → {_q(a)}" for s, (b, a) in changed.items())
                            if changed else ""))
        parts += ["", f"Sales orders that would be created: {len(self.sales_orders)}", ""]
        parts += [f"- {o}" for o in self.sales_orders]
        held = [(s, h) for s, hs in self.holds.items() for h in hs]
        parts += ["", f"Holds: {len(held)}", ""] + [f"- {s} #{h.number or h.woo_order_id}: {h.reason}" for s, h in held]
        return "\n".join(parts).rstrip() + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "exit_code": self.exit_code, "report": self.report.to_dict(),
                "levels": {s: dict(v) for s, v in self.levels.items()},
                "changed": {s: {k: list(v) for k, v in c.items()} for s, c in self.changed.items()},
                "sales_orders": [dataclasses.asdict(o) for o in self.sales_orders],
                "holds": {s: [dataclasses.asdict(h) for h in hs] for s, hs in self.holds.items()}}


def rehearse(config: Config | str | os.PathLike[str], snapshot: str | os.PathLike[str] | Mapping[str, Any], *,
             state: str | os.PathLike[str] | None = None, progress: bool | None = False) -> Rehearsal:
    """Apply `config` (a loaded Config or a file, read without its credentials) to the sandbox seeded
    from `snapshot` (a file or its data) and return what happened and what was left. `state`: start
    from a copy of this state file (the original is never written); default: a fresh state."""
    from . import sandbox
    from .runner import Runner
    from .state import State

    data = dict(snapshot) if isinstance(snapshot, Mapping) else json.loads(Path(snapshot).read_text("utf-8"))
    source = f"{os.path.basename(snapshot) if not isinstance(snapshot, Mapping) else 'snapshot'}, taken " \
             f"{data.get('taken_at') or 'at an unknown time'}"
    if not isinstance(config, Config):
        config = load_config(config, require_env=False)
    with sandbox.start(snapshot=data, katana_rate=None) as box, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "state.sqlite")
        if state is not None and Path(state).exists():
            shutil.copyfile(state, path)
        target = pointed_at(config, box, data, path)
        with Runner(target, state=State(path), progress=progress) as runner:
            before = _levels(runner)
            plan = runner.plan()
            report = runner.apply(plan)
            after = _levels(runner)
        known = {int(so["id"]) for so in (data.get("katana") or {}).get("sales_orders") or ()}
        orders = tuple(_created(box, so) for so in box.katana.sales_orders(include_deleted=False)
                       if so["id"] not in known and so.get("source") != "Katana")
    changed = {s: {sku: (before.get(s, {}).get(sku), q) for sku, q in levels.items()
                   if before.get(s, {}).get(sku) != q} for s, levels in after.items()}
    return Rehearsal(source, plan, report, after, changed, orders,
                     {s.store: tuple(s.holds) for s in report.stores if s.holds})


def pointed_at(config: Config, box: Any, data: Mapping[str, Any], state_path: Path) -> Config:
    """`config` with Katana and every enabled store swapped for the sandbox's (URLs, credentials),
    each store keeping the `ecommerce_store_name` of the snapshot, and the state at `state_path`."""
    keys = {s["name"]: s.get("ecommerce_store_name") for s in data.get("stores") or ()}
    stores = []
    for store in config.stores:
        if not store.enabled:
            stores.append(store)
            continue
        if store.name not in box.stores:
            raise ReconcileError(f"store '{store.name}' is not in the snapshot; take the snapshot with this config")
        emulated = box.stores[store.name]
        stores.append(dataclasses.replace(
            store, url=emulated.url, consumer_key=Secret(emulated.consumer_key),
            consumer_secret=Secret(emulated.consumer_secret), allow_insecure_http=False, verify=True,
            ecommerce_store_name=keys.get(store.name) or store.ecommerce_store_name))
    katana = dataclasses.replace(config.katana, base_url=box.katana.base_url, api_key=Secret(box.katana.api_key),
                                 rate_limit=RateLimit(requests=100_000, period_seconds=60.0))
    return dataclasses.replace(config, katana=katana, stores=tuple(stores),
                               # url=None: a config with a PostgreSQL state rehearses on this file
                               # too, and takes its store locks here, never in the real database.
                               state=dataclasses.replace(config.state, path=state_path, url=None))


def _levels(runner: Any) -> dict[str, dict[str, int | None]]:
    """Store -> SKU -> stock level of every stock-managed item, read through the store's API."""
    out: dict[str, dict[str, int | None]] = {}
    for name, woo in runner.woo.items():
        levels: dict[str, int | None] = {}
        for product in woo.products.iter():
            items = [product]
            if product.type == "variable" and product.variations:
                items += list(woo.variations.iter(product.id))
            for item in items:
                if item.sku and item.manage_stock is True and item.sku not in levels:
                    levels[item.sku] = item.stock_quantity
        out[name] = dict(sorted(levels.items()))
    return out


def _created(box: Any, so: Mapping[str, Any]) -> CreatedOrder:
    names = {loc["id"]: loc["name"] for loc in box.katana.locations()}
    lines = tuple((box.katana.variant(int(r["variant_id"])).get("sku") or f"#{r['variant_id']}", _q(r["quantity"]))
                  for r in so.get("sales_order_rows") or ())
    return CreatedOrder(so["order_no"], names.get(so["location_id"], str(so["location_id"])),
                        so.get("ecommerce_store_name"), so.get("ecommerce_order_id"), lines)


def _q(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    return text[:-2] if text.endswith(".0") else text


# --- the commands -------------------------------------------------------------------------------------

def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Register `snapshot` and `rehearse` with the CLI (`command(name, help)` makes a subparser)."""
    p = command("snapshot", "read the real accounts (only read) into one file, without customer contact data, "
                            "for `rehearse`")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--out", required=True, metavar="SNAPSHOT_JSON", help="where to write the snapshot")
    p.set_defaults(func=_cmd_snapshot)
    p = command("rehearse", "apply a config to the sandbox seeded from a snapshot: the report, each store's "
                            "figures, the sales orders that would be created, the holds")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--snapshot", required=True, metavar="SNAPSHOT_JSON", help="a file written by `snapshot`")
    p.add_argument("--state", metavar="STATE_FILE",
                   help="start from a copy of this state file (default: a fresh state; the file is never written)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print JSON")
    group.add_argument("--markdown", action="store_true", help="print Markdown (a pull request comment)")
    p.set_defaults(func=_cmd_rehearse)


def _cmd_snapshot(args: argparse.Namespace) -> int:
    from .cli import CliError
    from .snapshot import take_snapshot, write_snapshot

    if not Path(args.config).is_file():
        raise CliError(f"config file not found: {args.config}")
    data = take_snapshot(load_config(args.config))
    path = write_snapshot(data, args.out)
    counts = ", ".join(f"{s['name']}: {len(s['products'])} items, {len(s['orders'])} orders" for s in data["stores"])
    print(f"snapshot written to {path} ({len(data['katana']['inventory'])} inventory rows; {counts}); no customer "
          f"contact data in it. Rehearse with: katana-woo rehearse {args.config} --snapshot {path}", file=sys.stderr)
    return 0


def _cmd_rehearse(args: argparse.Namespace) -> int:
    from .cli import CliError

    for path, what in ((args.config, "config file"), (args.snapshot, "snapshot")):
        if not Path(path).is_file():
            raise CliError(f"{what} not found: {path}")
    try:
        result = rehearse(args.config, args.snapshot, state=args.state)
    except (ValueError, KeyError) as error:
        raise CliError(f"cannot rehearse from {args.snapshot}: {error}") from error
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    elif args.markdown:
        print(result.to_markdown().rstrip("\n"))
    else:
        print(str(result))
    return result.exit_code
