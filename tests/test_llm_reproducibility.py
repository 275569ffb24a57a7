"""The LLM corpus is defined by the project (declared sources, recorded versions, a content hash), and a pipeline run
says whether its part-1 artefacts are the ones a committed figure was made from (issue: reproducible LLM figures)."""

from __future__ import annotations

import importlib.metadata as md
import json
import shutil
from pathlib import Path

import pytest

from llm.data.corpus import CorpusConfig, build_corpus, content_hash, distribution_files, man_package_files
from llm.pipeline import compare_artefacts


def test_distribution_files_are_the_declared_packages_only():
    files, versions = distribution_files(["tqdm", "no-such-distribution-xyz"])
    assert versions == {"tqdm": md.version("tqdm"), "no-such-distribution-xyz": "missing"}
    assert files and all(f.suffix == ".py" and "tqdm" in f.parts for f in files)
    assert not any({"tests", "test"} & set(f.parts) for f in files)


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs Debian's dpkg-query")
def test_man_pages_come_from_declared_debian_packages(tmp_path):
    files, versions = man_package_files(["manpages", "no-such-package-xyz"])
    assert versions["no-such-package-xyz"] == "missing"
    if versions["manpages"] != "missing":
        assert files and all("/usr/share/man/man" in str(f) for f in files)
    files, versions = man_package_files(["manpages"], man_dir=tmp_path)  # pages elsewhere are not ours
    assert files == []


def test_content_hash_is_deterministic_and_sensitive(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("two")
    (tmp_path / "d" / "a.txt").write_text("one")
    h = content_hash([tmp_path / "d"])
    assert h == content_hash([tmp_path / "d"]) and len(h) == 16
    (tmp_path / "d" / "a.txt").write_text("one!")
    assert content_hash([tmp_path / "d"]) != h
    (tmp_path / "f.txt").write_text("x")
    assert content_hash([tmp_path / "f.txt"]) != content_hash([tmp_path / "d"])


def test_corpus_records_sources_versions_and_hash(tmp_path):
    def build(run):
        cfg = CorpusConfig(
            preset="tiny",
            run_dir=str(tmp_path / run),
            sources=("docstrings",),
            docstring_packages=("tqdm", "no-such-distribution-xyz"),
            max_files=40,
            workers=1,
            progress=False,
        )
        return build_corpus(cfg)

    first, second = build("a"), build("b")
    assert first["sources"]["docstring_packages"] == {
        "tqdm": md.version("tqdm"),
        "no-such-distribution-xyz": "missing",
    }
    assert first["sources"]["python_stdlib"]
    assert any("no-such-distribution-xyz is not installed" in n for n in first["notes"])
    assert first["content_hash"] == second["content_hash"]  # same declared sources → the same bytes
    assert json.loads((tmp_path / "a" / "corpus" / "stats.json").read_text())["content_hash"] == first["content_hash"]


def test_compare_artefacts_says_what_differs(tmp_path, capsys):
    arts = {"corpus": "aa", "corpus_sources": {"numpy": "2.0"}, "tokenizer": "bb", "sft_model": "cc"}
    fig = tmp_path / "llm_best_beta.json"
    assert compare_artefacts(arts, fig) is None  # nothing to compare with
    fig.write_text(json.dumps({"config": {"artefacts": arts}}))
    assert compare_artefacts(arts, fig) is True
    assert "identical" in capsys.readouterr().out
    fig.write_text(json.dumps({"config": {"artefacts": {**arts, "corpus": "zz", "corpus_sources": {"numpy": "1.0"}}}}))
    assert compare_artefacts(arts, fig) is False
    out = capsys.readouterr().out
    assert "WARNING" in out and "corpus" in out and "numpy: recorded 1.0 vs here 2.0" in out


def _tracked_figures(tmp_path, name):
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / name).write_text("{}")
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    return tmp_path / "figures"


@pytest.mark.parametrize(
    ("stage", "figure"), [("pipeline", "llm_best_beta.json"), ("bridge", "bridge_regret_vs_step.json")]
)
def test_committed_figures_are_never_replaced_by_accident(stage, figure, tmp_path, capsys, monkeypatch):
    """--figures pointing at git-tracked figures fails at once (one line, exit 2, file unchanged) without
    --replace-tracked; the default output directory is under runs/."""
    import llm.__main__ as cli

    figs = _tracked_figures(tmp_path, figure)
    monkeypatch.chdir(tmp_path)
    extra = ["--preset", "tiny", "--skip-part1"] if stage == "pipeline" else ["--fast"]
    rc = cli.main([stage, "--figures", str(figs), *extra, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "tracked by git" in err[0] and "--replace-tracked" in err[0]
    assert (figs / figure).read_text() == "{}" and sorted(p.name for p in figs.iterdir()) == [figure]
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_pipeline_default_figures_live_under_the_run_dir(tmp_path, capsys, monkeypatch):
    import llm.__main__ as cli

    monkeypatch.chdir(tmp_path)
    rc = cli.main(
        ["pipeline", "--preset", "tiny", "--skip-part1", "--no-progress"]
    )  # no part 1: fails after the guard
    assert rc == 2 and "runs/tiny" in capsys.readouterr().err
    assert not (tmp_path / "figures").exists() and not (tmp_path / "runs").exists()  # a failed run creates nothing
    from llm.pipeline import PipelineConfig, plan

    assert plan(PipelineConfig(preset="tiny")).figures == str(Path("runs/tiny/figures"))


@pytest.mark.parametrize(
    "flags, msg",
    [
        (["--workers", "0"], "--workers must be ≥ 1"),
        (["--part1-threads", "-1"], "--part1-threads must be ≥ 0"),
    ],
)
def test_pipeline_bad_option_is_one_line_and_writes_nothing(tmp_path, capsys, flags, msg):
    from llm.pipeline import main

    rc = main(["--preset", "tiny", "--run-dir", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------- part 1 is deterministic

_PART1 = """
import json, sys
from llm.pipeline import PipelineConfig, part1_artefacts, plan, run_part1
from llm.run import RunPaths
cfg = PipelineConfig(preset="tiny", run_dir=sys.argv[1], workers=int(sys.argv[2]), progress=False)
run_part1(plan(cfg), {})
print("ARTEFACTS " + json.dumps(part1_artefacts(RunPaths(sys.argv[1]), reward_model=False)))
"""


def _part1_in_subprocess(run_dir: Path, workers: int, hash_seed: str) -> dict:
    """Part 1 of ``python -m llm pipeline --preset tiny --workers N`` in a fresh interpreter with its own hash seed."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", _PART1, str(run_dir), str(workers)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("ARTEFACTS "))
    return json.loads(line.removeprefix("ARTEFACTS "))


def _normalised_files(run_dir: Path) -> dict[str, object]:
    """Every file of a run directory: bytes, or for JSON its content without timings (``seconds``, ``*_per_s``) and
    with the run directory masked."""

    def drop_seconds(x):
        if isinstance(x, dict):
            return {k: drop_seconds(v) for k, v in x.items() if k != "seconds" and not k.endswith("_per_s")}
        return [drop_seconds(v) for v in x] if isinstance(x, list) else x

    files: dict[str, object] = {}
    for f in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        rel = str(f.relative_to(run_dir))
        if f.suffix == ".json":
            files[rel] = drop_seconds(json.loads(f.read_text(encoding="utf-8").replace(str(run_dir), "<RUN>")))
        else:
            files[rel] = f.read_bytes()
    return files


@pytest.mark.slow  # two tiny part-1 chains in subprocesses (≈ 25 s): make test runs it, the fast loop does not
def test_part1_is_identical_whatever_workers_and_hash_seed(tmp_path):
    """Issue 23: part 1 ran on --workers torch threads, and the SFT weights depend on the thread count (measured at
    tiny too: 2 threads give another sft_model hash). Two runs of the same command in separate run directories, one
    with --workers 1 and one with --workers 2, in fresh interpreters with different hash seeds, give identical
    artefact hashes and identical files (up to timings and the run directory's own path)."""
    a = _part1_in_subprocess(tmp_path / "a", workers=1, hash_seed="1")
    b = _part1_in_subprocess(tmp_path / "b", workers=2, hash_seed="2")
    assert a == b
    fa, fb = _normalised_files(tmp_path / "a"), _normalised_files(tmp_path / "b")
    assert sorted(fa) == sorted(fb)
    assert [k for k in fa if fa[k] != fb[k]] == []


def test_pipeline_thread_counts_are_fixed_and_independent_of_workers():
    from llm.pipeline import PipelineConfig, plan

    for workers in (1, 2, 4):
        p = plan(PipelineConfig(preset="tiny", workers=workers))
        assert (p.part1_threads, p.threads) == (1, 1)
