"""Sequence log-probabilities: the one function that turns a causal LM into the ``logps`` every loss takes.

Used everywhere in the LLM lab (reference, behaviour and policy log-probs), so they are computed identically.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

__all__ = [
    "token_logps",
    "sequence_logps",
    "completion_logits",
    "position_ids_from_mask",
    "cache_kwarg",
    "cache_of",
]


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that ignore padding: 0 at the first real token whatever the padding side. [N, T] → [N, T]."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def token_logps(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Per-token ln π(x_t | x_<t) for t = 1..T−1 of every row.

    Args:
        model: a causal LM returning ``.logits`` of shape [N, T, V].
        input_ids: [N, T] prompt + completion (+ padding on either side).
        attention_mask: [N, T] 1 on real tokens, 0 on padding.
    Returns:
        [N, T−1] log-prob of token t+1 given the tokens up to t (entry t predicts ``input_ids[:, t + 1]``).
    """
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids_from_mask(attention_mask)
    ).logits  # (N, T, V)
    n, t, v = logits.shape
    # Shift the targets, not the logits (as transformers' causal-LM loss does): the [N, T, V] logits stay one
    # contiguous tensor and the fused cross-entropy kernel computes ln softmax at the target without materialising
    # the log-softmax (measured 2.1x faster fwd+bwd than gather - logsumexp on a [16, 112, 8192] CPU batch).
    targets = torch.nn.functional.pad(input_ids[:, 1:], (0, 1), value=-100)  # (N, T): position t predicts t+1
    nll = torch.nn.functional.cross_entropy(
        logits.float().reshape(n * t, v), targets.reshape(n * t), reduction="none", ignore_index=-100
    )  # (N·T,) −ln softmax(logits)[target]; 0 at the padded last position
    return -nll.view(n, t)[:, :-1]  # (N, T-1)


def _trunk_and_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """``(trunk, head)`` with ``logits = head(trunk(...).last_hidden_state)`` (+ the model's
    ``position_logit_bias(positions)`` where it declares one) for a plain transformers causal LM (GPT-2, Llama,
    SmolLM2, …); None where that is not known to hold (wrappers, subclasses that override ``forward`` for another
    reason, logit soft-capping or scaling).

    A subclass whose ``forward`` only adds a fixed logit term per absolute position (the bridge's ``EnumerableGPT2``:
    a mask of the tokens allowed at each position) declares it as ``position_logit_bias(positions [...]) -> [..., V]``;
    :func:`completion_logits` adds it after the head, so such a model gets the shared-prompt trunk too.
    """
    own_forward = not getattr(type(model).forward, "__module__", "").startswith("transformers.")
    if own_forward and not callable(getattr(model, "position_logit_bias", None)):
        return None  # a subclass with its own forward: its logits are not known to be trunk + head
    base = getattr(model, "base_model", None)
    get_head = getattr(model, "get_output_embeddings", None)
    config = getattr(model, "config", None)
    if base is None or base is model or get_head is None or config is None:
        return None
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    head = get_head()
    return (base, head) if isinstance(head, torch.nn.Linear) else None


def cache_kwarg(model: Any) -> str:
    """Name of the KV-cache argument of ``model.forward``: ``cache`` from transformers 5.24 (GPT-2, Llama, …),
    ``past_key_values`` before (and for models not yet renamed)."""
    forward = getattr(model, "module", model).forward  # unwrap DDP / accelerate wrappers
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def cache_of(out: Any) -> Any:
    """The KV cache of a forward output, under either name (see :func:`cache_kwarg`)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _shared_prompt_hidden(
    trunk: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_mask: torch.Tensor
) -> torch.Tensor | None:
    """Hidden states [M, d] at the M positions that predict a completion token, each distinct prompt run once.

    Batches of the lab hold k completions per prompt (training rows, evaluation samples), so most of a plain
    forward recomputes the same prompt k times. Causal attention makes a prompt's keys and values independent of
    what follows, so the distinct prompts are run once (left-padded, with the KV cache), the cache is copied per row
    (an index operation: gradients flow back through it) and the completion tokens attend to it: the same function
    of the parameters as the plain forward, with P·(N − U) fewer token positions (P prompt tokens, U distinct
    prompts among N rows). Returns None when every prompt is distinct (nothing to share).
    """
    real = attention_mask.bool()
    comp = completion_mask.bool()
    prompt_part = real & ~comp
    rows_p = [tuple(r[m].tolist()) for r, m in zip(input_ids, prompt_part)]  # each row's prompt ids
    index: dict[tuple[int, ...], int] = {}
    inverse = torch.tensor([index.setdefault(p, len(index)) for p in rows_p], device=input_ids.device)  # (N,)
    if len(index) == len(rows_p) or min(len(p) for p in index) == 0:
        return None  # nothing shared (or a row without prompt: no position predicts its first token)
    device, pad = input_ids.device, 0
    uniq = list(index)
    P = max(len(p) for p in uniq)
    prompt_ids = torch.full((len(uniq), P), pad, dtype=input_ids.dtype, device=device)  # (U, P) left-padded
    prompt_mask = torch.zeros((len(uniq), P), dtype=attention_mask.dtype, device=device)  # (U, P)
    for u, p in enumerate(uniq):
        prompt_ids[u, P - len(p) :] = torch.tensor(p, dtype=input_ids.dtype, device=device)
        prompt_mask[u, P - len(p) :] = 1
    lc = comp.sum(1)  # (N,) completion lengths
    C = int(lc.max())
    comp_ids = torch.full((input_ids.shape[0], C), pad, dtype=input_ids.dtype, device=device)  # (N, C) right-padded
    comp_mask = (torch.arange(C, device=device)[None, :] < lc[:, None]).to(attention_mask.dtype)  # (N, C)
    comp_ids[comp_mask.bool()] = input_ids[comp]  # row-major: each row's completion tokens in order
    lp = prompt_part.sum(1)  # (N,) prompt lengths
    # positions continue the prompt's; padded completion positions repeat the row's last position (their outputs are
    # never read, and they stay below n_positions since the plain batch fitted)
    comp_pos = torch.minimum(lp[:, None] + torch.arange(C, device=device)[None, :], (lp + lc - 1)[:, None])
    head = trunk(
        input_ids=prompt_ids,
        attention_mask=prompt_mask,
        position_ids=position_ids_from_mask(prompt_mask),
        use_cache=True,
    )  # (U, P, d) and the cache of the distinct prompts
    cache = cache_of(head)
    cache.batch_select_indices(inverse)  # (N, H, P, d) per layer: each row's prompt
    tail = trunk(
        input_ids=comp_ids,
        attention_mask=torch.cat([prompt_mask[inverse], comp_mask], dim=1),
        position_ids=comp_pos,
        use_cache=False,
        **{cache_kwarg(trunk): cache},
    ).last_hidden_state  # (N, C, d)
    # completion token 0 is predicted by the prompt's last position, token j ≥ 1 by completion position j − 1
    pred = torch.cat([head.last_hidden_state[:, -1][inverse][:, None], tail[:, :-1]], dim=1)  # (N, C, d)
    return pred[comp_mask.bool()]  # (M, d), row-major like the plain path


def completion_logits(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
    shared_prompts: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Next-token logits at the M positions that predict a completion token, their targets and rows.

    The LM head runs on those M positions only (the prompt's positions need no vocabulary projection): for the
    lab's prompts of ≈ 80 tokens and completions of ≈ 20 that is ≈ 4× fewer [d, V] products than ``model(...)``.
    When several rows share a prompt (``shared_prompts``, the default), each distinct prompt is run once
    (:func:`_shared_prompt_hidden`). Models whose head is not a plain linear map of the trunk's last hidden state
    fall back to the plain forward with full logits. A model's ``position_logit_bias`` (see :func:`_trunk_and_head`)
    is added to the head's logits at each position's absolute position id.

    Returns:
        ``(logits [M, V] float32, targets [M], rows [M])``: position m predicts ``targets[m]`` in row ``rows[m]``,
        in row-major order (row by row, positions increasing).
    """
    pred = completion_mask[:, 1:].bool()  # (N, T-1): position t predicts token t+1
    targets = input_ids[:, 1:][pred]  # (M,)
    rows = pred.nonzero()[:, 0]  # (M,)
    position_ids = position_ids_from_mask(attention_mask)
    split = _trunk_and_head(model)
    if split is None:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        return logits[:, :-1][pred].float(), targets, rows
    trunk, head = split
    hidden = _shared_prompt_hidden(trunk, input_ids, attention_mask, completion_mask) if shared_prompts else None
    if hidden is None:
        out = trunk(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        hidden = out.last_hidden_state[:, :-1][pred]  # (M, d)
    logits = head(hidden)  # (M, V)
    bias = getattr(model, "position_logit_bias", None)
    if bias is not None:
        logits = logits + bias(position_ids[:, :-1][pred]).to(logits.dtype)  # the mask at each predicting position
    return logits.float(), targets, rows  # (M, V)


def sequence_logps(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
    reduction: str = "sum",
) -> torch.Tensor:
    """ln π(completion | prompt) = Σ_t ln π(y_t | x, y_<t) over completion tokens only.

    Prompt tokens and padding never contribute; the EOS token counts when it is part of the completion mask (the
    collator in ``llm`` always appends EOS to a completion and marks it, so termination is scored consistently).

    Args:
        model: causal LM (``GPT2LMHeadModel`` or any ``AutoModelForCausalLM``).
        input_ids: [N, T] prompt + completion, padded left or right.
        attention_mask: [N, T] 1 on real tokens.
        completion_mask: [N, T] 1 on completion tokens (never on the first position), 0 on prompt and padding.
        reduction: ``"sum"`` (sequence log-prob, what the losses expect) or ``"mean"`` (per-token average, TRL's IPO).
    Returns:
        [N] sequence log-probs (differentiable through the model).
    """
    if input_ids.shape != attention_mask.shape or input_ids.shape != completion_mask.shape:
        raise ValueError(
            f"sequence_logps: input_ids {tuple(input_ids.shape)}, attention_mask {tuple(attention_mask.shape)} and "
            f"completion_mask {tuple(completion_mask.shape)} must have one [N, T] shape"
        )
    mask = completion_mask[:, 1:].to(torch.float32)  # (N, T-1), aligned with the predicted tokens
    n_tokens = mask.sum(-1)
    if (n_tokens == 0).any():
        bad = (n_tokens == 0).nonzero().flatten().tolist()
        raise ValueError(f"sequence_logps: rows {bad} have an empty completion mask; every completion needs ≥ 1 token")
    if (completion_mask[:, 0] != 0).any():
        raise ValueError("sequence_logps: completion_mask is 1 at position 0; a completion needs a prompt before it")
    logits, targets, rows = completion_logits(model, input_ids, attention_mask, completion_mask)  # (M, V), (M,)
    lp = -torch.nn.functional.cross_entropy(logits, targets, reduction="none")  # (M,) fused ln softmax at target
    total = torch.zeros(input_ids.shape[0], dtype=lp.dtype, device=lp.device).index_add(0, rows, lp)  # (N,)
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / n_tokens
    raise ValueError(f"sequence_logps: unknown reduction {reduction!r}; use 'sum' or 'mean'")
