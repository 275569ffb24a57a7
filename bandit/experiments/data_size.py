"""data-size: CoPG's finite-sample error vs the number of pairs (log–log), exact empirical optimum and sampled Adam."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from bandit.dynamics import train_sampled
from bandit.experiments.common import ExperimentConfig, mean_std, register, sample_configured
from bandit.policies import policy
from bandit.problem import BanditProblem

__all__ = ["DataSizeConfig", "empirical_copg_optimum", "run_data_size"]


@dataclass
class DataSizeConfig(ExperimentConfig):
    """data-size: CoPG regret vs number of pairs n (log–log): the finite-sample error of the empirical objective."""

    unused_options: ClassVar[tuple[str, ...]] = ("epochs", "num_pairs", "preference", "pref_beta")
    unused_reason: ClassVar[str] = (
        "dataset sizes are --sizes/--sampled-sizes, training length --sampled-steps, and CoPG needs no labels"
    )

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
        data = sample_configured(cfg, problem, mu1, mu2, num_pairs=n, preference="reward")
        per_size.append(problem.regret(policy(empirical_copg_optimum(problem, data.arms, data.rewards))))
    reg = torch.stack(per_size)  # [M, S]
    mean, std = mean_std(reg, dim=1)
    sizes = np.array(cfg.sizes, dtype=float)
    keep = sizes >= 100
    slope = float(np.polyfit(np.log(sizes[keep]), np.log(np.array(mean)[keep]), 1)[0]) if keep.sum() >= 2 else None
    sampled = {"sizes": list(cfg.sampled_sizes), "regret_mean": [], "regret_std": [], "epochs": [],
               "empirical_optimum_regret_mean": []}  # fmt: skip
    path = None
    for n in cfg.sampled_sizes:
        data = sample_configured(cfg, problem, mu1, mu2, num_pairs=n, num_seeds=cfg.sampled_seeds, preference="reward")
        epochs = max(1, round(cfg.sampled_steps / math.ceil(n / cfg.batch_size)))
        hist = train_sampled(
            "copg",
            problem=problem,
            data=data,
            epochs=epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            optimizer=cfg.optimizer,
            seed=cfg.seed,
            progress=cfg.progress,
        )
        m, sd = mean_std(hist.regret[-1])
        sampled["regret_mean"].append(m)
        sampled["regret_std"].append(sd)
        sampled["epochs"].append(epochs)
        path = hist.path
        opt = problem.regret(policy(empirical_copg_optimum(problem, data.arms, data.rewards)))
        sampled["empirical_optimum_regret_mean"].append(opt.mean().item())
    return {
        "trainer_path": path,  # "count" or "pair" (bandit.dynamics), None if nothing was trained
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


register("data-size", DataSizeConfig, run_data_size)
