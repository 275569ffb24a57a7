"""A tabular minibatch is a count table (bandit.dynamics module docstring): the count-based minibatch loss and
gradient equal the per-pair computation of the same minibatch, for every method, in float64 (1e-12)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandit.data import partial_support, sample_pairs
from bandit.dynamics import choose_path, train_sampled
from bandit.methods import METHODS, PairBatch, method_loss
from bandit.policies import log_policy, logits_from_policy
from bandit.problem import BanditProblem

ALL_METHODS = list(METHODS)


@st.composite
def settings_(draw):
    """A random bandit (A 2–5), S 1–3 datasets of n 1–40 pairs (exact or noisy rewards, full or partial support),
    a random start."""
    a = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**20))
    g = torch.Generator().manual_seed(seed)
    problem = BanditProblem(
        4 * torch.rand(a, generator=g, dtype=torch.float64) - 2,
        torch.softmax(torch.randn(a, generator=g, dtype=torch.float64), -1),
        draw(st.floats(0.1, 3.0)),
    )
    mu1, mu2 = (torch.softmax(torch.randn(a, generator=g, dtype=torch.float64), -1) for _ in range(2))
    if draw(st.booleans()):  # arm 0 never in the data (zero-count cells, ln μ = −inf for importance sampling)
        mu1, mu2 = partial_support(mu1, [0]), partial_support(mu2, [0])
    data = sample_pairs(
        problem, mu1, mu2, num_pairs=draw(st.integers(1, 40)), num_seeds=draw(st.integers(1, 3)), seed=seed,
        reward_noise=draw(st.sampled_from([0.0, 1.0])), preference=draw(st.sampled_from(["bradley_terry", "reward"])),
    )  # fmt: skip
    init = torch.softmax(torch.randn(data.num_seeds, a, generator=g, dtype=torch.float64), -1)
    return problem, data, init


def _one_sgd_step(method, problem, data, init, path):
    """(loss value [S], gradient [S, A]) of one full-batch step, read off the trainer (SGD, lr 1: Δθ = −∇)."""
    h = train_sampled(
        method, problem, data, 1, batch_size=data.num_pairs, lr=1.0, optimizer="sgd", init=init, seed=3,
        reward_noise=0.5, path=path,
    )  # fmt: skip
    assert h.path == path
    return h.loss[0], h.logits[0] - h.logits[1]


def _per_pair_reference(method, problem, data, init):
    """The minibatch mean of the per-pair losses (every pair gathered, bandit.losses via method_loss) and its
    autograd gradient. One full batch: the shuffle does not matter for the mean."""
    m = METHODS[method]
    theta = logits_from_policy(init).clone().requires_grad_(True)
    log_pi = log_policy(theta)
    arms = data.pref_arms if m.data == "preferences" else data.arms
    rewards = problem.rewards[arms] if m.data == "preferences" else data.rewards
    log_mu = torch.stack([data.mu1, data.mu2], -1).clamp_min(1e-300).log()
    behaviour = torch.stack([log_mu[..., 0].gather(1, arms[..., 0]), log_mu[..., 1].gather(1, arms[..., 1])], -1)
    batch = PairBatch(
        logps=log_pi.gather(1, arms.reshape(arms.shape[0], -1)).view(arms.shape),
        ref_logps=problem.ref_log_policy[arms],
        rewards=rewards,
        beta=problem.beta,
        pref_beta=problem.beta,
        value=log_pi.detach().exp() @ problem.rewards,
        behaviour_logps=behaviour if m.needs_behaviour else None,
    )
    loss = method_loss(m, batch).mean(1)  # [S]
    (grad,) = torch.autograd.grad(loss.sum(), theta)
    return loss.detach(), grad


@pytest.mark.parametrize("method", ALL_METHODS)
@settings(deadline=None, max_examples=12)
@given(case=settings_())
def test_count_table_equals_per_pair_minibatch(method, case):
    """Σ_cells (n/b)·ℓ(cell, mean rewards) [+ (h/2)·q/b for CoPG's value] = (1/b)·Σ_j ℓ(pair j), value and gradient;
    the trainer's count and pair paths agree (on-policy: the same fresh samples, drawn from one random stream)."""
    problem, data, init = case
    loss_c, grad_c = _one_sgd_step(method, problem, data, init, "count")
    loss_p, grad_p = _one_sgd_step(method, problem, data, init, "pair")
    torch.testing.assert_close(loss_c, loss_p, atol=1e-12, rtol=0)
    torch.testing.assert_close(grad_c, grad_p, atol=1e-12, rtol=0)
    if METHODS[method].data != "onpolicy":
        loss_r, grad_r = _per_pair_reference(method, problem, data, init)
        torch.testing.assert_close(loss_c, loss_r, atol=1e-12, rtol=0)
        torch.testing.assert_close(grad_c, grad_r, atol=1e-12, rtol=0)


def test_auto_path():
    """Count tables when the A² cells fit in a batch, gathered pairs otherwise (A = 100 at B = 512)."""
    assert choose_path(3, 512) == "count" and choose_path(100, 512) == "pair" and choose_path(3, 4) == "pair"
    assert choose_path(100, 512, "count") == "count"
    with pytest.raises(ValueError, match="path must be one of"):
        choose_path(3, 512, "nope")
