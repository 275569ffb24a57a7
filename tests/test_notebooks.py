"""Every notebook in notebooks/ runs top to bottom in fast mode (COPG_FAST=1), headless, with the package imported."""

from __future__ import annotations

import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow  # a Jupyter kernel per notebook (subprocess): make test runs it, the -m "not slow" loop does not
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("COPG_FAST", "1")
    monkeypatch.setenv("COPG_NOTEBOOK_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    unrun = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.get("execution_count") is None]
    assert not unrun, f"{path.name}: code cells {unrun} did not execute"


def test_notebooks_are_stripped():
    """Outputs are stripped in the repository: diffs stay readable and CI regenerates every output."""
    import json

    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name}: commit notebooks with outputs stripped (make strip)"
                assert cell.get("execution_count") is None, f"{path.name}: execution counts must be stripped"
