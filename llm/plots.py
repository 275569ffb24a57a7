"""Figures of the LLM lab from the evaluation records of a β sweep (paper Figs. 2–6, plus reward–KL and proxy–gold).

Every figure is ``<dir>/<name>.png`` + ``<dir>/<name>.json``; the JSON holds the data drawn (per-run evaluation
curves), the resolved config, seeds, package versions, git revision and the exact command, and redraws the PNG:

    python -m bandit plot figures/llm_final_reward_vs_beta.json   # the one redraw command of both labs

Input: ``runs``, a list of ``{"method", "beta", "seed", "eval": [record per evaluation step], "wall_clock_s"}`` where
a record has ``step``, ``reward/proxy_mean``, ``reward/proxy_sem``, ``reward/gold_mean``, ``policy/kl_to_ref``, … and
``per_prompt`` lists (see ``llm.stages.evaluate``); ``sft``, the same record for π_ref (step 0 of every curve).

Choosing β and reporting the result on the same prompts biases the result up (the best of several noisy means is
the maximum of the noise too). So the evaluation prompts are split by :func:`split_eval_prompts` into two disjoint,
seeded halves: each method's β is chosen on the *selection* half (:func:`best_beta` with ``prompts=selection``) and
the best-β curves, final rewards and paired differences are reported on the *report* half only. Both index lists are
recorded in ``llm_best_beta.json`` (``data.prompt_split``). The sweep figures (reward vs step, final reward vs β,
frontier) show every run on all evaluation prompts: they choose nothing.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from bandit.records import provenance, write_figure
from bandit.style import style
from llm.model.evaluation import mean_ci

__all__ = ["make_figures", "best_beta", "split_eval_prompts", "draw_record"]  # + the FIGURES table (a dict)
PROXY, GOLD = "reward/proxy_mean", "reward/gold_mean"
KL = "policy/kl_to_ref_k3"  # the k3 estimate: never negative (k1, policy/kl_to_ref, is unbiased but can be)


def _strip(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "per_prompt"}


def _curve(run: dict, sft: dict | None) -> list[dict]:
    recs = [_strip(r) for r in run["eval"]]
    if sft is not None and (not recs or recs[0]["step"] != 0):
        recs = [{**_strip(sft), "step": 0}] + recs
    return recs


def split_eval_prompts(n: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """Disjoint (selection, report) halves of the n evaluation-prompt indices: a seeded random permutation, cut in two.

    The selection half has ⌊n/2⌋ prompts, the report half the rest; both are sorted. Deterministic given (n, seed).
    """
    perm = list(range(n))
    random.Random(seed).shuffle(perm)
    return sorted(perm[: n // 2]), sorted(perm[n // 2 :])


def _proxy_on(rec: dict, prompts: list[int] | None) -> float:
    """Proxy reward of an evaluation record averaged over the prompt indices ``prompts`` (None: the record's mean)."""
    if prompts is None:
        return rec[PROXY]
    per = rec["per_prompt"]["proxy"]
    return sum(per[i] for i in prompts) / len(prompts)


_PER_PROMPT_KEYS = {  # per-prompt list → (mean key, s.e. key or None) of an evaluation record
    "proxy": (PROXY, "reward/proxy_sem"),
    "gold": (GOLD, "reward/gold_sem"),
    "kl_k1": ("policy/kl_to_ref", "policy/kl_to_ref_sem"),
    "kl_k3": (KL, None),
    "length": ("policy/length_mean", None),
}


def _restrict(rec: dict, prompts: list[int] | None) -> dict:
    """The record without per-prompt lists, its means (and s.e.) recomputed on ``prompts`` (None: unchanged)."""
    out = _strip(rec)
    if prompts is None:
        return out
    for name, (mean_key, sem_key) in _PER_PROMPT_KEYS.items():
        per = rec.get("per_prompt", {}).get(name)
        if per:
            ci = mean_ci([per[i] for i in prompts])
            out[mean_key] = ci["mean"]
            if sem_key:
                out[sem_key] = ci["sem"]
    out["n_prompts"] = len(prompts)
    return out


def best_beta(runs: list[dict], method: str, prompts: list[int] | None = None) -> dict | None:
    """The run of ``method`` with the highest final proxy reward on the prompt indices ``prompts`` (ties: smaller β).

    Pass the selection half of :func:`split_eval_prompts` and report on the other half; ``prompts=None`` uses every
    prompt (the record's mean), which biases the reported reward of the chosen run upwards.
    """
    cands = [r for r in runs if r["method"] == method and r["eval"]]
    if not cands:
        return None
    return max(cands, key=lambda r: (_proxy_on(r["eval"][-1], prompts), -r["beta"]))


def _methods(runs: list[dict]) -> list[str]:
    seen: list[str] = []
    for r in runs:
        if r["method"] not in seen:
            seen.append(r["method"])
    return seen


# ----------------------------------------------------------------------------------------------------------------
# Drawing functions: (data) -> matplotlib figure. Data are exactly what the JSON stores.
# ----------------------------------------------------------------------------------------------------------------


def _band(ax: Any, curve: list[dict], color: Any, label: str, alpha: float) -> None:
    """Proxy reward vs step of one run: the mean as a line, ± one standard error over prompts as a band."""
    xs = [r["step"] for r in curve]
    ys = [r[PROXY] for r in curve]
    se = [r.get("reward/proxy_sem", 0.0) for r in curve]
    ax.plot(xs, ys, marker="o", ms=3, color=color, label=label)
    ax.fill_between(xs, [y - s for y, s in zip(ys, se)], [y + s for y, s in zip(ys, se)], color=color, alpha=alpha)


def _finish(fig: Any, ax: Any, data: dict, xlabel: str, ylabel: str, title: str) -> Any:
    """The SFT reference as a dashed line (when the data carry it), axis labels, title, legend; returns ``fig``."""
    if data.get("sft") is not None:
        ax.axhline(data["sft"][PROXY], color="grey", ls="--", lw=1, label="SFT (π_ref)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _draw_reward_vs_step(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    runs = sorted(data["runs"], key=lambda r: r["beta"])
    cmap = plt.get_cmap("viridis")
    for i, run in enumerate(runs):
        _band(ax, run["curve"], cmap(i / max(1, len(runs) - 1)), f"β = {run['beta']:g}", alpha=0.15)
    return _finish(
        fig, ax, data, "training step", "proxy RM reward of samples (mean ± s.e.)",
        f"{data['method']}: reward vs step, β sweep",
    )  # fmt: skip


def _draw_final_vs_beta(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for method, pts in data["methods"].items():
        pts = sorted(pts, key=lambda p: p["beta"])
        ax.errorbar(
            [p["beta"] for p in pts],
            [p["final"] for p in pts],
            yerr=[p["sem"] for p in pts],
            marker="o",
            capsize=3,
            color=style(method).color,
            label=method,
        )
    ax.set_xscale("log")
    return _finish(fig, ax, data, "β", "final proxy RM reward (mean ± s.e. over prompts)", "final reward vs β")


def _draw_best_beta(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for method, run in data["best"].items():
        _band(ax, run["curve"], style(method).color, f"{method} (β = {run['beta']:g})", alpha=0.2)
    return _finish(
        fig, ax, data, "training step", "proxy RM reward (mean ± s.e. over prompts)", "each method at its best β"
    )


def _draw_frontier(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    labelled = set()
    for i, run in enumerate(data["runs"]):
        pts = [r for r in run["curve"] if KL in r]
        if not pts:
            continue
        m = run["method"]
        ax.plot(
            [r[KL] for r in pts],
            [r[PROXY] for r in pts],
            marker="o",
            ms=3,
            color=style(m).color,
            alpha=0.8,
            label=None if m in labelled else style(m).label,
        )
        ax.annotate(
            f"β={run['beta']:g}",
            (pts[-1][KL], pts[-1][PROXY]),
            xytext=(4, -9 + 9 * (i % 3)),  # staggered: labels of nearby end points do not overlap
            textcoords="offset points",
            fontsize=8,
            color=style(m).color,
        )
        labelled.add(m)
    if data.get("sft") is not None:
        ax.scatter([0.0], [data["sft"][PROXY]], color="k", marker="*", s=60, label="SFT (π_ref)", zorder=5)
    ax.set_xlabel("KL(π‖π_ref), k3 estimate on fresh samples (nats)")
    ax.set_ylabel("proxy RM reward")
    ax.set_title("reward–KL frontier (each line: one run; label = β)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _draw_proxy_vs_gold(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    labelled = set()
    for run in data["runs"]:
        pts = [r for r in run["curve"] if GOLD in r]
        m = run["method"]
        lab = None if m in labelled else m
        a1.scatter([r[PROXY] for r in pts], [r[GOLD] for r in pts], s=12, color=style(m).color, alpha=0.7, label=lab)
        kl_pts = [r for r in pts if KL in r]
        a2.scatter([r[KL] for r in kl_pts], [r[GOLD] for r in kl_pts], s=12, color=style(m).color, alpha=0.7)
        labelled.add(m)
    if data.get("sft") is not None and GOLD in data["sft"]:
        a1.scatter([data["sft"][PROXY]], [data["sft"][GOLD]], color="k", marker="*", s=60, label="SFT (π_ref)")
        a2.scatter([0.0], [data["sft"][GOLD]], color="k", marker="*", s=60)
    a1.set_xlabel("proxy RM reward (what is optimised)")
    a1.set_ylabel("gold: ROUGE-L F1 − length penalty")
    a1.set_title("proxy vs gold (every evaluation of every run)")
    a1.legend(fontsize=8)
    a2.set_xlabel("KL(π‖π_ref), k3 estimate (nats)")
    a2.set_ylabel("gold: ROUGE-L F1 − length penalty")
    a2.set_title("gold score vs KL: over-optimisation")
    fig.tight_layout()
    return fig


FIGURES = {
    "reward_vs_step": _draw_reward_vs_step,
    "final_reward_vs_beta": _draw_final_vs_beta,
    "best_beta": _draw_best_beta,
    "reward_kl_frontier": _draw_frontier,
    "proxy_vs_gold": _draw_proxy_vs_gold,
}


def _paired_final(run_a: dict, run_b: dict, prompts: list[int] | None = None) -> dict | None:
    """Final-step proxy reward difference a − b, paired over the eval prompts ``prompts`` (None: all): mean, s.e.,
    95 % CI, verdict."""
    pa = run_a["eval"][-1].get("per_prompt", {}).get("proxy")
    pb = run_b["eval"][-1].get("per_prompt", {}).get("proxy")
    if not pa or not pb or len(pa) != len(pb):
        return None
    idx = range(len(pa)) if prompts is None else prompts
    ci = mean_ci([pa[i] - pb[i] for i in idx])
    return {
        "mean": ci["mean"],
        "sem": ci["sem"],
        "ci95": [ci["low"], ci["high"]],
        "n_prompts": ci["n"],
        "significant": ci["significant"],
    }


def figure_names(methods: list[str]) -> list[str]:
    """The figures :func:`make_figures` writes for a sweep of ``methods`` (file stems)."""
    fixed = ["llm_final_reward_vs_beta", "llm_best_beta", "llm_reward_kl_frontier", "llm_proxy_vs_gold"]
    return [f"llm_reward_vs_step_{m}" for m in methods] + fixed


def make_figures(
    runs: list[dict],
    sft: dict | None,
    out_dir: str | os.PathLike,
    command: str,
    config: dict | None = None,
    split_seed: int = 0,
) -> dict[str, Any]:
    """Draw every LLM figure of the sweep ``runs`` into ``out_dir``; returns a summary (paths, best β, paired CIs).

    β is chosen on the selection half of the evaluation prompts and the best-β results are reported on the report
    half (:func:`split_eval_prompts` with ``split_seed``; module docstring). Runs without per-prompt lists fall back to
    choosing and reporting on every prompt, and the summary's ``prompt_split`` is then None.
    """
    out_dir = Path(out_dir)
    base = {
        **provenance(command, config or {}, packages=("torch", "transformers", "accelerate", "matplotlib")),
        "drawer": "llm.plots",
        "seeds": sorted({r["seed"] for r in runs}),
        "sft": _strip(sft) if sft else None,
    }
    curves = [
        {
            "method": r["method"],
            "beta": r["beta"],
            "seed": r["seed"],
            "wall_clock_s": r.get("wall_clock_s"),
            "curve": _curve(r, sft),
        }
        for r in runs
    ]
    written: list[str] = []

    def emit(name: str, kind: str, data: dict) -> None:
        payload = {**base, "name": name, "kind": kind, "data": {"sft": base["sft"], **data}}
        written.append(str(write_figure(payload, draw_record(payload), out_dir / name, dpi=120)))

    methods = _methods(runs)
    for m in methods:
        emit(
            f"llm_reward_vs_step_{m}", "reward_vs_step", {"method": m, "runs": [c for c in curves if c["method"] == m]}
        )
    final = {
        m: [
            {
                "beta": c["beta"],
                "final": c["curve"][-1][PROXY],
                "sem": c["curve"][-1].get("reward/proxy_sem", 0.0),
                "kl": c["curve"][-1].get(KL),
                "gold": c["curve"][-1].get(GOLD),
                "seed": c["seed"],
            }
            for c in curves
            if c["method"] == m
        ]
        for m in methods
    }
    emit("llm_final_reward_vs_beta", "final_reward_vs_beta", {"methods": final})
    # β selection on one half of the eval prompts, results on the other (choosing and reporting on the same
    # prompts biases the reported reward up); see the module docstring
    sizes = {len(r["eval"][-1].get("per_prompt", {}).get("proxy") or []) for r in runs if r["eval"]}
    split = None
    if len(sizes) == 1 and (n := sizes.pop()) >= 2:
        selection, report = split_eval_prompts(n, split_seed)
        split = {"seed": split_seed, "n": n, "selection": selection, "report": report}
    sel = split["selection"] if split else None
    rep = split["report"] if split else None
    chosen = {m: b for m in methods if (b := best_beta(runs, m, sel)) is not None}
    best = {}
    for m, b in chosen.items():
        c = next(c for c in curves if c["method"] == m and c["beta"] == b["beta"] and c["seed"] == b["seed"])
        recs = b["eval"] if sft is None or b["eval"][0]["step"] == 0 else [{**sft, "step": 0}, *b["eval"]]
        best[m] = {
            **c,
            "curve": [_restrict(r, rep) for r in recs],  # the report half only
            "selection_final_proxy": _proxy_on(b["eval"][-1], sel),  # what β was chosen on
        }
    paired = {}
    if "copg" in chosen:
        for m in methods:
            if m != "copg" and m in chosen:
                paired[f"copg-{m}"] = _paired_final(chosen["copg"], chosen[m], rep)
    sft_report = _restrict(sft, rep) if sft else None
    emit(
        "llm_best_beta",
        "best_beta",
        {"best": best, "paired_final_difference": paired, "prompt_split": split, "sft": sft_report},
    )
    emit("llm_reward_kl_frontier", "reward_kl_frontier", {"runs": curves})
    emit("llm_proxy_vs_gold", "proxy_vs_gold", {"runs": curves})
    summary = {
        "figures": written,
        "best": {
            m: {
                "beta": c["beta"],
                "selection_final_proxy": c["selection_final_proxy"],
                "final_proxy": c["curve"][-1][PROXY],
                "final_proxy_sem": c["curve"][-1].get("reward/proxy_sem"),
                "final_gold": c["curve"][-1].get(GOLD),
                "final_kl": c["curve"][-1].get(KL),
            }
            for m, c in best.items()
        },
        "paired_final_difference": paired,
        "prompt_split": split,
        "sft": base["sft"],
    }
    return summary


def draw_record(record: dict) -> Any:
    """The figure of an LLM figure record (``<name>.json``), unsaved; ``bandit.records.redraw`` saves it."""
    return FIGURES[record["kind"]](record["data"])
