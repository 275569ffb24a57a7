"""BanditProblem, behaviour policies and datasets: closed forms, validation errors, sampling frequencies."""

from __future__ import annotations

import math

import pytest
import torch

from bandit.data import offpolicy_family, partial_support, sample_pairs, skewed_behaviour, uniform_behaviour
from bandit.policies import init_logits, policy
from bandit.presets import PAPER, paper_problem
from bandit.problem import BanditProblem


def test_paper_optimum():
    """π* = softmax(R/β) = softmax(5, 4, 2) ≈ (0.7054, 0.2595, 0.0351) and J(π*) = β·ln Z* (docs/theory.md)."""
    p = paper_problem()
    assert torch.allclose(p.optimal_policy, torch.tensor([0.7054, 0.2595, 0.0351], dtype=torch.float64), atol=1e-4)
    z = sum(math.exp(r / 0.5) / 3 for r in PAPER["rewards"])
    assert abs(p.optimal_value - 0.5 * math.log(z)) < 1e-12
    assert abs(p.regret(p.ref_policy).item() - 0.2918666) < 1e-6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"beta": 0.0}, "beta must be a finite float > 0"),
        ({"beta": -1.0}, "beta must be a finite float > 0"),
        ({"beta": float("nan")}, "beta must be a finite float > 0"),
        ({"rewards": [1.0, float("nan"), 0.0]}, "NaN or inf"),
        ({"ref_policy": [0.5, 0.6, -0.1]}, "negative entries"),
        ({"ref_policy": [0.5, 0.2, 0.2]}, "sums to 0.9"),
        ({"ref_policy": [0.5, 0.5, 0.0]}, "full support"),
        ({"ref_policy": [0.5, 0.5]}, "has 2 arms but the problem has 3"),
    ],
)
def test_problem_validation(kwargs, match):
    """Bad input raises ValueError naming the function, the argument and the fix."""
    args = {"rewards": [1.0, 2.0, 0.0], "ref_policy": [1 / 3] * 3, "beta": 0.5} | kwargs
    with pytest.raises(ValueError, match=match):
        BanditProblem(torch.tensor(args["rewards"]), torch.tensor(args["ref_policy"]), args["beta"])


def test_metrics_reject_non_distributions():
    """Metric functions check that π is a distribution."""
    p = paper_problem()
    with pytest.raises(ValueError, match="BanditProblem.regret: pi sums to"):
        p.regret(torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        p.value(torch.tensor([float("nan"), 0.5, 0.5], dtype=torch.float64))


def test_offpolicy_family_endpoints():
    """μ_0 = π*, μ_½ = π_ref, μ_1 ∝ π_ref·exp(−R/β); full support throughout."""
    p = paper_problem()
    mus = offpolicy_family(p, [0.0, 0.5, 1.0])
    assert torch.allclose(mus[0], p.optimal_policy)
    assert torch.allclose(mus[1], p.ref_policy)
    assert torch.allclose(mus[2], torch.softmax(-p.rewards / p.beta, -1))
    assert (offpolicy_family(p, torch.linspace(0, 1, 11)) > 0).all()
    with pytest.raises(ValueError, match="alpha must be in"):
        offpolicy_family(p, 1.5)


def test_behaviour_helpers():
    """uniform, skewed and partial-support behaviour policies are distributions with the documented shape."""
    p = paper_problem()
    assert torch.allclose(uniform_behaviour(4), torch.full((4,), 0.25, dtype=torch.float64))
    worst = skewed_behaviour(p, temperature=0.5, toward="worst")
    assert worst.argmax().item() == 2 and abs(worst.sum().item() - 1) < 1e-12
    mu = partial_support(torch.tensor(PAPER["mu1"], dtype=torch.float64), [0])
    assert mu[0] == 0 and torch.allclose(mu[1:], torch.tensor([2 / 9, 7 / 9], dtype=torch.float64))
    with pytest.raises(ValueError, match="no mass"):
        partial_support(mu, [1, 2])


def test_sample_pairs_frequencies_and_preferences():
    """Arm frequencies match μ1, μ2; Bradley–Terry labels prefer y with probability σ(R(y) − R(y'))."""
    p = paper_problem()
    mu1, mu2 = torch.tensor(PAPER["mu1"]), torch.tensor(PAPER["mu2"])
    d = sample_pairs(p, mu1, mu2, num_pairs=40_000, num_seeds=2, seed=3)
    assert d.arms.shape == d.rewards.shape == d.pref_arms.shape == (2, 40_000, 2)
    f1 = torch.bincount(d.arms[..., 0].flatten(), minlength=3).double() / 80_000
    f2 = torch.bincount(d.arms[..., 1].flatten(), minlength=3).double() / 80_000
    assert torch.allclose(f1, mu1.double(), atol=0.01) and torch.allclose(f2, mu2.double(), atol=0.01)
    assert torch.equal(d.rewards, p.rewards[d.arms])  # noiseless
    mask = (d.arms[..., 0] == 0) & (d.arms[..., 1] == 2)  # R = 2.5 vs 1: P(y ≻ y') = σ(1.5)
    won = (d.pref_arms[..., 0] == 0)[mask].double().mean().item()
    assert abs(won - 1 / (1 + math.exp(-1.5))) < 0.05
    by_reward = sample_pairs(p, mu1, mu2, num_pairs=1000, seed=3, preference="reward")
    r = p.rewards[by_reward.pref_arms]
    assert (r[..., 0] >= r[..., 1]).all()
    noisy = sample_pairs(p, mu1, mu2, num_pairs=5000, seed=3, reward_noise=1.0)
    assert abs((noisy.rewards - p.rewards[noisy.arms]).std().item() - 1.0) < 0.05
    with pytest.raises(ValueError, match="mu1 sums to"):
        sample_pairs(p, torch.tensor([0.5, 0.5, 0.5]), mu2, num_pairs=10)


def test_init_logits_seed_axis():
    """init_logits gives [S, A] copies whose softmax is the start policy."""
    p = paper_problem()
    th = init_logits(p.ref_policy, 5)
    assert th.shape == (5, 3) and torch.allclose(policy(th), p.ref_policy.expand(5, 3))
    with pytest.raises(ValueError, match="num_seeds"):
        init_logits(p.ref_policy, 0)
