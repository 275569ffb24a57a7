"""The enumerable task: summarise a word document by naming its most frequent words, in 1–3 words.

* A **document** is ``doc_len`` words drawn i.i.d. from a per-document word distribution (Dirichlet(α) over the
  ``num_words`` words), so each document has a few dominant words. The prompt is ``"{document}\\nTL;DR:"``
  (``llm.data.corpus.make_prompt``): exactly ``doc_len + 1`` tokens.
* A **completion** is 1 to ``max_words`` words followed by EOS: Σ_{n=1..L} W^n completions per prompt (584 for
  W = 8 words and L = 3).
* The **reward** R(x, y) = coverage − ``length_cost``·(|y| − 1) − ``repeat_cost``·(repeated words), where coverage is
  the fraction of the document's tokens whose word the summary names: name the most frequent words, briefly.
* **π_ref** is the GPT-2 after SFT on *noisy* reference summaries (the top-k words, k uniform in 1..L, each word
  replaced by a random one with probability ``noise``, order shuffled): a diverse reference policy.
* The **word-level tokenizer** (``tokenizers`` ``WordLevel`` + ``WhitespaceSplit``) maps each word to one token, so
  ids → text → ids is lossless and the offline format's text completions round-trip exactly.
* :class:`EnumerableGPT2` is the lab's GPT-2 (``llm.model.models.gpt2_config``) with a fixed additive logit mask per
  position: the first completion token is a word, EOS may follow any word, and EOS is forced after ``max_words``
  words (tokens other than words and EOS are never emitted). So the probability mass outside the enumerated set is
  exactly 0 by construction, and ``sequence_logps`` / ``generate`` / ``CoPGTrainer`` see it as any causal LM.
"""

from __future__ import annotations

import dataclasses
import inspect
import random
from collections import Counter
from typing import Any

import torch
from transformers import GPT2LMHeadModel

from llm.data.corpus import make_completion, make_prompt
from llm.model.logprobs import position_ids_from_mask
from llm.model.models import gpt2_config

__all__ = [
    "TaskConfig",
    "BridgeTask",
    "best_summary",
    "topic_document",
    "reference_summary",
    "FILLER",
    "EnumerableGPT2",
    "make_tokenizer",
    "summary_reward",
    "build_policy",
    "EOS",
    "SEPARATOR",
]

EOS = "<|endoftext|>"
"""End of a completion (also padding and BOS), as in GPT-2."""
SEPARATOR = "TL;DR:"
"""The one token of the prompt suffix ``"\\nTL;DR:"`` under whitespace splitting."""
UNK = "[UNK]"
_MASKED = -1e9  # additive logit of a forbidden token: exp underflows to exactly 0 in float32 and float64
WORDS = (
    "ant",
    "bee",
    "cat",
    "dog",
    "eel",
    "fox",
    "gnu",
    "hen",
    "owl",
    "pig",
    "rat",
    "yak",
    "elk",
    "emu",
    "koi",
    "ram",
    # the middle rung's words (llm.bridge.sampled): 64 in all
    "ape",
    "asp",
    "bat",
    "boa",
    "cod",
    "cow",
    "cub",
    "doe",
    "eft",
    "ewe",
    "fly",
    "gar",
    "hog",
    "jay",
    "kid",
    "kit",
    "loon",
    "mink",
    "mole",
    "moth",
    "mule",
    "newt",
    "orca",
    "puma",
    "seal",
    "slug",
    "swan",
    "toad",
    "tuna",
    "vole",
    "wasp",
    "wolf",
    "wren",
    "crab",
    "crow",
    "deer",
    "duck",
    "frog",
    "goat",
    "gull",
    "hare",
    "hawk",
    "ibis",
    "lark",
    "lion",
    "lynx",
    "mite",
    "mouse",
)
"""The word pool (each one token); a task uses the first ``num_words``."""
FILLER = (
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "it",
    "on",
    "at",
    "by",
    "as",
    "or",
    "so",
    "up",
    "we",
)
"""Filler words of "topic" documents: in documents only, never in a completion, never rewarded."""


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The task's sizes and reward; the defaults are the issue's example (8 words, 12-token documents, ≤ 3 words)."""

    num_words: int = 8
    """W, vocabulary of "words" (documents and completions use the same words); 2 ≤ W ≤ 16."""
    doc_len: int = 12
    """Tokens per document (every prompt has doc_len + 1 tokens, the last one ``TL;DR:``)."""
    max_words: int = 3
    """L, most words in a completion; completions are 1..L words + EOS (Σ W^n of them)."""
    dirichlet_alpha: float = 0.6
    """α of the Dirichlet(α) word distribution of each document (small α: a few dominant words)."""
    length_cost: float = 0.15
    """Reward cost of each word after the first."""
    repeat_cost: float = 0.3
    """Reward cost of each repeated word in a summary."""
    noise: float = 0.3
    """Probability that a word of a reference summary (SFT data) is replaced by a uniformly random word."""
    doc_style: str = "dirichlet"
    """"dirichlet": every token drawn from a Dirichlet(α) word distribution (the exact bridge); "topic": 1..
    ``max_topics`` topic words fill ``topic_share`` of the document (≥ 2 tokens each), the rest are filler words
    (the middle rung, ``llm.bridge.sampled``)."""
    filler_words: int = 0
    """Filler vocabulary of "topic" documents (``FILLER``): tokens of the tokenizer, never in a completion."""
    max_topics: int = 4
    """"topic" documents: the number of topic words is uniform in 1..max_topics."""
    topic_share: float = 0.6
    """"topic" documents: fraction of the tokens that are topic words (the rest: filler)."""
    reference: str = "top_k"
    """Noisy references (SFT data): "top_k", the k most frequent words with k uniform in 1..L (the exact bridge);
    "best", the words of the best summary (:func:`best_summary`); then each word replaced with probability
    ``noise`` and the order shuffled."""

    def __post_init__(self) -> None:
        if not 2 <= self.num_words <= len(WORDS):
            raise ValueError(f"TaskConfig: num_words must be in 2..{len(WORDS)}, got {self.num_words}")
        if self.doc_len < 1 or self.max_words < 1:
            raise ValueError(f"TaskConfig: doc_len and max_words must be ≥ 1, got {self.doc_len}, {self.max_words}")
        if not self.dirichlet_alpha > 0 or not 0 <= self.noise <= 1:
            raise ValueError("TaskConfig: dirichlet_alpha must be > 0 and noise in [0, 1]")
        if self.doc_style not in ("dirichlet", "topic") or self.reference not in ("top_k", "best"):
            raise ValueError("TaskConfig: doc_style must be dirichlet or topic, reference top_k or best")
        if not 0 <= self.filler_words <= len(FILLER):
            raise ValueError(f"TaskConfig: filler_words must be in 0..{len(FILLER)}, got {self.filler_words}")
        if self.doc_style == "topic" and not 0 < self.topic_share <= 1:
            raise ValueError(f"TaskConfig: topic_share must be in (0, 1], got {self.topic_share}")
        if self.doc_style == "topic":
            n_topic = round(self.topic_share * self.doc_len)
            if self.filler_words < 1 or not 1 <= self.max_topics <= self.num_words or n_topic < 2 * self.max_topics:
                raise ValueError(
                    "TaskConfig: topic documents need filler_words ≥ 1, 1 ≤ max_topics ≤ num_words and "
                    f"round(topic_share·doc_len) ≥ 2·max_topics, got {self.filler_words}, {self.max_topics}, {n_topic}"
                )

    @property
    def words(self) -> tuple[str, ...]:
        """The W words (of documents and completions)."""
        return WORDS[: self.num_words]

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Every word token of the tokenizer: the W words, then the filler words."""
        return self.words + FILLER[: self.filler_words]

    @property
    def prompt_len(self) -> int:
        """P, tokens per prompt (document + separator)."""
        return self.doc_len + 1


def make_tokenizer(words: tuple[str, ...] | list[str]) -> Any:
    """Word-level ``PreTrainedTokenizerFast``: ids 0 = EOS (= pad = BOS), 1 = [UNK], 2 = ``TL;DR:``, then the words.

    Each word is one token and whitespace only separates tokens, so ``tok(tok.decode(ids))`` gives ``ids`` back.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {EOS: 0, UNK: 1, SEPARATOR: 2, **{w: i + 3 for i, w in enumerate(words)}}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins tokens with single spaces
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS, pad_token=EOS, unk_token=UNK)


def summary_reward(document: list[str], summary: list[str], cfg: TaskConfig) -> float:
    """R(x, y) = coverage(y) − length_cost·(|y| − 1) − repeat_cost·(|y| − |set(y)|).

    coverage(y) = Σ_{w ∈ set(y)} count_x(w) / |x|: the fraction of the document's tokens the summary names.
    """
    counts = Counter(document)
    named = set(summary)
    coverage = sum(counts[w] for w in named) / len(document)
    return coverage - cfg.length_cost * (len(summary) - 1) - cfg.repeat_cost * (len(summary) - len(named))


def best_summary(document: list[str], cfg: TaskConfig) -> list[str]:
    """A summary of maximal reward: the most frequent word, then every other word whose share of the document
    exceeds ``length_cost``, most frequent first, at most L words (the reward is additive over distinct words, so
    this greedy choice is exact). Filler words are never named."""
    counts = Counter(w for w in document if w in cfg.words)
    ranked = sorted(counts, key=lambda w: (-counts[w], cfg.words.index(w)))
    keep = ranked[:1] + [w for w in ranked[1:] if counts[w] / len(document) > cfg.length_cost]
    return keep[: cfg.max_words]


def reference_summary(document: list[str], cfg: TaskConfig, rng: random.Random) -> list[str]:
    """A noisy reference summary (the SFT data of π_ref): the top-k words (``reference="top_k"``: k uniform in 1..L,
    ties broken at random) or the best summary's words (``"best"``), each replaced by a random word with probability
    ``noise``, in random order."""
    counts = Counter(w for w in document if w in cfg.words)
    if cfg.reference == "best":
        ranked = best_summary(document, cfg)
        k = len(ranked)
    else:
        ranked = sorted(counts, key=lambda w: (-counts[w], rng.random()))
        k = rng.randint(1, cfg.max_words)
    out = [w if rng.random() >= cfg.noise else rng.choice(cfg.words) for w in ranked[:k]]
    while len(out) < k:  # a document with fewer than k distinct words
        out.append(rng.choice(cfg.words))
    rng.shuffle(out)
    return out


def topic_document(cfg: TaskConfig, gen: torch.Generator) -> list[str]:
    """A "topic" document: k topic words (k uniform in 1..max_topics, distinct, uniform over the W words) fill
    round(topic_share·doc_len) tokens, each at least twice and the rest spread by Dirichlet(1) weights; the other
    tokens are filler words drawn uniformly; the order is shuffled."""
    n_topic = round(cfg.topic_share * cfg.doc_len)
    k = int(torch.randint(1, cfg.max_topics + 1, (1,), generator=gen))
    topics = torch.randperm(cfg.num_words, generator=gen)[:k]
    weights = torch._standard_gamma(torch.ones(k), generator=gen)
    extra = torch.multinomial(weights / weights.sum(), n_topic - 2 * k, replacement=True, generator=gen)
    counts = 2 + torch.bincount(extra, minlength=k)  # [k]
    tokens = [cfg.words[int(t)] for t, c in zip(topics, counts) for _ in range(int(c))]
    filler = torch.randint(cfg.filler_words, (cfg.doc_len - n_topic,), generator=gen).tolist()
    tokens += [FILLER[i] for i in filler]
    return [tokens[i] for i in torch.randperm(len(tokens), generator=gen).tolist()]


@dataclasses.dataclass
class BridgeTask:
    """Documents of the task: ``sft`` (π_ref's training data), ``train`` (held-in prompts), ``heldout``."""

    cfg: TaskConfig
    sft_docs: list[list[str]]
    sft_summaries: list[list[str]]
    train_docs: list[list[str]]
    heldout_docs: list[list[str]]

    @classmethod
    def build(cls, cfg: TaskConfig, n_sft: int, n_train: int, n_heldout: int, seed: int = 0) -> BridgeTask:
        """Draw ``n_sft`` + ``n_train`` + ``n_heldout`` distinct documents (seeded)."""
        rng = random.Random(seed)
        gen = torch.Generator().manual_seed(seed)
        alpha = torch.full((cfg.num_words,), float(cfg.dirichlet_alpha))
        seen: set[tuple[str, ...]] = set()
        docs: list[list[str]] = []
        while len(docs) < n_sft + n_train + n_heldout:
            if cfg.doc_style == "topic":
                doc = topic_document(cfg, gen)
            else:
                p = torch._standard_gamma(alpha, generator=gen)
                idx = torch.multinomial(p / p.sum(), cfg.doc_len, replacement=True, generator=gen).tolist()
                doc = [cfg.words[i] for i in idx]
            if tuple(doc) not in seen:
                seen.add(tuple(doc))
                docs.append(doc)
        sft = docs[:n_sft]
        return cls(
            cfg=cfg,
            sft_docs=sft,
            sft_summaries=[reference_summary(d, cfg, rng) for d in sft],
            train_docs=docs[n_sft : n_sft + n_train],
            heldout_docs=docs[n_sft + n_train :],
        )

    @staticmethod
    def prompt(document: list[str]) -> str:
        """``"{document}\\nTL;DR:"``."""
        return make_prompt(" ".join(document))

    @staticmethod
    def completion(words: list[str] | tuple[str, ...]) -> str:
        """The offline format's completion text: a leading space, the words, no EOS."""
        return make_completion(" ".join(words))

    def reward_fn(self, prompts: list[str], completions: list[str], **kwargs: Any) -> list[float]:
        """Reward function in the lab's (TRL's) signature ``f(prompts, completions, **kw) -> list[float]``."""
        out = []
        for p, c in zip(prompts, completions):
            doc = p[: -len("\nTL;DR:")].split() if p.endswith("\nTL;DR:") else p.split()
            out.append(summary_reward(doc, c.split(), self.cfg))
        return out


class EnumerableGPT2(GPT2LMHeadModel):
    """GPT-2 whose completions are exactly the enumerated set: 1..L words, then EOS.

    A fixed additive mask on the logits at absolute position p (which predict token p + 1; the completion starts at
    position P = ``bridge_prompt_len``): at p = P − 1 only words, for P ≤ p < P + L − 1 words or EOS, from
    p = P + L − 1 on only EOS. Positions come from ``position_ids`` (or the attention mask, as
    ``llm.model.logprobs.position_ids_from_mask``), so padding and KV-cached generation see the same mask. Config
    fields ``bridge_prompt_len``, ``bridge_max_words``, ``bridge_word_ids`` define it; prompt positions are left
    unmasked.

    The mask is :meth:`position_logit_bias`, added to GPT-2's logits by :meth:`forward` (generation, plain calls)
    and by ``llm.model.logprobs.completion_logits`` after the LM head (scoring: ``sequence_logps``, the exact
    tables), whose shared-prompt trunk then runs each distinct prompt of a batch once, as for any causal LM.
    """

    def _logit_bias(self, vocab: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (vocab, device, dtype)
        if getattr(self, "_bias_key", None) != key:
            c = self.config
            p0, L = int(c.bridge_prompt_len), int(c.bridge_max_words)  # noqa: N806
            n = int(c.n_positions)
            bias = torch.zeros(n, vocab, dtype=dtype)
            words = torch.tensor(list(c.bridge_word_ids), dtype=torch.long)
            word_only = torch.full((vocab,), _MASKED, dtype=dtype)
            word_only[words] = 0.0
            word_or_eos = word_only.clone()
            word_or_eos[c.eos_token_id] = 0.0
            eos_only = torch.full((vocab,), _MASKED, dtype=dtype)
            eos_only[c.eos_token_id] = 0.0
            bias[p0 - 1] = word_only
            bias[p0 : p0 + L - 1] = word_or_eos
            bias[p0 + L - 1 :] = eos_only
            self._bias, self._bias_key = bias.to(device), key
        return self._bias

    def position_logit_bias(self, positions: torch.Tensor) -> torch.Tensor:
        """The additive logit mask at absolute ``positions`` ``[...]`` → ``[..., V]`` (0 where a token is allowed,
        −1e9 where it is not), in the LM head's dtype and device."""
        weight = self.lm_head.weight  # (V, d)
        bias = self._logit_bias(weight.shape[0], weight.device, weight.dtype)
        return bias[positions.clamp(max=bias.shape[0] - 1)]

    def forward(self, **kwargs: Any) -> Any:  # the signature is GPT2LMHeadModel's (set below)
        out = super().forward(**kwargs)
        logits = out.logits  # (N, T, V)
        pos = kwargs.get("position_ids")
        if pos is None:
            mask = kwargs.get("attention_mask")
            t = logits.shape[1]
            if mask is not None:
                pos = position_ids_from_mask(mask)[:, -t:]
            else:
                pos = torch.arange(t, device=logits.device).expand(logits.shape[0], t)
        out.logits = logits + self.position_logit_bias(pos[:, -logits.shape[1] :]).to(logits.dtype)  # (N, T, V)
        return out


EnumerableGPT2.forward.__signature__ = inspect.signature(GPT2LMHeadModel.forward)  # generation inspects it


def build_policy(tokenizer: Any, cfg: TaskConfig, n_layer: int = 2, n_embd: int = 64, n_head: int = 2, seed: int = 0):
    """A fresh :class:`EnumerableGPT2` from the lab's ``llm.model.models.gpt2_config`` (dropout 0), seeded."""
    preset = dataclasses.make_dataclass("Arch", ["n_positions", "n_embd", "n_layer", "n_head"])(
        cfg.prompt_len + cfg.max_words + 4, n_embd, n_layer, n_head
    )
    config = gpt2_config(preset, len(tokenizer), tokenizer.eos_token_id)
    config.bridge_prompt_len = cfg.prompt_len
    config.bridge_max_words = cfg.max_words
    config.bridge_word_ids = tokenizer.convert_tokens_to_ids(list(cfg.words))
    torch.manual_seed(seed)
    model = EnumerableGPT2(config)
    model.eval()
    return model
