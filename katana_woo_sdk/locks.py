"""Locks keyed by what a run writes to, not by the state file: one apply per store at a time on
this machine, whatever config or state file another apply uses.

Called by `Runner.apply` (and `move_order`): `store_locks(config, stores, ...)` holds, for each
store, one lock on its natural-key namespace in Katana (the API base URL + `ecommerce_store_name`,
where its sales orders and initial import are keyed) and one on the shop's address (its URL
without the scheme), taken in a fixed order so two runners never deadlock. Two applies with two
state files on one store therefore cannot both look a key up, both find nothing and both create
(measured before this lock: duplicates in 11 of 12 rounds).

The locks are files in one directory per machine user: `$KATANA_WOO_LOCK_DIR`, else
`<tempdir>/katana-woo-locks-<user>` (per user: another user's lock file may not be writable; two
users applying to one store on one machine should point `KATANA_WOO_LOCK_DIR` at a shared place). They are `state.StateLock`s (the kernel releases them when the
holder dies, and a refused runner is told who holds it). Across machines they do nothing; there
every run's duplicate check (`engines.orders.repair_duplicates`) is the safety net.
"""
from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from ._state_lock import StateLock
from .config import Config, StoreConfig
from .errors import StateLockedError

LOCK_DIR_ENV = "KATANA_WOO_LOCK_DIR"


def lock_dir() -> Path:
    path = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / f"katana-woo-locks-{_user()}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_keys(config: Config, store: StoreConfig) -> list[tuple[str, str]]:
    """(lock file stem, what it guards, for messages) for one store."""
    site = store.url.split("://", 1)[-1].lower().rstrip("/")
    keys = [f"katana {config.katana.base_url.rstrip('/')} store {store.ecommerce_store_name}", f"shop {site}"]
    return [(hashlib.sha256(k.encode()).hexdigest()[:32], k) for k in keys]


@contextlib.contextmanager
def store_locks(config: Config, stores: Sequence[StoreConfig], *, timeout: float, owner: str,
                poll_interval: float = 0.05) -> Iterator[None]:
    """Hold every store's locks for the block; StateLockedError (naming the store) if another
    runner holds one longer than `timeout` seconds."""
    wanted: dict[str, tuple[str, str]] = {}
    for store in stores:
        for stem, what in store_keys(config, store):
            wanted.setdefault(stem, (store.name, what))
    directory = lock_dir()
    with contextlib.ExitStack() as stack:
        for stem in sorted(wanted):            # one order for every runner: no deadlock
            name, what = wanted[stem]
            lock = StateLock(directory / f"{stem}.lock", f"{what} ({name})", sleep=_sleep)
            try:
                stack.enter_context(lock.hold(timeout, owner or Path(sys.argv[0] or "python").name,
                                              poll_interval, lambda: datetime.now(timezone.utc)))
            except StateLockedError as exc:
                err = StateLockedError(f"store {name} is being applied by another runner ({exc}); wait for it, or "
                                       f"raise state.lock_timeout_seconds")
                err.holder = getattr(exc, "holder", None)  # type: ignore[attr-defined]
                raise err from None
        yield


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name (a container without a passwd entry): the uid where there is one
        return str(getattr(os, "getuid", lambda: "user")())


def _sleep(seconds: float) -> None:
    import time
    time.sleep(seconds)
