"""The exact bridge between the bandit lab and the LLM lab.

An LLM-shaped contextual bandit small enough to enumerate: prompts are word sequences, completions are 1–3 words +
EOS, the policy is the lab's GPT-2 on the lab's offline JSONL format, and every completion of every prompt can be
listed, so π_ref, π*, J_β and the regret J_β(π*) − J_β(π) = β·KL(π‖π*) are exact (docs/bridge.md).

* :mod:`llm.bridge.task`: the "summarise by naming the most frequent words" task, its reward, the word-level
  tokenizer and the GPT-2 whose probability mass lives exactly on the enumerated completions;
* :mod:`llm.bridge.exact`: enumeration, the prefix-tree table and the exact quantities (π(·|x), π*, J_β, regret);
* :mod:`llm.bridge.world`: SFT of π_ref, its exact tables, the offline dataset and its sampled set S;
* :mod:`llm.bridge.table`: the exact training mode (the whole dataset's loss from the table and the count table);
* :mod:`llm.bridge.limits`: each method's tabular limit (``bandit.stationary``, the realised-pair limits);
* :mod:`llm.bridge.practical`: the practical trainer (``CoPGTrainer``) with the exact regret logged;
* :mod:`llm.bridge.experiment`: the panels, the summary, ``python -m llm bridge``;
* :mod:`llm.bridge.plots`: the four figures.

The middle rung (``python -m llm rung``, docs/bridge.md): the same task past enumeration, everything sampled:

* :mod:`llm.bridge.sampled`: the sampled world (π_ref, three offline μ), evaluation with the exact per-token KL,
  J_β(π*) by importance sampling, the limits on each prompt's sampled completions;
* :mod:`llm.bridge.rung_runs`: one method trained by the lab's trainer, with its learning curve;
* :mod:`llm.bridge.rung_stats`: intervals over chains × seeds × prompts, Holm-adjusted verdicts;
* :mod:`llm.bridge.rung`: the protocol, ``python -m llm rung``; :mod:`llm.bridge.rung_plots`: its three figures.
"""
