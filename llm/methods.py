"""The method table of the LLM trainer: method name → (which completions enter the loss, which bandit loss).

Every method trains on the *same* offline dataset (one row per prompt, k rewarded completions) and differs only in

* ``select``: which of the k completions of each prompt are forwarded (all of them, or an unranked random pair);
  the preference losses form every pair of the k completions ranked by reward and average over the pairs with a
  reward gap (:func:`ranked_pairs`), so every method sees the same completions;
* ``loss``: a one-line call of a function of :mod:`bandit.losses` on the gathered ``[B, M]`` tensors.

No loss is written here: every ``loss`` entry *calls* ``bandit.losses``. The trainer (``llm.stages.train``) looks the
method up in :data:`METHODS` once; there is no ``if/elif`` on the method name next to the forward pass.

=============  =========================================  ================================================
method         completions in the loss (M per prompt)     loss (``bandit.losses``)
=============  =========================================  ================================================
``copg``       all k (k-way CoPG = Var_unbiased(R_β)/β)   ``copg_loss``
``copg_pair``  2 distinct columns drawn uniformly          ``copg_loss`` with K = 2 (the paper's pair loss)
``ipo``        all k: every ranked pair with a reward gap  ``ipo_loss`` on sequence sums (IPO / CoPG papers)
``ipo_mean``   all k: every ranked pair with a reward gap  ``ipo_loss(lengths=…)``: per-token means (TRL)
``dpo``        all k: every ranked pair with a reward gap  ``dpo_loss`` (pairs ranked by the same reward, §6)
``pg``         all k                                       ``pg_loss`` naive off-policy PG, no IS (Eqs. 23–24);
                                                           b = 0, per-prompt mean, LOO or batch mean
``pg_is``      the k' non-"human" columns (μ known)       ``pg_loss(behaviour_logps=…)``: importance sampling
``online``     fresh samples of π (+ optional offline)     ``copg_loss``: on-policy CoPG = RLOO (Property 2)
=============  =========================================  ================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from bandit.losses import (
    apo_loss,
    command_a_loss,
    copg_loss,
    dpo_loss,
    gather_pairs,
    ipo_loss,
    pg_loss,
    qrpo_loss,
    qrpo_rebel_loss,
    rebel_loss,
    regularized_reward,
    rpo_sq_loss,
)

__all__ = ["LossInputs", "Method", "get_method", "gather", "ranked_pairs", "HUMAN_SOURCE"]  # + METHODS (a dict)

HUMAN_SOURCE = "human"
"""``source`` of a human-written completion: its behaviour probability μ(y|x) is unknown (no importance weight)."""


@dataclasses.dataclass
class LossInputs:
    """The gathered ``[B, M]`` tensors one method's loss sees (M = completions per prompt that enter the loss).

    Attributes:
        logps: [B, M] ln π(y|x), summed over completion tokens (incl. EOS); the only tensor with a gradient.
        ref_logps: [B, M] ln π_ref(y|x), summed; data (precomputed once with the frozen SFT model).
        rewards: [B, M] proxy reward-model scores R(x, y); data.
        behaviour_logps: [B, M] ln μ(y|x) of the policy that sampled y; data.
        lengths: [B, M] completion lengths in tokens (incl. EOS), float; data.
        reward_offset: [B] mean/s.d. of the dataset's reward standardisation (``rewards + reward_offset`` = the raw
            reward in s.d. units: what naive PG with b = 0 weights by); None = rewards are raw already; data.
    """

    logps: torch.Tensor
    ref_logps: torch.Tensor
    rewards: torch.Tensor
    behaviour_logps: torch.Tensor
    lengths: torch.Tensor
    reward_offset: torch.Tensor | None = None


@dataclasses.dataclass(frozen=True)
class Method:
    """One row of the method table."""

    name: str
    """Method name (``--method``)."""
    summary: str
    """One line for ``--help`` and the README."""
    select: Callable[[torch.Tensor, list[list[str]], torch.Generator], torch.Tensor]
    """(rewards [B, K], sources B×K, generator) → [B, M] long column indices of the completions in the loss."""
    loss: Callable[[LossInputs, Any], torch.Tensor]
    """(LossInputs with [B, M] tensors, config with ``beta``, …) → [B] per-prompt loss to minimise."""
    min_k: int
    """Fewest completions per prompt the dataset must have."""
    online: bool = False
    """True: completions are sampled from the current policy at every step (``online_k`` per prompt)."""


# ----------------------------------------------------------------------------------------------------------------
# Selection of the completions that enter the loss (data only: rewards and sources, never the model)
# ----------------------------------------------------------------------------------------------------------------


def _all_columns(rewards: torch.Tensor, sources: list[list[str]], gen: torch.Generator) -> torch.Tensor:
    b, k = rewards.shape
    return torch.arange(k).expand(b, k)  # [B, K]


def _random_pair(rewards: torch.Tensor, sources: list[list[str]], gen: torch.Generator) -> torch.Tensor:
    # Two distinct columns drawn uniformly: independent samples y ~ μ1, y′ ~ μ2, unranked (CoPG is symmetric).
    b, k = rewards.shape
    return torch.rand(b, k, generator=gen).topk(2, dim=1).indices  # [B, 2]


def ranked_pairs(rewards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pair of a prompt's k completions, the higher-reward one first (the paper ranks DPO/IPO pairs with the
    reward CoPG optimises, Sec. 6; ties: the earlier column first): ``([B, P, 2] column indices, [B, P] True where
    the rewards differ)``, P = k(k−1)/2. Tied pairs carry no preference: with ``pair_ties="drop"`` (the default) the
    losses give them weight 0; with ``"first"`` they count, the earlier column preferred, as the bandit lab's
    ``preference_pairs`` and the exact bridge's tables rank a pair."""
    k = rewards.shape[1]
    i, j = torch.triu_indices(k, k, offset=1, device=rewards.device)  # [P] each
    ri, rj = rewards[:, i], rewards[:, j]  # [B, P]
    first = ri >= rj
    win, lose = torch.where(first, i, j), torch.where(first, j, i)  # [B, P]
    return torch.stack([win, lose], dim=-1), ri != rj


def _over_ranked_pairs(
    x: LossInputs, pair_loss: Callable[..., torch.Tensor], cfg: Any, lengths: bool = False
) -> torch.Tensor:
    # [B, M] → every ranked pair as a [B·P, 2] row of the pair loss → [B] mean over the pairs with a reward gap
    pairs, gap = ranked_pairs(x.rewards)
    b, p, _ = pairs.shape
    flat = pairs.reshape(b, 2 * p)  # [B, 2P]: winner, loser, winner, loser, …

    def rows(t: torch.Tensor) -> torch.Tensor:
        return t.gather(1, flat).view(b * p, 2)  # [B·P, 2]

    extra = {"lengths": rows(x.lengths)} if lengths else {}
    per_pair = pair_loss(rows(x.logps), rows(x.ref_logps), **extra).view(b, p)  # [B, P]
    w = gap.to(per_pair.dtype) if getattr(cfg, "pair_ties", "drop") == "drop" else torch.ones_like(per_pair)
    return (per_pair * w).sum(1) / w.sum(1).clamp(min=1.0)  # [B]; a prompt whose rewards all tie contributes 0


def _known_behaviour(rewards: torch.Tensor, sources: list[list[str]], gen: torch.Generator) -> torch.Tensor:
    # Importance sampling needs μ(y|x): human-written completions (μ unknown) are left out.
    keep = [[j for j, s in enumerate(row) if s != HUMAN_SOURCE] for row in sources]
    m = {len(c) for c in keep}
    if len(m) != 1 or 0 in m:
        raise ValueError(
            "pg_is: every prompt must have the same number (≥ 1) of completions with a known behaviour policy "
            f"(source != {HUMAN_SOURCE!r}); got counts {sorted(m)}"
        )
    return torch.tensor(keep, dtype=torch.long)  # [B, K']


# ----------------------------------------------------------------------------------------------------------------
# Losses: each entry is one call of bandit.losses (the only place a loss is defined)
# ----------------------------------------------------------------------------------------------------------------


def _copg(x: LossInputs, cfg: Any) -> torch.Tensor:
    return copg_loss(x.logps, x.ref_logps, x.rewards, cfg.beta)


def _ipo_sum(x: LossInputs, cfg: Any) -> torch.Tensor:
    return _over_ranked_pairs(x, lambda lp, ref: ipo_loss(lp, ref, cfg.beta), cfg)


def _ipo_mean(x: LossInputs, cfg: Any) -> torch.Tensor:
    return _over_ranked_pairs(x, lambda lp, ref, lengths: ipo_loss(lp, ref, cfg.beta, lengths=lengths), cfg, True)


def _dpo(x: LossInputs, cfg: Any) -> torch.Tensor:
    return _over_ranked_pairs(x, lambda lp, ref: dpo_loss(lp, ref, cfg.beta), cfg)


def _pg_baseline(x: LossInputs, cfg: Any) -> str | torch.Tensor:
    if cfg.pg_baseline != "batch":
        return cfg.pg_baseline  # "none" (b = 0), "mean" (per prompt), "loo": computed inside pg_loss
    # b = mean of R_β over every completion of the batch (one number, as a [B] tensor); data, no gradient
    reg = regularized_reward(x.logps.detach(), x.ref_logps, x.rewards, cfg.beta)  # [B, M]
    return reg.mean().expand(reg.shape[0])  # [B]


def _pg_rewards(x: LossInputs, cfg: Any) -> torch.Tensor:
    # The paper's naive PG (b = 0) weights by the raw reward: a standardised dataset's centring would be a mean
    # baseline in disguise, so b = 0 adds the dataset mean back (in s.d. units); other baselines are shift-invariant.
    if cfg.pg_baseline == "none" and x.reward_offset is not None:
        return x.rewards + x.reward_offset[:, None]  # [B, M]
    return x.rewards


def _pg(x: LossInputs, cfg: Any) -> torch.Tensor:
    return pg_loss(x.logps, x.ref_logps, _pg_rewards(x, cfg), cfg.beta, baseline=_pg_baseline(x, cfg))


def _pg_is(x: LossInputs, cfg: Any) -> torch.Tensor:
    return pg_loss(
        x.logps,
        x.ref_logps,
        _pg_rewards(x, cfg),
        cfg.beta,
        baseline=_pg_baseline(x, cfg),
        behaviour_logps=x.behaviour_logps,
        clip=cfg.is_clip,
    )


METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        Method(
            "copg", "CoPG on all k completions of a prompt (k-way, leave-one-out baseline)", _all_columns, _copg, 2
        ),
        Method(
            "copg_pair", "CoPG on one random unranked pair per prompt (the paper's pair loss)", _random_pair, _copg, 2
        ),
        Method(
            "ipo", "IPO on every reward-ranked pair of the k, sequence-summed log-ratios", _all_columns, _ipo_sum, 2
        ),
        Method(
            "ipo_mean",
            "IPO on every reward-ranked pair, per-token mean log-ratios (TRL's DPOTrainer loss_type='ipo')",
            _all_columns,
            _ipo_mean,
            2,
        ),
        Method("dpo", "DPO on every reward-ranked pair of the k (ranked by the same reward)", _all_columns, _dpo, 2),
        Method("pg", "naive off-policy policy gradient, no importance sampling (biased)", _all_columns, _pg, 1),
        Method(
            "pg_is", "importance-sampled policy gradient with the behaviour log-probs", _known_behaviour, _pg_is, 1
        ),
        Method(
            "online",
            "on-policy CoPG on fresh samples of π (= RLOO), optionally mixed with offline data",
            _all_columns,
            _copg,
            1,
            online=True,
        ),
    ]
}


def get_method(name: str) -> Method:
    """The :class:`Method` called ``name``; ValueError listing the choices otherwise."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def gather(values: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """values[b, cols[b]]: [B, K] × [B, M] → [B, M] (``gather_pairs`` for M = 2)."""
    return gather_pairs(values, cols) if cols.shape[1] == 2 else values.gather(1, cols)


# ----------------------------------------------------------------------------------------------------------------
# The CoPG family under other names (docs/theory.md, "One loss under many names"): each row calls bandit.losses.
# QRPO and A*-PO need rewards of samples of π_ref: the prompt's own k completions stand in for them (exact only when
# the dataset's completions are samples of π_ref at T = 1).
# ----------------------------------------------------------------------------------------------------------------


def _rebel(x: LossInputs, cfg: Any) -> torch.Tensor:
    return rebel_loss(x.logps, x.ref_logps, x.rewards, cfg.beta)


def _rpo_sq(x: LossInputs, cfg: Any) -> torch.Tensor:
    return rpo_sq_loss(x.logps, x.ref_logps, x.rewards, cfg.beta, reward_scale=1.0)


def _qrpo_rebel(x: LossInputs, cfg: Any) -> torch.Tensor:
    return qrpo_rebel_loss(x.logps, x.ref_logps, x.rewards, cfg.beta)


def _command_a(x: LossInputs, cfg: Any) -> torch.Tensor:
    return command_a_loss(x.logps, x.ref_logps, x.rewards, cfg.beta)


def _qrpo(x: LossInputs, cfg: Any) -> torch.Tensor:
    return qrpo_loss(x.logps, x.ref_logps, x.rewards, x.rewards, cfg.beta)  # reference rewards: the k completions


def _apo(x: LossInputs, cfg: Any) -> torch.Tensor:
    return apo_loss(x.logps, x.ref_logps, x.rewards, x.rewards, cfg.beta)  # V̂* from the k completions, β₁ = β₂ = β


for _m in (
    Method("rebel", "compose-rl rebel / REBEL (β = 1/η), random pair: (β·h − ΔR)² = 2β·CoPG", _random_pair, _rebel, 2),
    Method("rpo_sq", "NeMo-Aligner rpo_sq (η = 1), random pair: (β·h − ΔR)² = 2β·CoPG", _random_pair, _rpo_sq, 2),
    Method("qrpo_rebel", "QRPO repo rebel, random pair: (ΔR/β − h)² = (2/β)·CoPG", _random_pair, _qrpo_rebel, 2),
    Method("command_a", "Command A k-sample CoPG, all k: 1/(k−1)·Σ(ΔR_β)² = βk·CoPG", _all_columns, _command_a, 2),
    Method("qrpo", "QRPO, all k, quantiles against the prompt's own k rewards (not π*)", _all_columns, _qrpo, 2),
    Method("apo", "A*-PO offline, all k, V̂* from the prompt's own k rewards (biased)", _all_columns, _apo, 2),
):  # fmt: skip
    METHODS[_m.name] = _m
del _m
