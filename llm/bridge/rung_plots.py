"""Figures of the middle rung: ``rung_<name>.png`` + ``.json`` (data, config, the exact command).

* ``rung_offpolicy``: held-out J_β and estimated regret J_β(π*) − J_β of every method vs how far the data's μ is
  from π_ref (E_μ[−ln π_ref] − E_{π_ref}[−ln π_ref]), 95 % intervals over chains × seeds × prompts; the verdicts
  (CoPG − each baseline, Holm-adjusted) are ``data.verdicts``;
* ``rung_frontier``: held-out reward vs exact KL(π‖π_ref) of CoPG, IPO and DPO over β (μ = π_ref);
* ``rung_curves``: J_β, reward and KL on the selection prompts vs step (μ = π_ref), mean over chains and seeds.

Colours and labels come from ``bandit.style``. Redraw: ``python -m bandit plot figures/rung_offpolicy.json``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bandit.records import provenance, write_figure
from bandit.style import style

__all__ = ["FIGURE_NAMES", "make_figures", "draw_record"]

FIGURE_NAMES = ("offpolicy", "frontier", "curves")
"""The figures a run writes, as ``rung_<name>.{png,json}``."""
MU_LABELS = {"ref": "μ = π_ref", "T1.5": "π_ref at T = 1.5", "refmix": "½ π_ref + ½ noisy refs"}


def _style(m: str) -> dict:
    return dataclasses.asdict(style({"pg_batch": "pg_mean"}.get(m, m)))


def _draw_offpolicy(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    methods = list(dict.fromkeys(r["method"] for r in data["table"]))
    for ax, field, title in (
        (axes[0], "heldout_jbeta", "held-out J_β = E[R] − β·KL (higher is better)"),
        (axes[1], "regret", "estimated regret J_β(π*) − J_β (lower is better)"),
    ):
        mus = sorted(data["distance"], key=data["distance"].get)  # one column per μ, nearest π_ref first
        for k, m in enumerate(methods):
            rows = sorted((r for r in data["table"] if r["method"] == m), key=lambda r: r["distance"])
            x = [mus.index(r["mu"]) + 0.06 * (k - (len(methods) - 1) / 2) for r in rows]
            y = [r[field]["mean"] for r in rows]
            err = [
                [r[field]["mean"] - r[field]["low"] for r in rows],
                [r[field]["high"] - r[field]["mean"] for r in rows],
            ]
            st = data["methods"][m]
            ax.errorbar(x, y, yerr=err, color=st["color"], marker="o", ms=4, capsize=3, label=st["label"])
        if field == "heldout_jbeta":
            ax.axhline(data["pi_ref_jbeta"], color="0.4", ls="--", lw=1, label="π_ref")
            ax.axhline(data["pi_star_jbeta"], color="k", ls=":", lw=1, label="π* (importance sampling)")
        else:
            ax.axhline(data["pi_star_jbeta"] - data["pi_ref_jbeta"], color="0.4", ls="--", lw=1, label="π_ref")
        ax.set_xticks(
            range(len(mus)),
            [f"{MU_LABELS.get(mu, mu)}\n{data['distance'][mu]:.2f} nats" for mu in mus],
            fontsize=7,
        )
        ax.set_xlabel("behaviour policy μ, ordered by its distance from π_ref: E_μ[−ln π_ref] − E_π_ref[−ln π_ref]")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7, loc="best")
    sig = [v for v in data["verdicts"] if v["holm_significant"]]
    rep = [v for v in data["verdicts"] if v.get("replicated")]
    fig.suptitle(
        f"Middle rung, β = {data['beta']:g}: {len(sig)} of {len(data['verdicts'])} CoPG-vs-baseline held-out "
        "comparisons separate after Holm with chains as a random effect (95 % intervals: chains × seeds × prompts); "
        f"{len(rep)} separate after Holm within every chain, in the same direction",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def _draw_frontier(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    for m, pts in data["frontier"].items():
        st = data["methods"].get(m, {"color": "0.4", "label": "π_ref"})
        xs, ys = [p["kl"]["mean"] for p in pts], [p["reward"]["mean"] for p in pts]
        ax.errorbar(
            xs,
            ys,
            yerr=[
                [p["reward"]["mean"] - p["reward"]["low"] for p in pts],
                [p["reward"]["high"] - p["reward"]["mean"] for p in pts],
            ],
            xerr=[[p["kl"]["mean"] - p["kl"]["low"] for p in pts], [p["kl"]["high"] - p["kl"]["mean"] for p in pts]],
            color=st["color"] if m != "pi_ref" else "0.3",
            marker="o" if m != "pi_ref" else "s",
            capsize=2,
            label=st["label"] if m != "pi_ref" else "π_ref",
        )
        for p, x, y in zip(pts, xs, ys):
            if m != "pi_ref":
                ax.annotate(f"β={p['beta']:g}", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("exact KL(π‖π_ref) of held-out samples (nats)")
    ax.set_ylabel("held-out mean reward")
    ax.set_title("reward–KL frontier over β (μ = π_ref; seed 0 of each chain)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _draw_curves(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for m, c in data["curves"].items():
        st = data["methods"][m]
        for ax, k in zip(axes, ("jbeta", "reward", "kl")):
            ax.plot(c["steps"], c[k], color=st["color"], marker=".", label=st["label"])
    for ax, t in zip(axes, ("J_β", "mean reward", "exact KL(π‖π_ref)")):
        ax.set_xlabel("optimizer step")
        ax.set_title(f"{t}, selection prompts (μ = π_ref)", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


FIGURES = {"offpolicy": _draw_offpolicy, "frontier": _draw_frontier, "curves": _draw_curves}


def _figure_data(results: dict) -> dict[str, dict]:
    s, cfg = results["summary"], results["config"]
    methods = {m: _style(m) for m in cfg["methods"]}
    common = {"methods": methods, "beta": cfg["beta"]}
    out = {
        "offpolicy": {
            **common,
            "table": s["table"],
            "verdicts": s["verdicts"],
            "distance": s["distance"],
            "pi_ref_jbeta": s["pi_ref_jbeta_heldout"],
            "pi_star_jbeta": s["pi_star_jbeta_heldout"],
            "competence": s["competence"],
            "ess": s["ess"],
            "lrs": s["lrs"],
            "selection": s["selection"],
        },
        "curves": {**common, "curves": s["curves"]},
    }
    if s["frontier"]:
        out["frontier"] = {**common, "frontier": s["frontier"]}
    return out


def make_figures(results: dict, out_dir: Path) -> list[Path]:
    """Draw the rung figures from ``results`` (``run_rung``'s dict) into ``out_dir``."""
    common = {
        **provenance(results["command"], results["config"], packages=("torch", "transformers", "matplotlib")),
        "drawer": "llm.bridge.rung_plots",
        "seeds": list(range(results["config"]["chains"])),
    }
    paths = []
    for kind, data in _figure_data(results).items():
        payload = {"kind": kind, "data": data, **common}
        paths.append(write_figure(payload, draw_record(payload), Path(out_dir) / f"rung_{kind}", dpi=120))
    return paths


def draw_record(record: dict) -> Any:
    """The figure of a rung figure record, unsaved (``bandit.records.redraw`` saves it)."""
    return FIGURES[record["kind"]](record["data"])
