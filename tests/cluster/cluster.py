"""A production-shaped Airflow 3 deployment on one machine: PostgreSQL, Redis, CeleryExecutor, an
API server, two schedulers, a DAG processor, two triggerers and two Celery workers, each in its own
process session, all against the simulator over loopback HTTP.

What the tests read besides the REST API: the metadata database (which triggerer holds which wait,
try numbers) and, through ``identify_client``, which process asked the simulator for each token.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psutil
import psycopg

from airflow_provider_aep.simulator import SimulatorServer, SimulatorState
from tests import REPO
from tests.cluster.background import repeating
from tests.cluster.cost import CostMeter
from tests.cluster.deployment import components, pool_command, settings
from tests.cluster.services import PostgresServer, RedisServer, postgres_bin
from tests.e2e.airflow_stack import AirflowStack, session_members

ServiceT = TypeVar("ServiceT", PostgresServer, RedisServer)


def harness_settings(exports: Path, forks: Path) -> dict[str, str]:
    """Test-only settings: each component names itself as its host (see site/cluster_node.py), the
    downloads land in the harness's folder (the fan-out DAG's ``aep_export_destination``), and each
    component's forks are recorded (site/sitecustomize.py)."""
    site = str(REPO / "tests" / "cluster" / "site")
    return {
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "cluster_node.hostname",
        "PYTHONPATH": os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")])),
        "AIRFLOW_VAR_AEP_EXPORT_DESTINATION": exports.as_uri(),
        "AEP_CLUSTER_FORKS": str(forks),
    }


def host_settings(hosts: Path) -> dict[str, dict[str, str]]:
    """Each component is a machine of its own, so each has its own IMS token store."""
    return {name: {"AIRFLOW__AEP__TOKEN_STORE_PATH": str(hosts / name / "ims-tokens")} for name in components()}


class Cluster:
    """The running deployment; ``Cluster.running()`` starts it and always takes it down."""

    def __init__(
        self,
        stack: AirflowStack,
        simulator: SimulatorServer,
        database: PostgresServer,
        broker: RedisServer,
        exports: Path,
        hosts: Path,
    ) -> None:
        self.stack = stack
        self.simulator = simulator
        self.database = database  # the control plane, which the harness may restart
        self.broker = broker
        self.database_url = database.url.replace("postgresql+psycopg://", "postgresql://")
        self.exports = exports  # where the fan-out's downloads land
        self.hosts = hosts  # each component's own folder: its token store
        self.cost = CostMeter(stack, stack.home.parent / "forks")

    @property
    def state(self) -> SimulatorState:
        return self.simulator.state

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[Cluster]:
        bin_dir = postgres_bin()
        assert bin_dir is not None, "PostgreSQL's programs are not installed"
        with ExitStack() as cleanup:
            folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="aep-cluster-")))
            leftovers = Leftovers()
            cleanup.callback(leftovers.check)  # first in, last out: after every server stopped
            database = cleanup.enter_context(leftovers.watch(PostgresServer(folder, bin_dir)))
            broker = cleanup.enter_context(leftovers.watch(RedisServer(folder)))
            simulator = cleanup.enter_context(SimulatorServer(SimulatorState()))
            leftovers.ports["simulator"] = simulator.port
            home = folder / "airflow"
            home.mkdir()
            secrets = folder / "connections.json"
            connection = simulator.connection()
            secrets.write_text(json.dumps({connection.pop("conn_id"): connection}))
            secrets.chmod(0o600)
            exports = folder / "exports"
            forks = folder / "forks"
            forks.mkdir()
            hosts = folder / "hosts"
            stack = AirflowStack(
                home,
                bundles={"cluster_dags": REPO / "tests" / "cluster" / "dags"},
                connections={},
                components=components(),
                settings={**settings(database.url, broker.url, str(secrets)), **harness_settings(exports, forks)},
                component_settings=host_settings(hosts),
            )
            leftovers.stack = stack
            cleanup.callback(stack.stop)
            stack.airflow("db", "migrate")
            stack.airflow(*pool_command())
            cluster = cls(stack, simulator, database, broker, exports, hosts)
            simulator.state.identify_client = cluster.process_of_client
            try:
                stack.start_components()
                yield cluster
            except BaseException:
                print(stack.logs())
                raise

    # -- the metadata database -------------------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=10) as connection:
            return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def triggerer_of_job(self) -> dict[int, str]:
        """Triggerer job id -> component name, for every triggerer job that ever ran."""
        return dict(self.query("SELECT id, hostname FROM job WHERE job_type = 'TriggererJob'"))  # type: ignore[arg-type]

    def held_waits(self, dag_id: str, run_id: str, task_id: str) -> dict[int, int | None]:
        """Map index -> the triggerer job holding that deferred task's trigger (None: unassigned)."""
        rows = self.query(
            "SELECT ti.map_index, t.triggerer_id FROM task_instance ti JOIN trigger t ON ti.trigger_id = t.id"
            " WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.task_id = %s AND ti.state = 'deferred'",
            dag_id,
            run_id,
            task_id,
        )
        return dict(rows)  # type: ignore[arg-type]

    def task_column(self, dag_id: str, run_id: str, task_id: str, column: str) -> dict[int, Any]:
        """Map index -> ``column`` (``state``, ``try_number``, ``hostname``...) of a task's instances."""
        rows = self.query(
            f"SELECT map_index, {column} FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s",
            dag_id,
            run_id,
            task_id,
        )
        return dict(rows)  # type: ignore[arg-type]

    # -- processes --------------------------------------------------------------------------------

    @contextmanager
    def supervised(self, every: float = 1.0) -> Iterator[list[tuple[float, str]]]:
        """Starts again any component that exits while the block runs, as a service manager
        (systemd's ``Restart=always``, a Kubernetes Deployment) does in production: Airflow's
        schedulers and triggerers exit when they lose the metadata database. Yields the restarts as
        (``time.monotonic()``, component). A component a test killed is not its to restart."""
        restarts: list[tuple[float, str]] = []

        def revive() -> None:
            with self.stack.lock:
                for name, process in list(self.stack.processes.items()):
                    if process.poll() is not None:
                        self.stack.start_component(name)
                        restarts.append((time.monotonic(), name))

        with repeating(revive, every):
            yield restarts

    @contextmanager
    def down(self, component: str) -> Iterator[None]:
        """SIGKILLs a component for the block and starts it again however the block ends, so that a
        scenario whose wait fails leaves the next ones a whole cluster."""
        self.stack.kill_component(component)
        try:
            yield
        finally:
            self.stack.start_component(component)

    def component_of(self, pid: int) -> str | None:
        """The component whose session the process belongs to (task processes: their worker's).
        Asked from the simulator's thread while a test may be killing a component."""
        with self.stack.lock:
            processes = list(self.stack.processes.items())
        with contextlib.suppress(ProcessLookupError):
            session = os.getsid(pid)
            for name, process in processes:
                if process.pid == session:
                    return name
        return None

    def process_of_client(self, port: int) -> str | None:
        """'<component> <pid>' for the process whose socket is ``127.0.0.1:port`` to the simulator."""
        for connection in psutil.net_connections("tcp4"):
            ours = connection.laddr and connection.laddr.port == port and connection.pid is not None
            if ours and connection.raddr and connection.raddr.port == self.simulator.port:
                return f"{self.component_of(connection.pid)} {connection.pid}"
        return None

    def component_talking_to_simulator(self, candidates: tuple[str, ...]) -> str | None:
        """Which of ``candidates`` has a process with a connection open to the simulator."""
        for name in candidates:
            for pid in session_members(self.stack.processes[name].pid):
                with contextlib.suppress(psutil.Error):
                    if any(
                        c.raddr and c.raddr.port == self.simulator.port
                        for c in psutil.Process(pid).net_connections("tcp4")
                    ):
                        return name
        return None


class Leftovers:
    """What the harness started, checked once all of it was stopped: no process of any of their
    sessions may live on, and no port may still be listening."""

    def __init__(self) -> None:
        self.services: list[PostgresServer | RedisServer] = []
        self.ports: dict[str, int] = {}
        self.stack: AirflowStack | None = None

    def watch(self, service: ServiceT) -> ServiceT:
        self.services.append(service)
        self.ports[service.name] = service.port
        return service

    def check(self) -> None:
        sessions = {session for service in self.services for session in service.sessions}
        if self.stack is not None:
            sessions |= self.stack.sessions
            self.ports["api-server"] = self.stack.port
        left = {session: members for session in sessions if (members := session_members(session))}
        listening = [name for name, port in self.ports.items() if not _free(port)]
        assert (left, listening) == ({}, []), "processes (by session) or listening ports were left behind"


def _free(port: int) -> bool:
    """Nothing listens on the port (connections in TIME_WAIT do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
