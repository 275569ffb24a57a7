"""The corpus's formats: the prompt ``"{document}\nTL;DR:"``, the completion ``" " + summary``, the split names and
the ``source`` naming of a pair (``kind:where``)."""

from __future__ import annotations

PROMPT_SUFFIX = "\nTL;DR:"
"""What follows the document in every prompt; the summary comes after it."""
PROMPT_TEMPLATE = "{document}" + PROMPT_SUFFIX
"""The prompt template of the Reddit TL;DR setup (Stiennon et al., 2020) used by the paper (Sec. 6)."""
SPLITS = ("train", "valid", "test")


def make_prompt(document: str) -> str:
    """The prompt of a document: ``"{document}\\nTL;DR:"``."""
    return PROMPT_TEMPLATE.format(document=document.strip())


def make_completion(summary: str) -> str:
    """Completion text of a reference summary: a leading space (``"TL;DR: summary"``), no EOS (collate adds it)."""
    return " " + " ".join(summary.split())


def source_kind(source: str) -> str:
    """The kind of a pair's ``source``: the prefix before ``':'`` (``"man"``, ``"py"``, ``"jsonl"``, ``"hub"``)."""
    return source.split(":", 1)[0]
