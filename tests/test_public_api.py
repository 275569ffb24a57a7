"""Every public name of `bandit` and `llm` has a docstring; every loss documents its equation and shapes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bandit
import bandit.losses
import llm


def _public_modules(pkg):
    yield pkg
    for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        yield importlib.import_module(info.name)


def _public_objects():
    for pkg in (bandit, llm):
        for module in _public_modules(pkg):
            assert module.__doc__ and module.__doc__.strip(), f"module {module.__name__} has no docstring"
            names = getattr(module, "__all__", None)
            if names is None:
                names = [
                    n
                    for n, obj in vars(module).items()
                    if not n.startswith("_")
                    and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and getattr(obj, "__module__", None) == module.__name__
                ]
            for name in names:
                yield f"{module.__name__}.{name}", getattr(module, name)


# De-duplicate by qualified name (a name re-exported by a package appears twice); constants such as dicts and
# tuples are documented in their module docstring, so only functions and classes are checked one by one.
PUBLIC = sorted(
    (qualname, obj)
    for qualname, obj in dict(_public_objects()).items()
    if inspect.isfunction(obj) or inspect.isclass(obj)
)


@pytest.mark.parametrize(("qualname", "obj"), PUBLIC, ids=[q for q, _ in PUBLIC])
def test_public_name_has_docstring(qualname, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc.strip()) > 10, f"{qualname} needs a docstring"


@pytest.mark.parametrize("name", [n for n in bandit.losses.__all__ if n.endswith(("_loss", "_objective"))])
def test_losses_document_equation_and_shapes(name):
    doc = inspect.getdoc(getattr(bandit.losses, name))
    assert "[B, K]" in doc or "[B, 2]" in doc, f"{name}: docstring must give the input shapes"
    assert "[B]" in doc, f"{name}: docstring must give the output shape"
    assert "=" in doc, f"{name}: docstring must give the equation"
    assert "minimi" in doc or "maximi" in doc, f"{name}: docstring must say whether the value is minimised"
