"""offpolicy-sweep: final regret vs how off-policy the data are (μ1 = μ2 = μ_α, the one-knob family)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from bandit.data import offpolicy_family
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

__all__ = ["OffPolicySweepConfig", "run_offpolicy_sweep"]


@dataclass
class OffPolicySweepConfig(ExperimentConfig):
    """offpolicy-sweep: final regret vs α with μ1 = μ2 = μ_α ∝ π_ref·exp((1 − 2α)R/β) (α = 0: π*; α = 1: far)."""

    unused_options: ClassVar[tuple[str, ...]] = ("mu1", "mu2")
    unused_reason: ClassVar[str] = "μ1 = μ2 = μ_α, set by --alphas"

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
            sp = stationary_point(
                name, problem, mu, mu, pref_beta=cfg.pref_beta, preference=cfg.preference, guess=guess
            )
            methods[name]["exact_regret"].append(max(sp.regret, 0.0))
            guess = sp.logits
    n_a, s = len(cfg.alphas), cfg.seeds
    mu_runs = offpolicy_family(problem, alphas).repeat_interleave(s, dim=0)  # [N·S, A], run = α-major
    data = sample_configured(cfg, problem, mu_runs, mu_runs, num_seeds=n_a * s)
    hists = train_configured(cfg, problem, data)
    for name in cfg.methods:
        final = hists[name].regret[-1].reshape(n_a, s)  # [N, S]
        mean, std = mean_std(final, dim=1)
        methods[name].update(regret_mean=mean, regret_std=std, regret_per_seed=final.tolist())
    return {
        "trainer_path": trainer_path(hists),  # "count" or "pair" (bandit.dynamics), None if nothing was trained
        "alphas": list(cfg.alphas),
        "exact_alphas": exact_alphas.tolist(),
        "behaviour": "mu1 = mu2 = mu_alpha ∝ ref_policy·exp((1 − 2α)·R/β)",
        "problem": problem.to_dict(),
        "sampled_methods": list(cfg.methods),
        "methods": methods,
    }


register("offpolicy-sweep", OffPolicySweepConfig, run_offpolicy_sweep)
