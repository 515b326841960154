"""A cross-process lock on a file, and who holds it: the exclusive right to apply, on one machine.

Callers: `state.sqlite`, whose every SQLite `State` owns a `StateLock` on `<db>.lock` and hands out
`StateLock.hold` from the public `State.lock()` and `State.lease()`, and `locks`, which takes one per
store in a shared lock directory (`kind="store"`) when the state is SQLite. `StateLockedError.holder`
carries a `LockHolder` to the runner. Nothing here knows about SQLite: the same class locks any path.
A PostgreSQL state locks with advisory locks instead (`state.postgres`), which work across machines.

Two files, side by side:

- `path` (`<db>.lock`) is the lock. It is an OS lock taken through `filelock`: `fcntl.flock` on
  POSIX, `LockFileEx` on Windows. The OS releases it when the holder's process dies, so it is
  never stale. Its content means nothing. filelock may truncate it, Windows may refuse to read it
  while it is locked, and filelock may delete it on release there.
- `<path>.holder` (`<db>.lock.holder`) says who holds the lock, as JSON: pid, host, start, and the
  command *without* its arguments, since the file is world-readable. The holder writes it right
  after taking the lock and removes it just before letting go, so a refused process can name the
  holder. It is advisory, because it is read without the lock. It may be missing ("holder not yet
  known"). For an instant after a holder was killed, before the next holder writes its own, it may
  still name the dead one.

filelock's soft lock (a marker file that a crash leaves behind) is never used. Where the OS offers
no file lock (no `fcntl.flock` on this platform, or a filesystem without flock), `hold` raises
StateError instead of taking a lock that could go stale.

An in-memory lock (`path` None) is a `threading.Lock` that excludes within that one object. Log
records go to the `katana_woo_sdk.state` logger, like the rest of the state.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

# Windows has no fcntl. filelock picks the OS lock at import: flock on POSIX, LockFileEx on Windows.
import filelock

from ..errors import StateError, StateLockedError
from ._rows import _iso
from .records import LockHolder

log = logging.getLogger(__package__)

HOLDER_SUFFIX = ".holder"


class StateLock:
    """An OS file lock on `path`, with the holder's info beside it; or (`path` None) a lock within this
    object only.

    `name` is what messages call the locked thing (the state's path, a store's name), and `kind` is
    what it is ("state", "store"). `sleep` is what `hold(timeout=...)` waits with between attempts,
    a seam for tests. The lock's directory is created if missing. Not re-entrant: a second `hold` on
    the same object, or on another object for the same path, is refused like another process's.
    """

    def __init__(self, path: str | os.PathLike[str] | None, name: str, *,
                 sleep: Callable[[float], None], kind: str = "state"):
        self._path = None if path is None else Path(path)
        self._name, self._sleep, self._kind = name, sleep, kind
        self._memory_lock = threading.Lock()  # what hold() takes for an in-memory lock
        self._memory_holder: LockHolder | None = None

    @property
    def path(self) -> Path | None:
        """The lock file, or None for an in-memory lock."""
        return self._path

    @property
    def holder_path(self) -> Path | None:
        """The file naming the holder, beside the lock file: `<path>.holder`."""
        return None if self._path is None else self._path.with_name(self._path.name + HOLDER_SUFFIX)

    def alive(self) -> bool:
        """Whether a lock taken by `hold` is still held: yes while its `with` lasts, since only the
        holder's death releases an OS file lock (a `Lease` asks; a PostgreSQL lock can be lost)."""
        return True

    @contextlib.contextmanager
    def hold(self, timeout: float, owner: str, poll_interval: float,
             now: Callable[[], datetime]) -> Iterator[LockHolder]:
        """Take the lock, trying every `poll_interval` s for up to `timeout` s, else StateLockedError.

        `owner` is the command without its arguments; `now` stamps the holder's start.
        """
        me = LockHolder(os.getpid(), socket.gethostname(), now(), owner)
        deadline = time.monotonic() + max(timeout, 0.0)
        if self._path is None:
            while not self._memory_lock.acquire(blocking=False):
                self._wait_or_raise(deadline, poll_interval, lambda: self._memory_holder)
            self._memory_holder = me
            try:
                yield me
            finally:
                self._memory_holder = None
                self._memory_lock.release()
            return
        lock = self._os_lock()
        while not self._try_acquire(lock):
            self._wait_or_raise(deadline, poll_interval, self._read_holder)
        try:
            self._write_holder(me)
            log.debug("%s %s: locked by %s", self._kind, self._name, me.describe())
            yield me
        finally:
            try:
                self._clear_holder()  # before letting go, so that it never erases the next holder's
            finally:
                lock.release()

    # -- the OS lock ------------------------------------------------------------------------------

    def _os_lock(self) -> filelock.BaseFileLock:
        cls = filelock.FileLock
        if not issubclass(cls, (filelock.UnixFileLock, filelock.WindowsFileLock)):
            raise StateError(f"{self._kind} {self._name}: this platform has no OS file lock (neither "
                             f"fcntl.flock nor LockFileEx), and a soft lock could go stale after a crash")
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # A fresh object per hold(): filelock's objects are re-entrant, this lock must not be.
        # thread_local=False: the thread that leaves the `with` may not be the one that entered it.
        return cls(self._path, thread_local=False, fallback_to_soft=False)

    def _try_acquire(self, lock: filelock.BaseFileLock) -> bool:
        try:
            lock.acquire(blocking=False)
            return True
        except filelock.Timeout:  # held by another process, or by another object in this one
            return False
        except (OSError, NotImplementedError) as exc:  # filelock.Timeout is an OSError: caught above
            raise StateError(f"{self._kind} {self._name}: cannot take the lock {self._path}: {exc}") from exc

    # -- the holder file --------------------------------------------------------------------------

    def _write_holder(self, me: LockHolder) -> None:
        """Write who holds the lock: a new file moved into place, so readers see all of it or none."""
        assert self.holder_path is not None
        assert me.started_at is not None  # our own holder always has its start time
        text = json.dumps({"pid": me.pid, "host": me.host, "started_at": _iso(me.started_at),
                           "command": me.command}) + "\n"
        staged = self.holder_path.with_name(f"{self.holder_path.name}.{me.pid}.tmp")
        try:
            staged.write_text(text, encoding="utf-8")
            os.replace(staged, self.holder_path)
        except OSError as exc:
            # Windows refuses to replace a file that a refused process has open at this instant:
            # write it in place instead. Holder info is advisory: the lock is held either way.
            log.debug("%s %s: writing holder info in place (%s)", self._kind, self._name, exc)
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.holder_path.write_text(text, encoding="utf-8")

    def _clear_holder(self) -> None:
        assert self.holder_path is not None
        try:
            self.holder_path.unlink(missing_ok=True)
        except OSError:  # Windows: a refused process is reading it right now; empty reads as unknown
            with contextlib.suppress(OSError):
                self.holder_path.write_text("", encoding="utf-8")

    def _read_holder(self) -> LockHolder | None:
        """The holder's info; None while it is unknown (not yet written, just removed, unreadable)."""
        assert self.holder_path is not None
        try:
            info = json.loads(self.holder_path.read_text(encoding="utf-8") or "null")
            started = info.get("started_at")
            return LockHolder(int(info["pid"]), str(info["host"]),
                              datetime.fromisoformat(started) if started else None,
                              str(info.get("command", "")))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def _wait_or_raise(self, deadline: float, poll_interval: float,
                       holder_now: Callable[[], LockHolder | None]) -> None:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            self._sleep(min(poll_interval, remaining))
            return
        holder = holder_now()  # read only when refusing: it names whoever holds the lock by then
        by = f"by {holder.describe()}" if holder else "by another runner (holder not yet known)"
        err = StateLockedError(f"{self._kind} {self._name} is locked {by}; wait for it to finish, or retry "
                               f"with a longer timeout")
        err.holder = holder  # type: ignore[attr-defined]
        raise err
