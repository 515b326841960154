"""katana_woo_sdk: connect WooCommerce stores to Katana MRP locations.

The public face, importable from here::

    from katana_woo_sdk import Runner, load_config, State, sandbox

    with sandbox.start() as sb, Runner(load_config("configs/demo.yaml", env=sb.env())) as runner:
        plan = runner.plan()                  # reads only; an HTML table in Jupyter
        report = runner.apply(plan)           # applies exactly that, re-checked
        runner.status()                       # Ready / Degraded / Blocked per store, from the state
        runner.history()                      # past runs: outcome, cost
        runner.explain_order("shop-us", 67)   # an order's story; runner.explain_sku("MUG-CLASSIC")

    KatanaClient("key").sales_orders.list(...)      # the clients alone: see help(KatanaClient)
    WooClient(url, key, secret).orders.iter(...)

Every error is a `KatanaWooError` (the tree is drawn in `katana_woo_sdk.errors`).

Layers (imports flow one way, top to bottom; `tests/test_layers.py` checks it):

    errors, models          plain data and the error tree
    _http, ratelimit        one requests.Session per client, retries, throttle, paginators
    katana, woo             one client per external system
    config, state           the YAML file and the local SQLite state
    mapping                 store -> Katana location resolution
    plan                    plans, reports, status as data (rendered by `render`)
    render/                 text, Markdown, HTML, records and DataFrames of everything shown
    engines/                order import, initial stock import, stock sync
    history, explain        the run log read back; an order's story, a SKU's figure
    runner                  plan (reads) -> apply (writes) -> status
    cli, demo               the `katana-woo` command

`sandbox` holds the local emulators of both systems; it imports nothing above. The names below
are loaded on first use, so ``import katana_woo_sdk`` stays cheap (the CLI's `validate` and
``--help`` need neither requests nor the runner).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The one place the version is written: setup.cfg reads it (`attr:`), `katana-woo --version` shows it,
# and CHANGELOG.md has a section for each released value.
__version__ = "0.1.0"

# Rendering registers itself with the data classes (`_views`): every Plan, Report, Status, History
# and story can then be printed and shown, whichever module created it.
from . import render as _render  # noqa: E402,F401

if TYPE_CHECKING:  # what static checkers and IDEs see; at run time `__getattr__` loads these lazily
    from . import sandbox
    from .config import Config, load_config
    from .errors import (ApiError, AuthError, ConfigError, KatanaWooError, MappingError, NotFoundError,
                         RateLimitedError, ReconcileError, RejectedError, SavedPlanError, ServerError,
                         StaleActionError, StateError, StateLockedError, TransportError, UnexpectedResponseError,
                         DeliveryUnconfirmed, ProductUnconfirmed, AwaitingProduct)
    from .explain import OrderStory, SkuStory
    from .history import History
    from .katana import KatanaClient
    from .plan import Plan, Report, Status
    from .runner import Runner
    from .state import State
    from .woo import WooClient

_EXPORTS = {
    "Runner": "runner", "load_config": "config", "Config": "config", "State": "state",
    "KatanaClient": "katana", "WooClient": "woo", "Plan": "plan", "Report": "plan", "Status": "plan",
    "History": "history", "OrderStory": "explain", "SkuStory": "explain",
    **{name: "errors" for name in (
        "KatanaWooError", "ConfigError", "TransportError", "ApiError", "AuthError", "NotFoundError",
        "RejectedError", "RateLimitedError", "ServerError", "UnexpectedResponseError", "StateError",
        "StateLockedError", "ReconcileError", "MappingError", "StaleActionError", "SavedPlanError",
        "DeliveryUnconfirmed", "ProductUnconfirmed", "AwaitingProduct")},
}

__all__ = ["__version__", "sandbox", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562)."""
    if name == "sandbox":
        return importlib.import_module(f"{__name__}.sandbox")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
