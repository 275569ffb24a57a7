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
import multiprocessing
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from bandit.progress import progress as progress_bar
from bandit.records import atomic_write_json, prepare_output_dir
from llm.data import corpus, tokenizer
from llm.data.corpus import SPLITS, content_hash, load_eval_prompts
from llm.data.offline import load_offline
from llm.methods import METHODS
from llm.model.evaluation import evaluate_policy
from llm.model.models import load_policy
from llm.model.rewards import REWARD_KINDS, load_reward, reward_of_dataset
from llm.plots import MAIN, figure_names, make_figures, summarise
from llm.presets import get_preset
from llm.run import RunPaths, UserError, cli_errors, quiet_transformers
from llm.stages import reward, sample, sft
from llm.stages.train import CoPGConfig, train

__all__ = ["PipelineConfig", "run_pipeline", "report", "main"]

# Part 1, in order: each stage's command-line entry point (each skips work whose outputs exist unless --force).
PART1_STAGES = {
    "corpus": corpus.main,
    "tokenizer": tokenizer.main,
    "sft": sft.main,
    "reward": reward.main,
    "sample": sample.main,
}
THREADED = ("sft", "reward", "sample")  # the part-1 stages with a --threads option


@dataclasses.dataclass
class PipelineConfig:
    """Run part 1, a β sweep × seeds of the alignment methods and an off-policy sweep, evaluation and the figures."""

    preset: str = "small"
    """Preset: tiny | small | gpt2 | smollm2 | smollm2-gpu (model, data and training budgets)."""
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
    seeds: int | None = None
    """Training seeds per (method, β): seeds 0..N−1; default: the preset's (≥ 3 for intervals over seeds)."""
    offpolicy: tuple[str, ...] | None = None
    """Behaviour policies of the off-policy sweep (T<x> or human; none: `--offpolicy`); default: the preset's."""
    reward: str = "content"
    """Reward of the offline datasets: content (programmatic, default), rm (learned RM, behind its quality gate) or
    gold (ROUGE-L vs the reference)."""
    allow_weak_rm: bool = False
    """With --reward rm: continue even if the RM fails its quality gate (held-out pair accuracy)."""
    workers: int = 1
    """Alignment runs trained in parallel processes (1 torch thread each); 2 on an idle 2-core machine."""
    replace_tracked: bool = False
    """Allow overwriting figures tracked by git in --figures (`make reproduce-llm` passes it)."""
    force: bool = False
    """Re-run part-1 stages even when their outputs exist (training always re-runs)."""
    skip_part1: bool = False
    """Do not run part 1 at all (its outputs must exist in run_dir)."""
    threads: int = 1
    """torch CPU threads of each alignment run (0 = torch's default). 1: measured 2–3× faster than 2 threads on the
    shared 2-core box (generation 2.1 s vs 6.2 s for 32 prompts)."""
    part1_threads: int | None = None
    """torch CPU threads of the part-1 stages (sft, sample), which run one at a time: default --workers (the cores
    the alignment runs will use are idle during part 1)."""
    no_progress: bool = False
    """Turn progress bars off."""


def _fmt(seconds: float) -> str:
    return f"{seconds // 60:.0f}m{seconds % 60:04.1f}s"


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


def _behaviour_args(spec: str, k: int) -> list[str]:
    """``python -m llm sample`` arguments of the off-policy behaviour ``spec`` (``T<x>`` or ``human``), k columns."""
    if spec == "human":
        return ["--temperatures", *["1.0"] * (k - 1), "--include-human", "True"]
    if spec.startswith("T"):
        try:
            t = float(spec[1:])
        except ValueError:
            t = -1.0
        if t > 0:
            return ["--temperatures", *[f"{t:g}"] * k, "--include-human", "False"]
    raise UserError(f"pipeline: off-policy behaviour {spec!r} is not T<temperature> (e.g. T1.3) or 'human'")


# ----------------------------------------------------------------------------------------------------------------
# Training jobs (run in this process or in worker processes: every job depends only on its own spec)
# ----------------------------------------------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _load_state(run_dir: str, preset: str, datasets: list[str], eval_n: int, threads: int) -> None:
    """What every job shares, loaded once per process: π_ref, tokenizer, datasets, evaluation prompts, rewards."""
    if threads:
        torch.set_num_threads(threads)
    quiet_transformers()  # a worker process: no per-load progress bars between the [eval] lines
    paths = RunPaths(run_dir)
    tokenizer, ref = load_policy(run_dir)
    ref.requires_grad_(False)
    rows = {d: load_offline(paths.require(paths.offline_named(d), "sample")) for d in datasets}
    _STATE.update(
        run_dir=run_dir,
        preset=preset,
        tokenizer=tokenizer,
        ref=ref,
        rows=rows,
        eval_rows=load_eval_prompts(run_dir, split="valid", n=eval_n),
        reward=reward_of_dataset(run_dir, rows[MAIN]),  # one unit for every run: the main dataset's scale
        gold=load_reward(run_dir, kind="gold"),
    )


def _job_dir(run_dir: str, job: dict) -> Path:
    return Path(run_dir) / "train" / job["dataset"] / f"{job['method']}_beta{job['beta']:g}_seed{job['seed']}"


def _run_job(job: dict) -> dict:
    """Train one (method, β, seed, dataset) and return its evaluation records; reuses a finished identical job."""
    st = _STATE
    out = _job_dir(st["run_dir"], job)
    done = out / "job.json"
    if done.exists():
        prev = json.loads(done.read_text(encoding="utf-8"))
        if prev.get("job") == job:
            return {**job, "eval": prev["eval"], "wall_clock_s": prev["wall_clock_s"], "reused": True}
    t0 = time.time()
    _, policy = load_policy(st["run_dir"])
    tcfg = CoPGConfig(
        **{
            **job["budget"],
            "preset": st["preset"],
            "run_dir": st["run_dir"],
            "output_dir": str(out),
            "method": job["method"],
            "beta": float(job["beta"]),
            "seed": job["seed"],
            "eval_at_start": False,
            "save_strategy": "no",
            "save_final": False,
            "no_progress": True,
            "log_to_stdout": False,
        }
    )
    res = train(
        tcfg,
        model=policy,
        ref_model=st["ref"],
        tokenizer=st["tokenizer"],
        train_rows=st["rows"][job["dataset"]],
        eval_rows=st["eval_rows"],
        reward_fn=st["reward"],
        gold_fn=st["gold"],
    )
    record = {"job": job, "eval": res["eval"], "wall_clock_s": time.time() - t0}
    atomic_write_json(done, record)  # written last: its presence marks a finished job (resume skips it)
    return {**job, "eval": res["eval"], "wall_clock_s": record["wall_clock_s"], "reused": False}


def _run_jobs(jobs: list[dict], workers: int, init: tuple, progress: bool) -> list[dict]:
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
            f"({took}; ETA {_fmt(eta)})",
            flush=True,
        )

    if workers <= 1:
        if _STATE.get("run_dir") != init[0]:  # loaded already for π_ref's evaluation: not twice
            _load_state(*init)
        for i, job in enumerate(jobs):
            done(i, _run_job(job))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_load_state, initargs=init) as ex:
            futures = {ex.submit(_run_job, job): i for i, job in enumerate(jobs)}
            for f in as_completed(futures):
                done(futures[f], f.result())
    bar.close()
    return [r for r in results if r is not None]


def run_pipeline(cfg: PipelineConfig, command: str = "") -> dict[str, Any]:
    """Run every stage; returns ``{"times": {stage: s}, "summary": the comparison, "config": ...}``."""
    preset = get_preset(cfg.preset)
    if cfg.reward not in REWARD_KINDS:
        raise UserError(f"pipeline: --reward must be one of {', '.join(REWARD_KINDS)}, got {cfg.reward!r}")
    if cfg.part1_threads is not None and cfg.part1_threads < 0:
        raise UserError(f"pipeline: --part1-threads must be ≥ 0 (0 = torch's default), got {cfg.part1_threads}")
    if cfg.workers < 1:
        raise UserError(f"pipeline: --workers must be ≥ 1, got {cfg.workers}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = cfg.run_dir or f"runs/{cfg.preset}"
    figures = cfg.figures or str(Path(run_dir) / "figures")
    paths = RunPaths(run_dir)
    sweep = preset.sweeps
    methods = list(cfg.methods or sweep)
    seeds = list(range(cfg.seeds if cfg.seeds is not None else preset.seeds))
    offpolicy = list(preset.offpolicy if cfg.offpolicy is None else cfg.offpolicy)
    for m in methods + list(preset.offpolicy_methods if offpolicy else []):
        if m not in METHODS:
            raise UserError(f"pipeline: unknown method {m!r}; choose from {', '.join(METHODS)}")
    betas = {m: tuple(cfg.betas or sweep.get(m, (0.1,))) for m in methods}
    names = [f"{n}{ext}" for n in figure_names(bool(offpolicy)) for ext in (".json", ".png")]
    replaced = prepare_output_dir(figures, names, cfg.replace_tracked, flag="--figures")  # before any work
    times: dict[str, float] = {}
    t_all = time.time()

    # PLUMBING: part 1, each stage through its own CLI entry point (skips completed stages unless --force)
    common = ["--preset", cfg.preset, "--run-dir", run_dir] + (["--no-progress"] if cfg.no_progress else [])
    force = ["--force"] if cfg.force else []
    p1_threads = cfg.part1_threads if cfg.part1_threads is not None else cfg.workers
    if not cfg.skip_part1:
        stages = {k: v for k, v in PART1_STAGES.items() if k != "reward" or cfg.reward == "rm"}
        for stage, stage_main in stages.items():
            t0 = time.time()
            print(f"[pipeline] ── {stage}", flush=True)
            extra = ["--reward", cfg.reward] + (["--allow-weak-rm"] if cfg.allow_weak_rm else [])
            extra = (extra if stage == "sample" else []) + (
                ["--threads", str(p1_threads)] if stage in THREADED else []
            )
            rc = stage_main(common + force + extra)
            times[stage] = time.time() - t0
            if rc:
                raise UserError(f"pipeline: stage {stage} failed with exit code {rc} (its error is printed above)")
        main_stats = json.loads(paths.offline_stats(MAIN).read_text(encoding="utf-8"))
        scale = main_stats["reward_scale"]
        k = main_stats["k"]
        t0 = time.time()
        for spec in offpolicy:  # the off-policy datasets: the main dataset's reward scale, so β means the same
            print(f"[pipeline] ── sample μ = {spec}", flush=True)
            args = _behaviour_args(spec, k) + ["--dataset", spec, "--reward", cfg.reward, "--threads", str(p1_threads)]
            args += ["--reward-scale", repr(scale["mean"]), repr(scale["std"])] + (
                ["--allow-weak-rm"] if cfg.allow_weak_rm else []
            )
            if sample.main(common + force + args):
                raise UserError(
                    f"pipeline: sampling the off-policy dataset {spec} failed (its error is printed above)"
                )
        if offpolicy:
            times["sample_offpolicy"] = time.time() - t0

    artefacts = part1_artefacts(paths, reward_model=cfg.reward == "rm")  # the RM counts only where it is the reward
    compare_artefacts(artefacts, Path(figures) / "llm_best_beta.json")

    budget = dataclasses.asdict(preset.train)
    if cfg.max_steps:
        budget.update(max_steps=cfg.max_steps, save_steps=cfg.max_steps, eval_steps=max(1, cfg.max_steps // 4))
    ev = preset.eval
    datasets = [MAIN] + offpolicy
    init = (run_dir, cfg.preset, datasets, ev.prompts, 1 if cfg.workers > 1 else cfg.threads)

    # π_ref's evaluation (step 0 of every curve), with the protocol every run uses
    t0 = time.time()
    _load_state(*init)
    eval_rows = _STATE["eval_rows"]
    eval_kw = dict(
        max_new_tokens=preset.max_completion_tokens,
        temperature=ev.temperature,
        seed=ev.seed,
        batch_size=ev.generation_batch,
        max_prompt_tokens=preset.max_prompt_tokens,
        samples_per_prompt=ev.samples_per_prompt,
    )
    sft_metrics, sft_per_prompt, sft_samples = evaluate_policy(
        _STATE["ref"],
        _STATE["ref"],
        _STATE["tokenizer"],
        [r["prompt"] for r in eval_rows],
        [r["reference"] for r in eval_rows],
        _STATE["reward"],
        _STATE["gold"],
        **eval_kw,
    )
    sft = {"step": 0, **sft_metrics, "per_prompt": sft_per_prompt}
    atomic_write_json(
        paths.root / "eval" / "sft.json",
        {"metrics": sft_metrics, "per_prompt": sft_per_prompt, "samples": sft_samples, "decoding": eval_kw},
    )
    times["eval_sft"] = time.time() - t0
    print(
        f"[pipeline] π_ref: reward {sft_metrics['reward/proxy_mean']:+.3f} ± {sft_metrics['reward/proxy_sem']:.3f} "
        f"(s.e. over {len(eval_rows)} prompts × {ev.samples_per_prompt} samples), within-prompt s.d. "
        f"{sft_metrics.get('reward/within_prompt_sd', float('nan')):.3f}, gold "
        f"{sft_metrics.get('reward/gold_mean', float('nan')):.3f} ({times['eval_sft']:.0f} s)",
        flush=True,
    )
    if cfg.workers > 1:
        _STATE.clear()  # the workers load their own copies

    # the jobs: every method × β × seed on the main dataset, then the off-policy sweep
    jobs = [
        {"method": m, "beta": float(b), "seed": s, "dataset": MAIN, "part": "beta_sweep"}
        for m in methods
        for b in betas[m]
        for s in seeds
    ]
    for spec in offpolicy:
        jobs += [
            {"method": m, "beta": float(preset.offpolicy_beta), "seed": s, "dataset": spec, "part": "offpolicy"}
            for m in preset.offpolicy_methods
            for s in seeds
        ]
    if offpolicy and "pg" in preset.offpolicy_methods:  # naive PG on π_ref's own samples: the sweep's on-policy end
        pg_beta = float(preset.offpolicy_beta)
        jobs += [{"method": "pg", "beta": pg_beta, "seed": s, "dataset": MAIN, "part": "offpolicy"} for s in seeds]
    unique: dict[str, dict] = {}
    for j in jobs:  # a run needed by both parts is trained once (the β sweep's copy serves the off-policy sweep)
        unique.setdefault(json.dumps({k: v for k, v in j.items() if k != "part"}, sort_keys=True), j)
    jobs = list(unique.values())
    for j in jobs:
        j["budget"] = budget
    print(
        f"[pipeline] ── {len(jobs)} alignment runs × {budget['max_steps']} steps, {cfg.workers} worker(s)", flush=True
    )
    t0 = time.time()
    runs = _run_jobs(jobs, cfg.workers, init, not cfg.no_progress)
    times["train_sweep"] = time.time() - t0

    t0 = time.time()
    n_sel = ev.selection_prompts or ev.prompts // 2
    selection, report = list(range(n_sel)), list(range(n_sel, len(eval_rows)))
    common_betas = sorted(set.intersection(*(set(betas[m]) for m in methods))) if methods else []
    summary = summarise(runs, sft, selection, report, common_betas, preset.offpolicy_beta if offpolicy else None)
    stats = json.loads(paths.offline_stats(MAIN).read_text(encoding="utf-8"))  # the main dataset's rows and scale
    config = {
        "pipeline": dataclasses.asdict(cfg),
        "train_budget": budget,
        "sweep": {m: list(b) for m, b in betas.items()},
        "seeds": seeds,
        "offpolicy": {
            "behaviours": offpolicy,
            "methods": list(preset.offpolicy_methods),
            "beta": preset.offpolicy_beta,
        },
        "eval": {**eval_kw, "prompts": len(eval_rows), "selection_prompts": n_sel},
        "offline_prompts": stats["rows"],
        "reward": {"kind": cfg.reward, **stats["reward_scale"]},
        "artefacts": artefacts,
    }
    atomic_write_json(paths.root / "summary.json", {"summary": summary, "config": config})  # before drawing
    written = make_figures(summary, figures, command or "python -m llm pipeline", config)
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
        print(f"[pipeline] replaced {len(replaced)} tracked file(s) in {figures} (git diff shows what changed)")
    return out


def _ci_text(c: dict) -> str:
    return f"{c['mean']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}]"


def report(summary: dict) -> str:
    """The comparison as text: π_ref, each method at its best β, J_β at the common β, the off-policy sweep and the
    verdicts (only differences whose 95 % interval excludes 0); every number a mean with its 95 % interval."""
    s = summary
    sft = s["sft"]
    lines = [
        f"[pipeline] π_ref: reward {_ci_text(sft['reward'])}; within-prompt s.d. "
        f"{sft['within_prompt_sd'] or float('nan'):.3f} = {sft['within_sd_over_se'] or float('nan'):.1f}× the "
        f"evaluation s.e. ({s['report_prompts']} report prompts; β chosen on {s['selection_prompts']} others)",
        "[pipeline] (c) best β per method (by selection-split reward): reward and exact KL on the report split",
    ]
    for m, b in s["best"].items():
        lines.append(f"  {m:<6} β={b['beta']:<5g} reward {_ci_text(b['reward'])}  KL {_ci_text(b['kl'])}")
    for m, d in s["paired_best"].items():
        sig = "excludes 0" if d["significant"] else "not significant (covers 0)"
        lines.append(f"  CoPG − {m:<5} {_ci_text(d)}: {sig}")
    lines.append("[pipeline] (b) J_β = reward − β·KL at a common β, CoPG minus each method (paired, 95 % CI):")
    for row in s["jbeta"]:
        diffs = "  ".join(
            f"−{m}: {_ci_text(d)}{'*' if d['significant'] else ''}" for m, d in row["copg_minus"].items()
        )
        js = "  ".join(f"{m} {c['mean']:+.3f}" for m, c in row["J"].items())
        lines.append(f"  β={row['beta']:<5g} {js}   CoPG {diffs}")
    if s.get("offpolicy"):
        lines.append(f"[pipeline] off-policy sweep (β = {s['offpolicy']['beta']:g}): J_β, CoPG − PG (paired)")
        for r in s["offpolicy"]["rows"]:
            lines.append(
                f"  μ={r['dataset']:<6} CoPG {r['copg']['mean']:+.3f}  PG {r['pg']['mean']:+.3f}  "
                f"CoPG − PG {_ci_text(r['copg_minus_pg'])}{' *' if r['copg_minus_pg']['significant'] else ''}"
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
    lines.append("[pipeline] verdicts (95 % CI excludes 0; * above):")
    lines += [f"  {v}" for v in s["verdicts"]] or ["  none: no difference is significant"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m llm pipeline``: the whole chain and the figures."""
    import tyro

    @cli_errors
    def _run() -> int:
        args = sys.argv[1:] if argv is None else list(argv)
        cfg = tyro.cli(PipelineConfig, args=args, description=__doc__, prog="python -m llm pipeline")
        print("[pipeline] config: " + json.dumps(dataclasses.asdict(cfg)), flush=True)
        out = run_pipeline(cfg, command="python -m llm pipeline " + shlex.join(args))
        print("\n[pipeline] stage times (this machine):")
        for stage, secs in out["times"].items():
            print(f"  {stage:<16} {_fmt(secs)}")
        print(report(out["summary"]))
        print(f"[pipeline] figures: {', '.join(Path(p).name for p in out['figures'])}")
        return 0

    return _run()


if __name__ == "__main__":
    sys.exit(main())
