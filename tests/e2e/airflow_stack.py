"""A real Airflow 3 deployment for end-to-end tests, in a temporary AIRFLOW_HOME: by default api-server,
scheduler, dag-processor and triggerer as separate processes, LocalExecutor, SQLite. The cluster tests
pass their own components and settings (PostgreSQL, Celery, two of each)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

# Name -> the `airflow` command that runs it. Airflow's log servers bind every interface and take no
# host setting, so every component skips them; the API server reads the task logs from the shared
# AIRFLOW_HOME instead.
LOCAL_COMPONENTS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler", "--skip-serve-logs"),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer", "--skip-serve-logs"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def session_members(session_id: int) -> list[int]:
    """Every live process in a session (zombies aside): a component started with
    ``start_new_session`` leads one, and its task processes stay in it."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            state, _parent, _group, session = stat.read_text().rsplit(")", 1)[1].split()[:4]
            if int(session) == session_id and state != "Z":
                members.append(int(stat.parent.name))
    return members


class AirflowStack:
    def __init__(
        self,
        home: Path,
        bundles: dict[str, Path],
        connections: dict[str, str],
        components: Mapping[str, Sequence[str]] = LOCAL_COMPONENTS,
        settings: Mapping[str, str] | None = None,
        component_settings: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.home = home
        # Settings of one component only, as a machine of its own would have them.
        self.component_settings = dict(component_settings or {})
        self.port = free_port()
        self.components = dict(components)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.sessions: set[int] = set()  # every process session a component ever led
        # Held while a component is started or taken out of ``processes``, so that a supervisor
        # thread's check-then-restart never interleaves with a test killing the same component.
        self.lock = threading.RLock()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Nothing runs until a test unpauses it: no scheduled run races a test's counters.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            # Test servers listen on loopback only (Airflow's default is every interface).
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                [
                    {
                        "name": name,
                        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                        "kwargs": {"path": str(path)},
                    }
                    for name, path in bundles.items()
                ]
            ),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
            **connections,
            **(settings or {}),
        }
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api/v2", timeout=30)

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True, check=True
        )

    def start(self) -> AirflowStack:
        self.airflow("db", "migrate")
        self.start_components()
        return self

    def start_components(self) -> None:
        for component in self.components:
            self.start_component(component)
        wait_until(self._healthy, 120, "the API server")

    def start_component(self, component: str) -> None:
        with self.lock:
            log = open(self.home / f"{component}.log", "ab")  # noqa: SIM115 - owned by the process
            self.processes[component] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *self.components[component]],
                env={**self.env, **self.component_settings.get(component, {}), "AIRFLOW_STACK_COMPONENT": component},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.sessions.add(self.processes[component].pid)

    def kill_component(self, component: str) -> None:
        """SIGKILL everything the component started, as a lost machine would: its task processes
        run in process groups of their own, but stay in the component's session. Again until none
        is left, since a process may fork while the others are being killed."""
        with self.lock:
            process = self.processes.pop(component)
        for _ in range(50):
            members = session_members(process.pid)
            if not members:
                break
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        process.wait(timeout=30)

    def stop(self) -> None:
        """Every component is stopped, even when stopping one of them fails."""
        errors: list[Exception] = []
        for component in list(self.processes):
            try:
                with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(self.processes[component].pid, signal.SIGTERM)
                    self.processes[component].wait(timeout=15)
                self.kill_component(component)
            except Exception as error:  # raised below, once the others are stopped
                errors.append(error)
        self.api.close()
        if errors:
            raise errors[0]

    def _healthy(self) -> bool:
        try:
            return self.api.get("/monitor/health").status_code == 200
        except httpx.TransportError:
            return False

    # -- REST helpers ---------------------------------------------------------------------------

    def unpause(self, dag_id: str) -> None:
        wait_until(lambda: self.api.get(f"/dags/{dag_id}").status_code == 200, 120, f"DAG {dag_id} to be parsed")
        self.api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.unpause(dag_id)
        # A logical date, as the UI's trigger form sends: data-interval DAGs need it.
        logical_date = datetime.now(timezone.utc).isoformat()
        response = self.api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.api.get(f"/dags/{dag_id}/dagRuns").json().get("dag_runs", [])
        return runs

    def every_run(self, *states: str) -> list[dict[str, Any]]:
        """The runs of every DAG ("~"), scheduled and asset-triggered ones included, optionally
        only those in ``states``."""
        params = {"limit": 1000, **({"state": list(states)} if states else {})}
        response = self.api.get("/dags/~/dagRuns", params=params)
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["dag_runs"]
        return runs

    def wait_until_quiet(self, timeout: float = 240) -> None:
        """Until no run is queued or running: one a test left behind (unpausing a scheduled DAG
        starts its latest interval's run, and a failed test stops waiting on its own) would
        otherwise create its jobs in the next test's simulator."""
        wait_until(lambda: not self.every_run("queued", "running"), timeout, "every DAG run to finish", interval=1)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"])

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        response = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return response.json().get("state") if response.status_code == 200 else None

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        url = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.api.get(url, params={"deserialize": True}).json()["value"]

    def mark(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        url = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        self.api.patch(url, json={"new_state": state}).raise_for_status()

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180) -> str:
        return str(
            wait_until(
                lambda: (state := self.run_state(dag_id, run_id)) in ("success", "failed") and state,
                timeout,
                f"run {run_id} to finish",
                interval=1,
            )
        )

    def logs(self) -> str:
        """The tails of the components' logs and of the four newest task logs: a failed assertion in CI
        must say why a task failed, and the task's own log is where that is written."""
        components = sorted(self.home.glob("*.log"))
        tasks = sorted((self.home / "logs").rglob("*.log"), key=lambda path: path.stat().st_mtime)[-4:]
        return "\n".join(
            f"===== {path.relative_to(self.home)}\n{path.read_text(errors='replace')[-4000:]}"
            for path in [*components, *tasks]
        )
