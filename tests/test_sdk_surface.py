"""The SDK as a notebook user finds it: names importable from the package, a docstring on every
public class and method they meet, `help()` that shows what an object offers, and reprs that show
no secret.
"""
from __future__ import annotations

import inspect
import pydoc
import subprocess
import sys
from pathlib import Path

import pytest

import katana_woo_sdk
from katana_woo_sdk import errors

REPO = Path(__file__).resolve().parents[1]
EXPORTS = ("Runner", "load_config", "State", "KatanaClient", "WooClient", "sandbox", "Plan", "Report", "Status",
           "History", "OrderStory", "SkuStory", *errors.__all__[:1], "ConfigError", "ApiError", "AuthError",
           "TransportError", "RateLimitedError", "StateLockedError", "ReconcileError", "SavedPlanError")


def test_the_public_names_import_from_the_package():
    for name in EXPORTS:
        assert getattr(katana_woo_sdk, name) is not None, name
        assert name in katana_woo_sdk.__all__ and name in dir(katana_woo_sdk)
    assert katana_woo_sdk.Runner.__module__ == "katana_woo_sdk.runner"
    assert katana_woo_sdk.sandbox.__name__ == "katana_woo_sdk.sandbox"
    for name in errors.__all__:
        if name != "ConfigIssue":
            assert issubclass(getattr(katana_woo_sdk, name), katana_woo_sdk.KatanaWooError)
    with pytest.raises(AttributeError, match="nosuch"):
        katana_woo_sdk.nosuch  # noqa: B018


def test_importing_the_package_stays_cheap():
    probe = ("import sys, katana_woo_sdk; print(sorted(m for m in ('requests', 'katana_woo_sdk.runner', "
             "'katana_woo_sdk.engines', 'yaml') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_py_typed_ships_with_the_package():
    assert (Path(katana_woo_sdk.__file__).parent / "py.typed").is_file()


def _public(cls):
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and name not in ("__str__",):
            continue
        if inspect.isfunction(member) or isinstance(inspect.getattr_static(cls, name, None), property):
            yield name, member


@pytest.mark.parametrize("name", ["Runner", "Plan", "Report", "Status", "History", "OrderStory", "SkuStory",
                                  "State", "KatanaClient", "WooClient"])
def test_every_public_class_and_method_a_notebook_user_meets_has_a_docstring(name):
    cls = getattr(katana_woo_sdk, name)
    assert inspect.getdoc(cls), f"{name} has no docstring"
    if name in ("State", "KatanaClient", "WooClient"):
        return      # their methods are their owners' (state, clients): the class docstring is checked here
    missing = [m for m, member in _public(cls) if not inspect.getdoc(member) and m not in ("close",)]
    assert not missing, f"{name}: no docstring on {missing}"


def test_help_shows_what_a_result_offers():
    for cls in (katana_woo_sdk.Plan, katana_woo_sdk.Status, katana_woo_sdk.OrderStory):
        text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
        for method in ("to_markdown", "to_html", "to_pandas", "to_records"):
            assert method in text, (cls.__name__, method)
    runner = pydoc.render_doc(katana_woo_sdk.Runner, renderer=pydoc.plaintext)
    for method in ("plan", "apply", "status", "history", "explain_order", "explain_sku", "compare_stock",
                   "move_order"):
        assert f"{method}(" in runner


def test_help_on_the_clients_names_their_namespaces():
    katana = pydoc.render_doc(katana_woo_sdk.KatanaClient, renderer=pydoc.plaintext)
    woo = pydoc.render_doc(katana_woo_sdk.WooClient, renderer=pydoc.plaintext)
    missing = [n for n in ("locations", "variants", "inventory", "sales_orders", "customers", "tax_rates")
               if n not in katana] + [n for n in ("orders", "products", "variations", "stock") if n not in woo]
    assert not missing, f"help() does not name these namespaces: {missing}"
    for namespace in (katana_woo_sdk.KatanaClient("k-not-real", limiter=False).sales_orders,
                      katana_woo_sdk.WooClient("http://127.0.0.1:1", "ck_x", "cs_x").orders):
        assert inspect.getdoc(type(namespace)), type(namespace).__name__
