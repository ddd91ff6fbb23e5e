# The two set-up commands of a fresh machine: `make run` (the product) and `make test` (the suite).
# Both create .venv and install the lock requirements-test.txt (every package of requirements.txt at
# the same version, and the test suite's) when missing or changed. `make quick` is the inner loop's
# test command, `make lock` regenerates the locks from requirements*.in (docs/contributing.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed

.PHONY: run test quick lock venv sweep clean compose-check

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

# The whole suite (what .ci/run calls). Browser tests drive Debian's chromium (installed here when
# missing; never a downloaded build). Two test processes (pytest-xdist), a test file to each at a
# time: on 2 cores the suite's many waits (sandbox start-ups, workers, browsers) overlap; each e2e
# process starts its own stack. The 25 slowest tests are listed at the end. Any exit status but 0
# fails, 5 included: a run that collected no test has not passed.
test: $(STAMP) /usr/bin/bwrap /usr/bin/chromium
	$(call pytest,-n 2 --dist loadfile --durations=25)

# The inner loop: everything but the end-to-end stacks, the browser and the sandbox's start-ups
# (the markers are in pytest.ini). Not a substitute for `make test` before a merge.
quick: $(STAMP) /usr/bin/bwrap
	$(call pytest,-n 2 --dist loadfile -m "not e2e and not browser and not sandbox")

# pytest with the given arguments; exit status 5 ("no tests collected") is named, then fails.
define pytest
@status=0; $(BIN)/python -m pytest $(1) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make: pytest collected no tests (exit status 5): failing" >&2; fi; \
	exit $$status
endef

# Regenerate requirements.txt and requirements-test.txt from requirements.in and
# requirements-test.in with pip-tools (a dev tool, in neither lock); versions already locked stay.
PIP_COMPILE := $(BIN)/pip-compile --allow-unsafe --strip-extras --no-header --annotation-style=line \
	--no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -q pip-tools
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-test.txt requirements-test.in

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
