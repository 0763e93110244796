"""The provider's metrics reach a StatsD server through Airflow's own ``Stats``, each under ``aep.``,
tagged with the connection and sandbox, and agree with what the simulator saw and the disk holds."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.utils.state import DagRunState

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.hooks.metrics import METRICS, PREFIX, AirflowMetrics
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from tests.airflow_compat import run_dag
from tests.dag_files import load_dag_file
from tests.statsd import statsd_listener
from tests.task_context import task_context

from . import REPO
from .conftest import EXPORT_REQUEST, FAST_RETRIES
from .test_end_from_trigger import CREATE_XCOMS, events, left_in_xcom
from .test_trigger import QUICK, new_job

LOGICAL_DATE = datetime(2026, 11, 20, 2, tzinfo=timezone.utc)  # a night no other test runs the example for
TAGS = {"conn_id": "aep_default", "sandbox": "prod"}


def stat(name: str) -> str:
    return f"airflow.{PREFIX}.{name}"


@pytest.mark.usefixtures("airflow_db")
def test_a_nightly_run_sends_every_documented_metric(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.state.default_scenario = Scenario(polls_to_finish=2, files_per_batch=3, exported_profiles=1250)
    simulator.state.inject(Fault("status", route="file_download", status=503, times=2))
    dag = load_dag_file(REPO / "example_dags" / "aep_nightly_segment_export.py").dag
    dag.get_task("wait_for_export").poke_interval = 0.2
    dag.get_task("download_export").poll_interval = 0.2
    with statsd_listener(monkeypatch) as received:
        run = run_dag(dag, LOGICAL_DATE, run_conf={"destination": f"file://{tmp_path}"})
        assert run.state == DagRunState.SUCCESS
        sent = {name for name, _, _, _ in received.read().lines if name.startswith(f"airflow.{PREFIX}.")}
        assert sent == {stat(name) for name in METRICS}
        for name, (kind, _) in METRICS.items():
            for tags, _, sent_kind in received.of(stat(name)):
                assert tags == TAGS
                assert sent_kind == ("c" if kind == "counter" else "ms")
        landed = [path for path in tmp_path.rglob("*.parquet")]
        assert received.total(stat("download.files")) == len(landed) == 3
        assert received.total(stat("download.bytes")) == sum(path.stat().st_size for path in landed)
        assert len(received.of(stat("download.duration"))) == 1
        assert received.total(stat("export_job.profiles")) == 1250
        ((_, duration, _),) = received.of(stat("export_job.duration"))
        assert duration > 0
        # What the simulator saw: the two failed downloads sent again, and one token for the whole run.
        assert received.total(stat("api.retries")) == simulator.state.count("faults") == 2
        assert received.total(stat("ims.token_requests")) == simulator.state.count("requests:token") == 1


def test_an_undocumented_name_is_a_bug_not_a_metric() -> None:
    with pytest.raises(ValueError, match="not a documented metric"):
        AirflowMetrics("aep_default", "prod").incr("download.byte")


def test_the_reference_lists_every_metric_and_only_those() -> None:
    text = (REPO / "docs" / "reference.md").read_text()
    section = text[text.index("## Metrics") :]
    section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else None]
    rows = dict(re.findall(rf"^\| `{PREFIX}\.([\w.]+)` \| (\w+) \|", section, re.MULTILINE))
    assert rows == {name: kind for name, (kind, _) in METRICS.items()}


def test_a_trigger_that_ends_its_task_sends_the_jobs_figures_and_a_resumed_task_does_not_again(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, task_xcoms: dict[str, Any]
) -> None:
    job_id = new_job(Scenario(polls_to_finish=1, exported_profiles=42), simulator)
    with statsd_listener(monkeypatch) as received:
        (event,) = events(ExportJobTrigger(job_id, QUICK, poll_interval=0.05, end_task_xcoms=CREATE_XCOMS))
        assert left_in_xcom(event, task_xcoms)["return_value"] == job_id
        assert received.total(stat("export_job.profiles")) == 42
        assert len(received.of(stat("export_job.duration"))) == 1
        # dag.test() resumes a task its trigger ended, with the bare state: nothing is counted twice.
        sensor = ExportJobSensor(task_id="wait_for_export", job_id=job_id, request_retry_delay=0.01)
        assert sensor.execute_complete(task_context(), "success")["exported_profiles"] == 42
        assert received.total(stat("export_job.profiles")) == 42


def test_a_create_sent_again_after_an_answer_that_never_came_is_a_retry(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.state.inject(Fault("status", route="create", status=503, times=1))
    with statsd_listener(monkeypatch) as received:
        AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST)
        assert simulator.state.count("jobs_created") == 1
        assert received.total(stat("api.retries")) == 1
