"""The middle rung's summary: every number of the report and the figures, with intervals from ``llm.stats``.

Values are per (chain, training seed, prompt); intervals are :func:`llm.stats.chain_ci` (chains × seeds-in-chain ×
prompts; one chain: :func:`llm.stats.crossed_ci`). CoPG minus each baseline on held-out prompts (paired: common random
numbers, same prompts) is one family of comparisons, Holm-adjusted (:func:`llm.stats.holm`); with two or more chains a
verdict must also replicate in every chain (:func:`llm.stats.replicated`). Where an interval covers 0 the minimum
detectable effect (80 % power at Holm's strictest level) says what the study could have seen.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from llm.bridge.rung_runs import run_key
from llm.bridge.sampled import MU_NAMES
from llm.stats import chain_ci, crossed_ci, holm, min_detectable_effect, paired_ci, replicated, t_pvalue

__all__ = ["frontier_changes", "summarise", "table_of"]

FRONTIER_METHODS = ("copg", "ipo", "dpo")


def _run(chain: dict, cfg: Any, mu: str, method: str, seed: int, beta: float | None = None) -> dict:
    mu = mu if method != "online" else "ref"  # online RLOO does not read the offline data
    return chain["runs"][run_key(mu, method, seed, cfg.beta if beta is None else beta, chain["lrs"][method])]


def table_of(chains: list[dict], cfg: Any, mu: str, method: str, split: str, field: str) -> list[list[list[float]]]:
    """``[C][S][P]``: ``field`` (reward, kl, jbeta) of ``method`` trained on ``mu``'s data, per prompt of ``split``."""
    return [[_run(c, cfg, mu, method, s)[split][field] for s in range(cfg.seeds)] for c in chains]


def _minus(a: list, b: list) -> list:
    return [[[x - y for x, y in zip(ps, qs)] for ps, qs in zip(sa, sb)] for sa, sb in zip(a, b)]


def _chain_means(values: list) -> list[float]:
    """Each chain's mean over its seeds and prompts (``values`` is ``[C][S][P]``)."""
    return [sum(sum(p) for p in c) / sum(len(p) for p in c) for c in values]


def _ci(values: list) -> dict[str, Any]:
    ci = chain_ci(values)
    return {k: ci[k] for k in ("mean", "low", "high", "sem", "df", "significant")}


def _competence(chains: list[dict]) -> dict[str, Any]:
    per = []
    for c in chains:
        ref = c["pi_ref"]["heldout"]["reward"]
        star = c["vstar"]["heldout"]["reward_star"]
        per.append(
            {
                "random": c["baseline"]["random"],
                "best": c["baseline"]["best"],
                "pi_ref": sum(ref) / len(ref),
                "pi_star": sum(star) / len(star),
            }
        )
    out = {k: sum(p[k] for p in per) / len(per) for k in per[0]}
    out["fraction"] = (out["pi_ref"] - out["random"]) / (out["pi_star"] - out["random"])
    out["holds"] = out["fraction"] >= 0.5
    out["per_chain"] = per
    return out


def _limits(chains: list[dict], cfg: Any, mu: str, method: str) -> dict[str, Any]:
    recs = [
        _run(c, cfg, mu, method, s).get("limits", {}).get(mu if method != "online" else "ref")
        for c in chains
        for s in range(cfg.seeds)
    ]
    recs = [r for r in recs if r]
    if not recs:
        return {
            "nearest_limit": "n/a",
            "nearest_is_own": None,
            "nearest_own_runs": None,
            "kl_to_own": None,
            "kl_to_limits": None,
        }
    near = Counter(r["nearest_limit"] for r in recs).most_common(1)[0][0]
    owns = [r["nearest_is_own"] for r in recs]
    kls = {m: sum(r["kl_to_limits"][m] for r in recs) / len(recs) for m in recs[0]["kl_to_limits"]}
    return {
        "nearest_limit": near,
        "nearest_is_own": None if owns[0] is None else all(owns),
        "nearest_own_runs": None if owns[0] is None else [sum(bool(o) for o in owns), len(owns)],
        "kl_to_own": kls.get(method),
        "kl_to_limits": kls,
    }


def _rows(chains: list[dict], cfg: Any) -> list[dict]:
    vstar = [[c["vstar"]["heldout"]["v_star"]] * cfg.seeds for c in chains]
    ref_train = [[c["pi_ref"]["train"]["jbeta"]] * cfg.seeds for c in chains]
    ref_held = [[c["pi_ref"]["heldout"]["jbeta"]] * cfg.seeds for c in chains]
    rows = []
    for mu in MU_NAMES:
        dist = sum(c["distance"][mu] for c in chains) / len(chains)
        for m in cfg.methods:
            j = table_of(chains, cfg, mu, m, "heldout", "jbeta")
            vs_ref, regret = _minus(j, ref_held), _minus(vstar, j)
            rows.append(
                {
                    "mu": mu,
                    "method": m,
                    "distance": dist,
                    "heldout_jbeta": _ci(j),
                    "heldout_reward": _ci(table_of(chains, cfg, mu, m, "heldout", "reward")),
                    "heldout_kl": _ci(table_of(chains, cfg, mu, m, "heldout", "kl")),
                    "regret": _ci(regret),
                    # paired on prompts with π_ref's own held-out J_β: the prompts' spread cancels
                    "heldout_vs_ref": _ci(vs_ref),
                    "chain_means": {
                        "heldout_jbeta": _chain_means(j),
                        "regret": _chain_means(regret),
                        "heldout_vs_ref": _chain_means(vs_ref),
                    },
                    "heldin_jbeta": _ci(table_of(chains, cfg, mu, m, "train", "jbeta")),
                    "heldin_vs_ref": _ci(_minus(table_of(chains, cfg, mu, m, "train", "jbeta"), ref_train)),
                    **_limits(chains, cfg, mu, m),
                }
            )
    return rows


def _verdicts(chains: list[dict], cfg: Any) -> list[dict]:
    """CoPG − every baseline, held-out J_β, at every μ: one Holm family (pooled), and per chain for replication."""
    fam = []
    for mu in MU_NAMES:
        copg = table_of(chains, cfg, mu, "copg", "heldout", "jbeta")
        for b in cfg.methods:
            if b == "copg":
                continue
            d = _minus(copg, table_of(chains, cfg, mu, b, "heldout", "jbeta"))
            ci = chain_ci(d)
            per_chain = [crossed_ci(dc) for dc in d]
            fam.append({"mu": mu, "baseline": b, "ci": ci, "per_chain": per_chain})
    adj = holm([t_pvalue(f["ci"]) for f in fam])
    chain_adj = [holm([t_pvalue(f["per_chain"][c]) for f in fam]) for c in range(len(chains))]
    out = []
    for i, f in enumerate(fam):
        ci = f["ci"]
        rep = replicated(f["per_chain"], [chain_adj[c][i] for c in range(len(chains))]) if len(chains) > 1 else None
        out.append(
            {
                "mu": f["mu"],
                "baseline": f["baseline"],
                "comparison": f"copg - {f['baseline']}",
                "mean": ci["mean"],
                "low": ci["low"],
                "high": ci["high"],
                "p": t_pvalue(ci),
                "holm_p": adj[i],
                "holm_significant": adj[i] <= 0.05 and ci["significant"],
                "mde": min_detectable_effect(ci["sem"], ci["df"], alpha=0.05 / len(fam)),
                "chain_means": [c["mean"] for c in f["per_chain"]],
                "chain_holm_p": [chain_adj[c][i] for c in range(len(chains))],
                "replicated": rep,
            }
        )
    return out


def _curves(chains: list[dict], cfg: Any) -> dict[str, dict]:
    """Per method (μ = π_ref): the mean learning curve over chains and seeds, its change over the last quarter, and
    the spread of the runs it averages (``range``: the lowest and highest run at each step, chains and seeds alike;
    ``chain_means``: each chain's mean curve over its seeds)."""
    keys = ("jbeta", "reward", "kl")
    out = {}
    for m in cfg.methods:
        per_chain = [[_run(c, cfg, "ref", m, s)["curve"] for s in range(cfg.seeds)] for c in chains]
        curves = [cv for runs in per_chain for cv in runs]
        steps = [p["step"] for p in curves[0]]
        n = range(len(steps))
        mean = {k: [sum(cv[i][k] for cv in curves) / len(curves) for i in n] for k in keys}
        # the last quarter's first point, and never the last point itself (a short run has few points)
        q = min(next(i for i, s in enumerate(steps) if s >= 0.75 * steps[-1]), len(steps) - 2)
        changes = [cv[-1]["jbeta"] - cv[q]["jbeta"] for cv in curves]
        out[m] = {
            "steps": steps,
            **mean,
            "last_quarter_change": mean["jbeta"][-1] - mean["jbeta"][q],
            "last_quarter_from_step": steps[q],
            "runs": len(curves),
            "range": {
                k: {
                    "min": [min(cv[i][k] for cv in curves) for i in n],
                    "max": [max(cv[i][k] for cv in curves) for i in n],
                }
                for k in keys
            },
            "chain_means": {
                k: [[sum(cv[i][k] for cv in runs) / len(runs) for i in n] for runs in per_chain] for k in keys
            },
            "last_quarter_change_range": [min(changes), max(changes)],
        }
    return out


def _frontier(chains: list[dict], cfg: Any) -> dict[str, list[dict]]:
    betas = sorted({cfg.beta, *cfg.frontier_betas})
    out: dict[str, list[dict]] = {}
    for m in FRONTIER_METHODS:
        if m not in cfg.methods:
            continue
        out[m] = []
        for b in betas:
            recs = [_run(c, cfg, "ref", m, 0, b)["heldout"] for c in chains]
            reward, kl = [[r["reward"]] for r in recs], [[r["kl"]] for r in recs]  # chains × 1 seed × prompts
            out[m].append(
                {
                    "beta": b,
                    "reward": _ci(reward),  # chains random
                    "kl": _ci(kl),
                    "chain_means": {"reward": _chain_means(reward), "kl": _chain_means(kl)},
                }
            )
    ref = [[c["pi_ref"]["heldout"]["reward"]] for c in chains]
    out["pi_ref"] = [
        {
            "beta": 0.0,
            "reward": _ci(ref),
            "kl": {"mean": 0.0, "low": 0.0, "high": 0.0},
            "chain_means": {"reward": _chain_means(ref), "kl": [0.0] * len(chains)},
        }
    ]
    return out


FRONTIER_CHANGES = ("reward", "kl")
"""The quantities whose change over β :func:`frontier_changes` pairs within chains."""


def frontier_changes(frontier: dict[str, list[dict]]) -> dict[str, Any]:
    """Per trained method of ``frontier`` (:func:`_frontier`'s dict) and per quantity (reward, KL): the value at the
    smallest β minus the value at the largest, paired within each chain (``chain_means``: the same chain's π_ref,
    offline data and held-out prompts at both β, so what the chain shares cancels), with the Student-t interval over
    chains of :func:`llm.stats.paired_ci` (df = chains − 1). All the changes are one Holm family: each gains ``p``,
    ``p_holm`` and ``resolved`` (its 95 % interval excludes 0 and p_holm ≤ 0.05; with one chain there is no interval
    and nothing is resolved). Returns ``{"from_beta", "to_beta", "family", "methods": {method: {quantity: ci}}}``."""
    trained = {m: pts for m, pts in frontier.items() if m != "pi_ref" and len(pts) > 1}
    if not trained:
        return {}
    betas = sorted({p["beta"] for pts in trained.values() for p in pts})
    out: dict[str, dict] = {}
    for m, pts in trained.items():
        lo, hi = min(pts, key=lambda p: p["beta"]), max(pts, key=lambda p: p["beta"])
        out[m] = {k: paired_ci(lo["chain_means"][k], hi["chain_means"][k]) for k in FRONTIER_CHANGES}
    family = [c for ch in out.values() for c in ch.values() if c["n"] >= 2]
    for c, p_holm in zip(family, holm([t_pvalue(c) for c in family]) if family else []):
        c.update(p=t_pvalue(c), p_holm=p_holm, resolved=bool(c["significant"] and p_holm <= 0.05))
    for c in (c for ch in out.values() for c in ch.values() if c["n"] < 2):  # one chain: no interval (JSON: null)
        c.update(p=1.0, p_holm=1.0, resolved=False, low=None, high=None, t=None)
    return {"from_beta": betas[-1], "to_beta": betas[0], "family": len(family), "methods": out}


def summarise(cfg: Any, chains: list[dict]) -> dict[str, Any]:
    """Everything the report, the figures and the docs quote."""
    ess = [e for c in chains for s in ("train", "heldout") for e in c["vstar"][s]["ess"]]
    vstar_held = [v for c in chains for v in c["vstar"]["heldout"]["v_star"]]
    ref_j = [v for c in chains for v in c["pi_ref"]["heldout"]["jbeta"]]
    return {
        "lrs": chains[0]["lrs"],
        "selection": chains[0]["selection"],
        "competence": _competence(chains),
        "ess": {
            "median": statistics.median(ess),
            "min": min(ess),
            "samples": cfg.is_samples * chains[0]["num_proposals"],
            "unreliable_fraction": sum(e < cfg.ess_min for e in ess) / len(ess),
        },
        "pi_star_jbeta_heldout": sum(vstar_held) / len(vstar_held),
        "pi_ref_jbeta_heldout": sum(ref_j) / len(ref_j),
        "distance": {mu: sum(c["distance"][mu] for c in chains) / len(chains) for mu in MU_NAMES},
        "table": _rows(chains, cfg),
        "verdicts": _verdicts(chains, cfg),
        "curves": _curves(chains, cfg),
        "frontier": (frontier := _frontier(chains, cfg) if cfg.frontier_betas else {}),
        "frontier_changes": frontier_changes(frontier) if frontier else {},
    }
