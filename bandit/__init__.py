"""The theory lab: tabular softmax-policy bandits and the one implementation of every loss (``bandit.losses``).

An LLM is a contextual bandit whose arms are completions; ``llm`` imports the same losses.
"""

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

__version__ = "0.1.0"

__all__ = [
    "PG_BASELINES",
    "copg_loss",
    "copg_pair_objective",
    "copg_surrogate_loss",
    "dpo_loss",
    "gather_pairs",
    "ipo_loss",
    "pg_loss",
    "preference_pairs",
    "regularized_reward",
]
