"""The state's lock: the exclusive right to apply, across processes, and who holds it.

Callers: `state` only. Each `State` owns a `StateLock` and hands out `StateLock.hold` from its public
`lock()`; `state` re-exports `LockHolder`, which `StateLockedError.holder` carries to the runner.

An flock on `<db>.lock`, which the kernel releases if the holder dies: it is never stale. The holder
writes who it is into the file (pid, host, start, command *without* arguments: the file is
world-readable) so that a refused runner can name it. An in-memory state has no file; its lock is a
`threading.Lock` that excludes within that one State. Log records go to the `katana_woo_sdk.state`
logger, like the rest of the state.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from ._state_rows import _iso
from .errors import StateLockedError

log = logging.getLogger(f"{__package__}.state")


@dataclasses.dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) the state lock."""
    pid: int
    host: str
    started_at: datetime | None
    command: str

    def describe(self) -> str:
        since = f" since {self.started_at.isoformat(timespec='seconds')}" if self.started_at else ""
        return f"pid {self.pid} on {self.host} ({self.command or 'unknown command'}){since}"


class StateLock:
    """The lock of one State: an flock on `path`, or (`path` None) a lock within this object only.

    `name` is the state as messages show it; `sleep` is what `hold(timeout=...)` waits with between
    attempts (a seam for tests). Not re-entrant.
    """

    def __init__(self, path: Path | None, name: str, *, sleep: Callable[[float], None]):
        self._path, self._name, self._sleep = path, name, sleep
        self._memory_lock = threading.Lock()  # what hold() takes for an in-memory state
        self._memory_holder: LockHolder | None = None

    @contextlib.contextmanager
    def hold(self, timeout: float, owner: str, poll_interval: float,
             now: Callable[[], datetime]) -> Iterator[LockHolder]:
        """Take the lock, trying every `poll_interval` s for up to `timeout` s, else StateLockedError."""
        me = LockHolder(os.getpid(), socket.gethostname(), now(), owner)
        deadline = time.monotonic() + max(timeout, 0.0)
        if self._path is None:
            while not self._memory_lock.acquire(blocking=False):
                self._wait_or_raise(deadline, poll_interval, self._memory_holder)
            self._memory_holder = me
            try:
                yield me
            finally:
                self._memory_holder = None
                self._memory_lock.release()
            return
        # No O_TRUNC: truncating before we hold the lock would erase the holder's info.
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    self._wait_or_raise(deadline, poll_interval, _read_holder(fd))
            try:
                info = {"pid": me.pid, "host": me.host, "started_at": _iso(me.started_at), "command": owner}
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
                log.debug("state %s: locked by %s", self._name, me.describe())
                yield me
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _wait_or_raise(self, deadline: float, poll_interval: float, holder: LockHolder | None) -> None:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            self._sleep(min(poll_interval, remaining))
            return
        by = f"by {holder.describe()}" if holder else "by another runner (holder not yet known)"
        err = StateLockedError(f"state {self._name} is locked {by}; wait for it to finish, or retry "
                               f"with a longer timeout")
        err.holder = holder  # type: ignore[attr-defined]
        raise err


def _read_holder(fd: int) -> LockHolder | None:
    """The holder's info from the lock file; None until the holder has written it."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "null")
        started = info.get("started_at")
        return LockHolder(int(info["pid"]), str(info["host"]),
                          datetime.fromisoformat(started) if started else None, str(info.get("command", "")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
