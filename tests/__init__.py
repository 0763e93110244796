"""Test package. Imported before conftest: Airflow reads its configuration when first imported, so
the session's own AIRFLOW_HOME (with the example DAGs as DAG folder) is set here, first."""

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = tempfile.mkdtemp(prefix="aep-tests-airflow-home-")
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "example_dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# Bundles: the example DAGs, the docs' recipes, and DAGs that only tests run (dag.test() needs each DAG
# it runs to be in a bundle).
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {"name": name, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {"path": path}}
        for name, path in (
            ("provider_examples", str(REPO / "example_dags")),
            ("test_dags", str(REPO / "tests" / "dags")),
            ("docs_examples", str(REPO / "docs" / "examples")),
        )
    ]
)
