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
from llm.model.logprobs import completion_logits, sequence_logps

__all__ = [
    "enumerate_completions",
    "enumeration_batch",
    "log_policy_table",
    "prefix_tree_table",
    "PrefixTree",
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
    eos_forced_after: int | None = None,
) -> torch.Tensor:
    """ln π(y|x) of every completion y (+ EOS) of every prompt x: ``[X, A]`` float64.

    With ``temperature`` T ≠ 1, the log-probs of the per-token temperature-T sampling distribution μ_T (what
    ``llm.model.generation.generate`` samples), via ``llm.model.generation.TemperatureScaled``. Rows of ``exp``
    sum to 1 exactly up to float32 rounding when the model puts no mass outside the enumerated set
    (``EnumerableGPT2``).

    ``eos_forced_after`` = L declares that the model emits EOS with probability exactly 1 after L completion tokens
    (``EnumerableGPT2`` with ``max_words`` = L). The table is then read off the *prefix tree*
    (:func:`prefix_tree_table`): one forward per prompt + longest needed prefix (36 instead of 258 sequences for
    6 words, L = 3), the same numbers as the plain ``sequence_logps`` path up to float32 rounding
    (tests/test_bridge.py).
    """
    if eos_forced_after is not None:
        return prefix_tree_table(model, prompt_ids, completions, eos_id, eos_forced_after, temperature, chunk)
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


class PrefixTree:
    """The forward plan of ln π(y|x) for every completion y of a model that forces EOS after L tokens.

    ln π(y|x) = Σ_j ln π(y_j | x, y_<j) + ln π(EOS | x, y) (the EOS term is 0 when |y| = L: the model's mask leaves EOS
    alone). Every next-token distribution needed is read from one forward over the *maximal* needed prefixes (a
    prefix of another needed prefix is read off that one's positions), for every prompt at once: R runs per prompt
    (36 instead of 258 sequences for 6 words, L = 3). The forward is ``llm.model.logprobs.completion_logits`` (each
    distinct prompt run once, the LM head only where a run's tokens are predicted, the model's logit mask added
    there): a run of n tokens is scored as a completion of n + 1 tokens whose last, a filler, is never read, so its
    n + 1 predicting positions are exactly the ones needed. Built once; :meth:`logps` is differentiable.
    """

    def __init__(self, completions: list[tuple[int, ...]], eos_id: int, eos_forced_after: int) -> None:
        if any(len(c) > eos_forced_after or not c for c in completions):
            raise ValueError(f"prefix_tree_table: every completion needs 1..{eos_forced_after} tokens (EOS excluded)")
        needed = {c[:j] for c in completions for j in range(len(c))} | {
            c for c in completions if len(c) < eos_forced_after
        }
        runs: list[tuple[int, ...]] = []
        where: dict[tuple[int, ...], tuple[int, int]] = {}  # prefix -> (run, its length): position P − 1 + length
        for node in sorted(needed, key=len, reverse=True):
            if node not in where:
                for j in range(len(node) + 1):
                    where.setdefault(node[:j], (len(runs), j))
                runs.append(node)
        steps = [  # the tokens each completion is scored on: (prefix, next token), + EOS unless forced
            [(c[:j], c[j]) for j in range(len(c))] + ([(c, eos_id)] if len(c) < eos_forced_after else [])
            for c in completions
        ]
        # run r's predicting positions P − 1 .. P − 1 + len(run) are rows start[r] .. start[r] + len(run) of one
        # prompt's block of completion_logits' output (row-major: run by run, positions increasing)
        start = [0]
        for node in runs:
            start.append(start[-1] + len(node) + 1)
        width = max(len(s) for s in steps)
        self.row_i = torch.zeros(len(completions), width, dtype=torch.long)  # [A, L + 1]
        self.tok_i = torch.zeros_like(self.row_i)
        self.valid = torch.zeros(self.row_i.shape, dtype=torch.float32)
        for a, s in enumerate(steps):
            for j, (node, tok) in enumerate(s):
                run, pos = where[node]
                self.row_i[a, j] = start[run] + pos
                self.tok_i[a, j], self.valid[a, j] = tok, 1.0
        self.runs, self.eos_id, self.block = runs, eos_id, start[-1]
        self._inputs: dict[tuple, dict[str, torch.Tensor]] = {}

    def _batch(self, prompt_ids: list[list[int]]) -> dict[str, torch.Tensor]:
        key = tuple(map(tuple, prompt_ids))
        if key not in self._inputs:
            p = len(prompt_ids[0])
            if any(len(q) != p for q in prompt_ids):
                raise ValueError("PrefixTree: every prompt needs the same number of tokens (pad-free prompt tree)")
            t = p + max(len(r) for r in self.runs) + 1
            ids = torch.full((len(prompt_ids), len(self.runs), t), self.eos_id, dtype=torch.long)  # [X, R, T]
            mask = torch.zeros_like(ids)
            completion = torch.zeros_like(ids)
            ids[:, :, :p] = torch.tensor(prompt_ids, dtype=torch.long)[:, None, :]
            for r, node in enumerate(self.runs):
                ids[:, r, p : p + len(node)] = torch.tensor(node, dtype=torch.long)
                mask[:, r, : p + len(node) + 1] = 1  # the run and its filler (EOS id, never read)
                completion[:, r, p : p + len(node) + 1] = 1
            flat = {"input_ids": ids, "attention_mask": mask, "completion_mask": completion}
            self._inputs[key] = {k: v.view(-1, t) for k, v in flat.items()}  # [X·R, T] each, row x·R + r
        return self._inputs[key]

    def logps(self, model: Any, prompt_ids: list[list[int]], temperature: float = 1.0) -> torch.Tensor:
        """ln π(y|x) ``[X, A]`` float32 (per-token log-probs summed in float32, as ``sequence_logps``); carries the
        gradient when the model's parameters do. ``temperature`` T ≠ 1: the per-token temperature-T sampler μ_T."""
        device = next(model.parameters()).device
        batch = {k: v.to(device) for k, v in self._batch(prompt_ids).items()}
        logits, _, _ = completion_logits(model, **batch)  # (X·block, V) float32, the mask added
        if temperature != 1.0:
            logits = logits / temperature  # the temperature-T sampler's (as llm.model.generation.TemperatureScaled)
        logp = torch.log_softmax(logits, -1).view(len(prompt_ids), self.block, -1)  # [X, block, V] next-token
        per_token = logp[:, self.row_i, self.tok_i] * self.valid.to(device)  # [X, A, L + 1]
        return per_token.sum(-1)  # [X, A]


@torch.no_grad()
def prefix_tree_table(
    model: Any,
    prompt_ids: list[list[int]],
    completions: list[tuple[int, ...]],
    eos_id: int,
    eos_forced_after: int,
    temperature: float = 1.0,
    chunk: int = 4096,
) -> torch.Tensor:
    """``log_policy_table`` for a model that forces EOS after ``eos_forced_after`` = L tokens: ``[X, A]`` float64
    (:class:`PrefixTree`; ``chunk`` is accepted for the plain path's signature and unused)."""
    was = model.training
    model.eval()
    out = PrefixTree(completions, eos_id, eos_forced_after).logps(model, prompt_ids, temperature).double().cpu()
    model.train(was)
    return out


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
