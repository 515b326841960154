"""`katana-woo run` and `katana-woo webhooks install|status|uninstall`: the service's commands.

Called by `cli.build_parser`, which registers `add_service_commands`; the service itself is
`katana_woo_sdk.service`, imported only when one of these commands runs (it needs the `service`
extra: waitress and prometheus_client), so the batch commands never need it.

    katana-woo run configs/shops.yaml --every 5m --listen 0.0.0.0:8080
    katana-woo webhooks install configs/shops.yaml --url https://sync.example.com

`run` exits 0 after SIGTERM or SIGINT (the action in progress finishes and is recorded first),
1 when it cannot start (the state lock is held by another runner: it names it).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from .cli import CliError
from .config import load_config

EXTRA_HINT = "the service needs its extra: pip install 'katana-woo[service]'"


def add_service_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    text = "the continuous sync: reconcile at start and every interval, and act on webhooks between them"
    p = sub.add_parser("run", parents=[common], help=text, description=text)
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--every", default="5m", metavar="INTERVAL",
                   help="time between reconciles: 30s, 5m, 1h (default 5m); polling stays the truth")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="serve the webhook receiver, /healthz, /readyz and /metrics here (e.g. 0.0.0.0:8080)")
    p.add_argument("--debounce", type=float, default=1.0, metavar="SECONDS",
                   help="how long a first event waits for others, so a burst is one run (default 1)")
    p.add_argument("--standby", action="store_true",
                   help="wait for the state lock as long as it takes (a hot standby: a second replica on a "
                        "PostgreSQL state takes over when the first one's connection ends)")
    p.set_defaults(func=_cmd_run)

    text = "the WooCommerce and Katana webhooks `run` listens to"
    w = sub.add_parser("webhooks", parents=[common], help=text, description=text)
    hooks = w.add_subparsers(dest="webhooks_command", required=True, metavar="SUBCOMMAND")
    for name, help_text in (("install", "create or update them (idempotent; re-enables disabled ones)"),
                            ("status", "show each webhook's health and record WebhooksHealthy per store"),
                            ("uninstall", "delete the webhooks that deliver to --url")):
        h = hooks.add_parser(name, parents=[common], help=help_text, description=help_text)
        h.add_argument("config", metavar="CONFIG")
        h.add_argument("--url", required=name != "status", metavar="PUBLIC_URL",
                       help="the service's public base URL (https; the receiver's /webhooks/... paths are added)")
        h.add_argument("--json", action="store_true", help="print JSON")
        h.set_defaults(func=_cmd_webhooks)


def _service() -> Any:
    try:
        from . import service
    except ImportError as exc:   # waitress or prometheus_client missing
        raise CliError(f"{EXTRA_HINT} ({exc})") from None
    return service


def _cmd_run(args: argparse.Namespace) -> int:
    service = _service()
    try:
        options = service.ServiceOptions(every=service.parse_every(args.every),
                                         listen=service.parse_listen(args.listen) if args.listen else None,
                                         debounce=max(0.0, args.debounce), standby=args.standby)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    config = load_config(args.config)
    with service.Service(config, options) as svc:
        previous = {sig: signal.signal(sig, lambda *_: svc.stop()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            svc.start()
            if svc.url:
                print(f"katana-woo run: listening on {svc.url}", file=sys.stderr, flush=True)
            if svc.holds_lock:
                svc.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    print("katana-woo run: stopped", file=sys.stderr, flush=True)
    return 0


def _cmd_webhooks(args: argparse.Namespace) -> int:
    from .runner import Runner
    webhooks = _service().webhooks
    config = load_config(args.config)
    with Runner(config, progress=False) as runner:
        if args.webhooks_command == "install":
            report = webhooks.install(config, runner.katana, runner.woo, args.url)
        elif args.webhooks_command == "uninstall":
            report = webhooks.uninstall(config, runner.katana, runner.woo, args.url)
        else:
            report = webhooks.status(config, runner.katana, runner.woo, runner.state, args.url)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    code: int = report.exit_code
    return code


__all__ = ["add_service_commands"]
