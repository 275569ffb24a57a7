"""paper-fig1: the paper's Sec. 5 bandit (Fig. 1): regret vs epoch per method, stationary values and the claims."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bandit.dynamics import exact_flow
from bandit.experiments.common import (
    ExperimentConfig,
    mean_std,
    register,
    sample_configured,
    train_configured,
    trainer_path,
)
from bandit.methods import get_method
from bandit.policies import policy
from bandit.stationary import stationary_point

__all__ = ["PaperFig1Config", "run_paper_fig1"]


@dataclass
class PaperFig1Config(ExperimentConfig):
    """paper-fig1: the paper's Sec. 5 bandit with its literal hyperparameters; regret vs epoch per method."""

    methods: tuple[str, ...] = ("copg", "ipo", "pg", "pg_value", "dpo", "onpolicy")
    """Methods to train (any of copg, ipo, dpo, pg, pg_value, pg_mean, pg_is, onpolicy)."""
    threshold: float = 1e-3
    """Regret level for the report 'CoPG gets below <threshold> at epoch …'."""
    max_exact_epochs: int = 1000
    """How far (in epochs) the noise-free Adam flow is followed to find when CoPG crosses the threshold."""


def run_paper_fig1(cfg: PaperFig1Config) -> dict:
    """The paper's Fig. 1: sampled training of each method (S seeds), exact stationary regrets, and the claims.

    Returns the ``paper_fig1`` record (see the README for the JSON contract): ``epochs`` [1..E] and, per method,
    ``regret_mean``/``regret_std`` [E], ``regret_per_seed`` [S][E], ``final_policy_mean`` [A],
    ``stationary_policy`` [A], ``stationary_regret``, ``exact_adam_regret`` [E] (noise-free Adam, same steps), plus
    a ``summary`` with the four claims in numbers.
    """
    problem = cfg.problem()
    mu1, mu2 = cfg.behaviour()
    data = sample_configured(cfg, problem, mu1, mu2)
    steps_per_epoch = math.ceil(cfg.num_pairs / cfg.batch_size)
    methods = {}
    hists = train_configured(cfg, problem, data)
    for name in cfg.methods:
        hist = hists[name]
        regret = hist.regret  # [E+1, S]
        sp = stationary_point(name, problem, mu1, mu2, pref_beta=cfg.pref_beta, preference=cfg.preference)
        flow = exact_flow(
            name,
            problem,
            mu1,
            mu2,
            steps=cfg.epochs * steps_per_epoch,
            lr=cfg.lr,
            optimizer=cfg.optimizer,
            record_every=steps_per_epoch,
            pref_beta=cfg.pref_beta,
            preference=cfg.preference,
        )
        mean, std = mean_std(regret[1:], dim=1)
        pol_mean, pol_std = mean_std(hist.policies[-1], dim=0)
        kl_ref = problem.kl_to_ref(hist.policies[1:]).mean(1)
        methods[name] = {
            "label": get_method(name).label,
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
    summary = _fig1_summary(
        cfg=cfg, problem=problem, mu1=mu1, mu2=mu2, methods=methods, steps_per_epoch=steps_per_epoch
    )
    return {
        "trainer_path": trainer_path(hists),  # "count" or "pair" (bandit.dynamics), None if nothing was trained
        "epochs": list(range(1, cfg.epochs + 1)),
        "steps_per_epoch": steps_per_epoch,
        "train_wall_clock_s": round(next(iter(hists.values())).wall_clock_s, 3) if hists else 0.0,
        "problem": problem.to_dict(),
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "methods": methods,
        "summary": summary,
    }


def _first_below(values: list[float], threshold: float, offset: int = 1) -> int | None:
    for i, v in enumerate(values):
        if v < threshold:
            return i + offset
    return None


def _fig1_summary(*, cfg, problem, mu1, mu2, methods, steps_per_epoch) -> dict:
    e = cfg.epochs
    s: dict = {"epochs": e, "threshold": cfg.threshold}
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
                "copg",
                problem,
                mu1,
                mu2,
                steps=horizon * steps_per_epoch,
                lr=cfg.lr,
                optimizer=cfg.optimizer,
                record_every=steps_per_epoch,
            )
            flow_regret = problem.regret(policy(flow[1:])).tolist()
            crossing = _first_below(flow_regret, cfg.threshold)
            if crossing is not None and max(e, 2 * crossing) <= horizon:
                break
        s["copg_epoch_below_threshold_exact_adam"] = crossing
        crossing = crossing or cfg.max_exact_epochs
        s["copg_exact_adam_continuation"] = flow_regret[: max(e, min(cfg.max_exact_epochs, 2 * crossing))]
    return s


register("paper-fig1", PaperFig1Config, run_paper_fig1)
