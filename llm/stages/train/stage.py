"""The lab's ``train`` stage: ``CoPGTrainer`` on the outputs of part 1 in a run directory.

``train(cfg)`` loads what is not passed (the SFT policy π_ref, the offline dataset, the held-out prompts, the reward
and the gold score) from ``cfg.run_dir``, trains, and writes ``<output_dir>/run.json``. The trainer itself
(``llm.stages.train.trainer``) knows nothing of run directories.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from bandit.records import atomic_write_json, atomic_write_text
from llm.data.corpus import load_eval_prompts
from llm.data.offline import load_offline
from llm.methods import HUMAN_SOURCE, get_method
from llm.model.models import load_policy
from llm.model.rewards import load_reward, reward_of_dataset
from llm.run import RunPaths
from llm.stages.train.config import CoPGConfig, resume_args
from llm.stages.train.dataset import OfflineDataset
from llm.stages.train.trainer import CoPGTrainer, JsonlLogger

__all__ = ["train", "last_complete_checkpoint"]


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest ``checkpoint-N`` of ``out`` that was saved to the end, or None.

    The Trainer writes ``trainer_state.json`` last: a checkpoint without it was interrupted while saving (a kill,
    a full disk). Such a checkpoint is removed with a warning, so ``--resume`` goes on from the previous complete one.
    """
    while out.exists() and (last := get_last_checkpoint(str(out))) is not None:
        if (Path(last) / "trainer_state.json").exists():
            return last
        print(f"[train] warning: {last} is incomplete (interrupted while saving): removed", file=sys.stderr)
        shutil.rmtree(last)
    return None


def _finished_run(out: Path, max_steps: int) -> dict | None:
    """The summary of a run in ``out`` that already trained ``max_steps`` steps (its ``run.json``), else None."""
    path = out / "run.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))
    steps = max((h.get("step", 0) for h in summary.get("train_log", [])), default=0)
    return summary if steps >= max_steps else None


ARGS_FILE = "train_args.json"
"""Written when a run starts: its :func:`llm.stages.train.config.resume_args`, which a ``--resume`` must repeat."""


def _check_resume_args(cfg: CoPGConfig, out: Path) -> None:
    """A ``--resume`` continues the run only with the settings it started with (``<out>/train_args.json``); any that
    differ are named in one error. A run started before the file existed is continued with a warning."""
    path = out / ARGS_FILE
    if not path.exists():
        started = out.is_dir() and ((out / "run.json").exists() or get_last_checkpoint(str(out)) is not None)
        if started:  # else there is nothing to continue, which the caller says
            print(f"[train] warning: {out} records no start settings ({ARGS_FILE}): not checked", file=sys.stderr)
        return
    try:
        started = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"train: cannot read {path} ({e}); pass --force to start the run over") from None
    now = resume_args(cfg)
    diff = [k for k in now if k in started and started[k] != now[k]]
    if diff:
        was = ", ".join(f"{k} = {started[k]!r}" for k in diff)
        asked = ", ".join(f"{k} = {now[k]!r}" for k in diff)
        raise ValueError(
            f"train: --resume into {out}, but it was started with {was} and this command gives {asked}; nothing "
            "was changed. Give the same values to continue it, --force to start over, or another --output-dir"
        )


def _checkpoint_step(checkpoint: Path) -> int:
    """The global step a checkpoint directory holds (its trainer_state.json)."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state["global_step"])


def _truncate_after(path: Path, step: int) -> None:
    """Drop the JSONL lines of ``path`` logged after ``step`` (atomically): a resumed run logs those steps again."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(line + "\n" for line in kept))


def _read_eval_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    by_step: dict[int, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            by_step[rec["step"]] = rec  # a resumed run may re-evaluate a step: keep the last record
    return [by_step[s] for s in sorted(by_step)]


def check_resume(cfg: CoPGConfig) -> dict | None:
    """For a ``--resume`` (``cfg.resume`` without an explicit checkpoint): refuses settings other than the run's own
    (:func:`_check_resume_args`, first: a finished run given other settings is not "nothing to resume") and a
    directory with no checkpoint to continue; returns the finished run's summary where it already ran its steps
    (nothing to resume), else None. Cheap, and loads no model: the command line calls it before it prints anything."""
    out = Path(cfg.output_dir)
    if not cfg.resume or cfg.resume_from_checkpoint:
        return None
    _check_resume_args(cfg, out)
    if (done := _finished_run(out, cfg.max_steps)) is not None:
        return done
    if last_complete_checkpoint(out) is None:
        raise ValueError(f"train: --resume but {out} has no checkpoint-* directory; run without --resume first")
    return None


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
        ``train_log`` (Trainer log history), ``wall_clock_s``, ``output_dir``, ``torch_threads``.
    """
    t0 = time.time()
    out = Path(cfg.output_dir)
    if (done := check_resume(cfg)) is not None:
        print(f"[train] {out} already finished {cfg.max_steps} steps: nothing to resume, no file changed")
        return {**done, "trainer": None}
    if train_rows is None:  # the data first: a malformed dataset fails before any model is loaded
        train_rows = load_offline(RunPaths(cfg.run_dir).require(RunPaths(cfg.run_dir).offline_dataset, "sample"))
    if model is None or tokenizer is None:
        tokenizer, model = load_policy(cfg.run_dir)
        if ref_model is None:
            _, ref_model = load_policy(cfg.run_dir)
    if cfg.max_train_prompts:
        train_rows = train_rows[: cfg.max_train_prompts]
    if cfg.eval_strategy != "no" or get_method(cfg.loss_type).online:
        if eval_rows is None and cfg.eval_prompts:
            eval_rows = load_eval_prompts(cfg.run_dir, split="valid", n=cfg.eval_prompts)
        if reward_fn is None or (gold_fn is None and cfg.eval_strategy != "no"):
            reward_fn = reward_fn or reward_of_dataset(cfg.run_dir, train_rows)
            gold_fn = gold_fn or load_reward(cfg.run_dir, kind="gold")
    if eval_rows is not None and cfg.eval_prompts:
        eval_rows = eval_rows[: cfg.eval_prompts]
    method = get_method(cfg.loss_type)
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
    resume: str | bool | None = cfg.resume_from_checkpoint
    if cfg.resume and not resume:
        resume = last_complete_checkpoint(out)  # exists: checked above, before anything was loaded or created
    if resume:
        checkpoint = resume if isinstance(resume, str) else last_complete_checkpoint(out)
        step = _checkpoint_step(Path(checkpoint)) if checkpoint else 0
        for log in ("eval.jsonl", "metrics.jsonl"):  # lines logged after the checkpoint will be logged again
            _truncate_after(out / log, step)
    else:
        for stale in ("eval.jsonl", "metrics.jsonl", "run.json"):  # run.json: an interrupted restart is not finished
            (out / stale).unlink(missing_ok=True)
        for old in [*out.glob("checkpoint-*"), out / "final", out / "samples"]:  # an earlier run's: never mixed with
            if old.is_dir():  # this one's (a later --resume must not continue the old weights)
                shutil.rmtree(old)
        if trainer.is_world_process_zero():
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(out / ARGS_FILE, resume_args(cfg))  # what a later --resume must repeat
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
        "torch_threads": torch.get_num_threads(),  # CPU results are deterministic for a given thread count only
    }
    if trainer.is_world_process_zero():
        atomic_write_json(out / "run.json", summary)
    summary["trainer"] = trainer
    return summary
