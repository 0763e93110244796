"""What the tests themselves import differently on Airflow 2.11 and 3.x."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_aep.compat import AIRFLOW_V_3

if AIRFLOW_V_3:
    from airflow.sdk import DAG
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact
    from airflow.sdk.exceptions import TaskDeferred
    from airflow.sdk.execution_time.context import OutletEventAccessors
else:
    # dag.test() maps DagRunNote, whose user column points at the FAB user table.
    import airflow.providers.fab.auth_manager.models  # noqa: F401
    from airflow.exceptions import TaskDeferred
    from airflow.models.dag import DAG
    from airflow.utils.context import OutletEventAccessors
    from airflow.utils.log.secrets_masker import redact


def run_dag(dag: Any, logical_date: datetime, run_conf: dict[str, Any] | None = None) -> Any:
    """``dag.test()``: Airflow 2.11 calls the logical date ``execution_date``."""
    if AIRFLOW_V_3:
        return dag.test(logical_date=logical_date, run_conf=run_conf)
    return dag.test(execution_date=logical_date, run_conf=run_conf)


def prepare_thread_for_execute() -> None:
    """Airflow 2.11's execute() safeguard keeps a thread-local that only the main thread has;
    tests that run ``execute`` in a worker thread give that thread one too."""
    if not AIRFLOW_V_3:
        from airflow.models.baseoperator import ExecutorSafeguard

        ExecutorSafeguard._sentinel.callers = {}


# Airflow 3 only: the real api-server/scheduler/triggerer stack and its UI (and the asset example,
# written for Airflow 3, which runs there).
AIRFLOW_3_ONLY_TESTS = [
    "e2e/*",
]
# Airflow 2.11 only: its Flask webserver's connection form, built from the hook's widget methods.
AIRFLOW_2_ONLY_TESTS = [
    "e2e_airflow2/*",
]

__all__ = [
    "AIRFLOW_2_ONLY_TESTS",
    "AIRFLOW_3_ONLY_TESTS",
    "AIRFLOW_V_3",
    "DAG",
    "OutletEventAccessors",
    "TaskDeferred",
    "prepare_thread_for_execute",
    "redact",
    "run_dag",
]
