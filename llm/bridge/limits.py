"""The tabular side of the bridge: each method's limit per held-in prompt, and distances between policies.

``bandit.stationary.stationary_point`` gives each bandit method's stationary policy on the prompt's empirical
μ̂1, μ̂2 (arms = completions, π_ref = the enumerated π_ref(·|x)); :func:`pair_graph_limits` gives CoPG's and IPO's
limit on the dataset's *realised* pairs. A frozen-off-support method's limit keeps π_ref's logits on completions
the data never sampled; a network has no such constraint (docs/bridge.md, "The off-support lesson").
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from bandit.methods import get_method
from bandit.problem import kl_divergence
from bandit.stationary import stationary_point
from llm.bridge.exact import bandit_problem, exact_metrics

__all__ = [
    "tabular_predictions",
    "pair_graph_limits",
    "PAIR_GRAPH_METHODS",
    "kl",
    "kl_on_support",
    "mean_defined",
    "network_record",
    "limit_regret",
    "nearest_limit",
]


def tabular_predictions(
    world: Any,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    methods: list[str],
    behaviour: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, dict]:
    """Per bandit method, per held-in prompt, the stationary policy of ``bandit.stationary.stationary_point``.

    The problem of prompt x has arms = completions, π_ref = the enumerated π_ref(·|x), rewards R(x, ·), β; the
    arms are drawn from the prompt's empirical μ̂1, μ̂2 (sample counts / n): the dataset's sufficient statistics.
    ``behaviour`` = the ``[X, A]`` tables of the μ1, μ2 that sampled it: the importance ratio of a method that reads
    the behaviour log-probs (``pg_is``) divides by them, as the dataset's loss does (so its limit weighs each arm
    by μ̂/μ, not 1). Returns ``{bandit_method: {"policy": [X, A] or None per prompt, "regret": [X], "errors": [...]}}``.
    """
    out: dict[str, dict] = {}
    for m in dict.fromkeys(methods):
        t0 = time.time()
        pols, regrets, errors = [], [], []
        for i in range(mu1.shape[0]):
            prob = bandit_problem(world.ref_logp["train"][i], world.rewards["train"][i], world.cfg.beta)
            try:
                ratio = (behaviour[0][i], behaviour[1][i]) if behaviour and get_method(m).needs_behaviour else None
                sp = stationary_point(
                    m, prob, mu1[i], mu2[i], pref_beta=world.cfg.beta, preference="reward", tol=1e-7, behaviour=ratio
                )
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


def pair_graph_limits(world: Any, rows: list[dict]) -> dict[str, dict]:
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


def kl(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p ‖ q) of two `[A]` policies (q clamped at 1e-300: finite where q underflows)."""
    return float(kl_divergence(p, q.clamp_min(1e-300)))


def kl_on_support(p: torch.Tensor, q: torch.Tensor, support: torch.Tensor) -> float:
    """KL(p|S ‖ q|S) between ``[A]`` policies renormalised on the support S (``[A]`` bool)."""
    ps, qs = p * support, q * support
    return kl(ps / ps.sum(), qs / qs.sum())


def mean_defined(t: torch.Tensor | list[float]) -> float:
    """Mean of the defined (non-NaN) values; NaN if none is."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return float(t[~t.isnan()].mean()) if (~t.isnan()).any() else float("nan")


def network_record(world: Any, data: Any, log_pi: torch.Tensor, limits: dict, own: str) -> dict:
    """Exact held-in numbers of one network against every limit (means over held-in prompts)."""
    net = log_pi.exp()
    net = net / net.sum(-1, keepdim=True)  # [X, A]
    m = world.metrics(log_pi, "train")
    to_limits = {
        b: mean_defined([kl(p, net[i]) if p is not None else math.nan for i, p in enumerate(ps)])
        for b, ps in limits.items()
    }
    own_ps = limits[own]
    return {
        "network_regret": float(m["policy/regret"].mean()),
        "kl_to_own_limit": to_limits[own],
        "kl_to_own_limit_support": mean_defined(
            [kl_on_support(p, net[i], data.support[i]) if p is not None else math.nan for i, p in enumerate(own_ps)]
        ),
        "off_support_mass": float((net * ~data.support).sum(-1).mean()),
        "kl_to_limits": to_limits,
        "leaked_mass": float((1 - m["policy/mass"]).abs().max()),
    }


def limit_regret(world: Any, ps: list[torch.Tensor | None]) -> float:
    """Mean held-in regret of a tabular limit (prompts without a finite limit skipped)."""
    vals = []
    for i, p in enumerate(ps):
        if p is not None:
            one = exact_metrics(
                p.log()[None], world.ref_logp["train"][i : i + 1], world.rewards["train"][i : i + 1], world.cfg.beta
            )
            vals.append(float(one["policy/regret"][0]))
    return mean_defined(vals)


def nearest_limit(to_limits: dict[str, float], limits: dict, own: str, tie: float = 1e-3) -> tuple[str, bool | None]:
    """The method whose limit is nearest the network (KL(limit ‖ net)) and whether it is the network's own (None:
    the method has no finite limit), counting limits that coincide (mean KL between them < ``tie``, e.g. CoPG's
    and online RLOO's when S covers π*) as one."""
    row = {b: v for b, v in to_limits.items() if v == v}
    best = min(row, key=row.get)
    if all(p is None for p in limits[own]):
        return best, None
    if best == own:
        return best, True
    pairs = [kl(p, q) for p, q in zip(limits[best], limits[own]) if p is not None and q is not None]
    return best, bool(pairs) and sum(pairs) / len(pairs) < tie
