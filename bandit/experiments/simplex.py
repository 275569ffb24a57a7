"""simplex: 3-arm trajectories on the probability simplex: exact flows, sampled runs and stationary points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from bandit.dynamics import exact_flow
from bandit.experiments.common import (
    ALL_METHODS,
    ExperimentConfig,
    Optimizer,
    register,
    sample_configured,
    train_configured,
    trainer_path,
)
from bandit.methods import get_method
from bandit.policies import policy
from bandit.problem import BanditProblem
from bandit.stationary import stationary_point

__all__ = ["SimplexConfig", "run_simplex", "simplex_trajectory"]


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
    methods: tuple[str, ...] = ALL_METHODS
    """Methods to draw."""

    def validate(self) -> None:
        """Raise ValueError naming the option and the fix if a field is invalid (the figure needs 3 arms)."""
        super().validate()
        if len(self.rewards) != 3:
            raise ValueError(
                f"SimplexConfig: the simplex figure needs 3 arms, got {len(self.rewards)}; pass 3 rewards"
            )

    def ignored_options(self) -> tuple[tuple[str, ...], str]:
        """With --seeds 0 nothing is sampled: the options of sampled training are not read."""
        if self.seeds == 0:
            sampled = ("epochs", "lr", "num_pairs", "batch_size", "optimizer", "reward_noise", "seed")
            return sampled, "with --seeds 0 only the exact flows are drawn; pass --seeds ≥ 1 to train on samples"
        return super().ignored_options()


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
    flow = exact_flow(
        method,
        problem,
        mu1,
        mu2,
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        record_every=record_every,
        pref_beta=pref_beta,
        preference=preference,
    )
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
        data = sample_configured(cfg, problem, mu1, mu2)
    methods = {}
    hists = {}
    if data is not None:
        hists = train_configured(cfg, problem, data)
    for name in cfg.methods:
        traj = simplex_trajectory(
            name,
            problem,
            mu1,
            mu2,
            steps=cfg.flow_steps,
            lr=cfg.flow_lr,
            optimizer=cfg.flow_optimizer,
            pref_beta=cfg.pref_beta,
            preference=cfg.preference,
            record_every=max(1, cfg.flow_steps // 500),
        )
        entry = {"label": get_method(name).label, "flow": traj.tolist()}
        try:
            sp = stationary_point(name, problem, mu1, mu2, pref_beta=cfg.pref_beta, preference=cfg.preference)
            entry.update(stationary_policy=sp.policy.tolist(), stationary_regret=max(sp.regret, 0.0))
        except ValueError as err:  # e.g. pg_value far off-policy at small β: the flow drifts to the boundary
            entry.update(stationary_policy=None, stationary_regret=None, stationary_error=str(err))
        if name in hists:
            entry["sampled"] = hists[name].policies.transpose(0, 1).tolist()
        methods[name] = entry
    return {
        "trainer_path": trainer_path(hists),  # "count" or "pair" (bandit.dynamics), None if nothing was trained
        "ref_policy": problem.ref_policy.tolist(),
        "optimal_policy": problem.optimal_policy.tolist(),
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "methods": methods,
    }


register("simplex", SimplexConfig, run_simplex)
