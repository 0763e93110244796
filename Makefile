# The two commands a new machine needs: `make demo` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
INSTALLED_CLUSTER := $(VENV)/.installed-cluster
CONSTRAINTS := requirements/constraints.txt
PIP_QUIET := --quiet --disable-pip-version-check

# Installs go through uv (pinned; the constraints files still fix every version), which pip brings
# into .venv: nothing beyond $(PYTHON) is needed. uv never fetches a Python of its own, and trusts
# the machine's certificate store, as pip does.
UV_VERSION := 0.13.8
UV := $(BIN)/uv
UV_INSTALLED := $(VENV)/.uv-$(UV_VERSION)
UV_PIP_INSTALL := $(UV) pip install --quiet
export UV_PYTHON_DOWNLOADS := never
export UV_SYSTEM_CERTS := 1

# The oldest supported Airflow line, in its own environment: `make test` runs the suite there too.
VENV_AIRFLOW2 := .venv-airflow2.11
INSTALLED_AIRFLOW2 := $(VENV_AIRFLOW2)/.installed
CONSTRAINTS_AIRFLOW2 := requirements/constraints-airflow-2.11.txt

# The oldest Airflow 3 release: the package imports and the example DAG parses there, warning-free.
VENV_AIRFLOW30 := .venv-airflow3.0
INSTALLED_AIRFLOW30 := $(VENV_AIRFLOW30)/.installed
CONSTRAINTS_AIRFLOW30 := requirements/constraints-airflow-3.0.txt

# Each suite spreads over workers (pytest-xdist): a test module runs whole on one, and all of
# tests/e2e (one Airflow deployment) on one (tests/conftest.py), taken in file order, so the longest,
# tests/e2e, starts first. The suites mostly wait (on servers, polls, Airflow's loops): three workers
# keep two cores busy. `PYTEST_WORKERS=0` runs a suite in one process.
PYTEST_WORKERS ?= 3
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --no-loadscope-reorder

.PHONY: install lint typecheck test test-airflow3 test-airflow2.11 test-airflow3.0 e2e-cluster demo bench soak dist clean

$(UV_INSTALLED):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) uv==$(UV_VERSION)
	touch $@

$(INSTALLED): pyproject.toml $(CONSTRAINTS) $(UV_INSTALLED)
	$(UV_PIP_INSTALL) --python $(BIN)/python -c $(CONSTRAINTS) -e ".[dev]"
	touch $@

install: $(INSTALLED)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy --strict airflow_provider_aep

$(INSTALLED_AIRFLOW2): pyproject.toml $(CONSTRAINTS_AIRFLOW2) $(UV_INSTALLED)
	test -x $(VENV_AIRFLOW2)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(VENV_AIRFLOW2)
	$(UV_PIP_INSTALL) --python $(VENV_AIRFLOW2)/bin/python -c $(CONSTRAINTS_AIRFLOW2) -e ".[dev]"
	touch $@

$(INSTALLED_AIRFLOW30): pyproject.toml $(CONSTRAINTS_AIRFLOW30) $(UV_INSTALLED)
	test -x $(VENV_AIRFLOW30)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(VENV_AIRFLOW30)
	$(UV_PIP_INSTALL) --python $(VENV_AIRFLOW30)/bin/python -c $(CONSTRAINTS_AIRFLOW30) -e .
	touch $@

# Lint, types, both suites and the Airflow 3.0 check at once (make -j), each step's output printed
# whole when it ends; any failing step fails `make test`. Then the cluster, alone.
TEST_STEPS := lint typecheck test-airflow3 test-airflow2.11 test-airflow3.0
test:
	$(MAKE) --no-print-directory -j --output-sync=target $(TEST_STEPS)
	$(MAKE) --no-print-directory e2e-cluster

test-airflow3: install
	$(BIN)/pytest $(PYTEST_PARALLEL)

test-airflow2.11: $(INSTALLED_AIRFLOW2)
	$(VENV_AIRFLOW2)/bin/pytest $(PYTEST_PARALLEL)

test-airflow3.0: $(INSTALLED_AIRFLOW30)
	$(VENV_AIRFLOW30)/bin/python -m tests.strict_imports

# The provider in a production-shaped Airflow 3: PostgreSQL, Redis, CeleryExecutor, two schedulers,
# two triggerers, two workers (tests/cluster). Skips without Debian's postgresql and redis-server.
$(INSTALLED_CLUSTER): $(INSTALLED)
	$(UV_PIP_INSTALL) --python $(BIN)/python -c $(CONSTRAINTS) -e ".[dev,cluster]"
	touch $@

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
	$(UV_PIP_INSTALL) --python $(BIN)/python -c $(CONSTRAINTS) -e ".[dev,bench]"
	$(BIN)/python benchmarks/triggerer_scale.py --sizes 1000 10000 --poll-intervals 5 30 --repeats 3 --charts docs/images
	$(BIN)/python benchmarks/download.py --size-mib 1024 --repeats 3 --batch-files 50 --batch-file-mib 8 --charts docs/images
