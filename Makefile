# Two commands do everything on a fresh machine with Python 3.11+ and git:
#   make run    install into .venv and start the daemon on its defaults
#   make test   install into .venv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint bench demo clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(BIN)/.installed
	$(BIN)/monitor run

test: $(BIN)/.installed
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check monitor tests bench
	$(BIN)/ruff format --check monitor tests bench
	$(BIN)/mypy --strict monitor
	$(BIN)/lint-imports

demo: $(BIN)/.installed
	$(BIN)/monitor demo

bench: $(BIN)/.installed
	$(BIN)/python bench/poll.py
	$(BIN)/python bench/match.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
