"""The provider's promises in a production-shaped deployment (see cluster.py): one dataset and one
job per task instance, every exported file landed whole, no false outcome, cancel when a wait is
stopped, waits that outlive their triggerer, one token per host, and two task processes per export
in the recommended shape. Each scenario asserts
through the simulator's records and the metadata database, and reports its figures (see
conftest.FIGURES, docs/reliability.md).

The tests run in file order on one cluster: the fan-out comes first, while no host holds a token.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any, get_args

import pytest

from airflow_provider_aep.simulator import Fault, Scenario, SimulatorState
from airflow_provider_aep.simulator.state import Route
from tests.cluster.background import repeating
from tests.cluster.cluster import Cluster
from tests.cluster.conftest import FIGURES, ISSUED_TOKENS
from tests.cluster.cost import Cost
from tests.cluster.deployment import TRIGGERERS, WORKERS, pool_command
from tests.cluster.fanout import (
    CREATE,
    DOWNLOAD,
    FANOUT,
    LEAN,
    LEAN_CREATE,
    LEAN_DOWNLOAD,
    TAKEOVER_THRESHOLD,
    WAIT,
    all_deferred,
    created_job_ids,
    duplicate_jobs,
    fan_out,
    landed_files,
    lost_ids,
    taken_over,
)
from tests.e2e.airflow_stack import wait_until
from tests.reliability.soak import FAULTS

LONG_WAIT = "aep_cluster_long_wait"
POOLED = "aep_cluster_pooled"
ROUTES = get_args(Route)


def tokens_by_process(state: SimulatorState) -> Counter[str | None]:
    return Counter(record.client for record in state.requests if record.route == "token")


def token_figures(tokens: Counter[str | None]) -> dict[str, Any]:
    per_component: dict[str, list[int]] = defaultdict(list)
    for client, count in tokens.items():
        per_component[str(client).split(" ")[0]].append(count)
    return {
        "token requests": sum(tokens.values()),
        "token requests per process (component: processes, most by one)": {
            component: (len(counts), max(counts)) for component, counts in sorted(per_component.items())
        },
    }


def cost_figures(cost: Cost, exports: int) -> dict[str, Any]:
    return {
        "task processes (per export)": f"{cost.task_processes} ({cost.task_processes / exports:.2f})",
        "task processes' CPU-seconds (per export)": f"{cost.task_cpu_seconds:.0f} "
        f"({cost.task_cpu_seconds / exports:.2f})",
        "triggerers' CPU-seconds": round(cost.triggerer_cpu_seconds),
    }


@contextmanager
def holders(cluster: Cluster, dag_id: str, run_id: str, *task_ids: str) -> Iterator[dict[str, dict[str, set[int]]]]:
    """Samples, every second while the block runs, which triggerer holds which deferred task: task
    id -> component name -> the map indexes it held at some point."""
    seen: dict[str, dict[str, set[int]]] = {task_id: defaultdict(set) for task_id in task_ids}

    def sample() -> None:
        waits = {task_id: cluster.held_waits(dag_id, run_id, task_id) for task_id in task_ids}
        names = cluster.triggerer_of_job()  # after the waits: it knows every triggerer they name
        for task_id, held in waits.items():
            for index, job in held.items():
                if job is not None:
                    seen[task_id][names[job]].add(index)

    with repeating(sample, every=1):
        yield seen


def test_fan_out_of_100_exports_costs_two_task_processes_and_a_token_per_host(
    cluster: Cluster, sim: SimulatorState
) -> None:
    # Each job runs until its fourth status check, and its batch is still loading for three more:
    # every create waits in a triggerer, for the job and then for its batch, as a real export does.
    sim.default_scenario = Scenario(polls_to_finish=4, batch_checks_to_ready=3)
    started = time.monotonic()
    with cluster.cost.measuring() as spent:
        run_id = cluster.stack.trigger(LEAN, {"segments": 100})
        with holders(cluster, LEAN, run_id, LEAN_CREATE, LEAN_DOWNLOAD) as seen:
            assert cluster.stack.wait_for_run(LEAN, run_id, timeout=1200) == "success", cluster.stack.logs()
        seconds = time.monotonic() - started
    (cost,) = spent
    for task_id in (LEAN_CREATE, LEAN_DOWNLOAD):
        assert set(cluster.task_column(LEAN, run_id, task_id, "state").values()) == {"success"}, task_id
    assert sim.count("datasets_created") == 1
    assert sim.count("jobs_created") == 100
    assert duplicate_jobs(sim) == 0  # one job per segment, none twice
    created = created_job_ids(cluster, run_id, LEAN, LEAN_CREATE)
    assert sorted(map(int, created.values())) == sorted(sim.jobs)  # the trigger's XCom, for every export
    assert sim.count("jobs_cancelled") == 0
    held = seen[LEAN_CREATE]
    assert sorted(held) == list(TRIGGERERS), held  # both triggerers held waits
    assert len(set().union(*held.values())) == 100  # and every create was seen deferred
    assert not seen[LEAN_DOWNLOAD]  # no download had to wait: its batches were readable
    landed = landed_files(cluster.exports, sim)
    assert len(landed) == 100
    assert sim.count("requests:file_download") == sum(landed.values())  # each file fetched once
    tokens = tokens_by_process(sim)
    assert None not in tokens  # every token request was traced to its process
    by_host = Counter(str(client).split(" ")[0] for client in tokens.elements())
    assert set(by_host.values()) == {1}, by_host  # one token per host for the whole fan-out
    assert set(by_host) <= {*TRIGGERERS, *WORKERS}
    # Per export a create (it defers, and its trigger ends it) and a download; then the segment
    # list and the dataset.
    assert cost.task_processes <= 2 * 100 + 2, cost
    FIGURES["fan-out"] = {
        "runs / mapped exports": "1 / 100",
        "datasets created": sim.count("datasets_created"),
        "jobs created / cancelled": f"{sim.count('jobs_created')} / {sim.count('jobs_cancelled')}",
        "waits held per triggerer": {name: len(indexes) for name, indexes in sorted(held.items())},
        "files landed and verified / downloads": f"{sum(landed.values())} / {sim.count('requests:file_download')}",
        "token requests": sum(tokens.values()),
        "token requests per host": dict(sorted(by_host.items())),
        "requests to AEP": sim.count("requests"),
        "requests by route": {route: count for route in ROUTES if (count := sim.count(f"requests:{route}"))},
        **cost_figures(cost, exports=100),
        "seconds, trigger to run success": round(seconds),
    }


def test_a_killed_triggerers_waits_move_to_the_other(cluster: Cluster, sim: SimulatorState) -> None:
    sim.default_scenario = Scenario(duration=120)
    run_id = fan_out(cluster, 20)
    held = all_deferred(cluster, run_id, 20)
    names = cluster.triggerer_of_job()
    by_holder = Counter(names[job] for job in held.values())
    victim = by_holder.most_common(1)[0][0]
    victim_jobs = {job for job in held.values() if names[job] == victim}
    moved = [index for index, job in held.items() if job in victim_jobs]
    polls_before = {job_id: job.polls for job_id, job in sim.jobs.items()}
    with cluster.down(victim):  # the machine comes back, for the scenarios after this one
        takeover = taken_over(cluster, run_id, 20, WAIT, frozenset(victim_jobs))
        wait_until(
            lambda: all(job.polls > polls_before[job_id] for job_id, job in sim.jobs.items()),
            60,
            "every job to be polled again",
        )
    assert cluster.stack.wait_for_run(FANOUT, run_id, timeout=600) == "success", cluster.stack.logs()
    assert sim.count("jobs_created") == 20
    assert sim.count("jobs_cancelled") == 0
    FIGURES["triggerer death"] = {
        "runs / mapped exports": "1 / 20",
        "waits held per triggerer at the kill": dict(sorted(by_holder.items())),
        "waits on the killed triggerer": len(moved),
        "seconds from SIGKILL to every wait held again": round(takeover, 1),
        "take-over threshold (s)": TAKEOVER_THRESHOLD,
        "jobs created / cancelled": f"{sim.count('jobs_created')} / {sim.count('jobs_cancelled')}",
    }


def test_marking_deferred_sensors_failed_cancels_their_jobs_on_either_triggerer(
    cluster: Cluster, sim: SimulatorState
) -> None:
    sim.default_scenario = Scenario(duration=600)
    holders_of_marked: Counter[str] = Counter()
    runs: list[str] = []
    out_of_service: str | None = None
    with ExitStack() as outage:  # the one stopped comes back, for the scenarios after this one
        while len(holders_of_marked) < len(TRIGGERERS):
            run_id = fan_out(cluster, 10)
            runs.append(run_id)
            held = all_deferred(cluster, run_id, 10)
            names = cluster.triggerer_of_job()
            holders_of_marked.update(names[job] for job in held.values())
            for index in held:
                url = f"/dags/{FANOUT}/dagRuns/{run_id}/taskInstances/{WAIT}/{index}"
                cluster.stack.api.patch(url, json={"new_state": "failed"}).raise_for_status()
            marked = holders_of_marked.total()
            wait_until(
                lambda marked=marked: sim.count("jobs_cancelled") == marked,
                90,
                "every marked sensor's job to be cancelled",
            )
            assert cluster.stack.wait_for_run(FANOUT, run_id) == "failed"
            if len(holders_of_marked) < len(TRIGGERERS):
                # Which triggerer takes a wait is Airflow's choice, and one may take them all. Then it
                # leaves (it holds nothing now), so that the next run's waits are the other's.
                assert out_of_service is None, holders_of_marked
                (out_of_service,) = holders_of_marked
                outage.enter_context(cluster.down(out_of_service))
    created = {job_id for run_id in runs for job_id in created_job_ids(cluster, run_id).values()}
    assert {str(job_id) for job_id, job in sim.jobs.items() if job.cancelled_at is not None} == created
    assert len(created) == holders_of_marked.total()
    FIGURES["mark failed"] = {
        "runs / sensors marked failed": f"{len(runs)} / {holders_of_marked.total()}",
        "sensors marked failed, per holding triggerer": dict(sorted(holders_of_marked.items())),
        "triggerer stopped so that the other held the next run": out_of_service or "none needed",
        "jobs cancelled": sim.count("jobs_cancelled"),
    }


def test_a_worker_killed_inside_a_create_leaves_exactly_one_job(cluster: Cluster, sim: SimulatorState) -> None:
    sim.default_scenario = Scenario(duration=5)
    # The job is created, then the answer is held back: the worker dies not knowing its id.
    sim.inject(Fault("slow", route="create", delay=120, after_handling=True))
    run_id = fan_out(cluster, 1)
    wait_until(lambda: sim.count("jobs_created") == 1, 180, "the create to reach AEP")
    worker = wait_until(lambda: cluster.component_talking_to_simulator(WORKERS), 30, "the worker inside the create")
    killed_at = time.monotonic()
    cluster.stack.kill_component(worker)
    cluster.stack.start_component(worker)
    assert cluster.stack.wait_for_run(FANOUT, run_id, timeout=600) == "success", cluster.stack.logs()
    # The lost try, then the retry: had the first try's own timeout fired before the kill, it would
    # have found the job itself, in one try.
    assert cluster.task_column(FANOUT, run_id, CREATE, "try_number") == {0: 2}
    (job_id,) = sim.jobs
    assert created_job_ids(cluster, run_id) == {0: str(job_id)}  # the retry reattached to it
    assert sim.count("jobs_created") == 1
    assert sim.count("jobs_cancelled") == 0
    FIGURES["worker death"] = {
        "jobs created": sim.count("jobs_created"),
        "create tries": 2,
        "seconds from SIGKILL to run success": round(time.monotonic() - killed_at),
    }


def test_fan_out_under_faults_loses_and_duplicates_nothing(cluster: Cluster, sim: SimulatorState) -> None:
    sim.queue_scenarios(
        *(Scenario(duration=30, outcome="FAILED" if index % 10 == 0 else "SUCCEEDED") for index in range(100))
    )
    # The soak's faults on every route, slow answers outlasting the DAG's 10 s request timeout, and
    # more 503s, so that well over a fifth of the requests meet one.
    sim.inject(
        *(replace(fault, delay=12.0) if fault.kind == "slow" else fault for fault in FAULTS),
        Fault("status", status=503, probability=0.05, times=None),
    )
    run_id = fan_out(cluster, 100)
    wait_until(lambda: sim.count("jobs_created") >= 50, 600, "half the jobs to be created")
    sim.revoke_tokens()  # and IMS revokes every token mid-run
    cluster.stack.wait_for_run(FANOUT, run_id, timeout=1200)
    created = created_job_ids(cluster, run_id)
    sensors = cluster.task_column(FANOUT, run_id, WAIT, "state")
    outcomes = {str(job_id): job.scenario.outcome for job_id, job in sim.jobs.items()}
    lost = lost_ids(created, sim, 100)
    duplicates = duplicate_jobs(sim)
    expected = {
        index: "success" if outcomes.get(job_id) == "SUCCEEDED" else "failed" for index, job_id in created.items()
    }
    # A download runs exactly when its job succeeded.
    expected_downloads = {
        index: "success" if state == "success" else "upstream_failed" for index, state in expected.items()
    }
    downloads = cluster.task_column(FANOUT, run_id, DOWNLOAD, "state")
    false_outcomes = {
        **{("wait", index): state for index, state in sensors.items() if state != expected.get(index)},
        **{("download", index): state for index, state in downloads.items() if state != expected_downloads.get(index)},
    }
    share = sim.count("faults") / sim.count("requests")
    assert len(created) == 100, f"{100 - len(created)} creates did not finish"
    assert (lost, duplicates, false_outcomes) == ([], 0, {})
    assert sim.count("datasets_created") == 1
    landed = landed_files(cluster.exports, sim)  # every succeeded job's files, whole, despite the faults
    assert sim.count("requests:file_download") >= sum(landed.values())  # fetched in this run, every one
    assert share >= 0.2
    FIGURES["faults"] = {
        "runs / mapped exports": "1 / 100",
        "requests / faulted": f"{sim.count('requests')} / {sim.count('faults')} ({share:.0%})",
        "tokens revoked": sim.count("tokens_revoked"),
        "datasets created": sim.count("datasets_created"),
        "jobs created": sim.count("jobs_created"),
        "files landed and verified / download requests": f"{sum(landed.values())} / "
        f"{sim.count('requests:file_download')}",
        "succeeded / failed, as AEP decided": f"{Counter(expected.values())['success']} / "
        f"{Counter(expected.values())['failed']}",
        "duplicates / lost ids / false outcomes": f"{duplicates} / {len(lost)} / {len(false_outcomes)}",
        **token_figures(tokens_by_process(sim)),
    }


def most_at_once(state: SimulatorState) -> int:
    """The most jobs that were running in AEP at the same moment (each runs its scenario's duration)."""
    edges = sorted(
        edge
        for job in state.jobs.values()
        for edge in ((job.created_at, 1), (job.created_at + job.scenario.duration, -1))
    )
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    return most


def test_a_pool_caps_the_jobs_running_at_once(cluster: Cluster, sim: SimulatorState) -> None:
    sim.default_scenario = Scenario(duration=10)
    cluster.stack.airflow(*pool_command(slots=3))
    try:
        run_id = cluster.stack.trigger(POOLED, {"segments": 9})
        assert cluster.stack.wait_for_run(POOLED, run_id, timeout=600) == "success", cluster.stack.logs()
    finally:
        cluster.stack.airflow(*pool_command())
    assert sim.count("jobs_created") == 9
    assert most_at_once(sim) == 3  # the pool's three slots, and all three used
    FIGURES["pool"] = {
        "exports through a 3-slot pool": 9,
        "most jobs running at once": most_at_once(sim),
    }


def test_tokens_that_expire_during_long_waits_are_renewed(cluster: Cluster, sim: SimulatorState) -> None:
    sim.token_lifetime = 20
    sim.default_scenario = Scenario(duration=50)
    sim.revoke_tokens()  # the triggerers' tokens from earlier scenarios would outlive this one
    run_id = cluster.stack.trigger(LONG_WAIT)
    assert cluster.stack.wait_for_run(LONG_WAIT, run_id, timeout=600) == "success", cluster.stack.logs()
    tokens = tokens_by_process(sim)
    renewed = {client: count for client, count in tokens.items() if count >= 2}
    components = {str(client).split(" ")[0] for client in renewed}
    # The worker that waited 50 s and the triggerer that held the wait each renewed their token.
    assert components & set(WORKERS), tokens
    assert components & set(TRIGGERERS), tokens
    # A request meets a revoked token only where a host still held one: each triggerer in memory,
    # each worker in its token store, which the first refusal retires for every later process.
    assert sim.count("tokens_rejected") <= len(TRIGGERERS) + len(WORKERS)
    FIGURES["long waits"] = {
        "token lifetime / wait (s)": "20 / 50",
        "tokens per renewing process": dict(sorted((str(client), count) for client, count in renewed.items())),
        "requests refused for an expired token": sim.count("tokens_rejected"),
    }


@pytest.mark.reads_every_log
def test_no_secret_or_token_in_any_log_of_the_cluster(cluster: Cluster, sim: SimulatorState) -> None:
    """Runs last (see conftest): every log the components and tasks wrote, at INFO, across all the
    scenarios of both modules."""
    secrets = [sim.client_secret, *ISSUED_TOKENS, *sim.issued_tokens]
    assert len(secrets) > 10  # the scenarios above really authenticated, after revocations too
    texts = {path: path.read_text(errors="replace") for path in cluster.stack.home.rglob("*.log")}
    assert len(texts) > 400  # the task log of every try is there, besides the components' own
    # And every host's token store: its entries hold tokens, sealed.
    stored = {path: path.read_bytes().decode("latin-1") for path in cluster.hosts.rglob("*") if path.is_file()}
    hosts_with_entries = {path.relative_to(cluster.hosts).parts[0] for path in stored if path.suffix != ".lock"}
    assert hosts_with_entries >= {*TRIGGERERS, *WORKERS}, hosts_with_entries
    texts |= stored
    leaks = [(path.name, secret[:12]) for path, text in texts.items() for secret in secrets if secret in text]
    assert leaks == []
