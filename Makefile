# The two set-up commands of a fresh machine: `make run` (the product) and `make test` (the suite).
# Both create .venv and install the pinned requirements (requirements-test.txt: requirements.txt and
# the test runner's packages) when missing or changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed

.PHONY: run test venv sweep clean compose-check

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-test.txt
	cat requirements.txt requirements-test.txt > $(STAMP)

# The product on the embedded default: web server + one worker, SQLite, a broker file that
# needs no server; the baselines of the embedded benchmarks fill in in the background.
run: $(STAMP) /usr/bin/bwrap
	$(BIN)/python manage.py serve

# The evaluator alone: the full baseline sweep on digits-mlp, a table and one CSV row per run.
sweep: $(STAMP)
	$(BIN)/python -m evaluator run --benchmark digits-mlp --baseline all --out out/digits-mlp-baselines.csv

# Browser tests drive Debian's chromium (installed here when missing; never a downloaded build).
# Two test processes (pytest-xdist), a test file to each at a time: on 2 cores the suite's many
# waits (sandbox start-ups, workers, browsers) overlap; each e2e process starts its own stack.
test: $(STAMP) /usr/bin/bwrap /usr/bin/chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile

# Strategy files run under Debian's bubblewrap; chromium is for the browser tests.
/usr/bin/bwrap /usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap chromium

# Production for real (not part of `make test`: it builds the images): docker-compose.yml built and
# started here with two CPU workers, a researcher's upload, a killed worker, two hostile uploads,
# then torn down. Needs Docker (../shared/tools/docker-here on this project's machines).
compose-check:
	$(PYTHON) deploy/compose_check.py

clean:
	rm -rf out .pytest_cache
