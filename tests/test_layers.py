"""Imports flow one way: errors/models -> _http -> clients -> config/state -> plan -> render -> engines -> runner -> cli.

A module may import (at module level) only from layers below it; the sandbox imports nothing of the
SDK, so it can never share a bug with the clients it is meant to check.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "katana_woo_sdk"

LAYERS = [
    {"errors", "_views", "_progress"},
    {"models", "ratelimit", "actions"},
    {"_http"},
    {"katana", "woo", "_config_yaml", "_config_schema", "_config_checks", "_config_locations"},
    {"config", "_config_state", "state", "mapping", "locks"},
    {"plan"},
    {"render", "history"},          # rendering imports the data it renders, never the reverse
    {"engines", "contract"},
    {"moves", "conditions", "explain"},
    {"_store_work", "_location_sync"},
    {"runner", "report", "snapshot"},
    {"demo", "rehearsal", "service"},    # service: the long-running loop over the runner
    {"cli", "cli_state", "cli_service", "__main__", "__init__"},  # the package's public face imports from every layer
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:  # module level only: a lazy import inside a function is a deliberate seam
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = (node.module or "").split(".")[0]
            if base:
                found.add(base)
            else:
                found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("katana_woo_sdk"):
            parts = node.module.split(".")
            found.add(parts[1] if len(parts) > 1 else "")
    return found


def _top(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


@pytest.mark.parametrize("path", sorted(p for p in PKG.rglob("*.py") if "sandbox" not in p.parts),
                         ids=lambda p: str(p.relative_to(PKG)))
def test_imports_flow_one_way(path):
    me = _top(path)
    assert me in LEVEL, f"{me} is not placed in a layer: add it to LAYERS where it belongs"
    for imported in _module_imports(path):
        if imported in ("", me) or imported not in LEVEL:
            continue
        assert LEVEL[imported] <= LEVEL[me], f"{path.name} ({me}) imports {imported}, a higher layer"


def test_sandbox_imports_nothing_of_the_sdk():
    for path in (PKG / "sandbox").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                outside = node.level >= 2 or (node.level == 0 and (node.module or "").startswith("katana_woo_sdk")
                                              and not node.module.startswith("katana_woo_sdk.sandbox"))
                assert not outside, f"sandbox/{path.name} imports {'.' * node.level}{node.module} from the SDK"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not (alias.name.startswith("katana_woo_sdk")
                                and not alias.name.startswith("katana_woo_sdk.sandbox")), alias.name
