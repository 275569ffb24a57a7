"""Figures of the exact bridge: ``bridge_<name>.png`` + ``.json`` (data, config, seeds, exact command).

* ``bridge_regret_vs_step``: exact held-in regret vs step, one line per method, 95 % band over seeds; dashed: the
  method's tabular prediction (``bandit.stationary``);
* ``bridge_network_vs_tabular``: KL(π_tabular ‖ π_network) per (network, prediction), mean over prompts and seeds;
* ``bridge_offpolicy``: final regret vs the temperature T of μ = π_ref at T (network solid, tabular dashed).

Redraw without training: ``python -m bandit plot figures/bridge_regret_vs_step.json`` (the one redraw command).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bandit.records import provenance, write_figure
from llm.model.evaluation import seed_ci

__all__ = ["FIGURE_NAMES", "make_figures", "draw_record"]

FIGURE_NAMES = ("regret_vs_step", "network_vs_tabular", "offpolicy")
"""The figures a run writes, as ``bridge_<name>.{png,json}``."""


def _ci(values: list[float]) -> tuple[float, float]:
    r = seed_ci(values)
    return r["mean"], r["ci95"]


def _draw_regret_vs_step(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m, runs in data["curves"].items():
        steps = [p["step"] for p in runs[0]["curve"]]
        stats = [_ci([r["curve"][i]["policy/regret"] for r in runs]) for i in range(len(steps))]
        ys = [s[0] for s in stats]
        color = data["methods"][m]["color"]
        ax.plot(steps, ys, marker="o", ms=3, color=color, label=data["methods"][m]["label"])
        ax.fill_between(steps, [y - c for y, c in stats], [y + c for y, c in stats], color=color, alpha=0.2)
        tab = data["tabular_regret"].get(m)
        if tab is not None and tab == tab:
            ax.axhline(tab, color=color, ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("exact regret J(π*) − J(π) = β·KL(π‖π*)  (held-in)")
    ax.set_title("Exact regret (mean, 95% band over seeds); dashed = tabular prediction")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def _draw_network_vs_tabular(data: dict) -> Any:
    import matplotlib.pyplot as plt
    import numpy as np

    rows = list(data["table"])
    cols = list(next(iter(data["table"].values())))
    vals = np.array([[data["table"][r][c] for c in cols] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 2, 0.5 * len(rows) + 1.5))
    im = ax.imshow(np.log10(np.clip(vals, 1e-4, None)), cmap="viridis_r", aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = vals[i, j]
            ax.text(j, i, "n/a" if math.isnan(v) else f"{v:.3g}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xticks(range(len(cols)), [f"tab: {c}" for c in cols], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"net: {r}" for r in rows], fontsize=8)
    ax.set_title("KL(π_tabular ‖ π_network), mean over held-in prompts × seeds")
    fig.colorbar(im, ax=ax, label="log10 KL")
    fig.tight_layout()
    return fig


def _draw_offpolicy(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in dict.fromkeys(p["method"] for p in data["points"]):
        pts = sorted((p for p in data["points"] if p["method"] == m), key=lambda p: p["temperature"])
        color = data["methods"][m]["color"]
        ts = [p["temperature"] for p in pts]
        ax.plot(ts, [p["network_regret"] for p in pts], marker="o", color=color, label=data["methods"][m]["label"])
        ax.plot(ts, [p["tabular_regret"] for p in pts], ls="--", marker="x", color=color)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("temperature T of μ1 = μ2 = π_ref at T (1 = on π_ref)")
    ax.set_ylabel("final exact regret (held-in)")
    ax.set_title("Regret vs off-policy-ness of μ (solid: network, dashed: tabular)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


FIGURES = {
    "regret_vs_step": _draw_regret_vs_step,
    "network_vs_tabular": _draw_network_vs_tabular,
    "offpolicy": _draw_offpolicy,
}


def make_figures(results: dict, out_dir: Path) -> list[Path]:
    """Draw the bridge figures from ``results`` (``run_bridge``'s JSON-ready dict) into ``out_dir``."""
    common = {
        **provenance(results["command"], results["config"], packages=("torch", "transformers", "matplotlib")),
        "drawer": "llm.bridge.plots",
        "seeds": list(results["config"]["seeds"]),
    }
    methods = results["methods"]
    figs = [
        (
            "bridge_regret_vs_step",
            "regret_vs_step",
            {
                "curves": results["curves"],
                "methods": methods,
                "tabular_regret": {m: r["tabular_regret"] for m, r in results["regret"].items()},
            },
        ),
        (
            "bridge_network_vs_tabular",
            "network_vs_tabular",
            {"table": results["kl_table"]["tab_to_net"], "net_to_tab": results["kl_table"]["net_to_tab"]},
        ),
    ]
    if results["sweep"]:
        figs.append(("bridge_offpolicy", "offpolicy", {"points": results["sweep"], "methods": methods}))
    out = []
    for name, kind, data in figs:
        payload = {"kind": kind, "data": data, **common}
        out.append(write_figure(payload, draw_record(payload), Path(out_dir) / name, dpi=120))
    return out


def draw_record(record: dict) -> Any:
    """The figure of a bridge figure record, unsaved (``bandit.records.redraw`` saves it)."""
    return FIGURES[record["kind"]](record["data"])
