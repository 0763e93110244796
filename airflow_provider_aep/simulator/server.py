"""Run the simulator on a loopback port, in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn

from airflow_provider_aep.simulator.app import DroppedConnection, create_app
from airflow_provider_aep.simulator.state import SimulatorState


class _HideDroppedConnections(logging.Filter):
    """A dropped connection is a scripted fault, not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_HideDroppedConnections())


class SimulatorServer:
    """``with SimulatorServer() as sim:`` serves on ``sim.url`` until the block ends."""

    def __init__(self, state: SimulatorState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state or SimulatorState()
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=60,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connection(self, conn_id: str = "aep_default", **extra: Any) -> dict[str, Any]:
        """An Airflow connection (as JSON fields) that points the provider at this simulator."""
        return {
            "conn_id": conn_id,
            "conn_type": "adobe_experience_platform",
            "host": self.url,
            "login": self.state.client_id,
            "password": self.state.client_secret,
            "extra": {"org_id": self.state.org_id, "ims_url": f"{self.url}/ims/token/v3", **extra},
        }

    def connection_env_value(self, **extra: Any) -> str:
        """Value for an ``AIRFLOW_CONN_<ID>`` environment variable."""
        fields = self.connection(**extra)
        fields.pop("conn_id")
        return json.dumps(fields)

    def serve_forever(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self.serve_forever, name="aep-simulator", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the AEP simulator failed to start")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
