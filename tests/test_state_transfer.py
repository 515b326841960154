"""`katana-woo state migrate`: the demo's state SQLite -> PostgreSQL -> SQLite comes back identical,
and a copy that cannot be exact is refused before anything is written."""
from __future__ import annotations

import io
import json
import sqlite3

import pytest

from katana_woo_sdk import cli
from katana_woo_sdk.demo import run_demo
from katana_woo_sdk.state import State, copy_state
from katana_woo_sdk.state import migrations as state_migrations
from katana_woo_sdk.state.transfer import table_rows


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory):
    """The state `katana-woo demo` leaves: one apply of configs/demo.yaml against the sandbox."""
    state_dir = tmp_path_factory.mktemp("demo")
    assert run_demo(state_dir=state_dir, out=io.StringIO()) == 0
    return state_dir / "state.sqlite"


def _dump(path) -> list[str]:
    """The SQLite file as SQL text, every table's definition and every row (sorted: the order rows
    were inserted in is not content), less the record of when the file was migrated."""
    conn = sqlite3.connect(path)
    try:
        return sorted(line for line in conn.iterdump() if not line.startswith('INSERT INTO "schema_version"'))
    finally:
        conn.close()


def test_the_demo_state_round_trips_sqlite_postgresql_sqlite_byte_for_byte(demo_state, pg_url, pg_schema,
                                                                            tmp_path, capsys):
    back = tmp_path / "back.sqlite"
    assert cli.main(["state", "migrate", "--from", f"sqlite:{demo_state}", "--to", pg_url,
                     "--schema", pg_schema]) == 0
    there = capsys.readouterr().out
    assert cli.main(["state", "migrate", "--from", pg_url, "--schema", pg_schema, "--to", f"sqlite:{back}",
                     "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    original, returned = _dump(demo_state), _dump(back)
    assert returned == original                                          # every table, row and id
    assert sum(line.startswith("INSERT INTO") for line in original) > 50  # the demo did leave a state
    with State(demo_state) as source:
        counts = {t: len(table_rows(source, t)) for t in state_migrations.TABLES}
    assert {t: v["rows"] for t, v in report["tables"].items()} == counts
    assert all(counts[t] for t in ("order_ledger", "pushed_stock", "cursors", "conditions", "runs", "actions",
                                   "mapping_history", "initial_imports"))
    assert f"copied sqlite:{demo_state} -> {pg_url} schema {pg_schema}" in there and "identical" in there


def test_ids_go_on_from_the_copied_ones(demo_state, pg_url, pg_schema):
    with State(demo_state) as source, State(pg_url, schema=pg_schema) as target:
        copy_state(source, target)
        last = source.runs(limit=1)[0].id
        assert target.start_run("apply", "h") == last + 1       # no clash with a copied run's id


def test_a_target_with_data_is_refused_and_left_alone(demo_state, tmp_path, capsys):
    target = tmp_path / "used.sqlite"
    with State(target) as used:
        used.set_cursor("shop", "orders", "x")
    assert cli.main(["state", "migrate", "--from", f"sqlite:{demo_state}", "--to", f"sqlite:{target}"]) == 1
    assert "is not empty (1 row in cursors)" in capsys.readouterr().err
    with State(target) as used:
        assert used.runs() == [] and used.get_cursor("shop", "orders") == "x"


def test_what_cannot_be_copied_is_refused_with_the_reason(demo_state, tmp_path, pg_url, pg_schema, capsys):
    cases = [
        (["--from", f"sqlite:{tmp_path / 'missing.sqlite'}", "--to", f"sqlite:{tmp_path / 'x.sqlite'}"],
         "no state file at"),
        (["--from", "postgresql://kw:s3cret-pw@127.0.0.1:5432/kw", "--to", f"sqlite:{tmp_path / 'x.sqlite'}"],
         "must not contain a password; give it with --from-password-env"),
        (["--from", pg_url, "--schema", pg_schema, "--to", f"sqlite:{tmp_path / 'x.sqlite'}"],
         f"no state in schema {pg_schema}"),
        (["--from", str(demo_state), "--to", f"sqlite:{tmp_path / 'x.sqlite'}"], "must be sqlite:PATH or"),
        (["--from", f"sqlite:{demo_state}", "--to", pg_url, "--to-password-env", "KW_UNSET_PASSWORD_VAR"],
         "environment variable KW_UNSET_PASSWORD_VAR"),
    ]
    for args, message in cases:
        assert cli.main(["state", "migrate", *args]) == 1, args
        err = capsys.readouterr().err
        assert message in err and "s3cret-pw" not in err, err


def test_a_state_being_applied_is_not_copied(demo_state, tmp_path, capsys):
    with State(demo_state) as source, source.lock(owner="katana-woo apply"):
        code = cli.main(["state", "migrate", "--from", f"sqlite:{demo_state}", "--to", f"sqlite:{tmp_path / 'x.sqlite'}"])
    assert code == 1 and "(katana-woo apply)" in capsys.readouterr().err
