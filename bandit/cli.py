"""Command-line plumbing shared by both labs' commands: tyro's parse errors as one line.

tyro reports a bad option in a multi-line box drawn on stderr. :func:`one_line_parse` runs a tyro parse with stderr
captured and turns such an error into a :class:`UsageError` whose message is the box's first section on one line
(what was wrong, with the option's name), so every command prints ``<prog>: error: <message>`` and exits 2, with no
box, no traceback. ``--help`` is untouched.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = [
    "UsageError",
    "condense_tyro_error",
    "explicit_options",
    "one_line_parse",
    "reject_empty_values",
    "sigterm_as_interrupt",
]

T = TypeVar("T")


class UsageError(ValueError):
    """A command-line error, already phrased for the user (one line)."""


def condense_tyro_error(text: str) -> str:
    """The message of a tyro error on one line, e.g. "invalid choice 'x' for argument '--optimizer'. Expected one of
    ('adam', 'sgd').".

    rich draws it in one of three layouts: a Unicode box whose top border holds the title, its ASCII fallback, or
    (stdout not a terminal) no box, with the title as a first section of its own. Sections are separated by rules
    (lines of ─ or -); the message is the first section after the title.
    """
    sections: list[list[str]] = [[]]
    boxed = False
    for raw in text.strip().splitlines():
        line = raw.strip()
        if line[:1] in ("╭", "╰", "+"):
            boxed = True
            continue  # top or bottom border (the title sits in the top one)
        if line[:1] in ("│", "|"):
            line = line[1:]
        if line[-1:] in ("│", "|"):
            line = line[:-1]
        line = line.strip()
        if line and set(line) <= set("─-"):
            sections.append([])
        elif line:
            sections[-1].append(line)
    sections = [sec for sec in sections if sec]
    if not sections:
        return "could not parse the command line"
    message = sections[0] if boxed or len(sections) == 1 else sections[1]
    return re.sub(r"\s+", " ", " ".join(message)).strip()


def reject_empty_values(argv: list[str]) -> None:
    """:class:`UsageError` naming the first option given an empty value (``--out ""`` or ``--out=``): tyro would
    read an empty path as the current directory and an empty name as "unset", so the option would silently not do
    what was asked."""
    for i, arg in enumerate(argv):
        if arg == "" or (arg.startswith("--") and arg.endswith("=")):
            flag = arg[:-1] if arg else next((a for a in reversed(argv[:i]) if a.startswith("--")), "an argument")
            raise UsageError(f"{flag} is given an empty value; pass a value or leave the option out")


def one_line_parse(parse: Callable[[], T], help_hint: str, argv: list[str] | None = None) -> T:
    """Run ``parse()`` (a tyro call); a parse error becomes :class:`UsageError` with one line ending in ``help_hint``.

    ``argv``, when given, is checked first for options given an empty value (:func:`reject_empty_values`). Output of
    ``--help`` (exit 0) passes through unchanged.
    """
    if argv is not None:
        reject_empty_values(argv)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            return parse()
    except SystemExit as exc:
        if exc.code in (0, None):
            sys.stderr.write(buf.getvalue())
            raise
        # rich wraps the message at the terminal's width, cutting a long path mid-word: parse again, as wide as
        # the message needs, for the text to condense (parsing has no side effects)
        wide = io.StringIO()
        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100000"
        try:
            with contextlib.redirect_stderr(wide):
                parse()
        except SystemExit:
            pass
        finally:
            if saved is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = saved
        text = wide.getvalue() or buf.getvalue()
        # a config's own check (__post_init__) comes as tyro's "Error parsing <Class>: <message>": keep the message
        message = re.sub(r"^Error parsing [\w.]+: ", "", condense_tyro_error(text))
        raise UsageError(f"{message} (see {help_hint})") from None


def explicit_options(argv: list[str]) -> set[str]:
    """Config fields given on a command line (``--steps 5`` or ``--steps=5`` → ``steps``), to tell an option the user
    passed from its default (a conflicting or inapplicable flag is then an error naming it)."""
    return {a[2:].split("=")[0].replace("-", "_") for a in argv if a.startswith("--")}


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM (``kill``, ``timeout``) raises KeyboardInterrupt as Ctrl-C does, so a command ends
    the same way (temporary files removed as the stack unwinds, one line, exit 130); the previous handler is restored.
    Outside the main thread (where handlers cannot be set) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
