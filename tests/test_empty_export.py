"""An empty export does not pass for a success: ``min_exported_profiles`` fails the task, and 0 profiles
is always a warning. A broken or renamed segment exports 0 profiles and AEP still says SUCCEEDED."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from airflow.triggers.base import TaskSuccessEvent
from airflow.utils.state import DagRunState

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from airflow_provider_aep.wait.errors import ExportTooSmallError
from airflow_provider_aep.wait.options import WaitOptions
from tests.airflow_compat import run_dag
from tests.dag_files import load_dag_file
from tests.task_context import task_context

from . import REPO
from .conftest import EXPORT_REQUEST
from .test_end_from_trigger import CREATE_XCOMS, events, left_in_xcom
from .test_trigger import QUICK, new_job
from .test_watchers import logged

FAST = {"request_retry_limit": 3, "request_retry_delay": 0.01}
LOGICAL_DATE = datetime(2026, 11, 23, 2, tzinfo=timezone.utc)
EMPTY = "exported 0 profiles: its segments may be broken, renamed or empty"


def sensor(job_id: str, **kwargs: Any) -> ExportJobSensor:
    return ExportJobSensor(task_id="wait_for_export", job_id=job_id, poke_interval=0.05, timeout=10, **FAST, **kwargs)


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    ("dag_name", "outcome", "logged_line"),
    [
        (
            "guarded_export",
            DagRunState.FAILED,
            "SUCCEEDED with 0 exported profiles, fewer than min_exported_profiles=1",
        ),
        ("unguarded_export", DagRunState.SUCCESS, EMPTY),
    ],
)
def test_an_empty_export_fails_a_guarded_dag_run_and_warns_in_another(
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    dag_name: str,
    outcome: DagRunState,
    logged_line: str,
) -> None:
    """Created and waited on in one task that its trigger would end: a guarded one must still fail."""
    simulator.state.default_scenario = Scenario(polls_to_finish=2, exported_profiles=0)
    dag = getattr(load_dag_file(REPO / "tests" / "dags" / "aep_test_dags.py"), dag_name)
    run = run_dag(dag, LOGICAL_DATE)
    assert run.state == outcome
    assert run.get_task_instance("create_export_job").state == outcome
    (job_id,) = [str(job_id) for job_id in simulator.state.jobs]
    assert f"Export job {job_id} {logged_line}" in logged(caplog, capfd)
    assert simulator.state.count("jobs_created") == 1


def test_the_minimum_passes_an_export_that_meets_it_and_fails_one_that_does_not(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(polls_to_finish=1, exported_profiles=1250), simulator)
    assert sensor(job_id, min_exported_profiles=1250).execute(task_context())["exported_profiles"] == 1250
    with pytest.raises(ExportTooSmallError) as raised:
        sensor(job_id, min_exported_profiles=1251).execute(task_context())
    assert str(raised.value) == (
        f"Task 'wait_for_export': Export job {job_id} SUCCEEDED with 1250 exported profiles, fewer than "
        "min_exported_profiles=1251; check that its segments still exist and have members"
    )


def test_a_job_that_reports_no_count_cannot_meet_a_minimum() -> None:
    options = WaitOptions(min_exported_profiles=0)
    assert options.shortfall({"job_id": "7", "exported_profiles": 0}) is None
    shortfall = options.shortfall({"job_id": "7", "exported_profiles": None})
    assert shortfall is not None
    assert "SUCCEEDED with no exported-profile count, fewer than min_exported_profiles=0" in shortfall
    assert WaitOptions().shortfall({"job_id": "7", "exported_profiles": None}) is None


def test_a_trigger_leaves_a_short_export_to_a_worker_which_fails_it(simulator: SimulatorServer) -> None:
    """A task the trigger ended could not fail: the trigger resumes it instead, with the job."""
    short = WaitOptions(**{**QUICK.to_json(), "min_exported_profiles": 5})
    job_id = new_job(Scenario(polls_to_finish=1, exported_profiles=0), simulator)
    (event,) = events(ExportJobTrigger(job_id, short, poll_interval=0.05, end_task_xcoms=CREATE_XCOMS))
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "success"
    operator = CreateExportJobOperator(
        task_id="create_export_job", export_job=EXPORT_REQUEST, wait_for_completion=True, min_exported_profiles=5
    )
    with pytest.raises(ExportTooSmallError, match="SUCCEEDED with 0 exported profiles"):
        operator.execute_complete(task_context(), event.payload)


def test_a_trigger_ends_the_task_itself_when_the_export_is_big_enough(
    simulator: SimulatorServer, task_xcoms: dict[str, Any]
) -> None:
    enough = WaitOptions(**{**QUICK.to_json(), "min_exported_profiles": 5})
    job_id = new_job(Scenario(polls_to_finish=1, exported_profiles=5), simulator)
    (event,) = events(ExportJobTrigger(job_id, enough, poll_interval=0.05, end_task_xcoms=CREATE_XCOMS))
    assert left_in_xcom(event, task_xcoms)["return_value"] == job_id


def test_the_minimum_travels_with_the_wait_into_the_triggerer() -> None:
    trigger = ExportJobTrigger("1000", WaitOptions(min_exported_profiles=3))
    _, kwargs = trigger.serialize()
    assert ExportJobTrigger(**kwargs).options.min_exported_profiles == 3


def test_options_without_a_minimum_read_as_the_release_before_wrote_them() -> None:
    """A rolling upgrade: a triggerer on the release before must rebuild what this one serializes."""
    unset = WaitOptions().to_json()
    assert "min_exported_profiles" not in unset
    assert WaitOptions.of(unset) == WaitOptions()


@pytest.mark.parametrize("value", [-1, True, 2.5, "10"])
def test_a_bad_minimum_is_refused_when_the_dag_is_parsed(simulator: SimulatorServer, value: object) -> None:
    with pytest.raises(AepConfigError, match=r"Task 'wait_for_export': min_exported_profiles must be a whole number"):
        sensor("1000", min_exported_profiles=value)
    assert simulator.state.count("requests") == 0


def test_a_minimum_on_a_create_that_does_not_wait_is_refused(simulator: SimulatorServer) -> None:
    with pytest.raises(AepConfigError, match="min_exported_profiles is checked when the job SUCCEEDED"):
        CreateExportJobOperator(task_id="create_export_job", export_job=EXPORT_REQUEST, min_exported_profiles=1)
    assert simulator.state.count("requests") == 0
