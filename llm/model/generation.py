"""Sampling and scoring with a causal LM: pure temperature sampling and log-probs under softmax(logits / T).

``generate`` samples token by token from softmax(logits / T) (no top-k, no top-p, no repetition penalty), so the
behaviour policy μ_T of a sampled completion is exactly ``TemperatureScaled(model, T)`` and
``completion_logps(..., temperature=T)`` is ln μ_T(y|x). T = 0 means greedy decoding (its μ is a point mass; use
T = 1 to score it).

Sampled completions are kept as their token ids (``generate(..., return_ids=True)``) and scored from them
(``completion_logps(..., completion_ids=..., truncated=...)``): the decoded text is for display and for text scorers
(the reward model, ROUGE), since decode → re-encode does not return the sampled ids. A completion that hit the budget
without EOS is *truncated*: it is scored without EOS (see ``llm.data.batching``).
"""

from __future__ import annotations

import inspect
import types
from typing import Any

import torch

from bandit.progress import progress as progress_bar
from llm.data.batching import collate, encode_prompts
from llm.model.logprobs import cache_kwarg, cache_of, position_ids_from_mask, sequence_logps

__all__ = ["TemperatureScaled", "generate", "generate_with_kl", "completion_logps"]


class TemperatureScaled(torch.nn.Module):
    """A causal LM whose logits are divided by T: its softmax is the temperature-T sampling distribution μ_T."""

    def __init__(self, model: torch.nn.Module, temperature: float) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"TemperatureScaled: temperature must be > 0, got {temperature}")
        self.model = model
        self.temperature = float(temperature)

    def forward(self, **kwargs: Any) -> Any:
        logits = self.model(**kwargs).logits  # (N, T, V)
        return types.SimpleNamespace(logits=logits / self.temperature)


def _fit_text(tokenizer: Any, text: str, budget: int) -> str:
    """``text`` cut so that it re-encodes to ≤ ``budget`` tokens (decode → encode need not round-trip: a partial
    UTF-8 byte decodes to U+FFFD, which re-encodes as 3 bytes)."""
    for _ in range(4):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= budget:
            return text
        text = tokenizer.decode(ids[:budget], skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return ""


def _device(model: Any) -> torch.device:
    """The device of the model's parameters (inputs are built on the CPU and moved there)."""
    try:
        return next(model.parameters()).device
    except StopIteration:  # a parameter-free wrapper: stay on the CPU
        return torch.device("cpu")


def _length_order(lengths: list[int]) -> list[int]:
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def _last_logits(model: Any) -> dict[str, int]:
    """``{"logits_to_keep": 1}`` where ``model.forward`` accepts it (transformers causal LMs), else {}: the prompt's
    other positions need no [d, V] projection (measured: 7 of 29.5 s of an evaluation went to that projection)."""
    forward = getattr(model, "module", model).forward
    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(forward).parameters else {}


def _prefill(model: Any, prefill: dict, inverse: torch.Tensor | None) -> tuple[Any, torch.Tensor]:
    """KV cache and next-token logits [N, V] after the prompts (``inverse``: row → distinct prompt, or None)."""
    out = model(**prefill, use_cache=True, **_last_logits(model))  # the next-token logits of the last position only
    past, logits = cache_of(out), out.logits[:, -1].float()  # (U or N, V)
    if inverse is not None:
        past.batch_select_indices(inverse)  # (N, H, T0, d) per layer
        logits = logits[inverse]  # (N, V)
    return past, logits


@torch.no_grad()
def _sample_batch(
    model: Any,
    batch: dict,
    max_new_tokens: int,
    temperature: float,
    eos_id: int,
    uniforms: torch.Tensor,
    ref_model: Any = None,
) -> tuple[list[list[int]], list[bool], torch.Tensor | None]:
    """Sample each row by inverse CDF with its own uniforms (``uniforms[i, t]`` draws token t of row i).

    With ``ref_model``, π_ref runs in lockstep on the same tokens and each row's KL terms are summed over its
    sampled tokens (EOS included when sampled): ``[4, N]`` = exact Σ_t KL(π(·|x, y_<t) ‖ π_ref(·|x, y_<t)) of the
    next-token distributions of ``model`` (its softmax at T = 1), k1 = Σ_t ln π/π_ref at the sampled token,
    k3 = Σ_t (r − 1 − ln r) with r = π_ref/π there, and the number of tokens.
    """
    device = _device(model)
    input_ids, attention_mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)  # (N, T0)
    N = input_ids.shape[0]
    position_ids = position_ids_from_mask(attention_mask)  # (N, T0)
    # samples_per_prompt > 1 repeats each prompt: the prefill runs each distinct prompt once and the cache is copied
    # per row (a prompt's keys and values do not depend on the other rows)
    key = torch.cat([input_ids, attention_mask.to(input_ids.dtype)], dim=1)  # (N, 2·T0)
    uniq, inverse = torch.unique(key, dim=0, return_inverse=True)  # (U, 2·T0), (N,)
    if uniq.shape[0] < N:
        t0 = input_ids.shape[1]
        u_ids, u_mask = uniq[:, :t0], uniq[:, t0:].to(attention_mask.dtype)  # (U, T0)
        prefill = {"input_ids": u_ids, "attention_mask": u_mask, "position_ids": position_ids_from_mask(u_mask)}
    else:
        prefill, inverse = (
            {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids},
            None,
        )
    models = [model] + ([ref_model] if ref_model is not None else [])
    state = [list(_prefill(m, prefill, inverse)) for m in models]  # [cache, logits (N, V)] per model
    kw = [cache_kwarg(m) for m in models]
    kl = torch.zeros(4, N, dtype=torch.float64, device=device) if ref_model is not None else None
    next_pos = position_ids[:, -1] + 1  # (N,)
    # finished rows leave the batch (their cache rows are dropped) once a quarter of the batch has finished: the
    # decode costs about Σ lengths, not N × the longest, without copying the cache at every step
    active = torch.arange(N, device=device)  # original row of each batch row, in the cache's order
    done = torch.zeros(N, dtype=torch.bool, device=device)  # batch rows that have sampled EOS (not yet dropped)
    gen = torch.full((N, max_new_tokens), eos_id, dtype=torch.long, device=device)  # (N, max_new_tokens)
    for t in range(max_new_tokens):
        logits = state[0][1]  # (n, V)
        if temperature == 0:
            nxt = logits.argmax(-1)  # (n,)
        else:
            probs = torch.softmax(logits.double() / temperature, dim=-1)  # (n, V): the sampling distribution μ_T
            cdf = probs.cumsum(-1)  # (n, V)
            u = uniforms[active.cpu(), t].to(device, torch.float64)[:, None] * cdf[:, -1:]  # (n, 1) in [0, total)
            # first token whose cdf exceeds u: token v is drawn with probability probs[v] (zero-mass tokens never)
            nxt = torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp(max=probs.shape[-1] - 1)  # (n,)
        nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)  # finished rows: EOS, not recorded
        live = (~done).nonzero().squeeze(1)  # (n_live,) batch rows still sampling
        gen[active[live], t] = nxt[live]
        if kl is not None:
            logp, logp_ref = torch.log_softmax(logits[live], -1), torch.log_softmax(state[1][1][live], -1)  # (·, V)
            log_r = (logp_ref - logp).gather(1, nxt[live][:, None]).squeeze(1)  # ln π_ref/π at the sampled token
            rows = active[live]
            kl[0].index_add_(0, rows, (logp.exp() * (logp - logp_ref)).sum(-1).double())
            kl[1].index_add_(0, rows, -log_r.double())
            kl[2].index_add_(0, rows, (torch.exp(log_r) - 1 - log_r).double())
            kl[3].index_add_(0, rows, torch.ones_like(log_r, dtype=torch.float64))
        done = done | (nxt == eos_id)
        n_done = int(done.sum())
        if t == max_new_tokens - 1 or n_done == len(done):
            break
        if n_done * 4 >= len(done):  # drop the finished rows
            keep = (~done).nonzero().squeeze(1)  # (n',)
            for s in state:
                s[0].batch_select_indices(keep)
            active, nxt, next_pos, attention_mask = active[keep], nxt[keep], next_pos[keep], attention_mask[keep]
            done = done[keep]
        one = torch.ones(len(active), 1, dtype=attention_mask.dtype, device=device)
        attention_mask = torch.cat([attention_mask, one], dim=1)
        for s, m, k in zip(state, models, kw):
            out = m(
                input_ids=nxt[:, None],
                attention_mask=attention_mask,
                position_ids=next_pos[:, None],
                use_cache=True,
                **{k: s[0]},
            )
            s[0], s[1] = cache_of(out), out.logits[:, -1].float()
        next_pos = next_pos + 1
    gen = gen.tolist()  # (N, max_new_tokens): EOS after each row's end
    ids, truncated = [], []
    for row in gen:
        if eos_id in row:
            ids.append(row[: row.index(eos_id)])
            truncated.append(False)
        else:
            ids.append(row)
            truncated.append(True)
    return ids, truncated, kl


def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int,
    temperature: float = 1.0,
    batch_size: int = 32,
    seed: int = 0,
    max_prompt_tokens: int | None = None,
    progress: bool = False,
    return_truncated: bool = False,
    return_ids: bool = False,
) -> list[str] | tuple[list[str], list[bool]] | tuple[list[str], list[bool], list[list[int]]]:
    """Completions of ``prompts`` sampled from softmax(logits / T) (T = 0: greedy), EOS stripped.

    Each batch prefills each distinct prompt once (a prompt repeated for several samples shares its KV cache) and
    drops a row from the batch once it has sampled EOS; neither changes what is drawn (tested against one row at a
    time).

    Args:
        model: causal LM (eval mode is set here and restored after).
        tokenizer: its tokenizer (EOS = end of the completion).
        prompts: N prompt texts; truncated like ``collate`` truncates them.
        max_new_tokens: completion budget including EOS; a completion that reaches it without EOS is marked
            truncated (its ids are ``max_new_tokens`` tokens, no EOS; a finished one has ≤ max_new_tokens − 1 ids
            + EOS). Every returned text re-encodes to at most as many tokens as its ids (for text scorers).
        temperature: T ≥ 0.
        batch_size: prompts per forward pass (prompts are grouped by length).
        seed: seed of the uniforms: completion i is drawn by inverse CDF from ``uniforms[i]``, so results depend on
            the seed and the prompt's index only (not on the batch size or device), and two policies sampled with one
            seed share their random numbers (common random numbers).
        max_prompt_tokens: prompt budget in tokens (the document is truncated).
        progress: show a tqdm bar.
        return_truncated: also return N flags, True where no EOS was sampled within ``max_new_tokens``.
        return_ids: return ``(texts, truncated, ids)``: ``ids`` are the N sampled id lists (EOS stripped), the
            completions to score (``completion_logps(..., completion_ids=ids, truncated=truncated)``).
    Returns:
        N completion texts (with their leading space), ``(texts, truncated)`` or ``(texts, truncated, ids)``.
    """

    if temperature < 0:
        raise ValueError(f"generate: temperature must be ≥ 0 (0 = greedy), got {temperature}")
    if not prompts:
        return ([], [], []) if return_ids else ([], []) if return_truncated else []
    texts, trunc, sampled, _ = _generate(
        model, tokenizer, prompts, max_new_tokens, temperature, batch_size, seed, max_prompt_tokens, progress
    )
    if return_ids:
        return texts, trunc, sampled
    return (texts, trunc) if return_truncated else texts


def generate_with_kl(
    model: Any,
    ref_model: Any,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int = 32,
    seed: int = 0,
    max_prompt_tokens: int | None = None,
    progress: bool = False,
) -> tuple[list[str], list[bool], list[list[int]], dict[str, list[float]]]:
    """:func:`generate` at T = 1 (the same draws: same seed, same uniforms) with π_ref run in lockstep on the sampled
    tokens: ``(texts, truncated, ids, kl)``, ``kl`` = per-sample sums over the completion's sampled tokens (EOS
    included when sampled) of ``exact`` = KL(π(·|x, y_<t) ‖ π_ref(·|x, y_<t)) of the next-token distributions,
    ``k1`` = ln π/π_ref and ``k3`` = r − 1 − ln r (r = π_ref/π) at the sampled token, and ``length`` (tokens).

    The policy's next-token distributions are the ones it sampled from, so no second forward of the policy is run
    (``llm.model.evaluation``'s exact KL; tested against a forward on the stored ids).
    """
    if not prompts:
        return [], [], [], {"exact": [], "k1": [], "k3": [], "length": []}
    texts, trunc, sampled, kl = _generate(
        model, tokenizer, prompts, max_new_tokens, 1.0, batch_size, seed, max_prompt_tokens, progress, ref_model
    )
    return texts, trunc, sampled, kl


def _generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int,
    temperature: float,
    batch_size: int,
    seed: int,
    max_prompt_tokens: int | None,
    progress: bool,
    ref_model: Any = None,
) -> tuple[list[str], list[bool], list[list[int]], dict[str, list[float]] | None]:
    """The sampler behind :func:`generate` and :func:`generate_with_kl` (see them; they check the temperature)."""
    was_training = model.training
    model.eval()
    if ref_model is not None:
        ref_was_training = ref_model.training
        ref_model.eval()
    # common random numbers: completion i draws its token t with uniforms[i, t], whatever the batch, the order of the
    # other prompts or the policy; two policies evaluated with one seed see the same noise, so their difference is
    # mostly the policies' (the samples of similar policies coincide where their CDFs agree)
    uniforms = torch.rand(
        len(prompts), max_new_tokens, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    eos = int(tokenizer.eos_token_id)
    lens = [len(p) for p in prompts]
    order = _length_order(lens)
    texts: list[str] = [""] * len(prompts)
    trunc: list[bool] = [False] * len(prompts)
    sampled: list[list[int]] = [[] for _ in prompts]
    kl = {"exact": [0.0] * len(prompts), "k1": [0.0] * len(prompts), "k3": [0.0] * len(prompts)}
    kl["length"] = [0.0] * len(prompts)
    bar = progress_bar(total=len(prompts), desc=f"generate T={temperature:g}", disable=not progress, leave=False)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        batch = encode_prompts(tokenizer, [prompts[i] for i in idx], max_prompt_tokens)
        ids, tr, terms = _sample_batch(model, batch, max_new_tokens, temperature, eos, uniforms[idx], ref_model)
        for i, row, t in zip(idx, ids, tr):
            text = tokenizer.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False)
            texts[i] = _fit_text(tokenizer, text, len(row))  # for text scorers: no longer than what was sampled
            trunc[i] = t
            sampled[i] = row
        if terms is not None:
            for name, values in zip(("exact", "k1", "k3", "length"), terms.tolist()):
                for i, v in zip(idx, values):
                    kl[name][i] = v
        bar.update(len(idx))
    bar.close()
    model.train(was_training)
    if ref_model is not None:
        ref_model.train(ref_was_training)
    return texts, trunc, sampled, kl if ref_model is not None else None


@torch.no_grad()
def completion_logps(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    completions: list[str],
    temperature: float = 1.0,
    batch_size: int = 32,
    max_prompt_tokens: int | None = None,
    progress: bool = False,
    desc: str = "log-probs",
    completion_ids: list[list[int] | None] | None = None,
    truncated: list[bool] | None = None,
) -> torch.Tensor:
    """ln μ_T(completion + EOS | prompt) summed over completion tokens, for N pairs, without gradient.

    ``temperature = 1`` gives ln π(y|x) of the model itself (reference log-probs); T ≠ 1 gives the log-prob under
    the temperature-T sampling distribution softmax(logits / T) of :func:`generate`. Uses ``collate`` and
    ``sequence_logps(reduction="sum")``, exactly like training. ``completion_ids`` (N sampled id lists, or None
    entries for text) and ``truncated`` (N flags: no EOS appended) are passed to ``collate``: score sampled
    completions from their ids.

    Returns:
        [N] float32 tensor.
    """

    if len(prompts) != len(completions):
        raise ValueError(f"completion_logps: {len(prompts)} prompts but {len(completions)} completions")
    was_training = model.training
    model.eval()
    scorer = model if temperature == 1.0 else TemperatureScaled(model, temperature)
    out = torch.empty(len(prompts), dtype=torch.float32)
    ids_in = completion_ids if completion_ids is not None else [None] * len(prompts)
    trunc = truncated if truncated is not None else [False] * len(prompts)
    order = _length_order([len(p) + len(c) for p, c in zip(prompts, completions)])
    bar = progress_bar(total=len(prompts), desc=desc, disable=not progress, leave=False)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        batch = collate(
            tokenizer,
            [prompts[i] for i in idx],
            [completions[i] for i in idx],
            max_prompt_tokens,
            completion_ids=[ids_in[i] for i in idx],
            truncated=[trunc[i] for i in idx],
        )
        device = _device(model)
        out[idx] = sequence_logps(scorer, **{k: v.to(device) for k, v in batch.items()}).float().cpu()
        bar.update(len(idx))
    bar.close()
    model.train(was_training)
    return out
