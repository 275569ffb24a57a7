"""Files and records shared by both labs: atomic writes, the provenance record, figure JSON + PNG, one redraw.

This is the lowest layer of the package (standard library only at import time), used by ``bandit`` and ``llm`` alike:

* :func:`atomic_write_text` / :func:`atomic_write_json` / :func:`atomic_dir`: every output is written under a
  temporary name in its own directory and moved into place with ``os.replace``, with the permissions ``open`` /
  ``mkdir`` would give (``tempfile`` alone makes 0600 / 0700), so an interrupted command never leaves a half-written
  file that a later step would trust.
* :func:`provenance`: the one schema of "how was this made" (command, config, versions, git revision, hardware,
  wall clock) stored in every figure JSON and run record.
* :func:`write_figure` writes ``<stem>.json`` and ``<stem>.png`` of a figure record; :func:`redraw` draws the PNG of
  any figure JSON again, whichever lab made it: the record names its drawing module (``record["drawer"]``, one of
  the registered :data:`DRAWERS`, each with ``draw_record(record) -> Figure``), so ``python -m bandit plot F.json``
  serves every figure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "DRAWERS",
    "atomic_dir",
    "atomic_write_json",
    "atomic_write_text",
    "prepare_output_dir",
    "refuse_finished",
    "git_revision",
    "provenance",
    "read_record",
    "redraw",
    "redraw_target",
    "save_png",
    "to_jsonable",
    "tracked_files",
    "usual_mode",
    "write_figure",
]

_REPO_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _umask() -> int:
    # Read once per process: os.umask can only be read by setting it, and a second thread creating a file in between
    # would get the temporary value.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def usual_mode(directory: bool = False) -> int:
    """The permissions ``open``/``mkdir`` would give under the process umask (``tempfile`` makes 0600 / 0700)."""
    return (0o777 if directory else 0o666) & ~_umask()


@contextlib.contextmanager
def _temp_sibling(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file next to ``path`` that replaces it on success and is removed on any exception."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, usual_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    path = Path(path)
    with _temp_sibling(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def to_jsonable(obj: Any) -> Any:
    """``json.dumps`` default: dataclasses → dicts, paths → strings, tensors / arrays → lists, else ``str``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically; returns the path.

    Dataclasses, paths and arrays are converted (:func:`to_jsonable`). NaN and infinities are refused
    (``ValueError`` before anything is written): they are not JSON, and a record that holds one hides a bug.
    """
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False, default=to_jsonable) + "\n"
    return atomic_write_text(path, text)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces ``path`` (an older ``path`` is removed first).

    On an exception the temporary directory is deleted and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, usual_mode(directory=True))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


def save_png(fig: Any, path: str | os.PathLike, dpi: int = 130) -> Path:
    """Save a matplotlib figure to ``path`` (PNG) atomically and close it; returns the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with _temp_sibling(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return path


@functools.cache
def git_revision() -> str | None:
    """The commit of the checkout this package runs from (``None`` outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_REPO_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _version(dist: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def _hardware() -> str:
    """One line: CPU architecture and cores, torch threads, CPU kernels and the GPU when torch is loaded."""
    line = f"{platform.machine()} CPU, {os.cpu_count()} cores"
    torch = sys.modules.get("torch")
    if torch is not None:
        line += f", torch threads {torch.get_num_threads()}"
        capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
        if capability is not None:  # the CPU kernels in use (AVX2 vs AVX-512 give different floats)
            line += f", kernels {capability()}"
        if torch.cuda.is_available():
            line += f", GPU {torch.cuda.get_device_name(0)} × {torch.cuda.device_count()}"
    return line


def provenance(
    command: str,
    config: Any,
    wall_clock_s: float | None = None,
    packages: Iterable[str] = ("torch", "numpy"),
) -> dict[str, Any]:
    """The provenance record of one run or figure (the one schema used by both labs).

    Args:
        command: the exact command line that makes the output again.
        config: the resolved configuration (a dataclass or a JSON-able dict).
        wall_clock_s: seconds the computation took, or None.
        packages: distributions whose versions are recorded beside Python's and this package's.
    Returns:
        ``{"command", "config", "versions": {python, copg, <packages>…}, "git_revision", "hardware",
        "wall_clock_s"}``.
    """
    cfg = json.loads(json.dumps(config, default=to_jsonable))
    versions = {"python": platform.python_version(), "copg": _version("copg")}
    versions.update({p: _version(p) for p in packages})
    return {
        "command": command,
        "config": cfg,
        "versions": versions,
        "git_revision": git_revision(),
        "hardware": _hardware(),
        "wall_clock_s": None if wall_clock_s is None else round(float(wall_clock_s), 3),
    }


def write_figure(record: dict, fig: Any, stem: str | os.PathLike, dpi: int = 130) -> Path:
    """Write a figure record as ``<stem>.json`` and its drawing as ``<stem>.png`` (both atomic); returns the PNG.

    ``record["drawer"]`` must name the module whose ``draw_record(record)`` redraws it (see :func:`redraw`).
    """
    if record.get("drawer") not in DRAWERS:
        raise ValueError(
            f"write_figure: the record's drawer {record.get('drawer')!r} is not one of {list(DRAWERS)}; name the "
            "module whose draw_record redraws it, and register it in bandit.records.DRAWERS"
        )
    stem = Path(stem)
    atomic_write_json(stem.with_suffix(".json"), record)
    return save_png(fig, stem.with_suffix(".png"), dpi=dpi)


def read_record(path: str | os.PathLike) -> dict:
    """Load a figure JSON; ``ValueError`` naming the file when it is missing, not JSON, or not a figure record."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ValueError(f"{path}: no such file; pass a figure JSON such as figures/paper_fig1.json") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a JSON file ({e})") from e
    if not isinstance(record, dict) or not isinstance(record.get("drawer"), str):
        raise ValueError(f"{path}: not a figure record of this package (no 'drawer' key); was it written by one?")
    return record


#: The registry of drawers: the only modules :func:`redraw` will import for a figure record's ``"drawer"`` field. A
#: figure file never chooses which code runs: any other name is refused before anything is imported.
DRAWERS: tuple[str, ...] = ("bandit.plotting", "llm.plots", "llm.chains", "llm.bridge.plots", "llm.bridge.rung_plots")


def redraw_target(
    json_path: str | os.PathLike, png_path: str | os.PathLike | None = None, replace_tracked: bool = False
) -> tuple[dict, Path]:
    """Check a redraw before drawing anything: returns the record and the PNG path it will write.

    ``png_path`` may be a ``.png`` file or an existing directory (the PNG is then ``<dir>/<json stem>.png``); the
    default is the JSON's own stem beside it. ``ValueError`` (one line, naming the input and the fix) when the JSON is
    a directory, missing or not a figure record, when its ``drawer`` is not in :data:`DRAWERS`, when the target is not
    a ``.png`` path or its directory cannot be written, or when git tracks the target and ``replace_tracked`` is
    False (a committed figure is only ever replaced on purpose).
    """
    if not str(json_path) or (png_path is not None and not str(png_path)):
        which = "PATH" if not str(json_path) else "--out"
        raise ValueError(
            f"{which} is an empty string; pass a figure JSON (and, for --out, a .png file or a directory)"
        )
    json_path = Path(json_path)
    if json_path.is_dir():
        raise ValueError(f"{json_path} is a directory; pass one figure JSON such as figures/paper_fig1.json")
    record = read_record(json_path)
    drawer = record["drawer"]
    if drawer not in DRAWERS:
        raise ValueError(
            f"{json_path}: drawer {drawer!r} is not one of this package's drawers {list(DRAWERS)}; refusing to "
            "import it (a figure file never chooses which code runs)"
        )
    dpi = record.get("dpi", 130)
    if isinstance(dpi, bool) or not isinstance(dpi, int | float) or not 10 <= dpi <= 1200:
        raise ValueError(f"{json_path}: its 'dpi' must be a number in [10, 1200], got {dpi!r}; fix or remove the key")
    out = json_path.with_suffix(".png") if png_path is None else Path(png_path)
    if out.is_dir():
        out = out / json_path.with_suffix(".png").name
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out {out}: expected a .png file or an existing directory")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"--out {out}: {parent} is a file, not a directory; pass a path in a directory")
    prepare_output_dir(parent, (), flag="--out")  # a directory that cannot be written fails before drawing
    if tracked_files(parent, [out.name]) and not replace_tracked:
        raise ValueError(
            f"--out {out} is tracked by git; write elsewhere (e.g. --out runs/redraw) or pass --replace-tracked "
            "to overwrite it on purpose"
        )
    return record, out


def redraw(
    json_path: str | os.PathLike, png_path: str | os.PathLike | None = None, replace_tracked: bool = False
) -> Path:
    """Draw the PNG of a figure JSON again, without recomputing anything; returns the PNG.

    The target and the record are checked first (:func:`redraw_target`): nothing is written on bad input, a file
    tracked by git is replaced only with ``replace_tracked=True``, and only a registered drawer (:data:`DRAWERS`) is
    imported.
    """
    record, out = redraw_target(json_path, png_path, replace_tracked)
    module = importlib.import_module(record["drawer"])
    try:  # draw before creating anything: a record its drawer cannot draw leaves no directory behind
        fig = module.draw_record(record)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        what = (
            f"missing key {e}" if isinstance(e, KeyError) else str(e).splitlines()[0] if str(e) else type(e).__name__
        )
        raise ValueError(
            f"{json_path}: {record['drawer']} cannot draw this record ({what}); pass a figure JSON written by this "
            "package, unedited"
        ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_png(fig, out, dpi=int(record.get("dpi", 130)))


def tracked_files(directory: str | os.PathLike, names: Iterable[str] | None = None) -> list[str]:
    """Files in ``directory`` (only those called ``names``, if given) that git tracks; [] outside a git checkout."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    try:
        out = subprocess.run(["git", "ls-files", "--", "."], cwd=directory, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode:
        return []
    files = sorted(line for line in out.stdout.splitlines() if "/" not in line)
    wanted = None if names is None else set(names)
    return [f for f in files if wanted is None or f in wanted]


def prepare_output_dir(
    directory: str | os.PathLike,
    names: Iterable[str] | None = None,
    replace_tracked: bool = False,
    flag: str = "--out",
    force: bool | None = None,
) -> list[str]:
    """Check, before any computation, that ``directory`` can take this command's outputs; returns the tracked files
    it will replace.

    Nothing is created: a missing directory is made by the first write (so a command rejected later leaves no empty
    directory behind). ``ValueError`` (one line, naming ``flag`` and the fix) when ``directory`` or one of its
    parents is a file, when the directory (or, if missing, its nearest existing parent) cannot be written, when one of
    ``names`` there is a directory or read-only (its replacement would fail after the computation), or when it
    holds files tracked by git among ``names`` (all files if None) and ``replace_tracked`` is False: a committed
    figure is only ever replaced on purpose (``make reproduce`` does). With ``force`` given (a command with a
    ``--force`` flag), an existing untracked file among ``names`` is a finished run: refused unless ``force``
    (:func:`refuse_finished`); a tracked one needs only ``replace_tracked``.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{flag} {directory} is a file, not a directory; pass a directory (e.g. runs/<name>)")
    existing = directory
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag} {directory}: {existing} is a file, not a directory; pass a directory path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {directory}: {existing} is not writable; pass a directory you can write")
    for name in names or ():  # found now, not by the write after the computation (which would fail half-way)
        target = directory / name
        if target.is_dir() or (target.exists() and not os.access(target, os.W_OK)):
            what = "a directory" if target.is_dir() else "read-only"
            raise ValueError(f"{flag} {directory}: {target} is {what}, so it cannot be replaced; remove it or pass "
                             f"another {flag}")  # fmt: skip
    tracked = tracked_files(directory, names)
    if tracked and not replace_tracked:
        raise ValueError(
            f"{flag} {directory} holds {len(tracked)} file(s) tracked by git ({', '.join(tracked[:3])}"
            f"{', …' if len(tracked) > 3 else ''}); write elsewhere (the default is under runs/) or pass "
            "--replace-tracked to overwrite them on purpose (make reproduce does)"
        )
    if force is not None and names is not None:
        refuse_finished([directory / n for n in names if n not in tracked], force, flag)
    return tracked


def refuse_finished(paths: Iterable[str | os.PathLike], force: bool, flag: str = "--out") -> None:
    """A finished run is never overwritten silently: ``ValueError`` (one line, naming the first of ``paths`` that
    exists and the fix) unless ``force``. Call it before any computation, so a refused command changes nothing."""
    if force:
        return
    for path in paths:
        if os.path.lexists(path):
            raise ValueError(f"{path} exists (a finished run); pass --force to overwrite it, or choose another {flag}")
