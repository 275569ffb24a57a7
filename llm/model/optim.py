"""Learning-rate schedule shared by the stages that train with a plain AdamW loop (``sft``, ``reward``)."""

from __future__ import annotations

import math

__all__ = ["cosine_lr"]


def cosine_lr(step: int, total: int, peak: float, warmup_frac: float = 0.05, floor: float = 0.1) -> float:
    """Linear warm-up over ``warmup_frac`` of the steps, then cosine decay from ``peak`` to ``floor · peak``."""
    warm = max(1, int(warmup_frac * total))
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))
