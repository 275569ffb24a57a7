"""Reading a built corpus: its splits, deterministic prompt orders and held-out evaluation prompts."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

from llm.data.corpus.formats import SPLITS, make_completion, make_prompt, source_kind
from llm.data.corpus.jsonl import load_jsonl_pairs
from llm.run import RunPaths, UserError, read_jsonl


def _corpus_dir(run_dir: str | os.PathLike) -> Path:
    p = Path(run_dir)
    return p if (p / "train.jsonl").exists() and not (p / "corpus").exists() else RunPaths(p).corpus


def load_split(run_dir: str | os.PathLike, split: str) -> list[dict]:
    """Rows ``{"id", "document", "summary", "source"}`` of one split of a built corpus (run dir or corpus dir)."""
    if split not in SPLITS:
        raise ValueError(f"load_split: split must be one of {SPLITS}, got {split!r}")
    path = _corpus_dir(run_dir) / f"{split}.jsonl"
    if not path.exists():
        raise UserError(f"load_split: {path} does not exist; run `python -m llm corpus --run-dir {run_dir}` first")
    if not path.stat().st_size:
        return []
    rows = load_jsonl_pairs(path)  # validates every line (file:line errors)
    for r, (_, e) in zip(rows, read_jsonl(path)):
        r["id"], r["source"] = e.get("id", ""), e.get("source", "")
    return rows


def prompt_order(rows: list[dict], salt: str) -> list[dict]:
    """Rows in a deterministic pseudo-random order (hash of id and salt): stages pick disjoint prompt subsets."""
    return sorted(rows, key=lambda r: hashlib.sha1((salt + r["id"]).encode()).hexdigest())


def stratified_sample(rows: list[dict], n: int | None, seed: int = 0) -> list[dict]:
    """A seeded random subset of ``n`` rows, stratified by :func:`source_kind` (deterministic given rows, n, seed).

    Each kind gets ``n`` · (its share of ``rows``) rows, the remainders going to the largest fractional parts
    (Hamilton's method), so the subset has the kind mix of the split; rows within a kind are drawn uniformly without
    replacement with ``random.Random(seed)``. The subset is returned in a seeded random order (kinds interleaved),
    so any prefix of it is itself roughly stratified. ``n`` None or ≥ len(rows): every row, in that order.
    """
    rng = random.Random(seed)
    n = len(rows) if n is None else min(n, len(rows))
    by_kind: dict[str, list[dict]] = {}
    for r in rows:
        by_kind.setdefault(source_kind(r.get("source", "")), []).append(r)
    kinds = sorted(by_kind)
    quota = {k: n * len(by_kind[k]) / max(len(rows), 1) for k in kinds}  # exact shares, fractional
    take = {k: int(quota[k]) for k in kinds}
    for k in sorted(kinds, key=lambda k: (-(quota[k] - take[k]), k))[: n - sum(take.values())]:
        take[k] += 1  # largest remainders
    chosen = [r for k in kinds for r in rng.sample(by_kind[k], take[k])]
    rng.shuffle(chosen)
    return chosen


def load_eval_prompts(
    run_dir: str | os.PathLike, split: str = "valid", n: int | None = None, seed: int = 0
) -> list[dict]:
    """Held-out prompts with references: rows ``{"id", "prompt", "reference", "document", "source"}``.

    With ``n``, a seeded random subset of ``n`` rows stratified by source kind (man page / docstring; see
    :func:`stratified_sample`), deterministic given (run, n, seed). Not the first ``n`` rows: the split file lists
    man pages first, so a prefix would evaluate on man pages only while the split is mostly docstrings.
    ``prompt = make_prompt(document)`` and ``reference = make_completion(summary)`` (leading space, no EOS).
    """
    rows = stratified_sample(load_split(run_dir, split), n if n else None, seed)
    return [
        {
            "id": r["id"],
            "prompt": make_prompt(r["document"]),
            "reference": make_completion(r["summary"]),
            "document": r["document"],
            "source": r["source"],
        }
        for r in rows
    ]
