"""Benchmark: wall-clock time to regenerate every bandit figure (`python -m bandit all`, goal ≤ 30 s on 2 cores).

Runs the exact `make reproduce` command into a temporary directory (nothing is written into the repository except
benchmarks/results/bandit_figures.json) and reports the wall-clock (the goal), the CPU time of the process (a proxy
for the wall-clock on an otherwise idle machine; the run is single-threaded) and the per-figure times.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bandit.records import atomic_write_json

GOAL_S = 30.0


def main() -> dict:
    """Run `python -m bandit all` once, print measured vs goal, and return the result dict."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "bandit", "all", "--out", tmp, "--no-progress"],
            check=True, capture_output=True, text=True, env=os.environ | {"MPLBACKEND": "Agg"},
        )  # fmt: skip
        wall = time.perf_counter() - start
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        per_figure = {p.stem: json.loads(p.read_text())["wall_clock_s"] for p in sorted(Path(tmp).glob("*.json"))}
    load = os.getloadavg()[0]
    result = {"benchmark": "bandit_figures", "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_avg_1min": load,
              "goal_s": GOAL_S, "met": wall <= GOAL_S,
              "per_figure_compute_s": per_figure, "cpu_count": os.cpu_count()}  # fmt: skip
    print(
        f"python -m bandit all: {wall:.1f} s wall ({cpu:.1f} s CPU, load average {load:.1f}) for {len(per_figure)} "
        f"figures on {os.cpu_count()} cores "
        f"(goal ≤ {GOAL_S:g} s: {'MET' if result['met'] else 'NOT MET'}); per figure (compute only): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in per_figure.items())
    )
    atomic_write_json(Path(__file__).parent / "results" / "bandit_figures.json", result)  # temp file, then rename
    return result


if __name__ == "__main__":
    main()
