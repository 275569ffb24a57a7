"""Issue 14's measurement primitives: the content reward (formula, length cannot game it), standardisation, sampling
by inverse CDF with common random numbers, the LM head on completion positions only, and the exact per-token KL."""

from __future__ import annotations

import pytest
import torch

from llm.model.rewards import ContentReward, StandardisedReward, content_words, letter_trigrams
from tests.llm_helpers import length_reward, make_model, make_tokenizer

DOC = "tar archives disks. tar creates archives, extracts archives and lists archives of disks on tape.\nTL;DR:"


def test_content_words_drop_function_words_and_short_tokens():
    assert content_words("The tar command creates an archive of files") == ["tar", "command", "creates", "archive"]


def test_letter_trigrams():
    assert letter_trigrams("Tar, Buffers! of x2") == {"tar", "buf", "uff", "ffe", "fer", "ers"}


def test_content_reward_formula_on_a_hand_example():
    r = ContentReward(keywords=4, max_words=12, length_cost=0.25)
    # keywords: archives (4), tar (2), disks (2), creates (1, first among the 1-counts)
    assert r.keywords_of(DOC) == ["archives", "tar", "disks", "creates"]
    keys = letter_trigrams("archives tar disks creates")  # 6 + 1 + 3 + 5 = 15 trigrams (ate/tes not shared)
    assert len(keys) == 15
    c = r.components(DOC, " tar archives tape")  # tape's trigrams: tap, ape — in the document, not in K
    assert c["grounding"] == 1.0 and c["coverage"] == pytest.approx(7 / 15)
    assert c["reward"] == pytest.approx(2 * (7 / 15) / (1 + 7 / 15))
    c = r.components(DOC, " tar banana")  # ban, ana, nan, ana: none in the document
    assert c["grounding"] == pytest.approx(1 / 4) and c["coverage"] == pytest.approx(1 / 15)
    assert r.components(DOC, " of a x")["reward"] == 0.0  # no word of ≥ 3 letters: nothing named
    assert r.components(DOC, " tar creates archives of disks")["reward"] == pytest.approx(1.0)


def test_content_reward_rejects_bad_settings_and_mismatched_inputs():
    with pytest.raises(ValueError, match="keywords"):
        ContentReward(keywords=0)
    with pytest.raises(ValueError, match="2 prompts but 1"):
        ContentReward()([DOC, DOC], [" x"])


def test_standardised_reward_is_an_affine_map_and_refuses_a_zero_scale():
    f = StandardisedReward(length_reward, mean=0.5, std=2.0)
    assert f(["p", "q"], ["abcde", "a" * 25]) == pytest.approx([0.0, 1.0])
    with pytest.raises(ValueError, match="std > 0"):
        StandardisedReward(length_reward, 0.0, 0.0)


@pytest.fixture(scope="module")
def tiny():
    tok = make_tokenizer()
    return tok, make_model(tok, seed=0), make_model(tok, seed=1)


def test_inverse_cdf_sampling_draws_the_softmax_distribution(tiny):
    """First tokens of 4000 samples fall in each tenth of the softmax(logits / T) mass with that frequency."""
    from llm.model.generation import generate

    tok, model, _ = tiny
    prompt = "the cat sat\nTL;DR:"
    for T in (1.0, 1.5):
        _, _, ids = generate(model, tok, [prompt] * 4000, 1, temperature=T, batch_size=1000, seed=3, return_ids=True)
        drawn = torch.tensor([i[0] if i else tok.eos_token_id for i in ids])
        with torch.no_grad():
            enc = tok(prompt, return_tensors="pt")
            probs = torch.softmax(model(**enc).logits[0, -1].double() / T, -1)
        # ten groups of consecutive token ids with ≈ 10 % of the mass each: frequency = mass within 5 s.d. (0.024)
        group = torch.clamp((probs.cumsum(0) - probs / 2) * 10, max=9).long()  # token id → group
        freq = torch.bincount(group[drawn], minlength=10).double() / len(drawn)
        mass = torch.zeros(10, dtype=torch.float64).index_add(0, group, probs)
        assert (freq - mass).abs().max() < 0.024


def test_common_random_numbers_do_not_depend_on_batching_or_on_other_prompts(tiny):
    from llm.model.generation import generate

    tok, model, _ = tiny
    prompts = ["the cat sat\nTL;DR:", "a dog ran far away\nTL;DR:", "red car\nTL;DR:"] * 3
    a = generate(model, tok, prompts, 8, seed=7, batch_size=2, return_ids=True)[2]
    b = generate(model, tok, prompts, 8, seed=7, batch_size=9, return_ids=True)[2]
    assert a == b
    c = generate(model, tok, prompts[:4], 8, seed=7, batch_size=4, return_ids=True)[2]
    assert c == a[:4]  # prompt i's draw depends on its index and the seed only
    assert generate(model, tok, prompts, 8, seed=8, return_ids=True)[2] != a


def test_generation_with_a_shared_prefill_and_finished_rows_dropped_equals_one_row_at_a_time(tiny):
    """A batch of repeated prompts (each distinct prompt prefilled once, rows leaving the batch at their EOS) draws
    exactly the completions, and truncation flags, of sampling every row alone."""
    import copy

    from llm.model.generation import generate

    tok, model, _ = tiny
    model = copy.deepcopy(model)
    eos = tok.eos_token_id

    def likely_eos(module, inputs, logits):  # EOS ≈ 1/4 likely at each step: the rows finish at different steps
        return logits + torch.nn.functional.one_hot(torch.tensor(eos), logits.shape[-1]).to(logits.dtype) * 5.0

    model.lm_head.register_forward_hook(likely_eos)
    prompts = [p for p in ("the cat sat\nTL;DR:", "a dog ran far away\nTL;DR:", "red car\nTL;DR:") for _ in range(4)]
    for budget in (3, 12):  # 3: most rows truncated; 12: rows end at different steps
        batched = generate(model, tok, prompts, budget, seed=5, batch_size=len(prompts), return_ids=True)
        alone = generate(model, tok, prompts, budget, seed=5, batch_size=1, return_ids=True)
        assert batched[2] == alone[2] and batched[1] == alone[1]
    lengths = {len(i) for i in batched[2]}
    assert len(lengths) > 2  # the rows did finish at different steps


@pytest.mark.parametrize("side", ["right", "left"])
def test_shared_prompt_forward_gives_the_plain_logits_and_gradients(tiny, side):
    """Rows that share a prompt are scored with the prompt run once: same logits, targets, rows and parameter
    gradients as the plain forward (prompts of different lengths, an EOS-only completion, either padding side)."""
    from llm.data.batching import collate
    from llm.model.logprobs import completion_logits

    tok, model, _ = tiny
    prompts = ["the cat sat\nTL;DR:"] * 3 + ["a big red tree house by the lake\nTL;DR:"] * 2 + ["x\nTL;DR:"]
    comps = [" cat", " a dog ran far", "", " tree house", " lake", " x y"]
    batch = collate(tok, prompts, comps, None, padding_side=side)
    outs, grads = [], []
    for shared in (False, True):
        model.zero_grad()
        logits, targets, rows = completion_logits(model, **batch, shared_prompts=shared)
        weights = torch.linspace(-1.0, 1.0, targets.numel())
        (torch.log_softmax(logits, -1).gather(1, targets[:, None]).squeeze(1) * weights).sum().backward()
        outs.append((logits.detach(), targets, rows))
        grads.append([q.grad.clone() for q in model.parameters()])
    model.zero_grad()
    torch.testing.assert_close(outs[1][0], outs[0][0], atol=1e-5, rtol=0)
    assert torch.equal(outs[1][1], outs[0][1]) and torch.equal(outs[1][2], outs[0][2])
    for g_shared, g_plain in zip(grads[1], grads[0]):
        torch.testing.assert_close(g_shared, g_plain, atol=1e-5, rtol=1e-4)


def test_sequence_logps_with_the_head_on_completion_positions_equals_full_logits(tiny):
    from llm.data.batching import collate
    from llm.model.logprobs import sequence_logps, token_logps

    tok, model, _ = tiny
    batch = collate(tok, ["the cat sat\nTL;DR:", "a big red tree house\nTL;DR:"], [" cat", " a dog ran far"], None)
    fast = sequence_logps(model, **batch)
    full = (token_logps(model, batch["input_ids"], batch["attention_mask"]) * batch["completion_mask"][:, 1:]).sum(-1)
    torch.testing.assert_close(fast, full, atol=1e-5, rtol=0)


def test_exact_per_token_kl_matches_a_direct_computation_and_is_zero_against_itself(tiny):
    from llm.data.batching import collate
    from llm.model.evaluation import kl_terms

    tok, pi, ref = tiny
    prompts, comps = ["the cat sat\nTL;DR:", "red car\nTL;DR:"], [" cat on a mat", " far"]
    out = kl_terms(pi, ref, tok, prompts, comps, batch_size=8, max_prompt_tokens=None)
    batch = collate(tok, prompts, comps, None)
    with torch.no_grad():
        lp = torch.log_softmax(pi(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, -1)
        lr = torch.log_softmax(ref(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, -1)
    per_pos = (lp.exp() * (lp - lr)).sum(-1)[:, :-1]  # KL of the next-token distribution at each position
    want = (per_pos * batch["completion_mask"][:, 1:]).sum(-1)
    assert out["exact"] == pytest.approx(want.tolist(), abs=1e-4)
    assert all(v > 0 for v in out["exact"]) and all(v >= 0 for v in out["k3"])
    same = kl_terms(pi, pi, tok, prompts, comps, batch_size=8, max_prompt_tokens=None)
    assert same["exact"] == pytest.approx([0.0, 0.0], abs=1e-6)


def test_kl_computed_while_sampling_equals_a_forward_on_the_sampled_ids(tiny):
    """generate_with_kl draws what generate draws and its KL terms (π_ref in lockstep) equal kl_terms, a forward of
    both models on the stored ids, including rows truncated at the budget."""
    from llm.model.evaluation import kl_terms
    from llm.model.generation import generate, generate_with_kl

    tok, pi, ref = tiny
    prompts = [p for p in ("the cat sat\nTL;DR:", "a dog ran far away\nTL;DR:", "red car\nTL;DR:") for _ in range(3)]
    texts, trunc, ids, kl = generate_with_kl(pi, ref, tok, prompts, 6, batch_size=4, seed=11)
    assert (texts, trunc, ids) == tuple(generate(pi, tok, prompts, 6, batch_size=4, seed=11, return_ids=True))
    assert any(trunc)
    direct = kl_terms(pi, ref, tok, prompts, texts, 4, None, completion_ids=ids, truncated=trunc)
    for key in ("exact", "k1", "k3", "length"):
        torch.testing.assert_close(torch.tensor(kl[key]), torch.tensor(direct[key]), atol=1e-4, rtol=1e-4)
    assert min(kl["exact"]) > 0


def test_evaluate_policy_averages_samples_per_prompt_and_reports_j_beta(tiny):
    from llm.model.evaluation import Decoding, evaluate_policy

    tok, pi, ref = tiny
    prompts = ["the cat sat\nTL;DR:", "red car\nTL;DR:", "a dog\nTL;DR:"]
    m, per, samples = evaluate_policy(
        pi,
        ref,
        tok,
        prompts,
        [" x"] * 3,
        length_reward,
        decoding=Decoding(max_new_tokens=6, samples_per_prompt=4),
        beta=0.5,
    )
    assert len(per["proxy"]) == 3 and len(per["kl_exact"]) == 3
    assert m["reward/regularised_mean"] == pytest.approx(m["reward/proxy_mean"] - 0.5 * m["policy/kl_exact"])
    assert m["reward/within_prompt_sd"] > 0
    # common random numbers: the same policy and seed give the same evaluation, prompt by prompt
    m2, per2, _ = evaluate_policy(
        pi,
        ref,
        tok,
        prompts,
        [" x"] * 3,
        length_reward,
        decoding=Decoding(max_new_tokens=6, samples_per_prompt=4),
        beta=0.5,
    )
    assert per2["proxy"] == per["proxy"]
