"""Run directory layout and atomic file writes shared by every stage of the LLM lab.

One run directory (default ``runs/<preset>``) holds every output of the chain::

    config/<stage>.json        resolved config of each stage that ran
    corpus/                    {train,valid,test}.jsonl + stats.json            (llm.corpus)
    tokenizer/                 save_pretrained tokenizer                        (llm.tokenizer)
    sft/pretrained/            LM-pretrained model, the resume point of sft     (llm.sft)
    sft/model/                 π_ref: SFT model (safetensors) + tokenizer       (llm.sft)
    sft/metrics.json           loss curves, held-out loss, samples before/after (llm.sft)
    reward/model/              learned reward model + tokenizer                 (llm.reward)
    reward/metrics.json        Bradley–Terry loss curve, pair accuracies        (llm.reward)
    offline/train.jsonl        the rewarded offline dataset                     (llm.sample)

Every final file or directory is written under a temporary name in the same directory and moved into place with
``os.replace``, so an interrupted stage never leaves a half-written output that a later stage would trust.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "RunPaths",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_dir",
    "usual_mode",
    "save_config",
    "UserError",
    "cli_errors",
    "read_jsonl",
]


class UserError(ValueError):
    """A user mistake (bad path, malformed input, missing stage output): the CLI prints it on one line and exits 2."""


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Paths of one run directory (see the module docstring for what each stage writes)."""

    root: Path
    """The run directory, e.g. ``runs/small``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer"

    @property
    def sft(self) -> Path:
        return self.root / "sft"

    @property
    def sft_pretrained(self) -> Path:
        return self.root / "sft" / "pretrained"

    @property
    def sft_model(self) -> Path:
        return self.root / "sft" / "model"

    @property
    def reward(self) -> Path:
        return self.root / "reward"

    @property
    def reward_model(self) -> Path:
        return self.root / "reward" / "model"

    @property
    def offline(self) -> Path:
        return self.root / "offline"

    @property
    def offline_dataset(self) -> Path:
        return self.root / "offline" / "train.jsonl"

    def require(self, path: Path, stage: str) -> Path:
        """``path`` if it exists, else a :class:`UserError` telling which stage to run first."""
        if not path.exists():
            raise UserError(f"{path} does not exist; run `python -m llm {stage} --run-dir {self.root}` first")
        return path


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """``(where, object)`` for every non-blank line of a JSONL file, ``where`` = ``"<path>:<line>"`` for messages.

    Raises UserError naming the file and line of a line that is not valid JSON or not a JSON object.
    """
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{lineno}: malformed JSON ({e.msg}); each line must be one JSON object") from e
            if not isinstance(obj, dict):
                raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield f"{path}:{lineno}", obj


@functools.cache
def _umask() -> int:
    # Read once: os.umask can only be read by setting it, and a second thread creating a file in between would get
    # the temporary value.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def usual_mode(directory: bool = False) -> int:
    """The permissions ``open``/``mkdir`` would give under the process umask (``tempfile`` makes 0600 / 0700)."""
    return (0o777 if directory else 0o666) & ~_umask()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temp file in the same directory, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, usual_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _json_default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (dataclasses, paths and arrays are converted)."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


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


def save_config(paths: RunPaths, stage: str, config: Any) -> None:
    """Record the resolved config of ``stage`` as ``config/<stage>.json`` and print it."""
    atomic_write_json(paths.config / f"{stage}.json", config)
    print(f"[{stage}] config: " + json.dumps(config, default=_json_default, ensure_ascii=False))


def cli_errors(fn: Any) -> Any:
    """Decorator for stage ``main`` functions: user errors become one line on stderr and exit code 2."""

    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return int(fn(*args, **kwargs) or 0)
        except (ValueError, FileNotFoundError) as e:  # UserError is a ValueError
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted; completed outputs are kept, the stage can be re-run", file=sys.stderr)
            return 130

    wrapper.__name__ = getattr(fn, "__name__", "main")
    wrapper.__doc__ = fn.__doc__
    return wrapper


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (0 = leave torch's setting), restoring the previous count after.

    Measured on the shared 2-core machine: a 4×256 GPT-2 step takes 1.15 s with 1 thread but 5.3 s with 2 threads
    while another process keeps one core busy (OpenMP threads wait on each other), so the stages default to 1.
    """
    import torch

    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def quiet_transformers() -> None:
    """Silence transformers' per-load progress bars and newly-initialised-weight notes (stages print their own)."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
