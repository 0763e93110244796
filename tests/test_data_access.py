"""Data Access through the hook: a batch's files across pages and directories, and resumable downloads."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AepApiError, AepConfigError, AepNotFoundError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models.data_access import DataFile
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from airflow_provider_aep.simulator.files import CHUNK
from tests.reliability.hostile_server import TOKEN_PATH, Answer, HostileServer, Request
from tests.tokens import forget_tokens

from .conftest import EXPORT_REQUEST, FAST_RETRIES


def finished_batch(simulator: SimulatorServer, **scenario: Any) -> str:
    """The batch of a SUCCEEDED export job with the given file layout."""
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1, **scenario))
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES)
    job = hook.get_export_job(hook.create_export_job(EXPORT_REQUEST).id)
    return job.batch_ids()["*"]


def expected_files(simulator: SimulatorServer, batch_id: str) -> dict[str, Any]:
    written = simulator.state.batch_files(batch_id)
    assert written is not None
    return {file.name: file for file in written.files}


def test_a_batchs_files_are_listed_across_pages_with_their_sizes(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    batch_id = finished_batch(simulator, files_per_batch=150, file_size=10, exported_profiles=1500)
    files = hook.list_batch_files(batch_id)
    expected = expected_files(simulator, batch_id)
    assert sorted(file.name for file in files) == sorted(expected)
    assert all(file.length == 10 for file in files)
    assert sum(file.records or 0 for file in files) == 1500  # one file per file id: its row count is known
    # The batch listing in two pages (100 + 50), then each of the 150 file ids.
    assert simulator.state.count("requests:batch_files") == 2
    assert simulator.state.count("requests:file_list") == 150


def test_a_directory_is_resolved_to_the_files_in_it(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    batch_id = finished_batch(simulator, files_per_batch=3, directory=True)
    files = asyncio.run(hook.alist_batch_files(batch_id))
    assert sorted(file.name for file in files) == sorted(expected_files(simulator, batch_id))
    assert {file.records for file in files} == {None}  # the batch listing counted the directory as a whole
    assert simulator.state.count("requests:file_list") == 1 + 3


def test_a_download_writes_exactly_the_files_bytes(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    batch_id = finished_batch(simulator, file_size=3 * CHUNK + 17)
    (file,) = hook.list_batch_files(batch_id)
    sink = io.BytesIO()
    assert hook.download_file(file, sink) == 3 * CHUNK + 17
    assert hashlib.sha256(sink.getvalue()).hexdigest() == expected_files(simulator, batch_id)[file.name].sha256()


@pytest.mark.parametrize(
    "fault",
    [
        Fault("drop", route="file_download", after_bytes=CHUNK + 5),  # a drop mid-body
        Fault("drop", route="file_download", after_bytes=CHUNK + 5, times=3),  # several, each making progress
    ],
)
def test_a_dropped_download_resumes_where_it_stopped(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, fault: Fault
) -> None:
    batch_id = finished_batch(simulator, file_size=4 * CHUNK)
    (file,) = hook.list_batch_files(batch_id)
    simulator.state.inject(fault)
    chunks: list[bytes] = []
    assert hook.download_file(file, chunks.append) == 4 * CHUNK
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == expected_files(simulator, batch_id)[file.name].sha256()
    ranges = [record.range for record in simulator.state.requests if record.route == "file_download"]
    # Each attempt resumed exactly where the last one was cut, never from the start.
    assert ranges == [None] + [f"bytes={(CHUNK + 5) * attempt}-" for attempt in range(1, (fault.times or 0) + 1)]


def test_a_5xx_on_the_resumed_request_is_retried(hook: AdobeExperiencePlatformHook, simulator: SimulatorServer) -> None:
    batch_id = finished_batch(simulator, file_size=2 * CHUNK)
    (file,) = hook.list_batch_files(batch_id)
    simulator.state.inject(
        Fault("drop", route="file_download", after_bytes=CHUNK),
        Fault("status", route="file_download", status=503),
    )
    sink = io.BytesIO()
    hook.download_file(file, sink)
    ranges = [record.range for record in simulator.state.requests if record.route == "file_download"]
    assert ranges == [None, f"bytes={CHUNK}-", f"bytes={CHUNK}-"]  # the 503, then the same range again
    assert hashlib.sha256(sink.getvalue()).hexdigest() == expected_files(simulator, batch_id)[file.name].sha256()


@pytest.mark.parametrize("ignore_range", [False, True])
def test_a_download_from_an_offset_writes_only_the_rest(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, ignore_range: bool
) -> None:
    batch_id = finished_batch(simulator, file_size=3 * CHUNK)
    (file,) = hook.list_batch_files(batch_id)
    simulator.state.ignore_range = ignore_range  # then the bytes before the offset are skipped
    sink = io.BytesIO()
    assert hook.download_file(file, sink, offset=CHUNK + 9) == 3 * CHUNK
    whole = b"".join(expected_files(simulator, batch_id)[file.name].read())
    assert sink.getvalue() == whole[CHUNK + 9 :]
    assert [record.range for record in simulator.state.requests if record.route == "file_download"] == [
        f"bytes={CHUNK + 9}-"
    ]


@pytest.mark.parametrize("offset", [-1, 2 * CHUNK + 1, True, 1.5, "5"])
def test_an_offset_outside_the_file_is_refused_before_any_request(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, offset: Any
) -> None:
    batch_id = finished_batch(simulator, file_size=2 * CHUNK)
    (file,) = hook.list_batch_files(batch_id)
    with pytest.raises(AepConfigError, match="download_file on connection 'aep_default': offset must be"):
        hook.download_file(file, io.BytesIO(), offset=offset)
    with pytest.raises(AepConfigError, match="offset must be"):  # a file of unknown size has no offset to resume at
        hook.download_file(DataFile(file.file_id, file.name, None, None), io.BytesIO(), offset=1)
    assert simulator.state.count("requests:file_download") == 0


def test_a_download_stalled_mid_file_past_the_timeout_resumes_where_it_stalled(simulator: SimulatorServer) -> None:
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES, timeout=0.5)
    batch_id = finished_batch(simulator, file_size=3 * CHUNK)
    (file,) = hook.list_batch_files(batch_id)
    simulator.state.inject(Fault("slow", route="file_download", after_bytes=CHUNK + 3, delay=3.0))
    sink = io.BytesIO()
    assert hook.download_file(file, sink) == 3 * CHUNK
    assert hashlib.sha256(sink.getvalue()).hexdigest() == expected_files(simulator, batch_id)[file.name].sha256()
    ranges = [record.range for record in simulator.state.requests if record.route == "file_download"]
    assert ranges == [None, f"bytes={CHUNK + 3}-"]
    assert simulator.state.count("interrupted:file_download") == 1  # the stall, and only the one


def test_a_server_that_ignores_range_has_the_bytes_already_written_skipped(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    batch_id = finished_batch(simulator, file_size=2 * CHUNK + 3)
    (file,) = hook.list_batch_files(batch_id)
    simulator.state.ignore_range = True
    simulator.state.inject(Fault("drop", route="file_download", after_bytes=CHUNK + 1))
    sink = io.BytesIO()
    assert hook.download_file(file, sink) == 2 * CHUNK + 3
    ranges = [record.range for record in simulator.state.requests if record.route == "file_download"]
    assert ranges == [None, f"bytes={CHUNK + 1}-"]  # asked for the rest, given the whole file
    assert hashlib.sha256(sink.getvalue()).hexdigest() == expected_files(simulator, batch_id)[file.name].sha256()


def test_an_answer_of_another_size_than_the_listing_is_never_written(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    batch_id = finished_batch(simulator, file_size=1000)
    (file,) = hook.list_batch_files(batch_id)
    for declared in (999, 1001):  # the file has 1000
        sink = io.BytesIO()
        with pytest.raises(AepApiError, match=f"the file listing declared {declared} bytes, the answer holds 1000"):
            hook.download_file(DataFile(file.file_id, file.name, declared), sink)
        assert sink.getvalue() == b""


def test_a_made_up_answer_cut_short_leaves_no_byte_in_the_file(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    """A 200 that declares 64 bytes, sends a scrap of JSON and drops: the cluster harness saw that
    scrap stay in a file, under the resumed rest, with the right size and a manifest."""
    batch_id = finished_batch(simulator, file_size=1000)
    (file,) = hook.list_batch_files(batch_id)
    simulator.state.inject(Fault("drop", route="file_download"))
    sink = io.BytesIO()
    assert hook.download_file(file, sink) == 1000
    assert hashlib.sha256(sink.getvalue()).hexdigest() == expected_files(simulator, batch_id)[file.name].sha256()
    ranges = [record.range for record in simulator.state.requests if record.route == "file_download"]
    assert ranges == [None, None]  # nothing was written from the first answer: the retry starts over


def test_a_content_range_that_echoes_the_token_is_scrubbed_from_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def script(request: Request) -> Answer | None:
        if request.path == TOKEN_PATH:
            return None  # a fresh token
        return Answer(206, b"x" * 10, {"Content-Range": f"bytes 5-14/100 {server.issued_tokens[-1]}"})

    forget_tokens()
    with HostileServer(script) as server:
        monkeypatch.setenv("AIRFLOW_CONN_AEP_HOSTILE", server.connection_env_value())
        hook = AdobeExperiencePlatformHook("aep_hostile", retry_policy=FAST_RETRIES)
        with pytest.raises(
            AepApiError, match="asked for the bytes from 0 on, the answer holds bytes 5-14/100"
        ) as error:
            hook.download_file(DataFile("5b7c86968f7b6501e21ba9df", "part-0.parquet", 100), io.BytesIO())
    (token,) = server.issued_tokens
    assert token not in str(error.value)
    assert "***" in str(error.value)


def test_a_next_link_to_another_host_is_refused(hook: AdobeExperiencePlatformHook, simulator: SimulatorServer) -> None:
    batch_id = finished_batch(simulator, files_per_batch=101, file_size=1)
    simulator.state.next_link_host = "evil.example.com:443"
    with pytest.raises(AepApiError, match=r"next link leaves the gateway \(evil.example.com\)"):
        hook.list_batch_files(batch_id)
    assert simulator.state.count("requests:batch_files") == 1  # read once, not retried, never followed


@pytest.mark.parametrize(
    ("next_link", "problem"),
    [
        ("?limit=100", "its next link has no usable start"),
        ("?start=0&limit=100", "the listing repeats itself"),
    ],
)
def test_a_listing_that_cannot_be_read_to_its_end_is_an_error_not_a_short_answer(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, next_link: str, problem: str
) -> None:
    batch_id = finished_batch(simulator, files_per_batch=101, file_size=1)
    simulator.state.next_link_query = next_link
    with pytest.raises(AepApiError, match=problem):
        hook.list_batch_files(batch_id)


def test_an_unknown_batch_is_not_found(hook: AdobeExperiencePlatformHook, simulator: SimulatorServer) -> None:
    with pytest.raises(AepNotFoundError, match="Batch nope not found"):
        hook.list_batch_files("nope")


@pytest.mark.parametrize(
    ("file", "field"),
    [
        (DataFile("../x", "part-0.parquet", 1), "file_id"),
        (DataFile("abc", "../../etc/passwd", 1), "file name"),
        (DataFile("abc", "/abs.parquet", 1), "file name"),
        (DataFile("abc", "a b.parquet", 1), "file name"),
    ],
)
def test_bad_files_are_refused_before_any_request(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, file: DataFile, field: str
) -> None:
    with pytest.raises(AepConfigError, match=rf"download_file on connection 'aep_default': {field}"):
        hook.download_file(file, io.BytesIO())
    assert simulator.state.count("requests") == 0
