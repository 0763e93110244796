"""Throwaway PostgreSQL and Redis servers from Debian's packages, on loopback, in a temporary folder.

Each runs in the foreground of its own session, so stopping it (also after a failed test) is a
signal and a wait, and the harness can check that nothing of it is left.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from tests.e2e.airflow_stack import free_port, wait_until

# Debian installs PostgreSQL's server programs outside PATH, one folder per major version.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
ServiceT = TypeVar("ServiceT", bound="Service")


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's program folder, or None."""
    found = sorted(glob.glob(POSTGRES_BIN_GLOB), key=lambda path: int(Path(path).parent.name))
    if found:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Service:
    """One server process, started in its own session and stopped by ``stop_signal``."""

    name = "service"
    stop_signal = signal.SIGTERM

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.sessions: list[int] = []  # every process session it led, restarts included

    def _spawn(self, command: list[str], **options: Any) -> None:
        log = open(self.folder / f"{self.name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **options
        )
        self.sessions.append(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def start(self) -> None:
        """The first start; servers that must prepare their folder first do that, then serve."""
        self.serve()

    def restart(self, down_for: float = 0.0) -> None:
        """Stopped, left down ``down_for`` seconds, then started again on what it kept: a failover
        or an upgrade, as the components see it."""
        self.stop()
        time.sleep(down_for)
        self.serve()

    def serve(self) -> None:
        raise NotImplementedError

    def __enter__(self: ServiceT) -> ServiceT:
        try:
            self.start()
        except BaseException:
            self.stop()  # started but never ready: a with-block that failed to enter never exits
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class PostgresServer(Service):
    """A fresh cluster (``initdb``) on 127.0.0.1 with one ``airflow`` database, trust auth.

    PostgreSQL refuses to run as root; as root it runs as Debian's ``postgres`` user, which then
    owns the data folder.
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: ends open sessions, which Airflow's pools hold

    def __init__(self, folder: Path, bin_dir: Path) -> None:
        super().__init__(folder)
        self.bin_dir = bin_dir
        self.data = folder / "pgdata"
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            self.user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            folder.chmod(0o755)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://airflow@127.0.0.1:{self.port}/airflow"

    def start(self) -> None:
        self.data.mkdir(mode=0o700)
        if self.user:
            os.chown(self.data, self.user["user"], self.user["group"])
        self._run("initdb", "-D", str(self.data), "-U", "airflow", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.serve()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "airflow", "airflow")

    def serve(self) -> None:
        """The server on the data folder as it is: a restart keeps the metadata."""
        self._spawn(
            [
                str(self.bin_dir / "postgres"),
                "-D", str(self.data),
                "-h", "127.0.0.1",
                "-p", str(self.port),
                "-k", str(self.data),  # its Unix socket in the data folder, not /var/run
                # Two schedulers, two triggerers, the API server, the DAG processor and the Celery
                # workers each keep a pool: more than the default 100 connections.
                "-c", "max_connections=300",
                "-c", "fsync=off",  # a throwaway cluster: durability buys nothing here
            ],
            **self.user,
        )  # fmt: skip
        wait_until(self._ready, 60, "PostgreSQL to accept connections")

    def _ready(self) -> bool:
        probe = [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"]
        return subprocess.run(probe, check=False).returncode == 0

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / program), *args], check=True, capture_output=True, cwd=self.folder, **self.user
        )


class RedisServer(Service):
    """A memory-only Redis on 127.0.0.1: the Celery broker. A restart loses every message it held,
    as a broker without persistence does."""

    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def serve(self) -> None:
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        self._spawn(
            [redis, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--daemonize", "no"]
        )  # fmt: skip
        wait_until(self._ready, 30, "Redis to accept connections")

    def _ready(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
        return False
