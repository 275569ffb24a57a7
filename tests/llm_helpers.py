"""Shared helpers of the LLM tests (not a test module): tiny models, a tiny BPE and a synthetic offline dataset.

The synthetic rewards are a length score (characters / 10), a stand-in for the reward model; reference and behaviour
log-probs are computed with the reference model exactly as part 1 computes them (``completion_logps``).
"""

from __future__ import annotations

import random

import torch

WORDS = "the cat sat on a mat and dog ran far away fast slow red blue big small tree house car road".split()


def make_tokenizer():
    from llm.data.tokenizer import train_local_tokenizer

    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(12)) + "\nTL;DR:" for _ in range(200)]
    return train_local_tokenizer(texts, vocab_size=300, min_frequency=1)


def make_model(tokenizer, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        vocab_size=len(tokenizer),
        n_positions=96,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return GPT2LMHeadModel(cfg).eval()


def length_reward(prompts, completions, **kw):
    """Synthetic proxy reward: completion length in characters / 10."""
    return [len(c) / 10.0 for c in completions]


def gold_reward(prompts, completions, references=None, **kw):
    """Synthetic gold score: −|length − 20 characters| / 10 (disagrees with the proxy for long completions)."""
    return [-abs(len(c) - 20) / 10.0 for c in completions]


def make_rows(tokenizer, ref_model, n_prompts: int = 8, k: int = 3, human: bool = True, seed: int = 0) -> list[dict]:
    """Synthetic offline dataset: k−1 "sft_T1" word strings + (optionally) one "human" completion per prompt."""
    from llm.model.generation import completion_logps

    rng = random.Random(seed)
    rows = []
    for i in range(n_prompts):
        prompt = " ".join(rng.choice(WORDS) for _ in range(8)) + f" {i}\nTL;DR:"
        comps = [" " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) for _ in range(k)]
        rows.append(
            {
                "prompt": prompt,
                "completions": comps,
                "source": ["sft_T1"] * (k - 1) + (["human"] if human else ["sft_T1"]),
            }
        )
    flat_p = [r["prompt"] for r in rows for _ in range(k)]
    flat_c = [c for r in rows for c in r["completions"]]
    ref = completion_logps(ref_model, tokenizer, flat_p, flat_c, temperature=1.0).view(n_prompts, k)
    rew = length_reward(flat_p, flat_c)
    for i, r in enumerate(rows):
        r["ref_logps"] = ref[i].tolist()
        r["behaviour_logps"] = ref[i].tolist()  # sampled at T = 1 from π_ref (human: SFT log-prob, as part 1)
        r["rewards"] = rew[i * k : (i + 1) * k]
        r["reference"] = " the cat sat"
    return rows


def config(tmp_path, **kw):
    from llm.stages.train import CoPGConfig

    base = dict(
        preset="tiny",
        output_dir=str(tmp_path / "out"),
        run_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        warmup_steps=0,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        max_prompt_tokens=64,
        max_new_tokens=8,
        eval_prompts=4,
        eval_steps=1,
        report_to="none",
        seed=0,
        use_cpu=True,
        dataloader_num_workers=0,
        save_final=False,
    )
    base.update(kw)
    return CoPGConfig(**base)


def ranked_pairs_loss_by_hand(fn, logps: torch.Tensor, ref_logps: torch.Tensor, rewards: torch.Tensor, beta: float):
    """A preference loss over every pair of each prompt's k completions, the higher reward first, tied pairs left
    out, averaged per prompt then over prompts — written as loops, independently of ``llm.methods.ranked_pairs``."""
    b, k = rewards.shape
    per_prompt = []
    for row in range(b):
        terms = []
        for i in range(k):
            for j in range(i + 1, k):
                if rewards[row, i] == rewards[row, j]:
                    continue
                w, lo = (i, j) if rewards[row, i] > rewards[row, j] else (j, i)
                idx = torch.tensor([w, lo])
                terms.append(fn(logps[row, idx][None], ref_logps[row, idx][None], beta)[0])
        per_prompt.append(torch.stack(terms).mean() if terms else logps.sum() * 0)
    return torch.stack(per_prompt).mean()
