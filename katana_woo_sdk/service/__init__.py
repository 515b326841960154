"""Continuous sync: `katana-woo run`, its webhook receiver, inbox worker, metrics and webhook management.

Callers: `cli_service` (the `run` and `webhooks` commands), tests, `bench/bench_service.py`, and
users embedding the service. Needs the `service` extra (`pip install 'katana-woo[service]'`:
waitress and prometheus_client); the rest of the package never imports this one.

Modules: `signatures` (HMAC checks), `events` (a delivery's meaning), `receiver` (the WSGI app),
`worker` (the inbox to runs), `metrics` (Prometheus), `webhooks` (install/status/uninstall),
`loop` (`Service`: lock, reconcile loop, receiver, stop).
"""
from __future__ import annotations

from .loop import Service, ServiceOptions, parse_every, parse_listen
from .signatures import katana_signature, verify_katana, verify_woo, woo_signature

__all__ = ["Service", "ServiceOptions", "parse_every", "parse_listen", "verify_woo", "verify_katana",
           "woo_signature", "katana_signature"]
