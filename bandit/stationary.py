"""Stationary points of each method's *expected* objective under μ1⊗μ2: where its sampled curves should settle.

The rule is read from the method's row (:class:`bandit.methods.Method`), never from its name:

- ``frozen_off_support``: off S = supp(μ1) ∪ supp(μ2) the expected gradient is exactly 0, so those logits keep
  their initial value and only the arms in S are solved for.
- ``stationary_is_optimum(μ1, μ2)`` true (copg always: Theorem 1; onpolicy always and pg_is with full-support μ:
  their expected gradient is 2∇J): closed form θ_a = ln π_ref(a) + R(a)/β + c on the free arms, i.e. π ∝ π* there
  (π = π* when they are all arms). The constant c is the one plain gradient descent reaches (it conserves Σ_a θ_a).
  Under Adam the mass left off S depends on the path (see the ``support`` experiment).
- every other case: the root of the closed-form expected gradient (:func:`bandit.dynamics.make_expected_gradient`)
  found with ``scipy.optimize.root`` in float64, with the constant shift fixed (Σθ conserved, as under gradient
  descent). The residual max|∇| is returned and checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize

from bandit.dynamics import exact_flow, make_expected_gradient
from bandit.methods import Method, get_method
from bandit.policies import policy
from bandit.problem import BanditProblem, check_distribution

__all__ = ["StationaryPoint", "stationary_point"]

_BATCHED_JACOBIAN = True
"""``hybr`` gets hybrd's own finite-difference Jacobian computed in batched gradient calls (same steps, faster);
False: plain hybrd. Kept as a switch, not an option: it is the only way to check that the speed-up lands on the
very logits of the plain algorithm (tests/test_bandit_methods.py runs both), and no caller has a reason to turn it
off."""


@dataclass
class StationaryPoint:
    """The stationary policy of one method's expected objective.

    Attributes:
        method: method name.
        logits: [A] float64 logits θ (Σθ equal to the initial logits' sum).
        policy: [A] softmax(θ).
        regret: J(π*) − J(π) = β·KL(π‖π*).
        residual: max_a |E[∇_θ loss](θ)|, the check that θ is stationary.
        closed_form: True if θ came from a formula rather than root finding.
    """

    method: str
    logits: torch.Tensor
    policy: torch.Tensor
    regret: float
    residual: float
    closed_form: bool

    def to_dict(self) -> dict:
        """JSON-ready dict (lists and floats)."""
        return {
            "method": self.method,
            "policy": self.policy.tolist(),
            "logits": self.logits.tolist(),
            "regret": self.regret,
            "residual": self.residual,
            "closed_form": self.closed_form,
        }


class _RootSolver:
    """Root finding for :func:`stationary_point` on the free arms: ∇ = 0 on all but one free arm, Σθ conserved."""

    def __init__(
        self, grad_fn: Callable[[torch.Tensor], torch.Tensor], theta0: torch.Tensor, free: torch.Tensor, tol: float
    ) -> None:
        self.grad_fn, self.theta0, self.free, self.tol = grad_fn, theta0, free, tol
        self.total = theta0[free].sum().item()
        self.free_idx = free.nonzero()[:, 0]
        self.n_free = int(free.sum())
        self.buf = theta0.clone()  # reused: grad_fn keeps no reference to its input
        self.count = 0

    def residual(self, x: np.ndarray) -> np.ndarray:
        self.buf[self.free_idx] = torch.from_numpy(x)
        g = self.grad_fn(self.buf)[self.free_idx].numpy()
        return np.concatenate([g[:-1], [x.sum() - self.total]])

    def counted(self, x: np.ndarray) -> np.ndarray:
        self.count += 1
        return self.residual(x)

    def fd_jacobian(self, x: np.ndarray) -> np.ndarray:
        """MINPACK hybrd's own forward-difference Jacobian (fdjac1: h_j = √ε·|x_j|, or √ε if x_j = 0), every column
        in batched gradient calls: hybrd's formula, evaluated in batches (which torch may round differently in the
        last bit), so ``hybr`` with this ``jac`` (MINPACK hybrj) takes hybrd's steps: equal logits in
        tests/test_bandit_methods.py and bit-identical roots on every LLM-bridge prompt (docs/bridge.md)."""
        n, free = self.n_free, self.free
        self.count += n
        f0 = self.residual(x)
        eps = float(np.sqrt(np.finfo(np.float64).eps))  # MINPACK's step for epsfcn = machine ε (scipy's default)
        h = eps * np.abs(x)
        h[h == 0] = eps
        xs = np.repeat(x[None, :], n, 0)  # [n, n]: row j is x with x_j + h_j
        xs[np.arange(n), np.arange(n)] = x + h
        thetas = self.theta0.expand(n, self.theta0.shape[0]).clone()
        thetas[:, free] = torch.from_numpy(xs)
        g = torch.cat([self.grad_fn(t) for t in thetas.split(32)])[:, free].numpy()  # chunks: dpo's is [32, A, A]
        fs = np.concatenate([g[:, :-1], (xs.sum(1) - self.total)[:, None]], 1)  # [n columns, n residuals]
        return ((fs - f0[None, :]) / h[:, None]).T

    def solve(self, x0: np.ndarray) -> tuple[float, torch.Tensor]:
        """The best of MINPACK's hybr (hybrj with :meth:`fd_jacobian`) and Levenberg–Marquardt from ``x0``."""
        best = (float("inf"), self.theta0)
        for how in ("hybr", "lm"):
            sol = None
            if how == "hybr" and _BATCHED_JACOBIAN:  # hybrj with hybrd's own finite differences, batched
                self.count = 0
                sol = optimize.root(self.counted, x0, method="hybr", jac=self.fd_jacobian, tol=1e-14)
                if self.count >= 200 * (self.n_free + 1):  # hybrd would have stopped at maxfev: run it as it is
                    sol = None
            if sol is None:
                sol = optimize.root(self.residual, x0, method=how, tol=1e-14)
            theta = self.theta0.clone()
            theta[self.free] = torch.from_numpy(sol.x)
            res = self.grad_fn(theta).abs().max().item()
            if res < best[0]:
                best = (res, theta)
            if res <= self.tol:
                break
        return best


def stationary_point(
    method: str | Method,
    problem: BanditProblem,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
    init: torch.Tensor | None = None,
    tol: float = 1e-9,
    guess: torch.Tensor | None = None,
    behaviour: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> StationaryPoint:
    """Exact stationary point of ``method``'s expected loss under y ~ μ1, y' ~ μ2.

    Args:
        method: a name in :data:`bandit.methods.METHODS` or :data:`bandit.methods.FAMILY`, or a row (e.g. from a
            :mod:`bandit.family` factory).
        problem: the bandit.
        mu1, mu2: [A] behaviour policies.
        pref_beta, preference: IPO/DPO settings (see :func:`bandit.dynamics.make_expected_gradient`).
        init: [A] initial logits (default ln π_ref); fixes the values off the support and the constant shift.
        tol: maximum accepted residual max|∇|.
        guess: optional [A] logits to try first (e.g. the solution at a neighbouring β or α in a sweep); accepted
            only if it polishes to an interior point with residual ≤ tol.
        behaviour: (μ1, μ2) the importance ratio divides by when the arms come from mu1, mu2 ≠ them (``pg_is`` on
            a finite dataset: mu1, mu2 = its frequencies μ̂, behaviour = the policies that sampled it; see
            :func:`bandit.dynamics.make_expected_gradient`). Its fixed point is then not π*: no closed form.
    Returns:
        :class:`StationaryPoint`.
    Raises:
        ValueError if root finding does not reach ``tol`` (the message gives the residual).
    """
    m = get_method(method)
    a = problem.num_arms
    mu1 = check_distribution("stationary_point", "mu1", mu1, num_arms=a)
    mu2 = check_distribution("stationary_point", "mu2", mu2, num_arms=a)
    if mu1.dim() != 1 or mu2.dim() != 1:
        raise ValueError("stationary_point: pass one [A] behaviour policy per argument (loop over seeds/α yourself)")
    theta0 = (problem.ref_log_policy if init is None else torch.as_tensor(init, dtype=torch.float64)).clone()
    grad_fn = make_expected_gradient(
        method, problem, mu1, mu2, pref_beta=pref_beta, preference=preference, behaviour=behaviour
    )
    support = (mu1 > 0) | (mu2 > 0)

    def done(theta: torch.Tensor, closed: bool) -> StationaryPoint:
        res = grad_fn(theta).abs().max().item()
        if not res <= tol:
            raise ValueError(
                f"stationary_point: {m.name} did not reach a stationary point (residual {res:.2e} > tol {tol:.0e}); "
                "the expected objective may have no finite stationary point for these μ1, μ2"
            )
        pi = policy(theta)
        return StationaryPoint(m.name, theta, pi, problem.regret(pi).item(), res, closed)

    # the arms that move: all of them, or only the data's support when the method's gradient vanishes off it
    free = support.clone() if m.frozen_off_support else torch.ones(a, dtype=torch.bool)
    target = problem.ref_log_policy + problem.rewards / problem.beta  # ln π* + const
    reweighted = behaviour is not None and m.needs_behaviour  # ratio π/μ with μ ≠ the arms' law: not π*
    if m.stationary_is_optimum is not None and not reweighted and m.stationary_is_optimum(mu1, mu2):
        theta = theta0.clone()
        c = (theta0[free].sum() - target[free].sum()) / free.sum()  # Σθ conserved (gradient descent)
        theta[free] = target[free] + c
        return done(theta, True)

    solve = _RootSolver(grad_fn, theta0, free, tol).solve

    # Newton-type solves from two cheap starts (the initial logits and π*'s). Accept an interior solution, or a
    # solution both starts agree on; otherwise follow the dynamics (a short exact Adam flow) and polish its end
    # point, which picks the point the flow reaches (possibly on the boundary of the simplex, where π(a) → 0).
    start_star = theta0.clone()
    start_star[free] = (target - target[free].mean() + theta0[free].mean())[free]
    if guess is not None:
        g0 = theta0.clone()
        g0[free] = torch.as_tensor(guess, dtype=torch.float64)[free]
        g0[free] += theta0[free].mean() - g0[free].mean()
        res_g, theta_g = solve(g0[free].numpy())
        if res_g <= tol:
            return done(theta_g, False)
    res, theta = solve(theta0[free].numpy())
    if res <= tol and policy(theta).min().item() > 1e-9:
        return done(theta, False)
    res_b, theta_b = solve(start_star[free].numpy())
    if res <= tol and res_b <= tol and (policy(theta) - policy(theta_b)).abs().max().item() < 1e-7:
        return done(theta, False)
    flow = exact_flow(method, problem, mu1, mu2, steps=4000, lr=0.02, optimizer="adam", init=theta0, record_every=4000)
    res2, theta2 = solve(flow[-1][free].numpy())
    return done(theta2 if res2 <= tol or res2 < res else theta, False)
