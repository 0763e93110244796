"""DAGs only the test suite runs; per-run values come from ``dag_run.conf``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from tests.airflow_compat import DAG

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
FAST = {"request_retry_limit": 3, "request_retry_delay": 0.01, "request_timeout": 1.0}
EXPORT_REQUEST = {
    "destination": {"datasetId": "5b7c86968f7b6501e21ba9df"},
    "schema": {"name": "_xdm.context.profile"},
    "filter": {"segments": [{"segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff"}]},
}

with DAG(dag_id="aep_test_retrying_create", schedule=None, start_date=START) as retrying_create:
    CreateExportJobOperator(
        task_id="create_export_job",
        export_job=EXPORT_REQUEST,
        wait_for_completion=True,
        deferrable=False,
        poll_interval=0.05,
        timeout=20,
        retries=1,
        retry_delay=timedelta(0),
        **FAST,
    )


def deferred_sensor_dag(dag_id: str, timeout: float) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, start_date=START) as dag:
        ExportJobSensor(
            task_id="wait_for_export",
            job_id="{{ dag_run.conf['job_id'] }}",
            deferrable=True,
            timeout=timeout,
            poke_interval=0.1,
            retries=1,
            retry_delay=timedelta(0),
            **FAST,
        )
    return dag


deferred_sensor = deferred_sensor_dag("aep_test_deferred_sensor", timeout=60)
deferred_sensor_short_timeout = deferred_sensor_dag("aep_test_deferred_sensor_short_timeout", timeout=1)

with DAG(dag_id="aep_test_templated_deferred_create", schedule=None, start_date=START) as templated_deferred_create:
    CreateExportJobOperator(
        task_id="create_export_job",
        export_job={
            "destination": {"datasetId": "{{ dag_run.conf['dataset_id'] }}"},
            "schema": {"name": "_xdm.context.profile"},
            "filter": {
                "segments": [{"segmentId": "{{ dag_run.conf['segment_id'] }}", "status": ["realized"]}],
                "fromIngestTimestamp": "{{ data_interval_start }}",
            },
        },
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.1,
        timeout=60,
        **FAST,
    )

with DAG(dag_id="aep_test_ends_in_triggerer", schedule=None, start_date=START) as ends_in_triggerer:
    # The recommended shape: create and wait in one task, which the trigger ends; then a sensor
    # that ends in the triggerer too, on the same job.
    create_and_wait = CreateExportJobOperator(
        task_id="create_export_job",
        export_job=EXPORT_REQUEST,
        wait_for_completion=True,
        deferrable=True,
        end_from_trigger=True,
        poll_interval=0.1,
        timeout=60,
        **FAST,
    )
    ExportJobSensor(
        task_id="wait_for_export",
        job_id=create_and_wait.output,
        deferrable=True,
        end_from_trigger=True,
        poke_interval=0.1,
        timeout=60,
        **FAST,
    )


def empty_export_guard_dag(dag_id: str, min_exported_profiles: int | None) -> DAG:
    """Create and wait, ended by the trigger where it can be: an empty export must still fail in a worker."""
    with DAG(dag_id=dag_id, schedule=None, start_date=START) as dag:
        CreateExportJobOperator(
            task_id="create_export_job",
            export_job=EXPORT_REQUEST,
            wait_for_completion=True,
            deferrable=True,
            end_from_trigger=True,
            min_exported_profiles=min_exported_profiles,
            poll_interval=0.1,
            timeout=60,
            **FAST,
        )
    return dag


guarded_export = empty_export_guard_dag("aep_test_guarded_export", min_exported_profiles=1)
unguarded_export = empty_export_guard_dag("aep_test_unguarded_export", min_exported_profiles=None)
