"""Single-pair stochastic gradients of every bandit method, and their exact mean and variance under μ1⊗μ2.

A minibatch gradient is the average of B independent single-pair gradients, so its covariance is 1/B times the
single-pair one. Everything here goes through :func:`bandit.methods.method_loss` (hence ``bandit.losses``): each pair
gets its own copy of the logits (one "seed" per pair), so one backward pass returns every per-pair gradient.

- :func:`pair_gradients`: ∇_θ loss(y, y'; π_θ) for N given pairs → ``[N, A]``.
- :func:`pair_gradient_moments`: the exact mean (= :func:`bandit.dynamics.expected_gradient`) and total variance
  E‖g − E g‖² of the single-pair gradient, by enumerating all A² arm pairs (and both label orders for IPO/DPO).
  With importance sampling (``pg_is``) the variance grows without bound as μ puts little mass where π puts a lot;
  CoPG needs no weights, so its variance stays bounded (notebook 03).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from bandit.methods import PairBatch, get_method, method_loss
from bandit.policies import gather_logps, log_policy, policy
from bandit.problem import BanditProblem, check_distribution

__all__ = ["GradientMoments", "pair_gradient_moments", "pair_gradients"]


class GradientMoments(NamedTuple):
    """Exact moments of a method's single-pair gradient estimator at one policy.

    Attributes:
        mean: [A] E[g], the expected gradient of the loss (to minimise).
        variance: E‖g − E[g]‖², the trace of the covariance of g (a minibatch of B pairs divides it by B).
        second_moment: E‖g‖².
    """

    mean: torch.Tensor
    variance: float
    second_moment: float


def pair_gradients(
    method: str,
    problem: BanditProblem,
    logits: torch.Tensor,
    arms: torch.Tensor,
    rewards: torch.Tensor | None = None,
    mu1: torch.Tensor | None = None,
    mu2: torch.Tensor | None = None,
    pref_beta: float | None = None,
) -> torch.Tensor:
    """Gradient w.r.t. the logits of ``method``'s loss on each pair alone: g_j = ∇_θ loss(y_j, y'_j; π_θ).

    Args:
        method: a name in :data:`bandit.methods.METHODS` (``onpolicy`` = RLOO with k = 2 on the given pairs).
        problem: the bandit.
        logits: [A] θ of the policy π_θ = softmax(θ) at which the gradients are taken.
        arms: [N, 2] long pairs (y ~ μ1, y' ~ μ2; for ``ipo``/``dpo`` column 0 is the preferred arm).
        rewards: [N, 2] observed rewards (default: the exact rewards R of the arms).
        mu1, mu2: [A] behaviour policies; required by ``pg_is`` (its weights π(y)/μ1(y), π(y')/μ2(y')).
        pref_beta: β of IPO/DPO (default: the problem's β).
    Returns:
        [N, A] float64 per-pair gradients of the loss to minimise.
    """
    fn = "pair_gradients"
    m = get_method(method)
    a = problem.num_arms
    arms = torch.as_tensor(arms, dtype=torch.long)
    if arms.dim() != 2 or arms.shape[1] != 2:
        raise ValueError(f"{fn}: arms has shape {tuple(arms.shape)}; pass [N, 2] arm indices (y, y')")
    if ((arms < 0) | (arms >= a)).any():
        raise ValueError(f"{fn}: arms must be in [0, {a}); got values from {arms.min()} to {arms.max()}")
    n = arms.shape[0]
    theta = torch.as_tensor(logits, dtype=torch.float64).detach()
    if theta.shape != (a,):
        raise ValueError(f"{fn}: logits has shape {tuple(theta.shape)}; pass one [{a}] logit vector")
    rewards = problem.rewards[arms] if rewards is None else torch.as_tensor(rewards, dtype=torch.float64)
    if rewards.shape != arms.shape:
        raise ValueError(f"{fn}: rewards has shape {tuple(rewards.shape)} but arms has {tuple(arms.shape)}")
    behaviour = None
    if m.needs_behaviour:
        if mu1 is None or mu2 is None:
            raise ValueError(f"{fn}: {m.name} needs mu1 and mu2 (its importance weights π/μ); pass both")
        mu1 = check_distribution(fn, "mu1", mu1, num_arms=a)
        mu2 = check_distribution(fn, "mu2", mu2, num_arms=a)
        if (mu1[arms[:, 0]] <= 0).any() or (mu2[arms[:, 1]] <= 0).any():
            raise ValueError(f"{fn}: a pair uses an arm with μ = 0; such pairs cannot be sampled, drop them")
        behaviour = torch.stack([mu1[arms[:, 0]].log(), mu2[arms[:, 1]].log()], -1).view(n, 1, 2)
    # one copy of θ per pair: seed axis S = N, batch B = 1, so each row of the gradient belongs to one pair
    theta_rows = theta.expand(n, a).clone().requires_grad_(True)  # [N, A]
    arms_sb = arms.view(n, 1, 2)  # [S=N, B=1, 2]
    batch = PairBatch(
        logps=gather_logps(log_policy(theta_rows), arms_sb),  # [N, 1, 2] carries the gradient
        ref_logps=problem.ref_log_policy[arms_sb],
        rewards=rewards.view(n, 1, 2),
        beta=problem.beta,
        pref_beta=problem.beta if pref_beta is None else float(pref_beta),
        value=(policy(theta) @ problem.rewards).expand(n).clone(),  # exact E_π[R] (pg_value's baseline)
        behaviour_logps=behaviour,
    )
    loss = method_loss(m, batch)  # [N, 1]
    (grad,) = torch.autograd.grad(loss.sum(), theta_rows)
    return grad


def pair_gradient_moments(
    method: str,
    problem: BanditProblem,
    logits: torch.Tensor,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
) -> GradientMoments:
    """Exact mean and variance of the single-pair gradient of ``method`` under y ~ μ1, y' ~ μ2 (O(A²) pairs).

    Preference methods enumerate both label orders of each pair, weighted by P(y ≻ y') (Bradley–Terry σ(R(y) −
    R(y')), or 1/0 by reward); ``onpolicy`` samples both arms from π itself (μ1, μ2 ignored). Pairs of probability 0
    are left out. The mean equals :func:`bandit.dynamics.expected_gradient` (tested) for every method except
    ``pg_mean``, whose baseline is the mean over its own minibatch: with one pair per batch it includes the sample
    itself, so its single-pair mean differs from the large-batch expected gradient.

    Args:
        method: a name in :data:`bandit.methods.METHODS`.
        problem: the bandit.
        logits: [A] θ of the current policy.
        mu1, mu2: [A] behaviour policies.
        pref_beta: β of IPO/DPO (default: the problem's β).
        preference: "bradley_terry" or "reward" (IPO/DPO labels).
    Returns:
        :class:`GradientMoments` (mean [A], variance, second moment).
    """
    fn = "pair_gradient_moments"
    m = get_method(method)
    a = problem.num_arms
    theta = torch.as_tensor(logits, dtype=torch.float64).detach()
    mu1 = check_distribution(fn, "mu1", mu1, num_arms=a)
    mu2 = check_distribution(fn, "mu2", mu2, num_arms=a)
    if m.data == "onpolicy":
        mu1 = mu2 = policy(theta)
    y = torch.arange(a).repeat_interleave(a)
    y2 = torch.arange(a).repeat(a)
    arms = torch.stack([y, y2], 1)  # [A², 2], every (y, y')
    weights = mu1[y] * mu2[y2]  # [A²]
    if m.data == "preferences":
        diff = problem.rewards[y] - problem.rewards[y2]
        if preference == "bradley_terry":
            p = torch.sigmoid(diff)
        elif preference == "reward":
            p = (diff >= 0).to(torch.float64)
        else:
            raise ValueError(f"{fn}: preference must be 'bradley_terry' or 'reward', got {preference!r}")
        arms = torch.cat([arms, arms.flip(1)])  # (y ≻ y') rows, then (y' ≻ y) rows
        weights = torch.cat([weights * p, weights * (1 - p)])
    keep = weights > 0
    arms, weights = arms[keep], weights[keep]
    grads = pair_gradients(m, problem, theta, arms, mu1=mu1, mu2=mu2, pref_beta=pref_beta)  # [P, A]
    mean = (weights[:, None] * grads).sum(0)
    second = (weights * grads.square().sum(1)).sum().item()
    variance = max(second - mean.square().sum().item(), 0.0)  # ≥ 0: drop rounding
    return GradientMoments(mean, variance, second)
