"""The method table's row type, what its functions take, and the two registries it fills (no rows here).

:class:`Method` (one row: data kind, loss, closed-form expected gradient, stationary rule), :class:`PairBatch` (what a
row's loss reads), :class:`ExpectedSetting` (what its expected gradient reads), :func:`contrast` and CoPG's closed form
(shared by the rows of :mod:`bandit.methods` and :mod:`bandit.family`), :data:`METHODS` / :data:`FAMILY` and
:func:`register_method`. Both row modules import this one, never each other's rows: :mod:`bandit.methods` registers
the paper's methods and imports :mod:`bandit.family`, which registers the CoPG family under other names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from bandit.policies import log_policy
from bandit.problem import BanditProblem
from bandit.style import style

__all__ = [
    "DATA_KINDS",
    "FAMILY",
    "METHODS",
    "ExpectedSetting",
    "GradFn",
    "Method",
    "PairBatch",
    "always_optimum",
    "contrast",
    "copg_expected_gradient",
    "flat_rows",
    "per_row",
    "register_method",
]

#: The views of a dataset a method can read: the (y, y') pairs, the same pairs as (preferred, dispreferred), or
#: fresh pairs y, y' ~ π drawn every step (no dataset).
DATA_KINDS = ("pairs", "preferences", "onpolicy")


@dataclass
class PairBatch:
    """One minibatch per seed, arms already gathered (S seeds, B pairs).

    Attributes:
        logps: [S, B, 2] ln π(y) of the two arms of each pair; carries the gradient. For preference methods column
            0 is the preferred arm.
        ref_logps: [S, B, 2] ln π_ref of the same arms; data.
        rewards: [S, B, 2] observed rewards of the same arms; data.
        beta: β, the problem's KL strength.
        pref_beta: β used by IPO (its τ) and DPO.
        value: [S] exact E_{y~π}[R(y)] per seed, detached (the ``pg_value`` baseline).
        behaviour_logps: [S, B, 2] ln μ1(y), ln μ2(y') (``pg_is``), or None.
        weights: [S, B] row weights summing to 1 per seed (exact enumeration, or the cell counts / batch size of
            the count-based trainer), or None for a plain minibatch mean.
        lengths: [S, B, 2] token lengths of the two arms, for per-token-mean losses (rows with ``arm_lengths``);
            filled by :func:`enumerated_expected_loss`, None in the sampled trainers.
    """

    logps: torch.Tensor
    ref_logps: torch.Tensor
    rewards: torch.Tensor
    beta: float
    pref_beta: float
    value: torch.Tensor
    behaviour_logps: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    lengths: torch.Tensor | None = None

    def rows(self, t: torch.Tensor) -> torch.Tensor:
        """[S, B, K] → the [N, K] rows (N = S·B) that ``bandit.losses`` functions take, in the order
        :func:`method_loss` expects back."""
        return flat_rows(t)

    def per_row(self, per_seed: torch.Tensor) -> torch.Tensor:
        """[S] (one value per seed, e.g. a baseline) → [N], aligned with :meth:`rows`."""
        return per_row(per_seed, self.logps.shape[1])


def flat_rows(t: torch.Tensor) -> torch.Tensor:
    """[S, B, K] -> [S·B, K], row s·B + b (zero-copy for contiguous tensors): the rows a row's loss hands to
    ``bandit.losses``."""
    return t.reshape(-1, t.shape[-1])


def per_row(per_seed: torch.Tensor, n: int) -> torch.Tensor:
    """[S] -> [S·B] in :func:`flat_rows`'s row order (row s·B + b gets per_seed[s])."""
    return per_seed.repeat_interleave(n)


@dataclass(frozen=True)
class ExpectedSetting:
    """What an expected gradient depends on besides θ (built by :func:`bandit.dynamics.make_expected_gradient`).

    Attributes:
        problem: the bandit.
        mu1, mu2: [A] or [S, A] behaviour policies (validated).
        pref_beta: β of IPO/DPO.
        preference: IPO/DPO labels, "bradley_terry" or "reward".
        is_mu1, is_mu2: the behaviour policies the importance ratio π/μ divides by (``pg_is``) when the arms are
            drawn from mu1, mu2 but the loss is given other ones: a finite dataset's sample frequencies μ̂ (mu1,
            mu2) with the policies that sampled it (the ``behaviour_logps`` the dataset records). None: mu1, mu2.
    """

    problem: BanditProblem
    mu1: torch.Tensor
    mu2: torch.Tensor
    pref_beta: float
    preference: str
    is_mu1: torch.Tensor | None = None
    is_mu2: torch.Tensor | None = None

    def is_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per column, E_{y~mu}[(π/μ_IS)(y)·f(y)] = Σ_y w(y)·π(y)·f(y): w = mu/μ_IS where mu > 0, else 0 (w is the
        support indicator 1{mu > 0} when μ_IS = mu). ``[A]`` or ``[S, A]`` float64 each."""
        out = []
        for mu, is_mu in ((self.mu1, self.is_mu1), (self.mu2, self.is_mu2)):
            if is_mu is None:
                out.append((mu > 0).to(torch.float64))
            else:
                sampled = mu > 0
                if bool((sampled & ~(is_mu > 0)).any()):
                    raise ValueError("ExpectedSetting: an arm is sampled (mu > 0) where its behaviour policy is 0")
                out.append(torch.where(sampled, mu / torch.where(sampled, is_mu, 1.0), 0.0).to(torch.float64))
        return out[0], out[1]

    def reg_reward(self, logits: torch.Tensor) -> torch.Tensor:
        """a = R_β^π(y) = R(y) − β·(ln π(y) − ln π_ref(y)) per arm, same shape as ``logits``."""
        p = self.problem
        return p.rewards - p.beta * (log_policy(logits) - p.ref_log_policy)

    def pref_prob(self) -> torch.Tensor:
        """[A, A] P(y ≻ y'): Bradley–Terry σ(R(y) − R(y')) or 1/0 by reward (ties to y)."""
        r = self.problem.rewards
        diff = r[:, None] - r[None, :]  # [A, A]  R(y) − R(y')
        if self.preference == "bradley_terry":
            return torch.sigmoid(diff)
        if self.preference == "reward":
            return (diff >= 0).to(torch.float64)
        raise ValueError(
            f"make_expected_gradient: preference must be 'bradley_terry' or 'reward', got {self.preference!r}"
        )


GradFn = Callable[[torch.Tensor], torch.Tensor]


def contrast(mu1: torch.Tensor, mu2: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """C(v) = E_{y~μ1, y'~μ2}[(v_y − v_y')(e_y − e_y')] = μ1⊙v + μ2⊙v − (μ1·v)μ2 − (μ2·v)μ1, in O(A).

    Args:
        mu1, mu2: [..., A] behaviour policies (broadcastable with v).
        v: [..., A] a value per arm.
    Returns:
        [..., A]; its entries sum to 0 (invariant to v + c).
    """
    return (mu1 + mu2) * v - (mu1 * v).sum(-1, keepdim=True) * mu2 - (mu2 * v).sum(-1, keepdim=True) * mu1


def copg_expected_gradient(s: ExpectedSetting) -> GradFn:
    """CoPG's closed-form expected gradient −C(a), a = R_β^π (θ ↦ [.., A]); the ``copg`` row's, and the base of every
    row that is a multiple of CoPG (:mod:`bandit.family`)."""
    # −C(a) with a = R_β^π = w − β·θ + β·logsumexp(θ), w = R + β·ln π_ref. C ignores constants and is linear, so
    # −C(a) = β·C(θ) − C(w): no softmax at all, C(w) precomputed; 5 passes over A per step.
    mu1, mu2, beta = s.mu1, s.mu2, s.problem.beta
    c_w = contrast(mu1, mu2, s.problem.rewards + beta * s.problem.ref_log_policy)
    m_sum = mu1 + mu2

    def copg_grad(th: torch.Tensor) -> torch.Tensor:
        c_th = m_sum * th - (mu1 * th).sum(-1, keepdim=True) * mu2 - (mu2 * th).sum(-1, keepdim=True) * mu1
        return beta * c_th - c_w

    return copg_grad


def always_optimum(mu1: torch.Tensor, mu2: torch.Tensor) -> bool:
    """``stationary_is_optimum`` rule of a row whose stationary point is π* for every μ1, μ2 (Theorem 1's methods)."""
    return True


@dataclass(frozen=True)
class Method:
    """One bandit method: everything the lab needs to know about it, in one row.

    Attributes:
        name: registry key (e.g. "copg"); its legend label and colour come from :mod:`bandit.style`.
        data: which view of the dataset it reads, one of :data:`DATA_KINDS`: "pairs" (the (y, y') dataset),
            "preferences" (the same pairs as (preferred, dispreferred)) or "onpolicy" (fresh y, y' ~ π every step).
        summary: one line: what it is and what theory says about its fixed point.
        loss: PairBatch → [S·B] per-pair losses, rows s·B + b (a thin call into ``bandit.losses``). It must depend on
            a pair only through its arms and rewards, at most quadratically in the rewards (the count-based trainer
            relies on it; see :mod:`bandit.dynamics`).
        expected_gradient: ExpectedSetting → (θ ↦ ∇_θ E_{μ1⊗μ2}[loss]), the closed form, O(A) per call if possible.
        frozen_off_support: the expected gradient is exactly 0 on arms outside supp(μ1) ∪ supp(μ2), so their logits
            never move (pair-difference losses, whose every pair gradient is (…)·(e_y − e_y'), and pg_mean).
        stationary_is_optimum: (μ1, μ2) → True when the stationary point is known in closed form to be π* (on the
            arms that move), so :func:`bandit.stationary.stationary_point` needs no root finding; None: never.
        needs_behaviour: the loss reads ln μ of the sampled arms (importance sampling): μ must be known.
        quadratic_in_rewards: the loss value is quadratic in the pair's reward difference ΔR (CoPG's squared form)
            instead of linear in the rewards, so a count-based minibatch loss with noisy rewards needs each cell's
            sum of squared deviations of ΔR for its *value* (the gradient only needs reward sums); see
            :mod:`bandit.dynamics`. A loss quadratic in the rewards some other way is not supported by the count
            path (use ``path="pair"``).
        arm_lengths: [A] token length of each arm, for a per-token-mean loss (``ipo_mean``): the row then only fits
            bandits with A arms, and its loss reads :attr:`PairBatch.lengths`. None for sequence-level losses.
    """

    name: str
    data: str
    summary: str
    loss: Callable[[PairBatch], torch.Tensor]
    expected_gradient: Callable[[ExpectedSetting], GradFn]
    frozen_off_support: bool = False
    stationary_is_optimum: Callable[[torch.Tensor, torch.Tensor], bool] | None = None
    needs_behaviour: bool = False
    quadratic_in_rewards: bool = False
    arm_lengths: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.data not in DATA_KINDS:
            raise ValueError(f"Method {self.name!r}: data must be one of {DATA_KINDS}, got {self.data!r}")

    @property
    def label(self) -> str:
        """Legend label (from :mod:`bandit.style`, shared with the LLM lab)."""
        return style(self.name).label


#: Every method of the lab, by name (order = legend order). Add one with :func:`register_method`.
METHODS: dict[str, Method] = {}
#: The CoPG family under other names (REBEL, rpo_sq, QRPO, Command A, A*-PO, TRL's IPO), filled by
#: :mod:`bandit.family`: rows of the same table that :func:`get_method` finds, kept apart from :data:`METHODS` so the
#: paper's comparisons (which loop over METHODS) keep their methods.
FAMILY: dict[str, Method] = {}


def register_method(method: Method, replace: bool = False) -> Method:
    """Add a :class:`Method` row to :data:`METHODS` (trainers, exact flows, stationary points and estimators then
    accept its name); raises ValueError if the name is taken and ``replace`` is False. Returns the row."""
    if not isinstance(method, Method):
        raise ValueError(f"register_method: pass a bandit.methods.Method, got {type(method).__name__}")
    if method.name in METHODS and not replace:
        raise ValueError(f"register_method: {method.name!r} is already registered; pass replace=True to redefine it")
    METHODS[method.name] = method
    return method
