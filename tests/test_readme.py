"""The README stays true: its self-contained Python examples run, and every figure it links exists with its JSON."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text()
# self-contained examples: fenced python blocks that import what they use (fragments without imports are excerpts)
EXAMPLES = [b for b in re.findall(r"```python\n(.*?)```", TEXT, flags=re.S) if re.search(r"^(import|from) ", b, re.M)]


def test_readme_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(code):
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


def test_linked_figures_exist_with_json():
    root = README.parent
    figures = set(re.findall(r"\(figures/([\w-]+)\.png\)", TEXT))
    assert figures, "the README links no figure"
    for name in figures:
        assert (root / "figures" / f"{name}.png").is_file(), f"README links figures/{name}.png, which is missing"
        assert (root / "figures" / f"{name}.json").is_file(), f"figures/{name}.png has no JSON beside it"
    on_disk = {p.stem for p in (root / "figures").glob("*.png")}
    assert on_disk <= figures, f"figures not in the README results table: {sorted(on_disk - figures)}"


def test_no_unfilled_placeholders():
    assert not re.search(r"__[A-Z0-9]+__", TEXT), "README has an unfilled __PLACEHOLDER__"
