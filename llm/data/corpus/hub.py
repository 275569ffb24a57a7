"""Corpus source ``hub``: a ``datasets`` Hub dataset (needs network access and HF_HUB_OFFLINE unset)."""

from __future__ import annotations

from typing import Any

from llm.run import UserError


def _get_field(row: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        row = row[part]
    return row


def hub_pairs(hub_id: str, split: str, document_field: str, summary_field: str) -> list[dict]:
    """Pairs from a ``datasets`` Hub id (needs network access and HF_HUB_OFFLINE unset); fields may be dotted paths."""
    import datasets

    try:
        ds = datasets.load_dataset(hub_id, split=split)
    except Exception as e:  # offline, unknown id, gated...: one clear message
        raise UserError(
            f"hub_pairs: could not load {hub_id!r} split {split!r} ({type(e).__name__}: {str(e)[:200]}); "
            "the Hub needs network access and HF_HUB_OFFLINE unset, or export the data to JSONL and use --jsonl"
        ) from e
    out = []
    for i, row in enumerate(ds):
        try:
            doc, summ = _get_field(row, document_field), _get_field(row, summary_field)
        except (KeyError, TypeError) as e:
            raise UserError(f"{hub_id}[{i}]: missing column {e}; pass --document-field/--summary-field") from e
        out.append({"document": str(doc), "summary": str(summ), "source": f"hub:{hub_id}:{i}"})
    return out


def collect(config: Any, manifest: dict[str, Any], notes: list[str]) -> list[dict]:
    """The pairs of the Hub dataset ``config.hub_id`` (split ``config.hub_split``)."""
    return hub_pairs(config.hub_id, config.hub_split, config.document_field, config.summary_field)
