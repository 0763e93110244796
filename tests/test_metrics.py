"""The provider's metrics reach a StatsD server through Airflow's own ``Stats``, each under ``aep.``,
tagged with the connection and sandbox, and agree with what the simulator saw and the disk holds."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState

from airflow_provider_aep.hooks.metrics import METRICS, PREFIX, AirflowMetrics
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from tests.airflow_compat import run_dag
from tests.dag_files import load_dag_file
from tests.statsd import statsd_listener

from . import REPO

LOGICAL_DATE = datetime(2026, 11, 23, 2, tzinfo=timezone.utc)
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
