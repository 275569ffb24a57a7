"""One run of the middle rung: a method trained by the lab's trainer from π_ref, then evaluated on samples.

Training is ``llm.stages.train.train`` (``CoPGTrainer``) on the offline rows of one behaviour policy (online RLOO on
fresh samples of π for the same prompts), the same steps and completions seen for every method: ``steps`` optimizer
steps × ``rows`` prompts × K = 2 completions, AdamW, 10 % warm-up, cosine decay to 0. A callback records the learning
curve (reward, exact KL and J_β of fresh samples on the selection prompts) every ``curve_every`` steps.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from llm.bridge.sampled import SampledWorld, bt_labelled, evaluate, network_on_limits
from llm.bridge.world import train_from_reference
from llm.stages.train import CoPGConfig

__all__ = ["RungMethod", "RUNG_METHODS", "train_method", "run_record", "run_key", "CurveCallback"]


def run_key(mu: str, method: str, seed: int, beta: float, lr: float) -> str:
    """The name of one run (its record file): behaviour policy, method, seed, β, learning rate."""
    return f"{mu}-{method}-s{seed}-b{beta:g}-lr{lr:g}"


class RungMethod:
    """A method of the rung: its trainer name and PG baseline (``llm.methods``) and whether it needs ``μ``."""

    def __init__(self, name: str, llm_method: str, pg_baseline: str = "none") -> None:
        self.name, self.llm_method, self.pg_baseline = name, llm_method, pg_baseline

    @property
    def offline(self) -> bool:
        """False for online RLOO (fresh samples of π: the offline data's μ does not enter)."""
        return self.llm_method != "online"

    @property
    def style_key(self) -> str:
        """Its row of ``bandit.style``."""
        return {"pg_batch": "pg_mean"}.get(self.name, self.name)


#: The rung's methods, in legend order.
RUNG_METHODS: dict[str, RungMethod] = {
    m.name: m
    for m in (
        RungMethod("copg", "copg"),
        RungMethod("ipo", "ipo"),
        RungMethod("dpo", "dpo"),
        RungMethod("pg", "pg"),
        RungMethod("pg_batch", "pg", "batch"),
        RungMethod("online", "online"),
    )
}


class CurveCallback(TrainerCallback):
    """Reward, exact KL and J_β of fresh samples on the selection prompts every ``every`` steps (and at the end)."""

    def __init__(self, world: SampledWorld, every: int, beta: float) -> None:
        self.world, self.every, self.beta, self.records = world, every, beta, []

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        step = state.global_step
        if step % self.every and step != state.max_steps:
            return
        ev = evaluate(self.world, model, "select", self.world.cfg.curve_samples, seed=4242, beta=self.beta)
        self.records.append({"step": step, **{k: sum(v) / len(v) for k, v in ev.items()}})


def train_method(
    world: SampledWorld, method: RungMethod, rows: list[dict], lr: float, seed: int, beta: float, out_dir: Path
) -> tuple[Any, list[dict], float]:
    """Train ``method`` from π_ref on ``rows`` (DPO: Bradley–Terry-labelled copies, drawn with the run's seed);
    returns the model, its learning curve (step 0 = π_ref) and the training seconds."""
    cfg = world.cfg
    if method.llm_method == "dpo":
        rows = bt_labelled(rows, beta, seed=10_000 + seed)
    args = CoPGConfig(
        preset="tiny",
        run_dir=str(cfg.out),
        output_dir=str(out_dir),
        loss_type=method.llm_method,
        pg_baseline=method.pg_baseline,
        pair_ties="first",  # a tied pair ranked as the tabular limits and the exact tables rank it
        beta=beta,
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.rows,
        learning_rate=lr,
        warmup_steps=0.1,
        lr_scheduler_type="cosine",
        eval_prompts=0,
        save_strategy="no",
        save_final=False,
        logging_steps=max(1, cfg.curve_every),
        seed=seed,
        max_prompt_tokens=cfg.task.prompt_len,
        max_new_tokens=cfg.task.max_words + 1,
        online_k=2,
        disable_tqdm=True,
        log_to_stdout=False,
        report_to="none",
        use_cpu=True,
    )
    cb = CurveCallback(world, cfg.curve_every, beta)
    t0 = time.time()
    model = train_from_reference(world, args, rows, cb)
    seconds = time.time() - t0
    model.eval().requires_grad_(False)
    ev0 = evaluate(world, world.ref_model, "select", cfg.curve_samples, seed=4242, beta=beta)
    curve = [{"step": 0, **{k: sum(v) / len(v) for k, v in ev0.items()}}, *cb.records]
    return model, curve, seconds


def run_record(
    world: SampledWorld, model: Any, method: str, beta: float, limit_tables: dict[str, list[dict]] | None
) -> dict[str, Any]:
    """A trained network's numbers: per held-in and held-out prompt reward, KL and J_β (``eval_samples`` samples,
    common random numbers), and against every limit on the sampled completions of each dataset in
    ``limit_tables`` (μ name → :func:`llm.bridge.sampled.limit_table`)."""
    cfg = world.cfg
    rec: dict[str, Any] = {
        split: evaluate(world, model, split, cfg.eval_samples, seed=split_seed, beta=beta)
        for split, split_seed in (("train", 11), ("heldout", 12))
    }
    if limit_tables:
        rec["limits"] = {mu: network_on_limits(world, model, t, method) for mu, t in limit_tables.items()}
    return rec
