# neurofab — every target bootstraps .venv (python3 -m venv) and reinstalls only when
# pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tests run with warnings as errors (a deprecated call fails loudly); pip and the demo don't.
TESTENV := PYTHONWARNINGS=error
# pytest-xdist workers for `make test`, each test file on one worker (the board builds
# of tests/boards/test_build.py share a session cache)
TEST_JOBS ?= 2

.PHONY: demo test check bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/neurofab demo

test: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile

check: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest -q -m "not slow" -x

bench: $(STAMP)
	$(BIN)/neurofab bench

clean:
	rm -rf $(VENV) build out .pytest_cache
