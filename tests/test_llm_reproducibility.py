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
