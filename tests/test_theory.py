"""The paper's theory on random tabular bandits (hypothesis): Theorem 1, Property 1, the bias of naive off-policy PG,
and the O(A) closed-form expected gradients of every method against the O(A²) enumeration of ``bandit.losses``.

Random problems: A in 2..8 arms, rewards in [−5, 5], π_ref and μ1, μ2 with full support (entries ≥ 0.02 before
normalising), β in [0.1, 5]; float64 throughout.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bandit.dynamics import contrast, expected_gradient
from bandit.methods import METHODS, enumerated_expected_loss
from bandit.policies import logits_from_policy, policy
from bandit.problem import BanditProblem
from bandit.stationary import stationary_point

SETTINGS = settings(deadline=None, max_examples=25)
#: Every method, explicitly: each gets its own test case (a sampled_from strategy under the derandomised profile can
#: skip some methods entirely).
ALL_METHODS = list(METHODS)


def _simplex(draw, a: int, low: float = 0.02) -> torch.Tensor:
    w = torch.tensor(draw(st.lists(st.floats(low, 1.0), min_size=a, max_size=a)), dtype=torch.float64)
    return w / w.sum()


@st.composite
def problems(draw, min_arms: int = 2, max_arms: int = 8):
    """(problem, μ1, μ2, logits): a random bandit, two full-support behaviour policies and random logits [1, A]."""
    a = draw(st.integers(min_arms, max_arms))
    rewards = torch.tensor(draw(st.lists(st.floats(-5, 5), min_size=a, max_size=a)), dtype=torch.float64)
    beta = draw(st.floats(0.1, 5.0))
    problem = BanditProblem(rewards, _simplex(draw, a), beta)
    logits = torch.tensor(draw(st.lists(st.floats(-3, 3), min_size=a, max_size=a)), dtype=torch.float64)
    return problem, _simplex(draw, a), _simplex(draw, a), logits[None]


def _enum_grad(method, problem, logits, mu1, mu2, **kw) -> torch.Tensor:
    th = logits.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(enumerated_expected_loss(method, problem, th, mu1, mu2, **kw).sum(), th)
    return g


@SETTINGS
@given(problems())
def test_theorem1_expected_copg_gradient_vanishes_at_optimum(args):
    """Theorem 1 (paper App. A): E_{μ1⊗μ2}[∇ℓ_CoPG] = 0 at π* for full-support μ1, μ2 (enumerated bandit.losses)."""
    problem, mu1, mu2, _ = args
    g = _enum_grad("copg", problem, problem.optimal_logits[None], mu1, mu2)
    scale = 1 + problem.rewards.abs().max().item()
    assert g.abs().max().item() < 1e-10 * scale


@SETTINGS
@given(problems())
def test_theorem1_stationary_point_is_optimum(args):
    """Theorem 1: the stationary point of the expected CoPG objective is π* (to 1e-9), for any full-support μ1, μ2."""
    problem, mu1, mu2, _ = args
    sp = stationary_point("copg", problem, mu1, mu2)
    assert (sp.policy - problem.optimal_policy).abs().max().item() < 1e-9
    assert abs(sp.regret) < 1e-9
    assert _enum_grad("copg", problem, sp.logits[None], mu1, mu2).abs().max().item() < 1e-9


@SETTINGS
@given(problems(), st.data())
def test_theorem1_uniqueness_convex_quadratic(args, data):
    """Theorem 1 uniqueness (docs/theory.md): the expected CoPG loss is a convex quadratic in the logits whose Hessian
    β·Σ μ1(a)μ2(a')(e_a − e_a')(e_a − e_a')ᵀ is the same everywhere, PSD, with null space exactly span(1)."""
    problem, mu1, mu2, logits = args
    a = problem.num_arms

    def loss(th: torch.Tensor) -> torch.Tensor:
        return enumerated_expected_loss("copg", problem, th[None], mu1, mu2).sum()

    other = torch.tensor(data.draw(st.lists(st.floats(-3, 3), min_size=a, max_size=a)), dtype=torch.float64)
    h1 = torch.autograd.functional.hessian(loss, logits[0])
    h2 = torch.autograd.functional.hessian(loss, other)
    assert torch.allclose(h1, h2, atol=1e-9 * (1 + h1.abs().max().item()))  # quadratic: constant Hessian
    diff = torch.eye(a, dtype=torch.float64)[:, None] - torch.eye(a, dtype=torch.float64)[None]  # e_a − e_a'
    w = mu1[:, None] * mu2[None, :]
    closed = problem.beta * torch.einsum("ij,ijk,ijl->kl", w, diff, diff)
    assert torch.allclose(h1, closed, atol=1e-10 * (1 + closed.abs().max().item()))
    evals, evecs = torch.linalg.eigh(h1)
    assert abs(evals[0].item()) < 1e-10 * evals[-1].item()  # one zero eigenvalue …
    assert evals[1].item() > 1e-8 * evals[-1].item()  # … and only one: the minimiser is unique up to θ + c·1
    ones = torch.ones(a, dtype=torch.float64) / a**0.5
    assert abs(abs(evecs[:, 0] @ ones).item() - 1) < 1e-8  # its direction is the constant shift


@SETTINGS
@given(problems())
def test_property1_onpolicy_copg_is_twice_policy_gradient(args):
    """Property 1 (paper Eq. 20): E_{y,y'~π}[∇ℓ_CoPG] = 2∇J(π), by exact enumeration of copg_loss over arm pairs."""
    problem, _, _, logits = args
    pi = policy(logits).detach()
    g_loss = _enum_grad("copg", problem, logits, pi[0], pi[0])  # gradient of the loss to minimise = −∇ℓ
    th = logits.clone().requires_grad_(True)
    (grad_j,) = torch.autograd.grad(problem.value(policy(th)).sum(), th)
    assert torch.allclose(-g_loss, 2 * grad_j, atol=1e-10 * (1 + grad_j.abs().max().item()))


@SETTINGS
@given(problems())
def test_naive_pg_is_not_stationary_at_optimum(args):
    """Naive off-policy PG (b = 0, paper Eqs. 23–24) is biased: at π* its expected gradient is
    −c·(μ1 + μ2 − 2π*) with c = β·ln Z* = R_β^{π*}(a) for every a, nonzero whenever μ1 + μ2 ≠ 2π* and c ≠ 0."""
    problem, mu1, mu2, _ = args
    c = problem.optimal_value
    off = (mu1 + mu2 - 2 * problem.optimal_policy).abs().max().item()
    assume(abs(c) > 0.05 and off > 0.02)
    g = _enum_grad("pg", problem, problem.optimal_logits[None], mu1, mu2)[0]
    assert torch.allclose(g, -c * (mu1 + mu2 - 2 * problem.optimal_policy), atol=1e-10 * (1 + abs(c)))
    assert g.abs().max().item() > 0.5 * abs(c) * off
    # while CoPG is stationary there (Theorem 1)
    assert _enum_grad("copg", problem, problem.optimal_logits[None], mu1, mu2).abs().max().item() < 1e-9 * (1 + abs(c))


@pytest.mark.parametrize("method", ALL_METHODS)
@settings(deadline=None, max_examples=10)
@given(args=problems(max_arms=6), preference=st.sampled_from(["bradley_terry", "reward"]))
def test_closed_form_expected_gradient_equals_enumeration(method, args, preference):
    """The O(A) expected gradients of bandit.dynamics equal autograd of the O(A²) enumeration of bandit.losses."""
    problem, mu1, mu2, logits = args
    kw = {"pref_beta": 0.7, "preference": preference}
    g_enum = _enum_grad(method, problem, logits, mu1, mu2, **kw)
    g_fast = expected_gradient(method, problem, logits, mu1, mu2, **kw)
    scale = 1 + g_enum.abs().max().item()
    assert torch.allclose(g_fast, g_enum, atol=1e-10 * scale, rtol=0)


@pytest.mark.parametrize("method", ALL_METHODS)
@settings(deadline=None, max_examples=10)
@given(args=problems(min_arms=3, max_arms=6), data=st.data())
def test_closed_form_equals_enumeration_partial_support(method, args, data):
    """Same as above when μ1, μ2 miss arms (zero-weight rows in the enumeration), incl. importance-sampled PG."""
    problem, mu1, mu2, logits = args
    a = problem.num_arms
    drop = data.draw(st.integers(0, a - 1))
    mu1, mu2 = mu1.clone(), mu2.clone()
    mu1[drop] = 0.0
    mu2[drop] = 0.0
    mu1, mu2 = mu1 / mu1.sum(), mu2 / mu2.sum()
    g_enum = _enum_grad(method, problem, logits, mu1, mu2)
    g_fast = expected_gradient(method, problem, logits, mu1, mu2)
    assert torch.allclose(g_fast, g_enum, atol=1e-10 * (1 + g_enum.abs().max().item()), rtol=0)
    if METHODS[method].frozen_off_support:
        assert g_fast[0, drop].item() == 0.0 or abs(g_fast[0, drop].item()) < 1e-15  # an unsampled arm never moves


@SETTINGS
@given(problems(max_arms=5))
def test_contrast_is_the_two_distribution_expectation(args):
    """C(v) = E_{y~μ1,y'~μ2}[(v_y − v_y')(e_y − e_y')] (docs/theory.md), checked by a double sum."""
    problem, mu1, mu2, logits = args
    v = logits[0]
    a = v.numel()
    eye = torch.eye(a, dtype=torch.float64)
    brute = sum(mu1[i] * mu2[j] * (v[i] - v[j]) * (eye[i] - eye[j]) for i in range(a) for j in range(a))
    assert torch.allclose(contrast(mu1, mu2, v), brute, atol=1e-12)


@SETTINGS
@given(problems())
def test_regret_is_beta_kl_to_optimum(args):
    """J(π*) − J(π) = β·KL(π‖π*) (docs/theory.md), and J(π*) = β·ln Z*."""
    problem, _, _, logits = args
    pi = policy(logits)
    direct = problem.optimal_value - problem.value(pi)
    assert torch.allclose(direct, problem.regret(pi), atol=1e-9 * (1 + abs(problem.optimal_value)))
    assert abs(problem.value(problem.optimal_policy).item() - problem.optimal_value) < 1e-9 * (
        1 + abs(problem.optimal_value)
    )
    assert torch.allclose(policy(logits_from_policy(pi)), pi, atol=1e-12)


@pytest.mark.parametrize("method", ALL_METHODS)
@settings(deadline=None, max_examples=6)
@given(args=problems(max_arms=5))
def test_stationary_points_zero_the_enumerated_gradient(method, args):
    """Every method's stationary point zeroes the expected gradient computed from bandit.losses (ties the root finder
    to the one loss implementation); unbiased methods (copg, dpo with τ = β, pg_mean, pg_is, onpolicy) land on π*."""
    problem, mu1, mu2, _ = args
    sp = stationary_point(method, problem, mu1, mu2)
    pi = problem.optimal_policy
    kw = {}
    mu1_, mu2_ = (sp.policy, sp.policy) if method == "onpolicy" else (mu1, mu2)
    g = _enum_grad(method, problem, sp.logits[None], mu1_, mu2_, **kw)
    assert g.abs().max().item() < 1e-8 * (1 + problem.rewards.abs().max().item() / problem.beta)
    if method in ("copg", "dpo", "pg_mean", "pg_is", "onpolicy"):
        assert (sp.policy - pi).abs().max().item() < 1e-7
