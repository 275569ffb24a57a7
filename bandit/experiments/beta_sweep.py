"""beta-sweep: final regret and KL(π‖π_ref) vs β on the paper's μ1, μ2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bandit.experiments.common import (
    ExperimentConfig,
    mean_std,
    register,
    sample_configured,
    train_configured,
    trainer_path,
)
from bandit.methods import METHODS
from bandit.stationary import stationary_point

__all__ = ["BetaSweepConfig", "run_beta_sweep"]


@dataclass
class BetaSweepConfig(ExperimentConfig):
    """beta-sweep: final regret and KL(π‖π_ref) vs β on the paper's μ1, μ2 (IPO/DPO use τ = β)."""

    unused_options: ClassVar[tuple[str, ...]] = ("beta", "pref_beta")
    unused_reason: ClassVar[str] = "β and IPO/DPO's τ = β take the values of --betas"

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
            sp = stationary_point(name, problem, mu1, mu2, pref_beta=b, preference=cfg.preference, guess=guesses[name])
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
        data = sample_configured(cfg, problem, mu1, mu2)
        hists = train_configured(cfg, problem, data, pref_beta=b)
        for name in cfg.methods:
            final = hists[name].policies[-1]
            for key, val in (("regret", problem.regret(final)), ("kl_to_ref", problem.kl_to_ref(final))):
                mean, std = mean_std(val)
                methods[name][f"{key}_mean"].append(mean)
                methods[name][f"{key}_std"].append(std)
    return {
        "trainer_path": trainer_path(hists),  # "count" or "pair" (bandit.dynamics), None if nothing was trained
        "betas": list(cfg.betas),
        "exact_betas": exact_betas,
        "optimal_kl_to_ref": optimal_kl,
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "sampled_methods": list(cfg.methods),
        "methods": methods,
    }


register("beta-sweep", BetaSweepConfig, run_beta_sweep)
