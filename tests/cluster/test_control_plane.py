"""The control plane failing under a fan-out: schedulers killed, the metadata database restarted,
the broker restarted with tasks queued, a triggerer killed while download waits hold, and a worker
killed in the middle of a large download. Each scenario ends as the others in this folder do:
every export job created once, every outcome true, every landed file byte for byte AEP's under a
manifest written last (see fanout.settle), with its figures in docs/reliability.md.

Components that exit on their own (a scheduler or triggerer that lost the database) are started
again by a supervisor (Cluster.supervised), as systemd or Kubernetes would in production; the
components a test kills stay down until the test starts them.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from airflow_provider_aep.simulator import Fault, Scenario, SimulatorState
from airflow_provider_aep.transfers.manifest import MANIFEST_NAME
from airflow_provider_aep.transfers.resume import CHECK_BYTES
from tests.cluster.cluster import Cluster
from tests.cluster.conftest import FIGURES
from tests.cluster.deployment import SCHEDULERS, WORKERS, settings
from tests.cluster.fanout import (
    DOWNLOAD,
    FANOUT,
    LEAN,
    LEAN_CREATE,
    LEAN_DOWNLOAD,
    TASKS,
    all_deferred,
    batch_ids,
    created_job_ids,
    exported_files,
    fan_out,
    settle,
    taken_over,
)
from tests.e2e.airflow_stack import wait_until

EXPORTS = 20  # one fan-out per scenario, in the recommended shape
MIB = 1024 * 1024
# Each download is held this long by the simulator (under the DAG's 10 s request timeout), so
# that a failure can land while downloads run.
DOWNLOAD_HOLD = 6.0
# [scheduler] task_queued_timeout: a task whose broker message was lost is queued again after it.
QUEUED_TIMEOUT = float(settings("", "", "")["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"])
DATABASE_DOWN = 10.0  # seconds without a database, as a failover takes


def now() -> datetime:
    return datetime.now(timezone.utc)


def lean_fan_out(cluster: Cluster, sim: SimulatorState) -> str:
    """Jobs that end at their fourth status check, with batches loading for two more, and downloads
    that take ``DOWNLOAD_HOLD`` seconds each."""
    sim.default_scenario = Scenario(polls_to_finish=4, batch_checks_to_ready=2)
    sim.inject(Fault("slow", route="file_download", delay=DOWNLOAD_HOLD, times=None))
    return cluster.stack.trigger(LEAN, {"segments": EXPORTS})


def in_state(cluster: Cluster, run_id: str, task_id: str, *states: str) -> int:
    """Instances of a task in any of ``states``, in a run of the recommended shape (every scenario
    here but the last one starts such a run)."""
    return sum(state in states for state in cluster.task_column(LEAN, run_id, task_id, "state").values())


def moved_after(cluster: Cluster, run_id: str, moment: datetime) -> float:
    """Seconds from ``moment`` to the run's next event (a task queued, started, deferred, retried or
    ended, as the task instances and Airflow's event log record them): how long the deployment
    stood still. Read once the run is over, so there is always one."""
    ((first,),) = cluster.query(
        "SELECT min(t) FROM ("
        " SELECT dttm AS t FROM log WHERE dag_id = %s AND run_id = %s"
        " UNION ALL SELECT t FROM task_instance, LATERAL (VALUES (queued_dttm), (start_date), (end_date)) AS v (t)"
        " WHERE dag_id = %s AND run_id = %s) AS events WHERE t > %s",
        LEAN,
        run_id,
        LEAN,
        run_id,
        moment,
    )
    assert first is not None, f"nothing of run {run_id} happened after {moment}"
    return round(float((first - moment).total_seconds()), 1)


def queued_between(cluster: Cluster, run_id: str, start: datetime, end: datetime) -> int:
    """The run's task instances queued in that span (by their latest try)."""
    ((count,),) = cluster.query(
        "SELECT count(*) FROM task_instance"
        " WHERE dag_id = %s AND run_id = %s AND queued_dttm >= %s AND queued_dttm < %s",
        LEAN,
        run_id,
        start,
        end,
    )
    return int(count)


def queued_by(cluster: Cluster, run_id: str) -> Counter[str]:
    """Scheduler component -> the run's task instances it queued (as their latest try records)."""
    rows = cluster.query(
        "SELECT j.hostname, count(*) FROM task_instance ti JOIN job j ON ti.queued_by_job_id = j.id"
        " WHERE ti.dag_id = %s AND ti.run_id = %s GROUP BY j.hostname",
        LEAN,
        run_id,
    )
    return Counter(dict(rows))  # type: ignore[arg-type]


def stuck_in_queued(cluster: Cluster, run_id: str) -> int:
    """How often the scheduler found a task of the run queued past ``task_queued_timeout`` (its
    message lost) and queued it again."""
    ((count,),) = cluster.query(
        "SELECT count(*) FROM log WHERE dag_id = %s AND run_id = %s AND event = 'stuck in queued reschedule'",
        LEAN,
        run_id,
    )
    return int(count)


def held_create(sim: SimulatorState) -> str | None:
    """The request id of the create whose answer the simulator holds (its ``slow`` fault), once
    it has come: the job with that request id is the one whose try learns its id late."""
    held = [r.request_id for r in list(sim.requests) if r.route == "create" and r.fault == "slow"]
    return held[0] if held else None


def batch_checks(sim: SimulatorState, batches: set[str]) -> int:
    """Status checks of those batches so far (a batch wait's polls)."""
    return sum(r.route == "batch_get" and r.path.rsplit("/", 1)[-1] in batches for r in list(sim.requests))


def test_schedulers_killed_one_after_the_other_mid_fan_out(cluster: Cluster, sim: SimulatorState) -> None:
    with cluster.supervised() as restarts:
        run_id = lean_fan_out(cluster, sim)
        # The first kill lands while the creates are being queued and run: the scheduler that
        # queued the most of them goes.
        wait_until(lambda: sim.count("jobs_created") >= 3, 300, "the first creates to reach AEP", interval=0.2)
        holding = queued_by(cluster, run_id)
        first = max(SCHEDULERS, key=lambda name: holding[name])
        second = next(name for name in SCHEDULERS if name != first)
        assert holding[first] > 0, holding  # it held part of the fan-out when it died
        outages = []
        killed = now()
        with cluster.down(first):
            # It stays down until the other has queued downloads, which exist only once jobs end.
            wait_until(lambda: sim.in_flight["file_download"] > 0, 300, "the first downloads", interval=0.2)
        outages.append((first, "while the creates ran", killed, now()))
        # The second, while downloads run: the first, back, queues the rest.
        killed = now()
        with cluster.down(second):
            wait_until(lambda: in_state(cluster, run_id, LEAN_DOWNLOAD, "success") == EXPORTS, 300, "every download")
        outages.append((second, "while downloads ran", killed, now()))
        assert cluster.stack.wait_for_run(LEAN, run_id, timeout=900) == "success", cluster.stack.logs()
        seconds = (now() - outages[0][2]).total_seconds()
    events = {
        f"{name} SIGKILLed {when}, down {(back - down).total_seconds():.0f} s: tasks the other queued meanwhile": (
            queued_between(cluster, run_id, down, back)
        )
        for name, when, down, back in outages
    }
    # The first outage outlasted the creates: the downloads running at its end were queued by the
    # other scheduler alone.
    assert next(iter(events.values())) >= 1, events
    # Losing a scheduler costs no task a try: the other schedules on, and what runs goes on.
    tries = {
        task_id: Counter(cluster.task_column(LEAN, run_id, task_id, "try_number").values()) for task_id in TASKS[LEAN]
    }
    assert all(set(counts) == {1} for counts in tries.values()), tries
    figures = settle(cluster, sim, run_id, EXPORTS)
    FIGURES["schedulers killed"] = {
        "runs / mapped exports": f"1 / {EXPORTS}",
        f"task instances {first} had queued when SIGKILLed": holding[first],
        **events,
        "components restarted by the supervisor": [name for _, name in restarts] or "none",
        "tries by task": {task_id: dict(counts) for task_id, counts in tries.items()},
        **figures,
        "seconds from the first kill to run success": round(seconds),
    }


def test_the_database_restarted_while_waits_defer_and_while_downloads_run(
    cluster: Cluster, sim: SimulatorState
) -> None:
    events: dict[str, Any] = {}
    with cluster.supervised() as restarts:
        # Half the creates go through; the next one's answer is held 5 s after AEP made its job, and
        # the database goes down inside that hold: the try learns its job's id with no database to
        # keep it in or to defer on.
        sim.inject(Fault("slow", route="create", delay=5, after_handling=True, after=EXPORTS // 2))
        run_id = lean_fan_out(cluster, sim)
        wait_until(lambda: held_create(sim) is not None, 300, "a create to be held", interval=0.1)
        events["creates deferred / created at the first restart"] = (
            f"{in_state(cluster, run_id, LEAN_CREATE, 'deferred')} / {sim.count('jobs_created')}"
        )
        down, returned = [time.monotonic()], []
        cluster.database.restart(down_for=DATABASE_DOWN)
        returned.append(now())
        wait_until(lambda: sim.in_flight["file_download"] > 0, 600, "the first downloads", interval=0.2)
        events["downloads running at the second restart"] = sim.in_flight["file_download"]
        down.append(time.monotonic())
        cluster.database.restart(down_for=DATABASE_DOWN)
        returned.append(now())
        assert cluster.stack.wait_for_run(LEAN, run_id, timeout=900) == "success", cluster.stack.logs()
        seconds = (now() - returned[-1]).total_seconds()
    events["seconds from each return of the database to the run's next event"] = [
        moved_after(cluster, run_id, moment) for moment in returned
    ]
    creates = cluster.task_column(LEAN, run_id, LEAN_CREATE, "try_number")
    tries = Counter(creates.values())
    (held,) = (job_id for job_id, job in sim.jobs.items() if job.request_id == held_create(sim))
    (segment,) = sim.jobs[held].body["filter"]["segments"]
    held_index = int(segment["segmentId"].rsplit("-", 1)[1])  # the DAG's segment ids end in their index
    downloads = Counter(cluster.task_column(LEAN, run_id, LEAN_DOWNLOAD, "try_number").values())
    figures = settle(cluster, sim, run_id, EXPORTS)
    FIGURES["database restarted"] = {
        "runs / mapped exports": f"1 / {EXPORTS}",
        "seconds down, each time": DATABASE_DOWN,
        **events,
        "components restarted by the supervisor (s after the database went down)": [
            f"{name} {at - max((moment for moment in down if moment <= at), default=at):.0f}" for at, name in restarts
        ],
        "creates by try number": dict(sorted(tries.items())),
        "tries of the create answered while the database was down (one job)": creates[held_index],
        "tasks queued again after task_queued_timeout": stuck_in_queued(cluster, run_id),
        "downloads by try number": dict(sorted(downloads.items())),
        **figures,
        "seconds from the second return to run success": round(seconds),
    }


def test_the_broker_restarted_with_the_creates_queued(cluster: Cluster, sim: SimulatorState) -> None:
    sim.default_scenario = Scenario(polls_to_finish=4)
    # The dataset's lookup and creation are held, so the workers can be frozen while it runs.
    sim.inject(Fault("slow", route="dataset_list", delay=8, times=2), Fault("slow", route="dataset_create", delay=8))
    mains = [cluster.stack.processes[name].pid for name in WORKERS]
    with cluster.supervised() as restarts:
        run_id = cluster.stack.trigger(LEAN, {"segments": EXPORTS})
        wait_until(
            lambda: (
                cluster.task_column(LEAN, run_id, "segment_lists", "state").get(-1) == "success"
                and sim.in_flight["dataset_list"] + sim.in_flight["dataset_create"] > 0
            ),
            120,
            "the segment list, with the dataset held",
            interval=0.2,
        )
        # The workers' Celery consumers stop taking messages; the tasks they run go on.
        for pid in mains:
            os.kill(pid, signal.SIGSTOP)
        try:
            wait_until(lambda: in_state(cluster, run_id, LEAN_CREATE, "queued") == EXPORTS, 120,
                       "every create to be queued")  # fmt: skip
            cluster.broker.restart(down_for=1)  # and every message it held is gone
            restarted = now()
        finally:
            for pid in mains:
                os.kill(pid, signal.SIGCONT)
        assert cluster.stack.wait_for_run(LEAN, run_id, timeout=900) == "success", cluster.stack.logs()
        seconds = (now() - restarted).total_seconds()
    requeued = stuck_in_queued(cluster, run_id)
    # Every create was queued after the consumers froze, so no worker held any of them: each
    # message was lost, and each create ran only because the scheduler queued it again.
    assert requeued >= EXPORTS, requeued
    figures = settle(cluster, sim, run_id, EXPORTS)
    FIGURES["broker restarted"] = {
        "runs / mapped exports": f"1 / {EXPORTS}",
        "creates queued, none taken by a worker, when the broker lost its messages": EXPORTS,
        "creates queued again by the scheduler after task_queued_timeout": requeued,
        "task_queued_timeout (s)": QUEUED_TIMEOUT,
        "components restarted by the supervisor": [name for _, name in restarts] or "none",
        **figures,
        "seconds from the restart to run success": round(seconds),
    }


def test_a_triggerer_killed_under_batch_waits_then_a_worker_killed_mid_download(
    cluster: Cluster, sim: SimulatorState
) -> None:
    files, size, stall = 3, 160 * MIB, 100 * MIB
    # Two exports whose batches stay "loading" until the test says so: a small one, and one of
    # three 160 MiB files. Each job ends at its sensor's third check.
    loading = 10**9
    sim.queue_scenarios(
        Scenario(polls_to_finish=3, batch_checks_to_ready=loading),
        Scenario(polls_to_finish=3, batch_checks_to_ready=loading, files_per_batch=files, file_size=size),
    )
    run_id = fan_out(cluster, 2)
    waits = all_deferred(cluster, run_id, 2, DOWNLOAD)
    names = cluster.triggerer_of_job()
    holding = Counter(names[job] for job in waits.values())
    victim = holding.most_common(1)[0][0]
    victim_jobs = {job for job, name in names.items() if name == victim}
    # The batches of the waits the victim holds: their checks after the take-over are the moved waits'.
    created = created_job_ids(cluster, run_id)
    moved = {
        batch for index, job in waits.items() if job in victim_jobs for batch in batch_ids(sim, int(created[index]))
    }
    checks_before = batch_checks(sim, moved)
    with cluster.down(victim):
        takeover = taken_over(cluster, run_id, 2, DOWNLOAD, frozenset(victim_jobs))
        wait_until(lambda: batch_checks(sim, moved) > checks_before, 60, "the moved waits to check their batches")
    index_of = {int(job_id): index for index, job_id in created.items()}
    (small,) = (job_id for job_id, job in sim.jobs.items() if job.scenario.file_size is None)
    (large,) = (job_id for job_id, job in sim.jobs.items() if job.scenario.file_size == size)
    # The small export's batches become readable: it lands.
    sim.jobs[small].scenario = replace(sim.jobs[small].scenario, batch_checks_to_ready=0)
    wait_until(lambda: cluster.task_column(FANOUT, run_id, DOWNLOAD, "state").get(index_of[small]) == "success",
               120, "the small export to land")  # fmt: skip
    # Then the large one's: its second file stalls 100 MiB in, and the worker dies while it is
    # stalled, once the other two files are complete (well within the DAG's 10 s request timeout,
    # after which the try itself would resume the file).
    sim.inject(Fault("slow", route="file_download", after_bytes=stall, delay=120, after=1))
    served_before = sim.count("bytes:file_download")
    sim.jobs[large].scenario = replace(sim.jobs[large].scenario, batch_checks_to_ready=0)
    wait_until(lambda: sim.count("interrupted:file_download") == 1, 300, "the download to stall", interval=0.1)
    stalled_at = time.monotonic()
    wait_until(
        lambda: (
            sim.count("bytes:file_download") - served_before >= (files - 1) * size + stall
            or time.monotonic() - stalled_at > 5
        ),
        10,
        "the other files",
        interval=0.1,
    )
    worker = cluster.task_column(FANOUT, run_id, DOWNLOAD, "hostname")[index_of[large]]
    assert worker in WORKERS, worker
    with cluster.down(worker):
        killed_at = time.monotonic()
        folder = cluster.exports / next(iter(sim.datasets)) / str(large)
        left = {path.name: path.stat().st_size for path in folder.rglob("*") if path.is_file()}
        assert MANIFEST_NAME not in left  # removed before the first file was touched, written last
        served_at_kill = sim.count("bytes:file_download")
        # What the simulator had sent of the large export that the worker had not written: it died
        # with it in the sockets' buffers and its own, so the retry fetches it again.
        in_flight = served_at_kill - served_before - sum(left.values())
    assert cluster.stack.wait_for_run(FANOUT, run_id, timeout=600) == "success", cluster.stack.logs()
    recovered = time.monotonic() - killed_at
    refetched = sim.count("bytes:file_download") - served_at_kill
    # The retry read the complete files from disk, and fetched the rest of each partial one, with
    # 64 KiB of overlap where it kept a prefix (or all of it, where too little was there to keep).
    present = [left.get(file.name, 0) for file in exported_files(sim, large).values()]
    partial = [have for have in present if have < size]
    expected = sum(size - have + CHECK_BYTES if have > CHECK_BYTES else size for have in partial)
    assert partial, left  # the stalled file, at least
    assert len(partial) < files, left  # and a complete one, which the retry only reads
    assert refetched == expected, (left, refetched)
    assert cluster.task_column(FANOUT, run_id, DOWNLOAD, "try_number")[index_of[large]] == 2
    figures = settle(cluster, sim, run_id, 2, dag_id=FANOUT)
    FIGURES["batch waits, then a download killed"] = {
        "runs / mapped exports": "1 / 2",
        "batch waits held per triggerer at the kill": dict(sorted(holding.items())),
        "seconds from SIGKILL to every batch wait held again": round(takeover, 1),
        "the large export": f"{files} files of {size // MIB} MiB",
        "files on disk at the worker's kill (MiB)": {name: round(have / MIB, 1) for name, have in left.items()},
        "bytes the retry fetched (the partial file's rest, and 64 KiB it had)": f"{refetched:,} of {files * size:,}",
        "bytes sent before the kill that had not reached the disk": f"{in_flight:,}",
        "seconds from the worker's SIGKILL to run success": round(recovered),
        **figures,
    }
