"""What the tests themselves import differently on Airflow 2.11 and 3.x."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest import mock

from sqlalchemy import select
from sqlalchemy.orm import object_session

from airflow_provider_aep.compat import AIRFLOW_V_3

if AIRFLOW_V_3:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent
    from airflow.sdk import DAG
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact
    from airflow.sdk.exceptions import TaskDeferred
    from airflow.sdk.execution_time.context import OutletEventAccessors
    from airflow.sdk.io.store import attach
else:
    # dag.test() maps DagRunNote, whose user column points at the FAB user table.
    import airflow.providers.fab.auth_manager.models  # noqa: F401
    from airflow.exceptions import TaskDeferred
    from airflow.io.store import attach  # type: ignore[no-redef]
    from airflow.models.dag import DAG
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    from airflow.models.dataset import DatasetEvent as AssetEvent
    from airflow.utils.context import OutletEventAccessors
    from airflow.utils.log.secrets_masker import redact


def run_dag(dag: Any, logical_date: datetime, run_conf: dict[str, Any] | None = None) -> Any:
    """``dag.test()``: Airflow 2.11 calls the logical date ``execution_date``."""
    if AIRFLOW_V_3:
        return dag.test(logical_date=logical_date, run_conf=run_conf)
    return dag.test(execution_date=logical_date, run_conf=run_conf)


def register_assets(*dags: Any) -> None:
    """Airflow 2.11 records an event only for a dataset its dag processor has registered;
    3.x's ``dag.test()`` registers the DAG's assets itself."""
    if not AIRFLOW_V_3:
        DAG.bulk_write_to_db(dags)


def run_dag_started_by_events_of(dag: Any, logical_date: datetime, source_runs: list[Any]) -> Any:
    """``dag.test()`` of an asset-scheduled DAG whose run consumed the asset events that
    ``source_runs`` recorded, as the scheduler attaches them to the run it creates for them."""
    with _runs_consuming_events_of(source_runs):
        return run_dag(dag, logical_date)


@contextmanager
def _runs_consuming_events_of(source_runs: list[Any]) -> Iterator[None]:
    if AIRFLOW_V_3:
        import airflow.models.dagrun as module

        name, consumed = "get_or_create_dagrun", "consumed_asset_events"
    else:
        import airflow.models.dag as module  # type: ignore[no-redef]

        name, consumed = "_get_or_create_dagrun", "consumed_dataset_events"
    create_run = getattr(module, name)
    sources = {(run.dag_id, run.run_id) for run in source_runs}

    def create_run_consuming_events(*args: Any, **kwargs: Any) -> Any:
        run = create_run(*args, **kwargs)
        session = object_session(run)
        assert session is not None
        events = [
            event
            for event in session.scalars(select(AssetEvent))
            if (event.source_dag_id, event.source_run_id) in sources
        ]
        assert events, f"the runs {sorted(sources)} recorded no asset event"
        getattr(run, consumed).extend(events)
        session.commit()
        return run

    with mock.patch.object(module, name, create_run_consuming_events):
        yield


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
    # The built package is checked once, in the Airflow 3 environment.
    "release/*",
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
    "DagBag",
    "OutletEventAccessors",
    "TaskDeferred",
    "attach",
    "prepare_thread_for_execute",
    "redact",
    "register_assets",
    "run_dag",
    "run_dag_started_by_events_of",
]


def extra_links(dag: Any, ti: Any) -> dict[str, str | None]:
    """A task instance's extra links as Airflow's UI gets them: through the serialized DAG."""
    if AIRFLOW_V_3:
        from airflow.serialization.serialized_objects import DagSerialization as Serialization
    else:
        from airflow.serialization.serialized_objects import SerializedDAG as Serialization

    task = Serialization.from_dict(Serialization.to_dict(dag)).get_task(ti.task_id)
    return {name: task.get_extra_links(ti, name) for name in task.extra_links}
