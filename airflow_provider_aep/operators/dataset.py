"""Ensure the export's destination: a profile-union dataset, found by name or made once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator, Context

from airflow_provider_aep.client.apis.catalog import dataset_request
from airflow_provider_aep.client.settings import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, DEFAULT_TIMEOUT, RetryPolicy
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.links.dataset import AepDatasetLink, show_dataset


class CreateProfileDatasetOperator(BaseOperator):
    """Returns the id of the dataset an export job can write into, creating it only when needed.

    Idempotent by name, so that a nightly DAG can run it every night: if a dataset named
    ``dataset_name`` exists on the profile union schema, its id is returned (the oldest, should
    there be several); if one of that name exists on another schema, the task fails with a clear
    error, since an export into it would fail. Otherwise the dataset is created. A retried task or a
    create whose answer was lost never makes a second dataset: the provider lists by name again
    before it would send the request twice.

    The id goes to XCom (``return_value``); pass it to ``CreateExportJobOperator(dataset_id=...)``
    as ``"{{ ti.xcom_pull(task_ids='ensure_dataset') }}"`` or as ``task.output``.

    :param dataset_name: the dataset's name (templated).
    :param description: the dataset's description (templated), used only when it is created.
    :param tags: Catalog tags, ``{"name": ["value", ...]}`` (templated), used only when it is created.
    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param request_retry_limit: attempts per API request for transient failures (429, 5xx, timeouts).
    :param request_retry_delay: first backoff delay in seconds between those attempts.
    :param request_timeout: seconds allowed for each HTTP request.
    """

    template_fields: Sequence[str] = ("dataset_name", "description", "tags")
    operator_extra_links = (AepDatasetLink(),)
    ui_color = "#fa0f00"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        dataset_name: str,
        description: str | None = None,
        tags: dict[str, list[str]] | None = None,
        aep_conn_id: str = AdobeExperiencePlatformHook.default_conn_name,
        request_retry_limit: int = DEFAULT_RETRY_LIMIT,
        request_retry_delay: float = DEFAULT_RETRY_DELAY,
        request_timeout: float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset_name = dataset_name
        self.description = description
        self.tags = tags
        self.aep_conn_id = aep_conn_id
        self.request_retry_limit = request_retry_limit
        self.request_retry_delay = request_retry_delay
        self.request_timeout = request_timeout

    def execute(self, context: Context) -> str:
        """Checks the arguments before any request, then finds or creates the dataset."""
        dataset_request(self.dataset_name, self.description, self.tags, subject=f"Task '{self.task_id}'")
        hook = AdobeExperiencePlatformHook(
            self.aep_conn_id,
            retry_policy=RetryPolicy.of(self.request_retry_limit, self.request_retry_delay),
            timeout=self.request_timeout,
        )
        dataset_id = hook.create_profile_dataset(self.dataset_name, self.description, self.tags)
        show_dataset(context, hook, dataset_id, self.log)
        return dataset_id
