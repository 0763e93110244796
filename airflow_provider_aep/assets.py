"""AEP datasets as Airflow assets (datasets on Airflow 2.11): ``aep://{org}/{sandbox}/datasets/{dataset_id}``.

The URI names a dataset the way AEP addresses it (organisation, sandbox, dataset id), so a
downstream DAG scheduled on it runs when an export into that dataset succeeds, and lineage tools
see the same identity (OpenLineage namespace ``aep://{org}``, name ``{sandbox}/datasets/{id}``).
``{org}`` is the IMS organisation id without its ``@AdobeOrg`` suffix: Airflow 2.11 reads
``x@y`` in a URI's authority as user info and silently drops the ``x``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from airflow.providers.common.compat.sdk import Asset

from airflow_provider_aep.compat import require_asset_watchers, triggering_events

if TYPE_CHECKING:
    from collections.abc import Mapping

    from openlineage.client.event_v2 import Dataset as OpenLineageDataset

SCHEME = "aep"
_ORG = re.compile(r"[A-Za-z0-9]+")
_ORG_SUFFIX = "@AdobeOrg"
_SANDBOX = re.compile(r"[a-z0-9][a-z0-9-]*")
_DATASET_ID = re.compile(r"[A-Za-z0-9._-]+")
_FORM = "aep://{org}/{sandbox}/datasets/{dataset_id}"
# The ``kind`` of the payloads the asset watchers send (``triggers/new_batches.py``, ``succeeded_exports.py``).
BATCH_EVENT = "aep_batch"
EXPORT_JOB_EVENT = "aep_export_job"


def aep_dataset_uri(org_id: str, sandbox: str, dataset_id: str) -> str:
    """``org_id`` as in the connection, e.g. ``1BD6382559DF0C130A49422D@AdobeOrg``."""
    uri = f"{SCHEME}://{org_id.removesuffix(_ORG_SUFFIX)}/{sandbox}/datasets/{dataset_id}"
    sanitize_uri(urlsplit(uri))
    return uri


def aep_dataset_asset(org_id: str, sandbox: str, dataset_id: str, **asset_arguments: Any) -> Asset:
    """The asset a DAG declares as an export's outlet, or schedules a downstream DAG on."""
    return Asset(uri=aep_dataset_uri(org_id, sandbox, dataset_id), **asset_arguments)


def triggering_exports(context: Mapping[str, Any], asset: Asset) -> list[dict[str, Any]]:
    """The summaries (job id, batch ids, profile count) of every export that started this run, oldest first.

    Airflow folds all events recorded since a DAG's last run into its next run, so one run can follow
    several exports; ``inlet_events`` instead holds the asset's newest events, whether or not they
    started this run. Both the events a provider task records and those its export-job watcher
    sends count; others (e.g. made through the REST API) are left out.
    """
    summaries = []
    for extra in _triggering_extras(context, asset):
        if "job_id" in extra:
            summaries.append(extra)
        elif (payload := _watcher_payload(extra, EXPORT_JOB_EVENT)) is not None:
            summaries.append(payload)
    return _once(summaries, "job_id")


def triggering_batches(context: Mapping[str, Any], asset: Asset) -> list[dict[str, Any]]:
    """Every new batch its watcher reported for this run, oldest first, each batch once.

    Each holds ``batch_id``, ``dataset_id``, ``records_written``, the batch's times and
    ``export_job_id`` (None when no export the provider could see wrote it). A run can follow several
    batches, since Airflow folds the events recorded before it into it; a batch reported twice (a
    triggerer restart without Airflow 3.3's asset state store) is given once. Airflow 2.11, which has
    no asset watchers, gets an ``AepConfigError`` naming the version needed.
    """
    require_asset_watchers("triggering_batches")
    found = [
        payload
        for extra in _triggering_extras(context, asset)
        if (payload := _watcher_payload(extra, BATCH_EVENT)) is not None
    ]
    return _once(found, "batch_id")


def _triggering_extras(context: Mapping[str, Any], asset: Asset) -> list[dict[str, Any]]:
    events = sorted(triggering_events(context, asset), key=lambda event: event.timestamp)
    return [dict(event.extra or {}) for event in events]


def _watcher_payload(extra: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """The payload of a watcher's event, as Airflow files it in the event's extra."""
    payload = extra.get("payload")
    if extra.get("from_trigger") and isinstance(payload, dict) and payload.get("kind") == kind:
        return dict(payload)
    return None


def _once(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The first of the items that share ``key``'s value, in their order."""
    first: dict[Any, dict[str, Any]] = {}
    for item in items:
        first.setdefault(item.get(key), item)
    return list(first.values())


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for the ``aep`` scheme: a malformed URI fails when the DAG is parsed."""
    text = uri.geturl()
    parts = uri.path.split("/")
    problems = []
    if not _ORG.fullmatch(uri.netloc) or uri.netloc.lower() == _ORG_SUFFIX[1:].lower():
        problems.append(
            f"the organisation '{uri.netloc}' must be the IMS organisation id without {_ORG_SUFFIX}, "
            "e.g. 1BD6382559DF0C130A49422D"
        )
    if len(parts) != 4 or parts[0] != "" or parts[2] != "datasets":
        problems.append(f"the path must be /{{sandbox}}/datasets/{{dataset_id}}, got '{uri.path}'")
    else:
        if not _SANDBOX.fullmatch(parts[1]):
            problems.append(f"the sandbox '{parts[1]}' must be a lowercase sandbox name")
        if not _DATASET_ID.fullmatch(parts[3]):
            problems.append(f"the dataset id '{parts[3]}' must be letters, digits, '.', '_' or '-'")
    if uri.query or uri.fragment:
        problems.append("it must have no query or fragment")
    if problems:
        raise ValueError(f"AEP dataset URI '{text}' is not {_FORM}: {'; '.join(problems)}")
    return uri


def is_aep_asset(asset: object) -> bool:
    """Picks a task's AEP outlets out of its other assets, since only those get an export's events."""
    return isinstance(asset, Asset) and urlsplit(asset.uri).scheme == SCHEME


def openlineage_dataset(uri: str) -> OpenLineageDataset:
    """Checked like any ``aep`` URI, so lineage never names a dataset Airflow itself would refuse."""
    from openlineage.client.event_v2 import Dataset as OpenLineageDataset

    parsed = sanitize_uri(urlsplit(uri))
    return OpenLineageDataset(namespace=f"{SCHEME}://{parsed.netloc}", name=parsed.path.lstrip("/"))


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> OpenLineageDataset:
    """Airflow's converter for ``aep`` assets declared as inlets or outlets."""
    return openlineage_dataset(asset.uri)


def openlineage_active() -> bool:
    """Whether the OpenLineage provider is installed and configured to send events from this process."""
    try:
        from airflow.providers.openlineage.conf import is_disabled
    except ImportError:
        return False
    return not is_disabled()
