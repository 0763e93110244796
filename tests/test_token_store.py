"""The host's IMS token store: processes that share one token, entries nobody without the secret
can read or plant, symlinks never followed, a broken store that only warns, and a refused token
retired for every process. Tokens come from the simulator's IMS over loopback HTTP; the "other
processes" are real ones where it matters (one fetch for many), and a fresh in-memory cache
otherwise, which is what a new task process starts with."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from airflow_provider_aep.client.ims import TokenKey, token_cache
from airflow_provider_aep.client.token_store import Slot, TokenStore
from airflow_provider_aep.exceptions import AepApiError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Fault, SimulatorServer
from tests import REPO

STORE_LOGGER = "airflow_provider_aep.client.token_store"


def a_new_process() -> None:
    """What a new task process on the same host starts with: no token in memory, the store on disk."""
    token_cache.clear()


def slot_of(hook: AdobeExperiencePlatformHook) -> Slot:
    return TokenKey.of(hook.settings).slot


def entry_file(store_path: Path, hook: AdobeExperiencePlatformHook) -> Path:
    return store_path / slot_of(hook).name


def test_a_new_process_takes_the_stored_token_instead_of_asking_ims(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path
) -> None:
    hook.list_export_jobs(limit=1)
    for _ in range(3):
        a_new_process()
        hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_issued") == 1
    assert simulator.state.count("requests:list") == 4
    # Sealed: neither the token nor the secret is on disk in clear text, and only the owner may look.
    (token,) = simulator.state.issued_tokens
    for path in token_store_path.iterdir():
        data = path.read_bytes()
        assert token.encode() not in data
        assert simulator.state.client_secret.encode() not in data
        assert path.stat().st_mode & 0o777 == 0o600, path.name
    assert token_store_path.stat().st_mode & 0o777 == 0o700


def test_the_async_path_shares_the_store_with_the_sync_one(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook
) -> None:
    hook.list_export_jobs(limit=1)
    a_new_process()
    asyncio.run(hook.alist_export_jobs(limit=1))
    assert simulator.state.count("tokens_issued") == 1


def test_with_sharing_off_every_process_asks_ims(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__AEP__SHARE_TOKENS", "False")
    hook.list_export_jobs(limit=1)
    a_new_process()
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_issued") == 2


PROCESS = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
    hook = AdobeExperiencePlatformHook()
    hook.settings  # Airflow imported and the connection read: ready
    folder = Path(sys.argv[1])
    (folder / f"ready-{os.getpid()}").touch()
    while not (folder / "start").exists():
        time.sleep(0.01)
    hook.list_export_jobs(limit=1)
    """
)


@pytest.mark.parametrize(("share", "token_requests"), [("True", 1), ("False", 4)])
def test_processes_that_start_together_cost_one_token_request(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: str, token_requests: int
) -> None:
    # IMS answers slowly, so all four ask while the first request is in flight.
    simulator.state.inject(Fault("slow", route="token", delay=1.0, times=None))
    monkeypatch.setenv("AIRFLOW__AEP__SHARE_TOKENS", share)
    processes = [
        subprocess.Popen([sys.executable, "-c", PROCESS, str(tmp_path)], cwd=REPO, env=os.environ.copy())
        for _ in range(4)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready-*"))) < 4:  # all four past their imports, then go together
            assert time.monotonic() < deadline, "the processes did not start"
            assert all(process.poll() is None for process in processes)
            time.sleep(0.05)
        (tmp_path / "start").touch()
        assert [process.wait(timeout=120) for process in processes] == [0, 0, 0, 0]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    assert simulator.state.count("requests:list") == 4
    assert simulator.state.count("tokens_issued") == token_requests


def test_a_fetch_that_fails_leaves_the_lock_free(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path
) -> None:
    simulator.state.inject(Fault("status", route="token", status=400, times=None))
    with pytest.raises(AepApiError):
        hook.list_export_jobs(limit=1)
    fd = os.open(token_store_path / f"{slot_of(hook).name}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the failed refresh still held it
    finally:
        os.close(fd)


def test_a_store_that_fails_mid_refresh_still_hands_out_the_token(
    simulator: SimulatorServer,
    hook: AdobeExperiencePlatformHook,
    token_store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def disk_full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)  # the entry is written, then cannot be put in place
    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        hook.list_export_jobs(limit=1)
        a_new_process()
        hook.list_export_jobs(limit=1)
    assert simulator.state.count("requests:list") == 2
    assert simulator.state.count("tokens_issued") == 2  # the second process, unable to share, asked itself
    assert [record.getMessage() for record in caplog.records if record.name == STORE_LOGGER] == [
        f"The IMS token store {token_store_path} cannot be used (No space left on device); "
        "tokens are kept in this process only."
    ]
    assert [path.name for path in token_store_path.iterdir() if path.suffix == ".tmp"] == []  # no leftovers


def test_a_tampered_entry_is_ignored_and_replaced(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path
) -> None:
    hook.list_export_jobs(limit=1)
    entry = entry_file(token_store_path, hook)
    data = bytearray(entry.read_bytes())
    data[-1] ^= 0x01
    entry.write_bytes(bytes(data))
    a_new_process()
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_issued") == 2
    stored = TokenStore(token_store_path).load(slot_of(hook))
    assert stored is not None
    assert stored[0] == simulator.state.issued_tokens[-1]


def test_an_entry_sealed_with_another_secret_is_not_taken(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path
) -> None:
    # Someone who can write the folder but does not hold the secret plants a token of theirs.
    slot = slot_of(hook)
    TokenStore(token_store_path).save(Slot(slot.name, Slot.of(("x",), "another secret").key), "planted", 3600)
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_issued") == 1
    assert simulator.state.count("tokens_rejected") == 0  # "planted" was never sent
    stored = TokenStore(token_store_path).load(slot)
    assert stored is not None
    assert stored[0] == simulator.state.issued_tokens[-1]


def test_an_entry_copied_from_another_credential_does_not_open(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path
) -> None:
    # Same secret, other scopes: the entry is bound to its own credential's name.
    slot = slot_of(hook)
    other = TokenKey.of(replace(hook.settings, scopes="other-scope")).slot
    store = TokenStore(token_store_path)
    store.save(other, "token-of-another-scope", 3600)
    os.replace(token_store_path / other.name, token_store_path / slot.name)
    assert store.load(slot) is None


def test_an_expired_entry_is_fetched_again(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path
) -> None:
    TokenStore(token_store_path).save(slot_of(hook), "expired-token", -1.0)
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_issued") == 1
    assert simulator.state.count("tokens_rejected") == 0


def test_an_entry_replaced_by_a_symlink_is_never_followed(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path, tmp_path: Path
) -> None:
    hook.list_export_jobs(limit=1)
    entry = entry_file(token_store_path, hook)
    victim = tmp_path / "victim.txt"
    victim.write_text("not the store's")
    entry.unlink()
    entry.symlink_to(victim)
    a_new_process()
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_issued") == 2  # the link was not read as an entry
    assert victim.read_text() == "not the store's"  # nor written through
    assert not entry.is_symlink()  # the new entry replaced the link itself


def test_a_symlinked_store_folder_is_not_used(
    simulator: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    link = tmp_path / "tokens"
    link.symlink_to(real)
    monkeypatch.setenv("AIRFLOW__AEP__TOKEN_STORE_PATH", str(link))
    hook = AdobeExperiencePlatformHook()
    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        hook.list_export_jobs(limit=1)
    assert list(real.iterdir()) == []
    assert "cannot be used" in caplog.text


@pytest.mark.parametrize("broken", ["not private", "parent is a file"])
def test_a_store_that_cannot_be_used_warns_once_and_tasks_go_on(
    simulator: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    broken: str,
) -> None:
    if broken == "not private":
        path = tmp_path / "shared"
        path.mkdir()
        path.chmod(0o755)  # others could list it
    else:
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "tokens"
    monkeypatch.setenv("AIRFLOW__AEP__TOKEN_STORE_PATH", str(path))
    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        for _ in range(3):
            a_new_process()
            AdobeExperiencePlatformHook().list_export_jobs(limit=1)
    warnings = [record for record in caplog.records if record.name == STORE_LOGGER]
    assert len(warnings) == 1, caplog.text
    assert str(path) in warnings[0].getMessage()
    assert simulator.state.count("tokens_issued") == 3  # each "process" on its own, none failed
    assert simulator.state.count("requests:list") == 3


def test_a_token_platform_refuses_is_retired_for_every_process(
    simulator: SimulatorServer, hook: AdobeExperiencePlatformHook, token_store_path: Path
) -> None:
    hook.list_export_jobs(limit=1)
    simulator.state.revoke_tokens()
    refused = simulator.state.issued_tokens[-1]
    a_new_process()  # it takes the stored token, which Platform now refuses
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_rejected") == 1
    assert simulator.state.count("tokens_issued") == 2  # one refresh for the call
    stored = TokenStore(token_store_path).load(slot_of(hook))
    assert stored is not None
    assert stored[0] != refused
    a_new_process()  # the next process takes the new token, not the refused one
    hook.list_export_jobs(limit=1)
    assert simulator.state.count("tokens_rejected") == 1
    assert simulator.state.count("tokens_issued") == 2


def test_a_refused_token_is_removed_from_the_store(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    slot = Slot.of(("url", "client", "scopes"), "secret")
    store.save(slot, "refused", 3600)
    assert store.load(slot, retire="another") == ("refused", pytest.approx(3600, abs=5))
    assert store.load(slot, retire="refused") is None
    assert not (tmp_path / "tokens" / slot.name).exists()


def test_a_lock_held_too_long_is_waited_for_only_so_long(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    slot = Slot.of(("url", "client", "scopes"), "secret")
    holder = TokenStore(tmp_path / "tokens").lock(slot)
    waiter = TokenStore(tmp_path / "tokens", lock_wait=0.2)
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
            not_held = waiter.lock(slot)
        assert time.monotonic() - started < 5
        assert "fetching one here too" in caplog.text
        not_held.release()
    finally:
        holder.release()
    again = waiter.lock(slot)  # free once released
    again.release()
    assert waiter.usable


def test_entries_from_a_clock_far_ahead_are_not_believed(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    slot = Slot.of(("url", "client", "scopes"), "secret")
    store.save(slot, "t", 30 * 86_400)
    assert store.load(slot) is None


def test_the_slot_never_shows_its_key() -> None:
    slot = Slot.of(("url", "client", "scopes"), "secret")
    assert slot.key.hex() not in repr(slot)
    assert "secret" not in repr(slot)
    assert set(slot.name) <= set("0123456789abcdef")  # a plain file name, whatever the credential holds
