"""LLM lab part 1 end to end on the ``tiny`` preset and the fixture corpus: corpus → tokenizer → sft → reward → sample.

Runs offline in seconds. Checks that SFT lowers the held-out loss, that the reward model ranks held-out pairs above
chance, that the offline dataset is complete and consistent with the models that produced it, and that bad input
fails with one line naming the file and line while leaving nothing half-written.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pairs.jsonl"
CORPUS_ARGS = [
    "--preset",
    "tiny",
    "--jsonl",
    str(FIXTURE),
    "--valid-frac",
    "0.2",
    "--test-frac",
    "0.1",
    "--no-progress",
]


PAPER = ["--temperatures", "0.7", "1.0", "--include-human", "True", "--reward", "rm", "--allow-weak-rm"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from llm.data import corpus, tokenizer
    from llm.stages import reward_model, sample, sft

    rd = tmp_path_factory.mktemp("tiny_run")
    common = ["--preset", "tiny", "--run-dir", str(rd), "--no-progress"]
    assert corpus.main([*CORPUS_ARGS, "--run-dir", str(rd)]) == 0
    assert tokenizer.main(common) == 0
    assert sft.main([*common, "--sft-steps", "40"]) == 0
    # gold labels: the toy SFT's samples are too alike for the content reward to rank them
    assert reward_model.main([*common, "--rm-steps", "40", "--labels", "gold", "--include-human"]) == 0
    # the paper's setting (learned RM, heterogeneous μ: two temperatures + the human reference) as offline/train.jsonl
    assert sample.main([*common, *PAPER]) == 0
    # the default reward (overlap, standardised) as a second named dataset
    assert sample.main([*common, "--dataset", "default"]) == 0
    return rd


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_stage_outputs(run_dir):
    for rel in [
        "corpus/train.jsonl",
        "corpus/stats.json",
        "tokenizer/tokenizer.json",
        "sft/model/model.safetensors",
        "sft/metrics.json",
        "reward/model/model.safetensors",
        "reward/metrics.json",
        "offline/train.jsonl",
        "offline/stats.json",
        "offline/default.jsonl",
        "offline/default.stats.json",
        "config/sft.json",
    ]:
        assert (run_dir / rel).exists(), rel
    assert not list(run_dir.rglob("*.tmp")), "a temporary file was left behind"


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_sft_lowers_heldout_loss(run_dir):
    m = json.loads((run_dir / "sft/metrics.json").read_text())
    assert m["heldout_loss_after"] < m["heldout_loss_before"] - 0.1
    assert len(m["samples_before"]) == len(m["samples_after"]) > 0


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_reward_model_above_chance(run_dir):
    """Held-out pair accuracy of the Bradley–Terry RM beats a coin flip on the toy pairs."""
    m = json.loads((run_dir / "reward/metrics.json").read_text())
    assert m["valid_pairs"] > 0 and m["valid_accuracy"] > 0.6
    assert m["curve"][-1] < m["curve"][0] or m["train_accuracy"] > 0.6


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_offline_dataset_consistent(run_dir):
    """Every row validates; ref/behaviour log-probs and rewards equal a recomputation with the saved models."""
    from llm.data.offline import OFFLINE_FIELDS, load_offline
    from llm.model.generation import completion_logps
    from llm.model.models import load_policy
    from llm.model.rewards import load_reward

    rows = load_offline(run_dir / "offline")
    assert len(rows) > 0
    for r in rows:
        assert set(OFFLINE_FIELDS) <= set(r)
        assert r["source"] == ["sft_T0.7", "sft_T1", "human"]
        assert r["completions"][2] == r["reference"]
        assert r["behaviour_logps"][1] == r["ref_logps"][1]  # T = 1: μ = π_ref
        assert r["behaviour_logps"][2] == r["ref_logps"][2]  # human: SFT log-prob stands in for the unknown μ
        assert all(math.isfinite(v) for v in r["rewards"] + r["behaviour_logps"] + r["ref_logps"])
        assert r["gold_rewards"][2] == pytest.approx(1.0)
    tok, model = load_policy(run_dir)
    prompts = [r["prompt"] for r in rows[:4]]
    comps = [r["completions"][0] for r in rows[:4]]
    ids = [r["completion_ids"][0] for r in rows[:4]]
    trunc = [r["truncated"][0] for r in rows[:4]]
    kw = dict(max_prompt_tokens=64, completion_ids=ids, truncated=trunc)  # recomputed from the stored token ids
    ref = completion_logps(model, tok, prompts, comps, temperature=1.0, **kw)
    beh = completion_logps(model, tok, prompts, comps, temperature=0.7, **kw)
    torch.testing.assert_close(ref, torch.tensor([r["ref_logps"][0] for r in rows[:4]]), atol=1e-5, rtol=0)
    torch.testing.assert_close(beh, torch.tensor([r["behaviour_logps"][0] for r in rows[:4]]), atol=1e-5, rtol=0)
    rm = load_reward(run_dir, "rm")
    assert rm(prompts, comps) == pytest.approx([r["raw_rewards"][0] for r in rows[:4]], abs=1e-4)
    gold = load_reward(run_dir, "gold")
    assert gold(prompts, [r["reference"] for r in rows[:4]]) == pytest.approx([1.0] * 4)


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_rewards_are_standardised_per_dataset_and_the_scale_is_recorded(run_dir):
    """Issue 14: ``rewards`` = (raw − mean)/s.d. of the dataset, raw rewards and the scale stored in every row and in
    the stats; the default raw reward is the overlap reward of (prompt's reference, completion text)."""
    from llm.data.offline import load_offline
    from llm.model.rewards import load_reward

    for name in ("train", "default"):
        rows = load_offline(run_dir / "offline" / f"{name}.jsonl")
        stats = json.loads(
            (run_dir / "offline" / ("stats.json" if name == "train" else f"{name}.stats.json")).read_text()
        )
        scale = stats["reward_scale"]
        raw = [v for r in rows for v in r["raw_rewards"]]
        for r in rows:
            assert r["reward_scale"]["mean"] == pytest.approx(scale["mean"], abs=1e-6)
            std = [(v - scale["mean"]) / scale["std"] for v in r["raw_rewards"]]
            assert r["rewards"] == pytest.approx(std, abs=1e-5)
        assert sum(raw) / len(raw) == pytest.approx(scale["mean"], abs=1e-5)
    rows = load_offline(run_dir / "offline" / "default.jsonl")
    assert rows[0]["reward_scale"]["kind"] == "overlap"
    overlap = load_reward(run_dir, "overlap")  # the references of every corpus split, by prompt
    for r in rows[:4]:
        expected = overlap([r["prompt"]] * len(r["completions"]), r["completions"])
        assert r["raw_rewards"] == pytest.approx(expected, abs=1e-6)
    stats = json.loads((run_dir / "offline" / "stats.json").read_text())
    assert stats["reward"] == "rm" and stats["reward_model_quality"]["min_accuracy"] == 0.75


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_reward_model_gate_refuses_a_weak_model_unless_told(run_dir, capsys):
    from llm.stages import sample

    acc = json.loads((run_dir / "reward" / "metrics.json").read_text())["valid_accuracy_sampled_only"]
    assert acc < 1.0, "the tiny reward model is perfect: this gate test needs one below 1"
    gate = f"{(acc + 1.0) / 2:.6f}"  # strictly above this model's accuracy, within the option's range [0, 1]
    rc = sample.main(
        [
            "--preset",
            "tiny",
            "--run-dir",
            str(run_dir),
            "--no-progress",
            "--reward",
            "rm",
            "--rm-min-accuracy",
            gate,
            "--dataset",
            "gate",
            "--temperatures",
            "1.0",
            "1.0",
        ]
    )
    err = capsys.readouterr()
    assert rc == 2 and "below the gate" in err.err + err.out and not (run_dir / "offline" / "gate.jsonl").exists()


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_offline_rows_keep_the_sampled_ids(run_dir):
    """Issue 14, bugs 2–3: sampled completions are stored as their token ids (human: text only), truncated ones are
    flagged, and the trainer's ln π_ref at step 0 (its collator + sequence_logps on the SFT policy) equals the
    stored ref_logps, for every completion, including those whose text re-tokenises to other ids."""
    from llm.data.offline import load_offline
    from llm.model.logprobs import sequence_logps
    from llm.model.models import load_policy
    from llm.presets import get_preset
    from llm.stages.train.dataset import OfflineCollator, select_rows

    rows = load_offline(run_dir / "offline")
    tok, model = load_policy(run_dir)
    budget = get_preset("tiny").max_completion_tokens
    for r in rows:
        assert r["completion_ids"][2] is None and r["truncated"][2] is False  # human reference: the text path
        for ids, t in zip(r["completion_ids"][:2], r["truncated"][:2]):
            assert len(ids) == budget if t else len(ids) < budget  # truncated: the whole budget, no EOS
    batch = OfflineCollator(tok, max_prompt_tokens=64)(rows)
    b, k = batch["rewards"].shape
    seqs = select_rows(batch, torch.arange(k).expand(b, k))
    with torch.no_grad():
        step0 = sequence_logps(model, **seqs).view(b, k)  # [B, K] ln π_ref as the trainer computes it
    torch.testing.assert_close(step0, batch["ref_logps"], atol=1e-5, rtol=0)


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_stored_ids_are_the_sampled_ids_not_a_re_encoding(run_dir):
    """Issue 23: the checks above recompute ln π_ref from whatever ids were stored, so a sample stage that stored
    the re-tokenised text (decode → encode, which differs from the sampled ids for most tiny completions) passed them
    all. Here the sampler is re-run independently of the sample stage (same prompts, seeds, batches, one thread) and
    the stored ids, ln π_ref and ln μ must be those of the ids it samples."""
    from llm.data.offline import load_offline
    from llm.model.generation import completion_logps, generate
    from llm.model.models import load_policy
    from llm.run import torch_threads
    from llm.stages.sample import SampleConfig

    rows = load_offline(run_dir / "offline" / "train.jsonl")
    cfg = SampleConfig(preset="tiny", run_dir=str(run_dir), temperatures=(0.7, 1.0))  # PAPER's sampled columns
    tok, model = load_policy(run_dir)
    prompts = [r["prompt"] for r in rows]
    differs = 0
    with torch_threads(1):
        for i, T in enumerate(cfg.temperatures):
            texts, truncated, ids = generate(
                model,
                tok,
                prompts,
                cfg.max_new_tokens,
                temperature=T,
                batch_size=cfg.batch_size,
                seed=cfg.seed + i,
                max_prompt_tokens=cfg.max_prompt_tokens,
                progress=False,
                return_ids=True,
            )
            assert [r["completions"][i] for r in rows] == texts
            assert [r["completion_ids"][i] for r in rows] == ids  # the sampled ids, not encode(decode(ids))
            assert [r["truncated"][i] for r in rows] == truncated
            kw = dict(max_prompt_tokens=cfg.max_prompt_tokens, completion_ids=ids, truncated=truncated)
            for temp, field in ((1.0, "ref_logps"), (T, "behaviour_logps")):
                lp = completion_logps(model, tok, prompts, texts, temperature=temp, **kw)
                torch.testing.assert_close(lp, torch.tensor([r[field][i] for r in rows]), atol=1e-5, rtol=0)
            differs += sum(tok(t, add_special_tokens=False)["input_ids"] != x for t, x in zip(texts, ids))
    assert differs > 0, "no sampled completion re-encodes differently: this test could not tell the two apart"


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_sample_is_resumable(run_dir, capsys):
    """A re-run reuses the cached per-temperature parts and reproduces the dataset exactly."""
    from llm.stages import sample

    before = (run_dir / "offline/train.jsonl").read_text()
    assert sample.main(["--preset", "tiny", "--run-dir", str(run_dir), "--no-progress", "--force", *PAPER]) == 0
    assert "reusing" in capsys.readouterr().out
    assert (run_dir / "offline/train.jsonl").read_text() == before


@pytest.mark.slow  # the whole tiny chain (module fixture): make test runs it, the -m "not slow" loop does not
def test_eval_prompts(run_dir):
    from llm.data.corpus import load_eval_prompts

    rows = load_eval_prompts(run_dir, "valid", n=3)
    assert 0 < len(rows) <= 3
    assert rows[0]["prompt"].endswith("\nTL;DR:") and rows[0]["reference"].startswith(" ")


# ------------------------------------------------------------------------------------------------ bad input


def _corpus(tmp_path, lines, capsys):
    from llm.data import corpus

    p = tmp_path / "in.jsonl"
    p.write_text("".join(lines))
    rc = corpus.main([*CORPUS_ARGS[:2], "--jsonl", str(p), "--run-dir", str(tmp_path / "run"), "--no-progress"])
    return rc, capsys.readouterr().err


def test_bad_input_one_line_errors(tmp_path, capsys):
    good = json.dumps({"document": "word " * 30, "summary": "three word summary"}) + "\n"
    rc, err = _corpus(tmp_path, [good, "{oops\n"], capsys)
    assert rc == 2 and "in.jsonl:2: malformed JSON" in err and "Traceback" not in err
    rc, err = _corpus(tmp_path, [good, json.dumps({"document": "x " * 30}) + "\n"], capsys)
    assert rc == 2 and "in.jsonl:2: missing column 'summary'" in err
    rc, err = _corpus(tmp_path, [], capsys)
    assert rc == 2 and "empty" in err
    rc, err = _corpus(tmp_path, [json.dumps({"document": "tiny", "summary": "a b c"}) + "\n"], capsys)
    assert rc == 2 and "no pair survived cleaning" in err
    assert not (tmp_path / "run" / "corpus").exists(), "a failed corpus stage must not leave a corpus behind"
    assert not (tmp_path / "run" / "config").exists(), "a failed stage must not record a config either"


def test_non_utf8_jsonl_names_file_line_and_fix(tmp_path, capsys):
    from llm.data import corpus

    p = tmp_path / "latin1.jsonl"
    p.write_bytes(b'{"document": "ok ' + b"word " * 30 + b'", "summary": "a b c"}\n{"document": "caf\xe9"}\n')
    rc = corpus.main([*CORPUS_ARGS[:2], "--jsonl", str(p), "--run-dir", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0]
    assert "latin1.jsonl:2: not UTF-8 (byte 0xe9" in err[0] and "re-encode" in err[0]
    assert not (tmp_path / "run" / "config").exists()


def test_nan_reward_rejected_with_line(tmp_path):
    from llm.data.offline import load_offline

    row = {
        "prompt": "d\nTL;DR:",
        "completions": [" a", " b"],
        "rewards": [0.1, 0.2],
        "behaviour_logps": [-1.0, -2.0],
        "ref_logps": [-1.0, -2.0],
        "source": ["sft_T1", "sft_T1"],
    }
    bad = dict(row, rewards=[float("nan"), 0.2])
    p = tmp_path / "off.jsonl"
    p.write_text(json.dumps(row) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=r"off\.jsonl:2: rewards\[0\] = nan"):
        load_offline(p)


def test_missing_stage_is_one_line(tmp_path, capsys):
    from llm.stages import sample

    rc = sample.main(["--preset", "tiny", "--run-dir", str(tmp_path / "nothing"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "run `python -m llm sft" in err and "Traceback" not in err


@pytest.mark.slow
def test_eval_stage_evaluates_pi_ref_by_default(run_dir, tmp_path):
    """`python -m llm eval --run-dir R` (no --model) evaluates the SFT policy π_ref: its KL to π_ref is exactly 0."""
    import json

    from llm.stages import eval_policy

    out = tmp_path / "sft_eval.json"
    args = ["--run-dir", str(run_dir), "--preset", "tiny", "--n-prompts", "2", "--no-progress", "--out", str(out)]
    assert eval_policy.main(args) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["policy/kl_exact"] == pytest.approx(0.0, abs=1e-6)


def test_stage_configs_are_frozen_and_completed_from_the_preset(tmp_path):
    """A stage config is filled from its preset once (in __post_init__) and cannot be changed by the stage after."""
    import dataclasses

    from llm.presets import get_preset
    from llm.stages.sample import SampleConfig

    cfg = SampleConfig(preset="tiny", run_dir=str(tmp_path), temperatures=[0.7, 1.0])
    assert cfg.max_new_tokens == get_preset("tiny").max_completion_tokens and cfg.temperatures == (0.7, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.max_new_tokens = 1
