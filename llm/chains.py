"""Replication over chains: the real-text comparison re-run on independent π_ref + data chains.

Every interval of ``python -m llm pipeline`` is over training seeds × evaluation prompts *within one chain* (one
π_ref, one set of offline datasets). The chain is a source of variance those intervals do not contain: an earlier
release's verdicts changed when part 1 changed. This command runs the whole pipeline once per chain seed (part 1's
SFT and sampling seeds; the corpus and the evaluation prompts are shared), each with its own learning-rate selection,
and calls a CoPG-vs-baseline comparison **replicated** only when it survives the Holm correction of *every* chain's
family, with the same sign. With two chains that is the issue's "verdicts per chain, replication required"; a random
effect over two chains would have one degree of freedom.

Example (`make reproduce-llm`)::

    python -m llm chains --preset small --chains 2 --workers 2 --figures figures --replace-tracked

Chain 0 is the pipeline's own run (``runs/<preset>``, its five figures in ``--figures``); chain c ≥ 1 runs in
``runs/<preset>-chain<c>`` with its figures there. ``llm_chains.{png,json}`` in ``--figures`` shows every comparison
in every chain and says which replicate.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import matplotlib.pyplot as plt
import tyro

from bandit.records import prepare_output_dir, provenance, write_figure
from bandit.style import holm_interval
from llm.pipeline import PipelineConfig, plan, report, run_pipeline
from llm.plots import mu_label
from llm.presets import preset_help
from llm.run import UserError, check_run_dir, cli_errors, parse_cli

__all__ = ["ChainsConfig", "comparisons", "replicate", "run_chains", "draw_record", "main"]

CHAIN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
"""One colour per chain in ``llm_chains`` (blue, red, green, purple)."""


@dataclasses.dataclass(frozen=True)
class ChainsConfig:
    """Run the real-text pipeline on several independent π_ref + data chains and report which verdicts replicate."""

    preset: Annotated[str, tyro.conf.arg(help=preset_help("model, data and training budgets of every chain."))] = (
        "small"
    )
    chains: int = 2
    """Chains (part-1 seeds 0..N−1); ≥ 2 (replication needs two)."""
    run_dir: str | None = None
    """Chain 0's run directory (default runs/<preset>); chain c ≥ 1 uses <run_dir>-chain<c>."""
    figures: str | None = None
    """Directory of chain 0's five figures and of llm_chains.{png,json}; default <run_dir>/figures."""
    workers: int = 1
    """Alignment runs trained in parallel processes (results do not depend on it)."""
    replace_tracked: bool = False
    """Allow overwriting figures tracked by git in --figures (`make reproduce-llm` passes it)."""
    progress: bool = True
    """Show progress bars (--no-progress turns them off)."""


def comparisons(summary: dict) -> list[dict[str, Any]]:
    """Every CoPG-vs-baseline comparison of a pipeline summary, in its Holm family's order, with its interval:
    ``{"comparison", "mean", "low", "high", "p", "p_holm", "significant"}``."""
    found = []
    for row in summary["jbeta"]:
        found += list(row["copg_minus"].values())
    found += list(summary["paired_best"].values())
    if summary.get("offpolicy"):
        found += [r["copg_minus_pg"] for r in summary["offpolicy"]["rows"]]
    family = summary["holm"]["comparisons"]
    if len(found) != len(family) or any(abs(d["mean"] - f["mean"]) > 1e-12 for d, f in zip(found, family)):
        raise ValueError("comparisons: the summary's comparisons do not match its Holm family (another version's?)")
    keys = ("mean", "low", "high", "p", "p_holm", "significant")
    return [{"comparison": f["comparison"], **{k: d[k] for k in keys}} for d, f in zip(found, family)]


def replicate(per_chain: list[list[dict]]) -> list[dict[str, Any]]:
    """Join each comparison across chains: ``{"comparison", "chains": [one dict per chain], "replicated"}``, where
    replicated = it survives Holm in every chain, with the same sign everywhere."""
    names = [c["comparison"] for c in per_chain[0]]
    for i, chain in enumerate(per_chain[1:], start=1):
        if [c["comparison"] for c in chain] != names:
            raise ValueError(f"replicate: chain {i} reports other comparisons than chain 0; run every chain alike")
    out = []
    for j, name in enumerate(names):
        cs = [chain[j] for chain in per_chain]
        signs = {c["mean"] > 0 for c in cs}
        replicated = all(c["significant"] for c in cs) and len(signs) == 1
        out.append({"comparison": name, "chains": cs, "replicated": replicated})
    return out


def _chain_dir(run_dir: str, c: int) -> str:
    return run_dir if c == 0 else f"{run_dir}-chain{c}"


def run_chains(cfg: ChainsConfig, command: str = "") -> dict[str, Any]:
    """Every chain's pipeline, then ``llm_chains``; returns the record written to ``llm_chains.json``."""
    if cfg.chains < 2:
        raise UserError(f"chains: --chains must be ≥ 2 (replication needs two chains), got {cfg.chains}")
    if cfg.workers < 1:
        raise UserError(f"chains: --workers must be ≥ 1, got {cfg.workers}")
    run_dir = str(check_run_dir(cfg.run_dir or f"runs/{cfg.preset}", writable=True))
    figures = cfg.figures or str(Path(run_dir) / "figures")
    prepare_output_dir(figures, ["llm_chains.json", "llm_chains.png"], cfg.replace_tracked, flag="--figures")
    pcfgs = [
        PipelineConfig(
            preset=cfg.preset,
            run_dir=_chain_dir(run_dir, c),
            figures=figures if c == 0 else None,
            workers=cfg.workers,
            replace_tracked=cfg.replace_tracked and c == 0,
            chain_seed=c,
            progress=cfg.progress,
        )
        for c in range(cfg.chains)
    ]
    for pcfg in pcfgs:  # every chain's options checked before any work: a bad one is the only line printed
        plan(pcfg)
    summaries, artefacts, heldout = [], [], []
    for c, pcfg in enumerate(pcfgs):
        print(f"[chains] ══ chain {c} of {cfg.chains} (part-1 seed {c}) in {_chain_dir(run_dir, c)}", flush=True)
        out = run_pipeline(pcfg, command=f"{command} (chain {c})" if command else "")
        print(report(out["summary"]), flush=True)
        summaries.append(comparisons(out["summary"]))
        artefacts.append({k: v for k, v in out["config"]["artefacts"].items() if k != "corpus_sources"})
        heldout.append(out["summary"].get("heldout_check"))
    joined = replicate(summaries)
    data = {
        "chains": list(range(cfg.chains)),
        "run_dirs": [_chain_dir(run_dir, c) for c in range(cfg.chains)],
        "artefacts": artefacts,
        "comparisons": joined,
        "replicated": [j["comparison"] for j in joined if j["replicated"]],
        "heldout_check": heldout,
    }
    record = {
        **provenance(command or "python -m llm chains", dataclasses.asdict(cfg), packages=("torch", "transformers")),
        "drawer": "llm.chains",
        "name": "llm_chains",
        "kind": "chains",
        "data": data,
    }
    write_figure(record, draw_record(record), Path(figures) / "llm_chains")
    return record


def _plain(comparison: str) -> str:
    """A comparison's stored name in words: μ's dataset key spelled out, the paper-figure aside dropped."""
    name = comparison.replace(" (paper Fig. 6 view)", "")
    head, sep, mu = name.rpartition(" with μ = ")
    return f"{head}{sep}{mu_label(mu)}" if sep else name


def draw_record(record: dict) -> Any:
    """``llm_chains``: every comparison's 95 % interval in every chain (filled: survives Holm in that chain)."""
    data = record["data"]
    rows = data["comparisons"]
    n, k = len(rows), len(data["chains"])
    fig, ax = plt.subplots(figsize=(10, 0.55 * n + 1.8))
    for i, row in enumerate(rows):
        y = n - 1 - i
        for c, cs in enumerate(row["chains"]):
            dy = (c - (k - 1) / 2) * 0.22
            colour = CHAIN_COLOURS[c % len(CHAIN_COLOURS)]
            holm = holm_interval(cs)
            if holm is not None:
                ax.plot(holm, [y + dy] * 2, color=colour, lw=4, alpha=0.55, solid_capstyle="butt")
            ax.errorbar([cs["mean"]], [y + dy], xerr=[[cs["mean"] - cs["low"]], [cs["high"] - cs["mean"]]],
                        fmt="none", ecolor="0.35", elinewidth=1, capsize=3, zorder=3)  # fmt: skip
            ax.plot(cs["mean"], y + dy, "o", color=colour, mfc=colour if cs["significant"] else "white", ms=7,
                    label=f"chain {c}" if i == 0 else None)  # fmt: skip
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(n))
    ax.set_yticklabels(
        [("✓ " if r["replicated"] else "") + _plain(r["comparison"]) for r in rows][::-1],
        fontsize=8,
    )
    ax.set_xlabel("CoPG minus the baseline (standardised reward units; seeds and prompts both random: intervals are "
                  "wide where the few seeds disagree)\nthick, coloured: Holm-level interval (excludes 0 exactly when "
                  "the marker is filled); thin grey, capped: unadjusted 95 % interval")  # fmt: skip
    ax.set_title(
        f"Which CoPG-vs-baseline comparisons replicate across {k} independent π_ref + data chains?\n"
        f"filled: significant after Holm within its chain, hollow: not; replicated (significant in every chain with "
        f"one sign, marked ✓): {len(data['replicated'])} of {n}\nJ_β = E[R] − β·KL(π‖π_ref); "
        "μ = the policy that sampled the offline data",
        fontsize=9,
    )
    ax.plot([], [], color="0.3", lw=4, alpha=0.55, label="Holm-level interval")
    ax.errorbar([], [], xerr=[], fmt="none", ecolor="0.35", elinewidth=1, capsize=3, label="unadjusted 95 % interval")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    """``python -m llm chains``: every chain's pipeline, then the replication figure."""

    @cli_errors
    def _run() -> int:
        args = sys.argv[1:] if argv is None else list(argv)
        cfg = parse_cli(ChainsConfig, args, __doc__, "python -m llm chains")
        rec = run_chains(cfg, command="python -m llm chains " + shlex.join(args))
        rep = rec["data"]["replicated"]
        print(f"[chains] replicated in all {cfg.chains} chains: {len(rep)} of {len(rec['data']['comparisons'])}")
        for r in rep:
            print(f"  {r}")
        return 0

    return _run()


if __name__ == "__main__":
    sys.exit(main())
