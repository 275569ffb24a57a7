"""llm.stats: the intervals, p-values, Holm adjustment and power both LLM rungs report with, against hand values
and simulations of the random-effects model they assume."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llm.stats import (
    chain_ci,
    crossed_ci,
    holm,
    mean_ci,
    min_detectable_effect,
    paired_ci,
    positive_ci,
    replicated,
    t_pvalue,
)


def test_holm_hand_example():
    """p = (0.01, 0.04, 0.03): sorted 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06."""
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm({"a": 0.2, "b": 0.001}) == pytest.approx({"a": 0.2, "b": 0.002})
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 0.8·2 capped at 1, then monotone
    assert holm([0.3, 0.8]) == pytest.approx([0.6, 0.8])
    assert holm([]) == []
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        holm([1.5])


def test_holm_controls_family_wise_error():
    """Ten true nulls, uniform p-values: at least one Holm-adjusted p ≤ 0.05 in at most ≈ 5 % of families."""
    rng = np.random.default_rng(0)
    hits = sum(min(holm(rng.uniform(size=10).tolist())) <= 0.05 for _ in range(4000))
    assert hits / 4000 <= 0.06


def test_pvalue_matches_the_interval():
    """An interval whose lower end touches 0 has p = 0.05 exactly (same t quantile and df)."""
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    shifted = {**ci, "mean": ci["mean"] - ci["low"]}  # low end moved onto 0
    assert t_pvalue(shifted) == pytest.approx(0.05, rel=1e-9)
    assert t_pvalue({"mean": 0.0, "sem": 1.0, "df": 5}) == pytest.approx(1.0)
    # Satterthwaite's df below 1 (two chains): the interval floors it at 1, and so does the p-value
    from scipy.stats import t

    for sem in (0.001, 0.01, 0.1):
        few = {"mean": 0.1, "sem": sem, "df": 0.4}
        assert (t_pvalue(few) < 0.05) == (few["mean"] - t.ppf(0.975, 1.0) * sem > 0)
    half = {"mean": 1.0, "sem": 0.01, "df": 0.5}
    assert t_pvalue(half) == pytest.approx(t_pvalue({**half, "df": 1}))
    c = crossed_ci(np.random.default_rng(1).normal(0.3, 1, size=(3, 40)).tolist())
    assert (t_pvalue(c) < 0.05) == c["significant"]


def test_chain_ci_with_one_chain_is_crossed_ci():
    x = np.random.default_rng(2).normal(size=(1, 3, 25))
    a, b = chain_ci(x.tolist()), crossed_ci(x[0].tolist())
    for k in ("mean", "sem", "low", "high", "df"):
        assert a[k] == pytest.approx(b[k])


def _simulate(rng, C, S, P, sd_chain, sd_seed, sd_prompt, sd_cp, sd_e, mu=0.0):
    a = rng.normal(0, sd_chain, size=(C, 1, 1))
    b = rng.normal(0, sd_seed, size=(C, S, 1))
    g = rng.normal(0, sd_prompt, size=(1, 1, P))
    ag = rng.normal(0, sd_cp, size=(C, 1, P))
    e = rng.normal(0, sd_e, size=(C, S, P))
    return mu + a + b + g + ag + e


@pytest.mark.parametrize("C", [3, 4])
def test_chain_ci_covers_with_chain_variance_where_crossed_ci_does_not(C):
    """Data with a real chain effect: chain_ci's 95 % interval covers the true mean ≈ 95 % of the time; pooling the
    chains' seeds into one crossed table (ignoring the chain) covers far less."""
    rng = np.random.default_rng(3 + C)
    cover_chain = cover_pooled = 0
    n = 600
    for _ in range(n):
        x = _simulate(rng, C, 3, 30, sd_chain=0.5, sd_seed=0.2, sd_prompt=1.0, sd_cp=0.3, sd_e=1.0)
        c = chain_ci(x.tolist())
        cover_chain += c["low"] <= 0.0 <= c["high"]
        pooled = crossed_ci(x.reshape(C * 3, 30).tolist())
        cover_pooled += pooled["low"] <= 0.0 <= pooled["high"]
    assert 0.92 <= cover_chain / n <= 0.995
    assert cover_pooled / n < 0.85


def test_chain_ci_variance_is_unbiased():
    """The mean of the estimated Var(m) over simulations equals the model's Var(m) (expected mean squares)."""
    rng = np.random.default_rng(7)
    C, S, P = 3, 2, 10
    sd = dict(sd_chain=0.4, sd_seed=0.3, sd_prompt=0.8, sd_cp=0.5, sd_e=1.0)
    true = sd["sd_chain"] ** 2 / C + sd["sd_seed"] ** 2 / (C * S) + sd["sd_prompt"] ** 2 / P
    true += sd["sd_cp"] ** 2 / (C * P) + sd["sd_e"] ** 2 / (C * S * P)
    est = [chain_ci(_simulate(rng, C, S, P, **sd).tolist())["sem"] ** 2 for _ in range(3000)]
    assert np.mean(est) == pytest.approx(true, rel=0.08)


def test_chain_ci_rejects_bad_tables():
    with pytest.raises(ValueError, match="chains × seeds × prompts"):
        chain_ci([[1.0, 2.0]])
    with pytest.raises(ValueError, match="non-finite"):
        chain_ci([[[1.0, float("nan")]], [[1.0, 2.0]]])


def test_min_detectable_effect():
    """Large df: (1.96 + 0.8416)·sem; and a true effect of that size is detected with ≈ the stated power."""
    assert min_detectable_effect(1.0, 1e6) == pytest.approx(1.959964 + 0.841621, rel=1e-4)
    rng = np.random.default_rng(11)
    n, sd = 30, 1.0
    mde = min_detectable_effect(sd / math.sqrt(n), n - 1)
    hits = sum(mean_ci(rng.normal(mde, sd, size=n).tolist())["significant"] for _ in range(2000))
    assert 0.75 <= hits / 2000 <= 0.85
    with pytest.raises(ValueError, match="power"):
        min_detectable_effect(1.0, 10, power=1.0)


def test_positive_ci_stays_positive():
    """A KL interval never crosses 0: a geometric mean with a log-scale t interval."""
    c = positive_ci([1.0, 4.0])
    assert c["geometric_mean"] == pytest.approx(2.0)
    assert 0 < c["low"] < 2.0 < c["high"]
    wide = positive_ci([0.01, 9.0, 0.5])
    assert wide["low"] > 0
    with pytest.raises(ValueError, match="> 0"):
        positive_ci([1.0, -0.1])


def test_replicated_needs_every_chain_in_the_same_direction():
    up = {"mean": 0.3, "significant": True}
    down = {"mean": -0.3, "significant": True}
    flat = {"mean": 0.1, "significant": False}
    assert replicated([up, up], [0.01, 0.02]) == 1
    assert replicated([down, down], [0.01, 0.02]) == -1
    assert replicated([up, down], [0.01, 0.01]) == 0
    assert replicated([up, flat], [0.01, 0.4]) == 0
    assert replicated([up, up], [0.01, 0.2]) == 0  # significant before Holm, not after
    with pytest.raises(ValueError, match="one adjusted p per chain"):
        replicated([up], [0.1, 0.2])


def test_paired_ci_is_mean_ci_of_the_differences():
    """after − before = (0.2, 0.3): mean 0.25, sem = |0.3 − 0.2|/2 = 0.05, t_{0.975, 1} = 12.706 → ±0.635."""
    ci = paired_ci([0.3, 0.5], [0.1, 0.2])
    assert ci["values"] == pytest.approx([0.2, 0.3]) and ci["df"] == 1 and ci["t"] == pytest.approx(12.7062, abs=1e-4)
    assert ci["mean"] == pytest.approx(0.25) and ci["high"] - ci["mean"] == pytest.approx(12.7062 * 0.05, abs=1e-5)
    assert {k: ci[k] for k in ("mean", "low", "high", "significant")} == pytest.approx(
        {k: mean_ci([0.2, 0.3])[k] for k in ("mean", "low", "high", "significant")}
    )
    one = paired_ci([1.0], [0.5])
    assert one["t"] == math.inf and not one["significant"]
    with pytest.raises(ValueError, match="one per pair"):
        paired_ci([1.0, 2.0], [1.0])


def test_chain_ci_is_never_narrower_than_the_chain_means_alone():
    """Two chains whose chain×prompt interaction outweighs the prompt effects (MS_prompt < MS_chain×prompt) and whose
    chain means differ just enough that MS_chain + MS_prompt − MS_chain×prompt is small but positive: the unclipped
    estimate gave an interval far narrower than the chain means' spread, with Satterthwaite df near 0 (the rung's DPO
    at the ½/½ mix: df 2e-5). With the prompt component clipped at 0 the interval contains the chain means' spread
    (sem ≥ their standard error) with df = chains − 1."""
    import numpy as np

    from llm.stats import chain_ci, standard_error

    rng = np.random.default_rng(0)
    P = 64
    inter = rng.normal(0, 1.0, size=P)  # chain×prompt interaction, opposite in the two chains
    base = np.stack([[inter], [-inter]]) + rng.normal(0, 0.05, size=(2, 1, P))
    g = base.mean(axis=(0, 1))
    ms_g = 2 * ((g - base.mean()) ** 2).sum() / (P - 1)
    ag = base.mean(axis=1)
    resid = ag - ag.mean(axis=1, keepdims=True) - g[None, :] + base.mean()
    ms_ag = (resid**2).sum() / (P - 1)
    assert ms_g < ms_ag
    h = np.sqrt(1.02 * (ms_ag - ms_g) / (2 * P))  # chain means ±h: MS_chain = 1.02 (MS_chain×prompt − MS_prompt)
    x = base - base.mean(axis=(1, 2), keepdims=True) + np.array([h, -h])[:, None, None]
    ci = chain_ci(x.tolist())
    means = x.mean(axis=(1, 2)).tolist()
    assert ci["sem"] >= standard_error(means) * (1 - 1e-9)
    assert ci["df"] == pytest.approx(1.0)
    assert ci["low"] < min(means) and ci["high"] > max(means)


def test_bandit_paired_seeds_is_the_paired_t_over_seeds_and_holm_is_one_implementation():
    """bandit.stats.paired_seeds: the mean of b − a by seed, its Student-t interval on n − 1 df and the two-sided p
    (hand values: differences 0.5, 0.2, 0.9, 0.1 → mean 0.425, sd 0.3594, t = 2.365 on 3 df); the interval and the
    p agree (p < 0.05 exactly when it excludes 0); llm.stats.holm is bandit.stats.holm (one implementation)."""
    import bandit.stats
    import llm.stats
    from bandit.stats import paired_seeds

    a, b = [1.0, 2.0, 3.0, 4.5], [1.5, 2.2, 3.9, 4.6]
    r = paired_seeds(b, a)
    sd = float(np.std([0.5, 0.2, 0.9, 0.1], ddof=1))
    half = 3.182446 * sd / 2  # t_{0.975, 3}·sd/√4
    assert r["mean"] == pytest.approx(0.425) and r["n"] == 4
    assert (r["low"], r["high"]) == pytest.approx((0.425 - half, 0.425 + half), rel=1e-5)
    assert r["p"] == pytest.approx(0.09894, abs=1e-4) and r["low"] < 0 < r["high"]
    wide = paired_seeds([x + 0.4 for x in a], [x + v for x, v in zip(a, (0.0, 0.01, -0.01, 0.0))])
    assert wide["p"] < 0.05 and wide["low"] > 0  # every seed agrees: significant however wide the per-seed spread
    assert paired_seeds([1.0, 2.0], [0.0, 1.0]) == {"mean": 1.0, "low": 1.0, "high": 1.0, "p": 0.0, "n": 2}
    assert paired_seeds([1.0, 2.0], [1.0, 2.0])["p"] == 1.0
    with pytest.raises(ValueError, match="equal-length"):
        paired_seeds([1.0, 2.0], [1.0])
    assert llm.stats.holm is bandit.stats.holm
