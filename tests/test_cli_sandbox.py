"""The command line against the sandbox: status, wait and history on the state alone (no
credentials in the environment), explain with them, logs at -v/-vv and as JSON, the edges the
issue lists (a wrong Katana key, a closed pipe) and that none of it shows a secret.

One demo sandbox and one apply (through `katana-woo apply`) are shared by the module's tests.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from katana_woo_sdk import cli, sandbox
from katana_woo_sdk.errors import ApiError, TransportError

from _harness import config_text

REPO = Path(__file__).resolve().parents[1]
STORES = {"shop-eu": {"location": "Main Warehouse", "stock": {"initial_import": True}},
          "shop-us": {"location": "East Coast DC"}, "shop-outlet": {"location": "Main Warehouse"}}


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def clear_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("KATANA_", "WOO_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    with sandbox.start(katana_rate=None) as sb:
        config = tmp / "shops.yaml"
        config.write_text(config_text(STORES, state_path=tmp / "state.sqlite"), encoding="utf-8")
        only_eu = tmp / "eu.yaml"
        only_eu.write_text(config_text({"shop-eu": STORES["shop-eu"]}, state_path=tmp / "state.sqlite"),
                           encoding="utf-8")
        yield {"sb": sb, "config": config, "only_eu": only_eu, "tmp": tmp, "env": sb.env()}


@pytest.fixture
def with_env(world, monkeypatch):
    clear_env(monkeypatch)
    for name, value in world["env"].items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def no_env(monkeypatch):
    clear_env(monkeypatch)


@pytest.fixture(scope="module")
def applied(world):
    """One `katana-woo apply -v --log-format json` (held orders: exit 2, changes made)."""
    saved = dict(os.environ)
    os.environ.update(world["env"])
    stderr = sys.stderr
    try:
        import io
        sys.stderr = buffer = io.StringIO()
        code = cli.main(["apply", str(world["config"]), "-v", "--log-format", "json", "--json"])
    finally:
        sys.stderr = stderr
        os.environ.clear()
        os.environ.update(saved)
    return code, buffer.getvalue()


def secrets(world) -> list[str]:
    return [v for k, v in world["env"].items() if k.endswith(("_KEY", "_SECRET"))]


# --- status, wait, history: the state alone ---------------------------------------------------------

def test_status_on_a_fresh_state_says_run_apply_first_and_creates_nothing(world, no_env, capsys, tmp_path):
    config = tmp_path / "fresh.yaml"
    config.write_text(config_text(STORES, state_path=tmp_path / "never.sqlite"), encoding="utf-8")
    code, out, err = run(capsys, "status", config)
    assert code == 0 and "run apply first" in out and err == ""
    code, out, _ = run(capsys, "status", config, "--json", "--exit-code")
    data = json.loads(out)
    assert code == 3 and data["phase"] == "Unknown" and data["state_found"] is False
    assert "run apply first" in data["message"]
    assert run(capsys, "history", config)[1].startswith("History (0 runs")
    code, _, err = run(capsys, "wait", config, "--for", "Ready", "--timeout", "0.2", "--interval", "0.1")
    assert code == 1 and "timed out after 0.2 s waiting for Ready: no state yet" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.yaml"]      # no state file, no lock


def test_apply_logs_each_action_as_json(world, applied):
    code, log = applied
    assert code == 2
    records = [json.loads(line) for line in log.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    messages = [r["message"] for r in records if r["level"] == "INFO"]
    assert any(m.startswith("shop-eu: applied order.import order:65") for m in messages)
    assert any(m.startswith("shop-us: applied stock.push stock-push") for m in messages)
    assert not [s for s in secrets(world) if s in log]


def test_status_history_and_wait_need_no_credentials(world, applied, no_env, capsys):
    code, out, err = run(capsys, "status", world["config"], "--json", "--exit-code")
    data = json.loads(out)
    assert code == 3 and data["phase"] == "Degraded" and data["stale"] is False     # held orders
    assert "URL variables of shop-eu, shop-us, shop-outlet are not set here" in data["message"]
    phases = {s["store"]: s["phase"] for s in data["stores"]}
    assert phases == {"shop-eu": "Ready", "shop-us": "Degraded", "shop-outlet": "Degraded"}
    held = next(s for s in data["stores"] if s["store"] == "shop-us")["held"][0]
    assert held["attempts"] == 1 and held["since"] and held["reason"] == "unknown_sku"
    code, out, _ = run(capsys, "status", world["config"], "--store", "shop-eu", "--exit-code")
    assert code == 0 and "shop-eu: Ready" in out and "shop-us:" not in out
    code, out, _ = run(capsys, "wait", world["config"], "--for", "Ready", "--store", "shop-eu", "--timeout", "1")
    assert code == 0 and "shop-eu: Ready" in out
    code, _, err = run(capsys, "wait", world["config"], "--for", "Ready", "--timeout", "0.3", "--interval", "0.1")
    assert code == 1 and err.strip() == ("katana-woo: error: timed out after 0.3 s waiting for Ready: "
                                         "shop-us Degraded, 1 held; shop-outlet Degraded, 1 held")
    code, out, _ = run(capsys, "history", world["config"], "--json", "--since", "1h")
    runs = json.loads(out)["runs"]
    assert code == 0 and runs[0]["command"] == "apply" and runs[0]["katana_calls"] > 0
    code, out, _ = run(capsys, "history", world["config"], "--store", "shop-us", "--markdown")
    assert code == 0 and out.startswith("**History: 1 run: 1 ok")
    code, _, err = run(capsys, "history", world["config"], "--since", "yesterday")
    assert code == 1 and "--since 'yesterday'" in err and len(err.strip().splitlines()) == 1


def test_status_is_stale_when_the_config_changed(world, applied, with_env, capsys, tmp_path):
    changed = tmp_path / "changed.yaml"
    text = world["only_eu"].read_text(encoding="utf-8").replace("initial_import: true", "initial_import: true\n"
                                                                  "    buffer: 2")
    changed.write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "status", changed, "--json", "--exit-code")
    data = json.loads(out)
    assert code == 3 and data["stale"] is True and data["stores"][0]["config_changed"] is True
    assert "config changed" in data["stores"][0]["stale"][0]
    code, _, err = run(capsys, "wait", changed, "--for", "Ready", "--timeout", "0.1", "--interval", "0.1")
    assert code == 1 and "shop-eu Ready (config changed since its last apply)" in err


# --- explain, with credentials ----------------------------------------------------------------------

def test_explain_from_the_command_line(world, applied, with_env, capsys):
    code, out, err = run(capsys, "explain", world["config"], "order", "shop-us", "67")
    assert code == 0 and "Order #67 of shop-us: held (unknown_sku)" in out, err
    code, out, _ = run(capsys, "explain", world["config"], "sku", "MUG-CLASSIC", "--store", "shop-eu", "--json")
    data = json.loads(out)
    assert code == 0 and data["sku"] == "MUG-CLASSIC" and [f["store"] for f in data["figures"]] == ["shop-eu"]
    code, out, _ = run(capsys, "explain", world["config"], "sku", "MUG-CLASSIC", "--markdown")
    assert code == 0 and out.startswith("**MUG-CLASSIC: shop-eu ")
    assert not [s for s in secrets(world) if s in out]


def test_debug_logs_each_http_call(world, applied, with_env, capsys):
    code, out, err = run(capsys, "plan", world["only_eu"], "-vv")
    assert code in (0, 2, 3)
    calls = [line for line in err.splitlines() if line.startswith("DEBUG katana_woo_sdk._http:")]
    assert len(calls) >= 5 and any(" -> 200 in " in line and " ms" in line for line in calls)
    assert any(line.startswith("DEBUG katana_woo_sdk._http: katana GET ") for line in calls)
    assert not [s for s in secrets(world) if s in err]


# --- edges ---------------------------------------------------------------------------------------------

def test_a_wrong_katana_key_is_reported_once(world, with_env, monkeypatch, capsys):
    monkeypatch.setenv("KATANA_API_KEY", "not-the-sandbox-key")
    code, out, err = run(capsys, "plan", world["config"])
    assert code == 1
    # One error, three stores ("-> 401": the sandbox's port may hold "401" too).
    assert out.count("-> 401 ") == 1 and out.count("UnauthorizedError") == 1, out
    assert "shop-eu, shop-us, shop-outlet: [error]" in out
    assert "Plan: 0 to import, 0 initial stock imports, 0 stock changes, 0 held; 3 stores in error." in out


def test_output_into_a_closed_pipe_ends_quietly(world, applied, tmp_path):
    plan = tmp_path / "plan.json"
    env = {**os.environ, **world["env"]}
    subprocess.run([sys.executable, "-m", "katana_woo_sdk", "plan", str(world["config"]), "--out", str(plan)],
                   cwd=REPO, env=env, capture_output=True, timeout=120, check=False)
    assert plan.exists()
    proc = subprocess.Popen([sys.executable, "-m", "katana_woo_sdk", "show", str(plan), "--json"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()                                                      # `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(60)
    assert err == "" and proc.returncode in (0, 141)


def test_woocommerce_errors_do_not_list_oauth_parameters():
    url = ("http://127.0.0.1:8001/wp-json/wc/v3/orders?oauth_consumer_key=REDACTED&oauth_nonce=REDACTED"
           "&oauth_signature=REDACTED&oauth_signature_method=REDACTED&oauth_timestamp=REDACTED"
           "&oauth_version=REDACTED&status=processing")
    error = ApiError.from_response(system="woocommerce", method="GET", url=url, status=500,
                                   headers={"Content-Type": "application/json", "X-Request-Id": "req-42",
                                            "Set-Cookie": "wp=1"}, body=b'{"code": "x", "message": "boom"}')
    assert str(error).startswith("woocommerce GET http://127.0.0.1:8001/wp-json/wc/v3/orders?status=processing "
                                 "-> 500 x: boom")
    assert error.request_id == "req-42" and str(error).endswith("[request id req-42]")
    assert error.header("x-request-id") == "req-42" and error.header("Set-Cookie") is None
    refused = TransportError("woocommerce", "GET", url, "ConnectionRefusedError", connect_failed=True)
    assert "oauth_" not in str(refused) and "orders?status=processing" in str(refused)
