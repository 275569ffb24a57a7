"""Collator: (prompt, completion) texts → ``input_ids``, ``attention_mask``, ``completion_mask`` (``sequence_logps``).

Rules (the same for reference, behaviour and policy log-probs, for SFT and for the reward model):

* the prompt and the completion are tokenised separately (no special tokens added) and concatenated;
* a completion is either text (tokenised here) or, better, the token ids that were sampled (``completion_ids``):
  decode → re-encode does not round-trip (a few % of sampled completions re-tokenise to other ids, whose ln π
  differs by several nats), so sampled completions are scored from their own ids, end to end;
* EOS is appended to every *finished* completion and is part of the completion mask, so ln π(y|x) includes the
  probability of stopping after y (a completion that ran on past its EOS would otherwise look as likely as one that
  stopped). A completion *truncated* at the sampling budget (``truncated[i]``: no EOS was sampled) gets no EOS: the
  sampler never produced one, so its log-prob covers exactly the tokens that exist, ln π(y_1..y_n|x), the probability
  of that prefix. Appending EOS would train on a stop the behaviour policy never chose;
* the completion is never truncated here. A prompt longer than ``max_prompt_tokens`` is cut inside the *document*: with
  the template ``"{document}\\nTL;DR:"`` the head of the document is kept and the ``"\\nTL;DR:"`` suffix is kept
  whole; a prompt without that suffix keeps its last ``max_prompt_tokens`` tokens;
* an empty prompt becomes the single EOS token (it acts as BOS), so every completion has a token before it;
* padding may be on either side; masks, not the pad id, mark padding (``sequence_logps`` derives position ids from
  the attention mask, so the result does not depend on the padding side or amount).
"""

from __future__ import annotations

from typing import Any

import torch

from llm.data.corpus import PROMPT_SUFFIX, make_completion

__all__ = [
    "prompt_token_ids",
    "completion_token_ids",
    "collate",
    "encode_prompts",
    "pad_left",
    "fits_completion_budget",
]


def _encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def _eos_id(tokenizer: Any) -> int:
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("collate: the tokenizer has no eos_token; load it with llm.data.tokenizer.load_tokenizer")
    return int(eos)


def prompt_token_ids(tokenizer: Any, prompts: list[str], max_prompt_tokens: int | None = None) -> list[list[int]]:
    """Token ids of each prompt, the document truncated so the prompt has ≤ ``max_prompt_tokens`` tokens.

    Args:
        tokenizer: a Hugging Face tokenizer (``llm.data.tokenizer.load_tokenizer``).
        prompts: N prompt texts, usually ``make_prompt(document)``.
        max_prompt_tokens: prompt budget in tokens (None = no truncation); must leave room for the suffix.
    Returns:
        N lists of ids, each non-empty.
    """
    eos = _eos_id(tokenizer)
    has_suffix = [p.endswith(PROMPT_SUFFIX) for p in prompts]
    heads = [p[: -len(PROMPT_SUFFIX)] if s else p for p, s in zip(prompts, has_suffix)]
    head_ids = _encode(tokenizer, heads)
    suffix_ids = _encode(tokenizer, [PROMPT_SUFFIX])[0]
    out = []
    for ids, s in zip(head_ids, has_suffix):
        if s:
            if max_prompt_tokens is not None:
                budget = max_prompt_tokens - len(suffix_ids)
                if budget < 1:
                    raise ValueError(
                        f"prompt_token_ids: max_prompt_tokens={max_prompt_tokens} leaves no room for a document "
                        f"before the {len(suffix_ids)}-token suffix {PROMPT_SUFFIX!r}; raise max_prompt_tokens"
                    )
                ids = ids[:budget]  # keep the head of the document (summaries favour the lead)
            ids = ids + suffix_ids
        elif max_prompt_tokens is not None and len(ids) > max_prompt_tokens:
            ids = ids[-max_prompt_tokens:]  # generic prompt: keep the part next to the completion
        out.append(ids if ids else [eos])
    return out


def completion_token_ids(
    tokenizer: Any,
    completions: list[str],
    completion_ids: list[list[int] | None] | None = None,
    truncated: list[bool] | None = None,
) -> list[list[int]]:
    """Token ids of each completion, followed by EOS unless it was truncated (never cut).

    Args:
        tokenizer: a Hugging Face tokenizer with an EOS token.
        completions: N completion texts, tokenised where ``completion_ids`` has no entry.
        completion_ids: None, or N entries: the sampled token ids (EOS excluded) or None (use the text).
        truncated: None (no completion truncated), or N flags: True = no EOS was sampled, none is appended.
    """
    eos = _eos_id(tokenizer)
    n = len(completions)
    ids_in = completion_ids if completion_ids is not None else [None] * n
    trunc = truncated if truncated is not None else [False] * n
    if len(ids_in) != n or len(trunc) != n:
        raise ValueError(
            f"completion_token_ids: {n} completions but {len(ids_in)} completion_ids and {len(trunc)} truncated "
            "flags; pass one per completion"
        )
    missing = [i for i, ids in enumerate(ids_in) if ids is None]
    encoded = dict(zip(missing, _encode(tokenizer, [completions[i] for i in missing])))
    out = []
    for i in range(n):
        ids = list(ids_in[i]) if ids_in[i] is not None else encoded[i]
        out.append(ids if trunc[i] else ids + [eos])
    return out


def collate(
    tokenizer: Any,
    prompts: list[str],
    completions: list[str],
    max_prompt_tokens: int | None = None,
    padding_side: str = "right",
    completion_ids: list[list[int] | None] | None = None,
    truncated: list[bool] | None = None,
) -> dict[str, torch.Tensor]:
    """Batch of N (prompt, completion) pairs for ``sequence_logps(model, **batch)``.

    Args:
        tokenizer: a Hugging Face tokenizer with an EOS token.
        prompts: N prompt texts (``"{document}\\nTL;DR:"``).
        completions: N completion texts (the summary with its leading space, no EOS: it is appended here).
        max_prompt_tokens: prompt budget; the document is truncated, never the completion. None = no limit.
        padding_side: ``"right"`` or ``"left"``; the log-probs do not depend on it.
        completion_ids: None, or N entries: the sampled ids of the completion (no EOS), scored instead of the
            re-tokenised text; None entries use the text (human references, user data).
        truncated: None, or N flags; a truncated completion gets no EOS (module docstring).
    Returns:
        ``input_ids`` [N, T] (long), ``attention_mask`` [N, T] (long, 1 on real tokens), ``completion_mask`` [N, T]
        (long, 1 on completion tokens and their EOS if any, 0 on prompt and padding); T = longest prompt + completion.
    """
    if len(prompts) != len(completions):
        raise ValueError(
            f"collate: {len(prompts)} prompts but {len(completions)} completions; pass one prompt per completion"
        )
    if not prompts:
        raise ValueError("collate: empty batch; pass at least one (prompt, completion) pair")
    if padding_side not in ("left", "right"):
        raise ValueError(f"collate: padding_side must be 'left' or 'right', got {padding_side!r}")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else _eos_id(tokenizer)
    p_ids = prompt_token_ids(tokenizer, prompts, max_prompt_tokens)
    c_ids = completion_token_ids(tokenizer, completions, completion_ids, truncated)
    T = max(len(p) + len(c) for p, c in zip(p_ids, c_ids))
    N = len(prompts)
    input_ids = torch.full((N, T), pad, dtype=torch.long)  # (N, T)
    attention_mask = torch.zeros((N, T), dtype=torch.long)  # (N, T)
    completion_mask = torch.zeros((N, T), dtype=torch.long)  # (N, T)
    for i, (p, c) in enumerate(zip(p_ids, c_ids)):
        L = len(p) + len(c)
        start = 0 if padding_side == "right" else T - L
        input_ids[i, start : start + L] = torch.tensor(p + c, dtype=torch.long)
        attention_mask[i, start : start + L] = 1
        completion_mask[i, start + len(p) : start + L] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}


def pad_left(seqs: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-pad id lists into ``input_ids`` [N, T] and ``attention_mask`` [N, T] (for generation)."""
    T = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        input_ids[i, T - len(s) :] = torch.tensor(s, dtype=torch.long)
        attention_mask[i, T - len(s) :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def encode_prompts(
    tokenizer: Any, prompts: list[str], max_prompt_tokens: int | None = None
) -> dict[str, torch.Tensor]:
    """Left-padded prompt batch for generation, truncated exactly as :func:`collate` truncates prompts.

    Returns ``input_ids`` [N, T] and ``attention_mask`` [N, T].
    """
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else _eos_id(tokenizer)
    return pad_left(prompt_token_ids(tokenizer, prompts, max_prompt_tokens), pad)


def fits_completion_budget(tokenizer: Any, summaries: list[str], max_completion_tokens: int) -> list[bool]:
    """For each reference summary, whether its completion (leading space + summary + EOS) fits the budget.

    Summaries are never truncated, so stages drop the pairs whose summary does not fit (and report how many).
    """

    ids = completion_token_ids(tokenizer, [make_completion(s) for s in summaries])
    return [len(i) <= max_completion_tokens for i in ids]
