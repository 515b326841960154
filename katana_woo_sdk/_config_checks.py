"""The checks JSON Schema cannot express, and the resolution of what the config points at.

Private helper of `config` (its only caller). `check` runs after the schema on the same parsed
data and is written defensively: a part the schema already rejected (wrong type) is skipped here,
so one mistake gives one message. It

* expands ``${VAR}`` / ``${VAR:-default}`` in the two URL fields (and rejects it elsewhere),
* validates and normalises URLs (plain http only for loopback hosts unless allowed),
* finds duplicate store names, URLs and ``ecommerce_store_name``s, colliding order numbers,
  two initial stock imports into one location, status typos, impossible dates,
* checks each location's allocation against the stores (in `_config_locations`),
* reads the secrets from the environment or from files, and collects their values so the
  caller can scrub them from any message (a secret value must never be shown).
"""
from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
import string
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import yaml

from . import _config_locations
from . import _config_schema as schema

log = logging.getLogger(__name__)

PathT = tuple[Any, ...]
LineOf = Callable[[PathT], int | str]  # the line a path starts at, "?" when unknown
INTERPOLATED = ("katana.base_url", "stores[].url", "state.url")
CORE_STATUSES = tuple(schema.node("stores", "orders", "statuses")["items"]["anyOf"][0]["enum"])
ORDER_NO_FIELDS = ("store", "number", "id")
_SINCE = re.compile(schema.node("stores", "orders", "since")["pattern"])
_ENV_NAME = re.compile(schema.node("katana", "api_key_env")["pattern"])
_URL = re.compile(schema.node("stores", "url")["pattern"])
_STATUS = re.compile(schema.node("stores", "orders", "statuses")["items"]["anyOf"][1]["pattern"])


@dataclass
class StoreResult:
    """What the checks resolved for one store (only meaningful when no problem was found)."""

    url: str | None = None
    host: str | None = None
    ecommerce_store_name: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    credentials_source: str = ""
    orders: dict[str, Any] = field(default_factory=dict)  # effective: defaults.orders overlaid by the store's
    stock: dict[str, Any] = field(default_factory=dict)
    since: datetime | None = None
    verify: bool | str = True


@dataclass
class Result:
    problems: list[tuple[PathT, str, bool]] = field(default_factory=list)
    secret_values: set[str] = field(default_factory=set)
    katana_url: str | None = None
    api_key: str | None = None
    api_key_source: str = ""
    stores: dict[int, StoreResult] = field(default_factory=dict)
    state_url: str | None = None           # resolved by `_config_state` (a PostgreSQL state)
    state_password: str | None = None
    state_password_source: str = ""


def is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; ``$$`` is a literal ``$``. Returns (value, error)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = text.find("}", i)
            if end < 0:
                return None, "unclosed '${' (write ${VAR} or ${VAR:-default}; $$ for a literal $)"
            body = text[i + 2:end]
            name, sep, fallback = body.partition(":-")
            if not _ENV_NAME.fullmatch(name):
                return None, (f"bad interpolation '${{{body}}}': write ${{VAR}} or ${{VAR:-default}} "
                              f"with VAR made of letters, digits and '_'")
            value = env.get(name)
            if value is None or (sep and value == ""):
                if not sep:
                    return None, f"environment variable {name} is not set (used as ${{{name}}})"
                value = fallback
            out.append(value)
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out), None


def parse_since(text: str) -> datetime:
    """ISO 8601 date or datetime with offset -> aware UTC datetime (a bare date is midnight UTC)."""
    text = text.upper()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a time needs 'Z' or an offset")
    return moment.astimezone(timezone.utc)


def _looks_like_credential(name: str) -> bool:
    return name.lower().startswith(("ck_", "cs_")) or bool(re.search(r"[0-9a-f]{24,}", name.lower()))


class _Checker:
    def __init__(self, data: dict[str, Any], env: Mapping[str, str], base_dir: Path, require_env: bool,
                 line_of: LineOf):
        self.data, self.env, self.base_dir = data, env, base_dir
        self.require_env, self.line_of = require_env, line_of
        self.result = Result()

    def problem(self, path: PathT, message: str, at_key: bool = False) -> None:
        self.result.problems.append((tuple(path), message, at_key))

    # --- helpers ---------------------------------------------------------------------------------

    def url(self, path: PathT, raw: Any, *, what: str, allow_http: bool,
            opt_in: bool = True) -> tuple[str, str] | None:
        """Interpolated, validated, normalised URL and its host[:port]; None after a problem."""
        if not isinstance(raw, str) or not _URL.fullmatch(raw):
            return None  # the schema reports it
        value, error = interpolate(raw, self.env)
        if error and error.startswith("environment variable") and not self.require_env:
            return raw, ""  # unchecked: the environment is not there to expand it
        if error:
            self.problem(path, error)
            return None
        assert value is not None  # interpolate gives a value whenever it gives no error
        origin = f" (expanded from {raw!r})" if value != raw else ""
        parts = urlsplit(value.strip())
        try:
            port = parts.port
        except ValueError:
            self.problem(path, f"has an invalid port{origin}")
            return None
        if parts.username is not None or parts.password is not None:
            # Never echo such a URL: the part before '@' is a credential.
            self.problem(path, "must not contain credentials (user:password@); the "
                               "credentials come from environment variables or a file")
            return None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            self.problem(path, f"must be an absolute http(s) URL such as https://shop.example.com, "
                               f"got {value!r}{origin}")
            return None
        if parts.query or parts.fragment:
            self.problem(path, f"must not contain a query string or fragment{origin}")
            return None
        scheme, host = parts.scheme.lower(), parts.hostname.lower()
        if scheme == "http" and not is_loopback(host) and not allow_http:
            self.problem(path, f"plain http to {host} would send the {what} unencrypted; use https "
                               f"(http is accepted for loopback hosts only"
                               + (", or set allow_insecure_http: true)" if opt_in else ")"))
            return None
        netloc = f"[{host}]" if ":" in host else host
        if port is not None and port != {"http": 80, "https": 443}[scheme]:
            netloc += f":{port}"
        return f"{scheme}://{netloc}{parts.path.rstrip('/')}", netloc

    def env_secret(self, path: PathT, name: Any, purpose: str, required: bool) -> str | None:
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            return None  # the schema reports it
        if _looks_like_credential(name):
            self.result.secret_values.add(name)
            self.problem(path, f"looks like a credential itself; give the NAME of the environment "
                               f"variable that holds the {purpose}")
            return None
        value = self.env.get(name)
        if value is not None and value.strip():
            self.result.secret_values.add(value.strip())
            return value.strip()
        if required:
            state = "is not set" if value is None else "is empty"
            self.problem(path, f"environment variable {name} {state} (it should hold the {purpose})")
        return None

    def read_file(self, path: PathT, raw: Any, what: str) -> tuple[str, Path] | None:
        if not isinstance(raw, str) or not raw:
            return None
        file = Path(raw).expanduser()
        file = file if file.is_absolute() else self.base_dir / file
        try:
            text = file.read_text("utf-8")
        except UnicodeDecodeError:
            self.problem(path, f"{what} '{raw}' is not UTF-8 text")
            return None
        except OSError as error:
            self.problem(path, f"cannot read {what} '{raw}' ({file}): {error.strerror or type(error).__name__}")
            return None
        for line in text.splitlines():
            if len(line.strip()) >= 4:
                self.result.secret_values.add(line.strip())
        if os.name == "posix" and file.stat().st_mode & 0o077:
            log.warning("%s %s can be read by other users; chmod 600 it", what, file)
        return text, file

    def credentials_file(self, path: PathT, raw: Any) -> tuple[str, str] | None:
        read = self.read_file(path, raw, "credentials file")
        if read is None:
            return None
        text, _ = read
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if any(ln.startswith(("consumer_key", "consumer_secret")) for ln in lines):
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError:  # its message would quote the file: not shown
                loaded = None
            pair: tuple[Any, ...] = (loaded.get("consumer_key"), loaded.get("consumer_secret")) \
                if isinstance(loaded, dict) else ()
            if len(pair) == 2 and all(isinstance(v, str) and v.strip() for v in pair):
                return pair[0].strip(), pair[1].strip()
            self.problem(path, f"credentials file '{raw}' must be YAML with string values "
                               f"consumer_key and consumer_secret")
            return None
        if len(lines) == 2:
            return lines[0], lines[1]
        self.problem(path, f"credentials file '{raw}' must hold two lines (consumer key, then consumer "
                           f"secret) or YAML with consumer_key and consumer_secret; it has {len(lines)} lines")
        return None

    # --- sections --------------------------------------------------------------------------------

    def katana(self) -> None:
        block = self.data.get("katana")
        block = block if isinstance(block, dict) else {}
        raw_url = block.get("base_url", schema.default("katana", "base_url"))
        # No opt-in for Katana: its API is only ever https; http is the local sandbox.
        resolved = self.url(("katana", "base_url"), raw_url, what="Katana API key", allow_http=False,
                            opt_in=False)
        self.result.katana_url = resolved[0] if resolved else None
        key_file = block.get("api_key_file")
        if key_file is not None and block.get("api_key_env") is not None:
            self.problem(("katana", "api_key_file"), "give api_key_env or api_key_file, not both")
            return
        if key_file is not None:
            self.result.api_key_source = f"file:{key_file}"
            read = self.read_file(("katana", "api_key_file"), key_file, "API key file") \
                if self.require_env else None
            if read is not None:
                key: str | None = read[0].strip()
                if not key or "\n" in key:
                    self.problem(("katana", "api_key_file"),
                                 f"API key file '{key_file}' must hold the key alone on one line")
                else:
                    self.result.api_key, self.result.api_key_source = key, f"file:{read[1]}"
            return
        name = block.get("api_key_env", schema.default("katana", "api_key_env"))
        path = ("katana", "api_key_env") if "api_key_env" in block else ("katana",) if block else ()
        key = self.env_secret(path, name, "Katana API key", self.require_env)
        if key is not None and key.lower().startswith("bearer "):
            self.problem(path, f"environment variable {name} must hold the key alone, without 'Bearer '")
            key = None
        self.result.api_key, self.result.api_key_source = key, f"env:{name}"

    def orders_block(self, path: PathT, block: Any) -> None:
        if not isinstance(block, dict):
            return
        since = block.get("since")
        if isinstance(since, str) and _SINCE.fullmatch(since):
            try:
                parse_since(since)
            except ValueError as error:
                self.problem(path + ("since",), f"{since!r} is not a valid date/time: {error}", False)
        fmt = block.get("order_no_format")
        if isinstance(fmt, str) and fmt:
            self.order_no_format(path + ("order_no_format",), fmt)
        statuses = block.get("statuses")
        for index, status in enumerate(statuses if isinstance(statuses, list) else []):
            if not isinstance(status, str) or status in CORE_STATUSES or not _STATUS.fullmatch(status):
                continue
            if status == "any":
                self.problem(path + ("statuses", index), "'any' would import orders in every status, "
                             "cancelled and refunded included; list the statuses to import", False)
                continue
            close = difflib.get_close_matches(status, CORE_STATUSES, n=1, cutoff=0.8)
            if close:
                self.problem(path + ("statuses", index), f"unknown status '{status}'; did you mean "
                             f"'{close[0]}'? (custom statuses are allowed, but this looks like a typo)", False)

    def order_no_format(self, path: PathT, fmt: str) -> None:
        try:
            fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(fmt)
                      if name is not None]
        except ValueError as error:
            self.problem(path, f"is not a valid format: {error} (use {{{{ and }}}} for literal braces)", False)
            return
        for name, _spec, _conv in fields:
            if name not in ORDER_NO_FIELDS:
                guess = difflib.get_close_matches(name, ORDER_NO_FIELDS, n=1, cutoff=0.5)
                hint = f"did you mean {{{guess[0]}}}? " if guess else ""
                self.problem(path, f"unknown placeholder {{{name}}}; {hint}(available: {{store}}, {{number}}, "
                                   f"{{id}})", False)
                return
        try:
            fmt.format(store="shop", number="1001", id=1001)
        except (ValueError, TypeError, IndexError, KeyError) as error:
            self.problem(path, f"cannot be rendered: {error}", False)

    def stores(self) -> None:
        stores = self.data.get("stores")
        if not isinstance(stores, list):
            return
        defaults: dict[str, Any] = self.data["defaults"] if isinstance(self.data.get("defaults"), dict) else {}
        self.orders_block(("defaults", "orders"), defaults.get("orders"))
        names: dict[str, int] = {}
        urls: dict[str | None, int] = {}
        store_names: dict[str, int] = {}
        for index, store in enumerate(stores):
            if not isinstance(store, dict):
                continue
            here = ("stores", index)
            result = self.result.stores[index] = StoreResult()
            name = store.get("name")
            if isinstance(name, str):
                if name in names:
                    self.problem(here + ("name",), f"duplicate store name '{name}' (first at line "
                                 f"{self.line_of(('stores', names[name]))})", False)
                else:
                    names[name] = index
            enabled = store.get("enabled", True) is not False
            resolved = self.url(here + ("url",), store.get("url"), what="WooCommerce credentials",
                                allow_http=store.get("allow_insecure_http") is True)
            if resolved and not resolved[1]:  # left unexpanded (require_env=False)
                result.url, result.host, resolved = resolved[0], "", None
            if resolved:
                result.url, result.host = resolved
                if "/wp-json" in urlsplit(result.url).path:
                    self.problem(here + ("url",), "is a REST API address; give the site's root URL "
                                 "(the client appends /wp-json/wc/v3)", False)
                elif result.url in urls:
                    other = stores[urls[result.url]].get("name")
                    self.problem(here + ("url",), f"same shop as store '{other}' (URLs are compared "
                                 f"with a lowercase host and without a trailing slash)", False)
                else:
                    urls[result.url] = index
            explicit = store.get("ecommerce_store_name")
            result.ecommerce_store_name = explicit if isinstance(explicit, str) else result.host
            key = result.ecommerce_store_name
            url_is_new = bool(resolved) and urls.get(result.url) == index
            if key and key in store_names and (isinstance(explicit, str) or url_is_new):
                other = stores[store_names[key]].get("name")
                where = here + ("ecommerce_store_name",) if isinstance(explicit, str) else here + ("url",)
                self.problem(where, f"store '{other}' already uses ecommerce_store_name '{key}', so "
                             f"their imports in Katana could not be told apart; set a distinct "
                             f"ecommerce_store_name", False)
            elif key:
                store_names.setdefault(key, index)
            self.credentials(here, store, result, enabled)
            self.orders_block(here + ("orders",), store.get("orders"))
            for section in ("orders", "stock"):
                base: dict[str, Any] = defaults[section] if isinstance(defaults.get(section), dict) else {}
                own: dict[str, Any] = store[section] if isinstance(store.get(section), dict) else {}
                setattr(result, section, {**base, **own})
            since = result.orders.get("since")
            if isinstance(since, str) and _SINCE.fullmatch(since):
                try:
                    result.since = parse_since(since)
                except ValueError:
                    pass
            verify = store.get("verify", True)
            if isinstance(verify, str) and verify:
                bundle = Path(verify).expanduser()
                bundle = bundle if bundle.is_absolute() else self.base_dir / bundle
                if not bundle.exists():
                    self.problem(here + ("verify",), f"CA bundle '{verify}' not found ({bundle})")
                result.verify = str(bundle)
            elif isinstance(verify, bool):
                result.verify = verify
        self.cross_store(stores, defaults)

    def credentials(self, here: PathT, store: dict[str, Any], result: StoreResult, enabled: bool) -> None:
        has_env = store.get("consumer_key_env") is not None or store.get("consumer_secret_env") is not None
        has_file = store.get("credentials_file") is not None
        if has_env and has_file:
            self.problem(here + ("credentials_file",), "give consumer_key_env/consumer_secret_env or "
                         "credentials_file, not both")
            return
        if not has_env and not has_file:
            self.problem(here, "missing credentials: give consumer_key_env and consumer_secret_env "
                         "(names of environment variables) or credentials_file", False)
            return
        required = enabled and self.require_env
        name = store.get("name") if isinstance(store.get("name"), str) else f"#{here[1]}"
        pair: tuple[str | None, str | None] | None
        if has_file:
            pair = self.credentials_file(here + ("credentials_file",), store["credentials_file"]) \
                if required else None
            source = f"file:{store['credentials_file']}"
        else:
            pair = (self.env_secret(here + ("consumer_key_env",), store.get("consumer_key_env"),
                                    f"WooCommerce consumer key of store '{name}'", required),
                    self.env_secret(here + ("consumer_secret_env",), store.get("consumer_secret_env"),
                                    f"WooCommerce consumer secret of store '{name}'", required))
            source = f"env:{store.get('consumer_key_env')},{store.get('consumer_secret_env')}"
        if pair and pair[0] and pair[1]:
            if pair[0].startswith("cs_") and pair[1].startswith("ck_"):
                where = here + (("credentials_file",) if has_file else ("consumer_key_env",))
                self.problem(where, "the consumer key and secret look swapped (the key starts with "
                             "cs_, the secret with ck_)")
            result.consumer_key, result.consumer_secret = pair
        result.credentials_source = source

    def cross_store(self, stores: list[Any], defaults: dict[str, Any]) -> None:
        """Checks between stores: colliding order numbers, two initial imports into one location."""
        formats: dict[str, int] = {}
        importers: dict[Any, int] = {}
        for index, store in enumerate(stores):
            result = self.result.stores.get(index)
            if result is None or store.get("enabled", True) is False:
                continue
            name = store.get("name")

            def origin(section: str, key: str) -> PathT:
                own = store.get(section)
                if isinstance(own, dict) and key in own:
                    return ("stores", index, section, key)
                return ("defaults", section, key) if key in (defaults.get(section) or {}) \
                    else ("stores", index)

            fmt = result.orders.get("order_no_format", schema.default("stores", "orders", "order_no_format"))
            if result.orders.get("enabled", True) is not False and isinstance(fmt, str):
                if fmt in formats and "{store}" not in fmt:
                    other = stores[formats[fmt]].get("name")
                    self.problem(origin("orders", "order_no_format"), f"stores '{other}' and '{name}' would "
                                 f"give their orders the same Katana numbers ({fmt!r}); include {{store}} "
                                 f"or a different prefix", False)
                formats.setdefault(fmt, index)
            location = store.get("location")
            location_key = (type(location).__name__, location)
            if result.stock.get("initial_import") is True and isinstance(location, (str, int, type(None))):
                if location_key in importers and result.stock.get("confirm_shared_location_import") is not True:
                    other = stores[importers[location_key]].get("name")
                    shown = "the default location" if location is None else repr(location)
                    self.problem(origin("stock", "initial_import"), f"stores '{other}' and '{name}' both "
                                 f"import initial stock into {shown}, so the second adds to the first; "
                                 f"set confirm_shared_location_import: true on '{name}' if that is intended")
                importers.setdefault(location_key, index)

    def stray_interpolation(self, value: Any, path: PathT) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.stray_interpolation(item, path + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.stray_interpolation(item, path + (index,))
        elif isinstance(value, str) and "${" in value:
            if path in (("katana", "base_url"), ("state", "url")) or \
                    (len(path) == 3 and path[0] == "stores" and path[2] == "url"):
                return
            self.problem(path, "${...} interpolation works only in katana.base_url, stores[].url and "
                               "state.url; secrets are named with the *_env properties", False)


def check(data: Any, *, env: Mapping[str, str], base_dir: Path, require_env: bool, line_of: LineOf,
          also: tuple[Any, ...] = ()) -> Result:
    """Run every semantic check on schema-shaped (possibly partly invalid) `data`; `also` are more
    checks, each called with the checker (`config` passes `_config_state.check`)."""
    if not isinstance(data, dict):
        return Result()
    checker = _Checker(data, env, base_dir, require_env, line_of)
    checker.katana()
    checker.stores()
    for step in also:
        step(checker)
    _config_locations.check(checker)
    checker.stray_interpolation(data, ())
    return checker.result
