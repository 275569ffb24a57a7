"""The LLM comparison (llm.comparison, llm.plots): statistics over seeds × prompts with paired 95 % intervals, β
chosen on the selection split and reported on the report split, verdicts only where an interval excludes 0, and
figures that redraw from their JSON alone."""

from __future__ import annotations

import json
import math
import random

import pytest

from bandit.records import redraw
from llm.comparison import summarise
from llm.model.evaluation import crossed_ci, mean_ci
from llm.plots import figure_names, make_figures

P = 24  # evaluation prompts: 8 selection + 16 report
SEL, REP = list(range(8)), list(range(8, P))


def _run(method, beta, seed, reward, kl, dataset="train", part="beta_sweep", noise=0.05, steps=(10, 20)):
    """A run whose per-prompt final reward is ``reward(prompt)`` + seeded noise and whose exact KL is ``kl``."""
    rng = random.Random(hash((method, beta, seed, dataset)) % 2**32)
    evals = []
    for j, step in enumerate(steps):
        frac = (j + 1) / len(steps)
        proxy = [frac * reward(p) + rng.gauss(0, noise) for p in range(P)]
        kls = [frac * kl + abs(rng.gauss(0, 0.01)) for _ in range(P)]
        evals.append(
            {
                "step": step,
                "reward/proxy_mean": sum(proxy) / P,
                "per_prompt": {
                    "proxy": proxy,
                    "kl_exact": kls,
                    "gold": [0.1] * P,
                    "length": [5.0] * P,
                    "truncated": [0.0] * P,
                },
            }
        )
    return {"method": method, "beta": beta, "seed": seed, "dataset": dataset, "part": part, "eval": evals}


SFT = {
    "step": 0,
    "reward/proxy_mean": 0.0,
    "reward/within_prompt_sd": 1.0,
    "per_prompt": {"proxy": [0.0 + 0.01 * (p % 3) for p in range(P)], "gold": [0.1] * P},
}


def _sweep(copg_gain=0.5, dpo_gain=0.5):
    runs = []
    for s in range(3):
        for beta in (0.1, 1.0):
            runs.append(_run("copg", beta, s, lambda p, b=beta: copg_gain / b**0.1, kl=0.2 / beta))
            runs.append(_run("dpo", beta, s, lambda p, b=beta: dpo_gain / b**0.1, kl=0.4 / beta))
    return runs


def test_best_beta_is_chosen_on_the_selection_split_and_reported_on_the_report_split():
    """β = 1 wins on the selection prompts only; it is chosen, and its reported reward is the report split's."""
    runs = []
    for s in range(3):
        runs.append(_run("copg", 0.1, s, lambda p: 0.5, kl=1.0))
        runs.append(_run("copg", 1.0, s, lambda p: 1.0 if p < 8 else 0.0, kl=0.1))
        runs.append(_run("dpo", 0.1, s, lambda p: 0.2, kl=1.0))
        runs.append(_run("dpo", 1.0, s, lambda p: 0.1, kl=0.1))
    out = summarise(runs, SFT, SEL, REP, [0.1, 1.0])
    assert out["best"]["copg"]["beta"] == 1.0 and out["best"]["dpo"]["beta"] == 0.1
    assert abs(out["best"]["copg"]["reward"]["mean"]) < 0.05  # the report split's value, not the selection's 1.0
    assert out["best"]["copg"]["selection_reward"] > 0.9
    d = out["paired_best"]["dpo"]
    assert d["significant"] and d["mean"] < 0  # CoPG's chosen β is worse on the report split: said as such
    assert any("CoPG is lower than DPO" in v for v in out["verdicts"])


def test_curves_are_drawn_on_the_selection_split_even_when_curve_points_cover_it_only():
    """Evaluations before the last step may score only the selection prompts (``curve_prompts``): every curve point,
    step 0 (π_ref) included, is a selection-split mean; the final numbers stay on the report split."""
    runs = []
    for s in range(3):
        r = _run("copg", 0.1, s, lambda p: 1.0 if p < 8 else 0.0, kl=0.1)
        for rec in r["eval"][:-1]:  # curve points: the selection prompts only
            rec["per_prompt"] = {k: v[: len(SEL)] for k, v in rec["per_prompt"].items()}
        runs.append(r)
    out = summarise(runs, SFT, SEL, REP, [0.1])
    curve = out["curves"][0]["curve"]
    assert [c["step"] for c in curve] == [0, 10, 20]
    assert curve[0]["mean"] == pytest.approx(sum(SFT["per_prompt"]["proxy"][:8]) / 8)
    assert curve[1]["mean"] == pytest.approx(0.5, abs=0.05) and curve[2]["mean"] == pytest.approx(1.0, abs=0.05)
    assert out["points"][0]["reward"]["mean"] == pytest.approx(0.0, abs=0.05)  # report split
    last = out["curves"][0]["last_change"]  # still rising over the last interval: 0.5 → 1.0, paired
    assert last["significant"] and last["mean"] == pytest.approx(0.5, abs=0.05)
    assert (last["from_step"], last["to_step"]) == (10, 20)


def test_verdicts_only_where_the_interval_excludes_zero():
    equal = summarise(_sweep(0.5, 0.5), SFT, SEL, REP, [0.1, 1.0])
    for row in equal["jbeta"]:
        d = row["copg_minus"]["dpo"]
        # J differs through KL (CoPG's KL is half of DPO's) but rewards are equal in distribution
        assert d["low"] <= d["mean"] <= d["high"]
    assert not equal["paired_best"]["dpo"]["significant"]
    assert not any("best β" in v for v in equal["verdicts"])
    apart = summarise(_sweep(1.0, 0.2), SFT, SEL, REP, [0.1, 1.0])
    assert apart["paired_best"]["dpo"]["significant"] and apart["paired_best"]["dpo"]["mean"] > 0
    assert any("best β" in v for v in apart["verdicts"])


def test_j_beta_uses_the_exact_kl_at_the_runs_beta():
    out = summarise(_sweep(), SFT, SEL, REP, [0.1, 1.0])
    point = next(p for p in out["points"] if p["method"] == "dpo" and p["beta"] == 0.1)
    assert point["J"]["mean"] == pytest.approx(point["reward"]["mean"] - 0.1 * point["kl"]["mean"], abs=1e-12)
    row = next(r for r in out["jbeta"] if r["beta"] == 0.1)
    assert row["J"]["dpo"]["mean"] == pytest.approx(point["J"]["mean"], abs=1e-12)


def test_offpolicy_rows_pair_copg_with_pg_per_behaviour():
    runs = _sweep()
    for s in range(3):
        runs.append(_run("pg", 0.1, s, lambda p: 0.2, kl=2.0, part="offpolicy"))
        for ds in ("T1.3", "human"):
            runs.append(_run("copg", 0.1, s, lambda p: 0.5, kl=0.5, dataset=ds, part="offpolicy"))
            runs.append(_run("pg", 0.1, s, lambda p: 0.1, kl=3.0, dataset=ds, part="offpolicy"))
    out = summarise(runs, SFT, SEL, REP, [0.1, 1.0], offpolicy_beta=0.1)
    assert [r["dataset"] for r in out["offpolicy"]["rows"]] == ["train", "T1.3", "human"]
    assert all(r["copg_minus_pg"]["significant"] and r["copg_minus_pg"]["mean"] > 0 for r in out["offpolicy"]["rows"])
    # the off-policy PG run on the main dataset is not part of the β sweep
    assert "pg" not in out["methods"]


def test_make_figures_writes_png_and_json_that_redraw_alone(tmp_path):
    runs = _sweep()
    for s in range(3):
        runs.append(_run("pg", 0.1, s, lambda p: 0.2, kl=2.0, part="offpolicy"))
        runs.append(_run("copg", 0.1, s, lambda p: 0.5, kl=0.5, dataset="T1.3", part="offpolicy"))
        runs.append(_run("pg", 0.1, s, lambda p: 0.1, kl=3.0, dataset="T1.3", part="offpolicy"))
    out = summarise(runs, SFT, SEL, REP, [0.1, 1.0], offpolicy_beta=0.1)
    written = make_figures(out, tmp_path, "python -m llm pipeline --preset test", {"x": 1})
    assert sorted(p.split("/")[-1] for p in written) == sorted(f"{n}.png" for n in figure_names())
    for name in figure_names():
        meta = json.loads((tmp_path / f"{name}.json").read_text())
        assert meta["command"] == "python -m llm pipeline --preset test" and meta["drawer"] == "llm.plots"
        (tmp_path / f"{name}.png").unlink()
        assert redraw(tmp_path / f"{name}.json").exists()
    no_sweep = summarise(_sweep(), SFT, SEL, REP, [0.1, 1.0])
    assert len(make_figures(no_sweep, tmp_path / "b", "cmd")) == len(figure_names(offpolicy=False))


def test_crossed_ci_reduces_to_student_t_and_widens_with_seed_disagreement():
    rng = random.Random(0)
    one_seed = [[rng.gauss(0.3, 1.0) for _ in range(40)]]
    c, t = crossed_ci(one_seed), mean_ci(one_seed[0])
    assert c["low"] == pytest.approx(t["low"]) and c["high"] == pytest.approx(t["high"])
    base = [rng.gauss(0, 1.0) for _ in range(40)]
    agree = [[b + rng.gauss(0, 0.1) for b in base] for _ in range(3)]
    disagree = [[b + off + rng.gauss(0, 0.1) for b in base] for off in (-1.0, 0.0, 1.0)]
    assert crossed_ci(disagree)["high"] - crossed_ci(disagree)["low"] > 3 * (
        crossed_ci(agree)["high"] - crossed_ci(agree)["low"]
    )
    assert crossed_ci(disagree)["df"] < 5  # the seed term, with 2 degrees of freedom, dominates


def test_crossed_ci_covers_the_truth_at_its_level():
    """Seeded simulation of the crossed design (seed, prompt and residual variance): coverage ≈ 95 %."""
    rng = random.Random(1)
    hits, reps = 0, 300
    for _ in range(reps):
        seeds = [rng.gauss(0, 0.3) for _ in range(3)]
        prompts = [rng.gauss(0, 1.0) for _ in range(32)]
        x = [[0.5 + s + p + rng.gauss(0, 1.0) for p in prompts] for s in seeds]
        c = crossed_ci(x)
        hits += c["low"] <= 0.5 <= c["high"]
    assert 0.90 <= hits / reps <= 0.99
    with pytest.raises(ValueError, match="seeds × prompts"):
        crossed_ci([])
    assert math.isfinite(crossed_ci([[1.0, 1.0], [1.0, 1.0]])["mean"])


def test_every_comparison_carries_its_holm_adjusted_p_and_verdicts_survive_it():
    """Issue 23: one Holm family over every CoPG-minus comparison (J_β at each common β, best β, off-policy rows);
    ``significant`` and the verdicts follow the adjusted p, never the unadjusted interval alone."""
    from llm.stats import holm

    runs = _sweep(1.0, 0.2)
    for s in range(3):
        runs.append(_run("pg", 0.1, s, lambda p: 0.2, kl=2.0, part="offpolicy"))
    out = summarise(runs, SFT, SEL, REP, [0.1, 1.0], offpolicy_beta=0.1)
    family = [d for r in out["jbeta"] for d in r["copg_minus"].values()]
    family += list(out["paired_best"].values()) + [r["copg_minus_pg"] for r in out["offpolicy"]["rows"]]
    assert len(family) == len(out["holm"]["comparisons"]) == 4
    assert [d["p_holm"] for d in family] == pytest.approx(holm([d["p"] for d in family]))
    assert all(d["significant"] == (d["p_holm"] <= 0.05) for d in family)
    assert len(out["verdicts"]) == sum(d["significant"] for d in family) > 0
    assert all("Holm-adjusted p" in v for v in out["verdicts"])


def test_an_interval_that_excludes_zero_is_no_verdict_unless_it_survives_holm():
    """Hand computation: p = 0.03, 0.5, 0.9 over three comparisons → Holm 0.09, 1.0, 1.0: the first interval
    excludes 0 (unadjusted) but gives no verdict; alone in its family (p_holm = 0.03) it gives one."""
    from llm.comparison import _holm

    def comp(p, excludes):
        return {"mean": 0.4, "low": 0.1, "high": 0.7, "p": p, "ci_excludes_0": excludes, "seeds": 3, "prompts": 16}

    out = {"verdicts": [], "_family": [("CoPG − DPO", " here", comp(0.03, True))]}
    out["_family"] += [("CoPG − IPO", " here", comp(0.5, False)), ("CoPG − PG", " here", comp(0.9, False))]
    first = out["_family"][0][2]
    _holm(out)
    assert [c["p_holm"] for c in out["holm"]["comparisons"]] == pytest.approx([0.09, 1.0, 1.0])
    assert not first["significant"] and out["verdicts"] == []
    alone = {"verdicts": [], "_family": [("CoPG − DPO", " here", comp(0.03, True))]}
    _holm(alone)
    assert alone["holm"]["comparisons"][0]["p_holm"] == pytest.approx(0.03) and len(alone["verdicts"]) == 1
    assert "p = 0.03, Holm-adjusted p = 0.03 over 1 comparisons" in alone["verdicts"][0]


def test_kl_intervals_respect_kl_nonnegative():
    """The frontier drew KL intervals down to −7.5 nats (symmetric t on 2 df); the lower bound is now clipped at 0
    (and says so) and the per-seed means are kept."""
    runs = []
    for s, kl in enumerate((0.05, 0.1, 6.0)):  # one seed far from the others: a symmetric interval crosses 0
        runs.append(_run("copg", 0.1, s, lambda p: 0.5, kl=kl))
        runs.append(_run("dpo", 0.1, s, lambda p: 0.5, kl=0.3))
    out = summarise(runs, SFT, SEL, REP, [0.1])
    kl = next(p for p in out["points"] if p["method"] == "copg")["kl"]
    raw = crossed_ci(
        [
            r["eval"][-1]["per_prompt"]["kl_exact"][8:]
            for r in sorted(runs, key=lambda r: r["seed"])
            if r["method"] == "copg"
        ]
    )
    assert raw["low"] < 0 and kl["low"] == 0.0 and kl["clipped_at_0"] and kl["high"] == pytest.approx(raw["high"])
    assert kl["seed_means"] == pytest.approx([0.05, 0.1, 6.0], abs=0.02)
    assert all(p["kl"]["low"] >= 0 for p in out["points"])
