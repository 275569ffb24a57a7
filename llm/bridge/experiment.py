"""The exact bridge: every LLM-lab method on an enumerable task, trained to convergence, against its tabular limit.

Steps, per task seed: SFT of the lab's GPT-2 on noisy summaries (π_ref); exact tables of π_ref, R and the behaviour
policies μ1, μ2 (π_ref at temperatures T1, T2); an offline dataset in the lab's JSONL format (one row per sampled
pair, column 0 from μ1, column 1 from μ2); then the panels:

* (a) ``converged``: every method's network trained on the *whole* dataset every step (``llm.bridge.table``: the
  dataset's loss read off the enumerated log-policy table, full batch, deterministic) against its tabular limit
  (``llm.bridge.limits``): held-in regret, KL(limit ‖ net) on the sampled set S and in full, the nearest limit;
* (b) ``trainer``: the practical trainer (``CoPGTrainer``, minibatches, the lab's default budget), regret vs step;
* (c) ``coverage``: CoPG's network as the pairs per prompt grow (Theorem 1's full-support condition);
* (d) ``heldout``: the same networks on prompts they never saw.

Examples:
    python -m llm bridge                           # panels a, b, d on one task seed
    python -m llm bridge --fast --out /tmp/bridge  # the test mode (under a minute)
    python -m llm bridge --force --figures figures --replace-tracked --task-seeds 0 1 --panels converged \\
        trainer coverage heldout                   # `make reproduce-bridge`: figures/bridge_*.{png,json}

A finished run (<out>/results.json, or an untracked figure in --figures) is refused before any work unless --force.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro

from bandit.cli import explicit_options
from bandit.progress import progress as progress_bar
from bandit.records import atomic_write_json, prepare_output_dir
from bandit.style import style
from llm.bridge.limits import (
    limit_regret,
    mean_defined,
    nearest_limit,
    network_record,
    pair_graph_limits,
    tabular_predictions,
)
from llm.bridge.plots import FIGURE_NAMES, check_text, make_figures
from llm.bridge.practical import train_practical
from llm.bridge.table import TABLE_METHODS, ExactTrainConfig, PrefixTree, count_table, train_exact
from llm.bridge.task import TaskConfig
from llm.bridge.world import (
    World,
    build_world,
    empirical_mu,
    first_pairs,
    offline_rows,
    support_mask,
    support_mass,
)
from llm.data.offline import write_offline
from llm.model.evaluation import seed_ci
from llm.run import (
    UserError,
    cli_errors,
    in_worker,
    interrupt_workers,
    parse_cli,
    quiet_transformers,
    torch_threads,
    worker_init,
)

__all__ = ["BridgeConfig", "BridgeMethod", "BRIDGE_METHODS", "PANELS", "run_bridge", "report", "main"]


@dataclasses.dataclass(frozen=True)
class BridgeMethod:
    """One method: its LLM-trainer name and baseline, and the bandit-lab method that predicts its limit."""

    name: str
    llm_method: str
    pg_baseline: str

    @property
    def bandit_method(self) -> str:
        return TABLE_METHODS[self.name]

    @property
    def style_key(self) -> str:
        """Its row of ``bandit.style`` (colour and label shared with every other figure)."""
        return {"pg_batch": "pg_mean"}.get(self.name, self.name)


#: Every method of the exact mode, in legend order.
BRIDGE_METHODS: dict[str, BridgeMethod] = {
    m.name: m
    for m in (
        BridgeMethod("copg", "copg", "none"),
        BridgeMethod("ipo", "ipo", "none"),
        BridgeMethod("dpo", "dpo", "none"),
        BridgeMethod("pg", "pg", "none"),
        BridgeMethod("pg_batch", "pg", "batch"),
        BridgeMethod("pg_is", "pg_is", "none"),
        BridgeMethod("online", "online", "none"),
    )
}
#: Options that only one panel reads (given without that panel they would be silently ignored).
PANEL_OPTIONS = {
    "coverage": ("coverage_pairs",),
    "trainer": ("trainer_methods", "trainer_lr", "trainer_steps", "trainer_rows", "trainer_eval_every"),
}
#: The panels: (a) converged, (b) trainer, (c) coverage, (d) heldout (d reads a's networks).
PANELS = ("converged", "trainer", "coverage", "heldout")
#: What ``--fast`` sets; passing one of these flags together with ``--fast`` is an error naming both.
FAST = dict(
    num_words=4,
    max_words=2,
    doc_len=8,
    train_prompts=4,
    heldout_prompts=4,
    sft_docs=128,
    sft_steps=80,
    sft_batch=32,
    pairs_per_prompt=256,
    coverage_pairs=(16, 64, 256),
    steps=300,
    trainer_steps=40,
    trainer_rows=16,
    trainer_eval_every=10,
    task_seeds=(0,),
)


@dataclasses.dataclass
class BridgeConfig:
    """The exact-bridge experiment (``python -m llm bridge``)."""

    out: str = "runs/bridge"
    """Output directory: results.json, the offline datasets, the trainer's outputs, figures (unless --figures)."""
    figures: str | None = None
    """Directory for the figures bridge_*.{png,json}; default <out>/figures (`make reproduce-bridge`: figures)."""
    replace_tracked: bool = False
    """Allow overwriting figures tracked by git in --figures (`make reproduce-bridge` passes it)."""
    force: bool = False
    """Overwrite a finished run: <out>/results.json or untracked figures already there are refused without it
    (`make reproduce-bridge` passes it: reproducing is its purpose)."""
    fast: bool = False
    """Test mode (under a minute): 4 words, ≤ 2-word completions, 4 prompts × 256 pairs, 300 full-batch steps,
    short SFT. It sets the options listed in llm.bridge.experiment.FAST; passing one of them too is an error."""
    panels: tuple[str, ...] = ("converged", "trainer", "heldout")
    """Panels to run: converged (a), trainer (b), coverage (c), heldout (d; needs converged)."""
    task_seeds: tuple[int, ...] = (0,)
    """Task seeds: documents, reference summaries, model initialisation and offline sampling (`make
    reproduce-bridge`: 0 1). Intervals are over task seeds."""
    methods: tuple[str, ...] = tuple(BRIDGE_METHODS)
    """Methods: copg, ipo, dpo, pg (b = 0), pg_batch (b = the batch mean), pg_is, online (RLOO, exact expectation)."""
    beta: float = 0.1
    """β > 0, KL strength of J_β = E[R] − β·KL(π‖π_ref) (IPO's τ = β)."""
    num_words: int = 6
    """W, words of the vocabulary (completions: Σ_{n ≤ L} W^n per prompt; 258 for W = 6, L = 3)."""
    doc_len: int = 12
    """Tokens per document."""
    max_words: int = 3
    """L, most words per completion (+ EOS)."""
    train_prompts: int = 8
    """Held-in prompts (the offline dataset's prompts)."""
    heldout_prompts: int = 8
    """Held-out prompts (never trained on; panel d)."""
    sft_docs: int = 512
    """Documents with noisy reference summaries for the SFT of π_ref."""
    sft_steps: int = 250
    """AdamW steps of SFT (5 % warm-up, cosine)."""
    sft_batch: int = 64
    """(document, summary) pairs per SFT step."""
    sft_lr: float = 3e-3
    """Peak SFT learning rate."""
    n_layer: int = 2
    """GPT-2 layers."""
    n_embd: int = 64
    """GPT-2 width."""
    n_head: int = 2
    """GPT-2 attention heads."""
    pairs_per_prompt: int = 2048
    """Offline rows (pairs y ~ μ1, y′ ~ μ2) per held-in prompt (2048: the sampled set S holds ≥ 99.9 % of π*'s mass
    on every held-in prompt of task seeds 0 and 1; results.json records it per prompt)."""
    mu1_temperature: float = 2.0
    """T1: μ1 = π_ref sampled at temperature T1 (per-token softmax(logits/T1), exactly enumerated)."""
    mu2_temperature: float = 0.5
    """T2: μ2 = π_ref at temperature T2."""
    steps: int = 1000
    """Full-batch steps of the exact mode (panels a, c)."""
    learning_rate: float = 3e-3
    """Peak AdamW learning rate of the exact mode (10 % linear warm-up, cosine decay to 0, no clipping)."""
    eval_every: int = 50
    """Record the exact held-in regret every N full-batch steps."""
    coverage_pairs: tuple[int, ...] = (256, 512, 1024, 2048)
    """Panel c: pairs per prompt (nested datasets: the first n pairs of each prompt of one draw)."""
    trainer_methods: tuple[str, ...] = ("copg", "ipo", "pg")
    """Panel b: methods trained by the practical trainer."""
    trainer_steps: int = 100
    """Panel b: optimizer steps (the lab's default budget: 100 steps × 64 rows)."""
    trainer_rows: int = 64
    """Panel b: offline rows (pairs) per step."""
    trainer_lr: float = 1e-3
    """Panel b: peak AdamW learning rate (10 % warm-up, cosine)."""
    trainer_eval_every: int = 10
    """Panel b: exact held-in regret every N steps."""
    threads: int = 1
    """Torch CPU threads per process (1 is fastest on a shared 2-core machine)."""
    workers: int = 2
    """Processes training the exact-mode networks in parallel (2: one per core of the 2-core box; 1 if shared)."""
    progress: bool = True
    """Show progress bars (--no-progress turns them off)."""
    task_seed: Annotated[int, tyro.conf.Suppress] = 0
    """The task seed being run (set by run_bridge from --task-seeds; not a command-line option)."""

    def __post_init__(self) -> None:
        if self.fast:
            for k, v in FAST.items():
                setattr(self, k, v)

    def check(self) -> None:
        """Raise :class:`llm.run.UserError` (one line, exit 2 in the CLI) on an invalid option."""
        for flag, values, choices in (
            ("--methods", self.methods, BRIDGE_METHODS),
            ("--trainer-methods", self.trainer_methods, BRIDGE_METHODS),
            ("--panels", self.panels, PANELS),
        ):
            bad = [v for v in values if v not in choices]
            if bad or not values:
                raise UserError(f"bridge: {flag} got {list(values)}; choose one or more of {', '.join(choices)}")
            if len(set(values)) != len(values):
                raise UserError(f"bridge: {flag} got {list(values)}; name each one once")
        if "heldout" in self.panels and "converged" not in self.panels:
            raise UserError("bridge: --panels heldout evaluates the converged networks; add converged")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise UserError(f"bridge: --beta must be a finite float > 0 (the KL strength β), got {self.beta}")
        if not self.task_seeds or min(self.task_seeds) < 0 or len(set(self.task_seeds)) != len(self.task_seeds):
            raise UserError(f"bridge: --task-seeds got {list(self.task_seeds)}; pass distinct integers ≥ 0, e.g. 0 1")
        for name in ("mu1_temperature", "mu2_temperature"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise UserError(f"bridge: --{name.replace('_', '-')} must be a finite number > 0, got {value}")
        for name in ("learning_rate", "trainer_lr", "sft_lr"):
            if not 0 < getattr(self, name) < 1:  # NaN fails too
                raise UserError(f"bridge: --{name.replace('_', '-')} must be in (0, 1), got {getattr(self, name)}")
        for name in (
            *("train_prompts", "heldout_prompts", "sft_docs", "sft_steps", "sft_batch", "pairs_per_prompt", "steps"),
            *("eval_every", "trainer_steps", "trainer_rows", "trainer_eval_every", "threads", "workers"),
            *("n_layer", "n_embd", "n_head"),
        ):
            if getattr(self, name) < 1:
                raise UserError(f"bridge: --{name.replace('_', '-')} must be ≥ 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise UserError(f"bridge: --n-head {self.n_head} must divide --n-embd {self.n_embd} (GPT-2's heads)")
        if "coverage" in self.panels and (
            not self.coverage_pairs or any(n < 1 for n in self.coverage_pairs)
            or len(set(self.coverage_pairs)) != len(self.coverage_pairs)
        ):  # fmt: skip
            raise UserError(
                f"bridge: --coverage-pairs must be distinct counts ≥ 1, one or more, got {list(self.coverage_pairs)}"
            )
        try:
            TaskConfig(num_words=self.num_words, doc_len=self.doc_len, max_words=self.max_words)  # its own checks
        except ValueError as e:
            raise UserError(f"bridge: --num-words, --doc-len or --max-words: {e}") from None

    @property
    def task(self) -> TaskConfig:
        """The task's sizes."""
        return TaskConfig(num_words=self.num_words, doc_len=self.doc_len, max_words=self.max_words)

    @property
    def exact(self) -> ExactTrainConfig:
        """The exact mode's optimiser."""
        return ExactTrainConfig(steps=self.steps, learning_rate=self.learning_rate, eval_every=self.eval_every)


# ----------------------------------------------------------------------------------------------------------------
# One task seed
# ----------------------------------------------------------------------------------------------------------------


class Dataset:
    """One offline dataset of the world and everything the exact mode and the limits need from it."""

    def __init__(self, world: World, rows: list[dict], mu_log: tuple[torch.Tensor, torch.Tensor]) -> None:
        shape = tuple(world.ref_logp["train"].shape)
        self.rows, self.mu1, self.mu2 = rows, *empirical_mu(rows, shape)
        self.support = support_mask(rows, shape)  # [X, A] S: sampled at least once
        self.star_mass = support_mass(world, self.support)  # [X] π*'s mass on S
        self.tables = {
            "ref": world.ref_logp["train"],
            "rewards": world.rewards["train"],
            "counts": count_table(rows, shape[0]),
            "mu_log": mu_log,
        }

    def limits(self, world: World, methods: list[str]) -> dict[str, list[torch.Tensor | None]]:
        """Each method's tabular limit per prompt: CoPG and IPO on the realised pairs (the stationary point of the
        very loss the network minimises), the others ``bandit.stationary`` on μ̂1, μ̂2 (PG + IS with its ratio π/μ
        on the recorded μ1, μ2, as the network's loss); None for DPO, whose loss on reward-ranked pairs has no
        finite minimiser."""
        rooted = [BRIDGE_METHODS[m].bandit_method for m in methods if m != "dpo"]
        mu = tuple(t.exp() for t in self.tables["mu_log"])  # the recorded μ1, μ2 that pg_is's ratio divides by
        tab = tabular_predictions(world, self.mu1, self.mu2, rooted, behaviour=mu)
        pairs = pair_graph_limits(world, self.rows)
        out = {}
        for m in methods:
            b = BRIDGE_METHODS[m].bandit_method
            if m == "dpo":  # pairs ranked by reward: −ln σ(β·h) falls until every log-ratio gap h → ∞, no finite limit
                out[m] = [None] * len(self.star_mass)
            else:
                out[m] = pairs[b]["policy"] if b in pairs else tab[b]["policy"]
        return out


# The exact-mode jobs of one task seed run in ``--workers`` processes (fork: the world is inherited, not pickled).
_JOBS: dict[str, Any] = {}


def _exact_job(job: tuple[str, str, Any]) -> tuple[str, dict]:
    """Train one network from π_ref on one dataset; returns its held-in and held-out tables (no model)."""
    key, method, n = job
    world, tree, datasets = _JOBS["world"], _JOBS["tree"], _JOBS["datasets"]
    cfg = world.cfg
    model = copy.deepcopy(world.ref_model)
    show = cfg.progress and _JOBS["workers"] == 1
    res = train_exact(
        *(model, tree, world.prompt_ids["train"], method, datasets[n].tables, cfg.beta, cfg.exact), show, f"  {key}"
    )
    res["heldout_log_pi"] = world.log_policy(model, "heldout")
    return key, res


def _run_jobs(world: World, tree: PrefixTree, datasets: dict, jobs: list, bar: Any) -> dict[str, dict]:
    """Run exact-mode jobs ``(key, method, dataset key)``, in ``cfg.workers`` processes when > 1."""
    workers = min(world.cfg.workers, len(jobs))
    _JOBS.update(world=world, tree=tree, datasets=datasets, workers=workers)
    out = {}
    try:
        if workers <= 1:
            for job in jobs:
                bar.set_postfix(job=job[0])
                key, res = _exact_job(job)
                out[key] = res
                bar.update(1)
            return out
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = multiprocessing.get_context("fork")
        init = (torch.set_num_threads, 1)
        with (
            ProcessPoolExecutor(workers, mp_context=ctx, initializer=worker_init, initargs=init) as pool,
            interrupt_workers(pool),
        ):
            for fut in as_completed([pool.submit(in_worker, _exact_job, job) for job in jobs]):
                key, res = fut.result()
                out[key] = res
                bar.set_postfix(done=key)
                bar.update(1)
        return out
    finally:
        _JOBS.clear()


def _converged_records(world: World, data: Dataset, methods: list[str], results: dict, keep: dict) -> dict:
    """Panel (a) and (d) numbers of every method's converged network (tables and limits go to ``keep``)."""
    limits = data.limits(world, methods)
    keep.update(limits=limits, log_pi={})
    out = {}
    for m in methods:
        res = results[m]
        rec = network_record(world, data, res["log_pi"], limits, m)
        keep["log_pi"][m] = res["log_pi"]
        rec["nearest_limit"], rec["nearest_is_own"] = nearest_limit(rec["kl_to_limits"], limits, m)
        rec["tabular_regret"] = limit_regret(world, limits[m])
        heldout = world.metrics(res["heldout_log_pi"], "heldout")
        rec.update(heldout_regret=float(heldout["policy/regret"].mean()), curve=res["curve"], seconds=res["seconds"])
        out[m] = rec
    return out


def _coverage_point(world: World, data: Dataset, n: int, res: dict) -> dict:
    """Panel (c): CoPG's network on the first n pairs of each prompt."""
    limits = data.limits(world, ["copg"])
    rec = network_record(world, data, res["log_pi"], limits, "copg")
    return {
        "pairs_per_prompt": n,
        "network_regret": rec["network_regret"],
        "tabular_regret": limit_regret(world, limits["copg"]),
        "kl_to_limit_support": rec["kl_to_own_limit_support"],
        "off_support_mass": rec["off_support_mass"],
        "pi_star_off_support_mass": float(1 - data.star_mass.mean()),
        "pi_star_support_mass_min": float(data.star_mass.min()),
    }


def run_task(cfg: BridgeConfig, bar: Any) -> tuple[dict, dict]:
    """Every requested panel on one task seed (``cfg.task_seed``): the JSON-ready numbers, and the objects behind
    them (``world``, ``data``, the converged networks' held-in ``log_pi`` tables and the ``limits``)."""
    world, sft_info = build_world(cfg)
    tree = PrefixTree(world.completions, world.tokenizer.eos_token_id, cfg.max_words)
    n_max = max(cfg.pairs_per_prompt, *cfg.coverage_pairs)
    all_rows, _, _ = offline_rows(world, cfg.mu1_temperature, cfg.mu2_temperature, seed=cfg.task_seed + 1, n=n_max)
    rows = first_pairs(all_rows, cfg.pairs_per_prompt)
    write_offline(rows, Path(cfg.out) / f"task{cfg.task_seed}" / "offline" / "train.jsonl")
    mu_log = tuple(world.log_policy(world.ref_model, "train", t) for t in (cfg.mu1_temperature, cfg.mu2_temperature))
    data = Dataset(world, rows, mu_log)
    ref_train = world.metrics(world.ref_logp["train"], "train")
    ref_heldout = world.metrics(world.ref_logp["heldout"], "heldout")
    out: dict[str, Any] = {
        "task_seed": cfg.task_seed,
        "sft_s": sft_info["sft_s"],
        "num_completions": len(world.completions),
        "pi_ref_regret": {
            "train": float(ref_train["policy/regret"].mean()),
            "heldout": float(ref_heldout["policy/regret"].mean()),
        },  # fmt: skip
        "pi_star_support_mass": data.star_mass.tolist(),
        "distinct_completions_sampled": data.support.sum(-1).tolist(),
        "cells": int((data.tables["counts"].weights > 0).sum()),
    }
    keep: dict[str, Any] = {"world": world, "data": data}
    datasets = {cfg.pairs_per_prompt: data}
    jobs = [(m, m, cfg.pairs_per_prompt) for m in cfg.methods] if "converged" in cfg.panels else []
    if "coverage" in cfg.panels:
        for n in sorted(set(cfg.coverage_pairs)):
            datasets.setdefault(n, Dataset(world, first_pairs(all_rows, n), mu_log))
            if n != cfg.pairs_per_prompt or "converged" not in cfg.panels or "copg" not in cfg.methods:
                jobs.append((f"copg, {n} pairs", "copg", n))
    t0 = time.time()
    results = _run_jobs(world, tree, datasets, jobs, bar)
    out["exact_s"] = time.time() - t0
    if "converged" in cfg.panels:
        out["converged"] = _converged_records(world, data, list(cfg.methods), results, keep)
    if "coverage" in cfg.panels:
        same = results.get("copg") if "converged" in cfg.panels else None
        out["coverage"] = [
            _coverage_point(world, datasets[n], n, results.get(f"copg, {n} pairs") or same)
            for n in sorted(set(cfg.coverage_pairs))
        ]
    t0 = time.time()
    if "trainer" in cfg.panels:
        out["trainer"] = {}
        for m in cfg.trainer_methods:
            bar.set_postfix(panel="trainer", method=m)
            run = train_practical(world, rows, BRIDGE_METHODS[m], 0, Path(cfg.out) / f"task{cfg.task_seed}" / m)
            out["trainer"][m] = run["curve"]
            bar.update(1)
    out["trainer_s"] = time.time() - t0
    return out, keep


# ----------------------------------------------------------------------------------------------------------------
# Over task seeds: the summary, the checks, the report
# ----------------------------------------------------------------------------------------------------------------


def summarise(cfg: BridgeConfig, tasks: list[dict]) -> dict:
    """``summary[method]``: the verdict numbers over task seeds (means; ``network_regret`` with its 95 % interval)."""
    summary = {}
    for m in cfg.methods if "converged" in cfg.panels else ():
        recs = [t["converged"][m] for t in tasks]
        nearest = [r["nearest_limit"] for r in recs]
        summary[m] = {
            "label": style(BRIDGE_METHODS[m].style_key).label,
            "network_regret": seed_ci([r["network_regret"] for r in recs]),
            "tabular_regret": mean_defined([r["tabular_regret"] for r in recs]),
            "kl_to_own_limit_support": mean_defined([r["kl_to_own_limit_support"] for r in recs]),
            "kl_to_own_limit": mean_defined([r["kl_to_own_limit"] for r in recs]),
            "nearest_limit": max(set(nearest), key=nearest.count),
            "nearest_is_own": None if recs[0]["nearest_is_own"] is None else all(r["nearest_is_own"] for r in recs),
            "off_support_mass": mean_defined([r["off_support_mass"] for r in recs]),
            "heldout_regret": seed_ci([r["heldout_regret"] for r in recs]),
            "per_task_seed": {
                t["task_seed"]: {k: v for k, v in t["converged"][m].items() if k != "curve"} for t in tasks
            },  # fmt: skip
        }
    return summary


def checks(summary: dict) -> dict:
    """The issue's acceptance items, measured (every number, whether it holds or not)."""
    out = {}
    if "copg" in summary:
        c = summary["copg"]["network_regret"]["mean"]
        for other in ("ipo", "pg"):
            if other in summary:
                o = summary[other]["network_regret"]["mean"]
                out[f"copg_le_0.1x_{other}"] = {"copg": c, other: o, "ratio": c / o, "holds": c <= 0.1 * o}
    out["nearest_own_limit"] = {m: s["nearest_is_own"] for m, s in summary.items() if s["nearest_is_own"] is not None}
    out["kl_to_own_limit_le_0.01"] = {
        m: {"kl": summary[m]["kl_to_own_limit"], "holds": summary[m]["kl_to_own_limit"] <= 0.01}
        for m in ("copg", "pg")
        if m in summary
    }
    return out


def _no_nan(x: Any) -> Any:
    """``x`` with every NaN float replaced by None (JSON has no NaN): "not defined", e.g. DPO's limit."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_no_nan(v) for v in x]
    return x


def _num(v: float | None, width: int) -> str:
    return f"{v:>{width}.4f}" if v is not None else f"{'n/a':>{width}}"


def run_bridge(cfg: BridgeConfig, command: str | None = None) -> dict:
    """Run every panel on every task seed; returns (and writes to ``<out>/results.json``) every number, and under
    ``internal`` (not written) the objects behind them, per task seed (for notebooks)."""
    cfg.check()
    quiet_transformers()
    t_start = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    per_task = (
        len(cfg.methods) * ("converged" in cfg.panels)
        + len(cfg.trainer_methods) * ("trainer" in cfg.panels)
        + len(set(cfg.coverage_pairs)) * ("coverage" in cfg.panels)
        - (cfg.pairs_per_prompt in cfg.coverage_pairs and {"converged", "coverage"} <= set(cfg.panels))
    )
    bar = progress_bar(total=per_task * len(cfg.task_seeds), desc="bridge", disable=not cfg.progress)
    tasks, internal = [], []
    with torch_threads(cfg.threads):
        for seed in cfg.task_seeds:
            numbers, objects = run_task(dataclasses.replace(cfg, task_seed=seed), bar)
            tasks.append(numbers)
            internal.append(objects)
    bar.close()
    summary = summarise(cfg, tasks)
    results = _no_nan(
        {
            "command": command or "python -m llm bridge",
            "config": dataclasses.asdict(cfg),
            "methods": {m: dataclasses.asdict(style(BRIDGE_METHODS[m].style_key)) for m in BRIDGE_METHODS},
            "summary": summary,
            "checks": checks(summary),
            "tasks": tasks,
            "timing": {"total_s": time.time() - t_start},
        }
    )
    atomic_write_json(out / "results.json", results)
    make_figures(results, Path(cfg.figures) if cfg.figures else out / "figures")
    results["internal"] = internal  # per task seed: world, data, networks' tables, limits (not in the JSON)
    return results


def report(res: dict) -> str:
    """The headline numbers as a readable table."""
    lines = [f"[bridge] done in {res['timing']['total_s']:.0f} s; task seeds {res['config']['task_seeds']}"]
    for t in res["tasks"]:
        mass = min(t["pi_star_support_mass"])
        lines.append(
            f"  task seed {t['task_seed']}: π_ref regret held-in {t['pi_ref_regret']['train']:.4f}, held-out "
            f"{t['pi_ref_regret']['heldout']:.4f}; S holds ≥ {100 * mass:.3f} % of π*'s mass on every held-in prompt"
        )
    if res["summary"]:
        head = f"{'method':<20} {'regret: network':>17} {'limit':>8} {'KL(lim‖net) S':>14} {'full':>8} "
        lines += ["", head + f"{'nearest limit':>14} {'held-out':>9}"]
        for s in res["summary"].values():
            r = s["network_regret"]
            near = s["nearest_limit"] + {True: "", False: " (!)", None: " (no own)"}[s["nearest_is_own"]]
            lines.append(
                f"{s['label']:<20} {r['mean']:>9.4f} ±{r['ci95']:<7.4f}{_num(s['tabular_regret'], 8)} "
                f"{_num(s['kl_to_own_limit_support'], 14)} {_num(s['kl_to_own_limit'], 8)} {near:>14} "
                f"{s['heldout_regret']['mean']:>9.4f}"
            )
    for t in res["tasks"]:
        for p in t.get("coverage", []):
            lines.append(
                f"coverage (task {t['task_seed']}) {p['pairs_per_prompt']:>5} pairs/prompt: CoPG regret "
                f"{p['network_regret']:.4f} (limit {_num(p['tabular_regret'], 0)}), "
                f"off-S mass {p['off_support_mass']:.4f} (π*: {p['pi_star_off_support_mass']:.4f})"
            )
    lines.append("")
    lines += [check_text(k, v) for k, v in res["checks"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m llm bridge``: the exact bridge experiment."""
    argv = list(sys.argv[1:] if argv is None else argv)

    @cli_errors
    def _run() -> int:
        cfg = parse_cli(BridgeConfig, argv, __doc__, "python -m llm bridge")  # a parse error: one line
        both = sorted(explicit_options(argv) & set(FAST)) if cfg.fast else []
        if both:
            flags = ", ".join("--" + b.replace("_", "-") for b in both)
            raise UserError(f"bridge: --fast sets {flags} itself; pass either --fast or {flags}, not both")
        for panel, options in PANEL_OPTIONS.items():  # an option of a panel not drawn would be silently ignored
            given = sorted(explicit_options(argv) & set(options))
            if given and panel not in cfg.panels:
                flags = ", ".join("--" + g.replace("_", "-") for g in given)
                raise UserError(f"bridge: {flags} applies only with --panels {panel}; add {panel} to --panels")
        cfg.check()
        # a file, not writable, or a finished run there (unless --force): now, in one line, before any work
        prepare_output_dir(cfg.out, ["results.json"], flag="--out", force=cfg.force)
        names = [f"bridge_{n}{ext}" for n in FIGURE_NAMES for ext in (".json", ".png")]
        figures = Path(cfg.figures) if cfg.figures else Path(cfg.out) / "figures"
        replaced = prepare_output_dir(figures, names, cfg.replace_tracked, flag="--figures", force=cfg.force)
        print("[bridge] config: " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(cfg).items()))
        command = "python -m llm bridge " + " ".join(shlex.quote(a) for a in argv)
        res = run_bridge(cfg, command=command.strip())
        print(report(res))
        if replaced:
            print(f"[bridge] replaced {len(replaced)} tracked file(s) in {figures} (git diff shows what changed)")
        return 0

    return _run()


if __name__ == "__main__":
    sys.exit(main())
