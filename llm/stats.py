"""The statistics both LLM rungs report with: intervals over seeds, prompts and chains, p-values, Holm, power.

A *chain* is everything upstream of training that a re-run from scratch redraws: the reference policy π_ref (its
SFT) and the offline data sampled from it. Training seeds vary inside a chain; evaluation prompts are shared by all
chains. Verdicts must hold across chains, so the interval of a mean difference has to contain the chain variance:

* :func:`mean_ci` / :func:`seed_ci` — Student-t interval of a plain mean (one factor).
* :func:`paired_ci` — :func:`mean_ci` of paired differences (one pair per chain, say), with the differences, df and t.
* :func:`crossed_ci` — seeds × prompts, both random and crossed (one chain).
* :func:`chain_ci` — chains × seeds-within-chain × prompts (seeds nested in chains, prompts crossed with both): the
  interval to report when several chains exist; with one chain it is :func:`crossed_ci`.
* :func:`t_pvalue` — the two-sided p-value of "mean = 0" from any of those intervals (same t and df).
* :func:`replicated` — a per-chain verdict that holds only when every chain separates the same way (two chains).
* :func:`holm` — Holm's step-down adjustment over every comparison reported together (family-wise error 5 %);
  :mod:`bandit.stats`'s, re-exported.
* :func:`min_detectable_effect` — the smallest true difference an interval of this width detects with the given
  power (what to report when nothing separates).
* :func:`positive_ci` — an interval for a positive quantity (a KL) that stays positive: Student-t on the log scale.

Pure numpy/scipy (scipy imported on use): no torch, no model, no file.
"""

from __future__ import annotations

import math
from typing import Any

from bandit.stats import holm  # one implementation, low down: the bandit lab's figures use it too

__all__ = [
    "chain_ci",
    "crossed_ci",
    "holm",
    "mean_ci",
    "min_detectable_effect",
    "paired_ci",
    "positive_ci",
    "replicated",
    "seed_ci",
    "standard_error",
    "t_pvalue",
]


def standard_error(values: list[float]) -> float:
    """Standard error of the mean, std(values, ddof=1)/√n (0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1) / n)


def mean_ci(values: list[float], level: float = 0.95) -> dict[str, float | int | bool]:
    """Mean of ``values`` with a Student-t confidence interval: ``{mean, sem, low, high, n, significant}``.

    ``significant`` is True when the interval excludes 0 (for paired differences: the two runs differ at this level).
    Fewer than two values give an infinite interval, never a verdict.
    """
    n = len(values)
    mean = sum(values) / n if n else float("nan")
    sem = standard_error(values)
    if n < 2:
        return {"mean": mean, "sem": sem, "low": -math.inf, "high": math.inf, "n": n, "significant": False}
    from scipy.stats import t  # heavy: imported only when an interval is asked for

    half = float(t.ppf(0.5 + level / 2, n - 1)) * sem
    low, high = mean - half, mean + half
    return {"mean": mean, "sem": sem, "low": low, "high": high, "n": n, "significant": bool(low > 0 or high < 0)}


def paired_ci(after: list[float], before: list[float], level: float = 0.95) -> dict[str, Any]:
    """Mean of the paired differences ``after[i] − before[i]`` with :func:`mean_ci`'s Student-t interval.

    One pair per unit that both sides share (a chain: its π_ref, data and prompts), so what the units have in common
    cancels. Returns :func:`mean_ci`'s dict plus ``values`` (the differences), ``df`` = n − 1 and ``t``, the quantile
    the interval used (12.71 for two pairs at 95 %; ``inf`` with one pair, whose interval is infinite).
    """
    if len(after) != len(before):
        raise ValueError(f"paired_ci: after has {len(after)} values but before has {len(before)}; pass one per pair")
    diffs = [a - b for a, b in zip(after, before)]
    ci = mean_ci(diffs, level)
    n = len(diffs)
    from scipy.stats import t  # heavy: imported only when an interval is asked for

    quantile = float(t.ppf(0.5 + level / 2, n - 1)) if n >= 2 else math.inf
    return {**ci, "values": diffs, "df": n - 1, "t": quantile}


def seed_ci(values: list[float]) -> dict[str, Any]:
    """``{mean, ci95, n, values}``: the mean over seeds with the half-width of its 95 % Student-t interval.

    The half-width is 0 for a single value (a figure draws no band then; :func:`mean_ci` gives no verdict).
    """
    ci = mean_ci(values)
    half = ci["high"] - ci["mean"] if ci["n"] >= 2 else 0.0
    return {"mean": ci["mean"], "ci95": half, "n": ci["n"], "values": list(values)}


def crossed_ci(values: list[list[float]], level: float = 0.95) -> dict[str, Any]:
    """Mean of a seeds × prompts table with a confidence interval over **both** seeds and prompts.

    ``values[s][p]`` is one number per training seed s and evaluation prompt p (e.g. a paired difference of two
    methods, both evaluated with common random numbers). The seeds and the prompts are random samples of their
    populations, crossed (every seed sees every prompt), so the grand mean m has (two-way random-effects ANOVA)

        Var(m) = σ²_seed/S + σ²_prompt/P + σ²_resid/(S·P),   estimated by (MS_seed + MS_prompt − MS_resid)/(S·P)

    (each estimated component clipped at 0), with Satterthwaite's degrees of freedom for the t quantile. Two seeds
    that disagree widen the interval as they should: with 3 seeds the seed term has 2 degrees of freedom. One seed
    reduces to the Student-t interval over prompts (:func:`mean_ci`), one prompt to the interval over seeds.

    Returns ``{mean, sem, low, high, df, seeds, prompts, significant, components}`` (``components``: the estimated
    seed, prompt and residual variances); ``significant`` is True when the interval excludes 0.
    """
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"crossed_ci: need a non-empty seeds × prompts table, got shape {x.shape}")
    S, P = x.shape
    if S == 1 or P == 1:
        ci = mean_ci(x.ravel().tolist(), level)
        df = x.size - 1
        return {**ci, "df": df, "seeds": S, "prompts": P, "components": None}
    m = x.mean()
    rows, cols = x.mean(1), x.mean(0)
    ms_s = P * ((rows - m) ** 2).sum() / (S - 1)
    ms_p = S * ((cols - m) ** 2).sum() / (P - 1)
    ms_e = ((x - rows[:, None] - cols[None, :] + m) ** 2).sum() / ((S - 1) * (P - 1))
    var_s, var_p = max(ms_s - ms_e, 0.0) / P, max(ms_p - ms_e, 0.0) / S  # seed and prompt variance components
    var_m = var_s / S + var_p / P + ms_e / (S * P)
    # Satterthwaite: var_m as a combination of the mean squares actually used
    terms = [(ms_s / (S * P), S - 1) if var_s > 0 else (0.0, 1), (ms_p / (S * P), P - 1) if var_p > 0 else (0.0, 1)]
    c_e = (1 - (var_s > 0) - (var_p > 0)) / (S * P)  # coefficient of MS_resid in var_m
    terms.append((c_e * ms_e, (S - 1) * (P - 1)))
    denom = sum(a * a / d for a, d in terms if a)
    df = float(var_m**2 / denom) if denom > 0 else float((S - 1) * (P - 1))
    return {
        **_t_interval(float(m), math.sqrt(var_m), df, level),
        "seeds": S,
        "prompts": P,
        "components": {"seed": var_s, "prompt": var_p, "residual": float(ms_e)},
    }


def _t_interval(mean: float, sem: float, df: float, level: float) -> dict[str, Any]:
    """``{mean, sem, low, high, df, significant}``: mean ± t_{df}·sem (df floored at 1); significant = excludes 0."""
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, max(df, 1.0))) * sem
    low, high = mean - half, mean + half
    return {"mean": mean, "sem": sem, "low": low, "high": high, "df": df, "significant": bool(low > 0 or high < 0)}


def _satterthwaite(terms: list[tuple[float, float]]) -> float:
    """Degrees of freedom of Σ c_i·MS_i (``terms`` = [(c_i·MS_i, df_i)]), Satterthwaite's approximation."""
    total = sum(a for a, _ in terms)
    denom = sum(a * a / d for a, d in terms if a and d > 0)
    return float(total**2 / denom) if denom > 0 else float(max(d for _, d in terms))


def chain_ci(values: list[list[list[float]]], level: float = 0.95) -> dict[str, Any]:
    """Mean of a chains × seeds × prompts table with an interval that contains the chain variance.

    ``values[c][s][p]``: chain c (an independent π_ref + data), training seed s inside that chain (seed s of one
    chain has nothing to do with seed s of another: seeds are nested in chains), evaluation prompt p (the same prompts
    for every chain: crossed). Balanced random-effects model

        x_csp = μ + a_c + b_s(c) + g_p + (ag)_cp + e_csp

    whose grand mean has Var(m) = σ²_a/C + σ²_b/(CS) + σ²_g/P + σ²_ag/(CP) + σ²_e/(CSP) = E[MS_chain]/(CSP) + σ²_g/P
    (expected mean squares of the balanced design), estimated by MS_chain/(CSP) + max(MS_prompt − MS_chain×prompt,
    0)/(CSP): the prompt component is clipped at 0 (as :func:`crossed_ci` clips its components), so the interval is
    never narrower than the chain term alone — without the clip, MS_prompt < MS_chain×prompt by chance made intervals
    far narrower than the spread of the chain means, with Satterthwaite df near 0. Satterthwaite's degrees of freedom
    of the terms used. One chain reduces to :func:`crossed_ci`.

    Coverage (simulated in ``tests/test_stats.py``): ≈ 95 % from three chains on; with **two** chains and a dominant
    chain variance it is ≈ 89 % (MS_chain has one degree of freedom and is often small by chance), so with two chains
    state verdicts per chain and require them to replicate (:func:`replicated`).

    Returns ``{mean, sem, low, high, df, chains, seeds, prompts, significant, chain_means}``.
    """
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 3 or x.size == 0:
        raise ValueError(f"chain_ci: need a non-empty chains × seeds × prompts table, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("chain_ci: the table holds non-finite values; drop or fix the runs that produced them")
    C, S, P = x.shape
    chain_means = x.mean(axis=(1, 2)).tolist()
    if C == 1:
        ci = crossed_ci(x[0].tolist(), level)
        return {**ci, "chains": 1, "chain_means": chain_means}
    m = x.mean()
    a = x.mean(axis=(1, 2))  # [C]
    g = x.mean(axis=(0, 1))  # [P]
    ag = x.mean(axis=1)  # [C, P]
    ms_a = S * P * ((a - m) ** 2).sum() / (C - 1)
    ms_g = C * S * ((g - m) ** 2).sum() / (P - 1) if P > 1 else 0.0
    ms_ag = S * ((ag - a[:, None] - g[None, :] + m) ** 2).sum() / ((C - 1) * (P - 1)) if P > 1 else 0.0
    n = C * S * P
    # E[MS_chain]/(CSP) is Var(m) less the prompt term σ²_g/P, whose estimate (MS_prompt − MS_chain×prompt)/(CSP) is
    # clipped at 0 (as crossed_ci clips its components): the interval is never narrower than the chain term alone
    var_g = max(ms_g - ms_ag, 0.0) / n
    var_m = ms_a / n + var_g
    terms = [(ms_a / n, C - 1)]
    if var_g > 0:
        terms += [(ms_g / n, P - 1), (-ms_ag / n, (C - 1) * (P - 1))]
    df = _satterthwaite(terms)
    return {
        **_t_interval(float(m), math.sqrt(var_m), df, level),
        "chains": C,
        "seeds": S,
        "prompts": P,
        "chain_means": chain_means,
    }


def replicated(per_chain: list[dict[str, Any]], adjusted_p: list[float], alpha: float = 0.05) -> int:
    """+1 / −1 when every chain's interval separates in the same direction with a Holm-adjusted p ≤ ``alpha``; else 0.

    ``per_chain``: one interval per chain (e.g. :func:`crossed_ci` of that chain's seeds × prompts table);
    ``adjusted_p``: their p-values after :func:`holm` over the whole family of comparisons reported.
    """
    if len(per_chain) != len(adjusted_p) or not per_chain:
        raise ValueError(f"replicated: need one adjusted p per chain, got {len(per_chain)} and {len(adjusted_p)}")
    signs = {1 if c["mean"] > 0 else -1 for c in per_chain}
    if len(signs) == 1 and all(p <= alpha for p in adjusted_p) and all(c["significant"] for c in per_chain):
        return signs.pop()
    return 0


def t_pvalue(ci: dict[str, Any]) -> float:
    """Two-sided p-value of "the mean is 0" for an interval of this module (its mean, sem and df).

    The degrees of freedom are floored at 1, as in the interval (Satterthwaite's approximation can give fewer with two
    chains), so p < 0.05 exactly when the 95 % interval excludes 0."""
    from scipy.stats import t

    mean, sem = float(ci["mean"]), float(ci["sem"])
    df = float(ci.get("df", ci.get("n", 2) - 1))
    if not (math.isfinite(sem) and math.isfinite(df)) or df <= 0:
        return 1.0
    df = max(df, 1.0)
    if sem == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    return float(2.0 * t.sf(abs(mean) / sem, df))


def min_detectable_effect(sem: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference a two-sided t-test at level ``alpha`` detects with probability ``power``.

    (t_{1−α/2, df} + t_{power, df})·sem: report it when an interval covers 0, with ``alpha`` already divided by the
    number of comparisons when a Holm family is in force (Holm's strictest step).
    """
    from scipy.stats import t

    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"min_detectable_effect: need 0 < alpha < 1 and 0 < power < 1, got {alpha}, {power}")
    df = max(float(df), 1.0)
    return float((t.ppf(1 - alpha / 2, df) + t.ppf(power, df)) * sem)


def positive_ci(values: list[float], level: float = 0.95) -> dict[str, Any]:
    """Interval for a positive quantity (a KL): Student-t on ln(values), mapped back (a geometric mean).

    The interval is positive by construction (a symmetric interval on the raw scale can reach −7 nats for a KL).
    Returns ``{geometric_mean, low, high, n, values}``; ``ValueError`` if any value is ≤ 0 or non-finite.
    """
    if any(not (math.isfinite(v) and v > 0) for v in values):
        raise ValueError(f"positive_ci: every value must be finite and > 0, got {values}")
    ci = mean_ci([math.log(v) for v in values], level)
    return {
        "geometric_mean": math.exp(ci["mean"]),
        "low": math.exp(ci["low"]) if math.isfinite(ci["low"]) else 0.0,
        "high": math.exp(ci["high"]) if math.isfinite(ci["high"]) else math.inf,
        "n": ci["n"],
        "values": list(values),
    }
