"""The two dynamics of the bandit lab, both vectorised over a leading seed (run) axis ``[S, A]``.

(a) :func:`train_sampled`: what the paper does (Sec. 5). A finite dataset of pairs per seed, shuffled minibatches,
    Adam (or SGD) on tabular logits; every batch loss comes from :func:`bandit.methods.method_loss`.
(b) :func:`exact_flow`: gradient descent (or Adam) on the *expected* loss under μ1⊗μ2, with the expected gradient
    in closed form, O(A) per step (:func:`make_expected_gradient`). The closed forms are pinned by the tests to
    autograd of :func:`bandit.methods.enumerated_expected_loss` (the O(A²) enumeration of ``bandit.losses``).

Closed forms (gradient of the expected *loss* w.r.t. the logits θ; a = R_β^π, d = θ − ln π_ref; paper notes §5):

    C(v)      = μ1⊙v + μ2⊙v − (μ1·v)·μ2 − (μ2·v)·μ1               ( = E[(v_y − v_y')(e_y − e_y')] )
    copg      −C(a)                                                 (ascent direction of the paper's L is +C(a))
    ipo       2·(C(d) − q),  q = μ1⊙(Qμ2) − μ2⊙(Qᵀμ1),  Q_yy' = (2P(y≻y') − 1)/(2β_IPO)   (q precomputed, O(A²) once)
    dpo       Σ_yy' μ1μ2·β_D·(σ(β_D·h_yy') − P(y≻y'))·(e_y − e_y'),  h = d_y − d_y'          (O(A²) per step)
    pg*       −Σ_i [μ_i⊙(a − b) − (μ_i·(a − b))·π]   b = 0 | π·R | ½(μ1 + μ2)·a          (the π term is the bias)
    onpolicy  −2·(π⊙a − (π·a)·π) = −2∇J                                                     (unbiased)
    pg_is     −Σ_i [(π·1_{μ_i>0})⊙a − ((π·1_{μ_i>0})·a)·π]   (= −2∇J under full support: unbiased)
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

__all__ = [
    "OPTIMIZERS",
    "History",
    "contrast",
    "exact_flow",
    "expected_gradient",
    "make_expected_gradient",
    "train_many",
    "train_sampled",
]

#: Optimisers understood by both dynamics.
OPTIMIZERS = ("adam", "sgd")


def make_expected_gradient(
    method: str | Method,
    problem: BanditProblem,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    pref_beta: float | None = None,
    preference: str = "bradley_terry",
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
    Returns:
        A function mapping logits [S, A] (or [A]) to the expected gradient, same shape.
    """
    m = get_method(method)
    a = problem.num_arms
    mu1 = check_distribution("make_expected_gradient", "mu1", mu1, num_arms=a)
    mu2 = check_distribution("make_expected_gradient", "mu2", mu2, num_arms=a)
    pb = problem.beta if pref_beta is None else float(pref_beta)
    return m.expected_gradient(ExpectedSetting(problem, mu1, mu2, pb, preference))


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
    return make_expected_gradient(method, problem, mu1, mu2, pref_beta, preference)(logits)


def _check_optim(fn: str, optimizer: str, lr: float) -> None:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"{fn}: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"{fn}: lr must be a finite float > 0, got {lr!r}")


def exact_flow(
    method: str,
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

    O(A) per step (except ``dpo``), in place, float64. With ``"adam"`` and the paper's lr this is the noise-free
    counterpart of :func:`train_sampled` (one step here = one minibatch step there).

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
    grad_fn = make_expected_gradient(method, problem, mu1, mu2, pref_beta, preference)
    theta = (problem.ref_log_policy if init is None else torch.as_tensor(init, dtype=torch.float64)).clone()
    out = [theta.clone()]
    if optimizer == "adam":
        m1, m2 = torch.zeros_like(theta), torch.zeros_like(theta)
        b1, b2 = adam_betas
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if optimizer == "sgd":
            theta.sub_(g, alpha=lr)
        else:  # Adam (Kingma & Ba), bias-corrected, as torch.optim.Adam
            m1.mul_(b1).add_(g, alpha=1 - b1)
            m2.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (m2 / (1 - b2**t)).sqrt_().add_(adam_eps)
            theta.addcdiv_(m1, denom, value=-lr / (1 - b1**t))
        if t % record_every == 0 or t == steps:
            out.append(theta.clone())
    return torch.stack(out)


class _Adam:
    """torch.optim.Adam's update (Kingma & Ba, bias-corrected; default betas and ε, no weight decay) on one tensor.

    The same arithmetic as torch's single-tensor Adam, without the optimiser machinery: constructing any
    ``torch.optim`` optimiser imports ``torch._dynamo`` (~1 s), and its per-step bookkeeping costs more than the
    update of a [M·S, A] table. Element-wise, so every coordinate (every seed of every method) stays independent.
    """

    def __init__(self, param: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.param, self.lr, self.eps = param, lr, eps
        self.beta1, self.beta2 = betas
        self.exp_avg = torch.zeros_like(param, requires_grad=False)
        self.exp_avg_sq = torch.zeros_like(param, requires_grad=False)
        self.t = 0

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        """θ ← θ − lr·m̂/(√v̂ + ε) with the bias-corrected moments of ``grad`` (in place)."""
        self.t += 1
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction2_sqrt = math.sqrt(1 - self.beta2**self.t)
        denom = (self.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / (1 - self.beta1**self.t))


class _Take(torch.autograd.Function):
    """out = table[idx] for a 1-D table and a long index (any shape); backward scatter-adds into the table.

    Same values and gradient as ``table.index_select(0, idx)``, faster on CPU: at 2·10⁵ indices into a 600-entry
    table the 1-D ``scatter_add_`` backward takes ~0.16 ms vs ~0.24 ms for ``index_add_``, and forward + backward
    ~0.3 ms vs ~0.8 ms for a 2-D ``gather`` (whose backward is a 2-D ``scatter_add``).
    """

    @staticmethod
    def forward(ctx, table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(idx)
        ctx.size = table.shape[0]
        return table.index_select(0, idx)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        (idx,) = ctx.saved_tensors
        grad = torch.zeros(ctx.size, dtype=grad_out.dtype, device=grad_out.device)
        return grad.scatter_add_(0, idx, grad_out.contiguous()), None


def _pair_major(t: torch.Tensor) -> torch.Tensor:
    """[S, n, 2] -> [n, S, 2] contiguous (pair-major storage of a PairData tensor).

    A float64 tensor is moved as [S, n] complex128 elements (each 2-value row as one 16-byte element, a bit-exact
    copy): ~3x faster on CPU than a strided copy whose innermost axis has size 2.
    """
    if t.dtype == torch.float64 and t.is_contiguous():
        return torch.view_as_real(torch.view_as_complex(t).transpose(0, 1).contiguous())
    return t.transpose(0, 1).contiguous()


def _lookup(table: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
    """table[arms] for a 1-D per-arm table, as one index_select (~4x faster than advanced indexing on CPU)."""
    return table.index_select(0, arms.reshape(-1)).view(arms.shape)


def _take(table: torch.Tensor, flat_arms: torch.Tensor) -> torch.Tensor:
    """ln π of sampled arms: ``out[s, b, k] = table[flat_arms[s, b, k]]`` (table = the seeds' [S, A] ln π flattened).

    Args:
        table: [S·A] flattened ln π (carries the gradient).
        flat_arms: [S, B, K] long indices s·A + arm, a view of a [B, S, K] buffer (the trainer's layout).
    Returns:
        [S, B, K] view of a [B, S, K] buffer (zero-copy input for :func:`bandit.methods._flat`).
    """
    s, b, k = flat_arms.shape
    idx = flat_arms.transpose(0, 1).contiguous().view(-1)  # [B·S·K]; no copy for the trainer's views
    return _Take.apply(table, idx).view(b, s, k).transpose(0, 1)


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
    """

    method: str
    problem: BanditProblem
    logits: torch.Tensor
    loss: torch.Tensor
    steps_per_epoch: int
    wall_clock_s: float = 0.0
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


def train_sampled(
    method: str,
    problem: BanditProblem,
    data: PairData,
    epochs: int,
    batch_size: int = 512,
    lr: float = 1e-3,
    optimizer: str = "adam",
    seed: int = 0,
    init: torch.Tensor | None = None,
    pref_beta: float | None = None,
    reward_noise: float = 0.0,
    progress: bool = False,
) -> History:
    """Train S tabular softmax policies at once with minibatch stochastic gradients, as the paper (Sec. 5).

    Each epoch shuffles the n pairs and takes ⌈n/B⌉ steps (the last batch is partial). A step gathers the
    minibatch's arms, takes their log-probs from log_softmax(θ) per seed, calls :func:`bandit.methods.method_loss`
    (hence ``bandit.losses``) on the flattened [S·B, 2] tensors, averages per seed and sums over seeds, and steps the
    optimiser (element-wise, so the seeds stay independent). ``onpolicy`` ignores the dataset's arms and draws B fresh
    pairs y, y' ~ π per step (same step count). See :func:`train_many` for several methods in one loop.

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
    Returns:
        :class:`History` with logits [E+1, S, A].
    """
    return train_many(
        [method], problem, data, epochs, batch_size, lr, optimizer, seed, init, pref_beta, reward_noise, progress
    )[method]


def train_many(
    methods: list[str] | tuple[str, ...],
    problem: BanditProblem,
    data: PairData,
    epochs: int,
    batch_size: int = 512,
    lr: float = 1e-3,
    optimizer: str = "adam",
    seed: int = 0,
    init: torch.Tensor | None = None,
    pref_beta: float | None = None,
    reward_noise: float = 0.0,
    progress: bool = False,
) -> dict[str, History]:
    """:func:`train_sampled` for M methods in one loop: logits [M·S, A], one backward and one optimiser step per step.

    Each method's seeds get exactly the updates they would get if trained alone (same shuffles, same data,
    element-wise optimiser; on-policy sampling uses its own random stream), only the per-step plumbing (shuffling,
    gathers, log_softmax, backward, Adam) is shared. Arguments as :func:`train_sampled`.

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
    s, n, nm = data.num_seeds, data.num_pairs, len(ms)
    start = time.perf_counter()
    # PLUMBING
    a = problem.num_arms
    logits0 = init_logits(problem.ref_policy if init is None else init, s)  # [S, A]
    logits = logits0.repeat(nm, 1).requires_grad_(True)  # [M·S, A], method-major
    opt = _Adam(logits, lr) if optimizer == "adam" else None  # element-wise: every coordinate stays independent
    gen = torch.Generator().manual_seed(10_007 * seed + 17)  # shuffling
    gen_onpolicy = torch.Generator().manual_seed(10_007 * seed + 29)  # fresh on-policy samples
    ref_log, rewards_table = problem.ref_log_policy, problem.rewards
    seed_offset = torch.arange(s) * a  # [S] offset of seed s in a flattened [S, A] table
    # Storage [n, S, 2] (pair, seed, arm column). Each epoch one index_select per tensor (into a reused buffer)
    # shuffles the pairs; minibatch i is then the contiguous block [i·B, i·B + b) whose [S, b, 2] view feeds
    # bandit.losses as a zero-copy row-major [b·S, 2] tensor (bandit.methods._flat). Arms are stored as flat indices
    # s·A + y into the seeds' [S, A] ln π, so the log-probs of a minibatch are one index_select (_take).
    need_mu = any(m.needs_behaviour for m in ms)
    kinds = {m.data for m in ms} - {"onpolicy"}
    tables = {}
    for kind in sorted(kinds):
        arms = _pair_major(data.arms if kind == "pairs" else data.pref_arms)  # [n, S, 2] arm ids
        cols = {
            "flat_arms": arms + seed_offset[None, :, None],
            # preference methods read no rewards (ipo/dpo losses); the pair's exact rewards fill the slot
            "rewards": _pair_major(data.rewards) if kind == "pairs" else _lookup(rewards_table, arms),
            "ref_logps": _lookup(ref_log, arms),
        }
        if kind == "pairs" and need_mu:
            log_mu = torch.stack([data.mu1, data.mu2], -1).clamp_min(1e-300).log()  # [S, A, 2]; sampled arms: μ > 0
            src = data.arms
            behaviour = torch.stack([log_mu[..., 0].gather(1, src[..., 0]), log_mu[..., 1].gather(1, src[..., 1])], -1)
            cols["behaviour_logps"] = _pair_major(behaviour)
        tables[kind] = cols  # every table [n, S, 2]
    shuffled = {kind: {name: torch.empty_like(t) for name, t in c.items()} for kind, c in tables.items()}
    steps = math.ceil(n / batch_size)
    pb = problem.beta if pref_beta is None else pref_beta
    record = [logits.detach().clone()]
    losses = []
    bar = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc="+".join(methods), unit="epoch", leave=False)
    for _ in bar:
        # One shuffle per epoch, shared by the seeds (their datasets are independent i.i.d. draws, so sharing the
        # order keeps them independent).
        perm = torch.randperm(n, generator=gen)
        for kind, c in tables.items():
            for name, t in c.items():
                torch.index_select(t, 0, perm, out=shuffled[kind][name])  # [n, S, 2], into a reused buffer
        epoch_loss = torch.zeros(nm, s, dtype=torch.float64)
        for i in range(steps):
            lo = i * batch_size  # minibatch i = shuffled pairs [lo, lo + b)
            b = min(batch_size, n - lo)
            gathered = {
                kind: {name: t[lo : lo + b].transpose(0, 1) for name, t in cols.items()}
                for kind, cols in shuffled.items()
            }  # [S, b, 2] views of contiguous [b, S, 2] blocks
            # ALGO LOGIC: log-probs of the sampled arms under each seed's π, one bandit.losses call per method,
            # per-seed minibatch mean, summed over seeds and methods (disjoint coordinates: separate gradients).
            log_pi_all = log_policy(logits)  # [M·S, A]
            value_all = log_pi_all.detach().exp() @ rewards_table  # [M·S] exact E_π[R] (pg_value's baseline)
            per_seed = []  # M tensors [S]: each method's per-seed minibatch mean loss
            for k, m in enumerate(ms):
                log_pi = log_pi_all[k * s : (k + 1) * s]  # [S, A] this method's seeds
                if m.data == "onpolicy":
                    with torch.no_grad():
                        arms = torch.multinomial(log_pi.exp(), 2 * b, replacement=True, generator=gen_onpolicy)
                        # i.i.d. draws, any arrangement: pair j of seed s = (draw j, draw b + j), in a [b, S, 2] buffer
                        arms = arms.view(s, 2, b).permute(2, 0, 1).contiguous().transpose(0, 1)  # [S, b, 2]
                        flat_arms = arms + seed_offset[:, None, None]
                        rew, ref_logps, behaviour = _lookup(rewards_table, arms), _lookup(ref_log, arms), None
                        if reward_noise > 0:
                            noise = torch.randn(rew.shape, generator=gen_onpolicy, dtype=torch.float64)
                            rew = rew + reward_noise * noise
                else:
                    g = gathered[m.data]
                    flat_arms, rew, ref_logps = g["flat_arms"], g["rewards"], g["ref_logps"]
                    behaviour = g.get("behaviour_logps")
                batch = PairBatch(
                    logps=_take(log_pi.reshape(-1), flat_arms),  # [S, b, 2] ln π(y) of each seed; carries the gradient
                    ref_logps=ref_logps,
                    rewards=rew,
                    beta=problem.beta,
                    pref_beta=pb,
                    value=value_all[k * s : (k + 1) * s],
                    behaviour_logps=behaviour,
                )
                per_seed.append(method_loss(m, batch).mean(1))  # [S]
            per_seed = torch.stack(per_seed)  # [M, S]
            epoch_loss += per_seed.detach() * (b / n)
            # each seed of each method is its own set of coordinates: the sum gives each its own gradient
            (grad,) = torch.autograd.grad(per_seed.sum(), logits)
            with torch.no_grad():
                if opt is None:
                    logits.add_(grad, alpha=-lr)  # SGD
                else:
                    opt.step(grad)
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
        )
        for k, m in enumerate(ms)
    }
