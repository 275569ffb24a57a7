"""Is a reward won by copying? The human summary against copies of the document, scored by a reward.

For every evaluation prompt (a document x with its human summary), :func:`copy_candidates` builds the completions a
reward must rank *below* the human summary if optimising it is to teach summarising:

* ``first_12_words`` — the document's first 12 words;
* ``whole_document`` — the whole document;
* ``key_words`` — the content reward's key words alone (its ``K(x)``, space-separated);
* ``one_key_word`` — the most frequent key word alone;
* ``repetition`` — the key words repeated three times.

:func:`ranking_table` scores them with each reward and reports, per candidate, the mean reward over the prompts and
the fraction of prompts on which the human summary scores strictly higher. Command line (prints a Markdown table)::

    python -m llm.model.reward_checks --run-dir runs/small --n 160    # the evaluation prompts of a built corpus

The tables of the overlap reward, the content reward and ROUGE-L F1 are in docs/llm-lab.md ("Is the reward won
by copying?").
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llm.data.corpus import load_eval_prompts
from llm.model.rewards import ContentReward, OverlapReward, RewardFn, rouge_l

__all__ = ["CANDIDATES", "copy_candidates", "ranking_table", "main"]

CANDIDATES = ("human_summary", "first_12_words", "whole_document", "key_words", "one_key_word", "repetition")


def copy_candidates(row: dict[str, Any], content: ContentReward | None = None) -> dict[str, str]:
    """The completions of :data:`CANDIDATES` for one evaluation row (``prompt``, ``reference``, ``document``);
    each with a leading space, like a sampled completion after ``TL;DR:``."""
    keys = (content or ContentReward()).keywords_of(row["prompt"])
    words = row["document"].split()
    return {
        "human_summary": row["reference"],
        "first_12_words": " " + " ".join(words[:12]),
        "whole_document": " " + " ".join(words),
        "key_words": " " + " ".join(keys),
        "one_key_word": " " + (keys[0] if keys else ""),
        "repetition": " " + " ".join(keys * 3),
    }


def ranking_table(rows: list[dict[str, Any]], rewards: dict[str, RewardFn]) -> dict[str, dict[str, dict]]:
    """``{reward: {candidate: {"mean", "human_wins"}}}`` over ``rows``: the candidate's mean reward and the fraction
    of rows where the human summary scores strictly higher (1.0 for the human summary's own row means nothing)."""
    if not rows:
        raise ValueError("ranking_table: no evaluation rows")
    content = ContentReward()
    cands = [copy_candidates(r, content) for r in rows]
    prompts = [r["prompt"] for r in rows]
    refs = [r["reference"] for r in rows]
    table: dict[str, dict[str, dict]] = {}
    for name, fn in rewards.items():
        scores = {c: fn(prompts, [x[c] for x in cands], references=refs) for c in CANDIDATES}
        human = scores["human_summary"]
        table[name] = {
            c: {
                "mean": sum(s) / len(s),
                "human_wins": sum(h > v for h, v in zip(human, s)) / len(s),
            }
            for c, s in scores.items()
        }
    return table


def _rouge_l_f1(prompts: list[str], completions: list[str], references: list[str], **_: Any) -> list[float]:
    return rouge_l(references, completions)


def main(argv: list[str] | None = None) -> int:
    """``python -m llm.model.reward_checks``: the table for the overlap and content rewards and ROUGE-L F1."""
    ap = argparse.ArgumentParser(prog="python -m llm.model.reward_checks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", required=True, help="run directory with a built corpus (python -m llm corpus)")
    ap.add_argument("--split", default="valid", help="corpus split of the evaluation prompts (default valid)")
    ap.add_argument("--n", type=int, default=None, help="evaluation prompts (the pipeline's stratified subset)")
    args = ap.parse_args(argv)
    try:
        rows = load_eval_prompts(args.run_dir, split=args.split, n=args.n)
        table = ranking_table(
            rows, {"overlap (default)": OverlapReward(), "content": ContentReward(), "ROUGE-L F1": _rouge_l_f1}
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(rows)} {args.split} prompts of {args.run_dir}: mean reward (human summary wins on % of prompts)")
    print("| candidate | " + " | ".join(table) + " |")
    print("|---" * (len(table) + 1) + "|")
    for c in CANDIDATES:
        cells = [f"{t[c]['mean']:+.3f} ({100 * t[c]['human_wins']:.0f} %)" for t in table.values()]
        print(f"| {c} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
