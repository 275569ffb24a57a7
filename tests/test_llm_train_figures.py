"""Figures of the LLM lab (llm.plots): every PNG has its JSON with command, config, seeds and curves; the best β and
the paired comparison are computed from the records; a figure redraws from its JSON alone."""

from __future__ import annotations

import json

import pytest

from bandit.records import redraw
from llm.plots import best_beta, make_figures, split_eval_prompts


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


def _place(sel_vals, rep_vals, n=4, seed=0):
    """Per-prompt list of n values: ``sel_vals`` on the selection half, ``rep_vals`` on the report half, in order."""
    sel, rep = split_eval_prompts(n, seed)
    out = [None] * n
    for i, v in zip(sel, sel_vals):
        out[i] = v
    for i, v in zip(rep, rep_vals):
        out[i] = v
    return out


def test_make_figures_writes_png_and_json_and_picks_the_best_beta(tmp_path):
    runs = [
        _run("copg", 0.1, [(0.5, [0.4, 0.6, 0.4, 0.6]), (1.0, [1.0] * 4)]),
        _run("copg", 1.0, [(0.2, [0.2] * 4), (0.3, [0.2, 0.4, 0.2, 0.4])]),
        _run("dpo", 0.1, [(0.1, [0.0, 0.2, 0.0, 0.2]), (0.4, _place([0.4, 0.4], [0.5, 0.3]))]),
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
    # paired over the report half: copg [1.0, 1.0] − dpo [0.5, 0.3] = [0.5, 0.7] → mean 0.6, s.e. = std/√2 = 0.1;
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


def test_beta_is_chosen_on_the_selection_half_and_reported_on_the_report_half(tmp_path):
    """Issue 14, bug 4: choosing β on the prompts it is reported on biases the result up. The two halves are
    disjoint and cover the eval prompts; β is chosen on the selection half; every reported number (best curve,
    final reward, paired difference) uses the report half only."""
    n = 6
    sel, rep = split_eval_prompts(n, seed=0)
    assert set(sel).isdisjoint(rep) and sorted(sel + rep) == list(range(n)) and len(sel) == 3
    assert split_eval_prompts(n, seed=0) == (sel, rep) and split_eval_prompts(n, seed=1) != (sel, rep)

    def run(method, beta, sel_vals, rep_vals):
        per = _place(sel_vals, rep_vals, n)
        return _run(method, beta, [(sum(per) / n, per), (sum(per) / n, per)])

    runs = [
        run("copg", 0.1, [1.0] * 3, [0.0] * 3),  # best on the selection half
        run("copg", 1.0, [0.5] * 3, [2.0] * 3),  # best on all prompts and on the report half: not chosen
        run("dpo", 0.1, [100.0] * 3, [0.5, 0.3, 0.1]),  # its selection-half values must not leak into the report
    ]
    assert best_beta(runs, "copg")["beta"] == 1.0  # on every prompt (the biased choice)
    assert best_beta(runs, "copg", prompts=sel)["beta"] == 0.1
    summary = make_figures(runs, None, tmp_path, "test", {})
    assert summary["prompt_split"]["selection"] == sel and summary["prompt_split"]["report"] == rep
    b = summary["best"]["copg"]
    assert b["beta"] == 0.1 and b["selection_final_proxy"] == pytest.approx(1.0)
    assert b["final_proxy"] == pytest.approx(0.0)  # report half of the chosen run
    assert summary["best"]["dpo"]["final_proxy"] == pytest.approx(0.3)
    d = summary["paired_final_difference"]["copg-dpo"]
    assert d["n_prompts"] == 3 and d["mean"] == pytest.approx(-0.3)  # 0 − mean(0.5, 0.3, 0.1)
    meta = json.loads((tmp_path / "llm_best_beta.json").read_text())
    assert meta["data"]["prompt_split"] == summary["prompt_split"]
    assert meta["data"]["best"]["copg"]["curve"][-1]["reward/proxy_mean"] == pytest.approx(0.0)


def test_mean_ci_matches_student_t_and_says_significance():
    from llm.model.evaluation import mean_ci

    ci = mean_ci([1.0, 2.0, 3.0, 4.0])  # mean 2.5, s.e. = 1.29099/2 = 0.645497, t(0.975, 3) = 3.182446 → ± 2.054260
    assert ci["mean"] == pytest.approx(2.5) and ci["sem"] == pytest.approx(0.645497, abs=1e-6)
    assert (ci["low"], ci["high"]) == pytest.approx((2.5 - 2.054260, 2.5 + 2.054260), abs=1e-5)
    assert ci["significant"] is True
    assert mean_ci([-1.0, 1.0, 0.5])["significant"] is False
    assert mean_ci([3.0])["significant"] is False  # one value: no interval, never a verdict
