# ComputeFlow: `make run` builds the demo lakehouse end to end; `make test` runs the test suite.
# Both create the virtual environment themselves (Python 3.11+, dependencies pinned in requirements.lock).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export COMPUTEFLOW_HOME ?= $(CURDIR)/data

.PHONY: install run test test-fast lint ui bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock uv  # installs the rest ~10x faster
	# bytecode compiled once here: every later process (tests, CLI, dg) imports it instead of compiling the
	# libraries' sources again, which it would do each time where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c requirements.lock -e ".[dev]"
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/computeflow demo
	$(BIN)/computeflow refresh

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n auto --dist loadfile --no-loadscope-reorder  # modules in the order conftest gives: longest first

test-fast: install  # the edit loop: every test not marked slow (no demo refresh, service or browser)
	$(BIN)/pytest -q -n auto -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: install
	$(BIN)/computeflow ui

bench: install
	$(BIN)/python tests/benchmarks/bench_make_run.py

clean:
	rm -rf $(COMPUTEFLOW_HOME)
