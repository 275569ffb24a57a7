"""Stage ``reward``: the gold programmatic score and the learned reward model (RM) that plays the paper's ground truth.

* Gold score: ROUGE-L F1 of the completion against the human reference (``rouge-score``, stemmed), optionally minus
  a length term ``length_weight · |words(y) − words(ref)| / words(ref)``.
* Learned RM: the SFT model's trunk with a scalar head (``AutoModelForSequenceClassification``, ``num_labels=1``),
  read at the completion's final EOS token, trained with the Bradley–Terry loss −ln σ(R(y⁺) − R(y⁻)) (paper, Eq. 26)
  on preference pairs of summaries sampled from π_ref (plus optionally the human reference), each pair labelled by
  the reference-overlap reward (``--labels overlap``, default; ``llm.model.rewards.OverlapReward``), the content
  reward (``--labels content``) or the gold score (``--labels gold``). Its held-out accuracy on sampled-vs-sampled
  pairs and its correlation with the labels are the quality gate that ``python -m llm sample --reward rm`` checks.
  As in the paper (Sec. 6), the RM is then *the* reward that the offline dataset carries and alignment optimises
  (with ``--reward rm``; the pipeline's default reward is the overlap reward itself).

Any callable ``f(prompts, completions, **kw) -> list[float]`` (TRL's ``reward_funcs`` signature) is a reward too;
unknown keyword arguments are ignored.

Examples:
    python -m llm reward --preset small
    python -m llm reward --preset tiny --run-dir /tmp/tiny --rm-steps 50
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from bandit.records import atomic_dir, atomic_write_json
from llm.data.batching import collate, fits_completion_budget
from llm.data.corpus import load_split, make_completion, make_prompt, prompt_order
from llm.model.generation import generate
from llm.model.models import load_policy
from llm.model.optim import train_steps
from llm.model.rewards import ContentReward, GoldReward, OverlapReward, RewardModelReward, reward_scores
from llm.presets import get_preset
from llm.run import RunPaths, Stage, StageConfig, UserError, cli_errors

__all__ = ["bradley_terry_loss", "gold_preference_pairs", "RewardConfig", "train_reward_model", "main", "STAGE", "run"]


def bradley_terry_loss(scores_preferred: torch.Tensor, scores_other: torch.Tensor) -> torch.Tensor:
    """Reward-model loss −ln σ(R(y⁺) − R(y⁻)) per pair (paper, Eq. 26). [P], [P] → [P].

    This trains the reward model, not the policy; policy losses live only in ``bandit/losses.py``.
    """
    if scores_preferred.shape != scores_other.shape or scores_preferred.dim() != 1:
        raise ValueError(
            f"bradley_terry_loss: scores must be two [P] tensors, got {tuple(scores_preferred.shape)} and "
            f"{tuple(scores_other.shape)}"
        )
    return -F.logsigmoid(scores_preferred - scores_other)


def gold_preference_pairs(gold: list[list[float]], margin: float = 0.05) -> list[tuple[int, int, int]]:
    """``(group, preferred, other)`` for every pair of a group's completions whose gold scores differ by > margin."""
    pairs = []
    for g, scores in enumerate(gold):
        for i, j in itertools.combinations(range(len(scores)), 2):
            if abs(scores[i] - scores[j]) > margin:
                pairs.append((g, i, j) if scores[i] > scores[j] else (g, j, i))
    return pairs


# ----------------------------------------------------------------------------------------------------------------
# Stage
# ----------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RewardConfig(StageConfig):
    """Train the Bradley–Terry reward model on gold-labelled preference pairs of sampled summaries."""

    rm_prompts: int | None = None
    """Train prompts whose sampled summaries form the RM's training pairs; default: the preset's."""
    valid_prompts: int | None = None
    """Valid prompts for held-out pair accuracy; default max(rm_prompts / 4, 8)."""
    rm_samples: int | None = None
    """Summaries sampled from π_ref per prompt (T = sample_temperature); default: the preset's."""
    sample_temperature: float = 1.0
    """Sampling temperature T of the RM's training summaries."""
    include_human: bool = False
    """Add the human reference as one more candidate of every prompt (easy pairs; not counted in the gate)."""
    labels: str = "overlap"
    """Labels of the pairs: overlap (letter-trigram F1 against the human summary, the pipeline's default reward),
    content (the content reward) or gold (ROUGE-L)."""
    margin: float = 0.05
    """A pair is used only if the label scores differ by more than this (near-ties carry no label)."""
    length_weight: float | None = None
    """Weight of the relative length penalty in the gold score (0 = pure ROUGE-L F1); default: the preset's."""
    rm_steps: int | None = None
    """Bradley–Terry training steps; default: the preset's."""
    rm_batch: int | None = None
    """Preference pairs per step; default: the preset's."""
    rm_lr: float | None = None
    """Peak AdamW learning rate (5 % warm-up, cosine to 10 %); default: the preset's."""
    max_prompt_tokens: int | None = None
    """Prompt budget in tokens (document truncated); default: the preset's."""
    seed: int = 0
    """Seed of sampling, pair order and head initialisation."""
    threads: int = 1
    """torch CPU threads; 1 is fastest on a shared 2-core machine (see llm.run.torch_threads); 0 = torch's default."""

    PRESET_ALIASES: ClassVar[dict[str, str]] = {"length_weight": "gold_length_weight"}

    def __post_init__(self) -> None:

        super().__post_init__()  # every None field from the preset
        if self.valid_prompts is None:
            object.__setattr__(self, "valid_prompts", max(self.rm_prompts // 4, 8))
        if self.labels not in ("overlap", "content", "gold"):
            raise UserError(f"RewardConfig: --labels must be overlap, content or gold, got {self.labels!r}")
        if self.rm_samples + int(self.include_human) < 2:
            raise UserError("RewardConfig: need at least 2 candidates per prompt (rm_samples + include_human ≥ 2)")


def _candidates(model, tokenizer, rows, config, max_new, progress, seed):

    prompts = [make_prompt(r["document"]) for r in rows]
    refs = [make_completion(r["summary"]) for r in rows]
    rep = [p for p in prompts for _ in range(config.rm_samples)]
    outs = generate(
        model,
        tokenizer,
        rep,
        max_new,
        temperature=config.sample_temperature,
        seed=seed,
        max_prompt_tokens=config.max_prompt_tokens,
        progress=progress,
    )
    groups = [outs[i * config.rm_samples : (i + 1) * config.rm_samples] for i in range(len(rows))]
    if config.include_human:
        groups = [g + [r] for g, r in zip(groups, refs)]
    label_fn = {
        "overlap": OverlapReward(),
        "content": ContentReward(),
        "gold": GoldReward(length_weight=config.length_weight),
    }[config.labels]
    labels = [label_fn([p] * len(g), g, references=[r] * len(g)) for p, g, r in zip(prompts, groups, refs)]
    return prompts, groups, labels


@torch.no_grad()
def _pair_accuracy(model, tokenizer, prompts, groups, pairs, max_prompt_tokens, batch_size=64) -> tuple[float, list]:
    rm = RewardModelReward(model, tokenizer, batch_size, max_prompt_tokens)
    flat_p = [p for p, g in zip(prompts, groups) for _ in g]
    flat_c = [c for g in groups for c in g]
    flat = rm(flat_p, flat_c)
    offs = list(itertools.accumulate([0] + [len(g) for g in groups]))
    scores = [flat[offs[i] : offs[i + 1]] for i in range(len(groups))]
    correct = sum(scores[g][i] > scores[g][j] for g, i, j in pairs)
    model.train()
    return correct / max(len(pairs), 1), scores


def _pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    if n < 2:
        return float("nan")
    ma, mb = sum(a) / n, sum(b) / n
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return float("nan")
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / math.sqrt(va * vb)


def _rm_prompts(paths: RunPaths, tokenizer: Any, config: RewardConfig, max_new: int) -> tuple[list, list]:
    """Train and valid prompts of the RM whose reference summary fits the completion budget."""

    def usable(rows):
        return [
            r for r, ok in zip(rows, fits_completion_budget(tokenizer, [r["summary"] for r in rows], max_new)) if ok
        ]

    # RM prompts come from the END of the train order; the sample stage takes offline prompts from its START (disjoint)
    train_rows = prompt_order(usable(load_split(paths.root, "train")), "prompts:")[::-1][: config.rm_prompts]
    valid_rows = prompt_order(usable(load_split(paths.root, "valid")), "prompts:")[: config.valid_prompts]
    if not train_rows or not valid_rows:
        raise UserError(f"train_reward_model: no usable train/valid prompts in {paths.corpus}; build a larger corpus")
    return train_rows, valid_rows


def train_reward_model(config: RewardConfig) -> dict:
    """Sample candidates, label pairs by the content reward (or gold), train the RM; write ``reward/model`` and
    ``metrics.json``."""
    from transformers import AutoModelForSequenceClassification

    preset = get_preset(config.preset)
    paths = RunPaths(config.run_dir)
    paths.require(paths.sft_model, "sft")
    progress = config.progress
    max_new = preset.max_completion_tokens
    t0 = time.perf_counter()
    tokenizer, policy = load_policy(paths.root)

    train_rows, valid_rows = _rm_prompts(paths, tokenizer, config, max_new)

    # PLUMBING: candidates sampled from π_ref, gold-labelled pairs
    tr_prompts, tr_groups, tr_gold = _candidates(policy, tokenizer, train_rows, config, max_new, progress, config.seed)
    va_prompts, va_groups, va_gold = _candidates(
        policy, tokenizer, valid_rows, config, max_new, progress, config.seed + 1
    )
    del policy
    tr_pairs = gold_preference_pairs(tr_gold, config.margin)
    va_pairs = gold_preference_pairs(va_gold, config.margin)
    if not tr_pairs or not va_pairs:
        raise UserError("train_reward_model: no pair has a gold-score gap above --margin; sample more or lower it")

    torch.manual_seed(config.seed)
    model = AutoModelForSequenceClassification.from_pretrained(str(paths.sft_model), num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    acc_before, _ = _pair_accuracy(model, tokenizer, va_prompts, va_groups, va_pairs, config.max_prompt_tokens)

    rng = random.Random(config.seed)
    order: list[int] = []
    accs: list[float] = []

    def batch_loss(step: int) -> torch.Tensor:
        if len(order) < config.rm_batch:  # reshuffle epoch by epoch
            epoch = list(range(len(tr_pairs)))
            rng.shuffle(epoch)
            order.extend(epoch)
        chunk = [tr_pairs[k] for k in order[: config.rm_batch]]
        del order[: config.rm_batch]
        prompts = [tr_prompts[g] for g, _, _ in chunk] * 2
        comps = [tr_groups[g][i] for g, i, _ in chunk] + [tr_groups[g][j] for g, _, j in chunk]
        batch = collate(tokenizer, prompts, comps, config.max_prompt_tokens)
        scores = reward_scores(model, **batch)  # (2P,)
        P = len(chunk)
        accs.append(float((scores[:P] > scores[P:]).float().mean()))
        return bradley_terry_loss(scores[:P], scores[P:]).mean()  # (P,) → mean

    curve = train_steps(
        model,
        config.rm_steps,
        config.rm_lr,
        batch_loss,
        desc="reward model",
        progress=progress,
        log_every=1,
        postfix=lambda: {"acc": f"{sum(accs[-20:]) / len(accs[-20:]):.2f}"},
    )
    train_acc, _ = _pair_accuracy(model, tokenizer, tr_prompts, tr_groups, tr_pairs, config.max_prompt_tokens)
    valid_acc, va_scores = _pair_accuracy(model, tokenizer, va_prompts, va_groups, va_pairs, config.max_prompt_tokens)
    # accuracy on sampled-vs-sampled pairs only: the human reference (gold = 1) makes easy pairs
    ns = config.rm_samples
    va_sampled = [(g, i, j) for g, i, j in va_pairs if i < ns and j < ns]
    valid_acc_sampled = sum(va_scores[g][i] > va_scores[g][j] for g, i, j in va_sampled) / max(len(va_sampled), 1)
    flat_rm = [s for g in va_scores for s in g]
    flat_gold = [s for g in va_gold for s in g]
    metrics = {
        "train_prompts": len(tr_prompts),
        "valid_prompts": len(va_prompts),
        "candidates_per_prompt": config.rm_samples + int(config.include_human),
        "train_pairs": len(tr_pairs),
        "valid_pairs": len(va_pairs),
        "valid_accuracy_before": round(acc_before, 4),
        "train_accuracy": round(train_acc, 4),
        "valid_accuracy": round(valid_acc, 4),
        "valid_pairs_sampled_only": len(va_sampled),
        "valid_accuracy_sampled_only": round(valid_acc_sampled, 4),
        "labels": config.labels,
        "valid_pearson_rm_label": round(_pearson(flat_rm, flat_gold), 4),
        "gold_mean_sampled": round(
            sum(s for g in tr_gold for s in g[: config.rm_samples]) / (len(tr_gold) * config.rm_samples), 4
        ),
        "curve": curve,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    with atomic_dir(paths.reward_model) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        settings = {"length_weight": config.length_weight, "max_prompt_tokens": config.max_prompt_tokens}
        atomic_write_json(tmp / "reward_settings.json", settings)
    atomic_write_json(paths.reward / "metrics.json", metrics)
    return metrics


def _report(m: dict, paths: RunPaths) -> None:
    print(
        f"[reward] pair accuracy train {m['train_accuracy']:.3f}, valid {m['valid_accuracy']:.3f} "
        f"(before training {m['valid_accuracy_before']:.3f}; {m['train_pairs']} train / {m['valid_pairs']} valid "
        f"pairs; sampled-only valid {m['valid_accuracy_sampled_only']:.3f}; "
        f"RM–{m['labels']} Pearson {m['valid_pearson_rm_label']:.3f}) in {m['seconds']} s → {paths.reward_model}"
    )


STAGE = Stage(
    "reward",
    RewardConfig,
    output=lambda paths, config: paths.reward_model / "config.json",
    work=train_reward_model,
    report=_report,
    requires=lambda paths: (paths.sft_model, "sft"),
)
"""The stage ``reward``: ``run(config)`` and ``main(argv)`` call it."""


def run(config: RewardConfig) -> Path:
    """Run the stage (or reuse its cached output); returns the output path."""
    return STAGE.run(config)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m llm reward``: a thin wrapper of :func:`run`."""
    return STAGE.main(argv, __doc__)
