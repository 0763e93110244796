"""Long work says where it stands: one progress line for a whole download, and a long wait's sign of life."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from airflow_provider_aep.transfers.progress import TransferProgress
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from airflow_provider_aep.wait import alive
from airflow_provider_aep.wait.alive import AliveLog, duration_text
from airflow_provider_aep.wait.options import WaitOptions
from tests.task_context import task_context

from .conftest import EXPORT_REQUEST, FAST_RETRIES
from .test_download import download, finished_job
from .test_watchers import logged

MIB = 1024 * 1024
LINE = re.compile(
    r"Download (progress|done): (\d+) of (\d+) files, ([\d.]+ \w+) of ([\d.]+ \w+) \((\d+)%\), ([\d.]+ \w+)/s"
)


class Lines:
    """A logger that keeps what it was told, as the task log would show it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, event: str, *args: Any) -> None:
        self.lines.append(event % args)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def progress_lines(text: str) -> list[tuple[str, int, int, str, str, int]]:
    return [
        (kind, int(done), int(total), landed, whole, int(share))
        for kind, done, total, landed, whole, share, _ in LINE.findall(text)
    ]


def test_a_line_comes_at_each_twentieth_of_the_bytes_not_at_each_chunk() -> None:
    log, clock = Lines(), Clock()
    progress = TransferProgress(log, files_total=4, bytes_total=400 * MIB, clock=clock)
    for _ in range(4):
        for _chunk in range(100):
            clock.now += 0.01
            progress.fetched(MIB)
        progress.file_done()
    shares = [share for _, _, _, _, _, share in progress_lines("\n".join(log.lines))]
    assert shares == list(range(5, 100, 5))  # 400 chunks and 4 files: 19 lines, then the summary
    assert log.lines[0] == (
        "Download progress: 0 of 4 files, 20.0 MiB of 400.0 MiB (5%), 100.0 MiB/s, about 3.8 s left"
    )
    assert progress.summary() == "Download done: 4 of 4 files, 400.0 MiB of 400.0 MiB (100%), 100.0 MiB/s over 4.0 s"


def test_files_found_in_place_count_as_landed_but_not_as_downloaded() -> None:
    log, clock = Lines(), Clock()
    progress = TransferProgress(log, files_total=2, bytes_total=200 * MIB, clock=clock)
    progress.file_done(in_place=100 * MIB)
    clock.now += 2
    progress.fetched(100 * MIB)
    progress.file_done()
    assert progress.bytes_fetched == 100 * MIB
    assert progress.summary() == (
        "Download done: 2 of 2 files, 200.0 MiB of 200.0 MiB (100%), 50.0 MiB/s over 2.0 s; "
        "1 file(s) were already in place and were not downloaded again"
    )


def test_a_stuck_transfer_still_gets_its_timed_lines_and_they_say_nothing_moves() -> None:
    log, clock = Lines(), Clock()
    progress = TransferProgress(log, files_total=1, bytes_total=10 * MIB, clock=clock)
    progress.fetched(MIB)  # past a twentieth: its line comes at once
    clock.now += 30  # then nothing for 30 s
    ticked = threading.Event()
    original = log.info

    def info(event: str, *args: Any) -> None:
        original(event, *args)
        ticked.set()

    log.info = info  # type: ignore[method-assign]
    with progress.reporting(every=0.01):
        assert ticked.wait(10), "no timed line while the transfer stood still"
    first, timed, *_ = log.lines
    assert first.startswith("Download progress: 0 of 1 files, 1.0 MiB of 10.0 MiB (10%), ")
    # Nothing moved since the line before: the throughput now is zero, and the line says so.
    assert timed.startswith("Download progress: 0 of 1 files, 1.0 MiB of 10.0 MiB (10%), 0 B/s, about ")


def test_an_unlisted_size_gives_lines_without_a_share() -> None:
    log, clock = Lines(), Clock()
    progress = TransferProgress(log, files_total=3, bytes_total=None, clock=clock)
    progress.fetched(5 * MIB)
    clock.now += 1
    assert log.lines == []  # no share to cross: only the timed lines come
    assert progress.summary() == "Download done: 0 of 3 files, 5.0 MiB, 5.0 MiB/s over 1.0 s"


def test_a_1_gib_download_logs_its_progress_in_twentieths(
    simulator: SimulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("INFO")
    job_id = finished_job(simulator, file_size=1024 * MIB)
    result = download(job_id, f"file://{tmp_path}")
    assert result["bytes"] == 1024 * MIB
    lines = progress_lines(logged(caplog, capfd))
    shares = [share for kind, *_, share in lines if kind == "progress"]
    assert set(range(5, 100, 5)) <= set(shares)  # each twentieth, plus any timed line between
    assert shares == sorted(shares)
    assert lines[-1] == ("done", 1, 1, "1.0 GiB", "1.0 GiB", 100)


def test_a_50_file_batch_logs_one_line_for_the_whole_transfer(
    simulator: SimulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("INFO")
    job_id = finished_job(simulator, files_per_batch=50, file_size=256 * 1024)
    download(job_id, f"file://{tmp_path}", max_concurrency=32)
    lines = progress_lines(logged(caplog, capfd))
    progress = [line for line in lines if line[0] == "progress"]
    # Each file is 2 % of the bytes: a line at each twentieth below the whole, not one per file.
    assert len(progress) == 19
    assert [done for _, done, *_ in progress] == sorted(done for _, done, *_ in progress)
    assert all(total == 50 and whole == "12.5 MiB" for _, _, total, _, whole, _ in progress)
    assert lines[-1] == ("done", 50, 50, "12.5 MiB", "12.5 MiB", 100)
    # A second run finds every file in place and says so once, not once per file.
    capfd.readouterr()
    caplog.clear()
    download(job_id, f"file://{tmp_path}", max_concurrency=32)
    text = logged(caplog, capfd)
    assert text.count("already in place") == 1
    assert "Download done: 50 of 50 files, 12.5 MiB of 12.5 MiB (100%), 0 B/s" in text
    assert "50 file(s) were already in place" in text


def test_a_long_wait_says_it_is_alive_at_its_cadence_not_at_each_poll() -> None:
    log, clock = Lines(), Clock()
    wait = AliveLog(log, "export job 42", every=600, clock=clock)
    for _ in range(120):  # two hours of polls a minute apart
        clock.now += 60
        wait.tick()
    assert log.lines[0] == "Still waiting for export job 42: 10 min 00 s so far, 10 check(s) made."
    assert len(log.lines) == 12
    assert log.lines[-1] == "Still waiting for export job 42: 2 h 00 min so far, 120 check(s) made."


def test_a_deferred_wait_ticks_through_the_same_log(
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The trigger's loop ticks after each check that found nothing: every one, at a cadence of 0."""
    caplog.set_level("INFO")
    simulator.state.queue_scenarios(Scenario(polls_to_finish=4))
    job_id = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id
    monkeypatch.setattr(alive, "ALIVE_EVERY_SECONDS", 0.0)
    trigger = ExportJobTrigger(job_id, WaitOptions(request_retry_delay=0.01), poll_interval=0.01)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload

    assert asyncio.run(first_event())["status"] == "success"
    assert len(re.findall(rf"Still waiting for export job {job_id}: ", logged(caplog, capfd))) == 3


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.24, "0.2 s"), (9.96, "10 s"), (59.6, "1 min 00 s"), (3599, "59 min 59 s"), (7260, "2 h 01 min")],
)
def test_durations_read_the_same_everywhere(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_a_wait_in_the_worker_ticks_through_the_same_log(
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("INFO")
    simulator.state.queue_scenarios(Scenario(polls_to_finish=3))
    monkeypatch.setattr(alive, "ALIVE_EVERY_SECONDS", 0.0)
    operator = CreateExportJobOperator(
        task_id="create_export_job",
        export_job=EXPORT_REQUEST,
        wait_for_completion=True,
        deferrable=False,
        poll_interval=0.01,
        request_retry_delay=0.01,
    )
    job_id = operator.execute(task_context())
    assert len(re.findall(rf"Still waiting for export job {job_id}: ", logged(caplog, capfd))) == 2
