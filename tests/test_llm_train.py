"""The LLM trainer (llm.stages.train) on tiny GPT-2 models and a synthetic offline dataset.

Every method lowers its loss on a fixed batch, online mode runs, resume reproduces the weights, gradient accumulation
is invariant, bad configs fail with a clear message."""

from __future__ import annotations

import copy
import json
import re

import pytest
import torch

from llm.stages.train import CoPGTrainer, OfflineDataset, train
from tests.llm_helpers import config, gold_reward, length_reward, make_model, make_rows, make_tokenizer

OFFLINE_METHODS = ["copg", "copg_pair", "ipo", "ipo_mean", "dpo", "pg", "pg_is"]


@pytest.fixture(scope="module")
def setup():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 32-wide models: one thread is fastest and avoids oversubscription on a shared box
    tok = make_tokenizer()
    ref = make_model(tok, seed=0)
    rows = make_rows(tok, ref, n_prompts=8, k=3)
    yield tok, ref, rows
    torch.set_num_threads(threads)


def _trainer(tmp_path, setup, **kw):
    tok, ref, rows = setup
    cfg = config(tmp_path, **kw)
    policy = copy.deepcopy(ref)
    return CoPGTrainer(
        model=policy,
        args=cfg,
        train_dataset=OfflineDataset(rows, min_k=1),
        eval_dataset=rows[:4],
        processing_class=tok,
        ref_model=copy.deepcopy(ref),
        reward_fn=length_reward,
        gold_fn=gold_reward,
    )


def _params(model):
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


def _surrogate_at_fixed_weights(tr, batch):
    """For pg / pg_is (surrogates whose value means nothing): returns f(θ) = Σ sg(∂L/∂ln π at θ0)·ln π_θ(y),
    the first-order model of the loss with the score-function weights frozen at the current parameters."""
    from llm.methods import LossInputs, gather
    from llm.model.logprobs import sequence_logps

    cols = tr.method.select(batch["rewards"], batch["sources"], torch.Generator().manual_seed(0))
    b, k = batch["rewards"].shape
    with torch.no_grad():
        logps = sequence_logps(tr.model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
    logps = gather(logps.view(b, k), cols).requires_grad_(True)
    x = LossInputs(
        logps,
        gather(batch["ref_logps"], cols),
        gather(batch["rewards"], cols),
        gather(batch["behaviour_logps"], cols),
        None,
    )
    (weights,) = torch.autograd.grad(tr.method.loss(x, tr.args).mean(), logps)

    def f():
        with torch.no_grad():
            lp = sequence_logps(tr.model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
        return (weights * gather(lp.view(b, k), cols)).sum().item()

    return f


@pytest.mark.parametrize("method", OFFLINE_METHODS)
def test_one_step_changes_parameters_and_lowers_the_loss_on_a_fixed_batch(tmp_path, setup, method):
    """One AdamW step on the full batch lowers that batch's loss (first-order descent), for every offline method.
    pg / pg_is return surrogates whose weights are re-evaluated at the new θ, so for them the check is on the
    surrogate with the weights frozen at θ0 (the function whose gradient the step followed)."""
    tok, ref, rows = setup
    tr = _trainer(
        tmp_path,
        setup,
        loss_type=method,
        max_steps=1,
        per_device_train_batch_size=len(rows),
        learning_rate=3e-4,
        beta=0.5,
    )
    batch = tr.data_collator(rows)
    if method in ("pg", "pg_is"):
        loss_fn = _surrogate_at_fixed_weights(tr, batch)
    else:

        def loss_fn():
            tr.state.global_step = 0  # same random pair draw (copg_pair) before and after the step
            with torch.no_grad():
                return tr.compute_loss(tr.model, batch).item()

    before = loss_fn()
    theta0 = _params(tr.model)
    tr.train()
    after = loss_fn()
    assert not torch.equal(theta0, _params(tr.model))
    assert after < before, f"{method}: loss {before:.6f} → {after:.6f}"


def test_initial_copg_loss_equals_the_reward_variance_over_beta(tmp_path, setup):
    """At π = π_ref the log-ratios vanish, so copg_loss = Var_unbiased(R)/β per prompt (docs/theory.md): checks
    the data path (collator, column order, precomputed ref_logps) against a hand formula."""
    tok, ref, rows = setup
    tr = _trainer(tmp_path, setup, loss_type="copg", beta=0.25)
    batch = tr.data_collator(rows)
    with torch.no_grad():
        loss = tr.compute_loss(tr.model, batch).item()
    r = torch.tensor([row["rewards"] for row in rows], dtype=torch.float64)
    assert loss == pytest.approx((r.var(dim=1, unbiased=True) / 0.25).mean().item(), rel=1e-4, abs=1e-5)


def test_online_mode_runs_and_logs_kl_on_fresh_samples(tmp_path, setup):
    tok, ref, rows = setup
    tr = _trainer(
        tmp_path, setup, loss_type="online", online_k=2, online_offline_k=1, max_steps=2, per_device_train_batch_size=2
    )
    theta0 = _params(tr.model)
    tr.train()
    assert not torch.equal(theta0, _params(tr.model))
    logs = [h for h in tr.state.log_history if "loss/train" in h]
    assert logs and all(torch.isfinite(torch.tensor(h["loss/train"])) for h in logs)
    assert "policy/kl_to_ref" in logs[0] and "online/fresh_reward_mean" in logs[0]
    assert "offline/log_ratio_mean" not in logs[0]  # never report offline log-ratios as the policy's KL


@pytest.mark.parametrize("bars", [False, True])
@pytest.mark.parametrize("log_to_stdout", [True, False])
def test_log_to_stdout_controls_the_printed_metrics_only(tmp_path, setup, capfd, bars, log_to_stdout):
    tr = _trainer(tmp_path, setup, loss_type="copg", max_steps=2, disable_tqdm=not bars, log_to_stdout=log_to_stdout)
    tr.train()
    printed = capfd.readouterr()
    assert ("loss/train" in printed.out + printed.err) == log_to_stdout
    assert [h for h in tr.state.log_history if "loss/train" in h], "metrics are still logged (JSONL, report_to)"


def test_gradient_accumulation_is_invariant(tmp_path, setup):
    """4 prompts × 1 micro-batch ≡ 2 prompts × 2 accumulated micro-batches (the loss is a mean over prompts)."""
    runs = []
    for bs, acc in [(4, 1), (2, 2)]:
        tr = _trainer(
            tmp_path / f"{bs}",
            setup,
            loss_type="copg",
            max_steps=1,
            per_device_train_batch_size=bs,
            gradient_accumulation_steps=acc,
            optim="sgd",
            learning_rate=0.1,
            max_grad_norm=0.0,
        )
        tr.train()
        runs.append(_params(tr.model))
    assert torch.allclose(runs[0], runs[1], atol=1e-6, rtol=0)


def test_resume_reproduces_the_final_weights(tmp_path, setup):
    """Stop after step 2 of 4 (checkpoint at 2), resume from the checkpoint: weights equal an uninterrupted run."""
    from transformers import TrainerCallback

    tok, ref, rows = setup

    class StopAtStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 2:
                control.should_training_stop = True

    common = dict(
        loss_type="copg_pair",
        max_steps=4,
        per_device_train_batch_size=2,
        save_strategy="steps",
        save_steps=2,
        eval_strategy="steps",
        eval_steps=2,
        eval_prompts=2,
    )

    def run(out, callbacks=None, resume=False):
        cfg = config(tmp_path, output_dir=str(tmp_path / out), resume=resume, **common)
        res = train(
            cfg,
            model=copy.deepcopy(ref),
            ref_model=copy.deepcopy(ref),
            tokenizer=tok,
            train_rows=rows,
            eval_rows=rows[:2],
            reward_fn=length_reward,
            gold_fn=gold_reward,
            callbacks=callbacks,
        )
        return res

    full = run("full")
    part = run("cut", callbacks=[StopAtStep()])
    assert part["trainer"].state.global_step == 2
    # a kill while checkpoint-4 was being written leaves a directory without trainer_state.json (written last)
    (tmp_path / "cut" / "checkpoint-4").mkdir()
    (tmp_path / "cut" / "checkpoint-4" / "config.json").write_text("{}")
    resumed = run("cut", resume=True)
    assert resumed["trainer"].state.global_step == 4
    w_full = _params(full["trainer"].model)
    w_resumed = _params(resumed["trainer"].model)
    assert not torch.equal(w_full, _params(ref))
    assert torch.equal(w_full, w_resumed)
    # the evaluation records of the resumed run continue the interrupted one (steps 0, 2, 4)
    assert [r["step"] for r in resumed["eval"]] == [0, 2, 4]
    assert [r["reward/proxy_mean"] for r in resumed["eval"]] == [r["reward/proxy_mean"] for r in full["eval"]]

    # resuming the finished run is a no-op: it says so and changes no file
    before = {p: p.read_bytes() for p in (tmp_path / "cut").rglob("*") if p.is_file()}
    again = run("cut", resume=True)
    assert again["trainer"] is None and again["output_dir"] == str(tmp_path / "cut")
    after = {p: p.read_bytes() for p in (tmp_path / "cut").rglob("*") if p.is_file()}
    assert after == before and not (tmp_path / "cut" / "checkpoint-5").exists()


def test_resume_with_other_settings_is_refused_and_names_them(tmp_path, setup):
    """A run started at β = 0.1 and interrupted is continued only with the settings it started with: --resume with
    another β (or learning rate) names each differing setting with both values, and no file changes; the same
    settings continue it; a finished run resumed with another β is refused too (not "nothing to resume")."""
    from transformers import TrainerCallback

    from llm.stages.train.stage import ARGS_FILE

    tok, ref, rows = setup

    class StopAtStep2(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 2:
                control.should_training_stop = True

    def run(callbacks=None, resume=False, **over):
        kw = {**dict(loss_type="copg_pair", max_steps=4, per_device_train_batch_size=2, save_strategy="steps",
                     save_steps=2, eval_strategy="no", eval_prompts=0, beta=0.1), **over}  # fmt: skip
        cfg = config(tmp_path, output_dir=str(tmp_path / "run"), resume=resume, **kw)
        models = dict(model=copy.deepcopy(ref), ref_model=copy.deepcopy(ref), tokenizer=tok)
        return train(cfg, **models, train_rows=rows, reward_fn=length_reward, gold_fn=gold_reward,
                     callbacks=callbacks)  # fmt: skip

    run(callbacks=[StopAtStep2()])
    started = json.loads((tmp_path / "run" / ARGS_FILE).read_text())
    assert started["beta"] == 0.1 and started["loss_type"] == "copg_pair"
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    with pytest.raises(ValueError) as err:
        run(resume=True, beta=0.3, learning_rate=0.05)
    msg = str(err.value)
    assert "beta = 0.1" in msg and "beta = 0.3" in msg and "learning_rate" in msg and "--force" in msg
    assert "\n" not in msg
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before
    assert run(resume=True)["trainer"].state.global_step == 4  # the same settings continue it
    with pytest.raises(ValueError, match="beta = 0.3"):
        run(resume=True, beta=0.3)  # finished: still refused, not "nothing to resume"


def test_resume_logs_each_step_once(tmp_path, setup):
    """Killed at step 3 with the last checkpoint at step 2: the resumed run logs step 3 again, so the lines of
    metrics.jsonl and eval.jsonl after the checkpoint are dropped first; every step then appears once."""
    import json

    from transformers import TrainerCallback

    tok, ref, rows = setup

    class StopAtStep3(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                control.should_training_stop = True

    common = dict(loss_type="copg_pair", max_steps=4, per_device_train_batch_size=2, save_strategy="steps",
                  save_steps=2, eval_strategy="steps", eval_steps=1, eval_prompts=2, logging_steps=1)  # fmt: skip

    def run(callbacks=None, resume=False):
        cfg = config(tmp_path, output_dir=str(tmp_path / "run"), resume=resume, **common)
        models = dict(model=copy.deepcopy(ref), ref_model=copy.deepcopy(ref), tokenizer=tok)
        return train(cfg, **models, train_rows=rows, eval_rows=rows[:2], reward_fn=length_reward, gold_fn=gold_reward,
                     callbacks=callbacks)  # fmt: skip

    run(callbacks=[StopAtStep3()])

    def steps(name, key):
        lines = (tmp_path / "run" / name).read_text().splitlines()
        return [r["step"] for r in map(json.loads, lines) if key in r]

    assert 3 in steps("metrics.jsonl", "loss/train") and steps("eval.jsonl", "step")[-1] == 3
    resumed = run(resume=True)
    assert resumed["trainer"].state.global_step == 4
    assert steps("metrics.jsonl", "loss/train") == [1, 2, 3, 4]
    assert steps("eval.jsonl", "step") == [0, 1, 2, 3, 4]
    assert [r["step"] for r in resumed["eval"]] == [0, 1, 2, 3, 4]


def test_eval_kl_is_zero_for_the_reference_and_k3_nonnegative(setup):
    """KL(π_ref‖π_ref) estimates are exactly 0; the k3 estimator is ≥ 0 per sample for any policy."""
    from llm.model.evaluation import Decoding, evaluate_policy

    tok, ref, rows = setup
    prompts, refs = [r["prompt"] for r in rows], [r["reference"] for r in rows]
    m, per, samples = evaluate_policy(
        ref,
        copy.deepcopy(ref),
        tok,
        prompts,
        refs,
        length_reward,
        gold_reward,
        decoding=Decoding(max_new_tokens=8, seed=0),
    )
    assert m["policy/kl_to_ref"] == 0.0 and m["policy/kl_to_ref_k3"] == 0.0
    assert len(per["proxy"]) == len(prompts) and len(samples) == len(prompts)
    other = make_model(tok, seed=1)
    m2, per2, _ = evaluate_policy(
        other, ref, tok, prompts, refs, length_reward, None, decoding=Decoding(max_new_tokens=8, seed=0)
    )
    assert all(v >= 0 for v in per2["kl_k3"]) and m2["policy/kl_to_ref_k3"] > 0
    # proxy reward is the length score of the sampled completions: reproduce it from the samples
    assert m2["reward/proxy_mean"] > 0


def test_curve_points_score_the_selection_split_and_the_last_step_every_prompt(tmp_path, setup):
    """eval_curve_prompts = 2: evaluations before the last step score the first 2 evaluation prompts, the last step
    all 4; the line of each evaluation says how many prompts it scored."""
    tr = _trainer(tmp_path, setup, max_steps=3, eval_strategy="steps", eval_steps=1, eval_curve_prompts=2)
    tr.train()
    records = tr._eval_records
    assert [r["step"] for r in records] == [1, 2, 3]
    assert [len(r["per_prompt"]["proxy"]) for r in records] == [2, 2, 4]
    assert [r["eval/prompts"] for r in records] == [2, 2, 4]
    # the selection prompts come first and get the same draws (common random numbers) in both kinds of evaluation
    tr_all = _trainer(tmp_path / "all", setup, max_steps=3, eval_strategy="steps", eval_steps=1, eval_curve_prompts=0)
    tr_all.train()
    assert [len(r["per_prompt"]["proxy"]) for r in tr_all._eval_records] == [4, 4, 4]
    assert tr_all._eval_records[0]["per_prompt"]["proxy"][:2] == records[0]["per_prompt"]["proxy"]


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(beta=0.0), "beta must be a finite float > 0"),
        (dict(beta=-1.0), "beta must be a finite float > 0"),
        (dict(loss_type="ppo"), "loss_type 'ppo' is unknown"),
        (dict(loss_type="ppo"), "loss_type 'ppo' is unknown"),
        (dict(loss_type="online", online_k=1, online_offline_k=0), "online_k + online_offline_k ≥ 2"),
        (dict(pg_baseline="value"), "pg_baseline must be"),
        (dict(eval_curve_prompts=-1), "eval_curve_prompts and max_train_prompts must be ≥ 0"),
    ],
)
def test_bad_config_raises_a_clear_error(tmp_path, kw, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        config(tmp_path, **kw)


@pytest.mark.parametrize("method", ["copg", "copg_pair", "ipo", "dpo"])
def test_pair_loss_on_k1_data_raises(tmp_path, setup, method):
    tok, ref, rows = setup
    k1 = [
        {**r, **{key: r[key][:1] for key in ("completions", "rewards", "ref_logps", "behaviour_logps", "source")}}
        for r in rows
    ]
    cfg = config(tmp_path, loss_type=method)
    with pytest.raises(ValueError, match="needs k ≥ 2 completions per prompt but .* has k=1"):
        train(cfg, model=copy.deepcopy(ref), tokenizer=tok, train_rows=k1, reward_fn=length_reward)


def test_cli_user_errors_are_one_line(capsys):
    from llm.stages.train import main

    assert main(["--preset", "tiny", "--beta", "0", "--run_dir", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "beta" in err[0]
    assert main(["--preset", "tiny", "--run_dir", "/nonexistent/run", "--eval_strategy", "no"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


def test_help_lists_every_trainer_field(capsys):
    import dataclasses

    from llm.stages.train import CoPGConfig, parse_config

    with pytest.raises(SystemExit) as e:
        parse_config(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    own = [f.name for f in dataclasses.fields(CoPGConfig) if f.name in CoPGConfig.__dataclass_fields__]
    assert "--loss-type, --method" in out
    for name in (
        "loss_type",
        "beta",
        "pg_baseline",
        "is_clip",
        "online_k",
        "online_offline_k",
        "eval_prompts",
        "resume",
    ):
        assert f"--{name.replace('_', '-')}" in out and name in own
    for method in ("copg", "copg_pair", "ipo", "dpo", "pg", "pg_is", "online"):
        assert f"  {method} " in out  # the method choices are listed
    assert len(out.splitlines()) < 80 and "usage: python -m llm train" in out


def test_help_all_lists_training_arguments(capsys):
    from llm.stages.train import parse_config

    with pytest.raises(SystemExit):
        parse_config(["--help-all"])
    out = capsys.readouterr().out
    assert "--gradient-accumulation-steps" in out and "--run-dir" in out and "--method" in out


def test_preset_sets_defaults_and_flags_override():
    from llm.presets import get_preset
    from llm.stages.train import parse_config

    cfg = parse_config(["--preset", "tiny", "--run-dir", "/tmp/x", "--beta", "0.3"])
    assert cfg.max_steps == get_preset("tiny").train.max_steps and cfg.beta == 0.3
    cfg = parse_config(["--preset", "tiny", "--run_dir", "/tmp/x", "--max-steps", "3"])
    assert cfg.max_steps == 3 and cfg.output_dir == "/tmp/x/train/copg_beta0.1_seed0"


@pytest.mark.parametrize("preset", ["tiny", "small", "gpt2", "smollm2", "smollm2-gpu"])
def test_python_config_equals_cli_config(preset):
    """CoPGConfig(preset=p) in Python resolves exactly what `python -m llm train --preset p` resolves (one home)."""
    import dataclasses

    from llm.presets import get_preset
    from llm.stages.train import CoPGConfig, parse_config

    from_python = CoPGConfig(preset=preset)
    from_cli = parse_config(["--preset", preset])
    differ = {
        f.name: (getattr(from_python, f.name), getattr(from_cli, f.name))
        for f in dataclasses.fields(CoPGConfig)
        if getattr(from_python, f.name) != getattr(from_cli, f.name) and f.name != "logging_dir"
    }
    assert differ == {}
    p = get_preset(preset)
    assert from_python.max_steps == p.train.max_steps and from_python.learning_rate == p.train.learning_rate
    assert from_python.eval_prompts == p.eval.prompts and from_python.max_new_tokens == p.max_completion_tokens
    assert from_python.trainable_blocks == p.trainable_blocks


def test_preference_metrics_use_trl_names(tmp_path, setup):
    """rewards/margins and rewards/accuracies: the names TRL's DPOTrainer logs for the same quantities."""
    tr = _trainer(tmp_path, setup, loss_type="dpo", max_steps=1, logging_steps=1)
    tr.train()
    keys = {k for h in tr.state.log_history for k in h}
    assert {"rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected"} <= keys
    assert {"logps/chosen", "logps/rejected"} <= keys
    assert not {"rewards/margin", "rewards/accuracy"} & keys


def test_one_progress_switch(tmp_path):
    """--no-progress is every command's flag: train's sets TrainingArguments' disable_tqdm, every other command's sets
    its config's ``progress`` field; CoPGConfig takes no alias keywords (``method=``, ``no_progress=``)."""
    from llm.bridge.experiment import BridgeConfig
    from llm.pipeline import PipelineConfig
    from llm.run import parse_cli
    from llm.stages.sft import SFTConfig
    from llm.stages.train import CoPGConfig, parse_config

    assert parse_config(["--preset", "tiny", "--run-dir", str(tmp_path), "--no-progress"]).disable_tqdm is True
    assert parse_config(["--preset", "tiny", "--run-dir", str(tmp_path)]).disable_tqdm is False
    for cls in (BridgeConfig, PipelineConfig, SFTConfig):
        assert parse_cli(cls, ["--no-progress"], None, "x").progress is False
        assert parse_cli(cls, [], None, "x").progress is True
    for alias in ({"no_progress": True}, {"method": "dpo"}):
        with pytest.raises(TypeError):
            CoPGConfig(preset="tiny", run_dir=str(tmp_path), **alias)
