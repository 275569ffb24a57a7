"""Bad command lines, every command: one line on stderr naming the input, exit code 2, nothing created or changed.

Each case runs the command in-process with its output directory under a fresh temporary directory; the test checks
the exit code, that stderr is exactly one ``<prog>: error: …`` line that names the offending input, and that no file
or directory appeared (a command must validate everything before it computes or writes).
"""

from __future__ import annotations

import json
import re
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
    (["paper-fig1", "--pref-beta", "-1"], "--pref-beta"),
    (["paper-fig1", "--pref-beta", "nan"], "--pref-beta"),
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
    (["loss-family", "--seeds", "3"], "--seeds"),
    (["loss-family", "--lr", "0.1", "--mu1", "0.2", "0.3", "0.5"], "--mu1"),
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
    # seeds, zero and runaway counts (refused before anything is allocated), repeated grid values
    (["paper-fig1", "--seed", "-1"], "--seed"),
    (["paper-fig1", "--seed", str(2**70)], "--seed"),
    (["paper-fig1", "--epochs", "0"], "--epochs"),
    (["paper-fig1", "--epochs", str(10**12)], "--epochs"),
    (["paper-fig1", "--num-pairs", str(10**12)], "--num-pairs"),
    (["paper-fig1", "--seeds", "10000"], "--num-pairs"),
    (["offpolicy-sweep", "--exact-points", str(10**12)], "--exact-points"),
    (["offpolicy-sweep", "--alphas", "0.5", "0.5"], "--alphas"),
    (["beta-sweep", "--betas", "1", "1"], "--betas"),
    (["data-size", "--sizes", "10", "10"], "--sizes"),
    (["data-size", "--sampled-sizes", "100", "100"], "--sampled-sizes"),
    (["data-size", "--sampled-sizes", str(10**12)], "--sampled-sizes"),
    (["support", "--missing"], "--missing"),
    (["support", "--missing", "0", "0"], "--missing"),
    (["simplex", "--flow-steps", str(10**12)], "--flow-steps"),
    (["loss-family", "--apo-samples", "1", "1"], "--apo-samples"),
    (["loss-family", "--exact-points", str(10**12)], "--exact-points"),
    (
        [
            "simplex",
            "--rewards",
            "1",
            "2",
            "3",
            "4",
            *[x for f in ("--ref-policy", "--mu1", "--mu2") for x in (f, *["0.25"] * 4)],
        ],
        "3 arms",
    ),  # fmt: skip
    # options the experiment would silently ignore
    (["offpolicy-sweep", "--mu1", "0.2", "0.3", "0.5"], "--mu1"),
    (["beta-sweep", "--beta", "0.3"], "--beta"),
    (["beta-sweep", "--pref-beta", "0.3"], "--pref-beta"),
    (["data-size", "--epochs", "5"], "--epochs"),
    (["data-size", "--num-pairs", "50"], "--num-pairs"),
    (["simplex", "--seeds", "0", "--epochs", "5"], "--epochs"),
]


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def _check_one_line(capsys, prog: str, needle: str) -> None:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith(f"{prog}: error: "), err[0]
    assert needle in err[0], (needle, err[0])
    assert "Traceback" not in err[0] and not re.search(r"Error parsing [A-Z]\w*:", err[0])  # tyro's wrapper


@pytest.mark.parametrize(("args", "needle"), BANDIT_CASES, ids=[" ".join(a) for a, _ in BANDIT_CASES])
def test_bandit_bad_input(args, needle, tmp_path, capsys):
    out = tmp_path / "out"
    before = _snapshot(tmp_path)
    assert bandit_main([*args, "--out", str(out), "--no-progress"]) == 2
    _check_one_line(capsys, "python -m bandit", needle)
    assert _snapshot(tmp_path) == before and not out.exists()


@pytest.mark.parametrize("argv", [["paper-fig1", "--out", ""], ["paper-fig1", "--out="], ["all", "--out", ""]])
def test_bandit_empty_value(argv, tmp_path, capsys, monkeypatch):
    """An empty value is refused, not read as the current directory (which would receive the figures)."""
    monkeypatch.chdir(tmp_path)
    assert bandit_main([*argv, "--no-progress"]) == 2
    _check_one_line(capsys, "python -m bandit", "--out")
    assert not any(tmp_path.iterdir())


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


# records a registered drawer cannot draw, or with a bad 'dpi' (each --out in a missing directory: it must not appear)
BROKEN_RECORDS = {
    "kind.json": {"experiment": "nope"},
    "drawer.json": {"drawer": "llm.plots"},
    "dpi.json": {"dpi": 10**7},
    "dpistr.json": {"dpi": "abc"},
}
PLOT_CASES += [
    (lambda t, name=name: ["plot", str(t / name), "--out", str(t / "new" / "x.png")], name) for name in BROKEN_RECORDS
]
PLOT_CASES += [
    (lambda t: ["plot", str(t / "nokeys.json"), "--out", str(t / "new" / "x.png")], "nokeys.json"),
    (lambda t: ["plot", str(t / "support.json"), "--out", ""], "--out"),
    (lambda t: ["plot", ""], "empty value"),
]


@pytest.mark.parametrize(("make", "needle"), PLOT_CASES)
def test_plot_bad_input(make, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty --out must not mean the current directory
    record = json.loads(_figure(tmp_path).read_text())
    (tmp_path / "bad.json").write_text(json.dumps({"drawer": "os", "experiment": "support"}))
    (tmp_path / "nokeys.json").write_text(json.dumps({"drawer": "bandit.plotting", "experiment": "support"}))
    for name, change in BROKEN_RECORDS.items():
        (tmp_path / name).write_text(json.dumps({**record, **change}))
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


# ---------------------------------------------------------------------------------------------------------------
# python -m llm: the same contract, against a real tiny run directory (corpus, tokenizer, SFT, offline data and one
# finished training run), which no bad command may touch.

FIXTURE = ROOT / "tests" / "fixtures" / "tiny_pairs.jsonl"


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory):
    from llm.data import corpus, tokenizer
    from llm.stages import sample, sft
    from llm.stages.train import main as train_main

    rd = tmp_path_factory.mktemp("bad_inputs_run")
    common = ["--preset", "tiny", "--run-dir", str(rd), "--no-progress"]
    corpus_args = ["--jsonl", str(FIXTURE), "--valid-frac", "0.2", "--test-frac", "0.1"]
    assert corpus.main([*common, *corpus_args]) == 0
    assert tokenizer.main(common) == 0
    assert sft.main([*common, "--sft-steps", "5"]) == 0
    assert sample.main([*common, "--dataset", "train"]) == 0
    finished = rd / "train" / "finished"
    assert train_main([*common, "--max-steps", "2", "--eval-prompts", "0", "--output-dir", str(finished)]) == 0
    assert (finished / "run.json").exists()
    (rd / "train" / "interrupted" / "checkpoint-2").mkdir(parents=True)  # a run stopped after its first checkpoint
    return rd


def _llm_main(stage: str):
    import importlib

    modules = {
        "corpus": "llm.data.corpus",
        "tokenizer": "llm.data.tokenizer",
        "sft": "llm.stages.sft",
        "reward": "llm.stages.reward_model",
        "sample": "llm.stages.sample",
        "train": "llm.stages.train",
        "eval": "llm.stages.eval_policy",
        "pipeline": "llm.pipeline",
        "bridge": "llm.bridge.experiment",
        "rung": "llm.bridge.rung",
        "chains": "llm.chains",
    }
    return importlib.import_module(modules[stage]).main


# (stage, arguments with RUN = the run directory, FILE = a regular file, FINISHED = a finished train run), needle
LLM_CASES = [
    ("corpus", ["--run-dir", "FILE"], "is a file"),
    ("corpus", ["--run-dir", "FILE/sub"], "is a file"),
    ("corpus", ["--preset", "nope"], "nope"),
    ("corpus", ["--jsonl", "/nonexistent/pairs.jsonl", "--run-dir", "NEW", "--force"], "/nonexistent/pairs.jsonl"),
    ("tokenizer", ["--run-dir", "FILE"], "is a file"),
    ("sft", ["--run-dir", "RUN", "--no-such-option", "1"], "--no-such-option"),
    ("sft", ["--run-dir", "RUN", "--force", "--sft-steps", "-1"], "sft-steps"),
    ("sft", ["--run-dir", "RUN", "--force", "--sft-lr", "nan"], "sft-lr"),
    ("sft", ["--run-dir", "RUN", "--force", "--sft-batch", "0"], "sft-batch"),
    ("reward", ["--run-dir", "RUN", "--force", "--rm-steps", "0"], "rm-steps"),
    ("reward", ["--run-dir", "RUN", "--force", "--rm-lr", "-1"], "rm-lr"),
    ("reward", ["--run-dir", "RUN", "--force", "--sample-temperature", "0"], "sample-temperature"),
    ("sample", ["--run-dir", "RUN", "--force", "--temperatures", "nan"], "temperatures"),
    ("sample", ["--run-dir", "RUN", "--force", "--offline-prompts", "0"], "offline-prompts"),
    ("sample", ["--run-dir", "RUN", "--force", "--batch-size", "0"], "batch-size"),
    ("sample", ["--run-dir", "RUN", "--force", "--reward", "vibes"], "reward"),
    ("tokenizer", ["--run-dir", "RUN", "--force", "--vocab-size", "0"], "vocab-size"),
    ("train", ["--run-dir", "RUN", "--per-device-train-batch-size", "0", "--output-dir", "NEW"], "batch_size"),
    ("sample", ["--run-dir", "RUN", "--k", "1", "--dataset", "other"], "k"),
    ("train", ["--run-dir", "RUN", "--max-steps", "0", "--output-dir", "NEW"], "max_steps"),
    ("train", ["--run-dir", "RUN", "--learning-rate", "nan", "--output-dir", "NEW"], "learning_rate"),
    ("train", ["--run-dir", "RUN", "--learning-rate", "-1", "--output-dir", "NEW"], "learning_rate"),
    ("train", ["--run-dir", "RUN", "--beta", "-1", "--output-dir", "NEW"], "beta"),
    ("train", ["--run-dir", "RUN", "--beta", "nan", "--output-dir", "NEW"], "beta"),
    ("train", ["--run-dir", "RUN", "--method", "nope", "--output-dir", "NEW"], "nope"),
    ("train", ["--run-dir", "RUN", "--output-dir", "FILE"], "is a file"),
    ("train", ["--run-dir", "RUN", "--method", "copg", "--is-clip", "2", "--output-dir", "NEW"], "--is-clip"),
    ("train", ["--run-dir", "RUN", "--method", "copg", "--online-k", "4", "--output-dir", "NEW"], "--online-k"),
    (
        "train",
        ["--run-dir", "RUN", "--method", "dpo", "--pg-baseline", "mean", "--output-dir", "NEW"],
        "--pg-baseline",
    ),
    ("train", ["--run-dir", "RUN", "--output-dir", "FINISHED"], "already holds a finished run"),
    ("train", ["--run-dir", "RUN", "--output-dir", "FINISHED", "--resume", "--force"], "conflict"),
    ("eval", ["--run-dir", "RUN", "--beta", "-1"], "--beta"),
    ("eval", ["--run-dir", "RUN", "--temperature", "nan"], "--temperature"),
    ("eval", ["--run-dir", "RUN", "--n-prompts", "0"], "--n-prompts"),
    ("eval", ["--run-dir", "RUN", "--model", "FILE"], "--model"),
    ("eval", ["--run-dir", "RUN", "--model", "NEW"], "does not exist"),
    ("eval", ["--run-dir", "RUN", "--out", "RUN"], "--out"),
    ("eval", ["--run-dir", "RUN", "--reward", "vibes"], "--reward"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--betas", "-1"], "--betas"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--betas", "nan"], "--betas"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--seeds", "0"], "--seeds"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--max-steps", "0"], "--max-steps"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--workers", "0"], "--workers"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--offpolicy", "T0"], "T0"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--offpolicy", "Tinf"], "Tinf"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--methods", "nope"], "nope"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--skip-part1", "--force"], "--skip-part1"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--allow-weak-rm"], "--allow-weak-rm"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "FILE"], "is a file"),
    ("pipeline", ["--preset", "nope"], "nope"),
    # the exact bridge (NEW: its --out; every case is rejected before the SFT starts)
    *[
        ("bridge", ["--out", "NEW", *args], needle)
        for args, needle in [
            (["--train-prompts", "0"], "--train-prompts"),
            (["--heldout-prompts", "-1"], "--heldout-prompts"),
            (["--pairs-per-prompt", "0"], "--pairs-per-prompt"),
            (["--steps", "0"], "--steps"),
            (["--sft-steps", "-5"], "--sft-steps"),
            (["--sft-batch", "0"], "--sft-batch"),
            (["--sft-docs", "0"], "--sft-docs"),
            (["--sft-lr", "nan"], "--sft-lr"),
            (["--sft-lr", "0"], "--sft-lr"),
            (["--trainer-rows", "0"], "--trainer-rows"),
            (["--trainer-lr", "inf"], "--trainer-lr"),
            (["--learning-rate", "nan"], "--learning-rate"),
            (["--coverage-pairs", "0", "16"], "--coverage-pairs"),
            (["--workers", "0"], "--workers"),
            (["--num-words", "0"], "num_words"),
            (["--max-words", "0"], "max_words"),
            (["--doc-len", "-1"], "doc_len"),
            (["--n-layer", "0"], "--n-layer"),
            (["--n-embd", "0"], "--n-embd"),
            (["--n-embd", "30", "--n-head", "4"], "--n-head"),
            (["--beta", "nan"], "--beta"),
            (["--beta", "inf"], "--beta"),
            (["--beta", "-1"], "--beta"),
            (["--beta", "0"], "--beta"),
            (["--mu1-temperature", "nan"], "--mu1-temperature"),
            (["--mu2-temperature", "inf"], "--mu2-temperature"),
            (["--mu2-temperature", "0"], "--mu2-temperature"),
            (["--task-seeds", "-1"], "--task-seeds"),
            (["--task-seeds", "0", "0"], "--task-seeds"),
            (["--task-seed", "3"], "--task-seed"),
            (["--methods", "nope"], "nope"),
            (["--methods", "copg", "copg"], "--methods"),
            (["--trainer-methods", "nope"], "nope"),
            (["--panels", "nope"], "nope"),
            (["--panels", "heldout"], "converged"),
            (["--fast", "--steps", "5"], "--steps"),
            (["--fast", "--pairs-per-prompt", "64"], "--pairs-per-prompt"),
            (["--steps", "abc"], "--steps"),
            (["--no-such-option", "1"], "--no-such-option"),
            (["--out", "FILE"], "--out"),
            (["--out", "FILE/sub"], "--out"),
            (["--figures", "FILE"], "--figures"),
            (["--coverage-pairs", "16"], "--coverage-pairs"),  # without the coverage panel: ignored
            (["--panels", "converged", "--trainer-lr", "0.01"], "--trainer-lr"),  # without the trainer panel
            (["--panels", "converged", "coverage", "--coverage-pairs", "16", "16"], "--coverage-pairs"),
            (["--out", ""], "--out"),
        ]
    ],
    # the middle rung (NEW: its --out; every case is rejected before the task is built)
    *[
        ("rung", ["--out", "NEW", *args], needle)
        for args, needle in [
            (["--chains", "0"], "--chains"),
            (["--seeds", "0"], "--seeds"),
            (["--beta", "nan"], "--beta"),
            (["--beta", "-1"], "--beta"),
            (["--lr-grid"], "--lr-grid"),
            (["--lr-grid", "0"], "--lr-grid"),
            (["--frontier-betas", "-1"], "--frontier-betas"),
            (["--sft-lr", "inf"], "--sft-lr"),
            (["--methods", "nope"], "--methods"),
            (["--methods", "ipo"], "--methods"),
            (["--methods", "copg", "copg"], "--methods"),
            (["--topic-share", "1.5"], "--topic-share"),
            (["--topic-share", "0"], "--topic-share"),
            (["--noise", "2"], "--noise"),
            (["--length-cost", "nan"], "--length-cost"),
            (["--ess-min", "-1"], "--ess-min"),
            (["--n-embd", "30"], "--n-head"),
            (["--n-layer", "0"], "--n-layer"),
            (["--max-topics", "0"], "--max-topics"),
            (["--max-topics", "9"], "--max-topics"),
            (["--filler-words", "99"], "--filler-words"),
            (["--num-words", "0"], "--num-words"),
            (["--limit-prompts", "999"], "--limit-prompts"),
            (["--workers", "0"], "--workers"),
            (["--task-seed", "3"], "--task-seed"),
            (["--fast", "--steps", "5"], "--steps"),
            (["--out", "FILE"], "--out"),
            (["--figures", "FILE"], "--figures"),
            (["--lr-grid", "0.1", "0.1"], "--lr-grid"),
            (["--frontier-betas", "0.3", "0.3"], "--frontier-betas"),
            (["--steps", "abc"], "--steps"),  # tyro's parse error: one line, as every other command
            (["--no-such-option", "1"], "--no-such-option"),
        ]
    ],
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--betas", "0.1", "0.1"], "--betas"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--lr-grid", "0.1", "0.1"], "--lr-grid"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--methods", "copg", "copg"], "--methods"),
    ("pipeline", ["--preset", "tiny", "--run-dir", "RUN", "--offpolicy", "T1.3", "T1.3"], "--offpolicy"),
    ("chains", ["--run-dir", "NEW", "--chains", "1"], "--chains"),
    ("chains", ["--run-dir", "NEW", "--workers", "0"], "--workers"),
    ("chains", ["--run-dir", "NEW", "--preset", "nope"], "nope"),
    ("chains", ["--run-dir", "FILE"], "is a file"),
    ("chains", ["--run-dir", "NEW", "--figures", "FILE"], "--figures"),
    ("chains", ["--run-dir", "NEW", "--betas", "-1"], "--betas"),
    # empty values (an empty path would mean the current directory, an empty file name "unset")
    ("corpus", ["--run-dir", ""], "--run-dir"),
    ("corpus", ["--run-dir", "NEW", "--jsonl", ""], "--jsonl"),
    ("train", ["--run-dir", "RUN", "--output-dir", ""], "--output-dir"),
    ("eval", ["--run-dir", "RUN", "--model", ""], "--model"),
    # corpus: counts, the code share, conflicting sources, a file as --man-dir
    ("corpus", ["--run-dir", "NEW", "--max-pairs", "-1"], "--max-pairs"),
    ("corpus", ["--run-dir", "NEW", "--workers", "0"], "--workers"),
    ("corpus", ["--run-dir", "NEW", "--min-doc-words", "-1"], "--min-doc-words"),
    ("corpus", ["--run-dir", "NEW", "--max-code-fraction", "nan"], "--max-code-fraction"),
    ("corpus", ["--run-dir", "NEW", "--jsonl", str(FIXTURE), "--hub-id", "x/y"], "--hub-id"),
    ("corpus", ["--run-dir", "NEW", "--man-dir", "FILE"], "--man-dir"),
    # negative seeds, repeated values
    ("sft", ["--run-dir", "RUN", "--force", "--seed", "-1"], "--seed"),
    ("reward", ["--run-dir", "RUN", "--force", "--seed", "-1"], "--seed"),
    ("sample", ["--run-dir", "RUN", "--force", "--seed", "-1"], "--seed"),
    ("eval", ["--run-dir", "RUN", "--seed", "-1"], "--seed"),
    ("eval", ["--run-dir", "RUN", "--out", "FILE"], "--out"),
    # train: the trainer's own numbers, and --resume without a checkpoint (no directory may appear)
    *[
        ("train", ["--run-dir", "RUN", "--output-dir", "NEW", flag, value], flag)
        for flag, value in [
            ("--save-steps", "0"),
            ("--eval-steps", "0"),
            ("--eval-temperature", "nan"),
            ("--eval-temperature", "0"),
            ("--eval-seed", "-1"),
            ("--max-new-tokens", "0"),
            ("--max-prompt-tokens", "0"),
            ("--eval-generation-batch", "0"),
            ("--save-total-limit", "-1"),
        ]
    ],
    ("train", ["--run-dir", "RUN", "--output-dir", "NEW", "--resume"], "--resume"),
    ("tokenizer", ["--run-dir", "RUN", "--force", "--vocab-size", str(10**12)], "--vocab-size"),  # was a crash
    ("corpus", ["--run-dir", "NEW", "--jsonl", "RUN"], "--jsonl"),  # a directory: said "does not exist"
    ("corpus", ["--run-dir", "NEW", "--jsonl", "RUN"], "is a directory"),
    # an earlier stage not run yet: its one line, and no config printed before it (sample printed its config first)
    ("tokenizer", ["--run-dir", "NEW"], "llm corpus"),
    ("sft", ["--run-dir", "NEW"], "llm corpus"),
    ("reward", ["--run-dir", "NEW"], "llm sft"),
    ("sample", ["--run-dir", "NEW"], "llm sft"),
    ("train", ["--run-dir", "NEW"], "llm sample"),
    ("eval", ["--run-dir", "NEW"], "llm corpus"),
    # a fresh start over an interrupted run used to keep its checkpoints: a later --resume continued the old weights
    ("train", ["--run-dir", "RUN", "--output-dir", "INTERRUPTED"], "holds an interrupted run"),
    ("train", ["--run-dir", "RUN", "--output-dir", "INTERRUPTED"], "--resume"),
]


@pytest.mark.slow  # the module's tiny run directory (≈ 20 s) is built once
@pytest.mark.parametrize(("stage", "args", "needle"), LLM_CASES, ids=[f"{s} {' '.join(a)}" for s, a, _ in LLM_CASES])
def test_llm_bad_input(stage, args, needle, llm_run, tmp_path, capsys, monkeypatch):
    """Each bad command: exit 2, one line on stderr naming the input, and neither the run directory nor the scratch
    directory (also the working directory) changes (no file created, rewritten or removed)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("not a directory")
    subs = {"RUN": str(llm_run), "FILE": str(tmp_path / "FILE"), "NEW": str(tmp_path / "new"),
            "FINISHED": str(llm_run / "train" / "finished"),
            "INTERRUPTED": str(llm_run / "train" / "interrupted")}  # fmt: skip
    argv = [subs.get(a, a.replace("FILE", str(tmp_path / "FILE"))) for a in args]
    before_run, before_tmp = _snapshot(llm_run), _snapshot(tmp_path)
    capsys.readouterr()
    assert _llm_main(stage)([*argv, "--no-progress"]) == 2
    out = capsys.readouterr()
    err = [line for line in out.err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and needle in err[0], (needle, err[0])
    assert not re.search(r"Error parsing [A-Z]\w*:", err[0])  # a config's own check: its message, not tyro's wrapper
    assert not out.out.strip(), out.out  # the error is the only line: no config or progress printed before it
    assert _snapshot(llm_run) == before_run
    assert _snapshot(tmp_path) == before_tmp


@pytest.mark.parametrize("argv", [["nope"], ["Train"], ["--method"]])
def test_llm_unknown_stage_is_one_line(argv, capsys):
    """``python -m llm <not a stage>``: exit 2, one line naming it and the stages, no usage dump."""
    from llm.__main__ import main as llm_main

    assert llm_main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and argv[0] in err[0] and "pipeline" in err[0], err


def _truncate(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "args", "broken", "needle"),
    [
        ("train", ["--output-dir", "NEW", "--eval-prompts", "0"], "offline/train.jsonl", "train.jsonl:"),
        ("eval", ["--out", "NEW.json"], "sft/model/config.json", "config.json"),
    ],
)
def test_llm_malformed_run_file(stage, args, broken, needle, llm_run, tmp_path, capsys, monkeypatch):
    """A malformed file of a run directory: one line naming it, exit 2, and no library progress bar before it (the
    data are read before any model is loaded; transformers' loading bars are off); nothing is written."""
    import shutil

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(llm_run, run, ignore=shutil.ignore_patterns("train"))
    _truncate(run / broken)
    argv = [str(tmp_path / "new") + a[3:] if a.startswith("NEW") else a for a in args]
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert _llm_main(stage)(["--preset", "tiny", "--run-dir", str(run), *argv, "--no-progress"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert _snapshot(tmp_path) == before


# ----------------------------------------------------------------------------------------------------------------
# A finished run is never overwritten without --force: refused up front (exit 2, one line, nothing changed)
# ----------------------------------------------------------------------------------------------------------------


def _contents(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root``: its modification time and bytes (a rewrite with equal bytes still shows)."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes()) for p in root.rglob("*") if p.is_file()}


def _check_refused(capsys, line_start: str, path: Path) -> None:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(line_start), err
    assert f"{path} exists (a finished run)" in err[0] and "--force" in err[0] and "Traceback" not in err[0], err[0]


def test_bandit_second_run_needs_force(tmp_path, capsys):
    """`python -m bandit <name>` twice into one --out: the second run is refused before any computation and leaves
    the first run's <name>.json/.png as they were; with --force it runs and replaces them."""
    out = tmp_path / "out"
    args = ["loss-family", "--exact-points", "3", "--apo-samples", "1", "4", "--out", str(out), "--no-progress"]
    assert bandit_main(args) == 0
    first = _contents(tmp_path)
    assert set(first) == {"out/loss_family.json", "out/loss_family.png"}
    capsys.readouterr()
    assert bandit_main(args) == 2
    _check_refused(capsys, "python -m bandit: error: ", out / "loss_family.json")
    assert _contents(tmp_path) == first
    assert bandit_main(["all", "--out", str(out), "--no-progress"]) == 2  # `all` too, before its first experiment
    _check_refused(capsys, "python -m bandit: error: ", out / "loss_family.json")
    assert _contents(tmp_path) == first
    assert bandit_main([*args, "--force"]) == 0
    again = _contents(tmp_path)
    assert set(again) == set(first) and all(again[k][0] != first[k][0] for k in first)  # both rewritten


def test_tracked_outputs_need_replace_tracked_not_force(tmp_path):
    """`make reproduce-bandit` twice on a fresh clone: files tracked by git are replaced with --replace-tracked alone
    (no --force); an untracked file of the run beside them is a finished run (refused without --force)."""
    import subprocess

    from bandit.records import prepare_output_dir

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.json").write_text("{}")
    subprocess.run(["git", "add", "a.json"], cwd=tmp_path, check=True)
    assert prepare_output_dir(tmp_path, ["a.json", "a.png"], replace_tracked=True, force=False) == ["a.json"]
    (tmp_path / "a.png").write_bytes(b"png")  # untracked
    with pytest.raises(ValueError, match="a.png exists \\(a finished run\\); pass --force"):
        prepare_output_dir(tmp_path, ["a.json", "a.png"], replace_tracked=True, force=False)
    assert prepare_output_dir(tmp_path, ["a.json", "a.png"], replace_tracked=True, force=True) == ["a.json"]
    assert prepare_output_dir(tmp_path, ["a.json", "a.png"], replace_tracked=True) == ["a.json"]  # no --force flag


def test_bridge_second_run_needs_force(tmp_path, capsys, monkeypatch):
    """`python -m llm bridge --out D` when D/results.json exists: refused before any work (the experiment itself is
    replaced by a stub writing results.json and a figure, as the real one does), files unchanged; --force runs."""
    import llm.bridge.experiment as bridge

    calls = []

    def fake_run(cfg, command=None):
        calls.append(cfg.force)
        (Path(cfg.out) / "figures").mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "results.json").write_text(json.dumps({"calls": len(calls)}))
        (Path(cfg.out) / "figures" / "bridge_converged.json").write_text(json.dumps({"calls": len(calls)}))
        return {}

    monkeypatch.setattr(bridge, "run_bridge", fake_run)
    monkeypatch.setattr(bridge, "report", lambda res: "")
    out = tmp_path / "bridge"
    assert bridge.main(["--fast", "--out", str(out), "--no-progress"]) == 0
    first = _contents(tmp_path)
    capsys.readouterr()
    assert bridge.main(["--fast", "--out", str(out), "--no-progress"]) == 2
    _check_refused(capsys, "error: ", out / "results.json")
    assert _contents(tmp_path) == first and calls == [False]
    (out / "results.json").unlink()  # its figures alone are a finished run too
    first = _contents(tmp_path)
    assert bridge.main(["--fast", "--out", str(out), "--no-progress"]) == 2
    _check_refused(capsys, "error: ", out / "figures" / "bridge_converged.json")
    assert _contents(tmp_path) == first and calls == [False]
    assert bridge.main(["--fast", "--out", str(out), "--no-progress", "--force"]) == 0
    assert calls == [False, True] and json.loads((out / "results.json").read_text()) == {"calls": 2}


@pytest.mark.slow  # uses the module's tiny run directory
def test_eval_second_run_needs_force(llm_run, tmp_path, capsys, monkeypatch):
    """`python -m llm eval --out X.json` when X.json exists: refused before any model is loaded, X.json unchanged;
    with --force it evaluates again and replaces it."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "e.json"
    args = ["--preset", "tiny", "--run-dir", str(llm_run), "--n-prompts", "1", "--samples-per-prompt", "1"]
    args += ["--max-new-tokens", "4", "--out", str(out), "--no-progress"]
    eval_main = _llm_main("eval")
    assert eval_main(args) == 0
    first, run_before = _contents(tmp_path), _snapshot(llm_run)
    capsys.readouterr()
    assert eval_main(args) == 2
    _check_refused(capsys, "error: ", out)
    assert _contents(tmp_path) == first and _snapshot(llm_run) == run_before
    assert eval_main([*args, "--force"]) == 0
    assert _contents(tmp_path)["e.json"][0] != first["e.json"][0]


# ----------------------------------------------------------------------------------------------------------------
# Outputs that cannot be written: refused before any work, in one line naming the option (not an OSError after it)
# ----------------------------------------------------------------------------------------------------------------


def _deny_writes_under(root: Path, monkeypatch) -> None:
    """``os.access`` says every path under ``root`` is read-only (as a read-only mount or ``chattr +i`` would; the
    tests may run as root, for whom permission bits do not stop a write)."""
    import os

    real = os.access

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and str(path).startswith(str(root)):
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


@pytest.mark.slow  # uses the module's tiny run directory
@pytest.mark.parametrize(
    ("stage", "args", "flag"),
    [
        ("corpus", ["--run-dir", "NEW", "--jsonl", str(FIXTURE)], "--run-dir"),  # was an OSError after collecting
        ("tokenizer", ["--run-dir", "NEW"], "--run-dir"),
        ("train", ["--run-dir", "RUN", "--output-dir", "NEW", "--max-steps", "2"], "--output-dir"),  # after loading
        ("eval", ["--run-dir", "RUN", "--out", "NEW/e.json"], "--out"),  # was an OSError after generating
        ("pipeline", ["--run-dir", "NEW"], "--run-dir"),  # named --figures, an option not given
        ("chains", ["--run-dir", "NEW"], "--run-dir"),
        ("bridge", ["--fast", "--out", "NEW"], "--out"),
    ],
)
def test_llm_unwritable_output_names_its_option(stage, args, flag, llm_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _deny_writes_under(tmp_path, monkeypatch)
    subs = {"RUN": str(llm_run), "NEW": str(tmp_path / "new"), "NEW/e.json": str(tmp_path / "new" / "e.json")}
    argv = ["--preset", "tiny", *[subs.get(a, a) for a in args], "--no-progress"]
    if stage == "bridge":
        argv = argv[2:]
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert _llm_main(stage)(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"error: {flag} ") and "not writable" in err[0], err
    assert _snapshot(tmp_path) == before


def test_bandit_plot_unwritable_out_names_it(tmp_path, capsys, monkeypatch):
    """`python -m bandit plot X --out <read-only dir>/x.png`: one line naming --out before drawing (was an OSError
    naming a temporary file)."""
    figure = _figure(tmp_path)
    (tmp_path / "ro").mkdir()
    _deny_writes_under(tmp_path / "ro", monkeypatch)
    before = _snapshot(tmp_path)
    assert bandit_main(["plot", str(figure), "--out", str(tmp_path / "ro" / "x.png")]) == 2
    _check_one_line(capsys, "python -m bandit", "--out")
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("blocker", ["directory", "read-only"])
def test_output_name_that_cannot_be_replaced_is_refused_up_front(blocker, tmp_path, capsys, monkeypatch):
    """An output name taken by a directory or a read-only file: refused before the computation (it used to fail at
    the write after it: the pipeline had then already rewritten summary.json and the first figures)."""
    from bandit.records import prepare_output_dir

    out = tmp_path / "out"
    out.mkdir()
    if blocker == "directory":
        (out / "loss_family.png").mkdir()
    else:
        (out / "loss_family.png").write_bytes(b"png")
        _deny_writes_under(out / "loss_family.png", monkeypatch)
    before = _contents(tmp_path)
    args = ["loss-family", "--exact-points", "3", "--apo-samples", "1", "--out", str(out), "--no-progress", "--force"]
    assert bandit_main(args) == 2
    _check_one_line(capsys, "python -m bandit", blocker)
    assert _contents(tmp_path) == before
    with pytest.raises(ValueError, match=f"--figures {out}: .*loss_family.png is (a )?{blocker}"):
        prepare_output_dir(out, ["loss_family.json", "loss_family.png"], flag="--figures")


# ----------------------------------------------------------------------------------------------------------------
# Interrupts: SIGTERM as Ctrl-C (one line, exit 130), and a pool's workers stop with the parent
# ----------------------------------------------------------------------------------------------------------------


def test_sigterm_is_one_line_and_exit_130(capsys):
    """`kill` / `timeout` (SIGTERM) used to end a command with no message (and the multiprocessing resource tracker's
    warning); now as Ctrl-C: one line, exit 130, temporary files removed by the unwinding; the handler is restored."""
    import os
    import signal
    import time

    from llm.run import cli_errors

    before = signal.getsignal(signal.SIGTERM)

    @cli_errors
    def stage() -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        return 0

    assert stage() == 130
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("interrupted;"), err
    assert signal.getsignal(signal.SIGTERM) is before


def test_interrupted_pool_stops_its_workers(capfd):
    """An interrupt of the parent alone (kill <pid>) used to wait for every queued job (the pipeline ran 14 more
    training runs before exiting); a worker's Ctrl-C printed its traceback. Now the running jobs stop, the queued ones
    are dropped, and the workers print nothing."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    from llm.run import in_worker, interrupt_workers, worker_init

    t0 = time.time()
    ctx = multiprocessing.get_context("fork")
    with pytest.raises(KeyboardInterrupt):
        with ProcessPoolExecutor(2, mp_context=ctx, initializer=worker_init) as pool, interrupt_workers(pool):
            futures = [pool.submit(in_worker, time.sleep, 30) for _ in range(4)]
            time.sleep(1)  # both workers are running a job
            raise KeyboardInterrupt
    assert time.time() - t0 < 15
    assert not any(f.done() and not f.cancelled() and f.exception() is None for f in futures)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.slow  # uses the module's tiny run directory; trains 2 steps
def test_train_force_starts_clean(llm_run, tmp_path, capsys):
    """`train --force` over an earlier run: its checkpoints, final policy, samples and run.json go before training, so
    an interrupted restart is not taken for a finished run and a later --resume cannot continue the old weights."""
    out = tmp_path / "run"
    for d in ("checkpoint-99", "final", "samples"):
        (out / d).mkdir(parents=True)
        (out / d / "old").write_text("old run")
    (out / "run.json").write_text("{}")
    args = ["--preset", "tiny", "--run-dir", str(llm_run), "--max-steps", "2", "--eval-prompts", "0"]
    args += ["--save-steps", "1", "--save-total-limit", "5", "--output-dir", str(out), "--no-progress"]
    assert _llm_main("train")(args) == 2  # without --force: refused, nothing changed
    assert "finished run" in capsys.readouterr().err and (out / "checkpoint-99" / "old").exists()
    assert _llm_main("train")([*args, "--force"]) == 0
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    assert not any((out / d / "old").exists() for d in ("final", "samples"))
    assert json.loads((out / "run.json").read_text())["train_log"]


@pytest.mark.slow  # uses the module's tiny run directory
@pytest.mark.parametrize(
    ("stage", "args"),
    [
        ("eval", ["--out", "REPO/e.json", "--force"]),
        ("train", ["--output-dir", "REPO", "--force", "--max-steps", "2"]),
    ],
)
def test_llm_never_replaces_a_tracked_file(stage, args, llm_run, tmp_path, capsys):
    """`eval --out X --force` used to overwrite X when git tracks it (e.g. --out figures/llm_curves.json, a committed
    figure); `train --force` into a directory whose run.json is tracked likewise. Neither command has
    --replace-tracked: refused, one line, nothing changed."""
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    for name in ("e.json", "run.json"):
        (repo / name).write_text("{}")
    subprocess.run(["git", "add", "e.json", "run.json"], cwd=repo, check=True)
    argv = ["--preset", "tiny", "--run-dir", str(llm_run), *[a.replace("REPO", str(repo)) for a in args]]
    before = _contents(tmp_path)
    capsys.readouterr()
    assert _llm_main(stage)([*argv, "--no-progress"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "tracked by git" in err[0], err
    assert _contents(tmp_path) == before


def test_pool_workers_leave_quietly(capfd):
    """A Ctrl-C in the corpus stage's docstring pool printed each worker's traceback (twice: a forked worker also
    inherited cli_errors' SIGTERM handler, by which the pool then ended it). With worker_init: no traceback."""
    import multiprocessing
    import os
    import signal
    import time

    from llm.run import worker_init

    with multiprocessing.get_context("fork").Pool(2, initializer=worker_init) as pool:
        result = pool.map_async(time.sleep, [30, 30])
        time.sleep(1)
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGINT)
        time.sleep(1)
        assert not result.ready()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_bandit_interrupt_is_one_line(how, tmp_path, capsys, monkeypatch):
    """Ctrl-C in `python -m bandit <experiment>` printed a 40-line traceback, SIGTERM nothing: now one line, exit 130,
    and no output file (the figure is written whole or not at all)."""
    import os
    import signal
    import time

    import bandit.__main__ as cli

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), getattr(signal, how))
        time.sleep(5)

    monkeypatch.setattr(cli, "run_experiment", interrupted)
    # a pytest-xdist worker ignores SIGINT; the command runs with Python's default handler (KeyboardInterrupt)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    out = tmp_path / "out"
    try:
        assert bandit_main(["loss-family", "--out", str(out), "--no-progress"]) == 130
    finally:
        signal.signal(signal.SIGINT, before)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("python -m bandit: interrupted"), err
    assert not out.exists()


@pytest.mark.parametrize(
    ("stage", "blocker", "needle"),
    [
        ("sample", "offline", "is a file"),  # was an OSError after sampling
        ("corpus", "corpus", "is a file"),  # was an OSError after collecting
        ("sample", "offline/train.jsonl/", "is a directory"),  # was taken for a cached dataset
        ("sft", "sft/model/config.json/", "is a directory"),
    ],
)
def test_stage_output_path_blocked(stage, blocker, needle, tmp_path, capsys):
    """A file where a stage writes a directory of the run, or a directory where its output file goes: one line naming
    it, before any work, nothing changed."""
    run = tmp_path / "run"
    if blocker.endswith("/"):
        (run / blocker).mkdir(parents=True)
    else:
        run.mkdir()
        (run / blocker).write_text("not a directory")
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert _llm_main(stage)(["--preset", "tiny", "--run-dir", str(run), "--no-progress"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: --run-dir ") and needle in err[0], err
    assert _snapshot(tmp_path) == before


def test_a_long_message_is_not_cut_mid_word_by_the_terminal_width(monkeypatch):
    """rich wraps a config's error at the terminal's width, and the one-line condensing joined the pieces with a space:
    a long path came out as ".../test_eval_s econd_run_needs_for0/e.json" (a CI failure once pytest's temporary
    directories grew a digit). The message is taken from a parse as wide as it needs."""
    import dataclasses
    import os

    import tyro

    from bandit.cli import UsageError, one_line_parse

    path = "/tmp/" + "a_very_long_directory_name_" * 8 + "e.json"

    @dataclasses.dataclass
    class Config:
        out: str = path

        def __post_init__(self):
            raise ValueError(f"{self.out} exists (a finished run); pass --force")

    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(UsageError) as err:
        one_line_parse(lambda: tyro.cli(Config, args=[]), "x --help", [])
    assert f"{path} exists (a finished run); pass --force (see x --help)" == str(err.value)
    assert os.environ["COLUMNS"] == "80"  # restored
