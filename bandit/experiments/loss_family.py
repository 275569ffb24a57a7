"""loss-family: one loss under many names: the exact fixed-point regret of every CoPG-family loss as the behaviour
policy moves away from π_ref (μ1 = μ2 = μ_α, the off-policy sweep's family), on the paper's bandit.

Everything is exact (no sampling): each point is :func:`bandit.stationary.stationary_point` of a row of
:mod:`bandit.family` (or ``copg``/``ipo`` of :data:`bandit.methods.METHODS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from bandit.data import offpolicy_family
from bandit.experiments.common import ExperimentConfig, register
from bandit.family import apo_method, ipo_mean_method, qrpo_method
from bandit.methods import Method, get_method
from bandit.problem import BanditProblem
from bandit.stationary import stationary_point

__all__ = ["LossFamilyConfig", "family_rows", "run_loss_family"]


@dataclass
class LossFamilyConfig(ExperimentConfig):
    """loss-family: exact fixed-point regret of CoPG under other names (REBEL, rpo_sq, QRPO, Command A, IPO, A*-PO)."""

    _min_seeds: ClassVar[int] = 0  # exact computation: nothing is sampled
    #: Options of the shared config this exact experiment never reads: passing one is an error naming it.
    unused_options: ClassVar[tuple[str, ...]] = (
        *("seeds", "epochs", "seed", "mu1", "mu2", "num_pairs", "batch_size", "lr", "optimizer", "reward_noise"),
    )
    unused_reason: ClassVar[str] = "its numbers are exact"

    seeds: int = 0
    """Not used: every number is exact (passing --seeds is an error, as is any option of sampled training)."""
    exact_points: int = 21
    """Number of α values on [0, 1] (μ_α ∝ π_ref·exp((1 − 2α)R/β): 0 = π*, ½ = π_ref, 1 = far off-policy)."""
    lengths: tuple[float, ...] = (3.0, 2.0, 1.0)
    """L(a), token length of each arm for TRL's per-token-mean IPO (a choice: the best arm is the longest)."""
    apo_samples: tuple[int, ...] = (1, 4, 16)
    """N values of A*-PO's reference samples for V̂* (offline rows; the exact V* row is always drawn)."""

    def validate(self) -> None:
        """Raise ValueError naming the option and the fix if a field is invalid."""
        super().validate()
        if len(self.lengths) != len(self.rewards) or not all(0 < x < math.inf for x in self.lengths):
            raise ValueError(
                f"LossFamilyConfig: --lengths needs one finite token length > 0 per arm ({len(self.rewards)}), "
                f"got {self.lengths!r}"
            )
        ok = all(isinstance(n, int) and n >= 1 for n in self.apo_samples)
        if not self.apo_samples or not ok or len(set(self.apo_samples)) != len(self.apo_samples):
            raise ValueError(
                "LossFamilyConfig: --apo-samples must be a non-empty list of distinct integers >= 1, got "
                f"{self.apo_samples!r}"
            )


def family_rows(problem: BanditProblem, lengths, apo_samples) -> dict[str, Method]:
    """Every row the figure draws, by name: CoPG and the rescaled forms, summed and per-token IPO, QRPO, A*-PO.

    Args:
        problem: the bandit.
        lengths: [A] arm token lengths for ``ipo_mean``.
        apo_samples: N values of the offline A*-PO rows.
    Returns:
        {name: row}, legend order.
    """
    rows = [get_method(n) for n in ("copg", "rebel", "qrpo_rebel", "command_a", "rpo_sq", "ipo")]
    rows += [ipo_mean_method(lengths), qrpo_method(problem)]
    rows += [apo_method(problem, n) for n in apo_samples]
    rows += [apo_method(problem, None), apo_method(problem, 1, onpolicy=True)]
    return {m.name: m for m in rows}


def run_loss_family(cfg: LossFamilyConfig) -> dict:
    """Exact stationary regret of every row of :func:`family_rows` on a grid of α (μ1 = μ2 = μ_α).

    Record: ``exact_alphas`` [M]; per method ``label``, ``summary``, ``exact_regret`` [M] and ``policy_at_ref`` (the
    fixed point when μ = π_ref, α = ½, if on the grid); ``lengths``, ``apo_samples``, ``apo_values`` (E[V̂*_N]).
    """
    problem = cfg.problem()
    exact_alphas = torch.linspace(0, 1, cfg.exact_points, dtype=torch.float64)
    mus = offpolicy_family(problem, exact_alphas)  # [M, A]
    rows = family_rows(problem, cfg.lengths, cfg.apo_samples)
    methods: dict = {}
    for name, m in rows.items():
        regrets, guess, at_ref = [], None, None
        for alpha, mu in zip(exact_alphas.tolist(), mus):  # each solution warm-starts the next α's root finding
            sp = stationary_point(m, problem, mu, mu, pref_beta=cfg.pref_beta, preference=cfg.preference, guess=guess)
            regrets.append(max(sp.regret, 0.0))
            guess = sp.logits
            if abs(alpha - 0.5) < 1e-12:
                at_ref = sp.policy.tolist()
        methods[name] = {"label": m.label, "summary": m.summary, "exact_regret": regrets, "policy_at_ref": at_ref}
    return {
        "exact_alphas": exact_alphas.tolist(),
        "behaviour": "mu1 = mu2 = mu_alpha ∝ ref_policy·exp((1 − 2α)·R/β)",
        "problem": problem.to_dict(),
        "lengths": list(cfg.lengths),
        "apo_samples": list(cfg.apo_samples),
        "methods": methods,
    }


register("loss-family", LossFamilyConfig, run_loss_family)
