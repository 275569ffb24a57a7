"""Figures of the exact bridge: ``bridge_<name>.png`` + ``.json`` (data, config, task seeds, exact command).

* ``bridge_converged`` (panel a, the headline): per method, the network's held-in regret next to its tabular
  limit's, and KL(limit ‖ network) on the sampled set S and in full; ``data.summary[method]`` carries the verdict;
* ``bridge_regret_vs_step`` (panel b): the practical trainer's exact regret vs step against the limits;
* ``bridge_coverage`` (panel c): CoPG's network as the pairs per prompt grow;
* ``bridge_heldout`` (panel d): held-in vs held-out regret of the converged networks.

Regret axes are logarithmic down to a floor (:data:`FLOOR`): a value below it (a limit that is exactly π*, regret
0 up to rounding) is drawn on the floor and labelled. Colours and labels come from ``bandit.style``.
Redraw without training: ``python -m bandit plot figures/bridge_converged.json``.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

from bandit.records import provenance, write_figure

__all__ = ["FIGURE_NAMES", "FLOOR", "check_text", "make_figures", "draw_record"]

FIGURE_NAMES = ("converged", "regret_vs_step", "coverage", "heldout")
"""The figures a run can write, as ``bridge_<name>.{png,json}``."""
FLOOR = 1e-5
"""Lowest regret / KL drawn; smaller values sit on this labelled floor."""


def check_text(name: str, check: dict) -> str:
    """One line of the console report for one of the run's ``checks`` (no raw dict), e.g.
    ``check copg_le_0.1x_ipo: copg 0.000235, ipo 0.0419, ratio 0.0056 → holds``; a per-method entry
    (``{"kl": …, "holds": …}`` or a bare bool) gets ✓ or ✗."""
    mark = {True: "✓", False: "✗"}

    def one(key: str, x: Any) -> str:
        if isinstance(x, dict):
            return f"{key} {x['kl']:.3g} {mark[x['holds']]}" if "kl" in x else f"{key} {x}"
        return f"{key} {mark[x]}" if isinstance(x, bool) else f"{key} {x:.3g}"

    parts = ", ".join(one(k, x) for k, x in check.items() if k != "holds")
    verdict = f" → {'holds' if check['holds'] else 'FAILS'}" if "holds" in check else ""
    return f"check {name}: {parts}{verdict}"


def _floor(ax: Any, label: str = "floor: values ≤ 1e-5 (a limit equal to π*: 0 up to rounding)") -> None:
    ax.axhline(FLOOR, color="0.6", lw=0.8, ls=":", label=label)


def _f(v: float | None) -> float:
    return max(v, FLOOR) if v is not None and v == v else float("nan")


def _tick(summary: dict, label: str, styles: dict) -> str:
    """Tick label: the method; whether its network is nearest its own limit of all the methods' limits; and how far
    from its own limit it is (KL(limit ‖ network), the right panel), so a ✓ never reads as "close"."""
    own, near, kl = summary["nearest_is_own"], summary["nearest_limit"], summary["kl_to_own_limit"]
    if own is None:
        return f"{textwrap.fill(label, 11)}\nno finite\nlimit"
    tag = "✓ nearest its\nown limit" if own else f"✗ nearest\n{textwrap.fill(styles[near]['label'], 11)}'s"
    return f"{textwrap.fill(label, 11)}\n{tag}\nKL {kl:.2g}"


def _top(values: list[float], share: float = 0.22) -> float:
    """Top of a log axis from FLOOR / 2 that leaves the upper ``share`` of its height free for a one-row legend."""
    hi = max([v for v in values if v == v] or [1.0])
    return 10 ** ((math.log10(hi) - share * math.log10(FLOOR / 2)) / (1 - share))


def _converged_regret(ax: Any, data: dict) -> None:
    from matplotlib.lines import Line2D

    s, styles = data["summary"], data["methods"]
    names = list(s)
    tops = []
    for i, m in enumerate(names):
        c = styles[m]["color"]
        r = s[m]["network_regret"]
        ax.bar(i, _f(r["mean"]), color=c, alpha=0.85, width=0.6, label="network (bar: mean; dots: random tasks)"
               if i == 0 else None)  # fmt: skip
        ax.errorbar(i, _f(r["mean"]), yerr=[[0], [r["ci95"]]], color="k", capsize=3, lw=1,
                    label="upper 95 % bound" if i == 0 else None)  # fmt: skip
        ax.scatter([i] * len(r["values"]), [_f(v) for v in r["values"]], color="k", s=8, zorder=3)
        ax.scatter(i, _f(s[m]["tabular_regret"]), marker="_", s=500, color="k", lw=2.5, zorder=4)
        tops += [_f(r["mean"] + r["ci95"]), _f(s[m]["tabular_regret"]), *(_f(v) for v in r["values"])]
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, _top(tops))
    ax.set_xticks(range(len(names)), [_tick(s[m], styles[m]["label"], styles) for m in names], fontsize=7)
    ax.set_ylabel("regret on training prompts β·KL(π‖π*)")
    checks = data.get("checks", {})
    ratios = [f"{c['ratio']:.2g} × {styles[k.rsplit('x_', 1)[-1]]['label']}'s"
              for k, c in checks.items() if k.startswith("copg_le_") and "ratio" in c]  # fmt: skip
    point = (
        f"CoPG's regret on training prompts is {' and '.join(ratios)}" if ratios else "each network against its limit"
    )
    ax.set_title(
        "Converged networks vs their exact limits (each loss's minimiser over a free probability table)\n"
        f"{point}\nunder each bar: whose limit the network is nearest, of all the methods' limits, and its distance "
        "KL(own limit ‖ network) in nats\n(right panel): a network nearest its own limit can still be far from it",
        fontsize=8,
    )
    _floor(ax, "floor: ≤ 1e-5 (0 up to rounding)")
    handles, _ = ax.get_legend_handles_labels()
    tick = Line2D([], [], marker="_", ms=12, mew=2.5, ls="none", color="k", label="exact limit (—)")
    ax.legend(handles=[tick, *handles], fontsize=7, loc="upper left", ncol=2, handlelength=1.5)


def _converged_distance(bx: Any, data: dict) -> None:
    s, styles = data["summary"], data["methods"]
    names = list(s)
    checks = data.get("checks", {})  # the run's acceptance bar on KL(limit ‖ network), from its check's name
    key = next((k for k in checks if k.startswith("kl_to_own_limit_le_")), "kl_to_own_limit_le_0.01")
    width, bar = 0.38, float(key.removeprefix("kl_to_own_limit_le_"))
    for i, m in enumerate(names):
        c = styles[m]["color"]
        bx.bar(i - width / 2, _f(s[m]["kl_to_own_limit_support"]), width, color=c, alpha=0.5, hatch="//",
               label="on S (the completions the data sampled)" if i == 0 else None)  # fmt: skip
        bx.bar(i + width / 2, _f(s[m]["kl_to_own_limit"]), width, color=c, alpha=0.9,
               label="all completions" if i == 0 else None)  # fmt: skip
        if s[m]["kl_to_own_limit"] is None:
            bx.text(i, FLOOR, "no limit", ha="center", va="bottom", fontsize=7, rotation=90)
    checked = list(checks.get(key, {}))
    bx.axhline(bar, color="k", ls="--", lw=0.8, label=f"{bar:g}: the distance the run requires of "
               f"{' and '.join(styles[m]['label'] for m in checked) or 'no method'}")  # fmt: skip
    bx.set_yscale("log")
    bx.set_ylim(FLOOR / 2, _top([_f(s[m]["kl_to_own_limit"]) for m in names] + [bar]))
    bx.set_xticks(range(len(names)), [styles[m]["label"] for m in names], rotation=25, ha="right", fontsize=8)
    bx.set_ylabel("KL(limit ‖ network) (nats)")
    within = [styles[m]["label"] for m in names if s[m]["kl_to_own_limit"] is not None
              and s[m]["kl_to_own_limit"] <= bar]  # fmt: skip
    above = [styles[m]["label"] for m in names if s[m]["kl_to_own_limit"] is not None
             and s[m]["kl_to_own_limit"] > bar]  # fmt: skip
    bx.set_title(
        "How far each network is from its own limit (mean over training prompts and random tasks)\n"
        f"within {bar:g}: {', '.join(within) or 'none'}; above {bar:g}: {', '.join(above) or 'none'}",
        fontsize=8,
    )
    _floor(bx, "floor: ≤ 1e-5")
    bx.legend(fontsize=7, loc="upper left", ncol=2, handlelength=1.5)


def _draw_converged(data: dict) -> Any:
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 5.4))
    _converged_regret(ax, data)
    _converged_distance(bx, data)
    fig.tight_layout()
    return fig


def _trainer_gap(last: dict, limits: dict, styles: dict, near: float = 2.0) -> str:
    """How far each method's last trainer step is from its converged network, read from the data: the ratio, and
    which methods are within ``near``× of it and which are not (no fixed verdict)."""
    ratio = {m: last[m] / limits[m]["network_regret"] for m in last if limits.get(m, {}).get("network_regret")}
    if not ratio:
        return "no converged network to compare with"
    parts = "; ".join(f"{styles[m]['label']} {last[m]:.2g} vs {limits[m]['network_regret']:.2g} ({r:.3g}×)"
                      for m, r in ratio.items())  # fmt: skip
    inside = [styles[m]["label"] for m, r in ratio.items() if r <= near]
    outside = [styles[m]["label"] for m, r in ratio.items() if r > near]
    verdict = (f"within {near:g}× of the converged network: {', '.join(inside) or 'none'}; "
               f"further: {', '.join(outside) or 'none'}")  # fmt: skip
    return f"last step vs the same network trained to convergence: {parts}\n{verdict}"


def _draw_regret_vs_step(data: dict) -> Any:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    styles = data["methods"]
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    seeds, last = {len(runs) for runs in data["curves"].values()}, {}
    for m, runs in data["curves"].items():
        c = styles[m]["color"]
        steps = [p["step"] for p in runs[0]]
        ys = [sum(r[i]["policy/regret"] for r in runs) / len(runs) for i in range(len(steps))]
        last[m] = ys[-1]
        # CoPG wide and pale underneath, the others thin on top: neither hides the other where the curves meet
        front = dict(lw=6, alpha=0.4, zorder=3) if m == "copg" else dict(lw=1.5, ls="-.", marker="o", ms=3, zorder=5)
        ax.plot(steps, [_f(y) for y in ys], color=c, label=f"{styles[m]['label']}: trainer", **front)
        lim = data["limits"].get(m, {})
        if lim.get("tabular_regret") is not None:  # dashed limit and dotted network (markers at the right end) can
            ax.axhline(_f(lim["tabular_regret"]), color=c, ls="--", lw=1)  # coincide: the markers keep both visible
            ax.plot([steps[-1]], [_f(lim["tabular_regret"])], marker="_", ms=14, mew=2, color=c, clip_on=False)
        if lim.get("network_regret") is not None:
            ax.axhline(_f(lim["network_regret"]), color=c, ls=":", lw=1.5)
            ax.plot([steps[-1]], [_f(lim["network_regret"])], marker="D", ms=5, mfc="none", color=c, clip_on=False)
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, None)
    _floor(ax)
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.3", ls="--", lw=1.2, label="dashed, ▬ at the right end: the loss's exact\n"
               "minimiser (best table of probabilities)"),
        Line2D([], [], color="0.3", ls=":", lw=1.5, marker="D", ms=5, mfc="none", markevery=[1],
               label="dotted, ◇: same network trained to convergence\n(full batch; method's colour)"),
    ]  # fmt: skip
    same = [styles[m]["label"] for m, lim in data["limits"].items() if None not in lim.values()
            and abs(math.log10(_f(lim["tabular_regret"]) / _f(lim["network_regret"]))) < 0.05]  # fmt: skip
    if same:
        handles.append(Line2D([], [], ls="none", label=f"{', '.join(same)}: dashed and dotted lines\ncoincide "
                              "(network at its limit)"))  # fmt: skip
    ax.set_xlabel("optimizer step (minibatches of offline rows)")
    ax.set_ylabel("regret β·KL(π‖π*) on the training prompts")
    n = "/".join(str(k) for k in sorted(seeds))
    ax.set_title(
        f"Practical trainer at a small fixed budget ({data['budget']})\n{_trainer_gap(last, data['limits'], styles)}\n"
        f"curves and horizontal lines: means over {n} random tasks",
        fontsize=9,
    )
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), handlelength=3.5)
    fig.tight_layout()
    return fig


def _coverage_point(points: dict) -> str:
    """The coverage figure's point in numbers: seed means at the fewest and the most pairs per prompt."""
    runs = list(points.values())

    def mean(key: str, j: int) -> float:
        return sum(pts[j][key] for pts in runs) / len(runs)

    lo, hi = runs[0][0]["pairs_per_prompt"], runs[0][-1]["pairs_per_prompt"]
    net, lim = (mean("network_regret", 0), mean("network_regret", -1)), (mean("tabular_regret", 0),
                                                                          mean("tabular_regret", -1))  # fmt: skip
    return (
        f"from {lo} to {hi} pairs per prompt (mean over tasks), CoPG's regret falls {net[0]:.2g} → {net[1]:.2g} "
        f"and its exact limit's {lim[0]:.2g} → {lim[1]:.2g}:\nthe network is {net[0] / lim[0]:.0f}× its limit "
        f"at {lo} pairs and {net[1] / lim[1]:.0f}× at {hi}; {_follows(net[0] / lim[0], net[1] / lim[1])}"
    )


def _follows(before: float, after: float) -> str:
    """What the ratio network ÷ limit does as the data grow, in words (computed, both directions)."""
    if after > 1.25 * before:
        return "the network falls more slowly than its limit as the data grow"
    if after < before / 1.25:
        return "the network closes in on its limit as the data grow"
    return "the network follows its limit down at about the same ratio"


def _draw_coverage(data: dict) -> Any:
    import matplotlib.pyplot as plt

    c = data["methods"]["copg"]["color"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.8))
    panels = (
        (
            "network_regret",
            "tabular_regret",
            "regret on training prompts β·KL(π‖π*)",
            "CoPG's regret",
            "its exact limit",
        ),
        (
            "kl_to_limit_support",
            None,
            "KL(limit|S ‖ network|S) (nats)",
            "distance to the exact limit on S (no reference line)",
            None,
        ),
        ("off_support_mass", "pi_star_off_support_mass", "mass off S", "mass on unsampled completions", "π*"),
    )
    markers, lines = ("o", "s", "^", "v", "D"), ("-", "-.", "--", ":")
    for ax, (key, ref, ylabel, title, ref_label) in zip(axes, panels):
        values = []
        for j, (seed, pts) in enumerate(data["points"].items()):
            xs = [p["pairs_per_prompt"] for p in pts]
            mk = markers[j % len(markers)]
            values += [p[key] for p in pts] + ([p[ref] for p in pts] if ref else [])
            ax.plot(xs, [_f(p[key]) for p in pts], marker=mk, ls=lines[j % len(lines)], color=c, alpha=0.85,
                    label=f"CoPG network, task {seed}")  # fmt: skip
            if ref:
                ax.plot(xs, [_f(p[ref]) for p in pts], ls="--", marker=mk, mfc="none", color="k", lw=1, alpha=0.7,
                        label=f"reference: {ref_label}, task {seed}")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("pairs per training prompt")
        ax.set_ylabel(ylabel)
        finite = [v for v in values if v is not None and v == v]
        if ref is None and finite:  # a distance with no reference: its range, so small wiggles do not read as a trend
            title += f"\nbetween {min(finite):.1g} and {max(finite):.1g} nats at every n and task"
        ax.set_title(title, fontsize=9)
        if min(values) <= 10 * FLOOR:  # the floor only where data come near it
            _floor(ax, "floor: ≤ 1e-5")
        ax.legend(fontsize=7)
    fig.suptitle(
        "Coverage: CoPG's converged network as the data sample more of the completions (S = the completions sampled; "
        "black hollow, dashed: the reference, left: exact limit, right: π*; the middle panel is itself a distance)\n"
        + _coverage_point(data["points"]),
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def _heldout_point(summary: dict, ref: float, styles: dict) -> str:
    """Whether every method's held-out regret is at or above π_ref's, read from the data."""
    means = {m: s["heldout_regret"]["mean"] for m, s in summary.items()}
    seeds = [v for s in summary.values() for v in s["heldout_regret"].get("values", [])]
    above = [m for m, v in means.items() if v >= ref]
    if len(above) == len(means):
        each = " (every random task too)" if seeds and min(seeds) >= ref else ""
        return (f"every method's held-out regret is ≥ π_ref's ({ref:.3f}){each}: "
                "training left the unseen prompts no better than the untrained policy")  # fmt: skip
    below = ", ".join(styles[m]["label"] for m in means if m not in above)
    return f"{len(above)} of {len(means)} methods end at or above π_ref's held-out regret ({ref:.3f}); below: {below}"


def _draw_heldout(data: dict) -> Any:
    import matplotlib.pyplot as plt

    s, styles = data["summary"], data["methods"]
    names = list(s)
    fig, ax = plt.subplots(figsize=(11, 4.6))
    width = 0.38
    for i, m in enumerate(names):
        c = styles[m]["color"]
        ax.bar(i - width / 2, _f(s[m]["network_regret"]["mean"]), width, color=c, alpha=0.5, hatch="//",
               label="training prompts" if i == 0 else None)  # fmt: skip
        h = s[m]["heldout_regret"]
        ax.bar(i + width / 2, _f(h["mean"]), width, color=c, alpha=0.95,
               label="held-out prompts" if i == 0 else None)  # fmt: skip
        for side, vals in ((-1, s[m]["network_regret"].get("values", [])), (1, h.get("values", []))):
            ax.scatter([i + side * width / 2] * len(vals), [_f(v) for v in vals], color="k", s=10, zorder=3,
                       label="one random task" if i == 0 and side == 1 else None)  # fmt: skip
    ref = data["pi_ref_regret"]
    ax.axhline(ref["heldout"], color="k", ls="--", lw=1.2, label=f"π_ref, held-out ({ref['heldout']:.3f})")
    ax.axhline(ref["train"], color="0.55", ls=":", lw=2.2, label=f"π_ref, training prompts ({ref['train']:.3f}; "
               "grey dots, close to the dashed line)")  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, None)
    if min(_f(s[m]["network_regret"]["mean"]) for m in names) <= 10 * FLOOR:  # the floor only where data come near
        _floor(ax)
    ax.set_xticks(range(len(names)), [styles[m]["label"] for m in names], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("regret β·KL(π‖π*)")
    n = max(len(s[m]["heldout_regret"].get("values", [])) for m in names)
    ax.set_title(
        f"Converged networks on prompts they never saw (bar: mean over {n} random tasks; dots: each task)\n"
        + _heldout_point(s, ref["heldout"], styles),
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


FIGURES = {
    "converged": _draw_converged,
    "regret_vs_step": _draw_regret_vs_step,
    "coverage": _draw_coverage,
    "heldout": _draw_heldout,
}


def _figure_data(results: dict) -> dict[str, dict]:
    """The data of each figure the run has panels for."""
    tasks, summary, methods = results["tasks"], results["summary"], results["methods"]
    cfg = results["config"]
    out = {}
    if summary:
        out["converged"] = {"summary": summary, "methods": methods, "checks": results["checks"]}
        ref = {k: sum(t["pi_ref_regret"][k] for t in tasks) / len(tasks) for k in ("train", "heldout")}
        out["heldout"] = {"summary": summary, "methods": methods, "pi_ref_regret": ref}
    if "trainer" in cfg["panels"]:
        curves = {m: [t["trainer"][m] for t in tasks] for m in cfg["trainer_methods"]}
        limits = {
            m: {
                "tabular_regret": summary[m]["tabular_regret"] if m in summary else None,
                "network_regret": summary[m]["network_regret"]["mean"] if m in summary else None,
            }
            for m in cfg["trainer_methods"]
        }
        budget = f"{cfg['trainer_steps']} steps × {cfg['trainer_rows']} rows, lr {cfg['trainer_lr']:g}"
        out["regret_vs_step"] = {"curves": curves, "limits": limits, "methods": methods, "budget": budget}
    if "coverage" in cfg["panels"]:
        out["coverage"] = {"points": {t["task_seed"]: t["coverage"] for t in tasks}, "methods": methods}
    return out


def make_figures(results: dict, out_dir: Path) -> list[Path]:
    """Draw the bridge figures from ``results`` (``run_bridge``'s JSON-ready dict) into ``out_dir``."""
    common = {
        **provenance(results["command"], results["config"], packages=("torch", "transformers", "matplotlib")),
        "drawer": "llm.bridge.plots",
        "seeds": list(results["config"]["task_seeds"]),
    }
    paths = []
    for kind, data in _figure_data(results).items():
        payload = {"kind": kind, "data": data, **common}
        paths.append(write_figure(payload, draw_record(payload), Path(out_dir) / f"bridge_{kind}", dpi=120))
    return paths


def draw_record(record: dict) -> Any:
    """The figure of a bridge figure record, unsaved (``bandit.records.redraw`` saves it)."""
    return FIGURES[record["kind"]](record["data"])
