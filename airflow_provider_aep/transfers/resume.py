"""Completing a file that an earlier try left partial, instead of downloading it whole again.

A worker killed mid-download leaves a prefix of the file on a local disk; its retry fetches only the
rest. The prefix is kept only once the server's bytes over its last ``CHECK_BYTES`` match it, so a
file truncated by hand or left by another version of the export is downloaded whole instead of
being completed into a file of the right size and the wrong bytes.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from airflow.providers.common.compat.sdk import ObjectStoragePath
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_aep.models.data_access import DataFile

CHECK_BYTES = 64 * 1024  # fetched again and compared before a prefix is kept
_READ_CHUNK = 1024 * 1024


class PrefixDiffers(Exception):
    """The bytes in place are not the start of the file the server has."""


class Resumption:
    """One partial file being completed: the prefix hashed, then the overlap checked as it arrives.

    ``offset`` is where the download starts (``CHECK_BYTES`` before the end of the prefix);
    ``check`` takes each chunk from there and returns the part past the prefix, to append.
    """

    def __init__(self, path: ObjectStoragePath, kept: int, digest: Any) -> None:
        self.kept = kept
        self.offset = kept - CHECK_BYTES
        with open_binary(path, "rb") as present:
            read_into(digest, present, kept)
            present.seek(self.offset)
            self._expected = present.read(CHECK_BYTES)
        self.verified = False

    @classmethod
    def of(cls, path: ObjectStoragePath, present: int, file: DataFile, digest: Any) -> Resumption | None:
        """A resumption when the prefix is worth keeping and the filesystem can append to it."""
        if file.length is None or not CHECK_BYTES < present < file.length or not appends(path):
            return None
        return cls(path, present, digest)

    def check(self, chunk: bytes) -> bytes:
        """The chunk's bytes past the prefix; raises ``PrefixDiffers`` if the overlap differs."""
        if self.verified:
            return chunk
        size = min(len(chunk), len(self._expected))
        if chunk[:size] != self._expected[:size]:
            raise PrefixDiffers
        self._expected = self._expected[size:]
        self.verified = not self._expected
        return chunk[size:]


def appends(path: ObjectStoragePath) -> bool:
    """Whether a partial file can be completed in place.

    A local disk (or what mounts as one) appends; an object store writes an object whole when it is
    closed, so a task killed mid-file leaves nothing there to complete, and a rewrite costs the same.
    """
    return isinstance(path.fs, LocalFileSystem)


def read_into(digest: Any, handle: BinaryIO, size: int) -> int:
    """Feeds the next ``size`` bytes of ``handle`` (fewer at its end) to ``digest``; returns how many."""
    read = 0
    while read < size and (chunk := handle.read(min(_READ_CHUNK, size - read))):
        digest.update(chunk)
        read += len(chunk)
    return read


def open_binary(path: ObjectStoragePath, mode: str) -> BinaryIO:
    """``path.open``, typed: Airflow's ``ObjectStoragePath.open`` has no annotations."""
    opened: BinaryIO = path.open(mode)  # type: ignore[no-untyped-call]
    return opened
