"""Corpus source ``jsonl``: a user file of ``{"document": ..., "summary": ...}`` lines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llm.run import UserError, read_jsonl


def load_jsonl_pairs(
    path: str | os.PathLike, document_field: str = "document", summary_field: str = "summary"
) -> list[dict]:
    """Pairs from a JSONL file with one ``{"document": ..., "summary": ...}`` object per line (blank lines skipped).

    Raises ValueError naming the file and line of a malformed line, a missing column or a non-string value.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise UserError(f"load_jsonl_pairs: {path} {what}; pass a JSONL file with document/summary lines")
    out = []
    for where, obj in read_jsonl(path):
        for field in (document_field, summary_field):
            if field not in obj:
                raise UserError(
                    f"{where}: missing column {field!r} (has {sorted(obj)}); "
                    f"rename it or pass --document-field/--summary-field"
                )
            if not isinstance(obj[field], str):
                raise UserError(f"{where}: column {field!r} must be a string, got {type(obj[field]).__name__}")
        line = where.rsplit(":", 1)[1]
        out.append({"document": obj[document_field], "summary": obj[summary_field], "source": f"jsonl:{line}"})
    if not out:
        raise UserError(f"{path}: no pairs (the file is empty); expected one JSON object per line")
    return out


def collect(config: Any, manifest: dict[str, Any], notes: list[str]) -> list[dict]:
    """The pairs of ``config.jsonl`` (columns ``config.document_field`` and ``config.summary_field``)."""
    return load_jsonl_pairs(config.jsonl, config.document_field, config.summary_field)
