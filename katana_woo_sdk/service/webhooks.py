"""`katana-woo webhooks install|status|uninstall`: the webhooks `katana-woo run` listens to.

Called by `cli_service` and by `service.loop` (`check_health` after each reconcile). Through the
real APIs (`WooClient.request`, `KatanaClient.http`), idempotently:

* WooCommerce, per store with `webhook_secret_env`: one webhook per topic (`order.created`,
  `order.updated`, `order.deleted`, `order.restored`) named `katana-woo <topic>`, delivering to
  `<URL>/webhooks/woocommerce/<store>`, with the store's secret. Install creates the missing ones
  and updates the others (URL, secret, `status: active`: this is also how a webhook WooCommerce
  disabled after failed deliveries is re-enabled).
* Katana: one webhook to `<URL>/webhooks/katana` for the sales order and inventory events. The
  token Katana returns is written to `webhooks.katana_token_file` (mode 0600), or checked against
  `webhooks.katana_token_env`; it is never printed or logged.

A WooCommerce webhook disables itself after more than 5 failed deliveries in a row and tells no one
(recorded from a real store); only reading it shows it. `check_health` reads them and records the
`WebhooksHealthy` condition per store, with the fix; the service keeps syncing by polling meanwhile.
A stock WordPress refuses to deliver to loopback and private addresses and to ports other than 80,
443 and 8080 (`wp_safe_remote_post`): the URL must be public.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config import Config, StoreConfig
from ..errors import KatanaWooError
from ..state import State
from .events import KATANA_EVENTS, WOO_TOPICS

log = logging.getLogger(__name__)

NAME_PREFIX = "katana-woo "
KATANA_DESCRIPTION = "katana-woo run"
CONDITION = "WebhooksHealthy"


@dataclass(frozen=True)
class WebhookRow:
    """One webhook as a system shows it."""
    system: str             # "woocommerce" | "katana"
    store: str              # "" for Katana
    id: int
    topic: str              # Woo topic, or Katana's events joined by ","
    status: str             # Woo: active | paused | disabled; Katana: enabled | disabled
    url: str
    action: str = ""        # what install/uninstall did: created, updated, unchanged, deleted


@dataclass(frozen=True)
class WebhooksReport:
    """What `install`, `status` or `uninstall` found or did; `problems` make the command exit 1."""
    command: str
    rows: tuple[WebhookRow, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def __str__(self) -> str:
        lines = [f"webhooks {self.command}:"]
        for r in self.rows:
            where = r.store or "katana"
            lines.append(f"  {where:<14} {r.topic:<40} {r.status:<9} {r.url}" + (f"  ({r.action})" if r.action else ""))
        if not self.rows:
            lines.append("  (none)")
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "rows": [r.__dict__ for r in self.rows], "problems": list(self.problems),
                "notes": list(self.notes), "exit_code": self.exit_code}


def woo_delivery_url(base: str, store: str) -> str:
    return f"{base.rstrip('/')}/webhooks/woocommerce/{store}"


def katana_delivery_url(base: str) -> str:
    return f"{base.rstrip('/')}/webhooks/katana"


def _woo_hooks(client: Any) -> list[Mapping[str, Any]]:
    hooks: list[Mapping[str, Any]] = []
    for page in range(1, 20):
        batch = client.request("GET", "webhooks", params={"per_page": 100, "page": page}).data or []
        hooks.extend(h for h in batch if str(h.get("name", "")).startswith(NAME_PREFIX))
        if len(batch) < 100:
            break
    return hooks


def _katana_hooks(katana: Any, url: str | None) -> list[Mapping[str, Any]]:
    data = katana.http.get("/webhooks", {"limit": 250}).data
    rows = data.get("data", []) if isinstance(data, dict) else list(data or [])
    return [h for h in rows if (url is None and h.get("description") == KATANA_DESCRIPTION) or h.get("url") == url]


def install(config: Config, katana: Any, woo: Mapping[str, Any], url: str) -> WebhooksReport:
    rows: list[WebhookRow] = []
    problems: list[str] = []
    for store in config.enabled_stores:
        if not store.webhook_secret_env:
            continue
        if store.webhook_secret is None:
            problems.append(f"{store.name}: the variable {store.webhook_secret_env} (webhook_secret_env) is not set")
            continue
        try:
            rows += _install_woo(store, woo[store.name], url)
        except KatanaWooError as exc:
            problems.append(f"{store.name}: {exc}")
    try:
        row, problem = _install_katana(config, katana, url)
        if row is not None:
            rows.append(row)
        if problem:
            problems.append(problem)
    except KatanaWooError as exc:
        problems.append(f"katana: {exc}")
    notes = []
    if any(h in url for h in ("127.", "localhost", "://10.", "://192.168.", "[::1]")):
        notes.append("a stock WordPress refuses to deliver to loopback and private addresses (and to ports other "
                     "than 80, 443 and 8080): use a public URL for real stores")
    return WebhooksReport("install", tuple(rows), tuple(problems), tuple(notes))


def _install_woo(store: StoreConfig, client: Any, base: str) -> list[WebhookRow]:
    target = woo_delivery_url(base, store.name)
    secret = store.webhook_secret.reveal() if store.webhook_secret else ""
    existing = {h.get("topic"): h for h in _woo_hooks(client)}
    rows = []
    for topic in WOO_TOPICS:
        body = {"name": NAME_PREFIX + topic, "topic": topic, "delivery_url": target, "secret": secret,
                "status": "active"}
        hook = existing.get(topic)
        if hook is None:
            made = client.request("POST", "webhooks", json=body, creates=True).data
            action = "created"
        else:
            made = client.request("PUT", f"webhooks/{int(hook['id'])}", json=body).data
            action = "re-enabled" if hook.get("status") != "active" else "updated"
        rows.append(WebhookRow("woocommerce", store.name, int(made["id"]), topic, str(made.get("status")),
                               str(made.get("delivery_url")), action))
    return rows


def _install_katana(config: Config, katana: Any, base: str) -> tuple[WebhookRow | None, str | None]:
    hooks = config.webhooks
    if hooks.katana_token_file is None and hooks.katana_token_env is None:
        return None, None          # Katana's events are not wanted: the service polls Katana only
    target = katana_delivery_url(base)
    found = _katana_hooks(katana, target) or _katana_hooks(katana, None)
    body = {"url": target, "enabled": True, "subscribed_events": list(KATANA_EVENTS),
            "description": KATANA_DESCRIPTION}
    if found:
        hook = found[0]
        made = katana.http.request("PATCH", f"/webhooks/{int(hook['id'])}", json=body).data
        action = "updated"
    else:
        made = katana.http.request("POST", "/webhooks", json=body, creates=True).data
        action = "created"
    token = str(made.get("token") or "")
    problem = None
    if hooks.katana_token_file is not None:
        _write_secret(Path(hooks.katana_token_file), token)
    elif hooks.katana_token is None or hooks.katana_token.reveal() != token:
        problem = (f"katana: the webhook's token is not the value of {hooks.katana_token_env}: set that variable "
                   f"to the token Katana shows for webhook {made.get('id')} (or use webhooks.katana_token_file)")
    return WebhookRow("katana", "", int(made["id"]), ",".join(made.get("subscribed_events") or ()),
                      "enabled" if made.get("enabled") else "disabled", str(made.get("url")), action), problem


def _write_secret(path: Path, value: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8").strip() == value:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)


def status(config: Config, katana: Any, woo: Mapping[str, Any], state: State | None,
           url: str | None = None) -> WebhooksReport:
    """Each webhook's health; with a state, records `WebhooksHealthy` per store."""
    rows: list[WebhookRow] = []
    problems: list[str] = []
    for store in config.enabled_stores:
        if not store.webhook_secret_env:
            continue
        try:
            found, problem = _store_health(store, woo[store.name], url)
        except KatanaWooError as exc:
            found, problem = [], f"{store.name}: cannot read its webhooks: {exc}"
        rows += found
        if problem:
            problems.append(problem)
        if state is not None:
            _record(config, state, store, problem)
    if config.webhooks.katana_token_file is not None or config.webhooks.katana_token_env is not None:
        try:
            hooks = _katana_hooks(katana, katana_delivery_url(url) if url else None)
            rows += [WebhookRow("katana", "", int(h["id"]), ",".join(h.get("subscribed_events") or ()),
                                "enabled" if h.get("enabled") else "disabled", str(h.get("url"))) for h in hooks]
            if not hooks or not all(h.get("enabled") for h in hooks):
                problems.append("katana: no enabled webhook; run `katana-woo webhooks install CONFIG --url URL`")
        except KatanaWooError as exc:
            problems.append(f"katana: cannot read the webhooks: {exc}")
    return WebhooksReport("status", tuple(rows), tuple(problems))


def _store_health(store: StoreConfig, client: Any, url: str | None) -> tuple[list[WebhookRow], str | None]:
    target = woo_delivery_url(url, store.name) if url else None
    hooks = [h for h in _woo_hooks(client) if target is None or h.get("delivery_url") == target]
    rows = [WebhookRow("woocommerce", store.name, int(h["id"]), str(h.get("topic")), str(h.get("status")),
                       str(h.get("delivery_url"))) for h in hooks]
    fix = "run `katana-woo webhooks install CONFIG --url URL` to re-enable them"
    disabled = [r.topic for r in rows if r.status == "disabled"]
    if disabled:
        return rows, (f"{store.name}: WooCommerce disabled its {', '.join(disabled)} webhook(s) after failed "
                      f"deliveries (it gives up after more than 5 in a row); orders still sync on every reconcile, "
                      f"only later; {fix}")
    missing = [t for t in WOO_TOPICS if t not in {r.topic for r in rows if r.status == "active"}]
    if missing:
        return rows, f"{store.name}: no active webhook for {', '.join(missing)}; {fix}"
    return rows, None


def _record(config: Config, state: State, store: StoreConfig, problem: str | None) -> None:
    if problem is None:
        state.set_condition(store.name, CONDITION, "True", "Active", f"{len(WOO_TOPICS)} webhooks active",
                            config.store_hash(store.name))
    else:
        reason = "WebhookDisabled" if "disabled" in problem else "WebhookMissing"
        state.set_condition(store.name, CONDITION, "False", reason, problem.split(": ", 1)[1],
                            config.store_hash(store.name))


def check_health(config: Config, woo: Mapping[str, Any], state: State, base_url: str | None = None) -> None:
    """After a reconcile: read each store's webhooks (WooCommerce calls only) and record the condition."""
    for store in config.enabled_stores:
        if store.webhook_secret_env and store.name in woo:
            try:
                _, problem = _store_health(store, woo[store.name], base_url)
            except KatanaWooError as exc:
                log.warning("%s: cannot read its webhooks: %s", store.name, exc)
                continue
            _record(config, state, store, problem)


def uninstall(config: Config, katana: Any, woo: Mapping[str, Any], url: str) -> WebhooksReport:
    rows: list[WebhookRow] = []
    problems: list[str] = []
    for store in config.enabled_stores:
        try:
            for h in _woo_hooks(woo[store.name]):
                if h.get("delivery_url") == woo_delivery_url(url, store.name):
                    woo[store.name].request("DELETE", f"webhooks/{int(h['id'])}", params={"force": "true"})
                    rows.append(WebhookRow("woocommerce", store.name, int(h["id"]), str(h.get("topic")),
                                           "deleted", str(h.get("delivery_url")), "deleted"))
        except KatanaWooError as exc:
            problems.append(f"{store.name}: {exc}")
    try:
        for h in _katana_hooks(katana, katana_delivery_url(url)):
            katana.http.request("DELETE", f"/webhooks/{int(h['id'])}")
            rows.append(WebhookRow("katana", "", int(h["id"]), ",".join(h.get("subscribed_events") or ()), "deleted",
                                   str(h.get("url")), "deleted"))
    except KatanaWooError as exc:
        problems.append(f"katana: {exc}")
    return WebhooksReport("uninstall", tuple(rows), tuple(problems))


__all__ = ["install", "status", "uninstall", "check_health", "WebhookRow", "WebhooksReport", "CONDITION",
           "woo_delivery_url", "katana_delivery_url"]
