"""The `katana-woo` command: validate, plan, apply, status, wait, history, explain, show, move-order, demo.

Entry point `main(argv=None) -> int`, installed as the ``katana-woo`` console script and run by
``python -m katana_woo_sdk``. It parses arguments, calls `config` (validate), `conditions` and
`history` (status, wait, history: the local state only, no credentials), `plan.Plan.load` (show)
or `runner.Runner` (everything else), and prints what they return; it holds no logic of its own::

    katana-woo validate configs/shops.yaml
    katana-woo plan configs/shops.yaml --out plan.json      # exit 2: there is something to do
    katana-woo apply configs/shops.yaml plan.json
    katana-woo status configs/shops.yaml --json --exit-code
    katana-woo explain configs/shops.yaml order shop-us 67

Exit codes (`EXIT_CODES`, one table in the README): 0 nothing to do (or success), 1 an error, 2
changes planned or made, 3 attention only (held orders, a blocked store, a status not Ready),
130 interrupted. A usage error exits 1 too, not argparse's usual 2, which a CI job would read as
"changes".

Errors never show a traceback: a `KatanaWooError` (bad config, locked state, an API refusal) is
printed as its message; anything unexpected as one line plus "run with -v for details". Every line
written to stderr, log lines included, goes through `_http.redact_text`, a last guard against a
credential. Output to a closed pipe (``katana-woo plan ... | head``) ends quietly.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
import traceback
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from ._http import redact_text
from .errors import KatanaWooError
from .plan import EXIT_ATTENTION, EXIT_ERROR, Plan, Status

log = logging.getLogger(__name__)

PROG = "katana-woo"
EXIT_CODES = ("0 nothing to do, 1 error, 2 changes planned or made, 3 attention only (held orders, a blocked "
              "store, a status not Ready), 130 interrupted")
PHASES = ("Ready", "Degraded", "Blocked")


class CliError(KatanaWooError):
    """A problem with the command line itself: a missing file, an unreadable plan, an unknown store."""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit 2, which means "changes" here
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


def _runner_class() -> Any:
    """The Runner class, imported late so `validate`, `status` and `--help` work without it."""
    from .runner import Runner
    return Runner


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {value}")
    return number


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return int(value)


# --- parser ------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    # The global options are accepted before or after the subcommand; SUPPRESS keeps a subcommand's
    # parser from resetting a value given before it.
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="log to stderr: -v INFO (each action; tracebacks of unexpected errors), "
                             "-vv DEBUG (each HTTP call)")
    common.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS,
                        help="log lines as text (default) or one JSON object per line")
    common.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars (they only show on a terminal anyway)")
    parser = _Parser(prog=PROG, parents=[common],
                     description="Connect WooCommerce stores to Katana MRP locations: plan, then apply.",
                     epilog=f"Exit codes: {EXIT_CODES}.")
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=text, description=text,
                              epilog=f"Exit codes: {EXIT_CODES}.")

    def output_options(p: argparse.ArgumentParser) -> None:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--json", action="store_true", help="print JSON")
        group.add_argument("--markdown", action="store_true", help="print Markdown (a pull request comment)")

    def stores(p: argparse.ArgumentParser, text: str = "only this store (repeatable)") -> None:
        p.add_argument("--store", action="append", default=[], metavar="NAME", help=text)

    p = command("validate", "check a config file and list every problem in it")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-env", action="store_true",
                   help="check the file alone, without the environment variables and files it names (CI lint)")
    p.set_defaults(func=_cmd_validate)

    p = command("plan", "show what apply would do, changing nothing")
    p.add_argument("config", metavar="CONFIG")
    stores(p)
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
    stores(p)
    p.add_argument("--confirm-shared-location-import", action="store_true",
                   help="allow the initial stock import into a location other stores share")
    p.add_argument("--full", action="store_true",
                   help="a full reconcile: read everything, not only what changed since the last run")
    p.add_argument("--replan", action="store_true",
                   help="with a saved plan: do not enforce it as a contract (apply it although the config changed, "
                        "it was applied or it is old; run changed actions as re-planned); the report says so")
    output_options(p)
    p.set_defaults(func=_cmd_apply)

    p = command("status", "each store's phase and conditions, from the local state only (no credentials needed)")
    p.add_argument("config", metavar="CONFIG")
    stores(p)
    p.add_argument("--exit-code", action="store_true",
                   help="exit 0 when every store is Ready and fresh, 3 when not (held, blocked, stale, no state)")
    p.add_argument("--stale-after", type=_positive, default=24 * 60, metavar="MINUTES",
                   help="a store no apply has looked at for this long is stale (default 1440: a day)")
    output_options(p)
    p.set_defaults(func=_cmd_status)

    p = command("wait", "wait until every store reaches a phase, reading the local state (for pipelines)")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--for", dest="phase", required=True, choices=PHASES, help="the phase to wait for")
    stores(p)
    p.add_argument("--timeout", type=_positive, default=300.0, metavar="SECONDS", help="give up after (default 300)")
    p.add_argument("--interval", type=_positive, default=5.0, metavar="SECONDS", help="read every (default 5)")
    p.add_argument("--json", action="store_true", help="print the final status as JSON")
    p.set_defaults(func=_cmd_wait)

    p = command("history", "past runs from the local state: outcome, each store's status, cost")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--store", metavar="NAME", help="only runs that touched this store")
    p.add_argument("--since", metavar="WHEN", help="an ISO date or time (UTC), or an age: 90m, 12h, 7d")
    p.add_argument("--limit", type=_count, default=20, metavar="N", help="at most N runs (default 20)")
    output_options(p)
    p.set_defaults(func=_cmd_history)

    p = command("explain", "why: an order's story (`order STORE ID`) or a SKU's figure (`sku SKU`), reading "
                           "the state, Katana and the stores, changing nothing")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("subject", choices=("order", "sku"), metavar="{order,sku}")
    p.add_argument("args", nargs="+", metavar="ARG", help="order: STORE WOO_ORDER_ID; sku: SKU")
    p.add_argument("--store", metavar="NAME", help="sku: only this store's figure")
    output_options(p)
    p.set_defaults(func=_cmd_explain)

    p = command("show", "print a saved plan for a reviewer (no config or credentials needed)")
    p.add_argument("plan", metavar="PLAN_JSON")
    output_options(p)
    p.set_defaults(func=_cmd_show)

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
    up.add_argument("--time-scale", type=_positive, default=1.0, metavar="X",
                    help="multiplies the emulated Katana's rate-limit window (0.01: 60 requests per 0.6 s); > 0")
    up.set_defaults(func=_cmd_sandbox_up)

    from .cli_state import add_state_command  # `katana-woo state migrate`, in a module of its own
    add_state_command(sub, common)
    from .cli_service import add_service_commands  # `katana-woo run` and `webhooks`, likewise
    add_service_commands(sub, common)

    from .rehearsal import add_commands     # `snapshot` and `rehearse` live in their own module
    add_commands(command)
    return parser


# --- commands that need the runner (credentials) --------------------------------------------------------

def _require_file(path: str | Path, what: str) -> Path:
    file = Path(path)
    if not file.exists():
        raise CliError(f"{what} not found: {path}")
    if not file.is_file():
        raise CliError(f"{what} is not a file: {path}")
    return file


def _open_runner(args: argparse.Namespace) -> Any:
    _require_file(args.config, "config file")
    progress = False if getattr(args, "no_progress", False) else None
    return _runner_class().from_config_file(args.config, progress=progress)


def _check_stores(config: Any, names: Sequence[str], path: str) -> None:
    known = [s.name for s in config.stores]
    for name in names:
        if name not in known:
            raise CliError(f"no store {name!r} in {path} (its stores: {', '.join(known)})")


def _emit(obj: Any, args: argparse.Namespace, **markdown: Any) -> None:
    if getattr(args, "json", False):
        _out(json.dumps(obj.to_dict(), indent=2, ensure_ascii=False))
    elif getattr(args, "markdown", False):
        _out(obj.to_markdown(**markdown).rstrip("\n"))
    else:
        _out(str(obj))


def _cmd_validate(args: argparse.Namespace) -> int:
    from . import config as config_module

    _require_file(args.config, "config file")
    issues = list(config_module.validate_file(args.config, require_env=not args.no_env))
    stores = None
    if not issues:
        stores = len(config_module.load_config(args.config, require_env=not args.no_env).stores)
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
        _check_stores(runner.config, args.store, args.config)
        # Passed only when given, so a runner without the option still plans.
        extra: dict[str, Any] = {"confirm_shared_import": True} if args.confirm_shared_location_import else {}
        if args.include_customer_data:
            extra["include_customer_data"] = True
        log.info("planning %s", ", ".join(args.store) or "every store")
        plan = runner.plan(stores=args.store or None, **extra)
    pointer = {}
    if args.out:
        path = plan.save(args.out)
        _err(f"plan saved to {path}; apply exactly this plan with: {PROG} apply {args.config} {path}")
        pointer = {"pointer": f"all of it: {PROG} show {path}"}
    _emit(plan, args, **pointer)
    return int(plan.exit_code)


def _load_plan(path: str) -> Plan:
    _require_file(path, "plan file")
    try:
        return Plan.load(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CliError(f"cannot read the plan {path}: {error}") from error


def _cmd_apply(args: argparse.Namespace) -> int:
    plan = _load_plan(args.plan) if args.plan else None
    with _open_runner(args) as runner:
        _check_stores(runner.config, args.store, args.config)
        extra = {"replan": True} if args.replan else {}
        if args.full:
            extra["full"] = True
        report = runner.apply(plan=plan, stores=args.store or None,
                              confirm_shared_import=args.confirm_shared_location_import, **extra)
    _emit(report, args)
    return int(report.exit_code)


def _cmd_explain(args: argparse.Namespace) -> int:
    if args.subject == "order":
        if len(args.args) != 2 or not args.args[1].lstrip("#").isdigit():
            raise CliError(f"usage: {PROG} explain CONFIG order STORE WOO_ORDER_ID (a number)")
    elif len(args.args) != 1:
        raise CliError(f"usage: {PROG} explain CONFIG sku SKU [--store NAME]")
    with _open_runner(args) as runner:
        if args.subject == "order":
            _check_stores(runner.config, args.args[:1], args.config)
            story = runner.explain_order(args.args[0], int(args.args[1].lstrip("#")))
        else:
            _check_stores(runner.config, [args.store] if args.store else [], args.config)
            story = runner.explain_sku(args.args[0], store=args.store)
    _emit(story, args)
    return 0


def _number_or_name(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _cmd_move_order(args: argparse.Namespace) -> int:
    with _open_runner(args) as runner:
        _check_stores(runner.config, [args.store], args.config)
        result = runner.move_order(args.store, _number_or_name(args.order), _number_or_name(args.to))
    _out(str(result))
    return 0 if getattr(result, "ok", True) else 1


# --- commands on the local state or a file alone (no credentials) ----------------------------------------

def _config_only(args: argparse.Namespace) -> Any:
    """The config without its secrets: status, wait and history read the state alone."""
    from .config import load_config
    _require_file(args.config, "config file")
    return load_config(args.config, require_env=False)


def _status(args: argparse.Namespace, config: Any, stale_after: timedelta | None) -> Status:
    from .conditions import status_from_file
    status = status_from_file(config, stale_after=stale_after)
    if args.store:
        status = dataclasses.replace(status, stores=tuple(s for s in status.stores if s.store in args.store))
    return status


def _cmd_status(args: argparse.Namespace) -> int:
    config = _config_only(args)
    _check_stores(config, args.store, args.config)
    status = _status(args, config, timedelta(minutes=args.stale_after))
    _emit(status, args)
    return int(status.exit_code) if args.exit_code else 0


def _cmd_wait(args: argparse.Namespace) -> int:
    config = _config_only(args)
    _check_stores(config, args.store, args.config)
    deadline = time.monotonic() + args.timeout
    while True:
        status = _status(args, config, None)
        enabled = {s.name for s in config.stores if s.enabled}
        waiting = [s for s in status.stores if s.store in enabled
                   and (s.phase != args.phase or (args.phase == "Ready" and s.config_changed))]
        if status.state_found and not waiting:
            _emit(status, args)
            return 0
        if time.monotonic() + args.interval > deadline:
            what = status.message if not status.state_found else "; ".join(
                f"{s.store} {s.phase}" + (" (config changed since its last apply)" if s.config_changed else "")
                + (f", {len(s.held)} held" if s.held else "") for s in waiting)
            raise CliError(f"timed out after {args.timeout:g} s waiting for {args.phase}: {what}")
        log.info("waiting for %s: %s", args.phase, ", ".join(f"{s.store} {s.phase}" for s in waiting))
        time.sleep(args.interval)


def _cmd_history(args: argparse.Namespace) -> int:
    from .history import history_from_file, parse_since
    config = _config_only(args)
    _check_stores(config, [args.store] if args.store else [], args.config)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError:
        raise CliError(f"--since {args.since!r}: give an ISO date or time (2025-01-31, 2025-01-31T08:00Z) "
                       f"or an age (90m, 12h, 7d)") from None
    _emit(history_from_file(config, store=args.store, since=since, limit=args.limit), args)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    plan = _load_plan(args.plan)
    _emit(plan, args, pointer=f"all of it: {PROG} show {args.plan}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    return run_demo(state_dir=args.state_dir, out=sys.stdout, keep_running=args.keep_running)


def _cmd_sandbox_up(args: argparse.Namespace) -> int:
    from . import sandbox
    dataset = None if args.dataset == "empty" else args.dataset
    result = sandbox.serve(dataset=dataset, time_scale=args.time_scale)
    return result if isinstance(result, int) else 0


# --- output, logging, main -----------------------------------------------------------------------------

def _silence_stdout() -> None:
    """After the reader of a pipe went away: later writes (and the interpreter's last flush) go nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _out(text: str) -> None:
    try:
        print(text, file=sys.stdout, flush=True)
    except BrokenPipeError:   # `katana-woo plan ... | head`: the reader has what it wanted
        _silence_stdout()


def _err(text: str) -> None:
    try:
        print(redact_text(text), file=sys.stderr, flush=True)
    except BrokenPipeError:
        pass


class _SafeFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": redact_text(record.getMessage())}
        if record.exc_info:
            data["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def _start_logging(verbosity: int, fmt: str = "text") -> tuple[logging.Handler, int]:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _SafeFormatter("%(levelname)s %(name)s: %(message)s"))
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
        return EXIT_ERROR
    except SystemExit as exit_:  # --help, --version
        return exit_.code if isinstance(exit_.code, int) else 0
    verbosity = getattr(args, "verbose", 0) or 0
    handler, previous_level = _start_logging(verbosity, getattr(args, "log_format", "text"))
    try:
        return int(args.func(args))
    except KatanaWooError as error:
        if verbosity >= 2:
            _err(traceback.format_exc().rstrip())
        _err(f"{PROG}: error: {error}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141          # the shell's code for a writer whose reader went away (128 + SIGPIPE)
    except Exception as error:  # noqa: BLE001 - the last guard: one line, no traceback unless asked
        if verbosity:
            _err(traceback.format_exc().rstrip())
            _err(f"{PROG}: unexpected error: {type(error).__name__}: {error}")
        else:
            _err(f"{PROG}: unexpected error: {type(error).__name__}: {error}\nrun with -v for details")
        return EXIT_ERROR
    finally:
        package_logger = logging.getLogger("katana_woo_sdk")
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)


__all__ = ["main", "build_parser", "CliError", "EXIT_CODES", "EXIT_ATTENTION"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
