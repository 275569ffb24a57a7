"""support: μ1, μ2 miss an arm (Theorem 1's support assumption broken): what each method learns."""

from __future__ import annotations

from dataclasses import dataclass

from bandit.data import partial_support, sample_pairs
from bandit.experiments.common import ALL_METHODS, ExperimentConfig, mean_std, register, train_configured, trainer_path
from bandit.methods import get_method
from bandit.stationary import stationary_point

__all__ = ["SupportConfig", "run_support"]


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
    methods: tuple[str, ...] = ALL_METHODS
    """Methods to run."""


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
    data = sample_pairs(
        problem,
        mu1,
        mu2,
        num_pairs=cfg.num_pairs,
        num_seeds=cfg.seeds,
        seed=cfg.seed,
        reward_noise=cfg.reward_noise,
        preference=cfg.preference,
    )
    missing = list(cfg.missing)
    methods = {}
    hists = train_configured(cfg, problem, data)
    for name in cfg.methods:
        hist = hists[name]
        sp = stationary_point(name, problem, mu1, mu2, pref_beta=cfg.pref_beta, preference=cfg.preference)
        final = hist.policies[-1]
        pm, ps = mean_std(final)
        rm, rs = mean_std(problem.regret(final))
        raw = (hist.logits[-1][:, missing] - hist.logits[0][:, missing]).abs().amax(1)  # [S]
        methods[name] = {
            "label": get_method(name).label,
            "final_policy_mean": pm,
            "final_policy_std": ps,
            "final_regret_mean": rm,
            "final_regret_std": rs,
            "stationary_policy": sp.policy.tolist(),
            "stationary_regret": max(sp.regret, 0.0),
            "missing_logit_change": raw.mean().item(),
        }
    return {
        "trainer_path": trainer_path(hists),  # "count" or "pair" (bandit.dynamics), None if nothing was trained
        "missing": missing,
        "mu1": mu1.tolist(),
        "mu2": mu2.tolist(),
        "problem": problem.to_dict(),
        "methods": methods,
    }


register("support", SupportConfig, run_support)
