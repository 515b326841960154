"""Helpers for the service's tests and bench: a config with webhooks on the sandbox, signed deliveries."""
from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable

import requests

from _harness import config_text
from katana_woo_sdk.config import load_config_text
from katana_woo_sdk.service import Service, ServiceOptions
from katana_woo_sdk.service.signatures import katana_signature, woo_signature

STORES = {"shop-eu": {"location": "Main Warehouse", "webhook_secret_env": "WOO_SHOP_EU_WEBHOOK_SECRET"},
          "shop-us": {"location": "East Coast DC", "webhook_secret_env": "WOO_SHOP_US_WEBHOOK_SECRET"},
          "shop-outlet": {"location": "Main Warehouse", "webhook_secret_env": "WOO_SHOP_OUTLET_WEBHOOK_SECRET"}}


def service_env(sandbox) -> dict[str, str]:
    env = dict(sandbox.env())
    for name, opts in STORES.items():
        env[opts["webhook_secret_env"]] = "whsec-" + name + "-" + secrets.token_hex(8)
    return env


def write_config(sandbox, tmp_path: Path, *, rate: int = 6000, period: float = 60.0, stores=STORES) -> tuple[Path, Any]:
    text = config_text(stores, state_path=tmp_path / "state.sqlite", rate=rate, period=period,
                       extra={"webhooks": {"katana_token_file": "katana-webhook.token"}})
    path = tmp_path / "katana-woo.yaml"
    path.write_text(text)
    env = service_env(sandbox)
    return path, (text, env)


def load(sandbox, tmp_path: Path, **kwargs: Any):
    path, (text, env) = write_config(sandbox, tmp_path, **kwargs)
    return load_config_text(text, filename=str(path), base_dir=tmp_path, env=env), env


class Running:
    """A `Service` whose loop runs in a thread (stopped and closed by `close()`)."""

    def __init__(self, config, *, every: float = 60.0, debounce: float = 0.2, **options: Any):
        self.service = Service(config, ServiceOptions(every=every, listen=("127.0.0.1", 0), debounce=debounce,
                                                      **options))
        self.service.start()
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return self.service.url

    def wait_ready(self, timeout: float = 60) -> None:
        until(lambda: self.service._last_ok is not None, timeout, "the first reconcile")

    def close(self) -> None:
        self.service.stop()
        self.thread.join(60)
        self.service.close()


def until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def post_woo(url: str, store: str, body: Any, secret: str | None, *, topic: str = "order.updated",
             delivery_id: str | None = None, signature: str | None = None) -> requests.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
               "X-WC-Webhook-Resource": topic.split(".")[0], "X-WC-Webhook-Event": topic.split(".")[1],
               "X-WC-Webhook-ID": "1", "X-WC-Webhook-Delivery-ID": delivery_id or secrets.token_hex(16)}
    if signature is not None:
        headers["X-WC-Webhook-Signature"] = signature
    elif secret is not None:
        headers["X-WC-Webhook-Signature"] = woo_signature(raw, secret)
    return requests.post(f"{url}/webhooks/woocommerce/{store}", data=raw, headers=headers, timeout=10)


def post_katana(url: str, event: dict, token: str | None, *, prefix: str = "", retry: int = 0) -> requests.Response:
    raw = json.dumps(event, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["x-sha2-signature"] = prefix + katana_signature(raw, token)
    if retry:
        headers["X-Katana-Retry-Num"] = str(retry)
    return requests.post(f"{url}/webhooks/katana", data=raw, headers=headers, timeout=10)
