"""Methods are table rows: an unknown name is a ValueError naming the valid ones, and a new method registered as one
:class:`bandit.methods.Method` row trains, flows and has a stationary point with no other change to the lab."""

from __future__ import annotations

import pytest
import torch

from bandit.data import sample_pairs
from bandit.dynamics import exact_flow, expected_gradient, train_sampled
from bandit.losses import pg_loss
from bandit.methods import METHODS, ExpectedSetting, Method, PairBatch, enumerated_expected_loss, register_method
from bandit.policies import policy
from bandit.presets import PAPER, paper_problem
from bandit.stationary import stationary_point

MU1 = torch.tensor(PAPER["mu1"], dtype=torch.float64)
MU2 = torch.tensor(PAPER["mu2"], dtype=torch.float64)
J_STAR = paper_problem().optimal_value  # β·ln Z*: the one constant baseline that keeps π* stationary off-policy


def _const_baseline_loss(b: PairBatch) -> torch.Tensor:
    """Naive off-policy PG with the constant baseline J(π*) (a call into bandit.losses, like every row)."""
    logps = b.rows(b.logps)
    baseline = torch.full(logps.shape[:1], J_STAR, dtype=torch.float64)
    return pg_loss(logps, b.rows(b.ref_logps), b.rows(b.rewards), b.beta, baseline=baseline)


def _const_baseline_expected(s: ExpectedSetting):
    """E[∇] = −Σ_i [μ_i⊙(a − c) − (μ_i·(a − c))·π], a = R_β^π, c = J(π*)."""

    def grad(th: torch.Tensor) -> torch.Tensor:
        pi, adv = policy(th), s.reg_reward(th) - J_STAR
        inner = (s.mu1 * adv).sum(-1, keepdim=True) + (s.mu2 * adv).sum(-1, keepdim=True)
        return -((s.mu1 + s.mu2) * adv - inner * pi)

    return grad


TOY = Method(
    "pg_jstar",
    "pairs",
    "naive off-policy PG with the constant baseline J(π*): π* is stationary (notebook 03)",
    _const_baseline_loss,
    _const_baseline_expected,
)


@pytest.fixture
def toy():
    register_method(TOY)
    yield TOY.name
    del METHODS[TOY.name]


def test_unknown_method_names_the_valid_ones():
    problem = paper_problem()
    for call in (
        lambda: expected_gradient("nope", problem, problem.ref_log_policy, MU1, MU2),
        lambda: stationary_point("nope", problem, MU1, MU2),
        lambda: train_sampled("nope", problem, sample_pairs(problem, MU1, MU2, num_pairs=10), epochs=1),
    ):
        with pytest.raises(ValueError, match="unknown method 'nope'; choose from copg, ipo, dpo"):
            call()
    with pytest.raises(ValueError, match="already registered"):
        register_method(METHODS["copg"])


def test_toy_method_is_one_row(toy):
    """One row is enough: its closed form matches the enumeration of its loss, its stationary point is π*, the exact
    flow reaches it, and sampled minibatch Adam gets close to it."""
    problem = paper_problem()
    theta = torch.tensor([[0.3, -0.2, 0.5]], dtype=torch.float64, requires_grad=True)
    (g_enum,) = torch.autograd.grad(enumerated_expected_loss(toy, problem, theta, MU1, MU2).sum(), theta)
    torch.testing.assert_close(expected_gradient(toy, problem, theta.detach(), MU1, MU2), g_enum, atol=1e-12, rtol=0)

    sp = stationary_point(toy, problem, MU1, MU2)
    assert not sp.closed_form and sp.regret < 1e-9  # root finding, no name check anywhere: π*

    flow = exact_flow(toy, problem, MU1, MU2, steps=3000, lr=0.05, optimizer="adam")
    assert problem.regret(policy(flow[-1])).item() < 1e-6

    data = sample_pairs(problem, MU1, MU2, num_pairs=2048, num_seeds=3, seed=0)
    hist = train_sampled(toy, problem, data, epochs=40, batch_size=512, lr=0.05)
    assert (hist.regret[-1] < 0.02).all() and (hist.regret[0] > 0.29).all()


def test_exact_adam_flow_is_torch_adam_bit_for_bit():
    """exact_flow's written-out Adam update is torch.optim.Adam's (default betas/eps and others), to the last bit."""
    from bandit.dynamics import make_expected_gradient

    problem = paper_problem()
    for betas, eps in (((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3)):
        grad = make_expected_gradient("pg", problem, MU1, MU2)
        theta = problem.ref_log_policy.clone()
        opt = torch.optim.Adam([theta], lr=0.05, betas=betas, eps=eps)
        for _ in range(300):
            theta.grad = grad(theta)
            opt.step()
        flow = exact_flow(
            "pg", problem, MU1, MU2, steps=300, lr=0.05, optimizer="adam", adam_betas=betas, adam_eps=eps
        )
        assert torch.equal(flow[-1], theta.detach())


def _sparse_problem(gen, a, p1, p2):
    """A random A-arm problem (β = 0.1) and behaviour policies μ1, μ2 on random supports of about p1·A, p2·A arms."""
    from bandit.problem import BanditProblem

    ref = torch.softmax(torch.randn(a, generator=gen, dtype=torch.float64), -1)
    problem = BanditProblem(torch.rand(a, generator=gen, dtype=torch.float64), ref, 0.1)
    mu1 = torch.rand(a, generator=gen, dtype=torch.float64) * (torch.rand(a, generator=gen) < p1)
    mu2 = torch.rand(a, generator=gen, dtype=torch.float64) * (torch.rand(a, generator=gen) < p2)
    return problem, mu1 / mu1.sum(), mu2 / mu2.sum()


def test_dpo_block_gradient_equals_the_full_one():
    """With one (μ1, μ2) the DPO expected gradient computes only the μ1(y)μ2(y') > 0 block; it equals the full
    [A, A] computation (the batched path) with the same terms summed the same way. torch's vectorised sigmoid may
    round the scalar tail of a tensor differently (last bit), so: equal to 1e-18 here; on the LLM bridge's
    prompts the tabular roots came out bit-identical (docs/bridge.md)."""
    from bandit.dynamics import make_expected_gradient

    gen, a = torch.Generator().manual_seed(0), 40
    problem, mu1, mu2 = _sparse_problem(gen, a, 0.6, 0.2)
    for pref in ("reward", "bradley_terry"):
        block = make_expected_gradient("dpo", problem, mu1, mu2, pref_beta=0.1, preference=pref)
        full = make_expected_gradient("dpo", problem, mu1[None], mu2[None], pref_beta=0.1, preference=pref)
        for _ in range(10):
            theta = problem.ref_log_policy + 3 * torch.randn(a, generator=gen, dtype=torch.float64)
            assert (block(theta) - full(theta[None])[0]).abs().max() < 1e-18
            batch = theta[None] + torch.randn(3, a, generator=gen, dtype=torch.float64)
            assert (block(batch) - full(batch)).abs().max() < 1e-18
            assert all((block(batch)[i] - block(batch[i])).abs().max() < 1e-18 for i in range(3))  # rows, one by one


@pytest.mark.parametrize("method", ["pg", "pg_is", "dpo", "ipo"])
def test_batched_jacobian_root_finding_is_plain_hybrd(method, monkeypatch):
    """stationary_point's hybr with hybrd's finite-difference Jacobian computed in batches lands on the same
    logits as plain hybrd (sparse μ: Newton from both starts, the Adam flow, boundary roots)."""
    import bandit.stationary as st

    gen, a = torch.Generator().manual_seed(1), 30
    problem, mu1, mu2 = _sparse_problem(gen, a, 0.7, 0.3)
    out = {}
    for batched in (True, False):
        monkeypatch.setattr(st, "_BATCHED_JACOBIAN", batched)
        try:
            sp = stationary_point(method, problem, mu1, mu2, pref_beta=0.1, preference="reward", tol=1e-7)
            out[batched] = sp.logits
        except ValueError as e:
            out[batched] = str(e)
    if isinstance(out[False], str):
        assert out[True] == out[False]
    else:
        assert torch.equal(out[True], out[False])
