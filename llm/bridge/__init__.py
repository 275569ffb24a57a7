"""The exact bridge between the bandit lab and the LLM lab (issue 13).

An LLM-shaped contextual bandit small enough to enumerate: prompts are word sequences, completions are 1–3 words +
EOS, the policy is the lab's GPT-2 trained by the lab's ``CoPGTrainer`` on the lab's offline JSONL format, and every
completion of every prompt can be listed, so π_ref, π*, J_β and the regret J_β(π*) − J_β(π) = β·KL(π‖π*) are exact.

* :mod:`llm.bridge.task`: the "summarise by naming the most frequent words" task, its reward, the word-level
  tokenizer and the GPT-2 whose probability mass lives exactly on the enumerated completions;
* :mod:`llm.bridge.exact`: enumeration and the exact quantities (π(·|x), π*, J_β, KL, regret);
* :mod:`llm.bridge.experiment`: SFT of π_ref, offline data, every method × seeds, the tabular predictions of
  ``bandit.stationary`` and the comparison; ``python -m llm bridge``;
* :mod:`llm.bridge.plots`: the three figures.
"""
