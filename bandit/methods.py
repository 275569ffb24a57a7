"""The bandit methods: which data each one reads and which ``bandit.losses`` function turns a batch into a loss.

Every method's per-batch loss is computed **only** by calling :mod:`bandit.losses` on ``[N, 2]`` tensors of
log-probabilities of sampled arms (N = S·B rows: S seeds folded into the batch, row b·S + s). The result is reshaped
to ``[S, B]`` so the caller can average per seed and sum over seeds (each seed's logits get their own gradient).

=============  ===================  =========================================================================
method         data                 loss (``bandit.losses``)
=============  ===================  =========================================================================
``copg``       pairs (y~μ1, y'~μ2)  ``copg_loss`` (paper Eqs. 7–9, squared form): unbiased, Theorem 1
``ipo``        preference pairs     ``ipo_loss`` with τ = ``pref_beta`` (paper Sec. 5: Bradley–Terry labels)
``dpo``        preference pairs     ``dpo_loss`` with β = ``pref_beta``
``pg``         pairs                ``pg_loss(baseline="none")``: naive off-policy PG, b = 0 (Eqs. 23–24)
``pg_value``   pairs                ``pg_loss`` with b = E_{y~π}[R(y)] computed exactly (paper Sec. 5)
``pg_mean``    pairs                ``pg_loss`` with b = batch mean of R_β over the 2B samples of the seed
                                    (the closed forms of bandit.dynamics are its large-batch limit B → ∞)
``pg_is``      pairs                ``pg_loss(behaviour_logps=ln μ)``: importance-sampled PG, needs known μ
``onpolicy``   fresh y, y' ~ π      ``pg_loss(baseline="loo")``: RLOO with k = 2, the on-policy reference
=============  ===================  =========================================================================

:func:`enumerated_expected_loss` builds the *exact* expected loss of a method under μ1⊗μ2 by enumerating all A²
arm pairs through the same :func:`method_loss`; its autograd gradient is the ground truth that the O(A) closed forms
of :mod:`bandit.dynamics` are tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from bandit.losses import copg_loss, dpo_loss, ipo_loss, pg_loss, regularized_reward
from bandit.policies import log_policy
from bandit.problem import BanditProblem, check_distribution

__all__ = ["Method", "PairBatch", "enumerated_expected_loss", "get_method", "method_loss"]


@dataclass
class PairBatch:
    """One minibatch per seed, arms already gathered (S seeds, B pairs).

    Attributes:
        logps: [S, B, 2] ln π(y) of the two arms of each pair; carries the gradient. For preference methods column
            0 is the preferred arm.
        ref_logps: [S, B, 2] ln π_ref of the same arms; data.
        rewards: [S, B, 2] observed rewards of the same arms; data.
        beta: β, the problem's KL strength.
        pref_beta: β used by IPO (its τ) and DPO.
        value: [S] exact E_{y~π}[R(y)] per seed, detached (the ``pg_value`` baseline).
        behaviour_logps: [S, B, 2] ln μ1(y), ln μ2(y') (``pg_is``), or None.
        weights: [S, B] row weights summing to 1 per seed (exact enumeration), or None for a plain minibatch mean.
    """

    logps: torch.Tensor
    ref_logps: torch.Tensor
    rewards: torch.Tensor
    beta: float
    pref_beta: float
    value: torch.Tensor
    behaviour_logps: torch.Tensor | None = None
    weights: torch.Tensor | None = None


def _flat(t: torch.Tensor) -> torch.Tensor:
    """[S, B, K] -> [B·S, K], row b·S + s (row-major).

    Zero-copy for the trainer's tensors (views of contiguous [B, S, K] buffers); a copy otherwise.
    """
    k = t.shape[-1]
    return t.transpose(0, 1).reshape(-1, k)


def _per_row(per_seed: torch.Tensor, n: int) -> torch.Tensor:
    """[S] -> [B·S] in :func:`_flat`'s row order (row b·S + s gets per_seed[s])."""
    return per_seed.repeat(n)


# ALGO LOGIC: each method is one call into bandit.losses on [S*B, 2] tensors, reshaped back to [S, B].
def _copg(b: PairBatch) -> torch.Tensor:
    return copg_loss(_flat(b.logps), _flat(b.ref_logps), _flat(b.rewards), b.beta)


def _ipo(b: PairBatch) -> torch.Tensor:
    return ipo_loss(_flat(b.logps), _flat(b.ref_logps), b.pref_beta)


def _dpo(b: PairBatch) -> torch.Tensor:
    return dpo_loss(_flat(b.logps), _flat(b.ref_logps), b.pref_beta)


def _pg(b: PairBatch) -> torch.Tensor:
    return pg_loss(_flat(b.logps), _flat(b.ref_logps), _flat(b.rewards), b.beta, baseline="none")


def _pg_value(b: PairBatch) -> torch.Tensor:
    n = b.logps.shape[1]
    baseline = _per_row(b.value.detach(), n)  # b = E_{y~π}[R(y)], exact, one per seed
    return pg_loss(_flat(b.logps), _flat(b.ref_logps), _flat(b.rewards), b.beta, baseline=baseline)


def _pg_mean(b: PairBatch) -> torch.Tensor:
    s, n, _ = b.logps.shape
    reg = regularized_reward(_flat(b.logps).detach(), _flat(b.ref_logps), _flat(b.rewards), b.beta)
    pair_mean = ((reg[:, 0] + reg[:, 1]) / 2).view(n, s)  # [B, S] mean R_β of each pair
    w = torch.full_like(pair_mean, 1.0 / n) if b.weights is None else b.weights.T
    mean = (w * pair_mean).sum(0)  # [S] batch mean of R_β over the seed's 2B samples (a baseline: data, no gradient)
    return pg_loss(_flat(b.logps), _flat(b.ref_logps), _flat(b.rewards), b.beta, baseline=_per_row(mean, n))


def _pg_is(b: PairBatch) -> torch.Tensor:
    if b.behaviour_logps is None:
        raise ValueError("method_loss: pg_is needs behaviour_logps (ln μ of the sampled arms); μ must be known")
    return pg_loss(
        _flat(b.logps), _flat(b.ref_logps), _flat(b.rewards), b.beta, behaviour_logps=_flat(b.behaviour_logps)
    )


def _onpolicy(b: PairBatch) -> torch.Tensor:
    return pg_loss(_flat(b.logps), _flat(b.ref_logps), _flat(b.rewards), b.beta, baseline="loo")


# END ALGO LOGIC


@dataclass(frozen=True)
class Method:
    """A bandit method: name, legend label, which data it reads and its per-batch loss.

    Attributes:
        name: registry key (e.g. "copg").
        label: legend label for figures.
        data: "pairs" (the (y, y') dataset), "preferences" (the same pairs as (preferred, dispreferred)) or
            "onpolicy" (fresh y, y' ~ π every step).
        summary: one line: what it is and what theory says about its fixed point.
        loss: PairBatch → [S*B] per-pair losses (a thin call into ``bandit.losses``).
    """

    name: str
    label: str
    data: str
    summary: str
    loss: Callable[[PairBatch], torch.Tensor]


#: Every method of the lab, by name (order = legend order).
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("copg", "CoPG", "pairs", "Contrastive PG: unbiased off-policy, fixed point π* (Theorem 1)", _copg),
        Method(
            "ipo", "IPO (BT labels)", "preferences", "IPO on Bradley–Terry labels: biased (σ(ΔR) − ½ target)", _ipo
        ),
        Method(
            "dpo",
            "DPO (BT labels)",
            "preferences",
            "DPO on Bradley–Terry labels σ(ΔR): fixed point π_ref·exp(R/τ), i.e. π* when τ = β",
            _dpo,
        ),
        Method("pg", "PG, b = 0", "pairs", "naive off-policy PG without baseline: biased (Eqs. 23–24)", _pg),
        Method("pg_value", "PG, b = E_π[R]", "pairs", "naive off-policy PG, exact value baseline: biased", _pg_value),
        Method(
            "pg_mean",
            "PG, b = batch mean",
            "pairs",
            "naive off-policy PG, batch-mean baseline of R_β: fixed point π* (R_β is constant there) in the "
            "large-batch limit; a biased gradient elsewhere",
            _pg_mean,
        ),
        Method("pg_is", "PG + IS (known μ)", "pairs", "importance-sampled PG: unbiased, needs μ(y)", _pg_is),
        Method("onpolicy", "on-policy RLOO", "onpolicy", "fresh samples from π each step (RLOO, k = 2)", _onpolicy),
    )
}


def get_method(name: str) -> Method:
    """The :class:`Method` called ``name``; raises ValueError listing the valid names."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    return METHODS[name]


def method_loss(method: str | Method, batch: PairBatch) -> torch.Tensor:
    """Per-pair losses of ``method`` on a batch, via :mod:`bandit.losses`.

    Args:
        method: name or :class:`Method`.
        batch: :class:`PairBatch` with [S, B, 2] tensors.
    Returns:
        [S, B] per-pair losses to minimise (average over B per seed, then sum over seeds).
    """
    m = get_method(method) if isinstance(method, str) else method
    s, n, _ = batch.logps.shape
    return m.loss(batch).view(n, s).T  # rows were b·S + s (see _flat)


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
    )
    return (w * method_loss(m, batch)).sum(1)
