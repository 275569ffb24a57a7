"""Exact training mode: the whole offline dataset's loss, every step, from the enumerated log-policy table.

On the enumerable task a step of the practical trainer (``llm.stages.train``) scores a minibatch of rows one
sequence at a time. Here the network instead produces the whole table ln π(·|x) of every held-in prompt in one
prefix-tree forward (:class:`PrefixTree`, with gradients), and the loss of the *whole* dataset is read off that
table through its **count table**: every bandit loss depends on a row only through its cell (x, y, y′) and the
cell's rewards, so the mean over rows is the count-weighted sum over the distinct cells (the sufficient statistics
of ``bandit.dynamics``'s count path). Each method's loss is one call of ``bandit.methods.method_loss`` (hence
``bandit.losses``) on the gathered ``[1, N, 2]`` cells:

=================  ==========================================================================================
method (``llm``)   cells and loss
=================  ==========================================================================================
``copg``           the dataset's (y ~ μ1, y′ ~ μ2) cells; ``copg``
``ipo``, ``dpo``   the same cells ranked by reward (column 0 preferred, ties keep column 0, as the trainer)
``pg``             the cells; ``pg`` (b = 0)
``pg_batch``       the cells; ``pg_mean``: b = count-weighted mean of R_β over the prompt's rows (the trainer's
                   batch-mean baseline with the batch = one prompt's rows, the bandit lab's per-problem mean)
``pg_is``          the cells and ln μ1(y), ln μ2(y′); ``pg_is``
``online``         every (y, y′) ∈ A² of every prompt weighted by π(y|x)·π(y′|x) (detached): the **exact
                   expectation** of the on-policy RLOO (k = 2) loss's gradient, ``onpolicy``; no sampling
=================  ==========================================================================================

So the table loss and its parameter gradient equal the trainer's loss over the same rows (one batch holding all of
them; for ``pg_batch``, one prompt's rows); tests/test_bridge.py checks both to 1e-5.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch
from transformers import get_cosine_schedule_with_warmup

from bandit.losses import preference_pairs
from bandit.methods import PairBatch, method_loss
from bandit.progress import progress as progress_bar
from llm.bridge.exact import PrefixTree, exact_metrics

__all__ = ["CountTable", "count_table", "table_loss", "ExactTrainConfig", "train_exact", "TABLE_METHODS"]

#: The exact mode's methods: llm name → the ``bandit.methods`` row whose loss it calls (and whose tabular
#: stationary point predicts its limit).
TABLE_METHODS = {
    "copg": "copg",
    "ipo": "ipo",
    "dpo": "dpo",
    "pg": "pg",
    "pg_batch": "pg_mean",
    "pg_is": "pg_is",
    "online": "onpolicy",
}


@dataclasses.dataclass
class CountTable:
    """The offline dataset's sufficient statistics: per held-in prompt, its distinct cells (y, y′) and their counts.

    Attributes:
        arms: [X, B, 2] long, the cells (y, y′) of each prompt: column 0 sampled from μ1, column 1 from μ2; padded
            to the largest B with (0, 0) cells of weight 0.
        weights: [X, B] float64, count / the prompt's rows (each prompt's row sums to 1; 0 on padding).
    """

    arms: torch.Tensor
    weights: torch.Tensor


def count_table(rows: list[dict], num_prompts: int) -> CountTable:
    """The :class:`CountTable` of offline rows carrying ``prompt_index`` and ``arm_ids`` (``llm.bridge.world``)."""
    keys = torch.tensor([[r["prompt_index"], *r["arm_ids"]] for r in rows], dtype=torch.long)  # [rows, 3]
    cells, counts = torch.unique(keys, dim=0, return_counts=True)  # [N, 3], [N] sorted by prompt
    per = torch.bincount(cells[:, 0], minlength=num_prompts)  # [X] distinct cells per prompt
    if (per == 0).any():
        raise ValueError(f"count_table: prompts {(per == 0).nonzero().flatten().tolist()} have no rows")
    slot = torch.arange(len(cells)) - torch.repeat_interleave(per.cumsum(0) - per, per)  # [N] index within prompt
    arms = torch.zeros(num_prompts, int(per.max()), 2, dtype=torch.long)
    weights = torch.zeros(num_prompts, int(per.max()), dtype=torch.float64)
    arms[cells[:, 0], slot] = cells[:, 1:]
    weights[cells[:, 0], slot] = counts.double()
    return CountTable(arms, weights / weights.sum(1, keepdim=True))


def _gather(table: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
    return table.gather(1, arms.flatten(1)).view(arms.shape)  # [X, A] → [X, B, 2]


def table_loss(
    method: str,
    log_pi: torch.Tensor,
    ref_log_pi: torch.Tensor,
    rewards: torch.Tensor,
    beta: float,
    counts: CountTable,
    mu_log: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The whole dataset's mean loss of ``method`` (a :data:`TABLE_METHODS` key) from the tables.

    Each held-in prompt is one "seed" of a ``bandit.methods.PairBatch`` ([X, B, 2] cells, count weights), so
    ``pg_batch``'s baseline is the mean R_β of the prompt's own rows (``pg_mean``, the bandit lab's batch mean).

    Args:
        method: llm method name (``copg``, ``ipo``, ``dpo``, ``pg``, ``pg_batch``, ``pg_is``, ``online``).
        log_pi: [X, A] ln π(y|x) of every completion of every held-in prompt; carries the gradient.
        ref_log_pi: [X, A] ln π_ref; data.
        rewards: [X, A] R(x, y); data.
        beta: β > 0.
        counts: the dataset's :class:`CountTable` (unused by ``online``).
        mu_log: (ln μ1, ln μ2) ``[X, A]`` tables (``pg_is`` only).
    Returns:
        scalar loss to minimise: mean over prompts of Σ_cells weight·loss (= the mean over the dataset's rows when
        every prompt has the same number of rows).
    """
    if method not in TABLE_METHODS:
        raise ValueError(f"table_loss: unknown method {method!r}; choose from {', '.join(TABLE_METHODS)}")
    ref_log_pi, rewards = ref_log_pi.to(log_pi.dtype), rewards.to(log_pi.dtype)
    x, a = log_pi.shape
    if method == "online":  # exact expectation over y, y′ ~ π(·|x): weights detached (the sampler, not the score)
        arms = torch.stack([torch.arange(a).repeat_interleave(a), torch.arange(a).repeat(a)], 1).expand(x, a * a, 2)
        pi = log_pi.detach().exp()
        weights = (pi[:, :, None] * pi[:, None, :]).view(x, a * a)  # [X, A²] π(y)·π(y′)
    else:
        arms, weights = counts.arms, counts.weights.to(log_pi.dtype)
    pair_rewards = _gather(rewards, arms)  # [X, B, 2]
    if method in ("ipo", "dpo"):  # the trainer ranks each pair by its (float32) rewards: column 0 preferred
        order = preference_pairs(pair_rewards.float().view(-1, 2), how="reward").view(arms.shape)  # [X, B, 2]
        arms, pair_rewards = arms.gather(2, order), pair_rewards.gather(2, order)
    behaviour = None
    if method == "pg_is":
        if mu_log is None:
            raise ValueError("table_loss: pg_is needs mu_log = (ln μ1, ln μ2) tables")
        behaviour = torch.stack([_gather(mu_log[c], arms[:, :, c : c + 1])[..., 0] for c in (0, 1)], -1)
    batch = PairBatch(
        logps=_gather(log_pi, arms),  # [X, B, 2]
        ref_logps=_gather(ref_log_pi, arms),
        rewards=pair_rewards,
        beta=beta,
        pref_beta=beta,
        value=torch.zeros(x, dtype=log_pi.dtype),
        behaviour_logps=None if behaviour is None else behaviour.to(log_pi.dtype),
        weights=weights,
    )
    return (weights * method_loss(TABLE_METHODS[method], batch)).sum(1).mean()


@dataclasses.dataclass(frozen=True)
class ExactTrainConfig:
    """Optimiser of the exact mode: full batch, AdamW, linear warm-up then cosine decay to 0, no clipping."""

    steps: int = 1000
    """Full-batch steps."""
    learning_rate: float = 3e-3
    """Peak AdamW learning rate."""
    warmup: float = 0.1
    """Fraction of the steps with linear warm-up."""
    eval_every: int = 50
    """Record the held-in metrics every N steps (read off the step's own table: no extra forward)."""


def train_exact(
    model: Any,
    tree: PrefixTree,
    prompt_ids: list[list[int]],
    method: str,
    tables: dict[str, Any],
    beta: float,
    cfg: ExactTrainConfig,
    progress: bool = True,
    desc: str = "exact",
) -> dict:
    """Train ``model`` in place on the whole dataset's table loss; deterministic (no sampling anywhere).

    ``tables`` holds ``ref`` and ``rewards`` ([X, A]), ``counts`` (:class:`CountTable`) and ``mu_log``. Returns
    ``{"curve": [{step, policy/regret, …}], "log_pi": [X, A] float64 final table, "seconds"}``.
    """
    t0 = time.time()
    model.requires_grad_(True).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
    sched = get_cosine_schedule_with_warmup(opt, int(cfg.warmup * cfg.steps), cfg.steps)
    ref, rewards = tables["ref"], tables["rewards"]
    curve = []

    def record(step: int, log_pi: torch.Tensor) -> None:
        m = exact_metrics(log_pi.detach().double(), ref, rewards, beta)
        curve.append({"step": step, **{k: float(v.mean()) for k, v in m.items()}})

    bar = progress_bar(range(cfg.steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        # ALGO LOGIC: one forward gives ln π(·|x) for every held-in prompt; the dataset's loss is read off it
        log_pi = tree.logps(model, prompt_ids)  # [X, A]
        if step % cfg.eval_every == 0:
            record(step, log_pi)
        loss = table_loss(method, log_pi, ref, rewards, beta, tables["counts"], tables.get("mu_log"))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        # END ALGO LOGIC
    model.eval().requires_grad_(False)
    with torch.no_grad():
        log_pi = tree.logps(model, prompt_ids).double()
    record(cfg.steps, log_pi)
    return {"curve": curve, "log_pi": log_pi, "seconds": time.time() - t0}
