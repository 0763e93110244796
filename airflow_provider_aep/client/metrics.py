"""What the request core counts, for whoever records metrics: the core itself imports no Airflow.

The hook hands the core a ``Metrics`` bound to its connection (``hooks/metrics.py`` sends it to
Airflow's ``Stats``); tests and scripts that build the core directly pass ``NO_METRICS``.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """A counter and a timer, already tagged with the connection they are about."""

    def incr(self, name: str, count: int = 1) -> None:
        """Add ``count`` to the counter ``name`` (without the provider's prefix)."""

    def timing(self, name: str, seconds: float) -> None:
        """Record one duration of ``name``."""


class _NoMetrics:
    def incr(self, name: str, count: int = 1) -> None:
        return None

    def timing(self, name: str, seconds: float) -> None:
        return None


NO_METRICS: Metrics = _NoMetrics()
