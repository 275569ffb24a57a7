"""One trainer for every method on the offline dataset: CoPG, IPO, DPO, naive / importance-sampled PG, online CoPG.

``CoPGConfig`` subclasses ``transformers.TrainingArguments`` and ``CoPGTrainer`` subclasses ``transformers.Trainer``
(the TRL shape), so gradient accumulation, mixed precision, checkpoints, ``--resume`` and multi-GPU runs come from
the Hugging Face engine (accelerate). ``compute_loss`` computes sequence log-probs and calls one function of
``bandit.losses`` through the method table of ``llm.methods``; nothing else in this file is the algorithm.

Examples:
    python -m llm train --run_dir runs/small --method copg --beta 0.1
    python -m llm train --preset small --method dpo --beta 0.1 --max_steps 200 --save_steps 50
    python -m llm train --run_dir runs/small --method copg --beta 0.1 --output_dir runs/small/train/x --resume
    accelerate launch -m llm train --run_dir runs/gpt2 --method copg --beta 0.06   # several GPUs, no code change

A batch holds ``per_device_train_batch_size`` *prompts*, each with its k completions; the loss is the mean over
prompts of the per-prompt loss (paper Eq. 17: 1/n over pairs).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import field
from pathlib import Path
from typing import Any

import torch
from transformers import HfArgumentParser, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from llm.logprobs import sequence_logps
from llm.methods import HUMAN_SOURCE, METHODS, LossInputs, gather, get_method

__all__ = [
    "CoPGConfig",
    "OfflineDataset",
    "OfflineCollator",
    "CoPGTrainer",
    "train",
    "main",
]  # + TRAIN_BUDGETS (a dict)

# ----------------------------------------------------------------------------------------------------------------
# Training budgets per preset (the model, tokenizer and data sizes are part 1's presets in llm.presets)
# ----------------------------------------------------------------------------------------------------------------

TRAIN_BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        max_steps=6,  # tests / notebooks: every code path in seconds, not a learning curve
        per_device_train_batch_size=2,  # 2 prompts × k completions
        learning_rate=1e-3,  # 2-layer 32-wide model: large Adam steps are stable (part-1 tiny SFT lr 3e-3)
        eval_steps=3,  # derived: two evaluations after the one at step 0
        save_steps=6,  # one checkpoint, at the end
        logging_steps=1,
        eval_prompts=8,  # held-out prompts generated and scored at each evaluation
    ),
    "small": dict(
        max_steps=40,  # derived: 40 steps × 4 prompts = 160 of the 256 offline prompts; a sweep of 3 methods × 3 β
        # must fit the 15-minute small pipeline with part 1 on 2 CPU cores (measured stage times in the README)
        per_device_train_batch_size=4,  # 4 prompts × 4 completions = 16 sequences ≈ 1.5 s per CoPG step (1 thread)
        learning_rate=2e-4,  # measured (calibration run, CoPG β = 0.1): RM reward −0.09 → 0.6–0.9 in 20–60 steps,
        # KL 1.2–2.8 nats; the paper's lr/SFT-lr ratio (1e-6 / 2e-5) gives 1e-4 here (SFT lr 2e-3); not tried
        eval_steps=20,  # derived: evaluations at steps 20 and 40 (+ SFT at 0); the paper: every 50 of ≈ 1.45 k
        save_steps=40,  # one checkpoint at the end (use --save_steps to checkpoint more often)
        logging_steps=5,
        eval_prompts=32,  # paper: 128 validation prompts in the sweeps; 32 keeps one evaluation ≈ 5 s here
    ),
    "gpt2": dict(
        max_steps=500,  # GPU budget (the lead's runs): ≈ 1 epoch of 4 k prompts at 8 prompts per step
        per_device_train_batch_size=8,
        learning_rate=1e-5,  # 124M model: between the paper's 1e-6 (7B) and small's 5e-5
        eval_steps=50,  # the paper's sweep cadence (Sec. 6)
        save_steps=100,
        logging_steps=10,
        eval_prompts=128,  # the paper's sweep evaluation set size (Sec. 6)
    ),
    "smollm2": dict(
        max_steps=300,  # 512 prompts at 4 per step ≈ 2 epochs (the paper trains 2 epochs)
        per_device_train_batch_size=4,
        learning_rate=2e-6,  # pretrained 135M model fine-tuned with lr 5e-5 (part-1 preset) → 1/25 of it
        eval_steps=50,
        save_steps=100,
        logging_steps=10,
        eval_prompts=64,
    ),
}


# ----------------------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CoPGConfig(TrainingArguments):
    """Training arguments of ``CoPGTrainer``: the Hugging Face ``TrainingArguments`` plus the method's own fields.

    Help lives only in ``metadata["help"]`` (shown by ``python -m llm train --help``).
    """

    # --- run and method -------------------------------------------------------------------------------------
    preset: str = field(
        default="small",
        metadata={
            "help": "Preset (tiny|small|gpt2|smollm2): lengths from llm.presets, budget from TRAIN_BUDGETS. "
            "Give it first; explicit flags override it."
        },
    )
    run_dir: str | None = field(
        default=None,
        metadata={
            "help": "Run directory with part 1's outputs (sft/model, reward/model, offline/train.jsonl). "
            "Default runs/<preset>."
        },
    )
    method: str = field(
        default="copg",
        metadata={"help": "Method: " + "; ".join(f"{m.name} = {m.summary}" for m in METHODS.values()) + "."},
    )
    beta: float = field(
        default=0.1, metadata={"help": "β > 0, KL strength in J = E[R] − β·KL(π‖π_ref) (IPO's τ = β)."}
    )
    pg_baseline: str = field(
        default="none",
        metadata={
            "help": "Baseline b of pg / pg_is: none (b = 0), mean (mean R_β of the prompt's completions), loo "
            "(leave-one-out mean), batch (mean R_β over every completion of the batch)."
        },
    )
    is_clip: float | None = field(
        default=None, metadata={"help": "pg_is only: cap c on the importance ratio π/μ (truncated IS); none = no cap."}
    )
    online_k: int = field(
        default=2, metadata={"help": "online only: fresh completions sampled from the current π per prompt and step."}
    )
    online_offline_k: int = field(
        default=0,
        metadata={
            "help": "online only: offline completions per prompt added to the fresh ones (heterogeneous μ1/μ2); "
            "0 = purely on-policy (CoPG = RLOO)."
        },
    )
    online_temperature: float = field(
        default=1.0,
        metadata={"help": "online only: sampling temperature (1.0 = on-policy; ≠ 1 samples from μ_T ≠ π)."},
    )
    max_prompt_tokens: int | None = field(
        default=None, metadata={"help": "Prompt budget in tokens (document truncated); default: the preset's."}
    )
    max_new_tokens: int | None = field(
        default=None, metadata={"help": "Completion budget of online and evaluation sampling; default: the preset's."}
    )
    max_train_prompts: int = field(
        default=0, metadata={"help": "Use only the first N prompts of the offline dataset (0 = all)."}
    )
    disable_dropout: bool = field(
        default=True,
        metadata={"help": "Set every dropout to 0 (as TRL): ln π on the data then matches the precomputed ln π_ref."},
    )
    # --- evaluation -----------------------------------------------------------------------------------------
    eval_prompts: int = field(
        default=32, metadata={"help": "Held-out (valid split) prompts generated and scored at each evaluation."}
    )
    eval_temperature: float = field(
        default=1.0,
        metadata={
            "help": "Evaluation sampling temperature (pure sampling, no top-k/p); KL to π_ref is estimated "
            "only at 1.0, where the samples come from π."
        },
    )
    eval_seed: int = field(
        default=1234, metadata={"help": "Seed of evaluation sampling (the same at every evaluation: common noise)."}
    )
    eval_generation_batch: int = field(default=64, metadata={"help": "Prompts per generation batch at evaluation."})
    eval_at_start: bool = field(
        default=True, metadata={"help": "Evaluate before the first step: the SFT (π_ref) reference point."}
    )
    save_final: bool = field(default=True, metadata={"help": "Save the final policy to <output_dir>/final."})
    resume: bool = field(
        default=False, metadata={"help": "Resume from the last checkpoint-* in output_dir (same final weights)."}
    )
    precision: str = field(
        default="auto",
        metadata={"help": "auto (bf16 autocast on a CUDA GPU that supports it, else fp32) | fp32 | bf16 | fp16."},
    )
    no_progress: bool = field(default=False, metadata={"help": "Turn progress bars off (sets disable_tqdm)."})
    log_to_stdout: bool = field(
        default=True,
        metadata={
            "help": "Print every logged metrics dict to stdout (the Trainer's default); False keeps them only in "
            "<output_dir>/metrics.jsonl (and --report_to), e.g. in a notebook. Progress bars are unaffected."
        },
    )
    # --- TrainingArguments defaults changed for this trainer -------------------------------------------------
    output_dir: str | None = field(
        default=None, metadata={"help": "Output directory; default <run_dir>/train/<method>_beta<β>_seed<seed>."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of data order, pair draws and online sampling."})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "Prompts per step and device."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak AdamW learning rate."})
    max_steps: int = field(default=60, metadata={"help": "Optimizer steps."})
    warmup_steps: float = field(
        default=0.1,
        metadata={
            "help": "Warm-up: steps (int ≥ 1) or fraction of max_steps (the paper warms up for a tenth of all steps)."
        },
    )
    lr_scheduler_type: str = field(default="constant_with_warmup", metadata={"help": "LR schedule after warm-up."})
    logging_steps: float = field(default=5, metadata={"help": "Log train metrics every N steps."})
    eval_strategy: str = field(default="steps", metadata={"help": "steps | no."})
    eval_steps: float | None = field(default=20, metadata={"help": "Evaluate every N steps."})
    save_strategy: str = field(default="steps", metadata={"help": "steps | no (checkpoints for --resume)."})
    save_steps: float = field(default=60, metadata={"help": "Checkpoint every N steps."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Keep at most N checkpoints."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep every dataset column (required)."})
    # computed at runtime
    logps_reduction: str = field(
        default="sum",
        metadata={
            "help": "(recorded, not an option) log-probs are summed over completion tokens; ipo_mean divides "
            "log-ratios by lengths inside ipo_loss."
        },
    )

    def __post_init__(self) -> None:
        fn = "CoPGConfig"
        if self.method not in METHODS:
            raise ValueError(f"{fn}: method {self.method!r} is unknown; choose one of {', '.join(METHODS)}")
        if isinstance(self.beta, bool) or not math.isfinite(self.beta) or self.beta <= 0:
            raise ValueError(f"{fn}: beta must be a finite float > 0 (the KL strength β), got {self.beta}; e.g. 0.1")
        if self.pg_baseline not in ("none", "mean", "loo", "batch"):
            raise ValueError(f"{fn}: pg_baseline must be none, mean, loo or batch, got {self.pg_baseline!r}")
        if self.is_clip is not None and not self.is_clip > 0:
            raise ValueError(f"{fn}: is_clip must be > 0 (cap on π/μ) or None, got {self.is_clip}")
        if self.method == "online":
            if self.online_k < 1 or self.online_offline_k < 0 or self.online_k + self.online_offline_k < 2:
                raise ValueError(
                    f"{fn}: online needs online_k ≥ 1 fresh and online_k + online_offline_k ≥ 2 completions per "
                    f"prompt (a contrastive pair), got online_k={self.online_k}, "
                    f"online_offline_k={self.online_offline_k}"
                )
            if not self.online_temperature > 0:
                raise ValueError(f"{fn}: online_temperature must be > 0, got {self.online_temperature}")
        if self.preset not in TRAIN_BUDGETS:
            raise ValueError(f"{fn}: preset {self.preset!r} is unknown; choose one of {', '.join(TRAIN_BUDGETS)}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"{fn}: precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.eval_prompts < 0 or self.max_train_prompts < 0:
            raise ValueError(f"{fn}: eval_prompts and max_train_prompts must be ≥ 0")
        if self.run_dir is None:
            self.run_dir = f"runs/{self.preset}"
        if self.output_dir is None:
            self.output_dir = str(Path(self.run_dir) / "train" / f"{self.method}_beta{self.beta:g}_seed{self.seed}")
        if self.eval_prompts == 0:
            self.eval_strategy = "no"
        if self.no_progress:
            self.disable_tqdm = True
        if not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # nothing to pin to (avoids a DataLoader warning on CPU)
        if self.precision == "auto":
            self.bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        else:
            self.bf16, self.fp16 = self.precision == "bf16", self.precision == "fp16"
        super().__post_init__()


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: data
# ----------------------------------------------------------------------------------------------------------------

_KEYS = ("completions", "rewards", "behaviour_logps", "ref_logps", "source")


class OfflineDataset(torch.utils.data.Dataset):
    """The offline dataset (one row per prompt, k completions), validated for one method.

    Row fields: ``prompt`` (str), ``completions`` (k str), ``rewards``, ``behaviour_logps``, ``ref_logps`` (k floats),
    ``source`` (k str); other fields are kept and ignored.
    """

    def __init__(self, rows: list[dict], min_k: int = 2, name: str = "offline dataset") -> None:
        if not rows:
            raise ValueError(f"OfflineDataset: {name} is empty; build it with `python -m llm sample`")
        ks = set()
        for i, r in enumerate(rows):
            missing = [key for key in ("prompt", *_KEYS) if key not in r]
            if missing:
                raise ValueError(f"OfflineDataset: row {i} of {name} lacks {missing}")
            k = len(r["completions"])
            if any(len(r[key]) != k for key in _KEYS):
                raise ValueError(f"OfflineDataset: row {i} of {name}: {_KEYS} must all have k={k} entries")
            ks.add(k)
        if len(ks) != 1:
            raise ValueError(f"OfflineDataset: {name} mixes k values {sorted(ks)}; every prompt needs the same k")
        self.k = ks.pop()
        if self.k < min_k:
            raise ValueError(
                f"OfflineDataset: the method needs k ≥ {min_k} completions per prompt but {name} has k={self.k}; "
                "rebuild it with more completions per prompt or choose a method that accepts k=1 (pg, pg_is)"
            )
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


class OfflineCollator:
    """Rows → all B·K (prompt, completion) pairs tokenised by ``llm.data.collate`` + the [B, K] data tensors."""

    def __init__(self, tokenizer: Any, max_prompt_tokens: int | None = None) -> None:
        self.tokenizer, self.max_prompt_tokens = tokenizer, max_prompt_tokens

    def __call__(self, rows: list[dict]) -> dict[str, Any]:
        from llm.data import collate

        k = len(rows[0]["completions"])
        prompts = [r["prompt"] for r in rows]
        flat_prompts = [p for p in prompts for _ in range(k)]  # row b·K + j = completion j of prompt b
        flat_completions = [c for r in rows for c in r["completions"]]
        batch = collate(self.tokenizer, flat_prompts, flat_completions, self.max_prompt_tokens)  # [B·K, T] each

        def f32(key: str) -> torch.Tensor:
            return torch.tensor([r[key] for r in rows], dtype=torch.float32)  # [B, K]

        batch.update(
            rewards=f32("rewards"),
            ref_logps=f32("ref_logps"),
            behaviour_logps=f32("behaviour_logps"),
            sources=[list(r["source"]) for r in rows],
            prompts=prompts,
            completions=[list(r["completions"]) for r in rows],
        )
        return batch


def _select_rows(batch: dict[str, Any], cols: torch.Tensor) -> dict[str, torch.Tensor]:
    """Token tensors of the B·M selected completions (row b·K + cols[b, m]), trailing padding trimmed."""
    b, k = batch["rewards"].shape
    rows = (torch.arange(b, device=cols.device)[:, None] * k + cols).reshape(-1)  # [B·M]
    rows = rows.to(batch["input_ids"].device)
    out = {key: batch[key][rows] for key in ("input_ids", "attention_mask", "completion_mask")}  # [B·M, T]
    last = int(out["attention_mask"].any(0).nonzero().max()) + 1  # right padding: keep the real prefix
    return {key: v[:, :last] for key, v in out.items()}


def _disable_dropout(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def _step_generator(seed: int, step: int, prompts: list[str], salt: int = 0) -> torch.Generator:
    # Deterministic per (seed, step, batch content): identical draws after --resume and on every rank layout.
    key = zlib.crc32("\x1f".join(prompts).encode("utf-8"))
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7_919 + salt) ^ key)


# ----------------------------------------------------------------------------------------------------------------
# Trainer
# ----------------------------------------------------------------------------------------------------------------


class CoPGTrainer(Trainer):
    """Hugging Face ``Trainer`` whose loss is one ``bandit.losses`` function of sequence log-probs.

    Args:
        model: the policy π (initialised at π_ref).
        args: :class:`CoPGConfig`.
        train_dataset: :class:`OfflineDataset` (or a list of offline rows).
        eval_dataset: list of ``{"prompt", "reference"}`` held-out rows (evaluation generates on the prompts).
        processing_class: the tokenizer.
        ref_model: frozen π_ref; default a frozen copy of ``model`` (TRL's convention). Needed for online sampling
            and for the KL estimate at evaluation; offline losses use the precomputed ``ref_logps``.
        reward_fn: proxy reward ``f(prompts, completions) -> list[float]`` (the reward model): online mode, evaluation.
        gold_fn: gold score ``f(prompts, completions, references=...) -> list[float]`` (evaluation only).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        args: CoPGConfig,
        train_dataset: Any,
        eval_dataset: list[dict] | None = None,
        processing_class: Any = None,
        ref_model: torch.nn.Module | None = None,
        reward_fn: Any = None,
        gold_fn: Any = None,
        callbacks: list[TrainerCallback] | None = None,
        data_collator: Any = None,
    ) -> None:
        self.method = get_method(args.method)
        if not isinstance(train_dataset, OfflineDataset):
            train_dataset = OfflineDataset(list(train_dataset), min_k=self.method.min_k)
        elif train_dataset.k < self.method.min_k:
            raise ValueError(
                f"CoPGTrainer: method {args.method!r} needs k ≥ {self.method.min_k}, data has k={train_dataset.k}"
            )
        if self.method.online and reward_fn is None:
            raise ValueError("CoPGTrainer: method 'online' scores fresh samples; pass reward_fn (the proxy reward)")
        if args.eval_strategy != "no" and (reward_fn is None or not eval_dataset):
            raise ValueError("CoPGTrainer: evaluation needs reward_fn and eval_dataset; or set eval_strategy='no'")
        if args.disable_dropout:
            _disable_dropout(model)
        if ref_model is None and (self.method.online or args.eval_strategy != "no"):
            ref_model = copy.deepcopy(model)  # frozen initial policy = π_ref
        self.reward_fn, self.gold_fn = reward_fn, gold_fn
        self._metrics: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._eval_records: list[dict] = []
        collator = data_collator or OfflineCollator(processing_class, args.max_prompt_tokens)
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            data_collator=collator,
            callbacks=callbacks,
        )
        self.model_accepts_loss_kwargs = False  # our loss is a mean over prompts: Trainer divides by grad-accum steps
        if not args.log_to_stdout:
            self.remove_callback(PrinterCallback)  # used when progress bars are off
            if self.pop_callback(ProgressCallback) is not None:
                self.add_callback(_BarsOnlyProgressCallback)
        self.ref_model = ref_model
        if ref_model is not None:
            ref_model.eval().requires_grad_(False)
            ref_model.to(self.args.device)
            if args.disable_dropout:
                _disable_dropout(ref_model)

    # ------------------------------------------------------------------------------------------------------------
    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor:
        # PLUMBING: online mode replaces the offline completions by fresh samples of π (+ optional offline ones)
        batch = self._online_batch(model, inputs) if self.method.online else inputs
        gen = _step_generator(self.args.seed, self.state.global_step, batch["prompts"])
        cols = self.method.select(batch["rewards"], batch["sources"], gen).to(batch["rewards"].device)  # [B, M]
        b, m = cols.shape
        x = LossInputs(
            logps=torch.empty(0),
            ref_logps=gather(batch["ref_logps"], cols),  # [B, M] ln π_ref, data
            rewards=gather(batch["rewards"], cols),  # [B, M] R(x, y), data
            behaviour_logps=gather(batch["behaviour_logps"], cols),  # [B, M] ln μ(y|x), data
            lengths=None,  # filled below
        )
        seqs = _select_rows(batch, cols)  # [B·M, T] tokens of the completions in the loss
        x.lengths = seqs["completion_mask"].sum(-1).float().view(b, m)  # [B, M] tokens incl. EOS

        # ALGO LOGIC ------------------------------------------------------------------------------------------
        # An LLM is a contextual bandit whose arms are completions: the loss only needs ln π(y|x) per completion.
        x.logps = sequence_logps(model, **seqs, reduction="sum").view(b, m)  # [B, M] Σ_t ln π(y_t|x,y_<t) (+EOS)
        per_prompt = self.method.loss(x, self.args)  # [B] bandit.losses: copg_loss / ipo_loss / dpo_loss / pg_loss
        loss = per_prompt.mean()  # 1/n over prompts (paper Eq. 17); Trainer backpropagates and steps AdamW
        # ------------------------------------------------------------------------------------------------------

        self._record_train_metrics(x, batch, cols)
        return loss

    # ------------------------------------------------------------------------------------------------------------
    # PLUMBING: online sampling, metrics, logging, evaluation
    # ------------------------------------------------------------------------------------------------------------
    def _online_batch(self, model: torch.nn.Module, inputs: dict[str, Any]) -> dict[str, Any]:
        from llm.data import collate
        from llm.generation import generate

        args, tok = self.args, self.processing_class
        prompts = inputs["prompts"]
        k, m = args.online_k, args.online_offline_k
        rep = [p for p in prompts for _ in range(k)]
        policy = self.accelerator.unwrap_model(model)
        seed = _step_generator(args.seed, self.state.global_step, prompts, salt=1).initial_seed()
        fresh = generate(
            policy,
            tok,
            rep,
            self._max_new_tokens(),
            temperature=args.online_temperature,
            batch_size=len(rep),
            seed=seed,
            max_prompt_tokens=args.max_prompt_tokens,
        )
        fresh_rewards = torch.tensor(self.reward_fn(rep, fresh), dtype=torch.float32).view(-1, k)  # [B, k]
        texts = [fresh[i * k : (i + 1) * k] for i in range(len(prompts))]
        rewards, sources = [fresh_rewards], [[f"policy_T{args.online_temperature:g}"] * k for _ in prompts]
        if m > 0:  # heterogeneous μ1/μ2: m offline completions per prompt join the fresh ones
            gen = _step_generator(args.seed, self.state.global_step, prompts, salt=2)
            kk = len(inputs["completions"][0])
            if m > kk:
                raise ValueError(f"CoPGTrainer: online_offline_k={m} > k={kk} offline completions per prompt")
            off = torch.rand(len(prompts), kk, generator=gen).topk(m, dim=1).indices  # [B, m] random columns
            for i, row in enumerate(off.tolist()):
                texts[i] = texts[i] + [inputs["completions"][i][j] for j in row]
                sources[i] = sources[i] + [inputs["sources"][i][j] for j in row]
            rewards.append(inputs["rewards"].cpu().gather(1, off))
        flat = [t for row in texts for t in row]
        kk = k + m
        tokens = collate(tok, [p for p in prompts for _ in range(kk)], flat, args.max_prompt_tokens)
        tokens = {key: v.to(args.device) for key, v in tokens.items()}
        with torch.no_grad():
            ref = sequence_logps(self.ref_model, **tokens).float().view(-1, kk)  # [B, k+m] ln π_ref, data
        if m > 0:  # offline columns keep their precomputed ln π_ref (identical up to float noise)
            ref[:, k:] = inputs["ref_logps"].gather(1, off.to(ref.device))
        behaviour = ref.clone()  # unused by copg_loss; pg_is is offline-only
        fresh_mask = torch.zeros(len(prompts), kk, dtype=torch.bool)
        fresh_mask[:, :k] = True
        return {
            **tokens,
            "rewards": torch.cat(rewards, dim=1).to(args.device),
            "ref_logps": ref,
            "behaviour_logps": behaviour,
            "sources": sources,
            "prompts": prompts,
            "fresh_mask": fresh_mask.to(args.device),
        }

    def _max_new_tokens(self) -> int:
        if self.args.max_new_tokens is not None:
            return int(self.args.max_new_tokens)
        from llm.presets import get_preset

        return get_preset(self.args.preset).max_completion_tokens

    def _mean(self, t: torch.Tensor) -> float:
        return self.accelerator.gather_for_metrics(t.detach().float().mean().reshape(1)).mean().item()

    @torch.no_grad()
    def _record_train_metrics(self, x: LossInputs, batch: dict[str, Any], cols: torch.Tensor) -> None:
        beta, out = self.args.beta, self._metrics["train"]
        log_ratios = x.logps.detach() - x.ref_logps  # [B, M] ln π/π_ref on the completions in the loss
        implicit = beta * log_ratios  # [B, M] implicit reward β·ln π/π_ref
        hi, lo = x.rewards.argmax(1, keepdim=True), x.rewards.argmin(1, keepdim=True)  # [B, 1]
        margin = (implicit.gather(1, hi) - implicit.gather(1, lo)).squeeze(1)  # [B]
        distinct = (x.rewards.gather(1, hi) > x.rewards.gather(1, lo)).squeeze(1)  # [B] prompts with a reward gap
        out["rewards/margin"].append(self._mean(margin))
        if distinct.any():
            out["rewards/accuracy"].append(self._mean((margin[distinct] > 0).float()))
        out["implicit_reward/mean"].append(self._mean(implicit))
        if x.logps.shape[1] >= 2:
            ci = implicit - implicit.mean(1, keepdim=True)  # centred per prompt: only differences are identified
            cr = x.rewards - x.rewards.mean(1, keepdim=True)
            den = ci.norm() * cr.norm()
            if den > 0:
                out["implicit_reward/corr"].append(float((ci * cr).sum() / den))
        out["batch/reward_mean"].append(self._mean(x.rewards))
        out["batch/reward_regularised_mean"].append(self._mean(x.rewards - implicit))
        out["logps/mean"].append(self._mean(x.logps))
        out["batch/completion_tokens"].append(self._mean(x.lengths))
        if "fresh_mask" in batch:  # fresh samples of π: a k1 estimate of KL(π‖π_ref) (only at temperature 1)
            fresh = gather(batch["fresh_mask"].float(), cols).bool()
            if self.args.online_temperature == 1.0:
                out["policy/kl_to_ref"].append(self._mean(log_ratios[fresh]))
            out["online/fresh_reward_mean"].append(self._mean(x.rewards[fresh]))
        else:
            out["offline/log_ratio_mean"].append(self._mean(log_ratios))  # NOT a KL: the data are not from π

    _RENAME = {"loss": "loss/train", "grad_norm": "grad/norm", "learning_rate": "optim/lr", "epoch": "progress/epoch"}

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "train" if "loss" in logs else "eval"
        metrics = {key: sum(v) / len(v) for key, v in self._metrics[mode].items() if v}
        if mode == "eval":
            metrics = {f"eval_{key}": v for key, v in metrics.items()}
        logs = {self._RENAME.get(key, key): v for key, v in logs.items()}
        logs.update(metrics)
        super().log(logs, start_time)
        self._metrics[mode].clear()

    def evaluate(
        self, eval_dataset: Any = None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        """Generate on the held-out prompts, score with the proxy RM and the gold score, estimate KL(π‖π_ref)."""
        from llm.evaluate import evaluate_policy

        step = self.state.global_step
        if eval_dataset is None and self._eval_records and self._eval_records[-1]["step"] == step:
            # the Trainer asks twice at the last step (step end, then epoch end): reuse the evaluation
            return {f"{metric_key_prefix}_{k}": v for k, v in self._eval_records[-1].items() if k != "per_prompt"}
        rows = eval_dataset if eval_dataset is not None else self.eval_dataset
        args = self.args
        t0 = time.time()
        metrics, per_prompt, samples = evaluate_policy(
            self.accelerator.unwrap_model(self.model),
            self.ref_model,
            self.processing_class,
            [r["prompt"] for r in rows],
            [r.get("reference", "") for r in rows],
            reward_fn=self.reward_fn,
            gold_fn=self.gold_fn,
            max_new_tokens=self._max_new_tokens(),
            temperature=args.eval_temperature,
            seed=args.eval_seed,
            batch_size=args.eval_generation_batch,
            max_prompt_tokens=args.max_prompt_tokens,
            beta=args.beta,
        )
        metrics["time/eval_s"] = time.time() - t0
        for key, v in metrics.items():
            self._metrics["eval"][key].append(v)
        self.log({})  # averages and prefixes self._metrics["eval"] (TRL convention)
        record = {"step": step, **metrics, "per_prompt": per_prompt}
        self._eval_records.append(record)
        if self.is_world_process_zero():
            out = Path(args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            with open(out / "eval.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            from llm.run import atomic_write_json

            atomic_write_json(out / "samples" / f"step_{step:06d}.json", samples)
        return {f"{metric_key_prefix}_{key}": v for key, v in metrics.items()}


class _BarsOnlyProgressCallback(ProgressCallback):
    """The Trainer's tqdm progress bars without the metrics dict it writes under them at every log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass


class JsonlLogger(TrainerCallback):
    """Append every log (train and eval) to ``<output_dir>/metrics.jsonl``."""

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs:
            Path(args.output_dir).mkdir(parents=True, exist_ok=True)
            with open(Path(args.output_dir) / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, **logs}) + "\n")


# ----------------------------------------------------------------------------------------------------------------
# Library entry point and CLI
# ----------------------------------------------------------------------------------------------------------------


def _fill_from_preset(cfg: CoPGConfig) -> None:
    from llm.presets import get_preset

    p = get_preset(cfg.preset)
    if cfg.max_prompt_tokens is None:
        cfg.max_prompt_tokens = p.max_prompt_tokens
    if cfg.max_new_tokens is None:
        cfg.max_new_tokens = p.max_completion_tokens


def _read_eval_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    by_step: dict[int, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            by_step[rec["step"]] = rec  # a resumed run may re-evaluate a step: keep the last record
    return [by_step[s] for s in sorted(by_step)]


def train(
    cfg: CoPGConfig,
    *,
    model: torch.nn.Module | None = None,
    ref_model: torch.nn.Module | None = None,
    tokenizer: Any = None,
    train_rows: list[dict] | None = None,
    eval_rows: list[dict] | None = None,
    reward_fn: Any = None,
    gold_fn: Any = None,
    callbacks: list[TrainerCallback] | None = None,
) -> dict:
    """Train one method; anything not passed is loaded from ``cfg.run_dir`` (part 1's outputs).

    Returns:
        summary dict (also written to ``<output_dir>/run.json``): ``config``, ``eval`` (records per evaluation step),
        ``train_log`` (Trainer log history), ``wall_clock_s``, ``output_dir``.
    """
    t0 = time.time()
    _fill_from_preset(cfg)
    if model is None or tokenizer is None:
        from llm.models import load_policy

        tokenizer, model = load_policy(cfg.run_dir)
        if ref_model is None:
            _, ref_model = load_policy(cfg.run_dir)
    if train_rows is None:
        from llm.offline import load_offline
        from llm.run import RunPaths

        train_rows = load_offline(RunPaths(cfg.run_dir).require(RunPaths(cfg.run_dir).offline_dataset, "sample"))
    if cfg.max_train_prompts:
        train_rows = train_rows[: cfg.max_train_prompts]
    if cfg.eval_strategy != "no" or get_method(cfg.method).online:
        if eval_rows is None and cfg.eval_prompts:
            from llm.corpus import load_eval_prompts

            eval_rows = load_eval_prompts(cfg.run_dir, split="valid", n=cfg.eval_prompts)
        if reward_fn is None or (gold_fn is None and cfg.eval_strategy != "no"):
            from llm.reward import load_reward

            reward_fn = reward_fn or load_reward(cfg.run_dir, kind="rm")
            gold_fn = gold_fn or load_reward(cfg.run_dir, kind="gold")
    if eval_rows is not None and cfg.eval_prompts:
        eval_rows = eval_rows[: cfg.eval_prompts]
    method = get_method(cfg.method)
    if method.name == "pg_is" and any(HUMAN_SOURCE in r["source"] for r in train_rows):
        print(
            f"[train] pg_is: completions with source {HUMAN_SOURCE!r} have no known μ and are left out",
            file=sys.stderr,
        )
    trainer = CoPGTrainer(
        model=model,
        args=cfg,
        train_dataset=OfflineDataset(train_rows, min_k=method.min_k),
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        ref_model=ref_model,
        reward_fn=reward_fn,
        gold_fn=gold_fn,
        callbacks=[JsonlLogger(), *(callbacks or [])],
    )
    out = Path(cfg.output_dir)
    resume: str | bool | None = cfg.resume_from_checkpoint
    if cfg.resume and not resume:
        from transformers.trainer_utils import get_last_checkpoint

        resume = get_last_checkpoint(str(out)) if out.exists() else None
        if resume is None:
            raise ValueError(f"train: --resume but {out} has no checkpoint-* directory; run without --resume first")
    if not resume:
        for stale in ("eval.jsonl", "metrics.jsonl"):
            (out / stale).unlink(missing_ok=True)
        if cfg.eval_at_start and cfg.eval_strategy != "no":
            trainer.evaluate()  # step 0: the SFT policy π_ref, the reference point of every curve
    trainer.train(resume_from_checkpoint=resume or None)  # the Trainer also evaluates the final policy
    if cfg.save_final and trainer.is_world_process_zero():
        trainer.save_model(str(out / "final"))
    summary = {
        "config": {**cfg.to_dict(), "method_summary": method.summary},
        "eval": _read_eval_records(out / "eval.jsonl"),
        "train_log": trainer.state.log_history,
        "wall_clock_s": time.time() - t0,
        "output_dir": str(out),
    }
    if trainer.is_world_process_zero():
        from llm.run import atomic_write_json

        atomic_write_json(out / "run.json", summary)
    summary["trainer"] = trainer
    return summary


def parse_config(argv: list[str] | None) -> CoPGConfig:
    """Parse ``argv`` into a :class:`CoPGConfig`: ``--preset`` sets defaults first, explicit flags override them."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", default="small")
    known, _ = pre.parse_known_args(argv)
    if known.preset not in TRAIN_BUDGETS:
        raise ValueError(f"train: preset {known.preset!r} is unknown; choose one of {', '.join(TRAIN_BUDGETS)}")
    parser = HfArgumentParser(CoPGConfig, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(**TRAIN_BUDGETS[known.preset])
    (cfg,) = parser.parse_args_into_dataclasses(args=argv)
    return cfg


def main(argv: list[str] | None = None) -> int:
    """``python -m llm train``: train one method on ``<run_dir>/offline/train.jsonl``."""
    from llm.run import cli_errors

    @cli_errors
    def _run() -> int:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        cfg = parse_config(argv)
        _fill_from_preset(cfg)
        print("[train] config: " + json.dumps({k: v for k, v in cfg.to_dict().items() if k in _SHOWN}, default=str))
        summary = train(cfg)
        last = summary["eval"][-1] if summary["eval"] else {}
        shown = {
            k: round(v, 4) for k, v in last.items() if isinstance(v, float) and k.startswith(("reward/", "policy/"))
        }
        print(f"[train] done in {summary['wall_clock_s']:.0f}s → {summary['output_dir']}  final eval: {shown}")
        return 0

    return _run()


_SHOWN = (
    "preset run_dir method beta pg_baseline is_clip online_k online_offline_k max_steps per_device_train_batch_size "
    "gradient_accumulation_steps learning_rate warmup_steps lr_scheduler_type eval_steps eval_prompts save_steps "
    "seed output_dir bf16 max_prompt_tokens max_new_tokens"
).split()

if __name__ == "__main__":
    sys.exit(main())
