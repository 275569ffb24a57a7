"""The rewarded offline dataset: one row per prompt with k ≥ 2 completions, their rewards and log-probs.

Format (JSONL, one object per line; the same columns convert to a ``datasets.Dataset`` with :func:`to_hf_dataset`):

=====================  =================  =========================================================================
column                 type               meaning
=====================  =================  =========================================================================
``prompt``             str                ``"{document}\\nTL;DR:"``
``completions``        list[str] (k)      completion texts (leading space, no EOS; EOS is appended when scored,
                                          unless ``truncated``)
``rewards``            list[float] (k)    R(x, y): the learned reward model's score (the paper's ground truth)
``behaviour_logps``    list[float] (k)    ln μ(y|x) of the completion (+ EOS) under the policy that produced it:
                                          softmax(logits / T) of the SFT model at that completion's temperature T;
                                          for ``source == "human"`` (μ unknown) the SFT log-prob at T = 1
``ref_logps``          list[float] (k)    ln π_ref(y|x) (SFT model, T = 1), precomputed once
``source``             list[str] (k)      behaviour policy of each completion: ``"sft_T0.7"``, ``"human"``, ...
=====================  =================  =========================================================================

Optional columns, validated when present and used by the trainer's collator:

* ``completion_ids`` (k entries, each a list of int token ids or null): the token ids that were *sampled* (EOS
  excluded). Where present, log-probs are computed from these ids, never from the re-tokenised text (decode →
  re-encode does not round-trip; the text is for display and for text scorers). Null, or no column, for
  completions that exist only as text (the human reference, user data): they are tokenised.
* ``truncated`` (k bools): True where no EOS was sampled within the budget; such a completion is scored without
  EOS (``llm.data.batching``). Missing = no completion truncated.

Extra columns written by ``llm.stages.sample`` (accepted and kept, never required): ``id``, ``reference`` (the human
summary as a completion), ``gold_rewards`` (ROUGE-L F1 vs the reference, k floats), ``temperatures`` (k floats;
1.0 for "human"), ``raw_rewards`` (k floats: the reward before standardisation; ``rewards`` = (raw − mean)/std) and
``reward_scale`` (``{kind, mean, std}`` of that standardisation). Log-probs are sums over completion tokens
(``sequence_logps(reduction="sum")``). TRL has no float-reward format; this extends its prompt-completion format with
lists (style guide §4).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from bandit.records import atomic_write_text
from llm.run import UserError, read_jsonl

__all__ = ["OFFLINE_FIELDS", "validate_row", "write_offline", "load_offline", "to_hf_dataset", "KNOWN_SOURCES_NOTE"]

OFFLINE_FIELDS = ("prompt", "completions", "rewards", "behaviour_logps", "ref_logps", "source")
"""Required columns of every row."""
KNOWN_SOURCES_NOTE = (
    'source "human" has no known μ: its behaviour_logps is the SFT log-prob; importance sampling should skip it'
)

_FLOAT_LISTS = ("rewards", "behaviour_logps", "ref_logps")


def validate_row(row: Any, where: str = "row", min_k: int = 2) -> dict:
    """Check one row (types, k ≥ ``min_k``, equal list lengths, finite floats); ValueError naming ``where`` otherwise.

    The one schema check of the offline format: the writer, the loader and the trainer's dataset all call it.
    """
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [f for f in OFFLINE_FIELDS if f not in row]
    if missing:
        raise UserError(f"{where}: missing column(s) {missing}; an offline row needs {list(OFFLINE_FIELDS)}")
    if not isinstance(row["prompt"], str):
        raise UserError(f"{where}: prompt must be a string (it may be empty: an unconditional completion)")
    comps = row["completions"]
    if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
        raise UserError(f"{where}: completions must be a list of strings")
    k = len(comps)
    if k < min_k:
        raise UserError(f"{where}: {k} completion(s); CoPG needs k ≥ {min_k} completions of the same prompt")
    for f in (*_FLOAT_LISTS, "source"):
        if not isinstance(row[f], list) or len(row[f]) != k:
            n = len(row[f]) if isinstance(row[f], list) else type(row[f]).__name__
            raise UserError(f"{where}: {f} has {n} entries but there are {k} completions; pass one per completion")
    for f in _FLOAT_LISTS:
        for j, v in enumerate(row[f]):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise UserError(f"{where}: {f}[{j}] = {v!r} is not a finite number; losses reject NaN/inf")
    if not all(isinstance(s, str) for s in row["source"]):
        raise UserError(f"{where}: source must be a list of strings")
    if "gold_rewards" in row:
        g = row["gold_rewards"]
        if (
            not isinstance(g, list)
            or len(g) != k
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in g)
        ):
            raise UserError(f"{where}: gold_rewards must be {k} finite numbers")
    if "raw_rewards" in row:
        g = row["raw_rewards"]
        if (
            not isinstance(g, list)
            or len(g) != k
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in g)
        ):
            raise UserError(f"{where}: raw_rewards must be {k} finite numbers (the rewards before standardisation)")
    if "completion_ids" in row:
        ids = row["completion_ids"]
        if not isinstance(ids, list) or len(ids) != k:
            raise UserError(f"{where}: completion_ids must have {k} entries (one per completion, null for text)")
        for j, c in enumerate(ids):
            if c is not None and (
                not isinstance(c, list)
                or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in c)
            ):
                raise UserError(
                    f"{where}: completion_ids[{j}] must be a list of non-negative int token ids or null, got {c!r:.60}"
                )
    if "truncated" in row:
        tr = row["truncated"]
        if not isinstance(tr, list) or len(tr) != k or not all(isinstance(v, bool) for v in tr):
            raise UserError(f"{where}: truncated must be {k} booleans (true = no EOS sampled within the budget)")
    return row


def write_offline(rows: list[dict], path: str | os.PathLike) -> Path:
    """Validate every row and write them as JSONL atomically (temp file + os.replace); returns the path."""
    path = Path(path)
    for i, r in enumerate(rows):
        validate_row(r, f"write_offline: rows[{i}]")
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def load_offline(path: str | os.PathLike) -> list[dict]:
    """Rows of an offline dataset (JSONL file, or a run/offline directory holding train.jsonl), all validated.

    Errors name the file and line: malformed JSON, a missing column, k < 2, mismatched lengths, NaN/inf values.
    """
    path = Path(path)
    if path.is_dir():
        cand = [path / "train.jsonl", path / "offline" / "train.jsonl"]
        path = next((c for c in cand if c.exists()), cand[0])
    if not path.is_file():
        raise UserError(f"load_offline: {path} does not exist; run `python -m llm sample` first")
    rows = [validate_row(obj, where) for where, obj in read_jsonl(path)]
    if not rows:
        raise UserError(f"load_offline: {path} has no rows")
    return rows


def to_hf_dataset(rows: list[dict]) -> Any:
    """The rows as a ``datasets.Dataset`` (Arrow) with the same columns; ``.save_to_disk`` stores it."""
    import datasets

    for i, r in enumerate(rows):
        validate_row(r, f"to_hf_dataset: rows[{i}]")
    return datasets.Dataset.from_list(rows)
