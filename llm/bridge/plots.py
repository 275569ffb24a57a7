"""Figures of the exact bridge: ``bridge_<name>.png`` + ``.json`` (data, config, task seeds, exact command).

* ``bridge_converged`` (panel a, the headline): per method, the network's held-in regret (bar: mean; one dot per
  random task) next to its tabular limit's, and a matrix of KL(limit ‖ network) from every method's limit to every
  network (mean over tasks, ``data.summary[method].per_task_seed[task].kl_to_limits``): own limit outlined, nearest
  starred, coinciding limits bracketed;
* ``bridge_regret_vs_step`` (panel b): top, the practical trainer's exact regret vs step on its own range (mean and
  each task); below, its last step against the same network trained to convergence and the exact limit (log axis);
* ``bridge_coverage`` (panel c): CoPG's network as the pairs per prompt grow, with network ÷ limit per task;
* ``bridge_heldout`` (panel d): held-in vs held-out regret of the converged networks (markers), against π_ref's;
  task by task only where the JSON stores π_ref's regret per task (``data.pi_ref_regret.per_task``).

Regret axes are logarithmic down to a floor (:data:`FLOOR`): a value below it (a limit that is exactly π*, regret
0 up to rounding) is drawn on the floor and labelled. Colours and labels come from ``bandit.style``.
Redraw without training: ``python -m bandit plot figures/bridge_converged.json``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bandit.records import provenance, write_figure
from bandit.style import join_and, plain_label

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


TASK_MARKERS = ("o", "^", "s", "v", "D")
"""One marker per random task, in the order the JSON lists the tasks."""
TASK_LINES = ("-", "-.", "--", ":")


def _names(labels: list[str]) -> str:
    """Method labels joined by ';' so a label's own comma ('PG, b = 0') never reads as a separator."""
    return "; ".join(labels) or "none"


def _legend_above(ax: Any, handles: list, title: str, ncol: int = 2) -> None:
    """A legend in the free band between the axes and its title (outside the data), the title above it."""
    leg = ax.legend(handles=handles, fontsize=9, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=ncol,
                    handlelength=2.2, borderaxespad=0, frameon=False)  # fmt: skip
    fig = ax.figure
    fig.canvas.draw()
    pad = leg.get_window_extent().height * 72 / fig.dpi + 6
    ax.set_title(title, fontsize=9, pad=pad)


def _task_seeds(summary: dict) -> list[str]:
    return list(next(iter(summary.values())).get("per_task_seed", {}))


COINCIDE_TIE = 1e-3
"""Two limits coincide when the mean KL between them is below this (llm.bridge.limits.nearest_limit's ``tie``)."""


def _limit_handle(n: int) -> Any:
    """The legend entry of the exact limit's black tick (mean of ``n`` tasks)."""
    from matplotlib.lines import Line2D

    label = f"exact limit: the loss's minimiser over a\nfree probability table (mean of {n} tasks)"
    return Line2D([], [], marker="_", ms=14, mew=2.5, color="k", ls="none", label=label)


def _coinciding(summary: dict) -> list[list[str]]:
    """Groups of methods whose limits coincide, read from the JSON: a network counted nearest its own limit
    (``nearest_is_own``) while the nearest limit is another method's (``nearest_limit``) means those two limits are
    one up to :data:`COINCIDE_TIE` (``llm.bridge.limits.nearest_limit``). Groups of two or more, in summary order."""
    parent = {m: m for m in summary}

    def root(m: str) -> str:
        while parent[m] != m:
            m = parent[m]
        return m

    for m, v in summary.items():
        for r in (v.get("per_task_seed") or {}).values():
            b = r.get("nearest_limit")
            if r.get("nearest_is_own") and b in parent and b != m:
                parent[root(b)] = root(m)
    groups: dict[str, list[str]] = {}
    for m in summary:
        groups.setdefault(root(m), []).append(m)
    return [g for g in groups.values() if len(g) > 1]


def _converged_order(summary: dict) -> list[str]:
    """The methods in summary order, with each group of coinciding limits moved together (at its first member)."""
    order, groups = [], _coinciding(summary)
    for m in summary:
        if m not in order:
            order += next((g for g in groups if m in g), [m])
    return order


def _kl_matrix(summary: dict, order: list[str]) -> Any:
    """[network i, limit j] = mean over tasks of KL(limit of method j ‖ network of method i) (``kl_to_limits``);
    NaN where a method has no finite limit or the JSON has no per-task table."""
    import numpy as np

    out = np.full((len(order), len(order)), np.nan)
    for i, m in enumerate(order):
        per = list((summary[m].get("per_task_seed") or {}).values())
        for j, b in enumerate(order):
            vals = [r.get("kl_to_limits", {}).get(b) for r in per]
            if vals and all(v is not None and v == v for v in vals):
                out[i, j] = sum(vals) / len(vals)
    return out


def _converged_regret(ax: Any, data: dict, order: list[str]) -> list:
    """(a) Each network's held-in regret, one marker per task on a light bar (their mean), with its limit's regret
    as a black tick; log axis down to :data:`FLOOR`. With fewer than 3 tasks the title says there is no interval.
    Returns the legend handles."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    s, styles = data["summary"], data["methods"]
    seeds = _task_seeds(s)
    for i, m in enumerate(order):
        r = s[m]["network_regret"]
        ax.bar(i, _f(r["mean"]), color=styles[m]["color"], alpha=0.55, width=0.7)
        for j, v in enumerate(r["values"]):
            ax.plot(i - 0.15 + 0.3 * j / max(len(r["values"]) - 1, 1), _f(v), ls="none", color="k", ms=6,
                    marker=TASK_MARKERS[j % len(TASK_MARKERS)], zorder=3)  # fmt: skip
        if s[m]["tabular_regret"] is not None:  # a loss without a finite limit says so in its tick label
            ax.plot(i, _f(s[m]["tabular_regret"]), marker="_", ms=26, mew=2.5, color="k", zorder=4, ls="none")
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, None)
    ticks = [textwrap.fill(styles[m]["label"], 10) + ("\n(no finite\nlimit)" if s[m]["tabular_regret"] is None else "")
             for m in order]  # fmt: skip
    ax.set_xticks(range(len(order)), ticks, fontsize=9, rotation=90)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_ylabel("regret J(π*) − J(π) = β·KL(π‖π*)\non the training prompts (reward units)", fontsize=10)
    n = len(seeds) or max(len(s[m]["network_regret"]["values"]) for m in order)
    few = "; too few for an interval" if n < 3 else ""
    ax.set_title(f"(a) regret of each trained network\n{n} tasks: each black mark is one task{few}",
                 fontsize=10, loc="left")  # fmt: skip
    _floor(ax, "floor")
    marks = [Line2D([], [], marker=TASK_MARKERS[j % len(TASK_MARKERS)], ls="none", color="k", ms=6,
                    label=f"the network on task {t}") for j, t in enumerate(seeds)]  # fmt: skip
    floor = f"floor: ≤ {FLOOR:.0e} drawn here (0 up to rounding)".replace("e-0", "e-")
    return [
        Patch(color="0.7", label=f"bar: the network, mean of {n} random tasks"),
        *marks,
        _limit_handle(n),
        Line2D([], [], color="0.6", lw=0.8, ls=":", label=floor),
    ]


NEAR_COLOR = "red"
"""Colour of the inner box marking, in each row of (b), the limit nearest the network (JSON `nearest_limit`)."""


def _converged_matrix(ax: Any, data: dict, order: list[str]) -> Any:
    """(b) log10 KL(limit ‖ network) for every network (row) and every method's limit (column), mean over tasks, each
    cell written; the network's own limit in a black box (the diagonal), its nearest limit (the JSON's
    ``nearest_limit``, the row's smallest entry up to :data:`COINCIDE_TIE`) in a red box inside the cell, a bracket
    over limits that coincide, a grey column for a loss without a finite limit. Returns the image."""
    import numpy as np
    from matplotlib.patches import Rectangle

    s, styles = data["summary"], data["methods"]
    kl = _kl_matrix(s, order)
    logkl = np.log10(np.clip(kl, 1e-4, None))
    img = ax.imshow(np.ma.masked_invalid(logkl), cmap="viridis_r", vmin=-3, vmax=2, aspect="auto")
    n = len(order)
    for i, m in enumerate(order):
        for j in range(n):
            v = kl[i, j]
            if v != v:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color="0.85", zorder=1))
                continue
            dark = logkl[i, j] < 0.5  # the light end of viridis_r: dark text
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=9, color="k" if dark else "w")
        if s[m]["kl_to_own_limit"] is not None:
            ax.add_patch(Rectangle((i - 0.47, i - 0.47), 0.94, 0.94, fill=False, ec="k", lw=2.4, zorder=3))
        near = s[m].get("nearest_limit")
        if near in order:
            ax.add_patch(Rectangle((order.index(near) - 0.4, i - 0.34), 0.8, 0.68, fill=False, ec=NEAR_COLOR,
                                   lw=1.8, zorder=4))  # fmt: skip
    for j in range(n):
        if np.isnan(kl[:, j]).all():
            ax.text(j, (n - 1) / 2, "no finite limit", rotation=90, ha="center", va="center", fontsize=9)
    labels = [textwrap.fill(styles[m]["label"], 10) for m in order]
    ax.set_xticks(range(n), labels, fontsize=9, rotation=90)
    ax.set_yticks(range(n), [styles[m]["label"] for m in order], fontsize=9)
    ax.set_xlabel("the limit of method …", fontsize=10)
    ax.set_ylabel("the network of method …", fontsize=10)
    for g in _coinciding(s):
        cols = sorted(order.index(m) for m in g)
        lo, hi = cols[0] - 0.4, cols[-1] + 0.4
        ax.plot([lo, lo, hi, hi], [-0.6, -0.75, -0.75, -0.6], color="k", lw=1, clip_on=False,
                transform=ax.transData)  # fmt: skip
        ax.text((lo + hi) / 2, -0.82, f"{len(g)} limits that coincide:\nKL between them < {COINCIDE_TIE:g} nats",
                ha="center", va="bottom", fontsize=9, clip_on=False)  # fmt: skip
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    pad = 40 if _coinciding(s) else 6
    ax.set_title("(b) KL(limit ‖ network), nats, mean of the tasks", fontsize=10, loc="left", pad=pad)
    return img


def _and(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c' ('none' for no items; :func:`bandit.style.join_and`)."""
    return join_and(items) or "none"


def _possessive(label: str) -> str:
    """'IPO' → "IPO's"; 'PG, b = 0' → "PG's (b = 0)"."""
    head, _, rest = label.partition(", ")
    return f"{head}'s ({rest})" if rest else f"{label}'s"


def _check_bar(checks: dict) -> float:
    """The KL bar of the run's ``kl_to_own_limit_le_<bar>`` check (0.01 when the JSON has none)."""
    key = next((k for k in checks if k.startswith("kl_to_own_limit_le_")), "kl_to_own_limit_le_0.01")
    return float(key.removeprefix("kl_to_own_limit_le_"))


def _converged_title(data: dict) -> str:
    """Three lines from the JSON: CoPG's regret as a percentage of each baseline's (the run's ``copg_le_*`` checks);
    how many networks are nearest their own loss's limit and which lie within the KL bar of it in every task."""
    s, styles, checks = data["summary"], data["methods"], data.get("checks", {})
    n = len(_task_seeds(s)) or 1
    ratios = [f"{100 * c['ratio']:.2g} % of {_possessive(styles[k.rsplit('x_', 1)[-1]]['label'])}"
              for k, c in checks.items() if k.startswith("copg_le_") and "ratio" in c]  # fmt: skip
    head = f"Networks trained to a fixed budget on {n} random task{'s' if n > 1 else ''}: " + (
        f"CoPG's regret is {' and '.join(ratios)}" if ratios else "each network against its loss's exact limit"
    )
    bar = _check_bar(checks)
    finite = [m for m, v in s.items() if v["nearest_is_own"] is not None]
    own = [m for m in finite if _in_every_task(s[m], "nearest_is_own")]
    within = [m for m in finite if s[m]["kl_to_own_limit"] is not None and max(
        (r["kl_to_own_limit"] for r in (s[m].get("per_task_seed") or {}).values()),
        default=s[m]["kl_to_own_limit"]) <= bar]  # fmt: skip
    missed = _and([plain_label(styles[m]["label"]) for m in finite if m not in own])
    none = [plain_label(styles[m]["label"]) for m in s if m not in finite]
    which = f"networks with a finite limit ({_and(none)} has none)" if none else "networks"
    tie = " or one that coincides with it (bracketed in b)" if _coinciding(s) else ""
    nearest = (
        f"all {len(finite)} {which} are nearest their own loss's limit{tie}"
        if len(own) == len(finite)
        else f"{len(own)} of {len(finite)} {which} are nearest their own loss's limit{tie}; not {missed}"
    )
    every = "every task" if n > 1 else "the task"
    names = _and([plain_label(styles[m]["label"]) for m in within])
    close = f"{len(within)} are within {bar:g} nats of their own limit in {every}: {names}"
    return f"{head}\n{nearest}\n{close}"


def _in_every_task(summary_row: dict, key: str) -> bool:
    """True when ``key`` is true in every task of a summary row (or in the row itself without per-task records)."""
    per = summary_row.get("per_task_seed") or {}
    return all(bool(r[key]) for r in per.values()) if per else bool(summary_row[key])


def _split_tasks_note(data: dict) -> str:
    """One line per network whose nearest limit differs between tasks (read per task), naming it in each task."""
    s, styles = data["summary"], data["methods"]
    out = []
    for m, v in s.items():
        per = v.get("per_task_seed") or {}
        if v["nearest_is_own"] is None or len({r["nearest_limit"] for r in per.values()}) < 2:
            continue
        where = [f"{_possessive(styles[r['nearest_limit']]['label'])} in task {t}" for t, r in per.items()]
        where[0] = where[0].replace("'s", "'s limit", 1)
        out.append(f"{styles[m]['label']}'s network is nearest {_and(where)}.")
    return "\n".join(out)


def _draw_converged(data: dict) -> Any:
    """(a) regret of each trained network and its limit per task; (b) the KL from every method's limit to every
    network: is each network nearest its own loss's limit, and how near (see :func:`_converged_matrix`). Each panel
    has its key below it; the colour bar marks the title's KL bar with a black line."""
    import math

    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    order = _converged_order(data["summary"])
    fig = plt.figure(figsize=(11.2, 7.2))
    grid = fig.add_gridspec(1, 2, width_ratios=(1, 1.3), left=0.09, right=0.895, top=0.775, bottom=0.34, wspace=0.45)
    ax, bx = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    handles = _converged_regret(ax, data, order)
    img = _converged_matrix(bx, data, order)
    box = bx.get_position()
    cax = fig.add_axes((0.91, box.y0, 0.015, box.height))
    check = _check_bar(data.get("checks", {}))
    y = math.log10(check)  # the title's KL bar, drawn on the colour bar as a black line with its own tick
    ticks = {t: "≤ 0.001" if t == -3 else f"{10.0**t:g}" for t in range(-3, 3) if abs(t - y) > 0.3}
    bar = fig.colorbar(img, cax=cax, ticks=sorted({**ticks, y: ""}))
    cax.axhline(y, color="k", lw=2.5)
    bar.ax.set_yticklabels([ticks.get(t, f"{check:g} = title's\nthreshold") for t in sorted({**ticks, y: ""})],
                           fontsize=9)  # fmt: skip
    ax_box = ax.get_position()
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(ax_box.x0 - 0.07, 0.155), fontsize=9,
               frameon=False)  # fmt: skip
    key = [
        Line2D([], [], marker="s", ms=12, mfc="none", mec="k", mew=2.4, ls="none",
               label="black box: the network's own loss's limit"),
        Line2D([], [], marker="s", ms=9, mfc="none", mec=NEAR_COLOR, mew=1.8, ls="none",
               label="red box: the limit nearest the network (smallest mean KL in its row);\n"
                     "on a bracketed limit it counts as the network's own"),
    ]  # fmt: skip
    fig.legend(handles=key, loc="upper left", bbox_to_anchor=(box.x0 - 0.13, 0.155), fontsize=9, frameon=False)
    split = _split_tasks_note(data)
    if split:
        fig.text(box.x0 - 0.12, 0.04, split, fontsize=9, va="bottom", ha="left")
    fig.suptitle(_converged_title(data), fontsize=10.5)
    return fig


def _trainer_gap(last: dict, limits: dict, styles: dict, near: float = 2.0) -> str:
    """Which methods' last trainer step is within ``near``× of their converged network and which are not, read from
    the data (no fixed verdict)."""
    ratio = {m: last[m] / limits[m]["network_regret"] for m in last if limits.get(m, {}).get("network_regret")}
    if not ratio:
        return "no converged network to compare with"
    inside = [styles[m]["label"] for m, r in ratio.items() if r <= near]
    outside = [styles[m]["label"] for m, r in ratio.items() if r > near]
    return f"last step within {near:g}× of the converged network: {_names(inside)}\nfurther: {_names(outside)}"


def _order_at_end(curves: dict, styles: dict) -> str:
    """The methods from lowest to highest mean regret at the last step, and whether every task has that order."""
    mean = {m: sum(r[-1]["policy/regret"] for r in runs) / len(runs) for m, runs in curves.items()}
    order = sorted(mean, key=mean.get)
    n = min(len(runs) for runs in curves.values())
    same = all(sorted(curves, key=lambda m: curves[m][j][-1]["policy/regret"]) == order for j in range(n))
    step = next(iter(curves.values()))[0][-1]["step"]
    each = "the same order in every task" if same else "the order differs between tasks"
    return (f"at step {step}, lowest first (means): "
            + "; ".join(f"{styles[m]['label']}: {mean[m]:.2g}" for m in order) + f"\n{each}")  # fmt: skip


def _draw_regret_vs_step(data: dict) -> Any:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    styles, curves, limits = data["methods"], data["curves"], data["limits"]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(10.5, 11.5), height_ratios=(1.1, 1))  # stacked: ≤ 11.5 in wide
    n = min(len(runs) for runs in curves.values())
    looks = dict(zip(curves, zip(("o", "s", "^", "v", "D"), ("-", "--", ":", "-."))))
    last = {}
    handles = []
    for k, (m, runs) in enumerate(curves.items()):
        c, (mk, ls) = styles[m]["color"], looks[m]
        steps = [p["step"] for p in runs[0]]
        for r in runs:  # each task thin and pale, under every mean
            ax.plot([p["step"] for p in r], [p["policy/regret"] for p in r], color=c, lw=0.9, alpha=0.45, ls=ls,
                    zorder=2)  # fmt: skip
        ys = [sum(r[i]["policy/regret"] for r in runs) / len(runs) for i in range(len(steps))]
        last[m] = ys[-1]
        ax.plot(steps, ys, color=c, lw=2, ls=ls, marker=mk, ms=5, mfc="white", zorder=4 + k)
        handles.append(Line2D([], [], color=c, lw=2, ls=ls, marker=mk, ms=5, mfc="white",
                              label=f"{styles[m]['label']}: mean of {n} tasks"))  # fmt: skip
    handles.append(Line2D([], [], color="0.4", lw=0.9, alpha=0.6, label="thin: each task"))
    ax.set_xlabel(f"optimizer step (one minibatch each; {data['budget']})", fontsize=9)
    ax.set_ylabel("regret J(π*) − J(π) = β·KL(π‖π*)\non the training prompts (reward units)", fontsize=9)
    _legend_above(ax, handles, "The practical trainer's exact regret\n" + _order_at_end(curves, styles))

    # right: where the last step sits against the same network trained to convergence and the exact limit
    names = list(curves)
    vals = []
    for i, m in enumerate(names):
        c, lim = styles[m]["color"], limits.get(m, {})
        ends = [r[-1]["policy/regret"] for r in curves[m]]  # left to right: last step, converged, exact limit
        bx.plot([i - 0.42 + 0.1 * j / max(len(ends) - 1, 1) for j in range(len(ends))], ends, ls="none",
                marker="o", ms=4, color=c, alpha=0.6)  # fmt: skip
        bx.plot(i - 0.2, last[m], marker="o", ms=9, color=c, ls="none", zorder=4)
        net, tab = lim.get("network_regret"), lim.get("tabular_regret")
        if net is not None:
            bx.plot(i, _f(net), marker="D", ms=8, mfc="white", mew=2, color=c, ls="none", zorder=5)
            bx.annotate("", xy=(i - 0.03, _f(net)), xytext=(i - 0.17, last[m]), zorder=3,
                        arrowprops=dict(arrowstyle="->", color=c, lw=1))  # fmt: skip
            bx.text(i - 0.1, last[m] * 1.6, f"{last[m] / net:.3g}×", fontsize=9, ha="center", va="bottom")
        if tab is not None:
            bx.plot(i + 0.2, _f(tab), marker="_", ms=18, mew=2.5, color="k", ls="none", zorder=6)
        vals += [*ends, _f(net), _f(tab)]
    finite = [v for v in vals if v == v]
    bx.set_yscale("log")
    bx.set_ylim(min(finite) / 3, max(finite) * 4)
    if min(finite) <= FLOOR:  # the floor only where a value sits on it
        _floor(bx)
    bx.set_xlim(-0.6, len(names) - 0.4)
    bx.set_xticks(range(len(names)), [textwrap.fill(styles[m]["label"], 24) for m in names], fontsize=10)
    bx.set_ylabel("regret (reward units, log scale)", fontsize=9)
    right = [
        Line2D([], [], marker="o", ms=8, color="0.3", ls="none", label="last step, mean (small: each task)"),
        Line2D(
            [],
            [],
            marker="D",
            ms=7,
            mfc="white",
            mew=2,
            color="0.3",
            ls="none",
            label=f"same network trained to convergence (mean of {n} tasks)",
        ),  # fmt: skip
        _limit_handle(n),
        Line2D(
            [],
            [],
            color="0.3",
            lw=1,
            marker=r"$\rightarrow$",
            ls="none",
            ms=10,
            label="arrow and number: last step ÷ converged",
        ),  # fmt: skip
    ]
    _legend_above(bx, right, "Last step vs convergence vs the exact limit\n" + _trainer_gap(last, limits, styles), 1)
    fig.tight_layout()
    return fig


def _trend(seqs: list[list[float]]) -> str | None:
    """'falls' / 'rises' when every sequence does so at every step, else None."""
    if all(all(b < a for a, b in zip(q, q[1:])) for q in seqs):
        return "falls"
    if all(all(b > a for a, b in zip(q, q[1:])) for q in seqs):
        return "rises"
    return None


def _coverage_point(points: dict) -> str:
    """The coverage figure's point, every clause read from the data: where the network is below its limit, and
    whether the network ÷ limit ratio moves one way as the pairs grow."""
    runs = list(points.values())
    ns = [p["pairs_per_prompt"] for p in runs[0]]
    ratios = [[p["network_regret"] / p["tabular_regret"] for p in pts] for pts in runs]
    below = [(n, sum(r[j] < 1 for r in ratios)) for j, n in enumerate(ns) if any(r[j] < 1 for r in ratios)]
    said = []
    if below:
        said.append("network below its exact limit at " + "; ".join(f"{n} pairs ({k} of {len(runs)} tasks)"
                                                                      for n, k in below))  # fmt: skip
    else:
        said.append("network above its exact limit at every n and task")
    move = _trend(ratios)
    said.append(f"the ratio {move} with every doubling" if move else "the ratio does not move one way as n grows")
    return "\n".join(said)


def _outward(v: float, hi: bool = True, digits: int = 2) -> str:
    """``v`` to ``digits`` significant digits, rounded away from the inside of a range (up for its top, down for its
    bottom), so "between a and b" holds for every value: 0.00604 as a top reads 0.0061, not 0.006."""
    import math

    if not v or v != v:
        return f"{v:g}"
    scale = 10 ** (math.floor(math.log10(abs(v))) - digits + 1)
    r = (math.ceil if hi else math.floor)(round(v / scale, 9)) * scale
    return f"{r:.{max(digits - 1 - math.floor(math.log10(abs(v))), 0)}f}"


def _draw_coverage(data: dict) -> Any:
    import matplotlib.pyplot as plt

    c, points = data["methods"]["copg"]["color"], data["points"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 10.4))

    def ratio(p: dict) -> float:
        return p["network_regret"] / p["tabular_regret"] if p["tabular_regret"] else float("nan")

    def key(k: str):
        return lambda p: p[k]

    panels = (  # (value, reference value, y label, title, reference label)
        (key("network_regret"), key("tabular_regret"), "regret on the training prompts (reward units)",
         "regret: network and its exact limit\n(exact limit: the CoPG loss's minimiser over a free probability "
         "table)", "exact limit"),
        (ratio, None, "network's regret ÷ its exact limit's", "network's regret relative to its exact limit's", None),
        (key("kl_to_limit_support"), None, "KL(limit|S ‖ network|S) (nats)", "distance to the exact limit on S",
         None),
        (key("off_support_mass"), key("pi_star_off_support_mass"), "probability mass off S",
         "mass on completions never sampled (off S)", "π*"),
    )  # fmt: skip
    for ax, (val, ref, ylabel, title, ref_label) in zip(axes.flat, panels):
        values, seqs = [], []
        for j, (seed, pts) in enumerate(points.items()):
            xs = [p["pairs_per_prompt"] for p in pts]
            mk, ls = TASK_MARKERS[j % len(TASK_MARKERS)], TASK_LINES[j % len(TASK_LINES)]
            seqs.append([val(p) for p in pts])
            values += seqs[-1]
            ax.plot(xs, [_f(v) for v in seqs[-1]], marker=mk, ls=ls, color=c, label=f"CoPG network, task {seed}")
            if val is ratio:  # the ratios in numbers: task 0 above its points, task 1 below, and so on
                for x, v in zip(xs, seqs[-1]):
                    ax.annotate(f"{v:.2g}", (x, v), xytext=(7, 3 if j % 2 == 0 else -3), textcoords="offset points",
                                ha="left", va="bottom" if j % 2 == 0 else "top", fontsize=9,
                                bbox=dict(fc="white", ec="none", pad=0.5, alpha=0.85))  # fmt: skip
            if ref:
                seqs.append([ref(p) for p in pts])
                values += seqs[-1]
                ax.plot(xs, [_f(v) for v in seqs[-1]], ls="--", marker=mk, mfc="none", color="k", lw=1, alpha=0.75,
                        label=f"{ref_label}, task {seed}")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_xlabel("pairs sampled per training prompt (n)", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        finite = [v for v in values if v is not None and v == v]
        move = _trend(seqs)
        if val is ratio:  # the ratio's own sentence: where it is below 1, and whether it moves one way
            ax.axhline(1, color="k", lw=0.8, ls="--", label="1: network = its exact limit")
            ax.set_xlim(xs[0] / 1.25, xs[-1] * 1.4)
            ax.set_ylim(min(finite + [1]) / 1.6, max(finite + [1]) * 1.6)
            title += "\n" + _coverage_point(points)
        elif ref is None and finite:  # a distance with no reference: its range, so wiggles do not read as a trend
            title += (
                f"\nbetween {_outward(min(finite), hi=False)} and {_outward(max(finite))} nats at every n and task"
            )
        elif move:
            title += f"\nevery curve {move} with every doubling of n"
        else:
            title += "\nnot every curve moves one way as n grows"
        if min(finite) <= FLOOR:  # the floor only where a value sits on it
            _floor(ax, "floor: ≤ 1e-5")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    fig.suptitle(
        f"CoPG's converged network as more pairs per prompt are sampled ({len(points)} random tasks; "
        "S = the completions the pairs sampled)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _ref_per_task(data: dict) -> dict[str, dict] | None:
    """π_ref's regret per task (``{seed: {"train", "heldout"}}``, seeds as strings) when the JSON stores it (written
    since ``_figure_data`` keeps it), else None (an older JSON holds only the mean over tasks)."""
    per = data["pi_ref_regret"].get("per_task")
    return {str(t): v for t, v in per.items()} if per else None


def _heldout_by_task(summary: dict) -> dict[str, dict[str, float]] | None:
    """Each method's held-out regret per task, ``{method: {seed: value}}`` (seeds as strings), from
    ``per_task_seed``; None when a method has no per-task record."""
    out = {}
    for m, v in summary.items():
        per = v.get("per_task_seed") or {}
        if not per or any("heldout_regret" not in r for r in per.values()):
            return None
        out[m] = {str(t): r["heldout_regret"] for t, r in per.items()}
    return out


def _heldout_point(data: dict) -> str:
    """The held-out figure's finding, read from the data. The means over tasks are compared with π_ref's mean; a
    per-task claim is made only when the JSON has π_ref's regret per task, and then task by task (each method's
    held-out regret on a task against π_ref's on the same task)."""
    summary, styles, ref = data["summary"], data["methods"], data["pi_ref_regret"]["heldout"]
    means = {m: s["heldout_regret"]["mean"] for m, s in summary.items()}
    above = [m for m, v in means.items() if v >= ref]
    n = max(len(s["heldout_regret"].get("values", [])) for s in summary.values())
    if len(above) == len(means):
        head = (f"every method's mean held-out regret over the {n} tasks is ≥ π_ref's mean ({ref:.3f}):\non average, "
                "training left the unseen prompts no better than the untrained policy")  # fmt: skip
    else:
        below = _names([styles[m]["label"] for m in means if m not in above])
        head = (f"{len(above)} of {len(means)} methods' mean held-out regret is ≥ π_ref's mean ({ref:.3f}); "
                f"below it: {below}")  # fmt: skip
    per_ref, per_net = _ref_per_task(data), _heldout_by_task(summary)
    if per_ref is None or per_net is None or any(set(v) - set(per_ref) for v in per_net.values()):
        return f"{head}\n(π_ref's regret was recorded as a mean over tasks only: tasks not compared one by one)"
    refs = "; ".join(f"task {t}: {v['heldout']:.3f}" for t, v in per_ref.items())
    lower = [(m, t) for m, per in per_net.items() for t, v in per.items() if v < per_ref[t]["heldout"]]
    if not lower:
        return f"{head}\nin every task too, each method's held-out regret is ≥ π_ref's on that task ({refs})"
    pairs = sum(len(per) for per in per_net.values())
    named = _wrap_items([f"{styles[m]['label']} (task {t})" for m, t in lower], 118)
    return (f"{head}\ntask by task (π_ref {refs}), {len(lower)} of {pairs} method-task pairs are below π_ref's on "
            f"the same task:\n{named}")  # fmt: skip


def _wrap_items(items: list[str], width: int) -> str:
    """``items`` joined by '; ' into lines of at most ``width`` characters, broken only between items (a label such
    as 'PG, b = 0' is never split)."""
    lines = [""]
    for item in items:
        sep = "; " if lines[-1] else ""
        if lines[-1] and len(lines[-1]) + len(sep) + len(item) > width:
            lines.append(item)
        else:
            lines[-1] += sep + item
    return "\n".join(lines)


def _ref_line_labels(ax: Any, ref: dict) -> None:
    """Name the two π_ref lines at the axes' right edge, outside the data: the upper line's label above it, the
    lower one's below it, so the two never overlap however close the lines are."""
    from matplotlib.transforms import blended_transform_factory

    at = blended_transform_factory(ax.transAxes, ax.transData)
    (lo_key, lo), (hi_key, hi) = sorted(((k, ref[k]) for k in ("train", "heldout")), key=lambda kv: kv[1])
    words = {"train": "training prompts", "heldout": "held-out prompts"}
    ax.text(1.01, hi, f"π_ref, {words[hi_key]}:\n{hi:.3f}", transform=at, fontsize=9, va="bottom", ha="left")
    ax.text(1.01, lo, f"π_ref, {words[lo_key]}:\n{lo:.3f}", transform=at, fontsize=9, va="top", ha="left")


def _task_handle(j: int, label: str) -> Any:
    """The legend entry of task ``j``'s black marker in the held-out figure."""
    from matplotlib.lines import Line2D

    return Line2D([], [], marker=TASK_MARKERS[j % len(TASK_MARKERS)], ms=5, color="k", ls="none", label=label)


def _draw_heldout(data: dict) -> Any:
    """Held-in vs held-out regret of each converged network: a hollow diamond (training prompts) and a filled one
    (held-out prompts) at the mean over tasks, each task a black marker beside it, and π_ref's regret on both prompt
    sets as two lines named at the right edge. Markers, not bars: a bar on a log axis has no meaningful length."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    s, styles, ref = data["summary"], data["methods"], data["pi_ref_regret"]
    names = list(s)
    seeds = _task_seeds(s)
    n = max(len(s[m]["heldout_regret"].get("values", [])) for m in names)
    fig, ax = plt.subplots(figsize=(10.2, 6.4))
    side = 0.17  # training prompts left of the method's tick, held-out right of it
    values = []
    for i, m in enumerate(names):
        c = styles[m]["color"]
        train, held = s[m]["network_regret"], s[m]["heldout_regret"]
        ax.plot(i - side, _f(train["mean"]), marker="D", ms=9, mfc="white", mew=2, color=c, ls="none", zorder=4)
        ax.plot(i + side, _f(held["mean"]), marker="D", ms=9, color=c, ls="none", zorder=4)
        for x, r in ((i - side, train), (i + side, held)):
            vals = r.get("values", [])
            values += [r["mean"], *vals]
            for j, v in enumerate(vals):  # one black marker per task, just right of the mean
                ax.scatter([x + 0.09], [_f(v)], color="k", s=16, marker=TASK_MARKERS[j % len(TASK_MARKERS)],
                           zorder=5)  # fmt: skip
    ax.axhline(ref["heldout"], color="k", ls="--", lw=1.2, zorder=1)
    ax.axhline(ref["train"], color="0.45", ls=":", lw=2, zorder=1)
    _ref_line_labels(ax, ref)
    finite = [_f(v) for v in [*values, ref["train"], ref["heldout"]] if _f(v) == _f(v)]
    ax.set_yscale("log")
    ax.set_ylim(min(finite) / 3, max(finite) * 3)
    if min(finite) <= FLOOR:  # the floor only where a value sits on it
        _floor(ax, "floor: ≤ 1e-5")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_xticks(range(len(names)), [textwrap.fill(styles[m]["label"], 14) for m in names], fontsize=9)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_ylabel("regret J(π*) − J(π) = β·KL(π‖π*)\n(reward units, log scale)", fontsize=10)
    mean = f"mean of {n} task{'s' if n > 1 else ''}"
    hollow = dict(marker="D", ms=9, mfc="white", mew=2, color="0.3", ls="none")
    handles = [
        Line2D([], [], **hollow, label=f"training prompts: {mean} (left)"),
        Line2D([], [], marker="D", ms=9, color="0.3", ls="none", label=f"held-out prompts: {mean} (right)"),
        *(_task_handle(j, f"one network, random task {t}") for j, t in enumerate(seeds[:n] or range(n))),
        Line2D([], [], color="k", ls="--", lw=1.2, label=f"π_ref, held-out prompts ({mean})"),
        Line2D([], [], color="0.45", ls=":", lw=2, label=f"π_ref, training prompts ({mean})"),
    ]
    if min(finite) <= FLOOR:
        handles.append(Line2D([], [], color="0.6", lw=0.8, ls=":", label="floor: values ≤ 1e-5 drawn here"))
    point = "\n".join(textwrap.fill(line, 118) for line in _heldout_point(data).split("\n"))
    _legend_above(
        ax, handles, f"Converged networks on prompts they never saw, against the untrained π_ref\n{point}", 3
    )
    ax.title.set_fontsize(10)
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
        ref["per_task"] = {str(t["task_seed"]): dict(t["pi_ref_regret"]) for t in tasks}  # per-task comparisons
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
        paths.append(write_figure(payload, draw_record(payload), Path(out_dir) / f"bridge_{kind}"))
    return paths


def draw_record(record: dict) -> Any:
    """The figure of a bridge figure record, unsaved (``bandit.records.redraw`` saves it)."""
    return FIGURES[record["kind"]](record["data"])
