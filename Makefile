# The two set-up commands of a fresh machine: `make run` (the product) and `make test` (the suite).
# Both create .venv and install the pinned requirements.txt when missing or changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed

.PHONY: run test venv sweep clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	cp requirements.txt $(STAMP)

# For now the product is the evaluator: the full baseline sweep on the embedded digits-mlp
# benchmark, a readable table on stdout and one CSV row per run.
run: $(STAMP)
	$(BIN)/python -m evaluator run --benchmark digits-mlp --baseline all --out out/digits-mlp-baselines.csv

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf out .pytest_cache
