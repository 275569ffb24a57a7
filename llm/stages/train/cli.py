"""Stage ``train``: one alignment method on the offline dataset of a run (CoPG, IPO, DPO, PG, online CoPG).

A batch holds ``per_device_train_batch_size`` prompts, each with its k completions; the loss is the mean over prompts
of the per-prompt loss (paper Eq. 17: 1/n over pairs). Training runs on transformers' Trainer (accelerate): gradient
accumulation, mixed precision, checkpoints, --resume and several GPUs come from it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from bandit.records import prepare_output_dir
from llm.methods import METHODS
from llm.run import RunPaths, cli_errors, parse_cli, quiet_transformers
from llm.stages.train.config import CoPGConfig
from llm.stages.train.stage import check_resume, train

__all__ = ["parse_config", "main"]


_PROG = "python -m llm train"
DEFAULT_PRESET = "small"
_EXAMPLES = """examples:
  python -m llm train --run-dir runs/small --method copg --beta 0.1
  python -m llm train --preset small --method dpo --beta 0.1 --max-steps 200 --save-steps 50
  python -m llm train --run-dir runs/small --method copg --beta 0.1 --output-dir runs/small/train/x --resume
  accelerate launch -m llm train --run-dir runs/gpt2 --method copg --beta 0.06   # several GPUs, no code change"""


def short_help() -> str:
    """``--help``: the trainer's own options (those ``CoPGConfig`` declares), the method choices and examples.

    ``--help-all`` prints tyro's help of every option, the inherited ``transformers.TrainingArguments`` ones included.
    """
    fields = CoPGConfig.__dataclass_fields__
    stored = {f.name for f in dataclasses.fields(CoPGConfig)}
    lines = [f"usage: {_PROG} [--preset NAME] [--method NAME] [--beta β] [options]", "", (__doc__ or "").strip(), ""]
    lines += ["methods (--method):"] + [f"  {name:<10} {m.summary}" for name, m in METHODS.items()] + [""]
    lines.append("options (a preset value fills every option left unset; --help-all lists TrainingArguments too):")
    for name in CoPGConfig.__annotations__:
        if name not in stored:
            continue
        help_text = fields[name].metadata.get("help", "")
        if help_text.startswith("(recorded"):
            continue
        flags = {"loss_type": "--loss-type, --method", "disable_tqdm": "--no-progress, --disable-tqdm"}
        flag = flags.get(name, f"--{name.replace('_', '-')}")
        lines.append(f"  {flag:<28} {help_text}")
    return "\n".join(lines + ["", _EXAMPLES])


def parse_config(argv: list[str] | None) -> CoPGConfig:
    """Parse ``argv`` into a :class:`CoPGConfig`: unset options come from ``--preset`` (default small), as in Python.

    Parsed by tyro through :func:`llm.run.parse_cli`, as every other command (a parse error is one line); options may
    be spelled with dashes or underscores (``--run-dir`` = ``--run_dir``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help-all" in argv:
        parse_cli(CoPGConfig, ["--help"], __doc__, _PROG)  # tyro prints every option and exits 0
    if "-h" in argv or "--help" in argv:
        print(short_help())
        raise SystemExit(0)
    if not any(a == "--preset" or a.startswith("--preset=") for a in argv):
        argv = ["--preset", DEFAULT_PRESET, *argv]  # the command line always runs the lab: small unless told
    cfg = parse_cli(CoPGConfig, argv, __doc__, _PROG)
    _check_applicable(argv, cfg.loss_type)
    return cfg


#: Options that only one family of methods reads: given to another method they would be silently ignored.
_ONLY_FOR = {
    "is_clip": ("pg_is",),
    "pg_baseline": ("pg", "pg_is"),
    "pair_ties": ("ipo", "ipo_mean", "dpo"),
    "online_k": ("online",),
    "online_offline_k": ("online",),
    "online_temperature": ("online",),
}


def _check_applicable(argv: list[str], loss_type: str) -> None:
    """A method-specific option passed with another method is an error naming both (it would be ignored)."""
    given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in argv if a.startswith("--")}
    for name, methods in _ONLY_FOR.items():
        if name in given and loss_type not in methods:
            raise ValueError(
                f"train: --{name.replace('_', '-')} applies only to --method {' or '.join(methods)}, "
                f"not {loss_type}; drop it or change --method"
            )


def _refuse_finished(cfg: CoPGConfig) -> None:
    """A finished run (its run.json) in output_dir is never retrained silently: --force, --resume or another dir.
    Nor is an interrupted one (checkpoint-* and no run.json): a fresh start would keep its checkpoints beside the new
    run's, and a later --resume could continue the old run's weights."""
    done = os.path.join(cfg.output_dir, "run.json")
    if os.path.exists(done) and not cfg.resume and not cfg.force:
        raise ValueError(
            f"train: {cfg.output_dir} already holds a finished run ({done}); nothing was changed. Pass --force to "
            "retrain it, --resume to continue it, or another --output-dir"
        )
    if not cfg.resume and not cfg.force and os.path.isdir(cfg.output_dir):
        from transformers.trainer_utils import get_last_checkpoint

        if (last := get_last_checkpoint(cfg.output_dir)) is not None:
            raise ValueError(
                f"train: {cfg.output_dir} holds an interrupted run ({last}); nothing was changed. Pass --resume to "
                "continue it, --force to start over, or another --output-dir"
            )


def main(argv: list[str] | None = None) -> int:
    """``python -m llm train``: train one method on ``<run_dir>/offline/train.jsonl``."""

    @cli_errors
    def _run() -> int:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        quiet_transformers()  # no per-load progress bars (an error is then the only line on stderr)
        cfg = parse_config(argv)
        _refuse_finished(cfg)
        # before any model is loaded: a directory that cannot be written, or run files tracked by git, fail now
        names = ["run.json", "metrics.jsonl", "eval.jsonl"]
        if tracked := prepare_output_dir(cfg.output_dir, names, replace_tracked=True, flag="--output-dir"):
            raise ValueError(
                f"train: --output-dir {cfg.output_dir} holds files tracked by git ({', '.join(tracked)}); "
                "pass another --output-dir (the default is under the run directory)"
            )
        paths = RunPaths(cfg.run_dir)  # part 1's outputs, before any model is loaded: a missing one is the only line
        paths.require(paths.offline_dataset, "sample")
        paths.require(paths.sft_model, "sft")
        check_resume(cfg)  # other settings than the run's own, or nothing to resume from: refused now
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
    "preset run_dir loss_type beta pg_baseline is_clip online_k online_offline_k max_steps "
    "per_device_train_batch_size gradient_accumulation_steps learning_rate warmup_steps "
    "lr_scheduler_type eval_steps eval_prompts save_steps seed output_dir bf16 max_prompt_tokens "
    "max_new_tokens"
).split()

if __name__ == "__main__":
    sys.exit(main())
