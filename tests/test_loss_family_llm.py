"""The LLM trainer selects each loss-family variant by name (llm.methods rows): each row is its bandit.losses
function on the completions it selects, and one trainer step on a tiny GPT-2 lowers that loss on a fixed batch."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch

from bandit.losses import apo_loss, command_a_loss, copg_loss, qrpo_loss, qrpo_rebel_loss, rebel_loss, rpo_sq_loss
from llm.methods import METHODS, LossInputs, gather
from llm.stages.train import CoPGTrainer, OfflineDataset
from tests.llm_helpers import config, gold_reward, length_reward, make_model, make_rows, make_tokenizer

FAMILY_ROWS = {  # name → (completions per prompt in the loss (None: all k), the bandit.losses call, c × copg)
    "rebel": (2, lambda x, b: rebel_loss(x.logps, x.ref_logps, x.rewards, b), lambda b, k: 2 * b),
    "rpo_sq": (2, lambda x, b: rpo_sq_loss(x.logps, x.ref_logps, x.rewards, b), lambda b, k: 2 * b),
    "qrpo_rebel": (2, lambda x, b: qrpo_rebel_loss(x.logps, x.ref_logps, x.rewards, b), lambda b, k: 2 / b),
    "command_a": (None, lambda x, b: command_a_loss(x.logps, x.ref_logps, x.rewards, b), lambda b, k: b * k),
    "qrpo": (None, lambda x, b: qrpo_loss(x.logps, x.ref_logps, x.rewards, x.rewards, b), None),
    "apo": (None, lambda x, b: apo_loss(x.logps, x.ref_logps, x.rewards, x.rewards, b), None),
}


@pytest.mark.parametrize("name", list(FAMILY_ROWS))
def test_llm_row_is_its_bandit_loss_on_its_selection(name):
    """The row selects a random pair (pair losses) or all k completions, and its loss is the bandit.losses call
    (for the rescalings: c × copg_loss on the same completions)."""
    m, (m_cols, ref_fn, scale) = METHODS[name], FAMILY_ROWS[name]
    g = torch.Generator().manual_seed(0)
    b, k, beta = 5, 4, 0.3
    rewards = torch.randn(b, k, generator=g, dtype=torch.float64)
    cols = m.select(rewards, [["sft_T1.0"] * k] * b, torch.Generator().manual_seed(1))
    assert cols.shape == (b, m_cols or k) and (cols[:, :1] != cols[:, 1:2]).all()
    logps = -5 * torch.rand(b, k, generator=g, dtype=torch.float64)
    x = LossInputs(
        gather(logps, cols), gather(-5 * torch.rand(b, k, generator=g, dtype=torch.float64), cols),
        gather(rewards, cols), torch.zeros(b, cols.shape[1], dtype=torch.float64), torch.ones(b, cols.shape[1]),
    )  # fmt: skip
    cfg = SimpleNamespace(beta=beta)
    torch.testing.assert_close(m.loss(x, cfg), ref_fn(x, beta))
    if scale is not None:
        torch.testing.assert_close(
            m.loss(x, cfg), scale(beta, cols.shape[1]) * copg_loss(x.logps, x.ref_logps, x.rewards, beta)
        )


@pytest.fixture(scope="module")
def setup():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tok = make_tokenizer()
    ref = make_model(tok, seed=0)
    rows = make_rows(tok, ref, n_prompts=8, k=3)
    yield tok, ref, rows
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", list(FAMILY_ROWS))
def test_trainer_step_lowers_the_family_loss(tmp_path, setup, name):
    """`--method <name>`: one AdamW step on the full batch lowers that batch's loss, for every family row."""
    tok, ref, rows = setup
    cfg = config(tmp_path, loss_type=name, max_steps=1, per_device_train_batch_size=len(rows), learning_rate=3e-4)
    tr = CoPGTrainer(
        model=copy.deepcopy(ref), args=cfg, train_dataset=OfflineDataset(rows, min_k=1), eval_dataset=rows[:4],
        processing_class=tok, ref_model=copy.deepcopy(ref), reward_fn=length_reward, gold_fn=gold_reward,
    )  # fmt: skip
    batch = tr.data_collator(rows)

    def loss_fn():
        tr.state.global_step = 0  # the same random pair before and after the step
        with torch.no_grad():
            return tr.compute_loss(tr.model, batch).item()

    before = loss_fn()
    tr.train()
    assert loss_fn() < before
