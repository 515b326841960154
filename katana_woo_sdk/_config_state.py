"""The checks of a config's `state:` block beyond the schema: SQLite path or PostgreSQL url.

Private helper of `config`, which passes `check` to `_config_checks.check` as one more step; it
runs with the same checker, so its problems carry file:line like every other, and the password it
reads joins the values scrubbed from every message. The rules of a state URL themselves live with
the backend (`state.postgres.url_problem`), so `State(url)` and the config agree on them.

It resolves `state.url` (``${VAR}`` expanded), refuses a password in it without ever repeating the
URL, and reads the password from `password_env` or `password_file`. Without either, libpq's own
PGPASSWORD or ~/.pgpass (or a trust / certificate login) applies, and the password stays None.
"""
from __future__ import annotations

import re
from typing import Any

from . import _config_schema
from ._config_checks import interpolate
from .state.postgres import url_problem

PG_ONLY = ("password_env", "password_file", "schema")
_URL = re.compile(_config_schema.node("state", "url")["pattern"])


def check(checker: Any) -> None:
    """Check `state:` of `checker.data`; set `checker.result.state_url`, `state_password(_source)`."""
    block = checker.data.get("state")
    if not isinstance(block, dict):
        return
    here, result = ("state",), checker.result
    raw = block.get("url")
    if "url" in block and "path" in block:
        checker.problem(here + ("url",), "give state.path (a SQLite file) or state.url (PostgreSQL), not both",
                        True)
        return
    if isinstance(raw, str) and not _URL.fullmatch(raw):
        return  # the schema reports it
    if not isinstance(raw, str):
        for key in PG_ONLY:
            if key in block:
                checker.problem(here + (key,), f"'{key}' belongs to a PostgreSQL state: it needs state.url", True)
        return
    if "password_env" in block and "password_file" in block:
        checker.problem(here + ("password_file",), "give password_env or password_file, not both", True)
        return
    value, error = interpolate(raw, checker.env)
    if error and error.startswith("environment variable") and not checker.require_env:
        result.state_url = raw  # unchecked: the environment is not there to expand it
    elif error:
        checker.problem(here + ("url",), error)
        return
    else:
        assert value is not None  # interpolate gives a value whenever it gives no error
        problem = url_problem(value.strip())
        if problem:
            # Never echo the URL: it may hold the very password it is refused for.
            origin = " (as expanded from the environment)" if value != raw else ""
            checker.problem(here + ("url",), f"{problem}{origin}")
            return
        result.state_url = value.strip()
    password_file = block.get("password_file")
    if isinstance(password_file, str):
        result.state_password_source = f"file:{password_file}"
        read = checker.read_file(here + ("password_file",), password_file, "password file") \
            if checker.require_env else None
        if read is not None:
            text = read[0].strip()
            if not text or "\n" in text:
                checker.problem(here + ("password_file",),
                                f"password file '{password_file}' must hold the password alone on one line")
            else:
                checker.result.secret_values.add(text)
                result.state_password, result.state_password_source = text, f"file:{read[1]}"
        return
    name = block.get("password_env")
    if isinstance(name, str):
        result.state_password_source = f"env:{name}"
        result.state_password = checker.env_secret(here + ("password_env",), name,
                                                   "PostgreSQL password of the state", checker.require_env)
