"""Exact enumeration: every completion of every prompt, its log-probability, π*, J_β, KL and regret.

The completions of a prompt are the arms of a bandit (``bandit.problem``): one batched ``sequence_logps`` over all
A completions gives π(·|x) exactly, and then, per prompt x,

    π*(y|x)   = π_ref(y|x)·exp(R(x, y)/β) / Z*(x)                         (paper App. A, Eq. 29)
    J_β(π)    = Σ_y π(y|x)·R(x, y) − β·KL(π(·|x)‖π_ref(·|x))               (paper Sec. 2)
    regret(π) = J_β(π*) − J_β(π) = β·KL(π(·|x)‖π*(·|x))                   (docs/theory.md; tested)

Tensors are ``[X, A]`` (X prompts, A completions), float64. Averages over prompts weight them equally (ρ uniform).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from bandit.problem import BanditProblem, kl_divergence
from llm.model.generation import TemperatureScaled
from llm.model.logprobs import sequence_logps

__all__ = [
    "enumerate_completions",
    "enumeration_batch",
    "log_policy_table",
    "optimal_log_policy",
    "objective",
    "exact_metrics",
    "bandit_problem",
    "reward_table",
]


def enumerate_completions(word_ids: list[int], max_words: int) -> list[tuple[int, ...]]:
    """All word-id sequences of length 1..``max_words`` (EOS not included), shortest first, lexicographic."""
    out: list[tuple[int, ...]] = []
    for n in range(1, max_words + 1):
        out.extend(itertools.product(word_ids, repeat=n))
    return out


def enumeration_batch(
    prompt_ids: list[int], completions: list[tuple[int, ...]], eos_id: int
) -> dict[str, torch.Tensor]:
    """``sequence_logps`` inputs for one prompt × all completions (+ EOS), right-padded: ``[A, P + L + 1]`` each."""
    p = len(prompt_ids)
    t = p + max(len(c) for c in completions) + 1
    a = len(completions)
    input_ids = torch.full((a, t), eos_id, dtype=torch.long)
    attention_mask = torch.zeros((a, t), dtype=torch.long)
    completion_mask = torch.zeros((a, t), dtype=torch.long)
    input_ids[:, :p] = torch.tensor(prompt_ids, dtype=torch.long)
    attention_mask[:, :p] = 1
    for i, c in enumerate(completions):
        n = len(c) + 1
        input_ids[i, p : p + n] = torch.tensor([*c, eos_id], dtype=torch.long)
        attention_mask[i, p : p + n] = 1
        completion_mask[i, p : p + n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}


@torch.no_grad()
def log_policy_table(
    model: Any,
    prompt_ids: list[list[int]],
    completions: list[tuple[int, ...]],
    eos_id: int,
    temperature: float = 1.0,
    chunk: int = 4096,
) -> torch.Tensor:
    """ln π(y|x) of every completion y (+ EOS) of every prompt x: ``[X, A]`` float64.

    With ``temperature`` T ≠ 1, the log-probs of the per-token temperature-T sampling distribution μ_T (what
    ``llm.model.generation.generate`` samples), via ``llm.model.generation.TemperatureScaled``. Rows of ``exp``
    sum to 1 exactly up to float32 rounding when the model puts no mass outside the enumerated set
    (``EnumerableGPT2``).
    """
    was = model.training
    model.eval()
    scorer = model if temperature == 1.0 else TemperatureScaled(model, temperature)
    rows = []
    batches = [enumeration_batch(p, completions, eos_id) for p in prompt_ids]
    flat = {k: torch.cat([b[k] for b in batches]) for k in batches[0]}  # [X·A, T]
    device = next(model.parameters()).device
    out = []
    for s in range(0, flat["input_ids"].shape[0], chunk):
        part = {k: v[s : s + chunk].to(device) for k, v in flat.items()}
        out.append(sequence_logps(scorer, **part).double().cpu())
    rows = torch.cat(out).view(len(prompt_ids), len(completions))
    model.train(was)
    return rows


def reward_table(documents: list[list[str]], completions_words: list[tuple[str, ...]], reward: Any) -> torch.Tensor:
    """R(x, y) for every document x and completion y: ``[X, A]`` float64 (``reward(document, words)``)."""
    return torch.tensor([[reward(d, list(c)) for c in completions_words] for d in documents], dtype=torch.float64)


def optimal_log_policy(ref_log_policy: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """ln π*(·|x) = ln softmax(ln π_ref + R/β) per prompt: ``[X, A]`` → ``[X, A]``."""
    return torch.log_softmax(ref_log_policy + rewards / beta, dim=-1)


def objective(pi: torch.Tensor, ref_policy: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """J_β(π) per prompt = Σ_y π·R − β·KL(π‖π_ref): ``[X, A]`` → ``[X]`` (computed directly, not via the regret)."""
    return (pi * rewards).sum(-1) - beta * kl_divergence(pi, ref_policy)


def bandit_problem(ref_log_policy: torch.Tensor, rewards: torch.Tensor, beta: float) -> BanditProblem:
    """The bandit-lab problem of one prompt: arms = completions, π_ref = the enumerated π_ref(·|x). ``[A]`` inputs."""
    ref = ref_log_policy.double().exp()
    return BanditProblem(rewards.double(), ref / ref.sum(), beta)


def exact_metrics(
    log_pi: torch.Tensor, ref_log_policy: torch.Tensor, rewards: torch.Tensor, beta: float
) -> dict[str, torch.Tensor]:
    """Exact per-prompt quantities of a policy. All inputs ``[X, A]``; every output ``[X]`` (float64).

    Returns ``policy/regret`` (β·KL(π‖π*)), ``policy/kl_to_optimum``, ``policy/kl_to_ref``, ``reward/mean``
    (E_π[R]), ``objective/J`` (J_β(π)), ``objective/J_star`` (J_β(π*) = β·ln Z*) and ``policy/mass`` (Σ_y π(y|x):
    1 when no mass leaks outside the enumerated completions).
    """
    pi = log_pi.double().exp()
    mass = pi.sum(-1)
    pi = pi / mass[:, None]
    ref = ref_log_policy.double().exp()
    ref = ref / ref.sum(-1, keepdim=True)
    log_star = optimal_log_policy(ref.log(), rewards.double(), beta)
    kl_star = kl_divergence(pi, log_star.exp())
    return {
        "policy/regret": beta * kl_star,
        "policy/kl_to_optimum": kl_star,
        "policy/kl_to_ref": kl_divergence(pi, ref),
        "reward/mean": (pi * rewards).sum(-1),
        "objective/J": objective(pi, ref, rewards.double(), beta),
        "objective/J_star": beta * torch.logsumexp(ref.log() + rewards.double() / beta, dim=-1),
        "policy/mass": mass,
    }
