"""Data layer of the LLM lab: the (document, summary) corpus, tokenizers, batching and the offline dataset format.

Depends only on ``llm.run`` / ``llm.presets`` (and ``bandit.records``); every layer above may use it.
"""
