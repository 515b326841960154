"""A lease: the right of one replica of a long-running service to work, with hot standbys waiting.

Callers: `State.lease(name)` builds one; the coming `katana-woo run` service holds it for as long as
it runs, and tests. The lease is a lock held for a process's lifetime rather than an apply's::

    with State.from_config(config.state) as state:
        lease = state.lease("run", owner="katana-woo run")
        lease.acquire()                 # a standby waits here, for as long as the active replica lives
        while lease.alive():            # before each cycle: never work without the lease
            run_one_cycle()

On PostgreSQL it is a session-level advisory lock on a connection of its own (`state.postgres`): when
the holder dies (kill -9, a crashed pod, a vanished machine after the keepalives' ~25 s) the server
ends its session, the lock is free, and the first standby waiting for it on the server has it at
once. On SQLite it is a file lock beside the state (`<db>.lease-<name>.lock`): standbys on
the same machine only.

What it cannot do: an advisory lock carries no fencing token. A holder whose connection was cut while
its process lives loses the lock without being told; `alive()` asks the server, so a service that
checks it before each cycle (and each write batch) stops within one cycle. The writes it protects are
themselves idempotent by natural keys in Katana, which is what makes that window harmless.
"""
from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import StateError
from .records import LockHolder

log = logging.getLogger(__package__)


class Lease:
    """A named lease on a state: `acquire()`, then `alive()` before each unit of work, `release()`."""

    def __init__(self, lock: Any, name: str, owner: str, now: Callable[[], datetime]):
        self._lock, self.name, self.owner, self._now = lock, name, owner, now
        self._stack: contextlib.ExitStack | None = None
        self.holder: LockHolder | None = None

    def __repr__(self) -> str:
        return f"Lease({self.name!r}, {'held' if self.held else 'not held'})"

    @property
    def held(self) -> bool:
        """Whether `acquire()` succeeded and `release()` has not run (see `alive()` for the server's view)."""
        return self._stack is not None

    def acquire(self, timeout: float | None = None, *, poll_interval: float = 1.0) -> LockHolder:
        """Take the lease, waiting up to `timeout` s (None: as long as it takes, a hot standby).

        Raises StateLockedError naming the holder when `timeout` runs out. A standby takes over as
        soon as the holder's lock is gone (PostgreSQL), or within `poll_interval` s (SQLite).
        """
        if self._stack is not None:
            raise StateError(f"lease {self.name} is held already by this object")
        stack = contextlib.ExitStack()
        wait = math.inf if timeout is None else max(timeout, 0.0)
        self.holder = stack.enter_context(self._lock.hold(wait, self.owner, poll_interval, self._now))
        self._stack = stack
        log.info("lease %s: held by %s", self.name, self.holder.describe())
        return self.holder

    def alive(self) -> bool:
        """Whether the lease is still held, as the lock's store sees it now (False after a lost connection)."""
        return self._stack is not None and self._lock.alive()

    def release(self) -> None:
        """Let the lease go (a standby takes it next); a no-op when not held."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
            log.info("lease %s: released", self.name)

    def __enter__(self) -> Lease:
        if self._stack is None:
            self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()
