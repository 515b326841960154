"""No credential appears in logs (ours or third-party, at DEBUG), reprs, plans, reports, status or state."""
from __future__ import annotations

import json
import logging

from katana_woo_sdk import sandbox
from katana_woo_sdk._http import redact_text

from _harness import make_runner


def test_a_debug_run_leaks_no_credential(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with sandbox.start(katana_rate=None) as sb:
        stores = {"shop-eu": {"location": "Main Warehouse"}, "shop-us": {"location": "East Coast DC"}}
        with make_runner(sb, tmp_path, stores) as runner:
            plan = runner.plan()
            report = runner.apply()
            texts = [repr(runner), repr(runner.config), repr(runner.katana), repr(runner.woo), str(plan),
                     plan.to_markdown(), plan._repr_html_(), json.dumps(plan.to_dict()), str(report),
                     json.dumps(report.to_dict()), str(runner.status()), caplog.text]
            db = runner.state.path.read_bytes()
        secrets = [v for k, v in sb.env().items() if k.endswith(("_KEY", "_SECRET"))]
    assert len(secrets) == 7 and any("oauthlib" in r.name for r in caplog.records), "the run logged nothing to check"
    for secret in secrets:
        assert not [t for t in texts if secret in t]
        assert secret.encode() not in db


def test_redaction_of_third_party_log_lines():
    assert "ck_9" not in redact_text("Normalized params: oauth_consumer_key=ck_9&oauth_nonce=1&page=1")
    assert "ck_9" not in redact_text("GET&http%3A%2F%2Fh%2Fo&oauth_consumer_key%3Dck_9%26oauth_nonce%3D1")
    # a parameter sorting before oauth_*: the name follows an encoded "&", not a word boundary
    assert "ck_9" not in redact_text("GET&http%3A%2F%2Fh%2F&_fields%3Dhome%26oauth_consumer_key%3Dck_9%26oauth_n%3D1")
    assert "ck_9" not in redact_text("[('oauth_consumer_key', 'ck_9'), ('page', '1')]")
    assert "ck_9" not in redact_text("<Client client_key=ck_9, client_secret=****>")
    assert "cs_9" not in redact_text('"GET /wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_9 HTTP/1.1"')
    assert redact_text("page=1&per_page=100") == "page=1&per_page=100"
