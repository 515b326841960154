"""`katana-woo state migrate`: move a state between SQLite and PostgreSQL, exactly.

Called by `cli.build_parser`, which registers `add_state_command` (this module holds the command
group's code; `cli` only registers it). The copy itself is `state.copy_state`; this module turns
the two arguments into `State`s and prints what was copied::

    katana-woo state migrate --from sqlite:configs/.katana-woo/state.sqlite \\
        --to postgresql://katana_woo@db.internal:5432/katana_woo --to-password-env KW_STATE_PASSWORD
    katana-woo state migrate --from postgresql://katana_woo@db.internal/katana_woo --to sqlite:backup.sqlite

A PostgreSQL password never goes on the command line (where `ps` shows it): it comes from the
variable `--from-password-env` / `--to-password-env` names, or from libpq's own PGPASSWORD or
~/.pgpass. Exit codes: 0 copied and verified, 1 refused or failed (nothing written).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .cli import CliError
from .state import State, copy_state
from .state.postgres import DEFAULT_SCHEMA, PgTarget, is_url, safe_url, url_problem

SPEC_HELP = "sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE"


def add_state_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `katana-woo state migrate` on the top-level subparsers `sub`."""
    text = "the state: move it between SQLite and PostgreSQL"
    p = sub.add_parser("state", parents=[common], help=text, description=text)
    state_sub = p.add_subparsers(dest="state_command", required=True, metavar="SUBCOMMAND")
    text = "copy a state exactly (every table, ids included) into an empty one, and verify it"
    m = state_sub.add_parser("migrate", parents=[common], help=text, description=text)
    m.add_argument("--from", dest="source", required=True, metavar="SOURCE", help=SPEC_HELP)
    m.add_argument("--to", dest="target", required=True, metavar="TARGET", help=f"{SPEC_HELP}; must be empty")
    m.add_argument("--schema", default=DEFAULT_SCHEMA, metavar="NAME",
                   help=f"the PostgreSQL schema of the state (state.schema in the config; default {DEFAULT_SCHEMA})")
    m.add_argument("--from-password-env", metavar="VAR", help="environment variable holding SOURCE's password")
    m.add_argument("--to-password-env", metavar="VAR", help="environment variable holding TARGET's password")
    m.add_argument("--lock-timeout", type=float, default=0.0, metavar="SECONDS",
                   help="how long to wait for a runner holding either state's lock (default 0: fail at once)")
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(func=_cmd_migrate)


def _open(spec: str, *, password_env: str | None, schema: str, must_exist: bool, what: str) -> State:
    if spec.startswith("sqlite:"):
        path = Path(spec[len("sqlite:"):].removeprefix("//")).expanduser()
        if not path.name:
            raise CliError(f"{what}: {spec!r} names no file; write sqlite:PATH")
        if must_exist and not path.is_file():
            raise CliError(f"{what}: no state file at {path}")
        return State(path)
    if not is_url(spec):
        raise CliError(f"{what} must be {SPEC_HELP}, not {safe_url(spec)!r}")
    problem = url_problem(spec)
    if problem:
        problem = problem.replace("state.password_env or state.password_file",
                                  f"--{'from' if what == 'SOURCE' else 'to'}-password-env")
        raise CliError(f"{what} {safe_url(spec)} {problem}")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise CliError(f"environment variable {password_env} (the password of {what}) is not set")
    if must_exist and not PgTarget(spec, password, schema).has_state():
        raise CliError(f"{what}: no state in schema {schema} of {safe_url(spec)} (see --schema)")
    return State(spec, password=password, schema=schema)


def _cmd_migrate(args: argparse.Namespace) -> int:
    with _open(args.source, password_env=args.from_password_env, schema=args.schema, must_exist=True,
               what="SOURCE") as source, \
            _open(args.target, password_env=args.to_password_env, schema=args.schema, must_exist=False,
                  what="TARGET") as target:
        report = copy_state(source, target, timeout=args.lock_timeout)
    text = json.dumps(report.to_dict(), indent=2) if args.json else str(report)
    print(text, file=sys.stdout, flush=True)
    return 0
