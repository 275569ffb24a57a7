"""Benchmark: run-steps per second of the sampled bandit trainer, three ways, in one process (goal ≥ 200×).

* **loop**: a plain per-run loop, R runs one after the other (S = 1 each), each minibatch as gathered pairs;
* **pair**: the R runs as one [R, A] tensor, minibatches as gathered pairs (``path="pair"``);
* **count**: the R runs as one [R, A] tensor, minibatches as count tables over the A² cells (``path="count"``, the
  default when A² ≤ B; see the ``bandit.dynamics`` module docstring).

All three use :func:`bandit.dynamics.train_sampled` (CoPG loss from ``bandit.losses``, torch.optim.Adam), at batch
B = 32 and the paper's 512 (n = 2048 pairs per run, ≥ 40 steps per run), on the paper's bandit (A = 3, Sec. 5) and
on a random A = 100 bandit. A run-step is one optimiser step of one run. The goal: count ≥ 200× loop at the paper's
batch 512, A = 3, 200 runs.
Writes benchmarks/results/bandit_vectorised.json.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from bandit.data import sample_pairs
from bandit.dynamics import train_sampled
from bandit.presets import PAPER, paper_problem
from bandit.problem import BanditProblem
from bandit.records import atomic_write_json

RUNS, GOAL, NUM_PAIRS = 200, 200.0, 2048


def _bandit(arms: int):
    if arms == 3:
        return paper_problem(), torch.tensor(PAPER["mu1"]), torch.tensor(PAPER["mu2"])
    g = torch.Generator().manual_seed(0)
    problem = BanditProblem(torch.rand(arms, generator=g, dtype=torch.float64), torch.full((arms,), 1.0 / arms), 0.5)
    mu = torch.full((arms,), 1.0 / arms, dtype=torch.float64)
    return problem, mu, mu


def _rate(fn, run_steps: int, min_s: float = 1.0) -> float:
    """Run-steps per second of ``fn`` (repeated until ``min_s`` seconds have passed)."""
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        wall = time.perf_counter() - start
        if wall >= min_s:
            return reps * run_steps / wall


def _measure(arms: int, batch_size: int) -> dict:
    problem, mu1, mu2 = _bandit(arms)
    data = sample_pairs(problem, mu1, mu2, NUM_PAIRS, RUNS, seed=0)
    single = [sample_pairs(problem, mu1, mu2, NUM_PAIRS, 1, seed=s) for s in range(RUNS)]
    epochs = max(1, 40 * batch_size // NUM_PAIRS)  # ≥ 40 steps per run: the per-call set-up is amortised as in use
    steps = epochs * -(-NUM_PAIRS // batch_size)
    kw = {"batch_size": batch_size}
    train_sampled("copg", problem, single[0], 1, path="pair", **kw)  # warm-up (torch.optim's first import)

    def loop():
        for d in single:
            train_sampled("copg", problem, d, epochs, path="pair", **kw)

    rates = {
        "loop": _rate(loop, RUNS * steps, min_s=0.0),  # one pass of the R runs is long enough
        "pair": _rate(lambda: train_sampled("copg", problem, data, epochs, path="pair", **kw), RUNS * steps),
        "count": _rate(lambda: train_sampled("copg", problem, data, epochs, path="count", **kw), RUNS * steps),
    }
    return {
        "arms": arms,
        "batch_size": batch_size,
        "runs": RUNS,
        "steps_per_run": steps,
        "auto_path": "count" if arms * arms <= batch_size else "pair",
        **{f"{k}_run_steps_per_s": round(v, 1) for k, v in rates.items()},
        "pair_speedup": round(rates["pair"] / rates["loop"], 1),
        "count_speedup": round(rates["count"] / rates["loop"], 1),
    }


def main() -> dict:
    """Run the benchmark, print measured vs goal, and return the result dict."""
    torch.set_num_threads(1)
    rows = [_measure(a, b) for a in (3, 100) for b in (32, 512)]
    paper = next(r for r in rows if r["arms"] == 3 and r["batch_size"] == 512)
    result = {"benchmark": "bandit_vectorised", "goal_speedup": GOAL, "rows": rows,
              "met": paper["count_speedup"] >= GOAL, "torch_threads": torch.get_num_threads(),
              "load_avg_1min": os.getloadavg()[0]}  # fmt: skip
    print(f"{'A':>4} {'B':>4} {'loop':>10} {'pair':>10} {'count':>10}  run-steps/s ({RUNS} runs)   pair×   count×")
    for r in rows:
        loop, pair, count = (r[f"{k}_run_steps_per_s"] for k in ("loop", "pair", "count"))
        print(
            f"{r['arms']:>4} {r['batch_size']:>4} {loop:>10,.0f} {pair:>10,.0f} {count:>10,.0f}  {'':24} "
            f"{r['pair_speedup']:>5.1f} {r['count_speedup']:>7.1f}"
        )
    print(f"count path vs per-run loop at A = 3, B = 512: {paper['count_speedup']:.0f}x "
          f"(goal ≥ {GOAL:g}x: {'MET' if result['met'] else 'NOT MET'})")  # fmt: skip
    atomic_write_json(Path(__file__).parent / "results" / "bandit_vectorised.json", result)  # temp file, then rename
    return result


if __name__ == "__main__":
    main()
