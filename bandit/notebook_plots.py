"""Helpers of the teaching notebooks: figures that are not experiment records, and code shown beside its maths.

The notebooks keep their cells short: a figure with more than a few lines of matplotlib lives here, drawn in the
colours of :mod:`bandit.style`; code is shown from the package itself (``inspect``), never copied into a notebook.
Nothing here computes a loss: every number a figure draws is computed by the caller with :mod:`bandit.losses` and
the modules built on it.
"""

from __future__ import annotations

import ast
import html
import inspect
import textwrap
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from bandit.plotting import DATA_MARKERS, draw_simplex_overlay, simplex_xy
from bandit.style import style

__all__ = ["SideBySide", "function_body", "regression_scatter", "side_by_side", "simplex_picture", "theorem1_figure"]


def function_body(fn: Callable, start: str | None = None) -> str:
    """The source of ``fn`` without its signature and docstring: the lines that compute (read from the package).

    Args:
        fn: a Python function (e.g. :func:`bandit.losses.copg_loss`).
        start: if given, the body from its first line containing this text (e.g. past the input checks).
    Returns:
        The body, dedented, as a string of code lines.
    Raises:
        ValueError if ``fn`` is not a ``def`` function or ``start`` is not in its body.
    """
    source = textwrap.dedent(inspect.getsource(fn))
    node = ast.parse(source).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise ValueError(f"function_body: {fn!r} is not a function defined with def; pass a function")
    statements = node.body
    if isinstance(statements[0], ast.Expr) and isinstance(getattr(statements[0], "value", None), ast.Constant):
        statements = statements[1:]  # the docstring
    lines = source.splitlines()[statements[0].lineno - 1 : node.end_lineno]
    if start is not None:
        hits = [i for i, line in enumerate(lines) if start in line]
        if not hits:
            raise ValueError(f"function_body: {start!r} is not in the body of {fn.__name__}; pass a text of its code")
        lines = lines[hits[0] :]
    return textwrap.dedent("\n".join(lines))


class SideBySide:
    """Texts in columns: HTML in Jupyter (``_repr_html_``), the columns one after the other as plain text."""

    def __init__(self, columns: Sequence[tuple[str, str]]):
        self.columns = list(columns)

    def _repr_html_(self) -> str:
        cells = "".join(
            f'<td style="vertical-align:top;text-align:left"><b>{html.escape(title)}</b>'
            f'<pre style="font-size:11px">{html.escape(text)}</pre></td>'
            for title, text in self.columns
        )
        return f"<table><tr>{cells}</tr></table>"

    def __repr__(self) -> str:
        return "\n\n".join(f"── {title} ──\n{text}" for title, text in self.columns)


def side_by_side(*columns: tuple[str, str]) -> SideBySide:
    """Show (title, text) columns beside each other (e.g. pseudocode and the code that implements it).

    Args:
        columns: (title, text) pairs, left to right.
    Returns:
        A :class:`SideBySide`; ``display`` it, or let it be a cell's last value.
    """
    return SideBySide(columns)


def simplex_picture(record: dict, front: str = "copg") -> plt.Figure:
    """The simplex figure of a ``"simplex"`` record, with the data distributions μ1, μ2 marked and one method's flow
    drawn on top (thicker), so that a method it coincides with (DPO at τ = β) cannot hide it.

    Args:
        record: a record of :func:`bandit.experiments.make_record` for the ``"simplex"`` experiment.
        front: the method whose flow is drawn in front of the others.
    Returns:
        The matplotlib Figure (unsaved).
    """
    if front not in record["methods"]:
        raise ValueError(f"simplex_picture: front={front!r} is not a method of the record; use one of "
                         f"{list(record['methods'])}")  # fmt: skip
    fig = draw_simplex_overlay(record, front=front)
    ax = fig.axes[0]
    for key, (marker, label) in DATA_MARKERS.items():
        xy = simplex_xy(np.asarray(record["config"][key], dtype=float))
        ax.plot(*xy, marker=marker, color="0.3", ms=10, ls="none", label=label, zorder=6)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 1.0), markerscale=0.6)
    return fig


def theorem1_figure(
    grid: np.ndarray,
    loss_gap: np.ndarray,
    flows: np.ndarray,
    kl: np.ndarray,
    optimal_policy: np.ndarray,
    pg_policy: np.ndarray,
    record_every: int,
) -> plt.Figure:
    """Theorem 1 in two panels: the expected CoPG loss over the simplex with CoPG flows ending at π*, and
    KL(π‖π*) along many runs.

    Args:
        grid: [G, 3] interior policies of the triangular grid.
        loss_gap: [G] expected loss minus its value at π* (≥ 0) at each grid policy.
        flows: [T, R, 3] policies along R CoPG flows (left panel).
        kl: [T', S] KL(π‖π*) along S runs, one row every ``record_every`` steps (right panel).
        optimal_policy: [3] π*.
        pg_policy: [3] where naive PG (b = 0) stops on the same data.
        record_every: gradient steps between two rows of ``kl``.
    Returns:
        The matplotlib Figure (unsaved).
    """
    copg, pg = style("copg").color, style("pg").color
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    xy = simplex_xy(grid)
    # log scale: a gap of exactly 0 (a grid point on π*) is drawn at 1e-12; the lightest colour is the smallest gap on
    # the grid, i.e. the grid point nearest π*, whose value sets where the colourbar ends
    cs = ax.tricontourf(xy[:, 0], xy[:, 1], np.log10(np.maximum(loss_gap, 1e-12)), levels=20, cmap="Greys")
    lowest = float(np.log10(max(loss_gap.min(), 1e-12)))
    fig.colorbar(
        cs, ax=ax, label=f"log10( expected loss − loss at π* ); lightest = grid point nearest π* ({lowest:.1f})"
    )
    for k in range(flows.shape[1]):
        path = simplex_xy(flows[:, k])
        ax.plot(path[:, 0], path[:, 1], color=copg, lw=1.5, label="CoPG flows from random starts" if k == 0 else None)
        ax.plot(*path[0], "o", color=copg, ms=4)
    ax.plot(*simplex_xy(optimal_policy), "k*", ms=14, label="π*")
    ax.plot(*simplex_xy(pg_policy), "x", color=pg, ms=10, mew=2, label="where naive PG (b = 0) stops")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        "Expected CoPG loss over the simplex (paper μ1, μ2)\n"
        "corners: arm 0 bottom-left, arm 1 bottom-right, arm 2 top",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper left")
    steps = np.arange(kl.shape[0]) * record_every
    floor = 1e-17
    ax2.semilogy(steps, np.maximum(kl, floor), color=copg, alpha=0.3, lw=0.8)
    ax2.semilogy(steps, np.maximum(np.median(kl, axis=1), floor), color="k", lw=2, label="median run")
    ax2.set_ylim(bottom=floor)
    ax2.set_xlabel("gradient step (exact expected gradient)")
    ax2.set_ylabel("KL(π ‖ π*)  (floored at 1e-17: float64 rounding)")
    ax2.set_title(f"{kl.shape[1]} runs, each with random μ1, μ2 and a random start: all reach π*", fontsize=9)
    ax2.legend()
    return fig


def regression_scatter(
    centred_rewards: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray, str]],
    tied: np.ndarray | None = None,
) -> plt.Figure:
    """CoPG's regression made visible: per completion, β·ln π/π_ref against the reward, both centred within their
    prompt, one panel per policy, with the line CoPG's loss fits (slope 1: β·ln π/π_ref = R + a constant per prompt).

    Args:
        centred_rewards: [N, K] R(x, y_i) minus the mean of its prompt's K rewards.
        panels: (title, [N, K] β·ln π/π_ref minus its prompt's mean, colour) per panel, left to right; the panels
            share their axes, so a flat cloud (π = π_ref) looks flat beside a tilted one.
        tied: [N] bool, the prompts whose K rewards are all equal (drawn as open circles at reward 0), or None.
    Returns:
        The matplotlib Figure (unsaved).
    """
    x = np.asarray(centred_rewards, dtype=float)
    ties = np.zeros(x.shape[0], dtype=bool) if tied is None else np.asarray(tied, dtype=bool)
    for title, y, _ in panels:
        if np.shape(y) != x.shape:
            raise ValueError(f"regression_scatter: panel {title!r} has shape {np.shape(y)}, the rewards {x.shape}")
    if ties.shape != (x.shape[0],):
        raise ValueError(f"regression_scatter: tied has shape {ties.shape}; pass one flag per prompt ({x.shape[0]})")
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels), 3.8), sharex=True, sharey=True, layout="constrained", squeeze=False
    )
    span = max(float(np.abs(x).max()), max(float(np.abs(y).max()) for _, y, _ in panels), 1e-3) * 1.1
    for ax, (title, y, color) in zip(axes[0], panels):
        y = np.asarray(y, dtype=float)
        ax.axline((0, 0), slope=1, color="0.3", ls="--", lw=1, label="CoPG's target: slope 1")
        ax.axhline(0, color=style("sft").color, lw=0.8, label="π = π_ref")
        ax.scatter(x[~ties].ravel(), y[~ties].ravel(), s=18, color=color, alpha=0.7, label="rewards differ")
        if ties.any():
            ax.scatter(x[ties].ravel(), y[ties].ravel(), s=24, facecolors="none", edgecolors=color, label="tied")
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
        ax.set_xlabel("R − prompt mean  (standardised)")
    axes[0][0].set_ylabel("β·ln π/π_ref − prompt mean")
    axes[0][0].legend(fontsize=7, loc="upper left")
    return fig
