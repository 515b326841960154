"""The config loader: shipped configs load, every broken config is reported precisely, no secret leaks.

The broken corpus lives in `tests/broken_configs/`, one mistake per file. Each file says what it
expects in its first comment lines, and marks the line the problem must be reported on:

    # expect: <substring of one issue's message>
    # expect-path: <that issue's JSON path>          (optional)
    # forbid: <text that must appear in no message>  (optional, repeatable)
    ...
    location: 1.5  # <-- here                        (optional: the issue's line)
"""
from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from katana_woo_sdk import _config_schema
from katana_woo_sdk.config import (
    Config, ConfigError, ConfigIssue, LifecycleConfig, OrdersConfig, RateLimit, Secret, StockConfig, dump_effective,
    format_issues, load_config, load_config_text, validate_file, validate_text,
)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
BROKEN = sorted((Path(__file__).resolve().parent / "broken_configs").glob("*.yaml"))

CANARY = "kw-canary-5EcReT"  # part of every fake secret: must never appear in any message


def _fake_env() -> dict[str, str]:
    env = {"KATANA_API_KEY": f"{CANARY}-katana-key", "WOO_SHOP_EU_URL": "https://shop-eu.example.com"}
    for store in ("EU", "US"):
        env[f"WOO_SHOP_{store}_KEY"] = f"ck_{CANARY}-{store}-key"
        env[f"WOO_SHOP_{store}_SECRET"] = f"cs_{CANARY}-{store}-secret"
    env["WOO_SWAPPED_KEY"] = f"cs_{CANARY}-swapped-secret"
    env["WOO_SWAPPED_SECRET"] = f"ck_{CANARY}-swapped-key"
    return env


class AnyEnv(dict):
    """An environment that has every variable: URLs for *_URL, a canary secret for the rest."""

    def get(self, name, default=None):
        if name.endswith("_URL"):
            return f"http://127.0.0.1:{8000 + sum(map(ord, name)) % 1000}"
        return f"{CANARY}-{name}"


SANDBOX_ENV = {
    "KATANA_BASE_URL": "http://127.0.0.1:50001/v1", "KATANA_API_KEY": f"{CANARY}-katana",
    **{f"WOO_SHOP_{s}_{kind}": value
       for s, port in (("EU", 50002), ("US", 50003), ("OUTLET", 50004))
       for kind, value in (("URL", f"http://127.0.0.1:{port}/"), ("KEY", f"ck_{CANARY}{s}"),
                           ("SECRET", f"cs_{CANARY}{s}"))},
}

MINIMAL = """\
version: 1
stores:
  - name: shop-eu
    url: https://shop-eu.example.com
    consumer_key_env: WOO_SHOP_EU_KEY
    consumer_secret_env: WOO_SHOP_EU_SECRET
"""


def _no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text


# --- the shipped configs ------------------------------------------------------------------------

def test_configs_directory_holds_the_three_documented_configs():
    assert {p.name for p in CONFIGS} >= {"example.yaml", "demo.yaml", "multi-store.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    assert validate_file(path, AnyEnv()) == []
    config = load_config(path, env=AnyEnv())
    assert config.source == path.resolve() and len(config.config_hash) == 64
    _no_canary(repr(config), json.dumps(dump_effective(config)), repr(dataclasses.asdict(config)))
    # Without secrets (a CI lint of the config repository) every shipped file is valid too.
    assert validate_file(path, {}, require_env=False) == []


def test_demo_config_with_the_sandbox_environment():
    config = load_config(REPO / "configs" / "demo.yaml", env=SANDBOX_ENV)
    assert config.katana.base_url == "http://127.0.0.1:50001/v1"
    assert config.katana.api_key.reveal() == SANDBOX_ENV["KATANA_API_KEY"]
    assert [s.name for s in config.stores] == ["shop-eu", "shop-us", "shop-outlet"]
    locations = {s.name: s.location for s in config.stores}
    assert locations == {"shop-eu": "Main Warehouse", "shop-us": "East Coast DC", "shop-outlet": "Main Warehouse"}
    eu = config.store("shop-eu")
    assert eu.url == "http://127.0.0.1:50002"  # trailing slash normalised away
    assert eu.ecommerce_store_name == "127.0.0.1:50002"
    assert eu.consumer_key.reveal() == SANDBOX_ENV["WOO_SHOP_EU_KEY"]
    assert eu.consumer_secret.reveal() == SANDBOX_ENV["WOO_SHOP_EU_SECRET"]
    assert eu.stock.initial_import and not config.store("shop-outlet").stock.initial_import
    assert not eu.allow_insecure_http  # loopback http needs no opt-in
    assert config.state.path == (REPO / "configs" / ".katana-woo" / "demo" / "state.sqlite")


def test_example_config_merges_defaults_and_parses_values():
    config = load_config(REPO / "configs" / "example.yaml", env=AnyEnv())
    eu, uk = config.store("shop-eu"), config.store("shop-uk")
    assert eu.orders.since == datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert eu.orders.order_no(store="shop-eu", number="1042", id=77) == "EU-1042"
    assert eu.stock.initial_cost_per_unit == Decimal("0") and isinstance(eu.stock.initial_cost_per_unit, Decimal)
    assert uk.stock.buffer == 2 and uk.stock.maximum == 50 and uk.stock.policy == "available"
    assert uk.orders.statuses == ("processing",) and uk.orders.since is None
    assert config.katana.rate_limit == RateLimit(60, 60.0)


def test_multi_store_config():
    config = load_config(REPO / "configs" / "multi-store.yaml", env=AnyEnv())
    assert len(config.stores) == 4
    assert len({s.location for s in config.stores}) == 2
    assert [s.name for s in config.enabled_stores] == ["shop-de", "shop-fr", "shop-us"]
    fr = config.store("shop-fr")
    assert fr.orders.delivery_days == 7 and fr.orders.statuses == ("processing", "on-hold")
    assert fr.stock.buffer == 1
    assert config.store("shop-us").orders.statuses == ("processing",)
    assert config.store("shop-us").stock.initial_cost_per_unit == Decimal("4.75")
    # A disabled store's credentials need not exist.
    only_enabled = {k: f"{CANARY}-{k}" for k in (
        "KATANA_API_KEY", "WOO_SHOP_DE_KEY", "WOO_SHOP_DE_SECRET", "WOO_SHOP_FR_KEY", "WOO_SHOP_FR_SECRET",
        "WOO_SHOP_US_KEY", "WOO_SHOP_US_SECRET")}
    config = load_config(REPO / "configs" / "multi-store.yaml", env=only_enabled)
    assert config.store("shop-b2b").consumer_key is None and not config.store("shop-b2b").enabled


# --- the broken corpus --------------------------------------------------------------------------

def test_broken_corpus_is_large_enough():
    assert len(BROKEN) >= 30


def _directives(text: str, name: str) -> list[str]:
    return re.findall(rf"^# {name}: (.*)$", text, re.M)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_config_is_reported_precisely(path):
    text = path.read_text("utf-8")
    (expect,) = _directives(text, "expect")
    expect_path = _directives(text, "expect-path")
    marked = [n for n, line in enumerate(text.splitlines(), 1) if "# <-- here" in line]

    with pytest.raises(ConfigError) as raised:
        load_config(path, env=_fake_env())
    issues = raised.value.issues
    assert issues and issues == tuple(validate_file(path, _fake_env()))
    for issue in issues:
        assert issue.file == str(path)
        assert isinstance(issue.line, int) and issue.line >= 1 and isinstance(issue.col, int)
        assert issue.path == "$" or issue.path.startswith(("$.", "$["))
        assert str(issue).startswith(f"{path}:{issue.line}:{issue.col}: {issue.path}: ")
    matching = [i for i in issues if expect in i.message]
    assert matching, f"no issue says {expect!r}:\n{raised.value}"
    if expect_path:
        assert any(i.path == expect_path[0] for i in matching), f"wrong path:\n{raised.value}"
    if marked:
        assert any(i.line == marked[0] for i in matching), f"not reported on line {marked[0]}:\n{raised.value}"
    rendered = [str(raised.value), repr(raised.value), format_issues(issues), *map(repr, issues)]
    _no_canary(*rendered)
    for forbidden in _directives(text, "forbid"):
        assert all(forbidden not in r for r in rendered)
    assert "Traceback" not in str(raised.value)


def test_every_problem_is_reported_at_once_sorted_by_line():
    text = MINIMAL + "    locaton: x\n    enabled: maybe\nextra: 1\n"
    issues = validate_text(text, env=_fake_env())
    assert [(i.line, i.path) for i in issues] == [
        (7, "$.stores[0].locaton"), (8, "$.stores[0].enabled"), (9, "$.extra")]
    assert "did you mean 'location'" in issues[0].message


def test_missing_file_is_one_issue_without_a_line(tmp_path):
    issues = validate_file(tmp_path / "nope.yaml", {})
    assert len(issues) == 1 and issues[0].line is None and "cannot read the config file" in issues[0].message
    with pytest.raises(ConfigError):
        load_config(tmp_path / "nope.yaml", env={})


def test_format_issues():
    issues = [ConfigIssue("c.yaml", 3, 5, "$.stores[0].name", "bad"), ConfigIssue("c.yaml", 9, 1, "$", "worse")]
    assert format_issues(issues) == "c.yaml:3:5: $.stores[0].name: bad\nc.yaml:9:1: $: worse\n2 problems found"


# --- secrets ------------------------------------------------------------------------------------

def test_secret_never_shows_its_value():
    secret = Secret(f"{CANARY}-x")
    _no_canary(repr(secret), str(secret), f"{secret}", "%s" % secret, repr([secret]))
    assert repr(secret) == "Secret('***')" and secret.reveal() == f"{CANARY}-x"
    assert secret == Secret(f"{CANARY}-x") and secret != Secret("other") and len({secret, Secret(f"{CANARY}-x")}) == 1
    assert copy.deepcopy(secret) == secret and pickle.loads(pickle.dumps(secret)) == secret
    with pytest.raises(AttributeError):
        secret._value = "changed"


def test_loaded_config_hides_every_secret():
    config = load_config_text(MINIMAL, env=_fake_env())
    assert config.store("shop-eu").consumer_secret.reveal() == _fake_env()["WOO_SHOP_EU_SECRET"]
    _no_canary(repr(config), repr(config.stores), repr(config.katana), json.dumps(dump_effective(config)),
               repr(dataclasses.asdict(config)), str(dataclasses.astuple(config)))


def test_credentials_and_api_key_files(tmp_path):
    (tmp_path / "eu.txt").write_text(f"ck_{CANARY}1\ncs_{CANARY}2\n")
    (tmp_path / "us.yaml").write_text(f"consumer_key: ck_{CANARY}3\nconsumer_secret: cs_{CANARY}4\n")
    (tmp_path / "katana.key").write_text(f"{CANARY}5\n")
    text = """\
version: 1
katana: {api_key_file: katana.key}
stores:
  - {name: eu, url: "https://eu.example.com", credentials_file: eu.txt}
  - {name: us, url: "https://us.example.com", credentials_file: us.yaml}
"""
    (tmp_path / "c.yaml").write_text(text)
    config = load_config(tmp_path / "c.yaml", env={})
    assert config.katana.api_key.reveal() == f"{CANARY}5"
    assert config.katana.api_key_source == f"file:{tmp_path / 'katana.key'}"
    assert config.store("eu").consumer_secret.reveal() == f"cs_{CANARY}2"
    assert config.store("us").consumer_key.reveal() == f"ck_{CANARY}3"
    (tmp_path / "eu.txt").write_text(f"ck_{CANARY}1\n")
    issues = validate_file(tmp_path / "c.yaml", {})
    assert [i.path for i in issues] == ["$.stores[0].credentials_file"] and "two lines" in issues[0].message
    _no_canary(*map(str, issues))


def test_require_env_false_loads_without_any_secret():
    config = load_config_text(MINIMAL, env={}, require_env=False)
    assert config.katana.api_key is None and config.store("shop-eu").consumer_key is None
    with pytest.raises(ConfigError, match="KATANA_API_KEY is not set"):
        load_config_text(MINIMAL, env={})


# --- values and their resolution ----------------------------------------------------------------

def test_url_interpolation():
    text = MINIMAL.replace("https://shop-eu.example.com", "${SHOP_URL:-https://Fallback.example.com/}")
    assert load_config_text(text, env=_fake_env()).stores[0].url == "https://fallback.example.com"
    env = dict(_fake_env(), SHOP_URL="https://shop.example.com:8443/store/")
    store = load_config_text(text, env=env).stores[0]
    assert store.url == "https://shop.example.com:8443/store" and store.ecommerce_store_name == "shop.example.com:8443"
    text = MINIMAL.replace("https://shop-eu.example.com", "https://shop.example.com:443/")
    assert load_config_text(text, env=_fake_env()).stores[0].ecommerce_store_name == "shop.example.com"


def test_interpolation_rules():
    from katana_woo_sdk._config_checks import interpolate
    assert interpolate("https://$${X}.example/${A}", {"A": "a"}) == ("https://${X}.example/a", None)
    assert interpolate("${A:-fallback}", {"A": ""}) == ("fallback", None)
    assert interpolate("${A:-}", {}) == ("", None)
    assert interpolate("x$y", {}) == ("x$y", None)
    assert interpolate("${A}", {}) == (None, "environment variable A is not set (used as ${A})")
    assert "bad interpolation" in interpolate("${A B}", {})[1]


def test_require_env_false_keeps_unexpanded_urls():
    config = load_config(REPO / "configs" / "demo.yaml", env={}, require_env=False)
    assert config.store("shop-eu").url == "${WOO_SHOP_EU_URL}" and config.katana.api_key is None


def test_http_allowed_for_loopback_or_with_opt_in():
    for url in ("http://localhost:8080", "http://127.0.0.1:9", "http://[::1]:8080"):
        load_config_text(MINIMAL.replace("https://shop-eu.example.com", url), env=_fake_env())
    text = MINIMAL.replace("https://shop-eu.example.com", "http://lan-shop.internal")
    text += "    allow_insecure_http: true\n"
    assert load_config_text(text, env=_fake_env()).stores[0].allow_insecure_http


def test_unquoted_timestamp_and_bare_date_become_utc_datetimes():
    for raw, expected in (("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
                          ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
                          ("2024-05-01", datetime(2024, 5, 1, tzinfo=timezone.utc))):
        config = load_config_text(MINIMAL + f"    orders:\n      since: {raw}\n", env=_fake_env())
        assert config.stores[0].orders.since == expected and config.stores[0].orders.since.tzinfo is not None


def test_state_path_is_relative_to_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text(MINIMAL + "state:\n  path: ../state/s.sqlite\n")
    config = load_config(tmp_path / "sub" / "c.yaml", env=_fake_env())
    assert config.state.path == tmp_path.resolve() / "state" / "s.sqlite" and config.state.path.is_absolute()
    config = load_config_text(MINIMAL, base_dir=tmp_path, env=_fake_env())
    assert config.state.path == tmp_path.resolve() / ".katana-woo" / "state.sqlite"


def test_yaml_anchors_merge_keys_and_extension_keys():
    text = """\
version: 1
x-creds: &creds
  consumer_key_env: WOO_SHOP_EU_KEY
  consumer_secret_env: WOO_SHOP_EU_SECRET
stores:
  - <<: *creds
    name: shop-eu
    url: https://shop-eu.example.com
  - <<: *creds
    name: shop-us
    url: https://shop-us.example.com
    consumer_key_env: WOO_SHOP_US_KEY
    consumer_secret_env: WOO_SHOP_US_SECRET
"""
    config = load_config_text(text, env=_fake_env())
    assert config.store("shop-us").consumer_key.reveal() == _fake_env()["WOO_SHOP_US_KEY"]


def test_hashes_are_stable_cover_settings_and_ignore_secrets():
    first = load_config_text(MINIMAL, env=_fake_env(), base_dir="/")
    again = load_config_text(MINIMAL, env=dict(_fake_env(), WOO_SHOP_EU_SECRET="cs_other"), base_dir="/")
    assert first.config_hash == again.config_hash and first.store_hash("shop-eu") == again.store_hash("shop-eu")
    assert re.fullmatch(r"[0-9a-f]{12}", first.store_hash("shop-eu"))
    changed = load_config_text(MINIMAL + "    location: Main Warehouse\n", env=_fake_env(), base_dir="/")
    assert changed.config_hash != first.config_hash and changed.store_hash("shop-eu") != first.store_hash("shop-eu")
    with pytest.raises(KeyError, match="shop-eu"):
        first.store("nope")


def test_dump_effective_is_json_without_secrets():
    dumped = dump_effective(load_config_text(MINIMAL, env=_fake_env()))
    json.dumps(dumped)
    assert dumped["katana"]["api_key_source"] == "env:KATANA_API_KEY" and dumped["katana"]["api_key_set"]
    assert dumped["stores"][0]["orders"]["statuses"] == ["processing"]


def test_stock_target_quantity_and_order_numbers():
    assert StockConfig().target_quantity(Decimal("10"), Decimal("3")) == 7
    assert StockConfig(policy="in_stock").target_quantity(10, 3) == 10
    assert StockConfig(buffer=2, maximum=4).target_quantity("10.5", "0") == 4
    assert StockConfig().target_quantity("2.7", 0) == 2
    assert StockConfig().target_quantity(1, 5) == 0
    assert StockConfig(floor_zero=False).target_quantity(1, 5) == -4
    assert OrdersConfig().order_no(store="shop-eu", number=1001, id=9) == "WC-shop-eu-1001"


# --- the schema ---------------------------------------------------------------------------------

SCHEMA_PATH = REPO / "schemas" / "config.schema.json"


def test_packaged_schema_is_the_repository_schema():
    assert (REPO / "katana_woo_sdk" / "schemas" / "config.schema.json").read_bytes() == SCHEMA_PATH.read_bytes()
    assert _config_schema.schema() == json.loads(SCHEMA_PATH.read_text("utf-8"))


def _property_nodes(node, path="$"):
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}.{name}", sub
        for key, sub in node.items():
            if isinstance(sub, (dict, list)):
                yield from _property_nodes(sub, path if key in ("properties", "items") else path)
    elif isinstance(node, list):
        for sub in node:
            yield from _property_nodes(sub, path)


def test_schema_is_valid_and_documents_every_property():
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    nodes = list(_property_nodes(schema))
    assert len(nodes) > 40
    for path, node in nodes:
        assert node.get("description"), f"{path} has no description"
        for example in node.get("examples", []):
            assert not list(Draft202012Validator(node).iter_errors(example)), f"{path}: bad example {example!r}"
        if "default" in node:
            assert not list(Draft202012Validator(node).iter_errors(node["default"])), f"{path}: bad default"


@pytest.mark.parametrize("section, cls", [("orders", OrdersConfig), ("stock", StockConfig)])
def test_schema_defaults_match_dataclass_defaults(section, cls):
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    if section == "orders":    # the `orders` block also holds what happens after the import
        defaults.update({f.name: f.default for f in dataclasses.fields(LifecycleConfig)})
    for name in _config_schema.node("stores", section)["properties"]:
        expected = _config_schema.default("stores", section, name)
        actual = defaults[name]
        assert (list(actual) if isinstance(actual, tuple) else actual) == expected, name
    assert set(defaults) == set(_config_schema.node("stores", section)["properties"])


def test_schema_defaults_match_loaded_defaults():
    config = load_config_text(MINIMAL, env=_fake_env())
    assert config.katana.base_url == _config_schema.default("katana", "base_url")
    assert config.katana.rate_limit.requests == _config_schema.default("katana", "rate_limit", "requests")
    assert config.state.lock_timeout_seconds == _config_schema.default("state", "lock_timeout_seconds")
    assert config.state.path.name == Path(_config_schema.default("state", "path")).name
    store = config.stores[0]
    assert store.enabled is True and store.verify is True and store.location is None
    assert isinstance(config, Config)
