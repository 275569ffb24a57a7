"""The training loop shared by the stages that train with plain AdamW (``sft``: pretraining and SFT; ``reward``),
and its learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from bandit.progress import progress as progress_bar

__all__ = ["cosine_lr", "train_steps"]


def cosine_lr(step: int, total: int, peak: float, warmup_frac: float = 0.05, floor: float = 0.1) -> float:
    """Linear warm-up over ``warmup_frac`` of the steps, then cosine decay from ``peak`` to ``floor · peak``.

    Not transformers' ``get_cosine_with_min_lr_schedule_with_warmup``: the warm-up starts at peak/warm (not 0) and the
    decay is one step earlier; the committed SFT and reward models were trained with this one.
    """
    warm = max(1, int(warmup_frac * total))
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


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
    """``steps`` AdamW steps on ``make_loss(step)`` (a scalar), :func:`cosine_lr` schedule, gradient norm clipped at 1.

    Only parameters with ``requires_grad`` are optimised (frozen blocks get no gradient and no Adam state).
    ``on_step(step)`` runs after each update (held-out evaluation); ``postfix()`` adds entries to the progress bar.
    Returns the loss curve (rounded to 4 decimals); the model is left in eval mode.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    model.train()
    curve = []
    bar = progress_bar(range(steps), desc=desc, disable=not progress)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr)
        loss = make_loss(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        curve.append(round(loss.item(), 4))
        if step % log_every == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{loss.item():.3f}", **(postfix() if postfix else {}))
        if on_step is not None:
            on_step(step)
    model.eval()
    return curve
