"""Run directory layout, user errors and command-line plumbing shared by every stage of the LLM lab.

One run directory (default ``runs/<preset>``) holds every output of the chain::

    config/<stage>.json        resolved config of each stage that ran
    corpus/                    {train,valid,test}.jsonl + stats.json            (llm.data.corpus)
    tokenizer/                 save_pretrained tokenizer                        (llm.data.tokenizer)
    sft/pretrained/            LM-pretrained model, the resume point of sft     (llm.stages.sft)
    sft/model/                 π_ref: SFT model (safetensors) + tokenizer       (llm.stages.sft)
    sft/metrics.json           loss curves, held-out loss, samples before/after (llm.stages.sft)
    reward/model/              learned reward model + tokenizer                 (llm.stages.reward_model)
    reward/metrics.json        Bradley–Terry loss curve, pair accuracies        (llm.stages.reward_model)
    offline/train.jsonl        the rewarded offline dataset                     (llm.stages.sample)

Every final file or directory is written through :mod:`bandit.records` (a temporary name in the same directory, then
``os.replace``), so an interrupted stage never leaves a half-written output that a later stage would trust.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar

import tyro

from bandit.cli import one_line_parse, sigterm_as_interrupt
from bandit.records import atomic_write_json, prepare_output_dir, to_jsonable
from llm.presets import preset_help, resolve

__all__ = [
    "MAIN",
    "RunPaths",
    "StageConfig",
    "save_config",
    "UserError",
    "cli_errors",
    "read_jsonl",
    "Stage",
]


MAIN = "train"
"""Name of the main offline dataset (``offline/train.jsonl``: μ = π_ref at T = 1), the one the β sweep and the
``train`` stage read; the pipeline's off-policy datasets are named after their behaviour policy."""


class UserError(ValueError):
    """A user mistake (bad path, malformed input, missing stage output): the CLI prints it on one line and exits 2."""


#: The range of every numeric option the stages share, by field name (the option is ``--<name with dashes>``):
#: "count" ≥ 1, "count0" ≥ 0, "positive" finite > 0, "nonneg" finite ≥ 0, "unit" in [0, 1], "finite".
NUMBER_RULES: dict[str, str] = {
    **dict.fromkeys(("pretrain_batch", "sft_batch", "sft_steps", "eval_every", "rm_steps", "rm_batch"), "count"),
    **dict.fromkeys(("rm_prompts", "valid_prompts", "rm_samples", "offline_prompts", "batch_size"), "count"),
    **dict.fromkeys(("max_prompt_tokens", "max_new_tokens", "min_frequency"), "count"),
    **dict.fromkeys(("pretrain_steps", "threads", "eval_pairs", "n_samples", "seed"), "count0"),
    # the corpus: caps where 0 = all, then counts and the code share
    **dict.fromkeys(("max_pairs", "max_files", "max_man_pages", "min_doc_words"), "count0"),
    **dict.fromkeys(("workers", "max_doc_chars", "min_summary_words", "max_summary_words"), "count"),
    "max_code_fraction": "unit",
    **dict.fromkeys(("sft_lr", "rm_lr", "sample_temperature", "temperatures"), "positive"),
    **dict.fromkeys(("pretrain_lr", "weight_decay", "margin"), "nonneg"),  # pretrain_lr 0: presets that skip it
    "rm_min_accuracy": "unit",
    **dict.fromkeys(("length_weight", "reward_scale"), "finite"),
}
#: Tuple options where a repeated value has a meaning: one completion per temperature, so (1.0, 1.0) is two
#: completions at T = 1. Every other tuple (a grid, a list of betas) must not repeat a value.
REPEATABLE = frozenset({"temperatures"})
_RULE_TEXT = {
    "count": "an integer ≥ 1",
    "count0": "an integer ≥ 0",
    "positive": "finite and > 0",
    "nonneg": "finite and ≥ 0",
    "unit": "in [0, 1]",
    "share": "in (0, 1]",
    "finite": "finite",
}


def check_numbers(config: Any, rules: dict[str, str] | None = None, prefix: str = "") -> None:
    """Raise :class:`UserError` naming the option (``--sft-lr must be finite and > 0, got nan``) when a numeric
    field of ``config`` breaks its rule in ``rules`` (default :data:`NUMBER_RULES`; kinds as there, plus "share"
    in (0, 1]); ``None`` (unset) fields are skipped, a tuple is checked value by value and must not repeat a value
    unless :data:`REPEATABLE` (a repeated grid point would silently be run twice). ``prefix`` starts the message
    (e.g. ``"rung: "``)."""
    import math

    def ok(rule: str, v: Any) -> bool:
        if rule in ("count", "count0"):
            return isinstance(v, int) and v >= (1 if rule == "count" else 0)
        v = float(v)
        within = {"positive": v > 0, "nonneg": v >= 0, "unit": 0 <= v <= 1, "share": 0 < v <= 1}
        return math.isfinite(v) and within.get(rule, True)

    for name, rule in (NUMBER_RULES if rules is None else rules).items():
        value = getattr(config, name, None)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        for v in value if isinstance(value, tuple | list) else (value,):
            if not ok(rule, v):
                shown = value if isinstance(value, tuple) else v
                raise UserError(f"{prefix}{flag} must be {_RULE_TEXT[rule]}, got {shown}")
        if isinstance(value, tuple | list) and len(set(value)) != len(value) and name not in REPEATABLE:
            raise UserError(f"{prefix}{flag} repeats a value, got {tuple(value)}; pass each value once")


@dataclasses.dataclass(frozen=True)
class StageConfig:
    """The fields every cached stage of the chain shares; a stage config subclasses it and adds its own.

    Frozen: a stage's ``run(config)`` cannot change what it was given; ``__post_init__`` completes the config once.

    Every field of a subclass left ``None`` takes its preset's value (:func:`llm.presets.resolve`), under the name in
    ``PRESET_ALIASES`` where the stage's option and the preset's field are named differently.
    """

    preset: Annotated[
        str, tyro.conf.arg(help=preset_help("every option left unset takes its value (llm/presets.py)."))
    ] = "small"
    run_dir: str | None = None
    """Run directory holding every stage's outputs; default runs/<preset>."""
    force: bool = False
    """Redo the stage even when its output exists (otherwise the cached output is kept)."""
    progress: bool = True
    """Show progress bars (--no-progress turns them off)."""

    PRESET_ALIASES: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        resolve(self, self.PRESET_ALIASES)
        check_numbers(self)


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
        return self.offline_named(MAIN)

    def offline_named(self, name: str) -> Path:
        """``offline/<name>.jsonl``: a named offline dataset (``train`` is the default one; the pipeline's off-policy
        sweep writes one per behaviour policy)."""
        if not name or "/" in name or name.startswith("."):
            raise UserError(f"RunPaths: dataset name {name!r} must be a plain file stem such as 'train' or 'T1.3'")
        return self.root / "offline" / f"{name}.jsonl"

    def offline_stats(self, name: str = MAIN) -> Path:
        """Statistics of the offline dataset ``name`` (``offline/stats.json`` for the main one)."""
        return self.root / "offline" / ("stats.json" if name == MAIN else f"{name}.stats.json")

    def require(self, path: Path, stage: str) -> Path:
        """``path`` if it exists, else a :class:`UserError` telling which stage to run first."""
        if not path.exists():
            raise UserError(f"{path} does not exist; run `python -m llm {stage} --run-dir {self.root}` first")
        return path


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """``(where, object)`` for every non-blank line of a JSONL file, ``where`` = ``"<path>:<line>"`` for messages.

    Raises UserError naming the file and line of a line that is not UTF-8, not valid JSON or not a JSON object.
    """
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UserError(
                    f"{path}:{lineno}: not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                    "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8"
                ) from e
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{lineno}: malformed JSON ({e.msg}); each line must be one JSON object") from e
            if not isinstance(obj, dict):
                raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield f"{path}:{lineno}", obj


def save_config(paths: RunPaths, stage: str, config: Any) -> None:
    """Record the resolved config of a stage that completed as ``config/<stage>.json``."""
    atomic_write_json(paths.config / f"{stage}.json", config)


def check_run_dir(run_dir: str | os.PathLike, flag: str = "--run-dir", writable: bool = False) -> Path:
    """``run_dir`` as a Path, or a one-line :class:`UserError` if it (or one of its parents) is a file; with
    ``writable``, also a one-line error naming ``flag`` when it (or, if missing, its nearest existing parent) cannot be
    written (:func:`bandit.records.prepare_output_dir`): checked before any work, not found out at the first write."""
    path = Path(run_dir)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise UserError(f"{flag} {run_dir}: {existing} is a file, not a directory; pass a run directory (runs/<name>)")
    if writable:
        prepare_output_dir(path, (), flag=flag)
    return path


def parse_cli(config_cls: type, argv: list[str] | None, description: str | None, prog: str) -> Any:
    """tyro's parse of ``argv`` into ``config_cls``; a parse error is one :class:`UserError` line (no box)."""
    return one_line_parse(
        lambda: tyro.cli(config_cls, args=argv, description=description, prog=prog), f"{prog} --help", argv
    )


def cli_errors(fn: Any) -> Any:
    """Decorator for stage ``main`` functions: user errors become one line on stderr and exit code 2; an interrupt
    (Ctrl-C, or SIGTERM as from ``kill`` or ``timeout``) one line and exit code 130."""

    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            with sigterm_as_interrupt():  # SIGTERM as Ctrl-C: temporary files removed, worker pools shut down
                return int(fn(*args, **kwargs) or 0)
        except (ValueError, OSError) as e:  # UserError is a ValueError; OSError: a file missing, unreadable or
            # malformed where a library reads it (transformers' invalid config.json), or an output not writable
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted; completed outputs are kept, the stage can be re-run", file=sys.stderr)
            return 130

    wrapper.__name__ = getattr(fn, "__name__", "main")
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _leave_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(130)  # unwinds the job (its temporary files are removed); see in_worker


def worker_init(init: Callable[..., Any] | None = None, *args: Any) -> None:
    """``ProcessPoolExecutor`` initializer of every worker pool: Ctrl-C reaches the workers too (one process group),
    and each leaves without a traceback (the parent prints the one line); SIGTERM, by which a pool ends its workers,
    is reset to its default (a forked worker inherits cli_errors' handler); then ``init(*args)`` if given."""
    signal.signal(signal.SIGINT, _leave_quietly)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if init is not None:
        init(*args)


def in_worker(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a pool worker (submit ``in_worker, fn, ...``): after an interrupt the worker ends at once
    instead of taking the next job, so the interrupted parent does not wait for the rest of the queue."""
    try:
        return fn(*args)
    except SystemExit:
        os._exit(130)


@contextlib.contextmanager
def interrupt_workers(pool: Any) -> Iterator[None]:
    """Inside ``with ProcessPoolExecutor(..., initializer=worker_init) as pool, interrupt_workers(pool):`` an interrupt
    of the parent alone (``kill``, SIGTERM) also stops the running jobs and drops the queued ones; without it, leaving
    the pool would wait for every queued job to finish."""
    import multiprocessing

    try:
        yield
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGINT)  # each worker leaves at once (worker_init, in_worker)
        raise


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


@dataclasses.dataclass(frozen=True)
class Stage:
    """One cached stage of the chain: ``run(config)`` in Python, ``main(argv)`` on the command line (a thin wrapper).

    ``run`` skips the stage when its ``output(paths, config)`` exists (unless ``config.force``), checks the output of
    the stage it ``requires``, runs ``work(config)`` with the configured torch threads, records the resolved config as
    ``config/<name>.json``, prints ``report`` and returns the output path.
    """

    name: str
    config_cls: type
    output: Callable[[RunPaths, Any], Path]
    work: Callable[[Any], Any]
    report: Callable[[Any, RunPaths], None]
    requires: Callable[[RunPaths], tuple[Path, str]] | None = None

    def run(self, config: Any) -> Path:
        """Run (or reuse) the stage for ``config`` (an instance of ``config_cls``); returns its output path."""
        if not isinstance(config, self.config_cls):
            raise TypeError(f"{self.name}.run: expected a {self.config_cls.__name__}, got {type(config).__name__}")
        paths = RunPaths(check_run_dir(config.run_dir))
        target = self.output(paths, config)
        # a file where the stage writes a directory, or a directory where its output file goes: one line now (not an
        # OSError after the work, nor a directory taken for a cached output)
        for parent in target.relative_to(paths.root).parents:
            if (paths.root / parent).is_file():
                raise UserError(f"--run-dir {paths.root}: {paths.root / parent} is a file, not a directory; remove it")
        if target.suffix and target.is_dir():
            raise UserError(
                f"--run-dir {paths.root}: {target} is a directory, not the {self.name} stage's output file; remove it"
            )
        shown = f"[{self.name}] config: " + json.dumps(config, default=to_jsonable, ensure_ascii=False)
        if target.exists() and not config.force:
            print(shown, flush=True)
            print(f"[{self.name}] {target} exists (cached); --force redoes it")
            return target
        check_run_dir(config.run_dir, writable=True)  # the stage will write: a read-only run dir fails now
        if self.requires is not None:
            paths.require(*self.requires(paths))
        print(shown, flush=True)  # after every check: a bad input or a missing earlier stage is the only line
        quiet_transformers()
        with torch_threads(getattr(config, "threads", 0)):
            result = self.work(config)
        save_config(paths, self.name, config)
        self.report(result, paths)
        return target

    def main(self, argv: list[str] | None, doc: str | None) -> int:
        """``python -m llm <name>``: parse ``argv`` with tyro (field docstrings become ``--help``) and ``run``."""
        self.run(parse_cli(self.config_cls, argv, doc, f"python -m llm {self.name}"))
        return 0
