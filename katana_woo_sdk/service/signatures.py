"""Webhook signatures: WooCommerce's and Katana's, verified over the raw body in constant time.

Called by `service.receiver` for every delivery before anything is stored, and by tests. Facts
(shared/reference, and 18 deliveries recorded from a real WooCommerce 10.0.2 store):

* WooCommerce: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(raw body, webhook secret)).
* Katana: `x-sha2-signature` = hex(HMAC-SHA256(raw body, webhook token)); Katana's guide shows no
  prefix, its spec's example has `sha256=`, so an optional `sha256=` is stripped.

The raw bytes are what is signed: the body is never parsed before it verifies. A missing header,
an empty secret or anything that does not decode is simply "not verified" (the caller answers 401).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def woo_signature(body: bytes, secret: str) -> str:
    """The header value WooCommerce sends for `body` (tests and the bench sign with it)."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def katana_signature(body: bytes, token: str) -> str:
    return hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_woo(body: bytes, header: str | None, secret: str | None) -> bool:
    if not header or not secret:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def verify_katana(body: bytes, header: str | None, token: str | None) -> bool:
    if not header or not token:
        return False
    given = header.strip().lower().removeprefix("sha256=")
    expected = hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii"))


__all__ = ["woo_signature", "katana_signature", "verify_woo", "verify_katana"]
