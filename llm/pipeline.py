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
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro

from bandit.records import atomic_write_json, prepare_output_dir
from llm.data import corpus, tokenizer
from llm.data.corpus import SPLITS, content_hash
from llm.jobs import JobContext, TrainJob, fmt_seconds, run_jobs, select_learning_rates, shared
from llm.methods import METHODS
from llm.model.evaluation import Decoding, evaluate_policy
from llm.model.rewards import DEFAULT_REWARD, REWARD_KINDS
from llm.plots import figure_names, make_figures, summarise
from llm.presets import get_preset, preset_help
from llm.run import MAIN, RunPaths, UserError, check_run_dir, cli_errors, parse_cli
from llm.stages import reward_model, sample, sft
from llm.stats import crossed_ci, t_pvalue

SAMPLE_SEED_STRIDE = 1000
"""Chain c samples its offline datasets with seeds 1000·c + i (completion i): no two chains share a sampling seed."""

__all__ = ["SAMPLE_SEED_STRIDE", "PipelineConfig", "Plan", "plan", "make_jobs", "run_pipeline", "report", "main"]


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


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the pipeline will run, resolved once from its config and preset."""

    run_dir: str
    figures: str
    methods: tuple[str, ...]
    betas: dict[str, tuple[float, ...]]
    seeds: tuple[int, ...]
    offpolicy: tuple[str, ...]
    budget: dict[str, Any]
    part1_threads: int
    threads: int
    lr_grid: tuple[float, ...] = ()


def plan(cfg: PipelineConfig) -> Plan:
    """Check the pipeline's options against the preset (one-line errors) and resolve every default."""
    preset = get_preset(cfg.preset)
    if cfg.reward not in REWARD_KINDS:
        raise UserError(f"pipeline: --reward must be one of {', '.join(REWARD_KINDS)}, got {cfg.reward!r}")
    if cfg.part1_threads < 0:
        raise UserError(f"pipeline: --part1-threads must be ≥ 0 (0 = torch's default), got {cfg.part1_threads}")
    if cfg.workers < 1:
        raise UserError(f"pipeline: --workers must be ≥ 1, got {cfg.workers}")
    if cfg.threads < 0:
        raise UserError(f"pipeline: --threads must be ≥ 0 (0 = torch's default), got {cfg.threads}")
    if cfg.betas is not None and (not cfg.betas or not all(0 < b < math.inf for b in cfg.betas)):
        raise UserError(f"pipeline: --betas must be one or more finite values > 0, got {list(cfg.betas)}")
    if cfg.seeds is not None and cfg.seeds < 1:
        raise UserError(f"pipeline: --seeds must be ≥ 1 (≥ 3 for intervals over seeds), got {cfg.seeds}")
    if cfg.lr_grid is not None and not all(0 < lr < math.inf for lr in cfg.lr_grid):
        raise UserError(f"pipeline: --lr-grid must be finite values > 0, got {list(cfg.lr_grid)}")
    if cfg.chain_seed < 0:
        raise UserError(f"pipeline: --chain-seed must be ≥ 0, got {cfg.chain_seed}")
    if cfg.max_steps is not None and cfg.max_steps < 1:
        raise UserError(f"pipeline: --max-steps must be ≥ 1, got {cfg.max_steps}")
    if cfg.methods is not None and not cfg.methods:
        raise UserError("pipeline: --methods needs at least one method (or leave it out for the preset's)")
    if cfg.skip_part1 and cfg.force:
        raise UserError("pipeline: --skip-part1 and --force conflict (--force re-runs part 1); pass one of them")
    if cfg.allow_weak_rm and cfg.reward != "rm":
        raise UserError(f"pipeline: --allow-weak-rm applies only with --reward rm, got --reward {cfg.reward}")
    run_dir = str(check_run_dir(cfg.run_dir or f"runs/{cfg.preset}"))
    methods = tuple(cfg.methods or preset.sweeps)
    offpolicy = tuple(preset.offpolicy if cfg.offpolicy is None else cfg.offpolicy)
    for spec in offpolicy:
        _behaviour(spec, 2)  # a bad behaviour spec fails now, not after part 1
    for m in methods + tuple(preset.offpolicy_methods if offpolicy else ()):
        if m not in METHODS:
            raise UserError(f"pipeline: unknown method {m!r}; choose from {', '.join(METHODS)}")
    budget = dataclasses.asdict(preset.train)
    if cfg.max_steps:
        budget.update(max_steps=cfg.max_steps, save_steps=cfg.max_steps, eval_steps=max(1, cfg.max_steps // 4))
    return Plan(
        run_dir=run_dir,
        figures=cfg.figures or str(Path(run_dir) / "figures"),
        methods=methods,
        betas={m: tuple(cfg.betas or preset.sweeps.get(m, (0.1,))) for m in methods},
        seeds=tuple(range(cfg.seeds if cfg.seeds is not None else preset.seeds)),
        offpolicy=offpolicy,
        budget=budget,
        part1_threads=cfg.part1_threads or torch.get_num_threads(),
        lr_grid=tuple(float(x) for x in (preset.lr_grid if cfg.lr_grid is None else cfg.lr_grid)),
        threads=cfg.threads or torch.get_num_threads(),  # 0: this machine's default, fixed here and recorded
    )


def run_part1(cfg: PipelineConfig, p: Plan, times: dict[str, float]) -> None:
    """Part 1: each stage's ``run`` on its config (cached stages are reused unless --force), then the off-policy
    datasets on the main dataset's reward scale (so β means the same on every dataset)."""
    common = dict(preset=cfg.preset, run_dir=p.run_dir, force=cfg.force, progress=cfg.progress)
    threaded = dict(common, threads=p.part1_threads)
    rewarded = dict(threaded, reward=cfg.reward, allow_weak_rm=cfg.allow_weak_rm)
    stages = [
        ("corpus", lambda: corpus.run(corpus.CorpusConfig(**common))),
        ("tokenizer", lambda: tokenizer.run(tokenizer.TokenizerConfig(**common))),
        ("sft", lambda: sft.run(sft.SFTConfig(**threaded, seed=cfg.chain_seed))),
        ("reward", lambda: reward_model.run(reward_model.RewardConfig(**threaded, seed=cfg.chain_seed))),
        ("sample", lambda: sample.run(sample.SampleConfig(**rewarded, seed=SAMPLE_SEED_STRIDE * cfg.chain_seed))),
    ]
    for name, run in stages:
        if name == "reward" and cfg.reward != "rm":
            continue  # the reward model is trained only where it is the reward
        t0 = time.time()
        print(f"[pipeline] ── {name}", flush=True)
        run()
        times[name] = time.time() - t0
    stats = json.loads(RunPaths(p.run_dir).offline_stats(MAIN).read_text(encoding="utf-8"))
    scale = (stats["reward_scale"]["mean"], stats["reward_scale"]["std"])
    t0 = time.time()
    for spec in p.offpolicy:
        print(f"[pipeline] ── sample μ = {spec}", flush=True)
        behaviour = dict(_behaviour(spec, stats["k"]), dataset=spec, reward_scale=scale)
        sample.run(sample.SampleConfig(**rewarded, **behaviour, seed=SAMPLE_SEED_STRIDE * cfg.chain_seed))
    if p.offpolicy:
        times["sample_offpolicy"] = time.time() - t0


def make_jobs(cfg: PipelineConfig, p: Plan, lrs: dict[str, float] | None = None) -> list[TrainJob]:
    """Every method × β × seed on the main dataset, then the off-policy sweep; a run both parts need appears once.
    ``lrs``: each method's learning rate (:func:`llm.jobs.select_learning_rates`); default the budget's."""
    preset = get_preset(cfg.preset)
    specs = [(m, b, s, MAIN, "beta_sweep") for m in p.methods for b in p.betas[m] for s in p.seeds]
    for spec in p.offpolicy:
        specs += [(m, preset.offpolicy_beta, s, spec, "offpolicy") for m in preset.offpolicy_methods for s in p.seeds]
    if p.offpolicy and "pg" in preset.offpolicy_methods:  # naive PG on π_ref's own samples: the on-policy end
        specs += [("pg", preset.offpolicy_beta, s, MAIN, "offpolicy") for s in p.seeds]
    unique: dict[tuple, TrainJob] = {}
    for m, b, s, d, part in specs:  # the β sweep's copy of a run serves the off-policy sweep too
        budget = {**p.budget, "learning_rate": (lrs or {}).get(m, p.budget["learning_rate"])}
        job = TrainJob(method=m, beta=float(b), seed=s, dataset=d, part=part, budget=budget, threads=p.threads)
        unique.setdefault(job.key(), job)
    return list(unique.values())


def evaluate_reference(cfg: PipelineConfig, ctx: JobContext, times: dict[str, float]) -> tuple[dict, dict]:
    """π_ref's evaluation (step 0 of every curve) with the protocol every run uses; returns (record, decoding)."""
    preset, ev = get_preset(cfg.preset), get_preset(cfg.preset).eval
    t0 = time.time()
    st = shared(ctx)
    decoding = Decoding(
        max_new_tokens=preset.max_completion_tokens,
        temperature=ev.temperature,
        seed=ev.seed,
        batch_size=ev.generation_batch,
        max_prompt_tokens=preset.max_prompt_tokens,
        samples_per_prompt=ev.samples_per_prompt,
    )
    eval_kw = dataclasses.asdict(decoding)
    prompts, references = [r["prompt"] for r in st.eval_rows], [r["reference"] for r in st.eval_rows]
    metrics, per_prompt, samples = evaluate_policy(
        st.ref, st.ref, st.tokenizer, prompts, references, st.reward, st.gold, decoding=decoding
    )
    atomic_write_json(
        Path(ctx.run_dir) / "eval" / "sft.json",
        {"metrics": metrics, "per_prompt": per_prompt, "samples": samples, "decoding": eval_kw},
    )
    times["eval_sft"] = time.time() - t0
    print(
        f"[pipeline] π_ref: reward {metrics['reward/proxy_mean']:+.3f} ± {metrics['reward/proxy_sem']:.3f} "
        f"(s.e. over {len(prompts)} prompts × {ev.samples_per_prompt} samples), within-prompt s.d. "
        f"{metrics.get('reward/within_prompt_sd', float('nan')):.3f}, gold "
        f"{metrics.get('reward/gold_mean', float('nan')):.3f} ({times['eval_sft']:.0f} s)",
        flush=True,
    )
    return {"step": 0, **metrics, "per_prompt": per_prompt}, eval_kw


def run_pipeline(cfg: PipelineConfig, command: str = "") -> dict[str, Any]:
    """Run every stage; returns ``{"times": {stage: s}, "summary": the comparison, "config": ...}``."""
    p = plan(cfg)
    preset = get_preset(cfg.preset)
    torch.set_num_threads(p.threads)
    paths = RunPaths(p.run_dir)
    names = [f"{n}{ext}" for n in figure_names(bool(p.offpolicy)) for ext in (".json", ".png")]
    replaced = prepare_output_dir(p.figures, names, cfg.replace_tracked, flag="--figures")  # before any work
    times: dict[str, float] = {}
    t_all = time.time()
    if not cfg.skip_part1:
        run_part1(cfg, p, times)
    artefacts = part1_artefacts(paths, reward_model=cfg.reward == "rm")  # the RM counts only where it is the reward
    compare_artefacts(artefacts, Path(p.figures) / "llm_best_beta.json")

    ev = preset.eval
    ctx = JobContext(p.run_dir, cfg.preset, (MAIN, *p.offpolicy), ev.prompts, p.threads)  # every worker alike
    sft_record, eval_kw = evaluate_reference(cfg, ctx, times)
    n_eval = len(shared(ctx).eval_rows)
    n_sel = ev.selection_prompts or ev.prompts // 2
    selection, report_split = list(range(n_sel)), list(range(n_sel, n_eval))
    t0 = time.time()
    every_method = tuple(dict.fromkeys(p.methods + (tuple(preset.offpolicy_methods) if p.offpolicy else ())))
    lrs = select_learning_rates(
        ctx, every_method, p.lr_grid, preset.offpolicy_beta, p.budget, selection, p.threads, cfg.workers, cfg.progress
    )
    if p.lr_grid:
        times["lr_selection"] = time.time() - t0
    jobs = make_jobs(cfg, p, lrs["chosen"])
    print(f"[pipeline] ── {len(jobs)} alignment runs × {p.budget['max_steps']} steps, {cfg.workers} worker(s)")
    t0 = time.time()
    runs = run_jobs(ctx, jobs, cfg.workers, cfg.progress)
    times["train_sweep"] = time.time() - t0

    t0 = time.time()
    common_betas = sorted(set.intersection(*(set(p.betas[m]) for m in p.methods))) if p.methods else []
    offpolicy_beta = preset.offpolicy_beta if p.offpolicy else None
    summary = summarise(runs, sft_record, selection, report_split, common_betas, offpolicy_beta)
    summary["heldout_check"] = heldout_check(summary, runs, sft_record, report_split)
    stats = json.loads(paths.offline_stats(MAIN).read_text(encoding="utf-8"))  # the main dataset's rows and scale
    config = {
        "pipeline": dataclasses.asdict(cfg),
        "train_budget": p.budget,
        "learning_rates": lrs,  # each method's rate, chosen on the selection prompts (llm.jobs.select_learning_rates)
        "sweep": {m: list(b) for m, b in p.betas.items()},
        "seeds": list(p.seeds),
        "offpolicy": {
            "behaviours": list(p.offpolicy),
            "methods": list(preset.offpolicy_methods),
            "beta": preset.offpolicy_beta,
        },
        "eval": {**eval_kw, "prompts": n_eval, "selection_prompts": n_sel},
        "offline_prompts": stats["rows"],
        "reward": {"kind": cfg.reward, **stats["reward_scale"]},
        "artefacts": artefacts,
        "torch_threads": {"part1": p.part1_threads, "alignment": p.threads},  # results depend on them, not on workers
    }
    atomic_write_json(paths.root / "summary.json", {"summary": summary, "config": config})  # before drawing
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
    atomic_write_json(paths.root / "pipeline.json", out)
    if replaced:
        print(f"[pipeline] replaced {len(replaced)} tracked file(s) in {p.figures} (git diff shows what changed)")
    return out


def heldout_check(summary: dict, runs: list[dict], sft: dict, report: list[int]) -> dict[str, Any]:
    """Did optimising the reward move the held-out check? For each method at its best β: the reward and the gold
    score (ROUGE-L F1 against the human summary) minus π_ref's, paired per report prompt, over seeds × prompts
    (:func:`llm.stats.crossed_ci`, with its two-sided p). A check of each method against π_ref, not a comparison of
    methods: it is not in the Holm family of the CoPG-vs-baseline comparisons."""
    out = {}
    for m, best in summary["best"].items():
        chosen = sorted(
            (r for r in runs if r["method"] == m and r["dataset"] == MAIN and r["beta"] == best["beta"]),
            key=lambda r: r["seed"],
        )
        row = {"beta": best["beta"]}
        for key in ("proxy", "gold"):
            ref = sft["per_prompt"][key]
            table = [[r["eval"][-1]["per_prompt"][key][i] - ref[i] for i in report] for r in chosen]
            ci = crossed_ci(table)
            row[f"{key}_minus_ref"] = {**{k: ci[k] for k in ("mean", "low", "high", "sem", "df")}, "p": t_pvalue(ci)}
        out[m] = row
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
        print("[pipeline] config: " + json.dumps(dataclasses.asdict(cfg)), flush=True)
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
