"""Where the tests find the read-only ground truth (`../shared` beside the checkout).

The specs and recordings there come from other projects and are never copied into this repository,
so every test that needs them asks for them here and is skipped, with the reason, where they are absent.
`KATANA_WOO_SHARED` overrides the location (CI lays `shared/` beside the clone, as on a developer machine).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_shared() -> Path | None:
    env = os.environ.get("KATANA_WOO_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared")
    for candidate in candidates:
        if (candidate / "reference").is_dir() or (candidate / "specs").is_dir():
            return candidate
    return None


SHARED: Path | None = _find_shared()


def require_shared(*parts: str) -> Path:
    """Path of a file under ../shared, or skip the calling test saying what is missing."""
    if SHARED is None:
        pytest.skip("../shared (ground-truth specs and recordings) is not beside this checkout; "
                    "set KATANA_WOO_SHARED to its location to run this test")
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{'/'.join(parts)} is missing from ../shared")
    return path
