"""The translation table of docs/theory.md ("One loss under many names") is read and every row checked: its scale c
and β against the framework's loss in bandit.losses, its fixed-point entry on the paper's bandit; and the
loss-family figure runs in fast mode with every claim holding."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch

from bandit.data import offpolicy_family
from bandit.experiments import LossFamilyConfig, make_record
from bandit.family import apo_method, ipo_mean_method, qrpo_method, rpo_sq_method
from bandit.losses import command_a_loss, copg_loss, ipo_loss, qrpo_rebel_loss, rebel_loss, rpo_sq_loss
from bandit.methods import get_method
from bandit.plotting import draw_record
from bandit.presets import paper_problem
from bandit.stationary import stationary_point

DOC = Path(__file__).resolve().parents[1] / "docs" / "theory.md"
PARAMS = {"b": 0.7, "eta": 1.8, "tau": 0.4, "k": 4, "L": 3.0}  # β, η, τ, k, L of the checks


def _table() -> dict[str, dict[str, str]]:
    text = DOC.read_text(encoding="utf-8").split("## One loss under many names", 1)[1]
    lines = [ln for ln in text.splitlines() if ln.startswith("| `")]
    header = ["id", "framework", "parameters", "loss", "our_beta", "c", "fixed_point"]
    rows = {}
    for ln in lines:
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = dict(zip(header, cells))
    return rows


def _value(expr: str) -> float:
    """Evaluate a table entry such as 2β, 2/(τL), βk, β/η with PARAMS (symbols multiply when adjacent)."""
    names = {"β": "b", "η": "eta", "τ": "tau", "k": "k", "L": "L"}
    tokens = re.findall(r"\d+|[βητkL]|[/()]", expr)
    assert "".join(tokens) == expr.replace(" ", ""), f"unparsed table entry {expr!r}"
    out, prev = [], "("
    for t in tokens:
        if prev not in "/(" and t not in "/)":  # an operand or ")" followed by an operand or "(": a product
            out.append("*")
        out.append(names.get(t, t))
        prev = t
    return float(eval("".join(out), {"__builtins__": {}}, dict(PARAMS)))  # noqa: S307 (table symbols only)


def _batch(k: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logps = (-5 * torch.rand(3, k, generator=g, dtype=torch.float64)).requires_grad_(True)
    ref = -5 * torch.rand(3, k, generator=g, dtype=torch.float64)
    rewards = 4 * torch.rand(3, k, generator=g, dtype=torch.float64) - 2
    return logps, ref, rewards


QUARTER = torch.tensor([[0.25, -0.25]] * 3, dtype=torch.float64)  # Property 3's rewards for the IPO rows
p = PARAMS
FRAMEWORK_LOSSES = {  # id → (K, their loss on (logps, ref, rewards), rewards CoPG sees)
    "copg": (2, lambda lp, ref, r: copg_loss(lp, ref, r, p["b"]), None),
    "compose-rl-rebel": (2, lambda lp, ref, r: rebel_loss(lp, ref, r, p["b"]), None),
    "rebel-paper": (2, lambda lp, ref, r: rebel_loss(lp, ref, r, 1 / p["eta"]), None),
    "nemo-rpo_sq": (2, lambda lp, ref, r: rpo_sq_loss(lp, ref, r, p["b"], reward_scale=p["eta"]), None),
    "qrpo-rebel": (2, lambda lp, ref, r: qrpo_rebel_loss(lp, ref, r, p["b"]), None),
    "command-a": (p["k"], lambda lp, ref, r: command_a_loss(lp, ref, r, p["b"]), None),
    "ipo-sum": (2, lambda lp, ref, r: ipo_loss(lp, ref, p["tau"]), QUARTER),
    "trl-ipo": (2, lambda lp, ref, r: ipo_loss(lp, ref, p["tau"], lengths=torch.full_like(ref, p["L"])), QUARTER),
}


def test_table_has_every_variant():
    assert set(_table()) == {*FRAMEWORK_LOSSES, "qrpo", "compose-rl-apo", "trl-a2po"}


@pytest.mark.parametrize("row_id", list(FRAMEWORK_LOSSES))
def test_table_scale_and_beta_are_the_frameworks_loss(row_id):
    """their loss = c × copg_loss(our β), values and gradients, with c and our β read from docs/theory.md."""
    row = _table()[row_id]
    c, beta = _value(row["c"]), _value(row["our_beta"])
    k, theirs, copg_rewards = FRAMEWORK_LOSSES[row_id]
    logps, ref, rewards = _batch(k)
    r_copg = rewards if copg_rewards is None else copg_rewards
    lhs, rhs = theirs(logps, ref, rewards), c * copg_loss(logps, ref, r_copg, beta)
    torch.testing.assert_close(lhs, rhs)
    (g1,) = torch.autograd.grad(lhs.sum(), logps)
    (g2,) = torch.autograd.grad(rhs.sum(), logps)
    torch.testing.assert_close(g1, g2)


def _fixed_point_cases(problem):
    """id → (the table's fixed-point entry, [(row, regret is exactly 0)])."""
    zero_rows = {
        "copg": "copg",
        "compose-rl-rebel": "rebel",
        "rebel-paper": "rebel",
        "qrpo-rebel": "qrpo_rebel",
        "command-a": "command_a",
    }
    cases = {i: ("yes", [(get_method(n), True)]) for i, n in zero_rows.items()}
    cases["nemo-rpo_sq"] = ("iff η = 1", [(rpo_sq_method(1.0), True), (rpo_sq_method(p["eta"]), False)])
    cases["ipo-sum"] = ("no", [(get_method("ipo"), False)])
    cases["trl-ipo"] = ("no", [(ipo_mean_method([p["L"]] * 3), False), (ipo_mean_method([3.0, 2.0, 1.0]), False)])
    cases["qrpo"] = ("no", [(qrpo_method(problem), False)])
    cases["compose-rl-apo"] = ("iff N = ∞", [(apo_method(problem, None), True), (apo_method(problem, 4), False)])
    a2po = [apo_method(problem, n, value_beta=b1, onpolicy=True) for n in (1, 4) for b1 in (None, 2.0)]
    cases["trl-a2po"] = ("yes, any N and β₁", [(row, True) for row in a2po])
    return cases


def test_table_fixed_points_hold_on_the_paper_bandit():
    """Each row's fixed-point entry, checked with exact stationary points at μ_α, α ∈ {0.25, 1} (μ ≠ π*)."""
    problem = paper_problem()
    table = _table()
    for row_id, (entry, rows) in _fixed_point_cases(problem).items():
        assert table[row_id]["fixed_point"] == entry, f"{row_id}: the table says {table[row_id]['fixed_point']!r}"
        for row, zero in rows:
            regrets = [stationary_point(row, problem, mu, mu).regret for mu in offpolicy_family(problem, [0.25, 1.0])]
            if zero:
                assert max(regrets) <= 1e-9, (row_id, row.name, regrets)
            else:
                assert min(regrets) > 1e-6, (row_id, row.name, regrets)


def test_loss_family_figure_fast_mode_claims_hold():
    """`python -m bandit loss-family`, fast mode: exact regrets at 3 α values, every claim holds, the figure draws."""
    rec = make_record("loss-family", LossFamilyConfig(exact_points=3, apo_samples=(1, 4), progress=False))
    assert rec["claims"] and all(c["holds"] for c in rec["claims"]), [c["text"] for c in rec["claims"]]
    assert max(rec["methods"]["rebel"]["exact_regret"]) <= 1e-9 < min(rec["methods"]["ipo"]["exact_regret"])
    plt.close(draw_record(rec))
