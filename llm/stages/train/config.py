"""``CoPGConfig``: the training arguments of ``CoPGTrainer`` (``transformers.TrainingArguments`` + the loss).

Two uses, one class:

* **the library** (your model, your dataset): ``CoPGConfig(output_dir=..., loss_type="copg", beta=0.1, ...)``; a
  field left ``None`` takes the library default of :data:`LIBRARY_DEFAULTS` (no preset, no run directory);
* **the lab**: ``CoPGConfig(preset="small")`` fills every ``None`` field from :func:`llm.presets.resolve`, so it equals
  what ``python -m llm train --preset small`` builds, and ``output_dir`` defaults to a folder of ``run_dir``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro
from transformers import TrainingArguments

from llm.methods import METHODS
from llm.presets import PRESETS, preset_help, resolve
from llm.run import check_numbers

__all__ = ["CoPGConfig", "LIBRARY_DEFAULTS"]

#: Ranges of the numeric options the trainer adds (kinds of :data:`llm.run.NUMBER_RULES`); None (unset) is skipped.
#: save_steps and eval_steps are floats in transformers (< 1: a fraction of the run), so "positive", not "count".
TRAIN_NUMBER_RULES: dict[str, str] = {
    **dict.fromkeys(("seed", "eval_seed", "save_total_limit"), "count0"),
    **dict.fromkeys(("max_new_tokens", "max_prompt_tokens", "eval_generation_batch"), "count"),
    **dict.fromkeys(("save_steps", "eval_steps", "eval_temperature", "online_temperature"), "positive"),
}

LIBRARY_DEFAULTS: dict[str, object] = {
    "trainable_blocks": 0,  # every parameter trains
    "per_device_train_batch_size": 8,  # prompts per step (each with its k completions)
    "learning_rate": 1e-6,  # TRL's DPOConfig default: a full fine-tune of a pretrained LM
    "max_steps": -1,  # -1: num_train_epochs passes over the dataset (TrainingArguments' convention)
    "logging_steps": 10,
    "save_steps": 500,  # TrainingArguments' default
    "eval_prompts": 0,  # no generation-based evaluation unless asked for
    "eval_curve_prompts": 0,
    "eval_temperature": 1.0,
    "eval_seed": 0,
    "eval_samples_per_prompt": 1,
    "eval_generation_batch": 16,
}
"""Values of the fields a preset would fill, used when ``preset`` is None (``max_prompt_tokens`` stays None: prompts
are not truncated; ``max_new_tokens`` is needed only by online sampling and evaluation)."""


_TA_FIELDS = TrainingArguments.__dataclass_fields__
_JSON_OR_PATH = Annotated[dict[str, Any] | str | None, tyro.conf.arg(constructor=str | None)]

# ----------------------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------------------


RESUME_KEYS = (
    "preset", "run_dir", "loss_type", "beta", "pair_ties", "pg_baseline", "is_clip", "online_k", "online_offline_k",
    "online_temperature", "max_prompt_tokens", "max_new_tokens", "max_train_prompts", "trainable_blocks",
    "disable_dropout", "precision", "seed", "per_device_train_batch_size", "gradient_accumulation_steps",
    "learning_rate", "max_steps", "warmup_steps", "lr_scheduler_type", "weight_decay", "eval_prompts",
    "eval_curve_prompts", "eval_temperature", "eval_seed", "eval_samples_per_prompt", "eval_steps",
)  # fmt: skip
"""The settings that decide what a run trains and how it is evaluated (resolved from the preset): a ``--resume``
must give the same values as the run's start (recorded in ``<output_dir>/train_args.json``), or the continued run
would be neither the old run nor a new one."""


def resume_args(cfg: Any) -> dict:
    """``cfg``'s :data:`RESUME_KEYS` as JSON values (``run_dir`` as an absolute path, so ``./runs/x`` = ``runs/x``)."""
    out = {k: getattr(cfg, k, None) for k in RESUME_KEYS}
    if out["run_dir"] is not None:
        out["run_dir"] = str(Path(out["run_dir"]).resolve())
    return json.loads(json.dumps(out, default=str))


@dataclasses.dataclass
class CoPGConfig(TrainingArguments):
    """Training arguments of ``CoPGTrainer``: the Hugging Face ``TrainingArguments`` plus the method's own fields.

    Help lives only in ``metadata["help"]`` (shown by ``python -m llm train --help``); the ``Annotated`` tyro markers
    only name the command line's aliases (``--method``, ``--no-progress``).
    """

    # --- run and method -------------------------------------------------------------------------------------
    preset: str | None = field(
        default=None,
        metadata={
            "help": preset_help(
                "lengths, budget and evaluation protocol from llm.presets (explicit options override it); "
                "None (library use): the defaults of LIBRARY_DEFAULTS. `python -m llm train` uses small unless "
                "told otherwise."
            )
        },
    )
    run_dir: str | None = field(
        default=None,
        metadata={
            "help": "Run directory with part 1's outputs (sft/model, reward/model, offline/train.jsonl). "
            "Default runs/<preset>."
        },
    )
    loss_type: Annotated[str, tyro.conf.arg(aliases=("--method",))] = field(
        default="copg",
        metadata={
            "help": "Method (TRL's name: loss_type; --method on the command line): "
            + "; ".join(f"{m.name} = {m.summary}" for m in METHODS.values())
            + ".",
        },
    )
    beta: float = field(
        default=0.1, metadata={"help": "β > 0, KL strength in J = E[R] − β·KL(π‖π_ref) (IPO's τ = β)."}
    )
    pair_ties: str = field(
        default="drop",
        metadata={
            "help": "Tied pairs of ipo / ipo_mean / dpo (two completions with equal reward): drop (no loss, the "
            "lab's default) or first (the first column preferred, as the bandit lab and the exact bridge's tables "
            "rank a pair)."
        },
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
    trainable_blocks: int | None = field(
        default=None,
        metadata={
            "help": "Train only the top N transformer blocks + final norm (embeddings, tied LM head and lower blocks "
            "frozen: less compute and Adam state); 0 = all parameters. Default: the preset's."
        },
    )
    disable_dropout: bool = field(
        default=True,
        metadata={"help": "Set every dropout to 0 (as TRL): ln π on the data then matches the precomputed ln π_ref."},
    )
    # --- evaluation -----------------------------------------------------------------------------------------
    eval_prompts: int | None = field(
        default=None,
        metadata={"help": "Held-out (valid split) prompts generated and scored at each evaluation; default: preset."},
    )
    eval_curve_prompts: int | None = field(
        default=None,
        metadata={
            "help": "Evaluations before the last step use only the first N evaluation prompts (the selection "
            "split: the training curves, cheaply); the last step evaluates all of them. 0 = all; default: preset."
        },
    )
    eval_temperature: float | None = field(
        default=None,
        metadata={
            "help": "Evaluation sampling temperature (pure sampling, no top-k/p); KL to π_ref is estimated "
            "only at 1.0, where the samples come from π. Default: the preset's (1.0)."
        },
    )
    eval_seed: int | None = field(
        default=None,
        metadata={"help": "Seed of evaluation sampling, the same at every evaluation; default: preset."},
    )
    eval_samples_per_prompt: int | None = field(
        default=None,
        metadata={"help": "Completions sampled per held-out prompt at each evaluation; default: the preset's."},
    )
    eval_generation_batch: int | None = field(
        default=None, metadata={"help": "Prompts per generation batch at evaluation; default: the preset's."}
    )
    eval_at_start: bool = field(
        default=True, metadata={"help": "Evaluate before the first step: the SFT (π_ref) reference point."}
    )
    save_final: bool = field(default=True, metadata={"help": "Save the final policy to <output_dir>/final."})
    resume: bool = field(
        default=False, metadata={"help": "Resume from the last checkpoint-* in output_dir (same final weights)."}
    )
    force: bool = field(
        default=False,
        metadata={
            "help": "python -m llm train: retrain even if output_dir holds a finished run (its run.json), "
            "overwriting it; without it such a run is refused."
        },
    )
    precision: str = field(
        default="auto",
        metadata={"help": "auto (bf16 autocast on a CUDA GPU that supports it, else fp32) | fp32 | bf16 | fp16."},
    )
    disable_tqdm: Annotated[bool, tyro.conf.arg(aliases=("--no-progress",))] = field(
        default=False,
        metadata={
            "help": "Turn progress bars off (TrainingArguments' option; --no-progress as in every stage).",
        },
    )
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
    per_device_train_batch_size: int | None = field(
        default=None, metadata={"help": "Prompts per step and device; default: the preset's."}
    )
    learning_rate: float | None = field(default=None, metadata={"help": "Peak AdamW learning rate; default: preset."})
    max_steps: int | None = field(default=None, metadata={"help": "Optimizer steps; default: the preset's."})
    warmup_steps: float = field(
        default=0.1,
        metadata={
            "help": "Warm-up: steps (int ≥ 1) or fraction of max_steps (the paper warms up for a tenth of all steps)."
        },
    )
    lr_scheduler_type: str = field(default="constant_with_warmup", metadata={"help": "LR schedule after warm-up."})
    logging_steps: float | None = field(
        default=None, metadata={"help": "Log train metrics every N steps; default: the preset's."}
    )
    eval_strategy: str = field(default="steps", metadata={"help": "steps | no."})
    eval_steps: float | None = field(default=None, metadata={"help": "Evaluate every N steps; default: preset."})
    save_strategy: str = field(default="steps", metadata={"help": "steps | no (checkpoints for --resume)."})
    save_steps: float | None = field(default=None, metadata={"help": "Checkpoint every N steps; default: preset."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Keep at most N checkpoints."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep every dataset column (required)."})
    # --- TrainingArguments options re-typed for the command line: tyro reads a JSON string or a file path (as
    # TrainingArguments parses it) instead of an argument group per dict key, which it cannot build ---------------
    fsdp_config: _JSON_OR_PATH = field(default=None, metadata=_TA_FIELDS["fsdp_config"].metadata)
    activation_checkpointing_kwargs: _JSON_OR_PATH = field(
        default=None, metadata=_TA_FIELDS["activation_checkpointing_kwargs"].metadata
    )
    gradient_checkpointing_kwargs: _JSON_OR_PATH = field(
        default=None, metadata=_TA_FIELDS["gradient_checkpointing_kwargs"].metadata
    )
    parallelism_config: Annotated[Any, tyro.conf.Suppress] = field(
        default=None, metadata=_TA_FIELDS["parallelism_config"].metadata
    )  # an accelerate object: Python only
    # computed at runtime
    logps_reduction: Annotated[str, tyro.conf.Suppress] = field(
        default="sum",
        metadata={
            "help": "(recorded, not an option) log-probs are summed over completion tokens; ipo_mean divides "
            "log-ratios by lengths inside ipo_loss."
        },
    )

    def __post_init__(self) -> None:
        fn = "CoPGConfig"
        if self.loss_type not in METHODS:
            raise ValueError(f"{fn}: loss_type {self.loss_type!r} is unknown; choose one of {', '.join(METHODS)}")
        if isinstance(self.beta, bool) or not math.isfinite(self.beta) or self.beta <= 0:
            raise ValueError(f"{fn}: beta must be a finite float > 0 (the KL strength β), got {self.beta}; e.g. 0.1")
        if self.pair_ties not in ("drop", "first"):
            raise ValueError(f"{fn}: pair_ties must be drop or first, got {self.pair_ties!r}")
        if self.pg_baseline not in ("none", "mean", "loo", "batch"):
            raise ValueError(f"{fn}: pg_baseline must be none, mean, loo or batch, got {self.pg_baseline!r}")
        if self.is_clip is not None and not self.is_clip > 0:
            raise ValueError(f"{fn}: is_clip must be > 0 (cap on π/μ) or None, got {self.is_clip}")
        if self.loss_type == "online":
            if self.online_k < 1 or self.online_offline_k < 0 or self.online_k + self.online_offline_k < 2:
                raise ValueError(
                    f"{fn}: online needs online_k ≥ 1 fresh and online_k + online_offline_k ≥ 2 completions per "
                    f"prompt (a contrastive pair), got online_k={self.online_k}, "
                    f"online_offline_k={self.online_offline_k}"
                )
            if not self.online_temperature > 0:
                raise ValueError(f"{fn}: online_temperature must be > 0, got {self.online_temperature}")
        if self.preset is None:
            for name, value in LIBRARY_DEFAULTS.items():
                if getattr(self, name) is None:
                    setattr(self, name, value)
        elif self.preset not in PRESETS:
            raise ValueError(f"{fn}: preset {self.preset!r} is unknown; choose one of {', '.join(PRESETS)}")
        else:
            resolve(self, {"max_new_tokens": "max_completion_tokens"})  # every None field from the preset
        check_numbers(self, TRAIN_NUMBER_RULES, prefix=f"{fn}: ")
        if self.max_new_tokens is None and (self.loss_type == "online" or self.eval_prompts):
            raise ValueError(f"{fn}: online sampling and evaluation generate; set max_new_tokens (completion budget)")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"{fn}: precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if isinstance(self.trainable_blocks, bool) or self.trainable_blocks < 0:
            raise ValueError(f"{fn}: trainable_blocks must be an int ≥ 0 (0 = train all), got {self.trainable_blocks}")
        if self.eval_prompts < 0 or self.max_train_prompts < 0 or self.eval_curve_prompts < 0:
            raise ValueError(f"{fn}: eval_prompts, eval_curve_prompts and max_train_prompts must be ≥ 0")
        for name in ("per_device_train_batch_size", "gradient_accumulation_steps"):
            if isinstance(getattr(self, name), bool) or getattr(self, name) < 1:
                raise ValueError(f"{fn}: {name} must be an integer ≥ 1, got {getattr(self, name)}")
        if self.eval_samples_per_prompt < 1:
            raise ValueError(f"{fn}: eval_samples_per_prompt must be ≥ 1, got {self.eval_samples_per_prompt}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < math.inf):
            raise ValueError(f"{fn}: learning_rate must be a finite number > 0, got {self.learning_rate}")
        if isinstance(self.max_steps, bool) or self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"{fn}: max_steps must be ≥ 1 (or −1: num_train_epochs decides), got {self.max_steps}")
        if self.resume and self.force:
            raise ValueError(f"{fn}: resume and force conflict (--resume continues a run, --force retrains it)")
        if self.output_dir is not None and Path(self.output_dir).exists() and not Path(self.output_dir).is_dir():
            raise ValueError(f"{fn}: output_dir {self.output_dir} is a file; pass a directory for the run's outputs")
        if self.output_dir is None:
            if self.run_dir is None:
                raise ValueError(
                    f"{fn}: pass output_dir (where checkpoints and metrics go), e.g. output_dir='copg-out'"
                )
            name = f"{self.loss_type}_beta{self.beta:g}_seed{self.seed}"
            self.output_dir = str(Path(self.run_dir) / "train" / name)
        if self.eval_prompts == 0:
            self.eval_strategy = "no"
        if not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # nothing to pin to (avoids a DataLoader warning on CPU)
        if self.precision == "auto":
            self.bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        else:
            self.bf16, self.fp16 = self.precision == "bf16", self.precision == "fp16"
        super().__post_init__()
