"""The bandit experiments: one typed config and one ``run_*`` function per figure, each returning a JSON-ready record.

``python -m bandit <name>`` (see ``bandit/__main__.py``) runs one, writes ``<out>/<file>.json`` atomically and draws
``<out>/<file>.png`` from that JSON (:mod:`bandit.plotting`), so ``python -m bandit plot <file>.json`` redraws it
without retraining. File names use underscores, CLI names dashes:

==================  ===================  ==============================================================
CLI name            files                question
==================  ===================  ==============================================================
``paper-fig1``      ``paper_fig1``       the paper's Sec. 5 bandit: regret vs epoch per method (Fig. 1)
``offpolicy-sweep`` ``offpolicy_sweep``  final regret vs how off-policy the data are (μ_α family)
``beta-sweep``      ``beta_sweep``       final regret and KL(π‖π_ref) vs β
``data-size``       ``data_size``        CoPG's finite-sample error vs number of pairs (log–log)
``support``         ``support``          μ1, μ2 missing an arm: what each method learns
``simplex``         ``simplex``          3-arm trajectories on the probability simplex
==================  ===================  ==============================================================
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch

from bandit.data import PREFERENCES, offpolicy_family, partial_support, sample_pairs
from bandit.dynamics import exact_flow, train_many, train_sampled
from bandit.methods import METHODS, get_method
from bandit.policies import policy
from bandit.presets import PAPER
from bandit.problem import BanditProblem
from bandit.stationary import stationary_point

__all__ = [
    "BetaSweepConfig",
    "DataSizeConfig",
    "ExperimentConfig",
    "OffPolicySweepConfig",
    "PaperFig1Config",
    "SimplexConfig",
    "SupportConfig",
    "empirical_copg_optimum",
    "file_stem",
    "make_record",
    "run_beta_sweep",
    "run_data_size",
    "run_experiment",
    "run_offpolicy_sweep",
    "run_paper_fig1",
    "run_simplex",
    "run_support",
    "simplex_trajectory",
    "write_json_atomic",
]

Optimizer = Literal["adam", "sgd"]
#: When set (by the CLI while parsing), configs skip validation in __post_init__; the CLI then calls .validate()
#: itself so that a bad option becomes a one-line error message instead of the parser's error box.
DEFER_VALIDATION: contextvars.ContextVar[bool] = contextvars.ContextVar("DEFER_VALIDATION", default=False)
Preference = Literal["bradley_terry", "reward"]
_ALL = tuple(METHODS)


@dataclass
class ExperimentConfig:
    """Options shared by every bandit experiment."""

    _min_seeds: ClassVar[int] = 1  # smallest valid --seeds (the simplex figure allows 0: exact flows only)

    out: Path = Path("figures")
    """Output directory for <name>.png and <name>.json (created if missing)."""
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
    ipo_beta: float = PAPER["ipo_beta"]
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
        """Raise ValueError naming the option and the fix if any field is invalid (called by __post_init__)."""
        name = type(self).__name__
        for field_name in ("seeds", "epochs", "num_pairs", "batch_size"):
            v = getattr(self, field_name)
            low = {"epochs": 0, "seeds": self._min_seeds}.get(field_name, 1)
            if not isinstance(v, int) or v < low:
                raise ValueError(f"{name}: --{field_name.replace('_', '-')} must be an integer >= {low}, got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"{name}: --lr must be a finite float > 0, got {self.lr!r}")
        if not self.reward_noise >= 0:
            raise ValueError(f"{name}: --reward-noise must be >= 0, got {self.reward_noise!r}")
        if self.preference not in PREFERENCES:
            raise ValueError(f"{name}: --preference must be one of {PREFERENCES}, got {self.preference!r}")
        self.problem()  # validates rewards, ref_policy, beta
        for m in getattr(self, "methods", ()):
            get_method(m)

    def problem(self) -> BanditProblem:
        """The configured :class:`~bandit.problem.BanditProblem`."""
        return BanditProblem(torch.tensor(self.rewards), torch.tensor(self.ref_policy), self.beta)

    def behaviour(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ1, μ2) as [A] float64 tensors."""
        return torch.tensor(self.mu1, dtype=torch.float64), torch.tensor(self.mu2, dtype=torch.float64)


@dataclass
class PaperFig1Config(ExperimentConfig):
    """paper-fig1: the paper's Sec. 5 bandit with its literal hyperparameters; regret vs epoch per method."""

    methods: tuple[str, ...] = ("copg", "ipo", "pg", "pg_value", "dpo", "onpolicy")
    """Methods to train (any of copg, ipo, dpo, pg, pg_value, pg_mean, pg_is, onpolicy)."""
    threshold: float = 1e-3
    """Regret level for the report 'CoPG gets below <threshold> at epoch …'."""
    max_exact_epochs: int = 1000
    """How far (in epochs) the noise-free Adam flow is followed to find when CoPG crosses the threshold."""


@dataclass
class OffPolicySweepConfig(ExperimentConfig):
    """offpolicy-sweep: final regret vs α with μ1 = μ2 = μ_α ∝ π_ref·exp((1 − 2α)R/β) (α = 0: π*; α = 1: far)."""

    seeds: int = 5
    """S, seeds per α value (the α values are folded into the seed axis: one vectorised run per method)."""
    epochs: int = 20
    """E, epochs of the sampled training (with lr 3e-2 the runs settle near their stationary points)."""
    lr: float = 3e-2
    """Learning rate (larger than the paper's 1e-3 so the runs reach their fixed points in 20 epochs)."""
    alphas: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    """α values of the sampled runs, in [0, 1]."""
    exact_points: int = 21
    """Number of α values on [0, 1] for the exact stationary-regret curves."""
    methods: tuple[str, ...] = ("copg", "ipo", "dpo", "pg", "pg_value")
    """Methods trained with samples (the exact curves cover every method)."""


@dataclass
class BetaSweepConfig(ExperimentConfig):
    """beta-sweep: final regret and KL(π‖π_ref) vs β on the paper's μ1, μ2 (IPO/DPO use τ = β)."""

    seeds: int = 5
    """S, seeds per β value."""
    epochs: int = 20
    """E, epochs of the sampled training."""
    lr: float = 3e-2
    """Learning rate (larger than the paper's 1e-3 so the runs reach their fixed points in 20 epochs)."""
    betas: tuple[float, ...] = (0.1, 0.5, 2.0)
    """β values of the sampled runs (> 0)."""
    exact_betas: int = 13
    """Number of log-spaced β values on [0.05, 5] for the exact stationary curves."""
    methods: tuple[str, ...] = ("copg", "ipo", "pg", "pg_value")
    """Methods trained with samples (the exact curves cover every method)."""


@dataclass
class DataSizeConfig(ExperimentConfig):
    """data-size: CoPG regret vs number of pairs n (log–log): the finite-sample error of the empirical objective."""

    seeds: int = 50
    """S, datasets per size for the exact empirical optimum."""
    reward_noise: float = 1.0
    """σ of the reward noise (with σ = 0 the empirical optimum is exactly π* once every arm is seen)."""
    sizes: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)
    """Dataset sizes n for the exact empirical CoPG optimum."""
    sampled_sizes: tuple[int, ...] = (100, 1000, 10000)
    """Dataset sizes for sampled Adam training (a subset of the picture, same noise)."""
    sampled_seeds: int = 5
    """Seeds per size for the sampled training."""
    sampled_steps: int = 600
    """Adam steps of each sampled run (epochs = steps / ⌈n/B⌉)."""
    lr: float = 1e-2
    """Learning rate of the sampled training."""


@dataclass
class SupportConfig(ExperimentConfig):
    """support: μ1, μ2 with arms removed (Theorem 1's support assumption broken); what each method learns."""

    seeds: int = 5
    """S, seeds of the sampled training."""
    epochs: int = 20
    """E, epochs of the sampled training."""
    lr: float = 3e-2
    """Learning rate (larger than the paper's 1e-3 so the runs reach their fixed points in 20 epochs)."""
    missing: tuple[int, ...] = (0,)
    """Arms removed from both μ1 and μ2 (default: arm 0, the best arm)."""
    methods: tuple[str, ...] = _ALL
    """Methods to run."""


@dataclass
class SimplexConfig(ExperimentConfig):
    """simplex: 3-arm trajectories on the probability simplex from π_ref, with π* and every stationary point."""

    _min_seeds: ClassVar[int] = 0  # seeds = 0 draws the exact flows only

    seeds: int = 1
    """S, sampled trajectories per method (0 = exact flows only)."""
    epochs: int = 20
    """E, epochs of the sampled trajectories."""
    lr: float = 3e-2
    """Learning rate of both the exact Adam flow and the sampled runs."""
    flow_steps: int = 4000
    """Steps of the exact expected-gradient flow (about 500 points of each are recorded)."""
    flow_optimizer: Optimizer = "sgd"
    """Optimiser of the exact flow: sgd (plain gradient flow, the geometry of the expected objective) or adam."""
    flow_lr: float = 0.2
    """Step size of the exact flow."""
    methods: tuple[str, ...] = _ALL
    """Methods to draw."""


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: records, atomic writes, provenance
# ----------------------------------------------------------------------------------------------------------------


def file_stem(name: str) -> str:
    """File name of an experiment: CLI dashes become underscores (``paper-fig1`` → ``paper_fig1``)."""
    return name.replace("-", "_")


def write_json_atomic(path: Path, obj: dict) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temp file in the same directory, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, allow_nan=False)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a figure record is a normal repository file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _git_revision() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _config_dict(cfg: ExperimentConfig) -> dict:
    d = asdict(cfg)
    d["out"] = str(cfg.out)
    return d


def _provenance(name: str, cfg: ExperimentConfig, command: str | None, wall: float) -> dict:
    from bandit import __version__

    return {
        "experiment": file_stem(name),
        "config": _config_dict(cfg),
        "seeds": [cfg.seed + s for s in range(cfg.seeds)],
        "command": command or f"python -m bandit {name} --out {cfg.out}",
        "version": __version__,
        "git_revision": _git_revision(),
        "torch_version": torch.__version__,
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "wall_clock_s": round(wall, 3),
    }


def _mean_std(x: torch.Tensor, dim: int = 0) -> tuple[list, list]:
    std = x.std(dim=dim) if x.shape[dim] > 1 else torch.zeros_like(x.mean(dim=dim))
    return x.mean(dim=dim).tolist(), std.tolist()


def _first_below(values: list[float], threshold: float, offset: int = 1) -> int | None:
    for i, v in enumerate(values):
        if v < threshold:
            return i + offset
    return None


# ----------------------------------------------------------------------------------------------------------------
# paper-fig1
# ----------------------------------------------------------------------------------------------------------------


def run_paper_fig1(cfg: PaperFig1Config) -> dict:
    """The paper's Fig. 1: sampled training of each method (S seeds), exact stationary regrets, and the claims.

    Returns the ``paper_fig1`` record (see the README for the JSON contract): ``epochs`` [1..E] and, per method,
    ``regret_mean``/``regret_std`` [E], ``regret_per_seed`` [S][E], ``final_policy_mean`` [A],
    ``stationary_policy`` [A], ``stationary_regret``, ``exact_adam_regret`` [E] (noise-free Adam, same steps), plus
    a ``summary`` with the four claims in numbers.
    """
    problem = cfg.problem()
    mu1, mu2 = cfg.behaviour()
    data = sample_pairs(problem, mu1, mu2, cfg.num_pairs, cfg.seeds, cfg.seed, cfg.reward_noise, cfg.preference)
    steps_per_epoch = math.ceil(cfg.num_pairs / cfg.batch_size)
    methods = {}
    hists = train_many(
        cfg.methods, problem, data, cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer, cfg.seed, None, cfg.ipo_beta,
        cfg.reward_noise, cfg.progress,
    )  # fmt: skip
    for name in cfg.methods:
        hist = hists[name]
        regret = hist.regret  # [E+1, S]
        sp = stationary_point(name, problem, mu1, mu2, cfg.ipo_beta, cfg.preference)
        flow = exact_flow(
            name, problem, mu1, mu2, cfg.epochs * steps_per_epoch, cfg.lr, cfg.optimizer,
            record_every=steps_per_epoch, pref_beta=cfg.ipo_beta, preference=cfg.preference,
        )  # fmt: skip
        mean, std = _mean_std(regret[1:], dim=1)
        pol_mean, pol_std = _mean_std(hist.policies[-1], dim=0)
        kl_ref = problem.kl_to_ref(hist.policies[1:]).mean(1)
        methods[name] = {
            "label": METHODS[name].label,
            "regret_mean": mean,
            "regret_std": std,
            "regret_per_seed": regret[1:].T.tolist(),
            "initial_regret": regret[0].mean().item(),
            "final_policy_mean": pol_mean,
            "final_policy_std": pol_std,
            "stationary_policy": sp.policy.tolist(),
            "stationary_regret": max(sp.regret, 0.0),
            "stationary_residual": sp.residual,
            "exact_adam_regret": problem.regret(policy(flow[1:])).tolist(),
            "kl_to_ref_mean": kl_ref.tolist(),
        }
    summary = _fig1_summary(cfg, problem, mu1, mu2, methods, steps_per_epoch)
    return {
        "epochs": list(range(1, cfg.epochs + 1)),
        "steps_per_epoch": steps_per_epoch,
        "train_wall_clock_s": round(next(iter(hists.values())).wall_clock_s, 3) if hists else 0.0,
        "problem": problem.to_dict(),
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "methods": methods,
        "summary": summary,
    }


def _fig1_summary(cfg, problem, mu1, mu2, methods, steps_per_epoch) -> dict:
    e = cfg.epochs
    s: dict = {"epochs": e, "threshold": cfg.threshold}
    claims = []
    if "copg" in methods:
        c = methods["copg"]
        s["copg_final_regret_mean"] = c["regret_mean"][-1] if e else None
        s["copg_final_regret_std"] = c["regret_std"][-1] if e else None
        s["copg_final_kl_to_optimum"] = s["copg_final_regret_mean"] / problem.beta if e else None
        s["copg_epoch_below_threshold_sampled"] = _first_below(c["regret_mean"], cfg.threshold)
        # The flow is deterministic, so a shorter run is an exact prefix of a longer one: try a short horizon first
        # and run all max_exact_epochs only if the crossing (and twice it, for the stored continuation) lies beyond.
        for horizon in sorted({min(cfg.max_exact_epochs, max(4 * e, 100)), cfg.max_exact_epochs}):
            flow = exact_flow(
                "copg", problem, mu1, mu2, horizon * steps_per_epoch, cfg.lr, cfg.optimizer,
                record_every=steps_per_epoch,
            )  # fmt: skip
            flow_regret = problem.regret(policy(flow[1:])).tolist()
            crossing = _first_below(flow_regret, cfg.threshold)
            if crossing is not None and max(e, 2 * crossing) <= horizon:
                break
        s["copg_epoch_below_threshold_exact_adam"] = crossing
        crossing = crossing or cfg.max_exact_epochs
        s["copg_exact_adam_continuation"] = flow_regret[: max(e, min(cfg.max_exact_epochs, 2 * crossing))]
        claims.append(
            f"CoPG → zero regret: its stationary point is π* (regret {c['stationary_regret']:.1e}); at epoch {e} "
            f"with the literal hyperparameters (Adam lr {cfg.lr:g}, batch {cfg.batch_size}) its regret is "
            f"{s['copg_final_regret_mean']:.2e} ± {s['copg_final_regret_std']:.1e} (from {c['initial_regret']:.3f}); "
            f"it falls below {cfg.threshold:g} at epoch {s['copg_epoch_below_threshold_exact_adam']} "
            "(noise-free Adam with the same steps)."
        )
    if "ipo" in methods:
        c = methods["ipo"]
        claims.append(
            f"IPO is biased: regret {c['regret_mean'][-1]:.3f} at epoch {e}, stationary regret "
            f"{c['stationary_regret']:.3f} > 0."
        )
    if "pg" in methods:
        c = methods["pg"]
        claims.append(
            f"PG with b = 0 gets worse: regret rises from {c['initial_regret']:.3f} to {c['regret_mean'][-1]:.3f} "
            f"(stationary {c['stationary_regret']:.3f})."
        )
    if "pg_value" in methods and "pg" in methods:
        c = methods["pg_value"]
        claims.append(
            f"PG with the exact value baseline is better than b = 0 ({c['regret_mean'][-1]:.4f} vs "
            f"{methods['pg']['regret_mean'][-1]:.3f} at epoch {e}) but biased: stationary regret "
            f"{c['stationary_regret']:.4f} > 0."
        )
    s["claims"] = claims
    return s


# ----------------------------------------------------------------------------------------------------------------
# offpolicy-sweep
# ----------------------------------------------------------------------------------------------------------------


def run_offpolicy_sweep(cfg: OffPolicySweepConfig) -> dict:
    """Final regret vs α (μ1 = μ2 = μ_α): exact stationary regret of every method on a dense α grid, and sampled
    runs (α folded into the seed axis) for ``cfg.methods``.

    Record: ``alphas`` [N], ``exact_alphas`` [M], per method ``exact_regret`` [M] and (sampled methods)
    ``regret_mean``/``regret_std`` [N], ``regret_per_seed`` [N][S].
    """
    problem = cfg.problem()
    alphas = torch.tensor(cfg.alphas, dtype=torch.float64)
    exact_alphas = torch.linspace(0, 1, cfg.exact_points, dtype=torch.float64)
    mus = offpolicy_family(problem, exact_alphas)  # [M, A]
    methods: dict = {name: {"label": METHODS[name].label} for name in METHODS}
    for name in METHODS:
        methods[name]["exact_regret"], guess = [], None
        for mu in mus:  # each solution warm-starts the next α's root finding
            sp = stationary_point(name, problem, mu, mu, cfg.ipo_beta, cfg.preference, guess=guess)
            methods[name]["exact_regret"].append(max(sp.regret, 0.0))
            guess = sp.logits
    n_a, s = len(cfg.alphas), cfg.seeds
    mu_runs = offpolicy_family(problem, alphas).repeat_interleave(s, dim=0)  # [N·S, A], run = α-major
    data = sample_pairs(problem, mu_runs, mu_runs, cfg.num_pairs, n_a * s, cfg.seed, cfg.reward_noise, cfg.preference)
    hists = train_many(
        cfg.methods, problem, data, cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer, cfg.seed, None, cfg.ipo_beta,
        cfg.reward_noise, cfg.progress,
    )  # fmt: skip
    for name in cfg.methods:
        final = hists[name].regret[-1].reshape(n_a, s)  # [N, S]
        mean, std = _mean_std(final, dim=1)
        methods[name].update(regret_mean=mean, regret_std=std, regret_per_seed=final.tolist())
    return {
        "alphas": list(cfg.alphas),
        "exact_alphas": exact_alphas.tolist(),
        "behaviour": "mu1 = mu2 = mu_alpha ∝ ref_policy·exp((1 − 2α)·R/β)",
        "problem": problem.to_dict(),
        "sampled_methods": list(cfg.methods),
        "methods": methods,
    }


# ----------------------------------------------------------------------------------------------------------------
# beta-sweep
# ----------------------------------------------------------------------------------------------------------------


def run_beta_sweep(cfg: BetaSweepConfig) -> dict:
    """Final regret and KL(π‖π_ref) vs β (IPO/DPO with τ = β), exact for every method, sampled for ``cfg.methods``.

    Record: ``exact_betas`` [M], ``betas`` [N], ``optimal_kl_to_ref`` [M] (KL(π*‖π_ref)), per method
    ``exact_regret``/``exact_kl_to_ref`` [M] and (sampled) ``regret_mean``/``regret_std``/``kl_to_ref_mean``/
    ``kl_to_ref_std`` [N].
    """
    base = cfg.problem()
    mu1, mu2 = cfg.behaviour()
    exact_betas = np.geomspace(0.05, 5.0, cfg.exact_betas).tolist()
    methods: dict = {
        name: {"label": METHODS[name].label, "exact_regret": [], "exact_kl_to_ref": []} for name in METHODS
    }
    optimal_kl, guesses = [], dict.fromkeys(METHODS)
    for b in reversed(exact_betas):  # from large β (near π_ref, easy) down; each solution warm-starts the next β
        problem = base.with_beta(b)
        optimal_kl.append(problem.kl_to_ref(problem.optimal_policy).item())
        for name in METHODS:
            sp = stationary_point(name, problem, mu1, mu2, b, cfg.preference, guess=guesses[name])
            guesses[name] = sp.logits
            methods[name]["exact_regret"].append(max(sp.regret, 0.0))
            methods[name]["exact_kl_to_ref"].append(problem.kl_to_ref(sp.policy).item())
    optimal_kl.reverse()
    for name in METHODS:
        methods[name]["exact_regret"].reverse()
        methods[name]["exact_kl_to_ref"].reverse()
    for name in cfg.methods:
        methods[name].update(regret_mean=[], regret_std=[], kl_to_ref_mean=[], kl_to_ref_std=[])
    for b in cfg.betas:
        problem = base.with_beta(b)
        data = sample_pairs(problem, mu1, mu2, cfg.num_pairs, cfg.seeds, cfg.seed, cfg.reward_noise, cfg.preference)
        hists = train_many(
            cfg.methods, problem, data, cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer, cfg.seed, None, b,
            cfg.reward_noise, cfg.progress,
        )  # fmt: skip
        for name in cfg.methods:
            final = hists[name].policies[-1]
            for key, val in (("regret", problem.regret(final)), ("kl_to_ref", problem.kl_to_ref(final))):
                mean, std = _mean_std(val)
                methods[name][f"{key}_mean"].append(mean)
                methods[name][f"{key}_std"].append(std)
    return {
        "betas": list(cfg.betas),
        "exact_betas": exact_betas,
        "optimal_kl_to_ref": optimal_kl,
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "sampled_methods": list(cfg.methods),
        "methods": methods,
    }


# ----------------------------------------------------------------------------------------------------------------
# data-size
# ----------------------------------------------------------------------------------------------------------------


def empirical_copg_optimum(problem: BanditProblem, arms: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """Exact maximiser of the empirical CoPG objective (paper Eq. 17) on S datasets, by least squares.

    Maximising Σ_j ℓ_CoPG(y_j, y'_j) ⇔ minimising Σ_j (ΔR_j − β·(h_{y_j} − h_{y'_j}))², h = θ − ln π_ref: a graph
    Laplacian system L·h = Σ_j ΔR_j·(e_{y_j} − e_{y'_j})/β, solved with the pseudo-inverse (the minimum-norm solution
    keeps unobserved arms at h = 0 and Σh = 0, as gradient descent from π_ref would).

    Args:
        problem: the bandit.
        arms: [S, n, 2] long pairs.
        rewards: [S, n, 2] observed rewards.
    Returns:
        [S, A] logits of the empirical optimum.
    """
    s, n, _ = arms.shape
    a = problem.num_arms
    # With d_j = e_{y_j} − e_{y'_j}: L = Σ_j d_j d_jᵀ = diag(C𝟙 + Cᵀ𝟙) − C − Cᵀ from the pair counts C[y, y'], and
    # Σ_j ΔR_j·d_j by two scatter-adds (pairs with y = y' have d_j = 0: masked). O(n + A²) instead of [S, n, A].
    y = arms[..., 0] + a * torch.arange(s)[:, None]  # [S, n] flat index s·A + y
    y2 = arms[..., 1] + a * torch.arange(s)[:, None]
    counts = torch.bincount((y * a + arms[..., 1]).reshape(-1), minlength=s * a * a).view(s, a, a).to(torch.float64)
    lap = torch.diag_embed(counts.sum(2) + counts.sum(1)) - counts - counts.transpose(1, 2)  # [S, A, A]
    d_r = ((rewards[..., 0] - rewards[..., 1]) * (arms[..., 0] != arms[..., 1])).reshape(-1)  # [S·n] ΔR_j
    rhs = torch.zeros(s * a, dtype=torch.float64).index_add_(0, y.reshape(-1), d_r).index_add_(0, y2.reshape(-1), -d_r)
    rhs = rhs.view(s, a) / problem.beta  # [S, A]
    h = (torch.linalg.pinv(lap, hermitian=True) @ rhs[..., None]).squeeze(-1)
    return problem.ref_log_policy + h


def run_data_size(cfg: DataSizeConfig) -> dict:
    """CoPG's finite-sample error: regret of the exact empirical optimum vs n (log–log, slope fitted), and sampled
    Adam runs at a few sizes.

    Record: ``sizes`` [M], ``regret_mean``/``regret_std``/``regret_median`` [M], ``regret_per_seed`` [M][S],
    ``slope`` (least-squares fit of log regret on log n for n ≥ 100), ``sampled`` = {``sizes``, ``regret_mean``,
    ``regret_std``, ``empirical_optimum_regret_mean``}.
    """
    problem = cfg.problem()
    mu1, mu2 = cfg.behaviour()
    per_size = []
    for n in cfg.sizes:
        data = sample_pairs(problem, mu1, mu2, n, cfg.seeds, cfg.seed, cfg.reward_noise, "reward")
        per_size.append(problem.regret(policy(empirical_copg_optimum(problem, data.arms, data.rewards))))
    reg = torch.stack(per_size)  # [M, S]
    mean, std = _mean_std(reg, dim=1)
    sizes = np.array(cfg.sizes, dtype=float)
    keep = sizes >= 100
    slope = float(np.polyfit(np.log(sizes[keep]), np.log(np.array(mean)[keep]), 1)[0]) if keep.sum() >= 2 else None
    sampled = {"sizes": list(cfg.sampled_sizes), "regret_mean": [], "regret_std": [], "epochs": [],
               "empirical_optimum_regret_mean": []}  # fmt: skip
    for n in cfg.sampled_sizes:
        data = sample_pairs(problem, mu1, mu2, n, cfg.sampled_seeds, cfg.seed, cfg.reward_noise, "reward")
        epochs = max(1, round(cfg.sampled_steps / math.ceil(n / cfg.batch_size)))
        hist = train_sampled(
            "copg", problem, data, epochs, cfg.batch_size, cfg.lr, cfg.optimizer, cfg.seed, progress=cfg.progress
        )
        m, sd = _mean_std(hist.regret[-1])
        sampled["regret_mean"].append(m)
        sampled["regret_std"].append(sd)
        sampled["epochs"].append(epochs)
        opt = problem.regret(policy(empirical_copg_optimum(problem, data.arms, data.rewards)))
        sampled["empirical_optimum_regret_mean"].append(opt.mean().item())
    return {
        "sizes": list(cfg.sizes),
        "regret_mean": mean,
        "regret_std": std,
        "regret_median": reg.median(dim=1).values.tolist(),
        "regret_per_seed": reg.tolist(),
        "slope": slope,
        "reward_noise": cfg.reward_noise,
        "sampled": sampled,
        "problem": problem.to_dict(),
    }


# ----------------------------------------------------------------------------------------------------------------
# support
# ----------------------------------------------------------------------------------------------------------------


def run_support(cfg: SupportConfig) -> dict:
    """μ1, μ2 with ``cfg.missing`` arms removed: final sampled policy, stationary policy and regret per method, and
    how far the logits of the missing arms moved (exactly 0 for copg, ipo, dpo, pg_mean).

    Record: ``mu1``, ``mu2`` [A], ``missing``, per method ``final_policy_mean``/``final_policy_std`` [A],
    ``final_regret_mean``/``final_regret_std``, ``stationary_policy`` [A], ``stationary_regret``,
    ``missing_logit_change`` (mean over seeds of max_a∈missing |θ_a(E) − θ_a(0)|; exactly 0 when the method's
    expected and sampled gradients vanish off the support).
    """
    problem = cfg.problem()
    mu1, mu2 = cfg.behaviour()
    mu1, mu2 = partial_support(mu1, cfg.missing), partial_support(mu2, cfg.missing)
    data = sample_pairs(problem, mu1, mu2, cfg.num_pairs, cfg.seeds, cfg.seed, cfg.reward_noise, cfg.preference)
    missing = list(cfg.missing)
    methods = {}
    hists = train_many(
        cfg.methods, problem, data, cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer, cfg.seed, None, cfg.ipo_beta,
        cfg.reward_noise, cfg.progress,
    )  # fmt: skip
    for name in cfg.methods:
        hist = hists[name]
        sp = stationary_point(name, problem, mu1, mu2, cfg.ipo_beta, cfg.preference)
        final = hist.policies[-1]
        pm, ps = _mean_std(final)
        rm, rs = _mean_std(problem.regret(final))
        raw = (hist.logits[-1][:, missing] - hist.logits[0][:, missing]).abs().amax(1)  # [S]
        methods[name] = {
            "label": METHODS[name].label,
            "final_policy_mean": pm,
            "final_policy_std": ps,
            "final_regret_mean": rm,
            "final_regret_std": rs,
            "stationary_policy": sp.policy.tolist(),
            "stationary_regret": max(sp.regret, 0.0),
            "missing_logit_change": raw.mean().item(),
        }
    return {
        "missing": missing,
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "problem": problem.to_dict(),
        "methods": methods,
    }


# ----------------------------------------------------------------------------------------------------------------
# simplex
# ----------------------------------------------------------------------------------------------------------------


def simplex_trajectory(
    method: str,
    problem: BanditProblem,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    steps: int = 3000,
    lr: float = 1e-2,
    optimizer: str = "adam",
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
    record_every: int = 10,
) -> torch.Tensor:
    """Policy trajectory of the exact expected-gradient flow from π_ref, for any β, μ1, μ2 and method.

    Args:
        method, problem, mu1, mu2, pref_beta, preference: as in :func:`bandit.dynamics.exact_flow`.
        steps, lr, optimizer, record_every: the flow's budget and optimiser.
    Returns:
        [T, A] policies (plot 3-arm ones with :func:`bandit.plotting.simplex_xy`).
    """
    flow = exact_flow(method, problem, mu1, mu2, steps, lr, optimizer, None, record_every, pref_beta, preference)
    return policy(flow)


def run_simplex(cfg: SimplexConfig) -> dict:
    """3-arm trajectories: the exact expected-gradient flow of every method from π_ref and (``seeds`` ≥ 1) sampled
    per-epoch trajectories, with π_ref, π* and each method's stationary point.

    Record: ``ref_policy``, ``optimal_policy`` [3], per method ``flow`` [T, 3], ``sampled`` [S][E+1][3],
    ``stationary_policy`` [3], ``stationary_regret`` (both null, with the reason in ``stationary_error``, when the
    method's expected objective has no finite stationary point for these μ1, μ2: the figure then draws no circle).
    """
    problem = cfg.problem()
    if problem.num_arms != 3:
        raise ValueError(f"run_simplex: the simplex figure needs 3 arms, got {problem.num_arms}; pass 3 rewards")
    mu1, mu2 = cfg.behaviour()
    data = None
    if cfg.seeds > 0:
        data = sample_pairs(problem, mu1, mu2, cfg.num_pairs, cfg.seeds, cfg.seed, cfg.reward_noise, cfg.preference)
    methods = {}
    hists = {}
    if data is not None:
        hists = train_many(
            cfg.methods, problem, data, cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer, cfg.seed, None,
            cfg.ipo_beta, cfg.reward_noise, cfg.progress,
        )  # fmt: skip
    for name in cfg.methods:
        traj = simplex_trajectory(
            name,
            problem,
            mu1,
            mu2,
            cfg.flow_steps,
            cfg.flow_lr,
            cfg.flow_optimizer,
            cfg.ipo_beta,
            cfg.preference,
            record_every=max(1, cfg.flow_steps // 500),
        )
        entry = {"label": METHODS[name].label, "flow": traj.tolist()}
        try:
            sp = stationary_point(name, problem, mu1, mu2, cfg.ipo_beta, cfg.preference)
            entry.update(stationary_policy=sp.policy.tolist(), stationary_regret=max(sp.regret, 0.0))
        except ValueError as err:  # e.g. pg_value far off-policy at small β: the flow drifts to the boundary
            entry.update(stationary_policy=None, stationary_regret=None, stationary_error=str(err))
        if name in hists:
            entry["sampled"] = hists[name].policies.transpose(0, 1).tolist()
        methods[name] = entry
    return {
        "ref_policy": problem.ref_policy.tolist(),
        "optimal_policy": problem.optimal_policy.tolist(),
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "methods": methods,
    }


# ----------------------------------------------------------------------------------------------------------------
# Registry and the one entry point used by the CLI
# ----------------------------------------------------------------------------------------------------------------

#: CLI name → (config class, run function).
EXPERIMENTS = {
    "paper-fig1": (PaperFig1Config, run_paper_fig1),
    "offpolicy-sweep": (OffPolicySweepConfig, run_offpolicy_sweep),
    "beta-sweep": (BetaSweepConfig, run_beta_sweep),
    "data-size": (DataSizeConfig, run_data_size),
    "support": (SupportConfig, run_support),
    "simplex": (SimplexConfig, run_simplex),
}


def make_record(name: str, cfg: ExperimentConfig, command: str | None = None) -> dict:
    """Run experiment ``name`` with ``cfg`` and return its full record (provenance + results), writing nothing.

    The record is what :func:`run_experiment` writes to ``<out>/<stem>.json``; draw it with
    :func:`bandit.plotting.draw_record` (inline, e.g. in a notebook) or :func:`bandit.plotting.plot_record` (PNG).

    Raises:
        ValueError if ``name`` is unknown or ``cfg`` is not that experiment's config class.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"make_record: unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    cls, fn = EXPERIMENTS[name]
    if not isinstance(cfg, cls):
        raise ValueError(f"make_record: {name} needs a {cls.__name__}, got {type(cfg).__name__}")
    start = time.perf_counter()
    payload = fn(cfg)
    record = _provenance(name, cfg, command, time.perf_counter() - start)
    record.update(payload)
    return record


def run_experiment(name: str, cfg: ExperimentConfig, command: str | None = None, plot: bool = True) -> Path:
    """Run experiment ``name`` with ``cfg``, write ``<out>/<stem>.json`` atomically and (``plot``) its PNG.

    Returns:
        The JSON path.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"run_experiment: unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    cls, _ = EXPERIMENTS[name]
    if not isinstance(cfg, cls):
        raise ValueError(f"run_experiment: {name} needs a {cls.__name__}, got {type(cfg).__name__}")
    record = make_record(name, cfg, command)
    path = cfg.out / f"{file_stem(name)}.json"
    write_json_atomic(path, record)
    if plot:
        from bandit.plotting import plot_record

        plot_record(record, cfg.out / f"{file_stem(name)}.png")
    return path
