"""The practice lab: the losses of ``bandit.losses`` (imported, never rewritten) on a small GPT-2 summarisation setup.

An LLM is a contextual bandit whose arms are completions: ``llm`` computes per-sequence log-probs and hands them to
the same loss functions the bandit lab uses.
"""

__all__: list[str] = []
