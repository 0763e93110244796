"""With the optional OpenLineage provider installed, its own extractor machinery reports the AEP
dataset an export wrote, named from the same aep:// URI as the asset."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("airflow.providers.openlineage", reason="the optional 'openlineage' extra is not installed")

from airflow.providers.common.compat.sdk import Asset, ObjectStoragePath
from airflow.providers.openlineage.extractors import OperatorLineage
from airflow.providers.openlineage.extractors.manager import ExtractorManager
from airflow.providers.openlineage.utils.utils import translate_airflow_asset
from airflow.utils.state import TaskInstanceState

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator
from airflow_provider_aep.transfers.lineage import lineage_uri, object_storage_dataset
from tests.airflow_compat import DAG
from tests.task_context import task_context

from .conftest import EXPORT_REQUEST, FAST_RETRIES

NAMESPACE = "aep://5IMULATOR0000000000000A"  # the simulator's organisation
NAME = f"prod/datasets/{EXPORT_REQUEST['destination']['datasetId']}"
FAST = {"request_retry_limit": 5, "request_retry_delay": 0.01}
DAG_RUN = SimpleNamespace(run_id="manual__lineage")  # all the extractor reads of the run


def lineage_on_success(task: object) -> list[tuple[str, str]]:
    metadata = ExtractorManager().extract_metadata(
        dagrun=DAG_RUN, task=task, task_instance_state=TaskInstanceState.SUCCESS, task_instance=None
    )
    return [(dataset.namespace, dataset.name) for dataset in metadata.outputs]


def test_sensor_reports_the_exported_dataset(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=0.1))
    job_id = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id
    with DAG(dag_id="lineage_sensor", schedule=None):
        sensor = ExportJobSensor(task_id="wait_for_export", job_id=job_id, poke_interval=0.05, timeout=10, **FAST)
    sensor.execute(task_context())
    assert lineage_on_success(sensor) == [(NAMESPACE, NAME)]


def test_create_operator_reports_the_destination_it_submitted_to(simulator: SimulatorServer) -> None:
    with DAG(dag_id="lineage_create", schedule=None):
        operator = CreateExportJobOperator(task_id="create_export_job", export_job=EXPORT_REQUEST, **FAST)
    operator.execute(task_context())
    assert lineage_on_success(operator) == [(NAMESPACE, NAME)]


def test_a_task_that_exported_nothing_reports_no_output(simulator: SimulatorServer) -> None:
    with DAG(dag_id="lineage_nothing", schedule=None):
        sensor = ExportJobSensor(task_id="wait_for_export", job_id="1000", **FAST)
    assert lineage_on_success(sensor) == []
    assert simulator.state.count("requests") == 0


def test_declared_aep_assets_convert_to_the_same_openlineage_dataset() -> None:
    """The converter registered in the provider info, as OpenLineage uses it for inlets/outlets."""
    dataset = translate_airflow_asset(Asset(f"aep://5IMULATOR0000000000000A/{NAME}"), lineage_context=None)
    assert dataset is not None
    assert (dataset.namespace, dataset.name) == (NAMESPACE, NAME)


def test_the_download_reports_the_aep_dataset_read_and_the_folder_written_with_its_figures(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1, files_per_batch=3, exported_profiles=1250))
    job_id = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id
    with DAG(dag_id="lineage_download", schedule=None):
        operator = AepExportToObjectStorageOperator(
            task_id="download_export", job_id=job_id, destination=f"file://{tmp_path}", deferrable=False, **FAST
        )
    landed = operator.execute(task_context())
    metadata = ExtractorManager().extract_metadata(
        dagrun=DAG_RUN, task=operator, task_instance_state=TaskInstanceState.SUCCESS, task_instance=None
    )
    assert [(dataset.namespace, dataset.name) for dataset in metadata.inputs] == [(NAMESPACE, NAME)]
    (output,) = metadata.outputs
    folder = tmp_path / EXPORT_REQUEST["destination"]["datasetId"] / job_id
    # The name Airflow's own object storage lineage gives the folder (common.io's file converter).
    assert (output.namespace, output.name) == ("file", str(folder))
    statistics = output.outputFacets["outputStatistics"]
    assert (statistics.rowCount, statistics.size, statistics.fileCount) == (1250, landed["bytes"], 3)
    assert landed["bytes"] == sum(path.stat().st_size for path in folder.rglob("*.parquet"))


def test_landed_batches_are_one_output_each(simulator: SimulatorServer, tmp_path: Path) -> None:
    dataset_id = EXPORT_REQUEST["destination"]["datasetId"]
    batch_ids = [
        simulator.state.add_batch(dataset_id, status="success", files_per_batch=2, records=10 + index)
        for index in range(2)
    ]
    with DAG(dag_id="lineage_batches", schedule=None):
        operator = AepExportToObjectStorageOperator(
            task_id="land_batches",
            batch_ids=batch_ids,
            dataset_id=dataset_id,
            destination=f"file://{tmp_path}",
            deferrable=False,
            **FAST,
        )
    operator.execute(task_context())
    metadata = ExtractorManager().extract_metadata(
        dagrun=DAG_RUN, task=operator, task_instance_state=TaskInstanceState.SUCCESS, task_instance=None
    )
    assert [(output.name, output.outputFacets["outputStatistics"].rowCount) for output in metadata.outputs] == [
        (str(tmp_path / dataset_id / "batches" / batch_id), 10 + index) for index, batch_id in enumerate(batch_ids)
    ]


def test_a_download_that_landed_nothing_reports_nothing(simulator: SimulatorServer) -> None:
    with DAG(dag_id="lineage_download_nothing", schedule=None):
        operator = AepExportToObjectStorageOperator(
            task_id="download_export", job_id="1000", destination="file:///nowhere", **FAST
        )
    assert operator.get_openlineage_facets_on_complete(None) == OperatorLineage()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("s3://bucket/aep/ds/1", ("s3://bucket", "aep/ds/1")), ("gs://lake/aep", ("gs://lake", "aep"))],
)
def test_object_stores_are_named_by_scheme_and_bucket(uri: str, expected: tuple[str, str]) -> None:
    """OpenLineage's naming for object stores, which the Amazon and Google converters also give."""
    named = object_storage_dataset(uri)
    assert (named.namespace, named.name) == expected


def test_a_destination_connection_is_not_part_of_the_lineage_name() -> None:
    """Airflow writes the connection id into the path (s3://conn@bucket/...); lineage names the bucket."""
    folder = ObjectStoragePath("s3://lake/aep/ds/1000", conn_id="aws_lake")
    assert "aws_lake@" in str(folder)
    named = object_storage_dataset(lineage_uri(folder))
    assert (named.namespace, named.name) == ("s3://lake", "aep/ds/1000")
