"""Alignment runs as jobs: one frozen spec per run, trained in this process or in worker processes, and the
selection of each method's learning rate by one procedure on the selection prompts.

Every job depends only on its own spec (method, β, seed, dataset, budget, threads) and on what its
:class:`JobContext` names, loaded once per process by :func:`shared`; a finished job is reused when its spec is
unchanged (its ``job.json`` is written last). :func:`select_learning_rates` trains every method at every learning
rate of a grid (seed 0, one β) and keeps, per method, the rate whose run reaches the highest J_β = reward − β·KL on
the selection prompts: the same procedure for every method, on prompts disjoint from those the results are reported on.
:func:`evaluate_reference` evaluates π_ref with the same context and protocol (step 0 of every curve).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from bandit.progress import progress as progress_bar
from bandit.records import atomic_write_json
from llm.data.corpus import load_eval_prompts
from llm.data.offline import load_offline
from llm.model.evaluation import Decoding, evaluate_policy
from llm.model.models import load_policy
from llm.model.rewards import load_reward, reward_of_dataset
from llm.run import MAIN, RunPaths, in_worker, interrupt_workers, quiet_transformers, worker_init
from llm.stages.train import CoPGConfig, train

__all__ = [
    "JobContext",
    "Shared",
    "shared",
    "TrainJob",
    "with_learning_rates",
    "run_job",
    "run_jobs",
    "select_learning_rates",
    "evaluate_reference",
    "fmt_seconds",
]


def fmt_seconds(seconds: float) -> str:
    """``"3m07.2s"``: a duration for the progress lines and the stage-time table."""
    return f"{seconds // 60:.0f}m{seconds % 60:04.1f}s"


# ----------------------------------------------------------------------------------------------------------------
# Training jobs (run in this process or in worker processes: every job depends only on its own spec)
# ----------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class JobContext:
    """What every training job shares, by name: loaded once per process by :func:`shared`."""

    run_dir: str
    preset: str
    datasets: tuple[str, ...]
    eval_prompts: int
    threads: int


@dataclasses.dataclass(frozen=True)
class Shared:
    """The loaded objects of a :class:`JobContext`: π_ref, tokenizer, datasets, evaluation prompts, rewards."""

    tokenizer: Any
    ref: torch.nn.Module
    rows: dict[str, list[dict]]
    eval_rows: list[dict]
    reward: Any
    gold: Any


@functools.lru_cache(maxsize=1)
def shared(ctx: JobContext) -> Shared:
    """Load what the jobs of ``ctx`` share, once per process (a worker keeps it for all its jobs)."""
    if ctx.threads:
        torch.set_num_threads(ctx.threads)
    quiet_transformers()  # a worker process: no per-load progress bars between the [eval] lines
    paths = RunPaths(ctx.run_dir)
    tok, ref = load_policy(ctx.run_dir)
    ref.requires_grad_(False)
    rows = {d: load_offline(paths.require(paths.offline_named(d), "sample")) for d in ctx.datasets}
    return Shared(
        tokenizer=tok,
        ref=ref,
        rows=rows,
        eval_rows=load_eval_prompts(ctx.run_dir, split="valid", n=ctx.eval_prompts),
        reward=reward_of_dataset(ctx.run_dir, rows[MAIN]),  # one unit for every run: the main dataset's scale
        gold=load_reward(ctx.run_dir, kind="gold"),
    )


@dataclasses.dataclass(frozen=True)
class TrainJob:
    """One alignment run: a method at one β and seed on one offline dataset, with the preset's train budget."""

    method: str
    beta: float
    seed: int
    dataset: str
    part: str  # beta_sweep | offpolicy (the figure it serves first) | lr_selection
    budget: dict[str, Any]
    threads: int = 1  # torch threads the job trains with (part of its identity: another count, other weights)

    def key(self) -> tuple:
        return (self.method, self.beta, self.seed, self.dataset)

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def out_dir(self, run_dir: str) -> Path:
        if self.part == "lr_selection":  # one directory per learning rate of the grid
            name = f"{self.method}_beta{self.beta:g}_lr{self.budget['learning_rate']:g}_seed{self.seed}"
            return Path(run_dir) / "train" / "lr_selection" / name
        return Path(run_dir) / "train" / self.dataset / f"{self.method}_beta{self.beta:g}_seed{self.seed}"


def with_learning_rates(jobs: tuple[TrainJob, ...], chosen: dict[str, float]) -> list[TrainJob]:
    """``jobs`` with each method's learning rate from ``chosen`` (:func:`select_learning_rates`)."""
    return [
        dataclasses.replace(
            job, budget={**job.budget, "learning_rate": chosen.get(job.method, job.budget["learning_rate"])}
        )
        for job in jobs
    ]


def evaluate_reference(ctx: JobContext, decoding: Decoding) -> tuple[dict[str, Any], int]:
    """π_ref's evaluation on the context's prompts with the protocol every run uses (step 0 of every curve), written
    to ``<run_dir>/eval/sft.json``; returns (its record, the number of evaluation prompts)."""
    t0 = time.time()
    st = shared(ctx)
    prompts, references = [r["prompt"] for r in st.eval_rows], [r["reference"] for r in st.eval_rows]
    metrics, per_prompt, samples = evaluate_policy(
        st.ref, st.ref, st.tokenizer, prompts, references, st.reward, st.gold, decoding=decoding
    )
    record = {
        "metrics": metrics,
        "per_prompt": per_prompt,
        "samples": samples,
        "decoding": dataclasses.asdict(decoding),
    }
    atomic_write_json(Path(ctx.run_dir) / "eval" / "sft.json", record)
    print(
        f"[pipeline] π_ref: reward {metrics['reward/proxy_mean']:+.3f} ± {metrics['reward/proxy_sem']:.3f} "
        f"(s.e. over {len(prompts)} prompts × {decoding.samples_per_prompt} samples), within-prompt s.d. "
        f"{metrics.get('reward/within_prompt_sd', float('nan')):.3f}, gold "
        f"{metrics.get('reward/gold_mean', float('nan')):.3f} ({time.time() - t0:.0f} s)",
        flush=True,
    )
    return {"step": 0, **metrics, "per_prompt": per_prompt}, len(prompts)


def run_job(ctx: JobContext, job: TrainJob) -> dict:
    """Train one job and return its evaluation records; reuses a finished identical job."""
    out, record = job.out_dir(ctx.run_dir), job.record()
    done = out / "job.json"
    if done.exists():
        prev = json.loads(done.read_text(encoding="utf-8"))
        if prev.get("job") == record:
            return {**record, "eval": prev["eval"], "wall_clock_s": prev["wall_clock_s"], "reused": True}
    t0 = time.time()
    st = shared(ctx)
    torch.set_num_threads(job.threads)
    _, policy = load_policy(ctx.run_dir)
    tcfg = CoPGConfig(
        **job.budget,
        preset=ctx.preset,
        run_dir=ctx.run_dir,
        output_dir=str(out),
        loss_type=job.method,
        beta=float(job.beta),
        seed=job.seed,
        eval_at_start=False,
        save_strategy="no",
        save_final=False,
        disable_tqdm=True,
        log_to_stdout=False,
    )
    res = train(
        tcfg,
        model=policy,
        ref_model=st.ref,
        tokenizer=st.tokenizer,
        train_rows=st.rows[job.dataset],
        eval_rows=st.eval_rows,
        reward_fn=st.reward,
        gold_fn=st.gold,
    )
    result = {"job": record, "eval": res["eval"], "wall_clock_s": time.time() - t0}
    atomic_write_json(done, result)  # written last: its presence marks a finished job (resume skips it)
    return {**record, "eval": res["eval"], "wall_clock_s": result["wall_clock_s"], "reused": False}


def run_jobs(ctx: JobContext, jobs: list[TrainJob], workers: int, progress: bool) -> list[dict]:
    """Every job, in ``workers`` processes (1 = here); results in the order of ``jobs``, one line per finished job."""
    results: list[dict | None] = [None] * len(jobs)
    bar = progress_bar(total=len(jobs), desc="alignment runs", disable=not progress)
    t0 = time.time()

    def done(i: int, r: dict) -> None:
        results[i] = r
        bar.update(1)
        last = r["eval"][-1]
        n = sum(x is not None for x in results)
        eta = (time.time() - t0) / n * (len(jobs) - n)
        took = "reused" if r["reused"] else f"{r['wall_clock_s']:.0f} s"
        print(
            f"[pipeline] {n}/{len(jobs)} {r['dataset']}/{r['method']} β={r['beta']:g} seed {r['seed']}: reward "
            f"{last['reward/proxy_mean']:+.3f}, KL {last.get('policy/kl_exact', float('nan')):.2f} "
            f"({took}; ETA {fmt_seconds(eta)})",
            flush=True,
        )

    if workers <= 1:
        for i, job in enumerate(jobs):
            done(i, run_job(ctx, job))
    else:
        shared.cache_clear()  # the workers load their own copies
        ctx_spawn = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx_spawn, initializer=worker_init)
        with pool as ex, interrupt_workers(ex):
            futures = {ex.submit(in_worker, run_job, ctx, job): i for i, job in enumerate(jobs)}
            for f in as_completed(futures):
                done(futures[f], f.result())
    bar.close()
    return [r for r in results if r is not None]


def select_learning_rates(
    ctx: JobContext,
    methods: tuple[str, ...],
    grid: tuple[float, ...],
    beta: float,
    budget: dict[str, Any],
    selection: list[int],
    threads: int = 1,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Each method's learning rate, chosen by one procedure: train it at every rate of ``grid`` (seed 0, ``beta``,
    the main dataset, ``budget`` otherwise) and keep the rate with the highest J_β = reward − β·KL(π‖π_ref) (exact
    per-token KL) averaged over the ``selection`` prompts of the final evaluation; ties go to the smaller rate.

    Returns ``{"grid", "beta", "seed", "criterion", "scores": {method: {lr: J_β}}, "chosen": {method: lr},
    "at_grid_edge": [methods whose rate is the grid's smallest or largest]}``; with
    an empty grid every method keeps ``budget["learning_rate"]`` (``"criterion": "fixed"``).
    """
    if not grid:
        lr = float(budget["learning_rate"])
        return {
            "grid": [],
            "beta": beta,
            "seed": None,
            "criterion": "fixed",
            "scores": {},
            "chosen": dict.fromkeys(methods, lr),
            "at_grid_edge": [],
        }
    jobs = [
        TrainJob(method=m, beta=float(beta), seed=0, dataset=MAIN, part="lr_selection",
                 budget={**budget, "learning_rate": float(lr)}, threads=threads)
        for m in methods
        for lr in grid
    ]  # fmt: skip
    print(f"[pipeline] ── learning rate of each method: {len(jobs)} runs ({len(grid)} rates × {len(methods)} methods)")
    runs = run_jobs(ctx, jobs, workers, progress)
    scores: dict[str, dict[str, float]] = {m: {} for m in methods}
    for job, r in zip(jobs, runs):
        per = r["eval"][-1]["per_prompt"]
        j = [per["proxy"][i] - beta * per["kl_exact"][i] for i in selection]
        scores[job.method][f"{job.budget['learning_rate']:g}"] = sum(j) / len(j)
    chosen = {}
    for m in methods:
        best = max(sorted(grid), key=lambda lr: scores[m][f"{lr:g}"])  # max keeps the first (smaller) on ties
        chosen[m] = float(best)
        table = ", ".join(f"{lr} → {v:+.3f}" for lr, v in scores[m].items())
        edge = (
            " (at the edge of the grid: the grid does not bracket the best rate)"
            if len(grid) > 1 and best in (min(grid), max(grid))
            else ""
        )
        print(f"[pipeline] {m}: J_β on the selection prompts {table}; chosen {best:g}{edge}", flush=True)
    return {
        "grid": [float(x) for x in grid],
        "beta": float(beta),
        "seed": 0,
        "criterion": "J_beta = reward - beta * exact KL, mean over the selection prompts, final evaluation",
        "scores": scores,
        "chosen": chosen,
        "at_grid_edge": [m for m in methods if len(grid) > 1 and chosen[m] in (min(grid), max(grid))],
    }
