"""The distributions carry what the package needs, and their metadata would pass an index.

One test, in the steps a release takes (measured at ~20 s on the 2-core development machine; the
two isolated builds take most of it):

1. `python -m build` makes the sdist, then the wheel *from that sdist*. That is build's default, so
   a file missing from the sdist fails here too. The build environment is isolated, as a user's pip
   would make it, so `pyproject.toml`'s build requirements are tested as well. It builds from a copy
   of what a fresh clone would hold (plus files not yet committed): a `*.egg-info/SOURCES.txt` left
   in the checkout by an earlier build would otherwise smuggle in data that `package_data` misses.
2. `twine check --strict` both. Every classifier must be one that PyPI accepts (trove-classifiers,
   since PyPI refuses an upload with an unknown one). `Typing :: Typed` needs `py.typed` in the
   wheel.
3. A fresh virtual environment that reuses the dependencies installed where the tests run (offline
   and fast): a `.pth` file puts this interpreter's site directories *after* the venv's own. That
   works whether the tests run in a venv or not, which `--system-site-packages` does not: it shows
   the base interpreter's packages, not the outer venv's. Paths that only those directories' own
   `.pth` files add, such as an editable install of this checkout, stay out. The wheel goes in
   with `--no-deps --force-reinstall`. Then, from a temporary working directory:
   - `import katana_woo_sdk` loads the venv's copy, not this checkout;
   - every file of the source package (modules, schemas, demo data, the sandbox, py.typed) is in
     the installed package, and nothing else is;
   - each `Requires-Dist` of the wheel is met in that venv: a `pip check` for this one
     distribution, since the machine's other packages may conflict among themselves;
   - `katana-woo --version` shows `katana_woo_sdk.__version__`, and `katana-woo demo` exits 0 (the
     demo talks only to its sandbox on 127.0.0.1).

A full install from an index into an empty venv (`pip install katana_woo-*.whl`) is the release
recipe's job: README, "Releasing".
"""
from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import site
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "katana_woo_sdk"

# What the venv's interpreter reports about the installed distribution.
PROBE = textwrap.dedent("""
    import json, sys
    from importlib.metadata import distribution
    from pathlib import Path
    from packaging.requirements import Requirement
    import katana_woo_sdk

    root = Path(katana_woo_sdk.__file__).parent
    unmet = []
    for text in distribution("katana-woo").requires or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an extra's, or not for this interpreter
        try:
            found = distribution(req.name).version
        except Exception as exc:
            unmet.append(f"{req}: {exc!r}")
            continue
        if not req.specifier.contains(found, prereleases=True):
            unmet.append(f"{req}: {found} installed")
    print(json.dumps({
        "file": katana_woo_sdk.__file__, "prefix": sys.prefix, "version": katana_woo_sdk.__version__,
        "dist_version": distribution("katana-woo").version, "unmet": unmet,
        "files": sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts),
    }))
""")


def _source_files() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
            and p.suffix != ".pyc"}


def _clean_copy(dest: Path) -> Path:
    """The checkout as a fresh clone would have it, plus untracked files that git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, timeout=60)
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist): copy, minus build leftovers
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(
            ".git", "*.egg-info", "build", "dist", "__pycache__", ".katana-woo", ".pytest_cache"))
        return dest
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is listed too
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _run(argv: list, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _version_in_source() -> str:
    match = re.search(r'^__version__ = "([^"]+)"$', (PACKAGE / "__init__.py").read_text(encoding="utf-8"),
                      flags=re.M)
    assert match, "katana_woo_sdk/__init__.py must define __version__ as a string literal"
    return match.group(1)


def test_built_wheel_installs_and_runs_the_demo(tmp_path):
    pytest.importorskip("build", reason="the package test needs the `test` extra: pip install '.[test]'")
    pytest.importorskip("twine", reason="the package test needs the `test` extra: pip install '.[test]'")
    trove = pytest.importorskip("trove_classifiers",
                                reason="the package test needs the `test` extra: pip install '.[test]'")
    version = _version_in_source()
    dist, work = tmp_path / "dist", tmp_path / "cwd"
    work.mkdir()

    # 1. sdist, then the wheel from it
    source = _clean_copy(tmp_path / "source")
    built = _run([sys.executable, "-m", "build", "--outdir", dist, source], cwd=work, timeout=300)
    if built.returncode != 0 and re.search(r"No matching distribution found for setuptools|"
                                           r"Could not find a version that satisfies the requirement "
                                           r"setuptools", built.stdout + built.stderr):
        pytest.skip("no package index reachable: the isolated build cannot install setuptools>=77 "
                    f"(pyproject.toml's build requirement). {built.stderr.strip()[-300:]}")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "Package would be ignored" not in built.stdout + built.stderr, "setup.cfg misses a package"
    (sdist,) = dist.glob(f"katana_woo-{version}.tar.gz")
    (wheel,) = dist.glob(f"katana_woo-{version}-py3-none-any.whl")

    # 2. metadata
    checked = _run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel], cwd=work)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = email.parser.Parser().parsestr(zf.read(f"katana_woo-{version}.dist-info/METADATA").decode())
    classifiers = metadata.get_all("Classifier")
    assert set(classifiers) - trove.classifiers == set(), "classifiers PyPI would refuse"
    assert metadata["License-Expression"] == "MIT" and f"katana_woo-{version}.dist-info/licenses/LICENSE" in names
    assert metadata["Requires-Python"] == ">=3.11" and "Programming Language :: Python :: 3.11" in classifiers
    assert "Typing :: Typed" not in classifiers or "katana_woo_sdk/py.typed" in names, \
        "the Typing :: Typed classifier needs katana_woo_sdk/py.typed in the wheel"
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL")} >= {"Source", "Issues", "Changelog"}

    # 3. a fresh venv with the wheel, run from elsewhere
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    venv_site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work)
    outer = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    Path(venv_site.stdout.strip(), "_outer_site.pth").write_text("\n".join(outer) + "\n", encoding="utf-8")
    installed = _run([python, "-m", "pip", "install", "--no-deps", "--force-reinstall", "--no-index", wheel],
                     cwd=work)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    probe = _run([python, "-c", PROBE], cwd=work)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert Path(found["file"]).is_relative_to(env_dir), f"imported {found['file']}, not the venv's copy"
    assert found["version"] == found["dist_version"] == version
    assert found["unmet"] == [], "dependencies the wheel declares but the venv does not meet"
    files = set(found["files"])
    assert {"schemas/config.schema.json", "data/demo.yaml", "sandbox/__init__.py"} <= files
    assert _source_files() - files == set(), "files of the package missing from the wheel (setup.cfg package_data)"
    assert files - _source_files() == set(), "files in the wheel that the package does not have"

    shown = _run([bin_dir / "katana-woo", "--version"], cwd=work)
    assert shown.returncode == 0 and shown.stdout.strip() == f"katana-woo {version}", shown.stderr
    demo = _run([bin_dir / "katana-woo", "demo", "--no-progress", "--state-dir", tmp_path / "demo"], cwd=work)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "What just happened" in demo.stdout and (tmp_path / "demo" / "state.sqlite").exists()
