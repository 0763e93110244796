"""Every code sample in the README and docs/ runs against the simulator, or is a verbatim excerpt
of a file that does (the recipes quote the example DAGs that test_docs_examples runs)."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.utils.state import DagRunState

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from tests import REPO
from tests.airflow_compat import run_dag
from tests.cluster.deployment import components, pool_command, settings
from tests.dag_files import load_dag_file

from .conftest import set_connection
from .markdown import code_samples

pytestmark = pytest.mark.usefixtures("airflow_db")
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def run_python(source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Top-level ``await`` allowed, as in the README's hook sample."""
    code = compile(source, "<snippet>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        asyncio.run(result)
    return namespace


def code_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_every_python_sample_is_covered_here() -> None:
    covered = {
        "README.md": 2,
        "docs/assets-and-lineage.md": 2,
        "docs/deployment.md": 3,
        "docs/recipes.md": 8,
        "docs/simulator.md": 1,
    }
    found = {str(document.relative_to(REPO)): len(code_samples(document, "python")) for document in DOCUMENTS}
    assert {name: count for name, count in found.items() if count} == covered


@pytest.mark.parametrize(
    "snippet",
    [
        *code_samples(REPO / "docs" / "recipes.md", "python"),
        code_samples(REPO / "docs" / "assets-and-lineage.md", "python")[1],
        *code_samples(REPO / "docs" / "deployment.md", "python"),
    ],
)
def test_dag_samples_are_excerpts_of_the_example_dags_that_run(snippet: str) -> None:
    """The deployment guide quotes the cluster harness's DAG, which `make e2e-cluster` runs."""
    sources = [
        *(REPO / "example_dags").glob("*.py"),
        *(REPO / "docs" / "examples").glob("*.py"),
        *(REPO / "tests" / "cluster" / "dags").glob("*.py"),
    ]
    wanted = code_lines(snippet)
    assert any(
        wanted == lines[start : start + len(wanted)]
        for lines in (code_lines(path.read_text()) for path in sources)
        for start in range(len(lines))
    )


def test_readme_dag_sample_runs_a_data_interval_export(simulator: SimulatorServer) -> None:
    dag = load_dag_file(REPO / "tests" / "dags" / "aep_readme_sample.py").dag
    dag.get_task("wait_for_export").poke_interval = 0.2
    run = run_dag(dag, datetime(2026, 11, 23, 2, tzinfo=timezone.utc))
    assert run.state == DagRunState.SUCCESS
    (job,) = simulator.state.jobs.values()
    assert job.body["filter"]["segmentQualificationTime"] == {
        "startTime": "2026-11-22T02:00:00Z",
        "endTime": "2026-11-23T02:00:00Z",
    }


def test_readme_hook_sample_runs(simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1, exported_profiles=10))
    hook = AdobeExperiencePlatformHook()
    finished = hook.get_export_job(
        hook.create_export_job({"destination": {"datasetId": "d"}, "schema": {"name": "s"}}).id
    )
    monkeypatch.chdir(tmp_path)  # the sample downloads into the working directory
    _, hook_sample = code_samples(REPO / "README.md", "python")
    namespace = run_python(hook_sample, {})
    assert isinstance(namespace["hook"], AdobeExperiencePlatformHook)
    assert sorted(simulator.state.jobs) == [int(finished.id), int(namespace["job"].id)]
    assert simulator.state.count("jobs_cancelled") == 1
    assert simulator.state.count("requests:get") == 1 + 2  # the finished job's; the sample's get and async twin
    assert namespace["dataset_id"] in simulator.state.datasets
    assert namespace["done"].id == finished.id
    (landed,) = tmp_path.glob("*.parquet")
    written = simulator.state.batch_files(f"sim-batch-{finished.id}")
    assert written is not None
    assert landed.read_bytes() == b"".join(written.files[0].read())


def test_asset_helper_sample_builds_the_documented_uri() -> None:
    helper_sample = code_samples(REPO / "docs" / "assets-and-lineage.md", "python")[0]
    namespace = run_python(helper_sample, {})
    assert namespace["VIP_AUDIENCE"].uri == "aep://1BD6382559DF0C130A49422D/prod/datasets/5b7c86968f7b6501e21ba9df"


def test_simulator_pytest_sample_runs() -> None:
    (sample,) = code_samples(REPO / "docs" / "simulator.md", "python")
    my_dag = load_dag_file(REPO / "docs" / "examples" / "aep_export_wait_in_operator.py").dag
    namespace = run_python(sample, {"my_dag": my_dag})
    namespace["test_my_dag_survives_a_flaky_api"]()


ENV_SAMPLE = re.compile(r"export AIRFLOW_CONN_AEP_DEFAULT='(\{.*?\})'", re.DOTALL)


@pytest.mark.parametrize("document", ["README.md", "docs/connection.md"])
def test_connection_json_samples_make_a_working_connection(
    document: str, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented JSON, with the reader's own values filled in (here: the simulator's)."""
    (sample,) = ENV_SAMPLE.findall((REPO / document).read_text())
    own_values = {
        "<client id>": simulator.state.client_id,
        "<client secret>": simulator.state.client_secret,
        "<org>": simulator.state.org_id.removesuffix("@AdobeOrg"),
        "<org id>": simulator.state.org_id.removesuffix("@AdobeOrg"),
    }
    fields = json.loads(re.sub(r"<[^>]+>", lambda found: own_values[found.group()], sample))
    fields["host"] = simulator.url  # only the endpoints differ from Adobe's
    fields["extra"]["ims_url"] = f"{simulator.url}/ims/token/v3"
    set_connection(monkeypatch, "aep_from_the_docs", fields)
    succeeded, message = AdobeExperiencePlatformHook(aep_conn_id="aep_from_the_docs").test_connection()
    assert succeeded, message


@pytest.mark.parametrize("document", ["README.md", "docs/simulator.md"])
def test_simulator_command_samples_serve_the_connection_they_print(
    document: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, printed = next(
        (lines[0], lines[1])
        for body in code_samples(REPO / document, "console")
        if (lines := body.splitlines()) and "-m airflow_provider_aep.simulator" in lines[0]
    )
    arguments = command.split("-m airflow_provider_aep.simulator", 1)[1].replace("--port 8085", "--port 0")
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_aep.simulator", *arguments.split()],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = json.loads(line)["host"].rsplit(":", 1)[1]
        assert line.startswith(printed.split(", ...")[0].replace("8085", port))
        monkeypatch.setenv("AIRFLOW_CONN_AEP_FROM_THE_CLI", line)
        succeeded, message = AdobeExperiencePlatformHook(aep_conn_id="aep_from_the_cli").test_connection()
        assert succeeded, message
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_deployment_guide_shows_the_cluster_harness_commands_and_settings() -> None:
    install, processes, pool = code_samples(REPO / "docs" / "deployment.md", "console")
    commands = [tuple(shlex.split(line)) for line in processes.splitlines()]
    started = dict.fromkeys(("airflow", *command) for command in components().values())  # two of each, once
    assert commands == [("airflow", "db", "migrate"), ("airflow", *pool_command()), *started]
    assert tuple(shlex.split(pool)) == ("airflow", *pool_command())
    assert "apache-airflow[celery,postgres]" in install
    (env,) = code_samples(REPO / "docs" / "deployment.md", "dotenv")
    database = "postgresql+psycopg://airflow:<password>@<postgres host>:5432/airflow"
    shown = dict(line.split("=", 1) for line in env.splitlines())
    assert shown == settings(database, "redis://<redis host>:6379/0", "/etc/airflow/connections.json")
    # The connections file the secrets backend reads holds connection.md's connection, by id.
    (connections,) = code_samples(REPO / "docs" / "deployment.md", "json")
    documented = ENV_SAMPLE.search((REPO / "docs" / "connection.md").read_text())
    assert documented is not None
    assert json.loads(connections) == {"aep_default": json.loads(documented.group(1))}
