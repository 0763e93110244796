"""How much N concurrent export-job waits cost a triggerer: ExportJobTrigger against the floor.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/triggerer_scale.py --sizes 1000 --poll-intervals 5``).

The simulator runs in its own process; its CPU is measured and reported, so that a reader can see it
was not the bottleneck. Each (variant, N, poll interval) cell runs in a fresh worker process, so one
cell's heap cannot hide or inflate another's. A worker creates N jobs that each finish a fixed time
after creation, then waits on all of them concurrently in one asyncio event loop, as a triggerer
does, with one of:

- ``aep``: the provider's ExportJobTrigger, built by ExportJobSensor's own ``defer`` and rebuilt
  from its ``serialize()`` output, as the triggerer rebuilds it;
- ``http``: HttpSensorTrigger from apache-airflow-providers-http on the same job URL (with the
  simulator's ``pending_status=404``, since a generic HTTP sensor can only wait for a status code);
- ``aiohttp``: the floor: one shared ``aiohttp.ClientSession`` issuing the same GETs and parsing the
  JSON, with no provider logic;
- ``httpx``: the same with one shared ``httpx.AsyncClient``.

The two bare variants spread their first polls over one interval, as the provider's trigger does
(``polling.first_pause``): waits that all poll at the same instant share event-loop iterations,
which lowers the CPU per poll but stalls the loop in bursts, and would make the floor a different
workload. ``HttpSensorTrigger`` polls as it does.

Only the wait phase is measured: CPU seconds of the worker per poll and as a share of one core, peak
RSS growth per wait, HTTP requests per poll, token requests over the worker's run, the delay between
a job finishing and its waiter noticing, the event loop's lag (a 100 ms ticker), garbage-collection
pauses, and the simulator's CPU. Cells of the smaller sizes run ``--repeats`` times, in alternating
variant order, and the report gives the median and the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_aep.wait.schedule import first_pause

VARIANTS = ("aep", "http", "aiohttp", "httpx")
CHART = "bench-triggerer-cpu-per-poll.png"
FLOOR = "aiohttp"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TICK = 0.1  # the loop-lag ticker's period, seconds
JOB_REQUEST = {
    "destination": {"datasetId": "5b7c86968f7b6501e21ba9df"},
    "schema": {"name": "_xdm.context.profile"},
    "filter": {"segments": [{"segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff"}]},
}


@dataclass
class Cell:
    variant: str
    waits: int
    interval: float
    polls: int
    requests: int
    token_requests: int
    cpu_seconds: float
    wall_seconds: float
    server_cpu_seconds: float
    peak_rss_growth_bytes: int
    delays: list[float]
    loop_lags: list[float] = field(repr=False)
    gc_pauses: list[tuple[int, float]] = field(repr=False)

    @property
    def requests_per_poll(self) -> float:
        return self.requests / self.polls

    @property
    def cpu_per_poll_us(self) -> float:
        return self.cpu_seconds / self.polls * 1e6

    @property
    def core_share(self) -> float:
        return self.cpu_seconds / self.wall_seconds

    @property
    def server_core_share(self) -> float:
        return self.server_cpu_seconds / self.wall_seconds

    @property
    def rss_per_wait_kb(self) -> float:
        return self.peak_rss_growth_bytes / self.waits / 1024

    def lag_ms(self, quantile: float) -> float:
        return _quantile(self.loop_lags, quantile) * 1000

    def detection_s(self, quantile: float) -> float:
        return _quantile(self.delays, quantile)

    @property
    def full_gc_pause_max_ms(self) -> float:
        return max((pause for generation, pause in self.gc_pauses if generation == 2), default=0.0) * 1000

    @property
    def gc_pause_max_ms(self) -> float:
        return max((pause for _, pause in self.gc_pauses), default=0.0) * 1000


def _quantile(values: list[float], quantile: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(int(quantile * len(ordered)), len(ordered) - 1)]


# -- the worker: one variant, N waits -------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


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
    from tests.task_context import task_context

    counting(AdobeExperiencePlatformHook, "apoll_export_job", polls)
    waiters = []
    for index, (job_id, _) in enumerate(jobs):
        sensor = ExportJobSensor(task_id=f"wait_{index}", job_id=job_id, deferrable=True, poke_interval=interval)
        try:
            sensor.execute(task_context())  # checks the job once (before the measurement), then defers
            raise SystemExit(f"job {job_id} finished before its sensor deferred: make the jobs last longer")
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


def httpx_waiters(
    jobs: list[tuple[str, float]], interval: float, polls: list[int], headers: dict[str, str], base_url: str
) -> tuple[list[AsyncIterator[Any]], Callable[[], Awaitable[None]]]:
    # httpx defaults, except no limit on waiting for a pooled connection: with the default 5 s, a
    # thousand simultaneous polls fail with PoolTimeout instead of giving a baseline.
    client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30.0, pool=None))

    async def wait(job_id: str) -> AsyncIterator[str]:
        url = f"{base_url}/data/core/ups/export/jobs/{job_id}"
        await asyncio.sleep(first_pause(None, interval))  # spread as the provider's trigger spreads
        while True:
            polls[0] += 1
            response = await client.get(url)
            if response.json().get("status") in ("SUCCEEDED", "FAILED"):
                yield "done"
                return
            await asyncio.sleep(interval)

    return [wait(job_id) for job_id, _ in jobs], client.aclose


def aiohttp_waiters(
    jobs: list[tuple[str, float]], interval: float, polls: list[int], headers: dict[str, str], base_url: str
) -> tuple[list[AsyncIterator[Any]], Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(headers=headers)

    async def wait(job_id: str) -> AsyncIterator[str]:
        url = f"{base_url}/data/core/ups/export/jobs/{job_id}"
        await asyncio.sleep(first_pause(None, interval))  # spread as the provider's trigger spreads
        while True:
            polls[0] += 1
            async with session.get(url) as response:
                body = await response.json()
            if body.get("status") in ("SUCCEEDED", "FAILED"):
                yield "done"
                return
            await asyncio.sleep(interval)

    return [wait(job_id) for job_id, _ in jobs], session.close


async def bearer_headers(settings: Any) -> dict[str, str]:
    """What the generic waiters' users would put in their headers: a token fetched by hand."""
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
    return {
        "Authorization": f"Bearer {answer.json()['access_token']}",
        "x-api-key": settings.client_id,
        "x-gw-ims-org-id": settings.org_id,
        "x-sandbox-name": settings.sandbox,
    }


async def measure(
    variant: str,
    count: int,
    interval: float,
    job_seconds: float,
    base_url: str,
    simulator_pid: int,
    profile: Path | None = None,
) -> Cell:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    tokens_before = simulator_counters(base_url).get("requests:token", 0)
    jobs = await create_jobs(count)
    headers = {} if variant == "aep" else await bearer_headers(await AdobeExperiencePlatformHook().asettings())
    polls = [0]
    close: Callable[[], Awaitable[None]] | None = None
    if variant == "aep":
        waiters = aep_waiters(jobs, interval, polls)
    elif variant == "http":
        waiters = http_waiters(jobs, interval, polls, headers)
    elif variant == "httpx":
        waiters, close = httpx_waiters(jobs, interval, polls, headers, base_url)
    else:
        waiters, close = aiohttp_waiters(jobs, interval, polls, headers, base_url)

    gc.collect()
    baseline = peak = rss_bytes()
    requests_before = simulator_counters(base_url).get("requests", 0)
    finished_at: list[float] = []
    lags: list[float] = []
    pauses: list[tuple[int, float]] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - gc_started[0]))

    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        """Wakes every 100 ms: how late it wakes is the loop's lag; it also samples the RSS."""
        nonlocal peak
        while not done.is_set():
            started = loop.time()
            await asyncio.sleep(TICK)
            lags.append(max(loop.time() - started - TICK, 0.0))
            peak = max(peak, rss_bytes())

    async def drain(waiter: AsyncIterator[Any]) -> None:
        async for _ in waiter:
            finished_at.append(time.time())

    gc.callbacks.append(on_gc)
    sampler = asyncio.create_task(ticker())
    profiler = cProfile.Profile() if profile else None
    server_before, wall_before, cpu_before = process_cpu_seconds(simulator_pid), time.monotonic(), time.process_time()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(drain(waiter) for waiter in waiters))
    if profiler:
        profiler.disable()
    cpu_seconds, wall_seconds = time.process_time() - cpu_before, time.monotonic() - wall_before
    server_cpu_seconds = process_cpu_seconds(simulator_pid) - server_before
    done.set()
    await sampler
    gc.callbacks.remove(on_gc)
    if close is not None:
        await close()

    if profiler and profile:
        write_profile(profiler, profile / f"{variant}-{count}-{interval:g}s.txt", polls[0])
    counters = simulator_counters(base_url)
    finish_times = sorted(created + job_seconds for _, created in jobs)
    return Cell(
        variant=variant,
        waits=count,
        interval=interval,
        polls=polls[0],
        requests=counters.get("requests", 0) - requests_before,
        token_requests=counters.get("requests:token", 0) - tokens_before,
        cpu_seconds=cpu_seconds,
        wall_seconds=wall_seconds,
        server_cpu_seconds=server_cpu_seconds,
        peak_rss_growth_bytes=peak - baseline,
        delays=[seen - finished for seen, finished in zip(sorted(finished_at), finish_times, strict=True)],
        loop_lags=lags,
        gc_pauses=pauses,
    )


def write_profile(profiler: cProfile.Profile, path: Path, polls: int) -> None:
    """The wait phase's top functions by own time, per poll, for docs/benchmarks.md's before/after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stats = pstats.Stats(profiler)
    # The loop's wait for sockets (epoll) is idle time, not work: left out of the totals.
    entries = {key: entry for key, entry in stats.stats.items() if "select.epoll" not in key[2]}  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values())
    rows = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)
    per_poll = 1e6 / max(polls, 1)
    packages: dict[str, float] = {}
    for (filename, _, function), entry in rows:
        package = _package_of(filename, function)
        packages[package] = packages.get(package, 0.0) + entry[2]
    lines = [f"{polls} polls; profiled busy time {total * per_poll:.0f} us per poll (idle epoll waits left out)"]
    lines += ["", "by package:"]
    for package, own in sorted(packages.items(), key=lambda item: item[1], reverse=True)[:15]:
        lines.append(f"{own * per_poll:8.1f} us/poll {own / total:6.1%}  {package}")
    lines += ["", "by function:"]
    for (filename, line, function), (_, calls, own, _, _) in rows[:40]:
        where = f"{Path(filename).name}:{line}({function})" if line else function
        lines.append(f"{own * per_poll:8.1f} us/poll {own / total:6.1%} {calls:>9} calls  {where}")
    path.write_text("\n".join(lines) + "\n")


def _package_of(filename: str, function: str) -> str:
    """Where a profiled function lives: a site-packages distribution, the provider, the stdlib, or C."""
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    if "airflow_provider_aep/" in filename:
        return "airflow_provider_aep/" + filename.split("airflow_provider_aep/")[1]
    if filename == "~":
        return "built-in: " + function.split(" of ")[0].strip("<>")
    return "stdlib: " + Path(filename).stem


# -- the orchestrator -----------------------------------------------------------------------------


def job_seconds_for(interval: float, count: int) -> float:
    """Long enough for three polls of every wait, plus the time to create and check them all."""
    return 3 * interval + 2 + count / 200


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


def run_cell(
    variant: str,
    count: int,
    interval: float,
    simulator: subprocess.Popen[str],
    connection: dict[str, Any],
    profile: Path | None = None,
) -> Cell:
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
        "--poll-intervals",
        str(interval),
        "--simulator",
        connection["host"],
        "--simulator-pid",
        str(simulator.pid),
        *(["--profile", str(profile)] if profile else []),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{variant} with {count} waits failed:\n{result.stderr[-3000:]}")
    cell = Cell(**json.loads(result.stdout.strip().splitlines()[-1]))
    print(
        f"  {variant} N={count} every {interval:g} s: {cell.polls} polls, {cell.cpu_per_poll_us:.0f} us CPU/poll",
        file=sys.stderr,
        flush=True,
    )
    return cell


def paired_ratios(mine: list[Cell], others: list[Cell]) -> list[float]:
    """CPU per poll over the other variant's, run by run: each pair was measured in the same round."""
    if not others:
        return []
    return [a.cpu_per_poll_us / b.cpu_per_poll_us for a, b in zip(mine, others, strict=True)]


def _spread(values: list[float], digits: int = 0) -> str:
    middle = statistics.median(values)
    if len(values) == 1:
        return f"{middle:.{digits}f}"
    return f"{middle:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def report(cells: list[Cell]) -> str:
    lines = [
        f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * PAGE_SIZE / 2**30:.0f} GiB; "
        "each job finishes 3 poll intervals + 2 s + N/200 s after creation; medians, (min-max) over repeats",
        "",
        "| poll s | waits | variant | runs | CPU us/poll | x aiohttp floor | x http | % of a core | HTTP req/poll "
        "| token req | KB/wait | detect p50 / p99 s | loop lag p99 / max ms | GC max ms (full) | server % core |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    groups = sorted({(cell.interval, cell.waits) for cell in cells})
    for interval, waits in groups:
        group = [cell for cell in cells if (cell.interval, cell.waits) == (interval, waits)]
        runs = {variant: [cell for cell in group if cell.variant == variant] for variant in VARIANTS}
        for variant in VARIANTS:
            mine = runs[variant]
            if not mine:
                continue
            ratios = {other: paired_ratios(mine, runs[other]) for other in (FLOOR, "http")}
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"{interval:g}",
                        str(waits),
                        variant,
                        str(len(mine)),
                        _spread([cell.cpu_per_poll_us for cell in mine]),
                        _spread(ratios[FLOOR], 2) if ratios[FLOOR] else "-",
                        _spread(ratios["http"], 2) if ratios["http"] else "-",
                        _spread([100 * cell.core_share for cell in mine], 1),
                        _spread([cell.requests_per_poll for cell in mine], 2),
                        str(max(cell.token_requests for cell in mine)),
                        _spread([cell.rss_per_wait_kb for cell in mine], 1),
                        f"{statistics.median(c.detection_s(0.5) for c in mine):.2f} / "
                        f"{statistics.median(c.detection_s(0.99) for c in mine):.2f}",
                        f"{statistics.median(c.lag_ms(0.99) for c in mine):.0f} / "
                        f"{max(c.lag_ms(1.0) for c in mine):.0f}",
                        f"{max(c.gc_pause_max_ms for c in mine):.0f} ({max(c.full_gc_pause_max_ms for c in mine):.0f})",
                        _spread([100 * cell.server_core_share for cell in mine], 1),
                    ]
                )
                + " |"
            )
    lines += ["", "Targets for `aep` (issue 14), as measured in this run:"]
    for (interval, waits), name, value, met in target_checks(cells):
        lines.append(f"- N={waits}, every {interval:g} s: {name}: {value} -> {'met' if met else 'MISSED'}")
    return "\n".join(lines)


def target_checks(cells: list[Cell]) -> list[tuple[tuple[float, int], str, str, bool]]:
    checks: list[tuple[tuple[float, int], str, str, bool]] = []
    for key in sorted({(cell.interval, cell.waits) for cell in cells}):
        interval, waits = key
        runs = {
            variant: [c for c in cells if (c.interval, c.waits, c.variant) == (interval, waits, variant)]
            for variant in VARIANTS
        }
        aep = runs["aep"]
        if not aep:
            continue
        checks.append(
            (
                key,
                "exactly 1.0 HTTP request per poll",
                f"{max(c.requests_per_poll for c in aep):.3f}",
                all(c.requests == c.polls for c in aep),
            )
        )
        checks.append(
            (
                key,
                "one token request per process",
                str(max(c.token_requests for c in aep)),
                all(c.token_requests == 1 for c in aep),
            )
        )
        checks.append(
            (
                key,
                "under 20 KB per wait",
                f"{max(c.rss_per_wait_kb for c in aep):.1f} KB",
                all(c.rss_per_wait_kb < 20 for c in aep),
            )
        )
        if waits == 1000 and interval == 5:
            for other, bound in ((FLOOR, 1.3), ("http", 0.5)):
                if runs[other]:
                    ratio = statistics.median(paired_ratios(aep, runs[other]))
                    checks.append((key, f"CPU per poll <= {bound} x {other}", f"{ratio:.2f} x", ratio <= bound))
        if waits >= 10000 and interval >= 30:
            share = max(c.core_share for c in aep)
            checks.append((key, "under 25 % of a core", f"{100 * share:.1f} %", share < 0.25))
            late = max(c.detection_s(1.0) for c in aep)
            checks.append((key, "detection within the interval + 0.5 s", f"max {late:.2f} s", late <= interval + 0.5))
            lag = max(c.lag_ms(0.99) for c in aep)
            checks.append((key, "loop lag p99 under 50 ms", f"{lag:.0f} ms", lag < 50))
    return checks


def plan(sizes: list[int], intervals: list[float], repeats: int, variants: list[str]) -> list[tuple[float, int, str]]:
    """Cells in run order: the small sizes repeated, each repeat in the other order, so drift cancels."""
    cells = []
    for interval in intervals:
        for count in sizes:
            rounds = repeats if count <= 1000 else 1
            for round_ in range(rounds):
                order = variants if round_ % 2 == 0 else list(reversed(variants))
                cells += [(interval, count, variant) for variant in order]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--poll-intervals", type=float, nargs="+", default=[5.0, 30.0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each cell with N <= 1000")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--json", type=Path, help="also write every cell's raw figures here")
    parser.add_argument("--charts", type=Path, help="also draw the run's chart into this folder (needs matplotlib)")
    parser.add_argument(
        "--profile", type=Path, help="profile each cell's wait phase; write its top entries to this directory"
    )
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--simulator", help=argparse.SUPPRESS)
    parser.add_argument("--simulator-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        interval = args.poll_intervals[0]
        cell = asyncio.run(
            measure(
                args.worker,
                args.sizes[0],
                interval,
                job_seconds_for(interval, args.sizes[0]),
                args.simulator,
                args.simulator_pid,
                args.profile,
            )
        )
        print(json.dumps(asdict(cell)))
        return

    cells: list[Cell] = []
    for interval in args.poll_intervals:
        for count in args.sizes:
            simulator, connection = start_simulator(job_seconds_for(interval, count))
            try:
                for _, _, variant in plan([count], [interval], args.repeats, args.variants):
                    print(
                        f"measuring {variant} with {count} waits every {interval:g} s ...", file=sys.stderr, flush=True
                    )
                    cells.append(run_cell(variant, count, interval, simulator, connection, args.profile))
            finally:
                simulator.terminate()
                simulator.wait(timeout=10)
    if args.json:
        args.json.write_text(json.dumps([asdict(cell) for cell in cells]))
    print(report(cells))
    if args.charts:
        from benchmarks.charts import cpu_per_poll

        print(f"chart: {cpu_per_poll([asdict(cell) for cell in cells], args.charts / CHART)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
