"""Fault-injection soak: many export jobs end to end while the simulated AEP misbehaves.

Each job goes through CreateExportJobOperator.execute (the retry-safe create) and then
ExportJobSensor deferred: its trigger is rebuilt from ``serialize()`` and run in one event loop with
all the others, as a triggerer would, and its event is handed back to ``execute_complete``. Meanwhile
the simulator injects, on every route (token, create, get), 429s with Retry-After, 500/502/503/504,
responses slower than the client's timeout, and dropped connections, some after the request took
effect; and a background thread revokes every token every few seconds.

Run ``make soak`` (or ``python -m tests.reliability.soak --jobs 100``); it prints the figures and
exits non-zero if any job was duplicated, lost, or reported with the wrong outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_aep.client.settings import RetryPolicy
from airflow_provider_aep.exceptions import AepError, ExportJobFailedError
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer, SimulatorState
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from tests.airflow_compat import TaskDeferred, prepare_thread_for_execute
from tests.task_context import task_context
from tests.tokens import forget_tokens

FAST = {"request_retry_limit": 6, "request_retry_delay": 0.05, "request_timeout": 0.5}
FAULTS = (
    Fault("status", status=429, retry_after=0.05, probability=0.04, times=None),
    Fault("status", status=500, after_handling=True, probability=0.03, times=None),
    Fault("status", status=502, probability=0.03, times=None),
    Fault("status", status=503, after_handling=True, probability=0.03, times=None),
    Fault("status", status=504, probability=0.03, times=None),
    Fault("slow", delay=0.8, after_handling=True, probability=0.03, times=None),
    Fault("drop", probability=0.02, times=None),
    Fault("drop", after_handling=True, probability=0.02, times=None),
)


@dataclass
class SoakResult:
    jobs: int
    counters: dict[str, int]
    retries: int
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    lost_ids: int = 0
    false_failures: int = 0
    false_successes: int = 0
    failures_without_codes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def fault_share(self) -> float:
        return self.counters.get("faults", 0) / max(self.counters.get("requests", 1), 1)

    @property
    def clean(self) -> bool:
        return (
            not (self.duplicates or self.lost_ids or self.false_failures or self.false_successes)
            and not self.failures_without_codes
        )

    def table(self) -> str:
        counters = self.counters
        rows = [
            ("export jobs run", self.jobs),
            ("HTTP requests to the simulator", counters.get("requests", 0)),
            ("faults injected", f"{counters.get('faults', 0)} ({self.fault_share:.1%} of requests)"),
            *[(f"  of which {kind}", counters.get(f"faults:{kind}", 0)) for kind in ("status", "slow", "drop")],
            ("tokens revoked mid-run", counters.get("tokens_revoked", 0)),
            ("token requests", counters.get("requests:token", 0)),
            ("retries by the provider", self.retries),
            ("jobs created in AEP", counters.get("jobs_created", 0)),
            ("job listings to resolve ambiguous creates", counters.get("requests:list", 0)),
            (
                "outcomes: succeeded / failed (as AEP decided)",
                f"{self.outcomes['success']} / {self.outcomes['failed']}",
            ),
            ("duplicate jobs", self.duplicates),
            ("lost job ids", self.lost_ids),
            ("false failures", self.false_failures),
            ("false successes", self.false_successes),
            ("FAILED jobs reported without their AEP codes", self.failures_without_codes),
        ]
        return "\n".join(["| figure | value |", "| --- | ---: |", *(f"| {name} | {value} |" for name, value in rows)])


@contextmanager
def _counting_retries() -> Iterator[list[int]]:
    """Every retry asks the policy for its delay: count those calls while the soak runs."""
    counter = [0]
    original = RetryPolicy.delay

    def counted(self: RetryPolicy, attempt: int, retry_after: float | None = None) -> float:
        counter[0] += 1
        return original(self, attempt, retry_after)

    RetryPolicy.delay = counted  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        RetryPolicy.delay = original  # type: ignore[method-assign]


def _create(index: int) -> str:
    operator = CreateExportJobOperator(
        task_id=f"create_{index}",
        dataset_id=f"soak-dataset-{index}",  # one dataset per job, so duplicates are countable
        segments=[f"soak-segment-{index}"],
        **FAST,
    )
    context = task_context()
    job_id = operator.execute(context)
    if "export_job_summary" in context["ti"].pushed:
        raise AssertionError("the operator waited, which the soak leaves to the sensor")
    return job_id


def _execute_in_thread(sensor: ExportJobSensor) -> Any:
    prepare_thread_for_execute()
    return sensor.execute(task_context())


async def _wait(job_id: str, index: int) -> tuple[str, str]:
    """Defer through the sensor, run its trigger as the triggerer would, resume with the event."""
    sensor = ExportJobSensor(
        task_id=f"wait_{index}", job_id=job_id, poke_interval=0.3, timeout=300, deferrable=True, **FAST
    )
    try:
        try:
            # The check before deferring is blocking I/O: off this loop, where the other waits run.
            await asyncio.to_thread(_execute_in_thread, sensor)  # a finished job is reported at once
            return "success", ""
        except TaskDeferred as deferred:
            _, kwargs = deferred.trigger.serialize()
            trigger = ExportJobTrigger(**json.loads(json.dumps(kwargs)))
        events = [event.payload async for event in trigger.run()]
        if len(events) != 1:
            return "error", f"{len(events)} events"
        sensor.execute_complete(task_context(), events[0])
        return "success", ""
    except ExportJobFailedError as error:
        return "failed", str(error)
    except (AepError, AirflowSensorTimeout) as error:
        return "error", str(error)


def run_soak(jobs: int, seed: int = 7) -> SoakResult:
    state = SimulatorState(seed=seed)
    rng = random.Random(seed)
    previous_connection = os.environ.get("AIRFLOW_CONN_AEP_DEFAULT")
    with SimulatorServer(state) as simulator, _counting_retries() as retries:
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = simulator.connection_env_value()
        forget_tokens()
        expected = [rng.random() < 0.25 for _ in range(jobs)]  # True: AEP fails this job
        state.queue_scenarios(
            *(Scenario(outcome="FAILED" if fails else "SUCCEEDED", duration=rng.uniform(1, 4)) for fails in expected)
        )
        state.inject(*FAULTS)
        stop = threading.Event()

        def revoke_tokens() -> None:
            while not stop.wait(2.0):
                state.revoke_tokens()

        revoker = threading.Thread(target=revoke_tokens, daemon=True)
        revoker.start()
        result = SoakResult(jobs=jobs, counters={}, retries=0)
        try:
            job_ids: list[str | None] = []
            for index in range(jobs):
                try:
                    job_ids.append(_create(index))
                except AepError as error:
                    job_ids.append(None)
                    result.problems.append(f"create {index}: {error}")

            async def wait_all() -> list[tuple[str, str]]:
                return await asyncio.gather(
                    *(_wait(job_id, index) for index, job_id in enumerate(job_ids) if job_id is not None)
                )

            reported = iter(asyncio.run(wait_all()))
        finally:
            stop.set()
            revoker.join()
            if previous_connection is None:
                os.environ.pop("AIRFLOW_CONN_AEP_DEFAULT", None)
            else:
                os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = previous_connection

        per_dataset = Counter(job.body["destination"]["datasetId"] for job in state.jobs.values())
        result.duplicates = sum(count - 1 for count in per_dataset.values())
        for job_id in job_ids:
            if job_id is None or int(job_id) not in state.jobs:
                result.lost_ids += 1
                continue
            outcome, message = next(reported)
            result.outcomes[outcome] += 1
            aep_failed = state.jobs[int(job_id)].scenario.outcome == "FAILED"
            if aep_failed and outcome == "success":
                result.false_successes += 1
            elif not aep_failed and outcome != "success":
                result.false_failures += 1
                result.problems.append(f"job {job_id}: {outcome}: {message}")
            elif aep_failed and not ("[0090000009]" in message and "[unknown] Job aborted." in message):
                result.failures_without_codes += 1
        result.counters = dict(state.counters)
        result.retries = retries[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run_soak(args.jobs, args.seed)
    print(result.table())
    for problem in result.problems:
        print("problem:", problem)
    sys.exit(0 if result.clean else 1)


if __name__ == "__main__":
    main()
