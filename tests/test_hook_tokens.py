"""One IMS token per (token URL, client id, secret, scopes), shared by every hook, sync and async."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from airflow_provider_aep.client.async_driver import async_clients
from airflow_provider_aep.client.sync_driver import sync_clients
from airflow_provider_aep.exceptions import AepApiError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Fault, SimulatorServer

from .conftest import EXPORT_REQUEST, FAST_RETRIES, set_connection


def fresh_hook() -> AdobeExperiencePlatformHook:
    return AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES, timeout=5.0)


def test_fifty_concurrent_async_calls_cost_one_token_and_one_client(simulator: SimulatorServer) -> None:
    job_id = fresh_hook().create_export_job(EXPORT_REQUEST).id
    issued_before = simulator.state.count("tokens_issued")
    clients_before = async_clients.clients_created

    async def fifty_calls() -> list[str]:
        jobs = await asyncio.gather(*(fresh_hook().aget_export_job(job_id) for _ in range(50)))
        return [job.status for job in jobs]

    assert len(asyncio.run(fifty_calls())) == 50
    assert simulator.state.count("requests:get") == 50
    # The sync call above already cached the token: the async callers share it.
    assert simulator.state.count("tokens_issued") - issued_before == 0
    assert async_clients.clients_created - clients_before == 1
    assert async_clients.open_clients() == 0


def test_fifty_concurrent_async_calls_on_a_cold_cache_fetch_one_token(simulator: SimulatorServer) -> None:
    async def fifty_calls() -> None:
        await asyncio.gather(*(fresh_hook().alist_export_jobs(limit=1) for _ in range(50)))

    asyncio.run(fifty_calls())
    assert simulator.state.count("requests:token") == 1
    assert simulator.state.count("requests:list") == 50


def test_concurrent_threads_fetch_one_token_and_share_a_client(simulator: SimulatorServer) -> None:
    clients = set()

    def work() -> None:
        fresh_hook().list_export_jobs(limit=1)
        clients.add(id(sync_clients.client()))

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert simulator.state.count("requests:token") == 1
    assert simulator.state.count("requests:list") == 20
    assert len(clients) == 1


def test_token_is_renewed_before_it_expires(simulator: SimulatorServer) -> None:
    simulator.state.token_lifetime = 3.0  # cached for 2.7 s: a tenth is kept as margin
    hook = fresh_hook()
    hook.list_export_jobs(limit=1)
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("requests:token") == 1
    time.sleep(2.8)
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("requests:token") == 2
    assert simulator.state.count("requests:list") == 3  # no request went out with a dying token


def test_revoked_token_is_replaced_once_and_the_call_retried(simulator: SimulatorServer) -> None:
    hook = fresh_hook()
    job_id = hook.create_export_job(EXPORT_REQUEST).id
    simulator.state.revoke_tokens()
    assert hook.get_export_job(job_id).id == job_id
    assert simulator.state.count("requests:token") == 2
    assert simulator.state.count("requests:get") == 2


def test_async_revoked_token_is_replaced_once_for_many_callers(simulator: SimulatorServer) -> None:
    job_id = fresh_hook().create_export_job(EXPORT_REQUEST).id
    simulator.state.revoke_tokens()

    async def twenty_calls() -> None:
        await asyncio.gather(*(fresh_hook().aget_export_job(job_id) for _ in range(20)))

    asyncio.run(twenty_calls())
    assert simulator.state.count("requests:token") == 2


def test_a_second_401_is_not_retried_forever(simulator: SimulatorServer) -> None:
    hook = fresh_hook()
    hook.list_export_jobs(limit=1)
    simulator.state.inject(Fault("status", route="get", status=401, times=None))
    with pytest.raises(AepApiError, match="HTTP 401") as raised:
        hook.get_export_job(1)
    assert raised.value.status_code == 401
    assert simulator.state.count("requests:get") == 2
    assert simulator.state.count("requests:token") == 2


def test_token_request_sends_the_secret_in_the_body_only(simulator: SimulatorServer) -> None:
    fresh_hook().list_export_jobs(limit=1)
    token_requests = [record for record in simulator.state.requests if record.route == "token"]
    assert len(token_requests) == 1
    assert token_requests[0].path == "/ims/token/v3"
    assert simulator.state.client_secret not in token_requests[0].path


def test_a_cached_token_does_not_vouch_for_a_wrong_secret(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the UI's Test button: same client id, secret mistyped, right one's token cached."""
    fresh_hook().list_export_jobs(limit=1)
    wrong = {**simulator.connection("aep_wrong_secret"), "password": "not-the-secret"}
    del wrong["conn_id"]
    set_connection(monkeypatch, "aep_wrong_secret", wrong)
    hook = AdobeExperiencePlatformHook(aep_conn_id="aep_wrong_secret", retry_policy=FAST_RETRIES)
    succeeded, message = hook.test_connection()
    assert not succeeded
    assert "invalid_client" in message
    assert simulator.state.count("requests:list") == 1  # only the right connection's call
