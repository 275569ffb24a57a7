"""The middle rung's world: the bridge's task past enumeration, where everything is sampled and estimated.

The task is ``llm.bridge.task`` in its "topic" style (64 words, 24-word documents of 1–4 topic words and filler,
summaries of 1–6 words: ≈ 7e10 completions per prompt), so nothing is enumerated:

* **Sampling** (``llm.model.generation``): completions of a policy at temperature T, with their exact ln μ_T and
  ln π_ref (``completion_logps``) and, at T = 1, the exact per-token KL(π‖π_ref) of each sample (``generate_with_kl``).
* **Offline data** (:func:`offline_datasets`): K = 2 rows in the lab's JSONL format from three behaviour policies
  μ, the same pairs per prompt: π_ref, π_ref at T = 1.5, and a half-half mixture of π_ref with fresh noisy references.
  DPO's rows carry Bradley–Terry labels drawn from the reward (P(y ≻ y′) = σ((R(y) − R(y′))/β)) as 1/0 rewards.
* **Evaluation** (:func:`evaluate`): per prompt, the mean reward, exact KL and J_β = E[R] − β·KL of fresh samples
  (common random numbers across policies).
* **J_β(π*)** = β·ln E_{π_ref}[exp(R/β)] per prompt, estimated by importance sampling from a balance-heuristic mixture
  of π_ref and the given proposal networks (:func:`is_log_partition`, :func:`optimal_value`), with its effective
  sample size; E_{π*}[R] by self-normalised weights.
* **The limits on the sampled completions** (:func:`limit_table`): on each training prompt, the network restricted to
  the dataset's sampled set S against every method's tabular limit for that prompt's empirical data
  (``llm.bridge.limits.pair_graph_limits`` for CoPG and IPO on the realised pairs, ``bandit.stationary`` for the
  others; π* on S for online RLOO and for DPO with Bradley–Terry labels in expectation).
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from types import SimpleNamespace
from typing import Any

import torch

from bandit.stationary import stationary_point
from llm.bridge.exact import bandit_problem
from llm.bridge.limits import kl, nearest_limit, pair_graph_limits
from llm.bridge.task import BridgeTask, best_summary, make_tokenizer, reference_summary, summary_reward
from llm.bridge.world import sft_reference
from llm.model.generation import completion_logps, generate, generate_with_kl

__all__ = [
    "SampledWorld",
    "build_sampled_world",
    "sample",
    "offline_datasets",
    "bt_labelled",
    "MU_NAMES",
    "evaluate",
    "is_log_partition",
    "optimal_value",
    "random_baseline",
    "limit_table",
    "network_on_limits",
    "LIMIT_OF",
]

#: The behaviour policies of the offline datasets, nearest π_ref first.
MU_NAMES = ("ref", "T1.5", "refmix")


@dataclasses.dataclass
class SampledWorld:
    """One chain: the task's documents, the tokenizer, π_ref (SFT) and the prompts of every split."""

    cfg: Any  # llm.bridge.rung.RungConfig
    task: BridgeTask
    tokenizer: Any
    ref_model: Any
    docs: dict[str, list[list[str]]]  # split -> documents (train, select, heldout)

    def prompts(self, split: str) -> list[str]:
        return [self.task.prompt(d) for d in self.docs[split]]

    @property
    def max_new_tokens(self) -> int:
        return self.cfg.task.max_words + 1  # EOS is forced after L words: never truncated


def build_sampled_world(cfg: Any) -> tuple[SampledWorld, dict]:
    """Documents (SFT, train, select, held-out), the word-level tokenizer and π_ref by SFT on noisy references."""
    n_eval = cfg.select_prompts + cfg.heldout_prompts
    task = BridgeTask.build(cfg.task, cfg.sft_docs, cfg.train_prompts, n_eval, seed=cfg.task_seed)
    tok = make_tokenizer(cfg.task.vocabulary)
    t0 = time.time()
    ref, curve = sft_reference(cfg, task, tok)
    docs = {
        "train": task.train_docs,
        "select": task.heldout_docs[: cfg.select_prompts],
        "heldout": task.heldout_docs[cfg.select_prompts :],
    }
    return SampledWorld(cfg, task, tok, ref, docs), {"sft_loss_curve": curve, "sft_s": time.time() - t0}


def sample(
    world: SampledWorld, model: Any, split: str, n: int, temperature: float = 1.0, seed: int = 0
) -> dict[str, list]:
    """``n`` completions per prompt of ``split`` from ``model`` at ``temperature`` (prompt-major): their texts, ids,
    prompt indices and rewards."""
    prompts = world.prompts(split)
    rep = [p for p in prompts for _ in range(n)]
    texts, _, ids = generate(
        model, world.tokenizer, rep, world.max_new_tokens, temperature, world.cfg.gen_batch, seed, return_ids=True
    )
    return {
        "prompts": rep,
        "texts": texts,
        "ids": ids,
        "index": [i for i in range(len(prompts)) for _ in range(n)],
        "rewards": world.task.reward_fn(rep, texts),
    }


def _logps(world: SampledWorld, model: Any, prompts: list[str], texts: list[str], ids: list, t: float = 1.0):
    return completion_logps(
        model, world.tokenizer, prompts, texts, t, world.cfg.gen_batch, completion_ids=ids
    ).double()  # [N]


def _reference_draws(world: SampledWorld, n: int, seed: int) -> dict[str, list]:
    """``n`` fresh noisy references per training prompt (``reference_summary``: the SFT data's distribution)."""
    rng = random.Random(seed)
    tok, prompts = world.tokenizer, world.prompts("train")
    out: dict[str, list] = {"prompts": [], "texts": [], "ids": [], "index": [], "rewards": []}
    for i, doc in enumerate(world.docs["train"]):
        for _ in range(n):
            words = reference_summary(doc, world.cfg.task, rng)
            out["prompts"].append(prompts[i])
            out["texts"].append(world.task.completion(words))
            out["ids"].append(tok.convert_tokens_to_ids(words))
            out["index"].append(i)
            out["rewards"].append(summary_reward(doc, words, world.cfg.task))
    return out


def _mu_draws(world: SampledWorld, mu: str, n: int, seed: int) -> tuple[dict[str, list], list[str]]:
    """``n`` completions per training prompt from behaviour policy ``mu`` and each one's source."""
    ref = world.ref_model
    if mu == "ref":
        return sample(world, ref, "train", n, 1.0, seed), ["ref_T1"] * n * len(world.docs["train"])
    if mu == "T1.5":
        return sample(world, ref, "train", n, 1.5, seed), ["ref_T1.5"] * n * len(world.docs["train"])
    a, b = sample(world, ref, "train", n, 1.0, seed), _reference_draws(world, n, seed)
    coin = torch.rand(len(a["texts"]), generator=torch.Generator().manual_seed(seed + 7)) < 0.5
    mixed = {k: [b[k][j] if coin[j] else a[k][j] for j in range(len(coin))] for k in a}
    return mixed, ["human" if c else "ref_T1" for c in coin.tolist()]


def offline_datasets(world: SampledWorld, seed: int) -> dict[str, dict[str, Any]]:
    """Per behaviour policy μ (:data:`MU_NAMES`): ``{"rows": [...], "mean_ref_nll", "distance"}``.

    ``pairs_per_prompt`` rows per training prompt, K = 2 i.i.d. completions of μ, lab format. ``behaviour_logps``
    is ln μ where known (π_ref at T), the SFT log-prob for noisy references (source "human", as the lab's format
    says). ``distance`` = E_μ[−ln π_ref(y)] − E_{π_ref}[−ln π_ref(y)]: how much less likely under π_ref the data are
    than π_ref's own samples (nats; 0 for μ = π_ref). DPO trains on :func:`bt_labelled` rows of the same pairs.
    """
    n = world.cfg.pairs_per_prompt
    out: dict[str, dict[str, Any]] = {}
    for k, mu in enumerate(MU_NAMES):
        d, sources = _mu_draws(world, mu, 2 * n, seed + 1000 * k)
        ref_lp = _logps(world, world.ref_model, d["prompts"], d["texts"], d["ids"])
        beh = _logps(world, world.ref_model, d["prompts"], d["texts"], d["ids"], 1.5) if mu == "T1.5" else ref_lp
        rows = []
        for j in range(0, len(d["texts"]), 2):
            c = [j, j + 1]
            rows.append(
                {
                    "prompt": d["prompts"][j],
                    "completions": [d["texts"][i] for i in c],
                    "rewards": [float(d["rewards"][i]) for i in c],
                    "behaviour_logps": [float(beh[i]) for i in c],
                    "ref_logps": [float(ref_lp[i]) for i in c],
                    "source": [sources[i] for i in c],
                    "completion_ids": [list(d["ids"][i]) for i in c],
                    "prompt_index": d["index"][j],
                }
            )
        out[mu] = {"rows": rows, "mean_ref_nll": float(-ref_lp.mean())}
    for mu in MU_NAMES:
        out[mu]["distance"] = out[mu]["mean_ref_nll"] - out["ref"]["mean_ref_nll"]
    return out


def bt_labelled(rows: list[dict], beta: float, seed: int) -> list[dict]:
    """The same pairs with Bradley–Terry labels drawn from the reward at β: column 0 preferred with probability
    σ((R0 − R1)/β). The label is written as ``rewards`` = [1, 0] or [0, 1] (the trainer's DPO ranks by ``rewards``;
    with these labels DPO's expected loss is minimised by π*), the true rewards kept as ``raw_rewards``."""
    gen = torch.Generator().manual_seed(seed)
    r = torch.tensor([row["rewards"] for row in rows], dtype=torch.float64)  # [N, 2]
    first = torch.rand(len(rows), generator=gen, dtype=torch.float64) < torch.sigmoid((r[:, 0] - r[:, 1]) / beta)
    return [
        {**row, "rewards": [1.0, 0.0] if f else [0.0, 1.0], "raw_rewards": list(row["rewards"])}
        for row, f in zip(rows, first.tolist())
    ]


def evaluate(
    world: SampledWorld, model: Any, split: str, n: int, seed: int, beta: float | None = None
) -> dict[str, list[float]]:
    """Per prompt of ``split``: mean reward, exact KL(π‖π_ref) (Σ_t of the next-token KLs along each sample) and
    J_β = reward − β·KL over ``n`` samples of ``model`` at T = 1 (seeded: common random numbers across models);
    β defaults to the config's."""
    beta = world.cfg.beta if beta is None else beta
    prompts = world.prompts(split)
    rep = [p for p in prompts for _ in range(n)]
    texts, _, _, klt = generate_with_kl(
        model, world.ref_model, world.tokenizer, rep, world.max_new_tokens, world.cfg.gen_batch, seed
    )
    rewards = world.task.reward_fn(rep, texts)

    def per_prompt(v: list[float]) -> list[float]:
        return [sum(v[i : i + n]) / n for i in range(0, len(v), n)]

    r, k = per_prompt(rewards), per_prompt(klt["exact"])
    return {"reward": r, "kl": k, "jbeta": [a - beta * b for a, b in zip(r, k)]}


def is_log_partition(
    ref_logps: torch.Tensor, rewards: torch.Tensor, proposal_logps: torch.Tensor, shares: torch.Tensor, beta: float
) -> dict[str, float]:
    """Importance-sampling estimate of J_β(π*) = β·ln Z, Z = E_{π_ref}[exp(R/β)], for one prompt.

    ``ref_logps``, ``rewards``: ``[N]`` for N samples drawn from a mixture of C proposals (n_c of them from
    proposal c, ``shares`` = n_c/N, ``[C]``); ``proposal_logps``: ``[C, N]`` ln q_c of every sample under every
    proposal. Balance heuristic: w = π_ref·e^{R/β} / Σ_c (n_c/N)·q_c, unbiased for Z whatever the proposals, as long as
    their mixture covers π*. Returns ``{v_star, ess, reward_star}``: β·ln(mean w) (biased low by Jensen for small N),
    the effective sample size (Σw)²/Σw² of the normalised weights, and the self-normalised E_{π*}[R].
    """
    log_q = torch.logsumexp(proposal_logps + shares.log()[:, None], dim=0)  # [N]
    log_w = ref_logps + rewards / beta - log_q  # [N]
    n = log_w.shape[0]
    w = torch.softmax(log_w, 0)  # normalised weights [N]
    return {
        "v_star": float(beta * (torch.logsumexp(log_w, 0) - math.log(n))),
        "ess": float(1.0 / (w * w).sum()),
        "reward_star": float((w * rewards).sum()),
    }


def optimal_value(world: SampledWorld, proposals: list[Any], split: str, n: int, seed: int) -> dict[str, list[float]]:
    """Per prompt of ``split``: J_β(π*) estimated by :func:`is_log_partition` from ``n`` samples of each proposal
    (π_ref first, then ``proposals``; each sample scored under every proposal and π_ref)."""
    models = [world.ref_model, *proposals]
    draws = [sample(world, m, split, n, 1.0, seed + 31 * c) for c, m in enumerate(models)]
    prompts = sum((d["prompts"] for d in draws), [])
    texts, ids = sum((d["texts"] for d in draws), []), sum((d["ids"] for d in draws), [])
    rewards = torch.tensor(sum((d["rewards"] for d in draws), []), dtype=torch.float64)
    lq = torch.stack([_logps(world, m, prompts, texts, ids) for m in models])  # [C, C·P·n]
    c, p = len(models), len(world.docs[split])
    # regroup: sample (component, prompt, j) -> per prompt the C·n samples
    lq = lq.view(len(models), c, p, n).permute(0, 2, 1, 3).reshape(c, p, c * n)
    rw = rewards.view(c, p, n).permute(1, 0, 2).reshape(p, c * n)
    shares = torch.full((c,), 1.0 / c, dtype=torch.float64)
    out: dict[str, list[float]] = {"v_star": [], "ess": [], "reward_star": []}
    for i in range(p):
        one = is_log_partition(lq[0, i], rw[i], lq[:, i], shares, world.cfg.beta)
        for key in out:
            out[key].append(one[key])
    return out


def random_baseline(world: SampledWorld, split: str, n: int, seed: int) -> dict[str, float]:
    """Mean reward of uniformly random completions (length uniform in 1..L, words uniform) and of the best summary."""
    rng, cfg = random.Random(seed), world.cfg.task
    rand, best = [], []
    for doc in world.docs[split]:
        for _ in range(n):
            rand.append(
                summary_reward(doc, [rng.choice(cfg.words) for _ in range(rng.randint(1, cfg.max_words))], cfg)
            )
        best.append(summary_reward(doc, best_summary(doc, cfg), cfg))
    return {"random": sum(rand) / len(rand), "best": sum(best) / len(best)}


# ----------------------------------------------------------------------------------------------------------------
# The limits on the sampled completions of each training prompt
# ----------------------------------------------------------------------------------------------------------------

#: Each rung method's tabular limit on S: "pair" = pair_graph_limits on the realised pairs, "star" = π* on S,
#: otherwise a bandit.stationary method on the prompt's empirical μ̂1, μ̂2.
LIMIT_OF = {"copg": "pair", "ipo": "pair", "dpo": "star", "pg": "pg", "pg_batch": "pg_mean", "online": "star"}


def _prompt_sets(rows: list[dict], n_prompts: int) -> list[dict]:
    """Per training prompt (the first ``n_prompts``): S (distinct sampled id tuples), the local rows, μ̂1, μ̂2,
    ln π_ref and R on S."""
    out = [{"arms": {}, "rows": [], "ref": [], "rewards": [], "counts": [[], []]} for _ in range(n_prompts)]
    for r in rows:
        i = r["prompt_index"]
        if i >= n_prompts:
            continue
        s, local = out[i], []
        for c, ids in enumerate(r["completion_ids"]):
            key = tuple(ids)
            if key not in s["arms"]:
                s["arms"][key] = len(s["arms"])
                s["ref"].append(r["ref_logps"][c])
                s["rewards"].append(r["rewards"][c])
                s["counts"][0].append(0)
                s["counts"][1].append(0)
                s.setdefault("texts", []).append(r["completions"][c])
            local.append(s["arms"][key])
            s["counts"][c][s["arms"][key]] += 1
        s["rows"].append({"prompt_index": 0, "arm_ids": local})
    return out


def limit_table(world: SampledWorld, rows: list[dict], methods: list[str]) -> list[dict]:
    """Per training prompt (the first ``cfg.limit_prompts``, less those whose samples are all one completion): S and
    every method's tabular limit on S (``[|S|]`` probabilities, None where it has no finite limit). A network is
    compared with :func:`network_on_limits`."""
    beta = world.cfg.beta
    prompts = world.prompts("train")
    out = []
    for i, s in enumerate(_prompt_sets(rows, world.cfg.limit_prompts)):
        if len(s["arms"]) < 2:
            continue  # every sample of the prompt is the same completion: every limit is that one completion
        ref = torch.log_softmax(torch.tensor(s["ref"], dtype=torch.float64), 0)  # π_ref restricted to S
        rew = torch.tensor(s["rewards"], dtype=torch.float64)
        mu = [torch.tensor(c, dtype=torch.float64) / sum(c) for c in s["counts"]]
        shim = SimpleNamespace(
            ref_logp={"train": ref[None]}, rewards={"train": rew[None]}, cfg=SimpleNamespace(beta=beta)
        )
        pairs = pair_graph_limits(shim, s["rows"]) if {"copg", "ipo"} & set(methods) else {}
        prob = bandit_problem(ref, rew, beta)
        limits: dict[str, torch.Tensor | None] = {}
        for m in methods:
            kind = LIMIT_OF[m]
            if kind == "pair":
                limits[m] = pairs[m]["policy"][0]
            elif kind == "star":
                limits[m] = torch.softmax(ref + rew / beta, 0)
            else:
                try:
                    limits[m] = stationary_point(kind, prob, mu[0], mu[1], pref_beta=beta, preference="reward").policy
                except ValueError:
                    limits[m] = None
        ids = [list(k) for k in s["arms"]]
        out.append({"prompt": prompts[i], "texts": s["texts"], "ids": ids, "limits": limits})
    return out


def network_on_limits(world: SampledWorld, model: Any, table: list[dict], own: str) -> dict[str, Any]:
    """The network restricted to each prompt's S against every limit: mean KL(limit ‖ net|S) per method, the
    nearest limit and whether it is ``own``'s (limits that coincide counted as one, as the exact bridge)."""
    prompts = [t["prompt"] for t in table for _ in t["texts"]]
    texts = [x for t in table for x in t["texts"]]
    ids = [x for t in table for x in t["ids"]]
    lp = _logps(world, model, prompts, texts, ids)
    nets, k = [], 0
    for t in table:
        nets.append(torch.softmax(lp[k : k + len(t["texts"])], 0))
        k += len(t["texts"])
    methods = list(table[0]["limits"])
    to_limits = {}
    for m in methods:
        vals = [kl(t["limits"][m], net) for t, net in zip(table, nets) if t["limits"][m] is not None]
        to_limits[m] = sum(vals) / len(vals) if vals else float("nan")
    limits = {m: [t["limits"][m] for t in table] for m in methods}
    near, is_own = nearest_limit(to_limits, limits, own)
    return {"kl_to_limits": to_limits, "nearest_limit": near, "nearest_is_own": is_own}
