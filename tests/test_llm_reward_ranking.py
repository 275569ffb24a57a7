"""Is the reward won by copying? The human summary against copies of the document on held-out prompts (issue 23).

The ranking runs on the held-out (valid) prompts of the ``tiny`` preset's corpus built from this machine's man pages
and docstrings, the corpus the pipeline uses. The default reward of the pipeline (the overlap reward) passes it; the
content reward (the previous default, ``--reward content``) fails it, and a test says so.
"""

from __future__ import annotations

import dataclasses

import pytest

from llm.model.reward_checks import CANDIDATES, copy_candidates, ranking_table
from llm.model.rewards import DEFAULT_REWARD, ContentReward, OverlapReward, rouge_l


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


def test_default_reward_ranks_the_human_summary_above_every_copy(eval_rows):
    """The pipeline's default reward (the overlap reward) ranks the human summary above every copy strategy, on
    more than 90 % of the held-out prompts for each."""
    from llm.pipeline import PipelineConfig

    default = next(f.default for f in dataclasses.fields(PipelineConfig) if f.name == "reward")
    assert default == DEFAULT_REWARD == "overlap"
    table = ranking_table(eval_rows, {default: OverlapReward()})[default]
    assert _human_first(table) == [], table
    assert all(v["human_wins"] > 0.9 for c, v in table.items() if c != "human_summary"), table


def test_content_reward_is_won_by_copying(eval_rows):
    """What the old default did (kept as --reward content): the key words alone and their repetition score at least
    the human summary (the table in docs/llm-lab.md). If this fails, the docs' claim about it is wrong."""
    table = ranking_table(eval_rows, {"content": ContentReward()})["content"]
    assert {"key_words", "repetition"} <= set(_human_first(table)), table


def test_overlap_reward_by_hand():
    ref = " abcd efg"  # trigrams abc, bcd, efg
    assert OverlapReward.score(ref, ref) == 1.0
    assert OverlapReward.score(ref, " xyz") == 0.0 and OverlapReward.score(ref, "") == 0.0
    assert OverlapReward.score(ref, " abcd") == 2 * 2 / (2 + 3)  # m = 2 of 2 and 3 trigrams
    assert OverlapReward.score(ref, ref + ref) == 2 * 3 / (6 + 3)  # a repetition counts its trigrams again
    r = OverlapReward({"p": ref})
    assert r(["p"], [" abcd"]) == r(["q"], [" abcd"], references=[ref])
    with pytest.raises(ValueError, match="no reference"):
        r(["q"], [" abcd"])
