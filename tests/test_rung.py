"""The middle rung (llm.bridge.sampled, rung_runs, rung_stats, rung): the topic task, the importance-sampling
estimate of J_β(π*) against the exact value of an enumerable task, the limits on the sampled completions, and the
fast mode end to end (with resume and the one-line errors)."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from bandit.stationary import stationary_point
from llm.bridge.exact import bandit_problem, enumerate_completions, log_policy_table, reward_table
from llm.bridge.sampled import (
    SampledWorld,
    _prompt_sets,
    bt_labelled,
    is_log_partition,
    limit_table,
    optimal_value,
)
from llm.bridge.task import (
    FILLER,
    WORDS,
    BridgeTask,
    TaskConfig,
    best_summary,
    build_policy,
    make_tokenizer,
    reference_summary,
    summary_reward,
)

TOPIC = TaskConfig(
    num_words=6, doc_len=12, max_words=3, doc_style="topic", filler_words=4, max_topics=2, topic_share=0.6,
    reference="best", noise=0.1, length_cost=0.1,
)  # fmt: skip


def test_word_pool_keeps_the_exact_bridge_words_and_is_large_enough():
    assert WORDS[:6] == ("ant", "bee", "cat", "dog", "eel", "fox") and len(WORDS) == len(set(WORDS)) >= 64
    assert not set(FILLER) & set(WORDS) and len(FILLER) >= 16


def test_topic_documents_are_well_formed():
    task = BridgeTask.build(TOPIC, n_sft=50, n_train=20, n_heldout=10, seed=3)
    n_topic = round(TOPIC.topic_share * TOPIC.doc_len)
    for doc in task.sft_docs + task.train_docs + task.heldout_docs:
        assert len(doc) == TOPIC.doc_len
        topics = Counter(w for w in doc if w in TOPIC.words)
        assert sum(topics.values()) == n_topic and 1 <= len(topics) <= TOPIC.max_topics
        assert min(topics.values()) >= 2
        assert all(w in FILLER[: TOPIC.filler_words] for w in doc if w not in TOPIC.words)
    for ref in task.sft_summaries:
        assert 1 <= len(ref) <= TOPIC.max_words and all(w in TOPIC.words for w in ref)


def test_best_summary_is_ranked_top_by_the_reward_over_every_summary():
    """Brute force over every 1..L-word summary: none has a higher reward than best_summary's."""
    task = BridgeTask.build(TOPIC, n_sft=0, n_train=30, n_heldout=0, seed=5)
    every = [s for n in range(1, TOPIC.max_words + 1) for s in itertools.product(TOPIC.words, repeat=n)]
    for doc in task.train_docs:
        best = summary_reward(doc, best_summary(doc, TOPIC), TOPIC)
        assert best == pytest.approx(max(summary_reward(doc, list(s), TOPIC) for s in every), abs=1e-12)
        assert best > summary_reward(doc, [w for w in TOPIC.words if w not in doc][:1], TOPIC)


def test_noisy_reference_is_the_best_summary_without_noise():
    cfg = TaskConfig(**{**TOPIC.__dict__, "noise": 0.0})
    task = BridgeTask.build(cfg, n_sft=0, n_train=10, n_heldout=0, seed=2)
    for doc in task.train_docs:
        assert sorted(reference_summary(doc, cfg, random.Random(0))) == sorted(best_summary(doc, cfg))


def test_topic_task_errors_name_the_option():
    with pytest.raises(ValueError, match="filler_words"):
        TaskConfig(doc_style="topic", filler_words=0)
    with pytest.raises(ValueError, match="doc_style"):
        TaskConfig(doc_style="essay")


def test_bt_labels_follow_the_reward_and_keep_raw_rewards():
    rows = [{"rewards": [0.5, 0.0]} for _ in range(4000)]
    lab = bt_labelled(rows, beta=0.25, seed=0)
    share = sum(r["rewards"] == [1.0, 0.0] for r in lab) / len(lab)
    assert share == pytest.approx(1 / (1 + math.exp(-2.0)), abs=0.03)
    assert all(r["raw_rewards"] == [0.5, 0.0] for r in lab)


def test_is_estimator_is_exact_with_pi_star_as_proposal_and_consistent_otherwise():
    gen = torch.Generator().manual_seed(0)
    a, beta = 50, 0.2
    ref = torch.log_softmax(torch.randn(a, generator=gen, dtype=torch.float64), 0)
    rew = torch.rand(a, generator=gen, dtype=torch.float64)
    exact = beta * torch.logsumexp(ref + rew / beta, 0).item()
    star = torch.log_softmax(ref + rew / beta, 0)
    idx = torch.multinomial(star.exp(), 7, replacement=True, generator=gen)
    one = is_log_partition(ref[idx], rew[idx], star[idx][None], torch.ones(1, dtype=torch.float64), beta)
    assert one["v_star"] == pytest.approx(exact, abs=1e-12) and one["ess"] == pytest.approx(7)
    n = 20000  # half from π_ref, half from a flat proposal (balance heuristic)
    flat = torch.full((a,), -math.log(a), dtype=torch.float64)
    idx = torch.cat([torch.multinomial(p.exp(), n // 2, replacement=True, generator=gen) for p in (ref, flat)])
    props = torch.stack([ref[idx], flat[idx]])
    est = is_log_partition(ref[idx], rew[idx], props, torch.tensor([0.5, 0.5], dtype=torch.float64), beta)
    assert est["v_star"] == pytest.approx(exact, abs=0.01)
    assert est["reward_star"] == pytest.approx(float((star.exp() * rew).sum()), abs=0.01)


@pytest.fixture(scope="module")
def tiny_world():
    """An enumerable task (3 words, ≤ 2-word completions: 12 per prompt) seen through the rung's sampled world."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tcfg = TaskConfig(num_words=3, doc_len=5, max_words=2)
    tok = make_tokenizer(tcfg.vocabulary)
    task = BridgeTask.build(tcfg, n_sft=0, n_train=3, n_heldout=2, seed=1)
    model = build_policy(tok, tcfg, n_layer=1, n_embd=32, n_head=2, seed=0)
    cfg = SimpleNamespace(task=tcfg, beta=0.3, gen_batch=512, limit_prompts=3)
    world = SampledWorld(cfg, task, tok, model, {"train": task.train_docs, "heldout": task.heldout_docs})
    yield world
    torch.set_num_threads(threads)


def test_optimal_value_matches_the_enumerated_value(tiny_world):
    """J_β(π*) = β·ln Σ_y π_ref(y)·e^{R/β}, enumerated, against the sampled estimate (π_ref as the proposal)."""
    w = tiny_world
    comps = enumerate_completions(w.tokenizer.convert_tokens_to_ids(list(w.cfg.task.words)), w.cfg.task.max_words)
    words = [tuple(w.tokenizer.convert_ids_to_tokens(list(c))) for c in comps]
    prompt_ids = [w.tokenizer(p, add_special_tokens=False)["input_ids"] for p in w.prompts("heldout")]
    ref = log_policy_table(w.ref_model, prompt_ids, comps, w.tokenizer.eos_token_id)  # [X, A]
    rew = reward_table(w.docs["heldout"], words, lambda d, y: summary_reward(d, list(y), w.cfg.task))
    exact = w.cfg.beta * torch.logsumexp(ref + rew / w.cfg.beta, -1)
    n = 4000
    est = optimal_value(w, [], "heldout", n=n, seed=0)
    assert min(est["ess"]) > 100
    for v, e, ess in zip(est["v_star"], exact.tolist(), est["ess"]):
        se = w.cfg.beta * math.sqrt((n / ess - 1) / n)  # delta method: sd(w)/(mean(w)·√n) = √((n/ESS − 1)/n)
        assert abs(v - e) < 5 * se, (v, e, se)


def test_limits_on_the_sampled_completions(tiny_world):
    """S, μ̂ and the limits of one prompt's rows: CoPG's pair limit meets π*'s log-ratio on every realised pair,
    online's is π* on S (= bandit.stationary's on-policy point), PG's is bandit.stationary's."""
    w = tiny_world
    ids = w.tokenizer.convert_tokens_to_ids(list(w.cfg.task.words))
    pairs = [((ids[0],), (ids[1],)), ((ids[1],), (ids[0], ids[2])), ((ids[2],), (ids[2],)), ((ids[0],), (ids[1],))]
    rng = random.Random(0)
    rows = []
    for i in range(3):
        reward = {c: rng.random() for p in pairs for c in p}  # a function of (prompt, completion), as in the data
        ref_logp = {c: -rng.uniform(0.5, 3) for p in pairs for c in p}
        for y, y2 in pairs:
            rows.append(
                {
                    "prompt": w.prompts("train")[i],
                    "completions": [w.task.completion(w.tokenizer.convert_ids_to_tokens(list(c))) for c in (y, y2)],
                    "rewards": [reward[y], reward[y2]],
                    "ref_logps": [ref_logp[y], ref_logp[y2]],
                    "completion_ids": [list(y), list(y2)],
                    "prompt_index": i,
                }
            )
    sets = _prompt_sets(rows, 3)
    assert len(sets[0]["arms"]) == 4 and sets[0]["counts"] == [[2, 1, 0, 1], [0, 2, 1, 1]]
    table = limit_table(w, rows, ["copg", "ipo", "pg", "online"])
    beta = w.cfg.beta
    for t, s in zip(table, sets):
        ref = torch.log_softmax(torch.tensor(s["ref"], dtype=torch.float64), 0)
        rew = torch.tensor(s["rewards"], dtype=torch.float64)
        copg = t["limits"]["copg"].log()
        for r in s["rows"]:
            y, y2 = r["arm_ids"]
            target = (rew[y] - rew[y2]) / beta + ref[y] - ref[y2]
            assert (copg[y] - copg[y2]).item() == pytest.approx(target.item(), abs=1e-8)
        star = torch.softmax(ref + rew / beta, 0)
        assert torch.allclose(t["limits"]["online"], star, atol=1e-12)
        mu = [torch.tensor(c, dtype=torch.float64) / sum(c) for c in s["counts"]]
        prob = bandit_problem(ref, rew, beta)
        pg = stationary_point("pg", prob, mu[0], mu[1], pref_beta=beta, preference="reward").policy
        assert torch.allclose(t["limits"]["pg"], pg, atol=1e-9)


@pytest.mark.slow  # two --fast runs (≈ 20–40 s)
def test_fast_mode_end_to_end_resume_and_errors(tmp_path, capsys):
    from llm.bridge.rung import main

    out = tmp_path / "rung"
    assert main(["--fast", "--out", str(out), "--no-progress", "--workers", "1"]) == 0
    res = json.loads((out / "results.json").read_text())
    s = res["summary"]
    assert set(s["lrs"]) == set(res["config"]["methods"]) and all(
        v in res["config"]["lr_grid"] for v in s["lrs"].values()
    )
    for name in ("offpolicy", "frontier", "curves"):
        assert (out / "figures" / f"rung_{name}.png").exists()
    # the frontier's paired β changes are in the summary and the figure's JSON (one Holm family)
    changes = s["frontier_changes"]
    assert changes["family"] == sum(c["n"] >= 2 for q in changes["methods"].values() for c in q.values())
    for m, q in changes["methods"].items():
        pts = sorted(s["frontier"][m], key=lambda p: p["beta"])
        for k, c in q.items():
            diffs = [a - b for a, b in zip(pts[0]["chain_means"][k], pts[-1]["chain_means"][k])]
            assert c["values"] == pytest.approx(diffs) and c["p"] <= c["p_holm"] <= 1
    front = json.loads((out / "figures" / "rung_frontier.json").read_text())
    assert front["data"]["frontier_changes"] == changes
    fig = json.loads((out / "figures" / "rung_offpolicy.json").read_text())
    verdicts = fig["data"]["verdicts"]
    assert len(verdicts) == 3 * (len(res["config"]["methods"]) - 1)
    for v in verdicts:
        assert v["low"] <= v["mean"] <= v["high"] and v["p"] <= v["holm_p"] <= 1 and v["mde"] > 0
    c = s["competence"]
    assert c["random"] < c["pi_ref"] and c["fraction"] == pytest.approx(
        (c["pi_ref"] - c["random"]) / (c["pi_star"] - c["random"])
    )
    for row in s["table"]:
        assert row["heldout_kl"]["mean"] >= 0
        # the paired difference with π_ref is the method's held-out J_β minus π_ref's, and each chain's mean is there
        assert row["heldout_vs_ref"]["mean"] == pytest.approx(row["heldout_jbeta"]["mean"] - s["pi_ref_jbeta_heldout"])
        assert len(row["chain_means"]["heldout_vs_ref"]) == res["config"]["chains"]
    for m, curve in s["curves"].items():  # the spread drawn in rung_curves brackets the mean at every step
        for k in ("jbeta", "reward", "kl"):
            lo, hi = curve["range"][k]["min"], curve["range"][k]["max"]
            assert all(a - 1e-12 <= b <= c + 1e-12 for a, b, c in zip(lo, curve[k], hi)), (m, k)
        assert curve["last_quarter_from_step"] < curve["steps"][-1]  # a short run still measures a change
    # resume: every run is read back, the numbers are the same
    records = sorted((out / "records").rglob("*.json"))
    before = {p: p.read_text() for p in records}
    assert main(["--fast", "--out", str(out), "--no-progress", "--workers", "1"]) == 0
    assert {p: p.read_text() for p in records} == before
    assert json.loads((out / "results.json").read_text())["summary"]["verdicts"] == s["verdicts"]
    capsys.readouterr()
    # another configuration into the same directory: one line, exit 2, nothing changed
    assert main(["--fast", "--out", str(out), "--beta", "0.2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "beta" in err
    assert main(["--fast", "--steps", "5", "--out", str(tmp_path / "x")]) == 2
    assert main(["--lr-grid", "0", "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
