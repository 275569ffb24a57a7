"""Figures of the middle rung: ``rung_<name>.png`` + ``.json`` (data, config, the exact command).

* ``rung_offpolicy``: held-out J_β and estimated regret J_β(π*) − J_β of every method vs how far the data's μ is
  from π_ref (E_μ[−ln π_ref] − E_{π_ref}[−ln π_ref]), 95 % intervals over chains × seeds × prompts; the verdicts
  (CoPG − each baseline, Holm-adjusted) are ``data.verdicts``;
* ``rung_frontier``: held-out reward vs exact KL(π‖π_ref) of CoPG, IPO and DPO over β (μ = π_ref); every bar is
  the JSON's 95 % interval with the chains as a random effect (chains × prompts), KL bars clipped at 0;
* ``rung_curves``: J_β, reward and KL on the selection prompts vs step (μ = π_ref): the mean over chains and seeds,
  shaded from the lowest to the highest run at each step (``range`` in the JSON; a JSON without it draws means only).

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
PLATEAU_TOLERANCE = 0.005
"""A mean J_β that changes by at most this over the last quarter of training is called levelled off in the title."""
MU_LABELS = {"ref": "μ = π_ref", "T1.5": "π_ref at T = 1.5", "refmix": "½ π_ref + ½ noisy refs"}


def _style(m: str) -> dict:
    return dataclasses.asdict(style({"pg_batch": "pg_mean"}.get(m, m)))


def _draw_offpolicy(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(19, 5.6), gridspec_kw={"width_ratios": [1, 1, 1.1]})
    methods = list(dict.fromkeys(r["method"] for r in data["table"]))
    for ax, field, title in (
        (axes[0], "heldout_jbeta", "held-out J_β = E[R] − β·KL (higher is better)"),
        (axes[1], "regret", "estimated regret J_β(π*) − J_β (lower is better)"),
    ):
        mus = sorted(data["distance"], key=data["distance"].get)  # one column per μ, nearest π_ref first
        for k, m in enumerate(methods):
            rows = sorted((r for r in data["table"] if r["method"] == m), key=lambda r: r["distance"])
            x = [mus.index(r["mu"]) + 0.1 * (k - (len(methods) - 1) / 2) for r in rows]
            y = [r[field]["mean"] for r in rows]
            err = [
                [r[field]["mean"] - r[field]["low"] for r in rows],
                [r[field]["high"] - r[field]["mean"] for r in rows],
            ]
            st = data["methods"][m]
            label = st["label"] + (" (samples itself: μ unused)" if m == "online" else "")
            ax.errorbar(x, y, yerr=err, color=st["color"], marker="o", ms=4, capsize=3, ls="none", label=label)
            ax.set_xlim(-0.5, len(mus) - 0.5)
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
        ax.set_ylabel({"heldout_jbeta": "held-out J_β (task reward − β·KL)", "regret": "J_β(π*) − J_β"}[field])
    _draw_differences(axes[2], data, methods)
    handles, names = axes[0].get_legend_handles_labels()  # below the panels: no error bar is covered
    fig.legend(handles, names, fontsize=7, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.0))
    sig = [v for v in data["verdicts"] if v["holm_significant"]]
    rep = [v for v in data["verdicts"] if v.get("replicated")]
    fig.suptitle(
        f"Middle rung, β = {data['beta']:g}, CoPG vs each baseline on held-out prompts ({len(data['verdicts'])} "
        f"comparisons, Holm-corrected): pooled over the chains (chains as a random effect) {len(sig)} separate;\n"
        f"tested in each chain on its own (seeds × prompts), {len(rep)} separate in every chain with the same sign "
        "(★, right panel) — a statement about these chains, not about a population of chains",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def _draw_differences(ax: Any, data: dict, methods: list[str]) -> None:
    """CoPG − each baseline (paired, held-out J_β) per μ: the pooled 95 % interval with chains as a random effect
    (thin), each chain's mean (small dots) and a star where the difference separates after Holm in every chain."""
    mus = sorted(data["distance"], key=data["distance"].get)
    base = [m for m in methods if m != "copg"]
    for k, b in enumerate(base):
        st = data["methods"][b]
        for v in (v for v in data["verdicts"] if v["baseline"] == b):
            x = mus.index(v["mu"]) + 0.12 * (k - (len(base) - 1) / 2)
            ax.errorbar(x, v["mean"], yerr=[[v["mean"] - v["low"]], [v["high"] - v["mean"]]], color=st["color"],
                        marker="o", ms=5, capsize=3, lw=1)  # fmt: skip
            ax.plot([x] * len(v["chain_means"]), v["chain_means"], ".", color=st["color"], ms=3, alpha=0.8)
            if v.get("replicated"):
                ax.annotate("★", (x, v["high"]), xytext=(0, 3), textcoords="offset points", ha="center",
                            color=st["color"], fontsize=11)  # fmt: skip
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlim(-0.5, len(mus) - 0.5)
    ax.set_xticks(
        range(len(mus)), [f"{MU_LABELS.get(mu, mu)}\n{data['distance'][mu]:.2f} nats" for mu in mus], fontsize=7
    )
    ax.set_xlabel("behaviour policy μ (as in the other panels)")
    ax.set_ylabel("CoPG − baseline, held-out J_β (same prompts and samples)")
    ax.set_title(
        "CoPG minus each baseline (> 0: CoPG better), colour = the baseline\n"
        "bar: 95 % before Holm, over chains × seeds × prompts (≈ 1 df with two chains); dots: each chain's mean;\n"
        "★ separates after Holm within every chain, same sign",
        fontsize=8,
    )


def _draw_frontier(data: dict) -> Any:
    import matplotlib.pyplot as plt

    from bandit.style import label_points

    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    labels, clipped = [], False
    for m, pts in data["frontier"].items():
        st = data["methods"].get(m, {"color": "0.4", "label": "π_ref"})
        xs, ys = [p["kl"]["mean"] for p in pts], [p["reward"]["mean"] for p in pts]
        ry = [(p["reward"]["low"], p["reward"]["high"]) for p in pts]  # the JSON's intervals, as stored
        kx = [(p["kl"]["low"], p["kl"]["high"]) for p in pts]
        clipped |= any(lo < 0 for lo, _ in kx)
        kx = [(max(lo, 0.0), hi) for lo, hi in kx]  # KL ≥ 0: an interval below 0 is clipped at 0 (said in the title)
        ax.errorbar(
            xs,
            ys,
            yerr=[[y - lo for y, (lo, _) in zip(ys, ry)], [hi - y for y, (_, hi) in zip(ys, ry)]],
            xerr=[[x - lo for x, (lo, _) in zip(xs, kx)], [hi - x for x, (_, hi) in zip(xs, kx)]],
            color=st["color"] if m != "pi_ref" else "0.3",
            marker="o" if m != "pi_ref" else "s",
            capsize=2,
            elinewidth=1,
            alpha=0.85,
            label=st["label"] if m != "pi_ref" else "π_ref",
        )
        labels += [(x, y, f"{st['label']} β={p['beta']:g}") for p, x, y in zip(pts, xs, ys) if m != "pi_ref"]
    ax.set_xlim(left=-0.04)  # π_ref sits at KL = 0
    ax.set_xlabel("exact KL(π‖π_ref) of held-out samples (nats)")
    ax.set_ylabel("held-out mean task reward (coverage − length cost − repeats)")
    pts = {m: p for m, p in data["frontier"].items() if m != "pi_ref"}
    monotone = all(
        all(
            a["reward"]["mean"] >= b["reward"]["mean"] and a["kl"]["mean"] >= b["kl"]["mean"] for a, b in zip(p, p[1:])
        )
        for p in pts.values()
    )  # points sorted by β ascending
    best = {m: max(p, key=lambda q: q["reward"]["mean"]) for m, p in pts.items()}
    ax.set_title(
        "Reward vs KL over β (μ = π_ref; seed 0 of each chain): "
        + ("smaller β buys reward with KL for every method" if monotone else "reward and KL are not monotone in β")
        + "\nhighest reward: "
        + ", ".join(
            f"{data['methods'][m]['label']} {q['reward']['mean']:.3f} at KL {q['kl']['mean']:.2f}"
            for m, q in best.items()
        )
        + "\nbars: 95 % intervals with the chains as a random effect (chains × prompts), as stored in the JSON"
        + ("; KL bars clipped at 0 (KL ≥ 0)" if clipped else ""),
        fontsize=8,
    )
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    label_points(ax, labels, fontsize=6, color="0.3")
    return fig


def _draw_curves(data: dict, runs: str = "all chains and seeds") -> Any:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 5.0))
    banded = all("range" in c for c in data["curves"].values())
    for m, c in data["curves"].items():
        st = data["methods"][m]
        for ax, k in zip(axes, ("jbeta", "reward", "kl")):
            ax.plot(c["steps"], c[k], color=st["color"], marker=".", lw=1.6, label=st["label"])
            if banded:
                lo, hi = c["range"][k]["min"], c["range"][k]["max"]
                ax.fill_between(c["steps"], lo, hi, color=st["color"], alpha=0.12, lw=0)
    units = ("task reward", "task reward", "nats")
    for ax, t, u in zip(axes, ("J_β = E[R] − β·KL", "mean reward", "exact KL(π‖π_ref)"), units):
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(f"{t} ({u})")
        ax.set_title(f"{t}, selection prompts (μ = π_ref)", fontsize=9)
        ax.grid(alpha=0.3)
    axes[2].set_ylim(bottom=0)  # KL ≥ 0; J_β and reward use the data's own range (their changes are small)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    changes = {data["methods"][m]["label"]: c["last_quarter_change"] for m, c in data["curves"].items()}
    worst = max(changes, key=lambda k: abs(changes[k]))
    top = max(data["curves"], key=lambda m: data["curves"][m]["jbeta"][-1])
    last = data["curves"][top]["jbeta"][-1]
    spread = (
        f"lines: mean over {runs}; shaded: lowest to highest run at each step"
        if banded
        else f"lines: mean over {runs} (this JSON stores means only: no spread drawn)"
    )
    moved = abs(changes[worst])
    c0 = next(iter(data["curves"].values()))
    span = f" (step {c0['last_quarter_from_step']} to {c0['steps'][-1]})" if "last_quarter_from_step" in c0 else ""
    if banded and c0["runs"] == 1:
        spread = f"lines: {runs} (one run per method: no spread)"
    verdict = "levelled off" if moved <= PLATEAU_TOLERANCE else "still moving"
    fig.suptitle(
        f"Training curves at β = {data['beta']:g}: {spread}\n"
        f"last quarter of training{span}: mean J_β moves at most {moved:.4f} ({worst}); {verdict} at the "
        f"±{PLATEAU_TOLERANCE:g} level; highest final mean J_β: {data['methods'][top]['label']} {last:.3f}",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
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
    cfg = record.get("config", {})
    if record["kind"] == "curves" and "chains" in cfg and "seeds" in cfg:
        c, s = cfg["chains"], cfg["seeds"]
        return _draw_curves(record["data"], f"{c} chain{'s' * (c != 1)} × {s} seed{'s' * (s != 1)}")
    return FIGURES[record["kind"]](record["data"])
