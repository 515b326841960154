"""The HTTP plumbing shared by the sandbox emulators: a threaded server on 127.0.0.1, routing,
fault injection, a request log, and the `/__sandbox__/` admin namespace.

Called by `sandbox.katana_emulator` and `sandbox.woo_emulator`, which register their routes on an
`EmulatorServer`. Nothing here knows either API. The admin namespace is kept apart from the
emulated API on purpose: a client pointed at the sandbox must never be able to reach an admin
route through an API path, and admin calls never appear in the request log that tests count.
"""
from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping, Self
from urllib.parse import parse_qs, urlsplit

ADMIN_PREFIX = "/__sandbox__"
FAULT_HEADER = "X-Sandbox-Fault"


class Headers(dict[str, Any]):
    """Case-insensitive header lookup (keys stored lower-case)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        super().__init__((k.lower(), v) for k, v in items)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass
class Request:
    method: str
    path: str                      # without the query string
    query: dict[str, list[str]]    # repeated keys keep every value, in order
    headers: Headers
    body: bytes
    raw_target: str                # the request target exactly as sent (path + query)
    params: dict[str, str] = field(default_factory=dict)  # named groups of the matched route

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter (PHP and most servers let the last one win)."""
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        """Every value of an array parameter: `a=1&a=2`, `a[]=1&a[]=2` and `a=1,2` alike."""
        values = self.query.get(name, []) + self.query.get(name + "[]", [])
        out: list[str] = []
        for value in values:
            out.extend(v for v in value.split(",") if v != "")
        return out


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: Mapping[str, str] | None = None) -> "Response":
        body = json.dumps(data, separators=(",", ":"), default=str).encode("utf-8")
        merged = {"Content-Type": "application/json; charset=UTF-8"}
        merged.update(headers or {})
        return cls(status, body, merged)


Handler = Callable[[Request], Response]


@dataclass
class Fault:
    """What the next `times` requests matching `method` and `path` (a regex) get instead."""

    method: str
    path: str
    times: int
    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    html: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False  # True: run the real handler first, then answer with the fault (lost reply)

    def matches(self, request: Request) -> bool:
        return (self.method in ("*", request.method)) and re.search(self.path, request.path) is not None


@dataclass(frozen=True)
class LoggedRequest:
    at: datetime
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    route: str   # the route template that served it, e.g. "GET /sales_orders/{id}"
    body: bytes = b""


class _Dropped(Exception):
    """Close the connection without answering."""


class EmulatorServer:
    """A threaded HTTP server on 127.0.0.1 with routes, faults and a request log."""

    def __init__(self, name: str, *, host: str = "127.0.0.1"):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the sandbox listens on loopback only")
        self.name = name
        self._host = host
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._admin: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._lock = threading.RLock()   # guards faults and log; emulators keep their own data lock
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Set before `start()` to serve https, as real stores and Katana do (`sandbox.start(tls=...)`).
        self.tls: ssl.SSLContext | None = None
        self._install_builtin_admin()

    # --- routes ----------------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler, *, name: str | None = None) -> None:
        """Serve `method pattern` (a regex with named groups, anchored) with `handler`."""
        self._routes.append((method, re.compile(f"^{pattern}$"), name or _template(pattern), handler))

    def admin_route(self, method: str, pattern: str, handler: Handler) -> None:
        self._admin.append((method, re.compile(f"^{ADMIN_PREFIX}{pattern}$"), pattern, handler))

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{self.name} is not running")
        host, port = self._httpd.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else 0

    def start(self) -> "EmulatorServer":
        server = self

        class _Handler(_RequestHandler):
            emulator = server

        self._httpd = _Server((self._host, 0), _Handler)
        if self.tls is not None:
            # Each accepted connection's handshake runs in its handler thread, on first read, so a
            # client that stalls mid-handshake never holds up the accept loop.
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sandbox-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # --- faults and log --------------------------------------------------------------------------

    def inject_fault(self, *, method: str = "*", path: str = ".*", times: int = 1, status: int | None = None,
                     delay: float = 0.0, drop: bool = False, html: str | None = None, body: Any = None,
                     headers: Mapping[str, str] | None = None, after: bool = False) -> Fault:
        """The next `times` matching requests get `status` (with `body` or an `html` page), wait
        `delay` seconds, or have their connection dropped. `after=True` lets the request take
        effect first and then loses the answer: the way a create can succeed while the client
        sees a 5xx or a timeout."""
        fault = Fault(method.upper() if method != "*" else "*", path, times, status, delay, drop, html,
                      body, dict(headers or {}), after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Logged API requests (admin calls excluded), optionally filtered by method and path regex."""
        with self._lock:
            log = list(self._log)
        return [r for r in log if (method is None or r.method == method)
                and (path is None or re.search(path, r.path))]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return len(self.requests(method, path))

    def counts_by_route(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.requests():
            out[r.route] = out.get(r.route, 0) + 1
        return out

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # --- dispatch --------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith(ADMIN_PREFIX):
            return self._dispatch(request, self._admin, log=False)
        fault = self._take_fault(request)
        if fault is None:
            return self._dispatch(request, self._routes, log=True)
        if fault.delay:
            time.sleep(fault.delay)
        if fault.after:
            self._dispatch(request, self._routes, log=True)
        elif fault.drop or fault.status is not None or fault.html is not None:
            self._record(request, 0 if fault.drop else (fault.status or 200), "fault")
        if fault.drop:
            raise _Dropped()
        # Injected answers are marked, so schema checks of the emulated API can tell them apart.
        marker = {FAULT_HEADER: "1"}
        if fault.html is not None:
            return Response(fault.status or 200, fault.html.encode(),
                            {"Content-Type": "text/html; charset=UTF-8", **marker, **fault.headers})
        if fault.status is not None:
            body = fault.body if fault.body is not None else {"message": "injected fault"}
            return Response.json(fault.status, body, {**marker, **fault.headers})
        return self._dispatch(request, self._routes, log=True)  # a pure delay

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(request):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, request: Request, table: Iterable[tuple[str, re.Pattern[str], str, Handler]], *,
                  log: bool) -> Response:
        path_matched = False
        for method, pattern, template, handler in table:
            match = pattern.match(request.path)
            if not match:
                continue
            path_matched = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            response = handler(request)
            if log:
                self._record(request, response.status, f"{request.method} {template}")
            return response
        response = self.not_found(request, method_mismatch=path_matched)
        if log:
            self._record(request, response.status, f"{request.method} <unrouted>")
        return response

    def not_found(self, request: Request, *, method_mismatch: bool) -> Response:
        """Emulators override this to answer in their API's own error shape."""
        return Response.json(405 if method_mismatch else 404, {"message": "no route"})

    def _record(self, request: Request, status: int, route: str) -> None:
        with self._lock:
            self._log.append(LoggedRequest(datetime.now(timezone.utc), request.method, request.path,
                                           request.query, status, route, request.body))

    # --- built-in admin routes -------------------------------------------------------------------

    def _install_builtin_admin(self) -> None:
        def get_requests(req: Request) -> Response:
            return Response.json(200, [{"at": r.at.isoformat(), "method": r.method, "path": r.path,
                                        "query": r.query, "status": r.status, "route": r.route}
                                       for r in self.requests()])

        def delete_requests(req: Request) -> Response:
            self.clear_log()
            return Response(204)

        def post_fault(req: Request) -> Response:
            spec = req.json() or {}
            allowed = {"method", "path", "times", "status", "delay", "drop", "html", "body", "headers", "after"}
            unknown = set(spec) - allowed
            if unknown:
                return Response.json(400, {"message": f"unknown fault fields: {sorted(unknown)}"})
            fault = self.inject_fault(**spec)
            return Response.json(201, {"method": fault.method, "path": fault.path, "times": fault.times})

        def delete_faults(req: Request) -> Response:
            self.clear_faults()
            return Response(204)

        self.admin_route("GET", "/requests", get_requests)
        self.admin_route("DELETE", "/requests", delete_requests)
        self.admin_route("POST", "/faults", post_fault)
        self.admin_route("DELETE", "/faults", delete_faults)


class Emulator:
    """Lifecycle shared by the emulators, which keep their `EmulatorServer` in `server`."""

    server: EmulatorServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root: the emulated API below it, admin routes under `/__sandbox__/`."""
        return self.server.base_url


def _template(pattern: str) -> str:
    """'/sales_orders/(?P<id>\\d+)' -> '/sales_orders/{id}' for call counting."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client hanging up is not news
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    emulator: EmulatorServer
    protocol_version = "HTTP/1.1"   # keep-alive, as real servers; every answer has a Content-Length
    # Headers and body go out in two sends; with Nagle on, the delayed ACK stalls every keep-alive
    # answer by ~40 ms.
    disable_nagle_algorithm = True
    server_version = "katana-woo-sandbox"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the emulator keeps its own log
        pass

    def _handle(self) -> None:
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, target.path, parse_qs(target.query, keep_blank_values=True),
                          Headers(self.headers.items()), body, self.path)
        try:
            response = self.emulator.dispatch(request)
        except _Dropped:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        except Exception as exc:  # an emulator bug must show up as a 500, not a hung client
            response = Response.json(500, {"message": f"sandbox error: {type(exc).__name__}: {exc}"})
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle
