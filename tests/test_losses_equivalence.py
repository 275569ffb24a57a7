"""Equivalent formulations: the three CoPG forms, Properties 2 and 3 of the paper, and the preference-pair helpers."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from bandit.losses import (
    copg_loss,
    copg_pair_objective,
    copg_surrogate_loss,
    gather_pairs,
    ipo_loss,
    pg_loss,
    preference_pairs,
)
from tests.losses_helpers import batches
from tests.losses_helpers import grad_of as _grad


@given(batches(k_min=2, k_max=2))
def test_three_copg_forms_same_gradient(data):
    """docs/theory.md: paper form A (−ℓ_CoPG with R_{β/2}, no detach), squared form B and stop-gradient form C share
    the gradient −(ΔR − βΔlr)(∇ln π(y) − ∇ln π(y′)); A and B differ in value by the constant ΔR²/(2β)."""
    logps, ref, rewards, beta = data
    g_a = _grad(lambda x, *a: -copg_pair_objective(x, *a), logps, ref, rewards, beta)
    g_b = _grad(copg_loss, logps, ref, rewards, beta)
    g_c = _grad(copg_surrogate_loss, logps, ref, rewards, beta)
    torch.testing.assert_close(g_a, g_b)
    torch.testing.assert_close(g_c, g_b)
    d_r = rewards[:, 0] - rewards[:, 1]
    value_a = -copg_pair_objective(logps, ref, rewards, beta)
    torch.testing.assert_close(copg_loss(logps, ref, rewards, beta), value_a + d_r**2 / (2 * beta))


@given(batches(k_min=2, k_max=7))
def test_k_way_surrogate_and_pairwise_mean(data):
    """K-way CoPG = (1/(2β))·mean over unordered pairs of (r_i − r_j)² (value), and the surrogate has its gradient."""
    logps, ref, rewards, beta = data
    k = logps.shape[1]
    pair_values = []
    for i in range(k):
        for j in range(i + 1, k):
            cols = [i, j]
            pair_values.append(copg_loss(logps[:, cols], ref[:, cols], rewards[:, cols], beta))
    torch.testing.assert_close(copg_loss(logps, ref, rewards, beta), torch.stack(pair_values).mean(0))
    torch.testing.assert_close(
        _grad(copg_surrogate_loss, logps, ref, rewards, beta), _grad(copg_loss, logps, ref, rewards, beta)
    )


@given(batches(k_min=2, k_max=6))
def test_property_2_copg_is_rloo(data):
    """Property 2 (paper §4, App. A Eq. 65): for K = 2 the CoPG gradient equals the RLOO gradient on the same
    samples; for general K, ∇copg = (2/K)·∇RLOO (the leave-one-out policy gradient summed over completions)."""
    logps, ref, rewards, beta = data
    k = logps.shape[1]
    g_copg = _grad(copg_loss, logps, ref, rewards, beta)
    g_rloo = _grad(pg_loss, logps, ref, rewards, beta, baseline="loo")
    torch.testing.assert_close(g_copg, (2 / k) * g_rloo)


@given(batches(k_min=2, k_max=2))
def test_property_3_copg_with_quarter_rewards_is_ipo(data):
    """Property 3 (paper Eq. 22): with R = (+¼, −¼) for (preferred, dispreferred), copg_loss = (β/2)·ipo_loss
    exactly, in value and gradient (sequence-summed IPO, τ = β)."""
    logps, ref, _, beta = data
    quarter = torch.tensor([[0.25, -0.25]], dtype=torch.float64).expand_as(logps)
    torch.testing.assert_close(copg_loss(logps, ref, quarter, beta), (beta / 2) * ipo_loss(logps, ref, beta))
    torch.testing.assert_close(
        _grad(copg_loss, logps, ref, quarter, beta), (beta / 2) * _grad(ipo_loss, logps, ref, beta)
    )


@given(batches(k_min=2, k_max=2))
def test_copg_is_symmetric_in_the_pair(data):
    """ℓ_CoPG(y, y′) = ℓ_CoPG(y′, y) (docs/theory.md): CoPG pairs are unranked."""
    logps, ref, rewards, beta = data
    flip = [1, 0]
    torch.testing.assert_close(
        copg_loss(logps, ref, rewards, beta), copg_loss(logps[:, flip], ref[:, flip], rewards[:, flip], beta)
    )


@given(st.integers(1, 6), st.integers(2, 6), st.integers(0, 1000))
def test_preference_pairs_by_reward(b, k, seed):
    """how='reward': column 0 is the highest reward, column 1 the lowest, and they are distinct columns."""
    rewards = torch.randn(b, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    pairs = preference_pairs(rewards)
    chosen = gather_pairs(rewards, pairs)
    torch.testing.assert_close(chosen[:, 0], rewards.max(1).values)
    torch.testing.assert_close(chosen[:, 1], rewards.min(1).values)
    assert (pairs[:, 0] != pairs[:, 1]).all()


def test_preference_pairs_ties_and_gradients():
    rewards = torch.zeros(3, 2)
    pairs = preference_pairs(rewards)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    logps = torch.randn(3, 2, requires_grad=True)
    gather_pairs(logps, pairs).sum().backward()
    torch.testing.assert_close(logps.grad, torch.ones(3, 2))


def test_bradley_terry_frequencies():
    """how='bradley_terry' (paper §5 IPO labels): y_0 preferred with probability σ(R_0 − R_1)."""
    n = 40_000
    rewards = torch.tensor([[1.0, 0.0]]).expand(n, 2).contiguous()
    pairs = preference_pairs(rewards, how="bradley_terry", generator=torch.Generator().manual_seed(0))
    freq = (pairs[:, 0] == 0).double().mean().item()
    p = torch.sigmoid(torch.tensor(1.0)).item()  # 0.731
    assert abs(freq - p) < 4 * (p * (1 - p) / n) ** 0.5
    # K > 2: distinct columns, each column appears
    rewards3 = torch.randn(2000, 4, generator=torch.Generator().manual_seed(1))
    pairs3 = preference_pairs(rewards3, how="bradley_terry", generator=torch.Generator().manual_seed(2))
    assert (pairs3[:, 0] != pairs3[:, 1]).all()
    assert set(pairs3.flatten().tolist()) == {0, 1, 2, 3}
