"""Corpus source ``man``: man pages (``/usr/share/man/man[1-8]``) of declared Debian packages.

The DESCRIPTION section is the document and the one-liner of the NAME section the summary
(``ls \\- list directory contents`` gives "list directory contents").
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bandit.progress import progress as progress_bar

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


MAN_PACKAGES = ("manpages", "manpages-dev")
"""Debian packages whose English man pages are read (the Linux man-pages project: sections 2–7 and more)."""


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


def collect(config: Any, manifest: dict[str, Any], notes: list[str]) -> list[dict]:
    """The pairs of ``config.man_packages`` (or every page under ``config.man_dir``); records what was read in
    ``manifest`` and what is missing in ``notes``."""
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
    return list(progress_bar(it, desc="man pages", unit=" pages", disable=not config.progress))
