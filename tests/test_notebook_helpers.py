"""The package helpers the notebooks use: in-memory experiment records and figures, per-pair gradient statistics."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from bandit import BanditProblem, expected_gradient, offpolicy_family, paper_problem, sample_pairs
from bandit.estimators import GradientMoments, pair_gradient_moments, pair_gradients
from bandit.experiments import SimplexConfig, make_record
from bandit.methods import METHODS
from bandit.plotting import draw_record

MU1 = torch.tensor([0.1, 0.2, 0.7], dtype=torch.float64)  # paper Sec. 5
MU2 = torch.tensor([0.05, 0.05, 0.9], dtype=torch.float64)


def _random_setting(seed: int, arms: int = 4):
    g = torch.Generator().manual_seed(seed)
    problem = BanditProblem(
        torch.rand(arms, generator=g, dtype=torch.float64) * 3 - 1,
        torch.softmax(torch.randn(arms, generator=g, dtype=torch.float64), -1),
        0.2 + float(torch.rand(1, generator=g)),
    )
    mu1, mu2 = (torch.softmax(torch.randn(arms, generator=g, dtype=torch.float64), -1) for _ in range(2))
    theta = torch.randn(arms, generator=g, dtype=torch.float64)
    return problem, mu1, mu2, theta


@pytest.mark.parametrize("method", [m for m in METHODS if m != "pg_mean"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moments_mean_is_the_expected_gradient(method, seed):
    """Enumerating single-pair gradients through bandit.losses reproduces the closed-form expected gradient."""
    problem, mu1, mu2, theta = _random_setting(seed)
    moments = pair_gradient_moments(method, problem, theta, mu1, mu2)
    assert isinstance(moments, GradientMoments)
    closed_form = expected_gradient(method, problem, theta, mu1, mu2)
    torch.testing.assert_close(moments.mean, closed_form, atol=1e-12, rtol=1e-10)
    assert moments.variance >= 0
    assert math.isclose(moments.second_moment, moments.variance + moments.mean.square().sum().item(), rel_tol=1e-9)


def test_copg_pair_gradient_closed_form_and_zero_at_optimum():
    """Paper Eqs. 18–19: ∇ loss = −(R_β(y) − R_β(y'))·(e_y − e_y') per pair; every pair's gradient is 0 at π*."""
    problem, _, _, theta = _random_setting(3)
    pairs = torch.cartesian_prod(torch.arange(4), torch.arange(4))
    grads = pair_gradients("copg", problem, theta, pairs)
    reg = problem.regularized_rewards(torch.softmax(theta, -1))  # [A] R_β^π per arm
    eye = torch.eye(4, dtype=torch.float64)
    expected = -(reg[pairs[:, 0]] - reg[pairs[:, 1]])[:, None] * (eye[pairs[:, 0]] - eye[pairs[:, 1]])
    torch.testing.assert_close(grads, expected, atol=1e-12, rtol=0)
    at_optimum = pair_gradients("copg", problem, problem.optimal_logits, pairs)
    assert at_optimum.abs().max() < 1e-12


def test_sampled_variance_matches_exact():
    """The empirical variance of sampled single-pair gradients converges to pair_gradient_moments' variance."""
    problem = paper_problem()
    theta = problem.ref_log_policy
    mu = offpolicy_family(problem, 0.9)
    data = sample_pairs(problem, mu, mu, num_pairs=40_000, seed=3)
    for method in ("copg", "pg_is", "pg"):
        g = pair_gradients(method, problem, theta, data.arms[0], data.rewards[0], mu, mu)
        exact = pair_gradient_moments(method, problem, theta, mu, mu)
        assert abs(g.var(0).sum().item() - exact.variance) < 0.1 * exact.variance, method
        assert (g.mean(0) - exact.mean).abs().max() < 5 * (g.std(0).max() / len(g) ** 0.5), method


def test_importance_sampling_variance_grows_off_policy():
    """IS-PG's variance explodes as μ moves away from π; CoPG's does not (notebook 03's claim)."""
    problem = BanditProblem(torch.linspace(0, 2, 10, dtype=torch.float64), torch.full((10,), 0.1), 0.25)
    theta = problem.ref_log_policy
    on, far = offpolicy_family(problem, 0.5), offpolicy_family(problem, 1.0)
    is_on, is_far = (pair_gradient_moments("pg_is", problem, theta, m, m).variance for m in (on, far))
    copg_on, copg_far = (pair_gradient_moments("copg", problem, theta, m, m).variance for m in (on, far))
    assert is_far > 100 * is_on
    assert copg_far < copg_on


def test_pair_gradients_validation():
    problem = paper_problem()
    with pytest.raises(ValueError, match="pg_is needs mu1 and mu2"):
        pair_gradients("pg_is", problem, problem.ref_log_policy, torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r"arms has shape"):
        pair_gradients("copg", problem, problem.ref_log_policy, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"logits has shape"):
        pair_gradients("copg", problem, torch.zeros(4), torch.tensor([[0, 1]]))


def test_make_record_and_draw_record_write_nothing(tmp_path, monkeypatch):
    """make_record returns the same record run_experiment writes (minus timing), writing no file; seeds=0 is valid
    for the simplex (exact flows only); draw_record returns an unsaved figure."""
    monkeypatch.chdir(tmp_path)
    cfg = SimplexConfig(seeds=0, methods=("copg", "pg"), flow_steps=200, progress=False, out=tmp_path / "out")
    rec = make_record("simplex", cfg)
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())
    assert rec["experiment"] == "simplex" and rec["seeds"] == []
    assert set(rec["methods"]) == {"copg", "pg"} and "sampled" not in rec["methods"]["copg"]
    torch.testing.assert_close(
        torch.tensor(rec["methods"]["copg"]["stationary_policy"], dtype=torch.float64),
        paper_problem().optimal_policy,
        atol=1e-9,
        rtol=0,
    )
    fig = draw_record(rec)
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="unknown experiment"):
        draw_record({"experiment": "nope"})
    with pytest.raises(ValueError, match="needs a PaperFig1Config"):
        make_record("paper-fig1", cfg)
    with pytest.raises(ValueError, match=r"--seeds must be an integer in \[1, "):
        from bandit.experiments import SupportConfig

        SupportConfig(seeds=0)


def test_simplex_records_a_method_without_stationary_point_instead_of_failing():
    """pg_value at β = 0.1 on data from the far off-policy end of the μ_α family has no finite stationary point: the
    record says so for that method (null + reason), keeps the others, and still draws."""
    problem = paper_problem().with_beta(0.1)
    mu = tuple(offpolicy_family(problem, 1.0).tolist())
    cfg = SimplexConfig(
        seeds=0, beta=0.1, pref_beta=0.1, mu1=mu, mu2=mu, methods=("copg", "pg_value"), flow_steps=50, progress=False
    )
    rec = make_record("simplex", cfg)
    bad, good = rec["methods"]["pg_value"], rec["methods"]["copg"]
    assert bad["stationary_policy"] is None and bad["stationary_regret"] is None
    assert "did not reach a stationary point" in bad["stationary_error"]
    assert good["stationary_regret"] == pytest.approx(0.0, abs=1e-12) and "stationary_error" not in good
    fig = draw_record(rec)
    titles = {ax.get_title() for ax in fig.axes}
    assert "PG (b = E_π[R])\nno finite stationary point" in titles and "CoPG\nstops at π*" in titles
    matplotlib.pyplot.close(fig)
