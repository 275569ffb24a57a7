"""Autograd gradients of bandit.losses against their closed forms; stop-gradients; validation; stability."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from bandit.losses import (
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
from tests.losses_helpers import batches
from tests.losses_helpers import grad_of as _grad


@given(batches())
def test_copg_gradient_is_leave_one_out(data):
    """∇L_K wrt ln π(y_i) = −(2/K)·(r_i − m_{−i}) (docs/theory.md), r = R_β^π, m_{−i} = leave-one-out mean."""
    logps, ref, rewards, beta = data
    k = logps.shape[1]
    r = rewards - beta * (logps - ref)
    loo = (r.sum(1, keepdim=True) - r) / (k - 1)
    torch.testing.assert_close(_grad(copg_loss, logps, ref, rewards, beta), -(2 / k) * (r - loo))


@given(batches(k_min=2, k_max=2))
def test_copg_pair_gradient_eqs_18_19(data):
    """K = 2: ∇ = −(R_β(y) − R_β(y′))·(∇ln π(y) − ∇ln π(y′)) (paper Eqs. 18–19, as a loss to minimise)."""
    logps, ref, rewards, beta = data
    r = rewards - beta * (logps - ref)
    d = (r[:, 0] - r[:, 1])[:, None]
    torch.testing.assert_close(_grad(copg_loss, logps, ref, rewards, beta), -d * torch.tensor([1.0, -1.0]).double())


@given(batches(), st.integers(2, 5))
def test_tabular_softmax_chain_rule(data, arms):
    """With ln π = log_softmax(θ)[a], ∂ln π(a)/∂θ = e_a − π, so ∇_θ L = Σ_i c_i(e_{a_i} − π), c = ∂L/∂ln π."""
    _, ref, rewards, beta = data
    b, k = rewards.shape
    g = torch.Generator().manual_seed(b * 10 + k)
    theta = torch.randn(arms, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, arms, (b, k), generator=g)
    logps = torch.log_softmax(theta, 0)[idx]
    copg_loss(logps, ref, rewards, beta).sum().backward()
    c = _grad(copg_loss, torch.log_softmax(theta.detach(), 0)[idx], ref, rewards, beta)  # [B, K] ∂L/∂ln π
    with torch.no_grad():
        pi = torch.softmax(theta, 0)
        expected = torch.zeros(arms, dtype=torch.float64)
        expected.index_add_(0, idx.flatten(), c.flatten())
        expected -= c.sum() * pi
    torch.testing.assert_close(theta.grad, expected)


@given(batches(k_min=2, k_max=2))
def test_ipo_dpo_gradients_closed_form(data):
    """IPO: ∂/∂lr0 = 2(Δ − 1/(2β)) = −∂/∂lr1; DPO: ∂/∂lr0 = −β·σ(−βΔ) = −∂/∂lr1."""
    logps, ref, _, beta = data
    lr = logps - ref
    delta = lr[:, 0] - lr[:, 1]
    sign = torch.tensor([1.0, -1.0], dtype=torch.float64)
    ipo_expected = 2 * (delta - 1 / (2 * beta))[:, None] * sign
    dpo_expected = -beta * torch.sigmoid(-beta * delta)[:, None] * sign
    torch.testing.assert_close(_grad(ipo_loss, logps, ref, beta), ipo_expected)
    torch.testing.assert_close(_grad(dpo_loss, logps, ref, beta), dpo_expected)


def test_data_never_receives_gradient():
    """ref_logps, rewards, behaviour log-probs and baselines are data: passing them with requires_grad is an error."""
    x = torch.zeros(3, 2, dtype=torch.float64)
    for name, kwargs in [
        ("ref_logps", dict(ref_logps=x.clone().requires_grad_(True), rewards=x)),
        ("rewards", dict(ref_logps=x, rewards=x.clone().requires_grad_(True))),
    ]:
        with pytest.raises(ValueError, match=name):
            copg_loss(x.clone().requires_grad_(True), beta=1.0, **kwargs)
    with pytest.raises(ValueError, match="behaviour_logps"):
        pg_loss(x, x, x, 1.0, behaviour_logps=x.clone().requires_grad_(True))
    with pytest.raises(ValueError, match="baseline"):
        pg_loss(x, x, x, 1.0, baseline=torch.zeros(3, requires_grad=True))


def test_pg_weight_is_detached():
    """The weight sg(R_β − b) carries no gradient: ∂loss/∂ln π_i is exactly −(r_i − b_i), nothing from r_i itself."""
    logps = torch.tensor([[-1.0, -3.0]], dtype=torch.float64)
    ref = torch.zeros_like(logps)
    rewards = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    g = _grad(pg_loss, logps, ref, rewards, 1.0)
    torch.testing.assert_close(g, -(rewards - (logps - ref)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("beta", [1e-4, 1e-2, 1.0, 1e2, 1e4])
@pytest.mark.parametrize("scale", [1.0, 1e3, 1e6])
def test_stability(dtype, beta, scale):
    """β from 1e-4 to 1e4, rewards up to 1e6, float32 and float64: every loss and gradient is finite."""
    g = torch.Generator().manual_seed(0)
    logps = (-50 * torch.rand(8, 4, generator=g)).to(dtype)
    ref = (-50 * torch.rand(8, 4, generator=g)).to(dtype)
    rewards = (scale * (2 * torch.rand(8, 4, generator=g) - 1)).to(dtype)
    pairs = preference_pairs(rewards)
    calls = [
        lambda x: copg_loss(x, ref, rewards, beta),
        lambda x: copg_surrogate_loss(x, ref, rewards, beta),
        lambda x: pg_loss(x, ref, rewards, beta, baseline="loo"),
        lambda x: pg_loss(x, ref, rewards, beta, behaviour_logps=ref, clip=10.0),
        lambda x: ipo_loss(gather_pairs(x, pairs), gather_pairs(ref, pairs), beta),
        lambda x: dpo_loss(gather_pairs(x, pairs), gather_pairs(ref, pairs), beta),
        lambda x: copg_pair_objective(x[:, :2], ref[:, :2], rewards[:, :2], beta),
    ]
    for fn in calls:
        x = logps.clone().requires_grad_(True)
        out = fn(x)
        out.sum().backward()
        assert out.dtype == dtype and out.shape == (8,)
        assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


def test_dpo_extreme_margins_are_exact():
    """softplus form: −ln σ(βΔ) ≈ βΔ·(−1) for βΔ ≪ 0 and ≈ e^{−βΔ} for βΔ ≫ 0, without overflow."""
    logps = torch.tensor([[0.0, 1000.0], [1000.0, 0.0]], dtype=torch.float32)
    out = dpo_loss(logps, torch.zeros_like(logps), beta=1.0)
    assert out[0].item() == pytest.approx(1000.0)
    assert 0.0 <= out[1].item() < 1e-30


BAD = torch.zeros(4, 2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: copg_loss(BAD, BAD, torch.full((4, 2), math.nan), 1.0), "rewards contains NaN"),
        (lambda: copg_loss(BAD, BAD, BAD, 0.0), "beta"),
        (lambda: copg_loss(BAD, BAD, BAD, -1.0), "beta"),
        (lambda: copg_loss(BAD, BAD, BAD, math.inf), "beta"),
        (lambda: copg_loss(BAD[:, :1], BAD[:, :1], BAD[:, :1], 1.0), "K >= 2"),
        (lambda: copg_loss(BAD, BAD, torch.zeros(4), 1.0), "rewards has shape"),
        (lambda: copg_loss(BAD, BAD, torch.zeros(4, 1), 1.0), "rewards has shape"),
        (lambda: copg_loss(BAD, torch.zeros(2, 2), BAD, 1.0), "ref_logps has shape"),
        (lambda: copg_loss(BAD, BAD.double(), BAD, 1.0), "cast them"),
        (lambda: copg_loss(BAD.long(), BAD, BAD, 1.0), "floating"),
        (lambda: ipo_loss(torch.zeros(4, 3), torch.zeros(4, 3), 1.0), "exactly K=2"),
        (lambda: dpo_loss(torch.zeros(4, 3), torch.zeros(4, 3), 1.0), "exactly K=2"),
        (lambda: ipo_loss(BAD, BAD, 1.0, lengths=torch.zeros(4, 2)), "lengths must be > 0"),
        (lambda: pg_loss(BAD, BAD, BAD, 1.0, baseline="value"), "unknown baseline"),
        (lambda: pg_loss(BAD, BAD, BAD, 1.0, baseline=torch.zeros(4, 1)), "baseline has shape"),
        (lambda: pg_loss(BAD, BAD, BAD, 1.0, clip=2.0), "pass behaviour_logps"),
        (lambda: pg_loss(BAD, BAD, BAD, 1.0, behaviour_logps=BAD, clip=-1.0), "clip"),
        (lambda: regularized_reward(BAD, BAD, BAD, True), "beta"),
        (lambda: preference_pairs(BAD, how="random"), "unknown how"),
        (lambda: gather_pairs(BAD, torch.zeros(4, 2)), "long tensor"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
