# Two entry points: `make reproduce` (set up, then run every notebook) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= default
# CPU build of PyTorch (a plain `torch` requirement pulls a multi-GB CUDA build).
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.qdlib-installed

.PHONY: install reproduce test clean-figures

install: $(STAMP)

# The postgres extra: the driver for the tests of a PostgreSQL results store (.ci/postgres.sh starts a server).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install $(TORCH)
	$(BIN)/python -m pip install -e ".[test,postgres]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (qdlib)"
	touch $@

reproduce: install
	$(BIN)/qdlib --verbose reproduce --profile $(PROFILE)

test: install
	$(BIN)/python -m pytest
