"""Sequence log-probs through the collator: equal to a naive per-token loop, padding-invariant, prompt-free, EOS-aware.

The fast path is ``sequence_logps(model, **collate(...))``; its naive twin runs the model on each unpadded
(prompt + completion + EOS) sequence alone and sums ln softmax over the completion tokens by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from llm.data.batching import collate, completion_token_ids, prompt_token_ids
from llm.data.corpus import make_completion, make_prompt
from llm.model.generation import TemperatureScaled, completion_logps, generate
from llm.model.logprobs import sequence_logps

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pairs.jsonl"


@pytest.fixture(scope="module")
def tok():
    from llm.data.corpus import load_jsonl_pairs
    from llm.data.tokenizer import train_local_tokenizer

    pairs = load_jsonl_pairs(FIXTURE)
    return train_local_tokenizer([make_prompt(p["document"]) + make_completion(p["summary"]) for p in pairs], 400)


@pytest.fixture(scope="module")
def model(tok):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    eos = tok.eos_token_id
    cfg = GPT2Config(
        n_layer=2, n_head=2, n_embd=32, vocab_size=len(tok), n_positions=256, bos_token_id=eos, eos_token_id=eos
    )
    return GPT2LMHeadModel(cfg).eval().double()


PROMPTS = [
    make_prompt("The list command shows the entries of a directory, sorted by name."),
    make_prompt("Return a new list containing all items from the iterable in ascending order, with a key."),
    make_prompt("x"),
]
COMPLETIONS = [" list directory contents", " Return a new sorted list from the items in iterable.", ""]


def naive_logp(model, tok, prompt: str, completion: str, temperature: float = 1.0, max_prompt_tokens=None) -> float:
    """Σ_t ln softmax(logits_t / T)[y_t] over completion tokens + EOS, one unpadded sequence, explicit loop."""
    p = prompt_token_ids(tok, [prompt], max_prompt_tokens)[0]
    c = completion_token_ids(tok, [completion])[0]
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].double() / temperature  # (L, V)
    total = 0.0
    for t in range(len(p), len(p) + len(c)):  # token t is predicted at position t − 1
        total += torch.log_softmax(logits[t - 1], -1)[ids[0, t]].item()
    return total


def test_collate_equals_naive_loop(model, tok):
    """sequence_logps on a right-padded batch = the naive per-token loop on each sequence alone."""
    batch = collate(tok, PROMPTS, COMPLETIONS)
    with torch.no_grad():
        fast = sequence_logps(model, **batch)
    for i, (p, c) in enumerate(zip(PROMPTS, COMPLETIONS)):
        assert fast[i].item() == pytest.approx(naive_logp(model, tok, p, c), abs=1e-4)


@pytest.mark.parametrize("side", ["left", "right"])
def test_invariant_to_padding_side_and_amount(model, tok, side):
    """Each row's log-prob is the same alone, in a batch (more padding), and with left or right padding."""
    batch = collate(tok, PROMPTS, COMPLETIONS, padding_side=side)
    with torch.no_grad():
        together = sequence_logps(model, **batch)
        for i in range(len(PROMPTS)):
            alone = sequence_logps(model, **collate(tok, PROMPTS[i : i + 1], COMPLETIONS[i : i + 1]))
            assert together[i].item() == pytest.approx(alone.item(), abs=1e-4)
    assert (batch["attention_mask"] == 0).any()  # the test really had padding


def test_prompt_tokens_never_contribute(model, tok):
    """Changing only the prompt's own token probabilities cannot change the result: a model whose logits are
    perturbed at prompt positions < start − 1 gives the same sequence log-prob."""
    batch = collate(tok, PROMPTS[:2], COMPLETIONS[:2])
    start = batch["completion_mask"].float().argmax(-1)  # first completion position per row

    class Perturbed(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, **kw):
            logits = self.inner(**kw).logits.clone()
            for i, s in enumerate(start.tolist()):
                logits[i, : s - 1] += torch.randn_like(logits[i, : s - 1]) * 10  # predictions of prompt tokens
            return type("Out", (), {"logits": logits})()

    with torch.no_grad():
        a = sequence_logps(model, **batch)
        b = sequence_logps(Perturbed(model), **batch)
    torch.testing.assert_close(a, b)


def test_eos_is_scored(model, tok):
    """The empty completion is exactly ln π(EOS | prompt); a non-empty one includes the EOS term too."""
    p = prompt_token_ids(tok, [PROMPTS[0]])[0]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([p])).logits[0, -1].double()
        expected = torch.log_softmax(logits, -1)[tok.eos_token_id].item()
        got = sequence_logps(model, **collate(tok, PROMPTS[:1], [""])).item()
    assert got == pytest.approx(expected, abs=1e-4)


def test_temperature_scaled_logps(model, tok):
    """completion_logps at temperature T = Σ ln softmax(logits / T): the sampling distribution μ_T of generate."""
    for T in (0.5, 1.0, 1.7):
        got = completion_logps(model, tok, PROMPTS, COMPLETIONS, temperature=T, batch_size=2)
        for i, (p, c) in enumerate(zip(PROMPTS, COMPLETIONS)):
            assert got[i].item() == pytest.approx(naive_logp(model, tok, p, c, T), abs=1e-4)
    with pytest.raises(ValueError, match="temperature"):
        TemperatureScaled(model, 0.0)


def test_generate_matches_its_distribution(model, tok):
    """Greedy decoding returns the argmax continuation; sampled texts fit the budget with EOS and are reproducible."""
    greedy = generate(model, tok, PROMPTS[:1], max_new_tokens=6, temperature=0.0)[0]
    # greedy's first token is the argmax of the next-token distribution
    p = prompt_token_ids(tok, PROMPTS[:1])[0]
    with torch.no_grad():
        first = model(input_ids=torch.tensor([p])).logits[0, -1].argmax().item()
    if first != tok.eos_token_id:
        assert tok(greedy, add_special_tokens=False)["input_ids"][0] == first or greedy.startswith(tok.decode([first]))
    a = generate(model, tok, PROMPTS, max_new_tokens=8, temperature=1.0, seed=3, batch_size=2)
    b = generate(model, tok, PROMPTS, max_new_tokens=8, temperature=1.0, seed=3, batch_size=2)
    assert a == b
    texts, trunc, ids = generate(
        model, tok, PROMPTS, max_new_tokens=8, temperature=1.0, seed=3, batch_size=2, return_ids=True
    )
    assert texts == a
    for c in completion_token_ids(tok, texts, ids, trunc):
        assert len(c) <= 8  # sampled ids + EOS (none if truncated) within max_new_tokens
    for text, row, t in zip(texts, ids, trunc):
        assert len(row) == 8 if t else len(row) <= 7
        assert len(tok(text, add_special_tokens=False)["input_ids"]) <= len(row)
    lp = completion_logps(model, tok, PROMPTS, a, temperature=1.0)
    assert torch.isfinite(lp).all() and (lp < 0).all()
    assert not math.isnan(lp.sum().item())
