"""Every error katana_woo_sdk raises, in one tree.

Callers catch the branch they can act on; the HTTP layer (`_http`) builds `ApiError`s from responses,
the config loader raises `ConfigError`, the runner raises `ReconcileError`s::

    KatanaWooError
     ├── ConfigError                  the YAML file is wrong; .issues lists every problem at once
     ├── TransportError               no HTTP answer at all (connect failed, read timed out)
     ├── ApiError                     an HTTP answer that is not a success
     │    ├── AuthError               401 / 403: credentials missing, wrong, or not allowed
     │    ├── NotFoundError           404
     │    ├── RejectedError           400 / 409 / 412 / 413 / 422: the request itself was refused
     │    ├── RateLimitedError        429 (.retry_after)
     │    ├── ServerError             5xx
     │    └── UnexpectedResponseError a non-JSON answer (a host's HTML captcha, a proxy's error page)
     ├── StateError                   the state (SQLite or PostgreSQL) cannot be used
     │    └── StateLockedError        another runner holds the state's or a store's lock
     └── ReconcileError               the runner cannot reconcile a store
          ├── MappingError            its location is unknown, ambiguous, deleted or not for sales
          ├── StaleActionError        a saved plan's precondition no longer holds
          ├── SavedPlanError          a saved plan may not be applied (config changed, applied, too old)
          ├── DeliveryUnconfirmed     a fulfilment create got no clear answer; Katana does not show it delivered
          ├── ProductUnconfirmed      a product create got no clear answer; Katana does not show its SKU
          └── AwaitingProduct         an order needs a product that is not created (or confirmed) yet

Every error's message is safe to log: URLs are sanitised by `_http` before they reach an error,
and no error carries a credential.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = [
    "KatanaWooError", "ConfigIssue", "ConfigError", "TransportError", "ApiError", "AuthError",
    "NotFoundError", "RejectedError", "RateLimitedError", "ServerError", "UnexpectedResponseError",
    "StateError", "StateLockedError", "ReconcileError", "MappingError", "StaleActionError", "SavedPlanError",
    "DeliveryUnconfirmed", "ProductUnconfirmed", "AwaitingProduct",
]

BODY_EXCERPT = 500  # characters of a response body kept on an ApiError


class KatanaWooError(Exception):
    """Base of every error raised by katana_woo_sdk."""

    retryable: bool = False


# --- configuration -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file, located as precisely as the YAML allows."""

    file: str
    line: int | None
    col: int | None
    path: str  # JSON path, "$.stores[1].location"
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.path}: {self.message}"


class ConfigError(KatanaWooError):
    """The configuration is invalid. `issues` holds every problem found, not just the first."""

    def __init__(self, issues: Sequence[ConfigIssue] | str):
        if isinstance(issues, str):
            issues = [ConfigIssue("<config>", None, None, "$", issues)]
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration:"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in self.issues)]))


# --- transport and API ---------------------------------------------------------------------------

class TransportError(KatanaWooError):
    """The request got no HTTP answer.

    `connect_failed` is True when the connection was never made, so the server cannot have acted on
    the request; after a read timeout it may have, and a create must be looked up, not re-sent.
    """

    reason: str  # the cause alone, set by the HTTP layer for its retry log line

    def __init__(self, system: str, method: str, url: str, reason: str, *, connect_failed: bool):
        self.system, self.method, self.url = system, method, url
        self.connect_failed = connect_failed
        self.retryable = True
        kind = "could not connect" if connect_failed else "no answer (timed out or connection dropped)"
        super().__init__(f"{system} {method} {compact_url(url)}: {kind}: {reason}")


class ApiError(KatanaWooError):
    """An HTTP answer that is not a success; built by `ApiError.from_response`.

    `headers` are the answer's headers (its `Link` sanitised, cookies left out) and `request_id`
    the id the API or a proxy in front of it gave the request (`X-Request-Id`, `CF-Ray`, ...):
    quote it to the API's support::

        except ApiError as error:
            error.status, error.code, error.request_id, error.header("X-Ratelimit-Remaining")
    """

    def __init__(self, *, system: str, method: str, url: str, status: int, code: str | None = None,
                 message: str = "", body: str = "", retryable: bool = False, hint: str | None = None,
                 details: Any = None, retry_after: float | None = None,
                 headers: Mapping[str, str] | None = None):
        self.system, self.method, self.url, self.status = system, method, url, status
        self.code, self.api_message, self.body = code, message, body[:BODY_EXCERPT]
        self.retryable, self.hint, self.details = retryable, hint, details
        self.retry_after = retry_after
        self.headers: dict[str, str] = {str(k): str(v) for k, v in (headers or {}).items()
                                        if str(k).lower() not in _PRIVATE_HEADERS}
        self.request_id: str | None = next((self.header(name) for name in REQUEST_ID_HEADERS
                                            if self.header(name)), None)
        text = f"{system} {method} {compact_url(url)} -> {status}"
        if code:
            text += f" {code}"
        if message:
            text += f": {message}"
        if details:
            text += f" {_short(details)}"
        if hint:
            text += f" (hint: {hint})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        super().__init__(text)

    def header(self, name: str) -> str | None:
        """A response header by name, case-insensitively; None when the answer had none."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @classmethod
    def from_response(cls, *, system: str, method: str, url: str, status: int,
                      headers: Mapping[str, str], body: bytes | str,
                      retry_after: float | None = None) -> "ApiError":
        """The right subclass for an unsuccessful answer, with the API's own code and message."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        payload = _parse_json(text, headers)
        kwargs: dict[str, Any] = dict(system=system, method=method, url=url, status=status, body=text,
                                      headers=headers)
        if payload is None:
            if text.strip() or 200 <= status < 300:
                kind = _content_type(headers) or "no content type"
                return UnexpectedResponseError(
                    **kwargs, retryable=status in RETRYABLE_STATUSES,
                    message=f"expected JSON, got {kind} ({_first_words(text)})",
                    hint=_non_json_hint(status, text))
        else:
            code, message, details = _error_fields(system, payload)
            kwargs.update(code=code, message=message, details=details)
        kwargs["hint"] = _hint(system, status, kwargs.get("code"))
        if status in (401, 403):
            return AuthError(**kwargs)
        if status == 404:
            return NotFoundError(**kwargs)
        if status == 429:
            return RateLimitedError(**kwargs, retryable=True, retry_after=retry_after)
        if status >= 500:
            return ServerError(**kwargs, retryable=status in RETRYABLE_STATUSES,
                               retry_after=retry_after if status == 503 else None)
        return RejectedError(**kwargs)


class AuthError(ApiError):
    """401 or 403: the credentials did not arrive, are wrong, or lack a permission."""


class NotFoundError(ApiError):
    """404: no such route or object."""


class RejectedError(ApiError):
    """The request itself was refused (validation, too large, precondition); re-sending it won't help."""


class RateLimitedError(ApiError):
    """429: too many requests. `retry_after` is the server's wait in seconds, when it said one."""


class ServerError(ApiError):
    """5xx: the server failed. After a create, the object may exist anyway: look it up."""


class UnexpectedResponseError(ApiError):
    """An answer that is not the JSON the API speaks: a captcha page, a proxy's error page, a cache."""


RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

# Headers naming the request for the API's support, first found wins: generic, AWS, Cloudflare.
REQUEST_ID_HEADERS = ("X-Request-Id", "Request-Id", "X-Correlation-Id", "X-Amzn-RequestId", "X-Amz-Request-Id",
                      "X-Amz-Cf-Id", "CF-Ray")
_PRIVATE_HEADERS = frozenset({"set-cookie", "cookie", "authorization", "proxy-authorization"})
# An OAuth 1.0a request signed in its query string carries six of these, all REDACTED by `_http`
# before a URL reaches an error: in a message they say nothing but bury the path.
_OAUTH_PARAM = re.compile(r"[?&]oauth_[a-z_]+=REDACTED(?=&|$|#)")


def compact_url(url: str) -> str:
    """`url` without its redacted `oauth_*` parameters (the signature of a plain-http store)."""
    text = _OAUTH_PARAM.sub("", url or "")
    if "?" not in text and "&" in text:
        text = text.replace("&", "?", 1)
    return text


# --- state and reconciling -----------------------------------------------------------------------

class StateError(KatanaWooError):
    """The local state database cannot be used."""


class StateLockedError(StateError):
    """Another runner holds the state lock: two applies on one state must never run at once."""


class ReconcileError(KatanaWooError):
    """A store cannot be reconciled as configured."""


class MappingError(ReconcileError):
    """A store's Katana location cannot be resolved: unknown, ambiguous, deleted or not for sales."""

    def __init__(self, message: str, *, reason: str = "LocationInvalid", choices: Sequence[str] = ()):
        self.reason = reason
        self.choices = tuple(choices)
        super().__init__(message)


class StaleActionError(ReconcileError):
    """An action from a saved plan no longer matches what the systems hold; it must be re-planned."""


class SavedPlanError(ReconcileError):
    """A saved plan may not be applied at all; `reason` is one of "other_config", "config_changed",
    "already_applied", "too_old" (see `contract`)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


# --- helpers -------------------------------------------------------------------------------------

def _content_type(headers: Mapping[str, str]) -> str:
    for key, value in headers.items():
        if key.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _parse_json(text: str, headers: Mapping[str, str]) -> Any:
    ctype = _content_type(headers)
    if ctype and "json" not in ctype:
        return None
    # Plugins put PHP notices or a BOM in front of WooCommerce's JSON; tolerate a BOM only.
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def _error_fields(system: str, payload: Any) -> tuple[str | None, str, Any]:
    if not isinstance(payload, dict):
        return None, _short(payload), None
    if system == "katana":
        # Katana documents {"error": {...}} and its examples are flat; the wire is wrapped (verified
        # live by a third party). Accept both.
        inner = payload.get("error", payload)
        if not isinstance(inner, dict):
            inner = {"message": str(inner)}
        code = inner.get("code") or inner.get("name")
        return (str(code) if code is not None else None, str(inner.get("message", "")),
                inner.get("details"))
    # WooCommerce / WordPress: {"code", "message", "data": {"status", "params", "details"}}
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    details = data.get("params") or data.get("details")
    return payload.get("code"), str(payload.get("message", "")), details


_HINTS = {
    ("woocommerce", 401, "woocommerce_rest_cannot_view"):
        "the credentials never reached WooCommerce's PHP: over plain http Basic auth is ignored "
        "(use https, or OAuth1 for a loopback/test store), or a proxy/Apache stripped the "
        "Authorization header, or the consumer key is unknown",
    ("woocommerce", 401, "woocommerce_rest_authentication_error"):
        "the store recognised the key but refused it: wrong consumer secret, bad OAuth signature, "
        "or a key without read/write permission",
    ("woocommerce", 403, None): "the key's WordPress user lacks the capability for this resource",
    ("woocommerce", 413, None): "a batch holds at most 100 objects (create + update + delete)",
    ("katana", 401, None): "the API key is missing, wrong or revoked, or the Katana plan has no API "
                           "access (Professional plan or higher)",
    ("katana", 429, None): "all stores on one Katana API key share its rate limit",
}


def _hint(system: str, status: int, code: str | None) -> str | None:
    return _HINTS.get((system, status, code)) or _HINTS.get((system, status, None))


def _non_json_hint(status: int, text: str) -> str:
    lowered = text[:2000].lower()
    if "captcha" in lowered or status == 202:
        return "the host's bot protection answered instead of WooCommerce; allow this client's IP"
    if status >= 500:
        return "a proxy or the web server answered with its own error page"
    return "something between this client and the API answered (a cache, a login page, a proxy)"


def _first_words(text: str, limit: int = 80) -> str:
    words = " ".join(text.split())
    return (words[:limit] + "…") if len(words) > limit else (words or "empty body")


def _short(value: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


# --- after the import (`engines.fulfilment`, `engines.products`) ------------------------------------

class DeliveryUnconfirmed(ReconcileError):
    """A fulfilment create got no clear answer (5xx, timeout) and Katana does not show the order
    delivered: not sent again in this run; the delivery stays owed and the next run reads the
    order's status and decides."""


class ProductUnconfirmed(ReconcileError):
    """A product create got no clear answer and Katana does not show its SKU yet: not sent again in
    this run; the next run's lookup finds it or creates it then."""


class AwaitingProduct(ReconcileError):
    """An order's row needs a product whose creation is not confirmed (yet): the order waits (held
    `awaiting_product`)."""
