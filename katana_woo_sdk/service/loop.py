"""`katana-woo run`: the long-running service. Polling stays the truth; webhooks make it quick.

Called by the CLI (`cli_service`), by tests and by `bench/bench_service.py`::

    with Service(config, ServiceOptions(every=300, listen=("0.0.0.0", 8080))) as service:
        service.run()            # until service.stop() (SIGTERM/SIGINT in the CLI)

What one service does, from start to stop:
* serves the webhook receiver and the health endpoints with waitress (`service.receiver`), on a
  state connection of its own that does nothing but acknowledgements;
* takes the state's lock and holds it for its whole life (a second `run` or an `apply` on the same
  state waits up to `state.lock_timeout_seconds`, then is refused naming this process; with
  `standby`, it waits as long as it takes, ready and receiving meanwhile);
* runs a full reconcile at start (`Runner.apply(full=True)`), then `Runner.apply()` every `every`
  seconds: the batch's own apply, incremental where it can be (full again every
  `reconcile.full_every_hours`), which finds whatever a lost or disabled webhook did not announce;
* between them, drains the inbox (`service.worker`): the deliveries that arrived within `debounce`
  seconds of the first one (and the rest of a burst still arriving, `BURST_HOLD` s at most) are one
  run, focused on the stores and variants they name (`changes.Focus`); WAL checkpoints run here,
  between runs, never inside an acknowledgement;
* on `stop()`: the action in progress finishes and is recorded, every later action of that run is
  skipped and logged as skipped, the run is closed in the run log, the next run is made a full
  one (so nothing skipped is left behind), the lock is released, and `run()` returns.
Every run, event-driven (focused) or not, is the same `Runner.apply` with the same guarantees (exactly once,
locations, blocked stores, reports and the run log), sharing one Katana client and so one rate
budget; nothing of the engines is copied here.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import waitress
import waitress.server   # create_server, which the stubs of the package itself do not list

from ..config import Config, revealed
from ..engines import changes
from ..errors import ConfigError, StateLockedError
from ..katana import KatanaClient
from ..plan import Report
from ..ratelimit import bucket_for_key
from ..runner import Runner
from ..state import State
from ..woo import WooClient
from .metrics import MeteredLimiter, Metrics, metered_session
from .receiver import Health, Receiver
from .webhooks import check_health
from .worker import Worker, wait_debounce

log = logging.getLogger(__name__)

OWNER = "katana-woo run"
BURST_HOLD = 3.0     # seconds a burst may hold the worker back beyond its debounce window
INBOX_KEEP = timedelta(days=7)


@dataclass(frozen=True)
class ServiceOptions:
    """`every`: seconds between reconciles; `listen`: (host, port) of the receiver, None for none
    (port 0: any free port, see `Service.url`); `debounce`: seconds a first event waits for others."""
    every: float = 300.0
    listen: tuple[str, int] | None = None
    debounce: float = 1.0
    threads: int = 8
    standby: bool = False     # wait for the state lock as long as it takes (a hot standby replica)


class Service:
    """One config's continuous sync. `runner=` is a seam for tests (it is not closed here)."""

    def __init__(self, config: Config, options: ServiceOptions = ServiceOptions(), *, progress: bool = False):
        self.config, self.options = config, options
        self.metrics = Metrics()
        self._stop, self._wake = threading.Event(), threading.Event()
        self._stack = contextlib.ExitStack()
        self._server: Any = None
        self._serving: threading.Thread | None = None
        self._lock_held = False
        self._running = False
        self._beat = time.monotonic()
        self._last_ok: float | None = None
        self._interrupted = False
        self._waiting = False
        self._receiver: Receiver | None = None
        self.runner = self._build_runner(progress)
        # The receiver's own connection, used for nothing but the acknowledgements (and the health
        # endpoints' reads): the loop and the worker read and finish the inbox on the runner's, so an
        # acknowledgement never queues behind them, and a WAL checkpoint never runs inside one.
        self.inbox = State.from_config(config.state)
        self.inbox.inbox_defer_checkpoints()
        self.metrics.watch_inbox(self.inbox.inbox_depth)
        self.worker = Worker(self.runner, self.runner.state, self.metrics, self._event_run)

    # --- wiring ----------------------------------------------------------------------------------

    def _build_runner(self, progress: bool) -> Runner:
        c = self.config
        key = c.katana.api_key.reveal() if c.katana.api_key else ""
        if not key:
            raise ConfigError("katana: no API key: set the variable or file the config names")
        bucket = bucket_for_key(key, c.katana.rate_limit.requests, c.katana.rate_limit.period_seconds,
                                base_url=c.katana.base_url)
        katana = KatanaClient(key, base_url=c.katana.base_url, limiter=MeteredLimiter(bucket, self.metrics),
                              session=self._session(c.katana.base_url, "katana"))
        woo = {s.name: WooClient(s.url, revealed(s.consumer_key), revealed(s.consumer_secret),
                                 allow_insecure_http=s.allow_insecure_http, verify=s.verify, name=s.name,
                                 counter=katana.calls, session=self._session(s.url, "woocommerce"))
               for s in c.enabled_stores}
        self._clients: list[KatanaClient | WooClient] = [katana, *woo.values()]
        runner = Runner(c, katana=katana, woo=woo, progress=progress, calls=katana.calls)
        runner.stopping = self._stop.is_set
        return runner

    def _session(self, base_url: str, system: str) -> Any:
        session = metered_session(base_url, self.metrics, system)
        self._stack.callback(session.close)
        return session

    def woo_secret(self, store: str) -> str | None:
        try:
            secret = self.config.store(store).webhook_secret
        except KeyError:
            return None
        return secret.reveal() if secret is not None else None

    def katana_token(self) -> str | None:
        """Katana's webhook token: the file `webhooks.katana_token_file` (written by `webhooks
        install`), else the variable `webhooks.katana_token_env`; read on each delivery, so an
        install while the service runs takes effect at once."""
        hooks = self.config.webhooks
        if hooks.katana_token_file is not None:
            path = Path(hooks.katana_token_file)
            try:
                return path.read_text(encoding="utf-8").strip() or None
            except OSError:
                pass
        return hooks.katana_token.reveal() if hooks.katana_token is not None else None

    # --- life --------------------------------------------------------------------------------------

    def start(self) -> "Service":
        """Start the receiver, then take the state lock (waiting `state.lock_timeout_seconds`; with
        `standby`, as long as it takes, until `stop()`). The receiver answers while this waits: a
        standby's deliveries go to the inbox in the shared state, which the holder drains."""
        if self.options.listen is not None and self._server is None:
            self._listen()
        timeout = self.config.state.lock_timeout_seconds
        self._waiting = self.options.standby
        try:
            while True:
                try:
                    self._stack.enter_context(self.runner.state.lock(
                        timeout=min(timeout, 5.0) if self.options.standby else timeout, owner=OWNER))
                    break
                except StateLockedError as exc:
                    if not self.options.standby:
                        raise
                    if self._stop.is_set():
                        return self              # stopped while standing by: nothing held, nothing to do
                    log.info("standby: %s; waiting", exc)
        finally:
            self._waiting = False
        self.runner.state_lock_held = self._lock_held = True
        return self

    @property
    def holds_lock(self) -> bool:
        """Whether this service holds the state lock (False before `start()` and for a standby
        stopped before it took over)."""
        return self._lock_held

    def _listen(self) -> None:
        if self.options.listen is not None:
            host, port = self.options.listen
            # waitress warns of a non-empty task queue on every request that finds one: under a burst,
            # a line per delivery, written by the thread that accepts the connections. Its errors stay.
            logging.getLogger("waitress.queue").setLevel(logging.ERROR)
            app = self._receiver = Receiver(inbox=self.inbox, woo_secret=self.woo_secret, katana_token=self.katana_token,
                           metrics=self.metrics, wake=self._wake.set, health=self.health)
            channels: dict[int, Any] = {}
            self._server = waitress.server.create_server(app, map=channels, host=host, port=port,
                                                  threads=self.options.threads, ident="katana-woo")
            self._serving = threading.Thread(target=self._serve, args=(channels,), name="katana-woo-receiver",
                                             daemon=True)
            self._serving.start()
            log.info("receiver listening on %s", self.url)

    def _serve(self, channels: dict[int, Any]) -> None:
        # waitress's own run() cannot be stopped from another thread without racing its select();
        # its loop is stepped here instead, and the sockets are closed in this thread.
        server = self._server
        while not self._stop.is_set() or self._running or self._waiting:
            server.asyncore.loop(timeout=0.2, map=channels, use_poll=server.adj.asyncore_use_poll, count=1)
        server.task_dispatcher.shutdown()
        server.close()
        for channel in list(channels.values()):
            channel.close()

    @property
    def url(self) -> str | None:
        """The receiver's base URL (`http://host:port`), None without `listen`."""
        if self._server is None:
            return None
        host = self.options.listen[0] if self.options.listen else "127.0.0.1"
        return f"http://{host if host not in ('0.0.0.0', '') else '127.0.0.1'}:{self._server.effective_port}"

    def stop(self) -> None:
        """Ask the service to stop: the current action finishes, the rest of its run is skipped."""
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        """The loop, until `stop()`; starts the service first if `start()` was not called."""
        if not self._lock_held:
            self.start()
        self._running = True
        try:
            self._reconcile(full=True)
            next_at = time.monotonic() + self.options.every
            while not self._stop.is_set():
                self._beat = time.monotonic()
                pending = self.runner.state.inbox_pending(1)
                if pending:
                    if wait_debounce(pending[0].received_at, self.options.debounce, self._stop.wait) \
                            and self._wait_out_burst():
                        self._drain()
                    continue
                if time.monotonic() >= next_at:
                    self._reconcile(full=False)
                    next_at = time.monotonic() + self.options.every
                    continue
                self._wake.wait(timeout=max(0.05, min(1.0, next_at - time.monotonic())))
                self._wake.clear()
        finally:
            self._running = False
            if self._interrupted:
                # Actions were skipped: the next run (this service's or an apply's) reads everything.
                self.runner.state.set_cursor(changes.ACCOUNT, changes.LAST_FULL, None)
                log.info("stopped in the middle of a run: the next run is a full one")

    def _wait_out_burst(self) -> bool:
        """While deliveries keep arriving (a burst: a bulk edit, a sender catching up), wait until
        none came for one debounce window, `BURST_HOLD` s at most: the burst becomes one run, and
        the work does not take the interpreter from the acknowledgements meanwhile. False if
        stopping was asked."""
        if self._receiver is None:
            return True
        window = max(self.options.debounce, 0.05)
        limit = time.monotonic() + BURST_HOLD
        while True:
            now = time.monotonic()
            quiet = now - self._receiver.last_delivery
            if quiet >= window or now >= limit:
                return True
            if self._stop.wait(min(window - quiet, limit - now)):
                return False

    def _drain(self) -> None:
        result = self.worker.drain()
        self.runner.state.inbox_checkpoint()      # the receiver's connection leaves it to us
        if result.failed:
            attempts = max((e.attempts for e in self.runner.state.inbox_pending(50)), default=1)
            delay = min(60.0, 2.0 ** min(attempts, 6))
            log.warning("event run failed (%s); trying again in %.0f s", result.failed, delay)
            self._stop.wait(delay)

    def _apply(self, kind: str, *, full: bool, stores: list[str] | None = None,
               focus: changes.Focus | None = None) -> Report:
        report = self.runner.apply(full=full, stores=stores, focus=focus)
        if self._stop.is_set():
            self._interrupted = True
        self.metrics.observe_report(report, kind)
        if not report.has_failures:
            self._last_ok = time.monotonic()
        return report

    def _event_run(self, stores: list[str] | None, focus: changes.Focus | None) -> Report:
        return self._apply("event", full=False, stores=stores, focus=focus)

    def _reconcile(self, *, full: bool) -> None:
        started = datetime.now(timezone.utc)
        try:
            report = self._apply("full" if full else "interval", full=full)
        except Exception as exc:   # the loop outlives one failed run; the next interval tries again
            log.error("reconcile failed: %s", exc)
            return
        if not report.has_failures:
            # What was waiting before this run started is what the run read: covered, not to repeat.
            covered = [e.id for e in self.runner.state.inbox_pending(100_000) if e.received_at < started]
            if covered:
                run = self.runner.state.runs(limit=1)
                self.runner.state.inbox_finish(covered, f"covered by reconcile run {run[0].id if run else '?'}")
        try:
            check_health(self.config, self.runner.woo, self.runner.state, base_url=None)
        except Exception as exc:  # webhook health is reported, never a reason to stop syncing
            log.warning("webhook health check failed: %s", exc)
        self.runner.state.inbox_prune(INBOX_KEEP)
        self.runner.state.inbox_checkpoint()

    def health(self) -> Health:
        now = time.monotonic()
        if self._waiting:        # a hot standby: healthy and ready, waiting for the lock
            return Health(True, not self._stop.is_set(), {"lock_held": False, "standby": True,
                                                          "stopping": self._stop.is_set(),
                                                          "inbox_depth": self.inbox.inbox_depth()})
        alive = self._running and (now - self._beat) < self.options.every + 900
        recent = self._last_ok is not None and (now - self._last_ok) < 2 * self.options.every + 60
        ready = self._lock_held and recent and not self._stop.is_set()
        return Health(alive, ready, {"lock_held": self._lock_held, "stopping": self._stop.is_set(),
                                     "last_reconcile_age_seconds": None if self._last_ok is None
                                     else round(now - self._last_ok, 1),
                                     "inbox_depth": self.inbox.inbox_depth()})

    def close(self) -> None:
        self.stop()
        if self._serving is not None:
            self._serving.join(5)
        self.runner.state_lock_held = self._lock_held = False
        for client in self._clients:
            client.close()
        self._stack.close()
        self.runner.close()
        self.inbox.close()

    def __enter__(self) -> "Service":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def parse_every(text: str) -> float:
    """`90`, `30s`, `5m`, `1h` -> seconds (> 0)."""
    text = str(text).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    factor = units.get(text[-1:], None)
    number = text[:-1] if factor else text
    try:
        value = float(number) * (factor or 1)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (try 30s, 5m, 1h)") from None
    if value <= 0:
        raise ValueError(f"a duration must be > 0, not {text!r}")
    return value


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen wants HOST:PORT, not {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


__all__ = ["Service", "ServiceOptions", "parse_every", "parse_listen", "OWNER"]
