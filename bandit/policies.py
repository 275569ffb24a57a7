"""Tabular softmax policies with a leading seed axis: logits ``[S, A]`` hold S independent policies over A arms.

One tensor op updates every seed at once; each seed's logits are separate coordinates, so a loss summed over seeds
(each seed's own minibatch mean) gives each seed exactly its own gradient, and element-wise optimisers (SGD, Adam)
keep the seeds independent.

    π_θ(a) = softmax(θ)_a,   ln π_θ(a) = θ_a − logsumexp(θ),   ∂ln π_θ(a)/∂θ = e_a − π_θ     (docs/theory.md)
"""

from __future__ import annotations

import torch

from bandit.problem import check_distribution

__all__ = ["gather_logps", "init_logits", "log_policy", "logits_from_policy", "policy"]


def logits_from_policy(pi: torch.Tensor) -> torch.Tensor:
    """Logits of a full-support policy: ln π, shifted to sum 0 over arms.

    Args:
        pi: [..., A] probabilities > 0.
    Returns:
        [..., A] float64 logits θ with softmax(θ) = π.
    """
    pi = check_distribution("logits_from_policy", "pi", pi, full_support=True)
    logits = pi.log()
    return logits - logits.mean(-1, keepdim=True)


def init_logits(pi0: torch.Tensor, num_seeds: int, requires_grad: bool = False) -> torch.Tensor:
    """S copies of the logits of ``pi0`` (the paper initialises π = π_ref).

    Args:
        pi0: [A] (same start for every seed) or [S, A] (one start per seed) full-support policy.
        num_seeds: S ≥ 1.
        requires_grad: make the result a leaf that requires grad (for autograd training).
    Returns:
        [S, A] float64 logits (a fresh tensor).
    """
    if not isinstance(num_seeds, int) or num_seeds < 1:
        raise ValueError(f"init_logits: num_seeds must be an int >= 1, got {num_seeds!r}")
    logits = logits_from_policy(pi0)
    if logits.dim() == 1:
        logits = logits.expand(num_seeds, -1)
    elif logits.dim() != 2 or logits.shape[0] != num_seeds:
        raise ValueError(f"init_logits: pi0 has shape {tuple(logits.shape)}; pass [A] or [S={num_seeds}, A]")
    return logits.clone().requires_grad_(requires_grad)


def policy(logits: torch.Tensor) -> torch.Tensor:
    """π = softmax(θ).  logits: [..., A] → [..., A]."""
    return torch.softmax(logits, dim=-1)


def log_policy(logits: torch.Tensor) -> torch.Tensor:
    """ln π = θ − logsumexp(θ) (stable).  logits: [..., A] → [..., A]; differentiable."""
    return torch.log_softmax(logits, dim=-1)


def gather_logps(log_pi: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of sampled arms, per seed: ``out[s, b, k] = log_pi[s, arms[s, b, k]]``.

    Args:
        log_pi: [S, A] ln π per seed (may carry gradient).
        arms: [S, B, K] long arm indices.
    Returns:
        [S, B, K] log-probs, differentiable through ``log_pi``.
    """
    s, b, k = arms.shape
    # Gather along the arm axis of ln π transposed, into a [K, B, S] buffer, returned as an [S, B, K] view.
    idx = arms.permute(2, 1, 0).reshape(k * b, s)
    return log_pi.T.gather(0, idx).view(k, b, s).permute(2, 1, 0)
