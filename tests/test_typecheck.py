"""The package type-checks: `mypy` with the repository's configuration (setup.cfg `[mypy]`: strict,
on `katana_woo_sdk`) finds no error.

Run from the repository root, so mypy reads setup.cfg and keeps its incremental cache in
`.mypy_cache/` (ignored by git): a first run checks everything (well under a minute), later ones
only what changed.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_package_passes_mypy_strict() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it comes with the test extra: pip install .[test])")
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"),
                           "--no-color-output", "--no-error-summary"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        errors = [line for line in done.stdout.splitlines() if ": error:" in line]
        shown = errors or done.stdout.splitlines()[-20:]
        pytest.fail(f"mypy found {len(errors)} error(s) in katana_woo_sdk/ (exit {done.returncode}):\n"
                    + "\n".join(shown) + (f"\n{done.stderr.strip()}" if done.stderr.strip() else ""),
                    pytrace=False)
