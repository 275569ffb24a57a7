"""The CoPG family under other names (bandit.losses, bandit.family): each framework's formula as its public code
writes it, its constant relative to copg_loss, its closed-form expected gradient against the enumeration of
bandit.losses, and its exact fixed point (random bandits, hypothesis; float64).

Formulas as written in the public code (checked there, docs/theory.md "One loss under many names"):
compose-rl ``rebel``: (β·h − ΔR)²; NeMo-Aligner ``rpo_sq``: (β·h − η·ΔR)²; QRPO repository ``rebel``: (ΔR/β − h)²;
Command A (summaries of the report): 1/(k−1)·Σ_{i>j}(R_β(y_i) − R_β(y_j))²; QRPO: (q − β·ln β − 1 − β·lr)²;
A*-PO: (β₂·lr − (R − β₁·ln mean exp(R_ref/β₁)))².
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandit.data import offpolicy_family
from bandit.dynamics import make_expected_gradient, train_sampled
from bandit.family import (
    apo_method,
    expected_apo_value,
    expected_quantiles,
    ipo_mean_method,
    qrpo_method,
    rpo_sq_method,
)
from bandit.losses import (
    apo_loss,
    apo_value,
    command_a_loss,
    copg_loss,
    qrpo_loss,
    qrpo_rebel_loss,
    rebel_loss,
    reference_quantiles,
    rpo_sq_loss,
)
from bandit.methods import FAMILY, enumerated_expected_loss, get_method
from bandit.presets import paper_problem
from bandit.problem import BanditProblem
from bandit.stationary import stationary_point
from tests.losses_helpers import batches, grad_of

SETTINGS = settings(deadline=None, max_examples=20)


def _simplex(draw, a: int, low: float = 0.02) -> torch.Tensor:
    w = torch.tensor(draw(st.lists(st.floats(low, 1.0), min_size=a, max_size=a)), dtype=torch.float64)
    return w / w.sum()


@st.composite
def problems(draw, min_arms: int = 2, max_arms: int = 5):
    """(problem, μ1, μ2, logits [1, A]): a random bandit with full-support behaviour policies."""
    a = draw(st.integers(min_arms, max_arms))
    rewards = torch.tensor(draw(st.lists(st.floats(-3, 3), min_size=a, max_size=a)), dtype=torch.float64)
    problem = BanditProblem(rewards, _simplex(draw, a), draw(st.floats(0.2, 3.0)))
    logits = torch.tensor(draw(st.lists(st.floats(-2, 2), min_size=a, max_size=a)), dtype=torch.float64)
    return problem, _simplex(draw, a), _simplex(draw, a), logits[None]


def _pairs(logps, ref, rewards):
    h = (logps[:, 0] - ref[:, 0]) - (logps[:, 1] - ref[:, 1])
    return h, rewards[:, 0] - rewards[:, 1]


# ---------------------------------------------------------------------------------------------------------------
# 1. Rescalings: the frameworks' formulas, and their constant relative to copg_loss (values and gradients)
# ---------------------------------------------------------------------------------------------------------------


@SETTINGS
@given(batches(k_min=2, k_max=2), st.floats(0.2, 5.0))
def test_pair_rescalings_match_the_public_formulas_and_copg_times_constant(batch, eta):
    """compose-rl rebel = 2β·CoPG, QRPO-repo rebel = (2/β)·CoPG, NeMo rpo_sq = 2β·CoPG(ηR) = 2βη·CoPG(R, β/η)."""
    logps, ref, rewards, beta = batch
    h, d_r = _pairs(logps, ref, rewards)
    cases = [
        (rebel_loss, (beta * h - d_r) ** 2, 2 * beta, {}),
        (qrpo_rebel_loss, (d_r / beta - h) ** 2, 2 / beta, {}),
    ]
    for fn, literal, c, kw in cases:
        torch.testing.assert_close(fn(logps, ref, rewards, beta, **kw), literal)
        torch.testing.assert_close(fn(logps, ref, rewards, beta), c * copg_loss(logps, ref, rewards, beta))
        torch.testing.assert_close(
            grad_of(fn, logps, ref, rewards, beta), c * grad_of(copg_loss, logps, ref, rewards, beta)
        )
    rpo = rpo_sq_loss(logps, ref, rewards, beta, reward_scale=eta)
    torch.testing.assert_close(rpo, (beta * h - eta * d_r) ** 2)
    torch.testing.assert_close(rpo, 2 * beta * eta * copg_loss(logps, ref, rewards, beta / eta))
    torch.testing.assert_close(
        grad_of(rpo_sq_loss, logps, ref, rewards, beta, reward_scale=eta),
        2 * beta * eta * grad_of(copg_loss, logps, ref, rewards, beta / eta),
    )


@SETTINGS
@given(batches(k_min=2, k_max=6))
def test_command_a_k_sample_form_is_beta_k_times_copg(batch):
    """Command A: 1/(k−1)·Σ_{i>j}(R_β(y_i) − R_β(y_j))² = β·k·copg_loss, values and gradients, every k."""
    logps, ref, rewards, beta = batch
    k = logps.shape[1]
    r = rewards - beta * (logps - ref)
    literal = sum((r[:, i] - r[:, j]) ** 2 for i in range(k) for j in range(i)) / (k - 1)
    torch.testing.assert_close(command_a_loss(logps, ref, rewards, beta), literal)
    torch.testing.assert_close(
        grad_of(command_a_loss, logps, ref, rewards, beta), beta * k * grad_of(copg_loss, logps, ref, rewards, beta)
    )


@SETTINGS
@given(batches(k_min=1, k_max=4), st.integers(1, 6), st.floats(0.2, 3.0))
def test_pointwise_losses_match_the_public_formulas(batch, n, value_beta):
    """QRPO: (q − β·ln β − 1 − β·lr)² with q = mean(ref ≤ R); A*-PO: (β₂·lr − (R − β₁·ln mean exp(R_ref/β₁)))²."""
    logps, ref, rewards, beta = batch
    g = torch.Generator().manual_seed(n)
    ref_rewards = torch.round(4 * torch.rand(logps.shape[0], n, generator=g, dtype=torch.float64) - 2, decimals=1)
    lr = logps - ref
    q = torch.stack([(ref_rewards <= rewards[:, i : i + 1]).double().mean(1) for i in range(logps.shape[1])], 1)
    torch.testing.assert_close(reference_quantiles(rewards, ref_rewards), q)
    literal_q = ((q - beta * math.log(beta) - 1 - beta * lr) ** 2).mean(1)
    torch.testing.assert_close(qrpo_loss(logps, ref, rewards, ref_rewards, beta), literal_q)
    v = value_beta * torch.log(torch.exp(ref_rewards / value_beta).mean(1))
    torch.testing.assert_close(apo_value(ref_rewards, value_beta), v)
    literal_a = ((beta * lr - (rewards - v[:, None])) ** 2).mean(1)
    torch.testing.assert_close(apo_loss(logps, ref, rewards, ref_rewards, beta, value_beta=value_beta), literal_a)


def test_family_losses_reject_bad_inputs_with_clear_errors():
    logps = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"rebel_loss: takes pairs \(K=2\), got K=3"):
        rebel_loss(logps, logps, logps, 0.5)
    with pytest.raises(ValueError, match=r"rpo_sq_loss \(reward_scale η\): beta must be a finite float > 0"):
        rpo_sq_loss(logps[:, :2], logps[:, :2], logps[:, :2], 0.5, reward_scale=0.0)
    with pytest.raises(ValueError, match=r"apo_loss: ref_rewards must be finite \[B=2, N>=1\]"):
        apo_loss(logps, logps, logps, torch.zeros(3, 4, dtype=torch.float64), 0.5)
    with pytest.raises(ValueError, match=r"reference_quantiles: ref_rewards must be finite"):
        qrpo_loss(logps, logps, logps, torch.full((2, 4), float("nan"), dtype=torch.float64), 0.5)


# ---------------------------------------------------------------------------------------------------------------
# 2. The rows: closed-form expected gradients against autograd of the enumerated bandit.losses
# ---------------------------------------------------------------------------------------------------------------


def _rows(problem: BanditProblem, lengths: torch.Tensor, eta: float):
    return [
        get_method("rebel"),
        get_method("qrpo_rebel"),
        get_method("command_a"),
        rpo_sq_method(eta, name="rpo_sq_eta"),
        ipo_mean_method(lengths),
        qrpo_method(problem),
        apo_method(problem, 2),
        apo_method(problem, None),
        apo_method(problem, 1, onpolicy=True),
    ]


@SETTINGS
@given(problems(), st.floats(0.3, 3.0), st.integers(0, 2**31 - 1))
def test_family_expected_gradients_equal_the_enumerated_losses(args, eta, seed):
    """Every row's O(A) closed form = ∇ of E_{μ1⊗μ2}[loss] enumerated through bandit.losses (both label orders for
    IPO, π for the on-policy row)."""
    problem, mu1, mu2, logits = args
    lengths = 1 + 9 * torch.rand(problem.num_arms, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    for row in _rows(problem, lengths, eta):
        th = logits.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(enumerated_expected_loss(row, problem, th, mu1, mu2).sum(), th)
        closed = make_expected_gradient(row, problem, mu1, mu2)(logits)
        torch.testing.assert_close(closed, g, atol=1e-9, rtol=1e-9, msg=row.name)


@SETTINGS
@given(problems(), st.floats(0.3, 3.0))
def test_rescaled_rows_expected_gradient_is_constant_times_copg(args, eta):
    """The rows that are CoPG under another name: E[∇] = c·E[∇copg] with c = 2β, 2/β, 2β (k = 2), and rpo_sq's
    2β·CoPG on rewards ηR."""
    problem, mu1, mu2, logits = args
    beta = problem.beta
    copg = make_expected_gradient("copg", problem, mu1, mu2)(logits)
    for name, c in (("rebel", 2 * beta), ("qrpo_rebel", 2 / beta), ("command_a", 2 * beta)):
        torch.testing.assert_close(make_expected_gradient(name, problem, mu1, mu2)(logits), c * copg)
    scaled = BanditProblem(eta * problem.rewards, problem.ref_policy, beta)
    torch.testing.assert_close(
        make_expected_gradient(rpo_sq_method(eta), problem, mu1, mu2)(logits),
        2 * beta * make_expected_gradient("copg", scaled, mu1, mu2)(logits),
    )


def test_family_rows_are_found_by_name_and_kept_out_of_the_paper_comparisons():
    """get_method finds the family rows; METHODS (looped over by the paper's sweeps) does not contain them."""
    from bandit.methods import METHODS

    for name in ("rebel", "qrpo_rebel", "command_a", "rpo_sq"):
        assert get_method(name) is FAMILY[name] and name not in METHODS
    import bandit

    assert bandit.FAMILY is FAMILY and set(FAMILY) == {"rebel", "qrpo_rebel", "command_a", "rpo_sq"}
    with pytest.raises(ValueError, match="unknown method 'nope'; choose from copg, .*rebel"):
        get_method("nope")


# ---------------------------------------------------------------------------------------------------------------
# 3. Exact fixed points
# ---------------------------------------------------------------------------------------------------------------


@SETTINGS
@given(problems(), st.floats(0.3, 3.0))
def test_rpo_sq_fixed_point_is_the_optimum_at_kl_beta_over_eta(args, eta):
    """rpo_sq's stationary point is π_ref·exp(η·R/β)/Z: the problem's π* iff η = 1."""
    problem, mu1, mu2, _ = args
    sp = stationary_point(rpo_sq_method(eta), problem, mu1, mu2)
    target = torch.softmax(problem.ref_log_policy + eta * problem.rewards / problem.beta, -1)
    torch.testing.assert_close(sp.policy, target, atol=1e-7, rtol=0)
    assert stationary_point(rpo_sq_method(1.0), problem, mu1, mu2).regret <= 1e-9


@SETTINGS
@given(problems(min_arms=3), st.floats(1.0, 8.0))
def test_token_mean_ipo_with_equal_lengths_is_summed_ipo_at_beta_over_length(args, length):
    """TRL's per-token IPO at β on arms of equal length L has summed IPO's fixed point at τ = β/L."""
    problem, mu1, mu2, _ = args
    mean = stationary_point(ipo_mean_method([length] * problem.num_arms), problem, mu1, mu2)
    summed = stationary_point("ipo", problem, mu1, mu2, pref_beta=problem.beta / length)
    torch.testing.assert_close(mean.policy, summed.policy, atol=1e-7, rtol=0)


@SETTINGS
@given(problems(min_arms=3), st.integers(0, 2**31 - 1))
def test_token_mean_ipo_fixed_point_moves_with_the_lengths(args, seed):
    """With lengths L, d = lr/L at the fixed point equals summed IPO's stationary log-ratios up to a constant:
    π ∝ π_ref·exp(L·(v + c)). The fixed point moves with L (unequal lengths)."""
    problem, mu1, mu2, _ = args
    lengths = 1 + 9 * torch.rand(problem.num_arms, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    mean = stationary_point(ipo_mean_method(lengths), problem, mu1, mu2)
    summed = stationary_point("ipo", problem, mu1, mu2)
    gap = (mean.policy.log() - problem.ref_log_policy) / lengths - (summed.policy.log() - problem.ref_log_policy)
    assert (gap - gap.mean()).abs().max().item() < 1e-6


def _ordered_reference_sets(problem: BanditProblem, n: int):
    """Every ordered N-tuple of reference arms with its probability Π π_ref."""
    for arms in itertools.product(range(problem.num_arms), repeat=n):
        yield torch.tensor(arms), math.prod(problem.ref_policy[a].item() for a in arms)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_apo_and_qrpo_rows_are_their_losses_averaged_over_reference_samples(n):
    """E over the N reference samples of ∇apo_loss / ∇qrpo_loss (enumerated: A^N ordered tuples) = the row's
    gradient, which uses E[V̂*_N] (expected_apo_value) and E[q̂] (expected_quantiles); and E[V̂*_N] ≤ V*."""
    problem = BanditProblem(torch.tensor([1.3, -0.4, 0.2]), torch.tensor([0.5, 0.2, 0.3]), 0.7)
    mu1, mu2 = torch.tensor([0.2, 0.5, 0.3]), torch.tensor([0.6, 0.1, 0.3])
    logits = torch.tensor([[0.3, -0.2, 0.5]], dtype=torch.float64)
    pairs = torch.tensor([[a, b] for a in range(3) for b in range(3)])
    w = torch.tensor([mu1[a] * mu2[b] for a, b in pairs.tolist()], dtype=torch.float64)
    value, q_mean, g_apo, g_qrpo = 0.0, torch.zeros(3, dtype=torch.float64), 0.0, 0.0
    for arms, p in _ordered_reference_sets(problem, n):
        ref_r = problem.rewards[arms][None].expand(len(pairs), n)
        th = logits.clone().requires_grad_(True)
        logps = torch.log_softmax(th, -1)[0][pairs]
        args = (logps, problem.ref_log_policy[pairs], problem.rewards[pairs], ref_r)
        loss_a = (w * apo_loss(*args, problem.beta)).sum()
        loss_q = (w * qrpo_loss(*args, problem.beta)).sum()
        g_apo = g_apo + p * torch.autograd.grad(loss_a, th, retain_graph=True)[0]
        g_qrpo = g_qrpo + p * torch.autograd.grad(loss_q, th)[0]
        value += p * apo_value(problem.rewards[arms][None], problem.beta).item()
        q_mean = q_mean + p * reference_quantiles(problem.rewards[None], problem.rewards[arms][None])[0]
    assert expected_apo_value(problem, n) == pytest.approx(value, rel=1e-12)
    assert expected_apo_value(problem, n) < expected_apo_value(problem, None)
    torch.testing.assert_close(expected_quantiles(problem), q_mean)
    torch.testing.assert_close(make_expected_gradient(apo_method(problem, n), problem, mu1, mu2)(logits), g_apo)
    torch.testing.assert_close(make_expected_gradient(qrpo_method(problem), problem, mu1, mu2)(logits), g_qrpo)


def test_expected_apo_value_grows_with_n_towards_v_star():
    """Jensen: E[V̂*_N] < V* and increases with N (paper bandit: N = 1, 2, 4, 16, 64)."""
    p = paper_problem()
    values = [expected_apo_value(p, n) for n in (1, 2, 4, 16, 64)]
    assert all(a < b for a, b in zip(values, values[1:])) and values[-1] < expected_apo_value(p, None)
    assert expected_apo_value(p, None) == pytest.approx(p.optimal_value, rel=1e-12)  # V* = J(π*) = β·ln Z*
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1 or None"):
        expected_apo_value(p, 0)


@SETTINGS
@given(problems(min_arms=3), st.integers(1, 4))
def test_apo_fixed_point_exact_iff_value_exact_or_on_policy(args, n):
    """A*-PO: with the exact V* the offline stationary point is π*. With a finite-N estimate, the offline expected
    gradient at π* is exactly −2β·(V* − E[V̂*_N])·(μ̄ − π*), μ̄ = (μ1 + μ2)/2: zero iff the data come from π*; on-policy
    (samples of π) it vanishes at π* for every N."""
    problem, mu1, mu2, _ = args
    star, pi_star, beta = problem.optimal_logits, problem.optimal_policy, problem.beta
    assert stationary_point(apo_method(problem, None), problem, mu1, mu2).regret <= 1e-9
    gap = expected_apo_value(problem, None) - expected_apo_value(problem, n)
    assert gap > 0 or problem.rewards.max() == problem.rewards.min()  # Jensen, strict unless R is constant
    off = make_expected_gradient(apo_method(problem, n), problem, mu1, mu2)(star)
    torch.testing.assert_close(off, -2 * beta * gap * (0.5 * (mu1 + mu2) - pi_star), atol=1e-10, rtol=1e-8)
    assert make_expected_gradient(apo_method(problem, n), problem, pi_star, pi_star)(star).abs().max() < 1e-10
    assert make_expected_gradient(apo_method(problem, n, onpolicy=True), problem, mu1, mu2)(star).abs().max() < 1e-10
    skewed = apo_method(problem, n, value_beta=2 * beta, onpolicy=True)  # β₁ ≠ β₂: still a constant offset
    assert make_expected_gradient(skewed, problem, mu1, mu2)(star).abs().max() < 1e-10


def test_biased_rows_stop_away_from_the_optimum_on_the_paper_bandit():
    """On the paper's bandit with μ = π_ref: QRPO, offline A*-PO (N = 4) and both IPOs have regret > 0; the
    rescaled CoPG rows have regret 0."""
    p = paper_problem()
    mu = offpolicy_family(p, 0.5)
    for row in (qrpo_method(p), apo_method(p, 4), get_method("ipo"), ipo_mean_method([3.0, 2.0, 1.0])):
        assert stationary_point(row, p, mu, mu).regret > 1e-4, row.name
    for name in ("rebel", "qrpo_rebel", "command_a", "rpo_sq"):
        assert stationary_point(name, p, mu, mu).regret <= 1e-9, name


def test_problem_bound_rows_refuse_another_bandit():
    """QRPO and A*-PO rows carry their bandit's targets: another bandit is an error, not a wrong answer."""
    p, other = paper_problem(), paper_problem(beta=1.0)
    mu = offpolicy_family(other, 0.5)
    for row in (qrpo_method(p), apo_method(p, 4)):
        with pytest.raises(ValueError, match="built for another bandit; build it again"):
            make_expected_gradient(row, other, mu, mu)


def test_token_mean_row_refuses_the_sampled_trainer():
    """The sampled trainers gather no token lengths: the row says which dynamics to use instead."""
    from bandit.data import sample_pairs

    p = paper_problem()
    mu1, mu2 = offpolicy_family(p, 0.2), offpolicy_family(p, 0.7)
    data = sample_pairs(p, mu1, mu2, num_pairs=8, num_seeds=1, seed=0)
    with pytest.raises(ValueError, match="needs PairBatch.lengths .* use exact_flow, stationary_point"):
        train_sampled(ipo_mean_method([3.0, 2.0, 1.0]), p, data, 1, batch_size=4, path="pair")
