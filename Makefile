# rlvr_bench: the two commands of the README, plus helpers.
#   make study   create .venv if missing, install everything, run the offline toy study
#   make test    create/use the same .venv, check the layer contract (lint-imports), run the test suite
PYTHON ?= python3
VENV ?= .venv
CONSTRAINTS ?= constraints-cpu.txt
PIP = $(VENV)/bin/pip
BIN = $(VENV)/bin
PIP_C = $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)

.PHONY: install study test test-fast lint bench clean-cache verl-env

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(if $(CONSTRAINTS),$(PIP) install -q $(PIP_C) torch,)
	$(PIP) install -q $(PIP_C) -e ".[dev,code]"
	touch $@

install: $(VENV)/.installed

study: install
	$(BIN)/rlvr-bench study

# lint-imports: the layer contract of pyproject.toml [tool.importlinter] (docs/architecture.md)
test: install
	$(BIN)/lint-imports
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

VERL_VENV ?= .venv-verl
VERL_PIP = $(VERL_VENV)/bin/pip

# verl 0.9.1 in its own environment (docs/verl.md): it pins transformers<5.11 and its Hydra needs antlr4
# 4.9.3. The modules verl's trainer imports without declaring them (cachetools, fastapi, uvicorn) come with
# vLLM on GPU machines. `make test` runs the verl parity tests when this environment exists.
$(VERL_VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	test -d $(VERL_VENV) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PIP) install -q --upgrade pip
	$(if $(CONSTRAINTS),$(VERL_PIP) install -q $(PIP_C) torch,)
	$(VERL_PIP) install -q $(PIP_C) "verl==0.9.1" "math-verify[antlr4_9_3]>=0.7" cachetools fastapi uvicorn "pytest>=8"
	$(VERL_PIP) install -q --no-deps -e .
	$(VERL_VENV)/bin/python -c "import verl, hydra, rlvr_bench.rewards; print('verl', verl.__version__, 'hydra', hydra.__version__)"
	touch $@

verl-env: $(VERL_VENV)/.installed

clean-cache:
	rm -rf $${RLVR_BENCH_CACHE:-$$HOME/.cache/rlvr_bench}
