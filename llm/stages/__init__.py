"""The stages of the LLM chain that train or evaluate: ``sft``, ``reward``, ``sample``, ``train``, ``eval``.

Each stage depends only on the layers below (``llm.model``, ``llm.data``, the base modules), never on a sibling
stage; ``llm.pipeline`` chains them and ``llm.plots`` draws their results.
"""
