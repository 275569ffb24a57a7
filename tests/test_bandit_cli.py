"""`python -m bandit`: help for every subcommand, tiny runs of every experiment (JSON contract + PNG), redraw from
JSON, and user errors as one-line messages with a non-zero exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bandit.__main__ import main
from bandit.experiments import EXPERIMENTS, file_stem

TINY = {
    "paper-fig1": ["--seeds", "2", "--epochs", "2", "--num-pairs", "600", "--max-exact-epochs", "5"],
    "offpolicy-sweep": ["--seeds", "2", "--epochs", "1", "--num-pairs", "300", "--alphas", "0", "1",
                        "--exact-points", "3", "--methods", "copg", "pg"],
    "beta-sweep": ["--seeds", "2", "--epochs", "1", "--num-pairs", "300", "--betas", "0.5", "--exact-betas", "3",
                   "--methods", "copg"],
    "data-size": ["--seeds", "3", "--sizes", "50", "500", "--sampled-sizes", "300", "--sampled-seeds", "2",
                  "--sampled-steps", "4"],
    "support": ["--seeds", "2", "--epochs", "1", "--num-pairs", "300", "--methods", "copg", "pg_value"],
    "simplex": ["--seeds", "1", "--epochs", "1", "--num-pairs", "300", "--flow-steps", "20",
                "--methods", "copg", "ipo"],
}  # fmt: skip


@pytest.mark.parametrize("name", [*EXPERIMENTS, "all", "plot"])
def test_help(name, capsys):
    """Every subcommand has --help, and every option is explained (no bare flags); plot documents its positional
    JSON path and its --out option."""
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--out" in out and "(default" in out
    if name == "plot":
        assert "PATH" in out and "JSON record" in out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_tiny_run_writes_json_and_png(name, tmp_path):
    """A tiny run writes <stem>.json (bandit.records provenance, drawer, seeds, data) and <stem>.png; `plot`
    redraws the PNG through bandit.records.redraw."""
    assert main([name, "--out", str(tmp_path), "--no-progress", *TINY[name]]) == 0
    stem = file_stem(name)
    rec = json.loads((tmp_path / f"{stem}.json").read_text())
    png = tmp_path / f"{stem}.png"
    assert png.stat().st_size > 1000
    assert rec["experiment"] == stem and rec["drawer"] == "bandit.plotting"
    assert {
        "command",
        "config",
        "versions",
        "git_revision",
        "hardware",
        "wall_clock_s",
        "seeds",
        "methods" if name != "data-size" else "sizes",
    } <= set(rec)
    assert {"python", "copg", "torch", "numpy"} <= set(rec["versions"])
    assert rec["command"].startswith(f"python -m bandit {name}")
    if name == "paper-fig1":
        assert rec["epochs"] == [1, 2]
        for m in ("copg", "ipo", "pg", "pg_value"):
            e = rec["methods"][m]
            assert len(e["regret_mean"]) == len(e["regret_std"]) == 2
            assert len(e["final_policy_mean"]) == len(e["stationary_policy"]) == 3
            assert isinstance(e["stationary_regret"], float)
        assert rec["config"]["lr"] == 1e-3 and rec["config"]["batch_size"] == 512
    png.unlink()
    assert main(["plot", str(tmp_path / f"{stem}.json")]) == 0
    assert png.exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["paper-fig1", "--beta", "-1"], "beta must be a finite float > 0"),
        (["paper-fig1", "--methods", "nope"], "unknown method 'nope'"),
        (["support", "--mu1", "0.5", "0.5", "0.5"], "sums to"),
        (["plot", "/nonexistent/x.json"], "no such file"),
    ],
)
@pytest.mark.slow
def test_user_errors_are_one_line(args, match, tmp_path):
    """User errors: one line on stderr, exit code 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "bandit", *args, "--out", str(tmp_path)] if args[0] != "plot" else
        [sys.executable, "-m", "bandit", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert match in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
