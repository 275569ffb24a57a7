"""The LLM comparison's statistics: every number of ``python -m llm pipeline``'s summary, with confidence intervals
over seeds × prompts (``llm.plots`` draws them).

Input: ``runs``, a list of ``{"method", "beta", "seed", "dataset", "eval": [record per evaluation step]}`` (records of
``llm.model.evaluation.evaluate_policy`` with per-prompt means: ``proxy`` = the standardised reward, ``kl_exact``,
``gold``, ``length``, ...) and ``sft``, the record of π_ref (step 0 of every curve). Every run of one pipeline is
evaluated on the same prompts with the same random numbers, so per-prompt values of two runs are paired.

The evaluation prompts are split once: the first ``selection_prompts`` form the **selection** split, on which each
method's best β is chosen; every number below is stated on the disjoint **report** split. A comparison is the mean
over seeds × report prompts with a 95 % interval from :func:`llm.stats.crossed_ci` (seed and prompt both random).
Every comparison of two methods (CoPG minus each method in J_β at each common β, at each method's best β, and against
PG on each behaviour policy's dataset) is one family: each carries its two-sided t p-value ``p`` and its
Holm-adjusted ``p_holm`` over the whole family (:func:`llm.stats.holm`), and ``significant`` (a filled marker, a
verdict) means ``p_holm`` ≤ 0.05; ``ci_excludes_0`` keeps the unadjusted reading. KL intervals respect KL ≥ 0: the
lower bound is clipped at 0 (``clipped_at_0`` says where) and the per-seed means are kept (``seed_means``).
:func:`heldout_check` adds each method's change against π_ref at its best β (reward and gold score), outside the
family.
"""

from __future__ import annotations

from typing import Any

from llm.run import MAIN
from llm.stats import crossed_ci, holm, t_pvalue

__all__ = ["ALPHA", "summarise", "heldout_check"]

ALPHA = 0.05
"""Family-wise error rate of the verdicts (Holm over every comparison of one summary)."""


def _values(rec: dict, key: str, beta: float | None = None) -> list[float]:
    """Per-prompt values of an evaluation record: a per-prompt key, or ``"J"`` = proxy − β·kl_exact."""
    per = rec["per_prompt"]
    if key == "J":
        return [r - beta * k for r, k in zip(per["proxy"], per["kl_exact"])]
    return per[key]


def _table(runs: list[dict], key: str, prompts: list[int], step: int = -1, beta: float | None = None) -> list[list]:
    """Seeds × prompts table of ``key`` at evaluation ``step`` (index) of each run, on the prompt indices."""
    rows = []
    for r in sorted(runs, key=lambda r: r["seed"]):
        v = _values(r["eval"][step], key, beta)
        rows.append([v[i] for i in prompts])
    return rows


def _ci(table: list[list[float]]) -> dict:
    c = crossed_ci(table)
    return {k: c[k] for k in ("mean", "low", "high", "sem", "df", "seeds", "prompts", "significant")}


def _kl_ci(table: list[list[float]]) -> dict:
    """Interval of a KL (≥ 0): the seeds × prompts interval with its lower bound clipped at 0, and per-seed means."""
    c = _ci(table)
    c["clipped_at_0"] = bool(c["low"] < 0)
    c["low"] = max(c["low"], 0.0)
    c["seed_means"] = [sum(row) / len(row) for row in table]
    return c


def _diff(a: list[list[float]], b: list[list[float]]) -> dict:
    """Paired difference a − b: seed i of a with seed i of b, prompt by prompt (common random numbers)."""
    n = min(len(a), len(b))
    return _ci([[x - y for x, y in zip(a[i], b[i])] for i in range(n)])


def _compare(out: dict, label: str, unit: str, a: list[list[float]], b: list[list[float]]) -> dict:
    """A paired comparison a − b of the family: its p-value now, its Holm-adjusted p and verdict in :func:`_holm`."""
    d = _diff(a, b)
    d["p"] = t_pvalue(d)
    d["ci_excludes_0"] = d.pop("significant")
    d["significant"] = False  # set by _holm once the whole family is known
    out["_family"].append((label, unit, d))
    return d


def _holm(out: dict) -> None:
    """Holm over every comparison of ``out``: ``p_holm`` and ``significant`` of each, the verdicts, the family."""
    family = out.pop("_family")
    adjusted = holm([d["p"] for _, _, d in family])
    for (label, unit, d), p in zip(family, adjusted):
        d["p_holm"] = p
        d["significant"] = bool(p <= ALPHA and d["ci_excludes_0"])
        v = _verdict(label, d, unit, len(family))
        if v:
            out["verdicts"].append(v)
    out["holm"] = {
        "alpha": ALPHA,
        "comparisons": [
            {"comparison": f"{label}{unit}", "mean": d["mean"], "p": d["p"], "p_holm": d["p_holm"]}
            for label, unit, d in family
        ],
    }


def _select(runs: list[dict], **kw: Any) -> list[dict]:
    return [r for r in runs if all(r.get(k) == v for k, v in kw.items())]


def _verdict(label: str, d: dict, unit: str, family: int) -> str | None:
    """A sentence for a paired difference that survives Holm over the family; None (no verdict) otherwise."""
    if not d["significant"]:
        return None
    word = "higher" if d["mean"] > 0 else "lower"
    a, b = label.split(" − ")
    return (
        f"{a} is {word} than {b}{unit}: {d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] "
        f"({d['seeds']} seeds × {d['prompts']} report prompts; p = {d['p']:.3g}, Holm-adjusted p = "
        f"{d['p_holm']:.3g} over {family} comparisons)"
    )


def _points_and_curves(out: dict, main: list[dict], sft: dict, selection: list[int], report: list[int]) -> None:
    """(a) Frontier points and curves of every (method, β) of the main sweep, into ``out``."""
    for m in out["methods"]:
        for beta in sorted({r["beta"] for r in _select(main, method=m)}):
            rs = _select(main, method=m, beta=beta)
            point = {
                "method": m,
                "beta": beta,
                "seeds": sorted(r["seed"] for r in rs),
                "reward": _ci(_table(rs, "proxy", report)),
                "kl": _kl_ci(_table(rs, "kl_exact", report)),
                "J": _ci(_table(rs, "J", report, beta=beta)),
                "gold": _ci(_table(rs, "gold", report)) if "gold" in rs[0]["eval"][-1]["per_prompt"] else None,
                "length": _ci(_table(rs, "length", report)),
                "truncated": _ci(_table(rs, "truncated", report)),
                "selection_reward": _ci(_table(rs, "proxy", selection))["mean"],
            }
            out["points"].append(point)
            # the curve is drawn on the selection split: evaluations before the last step may cover only those
            # prompts (the preset's ``curve_prompts``); the final numbers above are on the report split
            steps = [0] + [rec["step"] for rec in rs[0]["eval"]]
            c0 = _ci([[sft["per_prompt"]["proxy"][i] for i in selection]])
            curve = [{"step": 0, "mean": c0["mean"], "low": c0["low"], "high": c0["high"]}]
            for j in range(len(rs[0]["eval"])):
                c = _ci(_table(rs, "proxy", selection, step=j))
                curve.append({"step": steps[j + 1], "mean": c["mean"], "low": c["low"], "high": c["high"]})
            # has the curve flattened? the reward change over the last evaluation interval, paired prompt by prompt
            # and seed by seed (common random numbers make it far more precise than either point)
            last = None
            if len(rs[0]["eval"]) >= 2:
                last = _diff(_table(rs, "proxy", selection, step=-1), _table(rs, "proxy", selection, step=-2))
                last.update(from_step=steps[-2], to_step=steps[-1])
            out["curves"].append({"method": m, "beta": beta, "curve": curve, "last_change": last})


def _jbeta_rows(out: dict, main: list[dict], report: list[int], common_betas: list[float]) -> None:
    """(b) J_β at each common β and CoPG − each method (paired), into ``out``."""
    for beta in common_betas:
        row: dict[str, Any] = {"beta": beta, "J": {}, "copg_minus": {}}
        tabs = {
            m: _table(rs, "J", report, beta=beta) for m in out["methods"] if (rs := _select(main, method=m, beta=beta))
        }
        for m, t in tabs.items():
            row["J"][m] = _ci(t)
        if "copg" in tabs:
            for m in tabs:
                if m != "copg":
                    d = _compare(out, f"CoPG − {m.upper()}", f" in J_β at β = {beta:g}", tabs["copg"], tabs[m])
                    row["copg_minus"][m] = d
        out["jbeta"].append(row)


def _best_beta(out: dict, main: list[dict], report: list[int]) -> None:
    """(c) Each method at its best β (chosen on the selection split) and CoPG − each method there, into ``out``."""
    methods = out["methods"]
    for m in methods:
        pts = [p for p in out["points"] if p["method"] == m]
        best = max(pts, key=lambda p: (p["selection_reward"], -p["beta"]))
        curve = next(c for c in out["curves"] if c["method"] == m and c["beta"] == best["beta"])
        out["best"][m] = {
            "beta": best["beta"],
            "selection_reward": best["selection_reward"],
            "reward": best["reward"],
            "kl": best["kl"],
            "gold": best["gold"],
            "curve": curve["curve"],
        }
    if "copg" in out["best"]:
        ta = _table(_select(main, method="copg", beta=out["best"]["copg"]["beta"]), "proxy", report)
        for m in methods:
            if m != "copg":
                tb = _table(_select(main, method=m, beta=out["best"][m]["beta"]), "proxy", report)
                unit = " in reward at each method's best β (paper Fig. 6 view)"
                out["paired_best"][m] = _compare(out, f"CoPG − {m.upper()}", unit, ta, tb)


def _offpolicy_rows(out: dict, runs: list[dict], report: list[int], offpolicy_beta: float) -> None:
    """CoPG vs naive PG (b = 0) at one β on each behaviour policy's dataset, into ``out``."""
    datasets = list(dict.fromkeys([MAIN] + [r.get("dataset", MAIN) for r in runs]))
    rows = []
    for ds in datasets:
        cp = _select(runs, method="copg", beta=offpolicy_beta, dataset=ds)
        pg = _select(runs, method="pg", beta=offpolicy_beta, dataset=ds)
        if not cp or not pg:
            continue
        tc, tp = _table(cp, "J", report, beta=offpolicy_beta), _table(pg, "J", report, beta=offpolicy_beta)
        d = _compare(out, "CoPG − PG", f" in J_β (β = {offpolicy_beta:g}) with μ = {ds}", tc, tp)
        rows.append(
            {
                "dataset": ds,
                "copg": _ci(tc),
                "pg": _ci(tp),
                "copg_minus_pg": d,
                "copg_reward": _ci(_table(cp, "proxy", report)),
                "pg_reward": _ci(_table(pg, "proxy", report)),
                "copg_kl": _kl_ci(_table(cp, "kl_exact", report)),
                "pg_kl": _kl_ci(_table(pg, "kl_exact", report)),
            }
        )
    out["offpolicy"] = {"beta": offpolicy_beta, "rows": rows}


def summarise(
    runs: list[dict],
    sft: dict,
    selection: list[int],
    report: list[int],
    common_betas: list[float],
    offpolicy_beta: float | None = None,
) -> dict[str, Any]:
    """Every number of the comparison (see the module docstring); JSON-able, the data of every figure.

    Args:
        runs: every run (main sweep on dataset ``train`` and the off-policy runs on other datasets).
        sft: the evaluation record of π_ref.
        selection, report: disjoint prompt indices (choose on ``selection``, state on ``report``).
        common_betas: the β grid shared by every method (for J_β at a common β).
        offpolicy_beta: β of the off-policy runs (None: no off-policy sweep).
    """
    main = [r for r in runs if r.get("dataset", MAIN) == MAIN and r.get("part", "beta_sweep") == "beta_sweep"]
    methods = list(dict.fromkeys(r["method"] for r in main))
    sft_tab = [[v for i, v in enumerate(sft["per_prompt"]["proxy"]) if i in set(report)]]
    out: dict[str, Any] = {
        "methods": methods,
        "selection_prompts": len(selection),
        "report_prompts": len(report),
        "sft": {
            "reward": _ci(sft_tab),
            "kl": 0.0,
            "gold": _ci([[sft["per_prompt"]["gold"][i] for i in report]]) if "gold" in sft["per_prompt"] else None,
            "within_prompt_sd": sft.get("reward/within_prompt_sd"),
        },
        "points": [],
        "jbeta": [],
        "best": {},
        "paired_best": {},
        "curves": [],
        "offpolicy": None,
        "verdicts": [],
        "_family": [],  # (label, unit, comparison): adjusted together by _holm
    }
    # the evaluation s.e. of π_ref's mean reward on the report split vs the reward's within-prompt spread
    sd_within = sft.get("reward/within_prompt_sd")
    se = out["sft"]["reward"]["sem"]
    out["sft"]["within_sd_over_se"] = sd_within / se if sd_within and se else None

    _points_and_curves(out, main, sft, selection, report)
    _jbeta_rows(out, main, report, common_betas)
    _best_beta(out, main, report)
    if offpolicy_beta is not None:
        _offpolicy_rows(out, runs, report, offpolicy_beta)
    _holm(out)
    return out


def heldout_check(summary: dict, runs: list[dict], sft: dict, report: list[int]) -> dict[str, Any]:
    """Did optimising the reward move the held-out check? For each method at its best β: the reward and the gold
    score (ROUGE-L F1 against the human summary) minus π_ref's, paired per report prompt, over seeds × prompts
    (:func:`llm.stats.crossed_ci`, with its two-sided p). A check of each method against π_ref, not a comparison of
    methods: it is not in the Holm family of the CoPG-vs-baseline comparisons."""
    out = {}
    for m, best in summary["best"].items():
        chosen = sorted(
            (r for r in runs if r["method"] == m and r["dataset"] == MAIN and r["beta"] == best["beta"]),
            key=lambda r: r["seed"],
        )
        row = {"beta": best["beta"]}
        for key in ("proxy", "gold"):
            ref = sft["per_prompt"][key]
            table = [[r["eval"][-1]["per_prompt"][key][i] - ref[i] for i in report] for r in chosen]
            ci = crossed_ci(table)
            row[f"{key}_minus_ref"] = {**{k: ci[k] for k in ("mean", "low", "high", "sem", "df")}, "p": t_pvalue(ci)}
        out[m] = row
    return out
