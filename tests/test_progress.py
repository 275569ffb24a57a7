"""Progress on a terminal is a tqdm bar; in a log file or pipe it is a few plain lines, never carriage returns."""

from __future__ import annotations

import io

from bandit.progress import LineProgress, progress


def test_line_progress_prints_every_tenth_and_the_end():
    out = io.StringIO()
    bar = LineProgress(range(100), desc="work", min_interval=0.0, stream=out)
    assert sum(1 for _ in bar) == 100
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in out.getvalue()
    assert lines[0].startswith("work: 10/100 (10 %)") and lines[-1].startswith("work: 100/100 (100 %)")


def test_line_progress_postfix_update_and_disable():
    out = io.StringIO()
    with LineProgress(total=3, desc="steps", min_interval=0.0, stream=out) as bar:
        bar.set_postfix(loss="0.500")
        bar.update(3)
    assert out.getvalue().strip() == "steps: 3/3 (100 %) 0 s [loss=0.500]"
    silent = io.StringIO()
    for _ in LineProgress(range(5), disable=True, stream=silent):
        pass
    assert silent.getvalue() == ""


def test_line_progress_rate_limits_by_time():
    out = io.StringIO()
    for _ in LineProgress(range(1000), desc="fast", min_interval=3600.0, stream=out):
        pass
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[-1]]  # only the final line
    assert out.getvalue().startswith("fast: 1000/1000")


def test_progress_is_plain_lines_off_a_terminal(capsys):
    bar = progress(range(3), desc="x")  # pytest captures stderr: not a terminal
    assert isinstance(bar, LineProgress)
    list(bar)
    assert "\r" not in capsys.readouterr().err
