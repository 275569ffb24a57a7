"""Stage ``corpus``: (document, reference summary) pairs from real text on this machine, or from a user JSONL file.

Sources (offline, no download):

* man pages (``/usr/share/man/man[1-8]``): the DESCRIPTION section → the one-liner of the NAME section
  (``ls \\- list directory contents`` gives the summary "list directory contents");
* Python docstrings of the standard library and site-packages, read with ``ast`` (nothing is imported):
  the body paragraphs → the summary line.

Bodies that are code-heavy or tiny are dropped, pairs are de-duplicated on their normalised document and summary,
and a hash of the normalised document assigns each pair to train / valid / test (deterministic, stable when the
corpus grows). The prompt is ``PROMPT_TEMPLATE = "{document}\\nTL;DR:"`` and the completion is ``" " + summary``.

Examples:
    python -m llm corpus --preset small                          # man pages + docstrings → runs/small/corpus
    python -m llm corpus --run-dir runs/tldr --jsonl tldr.jsonl  # bring your own {"document", "summary"} lines
    python -m llm corpus --hub-id openai/summarize_from_feedback --document-field info.post  # needs the Hub
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from bandit.records import atomic_write_json, atomic_write_text
from llm.data.corpus.clean import clean_pairs, content_hash, corpus_stats, split_of
from llm.data.corpus.docstrings import DOCSTRING_PACKAGES
from llm.data.corpus.docstrings import collect as collect_docstrings
from llm.data.corpus.formats import SPLITS
from llm.data.corpus.hub import collect as collect_hub
from llm.data.corpus.jsonl import collect as collect_jsonl
from llm.data.corpus.man import MAN_PACKAGES
from llm.data.corpus.man import collect as collect_man
from llm.run import RunPaths, Stage, StageConfig, UserError, cli_errors


@dataclasses.dataclass(frozen=True)
class CorpusConfig(StageConfig):
    """Build the (document, summary) corpus of a run."""

    sources: tuple[str, ...] = ("man", "docstrings")
    """Built-in sources: man (man pages) and/or docstrings (stdlib + declared packages); not with --jsonl/--hub-id."""
    man_packages: tuple[str, ...] = MAN_PACKAGES
    """Debian packages whose man pages are read; empty = every page under --man-dir (then the corpus depends on
    what the machine happens to have installed)."""
    docstring_packages: tuple[str, ...] = DOCSTRING_PACKAGES
    """Installed distributions whose docstrings join the standard library's; empty = all of site-packages (then the
    corpus depends on the environment)."""
    jsonl: str = ""
    """A JSONL file of {"document": ..., "summary": ...} lines (Reddit TL;DR, CNN/DailyMail, ...) used instead."""
    hub_id: str = ""
    """A `datasets` Hub id used instead (needs network access and HF_HUB_OFFLINE unset)."""
    hub_split: str = "train"
    """Split of the Hub dataset to read."""
    document_field: str = "document"
    """Column (dotted path for nested fields) holding the document, for --jsonl/--hub-id."""
    summary_field: str = "summary"
    """Column holding the reference summary, for --jsonl/--hub-id."""
    man_dir: str = "/usr/share/man"
    """Man page root (man1..man8 below it); skipped with a note when absent."""
    python_roots: tuple[str, ...] = ()
    """Directories to scan for .py docstrings instead of the stdlib and the declared packages."""
    max_files: int | None = None
    """Cap on .py files scanned, stdlib first (0 = all); default: the preset's."""
    max_man_pages: int | None = None
    """Cap on man pages read (0 = all); default: the preset's."""
    workers: int = 2
    """Processes parsing .py files (the docstring scan is the slow part: ≈ 60 s in one process)."""
    max_pairs: int | None = None
    """Cap on train pairs (deterministic hash subset; valid/test: max_pairs/10); 0 = all; default: preset."""
    min_doc_words: int = 20
    """Drop documents shorter than this many words."""
    max_doc_chars: int = 1500
    """Trim documents to this many characters (at a sentence end); the collator truncates further in tokens."""
    min_summary_words: int = 3
    """Drop summaries shorter than this many words."""
    max_summary_words: int = 30
    """Drop summaries longer than this many words (they would not fit max_completion_tokens)."""
    max_code_fraction: float = 0.05
    """Drop pairs whose document or summary has more than this fraction of code characters ({}[]()<>=_`*|#$;@)."""
    valid_frac: float = 0.05
    """Fraction of pairs hashed to the valid split."""
    test_frac: float = 0.05
    """Fraction of pairs hashed to the test split."""

    PRESET_ALIASES: ClassVar[dict[str, str]] = {
        "max_files": "corpus_max_files",
        "max_man_pages": "corpus_max_man_pages",
    }

    def __post_init__(self) -> None:

        super().__post_init__()  # every None field from the preset
        unknown = set(self.sources) - {"man", "docstrings"}
        if unknown:
            raise UserError(f"CorpusConfig: unknown sources {sorted(unknown)}; use man and/or docstrings")
        if not (0 <= self.valid_frac < 1 and 0 <= self.test_frac < 1 and self.valid_frac + self.test_frac < 1):
            raise UserError("CorpusConfig: valid_frac and test_frac must be in [0, 1) with a sum < 1")
        if self.min_summary_words > self.max_summary_words:
            raise UserError(
                f"CorpusConfig: --min-summary-words {self.min_summary_words} exceeds --max-summary-words "
                f"{self.max_summary_words}; no summary could pass"
            )
        if self.jsonl and self.hub_id:
            raise UserError(
                "CorpusConfig: --jsonl and --hub-id conflict (each replaces the built-in sources); pass one"
            )
        if self.jsonl and not Path(self.jsonl).is_file():
            what = "is a directory" if Path(self.jsonl).is_dir() else "does not exist"
            raise UserError(f"CorpusConfig: --jsonl {self.jsonl} {what}; pass a JSONL file of document/summary lines")
        if not self.jsonl and not self.hub_id and "man" in self.sources and Path(self.man_dir).is_file():
            raise UserError(f"CorpusConfig: --man-dir {self.man_dir} is a file; pass the man page root directory")


def _subset(rows: list[dict], n: int) -> list[dict]:
    if not n or len(rows) <= n:
        return rows
    keep = sorted(rows, key=lambda r: hashlib.sha1(("subset:" + r["id"]).encode()).hexdigest())[:n]
    ids = {r["id"] for r in keep}
    return [r for r in rows if r["id"] in ids]


SOURCES: dict[str, Callable[[CorpusConfig, dict[str, Any], list[str]], list[dict]]] = {
    "man": collect_man,
    "docstrings": collect_docstrings,
    "jsonl": collect_jsonl,
    "hub": collect_hub,
}
"""The corpus sources by name: ``collect(config, manifest, notes) -> pairs`` ``{"document", "summary", "source"}``.
Add a source: a module with a ``collect`` function, a row here, and the options it reads in :class:`CorpusConfig`."""


def _source_names(config: CorpusConfig) -> list[str]:
    # a user file or Hub dataset replaces the built-in sources; those are read in the order of SOURCES
    if config.jsonl:
        return ["jsonl"]
    if config.hub_id:
        return ["hub"]
    return [name for name in ("man", "docstrings") if name in config.sources]


def build_corpus(config: CorpusConfig) -> dict:
    """Collect, clean, de-duplicate and split the pairs; write ``corpus/{train,valid,test}.jsonl`` + ``stats.json``.

    Returns the stats dict (also written). Raises UserError when no pair survives cleaning.
    """

    paths = RunPaths(config.run_dir)
    t0 = time.perf_counter()
    raw: list[dict] = []
    notes: list[str] = []
    manifest: dict[str, Any] = {}  # what the corpus was built from (declared sources and their versions)
    for name in _source_names(config):
        raw.extend(SOURCES[name](config, manifest, notes))
    for n in notes:
        print(f"[corpus] note: {n}", file=sys.stderr)
    pairs = clean_pairs(
        raw,
        min_doc_words=config.min_doc_words,
        max_doc_chars=config.max_doc_chars,
        min_summary_words=config.min_summary_words,
        max_summary_words=config.max_summary_words,
        max_code_fraction=config.max_code_fraction,
    )
    if not pairs:
        src = config.jsonl or config.hub_id or ", ".join(config.sources)
        raise UserError(f"build_corpus: no pair survived cleaning from {src} ({len(raw)} raw pairs); check the input")
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for p in pairs:
        splits[split_of(p["id"], config.valid_frac, config.test_frac)].append(p)
    full_sizes = {s: len(v) for s, v in splits.items()}
    if config.max_pairs:
        splits["train"] = _subset(splits["train"], config.max_pairs)
        for s in ("valid", "test"):
            splits[s] = _subset(splits[s], max(config.max_pairs // 10, 1))
    stats = corpus_stats(splits)
    stats.update(raw_pairs=len(raw), clean_pairs=len(pairs), sizes_before_cap=full_sizes, notes=notes)
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    paths.corpus.mkdir(parents=True, exist_ok=True)
    for s, rows in splits.items():
        atomic_write_text(paths.corpus / f"{s}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    stats["sources"] = manifest
    stats["content_hash"] = content_hash(paths.corpus / f"{s}.jsonl" for s in SPLITS)
    atomic_write_json(paths.corpus / "stats.json", stats)  # written last: its presence marks a complete corpus
    return stats


def _report(stats: dict, paths: RunPaths) -> None:
    print(f"[corpus] {stats['sizes']} by source {stats['by_source']} in {stats['seconds']} s → {paths.corpus}")


STAGE = Stage(
    "corpus",
    CorpusConfig,
    output=lambda paths, config: paths.corpus / "stats.json",
    work=build_corpus,
    report=_report,
)
"""The stage ``corpus``: ``run(config)`` and ``main(argv)`` call it."""


def run(config: CorpusConfig) -> Path:
    """Run the stage (or reuse its cached output); returns the output path."""
    return STAGE.run(config)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m llm corpus``: a thin wrapper of :func:`run`."""
    return STAGE.main(argv, __doc__)
