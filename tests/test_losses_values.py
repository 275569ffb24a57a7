"""bandit.losses against hand-computed numbers (derivations in the comments)."""

from __future__ import annotations

import math

import pytest
import torch

from bandit.losses import copg_loss, copg_pair_objective, dpo_loss, ipo_loss, pg_loss, regularized_reward

# One pair used throughout: ln π = (−1, −2), ln π_ref = (−1.5, −1.5) ⇒ log-ratios lr = (0.5, −0.5), Δlr = 1.
LOGPS = torch.tensor([[-1.0, -2.0]], dtype=torch.float64)
REF = torch.tensor([[-1.5, -1.5]], dtype=torch.float64)
REWARDS = torch.tensor([[1.0, 0.0]], dtype=torch.float64)


def test_regularized_reward_value():
    # R_β = R − β·lr = (1 − 0.5·0.5, 0 + 0.5·0.5) = (0.75, 0.25)
    out = regularized_reward(LOGPS, REF, REWARDS, beta=0.5)
    torch.testing.assert_close(out, torch.tensor([[0.75, 0.25]], dtype=torch.float64))


def test_copg_pair_value():
    # r = (0.75, 0.25); (1/(2β))·(r0 − r1)² = (1/1)·0.25 = 0.25
    assert copg_loss(LOGPS, REF, REWARDS, beta=0.5).item() == pytest.approx(0.25, abs=1e-15)


def test_copg_k3_value():
    # ln π = ln π_ref ⇒ r = R = (1, 2, 3); pair squares (1, 4, 1), mean 2; /(2β) with β = 1 ⇒ 1.0 = Var_unbiased(1,2,3)
    r = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    z = torch.zeros_like(r)
    assert copg_loss(z, z, r, beta=1.0).item() == pytest.approx(1.0, abs=1e-15)


def test_copg_pair_objective_value():
    # ℓ = (ΔR − (β/2)Δlr)·Δlr = (1 − 0.25)·1 = 0.75, and −ℓ + ΔR²/(2β) = −0.75 + 1 = 0.25 = copg_loss
    ell = copg_pair_objective(LOGPS, REF, REWARDS, beta=0.5).item()
    assert ell == pytest.approx(0.75, abs=1e-15)
    assert -ell + 1.0**2 / (2 * 0.5) == pytest.approx(copg_loss(LOGPS, REF, REWARDS, beta=0.5).item(), abs=1e-15)


def test_ipo_values_sum_and_per_token():
    # Δ = lr0 − lr1 = 1; β = 0.25 ⇒ target 1/(2β) = 2 ⇒ (1 − 2)² = 1
    assert ipo_loss(LOGPS, REF, beta=0.25).item() == pytest.approx(1.0, abs=1e-15)
    # TRL variant, lengths (2, 4): lr/len = (0.25, −0.125) ⇒ Δ = 0.375 ⇒ (0.375 − 2)² = 2.640625
    lengths = torch.tensor([[2.0, 4.0]], dtype=torch.float64)
    assert ipo_loss(LOGPS, REF, beta=0.25, lengths=lengths).item() == pytest.approx(2.640625, abs=1e-15)


def test_dpo_value():
    # −ln σ(βΔ) = ln(1 + e^{−βΔ}) with βΔ = 0.5
    assert dpo_loss(LOGPS, REF, beta=0.5).item() == pytest.approx(math.log1p(math.exp(-0.5)), abs=1e-15)


@pytest.mark.parametrize(
    ("baseline", "advantage"),
    [
        ("none", (0.75, 0.25)),  # b = 0: advantage = r = (0.75, 0.25)
        ("mean", (0.25, -0.25)),  # b = mean(r) = 0.5
        ("loo", (0.5, -0.5)),  # b_i = the other r: (0.25, 0.75)
    ],
)
def test_pg_gradient_weights(baseline, advantage):
    # loss = −Σ_i sg(r_i − b_i)·ln π_i ⇒ ∂loss/∂ln π_i = −(r_i − b_i)
    logps = LOGPS.clone().requires_grad_(True)
    pg_loss(logps, REF, REWARDS, beta=0.5, baseline=baseline).sum().backward()
    torch.testing.assert_close(logps.grad, -torch.tensor([advantage], dtype=torch.float64))


def test_pg_value_none():
    # −(0.75·(−1) + 0.25·(−2)) = 1.25
    assert pg_loss(LOGPS, REF, REWARDS, beta=0.5).item() == pytest.approx(1.25, abs=1e-15)


def test_pg_importance_weights_and_clip():
    # ln μ = (−1, −1) ⇒ π/μ = (e^0, e^{−1}) ⇒ weights (0.75·1, 0.25·e^{−1}).
    # clip = 0.2 caps both ratios (1 and e^{−1} ≈ 0.368 exceed 0.2) ⇒ weights (0.75·0.2, 0.25·0.2).
    behaviour = torch.tensor([[-1.0, -1.0]], dtype=torch.float64)
    logps = LOGPS.clone().requires_grad_(True)
    pg_loss(logps, REF, REWARDS, beta=0.5, behaviour_logps=behaviour).sum().backward()
    torch.testing.assert_close(logps.grad, -torch.tensor([[0.75, 0.25 * math.exp(-1)]], dtype=torch.float64))
    logps.grad = None
    pg_loss(logps, REF, REWARDS, beta=0.5, behaviour_logps=behaviour, clip=0.2).sum().backward()
    torch.testing.assert_close(logps.grad, -torch.tensor([[0.75 * 0.2, 0.25 * 0.2]], dtype=torch.float64))


def test_pg_tensor_baseline_per_prompt():
    # b = 0.75 for the prompt ⇒ advantages (0, −0.5)
    logps = LOGPS.clone().requires_grad_(True)
    pg_loss(logps, REF, REWARDS, beta=0.5, baseline=torch.tensor([0.75], dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(logps.grad, -torch.tensor([[0.0, -0.5]], dtype=torch.float64))
