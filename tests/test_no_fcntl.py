"""Every module of the package imports where `fcntl` does not exist (Windows, where many analysts run
Jupyter). A child process makes `import fcntl` fail, as it fails there, then imports every module
that pkgutil finds in the package, the sandbox included.

filelock then has no flock and falls back to its soft lock, which the state lock refuses: the child
also checks that taking a lock there fails with a StateError that says why, rather than an import
error or a lock that could go stale. On real Windows, filelock locks with LockFileEx instead.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import importlib, pkgutil, sys, tempfile, warnings
    from pathlib import Path

    sys.modules["fcntl"] = None              # `import fcntl` now raises ImportError, as on Windows
    warnings.simplefilter("error")           # as the test suite runs: any other warning fails
    # filelock says so, truthfully, on a POSIX system without fcntl (not on Windows: it has LockFileEx).
    warnings.filterwarnings("ignore", message="only soft file lock is available", category=UserWarning)

    import katana_woo_sdk

    def fail(name):
        raise ImportError(f"pkgutil could not import {name}")

    names = ["katana_woo_sdk"] + [m.name for m in pkgutil.walk_packages(
        katana_woo_sdk.__path__, "katana_woo_sdk.", onerror=fail)]
    for name in names:
        importlib.import_module(name)
    assert "fcntl" not in {m.__name__ for m in sys.modules.values() if m is not None}

    from katana_woo_sdk.errors import StateError
    from katana_woo_sdk.state import State
    with tempfile.TemporaryDirectory() as tmp, State(Path(tmp, "kw.db")) as state:
        try:
            with state.lock():
                raise SystemExit("took a lock without an OS file lock")
        except StateError as exc:
            assert "no OS file lock" in str(exc), exc
    print("\\n".join(names))
""")


def test_every_module_imports_without_fcntl(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # this checkout, whatever is installed
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    imported = set(done.stdout.split())
    assert imported == _modules_on_disk(), "pkgutil should find exactly the modules on disk"
    assert {"katana_woo_sdk.runner", "katana_woo_sdk.cli", "katana_woo_sdk.state._filelock"} <= imported


def _modules_on_disk() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "katana_woo_sdk").rglob("*.py"):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names
