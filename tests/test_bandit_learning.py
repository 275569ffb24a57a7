"""Sampled training on the paper's bandit (Sec. 5): CoPG learns π*, naive PG does not; the seed axis is exact."""

from __future__ import annotations

import pytest
import torch

from bandit.data import partial_support, sample_pairs
from bandit.dynamics import exact_flow, train_many, train_sampled
from bandit.experiments import empirical_copg_optimum
from bandit.methods import METHODS
from bandit.policies import policy
from bandit.presets import PAPER, paper_problem

MU1 = torch.tensor(PAPER["mu1"], dtype=torch.float64)
MU2 = torch.tensor(PAPER["mu2"], dtype=torch.float64)


@pytest.fixture(scope="module")
def paper_data():
    problem = paper_problem()
    return problem, sample_pairs(problem, MU1, MU2, num_pairs=4096, num_seeds=4, seed=0)


@pytest.mark.slow
def test_sampled_copg_reaches_optimum(paper_data):
    """Theorem 1 in practice: sampled CoPG (Adam, batch 512, finite data) reaches KL(π*‖π) < 1e-6 on every seed.
    (Noiseless rewards: every pair's loss is 0 at π*, so the stochastic gradient vanishes there too.)"""
    problem, data = paper_data
    hist = train_sampled("copg", problem, data, epochs=30, lr=0.05)
    kl = problem.reverse_kl_to_optimum(hist.policies[-1])
    assert kl.shape == (4,)
    assert (kl < 1e-6).all(), kl
    assert (hist.regret[0] > 0.29).all()  # started at π_ref, regret 0.292


@pytest.mark.slow
def test_sampled_naive_pg_does_not(paper_data):
    """Naive off-policy PG with b = 0 (paper Eqs. 23–24) moves away from π*: its regret grows past 0.6."""
    problem, data = paper_data
    hist = train_sampled("pg", problem, data, epochs=30, lr=0.05)
    assert (problem.reverse_kl_to_optimum(hist.policies[-1]) > 0.5).all()
    assert (hist.regret[-1] > hist.regret[0] + 0.3).all()


@pytest.mark.parametrize("method", ["copg", "ipo", "pg_value", "pg_is", "onpolicy"])
def test_seed_axis_equals_separate_runs(paper_data, method):
    """Vectorising over seeds changes nothing: S seeds in one tensor = S separate runs (each seed its own gradient)."""
    problem, _ = paper_data
    data = sample_pairs(problem, MU1, MU2, num_pairs=700, num_seeds=3, seed=5)
    together = train_sampled(method, problem, data, epochs=2, batch_size=256, seed=1)
    for s in range(3):
        alone_data = sample_pairs(problem, MU1, MU2, num_pairs=700, num_seeds=1, seed=5 + s)
        assert torch.equal(alone_data.arms[0], data.arms[s])
        if method == "onpolicy":
            continue  # fresh samples from π are drawn jointly for all seeds
        alone = train_sampled(method, problem, alone_data, epochs=2, batch_size=256, seed=1)
        assert torch.allclose(together.logits[:, s], alone.logits[:, 0], atol=1e-12, rtol=0)
    assert together.logits.shape == (3, 3, 3)  # [E+1, S, A]


@pytest.mark.slow
def test_sampled_follows_exact_adam_flow(paper_data):
    """With the paper's hyperparameters the sampled curve tracks the noise-free Adam flow on the expected loss."""
    problem, data = paper_data
    hist = train_sampled("ipo", problem, data, epochs=10, lr=1e-2)
    flow = exact_flow("ipo", problem, MU1, MU2, steps=10 * hist.steps_per_epoch, lr=1e-2, optimizer="adam")
    gap = (hist.regret[-1].mean() - problem.regret(policy(flow[-1]))).abs().item()
    assert gap < 0.01


@pytest.mark.parametrize("method", [name for name, m in METHODS.items() if m.frozen_off_support])
def test_unsampled_arm_never_moves(method):
    """docs/theory.md: an arm outside supp(μ1) ∪ supp(μ2) gets zero gradient, so its logit stays put."""
    problem = paper_problem()
    mu1, mu2 = partial_support(MU1, [0]), partial_support(MU2, [0])
    data = sample_pairs(problem, mu1, mu2, num_pairs=1024, num_seeds=2, seed=0)
    assert (data.arms != 0).all()
    hist = train_sampled(method, problem, data, epochs=5, lr=0.05)
    # zero up to float rounding (the −π_0 terms of ∂ln π(y)/∂θ_0 cancel within each batch; Adam rescales the
    # ~1e-13 residue by 1/ε, hence the 1e-6 tolerance), while naive PG moves that logit by O(1)
    assert torch.allclose(hist.logits[-1][:, 0], hist.logits[0][:, 0], atol=1e-6, rtol=0)
    naive = train_sampled("pg", problem, data, epochs=5, lr=0.05)
    assert ((naive.logits[-1][:, 0] - naive.logits[0][:, 0]).abs() > 0.1).all()
    assert not torch.equal(hist.logits[-1][:, 1], hist.logits[0][:, 1])


def test_empirical_copg_optimum_noiseless_is_exact():
    """With exact rewards the empirical CoPG objective (Eq. 17) is maximised exactly at π* once all arms are seen."""
    problem = paper_problem()
    data = sample_pairs(problem, MU1, MU2, num_pairs=200, num_seeds=3, seed=0)
    pi = policy(empirical_copg_optimum(problem, data.arms, data.rewards))
    assert torch.allclose(pi, problem.optimal_policy.expand(3, -1), atol=1e-10)


def test_history_metrics(paper_data):
    """History exposes the namespaced exact metrics with the documented shapes."""
    problem, data = paper_data
    hist = train_sampled("copg", problem, data, epochs=2)
    m = hist.metrics()
    assert set(m) == {"policy/regret", "policy/kl_to_optimum", "policy/kl_to_ref", "reward/mean", "loss/copg"}
    assert m["policy/regret"].shape == (3, 4) and m["loss/copg"].shape == (2, 4)
    assert torch.allclose(m["policy/regret"], problem.beta * m["policy/kl_to_optimum"])


def test_train_many_equals_separate_runs(paper_data):
    """Several methods in one loop ([M·S, A] logits, one backward) give each method exactly its solo trajectory."""
    problem, data = paper_data
    methods = ["copg", "dpo", "pg_mean", "onpolicy"]
    together = train_many(methods, problem, data, epochs=2, batch_size=1024, lr=0.01, seed=3)
    for m in methods:
        alone = train_sampled(m, problem, data, epochs=2, batch_size=1024, lr=0.01, seed=3)
        assert torch.allclose(together[m].logits, alone.logits, atol=1e-12, rtol=0), m
