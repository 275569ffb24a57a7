"""Benchmark: run-steps per second of the seed-vectorised sampled trainer vs a plain per-run loop (goal ≥ 50×).

Both sides use :func:`bandit.dynamics.train_sampled` on the paper's bandit (Sec. 5: Adam, batch 512, CoPG loss from
``bandit.losses``), in the same process: the loop trains R runs one after the other (S = 1 each), the vectorised
trainer trains the same R runs as one [R, A] tensor. A run-step is one optimiser step of one run. Also reported for
a small batch (B = 32), where per-step overhead rather than per-sample arithmetic dominates.
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
from bandit.records import atomic_write_json

RUNS, GOAL = 200, 50.0


def _measure(batch_size: int, num_pairs: int, epochs: int) -> dict:
    problem = paper_problem()
    mu1, mu2 = torch.tensor(PAPER["mu1"]), torch.tensor(PAPER["mu2"])
    data = sample_pairs(problem, mu1, mu2, num_pairs, RUNS, seed=0)
    single = [sample_pairs(problem, mu1, mu2, num_pairs, 1, seed=s) for s in range(RUNS)]
    train_sampled("copg", problem, single[0], 1, batch_size)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    for d in single:
        h = train_sampled("copg", problem, d, epochs, batch_size)
    loop_s, loop_cpu = time.perf_counter() - start, time.process_time() - cpu
    steps = epochs * h.steps_per_epoch
    reps = 5  # the vectorised run is short: repeat it for a stable timing
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(reps):
        train_sampled("copg", problem, data, epochs, batch_size)
    vec_s, vec_cpu = (time.perf_counter() - start) / reps, (time.process_time() - cpu) / reps
    loop_rate, vec_rate = RUNS * steps / loop_s, RUNS * steps / vec_s
    return {
        "batch_size": batch_size,
        "runs": RUNS,
        "steps_per_run": steps,
        "loop_s": round(loop_s, 3),
        "loop_cpu_s": round(loop_cpu, 3),
        "vectorised_s": round(vec_s, 4),
        "vectorised_cpu_s": round(vec_cpu, 4),
        "loop_run_steps_per_s": round(loop_rate, 1),
        "vectorised_run_steps_per_s": round(vec_rate, 1),
        "speedup": round(vec_rate / loop_rate, 2),
        "speedup_cpu_time": round(loop_cpu / vec_cpu, 2),  # same R runs x steps on both sides
    }


def main() -> dict:
    """Run the benchmark, print measured vs goal, and return the result dict."""
    torch.set_num_threads(1)
    rows = [_measure(512, 2048, 2), _measure(32, 256, 2)]
    result = {"benchmark": "bandit_vectorised", "goal_speedup": GOAL, "paper_batch": rows[0], "small_batch": rows[1],
              "met": rows[0]["speedup"] >= GOAL, "torch_threads": torch.get_num_threads(),
              "load_avg_1min": os.getloadavg()[0]}  # fmt: skip
    for r in rows:
        print(
            f"vectorised trainer, {RUNS} runs, batch {r['batch_size']}: {r['vectorised_run_steps_per_s']:,.0f} "
            f"run-steps/s vs per-run loop {r['loop_run_steps_per_s']:,.0f} run-steps/s = {r['speedup']:.1f}x "
            f"(CPU-time ratio {r['speedup_cpu_time']:.1f}x) "
            f"(goal ≥ {GOAL:g}x: {'MET' if r['speedup'] >= GOAL else 'NOT MET'})"
        )
    atomic_write_json(Path(__file__).parent / "results" / "bandit_vectorised.json", result)  # temp file, then rename
    return result


if __name__ == "__main__":
    main()
