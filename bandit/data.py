"""Behaviour policies μ1, μ2 and finite datasets of rewarded pairs (y ~ μ1, y' ~ μ2), one dataset per seed.

Behaviour helpers return probability vectors ``[A]`` (or ``[N, A]`` for a vector of knob values):

- :func:`uniform_behaviour`, :func:`reference_behaviour` (μ = π_ref), :func:`skewed_behaviour` (tilted toward the
  worst or best arms);
- :func:`offpolicy_family`: the one-knob family μ_α ∝ π_ref·exp((1 − 2α)·R/β), from μ_0 = π* (on-policy-ish: the data
  look like the policy CoPG should end at) through μ_½ = π_ref (the initial policy) to μ_1 ∝ π_ref·exp(−R/β)
  (far off-policy: the mirror image of π*, most mass on the worst arms). Full support for every α;
- :func:`partial_support`: zero some arms of μ and renormalise (breaks Theorem 1's support assumption).

:func:`sample_pairs` draws, for each seed, n pairs with their (optionally noisy) rewards and a preference label per
pair for IPO/DPO (Bradley–Terry sampled, as the paper's IPO, or by reward).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bandit.losses import preference_pairs
from bandit.problem import BanditProblem, check_distribution

__all__ = [
    "PREFERENCES",
    "PairData",
    "offpolicy_family",
    "partial_support",
    "reference_behaviour",
    "sample_pairs",
    "skewed_behaviour",
    "uniform_behaviour",
]

#: How IPO/DPO preference labels are made from the two rewards of a pair.
PREFERENCES = ("bradley_terry", "reward")


def uniform_behaviour(num_arms: int) -> torch.Tensor:
    """μ = uniform over A arms.  Returns [A] float64."""
    if not isinstance(num_arms, int) or num_arms < 2:
        raise ValueError(f"uniform_behaviour: num_arms must be an int >= 2, got {num_arms!r}")
    return torch.full((num_arms,), 1.0 / num_arms, dtype=torch.float64)


def reference_behaviour(problem: BanditProblem) -> torch.Tensor:
    """μ = π_ref (data sampled from the reference/SFT policy, as in most offline RLHF).  Returns [A]."""
    return problem.ref_policy.clone()


def skewed_behaviour(problem: BanditProblem, temperature: float = 1.0, toward: str = "worst") -> torch.Tensor:
    """μ ∝ π_ref·exp(∓R/temperature): tilted toward the ``"worst"`` (−) or ``"best"`` (+) arms.

    Args:
        problem: the bandit (R and π_ref).
        temperature: > 0; smaller = more skewed.
        toward: "worst" or "best".
    Returns:
        [A] full-support behaviour policy.
    """
    if not temperature > 0:
        raise ValueError(f"skewed_behaviour: temperature must be > 0, got {temperature!r}")
    if toward not in ("worst", "best"):
        raise ValueError(f"skewed_behaviour: toward must be 'worst' or 'best', got {toward!r}")
    sign = -1.0 if toward == "worst" else 1.0
    return torch.softmax(problem.ref_log_policy + sign * problem.rewards / temperature, dim=-1)


def offpolicy_family(problem: BanditProblem, alpha: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """The one-knob behaviour family μ_α ∝ π_ref·exp((1 − 2α)·R/β), α ∈ [0, 1].

    α = 0 gives π* (on-policy-ish), α = ½ gives π_ref, α = 1 gives π_ref·exp(−R/β)/Z (far off-policy). Every member
    has full support, so Theorem 1 applies to CoPG for every α, while biased methods drift further as α grows.

    Args:
        problem: the bandit.
        alpha: a float or [N] values in [0, 1].
    Returns:
        [A] for a float α, [N, A] for a vector.
    """
    a = torch.as_tensor(alpha, dtype=torch.float64)
    if not torch.isfinite(a).all() or (a < 0).any() or (a > 1).any():
        raise ValueError(f"offpolicy_family: alpha must be in [0, 1], got {alpha!r}")
    tilt = (1 - 2 * a).unsqueeze(-1) * (problem.rewards / problem.beta)
    return torch.softmax(problem.ref_log_policy + tilt, dim=-1)


def partial_support(mu: torch.Tensor, missing: Sequence[int]) -> torch.Tensor:
    """μ with the arms in ``missing`` set to 0 and the rest renormalised.

    Args:
        mu: [A] behaviour policy.
        missing: arm indices to remove (at least one arm must remain).
    Returns:
        [A] behaviour policy with zeros on ``missing``.
    """
    mu = check_distribution("partial_support", "mu", mu)
    out = mu.clone()
    idx = list(missing)
    if any(not (0 <= i < mu.shape[-1]) for i in idx):
        raise ValueError(f"partial_support: missing arms {idx} out of range for A={mu.shape[-1]}")
    out[..., idx] = 0.0
    total = out.sum(-1, keepdim=True)
    if (total <= 0).any():
        raise ValueError("partial_support: removing these arms leaves no mass; keep at least one supported arm")
    return out / total


@dataclass
class PairData:
    """A finite dataset of rewarded pairs per seed (S seeds, n pairs each, A arms).

    Attributes:
        arms: [S, n, 2] long, column 0 y ~ μ1, column 1 y' ~ μ2 (unranked, for CoPG and PG).
        rewards: [S, n, 2] float64 observed rewards of ``arms`` (R plus optional Gaussian noise).
        pref_arms: [S, n, 2] long, the same pairs as (preferred, dispreferred) for IPO/DPO.
        mu1, mu2: [S, A] the behaviour policies that generated each seed's data.
    """

    arms: torch.Tensor
    rewards: torch.Tensor
    pref_arms: torch.Tensor
    mu1: torch.Tensor
    mu2: torch.Tensor

    @property
    def num_seeds(self) -> int:
        """S."""
        return self.arms.shape[0]

    @property
    def num_pairs(self) -> int:
        """n."""
        return self.arms.shape[1]


def _per_seed(fn: str, name: str, mu: torch.Tensor, num_arms: int, num_seeds: int) -> torch.Tensor:
    mu = check_distribution(fn, name, mu, num_arms=num_arms)
    if mu.dim() == 1:
        return mu.expand(num_seeds, -1).clone()
    if mu.dim() != 2 or mu.shape[0] != num_seeds:
        raise ValueError(f"{fn}: {name} has shape {tuple(mu.shape)}; pass [A] or [S={num_seeds}, A]")
    return mu


def sample_pairs(
    problem: BanditProblem,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    num_pairs: int,
    num_seeds: int = 1,
    seed: int = 0,
    reward_noise: float = 0.0,
    preference: str = "bradley_terry",
) -> PairData:
    """Draw S independent datasets of n pairs (y ~ μ1, y' ~ μ2) with rewards and preference labels.

    Seed s uses ``torch.Generator().manual_seed(seed + s)``, so its data does not depend on S.

    Args:
        problem: the bandit.
        mu1, mu2: [A] (shared) or [S, A] (one per seed, e.g. one α per run) behaviour policies.
        num_pairs: n ≥ 1.
        num_seeds: S ≥ 1.
        seed: base seed.
        reward_noise: σ ≥ 0; observed reward = R(y) + σ·ε, ε ~ N(0, 1), drawn once per sample.
        preference: "bradley_terry" (y ≻ y' with probability σ(r − r'), as the paper's IPO) or "reward" (the higher
            observed reward wins; ties keep y first).
    Returns:
        :class:`PairData` with tensors [S, n, 2].
    """
    fn = "sample_pairs"
    if not isinstance(num_pairs, int) or num_pairs < 1:
        raise ValueError(f"{fn}: num_pairs must be an int >= 1, got {num_pairs!r}")
    if not isinstance(num_seeds, int) or num_seeds < 1:
        raise ValueError(f"{fn}: num_seeds must be an int >= 1, got {num_seeds!r}")
    if not reward_noise >= 0:
        raise ValueError(f"{fn}: reward_noise must be >= 0 (a standard deviation), got {reward_noise!r}")
    if preference not in PREFERENCES:
        raise ValueError(f"{fn}: preference must be one of {PREFERENCES}, got {preference!r}")
    a = problem.num_arms
    mu1 = _per_seed(fn, "mu1", mu1, a, num_seeds)
    mu2 = _per_seed(fn, "mu2", mu2, a, num_seeds)
    arms, rewards, pref_arms = [], [], []
    for s in range(num_seeds):
        g = torch.Generator().manual_seed(seed + s)
        y = torch.multinomial(mu1[s], num_pairs, replacement=True, generator=g)
        y2 = torch.multinomial(mu2[s], num_pairs, replacement=True, generator=g)
        pair = torch.stack([y, y2], dim=1)  # [n, 2]
        r = problem.rewards.index_select(0, pair.view(-1)).view(pair.shape)  # R of both arms (= rewards[pair])
        if reward_noise > 0:
            r = r + reward_noise * torch.randn(r.shape, generator=g, dtype=torch.float64)
        cols = preference_pairs(r, how=preference, generator=g)  # [n, 2] (preferred, dispreferred) columns
        arms.append(pair)
        rewards.append(r)
        pref_arms.append(pair.gather(1, cols))
    return PairData(torch.stack(arms), torch.stack(rewards), torch.stack(pref_arms), mu1, mu2)
