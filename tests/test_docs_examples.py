"""The runnable example of docs/use-copg-on-your-model.md runs as written (the library on a model the page builds)."""

from __future__ import annotations

import math
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "use-copg-on-your-model.md"


def _first_python_block(text: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    runnable = [b for b in blocks if "trainer.train()" in b]
    assert runnable, f"{DOC.name}: no runnable ```python block with trainer.train()"
    return runnable[0]


def test_use_copg_example_runs_and_logs_trl_metrics(tmp_path, monkeypatch, capsys):
    """The page's example trains the tiny GPT-2 it builds for 6 steps, with no lab run directory."""
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_first_python_block(DOC.read_text(encoding="utf-8")), str(DOC), "exec"), scope)
    trainer = scope["trainer"]
    assert trainer.state.global_step == 6
    logs = [h for h in trainer.state.log_history if "loss/train" in h]
    assert len(logs) == 3 and all(math.isfinite(h["loss/train"]) for h in logs)
    assert {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen"} <= set(
        logs[0]
    )
    assert not (tmp_path / "runs").exists()  # nothing of the lab's run layout
    assert "rewards/margins" in capsys.readouterr().out
