"""The training loop shared by the stages that train with plain AdamW (``sft``: pretraining and SFT; ``reward``),
with transformers' cosine schedule (linear warm-up over 5 % of the steps, cosine decay to 10 % of the peak)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import get_cosine_with_min_lr_schedule_with_warmup

from bandit.progress import progress as progress_bar

__all__ = ["WARMUP_FRAC", "MIN_LR_RATE", "train_steps"]

WARMUP_FRAC = 0.05
"""Fraction of the steps of linear warm-up from 0."""
MIN_LR_RATE = 0.1
"""Floor of the cosine decay, as a fraction of the peak learning rate."""


def train_steps(
    model: torch.nn.Module,
    steps: int,
    lr: float,
    make_loss: Callable[[int], torch.Tensor],
    *,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    desc: str = "train",
    progress: bool = True,
    log_every: int = 10,
    on_step: Callable[[int], None] | None = None,
    postfix: Callable[[], dict[str, str]] | None = None,
) -> list[float]:
    """``steps`` AdamW steps on ``make_loss(step)`` (a scalar), gradient norm clipped at 1, with transformers'
    ``get_cosine_with_min_lr_schedule_with_warmup`` (warm-up over :data:`WARMUP_FRAC` of the steps, decay to
    :data:`MIN_LR_RATE` of ``lr``): the schedule the alignment runs' Trainer uses, not a hand-written one.

    Only parameters with ``requires_grad`` are optimised (frozen blocks get no gradient and no Adam state).
    ``on_step(step)`` runs after each update (held-out evaluation); ``postfix()`` adds entries to the progress bar.
    Returns the loss curve (rounded to 4 decimals); the model is left in eval mode.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    schedule = get_cosine_with_min_lr_schedule_with_warmup(
        opt, num_warmup_steps=max(1, int(WARMUP_FRAC * steps)), num_training_steps=steps, min_lr_rate=MIN_LR_RATE
    )
    model.train()
    curve = []
    bar = progress_bar(range(steps), desc=desc, disable=not progress)
    for step in bar:
        loss = make_loss(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        schedule.step()
        curve.append(round(loss.item(), 4))
        if step % log_every == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{loss.item():.3f}", **(postfix() if postfix else {}))
        if on_step is not None:
            on_step(step)
    model.eval()
    return curve
