"""The `katana-woo` command: validate a config, plan, apply, show status, move an order, run the demo.

Entry point `main(argv=None) -> int`, installed as the ``katana-woo`` console script and run by
``python -m katana_woo_sdk``. It parses arguments, calls `config` (validate) or `runner.Runner`
(everything else) and prints what they return through `report`; it holds no logic of its own::

    katana-woo validate configs/shops.yaml
    katana-woo plan configs/shops.yaml --out plan.json      # exit 2: there is something to do
    katana-woo apply configs/shops.yaml plan.json

Exit codes follow terraform's ``-detailed-exitcode``: 0 nothing to do (or success), 2 changes were
planned or made or a store needs attention, 1 an error. A usage error exits 1 too, not argparse's
usual 2, which a CI job would read as "changes".

Errors never show a traceback: a `KatanaWooError` (bad config, locked state, an API refusal) is
printed as its message; anything unexpected as one line plus "run with -v for details". Every line
written to stderr goes through `_http.sanitise_url`, a last guard against a credential in a URL.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from ._http import sanitise_url
from .errors import KatanaWooError
from .plan import Plan

log = logging.getLogger(__name__)

PROG = "katana-woo"


class CliError(KatanaWooError):
    """A problem with the command line itself: a missing file, an unreadable plan."""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2, which means "changes" here
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


def _runner_class():
    """The Runner class, imported late so `validate` and `--help` work without the runner's dependencies."""
    from .runner import Runner
    return Runner


# --- parser ------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    # The global options are accepted before or after the subcommand; SUPPRESS keeps a subcommand's
    # parser from resetting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="log to stderr: -v INFO (and tracebacks of unexpected errors), -vv DEBUG")
    common.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars")
    parser = _Parser(prog=PROG, parents=[common],
                     description="Connect WooCommerce stores to Katana MRP locations: plan, then apply.",
                     epilog="Exit codes: 0 nothing to do, 2 changes planned/made or attention needed, 1 error.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=text, description=text)

    def output_options(p: argparse.ArgumentParser) -> None:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--json", action="store_true", help="print JSON")
        group.add_argument("--markdown", action="store_true", help="print Markdown (a pull request comment)")

    p = command("validate", "check a config file and list every problem in it")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-env", action="store_true",
                   help="check the file alone, without the environment variables and files it names (CI lint)")
    p.set_defaults(func=_cmd_validate)

    p = command("plan", "show what apply would do, changing nothing")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--store", action="append", default=[], metavar="NAME", help="only this store (repeatable)")
    p.add_argument("--out", metavar="PLAN_JSON", help="save the plan for `apply CONFIG PLAN_JSON`")
    p.add_argument("--confirm-shared-location-import", action="store_true",
                   help="plan the initial stock import into a location other stores share")
    p.add_argument("--include-customer-data", action="store_true",
                   help="put each order's e-mail, phone and addresses into the plan (off by default, so a plan "
                        "can be posted on a pull request; apply never needs them)")
    output_options(p)
    p.set_defaults(func=_cmd_plan)

    p = command("apply", "apply a saved plan, or plan and apply at once")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("plan", metavar="PLAN_JSON", nargs="?", help="a plan saved by `plan --out`")
    p.add_argument("--store", action="append", default=[], metavar="NAME", help="only this store (repeatable)")
    p.add_argument("--confirm-shared-location-import", action="store_true",
                   help="allow the initial stock import into a location other stores share")
    p.add_argument("--replan", action="store_true",
                   help="with a saved plan: do not enforce it as a contract (apply it although the config changed, "
                        "it was applied or it is old; run changed actions as re-planned); the report says so")
    output_options(p)
    p.set_defaults(func=_cmd_apply)

    p = command("status", "show each store's state and conditions, from the local state")
    p.add_argument("config", metavar="CONFIG")
    output_options(p)
    p.set_defaults(func=_cmd_status)

    p = command("move-order", "move an imported order (and its rows) to another Katana location")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("store", metavar="STORE")
    p.add_argument("order", metavar="ORDER", help="the WooCommerce order id")
    p.add_argument("--to", required=True, metavar="LOCATION", help="location name or id")
    p.set_defaults(func=_cmd_move_order)

    p = command("demo", "run the whole cycle against the embedded sandbox (nothing real is touched)")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="where the demo writes (default: a new ./.katana-woo/demo-<timestamp>/)")
    p.add_argument("--keep-running", action="store_true", help="keep the sandbox up afterwards (Ctrl-C stops)")
    p.set_defaults(func=_cmd_demo)

    p = command("sandbox", "the local emulators of Katana and WooCommerce")
    sandbox_sub = p.add_subparsers(dest="sandbox_command", required=True, metavar="SUBCOMMAND")
    up = sandbox_sub.add_parser("up", parents=[common], help="serve the emulators until Ctrl-C")
    up.add_argument("--dataset", choices=("demo", "empty"), default="demo")
    up.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                    help="multiplies the emulated Katana's rate-limit window (0.01: 60 requests per 0.6 s)")
    up.set_defaults(func=_cmd_sandbox_up)
    return parser


# --- commands ----------------------------------------------------------------------------------------

def _require_file(path: str | Path, what: str) -> Path:
    file = Path(path)
    if not file.exists():
        raise CliError(f"{what} not found: {path}")
    if not file.is_file():
        raise CliError(f"{what} is not a file: {path}")
    return file


def _open_runner(args: argparse.Namespace):
    _require_file(args.config, "config file")
    progress = False if getattr(args, "no_progress", False) else None
    return _runner_class().from_config_file(args.config, progress=progress)


def _emit(obj: Any, args: argparse.Namespace) -> None:
    if args.json:
        _out(json.dumps(obj.to_dict(), indent=2, ensure_ascii=False))
    elif args.markdown:
        _out(obj.to_markdown().rstrip("\n"))
    else:
        _out(str(obj))


def _cmd_validate(args: argparse.Namespace) -> int:
    from . import config as config_module

    _require_file(args.config, "config file")
    options = {"require_env": False} if args.no_env else {}
    issues = list(config_module.validate_file(args.config, **options))
    stores = None
    if not issues:
        stores = len(config_module.load_config(args.config, **options).stores)
    if args.json:
        _out(json.dumps({"file": args.config, "valid": not issues, "stores": stores,
                         "issues": [asdict(issue) for issue in issues]}, indent=2, ensure_ascii=False))
    elif issues:
        _out(config_module.format_issues(issues))
    else:
        _out(f"{args.config} is valid ({stores} store{'s' if stores != 1 else ''})")
    return 1 if issues else 0


def _cmd_plan(args: argparse.Namespace) -> int:
    with _open_runner(args) as runner:
        # Passed only when given, so a runner without the option still plans.
        extra: dict[str, Any] = {"confirm_shared_import": True} if args.confirm_shared_location_import else {}
        if args.include_customer_data:
            extra["include_customer_data"] = True
        plan = runner.plan(stores=args.store or None, **extra)
    if args.out:
        path = plan.save(args.out)
        _err(f"plan saved to {path}; apply exactly this plan with: {PROG} apply {args.config} {path}")
    _emit(plan, args)
    return plan.exit_code


def _load_plan(path: str) -> Plan:
    _require_file(path, "plan file")
    try:
        return Plan.load(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CliError(f"cannot read the plan {path}: {error}") from error


def _cmd_apply(args: argparse.Namespace) -> int:
    plan = _load_plan(args.plan) if args.plan else None
    with _open_runner(args) as runner:
        extra = {"replan": True} if args.replan else {}
        report = runner.apply(plan=plan, stores=args.store or None,
                              confirm_shared_import=args.confirm_shared_location_import, **extra)
    _emit(report, args)
    return report.exit_code


def _cmd_status(args: argparse.Namespace) -> int:
    with _open_runner(args) as runner:
        status = runner.status()
    _emit(status, args)
    return 0


def _number_or_name(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _cmd_move_order(args: argparse.Namespace) -> int:
    with _open_runner(args) as runner:
        result = runner.move_order(args.store, _number_or_name(args.order), _number_or_name(args.to))
    _out(str(result))
    return 0 if getattr(result, "ok", True) else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    return run_demo(state_dir=args.state_dir, out=sys.stdout, keep_running=args.keep_running)


def _cmd_sandbox_up(args: argparse.Namespace) -> int:
    from . import sandbox
    dataset = None if args.dataset == "empty" else args.dataset
    result = sandbox.serve(dataset=dataset, time_scale=args.time_scale)
    return result if isinstance(result, int) else 0


# --- main --------------------------------------------------------------------------------------------

def _out(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def _err(text: str) -> None:
    print(sanitise_url(text), file=sys.stderr, flush=True)


class _SafeFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return sanitise_url(super().format(record))


def _start_logging(verbosity: int) -> tuple[logging.Handler, int]:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("katana_woo_sdk")
    previous = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else logging.WARNING)
    return handler, previous


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (never raises, never prints a traceback unless -v)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as error:
        _err(str(error))
        return 1
    except SystemExit as exit_:  # --help, --version
        return exit_.code if isinstance(exit_.code, int) else 0
    verbosity = getattr(args, "verbose", 0) or 0
    handler, previous_level = _start_logging(verbosity)
    try:
        return int(args.func(args))
    except KatanaWooError as error:
        if verbosity >= 2:
            _err(traceback.format_exc().rstrip())
        _err(f"{PROG}: error: {error}")
        return 1
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return 130
    except Exception as error:  # noqa: BLE001 - the last guard: one line, no traceback unless asked
        if verbosity:
            _err(traceback.format_exc().rstrip())
            _err(f"{PROG}: unexpected error: {type(error).__name__}: {error}")
        else:
            _err(f"{PROG}: unexpected error: {type(error).__name__}: {error}\nrun with -v for details")
        return 1
    finally:
        package_logger = logging.getLogger("katana_woo_sdk")
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
