"""What a scenario takes from the deployment, read from the operating system: task processes
started, their CPU-seconds, and the triggerers' CPU-seconds (see site/sitecustomize.py).

A task process is a fork of a Celery pool process, itself a fork of the worker: a fork whose
parent was forked too. Its CPU time is added to its parent's reaped-children time when the pool
process waits for it, so the task processes' CPU is the pool processes' children time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.cluster.deployment import TRIGGERERS, WORKERS
from tests.e2e.airflow_stack import AirflowStack, session_members


@dataclass(frozen=True)
class Cost:
    task_processes: int
    task_cpu_seconds: float
    triggerer_cpu_seconds: float

    def __sub__(self, other: Cost) -> Cost:
        return Cost(
            self.task_processes - other.task_processes,
            self.task_cpu_seconds - other.task_cpu_seconds,
            self.triggerer_cpu_seconds - other.triggerer_cpu_seconds,
        )


class CostMeter:
    def __init__(self, stack: AirflowStack, forks: Path) -> None:
        self.stack = stack
        self.forks = forks

    def read(self) -> Cost:
        return Cost(
            sum(self._task_processes(worker) for worker in WORKERS),
            sum(self._cpu(worker, reaped_by_pool=True) for worker in WORKERS),
            sum(self._cpu(triggerer, reaped_by_pool=False) for triggerer in TRIGGERERS),
        )

    @contextmanager
    def measuring(self) -> Iterator[list[Cost]]:
        """The cost of the block, in the list once it ends. Components must not restart inside it."""
        spent: list[Cost] = []
        before = self.read()
        yield spent
        spent.append(self.read() - before)

    def _task_processes(self, worker: str) -> int:
        path = self.forks / f"{worker}.forks"
        if not path.exists():
            return 0
        records = [tuple(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]
        forked = {pid for pid, _ in records}
        return sum(1 for _, parent in records if parent in forked)

    def _cpu(self, component: str, *, reaped_by_pool: bool) -> float:
        """A worker's task processes (its pool processes' reaped children), or all of a triggerer."""
        process = self.stack.processes.get(component)
        if process is None:
            return 0.0
        total = 0.0
        for pid in session_members(process.pid):
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                children = times.children_user + times.children_system
                if reaped_by_pool:
                    total += children if pid != process.pid else 0.0
                else:
                    total += times.user + times.system + children
        return total
