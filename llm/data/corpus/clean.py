"""Cleaning, de-duplication, the hash split into train / valid / test, statistics and content hashes."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llm.data.corpus.formats import source_kind

# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: cleaning, de-duplication, split
# ----------------------------------------------------------------------------------------------------------------


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def code_fraction(text: str) -> float:
    """Fraction of characters typical of code (brackets, operators, underscores, backticks)."""
    if not text:
        return 1.0
    return sum(c in "{}[]()<>=_`*|#$\\;@" for c in text) / len(text)


def clean_pairs(
    pairs: Iterable[dict],
    min_doc_words: int = 20,
    max_doc_chars: int = 1500,
    min_summary_words: int = 3,
    max_summary_words: int = 30,
    max_code_fraction: float = 0.05,
) -> list[dict]:
    """Drop tiny or code-heavy bodies and bad summaries, trim long documents at a sentence end, de-duplicate.

    A pair is kept when its document has ≥ ``min_doc_words`` words and a code-character fraction ≤
    ``max_code_fraction``, and its summary has ``min_summary_words``..``max_summary_words`` words, is not code-heavy
    and is not contained verbatim in the document. The first occurrence of a normalised document or summary wins.
    Each kept pair gets ``id`` = the first 16 hex digits of sha1(normalised document).
    """
    seen_docs: set[str] = set()
    seen_summaries: set[str] = set()
    out = []
    for p in pairs:
        doc = " ".join(p["document"].replace("\r", "").split(" ")).strip()
        doc = "\n".join(" ".join(line.split()) for line in doc.splitlines() if line.strip())
        summary = " ".join(p["summary"].split())
        if len(doc) > max_doc_chars:  # cut at the last sentence end before the limit, else at a word
            cut = doc[:max_doc_chars]
            end = max(cut.rfind(". "), cut.rfind(".\n"))
            doc = cut[: end + 1] if end > max_doc_chars // 3 else cut.rsplit(" ", 1)[0]
        n_doc, n_sum = len(doc.split()), len(summary.split())
        if n_doc < min_doc_words or not (min_summary_words <= n_sum <= max_summary_words):
            continue
        if code_fraction(doc) > max_code_fraction or code_fraction(summary) > max_code_fraction:
            continue
        if "TL;DR" in doc or "TL;DR" in summary or _norm(summary) in _norm(doc):
            continue
        nd, ns = _norm(doc), _norm(summary)
        if nd in seen_docs or ns in seen_summaries:
            continue
        seen_docs.add(nd)
        seen_summaries.add(ns)
        pid = hashlib.sha1(nd.encode("utf-8")).hexdigest()[:16]
        out.append({"id": pid, "document": doc, "summary": summary, "source": p.get("source", "")})
    return out


def split_of(pair_id: str, valid_frac: float = 0.05, test_frac: float = 0.05) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` from a hash of the id: deterministic and independent of corpus order."""
    u = int(hashlib.sha1(("split:" + pair_id).encode()).hexdigest()[:8], 16) / 16**8  # uniform in [0, 1)
    if u < valid_frac:
        return "valid"
    if u < valid_frac + test_frac:
        return "test"
    return "train"


def _length_stats(values: list[int]) -> dict:
    if not values:
        return {"mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0}
    v = sorted(values)
    return {
        "mean": round(sum(v) / len(v), 1),
        "median": v[len(v) // 2],
        "p95": v[min(len(v) - 1, math.ceil(0.95 * len(v)) - 1)],
        "max": v[-1],
    }


def corpus_stats(splits: dict[str, list[dict]]) -> dict:
    """Sizes per split and source kind, and length statistics (words, characters) of documents and summaries."""
    stats: dict[str, Any] = {"sizes": {s: len(rows) for s, rows in splits.items()}}
    all_rows = [r for rows in splits.values() for r in rows]
    kinds: dict[str, int] = {}
    for r in all_rows:
        k = source_kind(r["source"])
        kinds[k] = kinds.get(k, 0) + 1
    stats["by_source"] = kinds
    stats["document_words"] = _length_stats([len(r["document"].split()) for r in all_rows])
    stats["document_chars"] = _length_stats([len(r["document"]) for r in all_rows])
    stats["summary_words"] = _length_stats([len(r["summary"].split()) for r in all_rows])
    stats["summary_chars"] = _length_stats([len(r["summary"]) for r in all_rows])
    return stats


def content_hash(paths: Iterable[str | os.PathLike]) -> str:
    """SHA-256 over the names and bytes of files (a directory: every file below it, in sorted order), 16 hex digits."""
    h = hashlib.sha256()
    for top in paths:
        top = Path(top)
        members = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for f in members:
            h.update(str(f.relative_to(top) if top.is_dir() else f.name).encode() + b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
