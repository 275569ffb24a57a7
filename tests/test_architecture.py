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
    ("llm.jobs",),
    ("llm.comparison", "llm.plots", "llm.pipeline", "llm.bridge", "llm.__main__"),
    ("llm.chains",),
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


def _bandit_graph(root: Path) -> dict[str, set[str]]:
    """bandit module → the bandit modules it imports anywhere (top level or inside a function, ``import``, ``from …
    import`` or ``importlib.import_module("bandit…")`` with a literal name). The package's lazy ``__init__`` (PEP
    562 re-exports) is left out: it imports by name on attribute access, never at import time."""
    graph: dict[str, set[str]] = {}
    for path in sorted((root / "bandit").rglob("*.py")):
        me = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        if me == "bandit":
            continue
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args:
                if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    names = [node.args[0].value]
            found |= {n for n in names if n.startswith("bandit.")}
        graph[me] = found - {me}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt in graph and not state.get(nxt):
                found = visit(nxt, stack + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if not state.get(node):
            found = visit(node, [node])
            if found:
                return found
    return None


def test_bandit_has_no_import_cycle():
    """No two bandit modules import each other, not even through a function-level or importlib import (the method
    table's row type lives in bandit.method_table, below both bandit.methods and bandit.family)."""
    graph = _bandit_graph(ROOT)
    assert {"bandit.methods", "bandit.family", "bandit.method_table"} <= set(graph)
    cycle = _cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_cycle_check_can_fail():
    """The cycle finder itself can fail: it reports a two-module cycle and passes a chain."""
    assert _cycle({"bandit.a": {"bandit.b"}, "bandit.b": {"bandit.a"}}) == ["bandit.a", "bandit.b", "bandit.a"]
    assert _cycle({"bandit.a": {"bandit.b"}, "bandit.b": set()}) is None


@pytest.mark.slow
@pytest.mark.parametrize("module", ["bandit.losses", "bandit.records", "bandit.style", "llm.methods"])
def test_loss_library_imports_light(module):
    """The loss library and the shared I/O load neither scipy, matplotlib, transformers nor the experiments."""
    heavy = ("scipy", "matplotlib", "transformers", "bandit.experiments", "bandit.dynamics")
    code = f"import sys, {module}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"import {module} loaded {out.stdout.strip()}"
