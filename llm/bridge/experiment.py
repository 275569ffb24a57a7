"""The exact bridge: every method of the LLM trainer on an enumerable task, against the bandit lab's tabular theory.

Steps: SFT of the lab's GPT-2 on noisy summaries (π_ref); exact tables of π_ref and of the behaviour policies
μ1, μ2 (π_ref at temperatures T1, T2); an offline dataset in the lab's JSONL format (one row per sampled pair,
column 0 from μ1, column 1 from μ2, rewards, ln μ and ln π_ref from the same token ids); every method × seeds with
``llm.stages.train.train`` (``CoPGTrainer``), the exact regret logged during training; per prompt, the tabular limit
of each method from ``bandit.stationary.stationary_point`` on that prompt's empirical μ̂1, μ̂2, compared with the network
(KL table), and for CoPG and IPO also their limit on the realised pairs (``pair_graph_limits``); optionally an
off-policy sweep (μ1 = μ2 = π_ref at temperature T); figures and ``results.json``.

Examples:
    python -m llm bridge                           # the default experiment (4 min at load 3–4 on a shared 2-core CPU)
    python -m llm bridge --fast --out /tmp/bridge  # about 30 s: the test mode
    python -m llm bridge --figures figures         # `make reproduce-bridge`: figures/bridge_*.{png,json}
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from bandit.problem import kl_divergence
from bandit.progress import progress as progress_bar
from bandit.records import atomic_write_json, prepare_output_dir
from bandit.stationary import stationary_point
from llm.bridge.exact import (
    bandit_problem,
    enumerate_completions,
    exact_metrics,
    log_policy_table,
    optimal_log_policy,
    reward_table,
)
from llm.bridge.plots import FIGURE_NAMES, make_figures
from llm.bridge.task import BridgeTask, TaskConfig, build_policy, make_tokenizer, summary_reward
from llm.data.batching import collate
from llm.data.offline import write_offline
from llm.model.evaluation import seed_ci
from llm.model.optim import cosine_lr
from llm.run import UserError, cli_errors, quiet_transformers, torch_threads
from llm.stages.sft import sft_loss
from llm.stages.train import CoPGConfig, train

__all__ = ["BridgeConfig", "BridgeMethod", "BRIDGE_METHODS", "run_bridge", "tabular_predictions", "main"]


@dataclasses.dataclass(frozen=True)
class BridgeMethod:
    """One trained method and the bandit-lab method whose tabular fixed point predicts its limit."""

    name: str
    label: str
    llm_method: str
    pg_baseline: str
    bandit_method: str
    color: str


#: Every method of the LLM trainer (``llm.methods``) as run here, with its tabular counterpart (``bandit.methods``).
#: IPO/DPO pairs are ranked by reward (``preference="reward"`` in the bandit), as the LLM trainer ranks them.
BRIDGE_METHODS: dict[str, BridgeMethod] = {
    m.name: m
    for m in (
        BridgeMethod("copg", "CoPG", "copg", "none", "copg", "C0"),
        BridgeMethod("copg_pair", "CoPG (random pair)", "copg_pair", "none", "copg", "C9"),
        BridgeMethod("ipo", "IPO", "ipo", "none", "ipo", "C2"),
        BridgeMethod("dpo", "DPO", "dpo", "none", "dpo", "C1"),
        BridgeMethod("pg", "PG, b = 0", "pg", "none", "pg", "C3"),
        BridgeMethod("pg_batch", "PG, b = batch mean", "pg", "batch", "pg_mean", "C7"),
        BridgeMethod("pg_is", "PG + IS (known μ)", "pg_is", "none", "pg_is", "C4"),
        BridgeMethod("online", "online CoPG (RLOO)", "online", "none", "onpolicy", "C5"),
    )
}


@dataclasses.dataclass
class BridgeConfig:
    """The exact-bridge experiment (``python -m llm bridge``)."""

    out: str = "runs/bridge"
    """Output directory: results.json, the offline dataset, per-run trainer outputs, figures (unless --figures)."""
    figures: str | None = None
    """Directory for the figures bridge_*.{png,json}; default <out>/figures (`make reproduce-bridge`: figures)."""
    replace_tracked: bool = False
    """Allow overwriting figures tracked by git in --figures (`make reproduce-bridge` passes it)."""
    fast: bool = False
    """Test mode (seconds): 4 words, ≤ 2-word completions, 4 prompts × 64 pairs, 1 seed, short SFT, 150 steps."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds of every method (data order, pair draws, online samples)."""
    methods: tuple[str, ...] = tuple(m for m in BRIDGE_METHODS if m != "copg_pair")
    """Methods to train: copg, copg_pair, ipo, dpo, pg (b = 0), pg_batch (b = batch mean), pg_is, online (default:
    all but copg_pair, which with K = 2 completions per row runs exactly the copg computation)."""
    beta: float = 0.1
    """β > 0, KL strength of J_β = E[R] − β·KL(π‖π_ref) (IPO's τ = β)."""
    num_words: int = 6
    """W, words of the vocabulary (completions: Σ_{n ≤ L} W^n per prompt; 258 for W = 6, L = 3)."""
    doc_len: int = 12
    """Tokens per document."""
    max_words: int = 3
    """L, most words per completion (+ EOS)."""
    train_prompts: int = 8
    """Held-in prompts (the offline dataset's prompts)."""
    heldout_prompts: int = 8
    """Held-out prompts (never trained on; exact regret at the end)."""
    sft_docs: int = 512
    """Documents with noisy reference summaries for the SFT of π_ref."""
    sft_steps: int = 250
    """AdamW steps of SFT (cosine schedule)."""
    sft_batch: int = 64
    """(document, summary) pairs per SFT step."""
    sft_lr: float = 3e-3
    """Peak SFT learning rate."""
    n_layer: int = 2
    """GPT-2 layers."""
    n_embd: int = 64
    """GPT-2 width."""
    n_head: int = 2
    """GPT-2 attention heads."""
    pairs_per_prompt: int = 256
    """Offline rows per held-in prompt; each row is a pair (y ~ μ1, y' ~ μ2), K = 2 (256: the data cover 98 % of
    π*'s mass, so finite data no longer dominate the tabular limits; a step costs the same for any size)."""
    mu1_temperature: float = 2.0
    """T1: μ1 = π_ref sampled at temperature T1 (per-token softmax(logits/T1), exactly enumerated)."""
    mu2_temperature: float = 0.5
    """T2: μ2 = π_ref at temperature T2."""
    steps: int = 100
    """Optimizer steps per training run."""
    batch_rows: int = 64
    """Offline rows (pairs) per step (100 × 64 costs about what 150 × 32 did, with less gradient noise)."""
    learning_rate: float = 1e-3
    """Peak AdamW learning rate of every method (warm-up 10 %, then --lr-scheduler)."""
    lr_scheduler: str = "cosine"
    """Learning-rate schedule after the 10 % warm-up (``transformers`` name: cosine, linear, constant_with_warmup)."""
    eval_every: int = 25
    """Exact regret on the held-in prompts every N steps (and at the last step)."""
    sweep_temperatures: tuple[float, ...] = ()
    """Off-policy sweep: μ1 = μ2 = π_ref at each temperature T (`make reproduce-bridge`: 1 2 4); empty = no sweep."""
    sweep_methods: tuple[str, ...] = ("copg", "ipo", "pg")
    """Methods of the sweep (one seed: the first of --seeds)."""
    task_seed: int = 0
    """Seed of the documents, the reference summaries, the model initialisation and the offline sampling."""
    threads: int = 1
    """Torch CPU threads (1 is fastest on a shared 2-core machine)."""
    no_progress: bool = False
    """Turn progress bars off."""

    def __post_init__(self) -> None:
        if self.fast:
            self.seeds = self.seeds[:1]
            self.num_words, self.max_words, self.doc_len = 4, 2, 8
            self.train_prompts, self.heldout_prompts = 4, 2
            self.sft_docs, self.sft_steps, self.sft_batch = 128, 80, 32
            self.pairs_per_prompt, self.steps, self.batch_rows, self.eval_every = 64, 150, 16, 25
            self.sweep_temperatures = ()

    def check(self) -> None:
        """Raise :class:`llm.run.UserError` (one line, exit 2 in the CLI) on an invalid option."""
        bad = [m for m in self.methods if m not in BRIDGE_METHODS]
        if bad:
            raise UserError(f"bridge: unknown method(s) {bad}; choose from {', '.join(BRIDGE_METHODS)}")
        bad = [m for m in self.sweep_methods if m not in BRIDGE_METHODS]
        if bad:
            raise UserError(f"bridge: unknown sweep method(s) {bad}; choose from {', '.join(BRIDGE_METHODS)}")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise UserError(f"bridge: --beta must be a finite float > 0 (the KL strength β), got {self.beta}")
        if not self.seeds:
            raise UserError("bridge: --seeds needs at least one seed")
        if min(self.mu1_temperature, self.mu2_temperature, *(self.sweep_temperatures or (1.0,))) <= 0:
            raise UserError("bridge: temperatures must be > 0")
        for name in ("train_prompts", "heldout_prompts", "sft_docs", "pairs_per_prompt", "steps", "batch_rows"):
            if getattr(self, name) < 1:
                raise UserError(f"bridge: --{name.replace('_', '-')} must be ≥ 1, got {getattr(self, name)}")
        if self.eval_every < 1:
            raise UserError(f"bridge: --eval-every must be ≥ 1, got {self.eval_every}")

    @property
    def task(self) -> TaskConfig:
        """The task's sizes."""
        return TaskConfig(num_words=self.num_words, doc_len=self.doc_len, max_words=self.max_words)


# ----------------------------------------------------------------------------------------------------------------
# PLUMBING: the enumerable world (tokenizer, π_ref, tables)
# ----------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class World:
    """Everything exact about one task instance. Tables are ``[X, A]`` float64 (X prompts, A completions)."""

    cfg: BridgeConfig
    task: BridgeTask
    tokenizer: Any
    ref_model: Any
    completions: list[tuple[int, ...]]  # A word-id tuples
    texts: list[str]  # A completion texts (offline format: leading space, no EOS)
    prompts: dict[str, list[str]]  # split -> prompt texts
    prompt_ids: dict[str, list[list[int]]]
    ref_logp: dict[str, torch.Tensor]  # split -> [X, A] ln π_ref
    rewards: dict[str, torch.Tensor]  # split -> [X, A] R

    def log_policy(self, model: Any, split: str, temperature: float = 1.0) -> torch.Tensor:
        return log_policy_table(  # EnumerableGPT2 forces EOS after max_words words: read the prefix tree
            model,
            self.prompt_ids[split],
            self.completions,
            self.tokenizer.eos_token_id,
            temperature,
            eos_forced_after=self.cfg.max_words,
        )

    def metrics(self, log_pi: torch.Tensor, split: str) -> dict[str, torch.Tensor]:
        return exact_metrics(log_pi, self.ref_logp[split], self.rewards[split], self.cfg.beta)


def sft_reference(cfg: BridgeConfig, task: BridgeTask, tokenizer: Any) -> tuple[Any, list[float]]:
    """π_ref: the GPT-2 after SFT on the noisy reference summaries (``llm.stages.sft.sft_loss``, AdamW, cosine lr)."""

    model = build_policy(tokenizer, cfg.task, cfg.n_layer, cfg.n_embd, cfg.n_head, seed=cfg.task_seed)
    prompts = [task.prompt(d) for d in task.sft_docs]
    comps = [task.completion(s) for s in task.sft_summaries]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.sft_lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.task_seed)
    model.train()
    curve = []
    bar = progress_bar(range(cfg.sft_steps), desc="bridge SFT (π_ref)", disable=cfg.no_progress, leave=False)
    for step in bar:
        idx = torch.randint(len(prompts), (cfg.sft_batch,), generator=gen).tolist()
        batch = collate(tokenizer, [prompts[i] for i in idx], [comps[i] for i in idx])
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, cfg.sft_steps, cfg.sft_lr)
        loss = sft_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        curve.append(round(loss.item(), 4))
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval().requires_grad_(False)
    return model, curve


def build_world(cfg: BridgeConfig) -> tuple[World, dict]:
    """Task, tokenizer, SFT π_ref and its exact tables on the held-in and held-out prompts."""
    tcfg = cfg.task
    task = BridgeTask.build(tcfg, cfg.sft_docs, cfg.train_prompts, cfg.heldout_prompts, seed=cfg.task_seed)
    tok = make_tokenizer(tcfg.words)
    t0 = time.time()
    ref, curve = sft_reference(cfg, task, tok)
    sft_s = time.time() - t0
    word_ids = tok.convert_tokens_to_ids(list(tcfg.words))
    completions = enumerate_completions(word_ids, tcfg.max_words)
    words = [tuple(tok.convert_ids_to_tokens(list(c))) for c in completions]
    texts = [task.completion(w) for w in words]
    docs = {"train": task.train_docs, "heldout": task.heldout_docs}
    prompts = {s: [task.prompt(d) for d in ds] for s, ds in docs.items()}
    prompt_ids = {s: [tok(p, add_special_tokens=False)["input_ids"] for p in ps] for s, ps in prompts.items()}
    world = World(
        cfg=cfg,
        task=task,
        tokenizer=tok,
        ref_model=ref,
        completions=completions,
        texts=texts,
        prompts=prompts,
        prompt_ids=prompt_ids,
        ref_logp={},
        rewards={s: reward_table(ds, words, lambda d, y: summary_reward(d, y, tcfg)) for s, ds in docs.items()},
    )
    world.ref_logp = {s: world.log_policy(ref, s) for s in docs}
    return world, {"sft_loss_curve": curve, "sft_s": sft_s}


def offline_rows(world: World, t1: float, t2: float, seed: int) -> tuple[list[dict], torch.Tensor, torch.Tensor]:
    """Rows of the offline dataset (standard format) and the empirical μ̂1, μ̂2 ``[X, A]`` of the sampled arms.

    Arms are drawn from the exact enumerated μ_T tables (the same distribution as token-by-token sampling at T),
    and ``behaviour_logps`` / ``ref_logps`` are read from the same tables: no decode/re-encode round trip.
    """
    cfg = world.cfg
    lmu = [world.log_policy(world.ref_model, "train", t) for t in (t1, t2)]  # 2 × [X, A]
    gen = torch.Generator().manual_seed(seed)
    x, a = lmu[0].shape
    n = cfg.pairs_per_prompt
    arms = [torch.multinomial(lm.exp().float(), n, replacement=True, generator=gen) for lm in lmu]  # 2 × [X, n]
    rows = []
    counts = [torch.zeros(x, a, dtype=torch.float64) for _ in range(2)]
    for i in range(x):
        for j in range(n):
            cols = [int(arms[0][i, j]), int(arms[1][i, j])]
            for c, arm in enumerate(cols):
                counts[c][i, arm] += 1
            rows.append(
                {
                    "prompt": world.prompts["train"][i],
                    "completions": [world.texts[arm] for arm in cols],
                    "rewards": [float(world.rewards["train"][i, arm]) for arm in cols],
                    "behaviour_logps": [float(lmu[c][i, arm]) for c, arm in enumerate(cols)],
                    "ref_logps": [float(world.ref_logp["train"][i, arm]) for arm in cols],
                    "source": [f"ref_T{t1:g}", f"ref_T{t2:g}"],
                    "completion_ids": [list(world.completions[arm]) for arm in cols],  # scored as sampled
                    "arm_ids": cols,
                    "prompt_index": i,
                }
            )
    return rows, counts[0] / n, counts[1] / n


# ----------------------------------------------------------------------------------------------------------------
# The tabular side: bandit.stationary per prompt
# ----------------------------------------------------------------------------------------------------------------


def tabular_predictions(world: World, mu1: torch.Tensor, mu2: torch.Tensor, methods: list[str]) -> dict[str, dict]:
    """Per bandit method, per held-in prompt, the stationary policy of ``bandit.stationary.stationary_point``.

    The problem of prompt x has arms = completions, π_ref = the enumerated π_ref(·|x), rewards R(x, ·), β; the
    behaviour policies are the prompt's empirical μ̂1, μ̂2 (sample counts / n). Returns
    ``{bandit_method: {"policy": [X, A] or None per prompt, "regret": [X], "errors": [...]}}``.
    """
    out: dict[str, dict] = {}
    for m in dict.fromkeys(methods):
        t0 = time.time()
        pols, regrets, errors = [], [], []
        for i in range(mu1.shape[0]):
            prob = bandit_problem(world.ref_logp["train"][i], world.rewards["train"][i], world.cfg.beta)
            try:
                sp = stationary_point(m, prob, mu1[i], mu2[i], pref_beta=world.cfg.beta, preference="reward", tol=1e-7)
                pols.append(sp.policy)
                regrets.append(sp.regret)
            except ValueError as e:  # no finite stationary point (e.g. DPO on deterministic labels)
                pols.append(None)
                regrets.append(float("nan"))
                errors.append(f"prompt {i}: {str(e)[:160]}")
        out[m] = {"policy": pols, "regret": regrets, "errors": errors, "seconds": time.time() - t0}
    return out


#: Pair-difference methods whose gradient-descent limit on the *realised* pairs is linear (see pair_graph_limits).
PAIR_GRAPH_METHODS = ("copg", "ipo")


def pair_graph_limits(world: World, rows: list[dict]) -> dict[str, dict]:
    """Tabular limits of CoPG and IPO on the dataset's *realised* pairs (not on μ̂1 ⊗ μ̂2): ``{"copg", "ipo"}``.

    ``stationary_point`` takes the marginals μ̂1, μ̂2, i.e. it pairs every sampled completion with every other one.
    The trainer only sees the rows' pairs. Both losses depend on a pair only through the difference of log-ratios
    d_y − d_y' (d = θ − ln π_ref for tabular logits θ), so their stationarity conditions are linear:

        Σ_rows (d_y − d_y' − t_row)·(e_y − e_y') = 0,   i.e.  L·d = b,   b = Σ_rows t_row·(e_y − e_y')

    with L the Laplacian of the pair graph (nodes: completions; one edge per row) and the target t = (R(y) −
    R(y'))/β for CoPG (a minimiser of the squared form, Eqs. 7–9), t = 1/(2β) for IPO with (y, y') ranked by reward
    (ties: column 0 first, as ``llm.methods``). Every pair gradient is ∝ e_y − e_y', so gradient descent from
    π_ref conserves Σ d over each connected component of the graph and never moves d off it: the limit is the
    minimum-norm solution d = L⁺·b. Within a component CoPG's limit is π* up to a constant; the constants between
    components and the logits of unsampled completions stay where π_ref put them.

    Returns per method ``{"policy": [X] × [A], "regret": [X], "components": [X]}``.
    """
    beta = world.cfg.beta
    ref, rewards = world.ref_logp["train"], world.rewards["train"]
    x, a = ref.shape
    out = {m: {"policy": [], "regret": [], "components": []} for m in PAIR_GRAPH_METHODS}
    by_prompt: list[list[tuple[int, int]]] = [[] for _ in range(x)]
    for r in rows:
        by_prompt[r["prompt_index"]].append(tuple(r["arm_ids"]))
    for i in range(x):
        lap = torch.zeros(a, a, dtype=torch.float64)
        b = {m: torch.zeros(a, dtype=torch.float64) for m in PAIR_GRAPH_METHODS}
        for y, y2 in by_prompt[i]:
            if y == y2:
                continue  # no gradient for either loss
            lap[y, y] += 1
            lap[y2, y2] += 1
            lap[y, y2] -= 1
            lap[y2, y] -= 1
            b["copg"][y] += (rewards[i, y] - rewards[i, y2]) / beta
            b["copg"][y2] -= (rewards[i, y] - rewards[i, y2]) / beta
            win, lose = (y, y2) if rewards[i, y] >= rewards[i, y2] else (y2, y)
            b["ipo"][win] += 1 / (2 * beta)
            b["ipo"][lose] -= 1 / (2 * beta)
        pinv = torch.linalg.pinv(lap, hermitian=True)  # [A, A]
        isolated = int((lap.diagonal() == 0).sum())  # completions in no pair with a different one
        n_comp = int((torch.linalg.eigvalsh(lap) < 1e-9).sum()) - isolated  # connected components of the pairs
        for m in PAIR_GRAPH_METHODS:
            log_pi = torch.log_softmax(ref[i] + pinv @ b[m], -1)  # [A] θ = ln π_ref + d
            one = exact_metrics(log_pi[None], ref[i : i + 1], rewards[i : i + 1], beta)
            out[m]["policy"].append(log_pi.exp())
            out[m]["regret"].append(float(one["policy/regret"][0]))
            out[m]["components"].append(n_comp)
    return out


def _kl(p: torch.Tensor, q: torch.Tensor) -> float:
    return float(kl_divergence(p, q.clamp_min(1e-300)))


# ----------------------------------------------------------------------------------------------------------------
# Training runs with the exact regret logged
# ----------------------------------------------------------------------------------------------------------------


class ExactRegretCallback(TrainerCallback):
    """Exact held-in metrics of the policy every ``every`` steps and at the last step (``records``)."""

    def __init__(self, world: World, every: int) -> None:
        self.world, self.every, self.records, self.last_log_pi = world, every, [], None

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        step = state.global_step
        if step % self.every and step != state.max_steps:
            return
        log_pi = self.world.log_policy(model, "train")
        m = self.world.metrics(log_pi, "train")
        self.records.append({"step": step, **{k: float(v.mean()) for k, v in m.items()}})
        self.last_log_pi = log_pi


def train_one(world: World, rows: list[dict], method: BridgeMethod, seed: int, out_dir: Path) -> dict:
    """Train one method with ``llm.stages.train.train`` from π_ref; exact regret during training and at the end."""
    cfg = world.cfg
    args = CoPGConfig(
        preset="tiny",
        run_dir=str(cfg.out),
        output_dir=str(out_dir),
        method=method.llm_method,
        pg_baseline=method.pg_baseline,
        beta=cfg.beta,
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_rows,
        learning_rate=cfg.learning_rate,
        warmup_steps=0.1,
        lr_scheduler_type=cfg.lr_scheduler,
        eval_prompts=0,  # the exact evaluation is the callback; no sampled evaluation
        save_strategy="no",
        save_final=False,
        logging_steps=max(1, cfg.eval_every),
        seed=seed,
        max_prompt_tokens=cfg.task.prompt_len,
        max_new_tokens=cfg.max_words + 1,
        online_k=2,
        no_progress=cfg.no_progress,
        log_to_stdout=False,
        report_to="none",
        use_cpu=True,
    )
    cb = ExactRegretCallback(world, cfg.eval_every)
    t0 = time.time()
    model = copy.deepcopy(world.ref_model).requires_grad_(True).train()
    summary = train(
        args,
        model=model,
        ref_model=world.ref_model,
        tokenizer=world.tokenizer,
        train_rows=rows,
        reward_fn=world.task.reward_fn,
        callbacks=[cb],
    )
    wall = time.time() - t0
    ref0 = {k: float(v.mean()) for k, v in world.metrics(world.ref_logp["train"], "train").items()}
    curve = [{"step": 0, **ref0}, *cb.records]
    final_train = world.metrics(cb.last_log_pi, "train")
    heldout_log_pi = world.log_policy(summary["trainer"].model, "heldout")
    final_heldout = world.metrics(heldout_log_pi, "heldout")
    return {
        "method": method.name,
        "seed": seed,
        "curve": curve,
        "final_train": {k: v.tolist() for k, v in final_train.items()},
        "final_heldout": {k: v.tolist() for k, v in final_heldout.items()},
        "log_pi_train": cb.last_log_pi,
        "wall_clock_s": wall,
    }


# ----------------------------------------------------------------------------------------------------------------
# Statistics and the comparison
# ----------------------------------------------------------------------------------------------------------------


def kl_table(runs: list[dict], tab: dict[str, dict], methods: list[str]) -> dict:
    """KL between each method's final network and each tabular prediction, mean over held-in prompts and seeds.

    ``tab_to_net``: KL(π_tab ‖ π_net) (primary: finite when a prediction sits on the simplex boundary, as PG b = 0
    does off the data's support); ``net_to_tab``: KL(π_net ‖ π_tab). Prompts where a prediction does not exist are
    skipped (``n_prompts`` says how many were used).
    """
    out: dict[str, dict] = {"tab_to_net": {}, "net_to_tab": {}, "n_prompts": {}}
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        for d in ("tab_to_net", "net_to_tab"):
            out[d][m] = {}
        out["n_prompts"][m] = {}
        for b, pred in tab.items():
            vals = {"tab_to_net": [], "net_to_tab": []}
            for r in rs:
                net = r["log_pi_train"].exp()
                net = net / net.sum(-1, keepdim=True)
                for i, p in enumerate(pred["policy"]):
                    if p is None:
                        continue
                    vals["tab_to_net"].append(_kl(p, net[i]))
                    vals["net_to_tab"].append(_kl(net[i], p))
            for d in ("tab_to_net", "net_to_tab"):
                out[d][m][b] = sum(vals[d]) / len(vals[d]) if vals[d] else float("nan")
            out["n_prompts"][m][b] = len(vals["tab_to_net"]) // max(1, len(rs))
    return out


def closest_prediction(table: dict, methods: list[str], tab: dict, tie: float = 1e-3) -> dict:
    """For each method: the prediction its network is closest to (KL(tab‖net)), and whether its own one wins.

    Predictions that coincide (mean KL between them < ``tie``, e.g. copg / pg_mean / onpolicy ≈ π* on the data's
    support) count as the same prediction; a method's own predictions are its bandit counterpart on μ̂1 ⊗ μ̂2 and,
    for copg and ipo, the same method on the realised pairs (``<method>_pairs``, :func:`pair_graph_limits`).
    """
    same: dict[str, set[str]] = {}
    for a in tab:
        same[a] = {a}
        for b in tab:
            ka = [_kl(p, q) for p, q in zip(tab[a]["policy"], tab[b]["policy"]) if p is not None and q is not None]
            if ka and sum(ka) / len(ka) < tie:
                same[a].add(b)
    out = {}
    for m in methods:
        own = BRIDGE_METHODS[m].bandit_method
        mine = same.get(own, {own}) | same.get(f"{own}_pairs", set())  # on μ̂1 ⊗ μ̂2 or on the realised pairs
        row = {b: v for b, v in table["tab_to_net"][m].items() if v == v}
        best = min(row, key=row.get) if row else None
        out[m] = {
            "own": own,
            "closest": best,
            "own_kl": table["tab_to_net"][m].get(own),
            "own_pairs_kl": table["tab_to_net"][m].get(f"{own}_pairs"),
            "holds": best is not None and best in mine,
            "same_as_own": sorted(mine),
        }
    return out


# ----------------------------------------------------------------------------------------------------------------
# The experiment
# ----------------------------------------------------------------------------------------------------------------


def _train_all(world, rows, methods, seeds, out_dir, bar) -> list[dict]:
    runs = []
    for name in methods:
        for seed in seeds:
            bar.set_postfix(method=name, seed=seed)
            runs.append(train_one(world, rows, BRIDGE_METHODS[name], seed, out_dir / f"{name}_seed{seed}"))
            bar.update(1)
    return runs


def run_bridge(cfg: BridgeConfig, command: str | None = None) -> dict:
    """Run the whole experiment; returns (and writes to ``<out>/results.json``) every number and curve."""

    cfg.check()
    quiet_transformers()
    t_start = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    command = command or "python -m llm bridge"
    with torch_threads(cfg.threads):
        world, sft_info = build_world(cfg)
        rows, mu1, mu2 = offline_rows(world, cfg.mu1_temperature, cfg.mu2_temperature, seed=cfg.task_seed + 1)
        write_offline(rows, out / "offline" / "train.jsonl")
        methods = list(cfg.methods)
        bandit_methods = [BRIDGE_METHODS[m].bandit_method for m in methods]
        t0 = time.time()
        tab = tabular_predictions(world, mu1, mu2, bandit_methods)
        for b, lim in pair_graph_limits(world, rows).items():  # the same methods on the realised pairs only
            if b in bandit_methods:
                tab[f"{b}_pairs"] = {**lim, "errors": [], "seconds": 0.0}
        tab_s = time.time() - t0
        n_sweep = len(cfg.sweep_temperatures) * len(cfg.sweep_methods)
        bar = progress_bar(total=len(methods) * len(cfg.seeds) + n_sweep, desc="bridge runs", disable=cfg.no_progress)
        runs = _train_all(world, rows, methods, cfg.seeds, out / "train", bar)
        t_sweep = time.time()
        sweep = []
        for temp in cfg.sweep_temperatures:
            srows, smu1, smu2 = offline_rows(world, temp, temp, seed=cfg.task_seed + 2)
            stab = tabular_predictions(world, smu1, smu2, [BRIDGE_METHODS[m].bandit_method for m in cfg.sweep_methods])
            sruns = _train_all(world, srows, cfg.sweep_methods, cfg.seeds[:1], out / "sweep" / f"T{temp:g}", bar)
            for r in sruns:
                b = BRIDGE_METHODS[r["method"]].bandit_method
                regs = [v for v in stab[b]["regret"] if v == v]
                sweep.append(
                    {
                        "temperature": temp,
                        "method": r["method"],
                        "seed": r["seed"],
                        "network_regret": sum(r["final_train"]["policy/regret"]) / cfg.train_prompts,
                        "tabular_regret": sum(regs) / len(regs) if regs else float("nan"),
                        "support_mass_pi_star": _support_mass(world, smu1, smu2),
                    }
                )
        bar.close()
        sweep_s = time.time() - t_sweep
    results = summarise(cfg, world, runs, tab, mu1, mu2, sweep)
    results.update(
        command=command,
        config=dataclasses.asdict(cfg),
        sft=sft_info,
        timing={
            "total_s": time.time() - t_start,
            "sft_s": sft_info["sft_s"],
            "tabular_s": tab_s,
            "sweep_s": sweep_s,  # the off-policy sweep (its tabular predictions and runs), included in total_s
        },
        threads=cfg.threads,
    )
    atomic_write_json(out / "results.json", results)
    make_figures(results, Path(cfg.figures) if cfg.figures else out / "figures")
    results["runs_internal"] = runs  # tensors (not written): for notebooks
    results["world"] = world
    results["tabular"] = tab
    return results


def _support_mass(world: World, mu1: torch.Tensor, mu2: torch.Tensor) -> float:
    """Mean over held-in prompts of π*'s mass on the arms the data contain (Theorem 1 needs it near 1)."""
    star = optimal_log_policy(world.ref_logp["train"], world.rewards["train"], world.cfg.beta).exp()
    support = (mu1 > 0) | (mu2 > 0)
    return float((star * support).sum(-1).mean())


def _on_support(p: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    q = p * support
    return q / q.sum(-1, keepdim=True)


def _support_diagnostics(world: World, runs: list[dict], preds: list, mu1: torch.Tensor, mu2: torch.Tensor) -> dict:
    """Where the data are: S = completions sampled at least once for the prompt.

    ``support_mass``: the network's total mass on S (π*'s is ``support_mass_pi_star``); ``kl_star_on_support``:
    KL(π*|S ‖ π_net|S) between the two renormalised on S (Theorem 1 fixes CoPG's limit there, up to nothing);
    ``tabular_support_mass``: the tabular prediction's mass on S.
    """
    support = ((mu1 > 0) | (mu2 > 0)).double()
    star = optimal_log_policy(world.ref_logp["train"], world.rewards["train"], world.cfg.beta).exp()
    mass, kl_s = [], []
    for r in runs:
        net = r["log_pi_train"].exp()
        net = net / net.sum(-1, keepdim=True)
        mass.append(float((net * support).sum(-1).mean()))
        kl_s.append(float(kl_divergence(_on_support(star, support), _on_support(net, support)).mean()))
    tab_mass = [float((p * support[i]).sum()) for i, p in enumerate(preds) if p is not None]
    return {
        "support_mass": seed_ci(mass),
        "kl_star_on_support": seed_ci(kl_s),
        "tabular_support_mass": sum(tab_mass) / len(tab_mass) if tab_mass else float("nan"),
    }


def summarise(cfg, world, runs, tab, mu1, mu2, sweep) -> dict:
    """Regret table (mean, 95 % CI over seeds), tabular predicted regrets, KL table, acceptance checks."""
    methods = list(cfg.methods)
    ref_m = world.metrics(world.ref_logp["train"], "train")
    regret = {}
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        b = BRIDGE_METHODS[m].bandit_method
        regs = [v for v in tab[b]["regret"] if v == v]
        regret[m] = {
            "label": BRIDGE_METHODS[m].label,
            "bandit_method": b,
            "train": seed_ci(
                [sum(r["final_train"]["policy/regret"]) / len(r["final_train"]["policy/regret"]) for r in rs]
            ),
            "heldout": seed_ci(
                [sum(r["final_heldout"]["policy/regret"]) / len(r["final_heldout"]["policy/regret"]) for r in rs]
            ),
            "kl_to_ref": seed_ci([sum(r["final_train"]["policy/kl_to_ref"]) / cfg.train_prompts for r in rs]),
            "tabular_regret": sum(regs) / len(regs) if regs else float("nan"),
            "pair_graph_regret": (
                sum(tab[f"{b}_pairs"]["regret"]) / len(tab[f"{b}_pairs"]["regret"]) if f"{b}_pairs" in tab else None
            ),
            "tabular_prompts": len(regs),
            "tabular_errors": tab[b]["errors"],
            "tabular_s": tab[b]["seconds"],
            "wall_clock_s": seed_ci([r["wall_clock_s"] for r in rs]),
            **_support_diagnostics(world, rs, tab[b]["policy"], mu1, mu2),
        }
    table = kl_table(runs, tab, methods)
    closest = closest_prediction(table, methods, tab)
    checks = {}
    if "copg" in regret:
        c = regret["copg"]["train"]["mean"]
        for other in ("ipo", "pg"):
            if other in regret:
                o = regret[other]["train"]["mean"]
                checks[f"copg_regret_le_0.1x_{other}"] = {"copg": c, other: o, "ratio": c / o, "holds": c <= 0.1 * o}
    checks["each_network_closest_to_own_prediction"] = {m: closest[m]["holds"] for m in methods}
    return {
        "pi_ref_regret": {
            "train": float(ref_m["policy/regret"].mean()),
            "heldout": float(world.metrics(world.ref_logp["heldout"], "heldout")["policy/regret"].mean()),
        },
        "num_completions": len(world.completions),
        "max_leaked_mass": max(
            abs(1 - float(v))
            for r in runs
            for v in r["final_train"]["policy/mass"] + r["final_heldout"]["policy/mass"]
        )
        if runs
        else 0.0,
        "support_mass_pi_star": _support_mass(world, mu1, mu2),
        "support_mass_pi_ref": float((world.ref_logp["train"].exp() * ((mu1 > 0) | (mu2 > 0))).sum(-1).mean()),
        "distinct_arms_in_data": float(((mu1 > 0) | (mu2 > 0)).sum(-1).double().mean()),
        "regret": regret,
        "kl_table": table,
        "closest_prediction": closest,
        "checks": checks,
        "curves": {m: [{"seed": r["seed"], "curve": r["curve"]} for r in runs if r["method"] == m] for m in methods},
        "sweep": sweep,
        "methods": {m: dataclasses.asdict(BRIDGE_METHODS[m]) for m in methods},
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m llm bridge``: the exact bridge experiment."""
    import tyro

    argv = list(sys.argv[1:] if argv is None else argv)

    @cli_errors
    def _run() -> int:
        cfg = tyro.cli(BridgeConfig, args=argv, description=__doc__, prog="python -m llm bridge")
        print("[bridge] config: " + json.dumps(dataclasses.asdict(cfg)))
        names = [f"bridge_{n}{ext}" for n in FIGURE_NAMES for ext in (".json", ".png")]
        figures = Path(cfg.figures) if cfg.figures else Path(cfg.out) / "figures"
        replaced = prepare_output_dir(figures, names, cfg.replace_tracked, flag="--figures")  # before any work
        command = "python -m llm bridge " + " ".join(shlex.quote(a) for a in argv)
        res = run_bridge(cfg, command=command.strip())
        print(report(res))
        if replaced:
            print(f"[bridge] replaced {len(replaced)} tracked file(s) in {figures} (git diff shows what changed)")
        return 0

    return _run()


def report(res: dict) -> str:
    """The headline numbers as text."""
    lines = [f"[bridge] done in {res['timing']['total_s']:.0f} s; π_ref regret {res['pi_ref_regret']['train']:.4f}"]
    lines.append(f"{'method':<12} {'regret (held-in)':>22} {'held-out':>20} {'tabular':>9}")
    for m, r in res["regret"].items():
        t, h = r["train"], r["heldout"]
        lines.append(
            f"{m:<12} {t['mean']:>12.4f} ± {t['ci95']:<7.4f} {h['mean']:>10.4f} ± {h['ci95']:<7.4f} "
            f"{r['tabular_regret']:>9.4f}"
        )
    for k, v in res["checks"].items():
        lines.append(f"check {k}: {v}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
