"""Stage ``sample``: the rewarded offline dataset (see ``llm.data.offline`` for the format).

For each of ``offline_prompts`` train prompts (disjoint from the reward model's prompts):

1. one completion per behaviour policy μ_T = softmax(logits / T) of the SFT model, T ∈ ``temperatures``
   (pure temperature sampling: no top-k/top-p, so μ_T is known exactly), plus optionally the human reference
   (source ``"human"``): heterogeneous μ1/μ2 as in the paper's Sec. 3.2;
2. ``behaviour_logps`` = ln μ_T(y + EOS | x) under the sampling distribution, computed from the sampled token ids
   (stored as ``completion_ids``; a completion truncated at the budget has no EOS and is scored without one); for
   ``"human"`` (μ unknown) the SFT log-prob at T = 1 of its text, so that it is finite (importance sampling skips it);
3. ``ref_logps`` = ln π_ref(y + EOS | x), π_ref = the SFT model at T = 1, computed once here from the same ids;
4. ``raw_rewards`` = the reward: the content reward (``--reward content``, default; ``llm.model.rewards``), the
   learned reward model (``--reward rm``, the paper's setting: refused below ``--rm-min-accuracy`` held-out pair
   accuracy unless ``--allow-weak-rm``) or the gold ROUGE-L (``--reward gold``); ``gold_rewards`` are always stored;
5. ``rewards`` = the raw rewards standardised, (r − mean)/std with this dataset's mean and s.d. (or ``--reward-scale
   MEAN STD``, e.g. another dataset's, so several datasets share one unit); the scale is stored in every row
   (``reward_scale``) and in the stats, so that β means "reward s.d. per nat of KL" for every reward and method.

Resumable: the completions and log-probs of each temperature are cached under ``offline/parts/`` and reused when the
stage is re-run with the same settings. The dataset is written atomically to ``offline/train.jsonl``.

Examples:
    python -m llm sample --preset small
    python -m llm sample --preset small --temperatures 1.3 1.3 1.3 1.3 --dataset T1.3 --reward-scale 0.21 0.18
    python -m llm sample --preset small --reward rm --allow-weak-rm    # the learned RM, whatever its accuracy
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, ClassVar

from bandit.records import atomic_write_json
from llm.data.batching import fits_completion_budget
from llm.data.corpus import load_split, make_completion, make_prompt, prompt_order
from llm.data.offline import write_offline
from llm.model.generation import completion_logps, generate
from llm.model.models import load_policy
from llm.model.rewards import DEFAULT_REWARD, REWARD_KINDS, GoldReward, check_reward_model, gold_settings, load_reward
from llm.run import RunPaths, Stage, StageConfig, UserError, cli_errors

__all__ = ["SampleConfig", "build_offline_dataset", "main", "STAGE", "run"]


@dataclasses.dataclass(frozen=True)
class SampleConfig(StageConfig):
    """Sample k completions per prompt from behaviour policies and score them (the offline dataset)."""

    offline_prompts: int | None = None
    """Number of train prompts (rows); default: the preset's."""
    temperatures: tuple[float, ...] | None = None
    """Sampling temperatures T > 0 of the SFT behaviour policies, one completion each; default: the preset's."""
    include_human: bool | None = None
    """Add the human reference summary as one more completion (source "human"); default: the preset's."""
    reward: str = DEFAULT_REWARD
    """Reward: overlap (letter-trigram F1 against the human summary, llm.model.rewards.OverlapReward: the default),
    content (the document's key words, llm.model.rewards.ContentReward: won by listing them), rm (the learned reward
    model, the paper's setting) or gold (ROUGE-L F1 against the reference: the held-out check itself)."""
    standardise: bool = True
    """Store (r − mean)/std in `rewards` (raw values in `raw_rewards`); False stores the raw rewards."""
    reward_scale: tuple[float, float] | None = None
    """MEAN STD of the standardisation; default: this dataset's own mean and s.d. of the raw rewards."""
    dataset: str = "train"
    """Name of the dataset: written to offline/<dataset>.jsonl (train = the one training reads by default)."""
    rm_min_accuracy: float = 0.75
    """With --reward rm: refuse an RM whose held-out sampled-vs-sampled pair accuracy is below this."""
    allow_weak_rm: bool = False
    """With --reward rm: use the RM even below --rm-min-accuracy (the dataset records its accuracy)."""
    max_prompt_tokens: int | None = None
    """Prompt budget in tokens (document truncated); default: the preset's."""
    max_new_tokens: int | None = None
    """Completion budget in tokens including EOS; default: the preset's."""
    batch_size: int | None = None
    """Batch size of generation and scoring; default: the preset's."""
    seed: int = 0
    """Sampling seed (temperature i uses seed + i)."""
    threads: int = 1
    """torch CPU threads; 1 is fastest on a shared 2-core machine (see llm.run.torch_threads); 0 = torch's default."""

    PRESET_ALIASES: ClassVar[dict[str, str]] = {"max_new_tokens": "max_completion_tokens", "batch_size": "eval_batch"}

    def __post_init__(self) -> None:

        super().__post_init__()  # every None field from the preset
        object.__setattr__(self, "temperatures", tuple(self.temperatures))  # each > 0 (llm.run.NUMBER_RULES)
        if len(self.temperatures) + int(self.include_human) < 2:
            raise UserError("SampleConfig: need k ≥ 2 completions per prompt (temperatures + include_human)")
        if self.reward not in REWARD_KINDS:
            raise UserError(f"SampleConfig: --reward must be one of {', '.join(REWARD_KINDS)}, got {self.reward!r}")
        if self.reward_scale is not None:
            object.__setattr__(self, "reward_scale", tuple(float(v) for v in self.reward_scale))
            if len(self.reward_scale) != 2 or not self.reward_scale[1] > 0:
                raise UserError(f"SampleConfig: --reward-scale takes MEAN STD with STD > 0, got {self.reward_scale}")


def _part_key(config: SampleConfig, T: float, i: int, prompts: list[str]) -> str:
    h = hashlib.sha1()  # "ids-v2": parts cached before completion_ids and EOS-free truncation are not reused
    for x in (
        "ids-v2",
        T,
        i,
        config.seed,
        config.max_prompt_tokens,
        config.max_new_tokens,
        config.batch_size,
        *prompts,
    ):
        h.update(repr(x).encode())
    return h.hexdigest()[:16]


def _train_prompts(paths: RunPaths, tokenizer: Any, config: SampleConfig) -> list[dict]:
    # train pairs whose summary fits the completion budget, in the sample stage's own order
    rows = load_split(paths.root, "train")
    fits = fits_completion_budget(tokenizer, [r["summary"] for r in rows], config.max_new_tokens)
    rows = [r for r, ok in zip(rows, fits) if ok]
    rows = prompt_order(rows, "prompts:")[: config.offline_prompts]  # the RM took its prompts from the other end
    if not rows:
        raise UserError(f"build_offline_dataset: no usable train prompts in {paths.corpus}")
    return rows


def _sample_column(
    model: Any, tokenizer: Any, prompts: list[str], config: SampleConfig, i: int, T: float, part: Path, progress: bool
) -> dict:
    """One completion per prompt from μ_T with its ln π_ref and ln μ_T, cached in ``part``."""
    if part.exists():
        print(f"[sample] reusing {part}")
        return json.loads(part.read_text())
    texts, tr, ids = generate(
        model,
        tokenizer,
        prompts,
        config.max_new_tokens,
        temperature=T,
        batch_size=config.batch_size,
        seed=config.seed + i,
        max_prompt_tokens=config.max_prompt_tokens,
        progress=progress,
        return_ids=True,
    )
    # the sampled ids are scored, not the re-tokenised text; truncated completions get no EOS
    kw = dict(
        batch_size=config.batch_size,
        max_prompt_tokens=config.max_prompt_tokens,
        progress=progress,
        completion_ids=ids,
        truncated=tr,
    )
    ref_lp = completion_logps(model, tokenizer, prompts, texts, temperature=1.0, desc=f"ref logps T={T:g}", **kw)
    beh_lp = (
        ref_lp
        if T == 1.0
        else completion_logps(model, tokenizer, prompts, texts, temperature=T, desc=f"μ logps T={T:g}", **kw)
    )
    d = {
        "completions": texts,
        "completion_ids": ids,
        "truncated": tr,
        "behaviour_logps": beh_lp.tolist(),
        "ref_logps": ref_lp.tolist(),
    }
    atomic_write_json(part, d)
    return d


def _columns(model: Any, tokenizer: Any, prompts: list[str], refs: list[str], config: SampleConfig, paths: RunPaths):
    """The k columns: one per temperature (cached per temperature), then the human reference if asked for.

    Returns ``(columns, sources, temperatures)``; ``columns[key]`` is a [k][N] list for each offline field.
    """
    progress = config.progress
    cols: dict[str, list] = {f: [] for f in ("completions", "behaviour_logps", "ref_logps", "truncated")}
    cols["completion_ids"] = []
    for i, T in enumerate(config.temperatures):
        part = paths.offline / "parts" / f"T{T:g}_{_part_key(config, T, i, prompts)}.json"
        d = _sample_column(model, tokenizer, prompts, config, i, T, part, progress)
        for f in cols:
            cols[f].append(d[f])
    sources = [f"sft_T{T:g}" for T in config.temperatures]
    temps = list(config.temperatures)
    if config.include_human:
        kw = dict(batch_size=config.batch_size, max_prompt_tokens=config.max_prompt_tokens, progress=progress)
        h_lp = completion_logps(
            model, tokenizer, prompts, refs, temperature=1.0, desc="ref logps human", **kw
        ).tolist()
        cols["completions"].append(refs)
        cols["behaviour_logps"].append(h_lp)  # μ unknown for human text: the SFT log-prob stands in ("human")
        cols["ref_logps"].append(h_lp)
        cols["truncated"].append([False] * len(prompts))
        cols["completion_ids"].append([None] * len(prompts))  # text only: tokenised when scored
        sources.append("human")
        temps.append(1.0)
    return cols, sources, temps


def _reward_scale(raw: list[float], config: SampleConfig) -> dict:
    """Mean and s.d. that standardise the rewards: --reward-scale, else this dataset's own (s.d. 1 if constant);
    none with --standardise False."""
    if config.reward_scale is not None:
        scale = {"mean": config.reward_scale[0], "std": config.reward_scale[1], "from": "--reward-scale"}
    else:
        m = sum(raw) / len(raw)
        sd = math.sqrt(sum((r - m) ** 2 for r in raw) / max(len(raw) - 1, 1))
        scale = {"mean": m, "std": sd, "from": "this dataset"}
        if not sd > 0:
            print(
                f"[sample] WARNING: every {config.reward} reward equals {m:.4g}: a constant reward carries no signal "
                "(a weak π_ref, or the wrong --reward); rewards are only shifted (s.d. taken as 1)",
                flush=True,
            )
            scale = {"mean": m, "std": 1.0, "from": "this dataset (constant reward: s.d. taken as 1)"}
    if not config.standardise:
        scale = {"mean": 0.0, "std": 1.0, "from": "none (--standardise False)"}
    return scale


def _stats_by_source(out: list[dict], sources: list[str], tokenizer: Any) -> dict:
    def retokenises_differently(text: str, ids: list[int] | None) -> float:
        return float(ids is not None and tokenizer(text, add_special_tokens=False)["input_ids"] != ids)

    def mean(xs: list[float]) -> float:
        return round(sum(xs) / max(len(xs), 1), 4)

    return {
        s: {
            "reward_mean": mean([r["rewards"][j] for r in out]),
            "gold_mean": mean([r["gold_rewards"][j] for r in out]),
            "ref_logp_mean": mean([r["ref_logps"][j] for r in out]),
            "behaviour_logp_mean": mean([r["behaviour_logps"][j] for r in out]),
            "truncated_frac": mean([float(r["truncated"][j]) for r in out]),
            # completions whose text re-encodes to other ids than were sampled (scored from the ids)
            "retokenised_differs_frac": mean(
                [retokenises_differently(r["completions"][j], r["completion_ids"][j]) for r in out]
            ),
            "words_mean": mean([len(r["completions"][j].split()) for r in out]),
        }
        for j, s in enumerate(sources)
    }


def build_offline_dataset(config: SampleConfig) -> dict:
    """Sample, score and write ``offline/<dataset>.jsonl`` (+ its stats); returns the stats."""
    paths = RunPaths(config.run_dir)
    paths.require(paths.sft_model, "sft")
    out_path = paths.offline_named(config.dataset)
    rm_quality = None
    if config.reward == "rm":
        paths.require(paths.reward_model, "reward")
        rm_quality = check_reward_model(paths.root, config.rm_min_accuracy, config.allow_weak_rm)
    t0 = time.perf_counter()
    tokenizer, model = load_policy(paths.root)
    rows = _train_prompts(paths, tokenizer, config)
    prompts = [make_prompt(r["document"]) for r in rows]
    refs = [make_completion(r["summary"]) for r in rows]
    N = len(prompts)
    cols, sources, temps = _columns(model, tokenizer, prompts, refs, config, paths)  # [k][N] each
    del model
    k = len(cols["completions"])

    # rewards: overlap (default), content, learned RM or gold; gold ROUGE-L always stored; then standardised
    flat_p = [p for p in prompts for _ in range(k)]
    flat_c = [cols["completions"][j][n] for n in range(N) for j in range(k)]
    flat_ref = [refs[n] for n in range(N) for _ in range(k)]
    gold = GoldReward(length_weight=gold_settings(paths.root)["length_weight"])(flat_p, flat_c, references=flat_ref)
    ts = time.perf_counter()
    reward_fn = None
    if config.reward != "gold":
        reward_fn = load_reward(paths.root, config.reward, batch_size=config.batch_size)
    raw = gold if reward_fn is None else reward_fn(flat_p, flat_c, references=flat_ref)
    reward_seconds = round(time.perf_counter() - ts, 1)
    scale = _reward_scale(raw, config)
    rewards = [(r - scale["mean"]) / scale["std"] for r in raw]

    def column(field: str, n: int, cast: Any = lambda v: v) -> list:
        return [cast(cols[field][j][n]) for j in range(k)]

    out = [
        {
            "id": rows[n]["id"],
            "prompt": prompts[n],
            "completions": column("completions", n),
            "completion_ids": column("completion_ids", n),
            "rewards": [round(rewards[n * k + j], 6) for j in range(k)],
            "raw_rewards": [round(raw[n * k + j], 6) for j in range(k)],
            "reward_scale": {"kind": config.reward, "mean": round(scale["mean"], 6), "std": round(scale["std"], 6)},
            "behaviour_logps": column("behaviour_logps", n, lambda v: round(v, 6)),
            "ref_logps": column("ref_logps", n, lambda v: round(v, 6)),
            "source": list(sources),
            "gold_rewards": [round(gold[n * k + j], 6) for j in range(k)],
            "temperatures": temps,
            "truncated": column("truncated", n, bool),
            "reference": refs[n],
        }
        for n in range(N)
    ]
    write_offline(out, out_path)

    # within-prompt spread of the standardised reward: what a contrastive method learns from
    within = [sum((r - sum(row["rewards"]) / k) ** 2 for r in row["rewards"]) / (k - 1) for row in out]
    stats = {
        "dataset": config.dataset,
        "path": str(out_path),
        "rows": N,
        "k": k,
        "reward": config.reward,
        "reward_settings": reward_fn.settings() if hasattr(reward_fn, "settings") else None,
        "reward_scale": scale,
        "within_prompt_sd": round(math.sqrt(sum(within) / N), 4),
        "reward_model_quality": rm_quality,
        "by_source": _stats_by_source(out, sources, tokenizer),
        "reward_seconds": reward_seconds,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    atomic_write_json(paths.offline_stats(config.dataset), stats)
    return stats


def _report(s: dict, paths: RunPaths) -> None:
    print(f"[sample] {s['rows']} prompts × k={s['k']} in {s['seconds']} s → {s['path']}")
    sc = s["reward_scale"]
    print(
        f"[sample] {s['reward']} reward standardised with mean {sc['mean']:.4f}, s.d. {sc['std']:.4f} ({sc['from']}); "
        f"within-prompt s.d. {s['within_prompt_sd']:.3f} (standardised units)"
    )
    for src, v in s["by_source"].items():
        print(
            f"[sample]   {src:>9}: reward {v['reward_mean']:+.3f}  gold {v['gold_mean']:.3f}  "
            f"ln π_ref {v['ref_logp_mean']:.1f}"
        )


STAGE = Stage(
    "sample",
    SampleConfig,
    output=lambda paths, config: paths.offline_named(config.dataset),
    work=build_offline_dataset,
    report=_report,
    requires=lambda paths: (paths.sft_model, "sft"),  # the behaviour policies are the SFT model's
)
"""The stage ``sample``: ``run(config)`` and ``main(argv)`` call it."""


def run(config: SampleConfig) -> Path:
    """Run the stage (or reuse its cached output); returns the output path."""
    return STAGE.run(config)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m llm sample``: a thin wrapper of :func:`run`."""
    return STAGE.main(argv, __doc__)
