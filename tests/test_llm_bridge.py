"""Bridge between the labs: the LLM trainer is the bandit loss applied to sequence log-probs.

1. On a tiny GPT-2, ``CoPGTrainer.compute_loss`` and its parameter gradient equal ``bandit.losses`` applied to
   ``sequence_logps`` of the same completions (all k for CoPG; for DPO/IPO every pair of the k ranked by the reward,
   tied pairs left out, as the paper ranks its pairs with the reward CoPG optimises).
2. On a one-token "LLM" (vocabulary = arms + BOS, prompt = BOS, completion = one arm token) whose logits are a free
   parameter vector θ, trainer steps reproduce the tabular update θ ← θ − η·∇θ mean_b copg_loss(ln softmax(θ)[arms])
   of the bandit lab exactly (SGD), and AdamW steps match torch's AdamW on the tabular θ.
"""

from __future__ import annotations

import copy
import types

import pytest
import torch

from bandit.losses import copg_loss, dpo_loss, ipo_loss, pg_loss
from llm.model.logprobs import sequence_logps
from llm.stages.train import CoPGTrainer, OfflineDataset
from tests.llm_helpers import config, make_model, make_rows, make_tokenizer, ranked_pairs_loss_by_hand


@pytest.fixture(scope="module")
def setup():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tok = make_tokenizer()
    ref = make_model(tok, seed=0)
    policy = make_model(tok, seed=3)  # a policy ≠ π_ref, so log-ratios (and every loss term) are non-trivial
    rows = make_rows(tok, ref, n_prompts=6, k=3)
    yield tok, ref, policy, rows
    torch.set_num_threads(threads)


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize(
    "method, baseline", [("copg", "none"), ("ipo", "none"), ("dpo", "none"), ("pg", "none"), ("pg", "batch")]
)
def test_trainer_loss_and_gradient_equal_the_bandit_loss_on_sequence_logps(tmp_path, setup, method, baseline):
    tok, ref, policy, rows = setup
    beta = 0.3
    tr = CoPGTrainer(
        model=copy.deepcopy(policy),
        args=config(tmp_path, loss_type=method, beta=beta, pg_baseline=baseline),
        train_dataset=OfflineDataset(rows),
        processing_class=tok,
    )
    batch = tr.data_collator(rows)
    model_a = tr.model
    model_a.zero_grad()
    loss_a = tr.compute_loss(model_a, batch)
    loss_a.backward()

    # the same thing by hand: sequence log-probs of all B·K completions, then the bandit loss on [B, K] tensors
    model_b = copy.deepcopy(policy)
    b, k = batch["rewards"].shape
    logps = sequence_logps(model_b, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]).view(b, k)
    ref_logps, rewards = batch["ref_logps"], batch["rewards"]
    if method == "copg":
        loss_b = copg_loss(logps, ref_logps, rewards, beta).mean()
    elif method == "pg" and baseline == "batch":  # b = mean R_β over all B·K completions of the batch
        b = (rewards - beta * (logps.detach() - ref_logps)).mean().expand(b)
        loss_b = pg_loss(logps, ref_logps, rewards, beta, baseline=b).mean()
    elif method == "pg":
        loss_b = pg_loss(logps, ref_logps, rewards, beta, baseline="none").mean()
    else:  # every pair of the k ranked by the same reward (Sec. 6), tied pairs left out, mean per prompt
        fn = ipo_loss if method == "ipo" else dpo_loss
        loss_b = ranked_pairs_loss_by_hand(fn, logps, ref_logps, rewards, beta)
    loss_b.backward()
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-5, abs=1e-6)
    assert torch.allclose(_grads(model_a), _grads(model_b), rtol=1e-4, atol=1e-6)
    assert _grads(model_b).abs().sum() > 0


# ----------------------------------------------------------------------------------------------------------------
# The one-token LLM
# ----------------------------------------------------------------------------------------------------------------

A = 5  # arms = vocabulary tokens 0..A-1; token A is BOS (the one-token prompt)
BOS = A


class FreeLogits(torch.nn.Module):
    """A "language model" whose next-token logits are θ (plus −∞ on BOS) at every position: π(a) = softmax(θ)_a."""

    def __init__(self, theta: torch.Tensor) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(theta.clone())
        self.register_buffer("bos_logit", torch.tensor([float("-inf")], dtype=theta.dtype))

    def forward(self, input_ids, attention_mask=None, position_ids=None, **kw):
        logits = torch.cat([self.theta, self.bos_logit])  # (V,) = (A+1,)
        return types.SimpleNamespace(logits=logits.expand(*input_ids.shape, A + 1))  # (N, T, V)


def _bandit_rows(n: int, k: int, seed: int, pi_ref: torch.Tensor) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    rewards_per_arm = torch.tensor([2.5, 2.0, 1.0, 0.5, -1.0])
    mu = torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1])
    arms = torch.multinomial(mu.expand(n, A), k, replacement=True, generator=g)  # [n, k] arms from μ
    log_ref = pi_ref.log()
    return [
        {
            "prompt": "",
            "completions": [str(x) for x in a.tolist()],  # the offline format stores text: arm ids as strings
            "rewards": rewards_per_arm[a].tolist(),
            "ref_logps": log_ref[a].tolist(),
            "behaviour_logps": mu.log()[a].tolist(),
            "source": ["mu"] * k,
        }
        for a in arms
    ]


def _one_token_collator(rows: list[dict]) -> dict:
    arms = torch.tensor([int(a) for r in rows for a in r["completions"]])  # (B·K,)
    n = arms.numel()
    return {
        "input_ids": torch.stack([torch.full((n,), BOS), arms], dim=1),  # (B·K, 2): BOS then the arm
        "attention_mask": torch.ones(n, 2, dtype=torch.long),
        "completion_mask": torch.tensor([[0, 1]]).expand(n, 2).clone(),  # the completion is the arm token alone
        "rewards": torch.tensor([r["rewards"] for r in rows]),
        "ref_logps": torch.tensor([r["ref_logps"] for r in rows]),
        "behaviour_logps": torch.tensor([r["behaviour_logps"] for r in rows]),
        "sources": [r["source"] for r in rows],
        "prompts": [str(i) for i in range(len(rows))],
        "completions": [r["completions"] for r in rows],
    }


def _tabular_loss(theta: torch.Tensor, rows: list[dict], beta: float) -> torch.Tensor:
    """bandit.losses.copg_loss on tabular softmax log-probs ln π(a) = θ_a − logsumexp(θ)."""
    log_pi = theta - torch.logsumexp(theta, 0)  # (A,)
    arms = torch.tensor([[int(a) for a in r["completions"]] for r in rows])  # [B, K]
    rewards = torch.tensor([r["rewards"] for r in rows])
    ref_logps = torch.tensor([r["ref_logps"] for r in rows])
    return copg_loss(log_pi[arms], ref_logps, rewards, beta).mean()


@pytest.mark.parametrize("optim", ["sgd", "adamw_torch"])
def test_one_token_llm_reproduces_the_tabular_copg_update(tmp_path, optim):
    torch.manual_seed(0)
    theta0 = 0.3 * torch.randn(A)
    pi_ref = torch.softmax(torch.randn(A), 0)
    rows = _bandit_rows(n=16, k=3, seed=1, pi_ref=pi_ref)
    beta, lr, steps, bs = 0.5, 0.05, 3, 16  # one batch = the whole dataset: data order plays no role
    cfg = config(
        tmp_path,
        loss_type="copg",
        beta=beta,
        learning_rate=lr,
        max_steps=steps,
        optim=optim,
        per_device_train_batch_size=bs,
        max_grad_norm=0.0,
        weight_decay=0.0,
        lr_scheduler_type="constant",
        disable_dropout=False,
    )
    model = FreeLogits(theta0)
    tr = CoPGTrainer(
        model=model,
        args=cfg,
        train_dataset=OfflineDataset(rows),
        processing_class=None,
        data_collator=_one_token_collator,
    )
    tr.train()

    theta = torch.nn.Parameter(theta0.clone())
    opt = (
        torch.optim.SGD([theta], lr=lr)
        if optim == "sgd"
        else torch.optim.AdamW(
            [theta], lr=lr, weight_decay=0.0, eps=cfg.adam_epsilon, betas=(cfg.adam_beta1, cfg.adam_beta2)
        )
    )
    for _ in range(steps):
        opt.zero_grad()
        _tabular_loss(theta, rows, beta).backward()
        opt.step()
    assert not torch.allclose(theta.detach(), theta0)
    assert torch.allclose(tr.model.theta.detach(), theta.detach(), rtol=0, atol=1e-6)


def test_one_token_gradient_is_the_closed_form_contrastive_gradient(tmp_path):
    """∇θ of the trainer loss = −(2/K)·Σ_i (r_i − m_{−i})·(e_{a_i} − π) averaged over prompts (docs/theory.md)."""
    torch.manual_seed(1)
    theta0 = torch.randn(A)
    pi_ref = torch.full((A,), 1.0 / A)
    rows = _bandit_rows(n=8, k=4, seed=2, pi_ref=pi_ref)
    beta = 0.7
    tr = CoPGTrainer(
        model=FreeLogits(theta0),
        args=config(tmp_path, loss_type="copg", beta=beta),
        train_dataset=OfflineDataset(rows),
        data_collator=_one_token_collator,
    )
    tr.compute_loss(tr.model, _one_token_collator(rows)).backward()
    pi = torch.softmax(theta0, 0)
    expected = torch.zeros(A)
    for r in rows:
        arms = torch.tensor([int(a) for a in r["completions"]])
        reg = torch.tensor(r["rewards"]) - beta * (pi.log()[arms] - torch.tensor(r["ref_logps"]))  # R_β per arm
        loo = (reg.sum() - reg) / (len(arms) - 1)  # m_{−i}
        for a, w in zip(arms, reg - loo):
            expected += -(2 / len(arms)) * w * (torch.nn.functional.one_hot(a, A).float() - pi)
    expected /= len(rows)
    assert torch.allclose(tr.model.theta.grad, expected, atol=1e-5)
