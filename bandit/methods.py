"""The bandit methods, one table row each: which data a method reads, its minibatch loss (a call into
``bandit.losses``), its closed-form expected gradient and its stationary-point rule.

Every consumer looks rows up instead of testing names: the trainers (:mod:`bandit.dynamics`), the exact flows and
stationary points (:mod:`bandit.stationary`), the per-pair estimators (:mod:`bandit.estimators`) and the figures.
Adding a method is adding one :class:`Method` row with :func:`register_method` (README, "Extend the lab: add a
method").

Every method's per-batch loss is computed **only** by calling :mod:`bandit.losses` on ``[N, 2]`` tensors of
log-probabilities of arms (N = S·B rows: S seeds folded into the batch, row s·B + b). The result is reshaped to
``[S, B]`` so the caller can average per seed and sum over seeds (each seed's logits get their own gradient).

=============  ===================  =========================================================================
method         data                 loss (``bandit.losses``)
=============  ===================  =========================================================================
``copg``       pairs (y~μ1, y'~μ2)  ``copg_loss`` (paper Eqs. 7–9, squared form): unbiased, Theorem 1
``ipo``        preference pairs     ``ipo_loss`` with τ = ``pref_beta`` (paper Sec. 5: Bradley–Terry labels)
``dpo``        preference pairs     ``dpo_loss`` with β = ``pref_beta``
``pg``         pairs                ``pg_loss(baseline="none")``: naive off-policy PG, b = 0 (Eqs. 23–24)
``pg_value``   pairs                ``pg_loss`` with b = E_{y~π}[R(y)] computed exactly (paper Sec. 5)
``pg_mean``    pairs                ``pg_loss`` with b = batch mean of R_β over the 2B samples of the seed
                                    (the closed form below is its large-batch limit B → ∞)
``pg_is``      pairs                ``pg_loss(behaviour_logps=ln μ)``: importance-sampled PG, needs known μ
``onpolicy``   fresh y, y' ~ π      ``pg_loss(baseline="loo")``: RLOO with k = 2, the on-policy reference
=============  ===================  =========================================================================

Closed-form expected gradients (of the expected *loss* w.r.t. the logits θ; a = R_β^π, d = θ − ln π_ref; derivations
in docs/theory.md), O(A) per step except ``dpo`` (O(A²)):

    C(v)      = μ1⊙v + μ2⊙v − (μ1·v)·μ2 − (μ2·v)·μ1               ( = E[(v_y − v_y')(e_y − e_y')] )
    copg      −C(a)                                                 (ascent direction of the paper's L is +C(a))
    ipo       2·(C(d) − q),  q = μ1⊙(Qμ2) − μ2⊙(Qᵀμ1),  Q_yy' = (2P(y≻y') − 1)/(2β_IPO)   (q precomputed, O(A²) once)
    dpo       Σ_yy' μ1μ2·β_D·(σ(β_D·h_yy') − P(y≻y'))·(e_y − e_y'),  h = d_y − d_y'          (O(A²) per step)
    pg*       −Σ_i [μ_i⊙(a − b) − (μ_i·(a − b))·π]   b = 0 | π·R | ½(μ1 + μ2)·a          (the π term is the bias)
    onpolicy  −2·(π⊙a − (π·a)·π) = −2∇J                                                     (unbiased)
    pg_is     −Σ_i [(π·1_{μ_i>0})⊙a − ((π·1_{μ_i>0})·a)·π]   (= −2∇J under full support: unbiased)

:func:`enumerated_expected_loss` builds the *exact* expected loss of a method under μ1⊗μ2 by enumerating all A²
arm pairs through the same :func:`method_loss`; its autograd gradient is the ground truth the closed forms are
tested against (tests/test_theory.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import bandit.family  # noqa: F401  (registers the CoPG family's rows in FAMILY; it imports only bandit.method_table)
from bandit.losses import copg_loss, dpo_loss, ipo_loss, pg_loss, regularized_reward
from bandit.method_table import (
    DATA_KINDS,
    FAMILY,
    METHODS,
    ExpectedSetting,
    GradFn,
    Method,
    PairBatch,
    always_optimum,
    contrast,
    copg_expected_gradient,
    flat_rows,
    per_row,
    register_method,
)
from bandit.policies import log_policy, policy
from bandit.problem import BanditProblem, check_distribution

__all__ = [
    "DATA_KINDS",
    "FAMILY",
    "METHODS",
    "ExpectedSetting",
    "Method",
    "PairBatch",
    "contrast",
    "enumerated_expected_loss",
    "get_method",
    "method_loss",
    "register_method",
]


# ALGO LOGIC: each method's loss is one call into bandit.losses on [S*B, 2] tensors, reshaped back to [S, B].
def _copg(b: PairBatch) -> torch.Tensor:
    return copg_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta)


def _ipo(b: PairBatch) -> torch.Tensor:
    return ipo_loss(flat_rows(b.logps), flat_rows(b.ref_logps), b.pref_beta)


def _dpo(b: PairBatch) -> torch.Tensor:
    return dpo_loss(flat_rows(b.logps), flat_rows(b.ref_logps), b.pref_beta)


def _pg(b: PairBatch) -> torch.Tensor:
    return pg_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta, baseline="none")


def _pg_value(b: PairBatch) -> torch.Tensor:
    n = b.logps.shape[1]
    baseline = per_row(b.value.detach(), n)  # b = E_{y~π}[R(y)], exact, one per seed
    return pg_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta, baseline=baseline)


def _pg_mean(b: PairBatch) -> torch.Tensor:
    s, n, _ = b.logps.shape
    reg = regularized_reward(flat_rows(b.logps).detach(), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta)
    pair_mean = ((reg[:, 0] + reg[:, 1]) / 2).view(s, n)  # [S, B] mean R_β of each pair
    w = torch.full_like(pair_mean, 1.0 / n) if b.weights is None else b.weights
    mean = (w * pair_mean).sum(1)  # [S] batch mean of R_β over the seed's 2B samples (a baseline: data, no gradient)
    return pg_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta, baseline=per_row(mean, n))


def _pg_is(b: PairBatch) -> torch.Tensor:
    if b.behaviour_logps is None:
        raise ValueError("method_loss: pg_is needs behaviour_logps (ln μ of the sampled arms); μ must be known")
    return pg_loss(
        flat_rows(b.logps),
        flat_rows(b.ref_logps),
        flat_rows(b.rewards),
        b.beta,
        behaviour_logps=flat_rows(b.behaviour_logps),
    )


def _onpolicy(b: PairBatch) -> torch.Tensor:
    return pg_loss(flat_rows(b.logps), flat_rows(b.ref_logps), flat_rows(b.rewards), b.beta, baseline="loo")


# END ALGO LOGIC


# ----------------------------------------------------------------------------------------------------------------
# Closed-form expected gradients: θ ↦ ∇_θ E_{y~μ1, y'~μ2}[loss(y, y'; π_θ)]
# ----------------------------------------------------------------------------------------------------------------


def _ipo_expected(s: ExpectedSetting) -> GradFn:
    mu1, mu2, log_ref = s.mu1, s.mu2, s.problem.ref_log_policy
    q_mat = (2 * s.pref_prob() - 1) / (2 * s.pref_beta)  # [A, A]
    q = mu1 * (mu2 @ q_mat.T) - mu2 * (mu1 @ q_mat)  # E[q(y,y')(e_y − e_y')]
    return lambda th: 2 * (contrast(mu1, mu2, th - log_ref) - q)


def _dpo_expected(s: ExpectedSetting) -> GradFn:
    p, pb, mu1, mu2, log_ref = s.pref_prob(), s.pref_beta, s.mu1, s.mu2, s.problem.ref_log_policy

    def dpo_grad(th: torch.Tensor) -> torch.Tensor:
        d = th - log_ref
        h = d[..., :, None] - d[..., None, :]  # [..., A, A]
        w = mu1[..., :, None] * mu2[..., None, :] * pb * (torch.sigmoid(pb * h) - p)
        return w.sum(-1) - w.sum(-2)

    if mu1.dim() != 1 or mu2.dim() != 1:
        return dpo_grad
    # One (μ1, μ2): w[y, y'] = 0 unless μ1(y) > 0 and μ2(y') > 0, so only that block is computed (e.g. 110 × 30 of
    # 258 × 258 arms in the LLM bridge, where this gradient dominated root finding). Its entries are the same
    # floats as above (up to the last bit where torch's sigmoid rounds a tensor's scalar tail differently), summed
    # inside the same zero-filled [A, A] matrix in the same order, so root finding that depends on rounding
    # (non-unique roots, e.g. DPO's on the simplex boundary) is unchanged: bit-identical roots on the LLM bridge.
    r1, r2 = (mu1 > 0).nonzero()[:, 0], (mu2 > 0).nonzero()[:, 0]
    coef = mu1[r1, None] * mu2[None, r2] * pb  # [A1, A2]
    p_blk, lr1, lr2 = p[r1][:, r2], log_ref[r1], log_ref[r2]
    rows, cols = r1[:, None].expand(len(r1), len(r2)), r2[None, :].expand(len(r1), len(r2))
    zeros: dict[tuple[int, ...], torch.Tensor] = {}

    def dpo_grad_block(th: torch.Tensor) -> torch.Tensor:
        h = (th[..., r1] - lr1)[..., :, None] - (th[..., r2] - lr2)[..., None, :]  # [..., A1, A2]
        shape = (*th.shape, th.shape[-1])
        if shape not in zeros:  # [..., A, A], zero off the block; the block is overwritten on every call
            zeros[shape] = torch.zeros(shape, dtype=th.dtype)
        w = zeros[shape]
        w[..., rows, cols] = coef * (torch.sigmoid(pb * h) - p_blk)
        return w.sum(-1) - w.sum(-2)

    return dpo_grad_block


def _onpolicy_expected(s: ExpectedSetting) -> GradFn:
    def true_pg(th: torch.Tensor) -> torch.Tensor:
        pi, av = policy(th), s.reg_reward(th)
        return -2 * (pi * av - (pi * av).sum(-1, keepdim=True) * pi)  # −2∇J (Property 1)

    return true_pg


def _pg_is_expected(s: ExpectedSetting) -> GradFn:
    masks = s.is_weights()  # 1{μ > 0}, or μ̂/μ when the arms come from μ̂ but the ratio divides by μ

    def is_pg(th: torch.Tensor) -> torch.Tensor:
        pi, av = policy(th), s.reg_reward(th)
        out = torch.zeros_like(pi)
        for mask in masks:  # E_{y~μ}[(π/μ)(y)·a_y·(e_y − π)] only sees arms with μ > 0
            w = pi * mask * av
            out = out - (w - w.sum(-1, keepdim=True) * pi)
        return out  # = −2∇J when μ1, μ2 have full support (and the ratio divides by them)

    return is_pg


def _naive_pg_expected(baseline: Callable[[ExpectedSetting, torch.Tensor, torch.Tensor], torch.Tensor]):
    """Expected gradient of naive off-policy PG with baseline b(setting, π, a) ([..., 1])."""

    def build(s: ExpectedSetting) -> GradFn:
        mu1, mu2 = s.mu1, s.mu2

        def naive_pg(th: torch.Tensor) -> torch.Tensor:
            pi, av = policy(th), s.reg_reward(th)
            adv = av - baseline(s, pi, av)
            return -((mu1 + mu2) * adv - ((mu1 * adv).sum(-1, keepdim=True) + (mu2 * adv).sum(-1, keepdim=True)) * pi)

        return naive_pg

    return build


def _zero_baseline(s: ExpectedSetting, pi: torch.Tensor, av: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(av[..., :1])


def _value_baseline(s: ExpectedSetting, pi: torch.Tensor, av: torch.Tensor) -> torch.Tensor:
    return (pi * s.problem.rewards).sum(-1, keepdim=True)  # exact E_π[R]


def _mean_baseline(s: ExpectedSetting, pi: torch.Tensor, av: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((s.mu1 * av).sum(-1, keepdim=True) + (s.mu2 * av).sum(-1, keepdim=True))  # B → ∞ batch mean


def _full_support(mu1: torch.Tensor, mu2: torch.Tensor) -> bool:
    return bool((mu1 > 0).all() and (mu2 > 0).all())


# ----------------------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------------------


for _row in (
    Method(
        "copg", "pairs", "Contrastive PG: unbiased off-policy, fixed point π* (Theorem 1)", _copg,
        copg_expected_gradient, frozen_off_support=True, stationary_is_optimum=always_optimum,
        quadratic_in_rewards=True,
    ),
    Method(
        "ipo", "preferences", "IPO on Bradley–Terry labels: biased (σ(ΔR) − ½ target)", _ipo, _ipo_expected,
        frozen_off_support=True,
    ),
    Method(
        "dpo", "preferences", "DPO on Bradley–Terry labels σ(ΔR): fixed point π_ref·exp(R/τ), i.e. π* when τ = β",
        _dpo, _dpo_expected, frozen_off_support=True,
    ),
    Method(
        "pg", "pairs", "naive off-policy PG without baseline: biased (Eqs. 23–24)", _pg,
        _naive_pg_expected(_zero_baseline),
    ),
    Method(
        "pg_value", "pairs", "naive off-policy PG, exact value baseline: biased", _pg_value,
        _naive_pg_expected(_value_baseline),
    ),
    Method(
        "pg_mean", "pairs", "naive off-policy PG, batch-mean baseline of R_β: fixed point π* (R_β is constant there) "
        "in the large-batch limit; a biased gradient elsewhere", _pg_mean, _naive_pg_expected(_mean_baseline),
        frozen_off_support=True,
    ),
    Method(
        "pg_is", "pairs", "importance-sampled PG: unbiased, needs μ(y)", _pg_is, _pg_is_expected,
        stationary_is_optimum=_full_support, needs_behaviour=True,
    ),
    Method(
        "onpolicy", "onpolicy", "fresh samples from π each step (RLOO, k = 2)", _onpolicy, _onpolicy_expected,
        stationary_is_optimum=always_optimum,
    ),
):  # fmt: skip
    register_method(_row)
del _row
if set(FAMILY) & set(METHODS):
    raise ValueError(f"bandit.family rows {sorted(set(FAMILY) & set(METHODS))} shadow methods of METHODS; rename them")


def get_method(name: str | Method) -> Method:
    """The :class:`Method` called ``name`` (a row passes through); raises ValueError listing the valid names."""
    if isinstance(name, Method):
        return name
    if name in METHODS:
        return METHODS[name]
    if name not in FAMILY:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join([*METHODS, *FAMILY])}")
    return FAMILY[name]


def method_loss(method: str | Method, batch: PairBatch) -> torch.Tensor:
    """Per-pair losses of ``method`` on a batch, via :mod:`bandit.losses`.

    Args:
        method: name or :class:`Method`.
        batch: :class:`PairBatch` with [S, B, 2] tensors.
    Returns:
        [S, B] per-pair losses to minimise (average over B per seed, then sum over seeds).
    """
    m = get_method(method)
    s, n, _ = batch.logps.shape
    return m.loss(batch).view(s, n)  # rows s·B + b (see flat_rows)


def _all_pairs(num_arms: int) -> torch.Tensor:
    y = torch.arange(num_arms).repeat_interleave(num_arms)
    y2 = torch.arange(num_arms).repeat(num_arms)
    return torch.stack([y, y2], dim=1)  # [A², 2], row a·A + a' = (a, a')


def enumerated_expected_loss(
    method: str,
    problem: BanditProblem,
    logits: torch.Tensor,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
) -> torch.Tensor:
    """Exact expected loss E_{y~μ1, y'~μ2}[loss(y, y')] by enumerating all A² arm pairs (O(A²); for tests, small A).

    The per-pair losses come from :func:`method_loss` (hence from ``bandit.losses``), weighted by μ1(y)·μ2(y').
    Preference methods enumerate both label orders, weighted by P(y ≻ y') (Bradley–Terry σ(R(y) − R(y')), or 1/0
    by reward with ties to y). ``onpolicy`` uses μ1 = μ2 = π (detached, as the score-function estimator's sampling
    distribution). Rewards are noiseless. Autograd of the result w.r.t. ``logits`` is the exact expected gradient.

    Args:
        method: a name in :data:`METHODS`.
        problem: the bandit.
        logits: [S, A] policy logits (may require grad).
        mu1, mu2: [A] or [S, A] behaviour policies.
        pref_beta: β of IPO/DPO (default: the problem's β).
        preference: "bradley_terry" or "reward".
    Returns:
        [S] expected loss per seed, differentiable w.r.t. ``logits``.
    """
    m = get_method(method)
    s, a = logits.shape
    mu1 = check_distribution("enumerated_expected_loss", "mu1", mu1, num_arms=a).expand(s, a)
    mu2 = check_distribution("enumerated_expected_loss", "mu2", mu2, num_arms=a).expand(s, a)
    log_pi = log_policy(logits)  # [S, A]
    pi = log_pi.exp().detach()
    if m.data == "onpolicy":
        mu1, mu2 = pi, pi
    pairs = _all_pairs(a)  # [A², 2]
    w = mu1[:, pairs[:, 0]] * mu2[:, pairs[:, 1]]  # [S, A²]  μ1(y)·μ2(y')
    if m.data == "preferences":
        r = problem.rewards[pairs]  # [A², 2]
        if preference == "bradley_terry":
            p = torch.sigmoid(r[:, 0] - r[:, 1])
        elif preference == "reward":
            p = (r[:, 0] >= r[:, 1]).to(torch.float64)
        else:
            raise ValueError(
                f"enumerated_expected_loss: preference must be 'bradley_terry' or 'reward', got {preference!r}"
            )
        pairs = torch.cat([pairs, pairs.flip(1)])  # rows (y ≻ y') then (y' ≻ y)
        w = torch.cat([w * p, w * (1 - p)], dim=1)  # [S, 2A²]
    arms = pairs.expand(s, -1, -1)  # [S, P, 2]
    idx = arms.reshape(s, -1)
    logps = log_pi.gather(1, idx).reshape(arms.shape)
    ref_logps = problem.ref_log_policy[arms]
    rewards = problem.rewards[arms]
    # ln μ of unsupported arms is −inf; those rows have weight 0, so clamp them to a finite value (1e-300).
    behaviour = torch.stack(
        [mu1.clamp_min(1e-300).log().gather(1, idx[:, 0::2]), mu2.clamp_min(1e-300).log().gather(1, idx[:, 1::2])], -1
    )
    batch = PairBatch(
        logps=logps,
        ref_logps=ref_logps,
        rewards=rewards,
        beta=problem.beta,
        pref_beta=problem.beta if pref_beta is None else pref_beta,
        value=pi @ problem.rewards,
        behaviour_logps=behaviour,
        weights=w,
        lengths=None if m.arm_lengths is None else m.arm_lengths.to(torch.float64)[arms],
    )
    return (w * method_loss(m, batch)).sum(1)
