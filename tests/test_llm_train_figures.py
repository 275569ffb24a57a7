"""Figures of the LLM lab (llm.plots): every PNG has its JSON with command, config, seeds and curves; the best β and
the paired comparison are computed from the records; a figure redraws from its JSON alone."""

from __future__ import annotations

import json

import pytest

from bandit.records import redraw
from llm.plots import best_beta, make_figures


def _run(method, beta, finals, kl_scale=1.0):
    evals = []
    for step, (proxy, per) in zip((20, 40), finals):
        evals.append(
            {
                "step": step,
                "reward/proxy_mean": proxy,
                "reward/proxy_sem": 0.1,
                "reward/gold_mean": 0.2,
                "policy/kl_to_ref": kl_scale * step / 20,
                "per_prompt": {"proxy": per},
            }
        )
    return {"method": method, "beta": beta, "seed": 0, "eval": evals, "wall_clock_s": 1.0}


def test_make_figures_writes_png_and_json_and_picks_the_best_beta(tmp_path):
    runs = [
        _run("copg", 0.1, [(0.5, [0.4, 0.6]), (1.0, [1.0, 1.0])]),
        _run("copg", 1.0, [(0.2, [0.2, 0.2]), (0.3, [0.2, 0.4])]),
        _run("dpo", 0.1, [(0.1, [0.0, 0.2]), (0.4, [0.5, 0.3])]),
    ]
    sft = {"step": 0, "reward/proxy_mean": 0.0, "reward/proxy_sem": 0.1, "reward/gold_mean": 0.25}
    summary = make_figures(runs, sft, tmp_path, "python -m llm pipeline --preset test", {"x": 1})
    names = {p.split("/")[-1] for p in summary["figures"]}
    assert names == {
        "llm_reward_vs_step_copg.png",
        "llm_reward_vs_step_dpo.png",
        "llm_final_reward_vs_beta.png",
        "llm_best_beta.png",
        "llm_reward_kl_frontier.png",
        "llm_proxy_vs_gold.png",
    }
    for name in names:
        meta = json.loads((tmp_path / name.replace(".png", ".json")).read_text())
        assert meta["command"] == "python -m llm pipeline --preset test" and meta["seeds"] == [0]
        assert "versions" in meta and meta["config"] == {"x": 1}
    assert best_beta(runs, "copg")["beta"] == 0.1
    assert "ordering_by_final_proxy" not in summary  # no bare ordering: differences come with their intervals
    # paired over prompts: copg [1.0, 1.0] − dpo [0.5, 0.3] = [0.5, 0.7] → mean 0.6, s.e. = std/√2 = 0.1;
    # 95 % CI with 1 degree of freedom: 0.6 ± t(0.975, 1)·0.1 = 0.6 ± 1.2706 → covers 0: not significant
    d = summary["paired_final_difference"]["copg-dpo"]
    assert d["mean"] == pytest.approx(0.6) and d["sem"] == pytest.approx(0.1)
    assert d["ci95"] == pytest.approx([0.6 - 1.27062, 0.6 + 1.27062], abs=1e-4) and d["significant"] is False
    # every curve starts at the SFT reference point (step 0)
    meta = json.loads((tmp_path / "llm_reward_vs_step_copg.json").read_text())
    assert all(r["curve"][0]["step"] == 0 and r["curve"][0]["reward/proxy_mean"] == 0.0 for r in meta["data"]["runs"])
    png = tmp_path / "llm_best_beta.png"
    png.unlink()
    assert redraw(tmp_path / "llm_best_beta.json") == png and png.stat().st_size > 0


def test_mean_ci_matches_student_t_and_says_significance():
    from llm.model.evaluation import mean_ci

    ci = mean_ci([1.0, 2.0, 3.0, 4.0])  # mean 2.5, s.e. = 1.29099/2 = 0.645497, t(0.975, 3) = 3.182446 → ± 2.054260
    assert ci["mean"] == pytest.approx(2.5) and ci["sem"] == pytest.approx(0.645497, abs=1e-6)
    assert (ci["low"], ci["high"]) == pytest.approx((2.5 - 2.054260, 2.5 + 2.054260), abs=1e-5)
    assert ci["significant"] is True
    assert mean_ci([-1.0, 1.0, 0.5])["significant"] is False
    assert mean_ci([3.0])["significant"] is False  # one value: no interval, never a verdict
