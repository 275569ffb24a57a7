"""Evaluation of a policy on held-out prompts: proxy reward, gold score and KL(π‖π_ref) from fresh samples.

Decoding: pure temperature sampling from softmax(logits / T) (``llm.model.generation.generate``: no top-k, no
top-p), T = 1 by default, at most ``max_new_tokens`` tokens, one completion per prompt, a fixed seed (the same noise at
every evaluation step and for every run, so curves differ by the policy, not by the draw).

KL(π‖π_ref) is estimated on those samples, only when T = 1 (then y ~ π exactly):

* ``policy/kl_to_ref``     k1 = mean over prompts of Σ_t [ln π(y_t|·) − ln π_ref(y_t|·)] (unbiased, can be < 0);
* ``policy/kl_to_ref_k3``  per-token k3 summed over the completion: Σ_t [r_t − 1 − ln r_t], r_t = π_ref/π at the
  sampled token (unbiased per token given the prefix, always ≥ 0; "Approximating KL divergence", J. Schulman).

Both sum over the sampled token ids of the completion (not its re-tokenised text) and the EOS that ended it; a
completion truncated at ``max_new_tokens`` has no EOS and sums over its tokens only (as everywhere in the lab).

The ``eval`` stage (``llm.stages.evaluate``) runs it from the command line; the trainer and the pipeline call it.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from llm.data.batching import collate
from llm.model.generation import generate
from llm.model.logprobs import token_logps

__all__ = ["evaluate_policy", "mean_ci", "seed_ci", "standard_error"]


def standard_error(values: list[float]) -> float:
    """Standard error of the mean, std(values, ddof=1)/√n (0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1) / n)


def mean_ci(values: list[float], level: float = 0.95) -> dict[str, float | int | bool]:
    """Mean of ``values`` with a Student-t confidence interval: ``{mean, sem, low, high, n, significant}``.

    ``significant`` is True when the interval excludes 0 (for paired differences: the two runs differ at this level).
    Fewer than two values give an infinite interval, never a verdict.
    """
    n = len(values)
    mean = sum(values) / n if n else float("nan")
    sem = standard_error(values)
    if n < 2:
        return {"mean": mean, "sem": sem, "low": -math.inf, "high": math.inf, "n": n, "significant": False}
    from scipy.stats import t  # heavy: imported only when an interval is asked for

    half = float(t.ppf(0.5 + level / 2, n - 1)) * sem
    low, high = mean - half, mean + half
    return {"mean": mean, "sem": sem, "low": low, "high": high, "n": n, "significant": bool(low > 0 or high < 0)}


def seed_ci(values: list[float]) -> dict[str, Any]:
    """``{mean, ci95, n, values}``: the mean over seeds with the half-width of its 95 % Student-t interval.

    The half-width is 0 for a single value (a figure draws no band then; :func:`mean_ci` gives no verdict).
    """
    ci = mean_ci(values)
    half = ci["high"] - ci["mean"] if ci["n"] >= 2 else 0.0
    return {"mean": ci["mean"], "ci95": half, "n": ci["n"], "values": list(values)}


@torch.no_grad()
def _kl_terms(
    policy: Any,
    ref_model: Any,
    tokenizer: Any,
    prompts: list[str],
    completions: list[str],
    batch_size: int,
    max_prompt_tokens: int | None,
    completion_ids: list[list[int]] | None = None,
    truncated: list[bool] | None = None,
) -> tuple[list[float], list[float], list[int]]:
    """Per-sample k1 and k3 sums over completion tokens and the completion lengths (tokens incl. any EOS)."""

    k1, k3, lengths = [], [], []
    device = next(policy.parameters()).device
    ids_in = completion_ids if completion_ids is not None else [None] * len(prompts)
    trunc = truncated if truncated is not None else [False] * len(prompts)
    for s in range(0, len(prompts), batch_size):
        sl = slice(s, s + batch_size)
        batch = collate(
            tokenizer, prompts[sl], completions[sl], max_prompt_tokens, completion_ids=ids_in[sl], truncated=trunc[sl]
        )
        batch = {k: v.to(device) for k, v in batch.items()}
        mask = batch["completion_mask"][:, 1:].float()  # (N, T-1) aligned with predicted tokens
        lp = token_logps(policy, batch["input_ids"], batch["attention_mask"])  # (N, T-1) ln π(y_t|·)
        lp_ref = token_logps(ref_model, batch["input_ids"], batch["attention_mask"])  # (N, T-1) ln π_ref(y_t|·)
        log_r = (lp_ref - lp) * mask  # ln(π_ref/π) per token, 0 off the completion
        k1 += (-log_r).sum(-1).tolist()  # Σ_t ln π/π_ref
        k3 += ((torch.exp(log_r) - 1 - log_r) * mask).sum(-1).tolist()  # Σ_t r − 1 − ln r
        lengths += mask.sum(-1).long().tolist()
    return k1, k3, lengths


def evaluate_policy(
    policy: Any,
    ref_model: Any,
    tokenizer: Any,
    prompts: list[str],
    references: list[str],
    reward_fn: Any,
    gold_fn: Any = None,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    seed: int = 1234,
    batch_size: int = 64,
    max_prompt_tokens: int | None = None,
    beta: float | None = None,
    n_samples_saved: int = 8,
    progress: bool = False,
) -> tuple[dict[str, float], dict[str, list[float]], list[dict]]:
    """Sample one completion per prompt from ``policy`` and score it.

    Args:
        policy, ref_model: causal LMs (π and the frozen π_ref); ``ref_model`` may be None (no KL then).
        tokenizer: their tokenizer.
        prompts: N held-out prompts; references: N reference completions (for the gold score).
        reward_fn: proxy reward ``f(prompts, completions) -> list[float]`` (the reward model).
        gold_fn: gold score ``f(prompts, completions, references=...) -> list[float]`` or None.
        max_new_tokens, temperature, seed, batch_size, max_prompt_tokens: decoding (see the module docstring).
        beta: if given, also report ``reward/regularised_mean`` = proxy mean − β·k1 KL.
    Returns:
        ``(metrics, per_prompt, samples)``: scalar metrics (keys in the README glossary), per-prompt lists
        (``proxy``, ``gold``, ``kl_k1``, ``kl_k3``, ``length``) for standard errors and paired comparisons, and the
        first ``n_samples_saved`` (prompt, completion, scores) summaries.
    """

    if len(prompts) != len(references):
        raise ValueError(f"evaluate_policy: {len(prompts)} prompts but {len(references)} references")
    completions, truncated, ids = generate(
        policy,
        tokenizer,
        prompts,
        max_new_tokens,
        temperature=temperature,
        batch_size=batch_size,
        seed=seed,
        max_prompt_tokens=max_prompt_tokens,
        progress=progress,
        return_ids=True,
    )
    proxy = [float(v) for v in reward_fn(prompts, completions)]
    per_prompt: dict[str, list[float]] = {"proxy": proxy}
    metrics = {"reward/proxy_mean": sum(proxy) / len(proxy), "reward/proxy_sem": standard_error(proxy)}
    if gold_fn is not None:
        gold = [float(v) for v in gold_fn(prompts, completions, references=references)]
        per_prompt["gold"] = gold
        metrics.update({"reward/gold_mean": sum(gold) / len(gold), "reward/gold_sem": standard_error(gold)})
    if ref_model is not None:
        k1, k3, lengths = _kl_terms(
            policy, ref_model, tokenizer, prompts, completions, batch_size, max_prompt_tokens, ids, truncated
        )
        per_prompt["length"] = [float(n) for n in lengths]
        metrics["policy/length_mean"] = sum(lengths) / len(lengths)
        if temperature == 1.0:  # samples come from π itself: the estimators are valid
            per_prompt.update(kl_k1=k1, kl_k3=k3)
            metrics["policy/kl_to_ref"] = sum(k1) / len(k1)
            metrics["policy/kl_to_ref_sem"] = standard_error(k1)
            metrics["policy/kl_to_ref_k3"] = sum(k3) / len(k3)
            if beta is not None:
                metrics["reward/regularised_mean"] = metrics["reward/proxy_mean"] - beta * metrics["policy/kl_to_ref"]
    metrics["policy/truncated_frac"] = sum(truncated) / len(truncated)
    samples = []
    for i in range(min(n_samples_saved, len(prompts))):
        s = {"prompt_tail": prompts[i][-160:], "completion": completions[i], "reference": references[i]}
        s.update({key: vals[i] for key, vals in per_prompt.items()})
        samples.append(s)
    return metrics, per_prompt, samples
