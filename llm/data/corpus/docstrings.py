"""Corpus source ``docstrings``: Python docstrings of the standard library and declared packages, read with
``ast`` (nothing is imported): the body paragraphs are the document, the summary line the summary.
"""

from __future__ import annotations

import ast
import itertools
import os
import platform
import re
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bandit.progress import progress as progress_bar
from llm.run import worker_init

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

        ctx = mp.get_context("fork" if sys.platform == "linux" else "spawn")
        with ctx.Pool(workers, initializer=worker_init) as pool:  # Ctrl-C: each worker leaves without a traceback
            for pairs in pool.imap(_file_docstring_pairs, files, chunksize=32):
                yield from pairs
    else:
        for path in files:
            yield from _file_docstring_pairs(path)


def collect(config: Any, manifest: dict[str, Any], notes: list[str]) -> list[dict]:
    """The pairs of ``config.python_roots``, else the standard library and ``config.docstring_packages`` (else all
    of site-packages); records what was read in ``manifest`` and what is missing in ``notes``."""
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
    return list(progress_bar(it, desc="docstrings", unit=" docs", disable=not config.progress))
