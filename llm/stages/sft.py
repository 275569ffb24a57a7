"""Stage ``sft``: language-model pretraining on the corpus documents, then supervised fine-tuning → π_ref.

1. Pretraining (models built from a preset only): next-token cross-entropy on the train documents and summaries as
   separate plain texts (shuffled, each followed by EOS, packed into windows of ``pretrain_window`` tokens); the
   document → summary pairing is left to SFT. Saved to ``sft/pretrained`` (the resume point of this stage).
2. SFT: (prompt, reference summary) pairs through ``llm.data.collate``; the loss is the mean negative log-likelihood
   of the summary tokens and their EOS only (``completion_mask``); prompt tokens never contribute.
3. The result, π_ref and the initial policy of every alignment method, is saved with ``save_pretrained``
   (safetensors) together with its tokenizer to ``sft/model``; ``sft/metrics.json`` holds the loss curves, the
   held-out SFT loss before and after SFT, and greedy sample summaries before and after SFT.

Examples:
    python -m llm sft --preset small
    python -m llm sft --preset tiny --run-dir /tmp/tiny --sft-steps 50
    python -m llm sft --preset smollm2                 # pretrained SmolLM2-135M, SFT only (`make smollm2` first)
"""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path
from typing import Any

import torch

from bandit.records import atomic_dir, atomic_write_json
from llm.data.batching import collate, fits_completion_budget
from llm.data.corpus import load_split, make_completion, make_prompt
from llm.data.tokenizer import load_tokenizer
from llm.model.generation import generate
from llm.model.logprobs import completion_logits, token_logps
from llm.model.models import (
    build_model,
    count_parameters,
    freeze_lower_blocks,
    load_pretrained_tokenizer,
)
from llm.model.optim import train_steps
from llm.presets import PRESET_ARCHITECTURES, get_preset
from llm.run import RunPaths, Stage, StageConfig, UserError, cli_errors

__all__ = ["SFTConfig", "pack_documents", "lm_loss", "sft_loss", "heldout_sft_loss", "run_sft", "main", "STAGE", "run"]


@dataclasses.dataclass(frozen=True)
class SFTConfig(StageConfig):
    """Pretrain (preset architectures) and fine-tune the reference policy π_ref."""

    model: str | None = None
    """tiny / small / gpt2 (GPT-2 built from the preset), smollm2, causal-LM dir or Hub id; default: preset."""
    pretrain_steps: int | None = None
    """LM-pretraining steps on packed documents (skipped for pretrained models); default: preset."""
    pretrain_batch: int | None = None
    """Windows of pretrain_window tokens per pretraining step; default: preset."""
    pretrain_lr: float | None = None
    """Peak AdamW learning rate of pretraining (5 % warm-up, cosine to 10 %); default: preset."""
    sft_steps: int | None = None
    """SFT steps; default: preset."""
    sft_batch: int | None = None
    """(prompt, summary) pairs per SFT step; default: preset."""
    sft_lr: float | None = None
    """Peak AdamW learning rate of SFT (5 % warm-up, cosine to 10 %); default: preset."""
    trainable_blocks: int | None = None
    """SFT trains only the top N transformer blocks + final norm (embeddings, head, lower blocks frozen); 0 = all
    parameters (pretraining always trains all); default: preset."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_prompt_tokens: int | None = None
    """Prompt budget in tokens (document truncated); default: preset."""
    eval_pairs: int = 128
    """Held-out (valid) pairs on which the SFT loss is measured before, during and after SFT."""
    eval_every: int = 50
    """Measure the held-out SFT loss every this many SFT steps."""
    n_samples: int = 4
    """Valid prompts whose greedy summaries are recorded before and after SFT."""
    seed: int = 0
    """Seed of initialisation, batch order and sampling."""
    threads: int = 1
    """torch CPU threads; 1 is fastest on a shared 2-core machine (see llm.run.torch_threads); 0 = torch's default."""

    def __post_init__(self) -> None:

        super().__post_init__()  # every None field from the preset; numeric ranges by llm.run.NUMBER_RULES
        if self.trainable_blocks < 0:
            raise UserError(f"SFTConfig: trainable_blocks must be ≥ 0 (0 = train all), got {self.trainable_blocks}")


def pack_documents(tokenizer: Any, documents: list[str], window: int) -> torch.Tensor:
    """Documents, each followed by EOS, concatenated and cut into windows: [M, window] token ids."""
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for ids in tokenizer(documents, add_special_tokens=False)["input_ids"]:
        stream.extend(ids)
        stream.append(eos)
    m = len(stream) // window
    if m == 0:
        raise UserError(f"pack_documents: {len(stream)} tokens is less than one window of {window}; corpus too small")
    return torch.tensor(stream[: m * window], dtype=torch.long).view(m, window)  # (M, window)


def lm_loss(model: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of packed windows [B, T] (pretraining)."""

    return -token_logps(model, input_ids, torch.ones_like(input_ids)).mean()


def sft_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean NLL per completion token (summary + EOS), prompt and padding masked out: Σ −ln π(y_t|…)·m_t / Σ m_t."""

    # the LM head runs on the completion positions only (measured: the SFT step 2.5× cheaper than full logits)
    logits, targets, _ = completion_logits(model, **batch)  # (M, V), (M,)
    return torch.nn.functional.cross_entropy(logits, targets)  # mean over the M completion tokens


@torch.no_grad()
def heldout_sft_loss(
    model: Any, tokenizer: Any, pairs: list[dict], max_prompt_tokens: int, batch_size: int = 32
) -> float:
    """Token-weighted mean SFT loss (nats per summary token) on held-out pairs."""

    was = model.training
    model.eval()
    total, count = 0.0, 0.0
    for s in range(0, len(pairs), batch_size):
        chunk = pairs[s : s + batch_size]
        batch = collate(
            tokenizer,
            [make_prompt(p["document"]) for p in chunk],
            [make_completion(p["summary"]) for p in chunk],
            max_prompt_tokens,
        )
        n = batch["completion_mask"][:, 1:].sum().item()
        total += sft_loss(model, batch).item() * n
        count += n
    model.train(was)
    return total / max(count, 1.0)


def _samples(model, tokenizer, rows, config, max_new_tokens) -> list[dict]:

    prompts = [make_prompt(r["document"]) for r in rows]
    outs = generate(
        model, tokenizer, prompts, max_new_tokens, temperature=0.0, max_prompt_tokens=config.max_prompt_tokens
    )
    return [
        {"id": r["id"], "document": r["document"][:300], "reference": make_completion(r["summary"]), "greedy": o}
        for r, o in zip(rows, outs)
    ]


def _pretrain(model: Any, tokenizer: Any, train: list[dict], config: SFTConfig, window: int) -> dict:
    """Phase 1: LM pretraining on packed documents (models built from scratch only); returns its metrics."""
    # documents and summaries as separate plain texts (no TL;DR pairing: that mapping is what SFT teaches)
    texts = [t for r in train for t in (r["document"], r["summary"])]
    random.Random(config.seed).shuffle(texts)
    windows = pack_documents(tokenizer, texts, window)  # (M, window)
    gen = torch.Generator().manual_seed(config.seed)

    def pretrain_loss(step: int) -> torch.Tensor:
        idx = torch.randint(0, windows.shape[0], (config.pretrain_batch,), generator=gen)
        return lm_loss(model, windows[idx])  # windows[idx]: (B, window)

    tp = time.perf_counter()
    curve = train_steps(
        model,
        config.pretrain_steps,
        config.pretrain_lr,
        pretrain_loss,
        weight_decay=config.weight_decay,
        betas=(0.9, 0.95),
        desc="pretrain",
        progress=config.progress,
    )
    return {
        "resumed": False,
        "steps": config.pretrain_steps,
        "windows": int(windows.shape[0]),
        "tokens_seen": config.pretrain_steps * config.pretrain_batch * window,
        "curve": curve,
        "seconds": round(time.perf_counter() - tp, 1),
    }


def _finetune(
    model: Any,
    tokenizer: Any,
    train: list[dict],
    heldout: list[dict],
    config: SFTConfig,
    rng: random.Random,
    max_new: int,
) -> dict:
    """Phase 2: SFT on (prompt, summary) pairs, loss on summary tokens + EOS only; returns its metrics."""
    metrics: dict[str, Any] = {}
    trainable, total = freeze_lower_blocks(model, config.trainable_blocks)  # 0: every parameter trains
    metrics["trainable_blocks"], metrics["trainable_parameters"] = config.trainable_blocks, trainable
    sample_rows = heldout[: config.n_samples]
    metrics["samples_before"] = _samples(model, tokenizer, sample_rows, config, max_new)
    metrics["heldout_loss_before"] = round(heldout_sft_loss(model, tokenizer, heldout, config.max_prompt_tokens), 4)
    eval_curve = [[0, metrics["heldout_loss_before"]]]

    def batch_loss(step: int) -> torch.Tensor:
        chunk = [train[rng.randrange(len(train))] for _ in range(config.sft_batch)]
        batch = collate(
            tokenizer,
            [make_prompt(p["document"]) for p in chunk],
            [make_completion(p["summary"]) for p in chunk],
            config.max_prompt_tokens,
        )
        return sft_loss(model, batch)

    def on_step(step: int) -> None:
        if (step + 1) % config.eval_every == 0 and step + 1 < config.sft_steps:
            eval_curve.append(
                [step + 1, round(heldout_sft_loss(model, tokenizer, heldout, config.max_prompt_tokens), 4)]
            )
            model.train()

    ts = time.perf_counter()
    curve = train_steps(
        model,
        config.sft_steps,
        config.sft_lr,
        batch_loss,
        weight_decay=config.weight_decay,
        betas=(0.9, 0.95),
        desc="sft",
        progress=config.progress,
        on_step=on_step,
    )
    metrics["sft"] = {"steps": config.sft_steps, "curve": curve, "seconds": round(time.perf_counter() - ts, 1)}
    model.requires_grad_(True)  # the saved π_ref is a plain model; freezing is a property of each training run
    metrics["heldout_loss_after"] = round(heldout_sft_loss(model, tokenizer, heldout, config.max_prompt_tokens), 4)
    eval_curve.append([config.sft_steps, metrics["heldout_loss_after"]])
    metrics["heldout_curve"] = eval_curve
    metrics["heldout_pairs"] = len(heldout)
    metrics["samples_after"] = _samples(model, tokenizer, sample_rows, config, max_new)
    return metrics


def run_sft(config: SFTConfig) -> dict:
    """Run pretraining (if any) and SFT; write ``sft/model`` and ``sft/metrics.json``; return the metrics."""

    preset = get_preset(config.preset)
    paths = RunPaths(config.run_dir)
    rng = random.Random(config.seed)
    train = load_split(paths.root, "train")
    valid = load_split(paths.root, "valid")
    if not train:
        raise UserError(f"run_sft: {paths.corpus}/train.jsonl is empty; build a larger corpus")
    heldout = valid[: config.eval_pairs] or train[: config.eval_pairs]
    max_new = preset.max_completion_tokens
    t0 = time.perf_counter()

    # PLUMBING: tokenizer and model
    if config.model in PRESET_ARCHITECTURES:
        tokenizer = load_tokenizer(paths.require(paths.tokenizer, "tokenizer"))
    else:
        tokenizer = load_pretrained_tokenizer(config.model)
    metrics: dict[str, Any] = {"model": config.model, "tokenizer_vocab": len(tokenizer)}
    # summaries are never truncated: drop pairs whose summary + EOS exceeds the completion budget
    n_train, n_held = len(train), len(heldout)
    train = [
        r for r, ok in zip(train, fits_completion_budget(tokenizer, [r["summary"] for r in train], max_new)) if ok
    ]
    heldout = [
        r for r, ok in zip(heldout, fits_completion_budget(tokenizer, [r["summary"] for r in heldout], max_new)) if ok
    ]
    metrics["dropped_long_summaries"] = {"train": n_train - len(train), "heldout": n_held - len(heldout)}
    if not train or not heldout:
        raise UserError(f"run_sft: no pair has a summary within max_completion_tokens={max_new}; raise it")
    resumed = False
    if config.model in PRESET_ARCHITECTURES and (paths.sft_pretrained / "config.json").exists():
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(paths.sft_pretrained), dtype=torch.float32)
        is_pretrained, resumed = True, True
        print(f"[sft] resuming from {paths.sft_pretrained} (LM pretraining already done)")
    else:
        model, is_pretrained = build_model(config.model, tokenizer, preset, seed=config.seed)
    metrics["parameters"] = count_parameters(model)
    n_positions = getattr(model.config, "n_positions", None) or preset.n_positions

    metrics["pretrain"] = {"resumed": resumed, "steps": 0, "curve": []}
    if not is_pretrained and config.pretrain_steps > 0:
        metrics["pretrain"] = _pretrain(model, tokenizer, train, config, min(preset.pretrain_window, n_positions))
        with atomic_dir(paths.sft_pretrained) as tmp:
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
    metrics.update(_finetune(model, tokenizer, train, heldout, config, rng, max_new))
    metrics["seconds"] = round(time.perf_counter() - t0, 1)

    with atomic_dir(paths.sft_model) as tmp:
        model.save_pretrained(str(tmp))  # safetensors
        tokenizer.save_pretrained(str(tmp))
    atomic_write_json(paths.sft / "metrics.json", metrics)
    return metrics


def _report(m: dict, paths: RunPaths) -> None:
    print(
        f"[sft] held-out SFT loss {m['heldout_loss_before']:.3f} → {m['heldout_loss_after']:.3f} nats/token "
        f"({m['trainable_parameters'] / 1e6:.2f} M of {m['parameters'] / 1e6:.2f} M parameters trained, "
        f"{m['seconds']} s) → {paths.sft_model}"
    )
    for s in m["samples_after"][:2]:
        print(f"[sft] reference:{s['reference']!r}  greedy:{s['greedy']!r}")


STAGE = Stage(
    "sft",
    SFTConfig,
    output=lambda paths, config: paths.sft_model / "config.json",
    work=run_sft,
    report=_report,
    requires=lambda paths: (paths.corpus / "stats.json", "corpus"),
)
"""The stage ``sft``: ``run(config)`` and ``main(argv)`` call it."""


def run(config: SFTConfig) -> Path:
    """Run the stage (or reuse its cached output); returns the output path."""
    return STAGE.run(config)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m llm sft``: a thin wrapper of :func:`run`."""
    return STAGE.main(argv, __doc__)
