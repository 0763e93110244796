"""Every example and recipe DAG file parses, on each supported Airflow version, into the DAGs and
tasks the docs describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import REPO
from tests.airflow_compat import DagBag

DAG_FILES = sorted([*(REPO / "example_dags").glob("*.py"), *(REPO / "docs" / "examples").glob("*.py")])


def parse(path: Path) -> dict[str, list[str]]:
    bag = DagBag(dag_folder=str(path))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES=False
    assert bag.import_errors == {}
    return {dag_id: sorted(dag.task_ids) for dag_id, dag in bag.dags.items()}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_parses_without_errors(path: Path) -> None:
    assert parse(path)


def test_asset_example_pairs_the_export_with_its_downstream_dag() -> None:
    dags = parse(REPO / "example_dags" / "aep_export_audience_assets.py")
    assert dags == {
        "aep_export_vip_audience": ["create_export_job", "wait_for_export"],
        "aep_load_vip_audience": ["batches_to_load"],
    }
