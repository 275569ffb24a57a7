"""What every bandit experiment shares: the config base class, the registry, and the record writer.

An experiment is a typed config (a subclass of :class:`ExperimentConfig`) and a ``run(cfg) -> dict`` function in its
own module of :mod:`bandit.experiments`, registered here with :func:`register`. :func:`make_record` runs one and wraps
its result in the one provenance schema of :func:`bandit.records.provenance` (command, config, versions, git
revision, hardware, wall clock) plus ``"experiment"``, ``"drawer": "bandit.plotting"`` and ``"seeds"``;
:func:`run_experiment` also writes ``<out>/<stem>.json`` and ``<out>/<stem>.png`` through
:func:`bandit.records.write_figure`, so ``python -m bandit plot <stem>.json`` (:func:`bandit.records.redraw`)
redraws it.
"""

from __future__ import annotations

import contextvars
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch

from bandit.data import PREFERENCES, sample_pairs
from bandit.dynamics import train_many
from bandit.experiments.claims import check_claims
from bandit.methods import METHODS, get_method
from bandit.presets import PAPER
from bandit.problem import BanditProblem, check_distribution
from bandit.records import atomic_write_json, provenance, write_figure

__all__ = [
    "DEFER_VALIDATION",
    "EXPERIMENTS",
    "ExperimentConfig",
    "file_stem",
    "make_record",
    "register",
    "run_experiment",
    "sample_configured",
    "train_configured",
    "trainer_path",
]

Optimizer = Literal["adam", "sgd"]
Preference = Literal["bradley_terry", "reward"]
#: When set (by the CLI while parsing), configs skip validation in __post_init__; the CLI then calls .validate()
#: itself so that a bad option becomes a one-line error message instead of the parser's error box. Not a test switch:
#: tyro builds the config inside its own error handling, so validating there would draw the box; Python callers
#: never set it and get the check at construction.
DEFER_VALIDATION: contextvars.ContextVar[bool] = contextvars.ContextVar("DEFER_VALIDATION", default=False)
#: The module that draws every bandit figure record (``record["drawer"]``, see :func:`bandit.records.redraw`).
DRAWER = "bandit.plotting"
ALL_METHODS = tuple(METHODS)

#: CLI name → (config class, run function), filled by each experiment module with :func:`register`.
EXPERIMENTS: dict[str, tuple[type, Callable]] = {}


def register(name: str, config: type, run: Callable) -> None:
    """Register experiment ``name`` (its CLI name, with dashes): ``run(config_instance) -> dict`` of results."""
    EXPERIMENTS[name] = (config, run)


def _flag(field_name: str) -> str:
    return field_name.replace("_", "-")


#: Largest accepted value of each count: a runaway guard (well above what any figure uses), so a slip such as
#: --epochs 1000000000000 is refused up front instead of running for days or failing to allocate memory.
COUNT_MAX = {"seeds": 10**4, "epochs": 10**5, "num_pairs": 10**7, "batch_size": 10**7, "exact_points": 10**4,
             "exact_betas": 10**4, "sampled_seeds": 10**4, "sampled_steps": 10**6, "flow_steps": 10**6,
             "max_exact_epochs": 10**6, "sizes": 10**7, "sampled_sizes": 10**7}  # fmt: skip
#: Most sampled pairs held at once (seeds × pairs per dataset; ≈ 32 bytes each, so about 0.6 GB).
MAX_PAIRS = 2 * 10**7
#: Base seeds accepted by --seed (seed s of a run uses seed + s; NumPy's generators need seeds below 2**32).
SEED_RANGE = (0, 2**31 - 1)


def _check_grid(name: str, field_name: str, values: tuple, ok: Callable, expected: str) -> None:
    """A non-empty grid of finite values that all satisfy ``ok``; else one ValueError naming the flag."""
    bad = [v for v in values if not (isinstance(v, numbers.Real) and math.isfinite(v) and ok(v))]
    if not values or bad or len(set(values)) != len(values):
        raise ValueError(
            f"{name}: --{_flag(field_name)} must be a non-empty list of distinct values {expected}, "
            f"got {list(values)!r}"
        )


@dataclass
class ExperimentConfig:
    """Options shared by every bandit experiment."""

    _min_seeds: ClassVar[int] = 1  # smallest valid --seeds (the simplex figure allows 0: exact flows only)
    #: Options of the shared config this experiment never reads, and why: on the command line, passing one is an
    #: error naming it (an ignored flag would silently not do what was asked).
    unused_options: ClassVar[tuple[str, ...]] = ()
    unused_reason: ClassVar[str] = ""

    out: Path = Path("runs/bandit")
    """Output directory for <name>.png and <name>.json (created if missing; `make reproduce` writes figures/)."""
    replace_tracked: bool = False
    """Allow overwriting files tracked by git in --out (`make reproduce` passes it): a committed figure is never
    replaced by accident."""
    force: bool = False
    """Overwrite a finished run: an untracked <name>.json or <name>.png already in --out (refused without it)."""
    seeds: int = 10
    """S, number of independent seeds; each seed has its own dataset and shuffling."""
    epochs: int = 100
    """E, epochs (passes over each seed's dataset) of the sampled training."""
    seed: int = 0
    """Base random seed; seed s of the run uses seed + s."""
    progress: bool = True
    """Show tqdm progress bars (--no-progress hides them)."""

    # Problem (shared defaults: the paper's Sec. 5 bandit, see bandit/presets.py).
    rewards: tuple[float, ...] = PAPER["rewards"]
    """R(a), reward of each arm (paper: 2.5, 2, 1)."""
    ref_policy: tuple[float, ...] = PAPER["ref_policy"]
    """π_ref(a), reference policy and initial policy (paper: uniform)."""
    beta: float = PAPER["beta"]
    """β > 0, KL-regularisation strength in J(π) = E_π[R] − β·KL(π‖π_ref) (paper: 0.5)."""
    mu1: tuple[float, ...] = PAPER["mu1"]
    """μ1, behaviour policy of the first arm y of each pair (paper: 0.1, 0.2, 0.7)."""
    mu2: tuple[float, ...] = PAPER["mu2"]
    """μ2, behaviour policy of the second arm y' of each pair (paper: 0.05, 0.05, 0.9)."""
    num_pairs: int = PAPER["num_pairs"]
    """n, pairs per dataset (paper: 10^4)."""
    batch_size: int = PAPER["batch_size"]
    """B, pairs per minibatch (paper: 512)."""
    lr: float = PAPER["lr"]
    """Learning rate of the sampled training (paper: Adam 1e-3)."""
    optimizer: Optimizer = "adam"
    """Optimiser of the sampled training: adam (paper) or sgd."""
    pref_beta: float = PAPER["pref_beta"]
    """β used by IPO (its τ) and DPO; the paper does not state it, we use τ = β = 0.5."""
    preference: Preference = "bradley_terry"
    """IPO/DPO labels: bradley_terry (sampled, as the paper) or reward (higher observed reward wins)."""
    reward_noise: float = 0.0
    """σ ≥ 0 of Gaussian noise added to every observed reward (0 = the paper's exact rewards)."""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if not DEFER_VALIDATION.get():
            self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the option and the fix if any field is invalid (called by __post_init__).

        Every field an experiment adds is checked here by name (counts, rates, grids, arm lists), so a bad value is
        refused before anything is printed, computed or written.
        """
        name = type(self).__name__
        minimum = {"seeds": self._min_seeds, "exact_points": 2, "exact_betas": 2}
        for field_name in ("seeds", "epochs", "num_pairs", "batch_size", "exact_points", "exact_betas",
                           "sampled_seeds", "sampled_steps", "flow_steps", "max_exact_epochs"):  # fmt: skip
            if not hasattr(self, field_name):
                continue
            v, low, high = getattr(self, field_name), minimum.get(field_name, 1), COUNT_MAX[field_name]
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise ValueError(f"{name}: --{_flag(field_name)} must be an integer in [{low}, {high}], got {v!r}")
        low, high = SEED_RANGE
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not low <= self.seed <= high:
            raise ValueError(f"{name}: --seed must be an integer in [{low}, {high}], got {self.seed!r}")
        for field_name in ("lr", "flow_lr", "pref_beta", "threshold"):
            v = getattr(self, field_name, 1.0)
            if not (isinstance(v, numbers.Real) and 0 < v < math.inf):
                raise ValueError(f"{name}: --{_flag(field_name)} must be a finite number > 0, got {v!r}")
        if not (isinstance(self.reward_noise, numbers.Real) and 0 <= self.reward_noise < math.inf):
            raise ValueError(f"{name}: --reward-noise must be a finite number >= 0, got {self.reward_noise!r}")
        _check_grid(name, "alphas", getattr(self, "alphas", (0.0,)), lambda a: 0 <= a <= 1, "in [0, 1]")
        _check_grid(name, "betas", getattr(self, "betas", (1.0,)), lambda b: 0 < b < math.inf, "finite and > 0")
        for field_name in ("sizes", "sampled_sizes"):
            high = COUNT_MAX[field_name]
            _check_grid(name, field_name, getattr(self, field_name, (1,)), lambda n, high=high: 1 <= n <= high,
                        f"integers in [1, {high}]")  # fmt: skip
        for sizes, seeds in (("num_pairs", "seeds"), ("sizes", "seeds"), ("sampled_sizes", "sampled_seeds")):
            n, s = getattr(self, sizes, 0), getattr(self, seeds, 0)
            most = max(n, default=0) if isinstance(n, tuple) else n
            if most * s > MAX_PAIRS:
                raise ValueError(
                    f"{name}: --{_flag(seeds)} × --{_flag(sizes)} asks for {s} × {most} sampled pairs at once, more "
                    f"than {MAX_PAIRS}; lower one of them"
                )
        if self.preference not in PREFERENCES:
            raise ValueError(f"{name}: --preference must be one of {PREFERENCES}, got {self.preference!r}")
        problem = self.problem()  # validates rewards, ref_policy, beta
        arms = problem.num_arms
        check_distribution(name, "--mu1", self.mu1, arms)
        check_distribution(name, "--mu2", self.mu2, arms)
        missing = getattr(self, "missing", None)
        if missing is not None and (
            not missing or any(not 0 <= a < arms for a in missing) or len(set(missing)) != len(missing)
            or len(missing) >= arms
        ):  # fmt: skip
            raise ValueError(
                f"{name}: --missing must name at least one arm, distinct arms in 0..{arms - 1}, and leave at least "
                f"one, got {missing!r}"
            )
        methods = getattr(self, "methods", None)
        if methods is not None and (not methods or len(set(methods)) != len(methods)):
            raise ValueError(f"{name}: --methods must name at least one method, each once, got {list(methods)!r}")
        for m in methods or ():
            get_method(m)

    def ignored_options(self) -> tuple[tuple[str, ...], str]:
        """(options this config will not read, why): :attr:`unused_options` unless a subclass says otherwise for its
        settings (e.g. the simplex figure with --seeds 0 trains nothing on samples)."""
        return self.unused_options, self.unused_reason

    def problem(self) -> BanditProblem:
        """The configured :class:`~bandit.problem.BanditProblem`."""
        return BanditProblem(torch.tensor(self.rewards), torch.tensor(self.ref_policy), self.beta)

    def behaviour(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ1, μ2) as [A] float64 tensors."""
        return torch.tensor(self.mu1, dtype=torch.float64), torch.tensor(self.mu2, dtype=torch.float64)


def sample_configured(
    cfg: ExperimentConfig,
    problem: BanditProblem,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    *,
    num_pairs: int | None = None,
    num_seeds: int | None = None,
    preference: str | None = None,
):
    """``sample_pairs`` with the config's data settings (pairs, seeds, seed, noise, labels); keywords override."""
    return sample_pairs(
        problem,
        mu1,
        mu2,
        num_pairs=cfg.num_pairs if num_pairs is None else num_pairs,
        num_seeds=cfg.seeds if num_seeds is None else num_seeds,
        seed=cfg.seed,
        reward_noise=cfg.reward_noise,
        preference=cfg.preference if preference is None else preference,
    )


def train_configured(cfg: ExperimentConfig, problem: BanditProblem, data, pref_beta: float | None = None) -> dict:
    """``train_many`` of every method of ``cfg`` on ``data`` with the config's optimiser settings (one call site).

    ``pref_beta`` overrides ``cfg.pref_beta`` (IPO's τ and DPO's β), e.g. in the β sweep where τ follows β.
    """
    return train_many(
        cfg.methods,
        problem=problem,
        data=data,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        optimizer=cfg.optimizer,
        seed=cfg.seed,
        pref_beta=cfg.pref_beta if pref_beta is None else pref_beta,
        reward_noise=cfg.reward_noise,
        progress=cfg.progress,
    )


def file_stem(name: str) -> str:
    """File name of an experiment: CLI dashes become underscores (``paper-fig1`` → ``paper_fig1``)."""
    return name.replace("-", "_")


def mean_std(x: torch.Tensor, dim: int = 0) -> tuple[list, list]:
    """(mean, std) over ``dim`` as lists; std is 0 for a single sample."""
    std = x.std(dim=dim) if x.shape[dim] > 1 else torch.zeros_like(x.mean(dim=dim))
    return x.mean(dim=dim).tolist(), std.tolist()


def trainer_path(hists: dict) -> str | None:
    """The minibatch path the sampled trainer ran ("count" or "pair", see :mod:`bandit.dynamics`), or None."""
    paths = sorted({h.path for h in hists.values()})
    return "+".join(paths) if paths else None


def _check(fn: str, name: str, cfg: ExperimentConfig) -> Callable:
    if name not in EXPERIMENTS:
        raise ValueError(f"{fn}: unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    cls, run = EXPERIMENTS[name]
    if not isinstance(cfg, cls):
        raise ValueError(f"{fn}: {name} needs a {cls.__name__}, got {type(cfg).__name__}")
    return run


def make_record(name: str, cfg: ExperimentConfig, command: str | None = None) -> dict:
    """Run experiment ``name`` with ``cfg`` and return its full record (provenance + results), writing nothing.

    The record is what :func:`run_experiment` writes to ``<out>/<stem>.json``: the keys of
    :func:`bandit.records.provenance` (``command``, ``config``, ``versions``, ``git_revision``, ``hardware``,
    ``wall_clock_s``), ``experiment`` (the file stem), ``drawer`` (``"bandit.plotting"``), ``seeds``, and the
    experiment's data. Draw it with :func:`bandit.plotting.draw_record` (inline, e.g. in a notebook).

    Raises:
        ValueError if ``name`` is unknown or ``cfg`` is not that experiment's config class.
    """
    run = _check("make_record", name, cfg)
    start = time.perf_counter()
    payload = run(cfg)
    wall = time.perf_counter() - start
    record = {"experiment": file_stem(name), "drawer": DRAWER}
    record.update(provenance(command or f"python -m bandit {name} --out {cfg.out}", cfg, wall))
    record["seeds"] = [cfg.seed + s for s in range(cfg.seeds)]
    record.update(payload)
    record["claims"] = check_claims(file_stem(name), record)  # [{"text", "holds"}], checked on this run's numbers
    return record


def run_experiment(name: str, cfg: ExperimentConfig, command: str | None = None, plot: bool = True) -> Path:
    """Run experiment ``name`` with ``cfg``, write ``<out>/<stem>.json`` and (``plot``) ``<out>/<stem>.png``, both
    atomically (:func:`bandit.records.write_figure`).

    Returns:
        The JSON path.
    """
    _check("run_experiment", name, cfg)
    record = make_record(name, cfg, command)
    stem = cfg.out / file_stem(name)
    if plot:
        from bandit.plotting import draw_record  # matplotlib: only when drawing

        write_figure(record, draw_record(record), stem)
    else:
        atomic_write_json(stem.with_suffix(".json"), record)
    return stem.with_suffix(".json")
