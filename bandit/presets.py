"""Paper presets: the toy bandit of Flet-Berliac et al. (2024, arXiv:2406.19185 v1), Sec. 5 and Figure 1.

Every value carries its source. Values the paper leaves unstated (docs/theory.md, "What the paper leaves
unstated") are marked "[unstated]" with the choice made here and why.
"""

from __future__ import annotations

import torch

from bandit.problem import BanditProblem

__all__ = ["paper_problem"]

#: The paper's bandit and training hyperparameters (paper Sec. 5 unless marked).
PAPER = {
    # Sec. 5: "3 arms" with rewards R = (2.5, 2, 1).
    "rewards": (2.5, 2.0, 1.0),
    # Sec. 5: first sampling distribution μ1 = (0.1, 0.2, 0.7).
    "mu1": (0.1, 0.2, 0.7),
    # Sec. 5: second sampling distribution μ2 = (0.05, 0.05, 0.9).
    "mu2": (0.05, 0.05, 0.9),
    # Sec. 5: β = 0.5.
    "beta": 0.5,
    # Sec. 5: uniform reference policy π_ref = (1/3, 1/3, 1/3).
    "ref_policy": (1 / 3, 1 / 3, 1 / 3),
    # Sec. 5: a dataset of 10^4 pairs (y ~ μ1, y' ~ μ2) with their rewards.
    "num_pairs": 10_000,
    # Sec. 5: Adam, learning rate 1e-3.
    "optimizer": "adam",
    "lr": 1e-3,
    # Sec. 5: batch size 512.
    "batch_size": 512,
    # Sec. 5 / Fig. 1: 100 epochs.
    "epochs": 100,
    # Sec. 5: IPO labels sampled from a Bradley–Terry model P(y ≻ y') = σ(R(y) − R(y')).
    "preference": "bradley_terry",
    # [unstated] IPO's β (τ): taken equal to the problem's β (τ = β, the mapping of paper Property 3).
    "pref_beta": 0.5,
    # [unstated] initialisation: π = π_ref (the usual RLHF start; the reference is the initial policy).
    "init": "ref",
    # [unstated] seeds / error bars: we use 20 seeds, each with its own dataset, and report mean ± std.
    "num_seeds": 20,
}


def paper_problem(beta: float | None = None) -> BanditProblem:
    """The paper's 3-armed bandit (Sec. 5): R = (2.5, 2, 1), uniform π_ref, β = 0.5 (or ``beta`` if given).

    Returns:
        A :class:`~bandit.problem.BanditProblem` with π* = softmax(R/β) ≈ (0.7054, 0.2595, 0.0351) at β = 0.5.
    """
    return BanditProblem(
        torch.tensor(PAPER["rewards"], dtype=torch.float64),
        torch.tensor(PAPER["ref_policy"], dtype=torch.float64),
        PAPER["beta"] if beta is None else beta,
    )
