"""The offline dataset as the trainer reads it: rows of one prompt with k completions, and their collator."""

from __future__ import annotations

from typing import Any

import torch

from llm.data.batching import collate
from llm.data.offline import validate_row

__all__ = ["OfflineDataset", "OfflineCollator", "select_rows"]


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

    def __call__(self, rows: list[dict]) -> dict[str, Any]:

        k = len(rows[0]["completions"])
        prompts = [r["prompt"] for r in rows]
        flat_prompts = [p for p in prompts for _ in range(k)]  # row b·K + j = completion j of prompt b
        flat_completions = [c for r in rows for c in r["completions"]]
        completion_ids = [list(r.get("completion_ids") or [None] * k) for r in rows]  # [B][K], None = text
        truncated = [list(r.get("truncated") or [False] * k) for r in rows]  # [B][K]
        batch = collate(
            self.tokenizer,
            flat_prompts,
            flat_completions,
            self.max_prompt_tokens,
            completion_ids=[c for row in completion_ids for c in row],
            truncated=[t for row in truncated for t in row],
        )  # [B·K, T] each

        def f32(key: str) -> torch.Tensor:
            return torch.tensor([r[key] for r in rows], dtype=torch.float32)  # [B, K]

        batch.update(
            rewards=f32("rewards"),
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
