"""The files a simulated export writes: deterministic bytes of any size, made on demand in ranges.

Their content is a function of the file's id and name, so a test can compute what a download must
hold, and a file of a gigabyte costs no memory to serve.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SimulatedFile:
    """One named file behind a Data Access file id."""

    file_id: str
    name: str
    size: int
    records: int

    def chunk(self, index: int) -> bytes:
        """The ``index``-th MiB of the content (shorter at the end)."""
        length = min(CHUNK, self.size - index * CHUNK)
        return random.Random(f"{self.file_id}/{self.name}/{index}").randbytes(max(length, 0))

    def read(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive; default the end), in chunks of at most a MiB."""
        end = self.size if end is None else min(end, self.size)
        position = start
        while position < end:
            index, offset = divmod(position, CHUNK)
            piece = self.chunk(index)[offset : offset + end - position]
            yield piece
            position += len(piece)

    def sha256(self) -> str:
        """What a complete download hashes to."""
        digest = hashlib.sha256()
        for piece in self.read():
            digest.update(piece)
        return digest.hexdigest()
