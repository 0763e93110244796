"""The manifest a download writes last: a reader who finds it knows the set of files is complete."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

MANIFEST_NAME = "_manifest.json"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ManifestFile(_Part):
    """One downloaded file: where it is, and what a reader can check it against."""

    name: str
    path: str  # relative to the manifest's directory
    size: int
    sha256: str
    records: int | None = None  # where Data Access gave the file's row count


class ManifestBatch(_Part):
    """One batch of the export, as Catalog reported it when the download began."""

    batch_id: str
    status: str
    records_written: int | None
    files: list[ManifestFile]


class Manifest(_Part):
    """Every file of every batch of one export job (``{dataset_id}/{job_id}/``), or of one batch.

    A batch landed on its own (``{dataset_id}/batches/{batch_id}/``) names the export job that wrote
    it in ``job_id`` when one is known.
    """

    job_id: str | None
    dataset_id: str
    exported_profiles: int | None = None
    batches: list[ManifestBatch] = []

    @property
    def files(self) -> int:
        """How many files the export is made of."""
        return sum(len(batch.files) for batch in self.batches)

    @property
    def size(self) -> int:
        """Bytes in all files."""
        return sum(file.size for batch in self.batches for file in batch.files)

    @property
    def records(self) -> int | None:
        """Rows in all batches, as Catalog counted them; None when it did not say."""
        counts = [batch.records_written for batch in self.batches]
        return None if any(count is None for count in counts) else sum(count or 0 for count in counts)
