"""Bad command lines, every command: one line on stderr naming the input, exit code 2, nothing created or changed.

Each case runs the command in-process with its output directory under a fresh temporary directory; the test checks
the exit code, that stderr is exactly one ``<prog>: error: …`` line that names the offending input, and that no file
or directory appeared (a command must validate everything before it computes or writes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bandit.__main__ import main as bandit_main
from bandit.cli import condense_tyro_error

ROOT = Path(__file__).resolve().parent.parent

# (subcommand and arguments, a fragment the error line must contain: the input's name)
BANDIT_CASES = [
    (["paper-fig1", "--seeds", "0"], "--seeds"),
    (["paper-fig1", "--epochs", "-1"], "--epochs"),
    (["paper-fig1", "--lr", "nan"], "--lr"),
    (["paper-fig1", "--lr", "0"], "--lr"),
    (["paper-fig1", "--beta", "nan"], "beta"),
    (["paper-fig1", "--beta", "inf"], "beta"),
    (["paper-fig1", "--beta", "-1"], "beta"),
    (["paper-fig1", "--ipo-beta", "-1"], "--ipo-beta"),
    (["paper-fig1", "--ipo-beta", "nan"], "--ipo-beta"),
    (["paper-fig1", "--reward-noise", "nan"], "--reward-noise"),
    (["paper-fig1", "--rewards", "1", "nan", "2"], "rewards"),
    (["paper-fig1", "--ref-policy", "0.5", "0.5"], "ref_policy"),
    (["paper-fig1", "--ref-policy", "0.5", "0.5", "0.0"], "ref_policy"),
    (["paper-fig1", "--mu1", "-0.1", "0.6", "0.5"], "--mu1"),
    (["paper-fig1", "--mu1", "0.5", "0.5", "0.5"], "--mu1"),
    (["paper-fig1", "--mu2", "0.2", "0.2"], "--mu2"),
    (["paper-fig1", "--batch-size", "0"], "--batch-size"),
    (["paper-fig1", "--num-pairs", "0"], "--num-pairs"),
    (["paper-fig1", "--threshold", "nan"], "--threshold"),
    (["paper-fig1", "--threshold", "-1"], "--threshold"),
    (["paper-fig1", "--max-exact-epochs", "0"], "--max-exact-epochs"),
    (["paper-fig1", "--methods"], "--methods"),
    (["paper-fig1", "--methods", "copg", "copg"], "--methods"),
    (["paper-fig1", "--methods", "nope"], "nope"),
    (["paper-fig1", "--optimizer", "lbfgs"], "--optimizer"),
    (["paper-fig1", "--preference", "coin"], "--preference"),
    (["paper-fig1", "--seeds", "abc"], "--seeds"),
    (["paper-fig1", "--no-such-flag", "1"], "--no-such-flag"),
    (["no-such-experiment"], "no-such-experiment"),
    (["offpolicy-sweep", "--alphas", "-0.5"], "--alphas"),
    (["offpolicy-sweep", "--alphas", "nan"], "--alphas"),
    (["offpolicy-sweep", "--alphas", "1.5"], "--alphas"),
    (["offpolicy-sweep", "--alphas"], "--alphas"),
    (["offpolicy-sweep", "--exact-points", "0"], "--exact-points"),
    (["offpolicy-sweep", "--methods", "nope"], "nope"),
    (["beta-sweep", "--betas", "0"], "--betas"),
    (["beta-sweep", "--betas", "-1"], "--betas"),
    (["beta-sweep", "--betas", "inf"], "--betas"),
    (["beta-sweep", "--exact-betas", "1"], "--exact-betas"),
    (["data-size", "--sizes", "0"], "--sizes"),
    (["data-size", "--sizes"], "--sizes"),
    (["data-size", "--sampled-sizes", "0"], "--sampled-sizes"),
    (["data-size", "--sampled-seeds", "0"], "--sampled-seeds"),
    (["data-size", "--sampled-steps", "0"], "--sampled-steps"),
    (["data-size", "--reward-noise", "-1"], "--reward-noise"),
    (["support", "--missing", "7"], "--missing"),
    (["support", "--missing", "-1"], "--missing"),
    (["support", "--missing", "0", "1", "2"], "--missing"),
    (["simplex", "--flow-steps", "0"], "--flow-steps"),
    (["simplex", "--flow-lr", "-1"], "--flow-lr"),
    (["simplex", "--flow-lr", "nan"], "--flow-lr"),
    (["simplex", "--flow-optimizer", "rmsprop"], "--flow-optimizer"),
    (["simplex", "--seeds", "-1"], "--seeds"),
    (["loss-family", "--exact-points", "1"], "--exact-points"),
    (["loss-family", "--lengths", "1", "2"], "--lengths"),
    (["loss-family", "--lengths", "1", "nan", "2"], "--lengths"),
    (["loss-family", "--lengths", "1", "inf", "2"], "--lengths"),
    (["loss-family", "--apo-samples", "0"], "--apo-samples"),
    (["loss-family", "--apo-samples"], "--apo-samples"),
    (["all", "--seeds", "0"], "--seeds"),
    (["all", "--epochs", "-2"], "--epochs"),
]


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def _check_one_line(capsys, prog: str, needle: str) -> None:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith(f"{prog}: error: "), err[0]
    assert needle in err[0], (needle, err[0])
    assert "Traceback" not in err[0]


@pytest.mark.parametrize(("args", "needle"), BANDIT_CASES, ids=[" ".join(a) for a, _ in BANDIT_CASES])
def test_bandit_bad_input(args, needle, tmp_path, capsys):
    out = tmp_path / "out"
    before = _snapshot(tmp_path)
    assert bandit_main([*args, "--out", str(out), "--no-progress"]) == 2
    _check_one_line(capsys, "python -m bandit", needle)
    assert _snapshot(tmp_path) == before and not out.exists()


def _figure(tmp_path: Path) -> Path:
    path = tmp_path / "support.json"
    path.write_text((ROOT / "figures" / "support.json").read_text())
    return path


PLOT_CASES = [
    (lambda t: ["plot", str(t)], "is a directory"),
    (lambda t: ["plot", str(t / "missing.json")], "missing.json"),
    (lambda t: ["plot", str(t / "support.json"), "--out", str(t / "x.txt")], "x.txt"),
    (lambda t: ["plot", str(t / "support.json"), "--out", str(t / "support.json" / "x.png")], "support.json"),
    (lambda t: ["plot", str(t / "bad.json")], "bad.json"),
    (lambda t: ["plot"], "PATH"),
]


@pytest.mark.parametrize(("make", "needle"), PLOT_CASES)
def test_plot_bad_input(make, needle, tmp_path, capsys):
    _figure(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"drawer": "os", "experiment": "support"}))
    before = _snapshot(tmp_path)
    assert bandit_main(make(tmp_path)) == 2
    _check_one_line(capsys, "python -m bandit", needle)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "╭─ Invalid choice ──╮\n│ invalid choice 'x' for '--o'. │\n│ ──── │\n│ For full helptext, run p │\n╰──╯",
            "invalid choice 'x' for '--o'.",
        ),
        (
            " Invalid choice \n ------ \n  invalid choice 'x' for\n  '--o'.  \n  ------ \n  For full helptext",
            "invalid choice 'x' for '--o'.",
        ),
        (
            "╭─ Unrecognized options ─╮\n│ Unrecognized options: nope │\n│ ─── │\n│ Available: a, b │\n╰─╯",
            "Unrecognized options: nope",
        ),
        ("", "could not parse the command line"),
    ],
)  # fmt: skip
def test_condense_tyro_error_layouts(text, expected):
    """rich's three layouts of a tyro error (Unicode box, no box with the title apart, a box without a title)."""
    assert condense_tyro_error(text) == expected
