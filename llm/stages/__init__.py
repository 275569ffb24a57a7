"""The stages of the LLM chain that train or evaluate, one module per command: ``sft`` (π_ref), ``reward_model``
(``python -m llm reward``: trains the learned reward model; the reward *functions* live in ``llm.model.rewards``),
``sample`` (the offline dataset), ``train`` (``CoPGTrainer``) and ``eval_policy`` (``python -m llm eval``: evaluates a
saved policy; the protocol and its statistics live in ``llm.model.evaluation``).

Each stage depends only on the layers below (``llm.model``, ``llm.data``, the base modules), never on a sibling
stage; ``llm.pipeline`` chains them and ``llm.plots`` draws their results.
"""
