"""One progress line for a whole transfer, at a steady cadence, however many files land at once.

A download of many gigabytes runs for minutes: without these lines a user cannot tell a slow
destination from a hung task. The line comes every ``PROGRESS_EVERY_SECONDS`` (from a timer, so
it comes even while nothing moves, and then says so) and each time another
``PROGRESS_EVERY_FRACTION`` of the bytes has landed; never one line per file or per chunk.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from airflow_provider_aep.client.calls import Logger
from airflow_provider_aep.wait.alive import duration_text

PROGRESS_EVERY_SECONDS = 10.0
PROGRESS_EVERY_FRACTION = 0.05
# Throughput "now" is taken over at least this long; two lines closer together give the average.
_RATE_WINDOW_SECONDS = 1.0


class TransferProgress:
    """Counts files and bytes from every download thread, and says where the transfer stands.

    Lines are written under the same lock the counts are kept under, so they come out in order,
    whichever thread crossed a mark. ``bytes_total`` is None when a file's size is not listed: the
    lines then give no share and no estimate of the time left.
    """

    def __init__(
        self,
        log: Logger,
        *,
        files_total: int,
        bytes_total: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.clock = clock
        self.files_done = 0
        self.files_in_place = 0
        self.files_resumed = 0
        self.bytes_kept = 0  # of the resumed files, what an earlier try had written
        self.bytes_done = 0  # landed, including files found in place
        self.bytes_fetched = 0  # downloaded by this run
        self.started = self._last_line_at = clock()
        self._last_line_bytes = 0
        self._lock = threading.Lock()
        self._step = math.ceil(bytes_total * PROGRESS_EVERY_FRACTION) if bytes_total else None
        self._next_mark = self._step

    def fetched(self, size: int) -> None:
        """``size`` more bytes downloaded (called from the download threads, per chunk)."""
        with self._lock:
            self.bytes_done += size
            self.bytes_fetched += size
            self._log_crossed_mark()

    def file_done(self, *, in_place: int | None = None) -> None:
        """One more file landed; ``in_place``: its size, when it was already there and was not downloaded."""
        with self._lock:
            self.files_done += 1
            if in_place is not None:
                self.files_in_place += 1
                self.bytes_done += in_place
            self._log_crossed_mark()

    def resumed(self, kept: int) -> None:
        """A partial file is being completed: its first ``kept`` bytes are in place already."""
        with self._lock:
            self.files_resumed += 1
            self.bytes_kept += kept
            self.bytes_done += kept
            self._log_crossed_mark()

    @property
    def elapsed(self) -> float:
        """Seconds since the transfer started."""
        return self.clock() - self.started

    @contextmanager
    def reporting(self, every: float = PROGRESS_EVERY_SECONDS) -> Iterator[TransferProgress]:
        """Lines every ``every`` seconds while the block runs; its end is the caller's summary to log."""
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every):
                with self._lock:
                    self.log.info("%s", self._line("Download progress"))

        ticker = threading.Thread(target=tick, name="aep-download-progress", daemon=True)
        ticker.start()
        try:
            yield self
        finally:
            stop.set()
            ticker.join()

    def summary(self) -> str:
        """The final line: the same figures, over the whole transfer."""
        with self._lock:
            line = self._line("Download done", whole=True)
        if self.files_in_place:
            line += f"; {self.files_in_place} file(s) were already in place and were not downloaded again"
        if self.files_resumed:
            line += f"; {self.files_resumed} partial file(s) resumed, {_size(self.bytes_kept)} of them kept"
        return line

    def _log_crossed_mark(self) -> None:
        """A line when the bytes landed passed the next share of the total; under the lock.

        None at the last share: the summary follows at once.
        """
        if self._next_mark is None or self._step is None or self.bytes_done < self._next_mark:
            return
        self._next_mark = (self.bytes_done // self._step + 1) * self._step
        if self.bytes_total is not None and self.bytes_done < self.bytes_total:
            self.log.info("%s", self._line("Download progress"))

    def _line(self, heading: str, *, whole: bool = False) -> str:
        """Files, bytes, throughput and time left; under the lock.

        Throughput is since the previous line (what the transfer does now; 0 when it is stuck), or
        over the whole transfer when ``whole`` or when the previous line is under a second old. The
        time left comes from the whole transfer's pace.
        """
        now = self.clock()
        elapsed = max(now - self.started, 1e-9)
        pace = self.bytes_fetched / elapsed
        since = now - self._last_line_at
        recent = whole or since < _RATE_WINDOW_SECONDS
        rate = pace if recent else (self.bytes_fetched - self._last_line_bytes) / since
        self._last_line_at, self._last_line_bytes = now, self.bytes_fetched
        parts = [f"{heading}: {self.files_done} of {self.files_total} files"]
        if self.bytes_total:
            share = min(100, self.bytes_done * 100 // self.bytes_total)
            parts.append(f"{_size(self.bytes_done)} of {_size(self.bytes_total)} ({share}%)")
        else:
            parts.append(_size(self.bytes_done))
        parts.append(f"{_size(rate)}/s" + (f" over {duration_text(elapsed)}" if whole else ""))
        if not whole and self.bytes_total and self.bytes_done < self.bytes_total and pace > 0:
            parts.append(f"about {duration_text((self.bytes_total - self.bytes_done) / pace)} left")
        return ", ".join(parts)


def _size(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
