"""Stage ``eval``: evaluate a policy (default π_ref) on held-out prompts of a run (see ``llm.model.evaluation``).

Examples:
    python -m llm eval --run-dir runs/small                                   # the SFT policy π_ref
    python -m llm eval --run-dir runs/small --model runs/small/train/copg_beta0.1_seed0/final --n-prompts 128

An existing evaluation (the --out file, or the default <run_dir>/eval/<name>.json) is refused before anything is
loaded unless --force.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import tyro
from transformers import AutoModelForCausalLM

from bandit.records import atomic_write_json, refuse_finished, tracked_files
from llm.data.corpus import load_eval_prompts
from llm.data.offline import load_offline
from llm.model.evaluation import Decoding, evaluate_policy
from llm.model.models import load_policy
from llm.model.rewards import DEFAULT_REWARD, REWARD_KINDS, load_reward, reward_of_dataset
from llm.presets import get_preset, preset_help, resolve
from llm.run import RunPaths, UserError, check_numbers, check_run_dir, cli_errors, parse_cli, quiet_transformers

__all__ = ["EvalConfig", "run", "main"]


# ----------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluate a policy (default: the SFT model π_ref) on held-out prompts of a run directory."""

    run_dir: str | None = None
    """Run directory with part 1's outputs (sft/model, reward/model, corpus/valid.jsonl); default runs/<preset>."""
    model: str | None = None
    """Policy directory (save_pretrained), e.g. <output_dir>/final of a train run; default: the SFT model π_ref."""
    preset: Annotated[
        str | None,
        tyro.conf.arg(
            help=preset_help(
                "length budgets, evaluation protocol; default: the one <run_dir>/config/sft.json names, else small."
            )
        ),
    ] = None
    split: str = "valid"
    """Corpus split of the prompts (the reward model never saw valid)."""
    n_prompts: int | None = None
    """Number of held-out prompts (a seeded random sample of the split, stratified by source); default: preset's."""
    samples_per_prompt: int | None = None
    """Completions sampled per prompt; default: the preset's."""
    reward: str | None = None
    """overlap | content | rm | gold; default: the reward of the run's offline dataset, in its standardised units."""
    temperature: float | None = None
    """Sampling temperature T (KL to π_ref is estimated only at T = 1); default: the preset's (1.0)."""
    seed: int | None = None
    """Sampling seed; default: the preset's."""
    max_new_tokens: int | None = None
    """Completion budget in tokens; default: the preset's max_completion_tokens."""
    batch_size: int | None = None
    """Prompts per generation batch; default: the preset's."""
    beta: float | None = None
    """If set, also report reward/regularised_mean = J_β = reward − β·KL (exact per-token KL)."""
    out: str | None = None
    """Write metrics, per-prompt scores and samples to this JSON file (default <run_dir>/eval/<name>.json)."""
    force: bool = False
    """Overwrite a finished evaluation: an existing --out file (or the default <run_dir>/eval/<name>.json) is
    refused without it."""
    progress: bool = True
    """Show progress bars (--no-progress turns them off)."""

    def __post_init__(self) -> None:
        if self.preset is None:
            object.__setattr__(self, "preset", _preset_of(self.run_dir) if self.run_dir else "small")
        resolve(self, _EVAL_ALIASES)
        self.validate()

    def validate(self) -> None:
        """One-line ``UserError`` naming the option and the fix, before anything is loaded, sampled or written."""
        for name in ("n_prompts", "samples_per_prompt", "max_new_tokens", "batch_size"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise UserError(f"eval: --{name.replace('_', '-')} must be an integer ≥ 1, got {v!r}")
        for name in ("temperature", "beta"):
            v = getattr(self, name)
            if v is not None and not 0 < v < math.inf:
                raise UserError(f"eval: --{name} must be a finite number > 0, got {v!r}")
        if self.reward is not None and self.reward not in REWARD_KINDS:
            raise UserError(f"eval: --reward must be one of {', '.join(REWARD_KINDS)}, got {self.reward!r}")
        if self.run_dir is not None:
            check_run_dir(self.run_dir)
        if self.model is not None and not Path(self.model).is_dir():
            what = "is a file" if Path(self.model).exists() else "does not exist"
            raise UserError(f"eval: --model {self.model} {what}; pass a saved policy directory (<output_dir>/final)")
        if self.out is not None and Path(self.out).is_dir():
            raise UserError(f"eval: --out {self.out} is a directory; pass a JSON file path")
        if self.out is not None and Path(self.out).suffix.lower() != ".json":
            raise UserError(f"eval: --out {self.out} is not a .json path; pass a JSON file path such as eval/x.json")
        check_numbers(self, {"seed": "count0"}, prefix="eval: ")
        refuse_finished([output_path(self)], self.force)  # before anything is loaded: a finished evaluation stays
        out = output_path(self)
        check_run_dir(out.parent, "--out" if self.out else "--run-dir", writable=True)
        if tracked_files(out.parent, [out.name]):  # even with --force: a committed file is not an evaluation's output
            raise UserError(
                f"eval: --out {out} is tracked by git; write the evaluation elsewhere (e.g. runs/eval.json)"
            )


def output_path(cfg: EvalConfig) -> Path:
    """Where ``cfg``'s evaluation goes: --out, else <run_dir>/eval/<name>.json (name: the policy's run, or sft)."""
    name = Path(cfg.model).parent.name if cfg.model else "sft"
    return Path(cfg.out) if cfg.out else Path(cfg.run_dir) / "eval" / f"{name}.json"


# Evaluation options named after the preset's evaluation protocol (llm.presets.EvalProtocol). The preset's `model` is
# an architecture name, not a policy directory: `model` maps to a name no preset has, so it is never filled from it.
_EVAL_ALIASES = {
    "model": "policy_directory",
    "n_prompts": "eval_prompts",
    "temperature": "eval_temperature",
    "seed": "eval_seed",
    "batch_size": "eval_generation_batch",
    "samples_per_prompt": "eval_samples_per_prompt",
    "max_new_tokens": "max_completion_tokens",
}


def _reward(cfg: EvalConfig) -> Any:
    """The reward to evaluate with: --reward, else the offline dataset's (standardised), else the default reward."""
    if cfg.reward:
        return load_reward(cfg.run_dir, kind=cfg.reward)
    paths = RunPaths(cfg.run_dir)
    if paths.offline_dataset.exists():
        return reward_of_dataset(cfg.run_dir, load_offline(paths.offline_dataset))
    return load_reward(cfg.run_dir, kind=DEFAULT_REWARD)


def _preset_of(run_dir: str) -> str:
    p = Path(run_dir) / "config" / "sft.json"
    if p.exists():
        try:
            return json.loads(p.read_text()).get("preset", "small")
        except (ValueError, AttributeError):
            pass
    return "small"


def run(cfg: EvalConfig) -> Path:
    """Evaluate the policy of ``cfg``; writes and returns the JSON of metrics, per-prompt scores and samples."""
    preset = get_preset(cfg.preset)
    quiet_transformers()  # no per-load progress bars
    rows = load_eval_prompts(cfg.run_dir, split=cfg.split, n=cfg.n_prompts)  # the prompts first: a bad split fails now
    tokenizer, ref = load_policy(cfg.run_dir)
    if cfg.model:
        if not Path(cfg.model).exists():
            raise ValueError(f"eval: --model {cfg.model} does not exist")
        policy = AutoModelForCausalLM.from_pretrained(cfg.model).eval()
    else:
        _, policy = load_policy(cfg.run_dir)
    metrics, per_prompt, samples = evaluate_policy(
        policy,
        ref,
        tokenizer,
        [r["prompt"] for r in rows],
        [r["reference"] for r in rows],
        _reward(cfg),
        load_reward(cfg.run_dir, kind="gold"),
        decoding=Decoding(
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
            max_prompt_tokens=preset.max_prompt_tokens,
            samples_per_prompt=cfg.samples_per_prompt,
        ),
        beta=cfg.beta,
        progress=cfg.progress,
    )
    out = output_path(cfg)
    atomic_write_json(out, {"config": cfg, "metrics": metrics, "per_prompt": per_prompt, "samples": samples})
    print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
    print(f"[eval] → {out}")
    return out


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m llm eval``: a thin wrapper of :func:`run` (generate, score, KL exact/k1/k3, J_β)."""
    run(parse_cli(EvalConfig, argv, __doc__, "python -m llm eval"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
