# The two promised commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-deps lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cloudinspect run

# The tests without timing checks on every core (worksteal: the long browser tests do not queue
# behind one worker), then the timed ones (media, kills) alone.
test: $(STAMP) test-deps lint
	$(BIN)/pytest -q -n auto --dist worksteal -m "not serial"
	$(BIN)/pytest -q -m serial

# Chromium, fonts, PostgreSQL: installed or started as root, else a clear message and stop.
test-deps:
	bash scripts/test-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check server signaling media checklists tests bench
	$(BIN)/ruff format --check server signaling media checklists tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix server signaling media checklists tests bench
	$(BIN)/ruff format server signaling media checklists tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
