"""How much N concurrent export-job waits cost a triggerer: ExportJobTrigger vs the alternatives.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/triggerer_scale.py --sizes 100 1000``).

The simulator runs in its own process, so its CPU is not counted. Each (variant, N) cell runs in a
fresh worker process, so one cell's peak memory cannot hide another's. A worker creates N jobs
that each finish ``--job-seconds`` after creation, then waits on all of them concurrently in one
asyncio event loop, as a triggerer does, with one of:

- ``aep``: the provider's ExportJobTrigger, built by ExportJobSensor's own ``defer`` and rebuilt
  from its ``serialize()`` output, as the triggerer rebuilds it;
- ``http``: HttpSensorTrigger from apache-airflow-providers-http on the same job URL (with the
  simulator's ``pending_status=404``, since a generic HTTP sensor can only wait for a status code);
- ``floor``: a bare shared httpx.AsyncClient issuing the same GETs with no provider logic.

Only the wait phase is measured: CPU seconds of the worker process per poll, peak RSS growth per
waiting job (sampled from /proc every 20 ms), HTTP requests the simulator received per poll, token
requests over the worker's whole run, and the delay between a job finishing in the simulator and
its waiter noticing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

VARIANTS = ("aep", "http", "floor")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
JOB_REQUEST = {
    "destination": {"datasetId": "5b7c86968f7b6501e21ba9df"},
    "schema": {"name": "_xdm.context.profile"},
    "filter": {"segments": [{"segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff"}]},
}


@dataclass
class Cell:
    variant: str
    waits: int
    polls: int
    requests: int
    token_requests: int
    cpu_seconds: float
    peak_rss_growth_bytes: int
    delays: list[float]

    @property
    def requests_per_poll(self) -> float:
        return self.requests / self.polls

    @property
    def cpu_per_poll_us(self) -> float:
        return self.cpu_seconds / self.polls * 1e6

    @property
    def rss_per_wait_kb(self) -> float:
        return self.peak_rss_growth_bytes / self.waits / 1024


# -- the worker: one variant, N waits -------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def simulator_counters(base_url: str) -> dict[str, int]:
    counters: dict[str, int] = httpx.get(f"{base_url}/_simulator/stats").json()["counters"]
    return counters


async def create_jobs(count: int) -> list[tuple[str, float]]:
    """(job id, creation time in UNIX seconds), made through the provider's hook."""
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    hook = AdobeExperiencePlatformHook()
    limit = asyncio.Semaphore(50)

    async def one() -> tuple[str, float]:
        async with limit:
            job = await hook.acreate_export_job(JOB_REQUEST)
            return job.id, (job.creation_time or 0) / 1000

    return list(await asyncio.gather(*(one() for _ in range(count))))


def counting(owner: Any, name: str, counter: list[int]) -> None:
    """Wrap ``owner.name`` (an async method) so each call, i.e. each poll, is counted."""
    original = getattr(owner, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return await original(*args, **kwargs)

    setattr(owner, name, counted)


def aep_waiters(jobs: list[tuple[str, float]], interval: float, polls: list[int]) -> list[AsyncIterator[Any]]:
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
    from airflow_provider_aep.sensors.export_job import ExportJobSensor
    from airflow_provider_aep.triggers.export_job import ExportJobTrigger

    counting(AdobeExperiencePlatformHook, "aget_export_job", polls)
    waiters = []
    for index, (job_id, _) in enumerate(jobs):
        sensor = ExportJobSensor(task_id=f"wait_{index}", job_id=job_id, deferrable=True, poke_interval=interval)
        try:
            sensor.execute({})
        except TaskDeferred as deferred:
            _, kwargs = deferred.trigger.serialize()
            waiters.append(ExportJobTrigger(**json.loads(json.dumps(kwargs))).run())
    return waiters


def http_waiters(
    jobs: list[tuple[str, float]], interval: float, polls: list[int], headers: dict[str, str]
) -> list[AsyncIterator[Any]]:
    from airflow.providers.http.hooks.http import HttpAsyncHook
    from airflow.providers.http.triggers.http import HttpSensorTrigger

    counting(HttpAsyncHook, "run", polls)
    return [
        HttpSensorTrigger(
            endpoint=f"/data/core/ups/export/jobs/{job_id}?pending_status=404",
            http_conn_id="aep_http",
            headers=headers,
            poke_interval=interval,
        ).run()
        for job_id, _ in jobs
    ]


def floor_waiters(
    jobs: list[tuple[str, float]], interval: float, polls: list[int], headers: dict[str, str], base_url: str
) -> tuple[list[AsyncIterator[Any]], Callable[[], Awaitable[None]]]:
    # httpx defaults, except no limit on waiting for a pooled connection: with the default 5 s, a
    # thousand simultaneous polls fail with PoolTimeout instead of giving a baseline.
    client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30.0, pool=None))

    async def wait(job_id: str) -> AsyncIterator[str]:
        url = f"{base_url}/data/core/ups/export/jobs/{job_id}"
        while True:
            polls[0] += 1
            response = await client.get(url)
            if response.json().get("status") in ("SUCCEEDED", "FAILED"):
                yield "done"
                return
            await asyncio.sleep(interval)

    return [wait(job_id) for job_id, _ in jobs], client.aclose


async def measure(variant: str, count: int, interval: float, job_seconds: float, base_url: str) -> Cell:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    tokens_before = simulator_counters(base_url).get("requests:token", 0)
    jobs = await create_jobs(count)
    settings = await AdobeExperiencePlatformHook().asettings()
    headers: dict[str, str] = {}
    if variant != "aep":  # the generic waiters need a token of their own, as their users would
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                settings.ims_token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": settings.client_id,
                    "client_secret": settings.client_secret,
                    "scope": settings.scopes,
                },
            )
        token = answer.json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": settings.client_id,
            "x-gw-ims-org-id": settings.org_id,
            "x-sandbox-name": settings.sandbox,
        }
    polls = [0]
    close: Callable[[], Awaitable[None]] | None = None
    if variant == "aep":
        waiters = aep_waiters(jobs, interval, polls)
    elif variant == "http":
        waiters = http_waiters(jobs, interval, polls, headers)
    else:
        waiters, close = floor_waiters(jobs, interval, polls, headers, base_url)

    gc.collect()
    baseline = peak = rss_bytes()
    requests_before = simulator_counters(base_url).get("requests", 0)
    finished_at: list[float] = []
    done = asyncio.Event()

    async def sample_rss() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            await asyncio.sleep(0.02)

    async def drain(waiter: AsyncIterator[Any]) -> None:
        async for _ in waiter:
            finished_at.append(time.time())

    sampler = asyncio.create_task(sample_rss())
    cpu_before = time.process_time()
    await asyncio.gather(*(drain(waiter) for waiter in waiters))
    cpu_seconds = time.process_time() - cpu_before
    done.set()
    await sampler
    if close is not None:
        await close()

    counters = simulator_counters(base_url)
    finish_times = sorted(created + job_seconds for _, created in jobs)
    return Cell(
        variant=variant,
        waits=count,
        polls=polls[0],
        requests=counters.get("requests", 0) - requests_before,
        token_requests=counters.get("requests:token", 0) - tokens_before,
        cpu_seconds=cpu_seconds,
        peak_rss_growth_bytes=peak - baseline,
        delays=[seen - finished for seen, finished in zip(sorted(finished_at), finish_times, strict=True)],
    )


# -- the orchestrator -----------------------------------------------------------------------------


def start_simulator(job_seconds: float) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_aep.simulator",
            "--port",
            "0",
            "--job-duration",
            str(job_seconds),
            "--print-connection",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    connection = json.loads(process.stdout.readline())
    for _ in range(200):
        try:
            httpx.get(f"{connection['host']}/_simulator/stats")
            break
        except httpx.ConnectError:
            time.sleep(0.05)
    return process, connection


def run_cell(variant: str, count: int, args: argparse.Namespace, connection: dict[str, Any]) -> Cell:
    env = {
        **os.environ,
        "AIRFLOW_CONN_AEP_DEFAULT": json.dumps(connection),
        "AIRFLOW_CONN_AEP_HTTP": json.dumps({"conn_type": "http", "host": connection["host"]}),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        __file__,
        "--worker",
        variant,
        "--sizes",
        str(count),
        "--poll-interval",
        str(args.poll_interval),
        "--job-seconds",
        str(args.job_seconds),
        "--simulator",
        connection["host"],
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{variant} with {count} waits failed:\n{result.stderr[-3000:]}")
    cell = Cell(**json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"  {variant} N={count}: {cell.polls} polls, {cell.cpu_per_poll_us:.0f} us CPU/poll", file=sys.stderr)
    return cell


def report(cells: list[Cell], args: argparse.Namespace) -> str:
    by_key = {(cell.variant, cell.waits): cell for cell in cells}
    lines = [
        f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * PAGE_SIZE / 2**30:.0f} GiB; "
        f"poll interval {args.poll_interval} s; each job finishes {args.job_seconds} s after creation",
        "",
        "| variant | waits | polls | HTTP req/poll | token req (run) | CPU us/poll | x floor | x http "
        "| peak RSS KB/wait | detect p50 s | detect max s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cell in cells:
        floor, generic = by_key[("floor", cell.waits)], by_key[("http", cell.waits)]
        lines.append(
            " | ".join(
                [
                    f"| {cell.variant}",
                    str(cell.waits),
                    str(cell.polls),
                    f"{cell.requests_per_poll:.2f}",
                    str(cell.token_requests),
                    f"{cell.cpu_per_poll_us:.0f}",
                    f"{cell.cpu_per_poll_us / floor.cpu_per_poll_us:.2f}",
                    f"{cell.cpu_per_poll_us / generic.cpu_per_poll_us:.2f}",
                    f"{cell.rss_per_wait_kb:.1f}",
                    f"{statistics.median(cell.delays):.2f}",
                    f"{max(cell.delays):.2f} |",
                ]
            )
        )
    lines += ["", "Targets for `aep` (measured in this run):"]
    for count in sorted({cell.waits for cell in cells}):
        aep, floor = by_key[("aep", count)], by_key[("floor", count)]
        checks = [
            ("exactly 1.0 HTTP request per poll", f"{aep.requests_per_poll:.3f}", aep.requests == aep.polls),
            ("exactly 1 token request for the run", str(aep.token_requests), aep.token_requests == 1),
            (
                "CPU per poll <= 1.5 x floor",
                f"{aep.cpu_per_poll_us / floor.cpu_per_poll_us:.2f} x",
                aep.cpu_per_poll_us <= 1.5 * floor.cpu_per_poll_us,
            ),
            (
                "detected within one poll interval + 1 s",
                f"max {max(aep.delays):.2f} s",
                max(aep.delays) <= args.poll_interval + 1,
            ),
        ]
        if count >= 1000:
            checks.append(
                ("peak RSS growth < 50 KB per wait", f"{aep.rss_per_wait_kb:.1f} KB", aep.rss_per_wait_kb < 50)
            )
        for name, value, met in checks:
            lines.append(f"- N={count}: {name}: {value} -> {'met' if met else 'MISSED'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--job-seconds", type=float, default=7.0)
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--simulator", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        cell = asyncio.run(measure(args.worker, args.sizes[0], args.poll_interval, args.job_seconds, args.simulator))
        print(json.dumps(asdict(cell)))
        return

    simulator, connection = start_simulator(args.job_seconds)
    try:
        cells = []
        for count in args.sizes:
            for variant in VARIANTS:
                print(f"measuring {variant} with {count} concurrent waits ...", file=sys.stderr, flush=True)
                cells.append(run_cell(variant, count, args, connection))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    print(report(cells, args))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
