"""CoPGTrainer as a library: a transformers model built here, a three-row dataset, no lab run directory.

The loss the trainer logs at its first step equals ``bandit.losses`` applied to log-probs computed here by a naive
token loop (one forward per completion, log-softmax at each completion token), for both dataset formats.
"""

from __future__ import annotations

import math

import pytest
import torch

from bandit.losses import copg_loss, dpo_loss, ipo_loss, pg_loss
from tests.llm_helpers import make_model, make_tokenizer, ranked_pairs_loss_by_hand

BETA = 0.5
ROWS = [
    {"prompt": "the cat", "completions": [" sat on a mat", " ran", " the red car"], "rewards": [1.0, -0.5, 0.25]},
    {"prompt": "a dog", "completions": [" ran far away", " sat", " big tree"], "rewards": [0.5, 1.5, -1.0]},
    {"prompt": "the house", "completions": [" is blue", " road", " a small house"], "rewards": [-0.2, 0.4, 0.1]},
]


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def _naive_logps(model, tok, prompt: str, completion: str) -> float:
    """ln π(completion + EOS | prompt): one forward of prompt + completion ids, log-softmax summed at the latter."""
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].double(), -1)  # [T, V]
    return sum(float(logp[len(p) + j - 1, t]) for j, t in enumerate(c))


def _naive_tensor(model, tok) -> torch.Tensor:
    rows = [[_naive_logps(model, tok, r["prompt"], c) for c in r["completions"]] for r in ROWS]
    return torch.tensor(rows, dtype=torch.float64)  # [B, K]


def _first_loss(tmp_path, tok, data, loss_type: str, ref_model=None) -> tuple[float, object]:
    from llm.stages.train import CoPGConfig, CoPGTrainer

    args = CoPGConfig(
        output_dir=str(tmp_path / loss_type),
        loss_type=loss_type,
        beta=BETA,
        max_steps=3,
        per_device_train_batch_size=3,  # the three prompts in one batch: step 1's loss is on the initial weights
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
    )
    tr = CoPGTrainer(
        model=make_model(tok, seed=0), ref_model=ref_model, args=args, train_dataset=data, processing_class=tok
    )
    tr.train()
    logs = [h for h in tr.state.log_history if "loss/train" in h]
    assert [h["step"] for h in logs] == [1, 2, 3]
    return logs[0]["loss/train"], tr


def _expected(loss_type: str, logps, ref, rewards) -> float:
    if loss_type == "copg":
        return float(copg_loss(logps, ref, rewards, BETA).mean())
    if loss_type == "pg":
        return float(pg_loss(logps, ref, rewards, BETA).mean())
    fn = dpo_loss if loss_type == "dpo" else ipo_loss  # every reward-ranked pair of the k, tied pairs left out
    return float(ranked_pairs_loss_by_hand(fn, logps, ref, rewards, BETA))


@pytest.mark.parametrize("loss_type", ["copg", "dpo", "ipo", "pg"])
def test_logged_loss_equals_bandit_losses_with_a_separate_reference(tmp_path, tok, loss_type):
    """Step 1's logged loss = bandit.losses(ln π of the initial model, ln π_ref of ref_model, rewards), ln π naive."""
    from datasets import Dataset

    ref_model = make_model(tok, seed=1)  # another network: ln π ≠ ln π_ref, so the loss depends on both
    logps, ref = _naive_tensor(make_model(tok, seed=0), tok), _naive_tensor(ref_model, tok)
    rewards = torch.tensor([r["rewards"] for r in ROWS], dtype=torch.float64)
    got, tr = _first_loss(tmp_path, tok, Dataset.from_list(ROWS), loss_type, ref_model=ref_model)
    assert got == pytest.approx(_expected(loss_type, logps, ref, rewards), rel=1e-4, abs=1e-6)
    # the reference log-probs were computed once, before training, from ref_model
    stored = torch.tensor([r["ref_logps"] for r in tr.train_dataset.rows], dtype=torch.float64)
    assert torch.allclose(stored, ref, atol=1e-4)


def test_one_completion_per_row_is_grouped_by_prompt(tmp_path, tok):
    """TRL-style rows (prompt, completion, reward), shuffled: same groups, same first loss as the grouped dataset.

    Without ref_model, π_ref is the initial policy: ln π = ln π_ref at step 1, so CoPG's loss is
    (1/2β)·mean over pairs of (R_i − R_j)², per prompt, from the rewards alone.
    """
    flat = [
        {"prompt": r["prompt"], "completion": c, "reward": w}
        for r in ROWS
        for c, w in zip(r["completions"], r["rewards"])
    ]
    order = [4, 0, 8, 1, 3, 6, 2, 7, 5]  # interleaved prompts
    got, tr = _first_loss(tmp_path, tok, [flat[i] for i in order], "copg")
    by_prompt = {r["prompt"]: r for r in tr.train_dataset.rows}
    for r in ROWS:
        mine = by_prompt[r["prompt"]]
        assert sorted(zip(mine["completions"], mine["rewards"])) == sorted(zip(r["completions"], r["rewards"]))
    pair_sq = []
    for r in ROWS:
        w = r["rewards"]
        pair_sq.append(sum((w[i] - w[j]) ** 2 for i in range(3) for j in range(i + 1, 3)) / 3 / (2 * BETA))
    assert got == pytest.approx(sum(pair_sq) / 3, rel=1e-5)
    model = make_model(tok, seed=0)
    for r in tr.train_dataset.rows:  # ln π_ref computed by the initial model itself
        naive = [_naive_logps(model, tok, r["prompt"], c) for c in r["completions"]]
        assert r["ref_logps"] == pytest.approx(naive, abs=1e-4)


def test_training_raises_the_reward_of_the_best_completion(tmp_path, tok):
    """A few CoPG steps move ln π/π_ref up on each prompt's best completion and down on its worst."""
    _, tr = _first_loss(tmp_path, tok, ROWS, "copg")
    model = tr.model.cpu().eval()
    after = _naive_tensor(model, tok)
    ref = torch.tensor([r["ref_logps"] for r in tr.train_dataset.rows], dtype=torch.float64)
    rewards = torch.tensor([r["rewards"] for r in ROWS])
    best, worst = rewards.argmax(1, keepdim=True), rewards.argmin(1, keepdim=True)
    lr = after - ref  # [B, K]
    assert (lr.gather(1, best) > lr.gather(1, worst)).all()


@pytest.mark.parametrize(
    "data, loss_type, msg",
    [
        ([], "copg", "train_dataset is empty"),
        ([{"prompt": "a", "completion": " b"}], "copg", "lacks ['reward']"),
        (ROWS, "pg_is", "needs behaviour_logps"),
        ([{**ROWS[0], "rewards": [1.0, math.nan, 0.0]}], "copg", "rewards[1] = nan is not a finite number"),
    ],
)
def test_bad_datasets_raise_clear_errors(tmp_path, tok, data, loss_type, msg):
    from llm.stages.train import CoPGConfig, CoPGTrainer

    args = CoPGConfig(output_dir=str(tmp_path), loss_type=loss_type, report_to="none", use_cpu=True)
    with pytest.raises(ValueError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        CoPGTrainer(model=make_model(tok), args=args, train_dataset=data, processing_class=tok)


def test_library_config_needs_no_preset_or_run_dir(tmp_path):
    from llm.stages.train import CoPGConfig
    from llm.stages.train.config import LIBRARY_DEFAULTS

    cfg = CoPGConfig(output_dir=str(tmp_path))
    assert cfg.preset is None and cfg.run_dir is None and cfg.loss_type == "copg"
    assert cfg.learning_rate == LIBRARY_DEFAULTS["learning_rate"] and cfg.eval_strategy == "no"
    with pytest.raises(ValueError, match="pass output_dir"):
        CoPGConfig()
    with pytest.raises(ValueError, match="set max_new_tokens"):
        CoPGConfig(output_dir=str(tmp_path), loss_type="online")
