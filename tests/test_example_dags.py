"""Every example and recipe DAG file parses, on each supported Airflow version, into the DAGs and
tasks the docs describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import REPO
from tests.airflow_compat import AIRFLOW_V_3, DagBag

DAG_FILES = sorted([*(REPO / "example_dags").glob("*.py"), *(REPO / "docs" / "examples").glob("*.py")])
# Asset watchers are Airflow 3's: on 2.11 this example's helper fails on purpose (test_watched_assets).
AIRFLOW_3_ONLY = {"aep_land_new_batches.py"}


def parse(path: Path) -> dict[str, list[str]]:
    bag = DagBag(dag_folder=str(path))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES=False
    assert bag.import_errors == {}
    return {dag_id: sorted(dag.task_ids) for dag_id, dag in bag.dags.items()}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_parses_without_errors(path: Path) -> None:
    if path.name in AIRFLOW_3_ONLY and not AIRFLOW_V_3:
        pytest.skip("asset watchers are Airflow 3's")
    assert parse(path)


@pytest.mark.skipif(not AIRFLOW_V_3, reason="asset watchers are Airflow 3's")
def test_the_watched_dataset_example_lands_what_its_events_name() -> None:
    dags = parse(REPO / "example_dags" / "aep_land_new_batches.py")
    assert dags == {"aep_land_new_batches": ["land_new_batches", "new_batches", "rows_landed"]}


def test_asset_example_pairs_the_export_with_its_downstream_dag() -> None:
    dags = parse(REPO / "example_dags" / "aep_export_audience_assets.py")
    assert dags == {
        "aep_export_vip_audience": ["create_export_job", "wait_for_export"],
        "aep_load_vip_audience": ["batches_to_load"],
    }
