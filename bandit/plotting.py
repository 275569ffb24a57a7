"""Figures of the bandit lab, drawn only from the JSON records of :mod:`bandit.experiments`.

Every bandit figure JSON has ``"drawer": "bandit.plotting"``, so :func:`bandit.records.redraw` (and
``python -m bandit plot figures/<name>.json``) calls :func:`draw_record` here, which dispatches on
``record["experiment"]``: every figure can be redrawn without retraining. ``draw_record(record)`` returns the figure
unsaved (the notebooks display it inline). Colours and labels come from :mod:`bandit.style`.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np

from bandit.stats import holm, paired_seeds
from bandit.style import join_and, plain_label, style

__all__ = ["draw_record", "draw_simplex", "draw_simplex_overlay", "simplex_xy"]

_LONG_DASH = "– –"
_MARKERS = ("v", "^", "s", "D", "P", "X", "<", ">")
DATA_MARKERS = {"mu1": ("^", "μ1 (where y comes from)"), "mu2": ("v", "μ2 (where y′ comes from)")}
"""How the simplex pictures mark the behaviour policies of the offline pairs (config key -> marker, label)."""
_FLOOR = 1e-5  # regrets below this are drawn at the floor of log-scale axes


def _color(method: str) -> str:
    return style(method).color


def simplex_xy(pi: np.ndarray) -> np.ndarray:
    """Project 3-arm policies onto the plane of an equilateral triangle (arm 0 bottom-left, 1 bottom-right, 2 top).

    Args:
        pi: [..., 3] probabilities.
    Returns:
        [..., 2] Cartesian coordinates.
    """
    pi = np.asarray(pi, dtype=float)
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    return pi @ corners


def _floor(x) -> np.ndarray:
    return np.maximum(np.asarray(x, dtype=float), _FLOOR)


_FLOOR_TEXT = f"floor: regret ≤ {_FLOOR:g} (exactly 0 included) is drawn on this line"


def _floor_note(ax: plt.Axes, x: float = 0.01, fontsize: float = 7, in_legend: bool = False) -> None:
    """Mark the floor of a log-scale regret axis: values ≤ _FLOOR, an exact 0 included, are drawn on it. The label
    sits just below the line (the axis reaches down to _FLOOR / 4), where no curve or legend can cover it; or, with
    ``in_legend``, it is the line's legend entry (where marks sit on the floor and would run into the text)."""
    ax.axhline(
        _FLOOR,
        color="0.55",
        lw=0.7,
        zorder=0,
        label=_FLOOR_TEXT.replace(" is drawn", "\nis drawn") if in_legend else None,
    )
    ax.set_ylim(bottom=_FLOOR / 4)
    if in_legend:
        return
    ax.annotate(
        _FLOOR_TEXT,
        (x, _FLOOR),
        xycoords=("axes fraction", "data"),
        xytext=(0, -2),
        textcoords="offset points",
        fontsize=fontsize,
        color="0.35",
        va="top",
    )


def _clipped_errorbar(ax: plt.Axes, x, mean, std, color: str, label: str) -> bool:
    """Dots at the mean with ± std whiskers on a log axis; a lower whisker that would reach ≤ the floor (mean − std ≤
    _FLOOR, which a log axis cannot show) stops at the floor and ends in a ▼. A mean on the floor itself has no lower
    whisker to clip: it gets no ▼, which would sit on its dot and hide it. Returns whether any was clipped."""
    raw, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    mean = _floor(raw)
    low = np.maximum(mean - std, _FLOOR)
    ax.errorbar(x, mean, yerr=[mean - low, std], fmt="o", color=color, ms=4, capsize=2, label=label)
    clipped = (raw - std <= _FLOOR) & (raw > _FLOOR)
    if clipped.any():
        ax.plot(np.asarray(x, dtype=float)[clipped], low[clipped], "v", color=color, ms=5)
    return bool(clipped.any())


def _ranking(methods: dict, idx: int = -1, alpha: float = 0.05) -> tuple[list[str], str, list[dict]]:
    """The methods by mean regret at epoch index ``idx``, lowest first; that order in words, neighbours joined by
    "<" where their paired difference over seeds (``regret_per_seed``, seed s of every method on the same data;
    :func:`bandit.stats.paired_seeds`) is significant after Holm over the neighbour pairs (adjusted p ≤ ``alpha``),
    else "≈" (not significant); and each neighbour comparison (``a``, ``b``, its difference b − a and ``p_holm``)."""
    order = sorted(methods, key=lambda n: methods[n]["regret_mean"][idx])
    pairs = []
    for a, b in zip(order, order[1:]):
        per_a, per_b = methods[a].get("regret_per_seed"), methods[b].get("regret_per_seed")
        if not per_a or not per_b:
            raise ValueError(f"_ranking: {a!r} and {b!r} need regret_per_seed [seeds][epochs] to be compared")
        d = paired_seeds([s[idx] for s in per_b], [s[idx] for s in per_a])
        pairs.append({"a": a, "b": b, **d})
    for pair, p in zip(pairs, holm([q["p"] for q in pairs])):
        pair["p_holm"] = p
    words = [f"{methods[order[0]]['label']} {methods[order[0]]['regret_mean'][idx]:.3g}"]
    for pair in pairs:
        m = methods[pair["b"]]
        words.append((" < " if pair["p_holm"] <= alpha else " ≈ ") + f"{m['label']} {m['regret_mean'][idx]:.3g}")
    return order, "".join(words), pairs


def _together_until(methods: dict, ref: str, tol: float = 0.05) -> dict[str, int]:
    """For each method but ``ref``, the number of leading epochs (index + 1) in which its mean regret stays within
    ``tol`` (relative) of ``ref``'s: there the two curves overlap on a log axis."""
    r = np.maximum(np.array(methods[ref]["regret_mean"], dtype=float), 1e-300)
    out = {}
    for n, m in methods.items():
        if n != ref:
            apart = np.abs(np.array(m["regret_mean"], dtype=float) / r - 1) > tol
            out[n] = int(np.argmax(apart)) if apart.any() else len(r)
    return out


def _draw_paper_fig1(rec: dict) -> plt.Figure:
    """A 3-row grid, 11 in wide: (a) regret vs epoch (log; each method its own marker, staggered, so curves that
    run together stay told apart; the panel title says until which epoch each is within 5 % of CoPG and how thin the
    ± std bands are; CoPG's noise-free continuation dotted), (b) each method's regret relative to CoPG's (where those
    curves come apart), (c) the final policies (mean ± std over seeds) with each method's exact stationary policy as a
    black tick on its bar, (d) a zoom on the epochs where (a)'s curves run within 5 % of CoPG's, on a linear % scale
    where they, and their ± std bands, separate; one shared legend and the notes (the rule for "≈", CoPG's
    convergence) below. The two-line title states the order at the last epoch, from the data."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cfg, methods = rec["config"], rec["methods"]
    epochs = np.array(rec["epochs"])
    names = list(methods)
    ref = "copg" if "copg" in methods else names[0]  # the subject: drawn in front, the reference of (b) and (d)
    ref_label = methods[ref]["label"]
    fig = plt.figure(figsize=(11, 12.8), layout="constrained")
    gs = fig.add_gridspec(3, 2, width_ratios=[1.1, 1], height_ratios=[1, 0.82, 0.46])
    ax, ax_rel, ax2 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, 0])
    ax_zoom = fig.add_subplot(gs[1, 1])
    cell = fig.add_subplot(gs[2, :])
    cell.axis("off")
    mark = max(1, len(epochs) // 10)
    shapes = {n: "o" if n == ref else _MARKERS[k % len(_MARKERS)] for k, n in enumerate(names)}
    every = {n: (k * max(1, mark // len(names)), mark) for k, n in enumerate(names)}  # staggered marks
    summ = rec.get("summary", {})
    cont, cross, thr = (summ.get(k) for k in ("copg_exact_adam_continuation", "copg_epoch_below_threshold_exact_adam",
                                              "threshold"))  # fmt: skip
    lows = [v for m in methods.values() for v in np.subtract(m["regret_mean"], m["regret_std"]) if v > 0]
    bottom = min([*lows, *([thr] if thr else [])], default=_FLOOR) / 3  # the view: the data's lowest value / 3
    clipped = False
    for name, m in methods.items():
        c, front = _color(name), name == ref
        mean, std = np.array(m["regret_mean"]), np.array(m["regret_std"])
        clipped |= bool((mean <= bottom).any())
        # the subject in front, at the others' width: it hides no curve running close to it
        ax.plot(epochs, np.maximum(mean, bottom), color=c, lw=1.5, zorder=5 if front else 3, marker=shapes[name],
                ms=5, markevery=every[name])  # fmt: skip
        ax.fill_between(epochs, np.maximum(mean - std, bottom), np.maximum(mean + std, bottom), color=c, alpha=0.3,
                        lw=0)  # fmt: skip
        if m["stationary_regret"] > bottom:  # a stationary regret below the view is named in the legend instead
            ax.axhline(m["stationary_regret"], color=c, ls="--", lw=1)
    if cont:
        ax.plot(np.arange(1, len(cont) + 1), np.maximum(cont, bottom / 2), color=_color("copg"), ls=":", lw=1.5)
        if cross:
            ax.axvline(cross, color=_color("copg"), ls=":", lw=0.8)
            # level, just under the threshold and left of the crossing: no curve and no dashed line runs there
            ax.annotate(f"epoch {cross}: < {thr:g}", (cross, thr), xytext=(-4, -5), textcoords="offset points",
                        fontsize=9, color=_color("copg"), va="top", ha="right", gid="crossing_note")  # fmt: skip
        below = np.flatnonzero(np.array(cont) <= bottom)  # stop the x-axis soon after the continuation leaves the view
        end = max(len(epochs), int(below[0]) + 1 if below.size else len(cont))
        ax.set_xlim(0, 1.05 * end)
    ax.set_yscale("log")
    ax.set_ylim(bottom, 1.2)
    xlabel = f"epoch ({rec['steps_per_epoch']} Adam steps of batch {cfg['batch_size']})"
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("regret J(π*) − J(π) = β·KL(π‖π*)", fontsize=9)
    tol = 0.05
    together = _together_until(methods, ref, tol)
    close = sorted((n for n in together if together[n] >= 5), key=together.get)
    # (d)'s window: the epochs in which the close curves run within 5 % of the reference's, and a little after
    zoom_end = _zoom_end(max((together[n] for n in close), default=max(5, len(epochs) // 5)), len(epochs))
    words = ", ".join(f"{methods[n]['label']} {together[n]}" for n in close)
    title = [f"(a) regret vs epoch (mean over {len(rec['seeds'])} seeds; log scale)"]
    if close:
        title[0] += f"; (d) zooms on epochs 0–{zoom_end}"
        title.append(f"within {100 * tol:g} % of {ref_label} until epoch: {words}")
    title.append(_band_words(methods))
    ax.set_title("\n".join(title), fontsize=9, loc="left")

    # panel 2: each method's regret over the reference's, per epoch: curves that coincide on a log axis separate
    r = np.maximum(np.array(methods[ref]["regret_mean"], dtype=float), 1e-300)  # a regret of exactly 0: no inf
    for name, m in methods.items():
        c, front = _color(name), name == ref
        ratio = np.array(m["regret_mean"]) / r
        ax_rel.plot(epochs, ratio, color=c, lw=1.5, zorder=5 if front else 3, marker=shapes[name], ms=5,
                    markevery=every[name])  # fmt: skip
        per_seed = np.array(m.get("regret_per_seed", []), dtype=float)  # [S, E]
        if not front and per_seed.ndim == 2 and per_seed.shape[0] > 1:
            ax_rel.fill_between(epochs, per_seed.min(0) / r, per_seed.max(0) / r, color=c, alpha=0.25, lw=0)
    ax_rel.set_yscale("log")
    lo, hi = ax_rel.get_ylim()  # plain numbers on the log axis: 0.5, 1, 2, 5, …
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if lo <= t <= hi]
    ax_rel.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax_rel.minorticks_off()
    ax_rel.axhline(1.0, color="0.6", lw=0.6, zorder=1)
    ax_rel.set_xlim(0, epochs[-1] if len(epochs) else 1)
    ax_rel.set_xlabel(xlabel, fontsize=9)
    ax_rel.set_ylabel(f"regret ÷ {ref_label}'s mean regret", fontsize=9)
    ax_rel.set_title(f"(b) relative to {ref_label} (> 1: behind, < 1: ahead; log)\nshaded: lowest to "
                     "highest seed", fontsize=9, loc="left")  # fmt: skip

    # panel 4: (a)'s first epochs as % above the reference's mean regret, linear: the close curves separate there
    _zoom_panel(ax_zoom, rec, ref, zoom_end, tol, shapes)
    ax_zoom.set_xlabel(xlabel, fontsize=9)

    # panel 3: final policies (mean ± std over seeds); each method's exact stationary policy a black tick on its bar
    arms = len(rec["problem"]["rewards"])
    width = 0.8 / (len(names) + 1)
    x = np.arange(arms)
    ax2.bar(x, rec["problem"]["optimal_policy"], width, color="k", alpha=0.7)
    for i, name in enumerate(names):
        m = methods[name]
        xs = x + (i + 1) * width
        ax2.bar(xs, m["final_policy_mean"], width, color=_color(name), alpha=0.8)
        if "final_policy_std" in m:
            ax2.errorbar(xs, m["final_policy_mean"], yerr=m["final_policy_std"], fmt="none", ecolor="0.15",
                         elinewidth=1, capsize=2.5, zorder=5)  # fmt: skip
        ax2.hlines(m["stationary_policy"], xs - 0.42 * width, xs + 0.42 * width, color="k", lw=2.2, zorder=4,
                   gid="stationary_tick")  # fmt: skip
    ax2.set_xticks(x + 0.4 - width / 2, [f"arm {a}\nR = {r:g}" for a, r in enumerate(rec["problem"]["rewards"])])
    last = int(epochs[-1]) if len(epochs) else 0
    has_std = all("final_policy_std" in m for m in methods.values())
    ax2.set_ylabel(f"π(arm) after {last} epochs", fontsize=9)
    ax2.set_title(f"(c) final policy after {last} epochs, "
                  + (f"mean ± std over {len(rec['seeds'])} seeds" if has_std else "mean over seeds")
                  + "\nblack tick: the method's exact stationary policy", fontsize=9, loc="left")  # fmt: skip
    for a in (ax, ax_rel, ax2, ax_zoom):
        a.tick_params(labelsize=9)

    def _spread(m) -> str:
        mean, std = np.array(m["regret_mean"], dtype=float), np.array(m["regret_std"], dtype=float)
        ok = mean > 0
        return f" (std ≤ {_up_2sig(100 * (std[ok] / mean[ok]).max())} % of mean)" if ok.any() else ""

    handles = [Line2D([], [], color=_color(n), lw=1.5, marker=shapes[n], ms=5, label=methods[n]["label"]
                      + _spread(methods[n])) for n in names]  # fmt: skip
    handles.append(Patch(color="k", alpha=0.7, label="π* (bars in c)"))
    at_floor = [methods[n]["label"] for n in names if methods[n]["stationary_regret"] <= bottom]
    label = "exact stationary regret (dashed in a)"
    if at_floor:
        label += f";\nnone drawn for {', '.join(at_floor)}: it is 0"
    handles.append(Line2D([], [], color="0.3", ls="--", lw=1, label=label))
    if cont:
        handles.append(Line2D([], [], color=_color("copg"), ls=":", lw=1.5, label="CoPG, noise-free Adam continued"))
    handles.append(Line2D([], [], color="k", lw=2.2, label="exact stationary policy (tick on each bar in c)"))
    if has_std:
        handles.append(
            Line2D(
                [],
                [],
                color="0.15",
                lw=1,
                marker="_",
                ms=6,
                label="± std over seeds (whiskers in c;\nunder the tick where it is thinner)",
            )
        )
    if clipped:
        handles.append(Line2D([], [], color="0.5", lw=0, label=f"in (a), a regret below {bottom:.2g} is drawn at it"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.0), bbox_transform=cell.transAxes,
               fontsize=9, frameon=False, ncols=3, alignment="left",
               title="shaded in (a) and (d): ± std over seeds; each method's largest std is given as a % of its mean",
               title_fontsize=9)  # fmt: skip

    _, order, pairs = _ranking(methods)
    n_seeds = len(rec["seeds"])
    # every "≈" with its interval; where there is none, the closest "<" (the largest adjusted p)
    level = [q for q in pairs if q["p_holm"] > 0.05]
    shown = level or sorted(pairs, key=lambda q: q["p_holm"])[-1:]
    diffs = "; ".join(
        f"{methods[q['b']]['label']} − {methods[q['a']]['label']} {q['mean']:+.2g} (95 % CI "
        f"[{q['low']:+.2g}, {q['high']:+.2g}], Holm-adjusted p = {q['p_holm']:.2g})"
        for q in shown
    )
    notes = [f"In the title, <: the paired difference over the {n_seeds} seeds (same data per seed) is significant "
             f"after Holm over the {len(pairs)} neighbour pairs (adjusted p ≤ 0.05); ≈: not significant"
             + (f" ({diffs})." if level else f". The closest pair: {diffs}.")]  # fmt: skip
    m0 = methods[ref]
    if thr is not None and ref == "copg":
        final = m0["regret_mean"][-1]
        state = f"not converged ({final:.3g} > {thr:g})" if final > thr else f"converged ({final:.3g} ≤ {thr:g})"
        more = f"; noise-free Adam continued (dotted in a) gets below {thr:g} at epoch {cross}" if cross else ""
        notes.append(f"CoPG at epoch {last}: {state}{more}.")
    notes = [line for note in notes for line in textwrap.wrap(note, 150)]
    cell.text(0.0, 0.0, "\n".join(notes), transform=cell.transAxes, fontsize=9, va="bottom", ha="left")
    fig.suptitle(f"Paper Fig. 1 bandit (R = {tuple(cfg['rewards'])}, β = {cfg['beta']:g}, {cfg['optimizer']} lr "
                 f"{cfg['lr']:g}, {len(rec['seeds'])} seeds): mean regret at epoch {last}, lowest first\n{order}",
                 fontsize=10)  # fmt: skip
    return fig


def _zoom_end(until: int, n_epochs: int) -> int:
    """The last epoch of (d)'s window: ``until`` and a little after, rounded up to a multiple of 5 (at most the
    run's last epoch)."""
    return int(min(n_epochs, 5 * math.ceil(1.05 * until / 5)))


def _band_words(methods: dict, thin: float = 0.05) -> str:
    """How wide (a)'s ± std bands are, in words: the methods whose std stays ≤ ``thin`` of their mean (a band on the
    log axis narrower than the line) and those whose band shows."""
    rel = {}
    for n, m in methods.items():
        mean, std = np.array(m["regret_mean"], dtype=float), np.array(m["regret_std"], dtype=float)
        ok = mean > 0
        rel[n] = float((std[ok] / mean[ok]).max()) if ok.any() else 0.0
    wide = [methods[n]["label"] for n in methods if rel[n] > thin]
    narrow = [n for n in methods if rel[n] <= thin]
    if not narrow:
        return "shaded: ± std over seeds"
    bound = f"≤ {_up_2sig(100 * max(rel[n] for n in narrow))} % of the mean"
    if not wide:
        return f"shaded ± std: {bound} for every method, thinner than the line (see d)"
    shows = f"only {wide[0]}'s band shows" if len(wide) == 1 else f"only the bands of {', '.join(wide)} show"
    return f"shaded ± std: {shows}; the others' {bound} (see d)"


def _zoom_panel(ax: plt.Axes, rec: dict, ref: str, end: int, tol: float, shapes: dict) -> None:
    """(d): each method's mean regret over epochs 1..``end`` as % above the reference's mean (0: level with it), its
    ± std over seeds shaded (the same std as in (a), over the reference's mean), on a linear axis of ±2·``tol``; the
    band within ``tol`` of the reference grey (where (a)'s title counts each method's epochs)."""
    methods = rec["methods"]
    epochs = np.array(rec["epochs"])
    keep = epochs <= end
    r = np.maximum(np.array(methods[ref]["regret_mean"], dtype=float), 1e-300)[keep]
    step = max(1, int(keep.sum()) // 8)
    for k, (name, m) in enumerate(methods.items()):
        c, front = _color(name), name == ref
        mean, std = np.array(m["regret_mean"], dtype=float)[keep], np.array(m["regret_std"], dtype=float)[keep]
        ax.plot(epochs[keep], 100 * (mean / r - 1), color=c, lw=1.5, zorder=5 if front else 3, marker=shapes[name],
                ms=5, markevery=(k * max(1, step // len(methods)), step), gid="zoom_curve")  # fmt: skip
        ax.fill_between(epochs[keep], 100 * ((mean - std) / r - 1), 100 * ((mean + std) / r - 1), color=c,
                        alpha=0.3, lw=0)  # fmt: skip
    ax.axhspan(-100 * tol, 100 * tol, color="0.9", zorder=0, lw=0)
    ax.axhline(0, color="0.6", lw=0.6, zorder=1)
    ax.set_xlim(0, end)
    ax.set_ylim(-200 * tol, 200 * tol)
    label = methods[ref]["label"]
    ax.set_ylabel(f"% above {label}'s mean regret", fontsize=9)
    ax.set_title(f"(d) zoom on epochs 0–{end} of (a): regret as % above {label}'s (linear)\ngrey: within "
                 f"{100 * tol:g} % of {label}; shaded: ± std over seeds (as in a)", fontsize=9,
                 loc="left")  # fmt: skip


def _at_zero(rec: dict) -> list[str]:
    """Methods whose exact curve is 0 (≤ the floor) everywhere: they reach π* at every x."""
    return [n for n, m in rec["methods"].items() if max(m["exact_regret"]) <= _FLOOR]


def _zero_strip(ax: plt.Axes, rec: dict, names: list[str], fontsize: float = 7) -> None:
    """One row per method whose exact regret is 0 at every x, so none hides under another's line or the legend; a
    method the record did not also train by sampling (``sampled_methods``) says so."""
    x = np.array(rec["exact_alphas"] if "exact_alphas" in rec else rec["exact_betas"])
    for i, name in enumerate(names):
        row = len(names) - 1 - i
        ax.plot(x, np.full_like(x, row, dtype=float), color=_color(name), lw=3, solid_capstyle="butt")
        exact_only = "sampled_methods" in rec and name not in rec["sampled_methods"]
        label = rec["methods"][name]["label"] + (" (exact only: not sampled)" if exact_only else "")
        ax.text(0.01, row + 0.22, label, transform=ax.get_yaxis_transform(), fontsize=fontsize,
                color=_color(name), va="bottom")  # fmt: skip
    ax.set_ylim(-0.6, len(names) - 0.1)
    ax.set_yticks([])
    ax.set_ylabel("exact regret\n= 0 (π*)", fontsize=fontsize)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _regret_axes(fig: plt.Figure, spec, rec: dict, fontsize: float = 7) -> tuple[plt.Axes, plt.Axes | None]:
    """A log regret axis, with a strip below it for the methods whose exact regret is 0 everywhere (named in
    ``fontsize``)."""
    zero = _at_zero(rec)
    if not zero:
        return fig.add_subplot(spec), None
    inner = spec.subgridspec(2, 1, height_ratios=[4, 0.35 + 0.3 * len(zero)], hspace=0.08)
    ax = fig.add_subplot(inner[0])
    strip = fig.add_subplot(inner[1], sharex=ax)
    _zero_strip(strip, rec, zero, fontsize)
    ax.tick_params(labelbottom=False)
    return ax, strip


def _dodge(k: int, n: int, step: float) -> float:
    """The sideways offset of the k-th of n methods drawn at one x, ``step`` apart and centred on x: their marks
    sit side by side instead of on top of each other (add it on a linear axis, use 10 ** it as a factor on a log
    one)."""
    return step * (k - (n - 1) / 2)


def _draw_regret_lines(
    ax: plt.Axes, rec: dict, x_exact, x_sampled, dodge: float = 0.0, floor_in_legend: bool = False
) -> bool:
    """Exact stationary regret (lines; methods at 0 everywhere go to the strip) and sampled finals: each seed and
    the mean where the record keeps the seeds, else mean ± std; the sampled methods set ``dodge`` apart sideways
    (:func:`_dodge`, on a linear x). ``floor_in_legend``: see :func:`_floor_note`.
    Returns whether a lower whisker was clipped at the floor (see :func:`_clipped_errorbar`)."""
    zero = set(_at_zero(rec))
    clipped = False
    sampled = [n for n, m in rec["methods"].items() if "regret_mean" in m]
    for k, (name, m) in enumerate(rec["methods"].items()):
        c, shape = _color(name), _SHAPES[k % len(_SHAPES)]  # a shape per method: close colours stay apart
        if name in sampled:
            x_sampled_k = np.asarray(x_sampled, dtype=float) + _dodge(sampled.index(name), len(sampled), dodge)
        if name not in zero:
            ax.plot(x_exact, _floor(m["exact_regret"]), color=c, lw=1.4, label=m["label"])
        if "regret_per_seed" in m:  # each seed a small mark, the mean a larger open one: no whisker to clip
            for xi, seeds in zip(x_sampled_k, m["regret_per_seed"]):
                ax.plot([xi] * len(seeds), _floor(seeds), shape, color=c, ms=3.5, alpha=0.6)
            ax.plot(x_sampled_k, _floor(m["regret_mean"]), shape, mfc="white", mec=c, mew=1.5, ms=7,
                    label=f"{m['label']} (sampled)")  # fmt: skip
        elif "regret_mean" in m:
            clipped |= _clipped_errorbar(
                ax, x_sampled_k, m["regret_mean"], m["regret_std"], c, f"{m['label']} (sampled)"
            )
    ax.set_yscale("log")
    _floor_note(ax, in_legend=floor_in_legend)
    return clipped


_SHAPES = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Marker shape of each method's sampled points, in the record's method order."""


def _up_2sig(v: float) -> str:
    """``v`` rounded *up* to 2 significant digits, for a bound written "≤": 26.41 → "27", 2.23 → "2.3"."""
    if not v > 0:
        return f"{v:.2g}"
    e = math.floor(math.log10(v)) - 1
    return f"{round(math.ceil(v / 10**e - 1e-9) * 10**e, 12):g}"


_CLIP_NOTE = "; ▼: lower whisker (mean − std ≤ 1e-5) clipped at the floor"


def _draw_offpolicy(rec: dict) -> plt.Figure:
    fig = plt.figure(figsize=(11, 7.0))
    ax, strip = _regret_axes(fig, fig.add_gridspec(1, 1)[0], rec, fontsize=9)
    alphas = rec["alphas"]
    step = 0.4 * min(np.diff(alphas), default=1.0) / max(sum("regret_mean" in m for m in rec["methods"].values()), 1)
    clipped = _draw_regret_lines(ax, rec, np.array(rec["exact_alphas"]), alphas, dodge=step, floor_in_legend=True)
    (strip or ax).set_xlabel("α  (μ1 = μ2 = μ_α ∝ π_ref·exp((1−2α)R/β): 0 = π*, ½ = π_ref, 1 = far off-policy)")
    ax.set_ylabel("final regret J(π*) − J(π)")
    cfg = rec["config"]
    seeds = any("regret_per_seed" in m for m in rec["methods"].values())
    spread = f"small marks: each of {cfg['seeds']} seeds, large open marks: their mean" if seeds else (
        f"mean ± std over {cfg['seeds']} seeds")  # fmt: skip
    reach, miss = _exact_findings(rec, np.asarray(rec["exact_alphas"], dtype=float), "α", "{:.2g}")
    fig.suptitle("\n".join(part for line in (reach, miss) for part in textwrap.wrap(line, 125)), fontsize=10)
    ax.set_title(f"R = {tuple(cfg['rewards'])}, uniform π_ref, β = {cfg['beta']:g}; lines: exact stationary regret; "
                 f"marks: sampled after {cfg['epochs']} epochs\n(Adam lr {cfg['lr']:g}; a fixed budget, not always "
                 f"converged{_CLIP_NOTE if clipped else ''}); {spread}, set side by side about each α",
                 fontsize=9)  # fmt: skip
    handles, _ = ax.get_legend_handles_labels()
    if seeds:
        handles.append(
            plt.Line2D(
                [], [], ls="none", marker="o", ms=3.5, color="0.4", label="small: one seed (method's colour and shape)"
            )
        )
    behind = [m["label"] for n, m in rec["methods"].items() if n in _at_zero(rec) and "regret_mean" in m
              and max(m["regret_mean"]) > 10 * _FLOOR]  # fmt: skip
    if behind:
        note = (
            f"{', '.join(behind)}: exact regret 0 (strip below);\nsampled runs above it after {cfg['epochs']} epochs"
        )
        handles.append(plt.Line2D([], [], ls="none", label=note))
    ax.legend(handles=handles, fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.subplots_adjust(left=0.09, right=0.66, bottom=0.09, top=0.8)
    return fig


_BETA_KL_TOL = 0.05
"""Relative gap under which a method's exact KL line lies on π*'s in the β sweep's log KL panel."""


def _beta_on_pi_star(rec: dict, name: str, tol: float = _BETA_KL_TOL) -> float | None:
    """The largest β up to which (from the smallest exact β on) method ``name``'s exact KL(π‖π_ref) stays within
    ``tol`` (relative) of π*'s: there its line lies on π*'s on the log KL axis. ``None`` where it starts apart."""
    kl = np.asarray(rec["methods"][name]["exact_kl_to_ref"], dtype=float)
    target = np.asarray(rec["optimal_kl_to_ref"], dtype=float)
    on = np.abs(kl / np.maximum(target, 1e-300) - 1) <= tol
    if not on[0]:
        return None
    n = int(np.argmin(on)) if not on.all() else len(on)
    return float(rec["exact_betas"][n - 1])


def _exact_findings(rec: dict, xs: np.ndarray, name: str, fmt: str) -> tuple[str, str]:
    """Two title lines of a sweep over ``name`` (β, α) from its exact grid ``xs``: the methods whose exact stationary
    regret is 0 at every grid point (they reach π*), and each other method's worst exact regret on the grid, largest
    first, with the grid point where it peaks (flagged at an end of the range, beyond which it may rise further)."""
    methods = rec["methods"]
    span = f"one of the {len(xs)} {name} of the exact grid, {xs.min():g} to {xs.max():g}"
    zero = _at_zero(rec)
    if zero:
        names = join_and([plain_label(methods[n]["label"]) for n in zero])
        verb = "reaches" if len(zero) == 1 else "reach"
        reach = f"Exact stationary points: {names} {verb} π* (regret 0) at every {span};"
    else:
        reach = f"Exact stationary points: no method reaches π* (regret 0) at every {span};"
    worst = sorted(
        ((max(m["exact_regret"]), float(xs[int(np.argmax(m["exact_regret"]))]), m["label"])
         for n, m in methods.items() if n not in zero),
        reverse=True,
    )  # fmt: skip
    edge = {float(xs.min()): " (range's edge)", float(xs.max()): " (range's edge)"}  # it may rise beyond the range
    parts = [
        f"{v:#.2g} for {plain_label(label)} at {name} = {fmt.format(x)}{edge.get(x, '')}" for v, x, label in worst
    ]
    lead = "the others do not: worst" if zero else "worst"
    return reach, (f"{lead} exact regret on the grid {', '.join(parts)}" if parts else "")


def _beta_findings(rec: dict) -> tuple[str, str, str]:
    """The β sweep's findings, one title line each: (1) the methods whose exact stationary regret is 0 at every β
    (they reach π*), (2) the worst exact regret of each other method, largest first, and the β where it peaks
    (flagged at an end of the β range, beyond which it may rise further), (3) the sampled check: the dots whose
    mean − std lies above twice their own exact regret (interpolated in log β) and above the floor, which have not
    reached their stationary point in the epoch budget."""
    xb = np.asarray(rec["exact_betas"], dtype=float)
    methods = rec["methods"]
    reach, miss = _exact_findings(rec, xb, "β", "{:.2g}")
    betas = np.asarray(rec["betas"], dtype=float)
    sampled = {n: m for n, m in methods.items() if "regret_mean" in m}
    cfg = rec["config"]
    if not sampled:
        return reach, miss, ""
    above: dict[tuple[str, ...], list[str]] = {}  # the βs of a method's high dots → the methods with exactly those
    for m in sampled.values():
        exact = np.interp(np.log(betas), np.log(xb), m["exact_regret"])
        lo = np.asarray(m["regret_mean"]) - np.asarray(m["regret_std"])
        at = tuple(f"{b:g}" for b, e, v in zip(betas, exact, lo) if v > max(2 * e, _FLOOR))
        if at:
            above.setdefault(at, []).append(plain_label(m["label"]))
    seeds = f"{len(rec['seeds'])} seeds" if "seeds" in rec else f"{cfg['seeds']} seeds"
    head = f"Sampled runs (dots, {cfg['epochs']} epochs, {seeds})"
    if not above:
        return reach, miss, f"{head}: every dot is at or below twice its exact regret"
    high = "; ".join(f"{join_and(names)} at β = {', '.join(at)}" for at, names in above.items())
    return reach, miss, f"{head} sit at or below twice their exact regret, except {high} (not yet converged)"


def _draw_beta(rec: dict) -> plt.Figure:
    fig = plt.figure(figsize=(11, 7.6))
    outer = fig.add_gridspec(1, 2, wspace=0.28, left=0.08, right=0.98, top=0.82, bottom=0.33)
    ax, strip = _regret_axes(fig, outer[0], rec, fontsize=10)
    ax2 = fig.add_subplot(outer[1])
    xb = np.array(rec["exact_betas"])
    clipped = _draw_regret_lines(ax, rec, xb, rec["betas"], floor_in_legend=True)
    zero = _at_zero(rec)
    for name, m in rec["methods"].items():
        c = _color(name)
        if name not in zero:  # thin, above π*'s wide band: a method on π*'s curve still shows its own line
            on = _beta_on_pi_star(rec, name)
            note = f" (on π*'s band\nfor β ≤ {on:.2g}: KL within {_BETA_KL_TOL * 100:g} %)" if on is not None else ""
            ax2.plot(xb, m["exact_kl_to_ref"], color=c, lw=1.5, zorder=3, label=m["label"] + note)
        if "kl_to_ref_mean" in m:  # at its own β, over its exact line (a dot set sideways lands off a falling line);
            # rings: two methods' dots at one β and a close KL both show
            ax2.errorbar(rec["betas"], m["kl_to_ref_mean"], yerr=m["kl_to_ref_std"], fmt="o", color=c, ms=8,
                         mfc="none", mew=1.6, zorder=5, label=f"{m['label']} (sampled)")  # fmt: skip
    lines: list[str] = []  # the methods on π*'s curve, a line break only between two labels (never in "PG + IS")
    for label in (rec["methods"][n]["label"] for n in zero):
        if lines and len(lines[-1]) + len(label) < 34:
            lines[-1] += f", {label}"
        else:
            lines.append(label)
    on_target = ",\n".join(lines)
    ax2.plot(xb, rec["optimal_kl_to_ref"], color="0.72", lw=7, solid_capstyle="butt", zorder=1,
             label="π* (target, wide grey band)" + (f" =\n{on_target}" if on_target else ""))  # fmt: skip
    for a in (ax, ax2, strip):
        if a is not None:
            a.set_xscale("log")
    (strip or ax).set_xlabel("β")
    ax2.set_xlabel("β")
    ax.set_ylabel("final regret J(π*) − J(π)")
    ax2.set_ylabel("KL(π‖π_ref) at the end point (nats)")
    ax2.set_yscale("log")
    cfg = rec["config"]
    strip_note = " (regret 0: strip below)" if strip is not None else ""
    ax.set_title(f"lines: exact stationary point{strip_note}\ndots: sampled, mean ± std over {len(rec['seeds'])} "
                 f"seeds, {cfg['epochs']} epochs of {cfg['optimizer']} lr {cfg['lr']:g}", fontsize=10)  # fmt: skip
    ax2.set_title("lines: exact stationary point; grey band: π*\n"
                  "rings: sampled (as left); no bar: std inside the ring", fontsize=10)  # fmt: skip
    handles, _ = ax.get_legend_handles_labels()
    if clipped:
        handles.append(plt.Line2D([], [], ls="none", marker="v", color="0.3", label=_CLIP_NOTE.removeprefix("; ▼: ")))
    # both keys below their panels (figure coordinates), off every curve and dot
    for a, hs, x in ((ax, handles, 0.27), (ax2, None, 0.77)):
        a.legend(handles=hs, fontsize=9, loc="upper center", ncol=2, bbox_to_anchor=(x, 0.245),
                 bbox_transform=fig.transFigure)  # fmt: skip
    fig.suptitle("\n".join(line for line in _beta_findings(rec) if line), fontsize=10)
    return fig


def _draw_data_size(rec: dict) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8.0, 6.6))
    n = np.array(rec["sizes"], dtype=float)
    mean = np.array(rec["regret_mean"])
    per_seed = np.array(rec["regret_per_seed"])  # [M, S]
    lo, hi = np.quantile(per_seed, 0.1, axis=1), np.quantile(per_seed, 0.9, axis=1)
    ax.plot(n, _floor(mean), "o-", color=_color("copg"),
            label=f"exact empirical CoPG optimum, mean over {len(rec['seeds'])} datasets (one per seed)")  # fmt: skip
    ax.fill_between(n, lo, hi, color=_color("copg"), alpha=0.15, label="10–90 % of datasets")
    ax.plot(n, _floor(rec["regret_median"]), "x", color=_color("copg"), label="median")
    if rec.get("slope") is not None:
        ref = n >= 100  # the range bandit.experiments.data_size fits the slope on
        k = mean[ref][0] * n[ref][0]
        ax.plot(n[ref], k / n[ref], "k:", label=f"∝ 1/n; slope fitted on n ≥ 100: {rec['slope']:.2f}")
    s = rec["sampled"]
    if s["sizes"]:
        cfg = rec["config"]
        k = cfg["sampled_seeds"]  # whiskers: the standard error of the mean, std/√k (the spread of one dataset,
        sm, sd = _floor(s["regret_mean"]), np.asarray(s["regret_std"], dtype=float) / np.sqrt(k)  # ± std, would
        low = np.maximum(sm - sd, _FLOOR)  # reach below 0 and read as "could be 0"); a log axis stops it at the floor
        label = (f"sampled Adam (lr {cfg['lr']:g}, {cfg['sampled_steps']} steps): mean over {k} datasets,\n"
                 f"whiskers ± standard error (std/√{k})" + (" (lower whisker cut at 1e-5)" if (sm - sd <= _FLOOR).any()
                                                           else ""))  # fmt: skip
        ax.errorbar(s["sizes"], sm, yerr=[sm - low, sd], fmt="s", color="tab:orange", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    positive = np.concatenate([lo[lo > 0], mean[mean > 0]])
    if positive.size:  # the axis reaches the lowest 10 % quantile, so the band is not cut off
        ax.set_ylim(bottom=min(_FLOOR, positive.min()) / 2)
    ax.set_xlabel("number of pairs n")
    ax.set_ylabel("regret J(π*) − J(π̂) = β·KL(π̂‖π*)")
    fall = f": regret falls as $n^{{{rec['slope']:.2f}}}$" if rec.get("slope") is not None else ""
    ax.set_title(f"CoPG finite-sample error{fall} (reward noise σ = {rec['reward_noise']:g}, paper μ1, μ2;\n"
                 "π̂: the policy that minimises CoPG's loss on n sampled pairs)", fontsize=10)  # fmt: skip
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.11))  # below the axes, off the band
    fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.36)
    return fig


def _support_point(rec: dict, tol: float = 0.05) -> str:
    """The support figure's point from the data: π*'s mass on the arms without data, which methods end within
    ``tol`` of it there, and the range where the others end."""
    miss = rec["missing"]
    if not miss:
        return ""
    target = float(np.sum(np.asarray(rec["problem"]["optimal_policy"])[miss]))
    mass = {m["label"]: float(np.sum(np.asarray(m["final_policy_mean"])[miss])) for m in rec["methods"].values()}
    near = [k for k, v in mass.items() if abs(v - target) <= tol]
    rest = [v for k, v in mass.items() if k not in near]
    out = f"\nπ* puts {target:.2f} there; within {tol:g} of it: {', '.join(near) or 'no method'}"
    return out + (f"; the others end at {min(rest):.2f}–{max(rest):.2f}" if rest else "")


def _draw_support(rec: dict) -> plt.Figure:
    names = list(rec["methods"])
    arms = len(rec["problem"]["rewards"])
    fig, ax = plt.subplots(figsize=(11, 5.6))
    width = 0.8 / (len(names) + 1)
    x = np.arange(arms)
    ax.bar(x, rec["problem"]["optimal_policy"], width, color="k", alpha=0.7, label="π*")
    for i, name in enumerate(names):
        m = rec["methods"][name]
        xs = x + (i + 1) * width
        label = f"{m['label']}: regret {m['final_regret_mean']:.3f} (stationary {m['stationary_regret']:.3f})"
        ax.bar(xs, m["final_policy_mean"], width, yerr=m["final_policy_std"], color=_color(name),
               alpha=0.85, label=label)  # fmt: skip
        ax.bar(xs, m["stationary_policy"], width, fill=False, edgecolor="k", lw=0.9, ls="--", zorder=3,
               label="exact stationary policy (dashed outline)" if i == 0 else None)  # fmt: skip
    miss = rec["missing"]
    ax.set_xticks(
        x + 0.4 - width / 2,
        [f"arm {a}, R={r:g}" + (" (no data)" if a in miss else "") for a, r in enumerate(rec["problem"]["rewards"])],
    )
    ax.set_ylabel(f"final π (bars: mean ± std\nover {len(rec['seeds'])} seeds)")
    arms_txt = ("arm " if len(miss) == 1 else "arms ") + ", ".join(str(a) for a in miss[:-1]) + (
        " and " if len(miss) > 1 else "") + str(miss[-1]) if miss else "no arm"  # fmt: skip
    ax.set_title(f"Partial support: the data distributions μ1, μ2 put no mass on {arms_txt}. Bars: each method's "
                 f"final π, mean ± std over {len(rec['seeds'])} seeds.{_support_point(rec)}\n"
                 "Dashed outline on each bar: the method's exact stationary policy (where its expected gradient is 0)",
                 fontsize=10)  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    last = [i for i, label in enumerate(labels) if label.startswith("exact stationary")]  # after the methods
    order = [i for i in range(len(labels)) if i not in last] + last
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=9, ncol=3, loc="upper center",
              bbox_to_anchor=(0.5, -0.12))  # fmt: skip
    return fig


def _to_polyline(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    """The distance from each point of ``p`` [n, 2] to the polyline through the points of ``line`` [m, 2] (to its
    nearest segment, not only its vertices)."""
    if len(line) == 1:
        return np.hypot(*(p - line[0]).T)
    a, ab = line[:-1], np.diff(line, axis=0)  # [m-1, 2] segment starts and directions
    length2 = np.maximum((ab**2).sum(axis=1), 1e-300)
    t = np.clip(((p[:, None, :] - a[None]) * ab[None]).sum(axis=2) / length2, 0.0, 1.0)  # [n, m-1]
    nearest = a[None] + t[..., None] * ab[None]
    return np.hypot(*(p[:, None, :] - nearest).transpose(2, 0, 1)).min(axis=1)


def _flow_gap(f: np.ndarray, g: np.ndarray) -> float:
    """How far apart two flows run (simplex units, triangle side 1): the largest distance from a point of either to
    the other's line (their Hausdorff distance), so "within d" holds for every point of both."""
    return float(max(_to_polyline(f, g).max(), _to_polyline(g, f).max()))


def _coinciding_pairs(paths: dict[str, np.ndarray], tol: float = 0.01) -> dict[str, tuple[str, float]]:
    """For each flow that runs along an earlier flow of ``paths`` (every point of both within ``tol`` of the other,
    :func:`_flow_gap`): that earlier flow's name and the gap."""
    out, names = {}, list(paths)
    for i, n in enumerate(names[1:], start=1):
        gaps = {m: _flow_gap(paths[n], paths[m]) for m in names[:i]}
        m = min(gaps, key=gaps.get)
        if gaps[m] < tol:
            out[n] = (m, gaps[m])
    return out


def _same_flow_words(gap: float) -> str:
    """How two coinciding flows agree, in words: exactly, or within ``gap`` at every point (triangle side 1)."""
    return "exactly" if gap < 1e-9 else f"every point within {gap:.3f} of it (triangle side 1)"


def _coinciding(paths: dict[str, np.ndarray], labels: dict[str, str], tol: float = 0.01) -> list[str]:
    """Plain words for the flows that run along an earlier flow (:func:`_coinciding_pairs`)."""
    return [
        f"{labels[n]}'s flow runs along {labels[m]}'s, {_same_flow_words(gap)}"
        for n, (m, gap) in _coinciding_pairs(paths, tol).items()
    ]


def _simplex_title(rec: dict, order: list[str]) -> str:
    """Which flows stop at π* and where the others stop (their stationary regret), from the JSON; labels in running
    text ("PG (b = 0)"), so a list joined by commas counts right."""
    at, off, none = [], [], []
    for n in order:
        m = rec["methods"][n]
        if m["stationary_policy"] is None:
            none.append(plain_label(m["label"]))
        elif _stops_at_star(rec, n):
            at.append(plain_label(m["label"]))
        else:
            off.append(f"{plain_label(m['label'])}, regret {m['stationary_regret']:.3f}")
    lines = [f"{len(at)} of {len(order)} flows stop at π*: {join_and(at)}" if at else "no flow stops at π*"]
    if off:
        lines.append(f"{len(off)} stop elsewhere: {'; '.join(off)}")
    if none:
        lines.append(f"no finite stationary point: {', '.join(none)}")
    return "\n".join(lines)


def _stops_at_star(rec: dict, name: str) -> bool:
    """Whether method ``name``'s stationary point (if it has a finite one) is π* (within 1e-3, triangle side 1)."""
    sp = rec["methods"][name]["stationary_policy"]
    return sp is not None and np.hypot(*(simplex_xy(sp) - simplex_xy(rec["optimal_policy"]))) < 1e-3


def _simplex_setup(rec: dict) -> str:
    """The simplex figures' setup lines: how the flows and the sampled marks were made, the data, and the objective."""
    cfg = rec["config"]
    sampled = any(m.get("sampled") for m in rec["methods"].values())
    mu1, mu2 = (", ".join(f"{p:.3g}" for p in cfg[k]) for k in ("mu1", "mu2"))
    return (
        f"exact expected-gradient flows from π_ref ({cfg['flow_optimizer']}, step {cfg['flow_lr']:g}; lines)"
        + (
            f",\nsampled Adam epochs (lr {cfg['lr']:g}; marks; {_count_seeds(rec)}; a fixed budget, not always at the "
            "end point)"
            if sampled
            else ""
        )
        + f";\nβ = {cfg['beta']:g}; offline pairs drawn from μ1 = ({mu1}), μ2 = ({mu2}){_label_words(rec)}\n"
        "regret = J(π*) − J(π), J(π) = E_π[R] − β·KL(π‖π_ref); π* ∝ π_ref·exp(R/β) maximises J (not the best arm)"
    )


def _label_words(rec: dict) -> str:
    """How the pairs of a simplex record were labelled for the preference methods (IPO, DPO), with their β; empty
    when the record has none of them."""
    cfg = rec["config"]
    if not any(style(n).label in ("IPO", "DPO") for n in rec["methods"]):
        return ""
    how = {
        "bradley_terry": "y ≻ y′ with probability σ(R(y) − R(y′)) (Bradley–Terry)",
        "reward": "the higher reward wins",
    }.get(cfg.get("preference", "bradley_terry"), str(cfg.get("preference")))
    return f";\nIPO and DPO (their β = {cfg.get('pref_beta', cfg['beta']):g}) see labels: {how}"


def _draw_triangle(ax: plt.Axes, rec: dict, two_lines: bool = False) -> np.ndarray:
    """The simplex's outline with each corner named (arm, reward); equal scales, no axes. Returns the corners."""
    tri = simplex_xy(np.eye(3))
    ax.fill(tri[:, 0], tri[:, 1], facecolor="none", edgecolor="k", lw=1)
    rewards = rec["config"].get("rewards")
    for a, (cx, cy) in enumerate(tri):
        sep = "\n" if two_lines and cy == 0 else " "  # the top corner's label has the panel's width
        text = f"arm {a}" + (f"{sep}(R = {rewards[a]:g})" if rewards else "")
        ax.annotate(text, (cx, cy), textcoords="offset points", xytext=(0, -5) if cy == 0 else (0, 4), fontsize=9,
                    ha="center", va="top" if cy == 0 else "bottom", linespacing=1.0, color="0.35")  # fmt: skip
    ax.set_aspect("equal")
    ax.set_xticks([])  # not ax.axis("off"): constrained layout then leaves no room for a title of three lines
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return tri


def draw_simplex(rec: dict, front: str = "copg") -> plt.Figure:
    """Small multiples: one triangle per method, the methods whose stationary point is π* first (``front``, the
    subject, leading). Each panel draws that method's exact flow from π_ref in its colour with an arrow, its sampled
    epochs as hollow marks, its stationary point as a ring (black at π*, else in its colour) and every other method's
    flow in light grey for comparison; its title says where it stops (the stationary regret); a flow that runs along
    an earlier panel's flow says so, with the largest distance between the two. One legend below the panels."""
    from matplotlib.lines import Line2D

    names = list(rec["methods"])
    if front in names:
        names = [front, *(n for n in names if n != front)]
    order = [n for n in names if _stops_at_star(rec, n)] + [n for n in names if not _stops_at_star(rec, n)]
    paths = {n: simplex_xy(rec["methods"][n]["flow"]) for n in order}
    labels = {n: rec["methods"][n]["label"] for n in order}
    pairs = _coinciding_pairs(paths)
    ncol = min(4, len(order))
    nrow = math.ceil(len(order) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(11.3, 3.0 * nrow + 2.1), layout="constrained", squeeze=False)
    o, r = simplex_xy(rec["optimal_policy"]), simplex_xy(rec["ref_policy"])
    for ax, name in zip(axes.flat, order):
        m, c, xy = rec["methods"][name], _color(name), paths[name]
        _draw_triangle(ax, rec, two_lines=True)
        for other in order:
            if other != name:
                ax.plot(*paths[other].T, color="0.78", lw=1.0, zorder=1, gid="other_flow")
        ax.plot(*xy.T, color=c, lw=2.4, zorder=3, solid_capstyle="round", gid="flow")
        length = float(np.hypot(*np.diff(xy, axis=0).T).sum())
        if length > 0.05:
            _flow_arrow(ax, xy, c, 0.4)
        for traj in m.get("sampled", []):
            st = _spaced(simplex_xy(traj))  # epochs piled at an end point would bury its ring: one mark per spot
            ax.plot(*st.T, "o", color=c, mfc="none", ms=4.5, mew=1.0, zorder=8, gid="sampled")  # over the ring
        for key, (marker, _) in DATA_MARKERS.items():
            ax.plot(*simplex_xy(rec["config"][key]), marker=marker, color="0.45", ms=7, ls="none", zorder=2, gid=key)
        ax.plot(*r, "ks", ms=7, zorder=6)
        ax.plot(*o, "k*", ms=10, zorder=6)
        found = m["stationary_policy"] is not None  # None: no finite stationary point (see "stationary_error")
        if found:
            sxy = simplex_xy(m["stationary_policy"])
            ring = "k" if _stops_at_star(rec, name) else c
            ax.plot(*sxy, marker="o", mfc="none", color=ring, ms=13, mew=2.0, ls="none", zorder=7, gid="stop")
            verdict = (
                "stops at π*" if _stops_at_star(rec, name) else f"stops off π*, regret {m['stationary_regret']:.3f}"
            )
        else:
            verdict = "no finite stationary point"
        ax.set_title(f"{plain_label(m['label'])}\n{verdict}", fontsize=10, color="k", pad=2)
        if name in pairs:  # under the triangle's base, between its corners' labels
            twin, gap = pairs[name]
            words = f"same flow as\n{plain_label(labels[twin])}'s" + (
                ", exactly" if gap < 1e-9 else f" (gap {gap:.3f})"
            )
            ax.text(0.5, -0.04, words, fontsize=9, ha="center", va="top", gid="same_flow")
        ax.set_xlim(-0.12, 1.12)
        ax.set_ylim(-0.2, np.sqrt(3) / 2 + 0.1)  # room for the top corner's label inside the panel
        if length < _SHORT_FLOW:
            _enlarge_flow(ax, xy, c)
    for ax in axes.flat[len(order) :]:
        ax.axis("off")
    ring = {"marker": "o", "mfc": "none", "ms": 13, "mew": 2.0, "ls": "none"}
    keys = [
        ("the panel's method: its exact flow from π_ref (arrow: direction)", {"color": "0.35", "lw": 2.4}),
        ("light grey: the other methods' flows, for comparison", {"color": "0.78", "lw": 1.0}),
        ("hollow marks: the method's sampled epochs (one per spot)", {**ring, "color": "0.35", "ms": 4.5, "mew": 1.0}),
        ("π_ref (start)", {"marker": "s", "color": "k", "ms": 7, "ls": "none"}),
        *((label, {"marker": mk, "color": "0.45", "ms": 7, "ls": "none"}) for mk, label in DATA_MARKERS.values()),
        ("π*, the optimum of J", {"marker": "*", "color": "k", "ms": 10, "ls": "none"}),
    ]
    if any(_stops_at_star(rec, n) for n in order):
        keys.append(("black ring: the method's stationary point is π*", {**ring, "color": "k"}))
    off = [n for n in order if not _stops_at_star(rec, n) and rec["methods"][n]["stationary_policy"] is not None]
    if off:
        keys.append(("ring in the method's colour: its stationary point, off π*", {**ring, "color": _color(off[-1])}))
    gaps = any(gap >= 1e-9 for _, gap in pairs.values())
    head = "gap between two flows: the largest distance from a point of either to the other's line (triangle side 1)"
    fig.legend(
        handles=[Line2D([], [], label=label, **kw) for label, kw in keys],
        loc="outside lower center",
        ncol=3,
        fontsize=9,
        frameon=False,
        title=head if gaps else None,
        title_fontsize=9,
    )
    fig.suptitle(_simplex_title(rec, order) + "\n" + _simplex_setup(rec), fontsize=10)
    fig.get_layout_engine().set(h_pad=0.12)  # constrained layout alone let the panel titles touch the suptitle
    return fig


def _flow_arrow(ax: plt.Axes, xy: np.ndarray, color: str, at: float) -> None:
    """An arrowhead on the flow ``xy`` [T, 2] at fraction ``at`` of its length: the flow's direction."""
    seg = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    j = min(max(int(np.searchsorted(seg, at * seg[-1])), 1), len(xy) - 1)
    ax.annotate("", xy=xy[j], xytext=xy[j - 1], zorder=3,
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 0, "mutation_scale": 16})  # fmt: skip


def _copy_lines(src: plt.Axes, dst: plt.Axes) -> None:
    """Draw every non-empty line of ``src`` again in ``dst`` with the same style (an enlarged inset's content)."""
    for line in src.lines:
        if len(line.get_xdata()) == 0:
            continue
        dst.plot(line.get_xdata(), line.get_ydata(), color=line.get_color(), lw=line.get_linewidth(),
                 ls=line.get_linestyle(), marker=line.get_marker(), ms=line.get_markersize(),
                 mfc=line.get_markerfacecolor(), mec=line.get_markeredgecolor(), mew=line.get_markeredgewidth(),
                 alpha=line.get_alpha(), zorder=line.get_zorder(), markevery=line.get_markevery(),
                 gid=line.get_gid(), solid_capstyle=line.get_solid_capstyle())  # fmt: skip


_SHORT_FLOW = 0.15
"""A flow shorter than this (triangle side 1) is also drawn enlarged in its panel: its ring would cover it."""


def _enlarge_flow(ax: plt.Axes, xy: np.ndarray, color: str) -> plt.Axes:
    """An enlarged copy of the square around a short flow ``xy`` (padded), in the empty upper right of its simplex
    panel ``ax``, with every line of ``ax`` and the flow's arrow copied in it; the square outlined in grey on the
    triangle. Returns the inset."""
    from matplotlib.patches import Rectangle

    mid = (xy.min(axis=0) + xy.max(axis=0)) / 2
    half = max(np.ptp(xy, axis=0).max() / 2 + 0.025, 0.05)
    x0, y0 = mid - half
    ins = ax.inset_axes((0.64, 0.4, 0.4, 0.4))
    _copy_lines(ax, ins)
    _flow_arrow(ins, xy, color, 0.3)  # nearer the start than in the panel: clear of its ring
    ins.set_xlim(x0, x0 + 2 * half)
    ins.set_ylim(y0, y0 + 2 * half)
    ins.set_aspect("equal")
    ins.set_xticks([])
    ins.set_yticks([])
    for spine in ins.spines.values():
        spine.set_edgecolor("0.5")
    ins.set_title(f"enlarged ×{(ax.get_xlim()[1] - ax.get_xlim()[0]) / (2 * half) * 0.4:.0f}", fontsize=9, pad=2)
    ax.add_patch(Rectangle((x0, y0), 2 * half, 2 * half, fill=False, ec="0.5", lw=0.8, zorder=1, gid="zoom_box"))
    return ins


def draw_simplex_overlay(rec: dict, front: str = "copg") -> plt.Figure:
    """Every flow on one simplex (the notebooks' picture, :func:`bandit.notebook_plots.simplex_picture`): ``front``
    (the subject, CoPG) thick, pale and underneath, every other flow dashed on top with its own marker (staggered); a
    flow that another runs along (not ``front``) is drawn as a wider solid line
    under the other's dashes, so both show; the figure says in words which flows coincide. Stationary points off
    π* are rings in the method's colour; those at π* share one black ring, the title names them. The legend sits
    right of the triangle."""
    fig, ax = plt.subplots(figsize=(11, 7.6), layout="constrained")
    tri = _draw_triangle(ax, rec)
    o = simplex_xy(rec["optimal_policy"])
    order = [front, *(n for n in rec["methods"] if n != front)] if front in rec["methods"] else list(rec["methods"])
    paths = {n: simplex_xy(rec["methods"][n]["flow"]) for n in order}
    labels = {n: rec["methods"][n]["label"] for n in order}
    pairs = _coinciding_pairs(paths)
    under = {m: n for n, (m, _) in pairs.items() if m != front}  # a flow another runs along -> that other
    at_star = []
    for k, name in enumerate(order):
        m, c, xy = rec["methods"][name], _color(name), paths[name]
        found = m["stationary_policy"] is not None  # None: no finite stationary point (see "stationary_error")
        note = f"regret {m['stationary_regret']:.3f}" if found else "no finite stationary point"
        if name == front:
            ax.plot(xy[:, 0], xy[:, 1], color=c, lw=9, alpha=0.4, zorder=3, solid_capstyle="round",
                    label=f"{m['label']} ({note}; wide, pale)")  # fmt: skip
        elif name in under:
            label = f"{m['label']} ({note}; solid, under\n{labels[under[name]]}'s dashes: same flow)"
            ax.plot(xy[:, 0], xy[:, 1], color=c, lw=5, alpha=0.75, zorder=3.5, solid_capstyle="round", label=label)
        else:
            off_star = found and not _stops_at_star(rec, name)  # in front: its own path
            ax.plot(xy[:, 0], xy[:, 1], color=c, lw=1.5 + 0.5 * off_star, ls=(0, (4, 2)),
                    zorder=4 + off_star + k / 100, label=f"{m['label']} ({note})", marker=_MARKERS[k % len(_MARKERS)],
                    ms=5, markevery=(0.025 * k, 0.2))  # fmt: skip
        for traj in m.get("sampled", []):
            st = _spaced(simplex_xy(traj))  # epochs piled at an end point would bury its ring: one mark per spot
            shape = "o" if name == front else _MARKERS[k % len(_MARKERS)]  # the method's marker: dots are tied to it
            ax.plot(st[:, 0], st[:, 1], shape, color=c, mfc="none", ms=4.5, mew=0.9, alpha=0.8, zorder=2)
            if name == front or name in under:  # its flow is a plain line: its marks need their own key
                ax.plot([], [], shape, color=c, mfc="none", ms=4.5, mew=0.9, label=f"{m['label']}: sampled epochs")
        if found:
            sxy = simplex_xy(m["stationary_policy"])
            if _stops_at_star(rec, name):
                at_star.append(m["label"])
            else:
                ax.plot(*sxy, marker="o", mfc="none", color=c, ms=12, mew=1.8, zorder=6)
    r = simplex_xy(rec["ref_policy"])
    ax.plot(*r, "ks", ms=8, label="π_ref (start)", zorder=7)
    ax.plot(*o, "k*", ms=10, label="π*", zorder=7)
    if at_star:
        label = f"black ring: the stationary point is π*\n({len(at_star)} methods, named in the title)"
        ax.plot(*o, marker="o", mfc="none", color="k", ms=16, mew=1.8, zorder=6, ls="none", label=label)
    if len(at_star) < sum(m["stationary_policy"] is not None for m in rec["methods"].values()):
        ax.plot([], [], marker="o", mfc="none", color="0.4", ms=12, mew=1.8, ls="none",
                label="ring in a method's colour: its\nstationary point (off π*)")  # fmt: skip
    ax.set_aspect("equal")
    ax.set_xlim(-0.04, 1.04)
    ax.set_ylim(-0.08, np.sqrt(3) / 2 + 0.06)
    ax.axis("off")
    _simplex_zoom(fig, ax, o, [*paths.values()], tri)
    subject = rec["methods"].get(front, {}).get("label", front)
    head = (
        f"{subject}: wide pale line, underneath;\nothers dashed, on top; small hollow\n"
        "marks: sampled epochs, in the method's marker"
    )
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0), title=head, title_fontsize=9, handlelength=3.2,
              alignment="left")  # fmt: skip
    words = _coinciding(paths, labels)
    if words:
        ax.text(0.0, -0.02, "\n".join(textwrap.fill(w + ".", 90) for w in words), transform=ax.transAxes,
                fontsize=9, va="top")  # fmt: skip
    fig.suptitle(_simplex_title(rec, order) + "\n" + _simplex_setup(rec), fontsize=10)
    return fig


def _simplex_zoom(
    fig: plt.Figure, ax: plt.Axes, star: np.ndarray, paths: list, tri: np.ndarray, radius: float = 0.2
) -> plt.Axes:
    """An enlarged copy of the simplex around π* (``star``), where the flows that reach it or stop near it crowd: the
    box holds π* and every flow's end point within ``radius`` of it, padded; drawn under the legend (right of the
    triangle) with every line of ``ax`` copied in it, and the box outlined in grey on the triangle. Returns it."""
    ends = [p[-1] for p in paths if np.hypot(*(p[-1] - star)) < radius]
    pts = np.array([star, *ends])
    pad = 0.03
    (x0, y0), (x1, y1) = pts.min(axis=0) - pad, pts.max(axis=0) + pad
    w, h = x1 - x0, y1 - y0
    if w < 0.2:  # at least a fifth of the side, centred: the flows' last stretch shows too
        x0, x1 = (x0 + x1) / 2 - 0.1, (x0 + x1) / 2 + 0.1
    if h < 0.12:
        y0, y1 = (y0 + y1) / 2 - 0.06, (y0 + y1) / 2 + 0.06
    y0, y1 = max(y0, -0.01), max(y0, -0.01) + (y1 - y0)  # nothing lies below the arm-0–arm-1 edge (y = 0)
    width = 0.225  # figure fraction; the height keeps the box's shape (equal scales)
    height = width * fig.get_figwidth() * (y1 - y0) / (x1 - x0) / fig.get_figheight()
    ins = fig.add_axes((0.755, 0.04, width, height))
    ins.plot(*np.r_[tri, tri[:1]].T, color="k", lw=1)
    _copy_lines(ax, ins)
    ins.set_xlim(x0, x1)
    ins.set_ylim(y0, y1)
    ins.set_xticks([])
    ins.set_yticks([])
    ins.set_title("enlarged: the grey box around π*", fontsize=9)
    for spine in ins.spines.values():
        spine.set_edgecolor("0.5")
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="0.5", lw=1, zorder=8, gid="zoom_box"))
    return ins


def _spaced(xy: np.ndarray, gap: float = 0.015) -> np.ndarray:
    """The points of a sampled trajectory (simplex units) each at least ``gap`` from the last one kept: the epochs
    that pile up where a run has settled are drawn once."""
    keep = [xy[0]]
    for p in xy[1:]:
        if np.hypot(*(p - keep[-1])) >= gap:
            keep.append(p)
    return np.array(keep)


def _count_seeds(rec: dict) -> str:
    """'one seed' or 'N seeds': how many sampled runs a record's marks come from (its ``seeds``, else the config's)."""
    n = len(rec["seeds"]) if "seeds" in rec else int(rec["config"].get("seeds", 1))
    return "one seed" if n == 1 else f"{n} seeds"


_ZERO_TOL = 1e-12
"""A regret at most this is 0 to machine precision: the loss-family figure names such variants in its zero rows."""


def _log_floor(values) -> float:
    """The floor of a log regret axis, computed from the data: the power of ten strictly below the smallest regret
    above :data:`_ZERO_TOL` (so every non-zero value is drawn where it is); 1e-5 when no value is above it."""
    v = np.asarray(values, dtype=float)
    v = v[v > _ZERO_TOL]
    if not v.size:
        return _FLOOR
    e = np.floor(np.log10(v.min()))
    return float(10.0 ** (e - 1 if 10.0**e >= v.min() else e))


def _apo_by_n(rec: dict) -> dict[int, str]:
    """Offline A*-PO variants by their sample count N (``apo_n<N>`` methods for N in ``apo_samples``)."""
    return {n: f"apo_n{n}" for n in rec.get("apo_samples", []) if f"apo_n{n}" in rec["methods"]}


def _loss_family_title(rec: dict) -> str:
    """The finding, computed from the JSON: how many variants reach π* at every α, whether offline A*-PO's regret
    falls with N at every α where it is not 0 (with its values at the last α), and the range of those never at 0."""
    methods, xa = rec["methods"], rec["exact_alphas"]
    reg = {n: np.asarray(m["exact_regret"], dtype=float) for n, m in methods.items()}
    zero = [n for n in methods if reg[n].max() <= _ZERO_TOL]
    lines = [f"{len(zero)} of {len(methods)} variants reach π* at every α (regret exactly 0: the rows below)"]
    apo = _apo_by_n(rec)
    if len(apo) >= 2:
        ns = sorted(apo)
        curves = np.array([reg[apo[n]] for n in ns])  # [N, α]
        pos = curves.max(axis=0) > _ZERO_TOL
        falls = bool(pos.any() and (np.diff(curves[:, pos], axis=0) < 0).all())
        at = " → ".join(f"N = {n}: {reg[apo[n]][-1]:.1e}" for n in ns)
        how = "falls as N grows at every α where it is not 0" if falls else "does not fall with N at every α"
        lines.append(f"offline A*-PO's regret {how} (at α = {xa[-1]:g}: {at})")
    never = [n for n in methods if reg[n].min() > _ZERO_TOL and n not in apo.values()]
    if never:
        words = ", ".join(f"{methods[n]['label']} {reg[n].min():.3f}–{reg[n].max():.3f}" for n in never)
        lines.append(f"never at π* (regret > 0 at every α): {words}")
    return "\n".join(lines)


def _draw_loss_family(rec: dict) -> plt.Figure:
    """Exact regret vs α per variant on a log axis whose floor lies below the smallest non-zero regret in the JSON
    (:func:`_log_floor`: every non-zero value is drawn where it is, an exact 0 on the floor line); below it, one row
    per variant whose regret is 0 at every α, a mark at each α, named on the row. The title states the finding
    (:func:`_loss_family_title`). Labels come from :mod:`bandit.style` (readable names)."""
    methods = rec["methods"]
    xa = np.array(rec["exact_alphas"])
    reg = {n: np.asarray(m["exact_regret"], dtype=float) for n, m in methods.items()}
    zero = [n for n in methods if reg[n].max() <= _ZERO_TOL]
    floor = _log_floor(np.concatenate(list(reg.values())))
    fig = plt.figure(figsize=(11, 6.2 + 0.2 * len(zero)), layout="constrained")
    gs = fig.add_gridspec(2 if zero else 1, 1, height_ratios=[4.6, 0.3 + 0.2 * len(zero)] if zero else None)
    ax = fig.add_subplot(gs[0])
    for name in methods:
        if name not in zero:
            ax.plot(xa, np.maximum(reg[name], floor), color=_color(name), lw=1.8, marker=".", ms=5, zorder=3,
                    label=style(name).label)  # fmt: skip
    smallest = min((v[v > _ZERO_TOL].min() for v in reg.values() if (v > _ZERO_TOL).any()), default=None)
    above = f"\n(the smallest non-zero regret,\n{smallest:.2g}, lies above it)" if smallest is not None else ""
    ax.axhline(floor, color="0.55", lw=0.8, zorder=1, label=f"floor {floor:g}: an exact 0 is drawn here{above}")
    ax.set_yscale("log")
    ax.set_ylim(floor / 3, 1.0)
    ax.set_xlim(xa.min() - 0.03, xa.max() + 0.03)
    for x in (0.0, 0.5):
        ax.axvline(x, color="0.6", ls=":", lw=1, zorder=0)
    top = ax.secondary_xaxis("top")  # the two named behaviours, above the frame: no text on the data
    top.set_xticks([0.0, 0.5], ["μ = π*", "μ = π_ref"])
    top.tick_params(labelsize=9)
    ax.tick_params(labelsize=9)
    ax.set_ylabel("exact fixed-point regret β·KL(π̂‖π*)", fontsize=9)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="regret > 0 at some α",
              title_fontsize=9, alignment="left")  # fmt: skip
    lengths = ", ".join(f"arm {a}: {n:g}" for a, n in enumerate(rec["lengths"]))
    note = f"Token-mean IPO divides each answer's log-ratio by its length in tokens ({lengths})."
    ax.text(1.02, 0.0, textwrap.fill(note, 32), transform=ax.transAxes, fontsize=9, va="bottom", color="0.25")
    xlabel = "α  (μ1 = μ2 = μ_α ∝ π_ref·exp((1−2α)R/β): 0 = π*, ½ = π_ref, 1 = far off-policy)"
    if zero:
        strip = fig.add_subplot(gs[1], sharex=ax)
        for row, name in enumerate(reversed(zero)):
            at0 = reg[name] <= _ZERO_TOL
            strip.plot(xa[at0], np.full(at0.sum(), row), "o", color=_color(name), ms=5, label=style(name).label)
        strip.set_yticks(range(len(zero)), [style(n).label for n in reversed(zero)], fontsize=9)
        strip.set_ylim(-0.6, len(zero) - 0.4)
        strip.tick_params(labelsize=9)
        strip.set_title("regret exactly 0 at every α (a dot at each α of the JSON where it is 0)", fontsize=9,
                        loc="left")  # fmt: skip
        for side in ("top", "right"):
            strip.spines[side].set_visible(False)
        ax.tick_params(labelbottom=False)
        strip.set_xlabel(xlabel, fontsize=9)
    else:
        ax.set_xlabel(xlabel, fontsize=9)
    fig.suptitle(_loss_family_title(rec), fontsize=10)
    return fig


_DRAWERS = {
    "paper_fig1": _draw_paper_fig1,
    "offpolicy_sweep": _draw_offpolicy,
    "beta_sweep": _draw_beta,
    "data_size": _draw_data_size,
    "support": _draw_support,
    "simplex": draw_simplex,
    "loss_family": _draw_loss_family,
}


def draw_record(record: dict) -> plt.Figure:
    """Draw the figure of an experiment record and return it, unsaved (notebooks display it; close it when done).

    Args:
        record: a record as returned by :func:`bandit.experiments.make_record` or read from ``<out>/<name>.json``.
    Returns:
        The matplotlib Figure.
    Raises:
        ValueError if ``record["experiment"]`` is not a bandit experiment.
    """
    name = record.get("experiment")
    if name not in _DRAWERS:
        raise ValueError(f"draw_record: unknown experiment {name!r} in the record; expected one of {list(_DRAWERS)}")
    return _DRAWERS[name](record)
