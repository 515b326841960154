"""Locks keyed by what a run writes to, not by the state: one apply per store at a time, whatever
config or state another apply uses; on one machine with a SQLite state, on every machine with a
PostgreSQL one.

Called by `Runner.apply` (and `move_order`): `store_locks(config, stores, ...)` holds, for each
store, one lock on its natural-key namespace in Katana (the API base URL + `ecommerce_store_name`,
where its sales orders and initial import are keyed) and one on the shop's address (its URL
without the scheme), taken in a fixed order so two runners never deadlock. Two applies on one store
therefore cannot both look a key up, both find nothing and both create (measured before this lock:
duplicates in 11 of 12 rounds).

Where the locks live follows the config's state:

- `state.url` (PostgreSQL): session-level advisory locks in that database, on one connection of
  this runner's (`state.postgres.AdvisoryLocks`), keyed by a 64-bit hash of the same texts. The
  server releases them when the connection ends, so a killed or vanished runner never leaves one
  behind, and they exclude runners on any machine that point at the same database, whatever their
  schema. A refused runner is told who holds the lock (command, pid and host, from the holder's
  connection).
- `state.path` (SQLite): files in one directory per machine user: `$KATANA_WOO_LOCK_DIR`, else
  `<tempdir>/katana-woo-locks-<user>` (per user: another user's lock file may not be writable; two
  users applying to one store on one machine should point `KATANA_WOO_LOCK_DIR` at a shared place).
  They are `StateLock`s (the kernel releases them when the holder dies, and a refused runner is
  told who holds it). Across machines they do nothing; there every run's duplicate check
  (`engines.duplicates`) is the safety net.
"""
from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from .config import Config, StoreConfig
from .errors import StateLockedError
from .state._filelock import StateLock
from .state.postgres import AdvisoryLocks, PgTarget
from .state.records import LockHolder

LOCK_DIR_ENV = "KATANA_WOO_LOCK_DIR"


def lock_dir() -> Path:
    path = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / f"katana-woo-locks-{_user()}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_keys(config: Config, store: StoreConfig) -> list[tuple[str, str]]:
    """(lock file stem, what it guards, for messages and as the advisory lock's key) for one store."""
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
    owner = owner or Path(sys.argv[0] or "python").name
    now = lambda: datetime.now(timezone.utc)  # noqa: E731
    with contextlib.ExitStack() as stack:
        if config.state.url and wanted:
            session = AdvisoryLocks(PgTarget(config.state.url, config.state.password, config.state.schema), owner)
            stack.callback(session.close)

            def hold(stem: str, label: str) -> contextlib.AbstractContextManager[LockHolder]:
                return session.hold(wanted[stem][1], label, kind="store", timeout=timeout,
                                    poll_interval=poll_interval, now=now)
        else:
            directory = lock_dir()

            def hold(stem: str, label: str) -> contextlib.AbstractContextManager[LockHolder]:
                return StateLock(directory / f"{stem}.lock", label, sleep=time.sleep).hold(
                    timeout, owner, poll_interval, now)
        for stem in sorted(wanted):            # one order for every runner: no deadlock
            name, what = wanted[stem]
            try:
                stack.enter_context(hold(stem, f"{what} ({name})"))
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
