"""Panel (b): the practical trainer (``llm.stages.train.train``, ``CoPGTrainer`` with minibatches) on the bridge.

The same offline rows the exact mode trains on, at the LLM lab's default budget (steps × rows per step, AdamW,
warm-up then cosine), with the exact held-in regret read off the enumerated table every few steps: how far SGD at a
practical budget is from the limits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from llm.bridge.world import train_from_reference
from llm.stages.train import CoPGConfig

__all__ = ["ExactRegretCallback", "train_practical"]


class ExactRegretCallback(TrainerCallback):
    """Exact held-in metrics of the policy every ``every`` steps and at the last step (``records``)."""

    def __init__(self, world: Any, every: int) -> None:
        self.world, self.every, self.records, self.last_log_pi = world, every, [], None

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        step = state.global_step
        if step % self.every and step != state.max_steps:
            return
        log_pi = self.world.log_policy(model, "train")
        m = self.world.metrics(log_pi, "train")
        self.records.append({"step": step, **{k: float(v.mean()) for k, v in m.items()}})
        self.last_log_pi = log_pi


def train_practical(world: Any, rows: list[dict], method: Any, seed: int, out_dir: Path) -> dict:
    """Train one method with ``llm.stages.train.train`` from π_ref at the practical budget of ``world.cfg``
    (``trainer_steps`` × ``trainer_rows``); returns the exact held-in regret curve (step 0 = π_ref)."""
    cfg = world.cfg
    args = CoPGConfig(
        preset="tiny",
        run_dir=str(cfg.out),
        output_dir=str(out_dir),
        loss_type=method.llm_method,
        pg_baseline=method.pg_baseline,
        pair_ties="first",  # a tied pair ranked as the tabular limits and the exact tables rank it
        beta=cfg.beta,
        max_steps=cfg.trainer_steps,
        per_device_train_batch_size=cfg.trainer_rows,
        learning_rate=cfg.trainer_lr,
        warmup_steps=0.1,
        lr_scheduler_type="cosine",
        eval_prompts=0,  # the exact evaluation is the callback; no sampled evaluation
        save_strategy="no",
        save_final=False,
        logging_steps=max(1, cfg.trainer_eval_every),
        seed=seed,
        max_prompt_tokens=cfg.task.prompt_len,
        max_new_tokens=cfg.max_words + 1,
        online_k=2,
        disable_tqdm=not cfg.progress,
        log_to_stdout=False,
        report_to="none",
        use_cpu=True,
    )
    cb = ExactRegretCallback(world, cfg.trainer_eval_every)
    t0 = time.time()
    train_from_reference(world, args, rows, cb)
    ref0 = {k: float(v.mean()) for k, v in world.metrics(world.ref_logp["train"], "train").items()}
    return {"method": method.name, "seed": seed, "curve": [{"step": 0, **ref0}, *cb.records], "s": time.time() - t0}
