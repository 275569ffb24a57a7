"""Evaluation of a policy on held-out prompts: reward, gold score, KL(π‖π_ref) and J_β from fresh samples.

Decoding: pure temperature sampling from softmax(logits / T) (``llm.model.generation.generate``: no top-k, no
top-p), T = 1 by default, at most ``max_new_tokens`` tokens, ``samples_per_prompt`` completions per prompt, a fixed
seed whose uniforms are indexed by (prompt, sample): the same noise at every evaluation step and for every run (common
random numbers), so curves and paired differences differ by the policy, not by the draw.

KL(π‖π_ref) is estimated on those samples, only when T = 1 (then y ~ π exactly):

* ``policy/kl_exact``      Σ_t KL(π(·|x, y_<t) ‖ π_ref(·|x, y_<t)): the exact per-token KL of the next-token
  distributions along the sampled completion (its mean over y ~ π is the sequence KL; the reported KL and the one in
  J_β = E[R] − β·KL);
* ``policy/kl_to_ref``     k1 = mean over prompts of Σ_t [ln π(y_t|·) − ln π_ref(y_t|·)] (unbiased, can be < 0);
* ``policy/kl_to_ref_k3``  per-token k3 summed over the completion: Σ_t [r_t − 1 − ln r_t], r_t = π_ref/π at the
  sampled token (unbiased per token given the prefix, always ≥ 0; "Approximating KL divergence", J. Schulman).

Both sum over the sampled token ids of the completion (not its re-tokenised text) and the EOS that ended it; a
completion truncated at ``max_new_tokens`` has no EOS and sums over its tokens only (as everywhere in the lab).

The ``eval`` stage (``llm.stages.eval_policy``) runs it from the command line; the trainer and the pipeline call it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from llm.data.batching import collate
from llm.model.generation import generate, generate_with_kl
from llm.model.logprobs import completion_logits
from llm.stats import crossed_ci, mean_ci, seed_ci, standard_error  # re-exported: their old home

__all__ = ["Decoding", "evaluate_policy", "kl_terms", "mean_ci", "seed_ci", "crossed_ci", "standard_error"]


@torch.no_grad()
def kl_terms(
    policy: Any,
    ref_model: Any,
    tokenizer: Any,
    prompts: list[str],
    completions: list[str],
    batch_size: int,
    max_prompt_tokens: int | None,
    completion_ids: list[list[int]] | None = None,
    truncated: list[bool] | None = None,
) -> dict[str, list[float]]:
    """Per-sample KL terms of given completions, summed over their tokens: ``exact``, ``k1``, ``k3`` and ``length``.

    A forward of both models on the stored (prompt, completion ids) pairs. :func:`evaluate_policy` gets the same
    numbers from the sampler itself (``llm.model.generation.generate_with_kl``: π_ref in lockstep, no second forward
    of π); this function scores completions that were sampled earlier or elsewhere (tests compare the two).

    ``exact`` = Σ_t KL(π(·|x, y_<t) ‖ π_ref(·|x, y_<t)), the full next-token distributions at every position of the
    sampled completion; its mean over y ~ π is KL(π‖π_ref) of the sequence distribution (chain rule), with a smaller
    variance than k1's, which uses the sampled token only.
    """
    out: dict[str, list[float]] = {"exact": [], "k1": [], "k3": [], "length": []}
    device = next(policy.parameters()).device
    ids_in = completion_ids if completion_ids is not None else [None] * len(prompts)
    trunc = truncated if truncated is not None else [False] * len(prompts)
    for s in range(0, len(prompts), batch_size):
        sl = slice(s, s + batch_size)
        batch = collate(
            tokenizer, prompts[sl], completions[sl], max_prompt_tokens, completion_ids=ids_in[sl], truncated=trunc[sl]
        )
        batch = {k: v.to(device) for k, v in batch.items()}
        n = batch["input_ids"].shape[0]
        logits, targets, rows = completion_logits(policy, **batch)  # (M, V) at the completion's positions
        logits_ref, _, _ = completion_logits(ref_model, **batch)
        logp, logp_ref = torch.log_softmax(logits, -1), torch.log_softmax(logits_ref, -1)  # (M, V)
        exact = (logp.exp() * (logp - logp_ref)).sum(-1)  # (M,) KL of the next-token distributions
        log_r = (logp_ref - logp).gather(1, targets[:, None]).squeeze(1)  # (M,) ln π_ref/π at the sampled token

        def per_row(v: torch.Tensor, n: int = n, rows: torch.Tensor = rows) -> list[float]:
            return torch.zeros(n, dtype=v.dtype, device=v.device).index_add(0, rows, v).tolist()

        out["exact"] += per_row(exact)
        out["k1"] += per_row(-log_r)  # Σ_t ln π/π_ref
        out["k3"] += per_row(torch.exp(log_r) - 1 - log_r)  # Σ_t r − 1 − ln r
        out["length"] += per_row(torch.ones_like(exact))
    return out


def _prompt_means(values: list[float], n: int) -> list[float]:
    """Means of consecutive groups of ``n`` values (the samples of one prompt)."""
    return [sum(values[i : i + n]) / n for i in range(0, len(values), n)]


@dataclasses.dataclass(frozen=True)
class Decoding:
    """How an evaluation samples: the protocol every evaluation of a comparison shares (see the module docstring).

    Sample j of prompt i uses the uniforms of row i·samples_per_prompt + j (common random numbers across policies).
    """

    max_new_tokens: int
    """Completion budget in tokens (EOS included)."""
    temperature: float = 1.0
    """Sampling temperature T (pure sampling, no top-k/p); the KL estimators are computed only at T = 1."""
    seed: int = 1234
    """Seed of the sampling uniforms, the same at every evaluation."""
    batch_size: int = 64
    """Prompts per generation batch."""
    max_prompt_tokens: int | None = None
    """Prompt budget in tokens (the document is truncated); None = no truncation."""
    samples_per_prompt: int = 1
    """Completions sampled per prompt (≥ 1); per-prompt values are their means."""


def evaluate_policy(
    policy: Any,
    ref_model: Any,
    tokenizer: Any,
    prompts: list[str],
    references: list[str],
    reward_fn: Any,
    gold_fn: Any = None,
    *,
    decoding: Decoding,
    beta: float | None = None,
    n_samples_saved: int = 8,
    progress: bool = False,
) -> tuple[dict[str, float], dict[str, list[float]], list[dict]]:
    """Sample ``samples_per_prompt`` completions per prompt from ``policy`` and score them.

    Args:
        policy, ref_model: causal LMs (π and the frozen π_ref); ``ref_model`` may be None (no KL then).
        tokenizer: their tokenizer.
        prompts: N held-out prompts; references: N reference completions (for the gold score).
        reward_fn: the reward ``f(prompts, completions) -> list[float]`` the policy was trained on.
        gold_fn: gold score ``f(prompts, completions, references=...) -> list[float]`` or None.
        decoding: the sampling protocol (:class:`Decoding`).
        beta: if given, also report ``reward/regularised_mean`` = J_β = E[R] − β·KL(π‖π_ref) with the exact KL.
    Returns:
        ``(metrics, per_prompt, samples)``: scalar metrics (keys in the README glossary; standard errors over
        prompts), per-prompt means (``proxy``, ``gold``, ``kl_exact``, ``kl_k1``, ``kl_k3``, ``length``) for paired
        comparisons, and the first ``n_samples_saved`` (prompt, completion, scores) samples.
    """

    if len(prompts) != len(references):
        raise ValueError(f"evaluate_policy: {len(prompts)} prompts but {len(references)} references")
    if decoding.samples_per_prompt < 1:
        raise ValueError(f"evaluate_policy: samples_per_prompt must be ≥ 1, got {decoding.samples_per_prompt}")
    n = decoding.samples_per_prompt
    rep_prompts = [p for p in prompts for _ in range(n)]
    rep_refs = [r for r in references for _ in range(n)]
    max_new_tokens, temperature = decoding.max_new_tokens, decoding.temperature
    sampling = dict(
        batch_size=decoding.batch_size,
        seed=decoding.seed,
        max_prompt_tokens=decoding.max_prompt_tokens,
        progress=progress,
    )
    kl = None
    if ref_model is not None and temperature == 1.0:  # samples come from π itself: the KL estimators are valid
        # π_ref runs in lockstep with the sampler, which already holds π's next-token distributions
        completions, truncated, ids, kl = generate_with_kl(
            policy, ref_model, tokenizer, rep_prompts, max_new_tokens, **sampling
        )
    else:
        completions, truncated, ids = generate(
            policy, tokenizer, rep_prompts, max_new_tokens, temperature=temperature, return_ids=True, **sampling
        )
    per_sample: dict[str, list[float]] = {"proxy": [float(v) for v in reward_fn(rep_prompts, completions)]}
    if gold_fn is not None:
        per_sample["gold"] = [float(v) for v in gold_fn(rep_prompts, completions, references=rep_refs)]
    if ref_model is not None:  # completion length in tokens, the EOS that ended it included
        per_sample["length"] = [float(len(i) + (not tr)) for i, tr in zip(ids, truncated)]
    if kl is not None:
        per_sample.update(kl_exact=kl["exact"], kl_k1=kl["k1"], kl_k3=kl["k3"])
    per_sample["truncated"] = [float(t) for t in truncated]
    per_prompt = {key: _prompt_means(v, n) for key, v in per_sample.items()}

    metrics: dict[str, float] = {}
    names = {
        "proxy": "reward/proxy",
        "gold": "reward/gold",
        "kl_exact": "policy/kl_exact",
        "kl_k1": "policy/kl_to_ref",
        "kl_k3": "policy/kl_to_ref_k3",
        "length": "policy/length",
    }
    for key, name in names.items():
        if key in per_prompt:
            metrics[f"{name}_mean" if key in ("proxy", "gold", "length") else name] = sum(per_prompt[key]) / len(
                prompts
            )
            metrics[f"{name}_sem"] = standard_error(per_prompt[key])
    if n >= 2:  # spread of the reward between samples of one prompt (what a contrastive method learns from)
        proxy = per_sample["proxy"]
        var = [
            sum((v - m) ** 2 for v in proxy[i : i + n]) / (n - 1)
            for i, m in zip(range(0, len(proxy), n), per_prompt["proxy"])
        ]
        metrics["reward/within_prompt_sd"] = math.sqrt(sum(var) / len(var))
    if beta is not None and "kl_exact" in per_prompt:
        metrics["reward/regularised_mean"] = metrics["reward/proxy_mean"] - beta * metrics["policy/kl_exact"]
        per_prompt["regularised"] = [r - beta * k for r, k in zip(per_prompt["proxy"], per_prompt["kl_exact"])]
        metrics["reward/regularised_sem"] = standard_error(per_prompt["regularised"])
    metrics["policy/truncated_frac"] = sum(truncated) / len(truncated)
    samples = []
    for i in range(min(n_samples_saved, len(rep_prompts))):
        s = {"prompt_tail": rep_prompts[i][-160:], "completion": completions[i], "reference": rep_refs[i]}
        s.update({key: vals[i] for key, vals in per_sample.items()})
        samples.append(s)
    return metrics, per_prompt, samples
