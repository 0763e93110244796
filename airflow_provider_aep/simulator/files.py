"""The files a simulated export writes: real Parquet files of profile rows, or raw bytes of any size.

By default a file is Parquet holding its share of the job's exported profiles, so that a DAG under
test can read what it downloaded and count the rows. For download tests and benchmarks a file can
instead be ``size`` deterministic bytes, made on demand in ranges, so a gigabyte costs no memory.
Either way the content is a function of the file's id and name: a test can compute what a download
must hold.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SimulatedFile:
    """One named file behind a Data Access file id; ``parquet`` holds the content of a Parquet file."""

    file_id: str
    name: str
    size: int
    records: int
    parquet: bytes | None = field(default=None, repr=False)

    @classmethod
    def of_rows(cls, file_id: str, name: str, records: int) -> SimulatedFile:
        """A Parquet file of ``records`` profile rows."""
        content = profile_parquet(file_id, records)
        return cls(file_id, name, len(content), records, content)

    def chunk(self, index: int) -> bytes:
        """The ``index``-th MiB of the content (shorter at the end)."""
        if self.parquet is not None:
            return self.parquet[index * CHUNK : (index + 1) * CHUNK]
        length = max(min(CHUNK, self.size - index * CHUNK), 0)
        # One random MiB per file, each chunk stamped with its index: distinct at every offset, and
        # cheap enough that the simulator serves gigabytes faster than a client reads them.
        return (index.to_bytes(8, "big") + _random_block(self.file_id, self.name)[8:])[:length]

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


@lru_cache(maxsize=64)
def _random_block(file_id: str, name: str) -> bytes:
    return random.Random(f"{file_id}/{name}").randbytes(CHUNK)


@lru_cache(maxsize=256)
def profile_parquet(seed: str, rows: int) -> bytes:
    """``rows`` exported profiles as a Snappy-compressed Parquet file, the same for the same seed.

    pyarrow comes with the ``simulator`` extra; the provider itself never reads Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [f"{seed[:8]}{index:08d}" for index in range(rows)]
    table = pa.table(
        {
            "ecid": ids,
            "personalEmail_address": [f"profile-{value}@example.com" for value in ids],
            "segmentMembership_status": ["realized"] * rows,
        }
    )
    out = pa.BufferOutputStream()
    pq.write_table(table, out, compression="snappy")
    return bytes(out.getvalue().to_pybytes())
