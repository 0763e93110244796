"""The Data Access API (a batch's files, downloads) as transport-free flows over the shared core."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

import httpx

from airflow_provider_aep.client.calls import Failed, PlatformCalls, read_pages, stream, with_retries
from airflow_provider_aep.client.flows import Flow, Reply, Streamed
from airflow_provider_aep.client.responses import (
    error_from_response,
    error_from_transport,
    is_success,
    malformed,
    parse,
)
from airflow_provider_aep.identifiers import path_segment
from airflow_provider_aep.models.data_access import DataFile, FilesPage, ListingEntry
from airflow_provider_aep.scrubbing import scrubber

EXPORT_PATH = "/data/foundation/export"
PAGE_SIZE = 100  # Data Access's largest page
# Directories inside directories: far deeper than an export writes, and a bound on a server that loops.
MAX_DEPTH = 8
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DataAccessApi:
    """Data Access's paths and models; performs no I/O.

    Ids and names reaching these flows are already checked, and still encoded into the URL.
    """

    def __init__(self, calls: PlatformCalls):
        self.calls = calls
        self.log = calls.log

    def list_batch_files(self, batch_id: str) -> Flow[list[DataFile]]:
        """Every file of the batch, across pages, directories resolved to the files in them.

        Bounded: each file id is listed once (a directory that lists itself is an error), and at
        most ``limits.max_pages`` x 100 file ids in all.
        """
        entries, reply = yield from self._listing(f"{EXPORT_PATH}/batches/{path_segment(batch_id)}/files")
        listed: set[str] = set()
        files: list[DataFile] = []
        for entry in entries:
            if entry.data_set_file_id is None:
                raise malformed(reply, "an entry of the batch's files has no dataSetFileId", transient=False)
            self._check_unlisted(reply, entry.data_set_file_id, listed, depth=0)
            files += yield from self._files_of(entry.data_set_file_id, entry.records, depth=0, listed=listed)
        return files

    def download(self, file: DataFile, sink: Callable[[bytes], object], offset: int = 0) -> Flow[int]:
        """Write the file's bytes from ``offset`` on to ``sink``; returns the file's size, checked.

        The size matches what Platform declared. ``offset`` is what an earlier task wrote of a
        partial file.

        A connection dropped mid-body, or a 5xx or 429 on the way, resumes with ``Range`` from the
        last byte written, so nothing is written twice; a server that ignores ``Range`` has the
        bytes the sink already holds skipped. No attempt writes past the declared size. Attempts go
        through the one retry loop, where one that wrote bytes starts the count again; the offset
        written so far is all a download adds to it.
        """
        path = f"{EXPORT_PATH}/files/{path_segment(file.file_id)}"
        limits = self.calls.limits
        written = offset

        def attempt(token: str | None) -> Flow[int | Failed]:
            nonlocal written
            if file.length is not None and written >= file.length:
                return written  # the attempt that failed had written the last byte already
            headers = {"Accept": "application/octet-stream", "Accept-Encoding": "identity"}
            if written:
                headers["Range"] = f"bytes={written}-"
                self.log.info("Resuming %s from byte %d.", file.name, written)
            request = self.calls.request("GET", path, token, params={"path": file.name}, headers=headers)
            answer = _RangeAnswer(written, file.length)
            outcome = yield from stream(
                request,
                sink,
                answer.skip,
                None if file.length is None else file.length - written,
                timeout=limits.download_timeout,
                idle_timeout=limits.timeout,
                max_bytes=limits.max_response_bytes,
            )
            written += outcome.written
            if outcome.overflowed:
                problem = f"{file.name}: the body goes on past the {file.length} bytes the file listing declared"
                raise malformed(outcome, problem, transient=False)
            total = file.length if file.length is not None else answer.total
            if outcome.failure is not None:
                error = error_from_transport(request, outcome.failure, limits.download_timeout)
            elif outcome.refused:
                error = malformed(outcome, answer.problem)
            elif outcome.status_code is not None and not is_success(outcome.status_code):
                error = error_from_response(Reply(request, outcome.status_code, outcome.headers, outcome.content))
            elif total is None or written >= total:
                return _checked_size(outcome, file, written, declared=answer.total)
            else:
                error = malformed(outcome, f"the body ended after {written} of {total} bytes")
            return Failed(error, progressed=outcome.written > 0)

        return (
            yield from with_retries(attempt, policy=self.calls.retry_policy, log=self.log, metrics=self.calls.metrics)
        )

    def _check_unlisted(self, reply: Reply, file_id: str, listed: set[str], *, depth: int) -> None:
        """Refuses a file id the listing in ``reply`` names that would loop, nest or grow without end."""
        if depth > MAX_DEPTH:
            raise malformed(reply, f"directories nest deeper than {MAX_DEPTH} levels", transient=False)
        if file_id in listed:
            raise malformed(reply, "a directory lists a file id that was listed already", transient=False)
        if len(listed) >= self.calls.limits.max_pages * PAGE_SIZE:
            raise malformed(
                reply, f"the batch holds more than {len(listed)} file ids (max_pages x {PAGE_SIZE})", transient=False
            )
        listed.add(file_id)

    def _files_of(self, file_id: str, records: int | None, *, depth: int, listed: set[str]) -> Flow[list[DataFile]]:
        """The files behind one file id: its own entries, and those of any directory among them."""
        entries, reply = yield from self._listing(f"{EXPORT_PATH}/files/{path_segment(file_id)}")
        named = [(entry, entry.name) for entry in entries if entry.name is not None]
        inner = [entry.data_set_file_id for entry in entries if entry.name is None and entry.data_set_file_id]
        if len(named) + len(inner) < len(entries):
            raise malformed(reply, "an entry is neither a file nor a file id", transient=False)
        # The batch listing's row count is this file's only when the file id holds nothing else.
        own_records = records if len(named) == 1 and not inner else None
        files = [DataFile(file_id, name, entry.length, own_records) for entry, name in named]
        for inner_id in inner:
            self._check_unlisted(reply, inner_id, listed, depth=depth + 1)
            files += yield from self._files_of(inner_id, None, depth=depth + 1, listed=listed)
        return files

    def _listing(self, path: str) -> Flow[tuple[list[ListingEntry], Reply]]:
        """Every entry across pages (``_links.next`` where given, else ``start`` advanced by a full page).

        With the last page's reply, which errors about the entries name.
        """

        def page(start: int) -> Flow[tuple[list[ListingEntry], int | None, Reply]]:
            reply = yield from self.calls.call("GET", path, params={"start": str(start), "limit": str(PAGE_SIZE)})
            listing = parse(reply, FilesPage, what="a Data Access listing", empty=FilesPage())
            return listing.data, self._next_start(reply, listing, start), reply

        pages = yield from read_pages(
            page, 0, key=lambda entry: (entry.data_set_file_id, entry.name), max_pages=self.calls.limits.max_pages
        )
        return pages.whole(), pages.reply

    def _next_start(self, reply: Reply, page: FilesPage, start: int) -> int | None:
        """Where the next page starts, or None after the last one.

        Only a ``next`` link on the connection's own gateway is read (an explicit ``:443`` is the
        same gateway); one elsewhere, or one without a usable ``start``, is refused, never followed
        or taken for the end.
        """
        target = page.links.next.href if page.links and page.links.next else None
        if not target:
            return start + len(page.data) if len(page.data) >= PAGE_SIZE else None
        try:
            link = httpx.URL(target)
        except httpx.InvalidURL:
            raise malformed(reply, "its next link is not a URL", transient=False) from None
        gateway = httpx.URL(self.calls.settings.gateway_url)
        if link.is_absolute_url and (link.scheme, link.host, link.port) != (gateway.scheme, gateway.host, gateway.port):
            raise malformed(reply, f"its next link leaves the gateway ({link.host})", transient=False)
        values = parse_qs(link.query.decode(errors="replace")).get("start", [])
        if not (values and values[-1].isascii() and values[-1].isdigit()):
            raise malformed(reply, "its next link has no usable start", transient=False)
        return int(values[-1])


class _RangeAnswer:
    """Reads a download's answer before its body is written: which bytes it holds, and how many in all.

    An answer whose size disagrees with the file listing's is not the file (a gateway's page, or a
    connection cut after a made-up prefix): none of its bytes are written, since once resumed past
    they would stay in the file unnoticed.
    """

    def __init__(self, offset: int, length: int | None):
        self.offset = offset
        self.length = length
        self.total: int | None = None
        self.problem = ""

    def skip(self, status_code: int, headers: Mapping[str, str]) -> int | None:
        if status_code == 206:
            content_range = headers.get("content-range")
            match = _CONTENT_RANGE.fullmatch((content_range or "").strip())
            if match is None or int(match.group(1)) != self.offset:
                # Not the bytes asked for: written, they would corrupt the file.
                held = scrubber.scrub(content_range, limit=100) if content_range else "no Content-Range"
                self.problem = f"asked for the bytes from {self.offset} on, the answer holds {held}"
                return None
            self.total = None if match.group(3) == "*" else int(match.group(3))
            return 0 if self._fits() else None
        length = headers.get("content-length", "")
        self.total = int(length) if length.isascii() and length.isdigit() else None
        return self.offset if self._fits() else None  # a full body: the first bytes are already written

    def _fits(self) -> bool:
        if self.total is None or self.length is None or self.total == self.length:
            return True
        self.problem = f"the file listing declared {self.length} bytes, the answer holds {self.total}"
        return False


def _checked_size(outcome: Streamed, file: DataFile, written: int, declared: int | None) -> int:
    """The byte count, unless it differs from what the listing or the response declared."""
    for expected, source in ((file.length, "the file listing"), (declared, "the response")):
        if expected is not None and written != expected:
            raise malformed(
                outcome, f"{file.name}: {written} bytes written, {source} declared {expected}", transient=False
            )
    return written
