"""The asset watchers against the simulator over loopback HTTP: what becomes an event, once, and what is bounded."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer, SimulatorState
from airflow_provider_aep.triggers.new_batches import NewBatchesTrigger
from airflow_provider_aep.triggers.succeeded_exports import SucceededExportsTrigger
from airflow_provider_aep.triggers.watching import WatchingTrigger
from airflow_provider_aep.wait.options import WaitOptions
from tests.airflow_compat import AIRFLOW_V_3
from tests.tokens import forget_tokens

DATASET = "5b7c86968f7b6501e21ba9df"
OTHER_DATASET = "6c8d97a79f8c7612f32cb0ea"
QUICK = WaitOptions(cancel_on_timeout=False, cancel_on_kill=False, request_retry_limit=2, request_retry_delay=0.01)


class MemoryStateStore:
    """Stands in for the asset state store Airflow 3.3's triggerer injects (the e2e test uses the real one)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))  # as JSON, the way Airflow stores it
        self.writes += 1


def batches_watcher(**kwargs: Any) -> NewBatchesTrigger:
    return NewBatchesTrigger(DATASET, options=kwargs.pop("options", QUICK), **{"poll_interval": 1.0, **kwargs})


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the simulator's counters are plain values, not awaitables
            await asyncio.sleep(0.02)


def watch(
    trigger: WatchingTrigger,
    done: Callable[[list[dict[str, Any]]], bool],
    script: Callable[[], Awaitable[None]] | None = None,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """The payloads ``trigger`` yields until ``done(payloads)``, while ``script`` moves the simulator along."""

    async def main() -> list[dict[str, Any]]:
        payloads: list[dict[str, Any]] = []
        events = trigger.run()

        async def collect() -> None:
            async for event in events:
                payloads.append(event.payload)

        collecting = asyncio.ensure_future(collect())
        try:
            if script is not None:
                await script()
            await until(lambda: done(payloads) or collecting.done(), timeout)
        finally:
            collecting.cancel()
            await asyncio.gather(collecting, return_exceptions=True)
            await events.aclose()
        return payloads

    return asyncio.run(main())


def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """A task's or trigger's log lines, once each: through logging on Airflow 2.11 (whose console
    handler prints them again), structlog's output on Airflow 3."""
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err if AIRFLOW_V_3 else caplog.text


def listings(state: SimulatorState) -> int:
    return state.count("requests:batch_list")


def polls_later(state: SimulatorState, polls: int) -> Callable[[list[dict[str, Any]]], bool]:
    """Done once the watcher has listed ``polls`` more times than it had when this was called."""
    start = listings(state)
    return lambda _: listings(state) >= start + polls


def test_a_batch_seen_loading_is_reported_at_the_poll_that_finds_it_readable(simulator: SimulatorServer) -> None:
    state = simulator.state
    loading = state.add_batch(DATASET, records=42)

    async def script() -> None:
        await until(lambda: listings(state) >= 2)  # two polls saw it loading
        state.set_batch_status(loading, "success")

    payloads = watch(batches_watcher(), lambda found: bool(found), script)
    assert listings(state) >= 3
    (payload,) = payloads
    assert payload["kind"] == "aep_batch"
    assert (payload["batch_id"], payload["dataset_id"], payload["records_written"]) == (loading, DATASET, 42)
    assert payload["status"] == "success"
    assert payload["created"] is not None
    assert payload["completed"] is not None
    assert payload["export_job_id"] is None  # no export wrote it


def test_each_batch_is_one_event_however_many_polls_follow(simulator: SimulatorServer) -> None:
    state = simulator.state
    ready = [state.add_batch(DATASET, status="success") for _ in range(3)]
    trigger = batches_watcher()
    payloads = watch(trigger, lambda found: len(found) >= 3 and listings(state) >= 4)
    assert sorted(payload["batch_id"] for payload in payloads) == sorted(ready)


def test_many_batches_in_one_poll_are_read_across_pages(simulator: SimulatorServer) -> None:
    state = simulator.state
    ready = {state.add_batch(DATASET, status="success") for _ in range(250)}
    payloads = watch(batches_watcher(), lambda found: len(found) >= 250)
    assert {payload["batch_id"] for payload in payloads} == ready
    assert len(payloads) == 250
    assert listings(state) == 3  # pages of 100, 100 and 50, in one poll


def test_a_failed_batch_and_another_datasets_batch_are_not_events(simulator: SimulatorServer) -> None:
    state = simulator.state
    failing = state.add_batch(DATASET)
    state.add_batch(OTHER_DATASET, status="success")
    state.set_batch_status(failing, "failed", ({"code": "X-1", "description": "bad rows"},))
    good = state.add_batch(DATASET, status="success")
    payloads = watch(batches_watcher(), polls_later(state, 3))
    assert [payload["batch_id"] for payload in payloads] == [good]


def test_a_poll_reads_at_most_its_bound_and_the_next_goes_on_from_there(simulator: SimulatorServer) -> None:
    state = simulator.state
    ready = [state.add_batch(DATASET, status="success") for _ in range(25)]
    payloads = watch(batches_watcher(max_items_per_poll=10), lambda found: len(found) >= 25)
    assert [payload["batch_id"] for payload in payloads] == sorted(
        ready, key=lambda b: state.external_batches[b].created_ms
    )
    assert listings(state) == 3  # 10, 10, then 5: each listing one page, no more than the bound


def test_a_listing_that_repeats_itself_reports_each_batch_once_and_goes_on(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    state = simulator.state
    state.ignore_start = True  # every page is the first one
    ready = {state.add_batch(DATASET, status="success") for _ in range(150)}
    caplog.set_level(logging.WARNING)
    payloads = watch(batches_watcher(), polls_later(state, 6))
    # Each listing stops where the pages repeat; the next starts after the newest batch it read.
    assert len(payloads) == len({payload["batch_id"] for payload in payloads}) == 150
    assert {payload["batch_id"] for payload in payloads} == ready
    assert "repeats itself" in logged(caplog, capfd)


def test_a_hostile_listing_fails_the_poll_not_the_watcher(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    state = simulator.state
    stray = state.add_batch(OTHER_DATASET, status="success")
    # A listing for our dataset that holds another dataset's batch: refused, whatever else it says.
    state.external_batches[stray].dataset_id = DATASET
    original = state.list_batches

    def lying(**query: Any) -> dict[str, dict[str, Any]]:
        answer = original(**query)
        return {
            key: {**record, "relatedObjects": [{"type": "dataSet", "id": OTHER_DATASET}]}
            for key, record in answer.items()
        }

    state.list_batches = lying  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING)
    try:
        payloads = watch(batches_watcher(), polls_later(state, 2))
    finally:
        del state.list_batches
    assert payloads == []
    text = logged(caplog, capfd)
    assert "belongs to another" in text
    assert "polling again" in text
    # The watcher lived through it: once the listing is honest, the batch is reported.
    assert [p["batch_id"] for p in watch(batches_watcher(), lambda found: bool(found))] == [stray]


def test_a_failing_api_is_polled_again(simulator: SimulatorServer) -> None:
    state = simulator.state
    ready = state.add_batch(DATASET, status="success")
    state.inject(Fault("status", route="batch_list", status=500, times=3))
    payloads = watch(batches_watcher(options=replace(QUICK, request_retry_limit=1)), lambda found: bool(found))
    assert [payload["batch_id"] for payload in payloads] == [ready]
    assert state.count("faults") == 3


def test_the_batch_of_an_export_names_its_job(simulator: SimulatorServer) -> None:
    state = simulator.state
    job = state.create_external_job(DATASET, Scenario(polls_to_finish=0))
    payloads = watch(batches_watcher(), lambda found: bool(found))
    (payload,) = payloads
    assert (payload["batch_id"], payload["export_job_id"]) == (f"sim-batch-{job['id']}", str(job["id"]))
    assert payload["records_written"] == 1250


def test_with_a_state_store_a_new_triggerer_resumes_without_repeats(simulator: SimulatorServer) -> None:
    state = simulator.state
    store = MemoryStateStore()
    first = state.add_batch(DATASET, status="success")
    loading = state.add_batch(DATASET)
    trigger = batches_watcher()
    trigger.asset_state_store = store
    seen_at_event: list[Any] = []

    def done(found: list[dict[str, Any]]) -> bool:
        if found and not seen_at_event:
            seen_at_event.append(json.dumps(store.values))
        return bool(found) and store.writes >= 1

    assert [p["batch_id"] for p in watch(trigger, done)] == [first]
    assert first not in seen_at_event[0]  # the watermark is written after its events left, not before
    saved = store.values[trigger._state_key()]
    assert first in saved["reported"]
    assert loading in saved["waiting"]  # looked up again by the next triggerer

    state.set_batch_status(loading, "success")
    later = state.add_batch(DATASET, status="success")
    restarted = batches_watcher()
    restarted.asset_state_store = store
    payloads = watch(restarted, lambda found: len(found) >= 2 and listings(state) >= 4)
    assert sorted(p["batch_id"] for p in payloads) == sorted([loading, later])


def test_without_a_state_store_a_new_triggerer_reports_the_look_back_again(simulator: SimulatorServer) -> None:
    state = simulator.state
    ready = state.add_batch(DATASET, status="success")
    assert [p["batch_id"] for p in watch(batches_watcher(), lambda found: bool(found))] == [ready]
    # Airflow 3.0 to 3.2: at least once; the download lands it in the same place again.
    assert [p["batch_id"] for p in watch(batches_watcher(), lambda found: bool(found))] == [ready]


def test_nothing_older_than_the_look_back_is_reported(simulator: SimulatorServer) -> None:
    state = simulator.state
    old = state.add_batch(DATASET, status="success")
    state.external_batches[old].created_ms -= 2 * 3600 * 1000
    recent = state.add_batch(DATASET, status="success")
    payloads = watch(batches_watcher(look_back_seconds=3600.0), polls_later(state, 2))
    assert [p["batch_id"] for p in payloads] == [recent]


def test_quiet_polls_write_no_state(simulator: SimulatorServer) -> None:
    state = simulator.state
    state.add_batch(DATASET, status="success")
    store = MemoryStateStore()
    trigger = batches_watcher()
    trigger.asset_state_store = store
    watch(trigger, lambda found: bool(found) and store.writes >= 1)
    writes = store.writes
    resumed = batches_watcher()
    resumed.asset_state_store = store
    assert watch(resumed, polls_later(state, 3)) == []
    assert store.writes == writes  # a state write only when something settled: none per quiet poll


def test_a_succeeded_export_into_the_dataset_is_one_event_whoever_made_it(simulator: SimulatorServer) -> None:
    state = simulator.state
    running = state.create_external_job(DATASET, Scenario(duration=3.0))
    state.create_external_job(DATASET, Scenario(outcome="FAILED", duration=0.0))
    state.create_external_job(OTHER_DATASET, Scenario(duration=0.0))
    trigger = SucceededExportsTrigger(DATASET, QUICK, poll_interval=1.0)
    start = state.count("requests:list")
    payloads = watch(trigger, lambda found: bool(found) and state.count("requests:list") >= start + 5)
    (payload,) = payloads
    assert payload["kind"] == "aep_export_job"
    assert (payload["job_id"], payload["status"], payload["dataset_id"]) == (str(running["id"]), "SUCCEEDED", DATASET)
    assert payload["batch_ids"] == {"*": f"sim-batch-{running['id']}"}
    assert payload["exported_profiles"] == 1250


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"look_back_seconds": 8 * 86400.0}, "look_back_seconds"),
        ({"max_items_per_poll": 0}, "max_items_per_poll"),
        ({"max_items_per_poll": 2.5}, "max_items_per_poll"),
        ({"readable_statuses": "success"}, "readable_statuses must be a list"),
        ({"poll_interval": 600.0, "look_back_seconds": 3600.0}, "at least 10 poll intervals"),
    ],
)
def test_bounds_out_of_range_are_refused_where_the_watcher_is_declared(arguments: dict[str, Any], named: str) -> None:
    with pytest.raises(AepConfigError, match=named):
        NewBatchesTrigger(DATASET, **arguments)


def test_a_dataset_id_that_cannot_go_into_a_url_is_refused() -> None:
    with pytest.raises(AepConfigError, match="dataset_id"):
        SucceededExportsTrigger("../batches?x=1")


def test_serialize_round_trip_is_deterministic_and_json_safe() -> None:
    trigger = NewBatchesTrigger(DATASET, ["Success", "loaded"], QUICK, 30.0, timedelta(hours=2).total_seconds(), 50)
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["readable_statuses"] == ["loaded", "success"]


@pytest.mark.skipif(not AIRFLOW_V_3, reason="asset watchers are Airflow 3's")
def test_the_same_watcher_declared_twice_is_one_trigger_to_airflow() -> None:
    """Airflow runs one trigger per hash: DAGs that declare the same watched asset share its polls."""
    first, second = (NewBatchesTrigger(DATASET, options=QUICK) for _ in range(2))
    assert WatchingTrigger.hash(*first.serialize()) == WatchingTrigger.hash(*second.serialize())
    other = NewBatchesTrigger(OTHER_DATASET, options=QUICK)
    assert WatchingTrigger.hash(*other.serialize()) != WatchingTrigger.hash(*first.serialize())


def test_polls_reuse_one_token(simulator: SimulatorServer) -> None:
    state = simulator.state
    forget_tokens()
    watch(batches_watcher(), polls_later(state, 4))
    assert state.count("tokens_issued") == 1  # no token request per poll
    assert listings(state) >= 4


def test_a_listed_batch_id_that_cannot_go_into_a_url_fails_the_poll(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    state = simulator.state
    batch_id = state.add_batch(DATASET, status="success")
    state.external_batches["../../export/files/x"] = replace(state.external_batches.pop(batch_id), id="../../x")
    assert watch(batches_watcher(), polls_later(state, 2)) == []
    assert "not a usable Catalog id" in logged(caplog, capfd)


def test_a_batch_stuck_loading_holds_back_neither_the_listing_nor_itself(simulator: SimulatorServer) -> None:
    state = simulator.state
    stuck = state.add_batch(DATASET)
    later = [state.add_batch(DATASET, status="success") for _ in range(25)]
    lookups: list[int] = []

    async def script() -> None:
        await until(lambda: listings(state) >= 4)  # past the stuck one, 10 a poll
        lookups.append(state.count("requests:batch_get"))
        state.set_batch_status(stuck, "success")

    payloads = watch(batches_watcher(max_items_per_poll=10), lambda found: len(found) >= 26, script)
    assert sorted(p["batch_id"] for p in payloads[:25]) == sorted(later)
    # The listing has moved past it, so it is looked up by id, and reported once it is readable.
    assert payloads[25]["batch_id"] == stuck
    assert state.count("requests:batch_get") > lookups[0]


def test_a_waiting_batch_that_is_deleted_is_given_up(simulator: SimulatorServer) -> None:
    state = simulator.state
    doomed = state.add_batch(DATASET)
    ready = state.add_batch(DATASET, status="success")
    store = MemoryStateStore()
    trigger = batches_watcher(max_items_per_poll=1)
    trigger.asset_state_store = store

    async def script() -> None:
        await until(lambda: store.writes >= 1)  # the ready one reported: the doomed one waits
        assert doomed in store.values[trigger._state_key()]["waiting"]
        del state.external_batches[doomed]

    watch(trigger, lambda _: store.writes >= 2, script)
    saved = store.values[trigger._state_key()]
    assert doomed not in saved["waiting"]
    assert doomed in saved["reported"]  # settled as failed when the look-up found it gone: never an event
    assert ready not in saved["waiting"]


def test_a_future_creation_time_does_not_move_the_mark_past_now(simulator: SimulatorServer) -> None:
    state = simulator.state
    ahead = state.add_batch(DATASET, status="success")
    state.external_batches[ahead].created_ms += 30 * 86400 * 1000
    trigger = batches_watcher(max_items_per_poll=1)
    assert [p["batch_id"] for p in watch(trigger, lambda found: bool(found))] == [ahead]
    after = state.add_batch(DATASET, status="success")
    state.external_batches[after].created_ms = state.external_batches[ahead].created_ms - 30 * 86400 * 1000
    assert [p["batch_id"] for p in watch(trigger, lambda found: bool(found))] == [after]
