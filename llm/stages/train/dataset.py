"""The dataset as the trainer reads it: rows of one prompt with k completions, and their collator.

Accepted inputs (a ``datasets.Dataset`` or a list of dicts):

* **grouped** (the lab's offline format): ``prompt`` (str), ``completions`` (k str), ``rewards`` (k floats); optional
  ``ref_logps`` (k floats, else computed once by the trainer), ``behaviour_logps`` (k floats, ln μ(y|x): needed by
  ``pg_is`` only), ``source`` (k str), ``completion_ids`` and ``truncated``;
* **one completion per row** (TRL's unpaired shape with a float reward): ``prompt``, ``completion``, ``reward``
  (optional ``ref_logp``, ``behaviour_logp``, ``source``); rows of the same prompt are grouped, in first-seen order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from tqdm.auto import tqdm

from llm.data.batching import collate
from llm.data.offline import validate_row
from llm.model.logprobs import sequence_logps

__all__ = [
    "OfflineDataset",
    "OfflineCollator",
    "select_rows",
    "as_offline_rows",
    "precompute_ref_logps",
    "validate_user_row",
]

DATASET_SOURCE = "dataset"
"""``source`` of a completion whose dataset names none."""

_PER_ROW = {
    "completion": "completions",
    "reward": "rewards",
    "ref_logp": "ref_logps",
    "behaviour_logp": "behaviour_logps",
}


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: user datasets → offline rows
# ----------------------------------------------------------------------------------------------------------------


def _group_by_prompt(rows: list[dict]) -> list[dict]:
    # one completion per row → one row per prompt with lists, prompts in first-seen order
    groups: dict[str, dict] = {}
    for i, r in enumerate(rows):
        missing = [c for c in ("prompt", "completion", "reward") if c not in r]
        if missing:
            raise ValueError(
                f"CoPGTrainer: row {i} of train_dataset lacks {missing}; one-completion rows need prompt, completion, "
                "reward (or pass grouped rows: prompt, completions, rewards)"
            )
        g = groups.setdefault(r["prompt"], {"prompt": r["prompt"]})
        for one, many in _PER_ROW.items():
            if one in r:
                g.setdefault(many, []).append(r[one])
        g.setdefault("source", []).append(r.get("source", DATASET_SOURCE))
    out = list(groups.values())
    for g in out:
        k = len(g["completions"])
        for many in ("ref_logps", "behaviour_logps"):
            if many in g and len(g[many]) != k:
                raise ValueError(
                    f"CoPGTrainer: prompt {g['prompt'][:40]!r} has {k} completions but some rows lack "
                    f"{many[:-1]}; give it on every row or on none"
                )
    return out


def as_offline_rows(data: Iterable[dict]) -> tuple[list[dict], bool]:
    """A user dataset (``datasets.Dataset`` or dicts, grouped or one completion per row) → offline rows.

    Rows keep every column they have; a missing ``source`` becomes ``"dataset"`` per completion; missing
    ``ref_logps`` and ``behaviour_logps`` stay missing (the trainer computes the first and, for every loss but
    ``pg_is``, which refuses such data, fills the second with ln π_ref: a placeholder no other loss reads).
    Returns ``(rows, has_behaviour_logps)``.
    """
    rows = [dict(r) for r in data]
    if not rows:
        raise ValueError("CoPGTrainer: train_dataset is empty; pass rows of prompt, completions, rewards")
    if "completions" not in rows[0]:
        rows = _group_by_prompt(rows)
    for r in rows:
        r.setdefault("source", [DATASET_SOURCE] * len(r.get("completions") or []))
    return rows, all("behaviour_logps" in r for r in rows)


def validate_user_row(row: dict, where: str, min_k: int) -> None:
    """The offline schema check (``validate_row``) of a row whose ``ref_logps``/``behaviour_logps`` are not computed
    yet: the missing ones are checked as if they had the rewards' values (same length, finite)."""
    stand_in = {f: row.get(f, row.get("rewards")) for f in ("ref_logps", "behaviour_logps")}
    validate_row({**row, **stand_in}, where, min_k=min_k)


@torch.no_grad()
def precompute_ref_logps(
    ref_model: torch.nn.Module,
    tokenizer: Any,
    rows: list[dict],
    max_prompt_tokens: int | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> None:
    """Fill ``row["ref_logps"]`` (k floats, ln π_ref(y|x) summed over completion tokens) in one pass over ``rows``.

    The same tokenisation as the training batches (``OfflineCollator``), so ln π equals ln π_ref at step 0. The
    model is put in eval mode (no dropout) and restored afterwards.
    """
    was_training = ref_model.training
    ref_model.eval()
    device = next(ref_model.parameters()).device
    collator = OfflineCollator(tokenizer, max_prompt_tokens)
    try:
        for start in tqdm(range(0, len(rows), batch_size), desc="reference log-probs", disable=not progress):
            chunk = rows[start : start + batch_size]
            k = len(chunk[0]["completions"])
            tokens = collator.tokens(chunk)  # [B·K, T]
            lp = sequence_logps(ref_model, **{key: v.to(device) for key, v in tokens.items()}, reduction="sum")
            for r, values in zip(chunk, lp.float().view(len(chunk), k).tolist()):  # [B, K]
                r["ref_logps"] = values
    finally:
        ref_model.train(was_training)


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: data
# ----------------------------------------------------------------------------------------------------------------


class OfflineDataset(torch.utils.data.Dataset):
    """The offline dataset (one row per prompt, k completions), validated for one method.

    Row fields: ``prompt`` (str), ``completions`` (k str), ``rewards``, ``behaviour_logps``, ``ref_logps`` (k floats),
    ``source`` (k str); optional ``completion_ids`` (k id lists or null) and ``truncated`` (k bools), used by the
    collator; other fields are kept and ignored.
    """

    def __init__(self, rows: list[dict], min_k: int = 2, name: str = "offline dataset") -> None:
        if not rows:
            raise ValueError(f"OfflineDataset: {name} is empty; build it with `python -m llm sample`")
        ks = {
            len(validate_row(r, f"OfflineDataset: row {i} of {name}", min_k=1)["completions"])
            for i, r in enumerate(rows)
        }
        if len(ks) != 1:
            raise ValueError(f"OfflineDataset: {name} mixes k values {sorted(ks)}; every prompt needs the same k")
        self.k = ks.pop()
        if self.k < min_k:
            raise ValueError(
                f"OfflineDataset: the method needs k ≥ {min_k} completions per prompt but {name} has k={self.k}; "
                "rebuild it with more completions per prompt or choose a method that accepts k=1 (pg, pg_is)"
            )
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


class OfflineCollator:
    """Rows → all B·K (prompt, completion) pairs tokenised by ``llm.data.collate`` + the [B, K] data tensors.

    A completion with sampled ``completion_ids`` is scored from those ids (the ids its ``behaviour_logps`` and
    ``ref_logps`` were computed from); one without (human reference, user text) is tokenised from its text. A
    ``truncated`` completion gets no EOS.
    """

    def __init__(self, tokenizer: Any, max_prompt_tokens: int | None = None) -> None:
        self.tokenizer, self.max_prompt_tokens = tokenizer, max_prompt_tokens

    def tokens(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask``, ``completion_mask`` of the B·K (prompt, completion) pairs: [B·K, T]."""
        k = len(rows[0]["completions"])
        flat_prompts = [r["prompt"] for r in rows for _ in range(k)]  # row b·K + j = completion j of prompt b
        flat_completions = [c for r in rows for c in r["completions"]]
        completion_ids = [list(r.get("completion_ids") or [None] * k) for r in rows]  # [B][K], None = text
        truncated = [list(r.get("truncated") or [False] * k) for r in rows]  # [B][K]
        return collate(
            self.tokenizer,
            flat_prompts,
            flat_completions,
            self.max_prompt_tokens,
            completion_ids=[c for row in completion_ids for c in row],
            truncated=[t for row in truncated for t in row],
        )

    def __call__(self, rows: list[dict]) -> dict[str, Any]:
        k = len(rows[0]["completions"])
        prompts = [r["prompt"] for r in rows]
        batch = self.tokens(rows)  # [B·K, T] each
        completion_ids = [list(r.get("completion_ids") or [None] * k) for r in rows]  # [B][K], None = text
        truncated = [list(r.get("truncated") or [False] * k) for r in rows]  # [B][K]

        def f32(key: str) -> torch.Tensor:
            return torch.tensor([r[key] for r in rows], dtype=torch.float32)  # [B, K]

        def offset(r: dict) -> float:  # mean/s.d. of the standardisation: rewards + offset = raw reward / s.d.
            scale = r.get("reward_scale") or {}
            return float(scale.get("mean", 0.0)) / float(scale.get("std", 1.0)) if scale else 0.0

        batch.update(
            rewards=f32("rewards"),
            reward_offsets=torch.tensor([offset(r) for r in rows], dtype=torch.float32),  # [B]
            ref_logps=f32("ref_logps"),
            behaviour_logps=f32("behaviour_logps"),
            sources=[list(r["source"]) for r in rows],
            prompts=prompts,
            completions=[list(r["completions"]) for r in rows],
            completion_ids=completion_ids,
            truncated=truncated,
        )
        return batch


def select_rows(batch: dict[str, Any], cols: torch.Tensor) -> dict[str, torch.Tensor]:
    """Token tensors of the B·M selected completions (row b·K + cols[b, m]), trailing padding trimmed."""
    b, k = batch["rewards"].shape
    rows = (torch.arange(b, device=cols.device)[:, None] * k + cols).reshape(-1)  # [B·M]
    rows = rows.to(batch["input_ids"].device)
    out = {key: batch[key][rows] for key in ("input_ids", "attention_mask", "completion_mask")}  # [B·M, T]
    last = int(out["attention_mask"].any(0).nonzero().max()) + 1  # right padding: keep the real prefix
    return {key: v[:, :last] for key, v in out.items()}
