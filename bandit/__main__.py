"""The bandit lab's command line: run an experiment, all of them, or redraw a figure from its JSON.

Examples::

    python -m bandit paper-fig1 --out figures --seeds 10 --epochs 100
    python -m bandit all --out figures
    python -m bandit plot figures/paper_fig1.json

Every experiment writes ``<out>/<name>.json`` (config, seeds, curves and the provenance of ``bandit.records``) and
``<out>/<name>.png`` (file names use underscores: ``paper_fig1``, ``offpolicy_sweep``, ``beta_sweep``,
``data_size``, ``support``, ``simplex``). ``python -m bandit <name> --help`` lists every option with its default.
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

from bandit.experiments import DEFER_VALIDATION, EXPERIMENTS, ExperimentConfig, run_experiment
from bandit.records import redraw


@dataclass
class AllConfig:
    """all: run every bandit experiment with its defaults (the figures of `make reproduce`)."""

    out: Path = Path("figures")
    """Output directory for every <name>.png and <name>.json."""
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
    """Where to write the PNG (default: the JSON path with .png)."""


def _command() -> str:
    return "python -m bandit " + shlex.join(sys.argv[1:])


def _print_config(name: str, cfg) -> None:
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    print(f"[bandit {name}] " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


def _run_one(name: str, cfg: ExperimentConfig, command: str) -> None:
    _print_config(name, cfg)
    start = time.perf_counter()
    path = run_experiment(name, cfg, command)
    print(f"[bandit {name}] wrote {path} and {path.with_suffix('.png')} in {time.perf_counter() - start:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run, and return the exit code (user errors: one line, code 2)."""
    torch.set_num_threads(1)  # tiny tensors: one thread is faster and keeps runs reproducible
    subcommands: dict = {name: cls for name, (cls, _) in EXPERIMENTS.items()}
    subcommands["all"] = AllConfig
    subcommands["plot"] = PlotConfig
    argv = sys.argv[1:] if argv is None else argv
    try:
        token = DEFER_VALIDATION.set(True)  # validate after parsing: bad values become one-line errors below
        try:
            cfg = tyro.extras.subcommand_cli_from_dict(
                subcommands, args=argv, prog="python -m bandit", description=__doc__.split("\n\n")[0]
            )
        finally:
            DEFER_VALIDATION.reset(token)
        if isinstance(cfg, ExperimentConfig):
            cfg.validate()
        command = "python -m bandit " + shlex.join(argv)
        if isinstance(cfg, PlotConfig):
            out = redraw(cfg.path, cfg.out)  # any lab's figure: the record names its drawing module
            print(f"[bandit plot] wrote {out}")
        elif isinstance(cfg, AllConfig):
            total = time.perf_counter()
            for name, (cls, _) in EXPERIMENTS.items():
                overrides = {"out": cfg.out, "seed": cfg.seed, "progress": cfg.progress}
                if cfg.seeds is not None:
                    overrides["seeds"] = cfg.seeds
                if cfg.epochs is not None:
                    overrides["epochs"] = cfg.epochs
                _run_one(name, cls(**overrides), command)
            print(f"[bandit all] {len(EXPERIMENTS)} figures in {time.perf_counter() - total:.1f} s")
        else:
            name = next(n for n, (cls, _) in EXPERIMENTS.items() if type(cfg) is cls)
            _run_one(name, cfg, command)
    except (ValueError, FileNotFoundError, json.JSONDecodeError, KeyError) as err:
        print(f"python -m bandit: error: {err}", file=sys.stderr)
        return 2
    return 0


__all__ = ["AllConfig", "PlotConfig", "main"]

if __name__ == "__main__":
    sys.exit(main())
