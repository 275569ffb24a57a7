"""Replication over independent π_ref + data chains (issue 23): ``python -m llm chains``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm.chains import replicate


def _c(name, mean, significant):
    return {"comparison": name, "mean": mean, "low": mean - 1, "high": mean + 1, "p": 0.01, "p_holm": 0.02,
            "significant": significant}  # fmt: skip


def test_replicated_needs_holm_in_every_chain_with_one_sign():
    chains = [
        [_c("a", +0.3, True), _c("b", +0.3, True), _c("c", +0.3, True), _c("d", 0.1, False)],
        [_c("a", +0.2, True), _c("b", -0.2, True), _c("c", +0.2, False), _c("d", 0.1, False)],
    ]
    out = replicate(chains)
    assert [r["replicated"] for r in out] == [True, False, False, False]
    assert out[0]["chains"][1]["mean"] == 0.2
    with pytest.raises(ValueError, match="other comparisons"):
        replicate([chains[0], chains[1][:3]])


@pytest.mark.slow  # two tiny pipelines (≈ 1 min)
def test_tiny_chains_end_to_end(tmp_path):
    from llm.chains import main

    rd = tmp_path / "tiny"
    assert main(["--preset", "tiny", "--run-dir", str(rd), "--chains", "2", "--no-progress"]) == 0
    rec = json.loads((rd / "figures" / "llm_chains.json").read_text())
    data = rec["data"]
    assert rec["drawer"] == "llm.chains" and (rd / "figures" / "llm_chains.png").exists()
    assert data["run_dirs"] == [str(rd), f"{rd}-chain1"]
    # independent chains: another π_ref and other data, the same corpus
    a0, a1 = data["artefacts"]
    assert a0["corpus"] == a1["corpus"] and a0["sft_model"] != a1["sft_model"]
    assert a0["offline_dataset"] != a1["offline_dataset"]
    # each chain's comparisons are its own pipeline's Holm family, in order
    for c, rdir in enumerate(data["run_dirs"]):
        holm = json.loads((Path(rdir) / "pipeline.json").read_text())["summary"]["holm"]["comparisons"]
        assert [r["chains"][c]["p_holm"] for r in data["comparisons"]] == [h["p_holm"] for h in holm], rdir
    assert data["replicated"] == [r["comparison"] for r in data["comparisons"] if r["replicated"]]


def test_one_chain_is_refused_in_one_line(tmp_path, capsys):
    from llm.chains import main

    assert main(["--preset", "tiny", "--run-dir", str(tmp_path / "r"), "--chains", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--chains" in err[0]
    assert not (tmp_path / "r").exists()
