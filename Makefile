# Two commands: `make demo` and `make test`. Both build the virtual environment from the project's own files.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean chromium

$(BIN)/python:
	@echo "Creating the virtual environment $(VENV)..."
	$(PYTHON) -m venv $(VENV)
	@echo "Upgrading pip in $(VENV)..."
	$(BIN)/pip install --disable-pip-version-check --progress-bar on --upgrade pip

# The runtime install (what `make demo` and the README's next commands need: the CLI, `railguard serve`
# and `railguard mcp-proxy`) and the development install (what `make test` needs). The runtime install
# is not quiet: a first install downloads for a while, and pip's progress shows it.
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	@echo "Installing Railguard with the server and mcp extras into $(VENV) (a minute or two the first time)..."
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e ".[server,mcp]"
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	@echo "Running the demo: a scripted agent (no LLM) through the guard..."
	$(BIN)/railguard demo

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks examples scripts
	$(BIN)/ruff format --check src tests benchmarks examples scripts

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# The dashboard's browser test drives Debian's chromium (Playwright cannot download browsers here).
chromium:
	@test -x /usr/bin/chromium || (apt-get install -y chromium || (apt-get update && apt-get install -y chromium))

# The suite runs on every core (pytest-xdist): most of its time is subprocesses and servers starting.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

pytest: $(VENV)/.dev chromium
	$(PYTEST)

test: lint typecheck chromium
	$(PYTEST)

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
