"""Each component of the cluster plays a machine of its own: Airflow records this name as the host
of its jobs and task instances (``[core] hostname_callable``), so the tests can tell which
triggerer holds a wait and which worker ran a task, as an operator would on a real cluster.

It sits outside the ``tests`` package on purpose: importing that package points AIRFLOW_HOME at
the unit tests' own folder."""

from __future__ import annotations

import os


def hostname() -> str:
    return os.environ["AIRFLOW_STACK_COMPONENT"]
