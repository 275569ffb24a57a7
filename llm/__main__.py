"""Command line of the LLM lab: ``python -m llm <stage> [options]``; ``python -m llm <stage> --help`` for options.

Examples:
    python -m llm pipeline --preset tiny              # the whole chain in about a minute
    python -m llm corpus --run-dir runs/small          # then tokenizer, sft, reward, sample, train, eval
    python -m llm train --run-dir runs/small --method copg --beta 0.1
"""

from __future__ import annotations

import importlib
import sys

import matplotlib

matplotlib.use("Agg")  # the CLI only writes PNG files: never open a window (the library leaves the backend alone)

# stage -> (module exposing main(argv) -> int, one-line description)
STAGES = {
    "corpus": ("llm.data.corpus", "build the (document, summary) corpus from man pages and docstrings, or load JSONL"),
    "tokenizer": ("llm.data.tokenizer", "prepare the GPT-2 BPE or train a local byte-level BPE"),
    "sft": ("llm.stages.sft", "language-model pretraining + supervised fine-tuning -> the reference policy"),
    "reward": ("llm.stages.reward_model", "train the Bradley-Terry reward model on gold-labelled pairs"),
    "sample": (
        "llm.stages.sample",
        "build the rewarded offline dataset (completions, rewards, ref/behaviour log-probs)",
    ),
    "train": ("llm.stages.train", "CoPG / IPO / DPO / PG training on the offline dataset (accelerate)"),
    "eval": ("llm.stages.eval_policy", "generate on held-out prompts, score with proxy and gold rewards, estimate KL"),
    "pipeline": ("llm.pipeline", "run every stage end to end and draw the figures"),
    "chains": ("llm.chains", "the pipeline on independent π_ref + data chains: which verdicts replicate"),
    "bridge": ("llm.bridge.experiment", "exact bridge: an enumerable task, every method vs the bandit lab's theory"),
    "rung": ("llm.bridge.rung", "middle rung: the bridge's task past enumeration, every method compared on samples"),
}


def _usage() -> str:
    lines = ["usage: python -m llm <stage> [options]", "", "stages:"]
    lines += [f"  {name:<10} {desc}" for name, (_, desc) in STAGES.items()]
    lines += ["", "python -m llm <stage> --help explains every option of a stage."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(
            f"error: unknown stage {stage!r}; choose one of {', '.join(STAGES)} (python -m llm --help)",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(STAGES[stage][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
