"""The theory lab: tabular softmax-policy bandits and the one implementation of every loss (``bandit.losses``).

An LLM is a contextual bandit whose arms are completions; ``llm`` imports the same losses.

Imports are lazy (PEP 562): ``import bandit.losses`` loads torch and that module only, never scipy (the stationary
points), matplotlib (the figures) or the experiments. ``bandit.<name>`` imports the module that defines ``<name>``
on first use. Figures: :func:`bandit.plotting.draw_record` (not re-exported here: it loads matplotlib).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name → the module that defines it (``bandit.<name>`` imports that module on first access).
_EXPORTS: dict[str, str] = {
    # data
    "PairData": "bandit.data",
    "offpolicy_family": "bandit.data",
    "partial_support": "bandit.data",
    "reference_behaviour": "bandit.data",
    "sample_pairs": "bandit.data",
    "skewed_behaviour": "bandit.data",
    "uniform_behaviour": "bandit.data",
    # dynamics
    "History": "bandit.dynamics",
    "exact_flow": "bandit.dynamics",
    "expected_gradient": "bandit.dynamics",
    "make_expected_gradient": "bandit.dynamics",
    "train_many": "bandit.dynamics",
    "train_sampled": "bandit.dynamics",
    # estimators
    "GradientMoments": "bandit.estimators",
    "pair_gradient_moments": "bandit.estimators",
    "pair_gradients": "bandit.estimators",
    # the loss family under other names
    "apo_method": "bandit.family",
    "expected_apo_value": "bandit.family",
    "expected_quantiles": "bandit.family",
    "ipo_mean_method": "bandit.family",
    "qrpo_method": "bandit.family",
    "rpo_sq_method": "bandit.family",
    # experiments
    "make_record": "bandit.experiments",
    "run_experiment": "bandit.experiments",
    # losses
    "PG_BASELINES": "bandit.losses",
    "apo_loss": "bandit.losses",
    "apo_value": "bandit.losses",
    "command_a_loss": "bandit.losses",
    "copg_loss": "bandit.losses",
    "copg_pair_objective": "bandit.losses",
    "copg_surrogate_loss": "bandit.losses",
    "dpo_loss": "bandit.losses",
    "gather_pairs": "bandit.losses",
    "ipo_loss": "bandit.losses",
    "pg_loss": "bandit.losses",
    "pointwise_regression_loss": "bandit.losses",
    "preference_pairs": "bandit.losses",
    "qrpo_loss": "bandit.losses",
    "qrpo_rebel_loss": "bandit.losses",
    "rebel_loss": "bandit.losses",
    "reference_quantiles": "bandit.losses",
    "regularized_reward": "bandit.losses",
    "rpo_sq_loss": "bandit.losses",
    # methods
    "FAMILY": "bandit.family",
    "METHODS": "bandit.methods",
    "Method": "bandit.methods",
    "PairBatch": "bandit.methods",
    "contrast": "bandit.methods",
    "enumerated_expected_loss": "bandit.methods",
    "get_method": "bandit.methods",
    "method_loss": "bandit.methods",
    "register_method": "bandit.methods",
    # policies
    "gather_logps": "bandit.policies",
    "init_logits": "bandit.policies",
    "log_policy": "bandit.policies",
    "logits_from_policy": "bandit.policies",
    "policy": "bandit.policies",
    # presets
    "PAPER": "bandit.presets",
    "paper_problem": "bandit.presets",
    # problem
    "BanditProblem": "bandit.problem",
    "check_distribution": "bandit.problem",
    "kl_divergence": "bandit.problem",
    # stationary
    "StationaryPoint": "bandit.stationary",
    "stationary_point": "bandit.stationary",
}

# Dicts (FAMILY, METHODS, PAPER) are re-exported but not listed in __all__ (see tests/test_public_api.py).
__all__ = sorted(name for name in _EXPORTS if name not in ("FAMILY", "METHODS", "PAPER"))


def __getattr__(name: str) -> Any:
    """PEP 562: import the module that defines ``name`` on first access and cache the attribute."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bandit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
