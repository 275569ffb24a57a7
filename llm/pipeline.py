"""The whole LLM lab in one command: part 1 (corpus → tokenizer → SFT π_ref → reward model → offline dataset), then a
β sweep of CoPG and its baselines on the same offline dataset, evaluation, and the figures.

Examples:
    python -m llm pipeline --preset tiny                     # every stage in about a minute (tests, notebooks)
    python -m llm pipeline --preset small                    # figures in runs/small/figures
    python -m llm pipeline --preset small --figures figures  # `make reproduce-llm`: the README's LLM figures
    python -m llm pipeline --preset small --skip-part1 --methods copg dpo --betas 0.1

Stage times are printed at the end and written to ``<run_dir>/pipeline.json`` with the results summary (final
reward per method at its best β, KL reached, gold score, paired differences with 95 % confidence intervals).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro

from bandit.records import atomic_write_json, prepare_output_dir
from llm.comparison import heldout_check, summarise
from llm.data import corpus, tokenizer
from llm.data.corpus import SPLITS, content_hash
from llm.jobs import (
    JobContext,
    TrainJob,
    evaluate_reference,
    fmt_seconds,
    run_jobs,
    select_learning_rates,
    with_learning_rates,
)
from llm.methods import METHODS
from llm.model.evaluation import Decoding
from llm.model.rewards import DEFAULT_REWARD, REWARD_KINDS
from llm.plots import figure_names, make_figures
from llm.presets import get_preset, preset_help
from llm.run import MAIN, RunPaths, UserError, check_numbers, check_run_dir, cli_errors, parse_cli
from llm.stages import reward_model, sample, sft

SAMPLE_SEED_STRIDE = 1000
"""Chain c samples its offline datasets with seeds 1000·c + i (completion i): no two chains share a sampling seed."""

__all__ = ["SAMPLE_SEED_STRIDE", "PipelineConfig", "Plan", "plan", "run_part1", "run_pipeline", "report", "main"]


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Run part 1, a β sweep × seeds of the alignment methods and an off-policy sweep, evaluation and the figures."""

    preset: Annotated[str, tyro.conf.arg(help=preset_help("model, data and training budgets."))] = "small"
    run_dir: str | None = None
    """Run directory; default runs/<preset>."""
    figures: str | None = None
    """Directory of the figures (PNG + JSON); default <run_dir>/figures (only `make reproduce` writes figures/)."""
    methods: tuple[str, ...] | None = None
    """Methods to sweep; default: the methods of the preset's sweeps (llm.presets)."""
    betas: tuple[float, ...] | None = None
    """β values for every method; default: each method's grid in the preset's sweeps."""
    max_steps: int | None = None
    """Training steps per run; default: the preset's train budget."""
    lr_grid: tuple[float, ...] | None = None
    """Learning rates tried for each method before the sweeps (seed 0, the off-policy β; the highest J_β on the
    selection prompts wins; llm.jobs.select_learning_rates); default: the preset's (none: the budget's one rate)."""
    seeds: int | None = None
    """Training seeds per (method, β): seeds 0..N−1; default: the preset's (≥ 3 for intervals over seeds)."""
    offpolicy: tuple[str, ...] | None = None
    """Behaviour policies of the off-policy sweep (T<x> or human; none: `--offpolicy`); default: the preset's."""
    reward: str = DEFAULT_REWARD
    """Reward of the offline datasets: overlap (letter-trigram F1 against the human summary, default), content (the
    document's key words: won by listing them), rm (learned RM, behind its quality gate) or gold (ROUGE-L vs the
    reference: the held-out check itself)."""
    allow_weak_rm: bool = False
    """With --reward rm: continue even if the RM fails its quality gate (held-out pair accuracy)."""
    workers: int = 1
    """Alignment runs trained in parallel processes (each with --threads torch threads); 2 on an idle 2-core machine.
    Results do not depend on it: part 1 and every run use fixed thread counts (recorded in the figure JSON)."""
    replace_tracked: bool = False
    """Allow overwriting figures tracked by git in --figures (`make reproduce-llm` passes it)."""
    force: bool = False
    """Re-run part-1 stages even when their outputs exist (training always re-runs)."""
    skip_part1: bool = False
    """Do not run part 1 at all (its outputs must exist in run_dir)."""
    threads: int = 1
    """torch CPU threads of each alignment run and of π_ref's evaluation, whatever --workers (0 = torch's default on
    this machine, resolved once and recorded). 1: measured 2–3× faster than 2 threads on the shared 2-core box
    (generation 2.1 s vs 6.2 s for 32 prompts)."""
    part1_threads: int = 1
    """torch CPU threads of the part-1 stages (sft, reward, sample), independent of --workers. Part 1 is
    deterministic for a given thread count only (measured on `small`: 1 vs 2 threads move SFT weights by up to
    0.158), so the default is fixed at 1, the stages' own default; another count gives another π_ref."""
    chain_seed: int = 0
    """Seed of part 1's SFT (π_ref's initialisation and batches) and of its sampling (the offline datasets): each
    value is an independent π_ref + data chain on the same corpus (`python -m llm chains` runs several)."""
    progress: bool = True
    """Show progress bars (--no-progress turns them off)."""


def part1_artefacts(paths: RunPaths, reward_model: bool = True) -> dict[str, Any]:
    """Content hashes of every part-1 output and the declared corpus sources with their versions.

    Recorded in every LLM figure JSON: two runs with equal hashes trained on the same bytes; the first hash that
    differs shows where two chains parted (corpus → tokenizer → SFT → reward model → offline dataset).
    """
    stats = json.loads((paths.corpus / "stats.json").read_text(encoding="utf-8"))
    return {
        "corpus": stats.get("content_hash") or content_hash(paths.corpus / f"{s}.jsonl" for s in SPLITS),
        "corpus_sources": stats.get("sources", {}),
        "tokenizer": content_hash(sorted(f for f in paths.tokenizer.iterdir() if f.name != "stats.json")),  # no timing
        "sft_model": content_hash([paths.sft_model]),
        "reward_model": content_hash([paths.reward_model]) if reward_model and paths.reward_model.exists() else None,
        "offline_dataset": content_hash([paths.offline_dataset]),
        "offline_datasets": {
            f.stem: content_hash([f]) for f in sorted(paths.offline.glob("*.jsonl")) if f != paths.offline_dataset
        },
    }


def compare_artefacts(artefacts: dict[str, Any], previous_json: Path) -> bool | None:
    """Print whether this run's part-1 artefacts are the ones the figures in ``previous_json`` were made from.

    Returns True (all equal), False (some differ: the figures will not reproduce the committed numbers) or None
    (no previous figure to compare with).
    """
    if not previous_json.exists():
        return None
    try:
        before = json.loads(previous_json.read_text(encoding="utf-8"))["config"]["artefacts"]
    except (ValueError, KeyError, TypeError):
        print(f"[pipeline] {previous_json} records no part-1 hashes (made before they were recorded)", flush=True)
        return None
    differ = [k for k, v in artefacts.items() if k != "corpus_sources" and before.get(k) != v]
    if not differ:
        print(f"[pipeline] part-1 artefacts identical to those of {previous_json} (corpus {artefacts['corpus']})")
        return True
    print(
        f"[pipeline] WARNING: part-1 artefacts differ from those {previous_json} was made from: {', '.join(differ)} "
        f"(first: {differ[0]}). The figures will not reproduce the recorded numbers exactly.",
        flush=True,
    )
    if "corpus" in differ:
        old, new = before.get("corpus_sources", {}), artefacts["corpus_sources"]
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                print(f"[pipeline]   corpus source {key}: recorded {old.get(key)} vs here {new.get(key)}", flush=True)
    return False


def _behaviour(spec: str, k: int) -> dict[str, Any]:
    """``SampleConfig`` fields of the off-policy behaviour ``spec`` (``T<x>`` or ``human``) with k columns."""
    if spec == "human":
        return {"temperatures": (1.0,) * (k - 1), "include_human": True}
    if spec.startswith("T"):
        try:
            t = float(spec[1:])
        except ValueError:
            t = -1.0
        if 0 < t < math.inf:
            return {"temperatures": (t,) * k, "include_human": False}
    raise UserError(f"pipeline: off-policy behaviour {spec!r} is not T<temperature> (e.g. T1.3) or 'human'")


def _check(cfg: PipelineConfig) -> None:
    """One-line errors for options that are wrong whatever the preset."""
    if cfg.reward not in REWARD_KINDS:
        raise UserError(f"pipeline: --reward must be one of {', '.join(REWARD_KINDS)}, got {cfg.reward!r}")
    if cfg.part1_threads < 0:
        raise UserError(f"pipeline: --part1-threads must be ≥ 0 (0 = torch's default), got {cfg.part1_threads}")
    if cfg.workers < 1:
        raise UserError(f"pipeline: --workers must be ≥ 1, got {cfg.workers}")
    if cfg.threads < 0:
        raise UserError(f"pipeline: --threads must be ≥ 0 (0 = torch's default), got {cfg.threads}")
    if cfg.betas is not None and not cfg.betas:
        raise UserError(f"pipeline: --betas must be one or more finite values > 0, got {list(cfg.betas)}")
    check_numbers(cfg, {"betas": "positive", "lr_grid": "positive"}, prefix="pipeline: ")  # ranges, no repeats
    if cfg.seeds is not None and cfg.seeds < 1:
        raise UserError(f"pipeline: --seeds must be ≥ 1 (≥ 3 for intervals over seeds), got {cfg.seeds}")
    if cfg.chain_seed < 0:
        raise UserError(f"pipeline: --chain-seed must be ≥ 0, got {cfg.chain_seed}")
    if cfg.max_steps is not None and cfg.max_steps < 1:
        raise UserError(f"pipeline: --max-steps must be ≥ 1, got {cfg.max_steps}")
    if cfg.methods is not None and not cfg.methods:
        raise UserError("pipeline: --methods needs at least one method (or leave it out for the preset's)")
    for flag, names in (("--methods", cfg.methods), ("--offpolicy", cfg.offpolicy)):
        if names is not None and len(set(names)) != len(names):
            raise UserError(f"pipeline: {flag} names {list(names)}, one of them twice; name each once")
    if cfg.skip_part1 and cfg.force:
        raise UserError("pipeline: --skip-part1 and --force conflict (--force re-runs part 1); pass one of them")
    if cfg.allow_weak_rm and cfg.reward != "rm":
        raise UserError(f"pipeline: --allow-weak-rm applies only with --reward rm, got --reward {cfg.reward}")


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the pipeline will run, resolved once from its config and preset: every step after :func:`plan` reads
    this plan (and the outputs of the steps before it); none looks the preset up or resolves a default again."""

    config: PipelineConfig
    """The options as given (recorded in every figure JSON)."""
    paths: RunPaths
    figures: str
    replaced: tuple[str, ...]
    """Files tracked by git in ``figures`` that the figures will replace (allowed by --replace-tracked)."""
    part1: tuple[tuple[str, Callable[[Any], Path], Any], ...]
    """The part-1 stages in order: (name, its ``run`` function, its config)."""
    offpolicy_sample: sample.SampleConfig
    """The sampling config of the off-policy datasets, less each behaviour's fields and the main dataset's scale."""
    methods: tuple[str, ...]
    lr_methods: tuple[str, ...]
    """The methods whose learning rate is selected: the swept ones, then the off-policy sweep's."""
    betas: dict[str, tuple[float, ...]]
    common_betas: list[float]
    """The β values every swept method shares (J_β at a common β)."""
    seeds: tuple[int, ...]
    offpolicy: tuple[str, ...]
    offpolicy_methods: tuple[str, ...]
    offpolicy_beta: float
    budget: dict[str, Any]
    part1_threads: int
    threads: int
    lr_grid: tuple[float, ...]
    context: JobContext
    """What every training job (and π_ref's evaluation) loads, the same in every worker."""
    decoding: Decoding
    """The evaluation protocol of π_ref and of every run."""
    selection_prompts: int
    """Evaluation prompts that choose each method's β and learning rate (the others report)."""
    jobs: tuple[TrainJob, ...]
    """Every alignment run (β sweep, then the off-policy sweep; a run both need once) at the budget's learning rate;
    each method's selected rate replaces it (:func:`llm.jobs.with_learning_rates`)."""


def plan(cfg: PipelineConfig) -> Plan:
    """Check the pipeline's options (one-line errors, nothing written) and resolve every default from the preset."""
    _check(cfg)
    run_dir = str(check_run_dir(cfg.run_dir or f"runs/{cfg.preset}", writable=True))
    preset = get_preset(cfg.preset)
    methods = tuple(cfg.methods or preset.sweeps)
    offpolicy = tuple(preset.offpolicy if cfg.offpolicy is None else cfg.offpolicy)
    offpolicy_methods = tuple(preset.offpolicy_methods) if offpolicy else ()
    for spec in offpolicy:
        _behaviour(spec, 2)  # a bad behaviour spec fails now, not after part 1
    for m in methods + offpolicy_methods:
        if m not in METHODS:
            raise UserError(f"pipeline: unknown method {m!r}; choose from {', '.join(METHODS)}")
    figures = cfg.figures or str(Path(run_dir) / "figures")
    names = [f"{n}{ext}" for n in figure_names(bool(offpolicy)) for ext in (".json", ".png")]
    replaced = prepare_output_dir(figures, names, cfg.replace_tracked, flag="--figures")  # before any work
    budget = dataclasses.asdict(preset.train)
    if cfg.max_steps:
        budget.update(max_steps=cfg.max_steps, save_steps=cfg.max_steps, eval_steps=max(1, cfg.max_steps // 4))
    betas = {m: tuple(cfg.betas or preset.sweeps.get(m, (0.1,))) for m in methods}
    seeds = tuple(range(cfg.seeds if cfg.seeds is not None else preset.seeds))
    threads = cfg.threads or torch.get_num_threads()  # 0: this machine's default, fixed here and recorded
    part1_threads = cfg.part1_threads or torch.get_num_threads()

    common = dict(preset=cfg.preset, run_dir=run_dir, force=cfg.force, progress=cfg.progress)
    threaded = dict(common, threads=part1_threads)
    rewarded = dict(threaded, reward=cfg.reward, allow_weak_rm=cfg.allow_weak_rm)
    part1 = (
        ("corpus", corpus.run, corpus.CorpusConfig(**common)),
        ("tokenizer", tokenizer.run, tokenizer.TokenizerConfig(**common)),
        ("sft", sft.run, sft.SFTConfig(**threaded, seed=cfg.chain_seed)),
        *(
            (("reward", reward_model.run, reward_model.RewardConfig(**threaded, seed=cfg.chain_seed)),)
            if cfg.reward == "rm"
            else ()
        ),  # the reward model is trained only where it is the reward
        ("sample", sample.run, sample.SampleConfig(**rewarded, seed=SAMPLE_SEED_STRIDE * cfg.chain_seed)),
    )

    specs = [(m, b, s, MAIN, "beta_sweep") for m in methods for b in betas[m] for s in seeds]
    for spec in offpolicy:
        specs += [(m, preset.offpolicy_beta, s, spec, "offpolicy") for m in offpolicy_methods for s in seeds]
    if "pg" in offpolicy_methods:  # naive PG on π_ref's own samples: the on-policy end of the off-policy sweep
        specs += [("pg", preset.offpolicy_beta, s, MAIN, "offpolicy") for s in seeds]
    jobs: dict[tuple, TrainJob] = {}
    for m, b, s, d, part in specs:  # the β sweep's copy of a run serves the off-policy sweep too
        job = TrainJob(method=m, beta=float(b), seed=s, dataset=d, part=part, budget=dict(budget), threads=threads)
        jobs.setdefault(job.key(), job)

    ev = preset.eval
    return Plan(
        config=cfg,
        paths=RunPaths(run_dir),
        figures=figures,
        replaced=tuple(replaced),
        part1=part1,
        offpolicy_sample=part1[-1][2],
        methods=methods,
        lr_methods=tuple(dict.fromkeys(methods + offpolicy_methods)),
        betas=betas,
        common_betas=sorted(set.intersection(*(set(betas[m]) for m in methods))) if methods else [],
        seeds=seeds,
        offpolicy=offpolicy,
        offpolicy_methods=tuple(preset.offpolicy_methods),
        offpolicy_beta=preset.offpolicy_beta,
        budget=budget,
        part1_threads=part1_threads,
        threads=threads,
        lr_grid=tuple(float(x) for x in (preset.lr_grid if cfg.lr_grid is None else cfg.lr_grid)),
        context=JobContext(run_dir, cfg.preset, (MAIN, *offpolicy), ev.prompts, threads),  # every worker alike
        decoding=Decoding(
            max_new_tokens=preset.max_completion_tokens,
            temperature=ev.temperature,
            seed=ev.seed,
            batch_size=ev.generation_batch,
            max_prompt_tokens=preset.max_prompt_tokens,
            samples_per_prompt=ev.samples_per_prompt,
        ),
        selection_prompts=ev.selection_prompts or ev.prompts // 2,
        jobs=tuple(jobs.values()),
    )


def run_part1(p: Plan, times: dict[str, float]) -> None:
    """Part 1: each stage's ``run`` on its config (cached stages are reused unless --force), then the off-policy
    datasets on the main dataset's reward scale (so β means the same on every dataset)."""
    for name, run, config in p.part1:
        t0 = time.time()
        print(f"[pipeline] ── {name}", flush=True)
        run(config)
        times[name] = time.time() - t0
    stats = json.loads(p.paths.offline_stats(MAIN).read_text(encoding="utf-8"))
    scale = (stats["reward_scale"]["mean"], stats["reward_scale"]["std"])
    t0 = time.time()
    for spec in p.offpolicy:
        print(f"[pipeline] ── sample μ = {spec}", flush=True)
        behaviour = dict(_behaviour(spec, stats["k"]), dataset=spec, reward_scale=scale)
        sample.run(dataclasses.replace(p.offpolicy_sample, **behaviour))
    if p.offpolicy:
        times["sample_offpolicy"] = time.time() - t0


def run_pipeline(cfg: PipelineConfig, command: str = "") -> dict[str, Any]:
    """Run every stage; returns ``{"times": {stage: s}, "summary": the comparison, "config": ...}``."""
    p = plan(cfg)  # every input checked here: a bad one is the only line printed
    print("[pipeline] config: " + json.dumps(dataclasses.asdict(cfg)), flush=True)
    torch.set_num_threads(p.threads)
    times: dict[str, float] = {}
    t_all = time.time()
    if not p.config.skip_part1:
        run_part1(p, times)
    reward_model = p.config.reward == "rm"  # the RM counts only where it is the reward
    artefacts = part1_artefacts(p.paths, reward_model=reward_model)
    compare_artefacts(artefacts, Path(p.figures) / "llm_best_beta.json")

    t0 = time.time()
    sft_record, n_eval = evaluate_reference(p.context, p.decoding)
    times["eval_sft"] = time.time() - t0
    n_sel, workers, progress = p.selection_prompts, p.config.workers, p.config.progress
    selection, report_split = list(range(n_sel)), list(range(n_sel, n_eval))
    t0 = time.time()
    lrs = select_learning_rates(
        p.context, p.lr_methods, p.lr_grid, p.offpolicy_beta, p.budget, selection, p.threads, workers, progress
    )
    if p.lr_grid:
        times["lr_selection"] = time.time() - t0
    jobs = with_learning_rates(p.jobs, lrs["chosen"])
    print(f"[pipeline] ── {len(jobs)} alignment runs × {p.budget['max_steps']} steps, {workers} worker(s)")
    t0 = time.time()
    runs = run_jobs(p.context, jobs, workers, progress)
    times["train_sweep"] = time.time() - t0

    t0 = time.time()
    summary = summarise(
        runs, sft_record, selection, report_split, p.common_betas, p.offpolicy_beta if p.offpolicy else None
    )
    summary["heldout_check"] = heldout_check(summary, runs, sft_record, report_split)
    stats = json.loads(p.paths.offline_stats(MAIN).read_text(encoding="utf-8"))  # the main dataset's rows and scale
    config = {
        "pipeline": dataclasses.asdict(p.config),
        "train_budget": p.budget,
        "learning_rates": lrs,  # each method's rate, chosen on the selection prompts (llm.jobs.select_learning_rates)
        "sweep": {m: list(b) for m, b in p.betas.items()},
        "seeds": list(p.seeds),
        "offpolicy": {"behaviours": list(p.offpolicy), "methods": list(p.offpolicy_methods), "beta": p.offpolicy_beta},
        "eval": {**dataclasses.asdict(p.decoding), "prompts": n_eval, "selection_prompts": n_sel},
        "offline_prompts": stats["rows"],
        "reward": {"kind": p.config.reward, **stats["reward_scale"]},
        "artefacts": artefacts,
        "torch_threads": {"part1": p.part1_threads, "alignment": p.threads},  # results depend on them, not on workers
    }
    atomic_write_json(p.paths.root / "summary.json", {"summary": summary, "config": config})  # before drawing
    written = make_figures(summary, p.figures, command or "python -m llm pipeline", config)
    times["figures"] = time.time() - t0
    times["total"] = time.time() - t_all
    out = {
        "times": times,
        "summary": summary,
        "figures": written,
        "config": config,
        "runs": [{k: v for k, v in r.items() if k not in ("eval", "budget")} for r in runs],
    }
    atomic_write_json(p.paths.root / "pipeline.json", out)
    if p.replaced:
        print(f"[pipeline] replaced {len(p.replaced)} tracked file(s) in {p.figures} (git diff shows what changed)")
    return out


def _ci_text(c: dict) -> str:
    return f"{c['mean']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}]"


def _cmp_text(d: dict) -> str:
    """A comparison of the Holm family: its interval, Holm-adjusted p and whether it survives."""
    word = "significant" if d["significant"] else "not significant"
    return f"{_ci_text(d)} (Holm p = {d['p_holm']:.2g}: {word})"


def report(summary: dict) -> str:
    """The comparison as text: π_ref, each method at its best β, J_β at the common β, the off-policy sweep and the
    verdicts (only differences whose Holm-adjusted p over every comparison is ≤ 0.05); every number a mean with its
    95 % interval, every comparison with its Holm-adjusted p."""
    s = summary
    sft = s["sft"]
    lines = [
        f"[pipeline] π_ref: reward {_ci_text(sft['reward'])}; within-prompt s.d. "
        f"{sft['within_prompt_sd'] or float('nan'):.3f} = {sft['within_sd_over_se'] or float('nan'):.1f}× the "
        f"evaluation s.e. ({s['report_prompts']} report prompts; β chosen on {s['selection_prompts']} others)",
        "[pipeline] (c) best β per method (by selection-split reward): reward and exact KL on the report split",
    ]
    for m, b in s["best"].items():
        clip = " (low clipped at 0)" if b["kl"].get("clipped_at_0") else ""
        lines.append(f"  {m:<6} β={b['beta']:<5g} reward {_ci_text(b['reward'])}  KL {_ci_text(b['kl'])}{clip}")
    for m, d in s["paired_best"].items():
        lines.append(f"  CoPG − {m:<5} {_cmp_text(d)}")
    if s.get("heldout_check"):
        lines.append("[pipeline] held-out check at each best β, minus π_ref (paired; not in the Holm family):")
        for m, c in s["heldout_check"].items():
            r, g = c["proxy_minus_ref"], c["gold_minus_ref"]
            lines.append(f"  {m:<6} reward {_ci_text(r)} (p {r['p']:.2g})  ROUGE-L F1 {_ci_text(g)} (p {g['p']:.2g})")
    lines.append("[pipeline] (b) J_β = reward − β·KL at a common β, CoPG minus each method (paired, 95 % CI):")
    for row in s["jbeta"]:
        js = "  ".join(f"{m} {c['mean']:+.3f}" for m, c in row["J"].items())
        lines.append(f"  β={row['beta']:<5g} {js}")
        lines += [f"      CoPG − {m:<5} {_cmp_text(d)}" for m, d in row["copg_minus"].items()]
    if s.get("offpolicy"):
        lines.append(f"[pipeline] off-policy sweep (β = {s['offpolicy']['beta']:g}): J_β, CoPG − PG (paired)")
        for r in s["offpolicy"]["rows"]:
            lines.append(
                f"  μ={r['dataset']:<6} CoPG {r['copg']['mean']:+.3f}  PG {r['pg']['mean']:+.3f}  "
                f"CoPG − PG {_cmp_text(r['copg_minus_pg'])}"
            )
    changing = [c for c in s["curves"] if c.get("last_change") and c["last_change"]["significant"]]
    flat = [c for c in s["curves"] if c.get("last_change") and not c["last_change"]["significant"]]
    if changing or flat:
        lines.append(
            f"[pipeline] curves (selection split): {len(flat)} of {len(flat) + len(changing)} flat over the last "
            "interval (paired change, 95 % CI covers 0)"
            + "".join(
                f"; still {'rising' if c['last_change']['mean'] > 0 else 'falling'}: {c['method']} β={c['beta']:g} "
                f"{c['last_change']['mean']:+.3f} [{c['last_change']['low']:+.3f}, {c['last_change']['high']:+.3f}]"
                for c in changing
            )
        )
    n = len(s.get("holm", {}).get("comparisons", []))
    lines.append(f"[pipeline] verdicts (Holm-adjusted p ≤ 0.05 over all {n} comparisons above):")
    lines += [f"  {v}" for v in s["verdicts"]] or ["  none: no difference survives the Holm correction"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m llm pipeline``: the whole chain and the figures."""

    @cli_errors
    def _run() -> int:
        args = sys.argv[1:] if argv is None else list(argv)
        cfg = parse_cli(PipelineConfig, args, __doc__, "python -m llm pipeline")
        out = run_pipeline(cfg, command="python -m llm pipeline " + shlex.join(args))
        print("\n[pipeline] stage times (this machine):")
        for stage, secs in out["times"].items():
            print(f"  {stage:<16} {fmt_seconds(secs)}")
        print(report(out["summary"]))
        print(f"[pipeline] figures: {', '.join(Path(p).name for p in out['figures'])}")
        return 0

    return _run()


if __name__ == "__main__":
    sys.exit(main())
