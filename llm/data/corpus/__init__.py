"""Stage ``corpus``: (document, reference summary) pairs from real text on this machine, or from a user JSONL file.

One module per source behind the registry ``stage.SOURCES`` (``man``, ``docstrings``, ``jsonl``, ``hub``); ``clean``
(cleaning, de-duplication, the hash split), ``formats`` (prompt template, completion, split names), ``splits``
(reading a built corpus: splits, evaluation prompts) and ``stage`` (``CorpusConfig``, ``build_corpus``, ``run``,
``main``). The names below are re-exported so that ``from llm.data.corpus import make_prompt`` works.
"""

from llm.data.corpus.clean import clean_pairs, code_fraction, content_hash, corpus_stats, split_of
from llm.data.corpus.docstrings import (
    DOCSTRING_PACKAGES,
    default_python_roots,
    distribution_files,
    docstring_pairs,
    split_docstring,
    stdlib_files,
)
from llm.data.corpus.formats import PROMPT_SUFFIX, PROMPT_TEMPLATE, SPLITS, make_completion, make_prompt, source_kind
from llm.data.corpus.hub import hub_pairs
from llm.data.corpus.jsonl import load_jsonl_pairs
from llm.data.corpus.man import MAN_PACKAGES, man_package_files, man_page_pairs, parse_man_page
from llm.data.corpus.splits import load_eval_prompts, load_split, prompt_order, stratified_sample
from llm.data.corpus.stage import SOURCES, STAGE, CorpusConfig, build_corpus, main, run

__all__ = [
    "PROMPT_TEMPLATE",
    "PROMPT_SUFFIX",
    "SPLITS",
    "make_prompt",
    "make_completion",
    "source_kind",
    "CorpusConfig",
    "SOURCES",
    "MAN_PACKAGES",
    "DOCSTRING_PACKAGES",
    "parse_man_page",
    "man_page_pairs",
    "man_package_files",
    "split_docstring",
    "stdlib_files",
    "default_python_roots",
    "distribution_files",
    "docstring_pairs",
    "load_jsonl_pairs",
    "hub_pairs",
    "clean_pairs",
    "code_fraction",
    "split_of",
    "corpus_stats",
    "content_hash",
    "build_corpus",
    "load_split",
    "prompt_order",
    "load_eval_prompts",
    "stratified_sample",
    "STAGE",
    "run",
    "main",
]
