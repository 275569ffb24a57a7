"""Reward functions of the LLM lab: the reference-overlap reward (the default), the content reward, the ROUGE-L
held-out check and the learned reward model, as callables.

* Reference overlap (:class:`OverlapReward`, the default reward of the pipeline): letter-trigram F1 of the completion
  against the human summary, counted with multiplicity, so that partial words earn partial credit (the reward varies
  between a weak π_ref's samples) and neither a copy of the document, nor its key words, nor a repetition outscores
  the human summary (``tests/test_llm_reward_ranking.py``, table in docs/llm-lab.md).
* Content reward (:class:`ContentReward`, ``--reward content``): does the summary name the document's key words, with
  words the document uses, briefly? Needs no reference, but is won by listing the key words (score 1.0 against the
  human summary's 0.43): kept to show what a reward that can be won by copying does to the held-out check.
* Gold score: ROUGE-L F1 of the completion against the human reference (``rouge-score``, stemmed), optionally minus
  a length term ``length_weight · |words(y) − words(ref)| / words(ref)``.
* Learned RM (trained by the ``reward`` stage): the SFT model's trunk with a scalar head, read at the completion's
  final EOS token.

Any callable ``f(prompts, completions, **kw) -> list[float]`` (TRL's ``reward_funcs`` signature) is a reward; unknown
keyword arguments are ignored.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch

from llm.data.batching import collate
from llm.data.corpus import SPLITS, load_split, make_completion, make_prompt
from llm.model.logprobs import position_ids_from_mask
from llm.model.models import load_reward_model
from llm.run import RunPaths, UserError

__all__ = [
    "RewardFn",
    "OverlapReward",
    "letter_trigram_counts",
    "ContentReward",
    "StandardisedReward",
    "content_words",
    "letter_trigrams",
    "rouge_l",
    "GoldReward",
    "reward_scores",
    "RewardModelReward",
    "load_reward",
    "gold_settings",
    "REWARD_KINDS",
    "DEFAULT_REWARD",
    "check_reward_model",
    "reward_of_dataset",
]

RewardFn = Callable[..., list[float]]
"""A reward: ``f(prompts: list[str], completions: list[str], **kw) -> list[float]``."""


# ----------------------------------------------------------------------------------------------------------------
# Content reward (programmatic, the default)
# ----------------------------------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z][a-z0-9]+")
_LETTERS = re.compile(r"[a-z]+")
# Function words that carry no content (English, as in the man pages and docstrings of the corpus) plus the
# boilerplate of both sources; a content word is any other word of ≥ 3 characters.
STOPWORDS = frozenset(
    """
    a about above after again all also an and any are as at be because been before being below between both but by
    can could did do does doing down during each either else etc few for from further get gets given had has have
    having here how however i if in into is it its itself just may might more most must my no nor not now of off on
    once one only or other our out over own per same shall should since so some such than that the their them then
    there these they this those through to too under until up upon use used uses using very via was we were what
    when where whether which while who whom why will with within without would yet you your
    default defaults return returns returned value values function method object class instance argument arguments
    parameter parameters specified specify option options file files see new true false none
    """.split()
)


def content_words(text: str) -> list[str]:
    """Lower-cased words of ≥ 3 characters (``[a-z][a-z0-9]+``) that are not in :data:`STOPWORDS`, in order."""
    return [w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in STOPWORDS]


def letter_trigram_counts(text: str) -> Counter[str]:
    """The multiset of letter trigrams of the lower-cased alphabetic words of ≥ 3 letters (a repeated word counts
    again: ``"abc abc"`` → ``{"abc": 2}``)."""
    return Counter(w[i : i + 3] for w in _LETTERS.findall(text.lower()) if len(w) >= 3 for i in range(len(w) - 2))


def letter_trigrams(text: str) -> frozenset[str]:
    """The set of letter trigrams of the lower-cased alphabetic words of ≥ 3 letters (``"Buffers"`` → buf, uff, …)."""
    return frozenset(letter_trigram_counts(text))


class OverlapReward:
    """The reference-overlap reward: letter-trigram F1 of the completion against the human summary.

    With c(·) the multiset of letter trigrams (:func:`letter_trigram_counts`) and m = Σ_t min(c_y(t), c_ref(t))::

        P = m / |c(y)|,   Q = m / |c(ref)|,   R(x, y) = 2·P·Q / (P + Q)     (0 when either has no trigram)

    R ∈ [0, 1]; only the human summary itself scores 1. Why it is worth optimising (measured on the evaluation
    prompts, docs/llm-lab.md): a copy of the document or of its first words loses precision, the key words alone or
    one key word lose recall, a repetition counts its trigrams again and loses precision; trigrams, not words, so a
    weak policy's near-misses earn partial credit. It is not the held-out check: that is ROUGE-L F1 on whole
    (stemmed) words and their order, computed on prompts the policy never trained on.

    The reference of each prompt comes from the ``references`` keyword (one per completion) or from the mapping
    prompt → reference given at construction (the corpus's, :func:`load_reward`).
    """

    def __init__(self, references: dict[str, str] | None = None) -> None:
        self.references = dict(references or {})

    def settings(self) -> dict[str, str]:
        """The reward's definition (recorded with every dataset and figure that uses it)."""
        return {"kind": "overlap", "unit": "letter trigram", "score": "F1, counted with multiplicity"}

    @staticmethod
    def score(reference: str, completion: str) -> float:
        """R for one (reference, completion) pair."""
        cy, cr = letter_trigram_counts(completion), letter_trigram_counts(reference)
        ny, nr = sum(cy.values()), sum(cr.values())
        m = sum((cy & cr).values())
        return 2.0 * m / (ny + nr) if m else 0.0  # = 2PQ/(P+Q) with P = m/ny, Q = m/nr

    def __call__(self, prompts: list[str], completions: list[str], **kw: Any) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"OverlapReward: {len(prompts)} prompts but {len(completions)} completions")
        refs = _references("OverlapReward", self.references, prompts, kw)
        return [self.score(r, c) for r, c in zip(refs, completions)]


def _references(who: str, mapping: dict[str, str], prompts: list[str], kw: dict[str, Any]) -> list[str]:
    """The reference of each prompt: the ``references`` (or ``reference``) keyword, else ``mapping[prompt]``."""
    refs = kw.get("references", kw.get("reference"))
    if refs is None:
        missing = [p for p in prompts if p not in mapping]
        if missing:
            raise ValueError(
                f"{who}: no reference for {len(missing)} prompt(s) (first: {missing[0][:60]!r}); pass "
                f"references=[...] or build {who} with a prompt → reference mapping"
            )
        return [mapping[p] for p in prompts]
    if isinstance(refs, str):
        return [refs] * len(prompts)
    return list(refs)


class ContentReward:
    """The content reward: name the document's key words, with the document's own words, in at most ``max_words``.

    For a prompt x (its document) and a completion y, with tri(·) the set of letter trigrams of the words of ≥ 3
    letters (:func:`letter_trigrams`)::

        K(x)    = the ``keywords`` most frequent content words of the document (:func:`content_words`; ties: first
                  occurrence)
        P(x, y) = |tri(y) ∩ tri(document)| / |tri(y)|     grounding: how much of the completion the document uses
        Q(x, y) = |tri(y) ∩ tri(K(x))| / |tri(K(x))|       coverage of the key words
        F(x, y) = 2·P·Q / (P + Q)                          (0 when the completion has no word of ≥ 3 letters)
        R(x, y) = F − length_cost · min(1, max(0, words(y) − max_words) / max_words)

    ``words(y)`` counts whitespace-separated words. R ∈ [−length_cost, 1]; the key words and nothing else score 1.
    Trigrams, not whole words, so that a weak policy's near-misses ("buffering" for "buffer") earn partial credit:
    the reward varies between a prompt's samples even when few of them name a key word exactly.

    Why length cannot game it: coverage saturates once the key words are named, grounding falls with every word
    the document does not use, an empty or content-free completion scores 0, and words beyond ``max_words`` cost up
    to ``length_cost`` (capped, so that the content terms, not the length, carry most of the reward's variance);
    copying the document (≥ 20 words) is long. A pure function of the texts: deterministic, cheap, the same for every
    model and tokenizer. The document is read from the prompt ``"{document}\\nTL;DR:"``
    (``llm.data.corpus.make_prompt``): the text before the last ``TL;DR:``.
    """

    def __init__(self, keywords: int = 4, max_words: int = 12, length_cost: float = 0.25) -> None:
        if keywords < 1 or max_words < 1 or length_cost < 0:
            raise ValueError(
                f"ContentReward: need keywords ≥ 1, max_words ≥ 1, length_cost ≥ 0; got {keywords}, {max_words}, "
                f"{length_cost}"
            )
        self.keywords, self.max_words, self.length_cost = int(keywords), int(max_words), float(length_cost)
        self._cache: dict[str, tuple[frozenset, frozenset]] = {}

    def settings(self) -> dict[str, float | int]:
        """The reward's parameters (recorded with every dataset and figure that uses it)."""
        return {"keywords": self.keywords, "max_words": self.max_words, "length_cost": self.length_cost}

    def keywords_of(self, prompt: str) -> list[str]:
        """K(x): the document's ``keywords`` most frequent content words, most frequent first."""
        words = content_words(prompt.rsplit("TL;DR:", 1)[0])
        counts: dict[str, int] = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        first = {w: i for i, w in reversed(list(enumerate(words)))}
        return sorted(counts, key=lambda w: (-counts[w], first[w]))[: self.keywords]

    def _document(self, prompt: str) -> tuple[frozenset, frozenset]:
        if prompt not in self._cache:
            doc = prompt.rsplit("TL;DR:", 1)[0]
            self._cache[prompt] = (letter_trigrams(doc), letter_trigrams(" ".join(self.keywords_of(prompt))))
        return self._cache[prompt]

    def components(self, prompt: str, completion: str) -> dict[str, float]:
        """``{grounding, coverage, f, words, reward}`` of one completion (for display and tests)."""
        doc, keys = self._document(prompt)
        tri = letter_trigrams(completion)
        grounding = len(tri & doc) / len(tri) if tri else 0.0
        coverage = len(tri & keys) / len(keys) if keys else 0.0
        f = 2 * grounding * coverage / (grounding + coverage) if grounding + coverage > 0 else 0.0
        n = len(completion.split())
        reward = f - self.length_cost * min(1.0, max(0, n - self.max_words) / self.max_words)
        return {"grounding": grounding, "coverage": coverage, "f": f, "words": float(n), "reward": reward}

    def __call__(self, prompts: list[str], completions: list[str], **kw: Any) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"ContentReward: {len(prompts)} prompts but {len(completions)} completions")
        return [self.components(p, c)["reward"] for p, c in zip(prompts, completions)]


class StandardisedReward:
    """``(reward(x, y) − mean) / std``: a reward in the units of its offline dataset's standardisation.

    The sample stage standardises the rewards of each offline dataset (``llm.stages.sample``); evaluating a policy
    with the same ``mean``/``std`` keeps training and evaluation in one unit, so β is "reward standard deviations per
    nat of KL" for every reward and method.
    """

    def __init__(self, reward_fn: RewardFn, mean: float, std: float) -> None:
        if not (std > 0 and math.isfinite(std) and math.isfinite(mean)):
            raise ValueError(f"StandardisedReward: need a finite mean and std > 0, got mean={mean}, std={std}")
        self.reward_fn, self.mean, self.std = reward_fn, float(mean), float(std)

    def __call__(self, prompts: list[str], completions: list[str], **kw: Any) -> list[float]:
        return [(r - self.mean) / self.std for r in self.reward_fn(prompts, completions, **kw)]


# ----------------------------------------------------------------------------------------------------------------
# Gold score
# ----------------------------------------------------------------------------------------------------------------

_SCORER: Any = None


def rouge_l(references: list[str], completions: list[str]) -> list[float]:
    """ROUGE-L F1 (Porter-stemmed, ``rouge-score``) of each completion against its reference, in [0, 1]."""
    global _SCORER
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    if len(references) != len(completions):
        raise ValueError(f"rouge_l: {len(references)} references but {len(completions)} completions")
    return [float(_SCORER.score(r, c)["rougeL"].fmeasure) for r, c in zip(references, completions)]


class GoldReward:
    """Gold reward: ROUGE-L F1 against the reference summary, minus an optional relative length penalty.

    R(x, y) = ROUGE-L-F1(y, ref(x)) − length_weight · |words(y) − words(ref)| / max(words(ref), 1)

    The reference of each prompt comes from the ``references`` keyword (one per completion, as a dataset column
    would arrive in TRL) or else from the ``references`` mapping prompt → reference given at construction.
    """

    def __init__(self, references: dict[str, str] | None = None, length_weight: float = 0.0) -> None:
        self.references = dict(references or {})
        self.length_weight = float(length_weight)

    def __call__(self, prompts: list[str], completions: list[str], **kw: Any) -> list[float]:
        refs = _references("GoldReward", self.references, prompts, kw)
        scores = rouge_l(list(refs), list(completions))
        if self.length_weight:
            for i, (r, c) in enumerate(zip(refs, completions)):
                nr, nc = len(r.split()), len(c.split())
                scores[i] -= self.length_weight * abs(nc - nr) / max(nr, 1)
        return scores


# ----------------------------------------------------------------------------------------------------------------
# Learned reward model
# ----------------------------------------------------------------------------------------------------------------


def reward_scores(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> torch.Tensor:
    """Scalar RM score of each row, read at its last real token (the completion's EOS). [N, T] → [N].

    Works for left or right padding: the trunk gets position ids from the mask, the head reads the last 1 of the mask.
    """
    hidden = model.base_model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids_from_mask(attention_mask)
    ).last_hidden_state  # (N, T, d)
    T = attention_mask.shape[1]
    last = (attention_mask * torch.arange(T, device=attention_mask.device)).argmax(-1)  # (N,) last real token
    pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # (N, d)
    return model.score(pooled).squeeze(-1).float()  # (N,)


class RewardModelReward:
    """The learned RM as a reward callable ``f(prompts, completions, **kw) -> list[float]`` (no gradient)."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 32, max_prompt_tokens: int | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_prompt_tokens = max_prompt_tokens

    @torch.no_grad()
    def __call__(self, prompts: list[str], completions: list[str], **kw: Any) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"RewardModelReward: {len(prompts)} prompts but {len(completions)} completions")
        out = [0.0] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -(len(prompts[i]) + len(completions[i])))
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            batch = collate(
                self.tokenizer, [prompts[i] for i in idx], [completions[i] for i in idx], self.max_prompt_tokens
            )
            device = next(self.model.parameters()).device  # the RM may live on a GPU; batches are built on the CPU
            batch = {k: v.to(device) for k, v in batch.items()}
            for i, v in zip(idx, reward_scores(self.model, **batch).tolist()):
                out[i] = float(v)
        return out


def gold_settings(run_dir: str | os.PathLike) -> dict:
    """``{"length_weight", "max_prompt_tokens"}`` the reward model of ``run_dir`` was trained with (saved beside it);
    ``{0.0, None}`` when no reward model was trained yet."""
    f = RunPaths(run_dir).reward_model / "reward_settings.json"
    d = json.loads(f.read_text()) if f.exists() else {}
    return {"length_weight": float(d.get("length_weight", 0.0)), "max_prompt_tokens": d.get("max_prompt_tokens")}


REWARD_KINDS = ("overlap", "content", "rm", "gold")
"""Rewards a run can optimise: reference overlap (default), the content reward, the learned RM, ROUGE-L."""

DEFAULT_REWARD = "overlap"
"""The reward of every stage and the pipeline unless ``--reward`` says otherwise."""


def load_reward(run_dir: str | os.PathLike, kind: str = "rm", batch_size: int = 32) -> RewardFn:
    """The reward callable of a run: ``"overlap"`` (:class:`OverlapReward` against the references), ``"content"``
    (:class:`ContentReward`), ``"rm"`` (learned RM of ``reward/model``) or ``"gold"`` (ROUGE-L vs references).

    The overlap and gold rewards know the references of every corpus split, so they can be called with prompts only;
    gold uses the length weight the RM was trained with (``gold_settings``), so gold and RM measure the same target.
    """
    if kind == "content":
        return ContentReward()
    paths = RunPaths(run_dir)
    if kind in ("overlap", "gold"):
        refs = {}
        for split in SPLITS:
            for r in load_split(paths.root, split):
                refs[make_prompt(r["document"])] = make_completion(r["summary"])
        if kind == "overlap":
            return OverlapReward(refs)
        return GoldReward(refs, length_weight=gold_settings(paths.root)["length_weight"])
    settings = gold_settings(paths.root)
    if kind == "rm":
        tok, model = load_reward_model(paths.root)
        return RewardModelReward(model, tok, batch_size=batch_size, max_prompt_tokens=settings["max_prompt_tokens"])
    raise ValueError(f"load_reward: kind must be one of {REWARD_KINDS}, got {kind!r}")


def check_reward_model(run_dir: str | os.PathLike, min_accuracy: float, allow_weak: bool = False) -> dict:
    """The quality gate of the learned RM: print its held-out quality, refuse it below ``min_accuracy``.

    Reads ``reward/metrics.json`` (the ``reward`` stage): held-out pair accuracy on sampled-vs-sampled pairs and the
    Pearson correlation with the labelling reward. Raises ``UserError`` when the accuracy is below ``min_accuracy``
    unless ``allow_weak`` (then it warns). Returns the numbers it checked (recorded with the dataset).
    """
    f = RunPaths(run_dir).reward / "metrics.json"
    if not f.exists():
        raise UserError(f"check_reward_model: {f} is missing; run `python -m llm reward` first")
    m = json.loads(f.read_text(encoding="utf-8"))
    acc = float(m.get("valid_accuracy_sampled_only", float("nan")))
    quality = {
        "valid_accuracy_sampled_only": acc,
        "valid_pairs_sampled_only": m.get("valid_pairs_sampled_only"),
        "valid_pearson_rm_label": m.get("valid_pearson_rm_label", m.get("valid_pearson_rm_gold")),
        "labels": m.get("labels", "gold"),
        "min_accuracy": min_accuracy,
        "passed": bool(acc >= min_accuracy),
    }
    line = (
        f"reward model: held-out accuracy {acc:.3f} on {quality['valid_pairs_sampled_only']} sampled-vs-sampled "
        "pairs, "
        f"Pearson {quality['valid_pearson_rm_label']} with its {quality['labels']} labels (gate: ≥ {min_accuracy:.2f})"
    )
    if quality["passed"]:
        print(f"[reward gate] {line}: passed", flush=True)
    elif allow_weak:
        print(f"[reward gate] WARNING {line}: below the gate, used anyway (--allow-weak-rm)", flush=True)
    else:
        raise UserError(
            f"{line}: below the gate. Optimising a reward model this weak optimises its noise. Train a better one "
            "(`python -m llm reward --rm-prompts ... --rm-steps ...`), use `--reward content`, or pass --allow-weak-rm"
        )
    return quality


def reward_of_dataset(run_dir: str | os.PathLike, rows: list[dict], batch_size: int = 32) -> RewardFn:
    """The reward an offline dataset was built with, in its units: the ``reward_scale`` column's kind, standardised
    with its mean and s.d. (:class:`StandardisedReward`), so evaluation measures what training optimised.

    Rows without ``reward_scale`` (datasets from elsewhere) are evaluated with the learned RM of ``run_dir``, raw.
    """
    scale = rows[0].get("reward_scale") if rows else None
    if not scale:
        return load_reward(run_dir, "rm", batch_size=batch_size)
    kinds = {(r.get("reward_scale") or {}).get("kind") for r in rows}
    if len(kinds) != 1:
        raise ValueError(
            f"reward_of_dataset: rows mix reward kinds {sorted(map(str, kinds))}; one dataset, one reward"
        )
    return StandardisedReward(load_reward(run_dir, scale["kind"], batch_size=batch_size), scale["mean"], scale["std"])
