"""The exact bridge (llm.bridge): enumeration is exact, the identities of docs/theory.md hold, text round-trips.

Tiny case: 3 words, completions of 1–2 words (12 arms), a random 2-layer GPT-2 with the enumeration mask.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from bandit.problem import kl_divergence
from llm.bridge.exact import enumerate_completions, exact_metrics, log_policy_table, objective, optimal_log_policy
from llm.bridge.task import BridgeTask, TaskConfig, build_policy, make_tokenizer, summary_reward
from llm.data.batching import collate
from llm.model.logprobs import sequence_logps


@pytest.fixture(scope="module")
def tiny():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = TaskConfig(num_words=3, doc_len=5, max_words=2)
    tok = make_tokenizer(cfg.words)
    task = BridgeTask.build(cfg, n_sft=0, n_train=3, n_heldout=0, seed=1)
    model = build_policy(tok, cfg, n_layer=2, n_embd=32, n_head=2, seed=0).double()
    word_ids = tok.convert_tokens_to_ids(list(cfg.words))
    comps = enumerate_completions(word_ids, cfg.max_words)
    prompt_ids = [tok(task.prompt(d), add_special_tokens=False)["input_ids"] for d in task.train_docs]
    yield cfg, tok, task, model, comps, prompt_ids
    torch.set_num_threads(threads)


def _brute_force_logp(model, prompt: list[int], completion: tuple[int, ...], eos: int) -> float:
    """ln π(y + EOS | x) token by token: one forward per prefix, log-softmax of the last position."""
    total, seq = 0.0, list(prompt)
    for t in [*completion, eos]:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([seq]), attention_mask=torch.ones(1, len(seq), dtype=torch.long))
        total += torch.log_softmax(logits.logits[0, -1].double(), -1)[t].item()
        seq.append(t)
    return total


def test_enumeration_matches_brute_force_and_sums_to_one(tiny):
    """Σ_y π(y|x) over the enumerated completions = 1 to 1e-6; batched sequence_logps = token-by-token brute force
    (to 1e-6: sequence_logps computes the log-softmax in float32)."""
    cfg, tok, task, model, comps, prompt_ids = tiny
    assert len(comps) == 3 + 9
    table = log_policy_table(model, prompt_ids, comps, tok.eos_token_id)  # [X, A]
    assert torch.allclose(table.exp().sum(-1), torch.ones(len(prompt_ids), dtype=torch.float64), atol=1e-6)
    for x, p in enumerate(prompt_ids[:2]):
        for a, c in enumerate(comps):
            assert table[x, a].item() == pytest.approx(
                _brute_force_logp(model, p, c, tok.eos_token_id), abs=1e-6
            )  # float32 logits
    # temperature tables (the behaviour policies μ_T) are distributions over the same set
    for temp in (0.5, 2.0):
        mu = log_policy_table(model, prompt_ids, comps, tok.eos_token_id, temperature=temp)
        assert torch.allclose(mu.exp().sum(-1), torch.ones(len(prompt_ids), dtype=torch.float64), atol=1e-6)


def test_prefix_tree_table_equals_the_plain_table(tiny):
    """log_policy_table(eos_forced_after=L) (the prefix tree: one forward per longest needed prefix) = the plain
    sequence_logps table over every completion, at T = 1 and for the temperature tables μ_T (float32 rounding)."""
    cfg, tok, task, model, comps, prompt_ids = tiny
    for temp in (1.0, 0.5, 2.0):
        plain = log_policy_table(model, prompt_ids, comps, tok.eos_token_id, temperature=temp)
        tree = log_policy_table(model, prompt_ids, comps, tok.eos_token_id, temperature=temp, eos_forced_after=2)
        assert tree.shape == plain.shape
        assert (tree - plain).abs().max().item() < 1e-5, (temp, (tree - plain).abs().max().item())
    with pytest.raises(ValueError, match="prefix_tree_table"):
        log_policy_table(model, prompt_ids, [(4, 4, 4)], tok.eos_token_id, eos_forced_after=2)


def test_shared_prompt_forward_equals_the_plain_forward(tiny):
    """EnumerableGPT2's scoring forward that runs each distinct prompt once (its keys/values copied per row) gives
    the plain forward's sequence log-probs and parameter gradients (float64 model: to 1e-10)."""
    cfg, tok, task, model, comps, prompt_ids = tiny
    prompts = [task.prompt(d) for d in task.train_docs]
    words = [tok.convert_ids_to_tokens(list(c)) for c in comps]
    batch = collate(
        tok, [prompts[i % 3] for i in range(24)], [BridgeTask.completion(words[(5 * i) % 12]) for i in range(24)]
    )  # 24 rows, 3 distinct prompts, right-padded completions of 1–2 words
    weights = torch.linspace(-1, 1, 24, dtype=torch.float64)
    out = {}
    for shared in (False, True):
        model.shared_prompt = shared
        model.zero_grad()
        with torch.enable_grad():
            model.requires_grad_(True)
            logps = sequence_logps(model, **batch)
            (weights * logps).sum().backward()
        out[shared] = (logps.detach(), [p.grad.clone() for p in model.parameters()])
        model.requires_grad_(False)
    model.shared_prompt = True
    assert torch.allclose(out[True][0], out[False][0], atol=1e-10)
    for a, b in zip(out[True][1], out[False][1]):
        assert torch.allclose(a, b, atol=1e-10)
    assert model._shared_prompt_forward({**batch, "completion_mask": None}) is not None  # the shared path ran


def test_mass_outside_the_enumerated_set_is_zero(tiny):
    """The mask: no EOS first, only words/EOS in completions, EOS forced after max_words (checked on all tokens)."""
    cfg, tok, task, model, comps, prompt_ids = tiny
    p = prompt_ids[0]
    v = len(tok)
    words = set(tok.convert_tokens_to_ids(list(cfg.words)))
    for prefix in [(), *[c for c in comps]]:
        seq = p + list(prefix)
        with torch.no_grad():
            probs = torch.softmax(model(input_ids=torch.tensor([seq])).logits[0, -1].double(), -1)
        allowed = (words if not prefix else words | {tok.eos_token_id}) if len(prefix) < cfg.max_words else set()
        if len(prefix) >= cfg.max_words:
            allowed = {tok.eos_token_id}
        outside = sum(probs[t].item() for t in range(v) if t not in allowed)
        assert outside == 0.0


def test_regret_identity_and_optimality(tiny):
    """J_β(π*) − J_β(π) = β·KL(π‖π*) (docs/theory.md) and J_β(π*) ≥ J_β(π) for random π; π* ∝ π_ref·exp(R/β)."""
    cfg, tok, task, model, comps, prompt_ids = tiny
    beta = 0.3
    ref_logp = log_policy_table(model, prompt_ids, comps, tok.eos_token_id)
    words = [tok.convert_ids_to_tokens(list(c)) for c in comps]
    rewards = torch.tensor([[summary_reward(d, w, cfg) for w in words] for d in task.train_docs], dtype=torch.float64)
    star = optimal_log_policy(ref_logp, rewards, beta).exp()
    ref = ref_logp.exp() / ref_logp.exp().sum(-1, keepdim=True)
    brute = ref * torch.exp(rewards / beta)
    assert torch.allclose(star, brute / brute.sum(-1, keepdim=True), atol=1e-12)
    j_star = objective(star, ref, rewards, beta)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        pi = torch.softmax(3 * torch.randn(ref.shape, generator=gen, dtype=torch.float64), -1)
        j = objective(pi, ref, rewards, beta)
        assert (j_star >= j - 1e-12).all()
        assert torch.allclose(j_star - j, beta * kl_divergence(pi, star), atol=1e-10)
        m = exact_metrics(pi.log(), ref_logp, rewards, beta)
        assert torch.allclose(m["policy/regret"], j_star - j, atol=1e-10)
        assert torch.allclose(m["objective/J_star"], j_star, atol=1e-10)
    assert exact_metrics(star.log(), ref_logp, rewards, beta)["policy/regret"].abs().max() < 1e-12


def test_word_level_text_round_trip(tiny):
    """ids → text → ids is the identity for every completion and prompt (one token per word, no merges)."""
    cfg, tok, task, model, comps, prompt_ids = tiny
    for c in comps:
        text = BridgeTask.completion(tok.convert_ids_to_tokens(list(c)))
        assert tok(text, add_special_tokens=False)["input_ids"] == list(c)
        assert tok(tok.decode(list(c)), add_special_tokens=False)["input_ids"] == list(c)
    for ids in prompt_ids:
        assert len(ids) == cfg.prompt_len
        assert tok(tok.decode(ids), add_special_tokens=False)["input_ids"] == ids
    # the trainer's collator tokenises the offline texts to the same ids the enumeration scored
    batch = collate(tok, [task.prompt(task.train_docs[0])], [BridgeTask.completion(("ant", "bee"))])
    assert batch["input_ids"][0].tolist() == prompt_ids[0] + tok.convert_tokens_to_ids(["ant", "bee"]) + [0]


def test_offline_rows_use_the_enumerated_log_probs(tmp_path):
    """Offline rows are valid for llm.offline and carry ln μ and ln π_ref read from the exact tables."""
    from llm.bridge.experiment import BridgeConfig, build_world, offline_rows
    from llm.data.offline import load_offline, write_offline

    cfg = BridgeConfig(fast=True, out=str(tmp_path), sft_steps=2, no_progress=True)
    world, _ = build_world(cfg)
    rows, mu1, mu2 = offline_rows(world, 2.0, 0.5, seed=0)
    write_offline(rows, tmp_path / "train.jsonl")
    back = load_offline(tmp_path / "train.jsonl")
    assert len(back) == cfg.train_prompts * cfg.pairs_per_prompt
    lmu = world.log_policy(world.ref_model, "train", 2.0)
    for r in back[:10]:
        i, arm = r["prompt_index"], r["arm_ids"][0]
        assert world.texts[arm] == r["completions"][0]
        assert r["behaviour_logps"][0] == pytest.approx(float(lmu[i, arm]))
        assert r["ref_logps"][0] == pytest.approx(float(world.ref_logp["train"][i, arm]))
    assert torch.allclose(mu1.sum(-1), torch.ones(cfg.train_prompts, dtype=torch.float64))


def test_pair_graph_limits_are_stationary_for_the_realised_pairs():
    """pair_graph_limits: the CoPG / IPO limit on the rows' own pairs is a stationary point of the mean loss over
    those rows (bandit.losses, autograd, tabular logits), it keeps each pair-graph component's Σ(θ − ln π_ref) and
    the unsampled logits at their π_ref values (what gradient descent conserves), and CoPG's limit is π* up to one
    constant per component."""
    import types

    from bandit.losses import copg_loss, ipo_loss
    from llm.bridge.experiment import pair_graph_limits

    gen = torch.Generator().manual_seed(3)
    x, a, beta = 2, 12, 0.3
    ref = torch.log_softmax(torch.randn(x, a, generator=gen, dtype=torch.float64), -1)
    rewards = torch.rand(x, a, generator=gen, dtype=torch.float64)
    rewards[:, 1] = rewards[:, 0]  # a tie: IPO keeps column 0 first
    pairs = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 0), (5, 6), (6, 5), (7, 8)]  # components {0..3}, {5, 6}, {7, 8}
    rows = [{"prompt_index": i, "arm_ids": list(p)} for i in range(x) for p in pairs]
    world = types.SimpleNamespace(
        cfg=types.SimpleNamespace(beta=beta), ref_logp={"train": ref}, rewards={"train": rewards}
    )
    lim = pair_graph_limits(world, rows)
    ys = torch.tensor([p[0] for p in pairs])
    ys2 = torch.tensor([p[1] for p in pairs])
    for i in range(x):
        for m in ("copg", "ipo"):
            theta = lim[m]["policy"][i].log().clone().requires_grad_(True)
            logp = torch.log_softmax(theta, -1)
            cols = torch.stack([ys, ys2], 1)  # [B, 2]
            if m == "copg":
                loss = copg_loss(logp[cols], ref[i][cols], rewards[i][cols], beta).mean()
            else:
                swap = rewards[i][ys] < rewards[i][ys2]  # reward-ranked, ties: column 0 first
                cols = torch.where(swap[:, None], cols.flip(1), cols)
                loss = ipo_loss(logp[cols], ref[i][cols], beta).mean()
            (grad,) = torch.autograd.grad(loss, theta)
            assert grad.abs().max() < 1e-9, (m, grad)
            d = theta.detach() - ref[i]  # defined up to one global constant (the softmax shift)
            d = d - d[[4, 9, 10, 11]].mean()  # unsampled completions: exactly where π_ref put them
            assert torch.allclose(d[[4, 9, 10, 11]], torch.zeros(4, dtype=torch.float64), atol=1e-10)
            for comp in ([0, 1, 2, 3], [5, 6], [7, 8]):
                assert abs(d[comp].sum().item()) < 1e-9  # gradient descent conserves each component's Σ d
            assert lim[m]["components"][i] == 3
        star = ref[i] + rewards[i] / beta
        offset = lim["copg"]["policy"][i].log() - star
        for comp in ([0, 1, 2, 3], [5, 6], [7, 8]):
            assert offset[comp].max() - offset[comp].min() < 1e-9  # π ∝ π* inside each component


@pytest.mark.slow  # imports the whole bridge CLI stack (≈ 10 s)
def test_cli_help_and_bad_input(capsys):
    """--help (through python -m llm) explains the options; a user error is one line on stderr with exit code 2."""
    from llm.bridge.experiment import main

    ok = subprocess.run([sys.executable, "-m", "llm", "bridge", "--help"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0
    for opt in ("--fast", "--beta", "--mu1-temperature", "--seeds", "--out", "--no-progress"):
        assert opt in ok.stdout
    capsys.readouterr()
    assert main(["--beta", "-1", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: bridge: --beta") and len(err.splitlines()) == 1, err
    assert main(["--methods", "nope", "--out", "/nonexistent/x"]) == 2


@pytest.mark.slow
def test_fast_mode_end_to_end(tmp_path):
    """Fast mode end to end: exact, leak-free results; CoPG's network beats PG (b = 0)'s; the issue's claim "CoPG's
    exact regret beats IPO's" does NOT hold at this budget (docs/bridge.md, "What fails and why"): reported as
    xfail."""
    from llm.bridge.experiment import BridgeConfig, run_bridge

    cfg = BridgeConfig(fast=True, out=str(tmp_path), methods=("copg", "ipo", "pg"), no_progress=True)
    res = run_bridge(cfg)
    reg = {m: r["train"]["mean"] for m, r in res["regret"].items()}
    assert all(math.isfinite(v) and v >= 0 for v in reg.values()), reg
    assert all(r["train"]["mean"] < res["pi_ref_regret"]["train"] for r in res["regret"].values()), reg
    assert res["max_leaked_mass"] < 1e-5
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["regret"]) == {"copg", "ipo", "pg"}
    assert (tmp_path / "figures" / "bridge_regret_vs_step.png").exists()
    # the tabular theory's ordering (bandit.stationary on the prompts' empirical μ̂1, μ̂2) holds
    tab = {m: r["tabular_regret"] for m, r in res["regret"].items()}
    assert tab["copg"] < tab["ipo"] and tab["copg"] < tab["pg"], tab
    # CoPG's network beats naive PG's on every seed measured (0.017–0.021 vs 0.069–0.072, seeds 0–2)
    assert reg["copg"] < 0.5 * reg["pg"], reg
    if not reg["copg"] < reg["ipo"]:
        # measured, seeds 0/1/2: CoPG 0.0177/0.0212/0.0168, IPO 0.0114/0.0102/0.0123 (IPO's network ends below its
        # own tabular limit, 0.033)
        pytest.xfail(f"network regrets {reg}: CoPG's network does not beat IPO's in fast mode (docs/bridge.md)")
