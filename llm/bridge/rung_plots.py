"""Figures of the middle rung: ``rung_<name>.png`` + ``.json`` (data, config, the exact command).

* ``rung_offpolicy``: upper panel, each method's held-out J_β minus π_ref's, paired on prompts (``heldout_vs_ref``; an
  older JSON without it draws the absolute held-out J_β and says so), its 95 % interval over chains × seeds × prompts
  and each chain's mean, per μ ordered by its distance from π_ref (E_μ[−ln π_ref] − E_{π_ref}[−ln π_ref]); the π*
  line sits at J_β(π*) − J_β(π_ref), so a point's estimated regret is its distance below it. Lower panel: CoPG −
  each baseline (``data.verdicts``, Holm-adjusted: marker filled only where it separates; ★ where a verdict
  replicates within every chain);
* ``rung_frontier``: (a) held-out reward vs exact KL(π‖π_ref) of CoPG, IPO and DPO over β (μ = π_ref): the mean
  points and each chain's own point (``chain_means``) joined to its mean; the JSON's 95 % intervals (df ≈ 1) are
  stated in a note, not drawn (a JSON without chain points draws them, light). (b), (c) the change in reward and in
  KL from the largest β to the smallest, paired within each chain (``data.frontier_changes``,
  :func:`llm.bridge.rung_stats.frontier_changes`): Student-t over chains, Holm over the changes drawn, the Holm-level
  interval thick and the unadjusted one thin, "resolved" only where the adjusted p ≤ 0.05;
* ``rung_curves`` (2 × 2): J_β, reward and KL on the selection prompts vs step (μ = π_ref): the mean over chains
  and seeds, and right of the last step each method's lowest-to-highest run at that step (``range`` in the JSON; a
  JSON without it draws means only).

Colours and labels come from ``bandit.style``. Redraw: ``python -m bandit plot figures/rung_offpolicy.json``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bandit.records import provenance, write_figure
from bandit.style import BETA_MARKERS, holm_interval, style
from llm.bridge.rung_stats import frontier_changes

__all__ = ["FIGURE_NAMES", "make_figures", "draw_record"]

FIGURE_NAMES = ("offpolicy", "frontier", "curves")
"""The figures a run writes, as ``rung_<name>.{png,json}``."""
PLATEAU_TOLERANCE = 0.005
"""A mean J_β that changes by at most this over the last quarter of training is called levelled off in the title."""
MU_LABELS = {"ref": "μ = π_ref", "T1.5": "π_ref at T = 1.5", "refmix": "½ π_ref + ½ noisy refs"}


def _style(m: str) -> dict:
    return dataclasses.asdict(style({"pg_batch": "pg_mean"}.get(m, m)))


def _mu_axis(ax: Any, data: dict) -> list[str]:
    """One column per μ, nearest π_ref first, ticked with its name and distance; returns the μ keys in order."""
    mus = sorted(data["distance"], key=data["distance"].get)
    ax.set_xlim(-0.5, len(mus) - 0.5)
    ax.set_xticks(range(len(mus)), [f"{MU_LABELS.get(mu, mu)}\n{data['distance'][mu]:.2f} nats" for mu in mus],
                  fontsize=9)  # fmt: skip
    ax.set_xlabel("behaviour policy μ of the offline data; tick: its distance from π_ref,\n"
                  "E_μ[−ln π_ref] − E_π_ref[−ln π_ref] (nats)", fontsize=10)  # fmt: skip
    return mus


def _chain_dots(ax: Any, x: float, values: list[float], color: str) -> None:
    """Each chain's mean: a small hollow dot just right of its interval (the mean's marker cannot cover it)."""
    ax.plot([x + 0.035] * len(values), values, "o", mfc="white", mec=color, mew=1.0, ms=3.5, ls="none", zorder=5)


def _separate(rows: list[dict], field: str) -> tuple[int, int, int]:
    """(above 0, below 0, cells) over the (method, μ) cells: a 95 % interval of ``field`` entirely above or below 0.
    Online RLOO does not read μ: its one result is counted once."""
    seen = [r for r in rows if r["method"] != "online" or r["mu"] == rows[0]["mu"]]
    return (sum(r[field]["low"] > 0 for r in seen), sum(r[field]["high"] < 0 for r in seen), len(seen))


def _draw_offpolicy(data: dict, runs: str | None = None) -> Any:
    """Left: each method's held-out J_β minus π_ref's, paired on prompts (a JSON without ``heldout_vs_ref``: the
    absolute held-out J_β, said in the titles), 95 % interval and each chain's mean; right: CoPG − each baseline."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, (ax, ax_d) = plt.subplots(2, 1, figsize=(11, 11))
    methods = list(dict.fromkeys(r["method"] for r in data["table"]))
    paired = all("heldout_vs_ref" in r for r in data["table"])
    field = "heldout_vs_ref" if paired else "heldout_jbeta"
    mus = _mu_axis(ax, data)
    dots = False
    for k, m in enumerate(methods):
        st = data["methods"][m]
        for r in (r for r in data["table"] if r["method"] == m):
            x, ci = mus.index(r["mu"]) + 0.12 * (k - (len(methods) - 1) / 2), r[field]
            ax.errorbar(x, ci["mean"], yerr=[[ci["mean"] - ci["low"]], [ci["high"] - ci["mean"]]], color=st["color"],
                        marker="o", ms=5, capsize=3, lw=1.2, ls="none")  # fmt: skip
            own = r.get("chain_means", {}).get(field)
            if own:
                _chain_dots(ax, x, own, st["color"])
                dots = True
    gap = data["pi_star_jbeta"] - data["pi_ref_jbeta"]
    if paired:
        ax.axhline(0.0, color="0.3", ls="--", lw=1, zorder=1)
        ax.axhline(gap, color="k", ls=":", lw=1.2, zorder=1)
        ax.set_ylabel("held-out J_β − π_ref's held-out J_β\n(task-reward units; paired on the same prompts)")
        ax.set_title("each method minus π_ref (> 0: better than π_ref); bar: 95 % interval, chains as a random "
                     "effect\nestimated regret of a point = its distance below the π* line", fontsize=10)  # fmt: skip
    else:
        ax.axhline(data["pi_ref_jbeta"], color="0.3", ls="--", lw=1, zorder=1)
        ax.axhline(data["pi_star_jbeta"], color="k", ls=":", lw=1.2, zorder=1)
        ax.set_ylabel("held-out J_β = E[R] − β·KL (task-reward units)")
        ax.set_title("absolute held-out J_β: this older JSON has no J_β paired with π_ref's\nbar: 95 % "
                     "interval including the prompts' spread; estimated regret = distance below the π* line",
                     fontsize=10)  # fmt: skip
    _draw_differences(ax_d, data, methods)
    handles = [Line2D([], [], color=data["methods"][m]["color"], marker="o", ms=5, lw=1.2,
                      label=data["methods"][m]["label"] + ("\n(samples itself: μ unused,\nsame runs in each column)"
                                                           if m == "online" else "")) for m in methods]  # fmt: skip
    handles.append(Line2D([], [], color="0.3", ls="--", lw=1, label="π_ref" + (" (= 0, left)" if paired else "")))
    handles.append(Line2D([], [], color="k", ls=":", lw=1.2, label="π* (J_β by importance sampling)"))
    stars = any(v.get("replicated") for v in data["verdicts"])
    if dots or any(v.get("chain_means") for v in data["verdicts"]):
        handles.append(Line2D([], [], color="0.3", marker="o", mfc="white", ms=3.5, ls="none",
                              label="each chain's mean"))  # fmt: skip
    if stars:
        handles.append(Line2D([], [], color="0.3", marker="*", ms=9, ls="none", label="separates after Holm\n"
                              "in every chain, same sign"))  # fmt: skip
    handles.append(Line2D([], [], color="0.3", marker="o", mfc="white", ms=6, ls="none",
                          label="lower panel: hollow = not separate\nafter Holm (filled = separate)"))  # fmt: skip
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.77, 0.5), fontsize=9.5, frameon=False,
               title="colour: method\n(lower panel: the baseline)", title_fontsize=9.5)  # fmt: skip
    up, down, cells = _separate(data["table"], field)
    sig = sum(bool(v["holm_significant"]) for v in data["verdicts"])
    rep = [v.get("replicated") for v in data["verdicts"]]
    chains = len(data["verdicts"][0].get("chain_means", [])) if data["verdicts"] else 0
    if paired:
        first = (f"{up} of {cells} (method, μ) results above π_ref and {down} below it "
                 "(95 % interval excluding 0, before Holm)"
                 if up or down else f"none of {cells} (method, μ) results separates from π_ref (every interval "
                 "covers 0)")  # fmt: skip
    else:
        first = "no paired comparison with π_ref in this JSON (older record)"
    head = f"Middle rung, β = {data['beta']:g}" + (f", {runs}" if runs else "") + f", held-out prompts: {first}"
    if any(r is None for r in rep):
        tail = "one chain: no replication test"
    else:
        tail = f"{sum(bool(r) for r in rep)} separate within each of the {chains} chains, same sign (★)"
    fig.suptitle(f"{head}\nCoPG − each baseline ({len(data['verdicts'])} comparisons, Holm-corrected): {sig} "
                 f"separate when pooled over the chains; {tail}", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 0.77, 1))
    return fig


def _draw_differences(ax: Any, data: dict, methods: list[str]) -> None:
    """CoPG − each baseline (paired, held-out J_β) per μ: the pooled 95 % interval with chains as a random effect,
    each chain's mean (small hollow dots) and a star where the difference separates after Holm in every chain."""
    mus = _mu_axis(ax, data)
    base = [m for m in methods if m != "copg"]
    for k, b in enumerate(base):
        st = data["methods"][b]
        for v in (v for v in data["verdicts"] if v["baseline"] == b):
            x = mus.index(v["mu"]) + 0.12 * (k - (len(base) - 1) / 2)
            ax.errorbar(x, v["mean"], yerr=[[v["mean"] - v["low"]], [v["high"] - v["mean"]]], ecolor=st["color"],
                        fmt="none", capsize=3, lw=1.2, zorder=3)  # fmt: skip
            ax.plot(x, v["mean"], "o", ms=6, mec=st["color"], mew=1.4, zorder=4,
                    mfc=st["color"] if v.get("holm_significant") else "white")  # fmt: skip
            if v.get("chain_means"):
                _chain_dots(ax, x, v["chain_means"], st["color"])
            if v.get("replicated"):
                ax.annotate("★", (x, v["high"]), xytext=(0, 3), textcoords="offset points", ha="center",
                            color=st["color"], fontsize=11)  # fmt: skip
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_ylabel("CoPG − baseline, held-out J_β\n(task-reward units; same prompts and samples)")
    ax.set_title("CoPG minus each baseline (> 0: CoPG better), colour = the baseline; chains as a random effect\n"
                 "bar: 95 % interval before Holm; marker filled only where the difference separates after Holm",
                 fontsize=10)  # fmt: skip


_CHAIN_MARKERS = ("^", "v", "<", ">", "D", "P", "X", "s")
"""Marker of each chain's own point (panel a) and own change (panels b, c), by chain index."""
CHANGES = (("reward", "held-out reward", "", 3), ("kl", "KL(π‖π_ref)", " nats", 2))
"""The quantities whose change over β the frontier figure pairs within chains: (key, words, unit, decimals)."""


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _verdict(ci: dict) -> str:
    """``resolved`` where the change survives Holm (see :func:`_holm_changes`), else ``not resolved``; with its
    Holm-adjusted p."""
    if ci["n"] < 2:
        return "one chain: no interval"
    return f"{'resolved' if ci['resolved'] else 'not resolved'}\nadj. p = {ci['p_holm']:.2f}"


def _change_words(what: str, unit: str, digits: int, changes: dict[str, dict]) -> str:
    """In words, from the paired intervals (label → interval): for which methods ``what`` rises or falls (interval
    excludes 0) and for which the change is not resolved (it covers 0), with the chains' signs where they agree."""

    def span(ms: list[str]) -> str:
        v = sorted(changes[m]["mean"] for m in ms)
        return f"{v[0]:+.{digits}f}" + (f" to {v[-1]:+.{digits}f}" if len(v) > 1 else "") + unit

    def who(ms: list[str]) -> str:
        return f"all {len(ms)} methods" if len(ms) == len(changes) > 2 else _names(ms)

    up = [m for m, c in changes.items() if c["resolved"] and c["mean"] > 0]
    down = [m for m, c in changes.items() if c["resolved"] and c["mean"] < 0]
    rest = [m for m in changes if m not in up and m not in down]
    parts = [f"{what} {verb} for {who(ms)} ({span(ms)}; resolved)" for ms, verb in ((up, "rises"), (down, "falls"))
             if ms]  # fmt: skip
    if rest:
        values = [v for m in rest for v in changes[m]["values"]]
        signs = ", higher in every chain but" if all(v > 0 for v in values) else ","
        signs = ", lower in every chain but" if all(v < 0 for v in values) else signs
        covers = "none survives Holm" if len(rest) > 1 else "does not survive Holm"
        covers = "one chain: no interval" if any(changes[m]["n"] < 2 for m in rest) else covers
        parts.append(f"{what} {span(rest)} for {who(rest)}{signs} not resolved ({covers})")
    return "; ".join(parts)


def _draw_changes(ax: Any, changes: dict[str, dict], methods: dict, key: str) -> None:
    """One column per method: each chain's own change (hollow, its chain's marker); the mean (filled where the
    change is resolved after Holm, hollow where not) with its Holm-level interval thick in the method's colour
    (:func:`bandit.style.holm_interval`: it excludes 0 exactly when the marker is filled) and its unadjusted 95 %
    interval thin, grey and capped; the tick says whether the change is resolved, with its Holm-adjusted p."""
    ticks = []
    for i, (m, ch) in enumerate(changes.items()):
        c, color = ch[key], methods[m]["color"]
        for k, v in enumerate(c["values"]):
            ax.plot(i - 0.32 + 0.12 * k, v, _CHAIN_MARKERS[k % len(_CHAIN_MARKERS)], mfc="white", mec=color,
                    mew=1.2, ms=7, ls="none", zorder=5)  # fmt: skip
        if c["n"] >= 2:
            lo_h, hi_h = holm_interval(c) or (c["low"], c["high"])
            ax.vlines(i, lo_h, hi_h, color=color, lw=6, alpha=0.55, zorder=2)
            ax.errorbar(i, c["mean"], yerr=[[c["mean"] - c["low"]], [c["high"] - c["mean"]]], fmt="none",
                        ecolor="0.35", capsize=5, lw=1.0, zorder=3)  # fmt: skip
        ax.plot(i, c["mean"], "o", ms=8, mec=color, mew=1.6, mfc=color if c.get("resolved") else "white", zorder=4)
        ticks.append(f"{methods[m]['label']}\n{_verdict(c)}")
    ax.axhline(0.0, color="k", lw=0.8, zorder=1)
    ax.set_xticks(range(len(ticks)), ticks, fontsize=9.5)
    ax.set_xlim(-0.6, len(ticks) - 0.4)
    ax.tick_params(axis="y", labelsize=9.5)
    ax.grid(axis="y", alpha=0.3)


def _frontier_intervals(ax: Any, pts: list[dict], color: str) -> bool:
    """The JSON's 95 % intervals drawn light (older JSON without chain points); KL clipped at 0. True if clipped."""
    xs, ys = [p["kl"]["mean"] for p in pts], [p["reward"]["mean"] for p in pts]
    kx = [(p["kl"]["low"], p["kl"]["high"]) for p in pts]
    clipped = any(lo < 0 for lo, _ in kx)
    kx = [(max(lo, 0.0), hi) for lo, hi in kx]  # KL ≥ 0: an interval below 0 is clipped at 0 (said in the legend)
    ax.errorbar(xs, ys, yerr=[[y - p["reward"]["low"] for y, p in zip(ys, pts)],
                              [p["reward"]["high"] - y for y, p in zip(ys, pts)]],
                xerr=[[x - lo for x, (lo, _) in zip(xs, kx)], [hi - x for x, (_, hi) in zip(xs, kx)]],
                fmt="none", ecolor=color, alpha=0.4, elinewidth=1.2, capsize=3, zorder=1)  # fmt: skip
    return clipped


def _half_widths(frontier: dict, key: str) -> tuple[float, float]:
    """Smallest and largest half-width of the JSON's 95 % intervals of ``key`` over the points drawn in (a) (π_ref's
    reward included; its KL is 0 exactly, no interval)."""
    h = [(p[key]["high"] - p[key]["low"]) / 2 for m, q in frontier.items() for p in q
         if not (m == "pi_ref" and key == "kl")]  # fmt: skip
    return min(h), max(h)


def _method_gap(trained: dict[str, list[dict]]) -> float:
    """The largest reward gap between the trained methods' means at one β (what panel (a) might suggest)."""
    by_beta: dict[float, list[float]] = {}
    for pts in trained.values():
        for p in pts:
            by_beta.setdefault(p["beta"], []).append(p["reward"]["mean"])
    return max((max(v) - min(v) for v in by_beta.values() if len(v) > 1), default=0.0)


def _draw_frontier(data: dict) -> Any:
    """(a) Held-out reward vs exact KL over β: each method's mean points joined in β order, each chain's own point
    (``chain_means``) hollow and joined to its mean, π_ref; (b), (c) the change in reward and in KL from the largest
    β to the smallest, paired within each chain, with its Student-t interval over chains (``llm.stats.paired_ci``).
    An older JSON without chain points draws (a) with its 95 % intervals, light, and says it has no (b), (c)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig = plt.figure(figsize=(11.4, 7.8))
    grid = fig.add_gridspec(2, 2, width_ratios=(1.55, 1), left=0.08, right=0.98, top=0.84, bottom=0.31,
                            wspace=0.24, hspace=0.62)  # fmt: skip
    ax = fig.add_subplot(grid[:, 0])
    frontier = data["frontier"]
    trained = {m: sorted(p, key=lambda q: q["beta"]) for m, p in frontier.items() if m != "pi_ref"}
    per_chain = all("chain_means" in p for pts in frontier.values() for p in pts)
    betas = sorted({p["beta"] for q in trained.values() for p in q})
    n_chains, clipped = 0, False
    handles = []
    for m, pts in frontier.items():
        ref = m == "pi_ref"
        st = data["methods"].get(m, {"color": "0.3", "label": "π_ref"})
        color = "0.3" if ref else st["color"]
        pts = pts if ref else trained[m]
        xs, ys = [p["kl"]["mean"] for p in pts], [p["reward"]["mean"] for p in pts]
        if not per_chain:
            clipped |= _frontier_intervals(ax, pts, color)
        if ref:
            ax.plot(xs, ys, color=color, marker="X", ms=9, lw=0, zorder=6)
            handles.append(Line2D([], [], color=color, marker="X", ms=9, lw=0, label="π_ref (KL = 0)"))
        else:
            ax.plot(xs, ys, color=color, lw=1.8, zorder=4)
            handles.append(Line2D([], [], color=color, lw=1.8, label=st["label"]))
            for p, x, y in zip(pts, xs, ys):  # one filled marker shape per β
                ax.plot(x, y, BETA_MARKERS[betas.index(p["beta"]) % len(BETA_MARKERS)], color=color, ms=9,
                        mec="k", mew=0.6, zorder=6)  # fmt: skip
        if per_chain:
            for p, x, y in zip(pts, xs, ys):
                cm = p["chain_means"]
                n_chains = max(n_chains, len(cm["kl"]))
                for c, (kc, rc) in enumerate(zip(cm["kl"], cm["reward"])):
                    ax.plot([x, kc], [y, rc], color=color, lw=0.7, alpha=0.8, zorder=3)
                    ax.plot(kc, rc, _CHAIN_MARKERS[c % len(_CHAIN_MARKERS)], mfc="white", mec=color, mew=1.0, ms=6,
                            zorder=5)  # fmt: skip
    ax.set_xlim(left=-0.04)  # π_ref sits at KL = 0
    ax.set_xlabel("exact KL(π‖π_ref) of held-out samples (nats)")
    ax.set_ylabel("held-out mean task reward\n(coverage − length cost − repeats)")
    ax.set_title("(a) reward–KL frontier over β (μ = π_ref)", fontsize=10.5, loc="left")
    ax.tick_params(labelsize=9.5)
    ax.grid(alpha=0.3)
    for i, b in enumerate(betas):
        handles.append(Line2D([], [], color="0.55", marker=BETA_MARKERS[i % len(BETA_MARKERS)], mec="k", mew=0.6,
                              ms=9, lw=0, label=f"β = {b:g}"))  # fmt: skip
    for c in range(n_chains):
        handles.append(Line2D([], [], color="0.3", marker=_CHAIN_MARKERS[c % len(_CHAIN_MARKERS)], mfc="white",
                              ms=6, lw=0.7, label=f"chain {c}'s own value"))  # fmt: skip
    lo_b, hi_b = betas[0], betas[-1]
    axes = [fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 1])]
    if per_chain and len(betas) > 1:
        found = data.get("frontier_changes") or frontier_changes(frontier)  # an older JSON: computed the same way
        changes, family = found["methods"], found["family"]
        first = changes[next(iter(changes))]["reward"]
        for a, panel, (key, what, *_) in zip(axes, "bc", CHANGES):
            _draw_changes(a, changes, data["methods"], key)
            a.set_ylabel("Δ reward" if key == "reward" else "Δ KL (nats)", fontsize=10)
            a.set_title(f"({panel}) Δ {what}, β = {lo_b:g} − β = {hi_b:g}", fontsize=10, loc="left")
        handles += [
            Line2D([], [], color="0.3", marker="o", ms=8, lw=0, label="b, c: mean (filled: resolved after Holm)"),
            Line2D([], [], color="0.3", lw=6, alpha=0.55, label="b, c: Holm-level interval"),
            Line2D([], [], color="0.35", lw=1.0, marker="_", ms=10, label="b, c: unadjusted 95 % interval"),
        ]
        labelled = {data["methods"][m]["label"]: c for m, c in changes.items()}
        words = {k: _change_words(w, u, d, {lab: c[k] for lab, c in labelled.items()}) for k, w, u, d in CHANGES}
        title = f"Lowering β from {hi_b:g} to {lo_b:g}: {words['reward']}\n{words['kl']}"
        lo_r, hi_r = _half_widths(frontier, "reward")
        lo_k, hi_k = _half_widths(frontier, "kl")
        interval = (f"\nintervals: Student-t over the {first['n']} chains (df = {first['df']}, t = {first['t']:.2f}); "
                    f"resolved = adj. p (Holm-adjusted over the {family} changes in (b), (c)) ≤ 0.05,\ni.e. the thick "
                    "Holm-level interval excludes 0 (the thin unadjusted one may exclude 0 without it)"
                    if first["n"] >= 2 else " the one chain's change: no interval, no verdict")  # fmt: skip
        gap = _method_gap(trained)
        note = ("(b), (c): triangles = each chain's own change (same chain, same held-out prompts at both β: the "
                f"prompts' spread cancels);{interval}.\n(a) draws no interval bars: its points' 95 % intervals "
                f"(chains as a random effect) are ±{lo_r:.2g} to ±{hi_r:.2g} in reward\nand ±{lo_k:.2g} to "
                f"±{hi_k:.2g} nats in KL; the triangles, each chain's own, show the chains' spread.")  # fmt: skip
        inside = f"≤ {gap:.2g}, inside every interval (≥ ±{lo_r:.2g}): not compared"
        a_title = "(a) reward–KL frontier over β (μ = π_ref)\nmethods' reward gaps at one β " + (
            inside if gap < lo_r else f"reach {gap:.2g}; intervals ±{lo_r:.2g} to ±{hi_r:.2g}"
        )
        ax.set_title(a_title, fontsize=10, loc="left")
    else:
        for a in axes:
            a.set_axis_off()
        axes[0].text(0, 0.5, "this older JSON has no per-chain points:\nno change over β paired within chains",
                     transform=axes[0].transAxes, fontsize=10, va="center")  # fmt: skip
        handles.append(Line2D([], [], color="0.5", alpha=0.5, lw=1.2, label="95 % t-interval (light), chains as a "
                              "random effect" + (" (KL clipped at 0)" if clipped else "")))  # fmt: skip
        title = "Held-out reward vs KL(π‖π_ref) over β (μ = π_ref)\nthis older JSON has no per-chain points"
        note = ""
    fig.suptitle(title, fontsize=10.5)
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.115), ncol=5, fontsize=9.5,
               frameon=False, columnspacing=1.6)  # fmt: skip
    if note:
        fig.text(0.08, 0.005, note, ha="left", va="bottom", fontsize=9.5)
    return fig


def _final_spread(data: dict, top: str) -> str:
    """In words: the top method's lowest-to-highest final J_β over the runs, and whose final ranges reach into it."""
    label = data["methods"][top]["label"]
    r = data["curves"][top]["range"]["jbeta"]
    lo, hi = r["min"][-1], r["max"][-1]
    reach = [
        data["methods"][m]["label"]
        for m, c in data["curves"].items()
        if m != top and c["range"]["jbeta"]["max"][-1] >= lo
    ]
    names = reach[0] if len(reach) == 1 else "; ".join(reach[:-1]) + " and " + reach[-1] if reach else ""
    rest = f"the final runs of {names} overlap that span" if reach else "above every other method's final runs"
    return f"{label}'s final runs span {lo:.3f}–{hi:.3f}; {rest}"


def _draw_curves(data: dict, runs: str = "all chains and seeds") -> Any:
    """Mean curves per method; at the right of the last step, each method's lowest-to-highest run at that step,
    side by side (six overlapping bands along the whole curve could not be told apart)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, grid = plt.subplots(2, 2, figsize=(11.2, 8.6))
    axes, legend_cell = [grid[0, 0], grid[0, 1], grid[1, 0]], grid[1, 1]
    legend_cell.set_axis_off()
    curves = data["curves"]
    banded = all("range" in c for c in curves.values()) and next(iter(curves.values()))["runs"] > 1
    last_step = max(c["steps"][-1] for c in curves.values())
    dx = 0.025 * last_step
    for n, (m, c) in enumerate(curves.items()):
        st = data["methods"][m]
        for ax, k in zip(axes, ("jbeta", "reward", "kl")):
            ax.plot(c["steps"], c[k], color=st["color"], marker=".", lw=1.6, label=st["label"])
            if banded:
                x = last_step + dx * (n + 1.5)
                lo, hi = c["range"][k]["min"][-1], c["range"][k]["max"][-1]
                ax.plot([x, x], [lo, hi], color=st["color"], lw=2.2, solid_capstyle="butt")
                ax.plot([x], [c[k][-1]], color=st["color"], marker="_", ms=8, mew=1.5)
    units = ("task reward", "task reward", "nats")
    for ax, t, u in zip(axes, ("J_β = E[R] − β·KL", "mean reward", "exact KL(π‖π_ref)"), units):
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(f"{t} ({u})")
        ax.set_title(f"{t}, selection prompts (μ = π_ref)", fontsize=10)
        ax.grid(alpha=0.3)
        if banded:
            ax.axvspan(last_step + dx * 0.6, last_step + dx * (len(curves) + 2.2), color="0.93", zorder=0)
            ax.set_xlim(right=last_step + dx * (len(curves) + 2.2))
    axes[2].set_ylim(bottom=0)  # KL ≥ 0; J_β and reward use the data's own range (their changes are small)
    handles, labels = axes[0].get_legend_handles_labels()
    if banded:
        handles.append(Line2D([], [], color="0.3", lw=2.2))
        labels.append(f"grey strip: each method's lowest to\nhighest run at step {last_step} (tick: mean)")
    legend_cell.legend(handles, labels, loc="center", fontsize=10, frameon=False)

    def excursion(c: dict) -> float:
        """How far the mean J_β moves inside the last quarter (highest minus lowest point), else its net change."""
        if "last_quarter_from_step" not in c:
            return c["last_quarter_change"]
        window = [v for t, v in zip(c["steps"], c["jbeta"]) if t >= c["last_quarter_from_step"]]
        return max(window) - min(window)

    changes = {data["methods"][m]["label"]: excursion(c) for m, c in curves.items()}
    worst = max(changes, key=lambda k: abs(changes[k]))
    top = max(curves, key=lambda m: curves[m]["jbeta"][-1])
    last = curves[top]["jbeta"][-1]
    c0 = next(iter(curves.values()))
    if banded:
        spread = f"lines: mean over {runs}"
    elif "range" in c0:
        spread = f"lines: {runs} (one run per method: no spread)"
    else:
        spread = f"lines: mean over {runs} (this JSON stores means only: no spread drawn)"
    moved = abs(changes[worst])
    span = f" (step {c0['last_quarter_from_step']} to {c0['steps'][-1]})" if "last_quarter_from_step" in c0 else ""
    verdict = "levelled off" if moved <= PLATEAU_TOLERANCE else "still moving"
    lines = [
        f"Training curves at β = {data['beta']:g}: {spread}",
        f"last quarter of training{span}: mean J_β varies by at most {moved:.4f} ({worst}, highest minus lowest "
        f"point); {verdict} at the {PLATEAU_TOLERANCE:g} level",
        f"highest final mean J_β: {data['methods'][top]['label']} {last:.3f}"
        + (f"; {_final_spread(data, top)}" if banded else ""),
    ]
    fig.suptitle("\n".join(lines), fontsize=10)
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
        out["frontier"] = {**common, "frontier": s["frontier"], "frontier_changes": s.get("frontier_changes", {})}
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
        paths.append(write_figure(payload, draw_record(payload), Path(out_dir) / f"rung_{kind}"))
    return paths


def draw_record(record: dict) -> Any:
    """The figure of a rung figure record, unsaved (``bandit.records.redraw`` saves it)."""
    cfg = record.get("config", {})
    if record["kind"] in ("curves", "offpolicy") and "chains" in cfg and "seeds" in cfg:
        c, s = cfg["chains"], cfg["seeds"]
        runs = f"{c} chain{'s' * (c != 1)} × {s} seed{'s' * (s != 1)}"
        return FIGURES[record["kind"]](record["data"], runs)
    return FIGURES[record["kind"]](record["data"])
