"""The README stays true: the two commands verbatim at the top, every config field of the schema in
its reference (and nothing the schema lacks), every CLI command documented, its Python examples
runnable, its CI workflow well-formed, its links alive and every runtime dependency explained.

The README is the newcomer's entry point; these checks make a schema change, a new subcommand or a
new dependency fail here until the README says so.
"""
from __future__ import annotations

import configparser
import contextlib
import io
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCHEMA = json.loads((ROOT / "schemas" / "config.schema.json").read_text(encoding="utf-8"))

# CI runs exactly command 2 (see .ci/run): this section must not drift.
TWO_COMMANDS = """## The two commands

```bash
# 1. Install and run the demo: a local Katana + 3 WooCommerce stores (the embedded sandbox),
#    plan and apply configs/demo.yaml, print the report and each store's status.
pip install . && katana-woo demo

# 2. Install the test dependencies and run the tests.
pip install '.[test,notebook]' && python3 -m pytest
```

Python 3.11 or newer. Nothing reaches the internet: the sandbox listens on 127.0.0.1 only.
"""


def section(title: str) -> str:
    """The README text under `## title` up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, flags=re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.M | re.S)


# --- the two commands ----------------------------------------------------------------------------

def test_the_two_commands_come_first_and_verbatim():
    first = re.search(r"^## .*?(?=^## |\Z)", README, flags=re.M | re.S).group(0)
    assert first.rstrip("\n") + "\n" == TWO_COMMANDS
    assert README.startswith("# katana-woo\n")


def test_ci_runs_command_two():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install '.[test,notebook]' && python3 -m pytest" in ci


# --- config reference ----------------------------------------------------------------------------

def schema_paths(node: dict = SCHEMA, prefix: str = "") -> list[str]:
    """Every property path: `katana.rate_limit.requests`, `stores[].orders.since`, ..."""
    paths = []
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths.append(path)
        if "properties" in sub:
            paths += schema_paths(sub, path)
        items = sub.get("items")
        if isinstance(items, dict) and "properties" in items:
            paths += schema_paths(items, path + "[]")
    return paths


def test_schema_walk_finds_the_known_shape():
    paths = schema_paths()
    assert {"version", "katana.rate_limit.period_seconds", "defaults.stock.floor_zero", "stores[].location",
            "stores[].orders.statuses", "state.lock_timeout_seconds"} <= set(paths)
    assert len(paths) == len(set(paths)) > 50


@pytest.mark.parametrize("path", schema_paths())
def test_every_schema_field_is_in_the_reference(path: str):
    assert f"`{path}`" in section("Config reference"), f"README config reference lacks `{path}`"


def test_the_reference_lists_nothing_the_schema_lacks():
    known = set(schema_paths()) | {p.rsplit(".", 1)[0] for p in schema_paths() if p.endswith("].name")}
    mentioned = set(re.findall(r"`((?:version|katana|defaults|stores\[\]|state)(?:\.[a-z_]+)*)`",
                               section("Config reference")))
    assert mentioned - known == set()


def test_extension_keys_are_documented():
    assert list(SCHEMA.get("patternProperties", {})) == ["^x-"]
    assert "`x-…`" in section("Config reference")


# --- command line --------------------------------------------------------------------------------

def subcommands() -> dict[str, list[str]]:
    """{command: [its sub-subcommands]} from the real parser."""
    import argparse

    from katana_woo_sdk.cli import build_parser

    def choices(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices
        return {}

    return {name: sorted(choices(sub)) for name, sub in choices(build_parser()).items()}


def test_every_cli_command_is_documented_with_its_exit_codes():
    cli = section("The command line")
    for name, children in subcommands().items():
        for full in ([f"{name} {child}" for child in children] or [name]):
            rows = [line for line in cli.splitlines() if line.startswith(f"| `katana-woo {full}")]
            assert len(rows) == 1, f"README command table lacks a row for `katana-woo {full}`"
            assert re.search(r"\| [^|]*\b[012]\b[^|]*\|$", rows[0]), f"`katana-woo {full}`: no exit codes"


def test_every_command_the_readme_mentions_exists():
    known = set(subcommands())
    # in code: `katana-woo plan ...` inline, or a shell line starting with it
    mentioned = set(re.findall(r"(?:`|^|\$\(|&& )katana-woo ([a-z][a-z-]+)", README, flags=re.M))
    assert mentioned - known == set(), f"README mentions unknown commands: {mentioned - known}"


def test_documented_options_exist():
    from katana_woo_sdk.cli import build_parser

    help_text = " ".join(_all_help(build_parser()))
    for option in set(re.findall(r"(--[a-z][a-z-]+)", section("The command line"))):
        assert option in help_text, f"README documents {option}, which no command has"


def _all_help(parser):
    import argparse

    yield parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_help(sub)


# --- examples ------------------------------------------------------------------------------------

@pytest.mark.parametrize("title", ["The SDK in ten lines", "The sandbox"])
def test_python_examples_run(title: str, monkeypatch: pytest.MonkeyPatch):
    (block,) = code_blocks(section(title), "python")
    monkeypatch.chdir(ROOT)                       # the examples name configs/demo.yaml relative to the root
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, f"README.md ({title})", "exec"), {"__name__": "__readme__"})
    if title == "The SDK in ten lines":
        lines = out.getvalue().splitlines()
        assert lines[0] == "2"                    # changes were made
        assert any(line.startswith("Status") for line in lines)
        assert lines[-1] == "[]"                  # shop-us shows Katana's figures after apply


# --- GitOps workflow -----------------------------------------------------------------------------

def test_the_gitops_workflow_is_well_formed():
    (text,) = code_blocks(section("GitOps: the config in git, plan on the pull request, apply on merge"), "yaml")
    workflow = yaml.safe_load(text)
    triggers = workflow.get("on", workflow.get(True))     # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    plan, apply = workflow["jobs"]["plan"], workflow["jobs"]["apply"]
    assert "pull_request" in plan["if"] and "refs/heads/main" in apply["if"]

    def runs(job):
        return "\n".join(step.get("run", "") for step in job["steps"])

    assert "katana-woo validate" in runs(plan) and re.search(r"katana-woo plan .*--markdown", runs(plan))
    assert "gh pr comment" in runs(plan) and plan["permissions"]["pull-requests"] == "write"
    assert "katana-woo apply" in runs(apply)
    # the state is a PostgreSQL database (state.url), not a CI cache that can be evicted
    uses = [step.get("uses", "") for job in (plan, apply) for step in job["steps"]]
    assert not any(u.startswith("actions/cache") for u in uses)
    for job in (plan, apply):
        assert any("KATANA_WOO_STATE_PASSWORD" in (step.get("env") or {}) for step in job["steps"])
    assert "[postgres]" in workflow["env"]["INSTALL"]
    # credentials come from the secret store only, and only into the steps that run katana-woo
    for job in (plan, apply):
        for step in job["steps"]:
            for name, value in (step.get("env") or {}).items():
                if name.startswith(("KATANA_API", "KATANA_WOO_STATE", "WOO_")):
                    assert value == f"${{{{ secrets.{name} }}}}"
                    assert "katana-woo" in step.get("run", "")
    assert "secrets." not in yaml.safe_dump(workflow.get("env", {}))


# --- links and dependencies ----------------------------------------------------------------------

def test_relative_links_point_at_files():
    for target in re.findall(r"\]\(((?!https?:|#)[^)\s]+)\)", README):
        assert (ROOT / target).exists(), f"README links to missing {target}"
    anchors = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", README, flags=re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", README):
        assert anchor in anchors, f"README links to missing anchor #{anchor}"


def test_every_runtime_dependency_is_explained():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    requirements = [line.split("#")[0].strip() for line in cfg["options"]["install_requires"].splitlines()]
    names = [re.split(r"[<>=!~ \[]", r)[0] for r in requirements if r]
    table = section("Why each dependency")
    assert names and all(f"`{name}`" in table for name in names), names


def test_every_notebook_is_listed():
    listed = set(re.findall(r"notebooks/(\d\d_[a-z_]+\.ipynb)", section("The notebooks")))
    assert listed == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
