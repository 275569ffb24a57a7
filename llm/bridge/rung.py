"""The middle rung: the bridge's task past enumeration, every method trained by the lab's trainer, compared on samples.

``python -m llm rung``. Per chain (an independent π_ref and its data: documents, SFT, offline datasets):

1. the "topic" task (``llm.bridge.task``: 64 words, 24-word documents, 1–6-word summaries, ≈ 7e10 completions per
   prompt) and π_ref by SFT on noisy references (``llm.bridge.world.sft_reference``, the exact bridge's SFT);
2. three offline datasets of the same size, μ = π_ref, π_ref at T = 1.5 and a half-half mixture of π_ref with fresh
   noisy references (``llm.bridge.sampled.offline_datasets``);
3. CoPG, IPO, DPO (Bradley–Terry labels), PG (b = 0), PG (batch mean) on each, and online RLOO, trained by the lab's
   trainer (``llm.bridge.rung_runs``) with the same steps and completions seen; each method's learning rate chosen
   from ``--lr-grid`` by one procedure: the best mean J_β on the selection prompts, chain 0, μ = π_ref, seed 0;
4. evaluation on fresh samples (exact per-token KL, J_β), J_β(π*) by importance sampling → estimated regret, and on
   training prompts each network restricted to the sampled completions against every tabular limit.

Then intervals over chains × seeds × prompts (``llm.stats.chain_ci``), CoPG minus every baseline on held-out prompts
with Holm-adjusted p-values (``data.verdicts``), and three figures (``llm.bridge.rung_plots``).

Examples:
    python -m llm rung                              # one chain, one seed (runs/rung)
    python -m llm rung --fast --out runs/rung_fast  # the test mode (under a minute)
    python -m llm rung --chains 2 --seeds 3 --figures figures --replace-tracked   # `make reproduce-rung`
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bandit.cli import explicit_options
from bandit.progress import progress as progress_bar
from bandit.records import atomic_write_json, prepare_output_dir
from llm.bridge.rung_plots import FIGURE_NAMES, make_figures
from llm.bridge.rung_runs import RUNG_METHODS, run_key, run_record, train_method
from llm.bridge.rung_stats import summarise
from llm.bridge.sampled import (
    MU_NAMES,
    build_sampled_world,
    evaluate,
    limit_table,
    offline_datasets,
    optimal_value,
    random_baseline,
)
from llm.bridge.task import TaskConfig
from llm.run import (
    UserError,
    check_numbers,
    cli_errors,
    in_worker,
    interrupt_workers,
    parse_cli,
    quiet_transformers,
    torch_threads,
    worker_init,
)

__all__ = ["RungConfig", "FAST", "run_rung", "main"]

#: What ``--fast`` sets; passing one of these flags together with ``--fast`` is an error naming both.
FAST = dict(
    num_words=16,
    doc_len=12,
    max_words=3,
    max_topics=2,
    train_prompts=16,
    select_prompts=8,
    heldout_prompts=16,
    sft_docs=256,
    sft_steps=60,
    n_embd=64,
    pairs_per_prompt=2,
    steps=12,
    rows=8,
    curve_every=6,
    lr_grid=(1e-3, 3e-3),
    frontier_betas=(0.3,),
    eval_samples=2,
    is_samples=4,
    limit_prompts=8,
)


@dataclasses.dataclass
class RungConfig:
    """The middle rung (``python -m llm rung``)."""

    out: str = "runs/rung"
    """Output directory: results.json, per-run records (resumable), figures (unless --figures)."""
    figures: str | None = None
    """Directory for the figures rung_*.{png,json}; default <out>/figures (`make reproduce-rung`: figures)."""
    replace_tracked: bool = False
    """Allow overwriting figures tracked by git in --figures (`make reproduce-rung` passes it)."""
    fast: bool = False
    """Test mode (under a minute): a small task and budget (llm.bridge.rung.FAST); passing one of them too is an
    error."""
    force: bool = False
    """Recompute every run even if <out>/records holds it (otherwise a re-run resumes: finished runs are read back,
    when the configuration is the same)."""
    chains: int = 1
    """Independent chains (π_ref + data), task seeds 0..chains−1 (the full study: 2)."""
    seeds: int = 1
    """Training seeds per chain and dataset (the full study: 3)."""
    methods: tuple[str, ...] = tuple(RUNG_METHODS)
    """Methods: copg, ipo, dpo (Bradley–Terry labels), pg (b = 0), pg_batch (b = batch mean), online (RLOO)."""
    beta: float = 0.1
    """β > 0 of J_β = E[R] − β·KL(π‖π_ref), trained and evaluated."""
    frontier_betas: tuple[float, ...] = (0.03, 0.3)
    """Other β of the reward–KL frontier: CoPG, IPO, DPO at μ = π_ref, seed 0 of each chain (empty: no frontier)."""
    num_words: int = 64
    """W, words of documents and summaries."""
    filler_words: int = 16
    """Filler words of documents (never in a summary)."""
    doc_len: int = 24
    """Tokens per document."""
    max_words: int = 6
    """L, most words per summary (+ EOS)."""
    max_topics: int = 4
    """Topic words per document: uniform in 1..max_topics."""
    topic_share: float = 0.6
    """Fraction of a document's tokens that are topic words."""
    length_cost: float = 0.1
    """Reward cost of every summary word after the first."""
    noise: float = 0.1
    """Probability that a word of a noisy reference is replaced by a random word."""
    train_prompts: int = 256
    """Held-in prompts (the offline datasets' prompts)."""
    select_prompts: int = 64
    """Selection prompts (learning rates, learning curves); never trained on, not reported."""
    heldout_prompts: int = 256
    """Held-out prompts (the reported comparisons)."""
    sft_docs: int = 4096
    """Documents with noisy references for the SFT of π_ref."""
    sft_steps: int = 400
    """AdamW steps of SFT (batch --sft-batch, 5 % warm-up, cosine)."""
    sft_batch: int = 64
    """SFT batch."""
    sft_lr: float = 3e-3
    """Peak SFT learning rate."""
    n_layer: int = 2
    """GPT-2 layers."""
    n_embd: int = 128
    """GPT-2 width."""
    n_head: int = 4
    """GPT-2 heads."""
    pairs_per_prompt: int = 4
    """Offline rows (K = 2 completions of μ) per training prompt, for every μ."""
    steps: int = 200
    """Optimizer steps of every method (10 % warm-up, cosine to 0)."""
    rows: int = 32
    """Prompts per step (K = 2 completions each: offline rows, or fresh samples for online RLOO)."""
    lr_grid: tuple[float, ...] = (1e-4, 3e-4, 1e-3)
    """Learning rates tried per method (chain 0, μ = π_ref, seed 0); the best mean J_β on the selection prompts
    wins."""
    curve_every: int = 20
    """Learning curves: J_β on the selection prompts every N steps."""
    curve_samples: int = 2
    """Learning curves: samples per selection prompt."""
    eval_samples: int = 4
    """Samples per prompt of every evaluation (common random numbers across policies)."""
    is_samples: int = 32
    """J_β(π*) by importance sampling: samples per prompt from each proposal (π_ref, online RLOO's and CoPG's
    networks at μ = π_ref, seed 0)."""
    ess_min: float = 10.0
    """A prompt's J_β(π*) estimate is flagged unreliable when its effective sample size is below this."""
    limit_prompts: int = 64
    """Training prompts on which networks are compared with the tabular limits."""
    gen_batch: int = 256
    """Sequences per generation / scoring batch."""
    threads: int = 1
    """Torch CPU threads per process."""
    workers: int = 2
    """Processes training runs in parallel (2: one per core of a 2-core box; 1 on a shared machine)."""
    progress: bool = True
    """Show progress bars (--no-progress turns them off)."""
    task_seed: int = 0
    """The chain being run (set internally from --chains; not an option to pass)."""

    def __post_init__(self) -> None:
        if self.fast:
            for k, v in FAST.items():
                setattr(self, k, v)

    @property
    def task(self) -> TaskConfig:
        """The task ("topic" documents, "best" noisy references)."""
        return TaskConfig(
            num_words=self.num_words,
            doc_len=self.doc_len,
            max_words=self.max_words,
            length_cost=self.length_cost,
            noise=self.noise,
            doc_style="topic",
            filler_words=self.filler_words,
            max_topics=self.max_topics,
            topic_share=self.topic_share,
            reference="best",
        )

    def check(self) -> None:
        """Raise :class:`llm.run.UserError` (one line naming the flag, exit 2 in the CLI) on an invalid option."""

        bad = [m for m in self.methods if m not in RUNG_METHODS]
        if bad or "copg" not in self.methods or len(set(self.methods)) != len(self.methods):
            raise UserError(
                f"rung: --methods got {list(self.methods)}; choose copg and others of {', '.join(RUNG_METHODS)}, "
                "each once"
            )
        if not self.lr_grid:
            raise UserError("rung: --lr-grid needs at least 1 value")
        check_numbers(self, RUNG_NUMBER_RULES, prefix="rung: ")
        if self.n_embd % self.n_head:
            raise UserError(f"rung: --n-embd ({self.n_embd}) must be a multiple of --n-head ({self.n_head})")
        if self.limit_prompts > self.train_prompts:
            raise UserError("rung: --limit-prompts must be ≤ --train-prompts")
        n_topic = round(self.topic_share * self.doc_len)
        if n_topic < 2 * self.max_topics:
            raise UserError(
                f"rung: --topic-share × --doc-len = {n_topic} topic tokens; each of --max-topics ({self.max_topics}) "
                f"topic words appears at least twice, so it must be ≥ {2 * self.max_topics}"
            )
        try:
            _ = self.task
        except ValueError as e:
            names = {"num_words": "--num-words", "filler_words": "--filler-words", "max_topics": "--max-topics"}
            hint = ", ".join(f for k, f in names.items() if k in str(e)) or "the task options"
            raise UserError(f"rung: {hint}: {e}") from None


# ----------------------------------------------------------------------------------------------------------------
# Jobs: one trained network each, in --workers processes (fork: the chain's world is inherited, not pickled)
# ----------------------------------------------------------------------------------------------------------------

_CHAIN: dict[str, Any] = {}
PROPOSALS = ("online", "copg")  # the IS proposals' networks (μ = π_ref, seed 0), kept as state dicts


#: The range of every numeric option of :class:`RungConfig` (kinds of :func:`llm.run.check_numbers`).
RUNG_NUMBER_RULES: dict[str, str] = {
    **dict.fromkeys(("beta", "sft_lr", "lr_grid", "frontier_betas"), "positive"),
    **dict.fromkeys(("length_cost", "ess_min"), "nonneg"),
    "noise": "unit",
    "topic_share": "share",
    **dict.fromkeys(
        (
            *("chains", "seeds", "train_prompts", "select_prompts", "heldout_prompts", "sft_docs", "sft_steps"),
            *("pairs_per_prompt", "steps", "rows", "curve_every", "curve_samples", "eval_samples", "is_samples"),
            *("limit_prompts", "gen_batch", "threads", "workers", "sft_batch", "n_layer", "n_embd", "n_head"),
            *("num_words", "doc_len", "max_words", "max_topics", "filler_words"),
        ),
        "count",
    ),
}


def _job(job: dict) -> tuple[str, dict]:
    world, data, tables = _CHAIN["world"], _CHAIN["data"], _CHAIN["tables"]
    cfg = world.cfg
    method = RUNG_METHODS[job["method"]]
    rows = data[job["mu"]]["rows"]
    out_dir = Path(cfg.out) / f"chain{cfg.task_seed}" / "trainer" / job["key"]
    model, curve, seconds = train_method(world, method, rows, job["lr"], job["seed"], job["beta"], out_dir)
    limits = {job["mu"]: tables[job["mu"]]} if job["beta"] == cfg.beta else None
    rec = run_record(world, model, job["method"], job["beta"], limits)
    select = run_select(world, model, job["beta"])
    rec.update(job=job, curve=curve, train_s=seconds, select=sum(select) / len(select))
    if job["seed"] == 0 and job["mu"] == "ref" and job["method"] in PROPOSALS and job["beta"] == cfg.beta:
        rec["state"] = {k: v.clone() for k, v in model.state_dict().items()}
    return job["key"], rec


def run_select(world: Any, model: Any, beta: float) -> list[float]:
    """Per selection prompt J_β of ``eval_samples`` fresh samples (the learning-rate choice)."""
    return evaluate(world, model, "select", world.cfg.eval_samples, seed=13, beta=beta)["jbeta"]


def _records_dir(cfg: RungConfig) -> Path:
    return Path(cfg.out) / "records" / f"chain{cfg.task_seed}"


def _run_jobs(cfg: RungConfig, jobs: list[dict], bar: Any) -> dict[str, dict]:
    """Run ``jobs`` (skipping those with a record on disk), write each record (and proposal state) atomically."""
    rdir = _records_dir(cfg)
    done, todo = {}, []
    for j in jobs:
        path = rdir / f"{j['key']}.json"
        if path.exists() and not cfg.force:
            done[j["key"]] = json.loads(path.read_text())
            if (rdir / f"{j['key']}.pt").exists():
                done[j["key"]]["state"] = torch.load(
                    rdir / f"{j['key']}.pt", weights_only=True
                )  # tensors only, never code
            bar.update(1)
        else:
            todo.append(j)

    def keep(key: str, rec: dict) -> None:
        state = rec.get("state")
        if state is not None:
            rdir.mkdir(parents=True, exist_ok=True)
            tmp = rdir / f".{key}.pt.tmp"
            torch.save(state, tmp)
            tmp.replace(rdir / f"{key}.pt")
        atomic_write_json(rdir / f"{key}.json", {k: v for k, v in rec.items() if k != "state"})
        done[key] = rec
        bar.set_postfix(done=key)
        bar.update(1)

    workers = min(cfg.workers, len(todo))
    if workers <= 1:
        for j in todo:
            keep(*_job(j))
        return done
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("fork")
    init = (torch.set_num_threads, cfg.threads)
    with (
        ProcessPoolExecutor(workers, mp_context=ctx, initializer=worker_init, initargs=init) as pool,
        interrupt_workers(pool),
    ):
        for fut in as_completed([pool.submit(in_worker, _job, j) for j in todo]):
            keep(*fut.result())
    return done


def _jobs(cfg: RungConfig, lrs: dict[str, float] | None) -> tuple[list[dict], list[dict]]:
    """The selection jobs (chain 0 only: ``lrs`` None) and the main + frontier jobs (``lrs`` given)."""

    def job(mu: str, m: str, seed: int, beta: float, lr: float) -> dict:
        return {"key": run_key(mu, m, seed, beta, lr), "mu": mu, "method": m, "seed": seed, "beta": beta, "lr": lr}

    if lrs is None:
        return [job("ref", m, 0, cfg.beta, lr) for m in cfg.methods for lr in cfg.lr_grid], []
    main = [
        job(mu, m, s, cfg.beta, lrs[m])
        for mu in MU_NAMES
        for m in cfg.methods
        if RUNG_METHODS[m].offline or mu == "ref"
        for s in range(cfg.seeds)
    ]
    front = [
        job("ref", m, 0, b, lrs[m]) for b in cfg.frontier_betas for m in ("copg", "ipo", "dpo") if m in cfg.methods
    ]
    return [], main + front


def run_chain(cfg: RungConfig, lrs: dict[str, float] | None, bar: Any) -> dict[str, Any]:
    """One chain (``cfg.task_seed``): world, data, limits, the learning-rate choice when ``lrs`` is None (chain 0),
    every run, π_ref's evaluation and J_β(π*) by importance sampling. Returns the JSON-ready chain record."""
    world, info = build_sampled_world(cfg)
    data = offline_datasets(world, seed=100 * cfg.task_seed + 1)
    t0 = time.time()
    tables = {mu: limit_table(world, data[mu]["rows"], list(cfg.methods)) for mu in MU_NAMES}
    limits_s = time.time() - t0
    _CHAIN.update(world=world, data=data, tables=tables)
    try:
        recs: dict[str, dict] = {}
        selection = None
        if lrs is None:
            sel, _ = _jobs(cfg, None)
            recs.update(_run_jobs(cfg, sel, bar))
            selection = {
                m: {f"{lr:g}": recs[run_key("ref", m, 0, cfg.beta, lr)]["select"] for lr in cfg.lr_grid}
                for m in cfg.methods
            }
            lrs = {m: max(cfg.lr_grid, key=lambda lr, m=m: selection[m][f"{lr:g}"]) for m in cfg.methods}
        _, main = _jobs(cfg, lrs)
        recs.update(_run_jobs(cfg, [j for j in main if j["key"] not in recs], bar))
    finally:
        _CHAIN.clear()
    t0 = time.time()
    ref_rec = run_record(world, world.ref_model, "copg", cfg.beta, None)
    proposals = []
    for m in PROPOSALS:
        key = run_key("ref", m, 0, cfg.beta, lrs[m]) if m in lrs else None
        if key in recs and "state" in recs[key]:
            net = copy.deepcopy(world.ref_model)
            net.load_state_dict(recs[key]["state"])
            proposals.append(net)
    vstar = {s: optimal_value(world, proposals, s, cfg.is_samples, seed=77) for s in ("train", "heldout")}
    return {
        "task_seed": cfg.task_seed,
        "sft_s": info["sft_s"],
        "sft_final_loss": sum(info["sft_loss_curve"][-20:]) / len(info["sft_loss_curve"][-20:]),
        "distance": {mu: data[mu]["distance"] for mu in MU_NAMES},
        "data_mean_reward": {
            mu: sum(sum(r["rewards"]) for r in data[mu]["rows"]) / (2 * len(data[mu]["rows"])) for mu in MU_NAMES
        },
        "limits_s": limits_s,
        "lrs": lrs,
        "selection": selection,
        "pi_ref": ref_rec,
        "vstar": vstar,
        "num_proposals": 1 + len(proposals),
        "baseline": random_baseline(world, "heldout", 16, seed=5),
        "runs": {k: {kk: vv for kk, vv in r.items() if kk != "state"} for k, r in recs.items()},
        "eval_s": time.time() - t0,
    }


_RESUME_IGNORES = (
    *("out", "figures", "replace_tracked", "force", "workers", "progress", "threads", "task_seed"),
    *("chains", "seeds"),  # a run's record does not depend on how many chains and seeds the study has
)


def _check_resume(cfg: RungConfig) -> None:
    """Refuse to mix records of another configuration into this run (unless --force recomputes them)."""
    path = Path(cfg.out) / "config.json"
    mine = {k: v for k, v in json.loads(json.dumps(dataclasses.asdict(cfg))).items() if k not in _RESUME_IGNORES}
    if path.exists() and not cfg.force:
        theirs = {k: v for k, v in json.loads(path.read_text()).items() if k not in _RESUME_IGNORES}
        if theirs != mine:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise UserError(
                f"rung: {cfg.out} holds runs of another configuration (differs in {', '.join(diff)}); pass --force "
                "to recompute them or another --out"
            )
    atomic_write_json(path, mine)


def run_rung(cfg: RungConfig, command: str | None = None) -> dict:
    """Every chain, the summary, ``<out>/results.json`` and the figures; returns the results."""
    cfg.check()
    quiet_transformers()
    t_start = time.time()
    _check_resume(cfg)
    sel, _ = _jobs(cfg, None)
    _, main = _jobs(cfg, {m: 1.0 for m in cfg.methods})
    bar = progress_bar(total=len(sel) + cfg.chains * len(main), desc="rung runs", disable=not cfg.progress)
    chains, lrs = [], None
    with torch_threads(cfg.threads):
        for c in range(cfg.chains):
            rec = run_chain(dataclasses.replace(cfg, task_seed=c), lrs, bar)
            lrs = rec["lrs"]
            chains.append(rec)
    bar.close()
    results = {
        "command": command or "python -m llm rung",
        "config": dataclasses.asdict(cfg),
        "summary": summarise(cfg, chains),
        "chains": chains,
        "timing": {"total_s": time.time() - t_start},
    }
    atomic_write_json(Path(cfg.out) / "results.json", results)
    make_figures(results, Path(cfg.figures) if cfg.figures else Path(cfg.out) / "figures")
    return results


def report(res: dict) -> str:
    """The headline numbers as readable lines."""
    s = res["summary"]
    a = s["competence"]
    lines = [
        f"[rung] done in {res['timing']['total_s']:.0f} s; {res['config']['chains']} chain(s) × "
        f"{res['config']['seeds']} seed(s); learning rates {s['lrs']}",
        f"π_ref competence (held-out, mean reward): random {a['random']:+.3f}, π_ref {a['pi_ref']:+.3f}, "
        f"π* (IS) {a['pi_star']:+.3f}, best summary {a['best']:+.3f}: {100 * a['fraction']:.0f} % of the way "
        f"from random to π* ({'≥' if a['holds'] else '<'} 50 %)",
        f"J_β(π*) by IS: median ESS {s['ess']['median']:.1f} of {s['ess']['samples']} samples; "
        f"{100 * s['ess']['unreliable_fraction']:.0f} % of prompts below ESS {res['config']['ess_min']:g} "
        "(unreliable)",
        "",
        f"{'method':<10} {'μ':<7} {'held-out J_β':>22} {'regret (est.)':>14} {'held-in J_β − π_ref':>26} "
        f"{'nearest limit (runs nearest own)':>30}",
    ]
    for row in s["table"]:
        j, g, d = row["heldout_jbeta"], row["regret"], row["heldin_vs_ref"]
        own = row.get("nearest_own_runs")
        near = row["nearest_limit"] + (f" (own {own[0]}/{own[1]})" if own else "")
        lines.append(
            f"{row['method']:<10} {row['mu']:<7} {j['mean']:>+8.4f} [{j['low']:+.3f}, {j['high']:+.3f}] "
            f"{g['mean']:>14.4f} {d['mean']:>+9.4f} [{d['low']:+.3f}, {d['high']:+.3f}] {near:>30}"
        )
    lines.append("")
    for v in s["verdicts"]:
        tag = "significant after Holm" if v["holm_significant"] else "not significant"
        rep = {
            None: "one chain: replication not tested",
            1: "replicated: CoPG ahead in every chain",
            -1: "replicated: the baseline ahead in every chain",
        }.get(v["replicated"], "not replicated")
        lines.append(
            f"CoPG − {v['baseline']:<8} μ={v['mu']:<6} {v['mean']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}] "
            f"Holm-adjusted p {v['holm_p']:.3g} ({tag}; MDE {v['mde']:.4f}; {rep})"
        )
    lines.append(
        "nearest limit: the tabular limit (on each prompt's sampled completions) nearest the network, most often over "
        "runs; own k/n: in k of n runs the network is nearest its own method's limit (a limit that coincides with "
        "its own counts as own). "
        "MDE = minimum detectable effect (80 % power at Holm's strictest level)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m llm rung``: the middle rung."""
    argv = list(sys.argv[1:] if argv is None else argv)

    @cli_errors
    def _run() -> int:
        cfg = parse_cli(RungConfig, argv, __doc__, "python -m llm rung")  # a parse error: one line
        both = sorted(explicit_options(argv) & set(FAST)) if cfg.fast else []
        if both:
            flags = ", ".join("--" + b.replace("_", "-") for b in both)
            raise UserError(f"rung: --fast sets {flags} itself; pass either --fast or {flags}, not both")
        if "task_seed" in explicit_options(argv):
            raise UserError("rung: --task-seed is set internally per chain; pass --chains instead")
        cfg.check()
        out = Path(cfg.out)
        if out.exists() and not out.is_dir():
            raise UserError(f"rung: --out {out} is a file; pass a directory (e.g. runs/rung)")
        names = [f"rung_{n}{ext}" for n in FIGURE_NAMES for ext in (".json", ".png")]
        figures = Path(cfg.figures) if cfg.figures else out / "figures"
        replaced = prepare_output_dir(figures, names, cfg.replace_tracked, flag="--figures")
        command = ("python -m llm rung " + " ".join(shlex.quote(a) for a in argv)).strip()
        res = run_rung(cfg, command=command)
        print(report(res))
        if replaced:
            print(f"[rung] replaced {len(replaced)} tracked file(s) in {figures} (git diff shows what changed)")
        return 0

    return _run()


if __name__ == "__main__":
    sys.exit(main())
