"""Cost of one training step of the LLM trainer, each number a ratio measured in one run (``make bench``).

1. CoPG step vs SFT step over the same B·k sequences (reference log-probs precomputed): goal ≤ 1.10×.
2. Offline CoPG update vs an on-policy RLOO update (``--method online``: generation + reward model + reference
   log-probs + update) on the same model and prompts: goal ≤ 0.2×.
3. Peak memory of each phase (CUDA: ``max_memory_allocated`` per phase; CPU: process peak RSS, cumulative).
4. With TRL installed (the ``bench`` extra): our DPO step vs TRL ``DPOTrainer``'s step on the same model, pairs
   and batch size, both with precomputed reference log-probs: goal ≤ 1.0×.

The model is the preset's architecture: part 1's SFT model and tokenizer when ``<run_dir>/sft/model`` exists,
otherwise a randomly initialised one (random models never sample EOS, so generation runs to ``max_new_tokens``: the
worst case for item 2). Times are medians over ``--steps`` steps after ``--warmup`` untimed ones.

Examples:
    python benchmarks/llm_step.py                              # small preset on the CPU
    python benchmarks/llm_step.py --preset gpt2 --device cuda  # the lead's GPU run (throughput in tokens/s)
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout


@dataclasses.dataclass
class BenchConfig:
    """Benchmark one training step of the LLM trainer."""

    preset: str = "small"
    """Model architecture and lengths (llm.presets): tiny | small | gpt2 | smollm2."""
    device: str = "cpu"
    """cpu | cuda."""
    run_dir: str = ""
    """Run directory whose SFT model/tokenizer/offline data to use if present; empty = runs/<preset>."""
    prompts: int = 4
    """B, prompts per step."""
    k: int = 4
    """Completions per prompt (k-way CoPG; online samples k per prompt)."""
    steps: int = 5
    """Timed steps per phase (median reported)."""
    warmup: int = 2
    """Untimed warm-up steps per phase."""
    threads: int = 0
    """torch CPU threads (0 = torch's default)."""
    skip_trl: bool = False
    """Skip the TRL DPOTrainer comparison even if trl is installed."""
    out: str = ""
    """JSON output; empty = benchmarks/results/llm_step_<preset>_<device>.json (committed with the README numbers)."""


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_mib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _time_steps(fn, n: int, warmup: int, device: str) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def _models(cfg: BenchConfig, preset):
    """(tokenizer, policy, reward model, source) for the preset: trained part-1 models if present, else random."""
    from transformers import GPT2ForSequenceClassification, GPT2LMHeadModel

    from llm.model.models import gpt2_config

    run = Path(cfg.run_dir or f"runs/{cfg.preset}")
    if (run / "sft" / "model").exists():
        from llm.model.models import load_policy

        tok, policy = load_policy(run)
        if (run / "reward" / "model").exists():
            from llm.model.models import load_reward_model

            _, rm = load_reward_model(run)
        else:
            rm = GPT2ForSequenceClassification(copy.deepcopy(policy.config))
        return tok, policy, rm, f"part-1 SFT model of {run}"
    if preset.tokenizer == "gpt2":
        from llm.data.tokenizer import gpt2_tokenizer

        tok = gpt2_tokenizer()
    else:
        from llm.data.tokenizer import train_local_tokenizer

        rng = random.Random(0)
        words = [f"w{i}" for i in range(5000)]
        tok = train_local_tokenizer([" ".join(rng.choices(words, k=50)) for _ in range(2000)], preset.vocab_size)
    torch.manual_seed(0)
    conf = gpt2_config(preset, len(tok), tok.eos_token_id)
    policy = GPT2LMHeadModel(conf)
    rm_conf = copy.deepcopy(conf)
    rm_conf.num_labels, rm_conf.pad_token_id = 1, tok.pad_token_id
    return tok, policy, GPT2ForSequenceClassification(rm_conf), "random init (no part-1 model found)"


def _rows(cfg: BenchConfig, tok, policy, preset) -> list[dict]:
    """B offline rows with k completions (part-1 data when present), ref log-probs precomputed."""
    from llm.model.generation import completion_logps

    run = Path(cfg.run_dir or f"runs/{cfg.preset}")
    path = run / "offline" / "train.jsonl"
    if path.exists():
        from llm.data.offline import load_offline

        rows = load_offline(path)[: cfg.prompts]
        if len(rows[0]["completions"]) >= cfg.k:
            return [
                {
                    **r,
                    **{c: r[c][: cfg.k] for c in ("completions", "rewards", "ref_logps", "behaviour_logps", "source")},
                }
                for r in rows
            ]
    g = torch.Generator().manual_seed(0)
    vocab = len(tok)
    rows = []
    for _ in range(cfg.prompts):
        doc = tok.decode(torch.randint(0, vocab - 1, (preset.max_prompt_tokens,), generator=g).tolist())
        comps = [
            tok.decode(torch.randint(0, vocab - 1, (preset.max_completion_tokens // 2,), generator=g).tolist())
            for _ in range(cfg.k)
        ]
        rows.append(
            {
                "prompt": doc + "\nTL;DR:",
                "completions": comps,
                "source": ["sft_T1"] * cfg.k,
                "rewards": torch.randn(cfg.k, generator=g).tolist(),
            }
        )
    flat_p = [r["prompt"] for r in rows for _ in range(cfg.k)]
    flat_c = [c for r in rows for c in r["completions"]]
    ref = completion_logps(policy, tok, flat_p, flat_c, max_prompt_tokens=preset.max_prompt_tokens).view(-1, cfg.k)
    for r, lp in zip(rows, ref):
        r["ref_logps"] = lp.tolist()
        r["behaviour_logps"] = lp.tolist()
    return rows


def _trainer(method: str, cfg: BenchConfig, preset, policy, tok, rows, reward_fn=None, ref=None, **kw):
    from llm.stages.train import CoPGConfig, CoPGTrainer, OfflineDataset

    args = CoPGConfig(
        preset=cfg.preset,
        loss_type=method,
        beta=0.1,
        output_dir=tempfile.mkdtemp(prefix="bench_"),
        per_device_train_batch_size=cfg.prompts,
        max_steps=cfg.steps + cfg.warmup,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=10_000,
        disable_tqdm=True,
        max_prompt_tokens=preset.max_prompt_tokens,
        max_new_tokens=preset.max_completion_tokens,
        use_cpu=cfg.device == "cpu",
        warmup_steps=0,
        **kw,
    )
    return CoPGTrainer(
        model=policy,
        args=args,
        train_dataset=OfflineDataset(rows, min_k=1),
        processing_class=tok,
        ref_model=ref,
        reward_fn=reward_fn,
    )


def _step_fn(trainer, batch, opt):
    model = trainer.model

    def step():
        opt.zero_grad(set_to_none=True)
        with trainer.compute_loss_context_manager():
            loss = trainer.compute_loss(model, batch)
        loss.backward()
        opt.step()

    return step


class _StepTimer:
    """TrainerCallback timing each optimizer step (on_step_begin → on_step_end)."""

    def __new__(cls, device: str):
        from transformers import TrainerCallback

        class T(TrainerCallback):
            def __init__(self):
                self.times, self._t0 = [], 0.0

            def on_step_begin(self, args, state, control, **kw):
                _sync(device)
                self._t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                _sync(device)
                self.times.append(time.perf_counter() - self._t0)

        return T()


def _trl_vs_ours(cfg: BenchConfig, preset, policy, tok) -> dict:
    """Median step time of TRL's DPOTrainer and of our dpo, same model, same pairs, same batch size."""
    import datasets
    from trl import DPOConfig, DPOTrainer

    from llm.model.generation import completion_logps

    n = cfg.prompts * (cfg.steps + cfg.warmup)
    g = torch.Generator().manual_seed(1)
    vocab = len(tok)

    def text(nt):  # a random string that re-tokenises to at most nt tokens (decode/encode is not a bijection)
        ids = torch.randint(0, vocab - 1, (nt,), generator=g).tolist()
        for _ in range(5):
            ids = tok(tok.decode(ids), add_special_tokens=False)["input_ids"][:nt]
        return tok.decode(ids)

    pairs = [
        {
            "prompt": text(preset.max_prompt_tokens - 4) + "\nTL;DR:",
            "chosen": text(preset.max_completion_tokens // 2),
            "rejected": text(preset.max_completion_tokens // 2),
        }
        for _ in range(n)
    ]
    # TRL: standard preference format, reference log-probs precomputed before training (as our offline dataset)
    trl_args = DPOConfig(
        output_dir=tempfile.mkdtemp(prefix="bench_trl_"),
        per_device_train_batch_size=cfg.prompts,
        max_steps=cfg.steps + cfg.warmup,
        learning_rate=1e-5,
        beta=0.1,
        loss_type=["sigmoid"],
        report_to="none",
        logging_steps=10_000,
        save_strategy="no",
        precompute_ref_log_probs=True,
        disable_tqdm=True,
        use_cpu=cfg.device == "cpu",
        max_length=None,
        warmup_steps=0,
        dataloader_num_workers=0,
    )
    t_trl = _StepTimer(cfg.device)
    trl = DPOTrainer(
        model=copy.deepcopy(policy),
        ref_model=copy.deepcopy(policy),
        args=trl_args,
        train_dataset=datasets.Dataset.from_list(pairs),
        processing_class=tok,
        callbacks=[t_trl],
    )
    trl.train()
    # ours: the same pairs as k = 2 rows (chosen first, higher reward), ln π_ref precomputed
    flat_p = [p["prompt"] for p in pairs for _ in range(2)]
    flat_c = [c for p in pairs for c in (p["chosen"], p["rejected"])]
    ref = completion_logps(policy, tok, flat_p, flat_c, max_prompt_tokens=preset.max_prompt_tokens).view(-1, 2)
    rows = [
        {
            "prompt": p["prompt"],
            "completions": [p["chosen"], p["rejected"]],
            "rewards": [1.0, 0.0],
            "ref_logps": r.tolist(),
            "behaviour_logps": r.tolist(),
            "source": ["a", "b"],
        }
        for p, r in zip(pairs, ref)
    ]
    t_ours = _StepTimer(cfg.device)
    ours = _trainer("dpo", cfg, preset, copy.deepcopy(policy), tok, rows, learning_rate=1e-5)
    ours.add_callback(t_ours)
    ours.train()
    a = statistics.median(t_ours.times[cfg.warmup :])
    b = statistics.median(t_trl.times[cfg.warmup :])
    return {"ours_dpo_step_s": a, "trl_dpo_step_s": b, "ratio": a / b, "goal": "≤ 1.0", "trl_loss_type": "sigmoid"}


def main(argv: list[str] | None = None) -> int:
    import tyro

    cfg = tyro.cli(BenchConfig, args=sys.argv[1:] if argv is None else argv, description=__doc__)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from llm.model.rewards import RewardModelReward
    from llm.presets import get_preset

    preset = get_preset(cfg.preset)
    dev = cfg.device
    tok, policy, rm, source = _models(cfg, preset)
    rows = _rows(cfg, tok, policy, preset)  # ln π_ref precomputed on the CPU (llm.model.generation is CPU-only today)
    policy.to(dev)
    rm.to(dev).eval()
    res: dict = {
        "config": dataclasses.asdict(cfg),
        "model": source,
        "device_name": dev,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "n_params": sum(p.numel() for p in policy.parameters()),
    }
    if dev.startswith("cuda"):
        res["device_name"] = torch.cuda.get_device_name()

    # 1. SFT step vs CoPG step over the same B·k sequences ------------------------------------------------------
    tr = _trainer("copg", cfg, preset, policy, tok, rows)
    batch = {k: (v.to(dev) if torch.is_tensor(v) else v) for k, v in tr.data_collator(rows).items()}
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)  # loss on completion tokens only

    def sft_step():
        opt.zero_grad(set_to_none=True)
        with tr.compute_loss_context_manager():
            loss = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
        loss.backward()
        opt.step()

    n_tokens = int(batch["attention_mask"].sum())
    _reset_peak(dev)
    t_sft = _time_steps(sft_step, cfg.steps, cfg.warmup, dev)
    mem_sft = _peak_mib(dev)
    _reset_peak(dev)
    t_copg = _time_steps(_step_fn(tr, batch, opt), cfg.steps, cfg.warmup, dev)
    mem_copg = _peak_mib(dev)
    sft_s, copg_s = statistics.median(t_sft), statistics.median(t_copg)
    res["copg_vs_sft"] = {
        "sft_step_s": sft_s,
        "copg_step_s": copg_s,
        "ratio": copg_s / sft_s,
        "goal": "≤ 1.10",
        "sequences": len(rows) * cfg.k,
        "tokens": n_tokens,
        "copg_tokens_per_s": n_tokens / copg_s,
    }

    # 2. offline CoPG vs on-policy RLOO (online CoPG: generation + RM + ref log-probs + update) --------------------
    ref = copy.deepcopy(policy).eval()
    reward_fn = RewardModelReward(rm, tok, max_prompt_tokens=preset.max_prompt_tokens)
    tr_on = _trainer("online", cfg, preset, policy, tok, rows, reward_fn=reward_fn, ref=ref, online_k=cfg.k)
    on_batch = {k: (v.to(dev) if torch.is_tensor(v) else v) for k, v in tr_on.data_collator(rows).items()}
    _reset_peak(dev)
    try:
        on_s = statistics.median(_time_steps(_step_fn(tr_on, on_batch, opt), cfg.steps, cfg.warmup, dev))
        res["offline_vs_online"] = {
            "offline_copg_step_s": copg_s,
            "online_rloo_step_s": on_s,
            "ratio": copg_s / on_s,
            "goal": "≤ 0.2",
            "max_new_tokens": preset.max_completion_tokens,
        }
    except RuntimeError as e:  # llm.model.generation.generate does not move its batches to the model's device yet
        on_s = float("nan")
        res["offline_vs_online"] = {
            "offline_copg_step_s": copg_s,
            "error": str(e).splitlines()[0][:200],
            "ratio": float("nan"),
            "goal": "≤ 0.2",
        }
    mem_on = _peak_mib(dev)
    res["peak_memory_mib"] = {
        "sft": mem_sft,
        "copg": mem_copg,
        "online": mem_on,
        "kind": "cuda max_memory_allocated per phase"
        if dev.startswith("cuda")
        else "process peak RSS, cumulative over phases (sft → copg → online)",
    }

    # 4. TRL DPOTrainer ----------------------------------------------------------------------------------------------
    try:
        import trl  # noqa: F401

        have_trl = True
    except ImportError:
        have_trl = False
    if have_trl and not cfg.skip_trl:
        res["dpo_vs_trl"] = _trl_vs_ours(cfg, preset, policy.cpu() if dev == "cpu" else policy, tok)
    else:
        res["dpo_vs_trl"] = "skipped: trl not installed (pip install -e '.[bench]')" if not have_trl else "skipped"

    from bandit.records import atomic_write_json

    out = Path(cfg.out or Path(__file__).parent / "results" / f"llm_step_{cfg.preset}_{dev.split(':')[0]}.json")
    atomic_write_json(out, res)  # temp file, then rename: never a half-written result
    c, o = res["copg_vs_sft"], res["offline_vs_online"]
    print(f"model: {source}; {res['n_params'] / 1e6:.1f} M parameters; device {res['device_name']}")
    print(
        f"CoPG step / SFT step        {c['ratio']:.3f}×  (goal ≤ 1.10)  [{copg_s:.3f}s vs {sft_s:.3f}s, "
        f"{c['sequences']} seqs, {n_tokens} tokens, {c['copg_tokens_per_s']:.0f} tok/s]"
    )
    print(f"offline CoPG / online RLOO  {o['ratio']:.3f}×  (goal ≤ 0.2)   [{copg_s:.3f}s vs {on_s:.3f}s]")
    m = res["peak_memory_mib"]
    print(
        f"peak memory (MiB)           sft {m['sft']:.0f}, copg {m['copg']:.0f}, online {m['online']:.0f} ({m['kind']})"
    )
    if isinstance(res["dpo_vs_trl"], dict):
        d = res["dpo_vs_trl"]
        print(
            f"our DPO / TRL DPOTrainer    {d['ratio']:.3f}×  (goal ≤ 1.0)   "
            f"[{d['ours_dpo_step_s']:.3f}s vs {d['trl_dpo_step_s']:.3f}s]"
        )
    else:
        print(f"our DPO / TRL DPOTrainer    {res['dpo_vs_trl']}")
    print(f"→ {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
