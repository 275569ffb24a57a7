"""The real-text lab's protocol end to end at tiny scale (issue 23): every method's learning rate is chosen by one
procedure on the selection prompts, and every sweep run of that method trains with it."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from llm.pipeline import main

    rd = tmp_path_factory.mktemp("protocol")
    argv = ["--preset", "tiny", "--run-dir", str(rd), "--methods", "copg", "dpo", "--betas", "0.1", "--seeds", "1"]
    assert main([*argv, "--offpolicy", "--lr-grid", "1e-3", "3e-3", "--no-progress", "--max-steps", "4"]) == 0
    return rd, json.loads((rd / "pipeline.json").read_text())


def test_each_method_keeps_the_rate_with_the_highest_selection_j_beta(tiny_run):
    rd, out = tiny_run
    lrs = out["config"]["learning_rates"]
    assert lrs["grid"] == [1e-3, 3e-3] and set(lrs["chosen"]) == {"copg", "dpo"}
    for m, scores in lrs["scores"].items():
        assert set(scores) == {"0.001", "0.003"}
        best = max(scores, key=lambda k: (scores[k], -float(k)))
        assert lrs["chosen"][m] == float(best), (m, scores)
    # the scores are J_β on the selection prompts of each lr-selection run's final evaluation
    sel = out["config"]["eval"]["selection_prompts"]
    for m in ("copg", "dpo"):
        for lr in ("0.001", "0.003"):
            job = json.loads((rd / "train" / "lr_selection" / f"{m}_beta0.1_lr{lr}_seed0" / "job.json").read_text())
            per = job["eval"][-1]["per_prompt"]
            j = [per["proxy"][i] - 0.1 * per["kl_exact"][i] for i in range(sel)]
            assert lrs["scores"][m][lr] == pytest.approx(sum(j) / sel)


def test_sweep_runs_train_with_their_methods_chosen_rate(tiny_run):
    rd, out = tiny_run
    chosen = out["config"]["learning_rates"]["chosen"]
    for m in ("copg", "dpo"):
        job = json.loads((rd / "train" / "train" / f"{m}_beta0.1_seed0" / "job.json").read_text())
        assert job["job"]["budget"]["learning_rate"] == chosen[m]


def test_bad_lr_grid_is_one_line(tmp_path, capsys):
    from llm.pipeline import main

    assert main(["--preset", "tiny", "--run-dir", str(tmp_path / "r"), "--lr-grid", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--lr-grid" in err[0]
    assert not (tmp_path / "r").exists()


def test_heldout_check_is_the_paired_gold_change_against_pi_ref(tiny_run):
    """ROUGE-L F1 (the held-out check) at each method's best β minus π_ref's, paired per report prompt."""
    rd, out = tiny_run
    check = out["summary"]["heldout_check"]
    sft = json.loads((rd / "eval" / "sft.json").read_text())["per_prompt"]["gold"]
    sel = out["config"]["eval"]["selection_prompts"]
    for m in ("copg", "dpo"):
        beta = check[m]["beta"]
        job = json.loads((rd / "train" / "train" / f"{m}_beta{beta:g}_seed0" / "job.json").read_text())
        gold = job["eval"][-1]["per_prompt"]["gold"]
        diffs = [gold[i] - sft[i] for i in range(sel, len(sft))]
        assert check[m]["gold_minus_ref"]["mean"] == pytest.approx(sum(diffs) / len(diffs))
        assert 0.0 <= check[m]["gold_minus_ref"]["p"] <= 1.0


def test_plan_lists_every_run_once_and_writes_nothing(tmp_path):
    """The plan resolves every alignment run from the preset up front: the β sweep and the off-policy sweep (with
    naive PG on π_ref's own samples, whose copy from the β sweep serves both), each (method, β, seed, dataset) once;
    each method's selected learning rate then replaces the budget's on its runs alone."""
    from llm.jobs import with_learning_rates
    from llm.pipeline import PipelineConfig, plan
    from llm.run import MAIN

    p = plan(PipelineConfig(preset="tiny", run_dir=str(tmp_path / "run"), offpolicy=("T1.3",), seeds=2))
    keys = [j.key() for j in p.jobs]
    assert len(keys) == len(set(keys))
    want = {(m, float(b), s, MAIN) for m in p.methods for b in p.betas[m] for s in p.seeds}
    want |= {(m, p.offpolicy_beta, s, "T1.3") for m in p.offpolicy_methods for s in p.seeds}
    want |= {("pg", p.offpolicy_beta, s, MAIN) for s in p.seeds}
    assert set(keys) == want
    assert p.offpolicy_sample.dataset == MAIN and p.context.datasets == (MAIN, "T1.3")
    assert not (tmp_path / "run").exists()  # planning checks and resolves; it writes nothing

    rate = p.budget["learning_rate"]
    jobs = with_learning_rates(p.jobs, {"copg": 10 * rate})
    assert [j.key() for j in jobs] == keys
    assert all(j.budget["learning_rate"] == (10 * rate if j.method == "copg" else rate) for j in jobs)
    assert all(j.budget["learning_rate"] == rate for j in p.jobs)  # the plan itself is unchanged
