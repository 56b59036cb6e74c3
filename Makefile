# rlvr_bench: the two commands of the README, plus helpers.
#   make study   create .venv if missing, install everything, run the offline toy study
#   make test    create/use the same .venv, check the layer contract (lint-imports), run the test suite
#   make lock    refresh requirements-lock.txt (the newest releases pyproject.toml allows, in a fresh venv)
PYTHON ?= python3
VENV ?= .venv
# The lock (README, "The lock"): LOCK pins every dependency but torch at the versions CI ran; CONSTRAINTS pins
# torch. `make install LOCK=` installs from pyproject.toml's lower bounds alone; on a GPU machine
# `make install CONSTRAINTS=` keeps a CUDA torch installed beforehand.
# The lock is for the Python CI runs (its header says which); another Python installs from the bounds alone.
LOCK_FILE = requirements-lock.txt
LOCK_PYTHON = 3.11
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
LOCK ?= $(if $(filter $(LOCK_PYTHON),$(PY_VERSION)),$(LOCK_FILE),)
CONSTRAINTS ?= constraints-cpu.txt
EXTRAS ?= dev,code
PIP = $(VENV)/bin/pip
BIN = $(VENV)/bin
PIP_C = $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)
PIP_LOCK = $(if $(LOCK),-c $(LOCK),)

.PHONY: install study test test-fast lint lock lockcheck bench clean-cache verl-env

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) $(LOCK)
	$(if $(LOCK),,@echo "note: installing from pyproject.toml's bounds, without the lock (LOCK is empty: given so, or $(PYTHON) is $(PY_VERSION) and the lock is for $(LOCK_PYTHON))")
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(if $(CONSTRAINTS),$(PIP) install -q $(PIP_C) $(PIP_LOCK) torch,)
	$(PIP) install -q $(PIP_C) $(PIP_LOCK) -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

# the lock and pyproject.toml agree and .venv is exactly the lock (CI runs this before `make test`)
lockcheck: install
	$(BIN)/python -m rlvr_bench.utils.lockcheck --extras $(EXTRAS) --installed

# Refresh the lock: a fresh venv in a temporary directory, torch from CONSTRAINTS, everything else unpinned
# (the newest releases pyproject.toml's bounds allow), frozen by rlvr_bench.utils.lockcheck into LOCK_OUT and
# checked there. Then `make install` installs the new lock. Takes a few minutes of downloads.
LOCK_OUT ?= $(LOCK_FILE)
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/pip" install -q --upgrade pip && \
	$(if $(CONSTRAINTS),"$$tmp/venv/bin/pip" install -q $(PIP_C) torch &&,) \
	"$$tmp/venv/bin/pip" install -q $(PIP_C) -e ".[$(EXTRAS)]" && \
	"$$tmp/venv/bin/python" -m rlvr_bench.utils.lockcheck freeze --extras $(EXTRAS) --out "$(LOCK_OUT)" && \
	"$$tmp/venv/bin/python" -m rlvr_bench.utils.lockcheck --extras $(EXTRAS) --lock "$(LOCK_OUT)" --installed

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
# 4.9.3, so only the torch pin applies here, not the lock. The modules verl's trainer imports without
# declaring them (cachetools, fastapi, uvicorn) come with vLLM on GPU machines. `make test` runs the verl
# parity tests when this environment exists.
$(VERL_VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	test -d $(VERL_VENV) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PIP) install -q --upgrade pip
	$(if $(CONSTRAINTS),$(VERL_PIP) install -q $(PIP_C) torch,)
	$(VERL_PIP) install -q $(PIP_C) "verl==0.9.1" "math-verify[antlr4_9_3]>=0.9" cachetools fastapi uvicorn "pytest>=8"
	$(VERL_PIP) install -q --no-deps -e .
	$(VERL_VENV)/bin/python -c "import verl, hydra, rlvr_bench.rewards; print('verl', verl.__version__, 'hydra', hydra.__version__)"
	touch $@

verl-env: $(VERL_VENV)/.installed

clean-cache:
	rm -rf $${RLVR_BENCH_CACHE:-$$HOME/.cache/rlvr_bench}
