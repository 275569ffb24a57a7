"""Model layer of the LLM lab: building and loading models, log-probs, generation, reward functions, evaluation.

Depends on ``llm.data`` and the base modules; the stages above use it, never the other way round.
"""
