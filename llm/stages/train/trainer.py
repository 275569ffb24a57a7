"""One trainer for every method on an offline dataset: CoPG, IPO, DPO, naive / importance-sampled PG, online CoPG.

A library: any causal LM of transformers, a ``datasets.Dataset`` (or list) of prompts with k rewarded completions
each (or one ``prompt``/``completion``/``reward`` per row), ``CoPGConfig(loss_type=...)``; nothing here reads a run
directory or a corpus (the lab's stage is ``llm.stages.train.stage``). See docs/use-copg-on-your-model.md.

``CoPGConfig`` subclasses ``transformers.TrainingArguments`` and ``CoPGTrainer`` subclasses ``transformers.Trainer``
(the TRL shape), so gradient accumulation, mixed precision, checkpoints, ``--resume`` and multi-GPU runs come from
the Hugging Face engine (accelerate). ``compute_loss`` computes sequence log-probs and calls one function of
``bandit.losses`` through the method table of ``llm.methods``; nothing else in this file is the algorithm.

A batch holds ``per_device_train_batch_size`` *prompts*, each with its k completions; the loss is the mean over
prompts of the per-prompt loss (paper Eq. 17: 1/n over pairs).
"""

from __future__ import annotations

import copy
import json
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from bandit.progress import LineProgress
from bandit.records import atomic_write_json
from llm.data.batching import collate
from llm.methods import LossInputs, gather, get_method
from llm.model.evaluation import Decoding, evaluate_policy
from llm.model.generation import generate
from llm.model.logprobs import sequence_logps
from llm.model.models import freeze_lower_blocks
from llm.stages.train.config import CoPGConfig
from llm.stages.train.dataset import (
    OfflineCollator,
    OfflineDataset,
    as_offline_rows,
    precompute_ref_logps,
    select_rows,
    validate_user_row,
)

__all__ = ["CoPGTrainer", "JsonlLogger", "eval_line"]


def _disable_dropout(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def _step_generator(seed: int, step: int, prompts: list[str], salt: int = 0) -> torch.Generator:
    # Deterministic per (seed, step, batch content): identical draws after --resume and on every rank layout.
    key = zlib.crc32("\x1f".join(prompts).encode("utf-8"))
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7_919 + salt) ^ key)


# ----------------------------------------------------------------------------------------------------------------
# Trainer
# ----------------------------------------------------------------------------------------------------------------


class CoPGTrainer(Trainer):
    """Hugging Face ``Trainer`` whose loss is one ``bandit.losses`` function of sequence log-probs.

    Args:
        model: the policy π (initialised at π_ref): any causal LM of transformers.
        args: :class:`CoPGConfig` (``loss_type`` picks the method of ``llm.methods``).
        train_dataset: a ``datasets.Dataset`` or list of rows: ``prompt``, ``completions``, ``rewards`` (k per
            prompt), or one ``prompt``/``completion``/``reward`` per row (grouped by prompt); optional ``ref_logps``
            and ``behaviour_logps`` (see ``llm.stages.train.dataset``); or an :class:`OfflineDataset`.
        eval_dataset: list of ``{"prompt", "reference"}`` held-out rows (evaluation generates on the prompts).
        processing_class: the tokenizer.
        ref_model: frozen π_ref; default the initial ``model`` (TRL's convention). Rows without ``ref_logps`` get
            them from it in one pass before training; online sampling and the KL estimate at evaluation keep a
            frozen copy.
        reward_fn: proxy reward ``f(prompts, completions) -> list[float]`` (the reward model): online mode, evaluation.
        gold_fn: gold score ``f(prompts, completions, references=...) -> list[float]`` (evaluation only).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        args: CoPGConfig,
        train_dataset: Any,
        eval_dataset: list[dict] | None = None,
        processing_class: Any = None,
        ref_model: torch.nn.Module | None = None,
        reward_fn: Any = None,
        gold_fn: Any = None,
        callbacks: list[TrainerCallback] | None = None,
        data_collator: Any = None,
    ) -> None:
        self.method = get_method(args.loss_type)
        if not isinstance(train_dataset, OfflineDataset):
            train_dataset = self._offline_dataset(train_dataset, model, ref_model, processing_class, args)
        elif train_dataset.k < self.method.min_k:
            raise ValueError(
                f"CoPGTrainer: loss_type {args.loss_type!r} needs k ≥ {self.method.min_k}, "
                f"data has k={train_dataset.k}"
            )
        if self.method.online and reward_fn is None:
            raise ValueError("CoPGTrainer: method 'online' scores fresh samples; pass reward_fn (the proxy reward)")
        if args.eval_strategy != "no" and (reward_fn is None or not eval_dataset):
            raise ValueError("CoPGTrainer: evaluation needs reward_fn and eval_dataset; or set eval_strategy='no'")
        if args.disable_dropout:
            _disable_dropout(model)
        freeze_lower_blocks(model, args.trainable_blocks)  # 0 = every parameter; the optimizer gets trainable ones
        if ref_model is None and (self.method.online or args.eval_strategy != "no"):
            ref_model = copy.deepcopy(model)  # frozen initial policy = π_ref
        self.reward_fn, self.gold_fn = reward_fn, gold_fn
        self._metrics: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._eval_records: list[dict] = []
        collator = data_collator or OfflineCollator(processing_class, args.max_prompt_tokens)
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            data_collator=collator,
            callbacks=callbacks,
        )
        self.model_accepts_loss_kwargs = False  # our loss is a mean over prompts: Trainer divides by grad-accum steps
        if not args.log_to_stdout:
            self.remove_callback(PrinterCallback)  # used when progress bars are off
            if self.pop_callback(ProgressCallback) is not None:
                self.add_callback(_BarsOnlyProgressCallback)
        if not sys.stderr.isatty() and self.pop_callback(ProgressCallback) is not None:
            self.add_callback(_LineProgressCallback)  # a log file or pipe: short lines, not carriage-return redraws
        self.ref_model = ref_model
        if ref_model is not None:
            ref_model.eval().requires_grad_(False)
            ref_model.to(self.args.device)
            if args.disable_dropout:
                _disable_dropout(ref_model)

    def _offline_dataset(
        self, data: Any, model: torch.nn.Module, ref_model: torch.nn.Module | None, tokenizer: Any, args: CoPGConfig
    ) -> OfflineDataset:
        # PLUMBING: a user dataset → offline rows, ln π_ref precomputed once where the rows lack it
        rows, has_behaviour = as_offline_rows(data)
        if self.method.name == "pg_is" and not has_behaviour:
            raise ValueError(
                "CoPGTrainer: loss_type 'pg_is' weights by π/μ and needs behaviour_logps (ln μ(y|x) per completion) "
                "in every row; add them or choose another loss_type"
            )
        todo = [r for r in rows if "ref_logps" not in r]
        if todo:
            if tokenizer is None:
                raise ValueError("CoPGTrainer: pass processing_class (the tokenizer) to compute ref_logps")
            for i, r in enumerate(todo):  # validated first: the tokenizer and the model see well-formed rows only
                validate_user_row(r, f"CoPGTrainer: train_dataset row {i}", self.method.min_k)
            reference = ref_model if ref_model is not None else model  # the initial policy is π_ref
            precompute_ref_logps(
                reference,
                tokenizer,
                todo,
                args.max_prompt_tokens,
                batch_size=args.per_device_train_batch_size,
                progress=not args.disable_tqdm,
            )
        for r in rows:
            r.setdefault("behaviour_logps", list(r["ref_logps"]))  # placeholder: only pg_is reads it (refused above)
        return OfflineDataset(rows, min_k=self.method.min_k)

    # ------------------------------------------------------------------------------------------------------------
    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor:
        # PLUMBING: online mode replaces the offline completions by fresh samples of π (+ optional offline ones)
        batch = self._online_batch(model, inputs) if self.method.online else inputs
        gen = _step_generator(self.args.seed, self.state.global_step, batch["prompts"])
        cols = self.method.select(batch["rewards"], batch["sources"], gen).to(batch["rewards"].device)  # [B, M]
        b, m = cols.shape
        x = LossInputs(
            logps=torch.empty(0),
            ref_logps=gather(batch["ref_logps"], cols),  # [B, M] ln π_ref, data
            rewards=gather(batch["rewards"], cols),  # [B, M] R(x, y), data
            behaviour_logps=gather(batch["behaviour_logps"], cols),  # [B, M] ln μ(y|x), data
            lengths=None,  # filled below
            reward_offset=batch.get("reward_offsets"),  # [B] mean/s.d. of the standardisation (naive PG, b = 0)
        )
        seqs = select_rows(batch, cols)  # [B·M, T] tokens of the completions in the loss
        x.lengths = seqs["completion_mask"].sum(-1).float().view(b, m)  # [B, M] tokens incl. EOS (none if truncated)

        # ALGO LOGIC ------------------------------------------------------------------------------------------
        # An LLM is a contextual bandit whose arms are completions: the loss only needs ln π(y|x) per completion.
        # [B, M] Σ_t ln π(y_t|x,y_<t) over the sampled ids, + the EOS unless the completion was truncated
        x.logps = sequence_logps(model, **seqs, reduction="sum").view(b, m)
        per_prompt = self.method.loss(x, self.args)  # [B] bandit.losses: copg_loss / ipo_loss / dpo_loss / pg_loss
        loss = per_prompt.mean()  # 1/n over prompts (paper Eq. 17); Trainer backpropagates and steps AdamW
        # ------------------------------------------------------------------------------------------------------

        self._record_train_metrics(x, batch, cols)
        return loss

    # ------------------------------------------------------------------------------------------------------------
    # PLUMBING: online sampling, metrics, logging, evaluation
    # ------------------------------------------------------------------------------------------------------------
    def _online_batch(self, model: torch.nn.Module, inputs: dict[str, Any]) -> dict[str, Any]:

        args, tok = self.args, self.processing_class
        prompts = inputs["prompts"]
        k, m = args.online_k, args.online_offline_k
        rep = [p for p in prompts for _ in range(k)]
        policy = self.accelerator.unwrap_model(model)
        seed = _step_generator(args.seed, self.state.global_step, prompts, salt=1).initial_seed()
        fresh, fresh_trunc, fresh_ids = generate(
            policy,
            tok,
            rep,
            self._max_new_tokens(),
            temperature=args.online_temperature,
            batch_size=len(rep),
            seed=seed,
            max_prompt_tokens=args.max_prompt_tokens,
            return_ids=True,
        )  # the sampled ids are scored (not the re-tokenised text); truncated ones get no EOS
        fresh_rewards = torch.tensor(self.reward_fn(rep, fresh), dtype=torch.float32).view(-1, k)  # [B, k]
        texts = [fresh[i * k : (i + 1) * k] for i in range(len(prompts))]
        ids = [fresh_ids[i * k : (i + 1) * k] for i in range(len(prompts))]
        trunc = [fresh_trunc[i * k : (i + 1) * k] for i in range(len(prompts))]
        rewards, sources = [fresh_rewards], [[f"policy_T{args.online_temperature:g}"] * k for _ in prompts]
        if m > 0:  # heterogeneous μ1/μ2: m offline completions per prompt join the fresh ones
            gen = _step_generator(args.seed, self.state.global_step, prompts, salt=2)
            kk = len(inputs["completions"][0])
            if m > kk:
                raise ValueError(f"CoPGTrainer: online_offline_k={m} > k={kk} offline completions per prompt")
            off = torch.rand(len(prompts), kk, generator=gen).topk(m, dim=1).indices  # [B, m] random columns
            for i, row in enumerate(off.tolist()):
                texts[i] = texts[i] + [inputs["completions"][i][j] for j in row]
                ids[i] = ids[i] + [inputs["completion_ids"][i][j] for j in row]
                trunc[i] = trunc[i] + [inputs["truncated"][i][j] for j in row]
                sources[i] = sources[i] + [inputs["sources"][i][j] for j in row]
            rewards.append(inputs["rewards"].cpu().gather(1, off))
        flat = [t for row in texts for t in row]
        kk = k + m
        tokens = collate(
            tok,
            [p for p in prompts for _ in range(kk)],
            flat,
            args.max_prompt_tokens,
            completion_ids=[c for row in ids for c in row],
            truncated=[t for row in trunc for t in row],
        )
        tokens = {key: v.to(args.device) for key, v in tokens.items()}
        with torch.no_grad():
            ref = sequence_logps(self.ref_model, **tokens).float().view(-1, kk)  # [B, k+m] ln π_ref, data
        if m > 0:  # offline columns keep their precomputed ln π_ref (identical up to float noise)
            ref[:, k:] = inputs["ref_logps"].gather(1, off.to(ref.device))
        behaviour = ref.clone()  # unused by copg_loss; pg_is is offline-only
        fresh_mask = torch.zeros(len(prompts), kk, dtype=torch.bool)
        fresh_mask[:, :k] = True
        return {
            **tokens,
            "rewards": torch.cat(rewards, dim=1).to(args.device),
            "ref_logps": ref,
            "behaviour_logps": behaviour,
            "sources": sources,
            "prompts": prompts,
            "fresh_mask": fresh_mask.to(args.device),
        }

    def _max_new_tokens(self) -> int:
        return int(self.args.max_new_tokens)  # resolved from the preset by CoPGConfig

    def _mean(self, t: torch.Tensor) -> float:
        return self.accelerator.gather_for_metrics(t.detach().float().mean().reshape(1)).mean().item()

    @torch.no_grad()
    def _record_train_metrics(self, x: LossInputs, batch: dict[str, Any], cols: torch.Tensor) -> None:
        beta, out = self.args.beta, self._metrics["train"]
        log_ratios = x.logps.detach() - x.ref_logps  # [B, M] ln π/π_ref on the completions in the loss
        implicit = beta * log_ratios  # [B, M] implicit reward β·ln π/π_ref
        hi, lo = x.rewards.argmax(1, keepdim=True), x.rewards.argmin(1, keepdim=True)  # [B, 1]
        margin = (implicit.gather(1, hi) - implicit.gather(1, lo)).squeeze(1)  # [B]
        distinct = (x.rewards.gather(1, hi) > x.rewards.gather(1, lo)).squeeze(1)  # [B] prompts with a reward gap
        # TRL's DPO names: "chosen" = the highest-reward completion of each prompt, "rejected" = the lowest
        out["rewards/chosen"].append(self._mean(implicit.gather(1, hi)))
        out["rewards/rejected"].append(self._mean(implicit.gather(1, lo)))
        out["logps/chosen"].append(self._mean(x.logps.detach().gather(1, hi)))
        out["logps/rejected"].append(self._mean(x.logps.detach().gather(1, lo)))
        out["rewards/margins"].append(self._mean(margin))
        if distinct.any():
            out["rewards/accuracies"].append(self._mean((margin[distinct] > 0).float()))
        out["implicit_reward/mean"].append(self._mean(implicit))
        if x.logps.shape[1] >= 2:
            ci = implicit - implicit.mean(1, keepdim=True)  # centred per prompt: only differences are identified
            cr = x.rewards - x.rewards.mean(1, keepdim=True)
            den = ci.norm() * cr.norm()
            if den > 0:
                out["implicit_reward/corr"].append(float((ci * cr).sum() / den))
        out["batch/reward_mean"].append(self._mean(x.rewards))
        out["batch/reward_regularised_mean"].append(self._mean(x.rewards - implicit))
        out["logps/mean"].append(self._mean(x.logps))
        out["batch/completion_tokens"].append(self._mean(x.lengths))
        if "fresh_mask" in batch:  # fresh samples of π: a k1 estimate of KL(π‖π_ref) (only at temperature 1)
            fresh = gather(batch["fresh_mask"].float(), cols).bool()
            if self.args.online_temperature == 1.0:
                out["policy/kl_to_ref"].append(self._mean(log_ratios[fresh]))
            out["online/fresh_reward_mean"].append(self._mean(x.rewards[fresh]))
        else:
            out["offline/log_ratio_mean"].append(self._mean(log_ratios))  # NOT a KL: the data are not from π

    _RENAME = {"loss": "loss/train", "grad_norm": "grad/norm", "learning_rate": "optim/lr", "epoch": "progress/epoch"}

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "train" if "loss" in logs else "eval"
        metrics = {key: sum(v) / len(v) for key, v in self._metrics[mode].items() if v}
        if mode == "eval":
            metrics = {f"eval_{key}": v for key, v in metrics.items()}
        logs = {self._RENAME.get(key, key): v for key, v in logs.items()}
        logs.update(metrics)
        super().log(logs, start_time)
        self._metrics[mode].clear()

    def evaluate(
        self, eval_dataset: Any = None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        """Generate on the held-out prompts, score with the reward and the gold score, KL(π‖π_ref) and J_β."""

        step = self.state.global_step
        if eval_dataset is None and self._eval_records and self._eval_records[-1]["step"] == step:
            # the Trainer asks twice at the last step (step end, then epoch end): reuse the evaluation
            return {f"{metric_key_prefix}_{k}": v for k, v in self._eval_records[-1].items() if k != "per_prompt"}
        rows = eval_dataset if eval_dataset is not None else self.eval_dataset
        args = self.args
        if eval_dataset is None and args.eval_curve_prompts and step < self.state.max_steps:
            rows = rows[: args.eval_curve_prompts]  # a curve point: the selection split only (the last step: all)
        t0 = time.time()
        metrics, per_prompt, samples = evaluate_policy(
            self.accelerator.unwrap_model(self.model),
            self.ref_model,
            self.processing_class,
            [r["prompt"] for r in rows],
            [r.get("reference", "") for r in rows],
            reward_fn=self.reward_fn,
            gold_fn=self.gold_fn,
            decoding=Decoding(
                max_new_tokens=self._max_new_tokens(),
                temperature=args.eval_temperature,
                seed=args.eval_seed,
                batch_size=args.eval_generation_batch,
                max_prompt_tokens=args.max_prompt_tokens,
                samples_per_prompt=args.eval_samples_per_prompt,
            ),
            beta=args.beta,
        )
        metrics["time/eval_s"] = time.time() - t0
        metrics["eval/prompts"] = len(rows)  # curve points may use the selection split only (eval_curve_prompts)
        for key, v in metrics.items():
            self._metrics["eval"][key].append(v)
        self.log({})  # averages and prefixes self._metrics["eval"] (TRL convention)
        record = {"step": step, **metrics, "per_prompt": per_prompt}
        self._eval_records.append(record)
        if self.is_world_process_zero():
            out = Path(args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            with open(out / "eval.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

            atomic_write_json(out / "samples" / f"step_{step:06d}.json", samples)
            print(eval_line(args.loss_type, args.beta, step, metrics), flush=True)
        return {f"{metric_key_prefix}_{key}": v for key, v in metrics.items()}


class _LineProgressCallback(TrainerCallback):
    """Training progress as a few plain lines (``bandit.progress.LineProgress``) when stderr is not a terminal."""

    def __init__(self) -> None:
        self.bar: LineProgress | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero and not args.disable_tqdm:
            self.bar = LineProgress(total=state.max_steps, desc="train")
            self.bar.n = state.global_step  # resumed runs start where they stopped

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        # the terminal bar prints each logged dict under it; here: one compact line per log, numbers as numbers
        if state.is_world_process_zero and logs and getattr(args, "log_to_stdout", True):
            shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items())
            print(f"[train] step {state.global_step}: {shown}", flush=True)


class _BarsOnlyProgressCallback(ProgressCallback):
    """The Trainer's tqdm progress bars without the metrics dict it writes under them at every log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass


class JsonlLogger(TrainerCallback):
    """Append every log (train and eval) to ``<output_dir>/metrics.jsonl``."""

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs:
            Path(args.output_dir).mkdir(parents=True, exist_ok=True)
            with open(Path(args.output_dir) / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, **logs}) + "\n")


# ----------------------------------------------------------------------------------------------------------------
# Console line of one evaluation
# ----------------------------------------------------------------------------------------------------------------


def eval_line(method: str, beta: float, step: int, metrics: dict[str, float]) -> str:
    """One console line per evaluation: reward ± s.e. over prompts, exact KL(π‖π_ref), J_β and gold."""
    nan = float("nan")
    kl = metrics.get("policy/kl_exact", metrics.get("policy/kl_to_ref_k3", nan))
    return (
        f"[eval] {method} β={beta:g} step {step:>4}: reward {metrics['reward/proxy_mean']:+.3f} ± "
        f"{metrics.get('reward/proxy_sem', nan):.3f}  KL {kl:.2f} nats  "
        f"J_β {metrics.get('reward/regularised_mean', nan):+.3f}"
        f"  gold {metrics.get('reward/gold_mean', nan):+.3f}"
        + (f"  ({int(metrics['eval/prompts'])} prompts)" if "eval/prompts" in metrics else "")
    )
