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
    "loss-family": ["--exact-points", "3", "--apo-samples", "1", "4"],
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
    assert main(["plot", str(tmp_path / f"{stem}.json"), "--out", str(tmp_path)]) == 0
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


def test_outputs_default_under_runs_and_claims_are_printed(tmp_path, monkeypatch, capsys):
    """The default --out is runs/bandit (never figures/), and the run ends with its claims checked (✓/✗)."""
    monkeypatch.chdir(tmp_path)
    assert main(["paper-fig1", "--no-progress", *TINY["paper-fig1"]]) == 0
    assert (tmp_path / "runs" / "bandit" / "paper_fig1.json").exists()
    out = capsys.readouterr().out
    claims = json.loads((tmp_path / "runs" / "bandit" / "paper_fig1.json").read_text())["claims"]
    assert claims and all(set(c) == {"text", "holds"} for c in claims)
    for c in claims:
        assert f"{'✓' if c['holds'] else '✗'} {c['text']}" in out


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_tracked_figures_need_an_explicit_flag(tmp_path, capsys):
    """A directory whose target files git tracks is refused before any computation, unchanged; --replace-tracked
    overwrites them and says so."""
    _git(tmp_path, "init", "-q")
    fig = tmp_path / "figures"
    fig.mkdir()
    (fig / "support.json").write_text("{}")
    _git(tmp_path, "add", ".")
    assert main(["support", "--out", str(fig), "--no-progress", *TINY["support"]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tracked by git" in err[0] and "--replace-tracked" in err[0]
    assert (fig / "support.json").read_text() == "{}" and not (fig / "support.png").exists()
    assert main(["support", "--out", str(fig), "--replace-tracked", "--no-progress", *TINY["support"]]) == 0
    assert "replaced 1 tracked file(s)" in capsys.readouterr().out
    assert json.loads((fig / "support.json").read_text())["experiment"] == "support"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--out", "FILE"], "is a file, not a directory"),
        (["--threshold", "-1"], "--threshold must be a finite number > 0"),
        (["--max-exact-epochs", "-1"], "--max-exact-epochs must be an integer in [1, "),
    ],
)
def test_bad_options_fail_in_one_line_before_computing(args, needle, tmp_path, capsys):
    (tmp_path / "FILE").write_text("not a directory")
    args = [str(tmp_path / "FILE") if a == "FILE" else a for a in args]
    assert main(["paper-fig1", "--no-progress", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]
    assert not list(tmp_path.glob("*.json"))


def test_beta_accepts_any_real_scalar():
    """β given as a numpy or torch scalar is a number like any other (it was rejected as 'float32')."""
    import numpy as np
    import torch

    from bandit.losses import copg_loss
    from bandit.problem import BanditProblem

    logps = torch.zeros(1, 2)
    ref = torch.zeros(1, 2)
    rewards = torch.tensor([[1.0, 0.0]])
    expected = copg_loss(logps, ref, rewards, 0.1)
    for beta in (np.float32(0.1), np.float64(0.1), torch.tensor(0.1).item()):
        assert torch.allclose(copg_loss(logps, ref, rewards, beta), expected)
    BanditProblem(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5]), np.float32(0.5))


def test_claims_are_computed_from_the_numbers(tmp_path):
    """A claim's verdict follows the record's numbers: doctor them and the verdict flips (no hard-coded ✓)."""
    import copy

    from bandit.experiments.claims import check_claims

    assert main(["paper-fig1", "--out", str(tmp_path), "--no-progress", *TINY["paper-fig1"]]) == 0
    rec = json.loads((tmp_path / "paper_fig1.json").read_text())
    verdicts = {c["text"].split(":")[0]: c["holds"] for c in check_claims("paper_fig1", rec)}
    assert verdicts["IPO is biased"] is True
    bad = copy.deepcopy(rec)
    bad["methods"]["ipo"]["stationary_regret"] = 0.0
    bad["methods"]["copg"]["stationary_regret"] = 0.2
    flipped = {c["text"].split(":")[0]: c["holds"] for c in check_claims("paper_fig1", bad)}
    assert flipped["IPO is biased"] is False
    assert not next(c for c in check_claims("paper_fig1", bad) if c["text"].startswith("CoPG"))["holds"]
    assert check_claims("data_size", {"slope": -2.0})[0]["holds"] is False
    assert check_claims("no_such_experiment", rec) == []
