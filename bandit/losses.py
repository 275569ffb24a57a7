"""The one implementation of every loss in the CoPG lab.

Contrastive Policy Gradient (CoPG; Flet-Berliac et al., 2024, arXiv:2406.19185) and its baselines (IPO, DPO, naive
off-policy policy gradient) as small pure functions of per-sequence log-probability tensors. Both labs import them:
the tabular bandit (``bandit/``) where a "sequence" is an arm, and the LLM lab (``llm/``) where it is a completion.

Conventions (identical for every loss):

========================  ===========  ===================================================================
name                      shape        meaning
========================  ===========  ===================================================================
``logps``                 ``[B, K]``   ln π(y|x), **summed** over completion tokens; the only input that
                                       receives a gradient
``ref_logps``             ``[B, K]``   ln π_ref(y|x); data (must not require grad)
``rewards``               ``[B, K]``   scalar sequence-level rewards R(x, y); data
``behaviour_logps``       ``[B, K]``   ln μ(y|x) of the policy that sampled y (importance sampling only)
``beta``                  float        β > 0, KL-regularisation strength of J(π) = E_π[R] − β·KL(π‖π_ref)
return value              ``[B]``      per-prompt loss to **minimise**; the caller averages
========================  ===========  ===================================================================

B is the number of prompts, K ≥ 2 the number of completions of one prompt (independent samples, *not* ranked,
except that preference losses read column 0 as the preferred completion). The paper *maximises* its pair objective
ℓ_CoPG; every function here returns a loss to *minimise* and its docstring states the relation.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

__all__ = [
    "regularized_reward",
    "copg_loss",
    "copg_pair_objective",
    "copg_surrogate_loss",
    "ipo_loss",
    "dpo_loss",
    "pg_loss",
    "PG_BASELINES",
    "preference_pairs",
    "gather_pairs",
    # the CoPG family under other names (docs/theory.md, "One loss under many names")
    "rebel_loss",
    "rpo_sq_loss",
    "qrpo_rebel_loss",
    "command_a_loss",
    "pointwise_regression_loss",
    "apo_value",
    "apo_loss",
    "reference_quantiles",
    "qrpo_loss",
]

#: Baselines understood by :func:`pg_loss` (or pass a tensor).
PG_BASELINES = ("none", "mean", "loo")


# ----------------------------------------------------------------------------------------------------------------
# Input validation (shared by every loss). Errors name the function, the argument, what was expected and the fix.
# ----------------------------------------------------------------------------------------------------------------


def _check_beta(fn: str, beta: float) -> float:
    if isinstance(beta, torch.Tensor):
        if beta.numel() != 1:
            raise ValueError(f"{fn}: beta must be a positive scalar, got a tensor of shape {tuple(beta.shape)}")
        beta = beta.item()
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise ValueError(f"{fn}: beta must be a positive real number, got {type(beta).__name__}")
    if not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"{fn}: beta must be a finite float > 0 (the KL strength β), got {beta}")
    return float(beta)


def _all_finite(t: torch.Tensor) -> bool:
    """True iff every element of ``t`` is finite, in one summing pass in the common case.

    A sum is NaN/inf whenever an element is, and finite values only sum to inf by overflow; so the exact
    element-wise ``isfinite`` check (several passes, ~20x slower than a sum on CPU) runs only when the sum is not
    finite. Same answer as ``torch.isfinite(t).all()``.
    """
    if math.isfinite(t.detach().sum().item()):
        return True
    return bool(torch.isfinite(t).all())


def _sum_k(x: torch.Tensor) -> torch.Tensor:
    """[B, K] -> [B] sum over the K completions; for K = 2 as x[:, 0] + x[:, 1] (same value, and much faster than a
    ``sum(dim=1)`` over a short contiguous last axis on CPU)."""
    return x[:, 0] + x[:, 1] if x.shape[1] == 2 else x.sum(dim=1)


def _check_tensors(fn: str, min_k: int = 2, exact_k: int | None = None, **tensors: torch.Tensor | None) -> None:
    """Every tensor is a finite floating [B, K] tensor of one shape, dtype and device; data tensors carry no grad."""
    ref_name, ref = None, None
    for name, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{fn}: {name} must be a torch.Tensor of shape [B, K], got {type(t).__name__}")
        if t.dim() != 2:
            raise ValueError(
                f"{fn}: {name} has shape {tuple(t.shape)}; pass a [B, K] tensor (B prompts, K completions each)"
            )
        if not t.is_floating_point():
            raise ValueError(f"{fn}: {name} has dtype {t.dtype}; pass a floating tensor (float32 or float64)")
        if ref is None:
            ref_name, ref = name, t
        else:
            if t.shape != ref.shape:
                raise ValueError(
                    f"{fn}: {ref_name} has shape {tuple(ref.shape)} but {name} has shape {tuple(t.shape)}; "
                    "pass [B, K] tensors of identical shape (no broadcasting)"
                )
            if t.dtype != ref.dtype or t.device != ref.device:
                raise ValueError(
                    f"{fn}: {ref_name} is {ref.dtype} on {ref.device} but {name} is {t.dtype} on {t.device}; "
                    "cast them to one dtype and device"
                )
        if name != "logps" and t.requires_grad:
            raise ValueError(
                f"{fn}: {name} requires grad; it is data (only logps may carry a gradient): pass {name}.detach()"
            )
        if not _all_finite(t):
            raise ValueError(f"{fn}: {name} contains NaN or inf; clean the data (every value must be finite)")
    assert ref is not None  # internal: every caller passes logps
    k = ref.shape[1]
    if exact_k is not None and k != exact_k:
        raise ValueError(
            f"{fn}: expected exactly K={exact_k} completions per prompt (column 0 = preferred), got K={k}; "
            "build pairs first with preference_pairs() and gather_pairs()"
        )
    if k < min_k:
        raise ValueError(f"{fn}: {ref_name} has K={k} completions per prompt; need K >= {min_k}")


# ----------------------------------------------------------------------------------------------------------------
# CoPG
# ----------------------------------------------------------------------------------------------------------------


def regularized_reward(
    logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """Regularised reward R_β^π(y) = R(y) − β·(ln π(y) − ln π_ref(y))  (paper Eq. 1).

    Args:
        logps: [B, K] ln π(y|x), summed over completion tokens; carries gradient.
        ref_logps: [B, K] ln π_ref(y|x); data.
        rewards: [B, K] sequence-level rewards R(x, y); data.
        beta: β > 0.
    Returns:
        [B, K] R_β^π, differentiable through ``logps`` (∂R_β/∂ln π = −β).
    """
    _check_tensors("regularized_reward", min_k=1, logps=logps, ref_logps=ref_logps, rewards=rewards)
    beta = _check_beta("regularized_reward", beta)
    return rewards - beta * (logps - ref_logps)


def copg_loss(logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """CoPG loss for K ≥ 2 completions per prompt (squared form; paper Eqs. 7–9, generalised to K).

        L_K = (1/(2β)) · mean_{i<j} (r_i − r_j)²  =  Var_unbiased(r_1..r_K) / β,     r_i = R_β^π(y_i)

    computed in O(K) through Σ_{i<j}(r_i − r_j)² = K·Σ_i (r_i − r̄)².

    For K = 2 this is (1/(2β))·(ΔR − β·Δlr)² = −ℓ_CoPG(y, y′) + ΔR²/(2β), i.e. minus the paper's pair objective
    (which the paper *maximises*) up to a constant that does not depend on π, so its gradient is exactly
    −(R_β(y) − R_β(y′))·(∇ln π(y) − ∇ln π(y′))  (paper Eqs. 18–19). For general K the gradient for completion i is

        −(2/K)·(r_i − m_{−i})·∇ln π(y_i),        m_{−i} = mean_{j≠i} r_j

    a leave-one-out baseline: on on-policy samples it is twice the RLOO estimator averaged over samples (paper
    Property 2 for K = 2). The completions may come from any behaviour policies (μ1, μ2, …): no importance weights.
    The value is ≥ 0 and is *not* a score: judge runs by reward, regret and KL, not by this loss.

    Args:
        logps: [B, K] ln π(y|x), summed over completion tokens; carries gradient.
        ref_logps: [B, K] ln π_ref(y|x); data, must not require grad.
        rewards: [B, K] scalar sequence-level rewards R(x, y); data, must not require grad.
        beta: β > 0, KL-regularisation strength.
    Returns:
        [B] per-prompt loss to minimise. The caller takes ``.mean()``.
    """
    _check_tensors("copg_loss", logps=logps, ref_logps=ref_logps, rewards=rewards)
    beta = _check_beta("copg_loss", beta)
    k = logps.shape[1]
    if k == 2:  # the pair form (1/(2β))·(ΔR − β·Δlr)²: the same value, without K-axis reductions (faster on CPU)
        (lp0, lp1), (ref0, ref1), (r0, r1) = logps.unbind(1), ref_logps.unbind(1), rewards.unbind(1)
        d_lr = (lp0 - ref0) - (lp1 - ref1)  # Δlr
        return ((r0 - r1) - beta * d_lr).square() / (2 * beta)
    reg_rewards = rewards - beta * (logps - ref_logps)  # r_i = R_β^π(y_i), Eq. 1
    centred = reg_rewards - reg_rewards.mean(dim=1, keepdim=True)  # r_i − r̄ (centring first: no cancellation)
    return centred.square().sum(dim=1) / ((k - 1) * beta)  # Var_unbiased(r) / β


def copg_pair_objective(
    logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """The paper's literal pair objective ℓ_CoPG (Eqs. 7–9), to **maximise** (form A, docs/theory.md).

        ℓ_CoPG(y, y′) = (R_{β/2}^π(y) − R_{β/2}^π(y′))·lr(y) + (R_{β/2}^π(y′) − R_{β/2}^π(y))·lr(y′)
                      = (ΔR − (β/2)·Δlr)·Δlr,        lr = ln π − ln π_ref,  R_{β/2}^π = R − (β/2)·lr

    with **no** stop-gradient anywhere: differentiating through R_{β/2}^π turns β/2 into the full β of the gradient.
    Kept for teaching and for the tests that pin ∇(−ℓ_CoPG) = ∇copg_loss; train with :func:`copg_loss`.

    Args:
        logps, ref_logps, rewards: [B, 2] (the two columns are y and y′, unranked).
        beta: β > 0.
    Returns:
        [B] ℓ_CoPG per pair (to maximise; ``-copg_pair_objective`` is a loss with copg_loss's gradient).
    """
    _check_tensors("copg_pair_objective", exact_k=2, logps=logps, ref_logps=ref_logps, rewards=rewards)
    beta = _check_beta("copg_pair_objective", beta)
    lr = logps - ref_logps
    d_lr = lr[:, 0] - lr[:, 1]  # Δlr
    d_r = rewards[:, 0] - rewards[:, 1]  # ΔR
    return (d_r - 0.5 * beta * d_lr) * d_lr


def copg_surrogate_loss(
    logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """Stop-gradient surrogate of CoPG (form C of docs/theory.md), for K ≥ 2.

        loss = −Σ_i (2/K)·sg(r_i − m_{−i})·ln π(y_i),       r_i = R_β^π(y_i),  m_{−i} = mean_{j≠i} r_j

    For K = 2: −sg(ΔR − β·Δlr)·(ln π(y) − ln π(y′)). Its *gradient* equals :func:`copg_loss`'s; its *value*
    means nothing (it depends on ln π itself). Exists so the tests can pin the three CoPG forms to one gradient.

    Args:
        logps, ref_logps, rewards: [B, K].
        beta: β > 0.
    Returns:
        [B] surrogate to minimise; only its gradient (the CoPG gradient) is meaningful.
    """
    _check_tensors("copg_surrogate_loss", logps=logps, ref_logps=ref_logps, rewards=rewards)
    beta = _check_beta("copg_surrogate_loss", beta)
    k = logps.shape[1]
    reg_rewards = rewards - beta * (logps - ref_logps)
    loo_mean = (_sum_k(reg_rewards)[:, None] - reg_rewards) / (k - 1)  # m_{−i}
    weight = (reg_rewards - loo_mean).detach()  # sg(r_i − m_{−i}): the contrastive (leave-one-out) baseline
    return -(2.0 / k) * _sum_k(weight * logps)


# ----------------------------------------------------------------------------------------------------------------
# Direct alignment baselines (preference pairs, column 0 preferred)
# ----------------------------------------------------------------------------------------------------------------


def ipo_loss(
    logps: torch.Tensor, ref_logps: torch.Tensor, beta: float, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """IPO loss on preference pairs, column 0 preferred (Azar et al., 2024; CoPG paper Property 3, Eq. 22).

        loss = (Δ − 1/(2β))²,        Δ = (ln π − ln π_ref)[:, 0] − (ln π − ln π_ref)[:, 1]

    Which IPO: by default the log-ratios are **sequence sums** (the IPO paper, the CoPG paper, TRL's online DPO and
    OpenRLHF). With ``lengths`` each log-ratio is first divided by its completion length (TRL ``DPOTrainer``
    ``loss_type="ipo"``: per-token averages), which is not in the IPO paper. β here is the KL strength; IPO's τ is
    mapped as τ = β. Property 3: with rewards (+¼, −¼), ``copg_loss`` = (β/2)·``ipo_loss`` (sequence sums), so the
    two gradients differ only by the positive factor β/2.

    Args:
        logps: [B, 2] ln π(y|x) summed over completion tokens, column 0 = preferred; carries gradient.
        ref_logps: [B, 2] ln π_ref; data.
        beta: β > 0 (IPO's τ).
        lengths: optional [B, 2] completion lengths in tokens (> 0) for TRL's per-token variant.
    Returns:
        [B] per-pair loss to minimise.
    """
    _check_tensors("ipo_loss", exact_k=2, logps=logps, ref_logps=ref_logps, lengths=lengths)
    beta = _check_beta("ipo_loss", beta)
    log_ratios = logps - ref_logps
    if lengths is not None:
        if (lengths <= 0).any():
            raise ValueError("ipo_loss: lengths must be > 0 (completion lengths in tokens); drop empty completions")
        log_ratios = log_ratios / lengths  # TRL's per-token average (not in the IPO paper)
    delta = log_ratios[:, 0] - log_ratios[:, 1]
    return (delta - 1.0 / (2.0 * beta)).square()


def dpo_loss(logps: torch.Tensor, ref_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO loss on preference pairs, column 0 preferred (Rafailov et al., 2023).

        loss = −ln σ(β·Δ),        Δ = (ln π − ln π_ref)[:, 0] − (ln π − ln π_ref)[:, 1]

    computed as softplus(−βΔ), which is stable for any |βΔ|. Sequence-summed log-probs, as TRL's ``DPOTrainer``
    (``loss_type="sigmoid"``) and OpenRLHF.

    Args:
        logps: [B, 2] ln π(y|x) summed over completion tokens, column 0 = preferred; carries gradient.
        ref_logps: [B, 2] ln π_ref; data.
        beta: β > 0.
    Returns:
        [B] per-pair loss to minimise.
    """
    _check_tensors("dpo_loss", exact_k=2, logps=logps, ref_logps=ref_logps)
    beta = _check_beta("dpo_loss", beta)
    log_ratios = logps - ref_logps
    delta = log_ratios[:, 0] - log_ratios[:, 1]
    return F.softplus(-beta * delta)  # = −ln σ(βΔ)


# ----------------------------------------------------------------------------------------------------------------
# Naive off-policy policy gradient (the paper's PG baselines, Eqs. 23–24) and importance-sampled PG
# ----------------------------------------------------------------------------------------------------------------


def pg_loss(
    logps: torch.Tensor,
    ref_logps: torch.Tensor,
    rewards: torch.Tensor,
    beta: float,
    baseline: str | torch.Tensor = "none",
    behaviour_logps: torch.Tensor | None = None,
    clip: float | None = None,
) -> torch.Tensor:
    """Policy-gradient surrogate: a loss whose gradient is the (off-policy) policy gradient of J(π).

        loss = −Σ_i sg( w_i · (R_β^π(y_i) − b_i) ) · ln π(y_i),        R_β^π = R − β·(ln π − ln π_ref)

    summed over the K completions of a prompt, as the paper's Eqs. 23–24 sum the two terms of a pair. The weight is
    detached (one named line below), so the value means nothing; the gradient is −Σ_i w_i(R_β − b_i)∇ln π(y_i).

    - ``w_i = 1`` without ``behaviour_logps``: the *naive* off-policy PG. It is biased when the y_i are not drawn
      from π, because E_{y~μ}[∇ln π(y)] ≠ 0 (paper §4.6): its fixed point is not π*.
    - ``w_i = π(y_i)/μ(y_i) = exp(ln π − ln μ)`` with ``behaviour_logps``: importance-sampled PG (paper Eq. 6),
      unbiased for any baseline; ``clip`` truncates the ratio at ``clip`` (min(w, clip)) to bound its variance.

    Baselines b_i: ``"none"`` (b = 0), ``"mean"`` (mean of R_β over the prompt's K completions, including y_i),
    ``"loo"`` (leave-one-out mean over the others: on on-policy samples this is RLOO, paper Eq. 65, and for K = 2
    its gradient equals :func:`copg_loss`'s, Property 2), or a tensor of shape [B] (one baseline per prompt, e.g.
    the exact value E_{y~π}[R] of the bandit lab) or [B, K].

    Args:
        logps: [B, K] ln π(y|x), summed over completion tokens; carries gradient.
        ref_logps: [B, K] ln π_ref; data.
        rewards: [B, K] rewards R; data.
        beta: β > 0.
        baseline: "none" | "mean" | "loo" | tensor [B] or [B, K] (data).
        behaviour_logps: optional [B, K] ln μ(y|x) of the sampling policy; data.
        clip: optional ratio cap c > 0 (truncated importance sampling); requires ``behaviour_logps``.
    Returns:
        [B] per-prompt surrogate loss (minimise it; only its gradient is meaningful).
    """
    fn = "pg_loss"
    _check_tensors(fn, min_k=1, logps=logps, ref_logps=ref_logps, rewards=rewards, behaviour_logps=behaviour_logps)
    beta = _check_beta(fn, beta)
    k = logps.shape[1]
    reg_rewards = rewards - beta * (logps.detach() - ref_logps)  # R_β^π(y_i), a weight: no gradient through it
    if isinstance(baseline, torch.Tensor):
        if baseline.requires_grad:
            raise ValueError(f"{fn}: baseline requires grad; it is data: pass baseline.detach()")
        if baseline.shape == logps.shape[:1]:
            b = baseline[:, None].expand_as(logps)  # documented [B] form: one baseline per prompt
        elif baseline.shape == logps.shape:
            b = baseline
        else:
            raise ValueError(
                f"{fn}: baseline has shape {tuple(baseline.shape)}; pass [B]={tuple(logps.shape[:1])} "
                f"or [B, K]={tuple(logps.shape)}"
            )
        if not _all_finite(baseline):
            raise ValueError(f"{fn}: baseline contains NaN or inf")
        b = b.to(dtype=logps.dtype, device=logps.device)
    elif baseline == "none":
        b = None  # b = 0
    elif baseline == "mean":
        b = (_sum_k(reg_rewards) / 2)[:, None] if k == 2 else reg_rewards.mean(dim=1, keepdim=True)  # mean over K
    elif baseline == "loo":
        if k < 2:
            raise ValueError(f"{fn}: baseline='loo' needs K >= 2 completions per prompt, got K={k}")
        b = (_sum_k(reg_rewards)[:, None] - reg_rewards) / (k - 1)
    else:
        raise ValueError(f"{fn}: unknown baseline {baseline!r}; use one of {PG_BASELINES} or a tensor")

    advantage = reg_rewards if b is None else reg_rewards - b
    if behaviour_logps is not None:
        ratio = torch.exp(logps.detach() - behaviour_logps)  # π(y)/μ(y), importance weight (Eq. 6): no gradient
        if clip is not None:
            if not (isinstance(clip, (int, float)) and clip > 0):
                raise ValueError(f"{fn}: clip must be a float > 0 (the cap on π/μ), got {clip!r}")
            ratio = ratio.clamp(max=clip)
        advantage = ratio * advantage
    elif clip is not None:
        raise ValueError(f"{fn}: clip caps the importance ratio π/μ; pass behaviour_logps too, or clip=None")
    weight = advantage.detach()  # sg(w·(R_β − b)): the score-function estimator's weight
    return -_sum_k(weight * logps)


# ----------------------------------------------------------------------------------------------------------------
# Preference pairs from K rewarded completions (for IPO / DPO on the same data CoPG uses)
# ----------------------------------------------------------------------------------------------------------------


def preference_pairs(
    rewards: torch.Tensor, how: str = "reward", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Turn K rewarded completions per prompt into one preference pair per prompt.

    - ``how="reward"``: preferred = the highest reward, dispreferred = the lowest (the paper ranks DPO/IPO pairs by
      the same reward model, §7). Ties keep the lower column index first.
    - ``how="bradley_terry"``: the paper's bandit IPO labels. For K = 2, the pair (y_0, y_1) is kept and y_0 is
      preferred with probability P(y_0 ≻ y_1) = σ(R_0 − R_1). For K > 2, two distinct columns are drawn uniformly
      and then labelled the same way.

    Args:
        rewards: [B, K] rewards, K ≥ 2; data.
        how: "reward" or "bradley_terry".
        generator: torch.Generator for the Bradley–Terry draws (reproducibility).
    Returns:
        [B, 2] long tensor of column indices (preferred, dispreferred); use :func:`gather_pairs` to select
        ``logps``/``ref_logps`` columns.
    """
    _check_tensors("preference_pairs", rewards=rewards)
    b, k = rewards.shape
    if how == "reward":
        best = rewards.argmax(dim=1)
        worst = rewards.argmin(dim=1)
        # Ties everywhere (all rewards equal): argmax == argmin; pick the next column as the dispreferred one.
        worst = torch.where(best == worst, (best + 1) % k, worst)
        return torch.stack([best, worst], dim=1)
    if how == "bradley_terry":
        if k == 2:
            pair = torch.tensor([0, 1], device=rewards.device).expand(b, 2)
        else:
            scores = torch.rand(b, k, generator=generator, device=rewards.device)
            pair = scores.topk(2, dim=1).indices  # two distinct uniformly random columns
        r = rewards.gather(1, pair)
        p_first = torch.sigmoid(r[:, 0] - r[:, 1])  # Bradley–Terry P(first ≻ second)
        u = torch.rand(b, generator=generator, device=rewards.device, dtype=rewards.dtype)
        first_wins = u < p_first
        return torch.where(first_wins[:, None], pair, pair.flip(1))
    raise ValueError(f"preference_pairs: unknown how={how!r}; use 'reward' or 'bradley_terry'")


def gather_pairs(values: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Select the (preferred, dispreferred) columns of a [B, K] tensor: returns [B, 2] = values[b, pairs[b]].

    Args:
        values: [B, K] tensor (``logps``, ``ref_logps``, ``rewards``, lengths, …); gradients flow through.
        pairs: [B, 2] long tensor from :func:`preference_pairs`.
    Returns:
        [B, 2] tensor, column 0 = preferred.
    """
    if values.dim() != 2 or pairs.dim() != 2 or pairs.shape != (values.shape[0], 2):
        raise ValueError(
            f"gather_pairs: values has shape {tuple(values.shape)} and pairs {tuple(pairs.shape)}; "
            "pass values [B, K] and pairs [B, 2]"
        )
    if pairs.dtype != torch.long:
        raise ValueError(f"gather_pairs: pairs must be a long tensor of column indices, got {pairs.dtype}")
    return values.gather(1, pairs)


# The CoPG family under other names (docs/theory.md, "One loss under many names"): rescalings of copg_loss call it,
# the pointwise regressions (QRPO, A*-PO) share pointwise_regression_loss. Args as copg_loss unless stated.


def _pair_check(fn: str, logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float) -> float:
    _check_tensors(fn, logps=logps, ref_logps=ref_logps, rewards=rewards)
    if logps.shape[1] != 2:
        raise ValueError(f"{fn}: takes pairs (K=2), got K={logps.shape[1]}; use copg_loss for K>2")
    return _check_beta(fn, beta)


def rebel_loss(logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """Databricks compose-rl's offline ``rebel`` loss on an unranked pair [B, 2] → [B], to minimise.

        loss = (β·h − ΔR)² = 2β · copg_loss,        h = lr(y) − lr(y′),  ΔR = R(y) − R(y′)

    The REBEL paper (Gao et al., 2024, arXiv:2404.16767) writes (h_t/η − ΔR)² with log-ratios against the previous
    iterate π_t: with π_t = π_ref (one iteration) it is this loss with β = 1/η (compose-rl's comment says so). Fixed
    point π* (Theorem 1); over several iterations (π_t ≠ π_ref) the target moves and that no longer holds.
    """
    beta = _pair_check("rebel_loss", logps, ref_logps, rewards, beta)
    return 2.0 * beta * copg_loss(logps, ref_logps, rewards, beta)


def rpo_sq_loss(
    logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float, reward_scale: float = 1.0
) -> torch.Tensor:
    """NeMo-Aligner's ``rpo_sq`` preference loss on a pair [B, 2] → [B], to minimise.

        loss = (β·h − η·ΔR)² = 2β · copg_loss(η·R, β) = 2βη · copg_loss(R, β/η),        η = ``reward_scale``

    η is NeMo-Aligner's ``gt_reward_scale`` (its default is not verified here). In our notation: CoPG with KL strength
    β/η, fixed point π_ref·exp(η·R/β)/Z, which is the problem's π* exactly when η = 1.
    """
    beta = _pair_check("rpo_sq_loss", logps, ref_logps, rewards, beta)
    eta = _check_beta("rpo_sq_loss (reward_scale η)", reward_scale)
    return 2.0 * beta * copg_loss(logps, ref_logps, eta * rewards, beta)


def qrpo_rebel_loss(logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """The QRPO repository's ``loss_type="rebel"`` on a pair [B, 2] → [B], to minimise.

        loss = (ΔR/β − h)² = (β·h − ΔR)²/β² = (2/β) · copg_loss

    (CLAIRE-Labo/quantile-reward-policy-optimization divides ΔR by β instead of multiplying h.) Fixed point π*.
    """
    beta = _pair_check("qrpo_rebel_loss", logps, ref_logps, rewards, beta)
    return (2.0 / beta) * copg_loss(logps, ref_logps, rewards, beta)


def command_a_loss(logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """The k-sample CoPG of Cohere's Command A report (arXiv:2504.00698) on [B, K] → [B], to minimise.

        loss = 1/(k−1) · Σ_{i>j} (R_β(y_i) − R_β(y_j))² = β·k · copg_loss,        k = K ≥ 2

    The constant 1/(k−1) is the form quoted in summaries of the report, not verified against its text here; any
    constant only rescales CoPG's gradient, so the fixed point is π* (Theorem 1).
    """
    _check_tensors("command_a_loss", logps=logps, ref_logps=ref_logps, rewards=rewards)
    beta = _check_beta("command_a_loss", beta)
    return beta * logps.shape[1] * copg_loss(logps, ref_logps, rewards, beta)


def pointwise_regression_loss(
    logps: torch.Tensor, ref_logps: torch.Tensor, targets: torch.Tensor, beta: float
) -> torch.Tensor:
    """Pointwise regression of β·lr on a target per completion (QRPO, A*-PO): [B, K] → [B], to minimise.

        loss = mean_i (β·lr(y_i) − t_i)²,        lr = ln π − ln π_ref,  ``targets`` t: [B, K] data, K ≥ 1

    Unlike CoPG's pair differences the level of t matters: a normalised π meets every target only if
    Σ_y π_ref(y)·exp(t(y)/β) = 1, i.e. if t contains the exact log-partition function.
    """
    _check_tensors("pointwise_regression_loss", min_k=1, logps=logps, ref_logps=ref_logps, targets=targets)
    beta = _check_beta("pointwise_regression_loss", beta)
    return (beta * (logps - ref_logps) - targets).square().mean(dim=1)


def _check_ref_rewards(fn: str, ref_rewards: torch.Tensor, b: int) -> None:
    ok = isinstance(ref_rewards, torch.Tensor) and ref_rewards.dim() == 2 and ref_rewards.shape[0] == b
    if not ok or ref_rewards.shape[1] < 1 or ref_rewards.requires_grad or not _all_finite(ref_rewards):
        got = tuple(ref_rewards.shape) if isinstance(ref_rewards, torch.Tensor) else type(ref_rewards).__name__
        raise ValueError(f"{fn}: ref_rewards must be finite [B={b}, N>=1] data (rewards of π_ref samples), got {got}")


def apo_value(ref_rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """A*-PO's estimate of V* = β·ln E_{π_ref}[exp(R/β)] from N reference samples: [B, N] → [B].

        V̂*_N = β · ln((1/N)·Σ_j exp(R(y_j)/β)),        y_j ~ π_ref,  β = β₁ (TRL/compose-rl ``beta1``)

    Biased low for finite N (Jensen: E[V̂*_N] ≤ V*), exact as N → ∞."""
    beta = _check_beta("apo_value", beta)
    _check_ref_rewards("apo_value", ref_rewards, len(ref_rewards) if isinstance(ref_rewards, torch.Tensor) else -1)
    return beta * (torch.logsumexp(ref_rewards / beta, dim=1) - math.log(ref_rewards.shape[1]))


def apo_loss(
    logps: torch.Tensor,
    ref_logps: torch.Tensor,
    rewards: torch.Tensor,
    ref_rewards: torch.Tensor,
    beta: float,
    value_beta: float | None = None,
) -> torch.Tensor:
    """A*-PO (TRL ``experimental.a2po``, compose-rl ``apo``) on [B, K] → [B], to minimise.

        loss = mean_i (β₂·lr(y_i) − (R(y_i) − V̂*_N))²,        V̂*_N = apo_value(ref_rewards [B, N], β₁)

    β₂ = ``beta``, β₁ = ``value_beta`` (default β₂). With the exact V* and β₁ = β₂ the target is β·ln π*/π_ref, so π*
    is a fixed point under any sampler; a finite-N estimate shifts the target's level by V* − V̂*, which samples from
    a fixed μ (compose-rl, offline) turn into a μ-dependent bias, while samples from π itself (TRL) cancel it.
    """
    _check_tensors("apo_loss", min_k=1, logps=logps, ref_logps=ref_logps, rewards=rewards)
    _check_ref_rewards("apo_loss", ref_rewards, logps.shape[0])
    v_star = apo_value(ref_rewards, beta if value_beta is None else value_beta)  # [B]
    return pointwise_regression_loss(logps, ref_logps, rewards - v_star[:, None], beta)


def reference_quantiles(rewards: torch.Tensor, ref_rewards: torch.Tensor) -> torch.Tensor:
    """QRPO's quantile reward q(y) = (1/N)·#{j : R(y_j) ≤ R(y)} (ties below, as QRPO): [B, K], [B, N] → [B, K]."""
    _check_ref_rewards("reference_quantiles", ref_rewards, rewards.shape[0])
    return (ref_rewards[:, None, :] <= rewards[:, :, None]).to(rewards.dtype).mean(dim=2)


def qrpo_loss(
    logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, ref_rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """QRPO (CLAIRE-Labo/quantile-reward-policy-optimization; compose-rl ``qrpo``) on [B, K] → [B], to minimise.

        loss = mean_i (q(y_i) − β·ln Z − β·lr(y_i))²,        β·ln Z = β·ln β + 1,  q = reference_quantiles

    (the repository's identity transform, ``mse`` loss, mean over chosen and rejected). ln Z = ln β + 1/β
    approximates ln(β·(e^{1/β} − 1)), exact for q uniform under π_ref (continuous rewards). Its target is the
    KL-optimum of the quantile reward q, not of R; with discrete rewards the level of the target is also off, and the
    fixed point then depends on the sampling distribution (docs/theory.md).
    """
    _check_tensors("qrpo_loss", min_k=1, logps=logps, ref_logps=ref_logps, rewards=rewards)
    beta = _check_beta("qrpo_loss", beta)
    q = reference_quantiles(rewards, ref_rewards)
    return pointwise_regression_loss(logps, ref_logps, q - (beta * math.log(beta) + 1.0), beta)
