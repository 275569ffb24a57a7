"""The tests the bandit lab's figures state in words, shared with the LLM lab (:mod:`llm.stats` re-exports them).

* :func:`holm` — Holm's step-down adjustment over every comparison reported together (family-wise error 5 %).
* :func:`paired_seeds` — the paired difference of two methods over the same seeds (seed s of every method trains on
  the same dataset): its mean, 95 % interval and two-sided p (Student t on the per-seed differences).

Pure Python and scipy (imported on use): light to import.
"""

from __future__ import annotations

__all__ = ["holm", "paired_seeds"]


def holm(pvalues: list[float] | dict[str, float]) -> list[float] | dict[str, float]:
    """Holm's step-down adjusted p-values (family-wise error control over every comparison in the family).

    Sort the m p-values ascending, multiply the i-th (from 0) by (m − i), take the running maximum, cap at 1. A
    comparison is significant at level α when its adjusted p is ≤ α. A dict keeps its keys.
    """
    keys = list(pvalues) if isinstance(pvalues, dict) else None
    p = [float(pvalues[k]) for k in keys] if keys is not None else [float(v) for v in pvalues]
    for v in p:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"holm: p-values must lie in [0, 1], got {v}")
    order = sorted(range(len(p)), key=lambda i: p[i])
    adjusted, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return dict(zip(keys, adjusted)) if keys is not None else adjusted


def paired_seeds(b: list[float], a: list[float], level: float = 0.95) -> dict[str, float]:
    """``b − a`` paired by seed (``a[s]`` and ``b[s]`` from seed s): ``mean``, ``low``/``high`` (the ``level``
    Student-t interval over seeds), two-sided ``p`` of "mean = 0" and ``n``. Differences that are all equal give a
    zero-width interval (p = 0 unless they are 0, then 1)."""
    from scipy.stats import ttest_rel

    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"paired_seeds: need two equal-length lists of ≥ 2 seeds, got {len(b)} and {len(a)}")
    d = [float(x) - float(y) for x, y in zip(b, a)]
    mean = sum(d) / len(d)
    if all(v == d[0] for v in d):  # no spread: t is undefined
        return {"mean": mean, "low": mean, "high": mean, "p": 1.0 if mean == 0.0 else 0.0, "n": len(d)}
    res = ttest_rel(b, a)
    ci = res.confidence_interval(level)
    return {"mean": mean, "low": float(ci.low), "high": float(ci.high), "p": float(res.pvalue), "n": len(d)}
