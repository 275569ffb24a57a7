"""The theory lab: tabular softmax-policy bandits and the one implementation of every loss (``bandit.losses``).

An LLM is a contextual bandit whose arms are completions; ``llm`` imports the same losses.
Figures: :func:`bandit.plotting.draw_record` / ``plot_record`` (not imported here: they load matplotlib).
"""

from bandit.data import (
    PairData,
    offpolicy_family,
    partial_support,
    reference_behaviour,
    sample_pairs,
    skewed_behaviour,
    uniform_behaviour,
)
from bandit.dynamics import (
    History,
    contrast,
    exact_flow,
    expected_gradient,
    make_expected_gradient,
    train_many,
    train_sampled,
)
from bandit.estimators import (
    GradientMoments,
    pair_gradient_moments,
    pair_gradients,
)
from bandit.experiments import (
    make_record,
    run_experiment,
)
from bandit.losses import (
    PG_BASELINES,
    copg_loss,
    copg_pair_objective,
    copg_surrogate_loss,
    dpo_loss,
    gather_pairs,
    ipo_loss,
    pg_loss,
    preference_pairs,
    regularized_reward,
)
from bandit.methods import METHODS as METHODS  # re-exported (a dict: not in __all__, see tests/test_public_api.py)
from bandit.methods import (
    Method,
    PairBatch,
    enumerated_expected_loss,
    get_method,
    method_loss,
)
from bandit.policies import (
    gather_logps,
    init_logits,
    log_policy,
    logits_from_policy,
    policy,
)
from bandit.presets import PAPER as PAPER  # re-exported (a dict: not in __all__)
from bandit.presets import paper_problem
from bandit.problem import (
    BanditProblem,
    check_distribution,
    kl_divergence,
)
from bandit.stationary import (
    StationaryPoint,
    stationary_point,
)

__version__ = "0.1.0"

__all__ = [
    "BanditProblem",
    "GradientMoments",
    "History",
    "Method",
    "PG_BASELINES",
    "PairBatch",
    "PairData",
    "StationaryPoint",
    "check_distribution",
    "contrast",
    "copg_loss",
    "copg_pair_objective",
    "copg_surrogate_loss",
    "dpo_loss",
    "enumerated_expected_loss",
    "exact_flow",
    "expected_gradient",
    "gather_logps",
    "gather_pairs",
    "get_method",
    "init_logits",
    "ipo_loss",
    "kl_divergence",
    "log_policy",
    "logits_from_policy",
    "make_record",
    "make_expected_gradient",
    "method_loss",
    "offpolicy_family",
    "pair_gradient_moments",
    "pair_gradients",
    "paper_problem",
    "partial_support",
    "pg_loss",
    "policy",
    "preference_pairs",
    "reference_behaviour",
    "regularized_reward",
    "run_experiment",
    "sample_pairs",
    "skewed_behaviour",
    "stationary_point",
    "train_many",
    "train_sampled",
    "uniform_behaviour",
]
