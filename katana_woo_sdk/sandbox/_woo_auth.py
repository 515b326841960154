"""Authentication of the WooCommerce emulator: WC_REST_Authentication as 10.0.2 does it.

Used by `_woo_rest` for every request to /wp-json/wc/v3. The store is served over plain http, so:
* HTTP Basic and `?consumer_key=&consumer_secret=` are only tried when `is_ssl()` — here
  `https_mode` (as if TLS ended in a proxy that tells WordPress). Over plain http they are ignored
  without a word and the request runs unauthenticated (401 `woocommerce_rest_cannot_view`).
  The query parameters win over the header. An unknown key is not an error either; a known key
  with the wrong secret is "Consumer secret is invalid.".
* One-legged OAuth 1.0a (HMAC-SHA1 or HMAC-SHA256), parameters in the query string, a form body or
  an `Authorization: OAuth` header. The signature base string is RFC 5849's over the store URL
  exactly as WooCommerce builds it, `get_home_url(null, $request_path, is_ssl() ? 'https' : 'http')`
  (so the home URL's host and port, whatever Host the request came with), and the request's
  parameters as PHP parsed them (a repeated plain key keeps its last value); the key is `secret&`.
  Then the timestamp must be within 15 minutes of the wall clock (not the emulated business clock:
  clients sign with real time) and the nonce unused for this key.
* The one departure, asked for by the tests and only for hosts declared as aliases of the store
  (`WooEmulator(aliases=...)`): a request arriving under an alias Host is checked against that
  Host, so a client configured with the alias URL authenticates. A real store over plain http would
  refuse it ("Invalid signature"), since `home_url()` does not follow the Host header; a request
  under an undeclared Host gets exactly that.
* A key only allowed to `read` (or `write`) is refused for the other kind of request.
Errors: 401 `woocommerce_rest_authentication_error` / `woocommerce_rest_authentication_missing_parameter`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Callable, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

from oauthlib.oauth1.rfc5849 import signature as rfc5849

from ._server import Request
from ._woo_model import WooError

NONCE_WINDOW = 15 * 60
_REQUIRED = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")


def _auth_error(message: str) -> WooError:
    return WooError("woocommerce_rest_authentication_error", message, 401)


class Authenticator:
    def __init__(self, consumer_key: str, consumer_secret: str, permissions: str, *,
                 store_url: Callable[[], str], https_mode: Callable[[], bool],
                 wall_clock: Callable[[], float] = time.time, aliases: Callable[[], Iterable[str]] = tuple):
        self._key, self._secret, self._permissions = consumer_key, consumer_secret, permissions
        self._store_url, self._https_mode, self._wall_clock = store_url, https_mode, wall_clock
        self._aliases = aliases
        self._nonces: dict[str, float] = {}

    def authenticate(self, request: Request, method: str) -> tuple[bool, WooError | None]:
        """(authenticated, error). An error is what WordPress answers before routing."""
        error: WooError | None = None
        if self._https_mode():
            user, error = self._basic(request)
            if user:
                return True, self._check_permissions(method)
        user, oauth_error = self._oauth(request, method)
        if oauth_error is not None:
            error = oauth_error
        if user:
            return True, self._check_permissions(method)
        return False, error

    def _check_permissions(self, method: str) -> WooError | None:
        if method in ("GET", "HEAD") and self._permissions not in ("read", "read_write"):
            return _auth_error("The API key provided does not have read permissions.")
        if method in ("POST", "PUT", "PATCH", "DELETE") and self._permissions not in ("write", "read_write"):
            return _auth_error("The API key provided does not have write permissions.")
        return None

    # --- HTTP Basic / query string (is_ssl only) -----------------------------------------------

    def _basic(self, request: Request) -> tuple[bool, WooError | None]:
        key, secret = request.arg("consumer_key") or "", request.arg("consumer_secret") or ""
        if not (key and secret):
            key, secret = "", ""
            header = request.headers.get("Authorization") or ""
            if header[:6].lower() == "basic ":
                try:
                    user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    user, password = "", ""
                key, secret = user, password
        if not (key and secret) or key != self._key:
            return False, None   # nothing usable, or an unknown key: silently unauthenticated
        if not hmac.compare_digest(secret.encode(), self._secret.encode()):
            return False, _auth_error("Consumer secret is invalid.")
        return True, None

    # --- OAuth 1.0a one-legged -------------------------------------------------------------------

    def _oauth(self, request: Request, method: str) -> tuple[bool, WooError | None]:
        query = [(k, v) for k, vs in request.query.items() for v in vs]
        form = self._form_params(request)
        # PHP's $_GET/$_POST: the last value of a plain key wins; the header parameters come on top.
        plain = {key: value for key, value in query + form if not key.endswith("]")}
        plain.update(self._header_params(request))
        missing = [name for name in _REQUIRED if not plain.get(name)]
        if len(missing) == len(_REQUIRED):
            return False, None   # not even trying OAuth
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            return False, WooError("woocommerce_rest_authentication_missing_parameter",
                                   f"Missing OAuth {noun} {', '.join(missing)}", 401)
        if plain["oauth_consumer_key"] != self._key:
            return False, _auth_error("Consumer key is invalid.")
        algorithm = plain["oauth_signature_method"]
        if algorithm not in ("HMAC-SHA1", "HMAC-SHA256"):
            return False, _auth_error("Invalid signature - signature method is invalid.")
        provided = plain["oauth_signature"].replace(" ", "+")   # '+' read as a space from a raw query
        pairs = [(k, v) for k, v in plain.items() if k not in ("oauth_signature", "realm")]
        pairs += [(k, v) for k, v in query + form if k.endswith("]")]
        scheme = "https" if self._https_mode() else "http"
        base_uri = rfc5849.base_string_uri(f"{scheme}://{self._signed_host(request)}{request.path}")
        # The stubs narrow both arguments (a literal method, a dict); oauthlib takes any method and
        # (key, value) pairs, repeated keys included, which a signature must cover.
        base_string = rfc5849.signature_base_string(method, base_uri, rfc5849.normalize_parameters(pairs))  # type: ignore[arg-type]
        digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
        # WooCommerce signs with `consumer_secret . '&'`, the secret not percent-encoded.
        expected = base64.b64encode(hmac.new(f"{self._secret}&".encode(), base_string.encode(), digest).digest()).decode()
        if not hmac.compare_digest(expected.encode(), provided.encode()):
            return False, _auth_error("Invalid signature - provided signature does not match.")
        return self._timestamp_and_nonce(plain["oauth_timestamp"], plain["oauth_nonce"])

    def _signed_host(self, request: Request) -> str:
        """host[:port] of the URL the signature must cover: the home URL's, or the request's own
        Host when that names a declared alias."""
        sent = (request.headers.get("Host") or "").strip()
        if sent and urlsplit(f"//{sent}").hostname in {a.lower() for a in self._aliases()}:
            return sent.lower()
        return self._store_url().split("://", 1)[1].rstrip("/")

    def _timestamp_and_nonce(self, timestamp: str, nonce: str) -> tuple[bool, WooError | None]:
        now = self._wall_clock()
        try:
            stamp = int(timestamp)
        except ValueError:
            return False, _auth_error("Invalid timestamp.")
        if stamp < now - NONCE_WINDOW or stamp > now + NONCE_WINDOW:
            return False, _auth_error("Invalid timestamp.")
        for old, seen in list(self._nonces.items()):
            if seen < now - NONCE_WINDOW:
                del self._nonces[old]
        if nonce in self._nonces:
            return False, _auth_error("Invalid nonce - nonce has already been used.")
        self._nonces[nonce] = stamp
        return True, None

    @staticmethod
    def _form_params(request: Request) -> list[tuple[str, str]]:
        content_type = (request.headers.get("Content-Type") or "").lower()
        if request.body and content_type.startswith("application/x-www-form-urlencoded"):
            return parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        return []

    @staticmethod
    def _header_params(request: Request) -> dict[str, str]:
        header = (request.headers.get("Authorization") or "").strip()
        if header[:6].lower() != "oauth ":
            return {}
        params: dict[str, str] = {}
        for part in header[6:].split(","):
            key, _, value = part.strip().partition("=")
            if key:
                params[unquote(key.strip())] = unquote(value.strip().strip('"'))
        return params
