"""Is the reward won by copying? The human summary against copy strategies on held-out prompts (issue 23).

The ranking runs on the held-out (valid) prompts of the ``tiny`` preset's corpus built from this machine's man pages
and docstrings, the corpus the pipeline uses. The default reward of the pipeline (the content reward) fails it today:
that test is a strict xfail, so it turns into a failure the day the default passes and the marker must go.
"""

from __future__ import annotations

import dataclasses

import pytest

from llm.model.reward_audit import CANDIDATES, candidates_of, format_table, ranking_table, ranks_human_first


@pytest.fixture(scope="module")
def eval_rows(tmp_path_factory):
    from llm.data import corpus
    from llm.data.corpus import load_eval_prompts

    rd = tmp_path_factory.mktemp("ranking_run")
    assert corpus.main(["--preset", "tiny", "--run-dir", str(rd), "--no-progress"]) == 0
    rows = load_eval_prompts(rd, split="valid")  # every held-out prompt of the tiny corpus
    assert len(rows) >= 10, f"the tiny corpus has only {len(rows)} valid prompts"
    return rows


def _rouge(prompts, completions, references, **_):
    from llm.model.rewards import rouge_l

    return rouge_l(references, completions)


def test_candidates_are_the_copy_strategies():
    row = {"prompt": "alpha beta gamma\nTL;DR:", "document": "alpha beta gamma", "reference": " the summary"}
    c = candidates_of(row, lambda prompt: ["gamma", "beta"])
    assert list(c) == list(CANDIDATES)
    assert c["human summary"] == " the summary"
    assert c["first 12 words"] == " alpha beta gamma" == c["whole document"]
    assert c["key words"] == " gamma beta" and c["one key word"] == " gamma"
    assert c["key word × 12"] == " " + " ".join(["gamma"] * 12)
    assert c["summary × 3"] == " the summary the summary the summary"


def test_ranking_table_by_hand():
    """A reward = words in the completion: the whole document (5 and 3 words) beats the summary (2 words)."""
    rows = [
        {"prompt": "a b c d e\nTL;DR:", "document": "a b c d e", "reference": " s t"},
        {"prompt": "f g h\nTL;DR:", "document": "f g h", "reference": " u v"},
    ]
    table = ranking_table(lambda p, c, **kw: [float(len(x.split())) for x in c], rows, lambda prompt: ["k"])
    by = {r["candidate"]: r for r in table}
    assert by["human summary"]["mean"] == 2.0 and by["human summary"]["diff"] == 0.0
    assert by["whole document"]["mean"] == 4.0 and by["whole document"]["diff"] == -2.0
    assert by["whole document"]["human_wins"] == 0.0 and by["one key word"]["human_wins"] == 1.0
    assert by["summary × 3"]["mean"] == 6.0
    assert not ranks_human_first(table)
    assert "| whole document | 4.000 |" in format_table("t", table)


def test_rouge_l_f1_ranks_the_human_summary_above_every_copy(eval_rows):
    table = ranking_table(_rouge, eval_rows)
    assert ranks_human_first(table), format_table("ROUGE-L F1", table)
    assert all(r["diff_lo"] > 0 for r in table if r["candidate"] != "human summary")


@pytest.mark.xfail(
    strict=True,
    reason="issue 23: the content reward (the default) scores the key words, the document's first 12 words and the "
    "whole document above the human summary (table in docs/llm-lab.md); the default is still to be replaced",
)
def test_default_reward_ranks_the_human_summary_above_every_copy(eval_rows):
    from llm.model.rewards import load_reward
    from llm.pipeline import PipelineConfig

    default = next(f.default for f in dataclasses.fields(PipelineConfig) if f.name == "reward")
    reward = load_reward("unused-run-dir", default) if default == "content" else None
    assert reward is not None, f"default reward {default!r}: extend this test to build it"
    table = ranking_table(reward, eval_rows)
    assert ranks_human_first(table), format_table(f"default reward ({default})", table)
