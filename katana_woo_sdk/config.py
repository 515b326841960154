"""The declarative configuration: YAML file -> JSON Schema -> semantic checks -> frozen dataclasses.

Callers: `runner` (builds the clients and engines of every store from a `Config`), `cli`
(``katana-woo validate [--json]`` and every command that reads a config), and notebooks::

    config = load_config("configs/demo.yaml")
    shop = config.store("shop-eu")
    shop.location, shop.orders.statuses, config.store_hash("shop-eu")

Every problem of a file is reported at once, each located as ``file:line:col: $.path: message``
(`ConfigError.issues`); nothing is built from a file with a problem. The file never holds a
secret, only where to find it (an environment variable's name, or a file); secrets are wrapped in
`Secret`, which never shows its value, and are scrubbed from every message.

The parsing lives in `_config_yaml` (YAML with positions), the schema and its messages in
`_config_schema`, the checks beyond the schema in `_config_checks`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import _config_checks as checks
from . import _config_schema, _config_state
from ._config_yaml import format_path, parse
from .errors import ConfigError, ConfigIssue

__all__ = [
    "Secret", "RateLimit", "KatanaConfig", "WebhooksConfig", "OrdersConfig", "StockConfig", "StoreConfig", "StateConfig", "PlansConfig",
    "ReconcileConfig", "AllocationConfig", "LocationConfig",
    "Config", "LifecycleConfig", "load_config", "load_config_text", "validate_file", "validate_text", "format_issues",
    "dump_effective", "config_schema", "ConfigError", "ConfigIssue",
]

log = logging.getLogger(__name__)


class Secret:
    """A credential. Shown as ``***`` by repr/str/format; `reveal()` is the only way to the value.

    >>> key = Secret("ck_123"); print(key, repr(key))
    *** Secret('***')
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str):
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The secret value, for the one place that needs it (an HTTP header or signature)."""
        return self._value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:  # copy/deepcopy/pickle (dataclasses.asdict deep-copies fields)
        return (Secret, (self._value,))


def revealed(secret: Secret | None) -> str:
    """A store's credential (`runner`, `snapshot`, `service.loop` build their clients with it): every
    enabled store of a config loaded with its environment has both, so None is a bug, not a user's."""
    assert secret is not None
    return secret.reveal()


@dataclass(frozen=True)
class RateLimit:
    """Client-side throttle for one Katana API key."""

    requests: int = 60
    period_seconds: float = 60.0


@dataclass(frozen=True)
class KatanaConfig:
    """The Katana account. `api_key` is None only when loaded with ``require_env=False``."""

    base_url: str = "https://api.katanamrp.com/v1"
    api_key: Secret | None = None
    rate_limit: RateLimit = field(default_factory=RateLimit)
    api_key_source: str = ""  # "env:KATANA_API_KEY" or "file:/abs/path": where the key came from


@dataclass(frozen=True)
class OrdersConfig:
    """Order import settings of one store (defaults.orders already merged in)."""

    enabled: bool = True
    statuses: tuple[str, ...] = ("processing",)
    since: datetime | None = None  # aware, UTC
    overlap_minutes: int = 10
    order_no_format: str = "WC-{store}-{number}"
    delivery_days: int = 14
    add_order_note: bool = False

    def order_no(self, *, store: str, number: str | int, id: int) -> str:
        """The Katana order number of a WooCommerce order."""
        return self.order_no_format.format(store=store, number=str(number), id=id)


LIFECYCLE_KEYS = ("fulfilment_to_store", "fulfilment_to_katana", "cancelled", "edits", "unknown_sku")


@dataclass(frozen=True)
class LifecycleConfig:
    """What happens to a store's orders after their import (`engines.lifecycle`, `engines.products`).

    Written in the store's `orders` block (and `defaults.orders`) like the import settings, kept
    apart here so that a config leaving them at their defaults keeps the hash it always had.
    Defaults as in Katana's own integration: fulfilment synced both ways, nothing deleted, edits
    not applied, unknown SKUs held."""

    fulfilment_to_store: bool = True      # Katana Delivered -> the store's order Completed
    fulfilment_to_katana: bool = True     # the store's Completed -> Katana Delivered (a fulfilment)
    cancelled: str = "report"             # report | delete_if_not_shipped: cancelled, refunded, failed after import
    edits: str = "report"                 # report | update_rows: quantities and lines edited after import
    unknown_sku: str = "hold"             # hold | create_product


@dataclass(frozen=True)
class StockConfig:
    """Initial stock import and stock sync settings of one store (defaults.stock already merged in)."""

    initial_import: bool = False
    confirm_shared_location_import: bool = False
    initial_cost_per_unit: Decimal | None = None
    sync: bool = True
    policy: str = "available"  # "available" (in stock - committed) | "in_stock"
    buffer: int = 0
    maximum: int | None = None
    floor_zero: bool = True

    def target_quantity(self, in_stock: Decimal | int | str, committed: Decimal | int | str = 0) -> int:
        """The quantity to push to WooCommerce for Katana's figures at the mapped location.

        Rounded down: WooCommerce holds whole units, and rounding up would sell stock that is not there.
        """
        # Called once per store item of a plan (500,000 times for 100,000 SKUs in 5 stores): the
        # common case (Decimals, no buffer, no maximum) takes no conversions.
        figure = in_stock if isinstance(in_stock, Decimal) else Decimal(str(in_stock))
        if self.policy == "available":
            figure -= committed if isinstance(committed, Decimal) else Decimal(str(committed))
        if self.buffer:
            figure -= self.buffer
        if self.maximum is not None:
            figure = min(figure, Decimal(self.maximum))
        if self.floor_zero and figure < 0:
            return 0
        return math.floor(figure)


@dataclass(frozen=True)
class StoreConfig:
    """One WooCommerce store and the Katana location it maps to.

    `url` is normalised (lowercase scheme and host, no default port, no trailing slash).
    `consumer_key`/`consumer_secret` are None only for a disabled store whose credentials are not
    available, or when loaded with ``require_env=False``.
    """

    name: str
    url: str
    consumer_key: Secret | None
    consumer_secret: Secret | None
    location: str | int | None = None
    ecommerce_store_name: str = ""  # resolved: the explicit value, else the url's host[:port]
    enabled: bool = True
    allow_insecure_http: bool = False
    verify: bool | str = True  # a str is the absolute path of a CA bundle
    orders: OrdersConfig = field(default_factory=OrdersConfig)
    stock: StockConfig = field(default_factory=StockConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    credentials_source: str = ""  # "env:KEY_VAR,SECRET_VAR" or "file:path"
    webhook_secret_env: str | None = None             # where its webhook secret comes from (`katana-woo run`)
    webhook_secret: Secret | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class StateConfig:
    """Where the state lives and how long to wait for its locks: a SQLite file (`path`, absolute), or
    a PostgreSQL database (`url`, never with a password; `path` is then None) with its `password`
    (from `password_env` / `password_file`; None leaves it to libpq) and the `schema` of its tables.
    `State.from_config` opens either."""

    path: Path | None
    lock_timeout_seconds: float = 0.0
    url: str | None = None
    password: Secret | None = field(default=None, repr=False)
    password_source: str = ""  # "env:VAR", "file:/abs/path", or "" (libpq's PGPASSWORD / ~/.pgpass)
    schema: str = "katana_woo"

    @property
    def backend(self) -> str:
        """"postgresql" with a `url`, else "sqlite"."""
        return "postgresql" if self.url else "sqlite"

    @property
    def where(self) -> str:
        """The state as messages show it: its file, or its URL (never with a password) and schema."""
        return str(self.path) if self.url is None else f"{self.url} schema {self.schema}"

    def settings(self) -> dict[str, Any]:
        """The non-secret settings, as `config_hash` and `validate --json` show them (a SQLite
        config's exactly as before the PostgreSQL backend existed, so its hash did not change)."""
        if self.url is None:
            return {"path": str(self.path), "lock_timeout_seconds": self.lock_timeout_seconds}
        return {"url": self.url, "schema": self.schema, "lock_timeout_seconds": self.lock_timeout_seconds}

    def __repr__(self) -> str:  # the settings of the backend in use; the password never
        return "StateConfig(" + ", ".join(f"{k}={v!r}" for k, v in self.settings().items()) + ")"


@dataclass(frozen=True)
class PlansConfig:
    """How saved plans are honoured (see `contract`): refused once older than `max_age_minutes`
    (None: any age)."""

    max_age_minutes: float | None = 1440.0


POOLED, SHARE, PRIORITY = "pooled", "share", "priority"


@dataclass(frozen=True)
class AllocationConfig:
    """How one location's figure is divided among its stores (`engines.allocation` applies it):
    `pooled` (each store sees all of it), `share` (`shares`: (store, percent) in the file's order)
    or `priority` (`priorities`: stores highest first; each but the lowest holds `reserve` units)."""

    mode: str = POOLED
    shares: tuple[tuple[str, Decimal], ...] = ()
    priorities: tuple[str, ...] = ()
    reserve: int = 0
    subtract_safety_stock: bool = False

    @property
    def stores(self) -> tuple[str, ...]:
        """The stores the rule names."""
        return tuple(name for name, _ in self.shares) if self.mode == SHARE else \
            self.priorities if self.mode == PRIORITY else ()


@dataclass(frozen=True)
class LocationConfig:
    """One `locations[]` entry: a Katana location (exact name or id) and its allocation."""

    location: str | int
    allocation: AllocationConfig = field(default_factory=AllocationConfig)


@dataclass(frozen=True)
class ReconcileConfig:
    """How often a full reconcile runs between incremental ones (None: only when it must)."""

    full_every_hours: float | None = 24.0


@dataclass(frozen=True)
class WebhooksConfig:
    """Where Katana's webhook token lives (`webhooks install` writes the file, `run` reads it)."""

    katana_token_file: Path | None = None      # absolute
    katana_token_env: str | None = None
    katana_token: Secret | None = field(default=None, repr=False, compare=False)   # from katana_token_env


@dataclass(frozen=True)
class Config:
    """A loaded, valid configuration. `config_hash` covers every non-secret effective setting."""

    version: int
    katana: KatanaConfig
    stores: tuple[StoreConfig, ...]
    state: StateConfig
    source: Path | None = None
    config_hash: str = ""
    plans: PlansConfig = field(default_factory=PlansConfig)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    locations: tuple[LocationConfig, ...] = ()
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)

    def allocation(self, location_id: int, name: str) -> AllocationConfig:
        """The allocation of a resolved Katana location, found by its id or its exact name
        (pooled when `locations` does not list it)."""
        for entry in self.locations:
            key = entry.location
            if (isinstance(key, int) and key == location_id) or (isinstance(key, str) and key == name):
                return entry.allocation
        return AllocationConfig()

    def store(self, name: str) -> StoreConfig:
        """The store called `name` (KeyError listing the known names otherwise)."""
        for store in self.stores:
            if store.name == name:
                return store
        raise KeyError(f"no store {name!r} in the config (stores: {', '.join(s.name for s in self.stores)})")

    @property
    def enabled_stores(self) -> tuple[StoreConfig, ...]:
        return tuple(store for store in self.stores if store.enabled)

    def store_hash(self, name: str) -> str:
        """12 hex digits identifying a store's effective settings (url, store key, location, orders, stock).

        Stable across runs and machines; changes exactly when one of those settings changes.
        """
        store = self.store(name)
        settings = {"url": store.url, "ecommerce_store_name": store.ecommerce_store_name,
                    "location": store.location, "orders": _jsonable(store.orders),
                    "stock": _jsonable(store.stock)}
        # A division naming the store changes its figures; absent, the hash is what it always was.
        divided = [_jsonable(entry) for entry in self.locations if name in entry.allocation.stores]
        if divided:
            settings["allocation"] = divided
        if store.lifecycle != LifecycleConfig():      # at its defaults, the hash is what it always was
            settings["lifecycle"] = _jsonable(store.lifecycle)
        return _sha256(settings)[:12]

    def __repr__(self) -> str:
        names = ", ".join(s.name if s.enabled else f"{s.name} (disabled)" for s in self.stores)
        return f"Config(source={str(self.source) if self.source else None!r}, stores=[{names}], " \
               f"hash={self.config_hash[:12]})"


# --- loading ------------------------------------------------------------------------------------

def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None,
                require_env: bool = True) -> Config:
    """Load and validate a config file; raise `ConfigError` listing every problem.

    `require_env=False` checks the file alone, without the environment it points at (a CI lint
    of a config repository): unset variables and missing secret files are then not problems, the
    secrets are None and a URL whose ``${VAR}`` is unset stays unexpanded. Such a Config is for
    inspection, not for running.
    """
    config, issues = _load_path(path, _env(env), require_env)
    if issues:
        raise ConfigError(issues)
    assert config is not None  # no issues: the config was built
    return config


def load_config_text(text: str, *, filename: str = "<string>", base_dir: str | os.PathLike[str] | None = None,
                     env: Mapping[str, str] | None = None, require_env: bool = True) -> Config:
    """Like `load_config` for YAML text; relative paths in it are relative to `base_dir` (default: cwd)."""
    config, issues = _analyse(text, filename, Path(base_dir or ".").resolve(), _env(env), require_env, None)
    if issues:
        raise ConfigError(issues)
    assert config is not None  # no issues: the config was built
    return config


def validate_file(path: str | os.PathLike[str], env: Mapping[str, str] | None = None, *,
                  require_env: bool = True) -> list[ConfigIssue]:
    """Every problem of a config file (an empty list when it is valid); never raises ConfigError."""
    return _load_path(path, _env(env), require_env)[1]


def validate_text(text: str, *, filename: str = "<string>", base_dir: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None, require_env: bool = True) -> list[ConfigIssue]:
    """Every problem of YAML config text; never raises ConfigError."""
    return _analyse(text, filename, Path(base_dir or ".").resolve(), _env(env), require_env, None)[1]


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    """The environment to read: the given mapping, else the process's at call time (never a default
    argument: `help()` would print every variable of the environment, secrets included)."""
    return os.environ if env is None else env


def format_issues(issues: Sequence[ConfigIssue]) -> str:
    """Issues one per line (``file:line:col: $.path: message``), then a count: for the CLI."""
    count = len(issues)
    lines = [str(issue) for issue in issues]
    lines.append(f"{count} problem{'s' if count != 1 else ''} found" if count else "no problems found")
    return "\n".join(lines)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of config files (Draft 2020-12), e.g. for ``katana-woo schema``."""
    schema: dict[str, Any] = json.loads(_config_schema.schema_text())
    return schema


def _load_path(path: str | os.PathLike[str], env: Mapping[str, str],
               require_env: bool) -> tuple[Config | None, list[ConfigIssue]]:
    filename = os.fspath(path)
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except UnicodeDecodeError as error:
        return None, [ConfigIssue(filename, None, None, "$", f"is not UTF-8 text ({error.reason} at byte "
                                                           f"{error.start})")]
    except OSError as error:
        return None, [ConfigIssue(filename, None, None, "$",
                                  f"cannot read the config file: {error.strerror or type(error).__name__}")]
    return _analyse(text, filename, file.resolve().parent, env, require_env, file.resolve())


def _analyse(text: str, filename: str, base_dir: Path, env: Mapping[str, str], require_env: bool,
             source: Path | None) -> tuple[Config | None, list[ConfigIssue]]:
    doc = parse(text)
    found: list[tuple[tuple[Any, ...], str, bool]] = []
    secrets: set[str] = set()
    result = None
    if doc.parsed and doc.data is None:
        found.append(((), "the file is empty; a config needs at least 'version: 1' and 'stores'", False))
    elif doc.parsed:
        found.extend(_config_schema.findings(doc.data))

        def line_of(path: checks.PathT) -> int | str:
            mark = doc.mark(path)
            return mark.line if mark else "?"

        result = checks.check(doc.data, env=env, base_dir=base_dir, require_env=require_env,
                              line_of=line_of, also=(_config_state.check,))
        found.extend(result.problems)
        secrets = result.secret_values
    located = [(p.path, p.message, p.mark) for p in doc.problems]  # YAML problems know their place
    located += [(path, message, doc.mark(path, key=at_key)) for path, message, at_key in found]
    issues: list[ConfigIssue] = []
    for path, message, mark in located:
        issue = ConfigIssue(filename, mark.line if mark else None, mark.col if mark else None,
                            _scrub(format_path(path), secrets), _scrub(message, secrets))
        if issue not in issues:
            issues.append(issue)
    issues.sort(key=lambda i: (i.line or 0, i.col or 0, i.path))
    if issues or result is None:
        return None, issues
    config = _build(doc.data, result, base_dir, source, env)
    log.debug("loaded %s: %d stores, hash %s", filename, len(config.stores), config.config_hash[:12])
    return config, []


def _scrub(text: str, secrets: set[str]) -> str:
    # Longest first, so a secret containing another is replaced whole.
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


# --- building -----------------------------------------------------------------------------------

def _build(data: dict[str, Any], result: checks.Result, base_dir: Path, source: Path | None,
           env: Mapping[str, str] | None = None) -> Config:
    katana = data.get("katana") or {}
    rate = katana.get("rate_limit") or {}
    assert result.katana_url is not None  # checked: a config without problems has a Katana URL
    katana_config = KatanaConfig(
        base_url=result.katana_url,
        api_key=Secret(result.api_key) if result.api_key else None,
        rate_limit=RateLimit(requests=rate.get("requests", RateLimit.requests),
                             period_seconds=float(rate.get("period_seconds", RateLimit.period_seconds))),
        api_key_source=result.api_key_source,
    )
    stores = []
    for index, raw in enumerate(data["stores"]):
        resolved = result.stores[index]
        # checked: each store of a config without problems has its URL and its name in Katana
        assert resolved.url is not None and resolved.ecommerce_store_name is not None
        orders = dict(resolved.orders, since=resolved.since)
        lifecycle = LifecycleConfig(**{k: orders.pop(k) for k in LIFECYCLE_KEYS if k in orders})
        if "statuses" in orders:
            orders["statuses"] = tuple(orders["statuses"])
        stock = dict(resolved.stock)
        if stock.get("initial_cost_per_unit") is not None:
            stock["initial_cost_per_unit"] = Decimal(str(stock["initial_cost_per_unit"]))
        stores.append(StoreConfig(
            name=raw["name"], url=resolved.url,
            consumer_key=Secret(resolved.consumer_key) if resolved.consumer_key else None,
            consumer_secret=Secret(resolved.consumer_secret) if resolved.consumer_secret else None,
            location=raw.get("location"),
            ecommerce_store_name=resolved.ecommerce_store_name,
            enabled=raw.get("enabled", True),
            allow_insecure_http=raw.get("allow_insecure_http", False),
            verify=resolved.verify,
            orders=OrdersConfig(**orders),
            stock=StockConfig(**stock),
            lifecycle=lifecycle,
            credentials_source=resolved.credentials_source,
            webhook_secret_env=raw.get("webhook_secret_env"),
            webhook_secret=_env_secret(env, raw.get("webhook_secret_env")),
        ))
    state = data.get("state") or {}
    timeout = float(state.get("lock_timeout_seconds", 0))
    if result.state_url:
        state_config = StateConfig(
            path=None, lock_timeout_seconds=timeout, url=result.state_url,
            password=Secret(result.state_password) if result.state_password else None,
            password_source=result.state_password_source,
            schema=state.get("schema", _config_schema.default("state", "schema")))
    else:
        state_path = Path(state.get("path", _config_schema.default("state", "path"))).expanduser()
        state_config = StateConfig(path=Path(os.path.abspath(base_dir / state_path)), lock_timeout_seconds=timeout)
    plans = data.get("plans") or {}
    age = plans.get("max_age_minutes", _config_schema.default("plans", "max_age_minutes"))
    config = Config(version=data["version"], katana=katana_config, stores=tuple(stores), state=state_config,
                    source=source, plans=PlansConfig(None if age is None else float(age)),
                    reconcile=ReconcileConfig(_hours(data)),
                    locations=tuple(_location(entry) for entry in data.get("locations") or ()),
                    webhooks=_webhooks(data.get("webhooks") or {}, base_dir, env))
    return replace(config, config_hash=_sha256(_settings(config)))


def _env_secret(env: Mapping[str, str] | None, name: str | None) -> Secret | None:
    value = (env or {}).get(name) if name else None
    return Secret(value.strip()) if value and value.strip() else None


def _webhooks(raw: dict[str, Any], base_dir: Path, env: Mapping[str, str] | None) -> WebhooksConfig:
    token_file = raw.get("katana_token_file")
    return WebhooksConfig(Path(os.path.abspath(base_dir / Path(token_file).expanduser())) if token_file else None,
                          raw.get("katana_token_env"), _env_secret(env, raw.get("katana_token_env")))


def _location(entry: dict[str, Any]) -> LocationConfig:
    raw = entry.get("allocation") or {}
    return LocationConfig(entry["location"], AllocationConfig(
        mode=raw.get("mode", POOLED),
        shares=tuple((name, Decimal(str(percent))) for name, percent in (raw.get("shares") or {}).items()),
        priorities=tuple(raw.get("priorities") or ()), reserve=int(raw.get("reserve", 0)),
        subtract_safety_stock=bool(raw.get("subtract_safety_stock", False))))


def _hours(data: dict[str, Any]) -> float | None:
    every = (data.get("reconcile") or {}).get("full_every_hours",
                                                _config_schema.default("reconcile", "full_every_hours"))
    return None if every is None else float(every)


def _jsonable(value: Any) -> Any:
    """Dataclasses, tuples, Decimals, datetimes and paths as plain JSON values (Secrets refused)."""
    if isinstance(value, Secret):
        raise TypeError("a Secret has no JSON form")
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Path):
        return str(value)
    return value


def _sha256(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _store_settings(store: StoreConfig) -> dict[str, Any]:
    out = {"name": store.name, "url": store.url, "ecommerce_store_name": store.ecommerce_store_name,
           "location": store.location, "enabled": store.enabled,
           "allow_insecure_http": store.allow_insecure_http, "verify": store.verify,
           "orders": _jsonable(store.orders), "stock": _jsonable(store.stock)}
    if store.lifecycle != LifecycleConfig():   # at its defaults, the hash of every existing config stays
        out["lifecycle"] = _jsonable(store.lifecycle)
    return out


def _settings(config: Config) -> dict[str, Any]:
    """The non-secret effective settings that `config_hash` covers (not where secrets come from)."""
    out = {"version": config.version,
           "katana": {"base_url": config.katana.base_url, "rate_limit": _jsonable(config.katana.rate_limit)},
           "stores": [_store_settings(store) for store in config.stores],
           "state": config.state.settings(), "plans": _jsonable(config.plans)}
    if config.reconcile != ReconcileConfig():   # the default leaves every existing config's hash as it was
        out["reconcile"] = _jsonable(config.reconcile)
    if config.locations:   # absent, the hash of every existing config stays what it was
        out["locations"] = _jsonable(config.locations)
    return out


def dump_effective(config: Config) -> dict[str, Any]:
    """The effective configuration as JSON-ready data, without any secret (``validate --json``).

    Secrets appear as where they come from (``"api_key_source": "env:KATANA_API_KEY"``) and whether
    they were found (``"api_key_set": true``).
    """
    out = _settings(config)
    out["source"] = str(config.source) if config.source else None
    out["config_hash"] = config.config_hash
    out["katana"].update(api_key_source=config.katana.api_key_source, api_key_set=config.katana.api_key is not None)
    if config.state.url:
        out["state"].update(password_source=config.state.password_source,
                            password_set=config.state.password is not None)
    for entry, store in zip(out["stores"], config.stores):
        entry.update(credentials_source=store.credentials_source,
                     credentials_set=store.consumer_key is not None and store.consumer_secret is not None,
                     store_hash=config.store_hash(store.name))
    return out
