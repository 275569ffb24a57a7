"""Every notebook in notebooks/ runs top to bottom in fast mode (COPG_FAST=1), headless, with the package imported;
the teaching notebooks (01–06) also carry exercises with self-checking folded solutions, an asserted "what you saw"
cell and a link to the cheat sheet."""

from __future__ import annotations

import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _execute(path, tmp_path, monkeypatch, drop_solutions: bool = False):
    """Run a notebook top to bottom in fast mode; fail on the first error or unexecuted code cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("COPG_FAST", "1")
    monkeypatch.setenv("COPG_NOTEBOOK_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    if drop_solutions:
        nb.cells = [c for c in nb.cells if "solution" not in c.get("metadata", {}).get("tags", [])]
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
    # a static copy shows an output's plain text: a widget's repr ("interactive(children=…)") teaches nothing there
    reprs = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "".join(out.get("data", {}).get("text/plain", "")).startswith(("interactive(", "VBox(", "HBox("))
    ]
    assert not reprs, f"{path.name}: code cells {reprs} show a widget's repr as their static text"


@pytest.mark.slow  # a Jupyter kernel per notebook (subprocess): make test runs it, the -m "not slow" loop does not
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    _execute(path, tmp_path, monkeypatch)


def test_notebooks_are_stripped():
    """Outputs are stripped in the repository: diffs stay readable and CI regenerates every output."""
    import json

    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name}: commit notebooks with outputs stripped (make strip)"
                assert cell.get("execution_count") is None, f"{path.name}: execution counts must be stripped"


ROOT = pathlib.Path(__file__).resolve().parents[1]
#: The teaching notebooks: key equations, exercises with folded solutions, and an asserted "what you saw" cell.
TEACHING = [p for p in NOTEBOOKS if p.name[:2] in {"01", "02", "03", "04", "05", "06"}]


def _cells(path: pathlib.Path) -> list[dict]:
    import json

    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        cell["text"] = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return cells


def test_no_notebook_defines_a_loss():
    """The house rule: losses live in bandit/losses.py; a notebook imports them and never defines one."""
    import re

    for path in NOTEBOOKS:
        for cell in _cells(path):
            if cell["cell_type"] == "code":
                assert not re.search(r"^\s*def \w*_loss\b", cell["text"], re.M), f"{path.name} defines a loss"


@pytest.mark.parametrize("path", TEACHING, ids=[p.name for p in TEACHING])
def test_teaching_notebook_links_resolve_and_include_the_cheat_sheet(path):
    """Every relative link of a teaching notebook's markdown points at an existing file; one is the cheat sheet."""
    import re

    targets = [
        t.split("#")[0]
        for cell in _cells(path)
        if cell["cell_type"] == "markdown"
        for t in re.findall(r"\]\(([^)\s]+)\)", cell["text"])
        if not t.startswith(("http://", "https://", "#"))
    ]
    for target in targets:
        assert (path.parent / target).is_file(), f"{path.name} links {target}, which is missing"
    assert "../docs/cheatsheet.md" in targets, f"{path.name} does not link the cheat sheet (../docs/cheatsheet.md)"


@pytest.mark.slow
@pytest.mark.parametrize("path", TEACHING, ids=[p.name for p in TEACHING])
def test_teaching_notebook_runs_without_its_solutions(path, tmp_path, monkeypatch):
    """A reader who does the exercises instead of running the folded solutions can still run everything after them
    (the 'what you saw' cell included): no later cell depends on a solution's variables."""
    _execute(path, tmp_path, monkeypatch, drop_solutions=True)


def test_readme_links_the_cheat_sheet():
    assert "](docs/cheatsheet.md)" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / "cheatsheet.md").is_file()


@pytest.mark.parametrize("path", TEACHING, ids=[p.name for p in TEACHING])
def test_exercises_have_folded_solutions_that_check_themselves(path):
    """At least two exercises per teaching notebook; each is followed, before the next heading, by a folded
    solution: a code cell tagged "solution" whose asserts test_notebook_executes runs."""
    cells = _cells(path)
    starts = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "### Exercise" in c["text"]]
    assert len(starts) >= 2, f"{path.name}: {len(starts)} exercises; write at least two"
    for i in starts:
        following = []
        for cell in cells[i + 1 :]:
            if cell["cell_type"] == "markdown" and cell["text"].lstrip().startswith("#"):
                break
            following.append(cell)
        solutions = [c for c in following if "solution" in c.get("metadata", {}).get("tags", [])]
        code = [c for c in solutions if c["cell_type"] == "code"]
        assert code, f"{path.name}: exercise at cell {i} has no solution code cell tagged 'solution'"
        assert all("assert " in c["text"] for c in code), f"{path.name}: a solution of cell {i} asserts nothing"
        assert all(c["metadata"].get("jupyter", {}).get("source_hidden") for c in solutions), (
            f"{path.name}: fold the solution of cell {i} (metadata jupyter.source_hidden)"
        )


@pytest.mark.parametrize("path", TEACHING, ids=[p.name for p in TEACHING])
def test_teaching_notebook_ends_with_what_you_saw(path):
    """A "What you saw" section whose code cell asserts every statement it prints, after the last exercise."""
    cells = _cells(path)
    heading = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "## What you saw" in c["text"]]
    assert heading, f"{path.name}: no '## What you saw' section"
    code = [c for c in cells[heading[-1] :] if c["cell_type"] == "code"]
    assert len(code) == 1, f"{path.name}: the 'What you saw' section has {len(code)} code cells; expected one"
    assert "assert all(" in code[0]["text"] and "claims" in code[0]["text"]


def test_function_body_is_the_package_code_without_docstring():
    """The notebooks show code read from the package: the body, no signature, no docstring."""
    from bandit.losses import copg_loss, pg_loss
    from bandit.notebook_plots import function_body

    body = function_body(copg_loss)
    assert not body.startswith(("def ", '"""')) and "Args:" not in body
    assert body.splitlines()[-1] == "return centred.square().sum(dim=1) / ((k - 1) * beta)  # Var_unbiased(r) / β"
    assert function_body(pg_loss, start="advantage =").startswith("advantage = ")
    with pytest.raises(ValueError, match="not in the body of pg_loss"):
        function_body(pg_loss, start="no such line")


def test_simplex_picture_marks_the_data_and_keeps_copg_visible():
    """μ1 and μ2 are drawn where they lie on the triangle; CoPG's flow is the widest line and every other flow is
    dashed, so a method whose flow coincides with CoPG's (DPO at τ = β) cannot hide it."""
    import matplotlib.pyplot as plt
    import numpy as np

    from bandit.experiments import SimplexConfig, make_record
    from bandit.notebook_plots import simplex_picture
    from bandit.plotting import simplex_xy

    cfg = SimplexConfig(methods=("copg", "dpo"), seeds=0, flow_steps=200, progress=False)
    record = make_record("simplex", cfg)
    fig = simplex_picture(record)
    lines = {str(line.get_label()): line for line in fig.axes[0].lines}
    for key, label in (("mu1", "μ1 (where y comes from)"), ("mu2", "μ2 (where y′ comes from)")):
        xy = np.array([lines[label].get_xdata()[0], lines[label].get_ydata()[0]])
        np.testing.assert_allclose(xy, simplex_xy(np.array(record["config"][key])))
    copg = next(line for name, line in lines.items() if name.startswith("CoPG ("))
    dpo = next(line for name, line in lines.items() if name.startswith("DPO ("))
    assert copg.get_linewidth() > dpo.get_linewidth() and dpo.get_linestyle() != "-"
    plt.close(fig)


def test_regression_scatter_draws_each_completion_where_it_lies():
    """Notebook 04's before/after picture: every completion at (centred reward, centred β·ln π/π_ref), the tied
    prompts apart, the slope-1 line CoPG fits, shared axes (a flat panel stays flat beside a tilted one), and a
    clear error for mismatched shapes."""
    import matplotlib.pyplot as plt
    import numpy as np

    from bandit.notebook_plots import regression_scatter

    x = np.array([[0.5, -0.5], [0.0, 0.0], [1.0, -1.0]])  # [N = 3, K = 2], prompt 1 tied
    tied = np.array([False, True, False])
    fitted = 0.4 * x + np.array([[0.0, 0.0], [0.1, -0.1], [0.0, 0.0]])
    fig = regression_scatter(x, [("before", np.zeros_like(x), "tab:gray"), ("after", fitted, "tab:blue")], tied=tied)
    before, after = fig.axes
    differ, ties = after.collections  # the points whose rewards differ, then the tied ones
    np.testing.assert_allclose(differ.get_offsets(), np.c_[x[~tied].ravel(), fitted[~tied].ravel()])
    np.testing.assert_allclose(ties.get_offsets(), np.c_[x[tied].ravel(), fitted[tied].ravel()])
    np.testing.assert_allclose(before.collections[0].get_offsets()[:, 1], 0.0)
    assert before.get_ylim() == after.get_ylim() and after.get_ylim()[1] >= 1.0
    assert any(line.get_label() == "CoPG's target: slope 1" for line in after.lines)
    plt.close(fig)
    with pytest.raises(ValueError, match="panel 'bad' has shape"):
        regression_scatter(x, [("bad", np.zeros((3, 3)), "k")])
    with pytest.raises(ValueError, match="one flag per prompt"):
        regression_scatter(x, [("ok", x, "k")], tied=np.array([True]))
