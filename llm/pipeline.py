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
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bandit.records import atomic_write_json, prepare_output_dir
from llm.data import corpus, tokenizer
from llm.data.corpus import SPLITS, content_hash, load_eval_prompts
from llm.data.offline import load_offline
from llm.methods import METHODS
from llm.model.evaluation import evaluate_policy
from llm.model.models import load_policy
from llm.model.rewards import load_reward
from llm.plots import figure_names, make_figures
from llm.presets import get_preset
from llm.run import RunPaths, cli_errors
from llm.stages import reward, sample, sft
from llm.stages.train import CoPGConfig, train

__all__ = ["PipelineConfig", "run_pipeline", "main"]

# Part 1, in order: each stage's command-line entry point (each skips work whose outputs exist unless --force).
PART1_STAGES = {
    "corpus": corpus.main,
    "tokenizer": tokenizer.main,
    "sft": sft.main,
    "reward": reward.main,
    "sample": sample.main,
}


@dataclasses.dataclass
class PipelineConfig:
    """Run part 1, a β sweep of the alignment methods, evaluation and the figures."""

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
    replace_tracked: bool = False
    """Allow overwriting figures tracked by git in --figures (`make reproduce-llm` passes it)."""
    seed: int = 0
    """Seed of every training run (evaluation sampling uses its own fixed seed)."""
    force: bool = False
    """Re-run part-1 stages even when their outputs exist (training always re-runs)."""
    skip_part1: bool = False
    """Do not run part 1 at all (its outputs must exist in run_dir)."""
    threads: int = 1
    """torch CPU threads (0 = torch's default). 1: measured 2–3× faster than 2 threads on the shared 2-core box
    (generation 2.1 s vs 6.2 s for 32 prompts), and part 1's stages also run single-threaded."""
    no_progress: bool = False
    """Turn progress bars off."""


def _fmt(seconds: float) -> str:
    return f"{seconds // 60:.0f}m{seconds % 60:04.1f}s"


def part1_artefacts(paths: RunPaths) -> dict[str, Any]:
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
        "reward_model": content_hash([paths.reward_model]),
        "offline_dataset": content_hash([paths.offline_dataset]),
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


def run_pipeline(cfg: PipelineConfig, command: str = "") -> dict[str, Any]:
    """Run every stage; returns ``{"times": {stage: s}, "summary": figures summary, "runs": [...]}``."""
    preset = get_preset(cfg.preset)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = cfg.run_dir or f"runs/{cfg.preset}"
    figures = cfg.figures or str(Path(run_dir) / "figures")
    paths = RunPaths(run_dir)
    sweep = preset.sweeps
    methods = list(cfg.methods or sweep)

    for m in methods:
        if m not in METHODS:
            raise ValueError(f"pipeline: unknown method {m!r}; choose from {', '.join(METHODS)}")
    names = [f"{n}{ext}" for n in figure_names(methods) for ext in (".json", ".png")]
    replaced = prepare_output_dir(figures, names, cfg.replace_tracked, flag="--figures")  # before any work
    times: dict[str, float] = {}
    t_all = time.time()

    # PLUMBING: part 1, each stage through its own CLI entry point (skips completed stages unless --force)
    common = ["--preset", cfg.preset, "--run-dir", run_dir] + (["--no-progress"] if cfg.no_progress else [])
    if not cfg.skip_part1:
        for stage, stage_main in PART1_STAGES.items():
            t0 = time.time()
            print(f"[pipeline] ── {stage}", flush=True)
            rc = stage_main(common + (["--force"] if cfg.force else []))
            times[stage] = time.time() - t0
            if rc:
                raise RuntimeError(f"pipeline: stage {stage} failed with exit code {rc}")

    artefacts = part1_artefacts(paths)
    compare_artefacts(artefacts, Path(figures) / "llm_best_beta.json")

    # evaluation data, reward functions and π_ref: loaded once, shared by every run
    t0 = time.time()

    budget = dataclasses.asdict(preset.train)
    if cfg.max_steps:
        budget["max_steps"] = cfg.max_steps
        budget["save_steps"] = cfg.max_steps
    tokenizer, ref = load_policy(run_dir)
    ref.requires_grad_(False)
    train_rows = load_offline(paths.require(paths.offline_dataset, "sample"))
    eval_rows = load_eval_prompts(run_dir, split="valid", n=preset.eval.prompts)
    reward_fn, gold_fn = load_reward(run_dir, kind="rm"), load_reward(run_dir, kind="gold")
    eval_kw = dict(
        max_new_tokens=preset.max_completion_tokens,
        temperature=preset.eval.temperature,
        seed=preset.eval.seed,
        batch_size=preset.eval.generation_batch,
        max_prompt_tokens=preset.max_prompt_tokens,
    )  # the preset's evaluation protocol, the same that CoPGConfig resolves for the in-training evaluations
    sft_metrics, sft_per_prompt, sft_samples = evaluate_policy(
        ref,
        ref,
        tokenizer,
        [r["prompt"] for r in eval_rows],
        [r["reference"] for r in eval_rows],
        reward_fn,
        gold_fn,
        **eval_kw,
    )
    sft = {"step": 0, **sft_metrics, "per_prompt": sft_per_prompt}
    atomic_write_json(
        paths.root / "eval" / "sft.json",
        {"metrics": sft_metrics, "per_prompt": sft_per_prompt, "samples": sft_samples, "decoding": eval_kw},
    )
    times["eval_sft"] = time.time() - t0
    print(
        f"[pipeline] SFT reference: proxy {sft_metrics['reward/proxy_mean']:.3f}, "
        f"gold {sft_metrics.get('reward/gold_mean', float('nan')):.3f}",
        flush=True,
    )

    # the β sweep
    runs = []
    t_train = time.time()
    for m in methods:
        for beta in cfg.betas or sweep.get(m, (0.1,)):
            t0 = time.time()
            _, policy = load_policy(run_dir)
            tcfg = CoPGConfig(
                **{
                    **budget,
                    "preset": cfg.preset,
                    "run_dir": run_dir,
                    "method": m,
                    "beta": float(beta),
                    "seed": cfg.seed,
                    "eval_at_start": False,
                    "save_strategy": "no",
                    "save_final": True,
                    "no_progress": cfg.no_progress,
                    "log_to_stdout": False,  # one [eval] line per evaluation instead of the Trainer's dicts
                },
            )
            print(f"[pipeline] ── train {m} β={beta:g} ({tcfg.max_steps} steps) → {tcfg.output_dir}", flush=True)
            res = train(
                tcfg,
                model=policy,
                ref_model=ref,
                tokenizer=tokenizer,
                train_rows=train_rows,
                eval_rows=eval_rows,
                reward_fn=reward_fn,
                gold_fn=gold_fn,
            )
            runs.append(
                {
                    "method": m,
                    "beta": float(beta),
                    "seed": cfg.seed,
                    "eval": res["eval"],
                    "wall_clock_s": time.time() - t0,
                    "output_dir": res["output_dir"],
                }
            )
            last = res["eval"][-1]
            print(
                f"[pipeline]    {m} β={beta:g}: proxy {last['reward/proxy_mean']:.3f} ± "
                f"{last['reward/proxy_sem']:.3f}, KL {last.get('policy/kl_to_ref_k3', float('nan')):.2f} (k3), "
                f"gold {last.get('reward/gold_mean', float('nan')):.3f} ({time.time() - t0:.0f}s)",
                flush=True,
            )
            del res, policy
    times["train_sweep"] = time.time() - t_train

    t0 = time.time()

    config = {
        "pipeline": dataclasses.asdict(cfg),
        "train_budget": {**budget, "eval_prompts": preset.eval.prompts},
        "sweep": {m: list(cfg.betas or sweep.get(m, (0.1,))) for m in methods},
        "eval_decoding": eval_kw,
        "eval_prompts": len(eval_rows),
        "offline_prompts": len(train_rows),
        "artefacts": artefacts,
    }
    summary = make_figures(runs, sft, figures, command or "python -m llm pipeline", config)
    times["figures"] = time.time() - t0
    times["total"] = time.time() - t_all
    out = {
        "times": times,
        "summary": summary,
        "config": config,
        "runs": [
            {k: v for k, v in r.items() if k != "eval"}
            | {"final": {k: v for k, v in r["eval"][-1].items() if k != "per_prompt"}}
            for r in runs
        ],
    }
    atomic_write_json(paths.root / "pipeline.json", out)
    if replaced:
        print(f"[pipeline] replaced {len(replaced)} tracked file(s) in {figures} (git diff shows what changed)")
    return out


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
        for stage, s in out["times"].items():
            print(f"  {stage:<12} {_fmt(s)}")
        split = out["summary"]["prompt_split"]
        halves = (
            f"β chosen on {len(split['selection'])} selection prompts, reported on the other {len(split['report'])}"
            if split
            else "β chosen and reported on the same prompts"
        )
        print(f"[pipeline] final proxy reward at each method's best β ({halves}; mean ± s.e.):")
        for m, b in out["summary"]["best"].items():
            print(
                f"  {m:<10} β={b['beta']:<6g} proxy {b['final_proxy']:.3f} ± {b['final_proxy_sem']:.3f}  "
                f"KL {b.get('final_kl') or float('nan'):.2f}  gold {b.get('final_gold') or float('nan'):.3f}"
            )
        print("[pipeline] CoPG minus each method at their best β, paired over the report prompts (95 % CI):")
        for pair, d in out["summary"]["paired_final_difference"].items():
            if d is not None:
                verdict = "significant" if d["significant"] else "not significant (the interval covers 0)"
                print(
                    f"  {pair:<12} {d['mean']:+.3f}  [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] over "
                    f"{d['n_prompts']} prompts: {verdict}"
                )
        print(f"[pipeline] figures: {', '.join(Path(p).name for p in out['summary']['figures'])}")
        return 0

    return _run()


if __name__ == "__main__":
    sys.exit(main())
