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

import ast
import dataclasses
import gzip
import hashlib
import itertools
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from bandit.progress import progress as progress_bar
from bandit.records import atomic_write_json, atomic_write_text
from llm.run import RunPaths, Stage, StageConfig, UserError, cli_errors, read_jsonl

__all__ = [
    "PROMPT_TEMPLATE",
    "PROMPT_SUFFIX",
    "make_prompt",
    "make_completion",
    "CorpusConfig",
    "man_page_pairs",
    "docstring_pairs",
    "load_jsonl_pairs",
    "clean_pairs",
    "split_of",
    "build_corpus",
    "load_split",
    "load_eval_prompts",
    "source_kind",
    "stratified_sample",
    "corpus_stats",
    "main",
    "STAGE",
    "run",
]

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


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: man pages (roff → text)
# ----------------------------------------------------------------------------------------------------------------

_ROFF_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes \fB \fI \fR \f(CW \f[B]
    (re.compile(r"\\s[-+]?\d"), ""),  # size changes
    (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""),  # strings \*(lq
    (re.compile(r"\\\((em|en)"), "—"),
    (re.compile(r"\\\((lq|rq|dq)"), '"'),
    (re.compile(r"\\\((aq|oq|cq)"), "'"),
    (re.compile(r"\\\((bu|ci)"), "*"),
    (re.compile(r"\\\((mu)"), "x"),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),  # other named glyphs
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\[ ~0]"), " "),
    (re.compile(r"\\[&|^c%:/,]"), ""),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\(.)"), r"\1"),
]
_MAN_FONT_MACROS = {"B", "I", "BR", "RB", "BI", "IB", "IR", "RI", "SM", "SB", "Nm", "Ar", "Fl", "Cm", "Pa", "Xr"}
_MAN_BREAK_MACROS = {"PP", "LP", "P", "TP", "IP", "HP", "RS", "RE", "SS", "Pp", "Bl", "El", "It", "Sh", "sp", "br"}


def _roff_text(s: str) -> str:
    for pattern, repl in _ROFF_ESCAPES:
        s = pattern.sub(repl, s)
    return s


def _macro_args(rest: str) -> list[str]:
    return [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', rest)]


def parse_man_page(source: str) -> tuple[str, str] | None:
    """``(description, summary)`` of one man page in man(7)/mdoc(7) roff, or None (redirect, no NAME/DESCRIPTION)."""
    section, name_lines, desc_paras, para = None, [], [], []
    skip = False  # inside .nf/.fi, .EX/.EE or a table: code and layout, not prose
    for raw in source.splitlines():
        line = raw.rstrip()
        if line.startswith(".so ") and section is None:
            return None
        if line.startswith(('.\\"', "'\\\"", '.\\"')) or line == ".":
            continue
        if line.startswith((".", "'")):
            macro, _, rest = line[1:].strip().partition(" ")
            if macro in ("SH", "Sh"):
                section = " ".join(_macro_args(rest)).upper()
                if para:
                    desc_paras.append(" ".join(para))
                    para = []
                continue
            if macro in ("nf", "EX", "TS", "Bd", "DS", "(T"):
                skip = True
                continue
            if macro in ("fi", "EE", "TE", "Ed", "DE", ")T"):
                skip = False
                continue
            if section == "NAME" and macro == "Nd":
                name_lines.append("\\- " + rest)
            elif macro in _MAN_FONT_MACROS and rest:
                text = "".join(_macro_args(rest)) if macro not in ("Nm", "Ar", "Xr") else " ".join(_macro_args(rest))
                if section == "NAME":
                    name_lines.append(text)
                elif section == "DESCRIPTION" and not skip:
                    para.append(text)
            elif macro in _MAN_BREAK_MACROS and section == "DESCRIPTION" and para:
                desc_paras.append(" ".join(para))
                para = []
            continue
        if skip:
            continue
        if section == "NAME":
            name_lines.append(line)
        elif section == "DESCRIPTION":
            if line.strip():
                para.append(line.strip())
            elif para:
                desc_paras.append(" ".join(para))
                para = []
    if para:
        desc_paras.append(" ".join(para))
    name = _roff_text(" ".join(name_lines))
    # "ls \- list directory contents": the summary follows the first " - " (from "\-")
    m = re.search(r"\s[-—]\s+(.*)$", name)
    if not m or not desc_paras:
        return None
    summary = " ".join(m.group(1).split())
    description = "\n".join(" ".join(_roff_text(p).split()) for p in desc_paras if p.strip())
    return description, summary


def man_page_pairs(
    man_dir: str | os.PathLike = "/usr/share/man", max_pages: int = 0, files: Iterable[Path] | None = None
) -> Iterator[dict]:
    """Pairs from English man pages: ``files`` if given, else every page under ``man_dir/man[1-8]``.

    ``max_pages`` caps the number of page files read (0 = all); nothing is read from a missing directory."""
    if files is None:
        root = Path(man_dir)
        pages = [f for sec in sorted(root.glob("man[1-8]")) for f in sorted(sec.iterdir())] if root.is_dir() else []
    else:
        pages = list(files)
    n_read = 0
    for f in pages:
        if f.is_symlink() or not f.is_file():
            continue
        if max_pages and n_read >= max_pages:
            return
        n_read += 1
        sec = f.parent
        try:
            raw = gzip.open(f).read() if f.suffix == ".gz" else f.read_bytes()
        except (OSError, EOFError):
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        parsed = parse_man_page(text)
        if parsed is not None:
            yield {"document": parsed[0], "summary": parsed[1], "source": f"man:{sec.name}/{f.name}"}


# ----------------------------------------------------------------------------------------------------------------
# The corpus is defined by the project, not by the environment: declared sources, recorded versions, a content hash
# ----------------------------------------------------------------------------------------------------------------

MAN_PACKAGES = ("manpages", "manpages-dev")
"""Debian packages whose English man pages are read (the Linux man-pages project: sections 2–7 and more)."""

DOCSTRING_PACKAGES = (
    "numpy",
    "scipy",
    "torch",
    "matplotlib",
    "transformers",
    "tokenizers",
    "accelerate",
    "datasets",
    "tqdm",
)
"""Installed distributions whose docstrings join the standard library's; all are dependencies of the project
(pinned for ``make reproduce`` in requirements/constraints.txt), so a fresh environment holds the same versions."""


def man_package_files(packages: Iterable[str], man_dir: str | os.PathLike = "/usr/share/man") -> tuple[list, dict]:
    """``(files, versions)``: the man pages of sections 1–8 under ``man_dir`` that Debian ``packages`` own.

    ``versions`` maps each package to its installed version, or to ``"missing"`` (not installed, or no dpkg on this
    system): a missing package is skipped with a note by the corpus stage, never silently replaced by other pages.
    """
    root = str(Path(man_dir)) + "/"
    files: set[Path] = set()
    versions = {}
    for pkg in packages:
        try:
            listed = subprocess.run(["dpkg-query", "-L", pkg], capture_output=True, text=True, timeout=30)
            version = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            versions[pkg] = "missing"
            continue
        if listed.returncode or version.returncode:
            versions[pkg] = "missing"
            continue
        versions[pkg] = version.stdout.strip()
        for line in listed.stdout.splitlines():
            if line.startswith(root) and re.match(r"man[1-8]/", line[len(root) :]):
                f = Path(line)
                if f.is_file() and not f.is_symlink():
                    files.add(f)
    return sorted(files), versions


def distribution_files(packages: Iterable[str]) -> tuple[list[Path], dict]:
    """``(files, versions)``: the ``.py`` files of installed distributions (their RECORD), tests excluded.

    A distribution that is not installed gets version ``"missing"`` and contributes nothing.
    """
    import importlib.metadata as md

    files: list[Path] = []
    versions = {}
    for name in packages:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            versions[name] = "missing"
            continue
        versions[name] = dist.version
        for f in sorted(dist.files or [], key=str):
            parts = Path(str(f)).parts
            if str(f).endswith(".py") and not {"tests", "test", "__pycache__"} & set(parts):
                files.append(Path(dist.locate_file(f)))
    return files, versions


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


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: Python docstrings (ast, no imports)
# ----------------------------------------------------------------------------------------------------------------

_SECTION_RE = re.compile(
    r"^\s*(args|arguments|parameters|params|returns?|yields?|raises|examples?|notes?|see also|attributes|"
    r"warnings?|references|todo|usage|keyword arguments|other parameters|methods)\s*:?\s*$",
    re.IGNORECASE,
)


def split_docstring(doc: str) -> tuple[str, str] | None:
    """``(body, summary)`` of a docstring: summary = first paragraph, body = the prose paragraphs after it.

    The body stops at the first section header (Args:, Returns, Examples, ...), reST field (``:param``), directive
    (``..``) or doctest (``>>>``); indented blocks (usually code) are skipped.
    """
    paras = re.split(r"\n\s*\n", doc.strip())
    if len(paras) < 2:
        return None
    summary = " ".join(paras[0].split())
    body: list[str] = []
    for p in paras[1:]:
        lines = p.splitlines()
        first = lines[0]
        if _SECTION_RE.match(first) or first.lstrip().startswith((":", "..", ">>>", "--", "==")):
            break
        if len(lines) > 1 and re.match(r"^\s*[-=~^]{3,}\s*$", lines[1]):  # numpydoc "Parameters\n----------"
            break
        if first.startswith((" ", "\t")):  # indented: code or a literal block
            continue
        body.append(" ".join(p.split()))
    if not body:
        return None
    return "\n".join(body), summary


def stdlib_files() -> list[Path]:
    """The standard library's ``.py`` files (its site-packages, tests and caches excluded), sorted."""
    return list(_python_files([sysconfig.get_paths()["stdlib"]]))


def default_python_roots() -> list[str]:
    """The standard library and site-packages directories of the running interpreter."""
    paths = sysconfig.get_paths()
    roots = [paths["stdlib"], paths["purelib"], paths["platlib"]]
    out: list[str] = []
    for r in roots:
        if r and os.path.isdir(r) and r not in out:
            out.append(r)
    return out


def _python_files(roots: Iterable[str | os.PathLike]) -> Iterator[Path]:
    seen: set[str] = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            # stdlib's site-packages is walked as its own root; tests and vendored copies add noise
            dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__", "test", "tests"))
            for fn in sorted(filenames):
                if fn.endswith(".py"):
                    p = Path(dirpath) / fn
                    key = str(p.resolve())
                    if key not in seen:
                        seen.add(key)
                        yield p


def _file_docstring_pairs(path: Path) -> list[dict]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=True)
        if not doc:
            continue
        parsed = split_docstring(doc)
        if parsed is None:
            continue
        name = getattr(node, "name", "<module>")
        out.append({"document": parsed[0], "summary": parsed[1], "source": f"py:{path.name}:{name}"})
    return out


def docstring_pairs(
    roots: Iterable[str | os.PathLike] | None = None,
    max_files: int = 0,
    workers: int = 1,
    files: Iterable[Path] | None = None,
) -> Iterator[dict]:
    """Pairs from the docstrings (module, class, function) of ``.py`` files (parsed, no import): ``files`` if given,
    else every file under ``roots`` (default: the interpreter's stdlib and site-packages).

    ``max_files`` caps the files parsed (0 = all); ``workers`` > 1 parses in that many processes (same order).
    """
    if files is None:
        roots = default_python_roots() if roots is None else list(roots)
        files = _python_files(roots)
    files = list(itertools.islice(files, max_files or None))
    if workers > 1 and len(files) > 64:
        import multiprocessing as mp

        with mp.get_context("fork" if sys.platform == "linux" else "spawn").Pool(workers) as pool:
            for pairs in pool.imap(_file_docstring_pairs, files, chunksize=32):
                yield from pairs
    else:
        for path in files:
            yield from _file_docstring_pairs(path)


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: user data (JSONL, Hub)
# ----------------------------------------------------------------------------------------------------------------


def load_jsonl_pairs(
    path: str | os.PathLike, document_field: str = "document", summary_field: str = "summary"
) -> list[dict]:
    """Pairs from a JSONL file with one ``{"document": ..., "summary": ...}`` object per line (blank lines skipped).

    Raises ValueError naming the file and line of a malformed line, a missing column or a non-string value.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"load_jsonl_pairs: {path} does not exist; pass a JSONL file with document/summary lines")
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


# ----------------------------------------------------------------------------------------------------------------
# Stage
# ----------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
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


def _subset(rows: list[dict], n: int) -> list[dict]:
    if not n or len(rows) <= n:
        return rows
    keep = sorted(rows, key=lambda r: hashlib.sha1(("subset:" + r["id"]).encode()).hexdigest())[:n]
    ids = {r["id"] for r in keep}
    return [r for r in rows if r["id"] in ids]


def build_corpus(config: CorpusConfig) -> dict:
    """Collect, clean, de-duplicate and split the pairs; write ``corpus/{train,valid,test}.jsonl`` + ``stats.json``.

    Returns the stats dict (also written). Raises UserError when no pair survives cleaning.
    """

    paths = RunPaths(config.run_dir)
    t0 = time.perf_counter()
    raw: list[dict] = []
    notes: list[str] = []
    manifest: dict[str, Any] = {}  # what the corpus was built from (declared sources and their versions)
    if config.jsonl:
        raw = load_jsonl_pairs(config.jsonl, config.document_field, config.summary_field)
    elif config.hub_id:
        raw = hub_pairs(config.hub_id, config.hub_split, config.document_field, config.summary_field)
    else:
        if "man" in config.sources:
            pages = None
            if config.man_packages:
                pages, manifest["man_packages"] = man_package_files(config.man_packages, config.man_dir)
                notes += [
                    f"Debian package {pkg} is not installed: its man pages are skipped (apt-get install {pkg}); "
                    "the corpus differs from the declared one"
                    for pkg, v in manifest["man_packages"].items()
                    if v == "missing"
                ]
            elif Path(config.man_dir).is_dir():
                manifest["man_dir"] = f"every page under {config.man_dir} (environment-dependent)"
            else:
                notes.append(f"{config.man_dir} not found: man pages skipped (apt-get install manpages manpages-dev)")
            it = man_page_pairs(config.man_dir, config.max_man_pages, files=pages)
            raw.extend(progress_bar(it, desc="man pages", unit=" pages", disable=config.no_progress))
        if "docstrings" in config.sources:
            files = roots = None
            if config.python_roots:
                roots = list(config.python_roots)
                manifest["python_roots"] = roots
            elif config.docstring_packages:
                files, manifest["docstring_packages"] = distribution_files(config.docstring_packages)
                files = stdlib_files() + files  # stdlib first: a max_files cap keeps the standard library
                manifest["python_stdlib"] = platform.python_version()
                notes += [
                    f"package {pkg} is not installed: its docstrings are skipped; the corpus differs from the declared"
                    for pkg, v in manifest["docstring_packages"].items()
                    if v == "missing"
                ]
            else:
                manifest["python_roots"] = default_python_roots()
            it = docstring_pairs(roots, config.max_files, config.workers, files=files)
            raw.extend(progress_bar(it, desc="docstrings", unit=" docs", disable=config.no_progress))
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


def source_kind(source: str) -> str:
    """The kind of a pair's ``source``: the prefix before ``':'`` (``"man"``, ``"py"``, ``"jsonl"``, ``"hub"``)."""
    return source.split(":", 1)[0]


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
