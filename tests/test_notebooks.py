"""The notebooks in `notebooks/` run top to bottom in a fresh kernel, and their committed outputs are clean.

Each notebook states what the reader should notice and checks it in `assert` cells, so executing it
is the test: any failing cell fails it. They run through nbclient exactly as a reader's Jupyter
would: a `python3` kernel, cwd = the notebooks directory, this checkout first on PYTHONPATH (so the
kernel imports the package under test, not some installed copy). Each notebook starts its own
sandbox on 127.0.0.1; nothing reaches further.

The committed copies carry the outputs of a real run so they read well on GitHub. The second test
keeps those outputs free of machine paths and credentials, and checks that every code cell was run.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 120          # seconds per cell, as briefed; each notebook takes well under a minute in all

# What must never appear in a committed output: absolute paths of a machine and credentials.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:home|root|Users|tmp|var/folders|private|work|opt|usr)/"
                          r"|\b[A-Za-z]:\\(?:Users|Windows|Program Files)")
CREDENTIAL = re.compile(r"\b(?:ck|cs)_[0-9a-f]{16,}\b|\b[0-9a-f]{40}\b|Bearer\s+\S{8,}|consumer_secret=\w")


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOK_FILES] == ["01_quickstart.ipynb", "02_remap_location.ipynb",
                                                "03_recovery.ipynb"]


def _kernel_or_skip() -> None:
    """Skip (with the reason) only when no python3 kernel can be started here at all."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no 'python3' Jupyter kernel is installed here ({exc}); pip install ipykernel")


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    _kernel_or_skip()
    # The kernel inherits this environment: the checkout first, whatever was on PYTHONPATH after it.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed:\n{exc}", pytrace=False)
    elapsed = time.monotonic() - started
    print(f"{path.name}: {elapsed:.1f} s")
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    _assert_clean(path.name + " (fresh run)", nb)


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_committed_outputs_are_complete_and_clean(path: Path) -> None:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code), f"{path.name}: commit it executed, in order"
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), \
        f"{path.name}: cells were run out of order or twice; re-run the whole notebook before committing"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), \
        f"{path.name}: should open with a title and what the reader should notice"
    _assert_clean(path.name, nb)


def _assert_clean(name: str, nb) -> None:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            text = _output_text(output)
            assert output.output_type != "error", f"{name} cell {index}: committed with an error output"
            path = MACHINE_PATH.search(text)
            assert path is None, f"{name} cell {index}: output shows a machine path: …{text[max(0, path.start() - 40):path.end() + 40]}…"
            secret = CREDENTIAL.search(text)
            assert secret is None, f"{name} cell {index}: output looks like it shows a credential"
            assert "TqdmWarning" not in text and "IProgress not found" not in text, \
                f"{name} cell {index}: a progress bar warning leaked into the output"


def _output_text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.get("traceback", []))
    return "\n".join(str(v) for v in output.get("data", {}).values())
