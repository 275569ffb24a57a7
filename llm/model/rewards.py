"""Reward functions of the LLM lab: the gold programmatic score and the learned reward model as callables.

* Gold score: ROUGE-L F1 of the completion against the human reference (``rouge-score``, stemmed), optionally minus
  a length term ``length_weight · |words(y) − words(ref)| / words(ref)``.
* Learned RM (trained by the ``reward`` stage): the SFT model's trunk with a scalar head, read at the completion's
  final EOS token.

Any callable ``f(prompts, completions, **kw) -> list[float]`` (TRL's ``reward_funcs`` signature) is a reward; unknown
keyword arguments are ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import torch

from llm.data.batching import collate
from llm.data.corpus import SPLITS, load_split, make_completion, make_prompt
from llm.model.logprobs import position_ids_from_mask
from llm.model.models import load_reward_model
from llm.run import RunPaths

__all__ = ["RewardFn", "rouge_l", "GoldReward", "reward_scores", "RewardModelReward", "load_reward", "gold_settings"]

RewardFn = Callable[..., list[float]]
"""A reward: ``f(prompts: list[str], completions: list[str], **kw) -> list[float]``."""


# ----------------------------------------------------------------------------------------------------------------
# Gold score
# ----------------------------------------------------------------------------------------------------------------

_SCORER: Any = None


def rouge_l(references: list[str], completions: list[str]) -> list[float]:
    """ROUGE-L F1 (Porter-stemmed, ``rouge-score``) of each completion against its reference, in [0, 1]."""
    global _SCORER
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    if len(references) != len(completions):
        raise ValueError(f"rouge_l: {len(references)} references but {len(completions)} completions")
    return [float(_SCORER.score(r, c)["rougeL"].fmeasure) for r, c in zip(references, completions)]


class GoldReward:
    """Gold reward: ROUGE-L F1 against the reference summary, minus an optional relative length penalty.

    R(x, y) = ROUGE-L-F1(y, ref(x)) − length_weight · |words(y) − words(ref)| / max(words(ref), 1)

    The reference of each prompt comes from the ``references`` keyword (one per completion, as a dataset column
    would arrive in TRL) or else from the ``references`` mapping prompt → reference given at construction.
    """

    def __init__(self, references: dict[str, str] | None = None, length_weight: float = 0.0) -> None:
        self.references = dict(references or {})
        self.length_weight = float(length_weight)

    def __call__(self, prompts: list[str], completions: list[str], **kw: Any) -> list[float]:
        refs = kw.get("references", kw.get("reference"))
        if refs is None:
            missing = [p for p in prompts if p not in self.references]
            if missing:
                raise ValueError(
                    f"GoldReward: no reference for {len(missing)} prompt(s) (first: {missing[0][:60]!r}); pass "
                    "references=[...] or build GoldReward with a prompt → reference mapping"
                )
            refs = [self.references[p] for p in prompts]
        if isinstance(refs, str):
            refs = [refs] * len(completions)
        scores = rouge_l(list(refs), list(completions))
        if self.length_weight:
            for i, (r, c) in enumerate(zip(refs, completions)):
                nr, nc = len(r.split()), len(c.split())
                scores[i] -= self.length_weight * abs(nc - nr) / max(nr, 1)
        return scores


# ----------------------------------------------------------------------------------------------------------------
# Learned reward model
# ----------------------------------------------------------------------------------------------------------------


def reward_scores(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> torch.Tensor:
    """Scalar RM score of each row, read at its last real token (the completion's EOS). [N, T] → [N].

    Works for left or right padding: the trunk gets position ids from the mask, the head reads the last 1 of the mask.
    """
    hidden = model.base_model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids_from_mask(attention_mask)
    ).last_hidden_state  # (N, T, d)
    T = attention_mask.shape[1]
    last = (attention_mask * torch.arange(T, device=attention_mask.device)).argmax(-1)  # (N,) last real token
    pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # (N, d)
    return model.score(pooled).squeeze(-1).float()  # (N,)


class RewardModelReward:
    """The learned RM as a reward callable ``f(prompts, completions, **kw) -> list[float]`` (no gradient)."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 32, max_prompt_tokens: int | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_prompt_tokens = max_prompt_tokens

    @torch.no_grad()
    def __call__(self, prompts: list[str], completions: list[str], **kw: Any) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"RewardModelReward: {len(prompts)} prompts but {len(completions)} completions")
        out = [0.0] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -(len(prompts[i]) + len(completions[i])))
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            batch = collate(
                self.tokenizer, [prompts[i] for i in idx], [completions[i] for i in idx], self.max_prompt_tokens
            )
            device = next(self.model.parameters()).device  # the RM may live on a GPU; batches are built on the CPU
            batch = {k: v.to(device) for k, v in batch.items()}
            for i, v in zip(idx, reward_scores(self.model, **batch).tolist()):
                out[i] = float(v)
        return out


def gold_settings(run_dir: str | os.PathLike) -> dict:
    """``{"length_weight", "max_prompt_tokens"}`` the reward model of ``run_dir`` was trained with (saved beside it);
    ``{0.0, None}`` when no reward model was trained yet."""
    f = RunPaths(run_dir).reward_model / "reward_settings.json"
    d = json.loads(f.read_text()) if f.exists() else {}
    return {"length_weight": float(d.get("length_weight", 0.0)), "max_prompt_tokens": d.get("max_prompt_tokens")}


def load_reward(run_dir: str | os.PathLike, kind: str = "rm", batch_size: int = 32) -> RewardFn:
    """The reward callable of a run: ``"rm"`` (learned RM of ``reward/model``) or ``"gold"`` (ROUGE-L vs references).

    The gold reward knows the references of every corpus split, so it can be called with prompts only; it uses the
    length weight the RM was trained with (``gold_settings``), so gold and RM measure the same target.
    """
    paths = RunPaths(run_dir)
    settings = gold_settings(paths.root)
    if kind == "gold":
        refs = {}
        for split in SPLITS:
            for r in load_split(paths.root, split):
                refs[make_prompt(r["document"])] = make_completion(r["summary"])
        return GoldReward(refs, length_weight=settings["length_weight"])
    if kind == "rm":
        tok, model = load_reward_model(paths.root)
        return RewardModelReward(model, tok, batch_size=batch_size, max_prompt_tokens=settings["max_prompt_tokens"])
    raise ValueError(f"load_reward: kind must be 'rm' or 'gold', got {kind!r}")
