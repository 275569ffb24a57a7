"""The bandit lab's command line: run an experiment, all of them, or redraw a figure from its JSON.

Examples::

    python -m bandit paper-fig1                          # writes runs/bandit/paper_fig1.{json,png}
    python -m bandit all --out figures --replace-tracked  # `make reproduce-bandit`: the committed figures
    python -m bandit plot figures/paper_fig1.json        # redraw any figure (bandit, LLM or bridge) from its JSON
                                                         # into runs/redraw/paper_fig1.png

Every experiment writes ``<out>/<name>.json`` (config, seeds, curves and the provenance of ``bandit.records``) and
``<out>/<name>.png`` (file names use underscores: ``paper_fig1``, ``offpolicy_sweep``, ``beta_sweep``,
``data_size``, ``support``, ``simplex``). ``python -m bandit <name> --help`` lists every option with its default.
A finished run is never overwritten silently: when one of these files already exists in ``--out`` the command stops
before running (exit 2, one line) unless ``--force``; files tracked by git need ``--replace-tracked`` instead.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import matplotlib
import torch
import tyro

matplotlib.use("Agg")  # the CLI only writes PNG files: never open a window (the library leaves the backend alone)

from bandit.cli import explicit_options, one_line_parse, sigterm_as_interrupt
from bandit.experiments import DEFER_VALIDATION, EXPERIMENTS, ExperimentConfig, file_stem, run_experiment
from bandit.records import prepare_output_dir, redraw


@dataclass
class AllConfig:
    """all: run every bandit experiment with its defaults (the figures of `make reproduce`)."""

    out: Path = Path("runs/bandit")
    """Output directory for every <name>.png and <name>.json (`make reproduce` writes figures/)."""
    replace_tracked: bool = False
    """Allow overwriting files tracked by git in --out (`make reproduce` passes it)."""
    force: bool = False
    """Overwrite a finished run: an untracked <name>.json or <name>.png already in --out (refused without it)."""
    seeds: int | None = None
    """Override every experiment's number of seeds S (default: each experiment's own)."""
    epochs: int | None = None
    """Override every experiment's number of epochs E (default: each experiment's own)."""
    seed: int = 0
    """Base random seed."""
    progress: bool = True
    """Show tqdm progress bars (--no-progress hides them)."""


@dataclass
class PlotConfig:
    """plot: redraw a figure from its JSON record without retraining (any lab's figure JSON: bandit.records.redraw)."""

    path: Annotated[Path, tyro.conf.Positional]
    """The JSON record, e.g. figures/paper_fig1.json."""
    out: Path | None = None
    """Where to write the PNG: a .png file or an existing directory (default: runs/redraw/<name>.png)."""
    replace_tracked: bool = False
    """Allow overwriting a PNG tracked by git (e.g. --out figures/paper_fig1.png); refused without it."""


def _print_config(name: str, cfg) -> None:
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    print(f"[bandit {name}] " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


def _stems(names: list[str]) -> list[str]:
    return [f"{file_stem(n)}{ext}" for n in names for ext in (".json", ".png")]


def _run_one(name: str, cfg: ExperimentConfig, command: str) -> int:
    """Run, write, print the verified claims (✓/✗); returns how many claims failed."""
    _print_config(name, cfg)
    start = time.perf_counter()
    path = run_experiment(name, cfg, command)
    print(f"[bandit {name}] wrote {path} and {path.with_suffix('.png')} in {time.perf_counter() - start:.1f} s")
    claims = json.loads(path.read_text(encoding="utf-8")).get("claims", [])
    for c in claims:
        print(f"  {'✓' if c['holds'] else '✗'} {c['text']}")
    return sum(not c["holds"] for c in claims)


def _name_of(cfg: ExperimentConfig) -> str:
    return next(n for n, (cls, _) in EXPERIMENTS.items() if type(cfg) is cls)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run, and return the exit code (user errors: one line, code 2;
    Ctrl-C or SIGTERM: one line, code 130)."""
    torch.set_num_threads(1)  # tiny tensors: one thread is faster and keeps runs reproducible
    subcommands: dict = {name: cls for name, (cls, _) in EXPERIMENTS.items()}
    subcommands["all"] = AllConfig
    subcommands["plot"] = PlotConfig
    argv = sys.argv[1:] if argv is None else argv
    try:
        with sigterm_as_interrupt():
            return _main(argv, subcommands)
    except KeyboardInterrupt:
        print("python -m bandit: interrupted; finished figures are kept (no file is half-written)", file=sys.stderr)
        return 130


def _main(argv: list[str], subcommands: dict) -> int:
    try:
        token = DEFER_VALIDATION.set(True)  # validate after parsing: bad values become one-line errors below
        try:
            cfg = one_line_parse(
                lambda: tyro.extras.subcommand_cli_from_dict(
                    subcommands, args=argv, prog="python -m bandit", description=__doc__.split("\n\n")[0]
                ),
                "python -m bandit --help",
                argv,
            )
        finally:
            DEFER_VALIDATION.reset(token)
        if isinstance(cfg, ExperimentConfig):
            cfg.validate()
            options, reason = cfg.ignored_options()
            unused = [o for o in options if o in explicit_options(argv)]
            if unused:
                flags = ", ".join("--" + o.replace("_", "-") for o in unused)
                raise ValueError(f"{_name_of(cfg)} does not use {flags} ({reason}); leave it out")
        command = "python -m bandit " + shlex.join(argv)
        if not isinstance(cfg, PlotConfig):  # before any computation: a bad --out fails now, in one line
            names = list(EXPERIMENTS) if isinstance(cfg, AllConfig) else [_name_of(cfg)]
            replaced = prepare_output_dir(cfg.out, _stems(names), cfg.replace_tracked, force=cfg.force)
        if isinstance(cfg, PlotConfig):
            out = cfg.out if cfg.out is not None else Path("runs/redraw") / cfg.path.with_suffix(".png").name
            out = redraw(cfg.path, out, cfg.replace_tracked)  # any lab's figure, drawn by a registered drawer
            print(f"[bandit plot] wrote {out}")
        elif isinstance(cfg, AllConfig):
            total, failed = time.perf_counter(), 0
            overrides = {"out": cfg.out, "seed": cfg.seed, "progress": cfg.progress, "replace_tracked": True}
            if cfg.seeds is not None:
                overrides["seeds"] = cfg.seeds
            if cfg.epochs is not None:
                overrides["epochs"] = cfg.epochs
            configs = {name: cls(**overrides) for name, (cls, _) in EXPERIMENTS.items()}  # all valid before any runs
            for name, experiment_cfg in configs.items():
                failed += _run_one(name, experiment_cfg, command)
            print(f"[bandit all] {len(EXPERIMENTS)} figures in {time.perf_counter() - total:.1f} s")
        else:
            failed = _run_one(_name_of(cfg), cfg, command)
        if not isinstance(cfg, PlotConfig):
            if replaced:
                print(f"[bandit] replaced {len(replaced)} tracked file(s) in {cfg.out} (git diff shows what changed)")
            if failed:
                print(f"[bandit] {failed} claim(s) did not hold with these settings (✗ above): a result, not an error")
    except (ValueError, OSError, json.JSONDecodeError, KeyError) as err:  # OSError: e.g. --out not writable
        print(f"python -m bandit: error: {err}", file=sys.stderr)
        return 2
    return 0


__all__ = ["AllConfig", "PlotConfig", "main"]

if __name__ == "__main__":
    sys.exit(main())
