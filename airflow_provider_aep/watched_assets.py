"""An AEP dataset as an asset that Airflow watches: DAGs scheduled on it run when data lands, whoever wrote it.

The asset has the URI ``aep_dataset_asset`` gives, so the provider's own export events reach the
same DAGs; its watcher adds the batches and exports made outside Airflow. Airflow runs one watcher
per asset and trigger arguments, and takes an asset's watchers from the DAG files that declare it:
declare this asset once and use that object wherever the dataset is named.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any, Literal

from airflow.providers.common.compat.sdk import Asset

from airflow_provider_aep.assets import aep_dataset_asset
from airflow_provider_aep.client.settings import (
    DEFAULT_MAX_ITEMS_PER_POLL,
    DEFAULT_RETRY_DELAY,
    DEFAULT_RETRY_LIMIT,
    DEFAULT_TIMEOUT,
)
from airflow_provider_aep.compat import asset_watcher
from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.identifiers import shown
from airflow_provider_aep.models.catalog import READABLE_BATCH_STATUSES
from airflow_provider_aep.triggers.new_batches import NewBatchesTrigger
from airflow_provider_aep.triggers.succeeded_exports import SucceededExportsTrigger
from airflow_provider_aep.triggers.watching import (
    DEFAULT_LOOK_BACK,
    DEFAULT_WATCH_INTERVAL,
    WatchingTrigger,
)
from airflow_provider_aep.wait.options import WaitOptions

Watch = Literal["batches", "export_jobs"]


def aep_watched_dataset_asset(
    org_id: str,
    sandbox: str,
    dataset_id: str,
    *,
    watch: Watch = "batches",
    aep_conn_id: str = AdobeExperiencePlatformHook.default_conn_name,
    poll_interval: float = DEFAULT_WATCH_INTERVAL,
    look_back: timedelta = DEFAULT_LOOK_BACK,
    max_items_per_poll: int = DEFAULT_MAX_ITEMS_PER_POLL,
    readable_batch_statuses: Collection[str] = READABLE_BATCH_STATUSES,
    request_retry_limit: int = DEFAULT_RETRY_LIMIT,
    request_retry_delay: float = DEFAULT_RETRY_DELAY,
    request_timeout: float = DEFAULT_TIMEOUT,
    **asset_arguments: Any,
) -> Asset:
    """The dataset's ``aep://`` asset, watched: an event per new readable batch, or per succeeded export job.

    Read the events with ``triggering_batches`` (``watch="batches"``) or ``triggering_exports``
    (``watch="export_jobs"``). Every argument is checked here, when the DAG is parsed; on Airflow
    2.11, which has no asset watchers, this fails naming the Airflow version needed.

    :param watch: ``"batches"`` (every readable batch, ingested or exported) or ``"export_jobs"``.
    :param poll_interval: seconds between two polls of AEP (at least 1; each poll is one listing).
    :param look_back: how far back a poll looks: the first poll reports what became ready that long
        ago at most, and a batch or job still being written after that long is given up.
    :param max_items_per_poll: the most batches or jobs one poll reads; more wait for the next poll.
    :param readable_batch_statuses: the batch statuses that mean a batch can be read.
    """
    subject = f"The watched asset of dataset {dataset_id!r}"
    options = WaitOptions.nothing_to_cancel(aep_conn_id, request_retry_limit, request_retry_delay, request_timeout)
    if not isinstance(look_back, timedelta):
        raise AepConfigError(f"{subject}: look_back must be a timedelta, got {shown(look_back)}")
    seconds = look_back.total_seconds()
    trigger: WatchingTrigger
    if watch == "batches":
        trigger = NewBatchesTrigger(
            dataset_id, readable_batch_statuses, options, poll_interval, seconds, max_items_per_poll
        )
    elif watch == "export_jobs":
        trigger = SucceededExportsTrigger(dataset_id, options, poll_interval, seconds, max_items_per_poll)
    else:
        raise AepConfigError(f"{subject}: watch must be 'batches' or 'export_jobs', got {shown(watch)}")
    watcher = asset_watcher(f"aep_{watch}_{dataset_id}", trigger, subject=subject)
    return aep_dataset_asset(org_id, sandbox, dataset_id, watchers=[watcher], **asset_arguments)
