"""`python -m bandit plot` / `bandit.records.redraw`: a redraw writes under runs/ by default, never replaces a file
tracked by git without --replace-tracked, checks its target before drawing, and imports only registered drawers (a
figure JSON never chooses which code runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bandit.__main__ import main
from bandit.records import DRAWERS, redraw, write_figure

ROOT = Path(__file__).resolve().parent.parent


def _record(tmp_path: Path, name: str = "support") -> Path:
    """A real bandit figure record, copied from the committed figures (no training)."""
    rec = json.loads((ROOT / "figures" / f"{name}.json").read_text())
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(rec))
    return path


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m bandit: error:"), err
    return err[0]


def test_default_output_is_under_runs(tmp_path, monkeypatch):
    """Without --out the PNG goes to runs/redraw/<name>.png, not beside the JSON."""
    src = _record(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["plot", str(src)]) == 0
    assert (work / "runs" / "redraw" / "support.png").stat().st_size > 1000
    assert not src.with_suffix(".png").exists()


def test_out_may_be_a_directory_or_a_png(tmp_path):
    src = _record(tmp_path)
    (tmp_path / "d").mkdir()
    assert main(["plot", str(src), "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "support.png").exists()
    assert main(["plot", str(src), "--out", str(tmp_path / "other.png")]) == 0
    assert (tmp_path / "other.png").exists()


def test_tracked_png_needs_replace_tracked(tmp_path, capsys):
    """A PNG tracked by git is refused unchanged; --replace-tracked overwrites it."""
    _git(tmp_path, "init", "-q")
    src = _record(tmp_path)
    png = src.with_suffix(".png")
    png.write_bytes(b"committed")
    _git(tmp_path, "add", ".")
    assert main(["plot", str(src), "--out", str(png)]) == 2
    line = _one_line_error(capsys)
    assert "tracked by git" in line and "--replace-tracked" in line
    assert png.read_bytes() == b"committed"
    assert main(["plot", str(src), "--out", str(tmp_path)]) == 2  # the directory form resolves to the same file
    assert png.read_bytes() == b"committed"
    capsys.readouterr()
    assert main(["plot", str(src), "--out", str(png), "--replace-tracked"]) == 0
    assert png.read_bytes() != b"committed" and png.stat().st_size > 1000


@pytest.mark.parametrize(
    ("make_args", "needle"),
    [
        (lambda t: ["plot", str(t)], "is a directory"),
        (lambda t: ["plot", str(t / "missing.json")], "no such file"),
        (lambda t: ["plot", str(t / "notjson.json")], "not a JSON file"),
        (lambda t: ["plot", str(t / "nodrawer.json")], "not a figure record"),
        (lambda t: ["plot", str(t / "support.json"), "--out", str(t / "x.txt")], "expected a .png file"),
        (lambda t: ["plot", str(t / "support.json"), "--out", str(t / "afile" / "x.png")], "is a file"),
    ],
)
def test_bad_redraw_inputs_are_one_line_and_write_nothing(make_args, needle, tmp_path, capsys):
    _record(tmp_path)
    (tmp_path / "notjson.json").write_text("{oops")
    (tmp_path / "nodrawer.json").write_text(json.dumps({"experiment": "support"}))
    (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(make_args(tmp_path)) == 2
    assert needle in _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_unregistered_drawer_is_refused_and_never_imported(tmp_path):
    """A figure JSON naming a module outside the registry (here one in the current directory, which `python -m`
    puts on sys.path) is refused in one line, and the module is not imported (it would create a marker file)."""
    (tmp_path / "evil_drawer.py").write_text(
        "from pathlib import Path\nPath('IMPORTED').write_text('yes')\ndef draw_record(r):\n    raise SystemExit(0)\n"
    )
    rec = json.loads((ROOT / "figures" / "support.json").read_text())
    rec["drawer"] = "evil_drawer"
    (tmp_path / "fig.json").write_text(json.dumps(rec))
    proc = subprocess.run(
        [sys.executable, "-m", "bandit", "plot", "fig.json", "--out", "fig.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "evil_drawer" in lines[0] and "refusing to import" in lines[0]
    assert not (tmp_path / "IMPORTED").exists() and not (tmp_path / "fig.png").exists()


def test_write_figure_requires_a_registered_drawer(tmp_path):
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with pytest.raises(ValueError, match="not one of"):
        write_figure({"drawer": "somewhere.else"}, fig, tmp_path / "x")
    plt.close(fig)
    assert not list(tmp_path.iterdir())
    assert "bandit.plotting" in DRAWERS


def test_redraw_library_default_is_beside_the_json(tmp_path):
    """The library function keeps its documented default (beside the JSON), with the same tracked-file check."""
    src = _record(tmp_path, "data_size")
    assert redraw(src) == src.with_suffix(".png")
    assert src.with_suffix(".png").stat().st_size > 1000
