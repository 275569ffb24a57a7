"""One style table for both labs: every method has the same colour and label in every figure.

The bandit lab and the LLM lab share method names where the method is the same (``copg``, ``ipo``, ``dpo``, ``pg``,
``pg_is``); lab-specific variants get their own row. Figures call :func:`style` and never pick colours themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "BETA_MARKERS",
    "MethodStyle",
    "STYLES",
    "style",
    "label_points",
    "holm_interval",
    "plain_label",
    "join_and",
]


@dataclass(frozen=True)
class MethodStyle:
    """How a method is drawn."""

    color: str
    """A matplotlib colour."""
    label: str
    """Legend label."""


BETA_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "p")
"""The marker of each β of one method in a figure, smallest β first (the LLM and rung frontiers)."""

STYLES: dict[str, MethodStyle] = {
    # shared by both labs
    "copg": MethodStyle("tab:blue", "CoPG"),
    "ipo": MethodStyle("tab:orange", "IPO"),
    "dpo": MethodStyle("tab:brown", "DPO"),
    "pg": MethodStyle("tab:red", "PG, b = 0"),
    "pg_is": MethodStyle("tab:olive", "PG + IS"),
    # bandit lab
    "pg_value": MethodStyle("tab:purple", "PG, b = E_π[R]"),
    "pg_mean": MethodStyle("tab:pink", "PG, b = batch mean"),
    "onpolicy": MethodStyle("tab:green", "on-policy RLOO"),
    # LLM lab
    "copg_pair": MethodStyle("tab:cyan", "CoPG (pairs)"),
    "ipo_mean": MethodStyle("gold", "IPO (token mean)"),
    "online": MethodStyle("tab:green", "online CoPG (RLOO)"),
    "sft": MethodStyle("tab:gray", "SFT (π_ref)"),
    # the CoPG family under other names (bandit.family; the LLM lab's rows of the same names)
    "rebel": MethodStyle("navy", "REBEL, written as 2β·CoPG"),
    "qrpo_rebel": MethodStyle("royalblue", "REBEL, written as (2/β)·CoPG"),
    "command_a": MethodStyle("deepskyblue", "Command A k-sample = βk·CoPG"),
    "rpo_sq": MethodStyle("slateblue", "squared RPO, η = 1: 2β·CoPG"),
    "qrpo": MethodStyle("teal", "QRPO (quantile reward)"),
    "apo": MethodStyle("black", "A*-PO, exact V*"),
    "apo_n1": MethodStyle("lightcoral", "A*-PO offline, N = 1"),
    "apo_n4": MethodStyle("indianred", "A*-PO offline, N = 4"),
    "apo_n16": MethodStyle("darkred", "A*-PO offline, N = 16"),
    "apo_n1_onpolicy": MethodStyle("tab:gray", "A*-PO on-policy, N = 1"),
}


def style(method: str) -> MethodStyle:
    """The style of ``method``; unknown names get black with the name as label (a new method still draws)."""
    return STYLES.get(method, MethodStyle("k", method))


def label_points(ax, points: list[tuple[float, float, str]], fontsize: float = 8, avoid=(), **kw) -> None:
    """Write each text beside its (x, y) data point at the first of several offsets (above right, below right, above
    left, below left, right, left, above, below; then the same farther out) whose box stays inside the axes and
    overlaps no label placed before it, no point and no segment of ``avoid`` (data-space ((x0, y0), (x1, y1)) pairs,
    e.g. error bars' whiskers); where every offset collides, the one with the fewest collisions. Each label sits on a
    white ground, joined to its point by a thin line: labels of close points neither collide nor leave unclear which
    point they name. Call it once the axes' limits and layout are final. ``kw`` goes to ``ax.annotate``."""
    scale = ax.figure.dpi / 72  # points → pixels
    ax.get_xlim(), ax.get_ylim()  # settle the autoscaled limits before reading positions
    frame = ax.get_window_extent()
    marks = [tuple(ax.transData.transform((x, y))) for x, y, _ in points]  # no label covers another point either
    placed: list[tuple[float, float, float, float]] = [(mx - 5 * scale, my - 5 * scale, mx + 5 * scale,
                                                         my + 5 * scale) for mx, my in marks]  # fmt: skip
    lines = []  # the segments to keep clear of, as pixel boxes a little wider than the line
    for a, b in avoid:
        (x0, y0), (x1, y1) = ax.transData.transform(a), ax.transData.transform(b)
        lines.append(
            (min(x0, x1) - 2 * scale, min(y0, y1) - 2 * scale, max(x0, x1) + 2 * scale, max(y0, y1) + 2 * scale)
        )

    def hits(box: tuple[float, float, float, float]) -> int:
        outside = box[0] < frame.x0 or box[1] < frame.y0 or box[2] > frame.x1 or box[3] > frame.y1
        n = sum(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed + lines)
        return n + 100 * outside

    for x, y, text in points:
        px, py = ax.transData.transform((x, y))
        w, h = 0.62 * fontsize * len(text) + 4, fontsize + 4  # the text's box, in points (approximate)
        offsets = [(dx, dy) for g in (6, 15, 24, 40, 60)  # the gap to the point, nearest first
                   for dx, dy in ((g, g), (g, -g - h), (-g - w, g), (-g - w, -g - h), (g + 2, -h / 2),
                                  (-g - 2 - w, -h / 2), (-w / 2, g + 2), (-w / 2, -g - 2 - h))]  # fmt: skip
        boxes = [
            (px + dx * scale, py + dy * scale, px + (dx + w) * scale, py + (dy + h) * scale) for dx, dy in offsets
        ]
        costs = [hits(box) for box in boxes]
        k = costs.index(min(costs))  # the first offset that collides with nothing, if any
        dx, dy = offsets[k]
        placed.append(boxes[k])
        ax.annotate(text, (x, y), xytext=(dx + 2, dy + 2), textcoords="offset points", fontsize=fontsize,
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8),
                    arrowprops=dict(arrowstyle="-", lw=0.6, color=kw.get("color", "k"), shrinkA=0, shrinkB=3),
                    **kw)  # fmt: skip


def holm_interval(d: dict, alpha: float = 0.05) -> tuple[float, float] | None:
    """The t-interval of a difference ``d`` at the per-comparison level that Holm's step-down used for it,
    1 − alpha·p/p_holm: it excludes 0 exactly when ``p_holm ≤ alpha``, so a bar and a filled/hollow marker never
    disagree. ``d`` needs mean, low, high (the unadjusted 95 % t-interval), p and p_holm; sem and df are read when
    present, else recovered from the 95 % half-width and p. None when p or p_holm is missing."""
    from scipy import optimize, stats

    if d.get("p") is None or d.get("p_holm") is None:
        return None
    mean, half, p = d["mean"], (d["high"] - d["low"]) / 2, min(max(d["p"], 1e-300), 1.0)
    if half <= 0:
        return (mean, mean)
    df = d.get("df")
    if df is None:  # the df whose 95 % interval and two-sided p agree with the stored ones

        def gap(log_df: float) -> float:
            v = math.exp(log_df)
            return 2 * stats.t.sf(abs(mean) * stats.t.ppf(0.975, v) / half, v) - p

        lo, hi = math.log(0.05), math.log(1e6)
        df = math.exp(optimize.brentq(gap, lo, hi)) if gap(lo) * gap(hi) < 0 else 1e6
    sem = d.get("sem") or half / stats.t.ppf(0.975, df)
    level = alpha * p / max(d["p_holm"], p)
    w = sem * stats.t.ppf(1 - level / 2, df)
    return (mean - w, mean + w)


def plain_label(label: str) -> str:
    """A method label for running text: "PG, b = 0" → "PG (b = 0)", so a list of labels joined by commas counts
    right."""
    head, sep, tail = label.partition(", ")
    return f"{head} ({tail})" if sep else label


def join_and(items: list[str]) -> str:
    """Items in words: "a", "a and b", "a, b and c" ("" for none)."""
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"
