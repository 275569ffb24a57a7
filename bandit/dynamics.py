"""The two dynamics of the bandit lab, both vectorised over a leading seed (run) axis ``[S, A]``.

(a) :func:`train_sampled` / :func:`train_many`: what the paper does (Sec. 5). A finite dataset of pairs per seed,
    shuffled minibatches, ``torch.optim.Adam`` (or SGD) on tabular logits; every minibatch loss comes from the
    method's row (:func:`bandit.methods.method_loss`, hence ``bandit.losses``).
(b) :func:`exact_flow`: the same optimiser on the *expected* loss under μ1⊗μ2, with the closed-form expected gradient
    of the method's row (:func:`make_expected_gradient`), pinned by the tests to autograd of
    :func:`bandit.methods.enumerated_expected_loss` (the O(A²) enumeration of ``bandit.losses``).

**A tabular minibatch is a count table.** Every bandit loss depends on a pair only through its cell (y, y′) ∈ A² (for
preference losses the cell is (preferred, dispreferred)) and its observed rewards, and is at most quadratic in the
rewards. So for one seed's minibatch of b pairs, with per cell n (count), s = (Σ r_j, Σ r′_j) and
q = Σ_j (ΔR_j − ΔR̄)² (ΔR̄ = the cell's mean reward difference):

    (1/b)·Σ_j ℓ(y_j, y′_j, r_j, r′_j) = Σ_cells (n/b)·ℓ(y, y′, s/n) + [quadratic losses only] Σ_cells (h/2)·q/b

Proof: group the pairs by cell. Inside a cell ℓ is a polynomial of degree ≤ 2 in the rewards with the same
coefficients for every pair; a linear function's mean is its value at the mean, and a quadratic in ΔR with second
derivative h has mean = value at the mean + (h/2)·(mean squared deviation). The gradient w.r.t. θ only reaches ℓ
through ln π(y), ln π(y′), which are the same for every pair of a cell, so it is the count-weighted sum of the cells'
gradients; q does not depend on θ and only enters the loss *value* (h comes from the loss itself, as a second
difference, so no loss is written twice). The count path (``path="count"``) therefore computes the paper's minibatch
loss and gradient exactly (up to float rounding; tests/test_bandit_counts.py checks 1e-12 in float64) in O(S·A²)
per step, whatever the batch size: the count tables of a whole epoch are built with one ``bincount`` (and
``index_add_`` for reward sums) from the same shuffled minibatches the per-pair path uses. With exact rewards
(the default: no noise) the cells read R directly and q = 0. ``pg_value``'s baseline (exact E_π[R]) and ``pg_mean``'s
(the minibatch mean of R_β, a count-weighted sum) are per seed, as in the per-pair path.

The per-pair path (``path="pair"``) gathers the B pairs of every seed and calls the same losses on them; ``"auto"``
picks it only when the cells outnumber the pairs of a batch (A² > B, e.g. A = 100 arms at B = 512), where a count
table would be the larger tensor. :attr:`History.path` records which path ran.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from bandit.data import PairData
from bandit.methods import ExpectedSetting, Method, PairBatch, contrast, get_method, method_loss
from bandit.policies import init_logits, log_policy, policy
from bandit.problem import BanditProblem, check_distribution
from bandit.progress import progress as progress_bar

__all__ = [
    "OPTIMIZERS",
    "PATHS",
    "History",
    "choose_path",
    "contrast",
    "exact_flow",
    "expected_gradient",
    "make_expected_gradient",
    "train_many",
    "train_sampled",
]

#: Optimisers understood by both dynamics (torch.optim.Adam with its defaults, or plain torch.optim.SGD).
OPTIMIZERS = ("adam", "sgd")
#: Minibatch representations of the sampled trainer: "auto", "count" (cell statistics) or "pair" (gathered pairs).
PATHS = ("auto", "count", "pair")


def make_expected_gradient(
    method: str | Method,
    problem: BanditProblem,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
    behaviour: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Build θ ↦ ∇_θ E_{y~μ1, y'~μ2}[loss_method(y, y'; π_θ)], the exact expected gradient (of the loss to minimise).

    The closed form is the method's row (:attr:`bandit.methods.Method.expected_gradient`); O(A) per call for every
    built-in method except ``dpo`` (O(A²)); ``ipo`` precomputes an O(A²) constant once.

    Args:
        method: a name in :data:`bandit.methods.METHODS` (or a row).
        problem: the bandit.
        mu1, mu2: [A] or [S, A] behaviour policies (ignored by ``onpolicy``).
        pref_beta: β of IPO/DPO (default: the problem's β).
        preference: IPO/DPO labels, "bradley_terry" or "reward".
        behaviour: (μ1, μ2) the importance ratio of ``pg_is`` divides by, when the arms are drawn from mu1, mu2 but
            the loss is given other behaviour log-probs: a finite dataset's frequencies μ̂ as mu1, mu2 and the
            policies that sampled it here (what the dataset's loss weighs each arm by). None: mu1, mu2.
    Returns:
        A function mapping logits [S, A] (or [A]) to the expected gradient, same shape.
    """
    m = get_method(method)
    a = problem.num_arms
    fn = "make_expected_gradient"
    mu1 = check_distribution(fn, "mu1", mu1, num_arms=a)
    mu2 = check_distribution(fn, "mu2", mu2, num_arms=a)
    pb = problem.beta if pref_beta is None else float(pref_beta)
    is_mu: tuple = (None, None)
    if behaviour is not None:  # the recorded probabilities as they are (not renormalised: the loss divides by them)
        is_mu = tuple(torch.as_tensor(b, dtype=torch.float64) for b in behaviour)
        bad = [b.shape != mu1.shape or not bool(torch.isfinite(b).all()) or bool((b < 0).any()) for b in is_mu]
        if len(is_mu) != 2 or any(bad):
            raise ValueError(f"{fn}: behaviour must be two finite tensors >= 0 shaped like mu1 {tuple(mu1.shape)}")
    return m.expected_gradient(ExpectedSetting(problem, mu1, mu2, pb, preference, *is_mu))


def expected_gradient(
    method: str,
    problem: BanditProblem,
    logits: torch.Tensor,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
) -> torch.Tensor:
    """Exact expected gradient of ``method``'s loss at ``logits`` (see :func:`make_expected_gradient`).

    Args:
        logits: [A] or [S, A].
    Returns:
        Same shape as ``logits``.
    """
    return make_expected_gradient(method, problem, mu1, mu2, pref_beta=pref_beta, preference=preference)(logits)


def _check_optim(fn: str, optimizer: str, lr: float) -> None:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"{fn}: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"{fn}: lr must be a finite float > 0, got {lr!r}")


def _make_optimizer(param: torch.Tensor, optimizer: str, lr: float, **adam: float) -> torch.optim.Optimizer:
    """torch.optim.Adam (the paper's optimiser; element-wise, so every seed's coordinates stay independent) or SGD."""
    if optimizer == "adam":
        return torch.optim.Adam([param], lr=lr, **adam)
    return torch.optim.SGD([param], lr=lr)


def exact_flow(
    method: str | Method,
    problem: BanditProblem,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    steps: int,
    lr: float,
    optimizer: str = "sgd",
    init: torch.Tensor | None = None,
    record_every: int = 1,
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
    adam_betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
) -> torch.Tensor:
    """Deterministic dynamics on the expected loss: θ ← θ − lr·g (``"sgd"``) or Adam with the exact gradient g.

    O(A) per step (except ``dpo``), float64. With ``"adam"`` (``torch.optim.Adam``) and the paper's lr this is the
    noise-free counterpart of :func:`train_sampled` (one step here = one minibatch step there).

    Args:
        method: a name in :data:`bandit.methods.METHODS`.
        problem: the bandit.
        mu1, mu2: [A] or [S, A] behaviour policies.
        steps: number of steps T ≥ 0.
        lr: step size η > 0.
        optimizer: "sgd" (plain gradient descent: Σ_a θ_a is conserved) or "adam".
        init: [A] or [S, A] initial logits (default: ln π_ref, i.e. π = π_ref).
        record_every: keep θ every this many steps (and always the first and last).
        pref_beta, preference: IPO/DPO settings, as in :func:`make_expected_gradient`.
        adam_betas, adam_eps: Adam's (β1, β2) and ε (torch defaults).
    Returns:
        [N, ..., A] recorded logits (N = number of recorded steps, step 0 first, step T last).
    """
    _check_optim("exact_flow", optimizer, lr)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"exact_flow: steps must be an int >= 0, got {steps!r}")
    grad_fn = make_expected_gradient(method, problem, mu1, mu2, pref_beta=pref_beta, preference=preference)
    theta = (problem.ref_log_policy if init is None else torch.as_tensor(init, dtype=torch.float64)).clone()
    # SGD: θ ← θ − η·g written out, which *is* plain gradient descent (torch.optim.SGD computes the same, at ~40x the
    # per-step cost of an O(A) update on this CPU). Adam: torch.optim.Adam's single-tensor update (its CPU path,
    # weight decay 0) written out op for op, so bit-identical to it (tests/test_bandit_learning.py) at ~1/4 of
    # the per-step overhead.
    b1, b2 = adam_betas
    m1 = torch.zeros_like(theta) if optimizer == "adam" else None
    m2 = torch.zeros_like(theta) if optimizer == "adam" else None
    out = [theta.clone()]
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if m1 is None:
            theta.sub_(g, alpha=lr)
        else:
            m1.lerp_(g, 1 - b1)
            m2.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (m2.sqrt() / (1 - b2 ** float(t)) ** 0.5).add_(adam_eps)
            theta.addcdiv_(m1, denom, value=-lr / (1 - b1 ** float(t)))
        if t % record_every == 0 or t == steps:
            out.append(theta.clone())
    return torch.stack(out)


@dataclass
class History:
    """Per-epoch record of a sampled run (S seeds, E epochs, A arms).

    Attributes:
        method: method name.
        problem: the bandit.
        logits: [E+1, S, A] logits after epochs 0 (initial), 1, …, E.
        loss: [E, S] mean training loss of each epoch (surrogate value; never a score).
        steps_per_epoch: optimiser steps per epoch.
        wall_clock_s: training time in seconds.
        path: the minibatch representation that ran, "count" or "pair" (see the module docstring).
    """

    method: str
    problem: BanditProblem
    logits: torch.Tensor
    loss: torch.Tensor
    steps_per_epoch: int
    wall_clock_s: float = 0.0
    path: str = "pair"
    extra: dict = field(default_factory=dict)

    @property
    def policies(self) -> torch.Tensor:
        """[E+1, S, A] π after each epoch."""
        return policy(self.logits)

    @property
    def regret(self) -> torch.Tensor:
        """[E+1, S] exact regret J(π*) − J(π) = β·KL(π‖π*) (``policy/regret``)."""
        return self.problem.regret(self.policies)

    def metrics(self) -> dict[str, torch.Tensor]:
        """Namespaced exact metrics, each [E+1, S] (``loss/<method>`` is [E, S])."""
        pi = self.policies
        return {
            "policy/regret": self.problem.regret(pi),
            "policy/kl_to_optimum": self.problem.kl_to_optimum(pi),
            "policy/kl_to_ref": self.problem.kl_to_ref(pi),
            "reward/mean": self.problem.expected_reward(pi),
            f"loss/{self.method}": self.loss,
        }


def choose_path(num_arms: int, batch_size: int, path: str = "auto") -> str:
    """The minibatch representation: ``"count"`` when the A² cells are at most the batch size B, else ``"pair"``
    (``path="count"`` or ``"pair"`` forces one; both give the same losses and gradients up to float rounding)."""
    if path not in PATHS:
        raise ValueError(f"train_sampled: path must be one of {PATHS}, got {path!r}")
    if path != "auto":
        return path
    return "count" if num_arms * num_arms <= batch_size else "pair"


def train_sampled(
    method: str | Method,
    problem: BanditProblem,
    data: PairData,
    epochs: int,
    *,
    batch_size: int = 512,
    lr: float = 1e-3,
    optimizer: str = "adam",
    seed: int = 0,
    init: torch.Tensor | None = None,
    pref_beta: float | None = None,
    reward_noise: float = 0.0,
    progress: bool = False,
    path: str = "auto",
) -> History:
    """Train S tabular softmax policies at once with minibatch stochastic gradients, as the paper (Sec. 5).

    Each epoch shuffles the n pairs and takes ⌈n/B⌉ steps (the last batch is partial). A step computes each seed's
    minibatch-mean loss through :func:`bandit.methods.method_loss` (hence ``bandit.losses``), sums over seeds and
    steps the optimiser (element-wise, so the seeds stay independent). The minibatch is a count table over the A²
    cells or the gathered pairs (``path``, see the module docstring). ``onpolicy`` ignores the dataset's arms and
    draws B fresh pairs y, y' ~ π per step (same step count). See :func:`train_many` for several methods in one loop.

    Args:
        method: a name in :data:`bandit.methods.METHODS`.
        problem: the bandit.
        data: :class:`bandit.data.PairData` with S datasets of n pairs.
        epochs: E ≥ 0.
        batch_size: B ≥ 1 pairs per step.
        lr: learning rate (paper: Adam 1e-3).
        optimizer: "adam" (paper) or "sgd".
        seed: seed of the shuffling and (separate stream) of on-policy sampling.
        init: [A] or [S, A] initial policy (default π_ref).
        pref_beta: β of IPO/DPO (default: the problem's β).
        reward_noise: σ of the reward noise of on-policy samples (the dataset carries its own).
        progress: show a tqdm bar over epochs.
        path: "auto" (count table when A² ≤ B), "count" or "pair".
    Returns:
        :class:`History` with logits [E+1, S, A].
    """
    return train_many(
        [method], problem, data, epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed, init=init,
        pref_beta=pref_beta, reward_noise=reward_noise, progress=progress, path=path,
    )[get_method(method).name]  # fmt: skip


# PLUMBING: minibatches as count tables or gathered pairs


def _all_cells(num_arms: int) -> torch.Tensor:
    """[A², 2] every cell (y, y′), row y·A + y′."""
    arms = torch.arange(num_arms)
    return torch.stack([arms.repeat_interleave(num_arms), arms.repeat(num_arms)], dim=1)


def _log_mu(data: PairData) -> torch.Tensor:
    """[S, A, 2] ln μ1, ln μ2. Arms with μ = 0 are never sampled (count 0, weight 0) and get ln μ = 0: any finite
    value would do, and 0 keeps their importance ratio π/μ ≤ 1, so 0·(ratio·advantage) cannot overflow to NaN."""
    mu = torch.stack([data.mu1, data.mu2], -1)
    return torch.where(mu > 0, mu.clamp_min(1e-300).log(), torch.zeros_like(mu))


class _CountTables:
    """One epoch of count tables of one data view: for step i, seed s and cell c = y·A + y′ the count n, the column
    reward sums and (noisy rewards only) q = Σ (ΔR_j − ΔR̄)², built with one bincount / index_add_ per epoch."""

    def __init__(self, arms: torch.Tensor, rewards: torch.Tensor | None, num_arms: int, batch_size: int) -> None:
        s, n, _ = arms.shape
        self.s, self.n, self.a2, self.b = s, n, num_arms * num_arms, batch_size
        self.steps = math.ceil(n / batch_size)
        # flat index of pair j of seed s in a [steps, S, A²] table, minus its step's offset (added per epoch)
        self.base = (torch.arange(s)[:, None] * self.a2 + arms[..., 0] * num_arms + arms[..., 1]).contiguous()
        self.idx = torch.empty_like(self.base)  # [S, n], reused every epoch
        self.rewards = rewards  # [S, n, 2] or None (exact rewards: the cells read R)

    def epoch(self, perm: torch.Tensor) -> None:
        """Tables of the epoch whose pair order is ``perm`` (minibatch i = perm[i·B:(i+1)·B])."""
        step_of = torch.empty(self.n, dtype=torch.long)
        step_of[perm] = torch.arange(self.n) // self.b  # the step that reads each pair
        idx = torch.add(self.base, step_of * (self.s * self.a2), out=self.idx).view(-1)  # [S·n]
        size = self.steps * self.s * self.a2
        shape = (self.steps, self.s, self.a2)
        self.counts = torch.bincount(idx, minlength=size).to(torch.float64).view(shape)
        self.sums = self.q = None
        if self.rewards is not None:
            r = self.rewards.reshape(-1, 2)
            self.sums = torch.zeros(size, 2, dtype=torch.float64).index_add_(0, idx, r).view(*shape, 2)
            mean_dr = (self.sums[..., 0] - self.sums[..., 1]) / self.counts.clamp_min(1)  # ΔR̄ per cell
            dev = (r[:, 0] - r[:, 1]) - mean_dr.reshape(-1)[idx]
            self.q = torch.zeros(size, dtype=torch.float64).index_add_(0, idx, dev.square()).view(shape)

    def step(self, i: int, reward_table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(weights [S, A²] = n/b, cell rewards [S, A², 2], q/b [S, A²] or None) of minibatch i."""
        b = min(self.b, self.n - i * self.b)
        counts = self.counts[i]
        if self.sums is None:
            return counts / b, reward_table.expand(self.s, -1, -1), None
        mean = torch.where(counts[..., None] > 0, self.sums[i] / counts.clamp_min(1)[..., None], reward_table)
        return counts / b, mean, self.q[i] / b


def _onpolicy_arms(log_pi: torch.Tensor, b: int, gen: torch.Generator) -> torch.Tensor:
    """[S, b, 2] fresh pairs from each seed's π: pair j = (draw j, draw b + j) of 2b i.i.d. draws."""
    s = log_pi.shape[0]
    draws = torch.multinomial(log_pi.exp(), 2 * b, replacement=True, generator=gen)  # [S, 2b]
    return draws.view(s, 2, b).transpose(1, 2)


def _quadratic_value_correction(m: Method, batch: PairBatch, q_over_b: torch.Tensor) -> torch.Tensor:
    """Σ_cells (h/2)·q/b per seed [S]: h = ∂²ℓ/∂ΔR² of the row's loss (quadratic in ΔR), as a second difference of
    the loss itself along R(y) ± 1 (exact for a quadratic; no second implementation of the loss)."""
    with torch.no_grad():
        shift = torch.zeros_like(batch.rewards)
        shift[..., 0] = 1.0

        def at(delta: torch.Tensor) -> torch.Tensor:
            return method_loss(m, PairBatch(**{**batch.__dict__, "rewards": batch.rewards + delta}))

        h = at(shift) + at(-shift) - 2 * at(torch.zeros_like(shift))  # exact for a quadratic in ΔR
        return (h / 2 * q_over_b).sum(1)


class _Minibatches:
    """:func:`train_many`'s data side: each method's minibatch loss per seed, from count tables over the A² cells
    (``path="count"``) or from the gathered pairs, on the offline data or on fresh on-policy pairs."""

    def __init__(self, ms: list[Method], problem: BanditProblem, data: PairData, batch_size: int, path: str,
                 pref_beta: float | None, reward_noise: float, seed: int) -> None:  # fmt: skip
        self.problem, self.path, self.reward_noise = problem, path, reward_noise
        self.s, self.a = data.num_seeds, problem.num_arms
        self.gen_onpolicy = torch.Generator().manual_seed(10_007 * seed + 29)  # fresh on-policy samples
        self.pb = problem.beta if pref_beta is None else pref_beta
        self.views = {"pairs": (data.arms, data.rewards), "preferences": (data.pref_arms, None)}  # IPO/DPO: no R
        self.cells = _all_cells(self.a)  # [A², 2]
        self.cell_r = problem.rewards[self.cells]  # [A², 2] exact rewards of every cell
        self.log_mu = _log_mu(data) if any(m.needs_behaviour for m in ms) else None
        self.tables, self.cell_mu = {}, None
        if path == "count":
            for kind in sorted({m.data for m in ms} - {"onpolicy"}):
                arms, rewards = self.views[kind]
                exact = rewards is None or torch.equal(rewards, problem.rewards[arms])  # exact rewards: cells read R
                self.tables[kind] = _CountTables(arms, None if exact else rewards, self.a, batch_size)
            if self.log_mu is not None:  # [S, A², 2] ln μ1(y), ln μ2(y') of every cell
                lm, c = self.log_mu, self.cells
                self.cell_mu = torch.stack([lm[:, c[:, 0], 0], lm[:, c[:, 1], 1]], -1)
            self.cell_ref_s = problem.ref_log_policy[self.cells].expand(self.s, -1, -1)  # [S, A², 2] ln π_ref

    def epoch(self, perm: torch.Tensor) -> None:
        """Build the count tables of all the epoch's minibatches at once."""
        for t in self.tables.values():
            t.epoch(perm)

    def fresh_pairs(self, log_pi: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``onpolicy``: b fresh pairs per seed from π (own random stream) and their (noisy) rewards, [S, b, 2]."""
        with torch.no_grad():
            arms = _onpolicy_arms(log_pi, b, self.gen_onpolicy)
            rew = self.problem.rewards[arms]
            if self.reward_noise > 0:
                rew = rew + self.reward_noise * torch.randn(
                    rew.shape, generator=self.gen_onpolicy, dtype=torch.float64
                )
        return arms, rew

    def loss(self, m: Method, log_pi: torch.Tensor, value: torch.Tensor, i: int, idx: torch.Tensor, b: int):
        """Method ``m``'s minibatch-mean loss per seed [S] on minibatch i (shuffled pairs ``idx``, b of them)."""
        s, problem, pb = self.s, self.problem, self.pb
        behaviour = self.cell_mu if m.needs_behaviour else None
        if self.path == "count":  # the minibatch as count tables over the A² cells
            if m.data == "onpolicy":
                arms, rew = self.fresh_pairs(log_pi, b)
                fresh = _CountTables(arms, rew if self.reward_noise > 0 else None, self.a, b)
                fresh.epoch(torch.arange(b))
                w, rew, q = fresh.step(0, self.cell_r)
            else:
                w, rew, q = self.tables[m.data].step(i, self.cell_r)  # [S, A²], [S, A², 2], [S, A²] | None
            batch = PairBatch(log_pi[:, self.cells], self.cell_ref_s, rew, problem.beta, pb, value, behaviour, w)
            mean = (w * method_loss(m, batch)).sum(1)  # [S] count-weighted mean over the cells
            if q is not None and m.quadratic_in_rewards:  # value only: q does not depend on θ
                mean = mean + _quadratic_value_correction(m, batch, q)
            return mean
        # the minibatch as its gathered pairs
        if m.data == "onpolicy":
            arms, rew = self.fresh_pairs(log_pi, b)
        else:
            arms, rew = self.views[m.data][0][:, idx], self.views[m.data][1]  # [S, b, 2]
            rew = problem.rewards[arms] if rew is None else rew[:, idx]
            if m.needs_behaviour:
                lm = self.log_mu
                behaviour = torch.stack([lm[..., 0].gather(1, arms[..., 0]), lm[..., 1].gather(1, arms[..., 1])], -1)
        logps = log_pi.gather(1, arms.reshape(s, -1)).view(arms.shape)  # [S, b, 2] ln π(y), ln π(y')
        batch = PairBatch(logps, problem.ref_log_policy[arms], rew, problem.beta, pb, value, behaviour)
        return method_loss(m, batch).mean(1)  # [S]


def train_many(
    methods: list[str] | tuple[str, ...],
    problem: BanditProblem,
    data: PairData,
    epochs: int,
    *,
    batch_size: int = 512,
    lr: float = 1e-3,
    optimizer: str = "adam",
    seed: int = 0,
    init: torch.Tensor | None = None,
    pref_beta: float | None = None,
    reward_noise: float = 0.0,
    progress: bool = False,
    path: str = "auto",
) -> dict[str, History]:
    """:func:`train_sampled` for M methods in one loop: logits [M·S, A], one backward and one optimiser step per step.

    Each method's seeds get exactly the updates they would get if trained alone (same shuffles, same data,
    element-wise optimiser; on-policy sampling uses its own random stream), only the per-step plumbing (shuffling,
    count tables, log_softmax, backward, Adam) is shared. Arguments as :func:`train_sampled`.

    Returns:
        {method: :class:`History`} (each with logits [E+1, S, A]; ``wall_clock_s`` is the shared total).
    """
    fn = "train_sampled"
    ms = [get_method(name) for name in methods]
    if not ms or len({m.name for m in ms}) != len(ms):
        raise ValueError(f"{fn}: methods must be a non-empty list of distinct method names, got {list(methods)}")
    _check_optim(fn, optimizer, lr)
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"{fn}: epochs must be an int >= 0, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be an int >= 1, got {batch_size!r}")
    s, n, nm, a = data.num_seeds, data.num_pairs, len(ms), problem.num_arms
    path = choose_path(a, batch_size, path)
    start = time.perf_counter()
    logits = init_logits(problem.ref_policy if init is None else init, s).repeat(nm, 1)  # [M·S, A], method-major
    logits.requires_grad_(True)
    opt = _make_optimizer(logits, optimizer, lr)
    gen = torch.Generator().manual_seed(10_007 * seed + 17)  # shuffling
    batches = _Minibatches(ms, problem, data, batch_size, path, pref_beta, reward_noise, seed)
    steps = math.ceil(n / batch_size)
    record, losses = [logits.detach().clone()], []
    bar = range(epochs)
    if progress:
        bar = progress_bar(bar, desc="+".join(m.name for m in ms), unit="epoch", leave=False)
    for _ in bar:
        # One shuffle per epoch, shared by the seeds (their datasets are independent i.i.d. draws, so sharing the
        # order keeps them independent); the count tables of all the epoch's minibatches are built at once.
        perm = torch.randperm(n, generator=gen)
        batches.epoch(perm)
        epoch_loss = torch.zeros(nm, s, dtype=torch.float64)
        for i in range(steps):
            lo = i * batch_size  # minibatch i = shuffled pairs perm[lo : lo + b]
            b = min(batch_size, n - lo)
            idx = perm[lo : lo + b]
            # ALGO LOGIC: each seed's minibatch-mean loss through bandit.losses, summed over seeds and methods
            # (disjoint coordinates: each seed of each method gets its own gradient), one optimiser step.
            log_pi_all = log_policy(logits)  # [M·S, A]
            value_all = log_pi_all.detach().exp() @ problem.rewards  # [M·S] exact E_π[R] (pg_value's baseline)
            per_seed = []  # M tensors [S]: each method's per-seed minibatch mean loss
            for k, m in enumerate(ms):
                log_pi = log_pi_all[k * s : (k + 1) * s]  # [S, A] this method's seeds
                value = value_all[k * s : (k + 1) * s]
                mean = batches.loss(m, log_pi, value, i, idx, b)  # [S]
                per_seed.append(mean)
            per_seed = torch.stack(per_seed)  # [M, S]
            epoch_loss += per_seed.detach() * (b / n)
            opt.zero_grad(set_to_none=True)
            per_seed.sum().backward()
            opt.step()
            # END ALGO LOGIC
        record.append(logits.detach().clone())
        losses.append(epoch_loss)
        if progress:
            reg = problem.regret(policy(logits.detach())).view(nm, s).mean(1)  # mean regret per method
            bar.set_postfix({f"regret/{m.name}": f"{reg[k].item():.2e}" for k, m in enumerate(ms[:3])})
    wall = time.perf_counter() - start
    rec = torch.stack(record).view(epochs + 1, nm, s, -1)  # [E+1, M, S, A]
    loss = torch.stack(losses) if losses else torch.zeros(0, nm, s, dtype=torch.float64)  # [E, M, S]
    return {
        m.name: History(
            method=m.name,
            problem=problem,
            logits=rec[:, k].clone(),
            loss=loss[:, k].clone(),
            steps_per_epoch=steps,
            wall_clock_s=wall,
            path=path,
        )
        for k, m in enumerate(ms)
    }
