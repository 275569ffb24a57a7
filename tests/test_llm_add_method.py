"""Adding a method to the LLM trainer is one row of ``llm.methods.METHODS`` (docs/llm-lab.md, "Adding a method").

A toy method, registered the way the docs say, is selectable by ``loss_type`` in ``CoPGConfig`` and trained by
``CoPGTrainer``; its logged loss is the ``bandit.losses`` call its row makes, on the columns its selection picks.
"""

from __future__ import annotations

import pytest
import torch

from bandit.losses import copg_loss
from llm.methods import METHODS, Method
from tests.llm_helpers import make_model, make_tokenizer
from tests.test_copg_trainer_library import ROWS, _naive_tensor


def _top_two(rewards: torch.Tensor, sources: list[list[str]], gen: torch.Generator) -> torch.Tensor:
    return rewards.topk(2, dim=1).indices  # [B, 2]: the two highest-reward completions, unranked for CoPG


def _copg_on_them(x, cfg) -> torch.Tensor:
    return copg_loss(x.logps, x.ref_logps, x.rewards, cfg.beta)


TOY = Method("copg_top2", "CoPG on the two highest-reward completions (a toy)", _top_two, _copg_on_them, 2)


def test_a_registered_method_trains_and_logs_its_loss(tmp_path, monkeypatch):
    """Step 1's logged loss = copg_loss on the top-2 columns, ln π of the initial model and ln π_ref of another."""
    from llm.stages.train import CoPGConfig, CoPGTrainer

    monkeypatch.setitem(METHODS, TOY.name, TOY)
    tok = make_tokenizer()
    ref_model = make_model(tok, seed=1)
    args = CoPGConfig(
        output_dir=str(tmp_path),
        loss_type="copg_top2",
        beta=0.5,
        max_steps=1,
        per_device_train_batch_size=3,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
    )
    tr = CoPGTrainer(
        model=make_model(tok, seed=0), ref_model=ref_model, args=args, train_dataset=ROWS, processing_class=tok
    )
    tr.train()
    got = next(h["loss/train"] for h in tr.state.log_history if "loss/train" in h)
    logps, ref = _naive_tensor(make_model(tok, seed=0), tok), _naive_tensor(ref_model, tok)
    rewards = torch.tensor([r["rewards"] for r in ROWS], dtype=torch.float64)
    cols = rewards.topk(2, dim=1).indices
    expected = copg_loss(logps.gather(1, cols), ref.gather(1, cols), rewards.gather(1, cols), 0.5).mean()
    assert got == pytest.approx(float(expected), rel=1e-4)


def test_an_unregistered_method_is_a_clear_error(tmp_path):
    from llm.stages.train import CoPGConfig

    with pytest.raises(ValueError, match="loss_type 'copg_top2' is unknown; choose one of copg"):
        CoPGConfig(output_dir=str(tmp_path), loss_type="copg_top2")


def test_naive_pg_weights_by_the_raw_reward_and_other_baselines_ignore_the_offset():
    """PG with b = 0 on standardised rewards adds the dataset mean back (raw reward / s.d.); the mean and LOO
    baselines, CoPG and the pair losses are unchanged by the offset (they are shift-invariant)."""
    import types

    import torch

    from bandit.losses import pg_loss
    from llm.methods import LossInputs, get_method

    g = torch.Generator().manual_seed(0)
    logps, ref = -torch.rand(3, 4, generator=g) * 5, -torch.rand(3, 4, generator=g) * 5
    rewards, offset = torch.randn(3, 4, generator=g), torch.tensor([2.0, 2.0, 2.0])

    def loss(name, baseline, off):
        x = LossInputs(logps, ref, rewards, ref, torch.full((3, 4), 5.0), reward_offset=off)
        cfg = types.SimpleNamespace(beta=0.1, pg_baseline=baseline, is_clip=None)
        return get_method(name).loss(x, cfg)

    expected = pg_loss(logps, ref, rewards + 2.0, 0.1, baseline="none")
    assert torch.allclose(loss("pg", "none", offset), expected)
    assert not torch.allclose(loss("pg", "none", offset), loss("pg", "none", None))
    for name, baseline in [("pg", "mean"), ("pg", "loo"), ("copg", "none"), ("ipo", "none"), ("dpo", "none")]:
        assert torch.allclose(loss(name, baseline, offset), loss(name, baseline, None)), (name, baseline)


def test_tied_pairs_are_dropped_by_default_and_ranked_first_on_request():
    """A prompt whose two completions tie: no IPO loss by default; with pair_ties="first", column 0 preferred (as
    bandit.losses.preference_pairs ranks it)."""
    import types

    import torch

    from bandit.losses import gather_pairs, ipo_loss, preference_pairs
    from llm.methods import LossInputs, get_method

    logps, ref = torch.tensor([[-3.0, -4.0]]), torch.tensor([[-3.5, -3.0]])
    rewards = torch.tensor([[0.5, 0.5]])
    x = LossInputs(logps, ref, rewards, ref, torch.full((1, 2), 3.0))
    drop = get_method("ipo").loss(x, types.SimpleNamespace(beta=0.1, pair_ties="drop"))
    first = get_method("ipo").loss(x, types.SimpleNamespace(beta=0.1, pair_ties="first"))
    pairs = preference_pairs(rewards, how="reward")
    assert drop.item() == 0.0
    assert torch.allclose(first, ipo_loss(gather_pairs(logps, pairs), gather_pairs(ref, pairs), 0.1))
