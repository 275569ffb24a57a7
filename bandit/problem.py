"""A KL-regularised bandit: rewards R, reference policy π_ref, strength β; its optimum π*, value J, regret and KL.

Everything here is exact (no sampling) and works on policies with any number of leading batch dimensions,
e.g. ``[S, A]`` (S seeds, A arms) or ``[T, S, A]`` (a recorded trajectory).

    J(π)      = E_{y~π}[R(y)] − β·KL(π‖π_ref)                      (paper Sec. 2)
    π*        = π_ref·exp(R/β) / Z*,   J(π*) = β·ln Z*              (paper App. A, Eq. 29)
    regret(π) = J(π*) − J(π) = β·KL(π‖π*)                           (identity checked in the tests)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

__all__ = ["BanditProblem", "check_distribution", "kl_divergence"]

_DIST_TOL = 1e-6


def check_distribution(
    fn: str, name: str, p: torch.Tensor, num_arms: int | None = None, full_support: bool = False
) -> torch.Tensor:
    """Validate that ``p`` is a probability vector (or a batch of them) over the last axis.

    Args:
        fn: calling function's name, for the error message.
        name: argument name, for the error message.
        p: [..., A] tensor (or anything ``torch.as_tensor`` accepts), non-negative, finite, each row summing to 1.
        num_arms: expected A, if known.
        full_support: require every entry > 0.
    Returns:
        ``p`` as a float64 tensor (rows renormalised to sum exactly to 1).
    Raises:
        ValueError naming ``fn`` and ``name``, what was expected and what was received.
    """
    t = torch.as_tensor(p, dtype=torch.float64)
    if t.dim() == 0:
        raise ValueError(f"{fn}: {name} must be a probability vector [A], got a scalar")
    if num_arms is not None and t.shape[-1] != num_arms:
        raise ValueError(
            f"{fn}: {name} has {t.shape[-1]} arms but the problem has {num_arms}; pass a [{num_arms}] vector"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"{fn}: {name} contains NaN or inf; pass a finite probability vector")
    if (t < 0).any():
        raise ValueError(f"{fn}: {name} has negative entries (min {t.min().item():.3g}); probabilities must be >= 0")
    sums = t.sum(-1)
    if ((sums - 1).abs() > _DIST_TOL).any():
        bad = sums.flatten()[((sums - 1).abs() > _DIST_TOL).flatten()][0].item()
        raise ValueError(f"{fn}: {name} sums to {bad:.6g}, not 1; pass a probability distribution (normalise it)")
    if full_support and (t <= 0).any():
        raise ValueError(f"{fn}: {name} must have full support (every arm > 0), got a zero entry")
    return t / sums.unsqueeze(-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Exact KL(p‖q) = Σ_a p(a)·ln(p(a)/q(a)) over the last axis, with 0·ln 0 = 0.

    Args:
        p, q: [..., A] probability vectors (broadcastable); q > 0 wherever p > 0.
    Returns:
        [...] KL divergences (+inf where q = 0 < p), clamped at 0 against rounding.
    """
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(-1).clamp_min(0.0)  # KL ≥ 0: drop −1e-17 rounding


@dataclass(frozen=True, eq=False)
class BanditProblem:
    """A K-armed KL-regularised bandit (K = A arms): J(π) = E_π[R] − β·KL(π‖π_ref).

    Construct with ``BanditProblem(rewards, ref_policy, beta)``; inputs are validated (β > 0 and finite, finite
    rewards, π_ref a full-support distribution) and stored as float64 tensors.

    Attributes:
        rewards: [A] R(a), float64.
        ref_policy: [A] π_ref(a) > 0, float64, sums to 1.
        beta: β > 0.
    """

    rewards: torch.Tensor
    ref_policy: torch.Tensor
    beta: float

    def __post_init__(self) -> None:
        fn = "BanditProblem"
        r = torch.as_tensor(self.rewards, dtype=torch.float64).detach().clone()
        if r.dim() != 1 or r.numel() < 2:
            raise ValueError(f"{fn}: rewards must be a 1-D vector of A >= 2 arm rewards, got shape {tuple(r.shape)}")
        if not torch.isfinite(r).all():
            raise ValueError(f"{fn}: rewards contain NaN or inf; every arm needs a finite reward")
        ref = check_distribution(fn, "ref_policy", self.ref_policy, num_arms=r.numel(), full_support=True)
        if ref.dim() != 1:
            raise ValueError(f"{fn}: ref_policy must be one [A] vector, got shape {tuple(ref.shape)}")
        beta = self.beta.item() if isinstance(self.beta, torch.Tensor) else self.beta
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not math.isfinite(beta) or beta <= 0:
            raise ValueError(f"{fn}: beta must be a finite float > 0 (the KL strength β), got {self.beta!r}")
        object.__setattr__(self, "rewards", r)
        object.__setattr__(self, "ref_policy", ref.detach().clone())
        object.__setattr__(self, "beta", float(beta))

    # ------------------------------------------------------------------------------------------------------------
    @property
    def num_arms(self) -> int:
        """A, the number of arms."""
        return self.rewards.numel()

    @property
    def ref_log_policy(self) -> torch.Tensor:
        """[A] ln π_ref."""
        return self.ref_policy.log()

    @property
    def optimal_logits(self) -> torch.Tensor:
        """[A] logits of π*: ln π_ref + R/β, shifted to sum 0 (the softmax is shift-invariant)."""
        z = self.ref_log_policy + self.rewards / self.beta
        return z - z.mean()

    @property
    def optimal_policy(self) -> torch.Tensor:
        """[A] π* = π_ref·exp(R/β)/Z*, the unique maximiser of J (paper Eq. 29)."""
        return torch.softmax(self.ref_log_policy + self.rewards / self.beta, dim=-1)

    @property
    def optimal_value(self) -> float:
        """J(π*) = β·ln Z* = β·ln Σ_a π_ref(a)·exp(R(a)/β)."""
        return self.beta * torch.logsumexp(self.ref_log_policy + self.rewards / self.beta, dim=-1).item()

    # ------------------------------------------------------------------------------------------------------------
    def _policy(self, fn: str, pi: torch.Tensor) -> torch.Tensor:
        return check_distribution(f"BanditProblem.{fn}", "pi", pi, num_arms=self.num_arms)

    def expected_reward(self, pi: torch.Tensor) -> torch.Tensor:
        """E_{y~π}[R(y)].  pi: [..., A] → [...]."""
        return self._policy("expected_reward", pi) @ self.rewards

    def kl_to_ref(self, pi: torch.Tensor) -> torch.Tensor:
        """Exact KL(π‖π_ref) (metric ``policy/kl_to_ref``).  pi: [..., A] → [...]."""
        return kl_divergence(self._policy("kl_to_ref", pi), self.ref_policy)

    def kl_to_optimum(self, pi: torch.Tensor) -> torch.Tensor:
        """Exact KL(π‖π*) (metric ``policy/kl_to_optimum``).  pi: [..., A] → [...]."""
        return kl_divergence(self._policy("kl_to_optimum", pi), self.optimal_policy)

    def reverse_kl_to_optimum(self, pi: torch.Tensor) -> torch.Tensor:
        """Exact KL(π*‖π) (mass of π* that π misses).  pi: [..., A] → [...]."""
        return kl_divergence(self.optimal_policy, self._policy("reverse_kl_to_optimum", pi))

    def value(self, pi: torch.Tensor) -> torch.Tensor:
        """J(π) = E_π[R] − β·KL(π‖π_ref) (paper Eq. 2).  pi: [..., A] → [...]."""
        pi = self._policy("value", pi)
        return pi @ self.rewards - self.beta * kl_divergence(pi, self.ref_policy)

    def regret(self, pi: torch.Tensor) -> torch.Tensor:
        """J(π*) − J(π) = β·KL(π‖π*) ≥ 0 (metric ``policy/regret``), computed as β·KL for accuracy.

        pi: [..., A] → [...].
        """
        return self.beta * kl_divergence(self._policy("regret", pi), self.optimal_policy)

    def regularized_rewards(self, pi: torch.Tensor) -> torch.Tensor:
        """R_β^π(a) = R(a) − β·ln(π(a)/π_ref(a)) for every arm (paper Eq. 1).  pi: [..., A] → [..., A]."""
        pi = self._policy("regularized_rewards", pi)
        return self.rewards - self.beta * (pi.log() - self.ref_log_policy)

    def with_beta(self, beta: float) -> BanditProblem:
        """The same rewards and π_ref with another β."""
        return BanditProblem(self.rewards, self.ref_policy, beta)

    def to_dict(self) -> dict:
        """JSON-ready description: rewards, ref_policy, beta, optimal_policy, optimal_value."""
        return {
            "rewards": self.rewards.tolist(),
            "ref_policy": self.ref_policy.tolist(),
            "beta": self.beta,
            "optimal_policy": self.optimal_policy.tolist(),
            "optimal_value": self.optimal_value,
        }
