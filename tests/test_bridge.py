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


def test_scoring_uses_the_shared_prompt_trunk_with_the_mask(tiny):
    """EnumerableGPT2 is scored by llm.model.logprobs' shared-prompt path (each distinct prompt run once, the LM
    head only at predicting positions, the logit mask added there): its sequence log-probs and parameter gradients
    equal those of the model's own plain forward (mask included) read token by token."""
    from llm.model import logprobs

    cfg, tok, task, model, comps, prompt_ids = tiny
    prompts = [task.prompt(d) for d in task.train_docs]
    words = [tok.convert_ids_to_tokens(list(c)) for c in comps]
    batch = collate(
        tok, [prompts[i % 3] for i in range(24)], [BridgeTask.completion(words[(5 * i) % 12]) for i in range(24)]
    )  # 24 rows, 3 distinct prompts, right-padded completions of 1–2 words
    assert logprobs._trunk_and_head(model) is not None  # the mask is declared: the trunk + head path applies
    hidden = logprobs._shared_prompt_hidden(model.base_model, **batch)
    assert hidden is not None  # prompts are shared: the shared path runs
    weights = torch.linspace(-1, 1, 24, dtype=torch.float64)
    comp = batch["completion_mask"][:, 1:].double()
    out = {}
    for how in ("shared", "plain forward"):
        model.zero_grad()
        with torch.enable_grad():
            model.requires_grad_(True)
            if how == "shared":
                logps = sequence_logps(model, **batch)
            else:  # the model's forward (GPT-2 + mask on every position), per-token log-probs summed
                logps = (logprobs.token_logps(model, batch["input_ids"], batch["attention_mask"]) * comp).sum(-1)
            (weights * logps.double()).sum().backward()
        out[how] = (logps.detach().double(), [p.grad.clone() for p in model.parameters()])
        model.requires_grad_(False)
    assert torch.allclose(out["shared"][0], out["plain forward"][0], atol=1e-5)
    for a, b in zip(out["shared"][1], out["plain forward"][1]):
        assert torch.allclose(a, b, atol=1e-5)
    # the mask is applied on the shared path: a forbidden token (EOS first) has probability exactly 0
    logits, targets, rows = logprobs.completion_logits(model, **batch)
    first = torch.cat([torch.ones(1, dtype=torch.bool), rows[1:] != rows[:-1]])  # each row's first completion token
    assert (torch.softmax(logits[first], -1)[:, tok.eos_token_id] == 0).all()


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
    from llm.bridge.experiment import BridgeConfig
    from llm.bridge.world import build_world, offline_rows
    from llm.data.offline import load_offline, write_offline

    cfg = BridgeConfig(fast=True, out=str(tmp_path), progress=False)
    cfg.sft_steps = 2
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
    from llm.bridge.limits import pair_graph_limits

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
    for opt in ("--fast", "--beta", "--mu1-temperature", "--task-seeds", "--panels", "--out", "--no-progress"):
        assert opt in ok.stdout
    capsys.readouterr()
    assert main(["--beta", "-1", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: bridge: --beta") and len(err.splitlines()) == 1, err
    assert main(["--methods", "nope", "--out", "/nonexistent/x"]) == 2


@pytest.mark.slow
def test_fast_mode_end_to_end(tmp_path):
    """Fast mode end to end (the converged panel): exact, leak-free networks; CoPG's held-in regret ≤ 0.1× IPO's and
    ≤ 0.1× PG (b = 0)'s (measured, task seed 0: 0.00016 against 0.021 and 0.082); CoPG's and PG (b = 0)'s networks
    within KL 0.01 of their own tabular limits and nearest them; the figures and the summary keys are written."""
    from llm.bridge.experiment import BridgeConfig, run_bridge

    cfg = BridgeConfig(fast=True, out=str(tmp_path), progress=False)
    cfg.methods, cfg.trainer_methods = ("copg", "ipo", "pg"), ("copg",)
    res = run_bridge(cfg)
    s = res["summary"]
    reg = {m: v["network_regret"]["mean"] for m, v in s.items()}
    assert all(math.isfinite(v) and v >= 0 for v in reg.values()), reg
    assert reg["copg"] <= 0.1 * reg["ipo"] and reg["copg"] <= 0.1 * reg["pg"], reg
    for m in ("copg", "pg"):
        assert s[m]["kl_to_own_limit"] <= 0.01 and s[m]["nearest_is_own"], (m, s[m])
    assert max(r["leaked_mass"] for r in res["tasks"][0]["converged"].values()) < 1e-5
    saved = json.loads((tmp_path / "figures" / "bridge_converged.json").read_text())
    keys = {"network_regret", "tabular_regret", "kl_to_own_limit_support", "kl_to_own_limit", "nearest_limit"}
    assert keys <= set(saved["data"]["summary"]["copg"])
    for name in ("converged", "regret_vs_step", "heldout"):
        assert (tmp_path / "figures" / f"bridge_{name}.png").exists()


def test_fast_conflicting_flags_are_one_error(tmp_path, capsys):
    """--fast sets the sizes itself: --fast together with one of them is a one-line error naming both flags, raised
    before anything is written."""
    from llm.bridge.experiment import main

    assert main(["--fast", "--steps", "5", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--fast" in err and "--steps" in err, err
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------------------------------------------
# The exact training mode: the table loss is the trainer's loss over the same rows
# ----------------------------------------------------------------------------------------------------------------


def _table_rows(tiny, n_rows: int, prompts: list[int]) -> tuple[list[dict], dict]:
    """Offline rows on the tiny task with repeated cells (counts > 1), in the trainer's format, and the tables."""
    from llm.bridge.exact import reward_table

    cfg, tok, task, model, comps, prompt_ids = tiny
    ref = build_policy(tok, cfg, n_layer=2, n_embd=32, n_head=2, seed=5)  # π_ref ≠ the trained policy
    ref_logp = log_policy_table(ref, prompt_ids, comps, tok.eos_token_id)
    mu_log = tuple(log_policy_table(ref, prompt_ids, comps, tok.eos_token_id, temperature=t) for t in (2.0, 0.5))
    words = [tok.convert_ids_to_tokens(list(c)) for c in comps]
    rewards = reward_table(task.train_docs, words, lambda d, y: summary_reward(d, y, cfg))
    gen = torch.Generator().manual_seed(0)
    rows = []
    for i in prompts:
        arms = torch.randint(0, 4, (n_rows, 2), generator=gen)  # 4 of the 12 completions: cells repeat
        for y, y2 in arms.tolist():
            rows.append(
                {
                    "prompt": task.prompt(task.train_docs[i]),
                    "completions": [BridgeTask.completion(words[a]) for a in (y, y2)],
                    "rewards": [float(rewards[i, a]) for a in (y, y2)],
                    "behaviour_logps": [float(mu_log[0][i, y]), float(mu_log[1][i, y2])],
                    "ref_logps": [float(ref_logp[i, a]) for a in (y, y2)],
                    "source": ["ref_T2", "ref_T0.5"],
                    "completion_ids": [list(comps[a]) for a in (y, y2)],
                    "arm_ids": [y, y2],
                    "prompt_index": i,
                }
            )
    return rows, {"ref": ref_logp, "rewards": rewards, "mu_log": mu_log}


@pytest.mark.parametrize("method", ["copg", "ipo", "dpo", "pg", "pg_batch", "pg_is"])
def test_table_loss_and_gradient_equal_the_trainer_on_the_same_rows(tmp_path, tiny, method):
    """llm.bridge.table: the dataset's loss read off the enumerated table through its count table (bandit.methods
    → bandit.losses) equals CoPGTrainer.compute_loss on one batch of the same rows, and so do the parameter
    gradients (to 1e-5). pg_batch's baseline is the batch mean of one prompt's rows (the bandit lab's per-problem
    batch mean), so its batch holds one prompt."""
    import copy

    from llm.bridge.exact import PrefixTree
    from llm.bridge.experiment import BRIDGE_METHODS
    from llm.bridge.table import count_table, table_loss
    from llm.stages.train import CoPGTrainer, OfflineDataset
    from tests.llm_helpers import config

    cfg, tok, task, model, comps, prompt_ids = tiny
    beta = 0.3
    rows, tables = _table_rows(tiny, 10, [0] if method == "pg_batch" else [0, 1, 2])
    prompts = sorted({r["prompt_index"] for r in rows})
    spec = BRIDGE_METHODS[method]
    policy = build_policy(tok, cfg, n_layer=2, n_embd=32, n_head=2, seed=0)  # float32, as the trainer runs
    tr = CoPGTrainer(
        model=copy.deepcopy(policy).requires_grad_(True),
        args=config(tmp_path, loss_type=spec.llm_method, beta=beta, pg_baseline=spec.pg_baseline, pair_ties="first"),
        train_dataset=OfflineDataset(rows),
        processing_class=tok,
    )
    tr.model.zero_grad()
    loss_a = tr.compute_loss(tr.model, tr.data_collator(rows))
    loss_a.backward()
    grads_a = torch.cat([p.grad.flatten() for p in tr.model.parameters()])

    model_b = copy.deepcopy(policy).requires_grad_(True)
    log_pi = PrefixTree(comps, tok.eos_token_id, cfg.max_words).logps(model_b, [prompt_ids[i] for i in prompts])
    local = [{**r, "prompt_index": prompts.index(r["prompt_index"])} for r in rows]
    sel = (lambda t: t[prompts]) if len(prompts) < len(prompt_ids) else (lambda t: t)
    loss_b = table_loss(
        method,
        log_pi,
        sel(tables["ref"]),
        sel(tables["rewards"]),
        beta,
        count_table(local, len(prompts)),
        tuple(sel(t) for t in tables["mu_log"]),
    )
    loss_b.backward()
    grads_b = torch.cat([p.grad.flatten() for p in model_b.parameters()])
    assert abs(loss_a.item() - loss_b.item()) <= 1e-5 * max(1.0, abs(loss_a.item())), (loss_a.item(), loss_b.item())
    assert (grads_a - grads_b).abs().max() <= 1e-5 * max(1.0, grads_a.abs().max().item())
    assert grads_b.abs().sum() > 0


def test_online_table_loss_is_the_exact_expected_rloo_gradient():
    """The exact mode's online RLOO: its gradient w.r.t. tabular logits is the bandit lab's exact expected
    on-policy gradient (bandit.methods.enumerated_expected_loss, y, y′ ~ π, k = 2) of each prompt, averaged over
    prompts: no sampling (float64, to 1e-12)."""
    from bandit.methods import enumerated_expected_loss
    from bandit.problem import BanditProblem
    from llm.bridge.table import table_loss

    gen = torch.Generator().manual_seed(2)
    x, a, beta = 3, 7, 0.4
    ref = torch.log_softmax(torch.randn(x, a, generator=gen, dtype=torch.float64), -1)
    rewards = torch.rand(x, a, generator=gen, dtype=torch.float64)
    theta = torch.randn(x, a, generator=gen, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(table_loss("online", torch.log_softmax(theta, -1), ref, rewards, beta, None), theta)
    for i in range(x):
        th = theta.detach()[i : i + 1].clone().requires_grad_(True)
        prob = BanditProblem(rewards[i], ref[i].exp(), beta)
        uniform = torch.full((a,), 1.0 / a, dtype=torch.float64)
        (g,) = torch.autograd.grad(enumerated_expected_loss("onpolicy", prob, th, uniform, uniform).sum(), th)
        assert torch.allclose(grad[i], g[0] / x, atol=1e-12), (grad[i], g[0] / x)


def test_count_table_weights_are_the_row_frequencies():
    """count_table: one cell per distinct (x, y, y′), weight = its count / the prompt's rows, padding weighs 0."""
    from llm.bridge.table import count_table

    rows = [{"prompt_index": i, "arm_ids": p} for i, p in [(0, [1, 2]), (0, [1, 2]), (0, [2, 1]), (1, [0, 0])]]
    ct = count_table(rows, 2)
    assert ct.arms.shape == (2, 2, 2)
    w = {tuple(ct.arms[0, b].tolist()): ct.weights[0, b].item() for b in range(2)}
    assert w == {(1, 2): pytest.approx(2 / 3), (2, 1): pytest.approx(1 / 3)}
    assert ct.arms[1].tolist() == [[0, 0], [0, 0]] and ct.weights[1].tolist() == [1.0, 0.0]  # the cell, padding
    with pytest.raises(ValueError, match="count_table"):
        count_table(rows, 3)


def test_pg_is_limit_is_the_stationary_point_of_the_dataset_loss():
    """PG + IS on a finite dataset: the network's table loss weighs each sampled arm by its frequency μ̂ times the
    ratio π/μ on the recorded μ, i.e. by μ̂/μ. The tabular limit computed with ``behaviour`` = (μ1, μ2) zeroes that
    loss's gradient for tabular logits; the limit with the ratio on μ̂ (no ``behaviour``: weight 1 on every sampled
    arm, π* on the sampled arms) does not."""
    from bandit.stationary import stationary_point
    from llm.bridge.exact import bandit_problem
    from llm.bridge.table import count_table, table_loss
    from llm.bridge.world import empirical_mu

    gen = torch.Generator().manual_seed(0)
    x_n, a_n, beta = 2, 6, 0.3
    rewards = torch.rand(x_n, a_n, generator=gen, dtype=torch.float64)
    ref = torch.log_softmax(torch.randn(x_n, a_n, generator=gen, dtype=torch.float64), -1)
    mu = [torch.softmax(torch.randn(x_n, a_n, generator=gen, dtype=torch.float64), -1) for _ in range(2)]
    rows = [
        {"prompt_index": x, "arm_ids": [int(torch.multinomial(m[x], 1, generator=gen)) for m in mu]}
        for x in range(x_n)
        for _ in range(40)
    ]
    counts, (mu1_hat, mu2_hat) = count_table(rows, x_n), empirical_mu(rows, (x_n, a_n))
    assert not torch.allclose(mu1_hat, mu[0], atol=1e-3)  # a finite sample: μ̂ ≠ μ

    def dataset_gradient(logits: torch.Tensor) -> torch.Tensor:
        theta = logits.clone().requires_grad_(True)
        mu_log = (mu[0].log(), mu[1].log())
        loss = table_loss("pg_is", torch.log_softmax(theta, -1), ref, rewards, beta, counts, mu_log)
        (grad,) = torch.autograd.grad(loss, theta)
        return grad  # [X, A]

    limits = {}
    for name, behaviour in (("ratio on μ", True), ("ratio on μ̂", False)):
        rows_theta = []
        for x in range(x_n):
            prob = bandit_problem(ref[x], rewards[x], beta)
            ratio = (mu[0][x], mu[1][x]) if behaviour else None
            sp = stationary_point("pg_is", prob, mu1_hat[x], mu2_hat[x], tol=1e-10, behaviour=ratio)
            rows_theta.append(sp.logits)
        limits[name] = torch.stack(rows_theta)
    assert dataset_gradient(limits["ratio on μ"]).abs().max() < 1e-9
    assert dataset_gradient(limits["ratio on μ̂"]).abs().max() > 1e-3


def test_check_text_prints_words_not_dicts():
    """The bridge's console report gives each check as numbers and ✓/✗ words, never a raw dict, and says FAILS."""
    from llm.bridge.plots import check_text

    line = check_text("copg_le_0.1x_ipo", {"copg": 2.3e-4, "ipo": 0.04, "ratio": 5.75e-3, "holds": True})
    assert line == "check copg_le_0.1x_ipo: copg 0.00023, ipo 0.04, ratio 0.00575 → holds"
    assert (
        check_text("nearest_own_limit", {"copg": True, "pg_is": False}) == "check nearest_own_limit: copg ✓, pg_is ✗"
    )
    nested = check_text("kl", {"copg": {"kl": 0.0024, "holds": True}, "pg": {"kl": 0.02, "holds": False}})
    assert nested == "check kl: copg 0.0024 ✓, pg 0.02 ✗" and "{" not in nested
    assert check_text("x", {"a": 1.0, "holds": False}).endswith("→ FAILS")
