"""Shared helpers of the loss tests (not a test module): a hypothesis strategy of random [B, K] batches and a
gradient helper."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

finite = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)
betas = st.floats(min_value=1e-2, max_value=10.0)


@st.composite
def batches(draw, k_min=2, k_max=6):
    """Random float64 [B, K] (logps, ref_logps, rewards) and β."""
    b = draw(st.integers(1, 4))
    k = draw(st.integers(k_min, k_max))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    logps = -5 * torch.rand(b, k, generator=g, dtype=torch.float64)
    ref = -5 * torch.rand(b, k, generator=g, dtype=torch.float64)
    rewards = 4 * torch.rand(b, k, generator=g, dtype=torch.float64) - 2
    return logps, ref, rewards, draw(betas)


def grad_of(fn, logps, *args, **kw):
    """∂(Σ fn(logps, …))/∂logps."""
    x = logps.clone().requires_grad_(True)
    fn(x, *args, **kw).sum().backward()
    return x.grad
