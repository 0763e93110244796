"""A StatsD server on 127.0.0.1 that Airflow's own ``Stats`` sends to, for the metrics tests.

Airflow's StatsD logger is made from ``[metrics]`` settings, as a deployment makes it, with
InfluxDB-style tags on so the tags travel in the packet. The listener is closed and ``Stats`` put
back when the test ends, whatever happens.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tests.airflow_compat import AIRFLOW_V_3

PACKET = re.compile(r"^(?P<name>[^,:]+)(?P<tags>(?:,[^,:=]+=[^,:]*)*):(?P<value>[-\d.]+)\|(?P<kind>c|ms|g)")


@dataclass
class Received:
    """Every metric line the listener read so far, with its tags."""

    sock: socket.socket
    lines: list[tuple[str, dict[str, str], float, str]] = field(default_factory=list)

    def read(self) -> Received:
        """Takes in what has arrived; UDP on loopback has arrived once the sender returned."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return self
            for line in data.decode().splitlines():
                match = PACKET.match(line)
                assert match, f"not a StatsD line: {line!r}"
                tags = dict(pair.split("=", 1) for pair in match["tags"].split(",") if pair)
                self.lines.append((match["name"], tags, float(match["value"]), match["kind"]))

    def of(self, name: str) -> list[tuple[dict[str, str], float, str]]:
        return [(tags, value, kind) for found, tags, value, kind in self.read().lines if found == name]

    def total(self, name: str) -> float:
        return sum(value for _, value, _ in self.of(name))


@contextmanager
def statsd_listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[Received]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        for key, value in {
            "STATSD_ON": "True",
            "STATSD_HOST": "127.0.0.1",
            "STATSD_PORT": str(sock.getsockname()[1]),
            "STATSD_PREFIX": "airflow",
            "STATSD_INFLUXDB_ENABLED": "True",
        }.items():
            monkeypatch.setenv(f"AIRFLOW__METRICS__{key}", value)
        if AIRFLOW_V_3:
            import airflow.sdk._shared.observability.metrics.stats as stats
            from airflow.sdk.observability.metrics.statsd_logger import get_statsd_logger

            monkeypatch.setattr(stats, "_backend", get_statsd_logger())
            monkeypatch.setattr(stats, "_export_legacy_names", False)
        else:
            from airflow.metrics.statsd_logger import get_statsd_logger
            from airflow.stats import Stats

            monkeypatch.setattr(Stats, "instance", get_statsd_logger(Stats))
        yield Received(sock)
    finally:
        sock.close()
