"""Is the reward won by copying? The human summary against copies of the document on held-out prompts (issue 23).

The ranking runs on the held-out (valid) prompts of the ``tiny`` preset's corpus built from this machine's man pages
and docstrings, the corpus the pipeline uses. The default reward of the pipeline (the content reward) fails it today:
that test is a strict xfail, so it turns into a failure the day the default passes and the marker must go.
"""

from __future__ import annotations

import dataclasses

import pytest

from llm.model.reward_checks import CANDIDATES, copy_candidates, ranking_table
from llm.model.rewards import ContentReward, rouge_l


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
    return rouge_l(references, completions)


def _human_first(table: dict) -> list[str]:
    """The candidates whose mean reward is at or above the human summary's (empty: the human summary ranks first)."""
    human = table["human_summary"]["mean"]
    return [c for c, v in table.items() if c != "human_summary" and v["mean"] >= human]


def test_candidates_are_the_copy_strategies():
    row = {"prompt": "alpha beta gamma gamma beta gamma\nTL;DR:", "document": "alpha beta gamma", "reference": " s t"}
    c = copy_candidates(row, ContentReward(keywords=2))
    assert list(c) == list(CANDIDATES)
    assert c["human_summary"] == " s t"
    assert c["first_12_words"] == " alpha beta gamma" == c["whole_document"]
    assert c["key_words"] == " gamma beta" and c["one_key_word"] == " gamma"
    assert c["repetition"] == " gamma beta gamma beta gamma beta"


def test_ranking_table_by_hand():
    """A reward = words in the completion: the whole document (5 and 3 words) beats the summary (2 words)."""
    rows = [
        {"prompt": "aa1 bb1 cc1 dd1 ee1\nTL;DR:", "document": "aa1 bb1 cc1 dd1 ee1", "reference": " s t"},
        {"prompt": "ff1 gg1 hh1\nTL;DR:", "document": "ff1 gg1 hh1", "reference": " u v"},
    ]
    table = ranking_table(rows, {"words": lambda p, c, **kw: [float(len(x.split())) for x in c]})["words"]
    assert table["human_summary"]["mean"] == 2.0
    assert table["whole_document"]["mean"] == 4.0 and table["whole_document"]["human_wins"] == 0.0
    assert table["one_key_word"]["mean"] == 1.0 and table["one_key_word"]["human_wins"] == 1.0
    assert "whole_document" in _human_first(table) and "one_key_word" not in _human_first(table)


def test_rouge_l_f1_ranks_the_human_summary_above_every_copy(eval_rows):
    table = ranking_table(eval_rows, {"rouge": _rouge})["rouge"]
    assert _human_first(table) == [], table
    assert all(v["human_wins"] > 0.5 for c, v in table.items() if c != "human_summary"), table


@pytest.mark.xfail(
    strict=True,
    reason="issue 23: the content reward (the default) scores the key words, the document's first 12 words and the "
    "whole document above the human summary (table in docs/llm-lab.md); the default is still to be replaced",
)
def test_default_reward_ranks_the_human_summary_above_every_copy(eval_rows):
    from llm.model.rewards import load_reward
    from llm.pipeline import PipelineConfig

    default = next(f.default for f in dataclasses.fields(PipelineConfig) if f.name == "reward")
    assert default == "content", f"default reward {default!r}: build it here (it may need a trained run)"
    table = ranking_table(eval_rows, {default: load_reward("unused-run-dir", default)})[default]
    assert _human_first(table) == [], table
