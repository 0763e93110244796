# The two commands a new machine needs: `make demo` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
INSTALLED_CLUSTER := $(VENV)/.installed-cluster
CONSTRAINTS := requirements/constraints.txt
PIP_QUIET := --quiet --disable-pip-version-check

# The oldest supported Airflow line, in its own environment: `make test` runs the suite there too.
VENV_AIRFLOW2 := .venv-airflow2.11
INSTALLED_AIRFLOW2 := $(VENV_AIRFLOW2)/.installed
CONSTRAINTS_AIRFLOW2 := requirements/constraints-airflow-2.11.txt

# The oldest Airflow 3 release: the package imports and the example DAG parses there, warning-free.
VENV_AIRFLOW30 := .venv-airflow3.0
INSTALLED_AIRFLOW30 := $(VENV_AIRFLOW30)/.installed
CONSTRAINTS_AIRFLOW30 := requirements/constraints-airflow-3.0.txt

.PHONY: install lint typecheck test test-airflow3 test-airflow2.11 test-airflow3.0 e2e-cluster demo bench soak dist clean

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

$(INSTALLED_AIRFLOW2): pyproject.toml $(CONSTRAINTS_AIRFLOW2)
	test -x $(VENV_AIRFLOW2)/bin/python || $(PYTHON) -m venv $(VENV_AIRFLOW2)
	$(VENV_AIRFLOW2)/bin/pip install $(PIP_QUIET) -c $(CONSTRAINTS_AIRFLOW2) -e ".[dev]"
	touch $(INSTALLED_AIRFLOW2)

$(INSTALLED_AIRFLOW30): pyproject.toml $(CONSTRAINTS_AIRFLOW30)
	test -x $(VENV_AIRFLOW30)/bin/python || $(PYTHON) -m venv $(VENV_AIRFLOW30)
	$(VENV_AIRFLOW30)/bin/pip install $(PIP_QUIET) -c $(CONSTRAINTS_AIRFLOW30) -e .
	touch $(INSTALLED_AIRFLOW30)

test: lint typecheck test-airflow3 test-airflow2.11 test-airflow3.0 e2e-cluster

test-airflow3: install
	$(BIN)/pytest

test-airflow2.11: $(INSTALLED_AIRFLOW2)
	$(VENV_AIRFLOW2)/bin/pytest

test-airflow3.0: $(INSTALLED_AIRFLOW30)
	$(VENV_AIRFLOW30)/bin/python -m tests.strict_imports

# The provider in a production-shaped Airflow 3: PostgreSQL, Redis, CeleryExecutor, two schedulers,
# two triggerers, two workers (tests/cluster). Skips without Debian's postgresql and redis-server.
$(INSTALLED_CLUSTER): $(INSTALLED)
	$(BIN)/pip install $(PIP_QUIET) -c $(CONSTRAINTS) -e ".[dev,cluster]"
	touch $(INSTALLED_CLUSTER)

e2e-cluster: $(INSTALLED_CLUSTER)
	$(BIN)/pytest tests/cluster

# The sdist and the wheel, checked as PyPI would check them.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) $(VENV_AIRFLOW2) $(VENV_AIRFLOW30) .airflow .mypy_cache .ruff_cache .pytest_cache dist

demo: install
	bash scripts/demo.sh

# 100 export jobs end to end under injected faults; fails on any duplicate, lost id or false outcome.
soak: install
	bash -o pipefail -c '$(BIN)/python -m tests.reliability.soak --jobs 100 2>/dev/null | grep -E "^(\||problem)"'

# Triggerer cost of N concurrent waits: the provider's trigger, the generic HTTP trigger, and bare
# shared aiohttp (the floor) and httpx clients; N = 1,000 and 10,000 at 5 s and 30 s polls (about an hour).
bench: install
	$(BIN)/pip install $(PIP_QUIET) -c $(CONSTRAINTS) -e ".[dev,bench]"
	$(BIN)/python benchmarks/triggerer_scale.py --sizes 1000 10000 --poll-intervals 5 30 --repeats 3 --charts docs/images
	$(BIN)/python benchmarks/download.py --size-mib 1024 --repeats 3 --batch-files 50 --batch-file-mib 8 --charts docs/images
