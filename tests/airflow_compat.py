"""What the tests themselves import differently on Airflow 2.11 and 3.x."""

from __future__ import annotations

from airflow_provider_aep.compat import AIRFLOW_V_3

if AIRFLOW_V_3:
    from airflow.sdk import DAG
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact
    from airflow.sdk.exceptions import TaskDeferred
    from airflow.sdk.execution_time.context import OutletEventAccessors
else:
    from airflow.exceptions import TaskDeferred
    from airflow.models.dag import DAG
    from airflow.utils.context import OutletEventAccessors
    from airflow.utils.log.secrets_masker import redact


def prepare_thread_for_execute() -> None:
    """Airflow 2.11's execute() safeguard keeps a thread-local that only the main thread has;
    tests that run ``execute`` in a worker thread give that thread one too."""
    if not AIRFLOW_V_3:
        from airflow.models.baseoperator import ExecutorSafeguard

        ExecutorSafeguard._sentinel.callers = {}


# Airflow 3 only: the real api-server/scheduler/triggerer stack and its UI, and the DAG runs
# through dag.test() with DAG bundles (the example DAGs use the Airflow 3 task SDK).
AIRFLOW_3_ONLY_TESTS = [
    "e2e/*",
    "test_dag_runs.py",
    "test_docs_examples.py",
    "test_docs_snippets.py",
]

__all__ = [
    "AIRFLOW_3_ONLY_TESTS",
    "AIRFLOW_V_3",
    "DAG",
    "OutletEventAccessors",
    "TaskDeferred",
    "prepare_thread_for_execute",
    "redact",
]
