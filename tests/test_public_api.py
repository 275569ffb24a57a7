"""Every public name of `bandit` and `llm` has a docstring; every loss documents its equation and shapes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bandit
import bandit.losses
import llm


def _public_module_names() -> list[str]:
    names = []
    for pkg in (bandit, llm):
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                names.append(info.name)
    return sorted(names)


MODULES = _public_module_names()


def _undocumented(module) -> list[str]:
    """Public functions and classes of ``module`` (its ``__all__``, else those it defines) without a docstring."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__
        ]
    missing = []
    for name in names:
        obj = getattr(module, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and len((inspect.getdoc(obj) or "").strip()) <= 10:
            missing.append(name)
    return missing


def test_walk_finds_the_layers():
    """The walk reaches the layered subpackages (a flat walk would silently check a fraction of the API)."""
    for name in ("bandit.losses", "llm.data.corpus", "llm.model.logprobs", "llm.stages.train.trainer", "llm.pipeline"):
        assert name in MODULES


@pytest.mark.parametrize("module_name", MODULES)
def test_module_documents_its_public_names(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__ and module.__doc__.strip(), f"module {module_name} has no docstring"
    missing = _undocumented(module)
    assert not missing, f"{module_name}: public names without a docstring: {missing}"


def test_undocumented_name_is_caught():
    """The check itself can fail: a module with an undocumented public function is reported."""
    import types

    fake = types.ModuleType("fake", "A module.")

    def documented():
        """Does something useful, documented."""

    def bare():
        pass

    documented.__module__ = bare.__module__ = "fake"
    fake.documented, fake.bare = documented, bare
    assert _undocumented(fake) == ["bare"]


@pytest.mark.parametrize("name", [n for n in bandit.losses.__all__ if n.endswith(("_loss", "_objective"))])
def test_losses_document_equation_and_shapes(name):
    doc = inspect.getdoc(getattr(bandit.losses, name))
    assert "[B, K]" in doc or "[B, 2]" in doc, f"{name}: docstring must give the input shapes"
    assert "[B]" in doc, f"{name}: docstring must give the output shape"
    assert "=" in doc, f"{name}: docstring must give the equation"
    assert "minimi" in doc or "maximi" in doc, f"{name}: docstring must say whether the value is minimised"
