"""One loss under many names: the CoPG family of other frameworks as rows of the bandit's method table.

Each row calls its loss in :mod:`bandit.losses` and carries its closed-form expected gradient under y ~ μ1, y' ~ μ2,
so :func:`bandit.stationary.stationary_point` gives its exact fixed point (docs/theory.md, "One loss under many
names", has the translation table; tests/test_loss_family*.py check every row).

=================  =====================================================  ============================================
row                loss (``bandit.losses``)                               fixed point
=================  =====================================================  ============================================
``rebel``          ``rebel_loss`` = 2β·copg (compose-rl, REBEL paper)      π* (Theorem 1)
``qrpo_rebel``     ``qrpo_rebel_loss`` = (2/β)·copg (QRPO repository)      π*
``command_a``      ``command_a_loss`` = βk·copg, k = 2 here (Command A)    π*
``rpo_sq``         ``rpo_sq_loss`` = 2β·copg(η·R) (NeMo-Aligner)           π_ref·exp(ηR/β)/Z: π* iff η = 1
``ipo_mean``       ``ipo_loss(lengths=…)`` (TRL ``loss_type="ipo"``)       d = lr/L solves summed IPO's equations
``qrpo``           ``pointwise_regression_loss`` on E[q] − β·ln Z (QRPO)   μ-dependent, not π*
``apo``            ``pointwise_regression_loss`` on R − E[V̂*_N] (A*-PO)   π* iff V̂* exact (N = ∞) or on-policy
=================  =====================================================  ============================================

The first four are registered in :data:`bandit.methods.FAMILY` (``get_method("rebel")`` finds them). The others
depend on the bandit (its arms' token lengths, π_ref's reward distribution) and are built by the factories
:func:`rpo_sq_method`, :func:`ipo_mean_method`, :func:`qrpo_method` and :func:`apo_method`; every consumer of rows
(stationary points, exact flows, :func:`bandit.methods.enumerated_expected_loss`) accepts a row object.

The pointwise rows (QRPO, A*-PO) train on the expected target, E[q̂] = P_{π_ref}(R(y′) ≤ R(y)) and E[V̂*_N] (exact,
by enumerating the N-sample multisets): both losses are quadratic in the estimate, so their expected gradient over
the reference samples is the gradient at the expected estimate (tests/test_loss_family.py checks it against
``qrpo_loss`` / ``apo_loss`` averaged over every reference set).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch

from bandit.losses import (
    command_a_loss,
    ipo_loss,
    pointwise_regression_loss,
    qrpo_rebel_loss,
    rebel_loss,
    rpo_sq_loss,
)
from bandit.method_table import (
    FAMILY,
    ExpectedSetting,
    GradFn,
    Method,
    PairBatch,
    always_optimum,
    contrast,
    copg_expected_gradient,
    flat_rows,
)
from bandit.policies import log_policy, policy
from bandit.problem import BanditProblem

__all__ = [
    "apo_method",
    "expected_apo_value",
    "expected_quantiles",
    "ipo_mean_method",
    "qrpo_method",
    "rpo_sq_method",
]

#: Largest number of N-sample reference multisets :func:`expected_apo_value` enumerates.
MAX_MULTISETS = 2_000_000


def _scaled_copg(scale: Callable[[ExpectedSetting], float], rewards_scale: float = 1.0):
    """Expected gradient of c·copg_loss (c = scale(setting)) on rewards η·R: c × CoPG's closed form −C(a)."""

    def build(s: ExpectedSetting) -> GradFn:
        p = s.problem
        if rewards_scale != 1.0:
            p = BanditProblem(rewards_scale * p.rewards, p.ref_policy, p.beta)
        s2 = ExpectedSetting(p, s.mu1, s.mu2, s.pref_beta, s.preference)
        copg = copg_expected_gradient(s2)
        c = scale(s)
        return lambda th: c * copg(th)

    return build


# ALGO LOGIC: each row's loss is one call into bandit.losses on the [S·B, 2] rows of the batch.
def _rebel(b: PairBatch) -> torch.Tensor:
    return rebel_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta)


def _qrpo_rebel(b: PairBatch) -> torch.Tensor:
    return qrpo_rebel_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta)


def _command_a(b: PairBatch) -> torch.Tensor:
    return command_a_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta)


# END ALGO LOGIC


def rpo_sq_method(reward_scale: float = 1.0, name: str = "rpo_sq") -> Method:
    """NeMo-Aligner's ``rpo_sq`` with reward scale η: CoPG at KL strength β/η; fixed point π* iff η = 1.

    Args:
        reward_scale: η > 0 (``gt_reward_scale``).
        name: row name.
    Returns:
        A :class:`~bandit.methods.Method` row.
    """
    eta = float(reward_scale)

    def loss(b: PairBatch) -> torch.Tensor:
        return rpo_sq_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta, reward_scale=eta)

    return Method(
        name, "pairs", f"NeMo-Aligner rpo_sq, η = {eta:g}: (β·h − η·ΔR)² = 2β·CoPG(ηR); fixed point π* iff η = 1",
        loss, _scaled_copg(lambda s: 2 * s.problem.beta, eta), frozen_off_support=True,
        stationary_is_optimum=always_optimum if eta == 1.0 else None, quadratic_in_rewards=True,
    )  # fmt: skip


def ipo_mean_method(lengths, name: str = "ipo_mean") -> Method:
    """TRL's IPO (``DPOTrainer(loss_type="ipo")``): per-token mean log-ratios lr(y)/L(y) on arms of token lengths L.

    Expected gradient (derivation in docs/theory.md): with d = lr/L, g = 2·(C(d) − q) is the gradient w.r.t. d of
    summed IPO's expected loss (q as in ``ipo``), and ∇_θ = u − π·Σu with u = g/L. It vanishes iff C(d) = q, i.e.
    iff d equals summed IPO's stationary log-ratios v up to a constant c fixed by normalisation:
    π ∝ π_ref·exp(L·(v + c)). With equal lengths L this is summed IPO at τ = β/L.

    Args:
        lengths: [A] token lengths L(a) > 0 of the arms.
        name: row name.
    Returns:
        A :class:`~bandit.methods.Method` row (preference data; exact flows and stationary points only: the sampled
        trainers carry no lengths).
    """
    lengths_t = torch.as_tensor(lengths, dtype=torch.float64)
    if lengths_t.dim() != 1 or not (lengths_t > 0).all() or not torch.isfinite(lengths_t).all():
        raise ValueError(f"ipo_mean_method: lengths must be a [A] vector of token lengths > 0, got {lengths!r}")

    def loss(b: PairBatch) -> torch.Tensor:
        if b.lengths is None:
            raise ValueError(
                f"method_loss: {name} needs PairBatch.lengths (the arms' token lengths); the sampled trainers do not "
                "gather them: use exact_flow, stationary_point or enumerated_expected_loss"
            )
        return ipo_loss(flat_rows(b.logps), flat_rows(b.ref_logps), b.pref_beta, lengths=flat_rows(b.lengths))

    def expected(s: ExpectedSetting) -> GradFn:
        if lengths_t.numel() != s.problem.num_arms:
            raise ValueError(f"{name}: row built for {lengths_t.numel()} arms, the bandit has {s.problem.num_arms}")
        mu1, mu2, log_ref = s.mu1, s.mu2, s.problem.ref_log_policy
        q_mat = (2 * s.pref_prob() - 1) / (2 * s.pref_beta)
        q = mu1 * (mu2 @ q_mat.T) - mu2 * (mu1 @ q_mat)  # as summed IPO (bandit.methods._ipo_expected)

        def grad(th: torch.Tensor) -> torch.Tensor:
            d = (log_policy(th) - log_ref) / lengths_t  # per-token mean log-ratio of every arm
            u = 2 * (contrast(mu1, mu2, d) - q) / lengths_t  # ∂E/∂lr
            return u - u.sum(-1, keepdim=True) * policy(th)  # chain rule through lr = θ − logsumexp(θ) − ln π_ref

        return grad

    return Method(
        name, "preferences", "IPO with per-token mean log-ratios (TRL loss_type='ipo'): the fixed point moves with "
        "the arms' lengths", loss, expected, arm_lengths=lengths_t,
    )  # fmt: skip


def _pointwise_expected(name: str, problem: BanditProblem, targets: torch.Tensor, onpolicy: bool):
    """E[∇ ½Σ_columns (β·lr − t)²] = 2β·(μ̄⊙e − (μ̄·e)·π), e = β·lr − t, μ̄ = (μ1 + μ2)/2 (μ̄ = π on-policy)."""

    def build(s: ExpectedSetting) -> GradFn:
        same = s.problem is problem or (
            s.problem.beta == problem.beta
            and torch.equal(s.problem.rewards, problem.rewards)
            and torch.equal(s.problem.ref_policy, problem.ref_policy)
        )
        if not same:
            raise ValueError(f"{name}: this row was built for another bandit; build it again for this one")
        beta, log_ref = s.problem.beta, s.problem.ref_log_policy
        mu_bar = 0.5 * (s.mu1 + s.mu2)

        def grad(th: torch.Tensor) -> torch.Tensor:
            pi = policy(th)
            e = beta * (log_policy(th) - log_ref) - targets
            m = pi if onpolicy else mu_bar
            return 2 * beta * (m * e - (m * e).sum(-1, keepdim=True) * pi)

        return grad

    return build


def _pointwise_row(name: str, summary: str, problem: BanditProblem, target_of_reward, onpolicy: bool, optimum: bool):
    def loss(b: PairBatch) -> torch.Tensor:
        targets = target_of_reward(flat_rows(b.rewards))  # [N, 2] the target of each arm, from its observed reward
        return pointwise_regression_loss(flat_rows(b.logps), flat_rows(b.ref_logps), targets, b.beta)

    expected = _pointwise_expected(name, problem, target_of_reward(problem.rewards), onpolicy)  # targets: [A]
    return Method(
        name, "onpolicy" if onpolicy else "pairs", summary, loss, expected,
        stationary_is_optimum=always_optimum if optimum else None,
    )  # fmt: skip


def expected_quantiles(problem: BanditProblem, rewards: torch.Tensor | None = None) -> torch.Tensor:
    """E[q̂(y)] = P_{y′~π_ref}(R(y′) ≤ R(y)): QRPO's quantile reward in expectation over its reference samples.

    Args:
        problem: the bandit (its R and π_ref).
        rewards: [...] reward values to rank (default: every arm's R).
    Returns:
        Same shape as ``rewards`` ([A] by default).
    """
    r = problem.rewards if rewards is None else rewards
    return ((problem.rewards <= r[..., None]).to(torch.float64) * problem.ref_policy).sum(-1)


def qrpo_method(problem: BanditProblem, name: str = "qrpo") -> Method:
    """QRPO on ``problem``: pointwise regression of β·lr on E[q̂] − (β·ln β + 1), both arms of every pair.

    Args:
        problem: the bandit whose π_ref provides the reference rewards.
        name: row name.
    Returns:
        A :class:`~bandit.methods.Method` row (its fixed point depends on μ1, μ2 and is not π*).
    """
    shift = problem.beta * math.log(problem.beta) + 1.0  # the repository's β·ln Z = β·ln β + 1

    def target(r: torch.Tensor) -> torch.Tensor:
        return expected_quantiles(problem, r) - shift

    return _pointwise_row(name, "QRPO: pointwise regression on the reference quantile (not π*)", problem, target,
                          onpolicy=False, optimum=False)  # fmt: skip


def expected_apo_value(problem: BanditProblem, num_samples: int | None, value_beta: float | None = None) -> float:
    """E[V̂*_N] over N i.i.d. samples of π_ref, exactly (every multiset of N arms, multinomial weights); N = None: V*.

    Args:
        problem: the bandit.
        num_samples: N ≥ 1 reference samples per prompt, or None for the exact V* = β₁·ln Σ π_ref·exp(R/β₁).
        value_beta: β₁ (default the problem's β).
    Returns:
        E[V̂*_N] ≤ V* (Jensen), as a float.
    Raises:
        ValueError if N is not a positive integer or the enumeration would exceed :data:`MAX_MULTISETS`.
    """
    b1 = problem.beta if value_beta is None else float(value_beta)
    a, e = problem.num_arms, torch.exp(problem.rewards / b1 - (problem.rewards / b1).max())
    shift = (problem.rewards / b1).max().item()
    if num_samples is None:
        return b1 * (math.log((problem.ref_policy * e).sum().item()) + shift)
    n = num_samples
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"expected_apo_value: num_samples must be an integer >= 1 or None, got {n!r}")
    if math.comb(n + a - 1, a - 1) > MAX_MULTISETS:
        raise ValueError(f"expected_apo_value: {a} arms and N={n} give more than {MAX_MULTISETS} multisets; lower N")
    log_p, ev, total = problem.ref_log_policy.tolist(), e.tolist(), 0.0
    for multiset in itertools.combinations_with_replacement(range(a), n):
        counts = [0] * a
        for arm in multiset:
            counts[arm] += 1
        log_w = math.lgamma(n + 1) + sum(c * lp - math.lgamma(c + 1) for c, lp in zip(counts, log_p) if c)
        total += math.exp(log_w) * math.log(sum(c * x for c, x in zip(counts, ev)) / n)
    return b1 * (total + shift)


def apo_method(
    problem: BanditProblem,
    num_samples: int | None,
    value_beta: float | None = None,
    onpolicy: bool = False,
    name: str | None = None,
) -> Method:
    """A*-PO on ``problem``: pointwise regression of β·lr on R − E[V̂*_N].

    Offline (``onpolicy=False``, compose-rl ``apo``): the arms of the (y, y′) pairs drawn from μ1, μ2; fixed point
    π* iff the value is exact (N = None and β₁ = β). On-policy (TRL's A2PO stage 2): samples of π itself, where
    a constant error in V̂* cancels: fixed point π* for every N and β₁.

    Args:
        problem: the bandit.
        num_samples: N reference samples for V̂*, or None for the exact V*.
        value_beta: β₁ of the value estimate (default the problem's β).
        onpolicy: sample the regression's completions from π (True) or from the data's μ1, μ2 (False).
        name: row name (default ``apo``, ``apo_n<N>``, with ``_onpolicy`` appended on-policy).
    Returns:
        A :class:`~bandit.methods.Method` row.
    """
    v = expected_apo_value(problem, num_samples, value_beta)
    # on-policy any constant error in the value cancels; offline only the exact V* at β₁ = β is the right level
    exact = onpolicy or (num_samples is None and (value_beta is None or value_beta == problem.beta))
    name = name or ("apo" if num_samples is None else f"apo_n{num_samples}") + ("_onpolicy" if onpolicy else "")
    n_text = "exact V*" if num_samples is None else f"V̂* from N = {num_samples}"
    summary = f"A*-PO ({'on-policy' if onpolicy else 'offline'}, {n_text}): pointwise regression on R − V̂*"
    return _pointwise_row(name, summary, problem, lambda r: r - v, onpolicy=onpolicy, optimum=exact)


for _row in (
    Method(
        "rebel", "pairs", "compose-rl rebel / REBEL (β = 1/η): (β·h − ΔR)² = 2β·CoPG; fixed point π*", _rebel,
        _scaled_copg(lambda s: 2 * s.problem.beta), frozen_off_support=True, stationary_is_optimum=always_optimum,
        quadratic_in_rewards=True,
    ),
    Method(
        "qrpo_rebel", "pairs", "QRPO repository's rebel: (ΔR/β − h)² = (2/β)·CoPG; fixed point π*", _qrpo_rebel,
        _scaled_copg(lambda s: 2 / s.problem.beta), frozen_off_support=True, stationary_is_optimum=always_optimum,
        quadratic_in_rewards=True,
    ),
    Method(
        "command_a", "pairs", "Command A k-sample CoPG, 1/(k−1)·Σ(R_β(y_i) − R_β(y_j))² = βk·CoPG (k = 2 on pairs)",
        _command_a, _scaled_copg(lambda s: 2 * s.problem.beta), frozen_off_support=True,
        stationary_is_optimum=always_optimum, quadratic_in_rewards=True,
    ),
    rpo_sq_method(1.0),
):  # fmt: skip
    FAMILY[_row.name] = _row  # bandit.methods checks that no name shadows one of its METHODS
del _row
