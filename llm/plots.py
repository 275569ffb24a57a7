"""The LLM comparison's figures: drawers of the summary of :func:`llm.comparison.summarise` (the statistics, with
their confidence intervals over seeds × prompts and the Holm family, are computed there).

Figures (``<dir>/<name>.png`` + ``.json``; ``python -m bandit plot <json>`` redraws one):

* ``llm_frontier``   (a) reward vs exact KL(π‖π_ref), one point per (method, β), 95 % intervals on both axes;
* ``llm_jbeta``      (b) J_β = E[R] − β·KL of each method trained at β, and CoPG minus each method (paired);
* ``llm_best_beta``  (c) the paper's Fig. 6 view: reward vs step at each method's best β (chosen on the selection
  split; the curves are on the selection split), bands = 95 % intervals, and the paired final differences (report
  split);
* ``llm_curves``     reward vs step of every run (mean over seeds) on the selection split: have the curves flattened?
  (evaluations before the last step may cover the selection prompts only: ``EvalProtocol.curve_prompts``)
* ``llm_offpolicy``  CoPG vs naive PG as the behaviour policy μ moves away from π_ref (the LLM analogue of the bandit
  lab's off-policy figure): J_β of both and their paired difference per μ.

A filled marker is a difference that survives the Holm correction (``significant``); a hollow one does not. Each
difference shows its unadjusted 95 % interval (thin, grey) and its Holm-level interval (thick, in colour), which
excludes 0 exactly when the marker is filled. In ``llm_jbeta`` and ``llm_offpolicy`` the difference panel's y-range
is set by the unadjusted intervals, so that every comparison stays readable: a Holm-level interval that runs past it
ends at the frame in an arrowhead, with its end value written beside it.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from bandit.records import provenance, write_figure
from bandit.style import BETA_MARKERS, holm_interval, label_points, style
from llm.run import MAIN

__all__ = ["FIGURE_NAMES", "figure_names", "make_figures", "draw_record", "mu_label"]  # + FIGURES (a dict)

FIGURE_NAMES = ("llm_frontier", "llm_jbeta", "llm_best_beta", "llm_curves", "llm_offpolicy")


def figure_names(offpolicy: bool = True) -> list[str]:
    """The figures :func:`make_figures` writes (file stems); ``llm_offpolicy`` only with an off-policy sweep."""
    return [n for n in FIGURE_NAMES if offpolicy or n != "llm_offpolicy"]


# ----------------------------------------------------------------------------------------------------------------
# Drawing functions: (data) -> matplotlib figure. Data are exactly what the JSON stores.
# ----------------------------------------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _err(c: dict) -> list[list[float]]:
    return [[c["mean"] - c["low"]], [c["high"] - c["mean"]]]


def _errs(cs: list[dict]) -> list[list[float]]:
    """Matplotlib's asymmetric error bars [[below...], [above...]] of several intervals."""
    return [[c["mean"] - c["low"] for c in cs], [c["high"] - c["mean"] for c in cs]]


def _family(data: dict) -> str:
    """The size of the Holm family in words (from the summary's list of comparisons), which explains how wide a
    Holm-level interval is; empty for a summary without that list."""
    n = len(data.get("holm", {}).get("comparisons", []))
    return f";\nHolm family: {n} comparisons, corrected together" if n else ""


def _diff_panel(
    ax: Any,
    xs: list,
    diffs: list[dict],
    labels: list[str],
    colors: list,
    title: str,
    xlabel: str,
    family: str = "",
    swatch: Any = "0.3",
) -> None:
    """Paired differences: the unadjusted 95 % interval thin and grey, the Holm-level interval thick in colour
    (:func:`bandit.style.holm_interval`: it excludes 0 exactly when the marker is filled, p_holm ≤ 0.05); ``family``
    (:func:`_family`) is said in its legend entry, whose swatch is drawn in ``swatch`` (the bars' colour when they
    share one)."""
    for k, (d, lab, col) in enumerate(zip(diffs, labels, colors)):
        if d is None:
            continue
        face = col if d["significant"] else "white"
        ax.errorbar([xs[k]], [d["mean"]], yerr=_err(d), fmt="none", ecolor="0.45", elinewidth=1, capsize=5, zorder=3)
        holm = holm_interval(d)
        if holm is not None:
            ax.plot([xs[k]] * 2, holm, color=col, lw=4, alpha=0.6, solid_capstyle="butt", zorder=2)
        ax.plot([xs[k]], [d["mean"]], "o", color=col, mfc=face, ms=7, zorder=4, label=lab)
    if "Holm-level interval" not in " ".join(ax.get_legend_handles_labels()[1]):
        ax.plot(
            [],
            [],
            color=swatch,
            lw=4,
            alpha=0.6,
            label=f"thick: Holm-level interval{'' if swatch != '0.3' else ', in the baseline’s colour'}\n"
            f"(excludes 0 ⇔ filled marker{family})",
        )
        ax.errorbar([], [], yerr=[], fmt="none", ecolor="0.45", elinewidth=1, capsize=5,
                    label="thin grey, capped: unadjusted 95 % CI")  # fmt: skip
    ax.axhline(0, color="grey", lw=1)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)


def _count(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless n is 1: "1 seed", "3 seeds"."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def _over(cis: list[dict]) -> str:
    """What intervals ``cis`` are taken over, from their own counts: "3 seeds × 128 report prompts" (a range when the
    counts differ between them)."""

    def span(key: str) -> str:
        vals = sorted({c[key] for c in cis if c and key in c})
        return "?" if not vals else f"{vals[0]}" if len(vals) == 1 else f"{vals[0]}–{vals[-1]}"

    seeds = span("seeds")
    return f"{seeds} seed{'' if seeds == '1' else 's'} × {span('prompts')} report prompts"


PATH_DASHES = ((0, (5, 2)), (0, (1.2, 1.6)), (0, (6, 2, 1.5, 2)), (0, (3, 1.5)), (0, (8, 2, 1.5, 2, 1.5, 2)))
"""The dash of each method's β path in ``llm_frontier`` (its means joined in β order), the same in every panel:
paths are the only dashed lines there."""


def _beta_marker(k: int) -> str:
    """The marker of the k-th β (smallest first) in ``llm_frontier``'s method panels, the same in every panel."""
    return BETA_MARKERS[k % len(BETA_MARKERS)]


def _beta_means(ax: Any, pts: list[dict], color: Any, betas: list[float], ms: float = 7) -> None:
    """Each β of one method as its mean (KL, reward) alone, in the method's colour with its β's marker (by its place
    in ``betas``, every method's β's sorted). No whiskers: every interval is drawn once, in the comparison panels
    (:func:`_compare_panel`), where the title's comparisons are made."""
    for p in pts:
        ax.plot([p["kl"]["mean"]], [p["reward"]["mean"]], ls="none", marker=_beta_marker(betas.index(p["beta"])),
                color=color, ms=ms, mec="white", mew=0.8, zorder=4)  # fmt: skip


def _marks(pts: list[dict], sft: dict) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """π_ref's reward interval at KL = 0 and each point's mean (a segment of length 0), as data-space segments: what
    the β labels and the inset keep off."""
    out = [((0, sft["low"]), (0, sft["high"]))]
    return out + [((p["kl"]["mean"], p["reward"]["mean"]),) * 2 for p in pts]


def _pieces(xs: list[float], ys: list[float], n: int = 16) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """A polyline as short data-space segments (``n`` per leg), so that :func:`bandit.style.label_points`, which
    keeps labels off each segment's bounding box, keeps them off a slanted line and not off the whole box it spans."""
    out = []
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        t = [i / n for i in range(n + 1)]
        pts = [(x0 + a * (x1 - x0), y0 + a * (y1 - y0)) for a in t]
        out += list(zip(pts, pts[1:]))
    return out


def _zoom_close_points(
    ax: Any, pts: list[dict], sft: dict, color: Any, betas: list[float], near_pt: float = 20
) -> Any:
    """Where two of ``pts`` (sorted by β) lie within ``near_pt`` points of each other on the page (their markers
    and labels crowd), an enlarged copy of them, labelled, in an inset at the first corner of ``ax`` (lower right,
    upper right, upper left, lower left) that covers no mean, no β path (drawn before) and not π_ref's interval,
    else the first that covers no mean and not π_ref's interval; returns the inset, or None when no two points are
    that close or no corner is free. Call it once the layout is final."""
    import numpy as np

    scale = ax.figure.dpi / 72
    ax.get_xlim(), ax.get_ylim()
    xy = [np.array(ax.transData.transform((p["kl"]["mean"], p["reward"]["mean"]))) for p in pts]
    close = [i for i in range(len(pts)) if any(j != i and np.hypot(*(xy[i] - xy[j])) < near_pt * scale
                                               for j in range(len(pts)))]  # fmt: skip
    if not close:
        return None
    cl = [pts[i] for i in close]
    lines = [np.column_stack([line.get_xdata(), line.get_ydata()]) for line in ax.lines if len(line.get_xdata()) > 1]
    marks = [ax.transData.transform(np.array(seg)) for seg in _marks(pts, sft)]
    paths = [ax.transData.transform(np.array(seg)) for line in lines for seg in _pieces(*line.T)]
    frame, size = ax.get_window_extent(), 0.36  # the corners leave room for the inset's own tick labels
    corners = ((0.61, 0.13), (0.61, 0.58), (0.13, 0.58), (0.13, 0.13))

    def free(fx: float, fy: float, keep_off: list) -> bool:
        x0, y0 = frame.x0 + fx * frame.width, frame.y0 + fy * frame.height
        x1, y1 = x0 + size * frame.width, y0 + size * frame.height
        return not any(s[:, 0].min() < x1 and x0 < s[:, 0].max() and s[:, 1].min() < y1 and y0 < s[:, 1].max()
                       for s in keep_off)  # fmt: skip

    # a corner clear of the paths too where there is one, else one clear of the means and π_ref's interval
    spot = next((c for keep_off in (marks + paths, marks) for c in corners if free(*c, keep_off)), None)
    if spot is None:
        return None
    fx, fy = spot
    ins = ax.inset_axes([fx, fy, size, size])
    _beta_means(ins, cl, color, betas, ms=8)
    ins.errorbar([0], [sft["mean"]], yerr=_err(sft), fmt="*", color="k", ms=11, zorder=4)  # clipped where out of view
    (x_lo, x_hi), (y_lo, y_hi) = ax.get_xlim(), ax.get_ylim()
    for setter, vals, span in ((ins.set_xlim, [p["kl"]["mean"] for p in cl], x_hi - x_lo),
                               (ins.set_ylim, [p["reward"]["mean"] for p in cl], y_hi - y_lo)):  # fmt: skip
        mid, half = (min(vals) + max(vals)) / 2, max(0.9 * (max(vals) - min(vals)), 0.06 * span)
        setter(mid - half, mid + half)  # ≈ 3× enlarged or more, room for the labels
    ins.tick_params(labelsize=10)
    ins.locator_params(nbins=3)
    for axis, (lo, hi) in ((ins.xaxis, ins.get_xlim()), (ins.yaxis, ins.get_ylim())):  # only the ticks in view
        axis.set_ticks([t for t in axis.get_ticklocs() if lo <= t <= hi])
    ins.set_title("enlarged", fontsize=10, pad=2)
    ax.indicate_inset_zoom(ins, edgecolor="0.5")
    label_points(ins, [(p["kl"]["mean"], p["reward"]["mean"], f"β={p['beta']:g}") for p in cl], fontsize=10,
                 avoid=_marks(cl, sft), color=color, weight="bold", zorder=5)  # fmt: skip
    return ins


def _padded(ax: Any, segs: list, pt: float = 4) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Data-space segments of ``ax`` widened by ``pt`` points each way: each becomes the diagonal of its bounding
    box grown by that margin, which is what :func:`bandit.style.label_points` keeps its labels off (its own margin
    is 2 pt; its text boxes are estimates, and a bold label runs a little wider)."""
    bb = ax.get_window_extent()
    (x_lo, x_hi), (y_lo, y_hi) = ax.get_xlim(), ax.get_ylim()
    px = pt * ax.figure.dpi / 72
    dx, dy = px * (x_hi - x_lo) / bb.width, px * (y_hi - y_lo) / bb.height
    return [((min(a[0], b[0]) - dx, min(a[1], b[1]) - dy), (max(a[0], b[0]) + dx, max(a[1], b[1]) + dy))
            for a, b in segs]  # fmt: skip


def _indicator_segments(ax: Any) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The grey zoom frame of the inset on ``ax`` (:func:`_zoom_close_points`) and its drawn connector lines, as
    short data-space segments (:func:`_pieces`) for the β labels to keep off. Call it after a draw: the connectors
    are placed then."""
    from matplotlib.inset import InsetIndicator

    ind = next(c for c in ax.get_children() if isinstance(c, InsetIndicator))  # one inset per panel at most
    r = ind.rectangle
    x0, y0, x1, y1 = r.get_x(), r.get_y(), r.get_x() + r.get_width(), r.get_y() + r.get_height()
    out = _pieces([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])
    inv = ax.transData.inverted()
    for c in ind.connectors:
        if c.get_visible():
            xy = inv.transform(c.get_path().vertices)
            out += _pieces(list(xy[:, 0]), list(xy[:, 1]))
    return out


def _betas_text(hits: list[float], common: list[float]) -> str:
    return "every β" if hits == common else "β = " + ", ".join(f"{b:g}" for b in hits)


def _side(a: dict, b: dict) -> int:
    """+1 where interval ``a`` lies wholly below ``b``, −1 wholly above, 0 where they overlap (not resolved)."""
    return (a["high"] < b["low"]) - (a["low"] > b["high"])


def _frontier_ref(methods: list[str]) -> str:
    """The method the others are compared with in ``llm_frontier``: CoPG where present, else the first."""
    return "copg" if "copg" in methods else methods[0]


def _frontier_finding(data: dict, by_method: dict[str, list[dict]]) -> str:
    """The title's finding: the first method (CoPG where present) against each other one at equal β, in KL and in
    reward, by the points' unpaired 95 % intervals (the summary stores no paired KL or reward difference): "lower" or
    "higher" only where the two intervals are disjoint (:func:`_side`), "not resolved" where they overlap. Two
    lines."""
    methods = list(data["methods"])
    ref = _frontier_ref(methods)
    others = [m for m in methods if m != ref]
    at = {m: {p["beta"]: p for p in by_method[m]} for m in methods}
    name = style(ref).label
    lines = []
    for key, word in (("kl", "KL"), ("reward", "reward")):
        parts, n_pairs, n_open = [], 0, 0
        for o in others:
            common = sorted(set(at[ref]) & set(at[o]))
            sides = [_side(at[ref][x][key], at[o][x][key]) for x in common]  # +1: ref's lower
            n_pairs += len(common)
            n_open += sides.count(0)
            for sign, rel in ((1, "lower"), (-1, "higher")):
                hits = [x for x, sd in zip(common, sides) if sd == sign]
                if hits:
                    parts.append(f"{rel} than {style(o).label}'s at {_betas_text(hits, common)}")
        if not parts:
            vs = " and ".join(f"{style(o).label}'s" for o in others)
            lines.append(f"{name}'s {word} vs {vs}: not resolved at any β (every pair of intervals overlaps)")
        else:
            rest = f"; {n_open} of {n_pairs} pairs overlap: not resolved" if n_open else ""
            lines.append(f"{name}'s {word} is " + " and ".join(parts) + f" (95 % intervals disjoint){rest}")
    return lines[0] + "\n" + lines[1] + " — bottom panels: unpaired intervals at equal β"


def _compare_panel(ax: Any, key: str, data: dict, by_method: dict[str, list[dict]], betas: list[float]) -> None:
    """``llm_frontier``'s comparison panel for ``key`` ("kl" or "reward"): per β, every method's stored 95 %
    interval side by side in its colour, the reference method's (:func:`_frontier_ref`) also as a band across the
    β's group; another method's mean is filled where its interval is disjoint from the reference's (the title's
    "lower"/"higher"), hollow where they overlap. For KL each seed's mean KL is a dot beside its interval (the
    interval is clipped at 0, the seeds are not)."""
    methods = list(data["methods"])
    ref, n = _frontier_ref(methods), len(methods)
    at = {m: {p["beta"]: p for p in by_method[m]} for m in methods}
    for j, b in enumerate(betas):
        r = at[ref].get(b)
        if r is not None:
            ax.fill_between([j - 0.42, j + 0.42], r[key]["low"], r[key]["high"], color=style(ref).color, alpha=0.14,
                            lw=0, zorder=1)  # fmt: skip
        for i, m in enumerate(methods):
            if b not in at[m]:
                continue
            c, col, x = at[m][b][key], style(m).color, j + (i - (n - 1) / 2) * 0.25
            filled = m == ref or (r is not None and _side(r[key], c) != 0)
            ax.errorbar([x], [c["mean"]], yerr=_err(c), fmt="o", color=col, mfc=col if filled else "white", ms=6,
                        mew=1.3, capsize=3, lw=1.4, zorder=3)  # fmt: skip
            seeds = c.get("seed_means", []) if key == "kl" else []
            if seeds:
                ax.scatter([x + 0.09] * len(seeds), seeds, s=11, color=col, alpha=0.6, lw=0, zorder=2)
    ax.set_xlim(-0.55, len(betas) - 0.45)
    ax.set_xticks(range(len(betas)), [f"β = {b:g}" for b in betas])
    ax.tick_params(labelsize=10)


def draw_frontier(data: dict, chain: int | None = None) -> Any:
    """Reward vs exact KL(π‖π_ref): one panel per method in a row (every method's β path of means in its colour and
    dash, its own dark, the others light; the method's β means, each with its β's marker and label, clear of every
    path; π_ref at KL = 0), then every β's stored 95 % intervals of every method side by side, KL left and reward
    right (:func:`_compare_panel`): each comparison of the title (:func:`_frontier_finding`) is seen there, and an
    interval is drawn once, nowhere else; one shared legend below."""
    import math

    plt = _plt()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    methods = list(data["methods"])
    ref = _frontier_ref(methods)
    cols = min(len(methods), 3)
    rows = math.ceil(len(methods) / cols)
    fig = plt.figure(figsize=(11.2, 3.7 * rows + 3.4 + 1.5 + 0.5))
    gs = fig.add_gridspec(rows + 2, 6, height_ratios=[3.7] * rows + [3.4, 1.5])  # 6: three or two to a row
    w = 6 // cols
    panels = [fig.add_subplot(gs[i // cols, (i % cols) * w : (i % cols + 1) * w]) for i in range(len(methods))]
    for ax in panels[1:]:
        ax.sharex(panels[0])
        ax.sharey(panels[0])
    ckl = fig.add_subplot(gs[rows, :3])
    crw = fig.add_subplot(gs[rows, 3:], sharex=ckl)
    lax = fig.add_subplot(gs[rows + 1, :])
    by_method = {m: sorted((p for p in data["points"] if p["method"] == m), key=lambda p: p["beta"]) for m in methods}
    betas = sorted({p["beta"] for p in data["points"]})
    dash = {m: PATH_DASHES[i % len(PATH_DASHES)] for i, m in enumerate(methods)}
    path = {m: ([p["kl"]["mean"] for p in by_method[m]], [p["reward"]["mean"] for p in by_method[m]]) for m in methods}
    s = data["sft"]["reward"]
    for i, (ax, m) in enumerate(zip(panels, methods)):
        st = style(m)
        for o in methods:  # every method's β path in its dash: the panel's own dark, the others light behind
            own = o == m
            ax.plot(*path[o], color=style(o).color, alpha=1.0 if own else 0.6, lw=1.6 if own else 1.2, ls=dash[o],
                    zorder=3 if own else 1)  # fmt: skip
        _beta_means(ax, by_method[m], st.color, betas)
        ax.errorbar([0], [s["mean"]], yerr=_err(s), fmt="*", color="k", ms=12, zorder=4)
        ax.set_title(f"{st.label}: mean per β", fontsize=12, color=st.color, fontweight="bold")
        ax.set_xlabel("KL(π‖π_ref), exact, nats", fontsize=10)
        if i % cols == 0:
            ax.set_ylabel("reward (standardised units)", fontsize=10)
        else:
            ax.tick_params(labelleft=False)
        ax.tick_params(labelsize=10)
    x_hi = max(p["kl"]["mean"] for p in data["points"])
    panels[0].set_xlim(-0.06 * x_hi, 1.2 * x_hi)  # room for a label right of the last mean

    # ---- the comparison panels: each β's intervals of every method side by side, KL left, reward right
    clipped = any(p["kl"].get("clipped_at_0") for p in data["points"])
    _compare_panel(ckl, "kl", data, by_method, betas)
    _compare_panel(crw, "reward", data, by_method, betas)
    ckl.set_ylabel("KL(π‖π_ref), exact, nats", fontsize=10)
    crw.set_ylabel("reward (standardised units)", fontsize=10)
    ckl.set_title("KL: 95 % intervals per β" + (" (clipped at 0)" if clipped else ""), fontsize=11)
    crw.set_title("reward: 95 % intervals per β", fontsize=11)

    # ---- the shared legend, below every panel: the method panels, each β's marker, the comparison panels
    lax.axis("off")
    grey = "0.35"
    marks = [
        *(
            Line2D(
                [],
                [],
                color=style(o).color,
                lw=1.6,
                ls=dash[o],
                label=f"{style(o).label}'s means, in β order (faint elsewhere)",
            )
            for o in methods
        ),  # fmt: skip
        Line2D([], [], ls="none", marker="*", ms=12, color="k", label="π_ref (SFT) at KL = 0, 95 % interval"),
    ]
    first = lax.legend(handles=marks, loc="upper left", bbox_to_anchor=(0.0, 1.0), fontsize=10, title_fontsize=10,
                       alignment="left", frameon=False, handlelength=3.2,
                       title=f"top: means over {_over([p['reward'] for p in data['points']])};\n"
                             "up and to the left is better (more reward, less KL)")  # fmt: skip
    lax.add_artist(first)
    keys = [Line2D([], [], ls="none", color=grey, marker=_beta_marker(k), ms=7, mec="white", mew=0.8,
                   label=f"β = {b:g}") for k, b in enumerate(betas)]  # fmt: skip
    second = lax.legend(
        handles=keys,
        loc="upper left",
        bbox_to_anchor=(0.37, 1.0),
        fontsize=10,
        title_fontsize=10,
        frameon=False,
        ncol=2,
        alignment="left",
        title="top: each β's marker,\nthe same in every panel",
    )
    lax.add_artist(second)  # fmt: skip
    name = style(ref).label
    order = ", ".join(style(m).label for m in methods)
    comp = [
        Patch(color=style(ref).color, alpha=0.14, label=f"band: {name}'s 95 % interval at that β"),
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=6,
            color=grey,
            label=f"filled: {name}'s own, or disjoint from it (resolved)",
        ),  # fmt: skip
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=6,
            color=grey,
            mfc="white",
            mew=1.3,
            label=f"hollow: overlaps {name}'s (not resolved)",
        ),  # fmt: skip
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=4,
            color=grey,
            alpha=0.6,
            mew=0,
            label="dot beside a KL interval: one seed's mean",
        ),  # fmt: skip
    ]
    lax.legend(handles=comp, loc="upper left", bbox_to_anchor=(0.6, 1.0), fontsize=10, title_fontsize=10,
               frameon=False, alignment="left", title="bottom: 95 % intervals over seeds × prompts;\n"
                                           f"per β, left to right: {order}")  # fmt: skip
    fig.suptitle(_chain_line(chain) + _frontier_finding(data, by_method), fontsize=10.5)
    fig.tight_layout()
    _raise_legend_row(lax, [ckl, crw])
    insets = [_zoom_close_points(ax, by_method[m], s, style(m).color, betas) for ax, m in zip(panels, methods)]
    fig.canvas.draw()  # after the layout (positions final) and the insets (their connectors placed)
    for ax, m, ins in zip(panels, methods, insets):
        avoid = _marks(by_method[m], s) + _padded(ax, [seg for o in methods for seg in _pieces(*path[o])])
        if ins is not None:  # the labels keep off the inset too, its tick labels included, its frame and connectors
            box = ins.get_tightbbox(fig.canvas.get_renderer())
            avoid.append(tuple(map(tuple, ax.transData.inverted().transform([[box.x0, box.y0], [box.x1, box.y1]]))))
            avoid += _padded(ax, _indicator_segments(ax))
        label_points(ax, [(p["kl"]["mean"], p["reward"]["mean"], f"β={p['beta']:g}") for p in by_method[m]],
                     fontsize=10, avoid=avoid, color=style(m).color, weight="bold", zorder=5)  # fmt: skip
    return fig


def draw_jbeta(data: dict, chain: int | None = None) -> Any:
    """(b) J_β of each method trained at β (left) and CoPG − each method, paired (right; :func:`_zoom_on_cis`)."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.2, 6.0))
    rows = data["jbeta"]
    xs = list(range(len(rows)))
    methods = data["methods"]
    for k, m in enumerate(methods):
        st = style(m)
        cis = [r["J"].get(m) for r in rows]
        xk = [x + (k - (len(methods) - 1) / 2) * 0.08 for x in xs]
        a1.errorbar(
            [x for x, c in zip(xk, cis) if c],
            [c["mean"] for c in cis if c],
            yerr=[[c["mean"] - c["low"] for c in cis if c], [c["high"] - c["mean"] for c in cis if c]],
            color=st.color,
            marker="o",
            capsize=3,
            label=st.label,
        )
    a1.axhline(data["sft"]["reward"]["mean"], color="grey", ls="--", lw=1, label="π_ref (J_β = its reward)")
    a1.set_xticks(xs, [f"{r['beta']:g}" for r in rows])
    a1.set_xlabel("β (training and objective)")
    a1.set_ylabel("J_β = E[R] − β·KL(π‖π_ref)")
    a1.set_title(
        "J_β, the objective each method is trained at\n"
        f"(mean, 95 % interval over {_over([c for r in rows for c in r['J'].values()])})",
        fontsize=10,
    )
    _legend_below(a1, a1.get_legend_handles_labels(), ncol=2)  # below: off the data
    others = [m for m in methods if m != "copg"]
    alpha = _alpha(data)
    diffs, bars, sides = [], [], []
    for k, m in enumerate(others):
        ds = [r["copg_minus"].get(m) for r in rows]
        off = (k - (len(others) - 1) / 2) * 0.24  # dodged apart, so each end value fits on its bar's outer side
        drawn = _diff_marks(a2, [x + off for x in xs], ds, f"CoPG − {style(m).label}", style(m).color, alpha)
        diffs, bars, sides = diffs + ds, bars + drawn, sides + [-1 if off < 0 else 1] * len(drawn)
    clipped = _zoom_on_cis(a2, diffs, bars, sides)
    a2.set_xticks(xs, [f"{r['beta']:g}" for r in rows])
    a2.set_xlim(-0.6, len(xs) - 0.4)
    a2.set_xlabel("β")
    a2.set_ylabel("ΔJ_β (standardised reward units)")
    a2.set_title("CoPG minus each method, paired", fontsize=10)
    title = "J_β of each method trained at β"
    if others:  # one method alone (e.g. a single-method run): no difference to label
        _diff_legend(a2, _family(data).removeprefix(";\n"), clipped, "0.3", "in the method’s colour")
        cands = [
            (f"CoPG − {style(m).label}", r["copg_minus"].get(m), f"β = {r['beta']:g}") for r in rows for m in others
        ]
        head, detail = _holm_lines(cands, " or ".join(f"CoPG − {style(m).label}" for m in others), alpha)
        title = f"{title}: {head}" + (f"\n{detail}" if detail else "")
    fig.suptitle(_chain_line(chain) + title, fontsize=11)
    fig.tight_layout()
    return fig


def _p_text(d: dict) -> str:
    """A comparison's verdict in words: the Holm-adjusted p and whether it is significant after Holm."""
    verdict = "significant" if d.get("significant") else "not significant"
    return f"{verdict} (Holm-adjusted p = {d['p_holm']:.2f})" if "p_holm" in d else verdict


def _edge_betas(data: dict) -> dict[str, str]:
    """Each method whose best β is the smallest or the largest β it was trained at (from the summary's points, or
    its curves), as "smallest"/"largest": the best β may lie beyond the range tried."""
    tried: dict[str, set] = {}
    for p in data.get("points") or data.get("curves") or []:
        tried.setdefault(p["method"], set()).add(p["beta"])
    out = {}
    for m, b in data["best"].items():
        bs = sorted(tried.get(m, ()))
        if len(bs) > 1 and b["beta"] in (bs[0], bs[-1]):
            out[m] = "smallest" if b["beta"] == bs[0] else "largest"
    return out


def _edge_text(data: dict) -> str:
    """:func:`_edge_betas` in words: "CoPG and IPO picked β = 0.03, the smallest β tried: the best may lie below";
    empty when every best β lies inside its range."""
    groups: dict[tuple[str, float], list[str]] = {}
    for m, edge in _edge_betas(data).items():
        groups.setdefault((edge, data["best"][m]["beta"]), []).append(style(m).label)
    parts = []
    for (edge, b), names in groups.items():
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        where = "below" if edge == "smallest" else "above"
        parts.append(f"{who} picked β = {b:g}, the {edge} β tried: the best may lie {where}")
    return "; ".join(parts)


def draw_best_beta(data: dict, chain: int | None = None) -> Any:
    """Each method at its best β (chosen on the selection split; the paper's Fig. 6 comparison). Top left: its
    reward on the report split with 95 % intervals (π_ref's as a band), a best β at the edge of the range tried
    flagged (:func:`_edge_betas`); top right: CoPG minus each, paired, with the Holm-adjusted p; below: the
    selection-split curves that chose β (optimistic by construction), offset per method."""
    plt = _plt()
    fig = plt.figure(figsize=(11.2, 9.6))
    gs = fig.add_gridspec(2, 2, height_ratios=[1.15, 1.0], width_ratios=[1.0, 1.1])
    a0, a1, a2 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])
    methods, others = list(data["best"]), list(data["paired_best"])
    edges = _edge_betas(data)
    s = data["sft"]["reward"]
    a0.axhspan(s["low"], s["high"], color="0.85", label="π_ref (95 % interval)")
    a0.axhline(s["mean"], color="k", lw=1)
    for k, m in enumerate(methods):
        b, st = data["best"][m], style(m)
        a0.errorbar([k], [b["reward"]["mean"]], yerr=_err(b["reward"]), fmt="o", color=st.color, capsize=4, ms=7)
        a0.annotate(f"KL {b['kl']['mean']:.2f} nats", (k, b["reward"]["high"]), fontsize=9, ha="center",
                    xytext=(0, 3), textcoords="offset points")  # fmt: skip
    ticks = [f"{style(m).label}\nβ = {data['best'][m]['beta']:g}" + (f"\n({edges[m]} tried)" if m in edges else "")
             for m in methods]  # fmt: skip
    a0.set_xticks(range(len(methods)), ticks)
    a0.set_xlim(-0.6, len(methods) - 0.4)
    a0.margins(y=0.12)
    a0.tick_params(labelsize=10)
    a0.set_ylabel("reward on the report split\n(standardised units)", fontsize=10)
    a0.set_title(f"final reward at its best β, mean and 95 % interval\n({data['report_prompts']} report prompts; "
                 "KL = KL(π‖π_ref) in nats)", fontsize=10)  # fmt: skip
    pairs = [data["paired_best"][m] for m in others]
    _diff_panel(a1, list(range(len(others))), pairs, [None] * len(others), [style(m).color for m in others],
                "CoPG minus each, paired\n(filled: significant after Holm, hollow: not)", "",
                _family(data))  # fmt: skip
    for k, d in enumerate(pairs):
        if "p_holm" in d:
            top = max(d["high"], (holm_interval(d) or (0, d["high"]))[1])
            a1.annotate(f"Holm-adjusted\np = {d['p_holm']:.2f}", (k, top), fontsize=9, ha="center",
                        xytext=(0, 3), textcoords="offset points")  # fmt: skip
    a1.set_xticks(range(len(others)), [f"CoPG − {style(m).label}" for m in others])
    a1.set_xlim(-0.6, len(others) - 0.4)
    a1.margins(y=0.2)
    a1.tick_params(labelsize=10)
    a1.set_ylabel("reward difference (standardised units)", fontsize=10)
    for k, (m, b) in enumerate(data["best"].items()):
        st, off = style(m), 2.0 * (k - (len(methods) - 1) / 2)  # a small step offset per method
        a2.errorbar([c["step"] + off for c in b["curve"]], [c["mean"] for c in b["curve"]], yerr=_errs(b["curve"]),
                    marker="o", ms=4, color=st.color, capsize=2.5, lw=1.3, elinewidth=1.0,
                    label=f"{st.label} (β = {b['beta']:g})")  # fmt: skip
    a2.set_xlabel("step (points offset by 2 steps per method)", fontsize=10)
    a2.set_ylabel("reward, selection split\n(standardised)", fontsize=10)
    a2.tick_params(labelsize=10)
    a2.set_title("the curves that chose β (mean, 95 % interval; selection split: optimistic by construction)",
                 fontsize=10)  # fmt: skip
    verdicts = "\n".join(f"CoPG − {style(m).label}: {d['mean']:+.3f}, unadjusted 95 % CI {d['low']:+.3f} to "
                         f"{d['high']:+.3f}; {_p_text(d)}" for m, d in zip(others, pairs))  # fmt: skip
    edge = _edge_text(data)
    fig.suptitle(
        _chain_line(chain)
        + "Each method at the β that did best on the selection split, reported on the separate report split "
        f"(the paper's Fig. 6 comparison)\n{verdicts}" + (f"\n{edge}" if edge else ""),
        fontsize=10.5,
    )
    fig.tight_layout()
    _legend_below(a0, a0.get_legend_handles_labels())  # below: off the band
    _legend_below(a1, a1.get_legend_handles_labels())
    _legend_below(a2, a2.get_legend_handles_labels(), ncol=len(methods))
    fig.tight_layout()
    return fig


def _plateau_text(curves: list[dict], moving: int) -> str:
    """What the last-change intervals show when none excludes 0: no curve shown to move, yet no plateau shown either
    where the intervals are wide (their half-widths, from the data)."""
    halves = [(c["last_change"]["high"] - c["last_change"]["low"]) / 2 for c in curves if c.get("last_change")]
    if moving or not halves:
        return ""
    return (f"\nno curve is shown to be still moving, nor shown flat: the intervals' half-widths are "
            f"{min(halves):.2f}–{max(halves):.2f}")  # fmt: skip


CURVE_COLOURS = ("#000000", "#0072B2", "#D55E00", "#CC79A7", "#009E73", "#E69F00")
"""Each β's colour in ``llm_curves`` (smallest β first; Okabe–Ito hues, far apart, with a marker each): the old
viridis shades of β = 0.03 and 0.1 were hard to tell apart."""


def _curve_look(k: int) -> dict:
    """The k-th β's (smallest first) colour and marker in ``llm_curves``."""
    return {"color": CURVE_COLOURS[k % len(CURVE_COLOURS)], "marker": BETA_MARKERS[k % len(BETA_MARKERS)]}


def draw_curves(data: dict, chain: int | None = None) -> Any:
    """Reward vs step of every (method, β), mean over seeds with 95 % intervals, in a 2 × 2 grid: one panel per
    method, each β in its own colour and marker (:func:`_curve_look`) and dodged in step far enough that no two
    whiskers touch; a last panel with each curve's paired change over the last interval; one β key below."""
    plt = _plt()
    from matplotlib.lines import Line2D

    methods = list(data["methods"])
    betas = sorted({c["beta"] for c in data["curves"]})
    cols = 2
    rows = (len(methods) + 1 + cols - 1) // cols  # + the last-change panel
    fig = plt.figure(figsize=(11.2, 3.9 * rows + 1.6))
    gs = fig.add_gridspec(rows + 1, cols, height_ratios=[3.9] * rows + [0.7])
    panels = [fig.add_subplot(gs[i // cols, i % cols]) for i in range(len(methods))]
    for ax in panels[1:]:
        ax.sharex(panels[0])
        ax.sharey(panels[0])
    last_ax = fig.add_subplot(gs[len(methods) // cols, len(methods) % cols])
    lax = fig.add_subplot(gs[rows, :])
    steps = sorted({p["step"] for c in data["curves"] for p in c["curve"]})
    gap = min((b - a for a, b in zip(steps, steps[1:])), default=1.0)
    width = 0.14 * gap  # the step offset between neighbouring β's: their whiskers stay apart
    moving, spans = 0, set()
    for i, (ax, m) in enumerate(zip(panels, methods)):
        cs = sorted((c for c in data["curves"] if c["method"] == m), key=lambda c: c["beta"])
        for c in cs:
            k, look = betas.index(c["beta"]), _curve_look(betas.index(c["beta"]))
            xs = [p["step"] + width * (k - (len(betas) - 1) / 2) for p in c["curve"]]
            ax.errorbar(xs, [p["mean"] for p in c["curve"]], yerr=_errs(c["curve"]), marker=look["marker"], ms=4.5,
                        color=look["color"], capsize=2.5, lw=1.3, elinewidth=1.0, zorder=3)  # fmt: skip
        ax.set_title(style(m).label, fontsize=11, fontweight="bold")
        ax.set_xlabel(f"step (each β offset by {width:g} steps)", fontsize=10)
        if i % cols == 0:
            ax.set_ylabel("reward (selection split,\nstandardised)", fontsize=10)
        ax.tick_params(labelsize=10)

    # ---- the last panel: each curve's paired change over the last interval, per method and β
    for j, m in enumerate(methods):
        for c in (c for c in data["curves"] if c["method"] == m and c.get("last_change")):
            last, k = c["last_change"], betas.index(c["beta"])
            look = _curve_look(k)
            moving += bool(last["low"] > 0 or last["high"] < 0)
            if "from_step" in last:
                spans.add(f"steps {last['from_step']}→{last['to_step']}")
            last_ax.errorbar([j + 0.16 * (k - (len(betas) - 1) / 2)], [last["mean"]], yerr=_err(last),
                             marker=look["marker"], ms=5, color=look["color"], capsize=3, lw=1.2)  # fmt: skip
    last_ax.axhline(0, color="grey", lw=1)
    last_ax.set_xticks(range(len(methods)), [style(m).label for m in methods])
    last_ax.set_xlim(-0.6, len(methods) - 0.4)
    last_ax.tick_params(labelsize=10)
    span = " / ".join(sorted(spans)) or "the last interval"
    last_ax.set_ylabel("reward change", fontsize=10)
    last_ax.set_title(f"last change: paired reward change over {span},\nmean and 95 % interval", fontsize=10)

    lax.axis("off")
    keys = [Line2D([], [], lw=1.3, ms=6, **_curve_look(k), label=f"β = {b:g}") for k, b in enumerate(betas)]
    lax.legend(handles=keys, loc="upper center", ncol=len(betas), fontsize=10, title_fontsize=10, frameon=False,
               title="each β: its own colour and marker, the same in every panel; mean over seeds, "
                     "95 % interval over seeds × prompts")  # fmt: skip
    n = len(data["curves"])
    fig.suptitle(
        _chain_line(chain)
        + "Training curves on the selection split: mean over seeds, 95 % intervals over seeds × prompts\n"
        f"last change = paired reward change over {span} (95 % interval): it excludes 0 for {moving} of {n} curves"
        + _plateau_text(data["curves"], moving),
        fontsize=10.5,
    )
    fig.tight_layout()
    _raise_legend_row(lax, [*panels, last_ax])
    return fig


def _raise_legend_row(lax: Any, above: list) -> None:
    """Moves the legend row ``lax`` (an axis turned off, its legends anchored at its top) up to just under the
    lowest x label of the axes ``above``: tight_layout leaves a row gap there as tall as the panels' titles."""
    fig = lax.figure
    renderer = fig.canvas.get_renderer()
    top = min(ax.get_tightbbox(renderer).y0 for ax in above) / fig.bbox.height - 0.01
    box = lax.get_position()
    lax.set_position([box.x0, box.y0, box.width, top - box.y0])


def draw_offpolicy(data: dict, chain: int | None = None) -> Any:
    """J_β of CoPG and naive PG per behaviour policy μ (left) and their paired difference (right;
    :func:`_zoom_on_cis`)."""
    plt = _plt()
    off = data["offpolicy"]
    rows = off["rows"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.2, 6.0))
    xs = list(range(len(rows)))
    names = [mu_label(r["dataset"]) for r in rows]
    for k, m in enumerate(("copg", "pg")):
        st = style(m)
        cis = [r[m] for r in rows]
        a1.errorbar([x + (k - 0.5) * 0.1 for x in xs], [c["mean"] for c in cis], yerr=_errs(cis), color=st.color,
                    marker="o", ls="none", capsize=3, label=st.label)  # fmt: skip
    a1.axhline(data["sft"]["reward"]["mean"], color="grey", ls="--", lw=1, label="π_ref (J_β = its reward)")
    names = [textwrap.fill(n, 16) for n in names]  # "π_ref + the human summary" ran past the axes
    a1.set_xticks(xs, names)
    a1.set_xlabel("μ, the policy that sampled the offline data")
    a1.set_ylabel(f"J_β (β = {off['beta']:g}; standardised reward units)")
    a1.set_title(
        "CoPG and naive PG (b = 0) per behaviour policy μ\n"
        f"(mean, 95 % interval over {_over([r[m] for r in rows for m in ('copg', 'pg')])})",
        fontsize=10,
    )
    _legend_below(a1, a1.get_legend_handles_labels(), ncol=2)
    alpha = _alpha(data)
    diffs = [r["copg_minus_pg"] for r in rows]
    bars = _diff_marks(a2, xs, diffs, "CoPG − PG", style("copg").color, alpha)
    clipped = _zoom_on_cis(a2, diffs, bars, [1] * len(bars))
    a2.set_xticks(xs, names)
    a2.set_xlim(-0.5, len(xs) - 0.3)  # room on the right of the last bar for its end value
    a2.set_xlabel("μ")
    a2.set_ylabel("ΔJ_β (standardised reward units)")
    a2.set_title("CoPG minus PG, paired", fontsize=10)
    _diff_legend(a2, _family(data).removeprefix(";\n"), clipped, style("copg").color, "in CoPG’s colour")
    head, detail = _holm_lines([("CoPG − PG", d, f"μ = {mu_label(r['dataset'])}") for r, d in zip(rows, diffs)],
                               "CoPG − PG", alpha)  # fmt: skip
    title = f"Off-policy J_β (β = {off['beta']:g}): {head}" + (f"\n{detail}" if detail else "")
    fig.suptitle(_chain_line(chain) + title, fontsize=11)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------------
# llm_jbeta's and llm_offpolicy's difference panels: the y-range is set by the unadjusted 95 % intervals, so one wide
# Holm-level bar no longer squeezes every other comparison to a few pixels; a Holm bar that runs past the frame ends
# there in an arrowhead with its end value written beside it.
# ----------------------------------------------------------------------------------------------------------------


def _alpha(data: dict) -> float:
    """The Holm family's α from the summary (0.05 in a summary that does not store it)."""
    return data.get("holm", {}).get("alpha", 0.05)


def _pv(p: float) -> str:
    """A p-value with its relation: "= 0.22", "= 0.019", "< 0.001"."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 0.1 else f"= {p:.2f}"


def _diff_words(d: dict, label: str = "", where: str = "", unadjusted: bool = False) -> str:
    """One paired difference in words: "CoPG − DPO +0.31 at β = 1 (95 % CI +0.12 to +0.50; unadjusted p = 0.019,
    Holm-adjusted p = 0.22)"; without label and where, from the number on; the unadjusted p only if asked for."""
    what = f"{label} {d['mean']:+.2f} at {where}" if label else f"{d['mean']:+.2f}"
    raw = f"unadjusted p {_pv(d['p'])}, " if unadjusted and d.get("p") is not None else ""
    return f"{what} (95 % CI {d['low']:+.2f} to {d['high']:+.2f}; {raw}Holm-adjusted p {_pv(d['p_holm'])})"


def _holm_lines(cands: list[tuple[str, dict, str]], what: str, alpha: float) -> tuple[str, str]:
    """The suptitle's finding over the paired differences ``cands`` (label, difference, where) in two short lines:
    which survive Holm at ``alpha`` (all, some, one or none, from their ``significant``) and the numbers of the one
    that survives, of the smallest Holm-adjusted p when several do, or of the largest |difference| when none does."""
    cands = [c for c in cands if c[1] is not None and c[1].get("p_holm") is not None]
    if not cands:
        return f"no {what} difference has a Holm-adjusted p", ""
    hits = sorted((c for c in cands if c[1].get("significant")), key=lambda c: c[1]["p_holm"])
    n, rest, holm = len(cands), len(cands) - len(hits), f"Holm (α = {alpha:g})"
    if not hits:
        big = max(cands, key=lambda c: abs(c[1]["mean"]))
        return (
            f"no {what} difference survives {holm}",
            f"largest: {_diff_words(big[1], big[0], big[2], unadjusted=True)}",
        )
    if len(hits) == 1:
        rest_do = f"; the other {_count(rest, 'difference')} do{'es' if rest == 1 else ''} not" if rest else ""
        label, d, where = hits[0]
        return f"{label} survives {holm} {'only ' if rest else ''}at {where}", _diff_words(d) + rest_do
    head = f"{'all' if not rest else f'{len(hits)} of'} {n} {what} differences survive {holm}"
    return head, f"smallest Holm-adjusted p: {_diff_words(hits[0][1], hits[0][0], hits[0][2])}"


def _diff_marks(ax: Any, xs: list, diffs: list, label: str, color: Any, alpha: float) -> list:
    """One comparison's paired differences at ``xs``: the unadjusted 95 % interval thin and grey, the Holm-level
    interval (:func:`bandit.style.holm_interval`; it excludes 0 exactly when the marker is filled) thick in ``color``,
    and the mean filled when significant after Holm, hollow when not. Returns the Holm bars as (x, (low, high),
    colour) for :func:`_zoom_on_cis`."""
    bars = []
    for x, d in zip(xs, diffs):
        if d is None:
            continue
        ax.errorbar([x], [d["mean"]], yerr=_err(d), fmt="none", ecolor="0.45", elinewidth=1, capsize=5, zorder=3)
        holm = holm_interval(d, alpha)
        if holm is not None:
            ax.plot([x] * 2, holm, color=color, lw=5, alpha=0.6, solid_capstyle="butt", zorder=2)
            bars.append((x, holm, color))
        face = color if d["significant"] else "white"
        ax.plot([x], [d["mean"]], "o", color=color, mfc=face, ms=7, zorder=4, label=label)
        label = None  # one legend entry per comparison
    return bars


def _zoom_on_cis(ax: Any, diffs: list, bars: list, sides: list[int], margin: float = 0.2) -> int:
    """Sets the y-range to the unadjusted 95 % intervals of ``diffs`` (which hold their means) and 0, plus
    ``margin`` of that span each side; each end of a Holm bar (``bars`` from :func:`_diff_marks`) past the frame gets
    an arrowhead at the frame and its value written beside it, on the bar's right (side 1) or left (−1). Returns
    how many ends were clipped."""
    from matplotlib.colors import to_rgb
    from matplotlib.transforms import ScaledTranslation

    ds = [d for d in diffs if d is not None]
    lo, hi = min([0.0] + [d["low"] for d in ds]), max([0.0] + [d["high"] for d in ds])
    pad = margin * ((hi - lo) or 1.0)
    lo, hi = lo - pad, hi + pad
    ax.set_ylim(lo, hi)
    ax.axhline(0, color="grey", lw=1)
    clipped, ms = 0, 9
    for (x, (b_lo, b_hi), col), side in zip(bars, sides):
        dark = tuple(0.7 * c for c in to_rgb(col))  # the bar's colour, dark enough for 9-pt text
        for end, edge, up in ((b_hi, hi, True), (b_lo, lo, False)):
            if not (end > edge if up else end < edge):
                continue
            clipped += 1
            tip = ScaledTranslation(0, (-1 if up else 1) * ms / 2 / 72, ax.figure.dpi_scale_trans)  # tip on the frame
            ax.plot([x], [edge], "^" if up else "v", ms=ms, color=col, clip_on=False, zorder=5,
                    transform=ax.transData + tip)  # fmt: skip
            ax.annotate(f"{end:+.2f}".replace("-", "−"), (x, edge), xytext=(6 * side, -2 if up else 2),
                        textcoords="offset points", ha="left" if side > 0 else "right", va="top" if up else "bottom",
                        fontsize=9, color=dark)  # fmt: skip
    return clipped


def _diff_legend(ax: Any, family: str, clipped: int, swatch: Any, colour: str) -> None:
    """The difference panel's legend below it: each comparison's marker, what thick and thin bars are (``family``
    from :func:`_family`; ``colour`` says whose colour the thick bars take), and the arrowhead when ``clipped``."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color=swatch, lw=5, alpha=0.6),
        ax.errorbar([], [], yerr=[], fmt="none", ecolor="0.45", elinewidth=1, capsize=5),  # a handle, drawn nowhere
    ]
    labels += [
        f"thick: Holm-level interval, {colour};\nit excludes 0 ⇔ the marker is filled\n"
        f"(filled: significant after Holm, hollow: not)" + (f"\n{family}" if family else ""),
        "thin grey, capped: unadjusted 95 % CI",
    ]
    if clipped:
        handles.append(Line2D([], [], color=swatch, marker="^", ls="none", ms=9))
        labels.append("▲ / ▼: a Holm-level interval runs past the frame;\nits end value is written beside it")
    _legend_below(ax, (handles, labels))


def _legend_below(ax: Any, handles_labels: tuple[list, list], ncol: int = 1) -> None:
    """A 9-pt legend centred under ``ax``'s x label (measured, in points, so it stays there when the layout
    scales the axes)."""
    from matplotlib.transforms import ScaledTranslation

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    drop = (ax.get_window_extent(renderer).y0 - ax.xaxis.get_tightbbox(renderer).y0) / fig.dpi + 4 / 72  # inches
    ax.legend(*handles_labels, fontsize=9, loc="upper center", ncol=ncol, bbox_to_anchor=(0.5, 0),
              bbox_transform=ax.transAxes + ScaledTranslation(0, -drop, fig.dpi_scale_trans))  # fmt: skip


def mu_label(dataset: str) -> str:
    """A behaviour policy μ's offline dataset key (``train``, ``T1.3``, ``human``) in words for a figure."""
    if dataset == MAIN:
        return "π_ref at T = 1"
    if dataset.startswith("T"):
        return f"π_ref at T = {dataset[1:]}"
    if dataset == "human":
        return "π_ref + the human summary"
    return dataset


FIGURES = {
    "frontier": draw_frontier,
    "jbeta": draw_jbeta,
    "best_beta": draw_best_beta,
    "curves": draw_curves,
    "offpolicy": draw_offpolicy,
}


def _chain_line(chain: int | None) -> str:
    """The first title line of a figure made from one π_ref + data chain (``chain``: its seed; None: not recorded,
    no line): its intervals vary seeds and prompts inside that chain, not the chain, so a verdict there is that
    chain's; whether it replicates is ``llm_chains``'s question."""
    if chain is None:
        return ""
    return (
        f"Chain {chain} only (one draw of π_ref and its data): intervals over its seeds × prompts; "
        "across chains: llm_chains\n"
    )


def record_chain(record: dict) -> int | None:
    """The π_ref + data chain an LLM figure record was made in (its pipeline config's ``chain_seed``), or None."""
    chain = (record.get("config") or {}).get("pipeline", {}).get("chain_seed")
    return chain if isinstance(chain, int) and not isinstance(chain, bool) else None


def draw_record(record: dict) -> Any:
    """The figure of an LLM figure record (``<name>.json``), unsaved; ``bandit.records.redraw`` saves it."""
    return FIGURES[record["kind"]](record["data"], chain=record_chain(record))


def make_figures(summary: dict, out_dir: str | os.PathLike, command: str, config: dict | None = None) -> list[str]:
    """Write every figure of a :func:`llm.comparison.summarise` result into ``out_dir``; returns the PNG paths.

    Each JSON holds the whole summary (``data``), the config, package versions, git revision and the command.
    """
    out_dir = Path(out_dir)
    base = {
        **provenance(command, config or {}, packages=("torch", "transformers", "accelerate", "matplotlib")),
        "drawer": "llm.plots",
    }
    written = []
    for name in figure_names(bool(summary.get("offpolicy") and summary["offpolicy"]["rows"])):
        kind = name.removeprefix("llm_")
        record = {**base, "name": name, "kind": kind, "data": summary}
        written.append(str(write_figure(record, draw_record(record), out_dir / name)))
    return written
