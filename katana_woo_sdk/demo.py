"""``katana-woo demo``: the whole cycle on one screen, against the embedded sandbox.

Called by `cli` (``katana-woo demo``) and usable from a notebook (``run_demo()``). It starts the
sandbox (`sandbox.start(dataset="demo")`: an emulated Katana and three WooCommerce stores on
127.0.0.1), loads the demo config shipped in the package (``data/demo.yaml``, identical to the
repository's ``configs/demo.yaml``, so the demo works after ``pip install`` from any directory),
points its state at a fresh directory, then plans, applies, shows the status and explains why
a held order waits; then one imported sales order is delivered in the emulated Katana and the next
apply completes its WooCommerce order (the order's life after the import, `engines.lifecycle`);
and it says in one paragraph what happened. Nothing is written outside that directory and no real system is
contacted: the credentials are the sandbox's own, handed over in memory, never printed.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import yaml

from .actions import OrderImport
from .plan import APPLIED, REPLANNED, Plan, Report, Status
from .report import stock_items

DEMO_CONFIG = "data/demo.yaml"
STATE_FILE = "state.sqlite"


def demo_config_text() -> str:
    """The demo config shipped with the package."""
    return resources.files(__package__).joinpath(DEMO_CONFIG).read_text(encoding="utf-8")


def default_state_dir(now: datetime | None = None) -> Path:
    """A new ``./.katana-woo/demo-<timestamp>/`` under the current directory."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / ".katana-woo" / f"demo-{stamp}"


def write_demo_config(state_dir: Path) -> Path:
    """The demo config, its state moved into `state_dir`, written to ``state_dir/demo.yaml``.

    The state path is relative, and relative paths in a config are relative to the config file,
    so the state lands beside it.
    """
    data = yaml.safe_load(demo_config_text())
    data["state"] = {**(data.get("state") or {}), "path": STATE_FILE}
    path = state_dir / "demo.yaml"
    header = ("# Written by `katana-woo demo` from katana_woo_sdk/data/demo.yaml; its state lives beside it.\n"
              "# The ${...} variables are the sandbox's (katana_woo_sdk.sandbox.Sandbox.env()).\n")
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _start_sandbox(dataset: str) -> Any:
    from . import sandbox
    return sandbox.start(dataset=dataset)


def _runner_class() -> Any:
    from .runner import Runner
    return Runner


def _wait_until_interrupted() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def run_demo(*, state_dir: Path | str | None = None, out: TextIO | None = None, keep_running: bool = False) -> int:
    """Plan and apply the demo config against a fresh sandbox; 0 when every action succeeded.

    `out` defaults to the current ``sys.stdout``. With `keep_running`, the sandbox stays up until
    Ctrl-C, and ``<state_dir>/sandbox.env`` holds the variables to run other commands against it.
    """
    out = out or sys.stdout
    state_dir = Path(state_dir) if state_dir else default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir = state_dir.resolve()

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    def heading(text: str) -> None:
        say()
        say(f"== {text} " + "=" * max(0, 72 - len(text)))

    say("katana-woo demo: an emulated Katana and three WooCommerce stores (shop-eu, shop-us, shop-outlet) "
        "on 127.0.0.1.")
    say(f"This demo writes only under {state_dir}")
    with _start_sandbox("demo") as box:
        env = dict(box.env())
        config_path = write_demo_config(state_dir)
        with _runner_class().from_config_file(config_path, env=env, progress=False) as runner:
            plan = runner.plan()
            heading(f"1. Plan   (katana-woo plan {config_path.name})")
            say(str(plan))
            report = runner.apply(plan=plan)
            heading("2. Apply  (katana-woo apply)")
            say(str(report))
            status = runner.status()
            heading("3. Status (katana-woo status)")
            say(str(status))
            held = next((h for s in report.stores for h in s.holds), None)
            if held is not None:
                heading(f"4. Why   (katana-woo explain {config_path.name} order {held.store} {held.woo_order_id})")
                say(str(runner.explain_order(held.store, held.woo_order_id)))
            completed = None
            picked = _deliver_one(box, report)
            if picked is not None:
                store, woo_id, order_no = picked
                heading(f"5. Delivered in Katana: {order_no}; the next apply completes it in {store}")
                after = runner.apply()
                say(str(after))
                now = box.stores[store].order(woo_id)["status"]
                completed = f"order #{woo_id} of {store} is now {now!r} in the store"
                say(completed)
                for note in runner.woo[store].orders.notes(woo_id):
                    if order_no in note.note:
                        say(f"its order note: {note.note}")
        heading("What just happened")
        say(what_happened(plan, report, status, state_dir, completed=completed))
        if keep_running:
            env_file = _write_env_file(state_dir, env)
            heading("The sandbox keeps running")
            say(f"In another shell:  . {env_file}  &&  katana-woo plan {config_path}")
            say("(that file holds the sandbox's throw-away credentials; they are not printed here)")
            say("Press Ctrl-C to stop the sandbox.")
            _wait_until_interrupted()
    return 1 if report.exit_code == 1 else 0


def _write_env_file(state_dir: Path, env: dict[str, str]) -> Path:
    path = state_dir / "sandbox.env"
    quoted = {k: "'" + str(v).replace("'", "'\\''") + "'" for k, v in env.items()}
    path.write_text("".join(f"export {k}={v}\n" for k, v in sorted(quoted.items())), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def _deliver_one(box: Any, report: Report) -> tuple[str, int, str] | None:
    """Deliver the first sales order the apply created, in the emulated Katana (as a warehouse
    would, with a tracking number): (store, WooCommerce order id, sales order number), or None."""
    katana = getattr(box, "katana", None)
    for r in report.results:
        so_id = getattr(r.result, "sales_order_id", None)
        if r.action.kind == "order.import" and r.outcome in (APPLIED, REPLANNED) and so_id and katana is not None:
            katana.fulfil_sales_order(so_id, tracking_number="DEMO-TRACK-1")
            payload = r.action.payload
            assert isinstance(payload, OrderImport)  # an order.import action carries its order
            return r.action.store, payload.woo_order_id, payload.order_no
    return None


def _count(report: Report, kind: str) -> int:
    return sum(1 for r in report.results if r.action.kind == kind and r.outcome in (APPLIED, REPLANNED))


def what_happened(plan: Plan, report: Report, status: Status, state_dir: Path, *, completed: str | None = None) -> str:
    """One paragraph with the run's counts, for people new to the tool."""
    def n(count: int, word: str, many: str | None = None) -> str:
        return f"{count} {word if count == 1 else (many or word + 's')}"

    imported = _count(report, "order.import")
    initial = _count(report, "stock.initial_import")
    pushed = sum(len(stock_items(r.action)) or 1 for r in report.results
                 if r.action.kind == "stock.push" and r.outcome in (APPLIED, REPLANNED))
    failed = sum(1 for r in report.results if r.outcome == "failed")
    held = sum(len(s.holds) for s in report.stores)
    states: dict[str, Any] = {}
    for s in status.stores:
        states[s.state] = states.get(s.state, 0) + 1
    state_text = ", ".join(f"{count} {state}" for state, count in states.items()) or "no stores"
    text = (
        f"`plan` read both systems without changing anything and proposed {n(len(plan.actions), 'action')} "
        f"for {n(len(plan.stores), 'store')}. `apply` re-checked each one before acting: it imported "
        f"{n(imported, 'WooCommerce order')} into Katana as sales orders at each store's mapped location, ran "
        f"{n(initial, 'initial stock import')} (Katana's warehouse seeded once from its store) and pushed "
        f"{n(pushed, 'stock figure')} from Katana back to the stores; {n(held, 'order')} "
        f"{'is' if held == 1 else 'are'} held with the reason shown (retried on every run, never dropped) and "
        f"{n(failed, 'action')} failed. That took {n(report.calls_to('katana'), 'call')} to Katana and "
        f"{n(report.calls_to('woocommerce'), 'call')} to WooCommerce. Status now: {state_text}. Running it "
        f"again imports nothing twice: the local state remembers each import, and even without it the "
        f"orders are found in Katana by the WooCommerce order ids they carry (ecommerce_order_id). "
        + (f"After the import the order's life goes on: a sales order delivered in Katana completes its store "
           f"order once, with a note naming it and its tracking number ({completed}). " if completed else "")
        + f"The config copy and the SQLite state are in {state_dir}; the sandbox stops when this command ends.")
    return text
