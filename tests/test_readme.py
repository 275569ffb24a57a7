"""The README stays true and short: its examples run and assert what they show, every command it shows exists, every
result number equals the figure JSON it comes from, every figure is linked with its JSON; the docs' examples run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _examples(text: str) -> list[str]:
    """Self-contained Python examples: fenced python blocks that import what they use (others are excerpts)."""
    return [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if re.search(r"^(import|from) ", b, re.M)]


EXAMPLES = _examples(TEXT)
DOC_EXAMPLES = [(doc.name, code) for doc in DOCS for code in _examples(doc.read_text())]


def test_readme_is_a_front_door():
    """Short enough to read first (issue: ≤ 300 lines); the lab log lives in docs/."""
    assert len(TEXT.splitlines()) <= 300


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_runs_and_asserts(code):
    assert "assert " in code, "a README example must check what it shows (assert the printed values)"
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


@pytest.mark.slow
@pytest.mark.parametrize(("doc", "code"), DOC_EXAMPLES, ids=[f"{d}-{i}" for i, (d, _) in enumerate(DOC_EXAMPLES)])
def test_docs_example_runs(doc, code):
    """In a subprocess: an example may register a method or change global state."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"docs/{doc}: {out.stderr[-2000:]}"


def _shown_commands() -> list[str]:
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S):
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line:
                cmds.append(line)
    return cmds


COMMANDS = _shown_commands()


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_exists(command):
    """Each `python -m …` command shown answers --help (module, subcommand and options parse); each make target
    exists."""
    if command.startswith("make "):
        makefile = (ROOT / "Makefile").read_text()
        for target in command.split()[1:]:
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"make {target}: no such target"
        return
    m = re.search(r"python -m (\S+)((?: [\w-]+)?)", command)
    if m is None:
        assert command.split()[0] in ("git", "pip", ".venv/bin/jupyter"), f"unchecked command: {command}"
        return
    module, sub = m.group(1), m.group(2).strip()
    args = [sys.executable, "-m", module, *([sub] if sub and not sub.startswith("-") else []), "--help"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{command}: {out.stderr[-500:]}"


def _lookup(path: str, key: str):
    obj = json.loads((ROOT / path).read_text())
    for part in key.split("."):
        m = re.fullmatch(r"([^\[\]]+)((?:\[-?\d+\])*)", part)
        obj = obj[m.group(1)]
        for index in re.findall(r"\[(-?\d+)\]", m.group(2)):
            obj = obj[int(index)]
    return obj


NUMBERS = re.findall(r"([-+]?[\w.+-]*?)<!-- ([\w/.]+\.json):([^:]+):(\S+) -->", TEXT)


def test_readme_numbers_equal_their_json():
    """Every result number of the README carries the JSON it is read from (an invisible marker): they agree."""
    assert len(NUMBERS) >= 8
    for shown, path, key, fmt in NUMBERS:
        value = _lookup(path, key)
        assert shown == format(value, fmt), f"README shows {shown} but {path}:{key} is {value}"


def test_linked_figures_exist_with_json():
    figures = set(re.findall(r"\(figures/([\w-]+)\.png\)", TEXT))
    assert figures, "the README links no figure"
    for name in figures:
        assert (ROOT / "figures" / f"{name}.png").is_file(), f"README links figures/{name}.png, which is missing"
        assert (ROOT / "figures" / f"{name}.json").is_file(), f"figures/{name}.png has no JSON beside it"
    on_disk = {p.stem for p in (ROOT / "figures").glob("*.png")}
    assert on_disk <= figures, f"figures not in the README results table: {sorted(on_disk - figures)}"


def test_doc_links_resolve():
    for doc in [README, *DOCS]:
        for target in re.findall(r"\]\(((?:docs/)?[\w-]+\.md)\)", doc.read_text()):
            base = ROOT if doc == README else doc.parent
            assert (base / target).is_file(), f"{doc.name} links {target}, which is missing"


def test_no_placeholders_or_machine_paths():
    for doc in [README, *DOCS]:
        text = doc.read_text()
        assert not re.search(r"__[A-Z0-9]+__|\{\{", text), f"{doc.name} has an unfilled placeholder"
        assert not re.search(r"(?<![\w.])/(tmp|work|root|home)/", text), f"{doc.name} names a machine-local path"
