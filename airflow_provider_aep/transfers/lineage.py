"""What a landing reports to OpenLineage: the AEP dataset it read, the folders it wrote, their figures.

Airflow's object storage names each file it writes in hook lineage; a reader of the lineage graph
wants the landed set instead: one output per folder that holds a manifest, with its row, byte and
file counts in the output statistics facet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import Asset, ObjectStoragePath

from airflow_provider_aep.assets import openlineage_dataset

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset


@dataclass(frozen=True)
class LandedFolder:
    """One folder under its own manifest, and what it holds."""

    uri: str
    files: int
    size: int
    records: int | None


@dataclass(frozen=True)
class LandingLineage:
    """The read AEP dataset (its ``aep://`` URI) and the folders written."""

    source_uri: str
    folders: Sequence[LandedFolder]

    def operator_lineage(self) -> OperatorLineage[Any, Any]:
        """The lineage for the OpenLineage provider (an optional extra), which imports it only then."""
        from airflow.providers.common.compat.openlineage.facet import (
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        outputs = []
        for folder in self.folders:
            named = object_storage_dataset(folder.uri)
            statistics = OutputStatisticsOutputDatasetFacet(
                rowCount=folder.records, size=folder.size, fileCount=folder.files
            )
            outputs.append(
                OutputDataset(namespace=named.namespace, name=named.name, outputFacets={"outputStatistics": statistics})
            )
        return OperatorLineage(inputs=[openlineage_dataset(self.source_uri)], outputs=outputs)


def lineage_uri(path: ObjectStoragePath) -> str:
    """The folder's URI without the connection id Airflow writes into it (``s3://conn@bucket/...``).

    Lineage names the data, so that the landing joins what other producers report of the same
    bucket, whichever credentials wrote it.
    """
    return f"{path.protocol}://{path.path}"


def object_storage_dataset(uri: str) -> Dataset:
    """The destination as Airflow's OpenLineage names an asset with this URI.

    Through the converters providers register (``file`` from common.io, ``s3`` from Amazon, ...);
    where none is installed for the scheme, by OpenLineage's naming rule for object stores: the
    scheme and bucket as namespace, the key as name.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    named = translate_airflow_asset(Asset(uri), lineage_context=None)
    if named is not None:
        return Dataset(namespace=named.namespace, name=named.name)
    parts = urlsplit(uri)
    return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/") or "/")
