"""The package's shape: layered imports without cycles, light loss imports, one home per configuration value."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# llm/ layers, bottom to top: a module may import from its own layer or below, never from above.
LAYERS = [
    ("llm.presets", "llm.run", "llm.methods", "llm.stats"),
    ("llm.data",),
    ("llm.model",),
    ("llm.stages",),
    ("llm.plots", "llm.pipeline", "llm.bridge", "llm.__main__"),
]


def _layer(module: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} belongs to no layer of tests/test_architecture.py::LAYERS; add it there")


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported llm module, line, nested inside a function or class) for every ``from llm… import``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "llm":
            out.append((node.module, node.lineno, node.col_offset > 0))
    return out


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


LLM_FILES = sorted((ROOT / "llm").rglob("*.py"))


@pytest.mark.parametrize("path", LLM_FILES, ids=[_module_name(p) for p in LLM_FILES])
def test_llm_imports_go_down_the_layers(path):
    """No import from a higher layer, no sibling stage, and no function-level import of the package."""
    me = _module_name(path)
    for target, line, nested in _imports(path):
        assert not nested, f"{me}:{line}: `from {target} import` inside a function; import at the top of the module"
        assert _layer(target) <= _layer(me), f"{me}:{line} imports {target}, a higher layer"
        if me.startswith("llm.stages.") and target.startswith("llm.stages."):
            mine, theirs = me.split(".")[2], target.split(".")[2]
            assert mine == theirs, f"{me}:{line} imports the sibling stage {target}; move the shared code down"


def test_llm_has_no_import_cycle():
    graph = {_module_name(p): {t for t, _, _ in _imports(p)} for p in LLM_FILES}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join(stack[stack.index(nxt) :] + [nxt])}"
            if nxt in graph and not state.get(nxt):
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in graph:
        if not state.get(node):
            visit(node, [node])


@pytest.mark.slow
@pytest.mark.parametrize("module", ["bandit.losses", "bandit.records", "bandit.style", "llm.methods"])
def test_loss_library_imports_light(module):
    """The loss library and the shared I/O load neither scipy, matplotlib, transformers nor the experiments."""
    heavy = ("scipy", "matplotlib", "transformers", "bandit.experiments", "bandit.dynamics")
    code = f"import sys, {module}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"import {module} loaded {out.stdout.strip()}"
