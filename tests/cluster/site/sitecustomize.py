"""Counts the processes each cluster component forks, as the operating system starts them.

Airflow's task processes are forks (a Celery pool process forks one per task execution, start or
resume), and a fork runs no startup code of its own: the hook registered here, in the component's
first interpreter, runs in every fork after it and appends "pid parent" to the component's file.
Outside the cluster harness (no ``AEP_CLUSTER_FORKS``) it does nothing.
"""

from __future__ import annotations

import os


def _record_fork() -> None:
    line = f"{os.getpid()} {os.getppid()}\n".encode()
    fd = os.open(_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one short O_APPEND write: lines from concurrent forks never interleave
    finally:
        os.close(fd)


_FOLDER = os.environ.get("AEP_CLUSTER_FORKS")
_COMPONENT = os.environ.get("AIRFLOW_STACK_COMPONENT")
if _FOLDER and _COMPONENT:
    _FILE = os.path.join(_FOLDER, f"{_COMPONENT}.forks")
    os.register_at_fork(after_in_child=_record_fork)
