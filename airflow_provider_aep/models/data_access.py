"""Data Access listings as Platform returns them, and the files they resolve to.

Numbers arrive as strings (``"249058"``), links may carry an explicit ``:443``, and a file id may
name a directory whose entries are more file ids. Names from these listings end up in the
destination's paths, so they are held to a rule that cannot climb out of a directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.identifiers import shown
from airflow_provider_aep.models.catalog import CatalogId, Number
from airflow_provider_aep.models.records import ApiRecord

# One or more path segments of ordinary file-name characters; "." and ".." are refused below.
_FILE_NAME = re.compile(r"[A-Za-z0-9._=-]{1,255}(/[A-Za-z0-9._=-]{1,255}){0,7}")


def _checked_name(value: str) -> str:
    if _FILE_NAME.fullmatch(value) is None or any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"not a usable file name: {shown(value)}")
    return value


FileName = Annotated[str, AfterValidator(_checked_name)]


def data_file_name(value: object, *, subject: str) -> str:
    """A file name given by a caller, held to the listing's rule; ``AepConfigError`` otherwise."""
    if isinstance(value, str):
        try:
            return _checked_name(value)
        except ValueError:
            pass
    raise AepConfigError(
        f"{subject}: file name must be a relative path of letters, digits, '.', '_', '=' and '-', got {shown(value)}"
    )


class Link(ApiRecord):
    """A HAL link; only its target is read."""

    href: str | None = None


class Links(ApiRecord):
    """A listing's or an entry's links: ``self`` and, on all but the last page, ``next``."""

    self_: Link | None = Field(default=None, alias="self")
    next: Link | None = None


class ListingEntry(ApiRecord):
    """One entry: a file (``name`` and ``length``), or a file id to list in turn (a batch's files, a directory)."""

    data_set_file_id: CatalogId | None = Field(default=None, alias="dataSetFileId")
    name: FileName | None = None
    length: Number = None
    size: Number = None
    records: Number = None
    links: Links | None = Field(default=None, alias="_links")


class FilesPage(ApiRecord):
    """One page of a batch's files or of a file id's entries."""

    data: list[ListingEntry] = Field(default_factory=list)
    links: Links | None = Field(default=None, alias="_links")


@dataclass(frozen=True)
class DataFile:
    """One file to download: ``GET /files/{file_id}?path={name}``.

    ``length`` is what the listing declared (None when it did not); ``records`` is the row count
    the batch listing gave for its file id, where it gave one.
    """

    file_id: str
    name: str
    length: int | None
    records: int | None = None
