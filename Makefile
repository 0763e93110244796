# The two commands a new machine needs: `make demo` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: install lint typecheck test demo clean

$(INSTALLED): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) -c $(CONSTRAINTS) -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy --strict airflow_provider_aep

test: lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .airflow .mypy_cache .ruff_cache .pytest_cache

demo: install
	bash scripts/demo.sh
