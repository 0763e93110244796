"""The path a warm request takes through the provider: how many of its files it enters.

A reader following a GET should find it in a few files with one job each; every file more is a hop
someone debugging a poll has to follow. Counted by tracing every Python call made while the request
runs, warm (connection looked up, token cached, connection pooled), as a poll in a long wait is.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import airflow_provider_aep
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import next_pause

from .conftest import EXPORT_REQUEST, FAST_RETRIES

PACKAGE = Path(airflow_provider_aep.__file__).parent
# The goal docs/architecture.md records; the old layout's GET entered 11 files, a poll's request 10.
MOST_FILES = 8


@contextmanager
def provider_files() -> Iterator[set[str]]:
    """The provider's files (relative to the package) that any call made inside the block runs in."""
    entered: set[str] = set()

    def profile(frame: FrameType, event: str, _: Any) -> None:
        if event == "call":
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(PACKAGE):
                entered.add(path.relative_to(PACKAGE).as_posix())

    previous: Callable[..., Any] | None = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield entered
    finally:
        sys.setprofile(previous)


def test_a_warm_get_export_job_enters_at_most_eight_files(simulator: SimulatorServer) -> None:
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES, timeout=2.0)
    job_id = hook.create_export_job(EXPORT_REQUEST).id
    hook.get_export_job(job_id)  # warm: connection, token and pooled socket
    with provider_files() as entered:
        job = hook.get_export_job(job_id)
    assert job.id == job_id
    assert {"hooks/aep.py", "client/apis/export_jobs.py", "client/sync_driver.py"} <= entered  # it saw the GET
    assert not any(name.startswith("simulator/") for name in entered)  # the simulator serves in its own thread
    assert len(entered) <= MOST_FILES, sorted(entered)


def test_a_warm_trigger_poll_enters_at_most_eight_files_for_its_request(simulator: SimulatorServer) -> None:
    """The poll's request (as the GET above, on the async driver) within eight files; the whole poll, the
    trigger's loop and check, status log and schedule included, within twelve."""
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1_000))
    job_id = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id
    trigger = ExportJobTrigger(job_id, WaitOptions(request_timeout=2.0), poll_interval=5.0)

    async def poll() -> tuple[object, set[str], set[str]]:
        hook = trigger.options.hook()
        async with hook.wait_scope(None):
            await trigger._check(hook)  # warm
            with provider_files() as request:
                await hook.apoll_export_job(job_id)
            with provider_files() as whole:
                event = await trigger._check(hook)  # one poll of a running job, and the pause after it
                next_pause(trigger._remaining(), trigger.poll_interval)
        return event, request, whole

    event, request, whole = asyncio.run(poll())
    assert event is None  # still running: the poll read its progress and waits on
    assert {"hooks/aep.py", "client/apis/export_jobs.py", "client/async_driver.py"} <= request
    assert len(request) <= MOST_FILES, sorted(request)
    loop = {"triggers/base.py", "triggers/export_job.py", "wait/status_log.py", "wait/schedule.py"}
    assert request | loop == whole, sorted(whole)
