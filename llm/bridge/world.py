"""The enumerable world of the bridge: task, tokenizer, SFT π_ref, its exact tables, and the offline dataset.

Tables are ``[X, A]`` float64 (X prompts, A completions): ln π_ref, R, and the behaviour policies μ_T (π_ref sampled
at temperature T, exactly enumerated). The offline rows are the LLM lab's JSONL format, one row per sampled pair.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import torch
from transformers import get_cosine_schedule_with_warmup

from bandit.progress import progress as progress_bar
from llm.bridge.exact import enumerate_completions, exact_metrics, log_policy_table, optimal_log_policy, reward_table
from llm.bridge.task import BridgeTask, build_policy, make_tokenizer, summary_reward
from llm.data.batching import collate
from llm.stages.sft import sft_loss
from llm.stages.train import CoPGConfig, train

__all__ = [
    "World",
    "sft_reference",
    "build_world",
    "offline_rows",
    "first_pairs",
    "empirical_mu",
    "support_mask",
    "support_mass",
]


@dataclasses.dataclass
class World:
    """Everything exact about one task instance. Tables are ``[X, A]`` float64 (X prompts, A completions)."""

    cfg: Any  # llm.bridge.experiment.BridgeConfig
    task: BridgeTask
    tokenizer: Any
    ref_model: Any
    completions: list[tuple[int, ...]]  # A word-id tuples
    texts: list[str]  # A completion texts (offline format: leading space, no EOS)
    prompts: dict[str, list[str]]  # split -> prompt texts
    prompt_ids: dict[str, list[list[int]]]
    ref_logp: dict[str, torch.Tensor]  # split -> [X, A] ln π_ref
    rewards: dict[str, torch.Tensor]  # split -> [X, A] R

    def log_policy(self, model: Any, split: str, temperature: float = 1.0) -> torch.Tensor:
        return log_policy_table(  # EnumerableGPT2 forces EOS after max_words words: read the prefix tree
            model,
            self.prompt_ids[split],
            self.completions,
            self.tokenizer.eos_token_id,
            temperature,
            eos_forced_after=self.cfg.max_words,
        )

    def metrics(self, log_pi: torch.Tensor, split: str) -> dict[str, torch.Tensor]:
        return exact_metrics(log_pi, self.ref_logp[split], self.rewards[split], self.cfg.beta)


def sft_reference(cfg: Any, task: BridgeTask, tokenizer: Any) -> tuple[Any, list[float]]:
    """π_ref: the GPT-2 after SFT on the noisy reference summaries (``llm.stages.sft.sft_loss``; AdamW, 5 % linear
    warm-up then cosine decay, ``transformers.get_cosine_schedule_with_warmup``)."""

    model = build_policy(tokenizer, cfg.task, cfg.n_layer, cfg.n_embd, cfg.n_head, seed=cfg.task_seed)
    prompts = [task.prompt(d) for d in task.sft_docs]
    comps = [task.completion(s) for s in task.sft_summaries]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.sft_lr, weight_decay=0.0)
    sched = get_cosine_schedule_with_warmup(opt, max(1, cfg.sft_steps // 20), cfg.sft_steps)
    gen = torch.Generator().manual_seed(cfg.task_seed)
    model.train()
    curve = []
    bar = progress_bar(range(cfg.sft_steps), desc="bridge SFT (π_ref)", disable=not cfg.progress, leave=False)
    for _ in bar:
        idx = torch.randint(len(prompts), (cfg.sft_batch,), generator=gen).tolist()
        batch = collate(tokenizer, [prompts[i] for i in idx], [comps[i] for i in idx])
        loss = sft_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        curve.append(round(loss.item(), 4))
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval().requires_grad_(False)
    return model, curve


def build_world(cfg: Any) -> tuple[World, dict]:
    """Task, tokenizer, SFT π_ref and its exact tables on the held-in and held-out prompts."""
    tcfg = cfg.task
    task = BridgeTask.build(tcfg, cfg.sft_docs, cfg.train_prompts, cfg.heldout_prompts, seed=cfg.task_seed)
    tok = make_tokenizer(tcfg.words)
    t0 = time.time()
    ref, curve = sft_reference(cfg, task, tok)
    sft_s = time.time() - t0
    word_ids = tok.convert_tokens_to_ids(list(tcfg.words))
    completions = enumerate_completions(word_ids, tcfg.max_words)
    words = [tuple(tok.convert_ids_to_tokens(list(c))) for c in completions]
    texts = [task.completion(w) for w in words]
    docs = {"train": task.train_docs, "heldout": task.heldout_docs}
    prompts = {s: [task.prompt(d) for d in ds] for s, ds in docs.items()}
    prompt_ids = {s: [tok(p, add_special_tokens=False)["input_ids"] for p in ps] for s, ps in prompts.items()}
    world = World(
        cfg=cfg,
        task=task,
        tokenizer=tok,
        ref_model=ref,
        completions=completions,
        texts=texts,
        prompts=prompts,
        prompt_ids=prompt_ids,
        ref_logp={},
        rewards={s: reward_table(ds, words, lambda d, y: summary_reward(d, y, tcfg)) for s, ds in docs.items()},
    )
    world.ref_logp = {s: world.log_policy(ref, s) for s in docs}
    return world, {"sft_loss_curve": curve, "sft_s": sft_s}


def offline_rows(
    world: World, t1: float, t2: float, seed: int, n: int | None = None
) -> tuple[list[dict], torch.Tensor, torch.Tensor]:
    """Rows of the offline dataset (standard format) and the empirical μ̂1, μ̂2 ``[X, A]`` of the sampled arms.

    ``n`` pairs per held-in prompt (default ``cfg.pairs_per_prompt``); rows are prompt-major and i.i.d., so the first m
    rows of each prompt are a dataset of m pairs per prompt (:func:`first_pairs`: nested datasets).

    Arms are drawn from the exact enumerated μ_T tables (the same distribution as token-by-token sampling at T),
    and ``behaviour_logps`` / ``ref_logps`` are read from the same tables: no decode/re-encode round trip.
    """
    cfg = world.cfg
    lmu = [world.log_policy(world.ref_model, "train", t) for t in (t1, t2)]  # 2 × [X, A]
    gen = torch.Generator().manual_seed(seed)
    x, a = lmu[0].shape
    n = cfg.pairs_per_prompt if n is None else n
    arms = [torch.multinomial(lm.exp().float(), n, replacement=True, generator=gen) for lm in lmu]  # 2 × [X, n]
    rows = []
    counts = [torch.zeros(x, a, dtype=torch.float64) for _ in range(2)]
    for i in range(x):
        for j in range(n):
            cols = [int(arms[0][i, j]), int(arms[1][i, j])]
            for c, arm in enumerate(cols):
                counts[c][i, arm] += 1
            rows.append(
                {
                    "prompt": world.prompts["train"][i],
                    "completions": [world.texts[arm] for arm in cols],
                    "rewards": [float(world.rewards["train"][i, arm]) for arm in cols],
                    "behaviour_logps": [float(lmu[c][i, arm]) for c, arm in enumerate(cols)],
                    "ref_logps": [float(world.ref_logp["train"][i, arm]) for arm in cols],
                    "source": [f"ref_T{t1:g}", f"ref_T{t2:g}"],
                    "completion_ids": [list(world.completions[arm]) for arm in cols],  # scored as sampled
                    "arm_ids": cols,
                    "prompt_index": i,
                }
            )
    return rows, counts[0] / n, counts[1] / n


def first_pairs(rows: list[dict], m: int) -> list[dict]:
    """The rows of the first ``m`` pairs of every prompt (``rows`` from :func:`offline_rows`, prompt-major)."""
    seen: dict[int, int] = {}
    out = []
    for r in rows:
        k = seen.get(r["prompt_index"], 0)
        if k < m:
            out.append(r)
        seen[r["prompt_index"]] = k + 1
    return out


def empirical_mu(rows: list[dict], shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """μ̂1, μ̂2 ``[X, A]`` float64: each column's sample frequencies per prompt."""
    counts = torch.zeros(2, *shape, dtype=torch.float64)
    for r in rows:
        for c, arm in enumerate(r["arm_ids"]):
            counts[c, r["prompt_index"], arm] += 1
    counts /= counts.sum(-1, keepdim=True).clamp_min(1)
    return counts[0], counts[1]


def support_mask(rows: list[dict], shape: tuple[int, int]) -> torch.Tensor:
    """S: [X, A] bool, True on the completions the dataset sampled at least once for the prompt."""
    s = torch.zeros(shape, dtype=torch.bool)
    for r in rows:
        for arm in r["arm_ids"]:
            s[r["prompt_index"], arm] = True
    return s


def support_mass(world: World, support: torch.Tensor) -> torch.Tensor:
    """π*'s mass on S per held-in prompt: ``[X]`` (Theorem 1 needs it near 1)."""
    star = optimal_log_policy(world.ref_logp["train"], world.rewards["train"], world.cfg.beta).exp()
    return (star * support).sum(-1)


def train_from_reference(world: Any, args: CoPGConfig, rows: list[dict], callback: Any) -> Any:
    """A copy of ``world.ref_model`` trained by the lab's trainer on offline ``rows`` (the task's reward for online
    methods), π_ref as the reference; returns the trained model (the exact bridge's panel b and the middle rung)."""
    model = copy.deepcopy(world.ref_model).requires_grad_(True).train()
    train(
        args,
        model=model,
        ref_model=world.ref_model,
        tokenizer=world.tokenizer,
        train_rows=rows,
        reward_fn=world.task.reward_fn,
        callbacks=[callback],
    )
    return model
