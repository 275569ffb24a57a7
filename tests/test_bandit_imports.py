"""Light imports: the loss library, the records and the style table load neither scipy, matplotlib nor the
experiments (``bandit/__init__.py`` is lazy, PEP 562), and every public name of ``bandit`` still resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bandit

HEAVY = ("scipy", "matplotlib", "bandit.experiments", "bandit.stationary")


@pytest.mark.slow
@pytest.mark.parametrize("module", ["bandit.losses", "bandit.records", "bandit.style", "bandit"])
def test_light_import(module):
    """A fresh interpreter importing ``module`` has loaded none of the heavy modules."""
    code = f"import {module}, sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", f"import {module} loaded {out.stdout.strip()}"


@pytest.mark.parametrize("name", [*bandit.__all__, "METHODS", "PAPER", "__version__"])
def test_every_public_name_resolves(name):
    """Every name of ``bandit.__all__`` (and the re-exported dicts and version) is reachable from the package."""
    assert getattr(bandit, name) is not None
    assert name in dir(bandit)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bandit.nope  # noqa: B018
