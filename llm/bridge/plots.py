"""Figures of the exact bridge: ``bridge_<name>.png`` + ``.json`` (data, config, seeds, exact command).

* ``bridge_regret_vs_step``: exact held-in regret vs step, one line per method, 95 % band over seeds; dashed: the
  method's tabular prediction (``bandit.stationary``);
* ``bridge_network_vs_tabular``: KL(π_tabular ‖ π_network) per (network, prediction), mean over prompts and seeds;
* ``bridge_offpolicy``: final regret vs the temperature T of μ = π_ref at T (network solid, tabular dashed).

Redraw without training: ``python -m llm.bridge.plots figures/bridge_regret_vs_step.json``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["make_figures", "redraw"]


def _ci(values: list[float]) -> tuple[float, float]:
    from llm.bridge.experiment import mean_ci

    r = mean_ci(values)
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


def _save(fig: Any, out_dir: Path, name: str, payload: dict) -> Path:
    import os
    import tempfile

    import matplotlib.pyplot as plt

    from llm.run import atomic_write_json, usual_mode

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".png", dir=out_dir)
    os.close(fd)
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.chmod(tmp, usual_mode())
    os.replace(tmp, png)
    atomic_write_json(out_dir / f"{name}.json", payload)
    return png


def make_figures(results: dict, out_dir: Path) -> list[Path]:
    """Draw the bridge figures from ``results`` (``run_bridge``'s JSON-ready dict) into ``out_dir``."""
    common = {"config": results["config"], "seeds": list(results["config"]["seeds"]), "command": results["command"]}
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
        out.append(_save(FIGURES[kind](data), out_dir, name, payload))
    return out


def redraw(json_path: str) -> Path:
    """Redraw the PNG next to ``json_path`` from its stored data (no training)."""
    import json

    import matplotlib.pyplot as plt

    payload = json.loads(Path(json_path).read_text(encoding="utf-8"))
    fig = FIGURES[payload["kind"]](payload["data"])
    png = Path(json_path).with_suffix(".png")
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return png


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: python -m llm.bridge.plots figures/bridge_<name>.json [...]")
        sys.exit(0)
    for p in sys.argv[1:]:
        print(redraw(p))
