"""Helpers for runner and engine tests against the sandbox: a config written from a dict, a runner
on it, and small queries of the emulators' state."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import yaml

from katana_woo_sdk.config import load_config_text
from katana_woo_sdk.runner import Runner


def env_name(store: str) -> str:
    return store.upper().replace("-", "_")


def config_text(stores: Mapping[str, Mapping[str, Any]], *, state_path: Path, rate: int = 6000,
                period: float = 60.0, defaults: Mapping[str, Any] | None = None) -> str:
    """YAML for `stores` = {name: {location: ..., orders: {...}, stock: {...}}} on the sandbox."""
    doc: dict[str, Any] = {
        "version": 1,
        "katana": {"base_url": "${KATANA_BASE_URL}", "api_key_env": "KATANA_API_KEY",
                   "rate_limit": {"requests": rate, "period_seconds": period}},
        "stores": [],
        "state": {"path": str(state_path)},
    }
    if defaults:
        doc["defaults"] = dict(defaults)
    for name, opts in stores.items():
        entry = {"name": name, "url": f"${{WOO_{env_name(name)}_URL}}",
                 "consumer_key_env": f"WOO_{env_name(name)}_KEY", "consumer_secret_env": f"WOO_{env_name(name)}_SECRET"}
        entry.update(opts)
        doc["stores"].append(entry)
    return yaml.safe_dump(doc, sort_keys=False)


def make_runner(sandbox, tmp_path: Path, stores: Mapping[str, Mapping[str, Any]], *, state_name: str = "state.sqlite",
                **kwargs: Any) -> Runner:
    text = config_text(stores, state_path=tmp_path / state_name, **kwargs)
    path = tmp_path / "katana-woo.yaml"
    path.write_text(text)
    config = load_config_text(text, filename=str(path), base_dir=tmp_path, env=sandbox.env())
    return Runner(config, progress=False)


def sales_orders(sandbox, *, include_deleted: bool = True) -> list[dict]:
    return sandbox.katana.sales_orders(include_deleted=include_deleted)


def orders_for(sandbox, store: str, woo_id: int) -> list[dict]:
    host = sandbox.stores[store].url.split("://", 1)[1]
    return [so for so in sales_orders(sandbox) if so.get("ecommerce_store_name") == host
            and str(so.get("ecommerce_order_id")) == str(woo_id)]


def available(sandbox, sku: str, location: str) -> Decimal:
    return sandbox.katana.inventory_of(sku, location)["available"]
