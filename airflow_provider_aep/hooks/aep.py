"""The hook users and the provider's operators call: an Airflow connection in front of the AEP client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_aep.client.apis.catalog import CatalogApi, dataset_request
from airflow_provider_aep.client.apis.data_access import DataAccessApi
from airflow_provider_aep.client.apis.export_jobs import ExportJobsApi
from airflow_provider_aep.client.async_driver import WaitScope, ano_token, async_clients, run_async
from airflow_provider_aep.client.calls import Pages, PlatformCalls
from airflow_provider_aep.client.flows import Flow, T
from airflow_provider_aep.client.ims import AccessToken, TokenKey, fetch_token, token_cache
from airflow_provider_aep.client.settings import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_ITEMS_PER_POLL,
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    AepConnectionSettings,
    Limits,
    RetryPolicy,
)
from airflow_provider_aep.client.sync_driver import no_token, run_sync, sync_clients
from airflow_provider_aep.compat import aget_connection, legacy_connection_form_widgets
from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.hooks.connection import CONNECTION_TYPE, connection_settings
from airflow_provider_aep.hooks.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_aep.hooks.connection_lookup import shared_lookups
from airflow_provider_aep.hooks.metrics import AirflowMetrics
from airflow_provider_aep.hooks.token_sharing import shared_token_store
from airflow_provider_aep.identifiers import catalog_id, export_job_id, shown
from airflow_provider_aep.models.catalog import Batch, Dataset
from airflow_provider_aep.models.data_access import DataFile, data_file_name
from airflow_provider_aep.models.export_job import ExportJob, JobProgress
from airflow_provider_aep.models.export_job_request import ExportJobRequest
from airflow_provider_aep.scrubbing import scrubber

JobId = str | int


@dataclass(frozen=True)
class _Bound:
    """What a hook derives from its connection, once: a trigger polls through one hook many times."""

    settings: AepConnectionSettings
    token_key: TokenKey
    export_jobs: ExportJobsApi
    catalog: CatalogApi
    data_access: DataAccessApi
    metrics: AirflowMetrics


class AdobeExperiencePlatformHook(BaseHook):
    """Adobe Experience Platform from Airflow: export jobs, Catalog datasets and batches, Data Access files.

    It turns the Airflow connection into the client's settings (``client/``) and runs the client's
    flows; every method has an async twin (``a`` prefix) for triggers. Tokens and HTTP connections are
    shared across all hook instances in the process, so creating hooks freely costs nothing.

    :param aep_conn_id: Airflow connection of type ``adobe_experience_platform``.
    :param retry_policy: how transient failures (429, 5xx, timeouts, dropped connections) are retried.
    :param timeout: seconds allowed for each HTTP request as a whole: the wait for a connection,
        connect, send, and every byte of the response.
    :param max_response_bytes: a response body larger than this is abandoned as it streams in.
    :param max_pages: pages one listing reads at most (a clear error past that).
    :param download_timeout: seconds for one attempt at downloading one file; a dropped download
        resumes where it stopped.
    """

    conn_name_attr = "aep_conn_id"
    default_conn_name = "aep_default"
    conn_type = CONNECTION_TYPE
    hook_name = "Adobe Experience Platform"

    _masked_secrets: ClassVar[set[str]] = set()

    def __init__(
        self,
        aep_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_pages: int = DEFAULT_MAX_PAGES,
        download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.retry_policy = retry_policy or RetryPolicy()
        self.limits = Limits(
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            max_pages=max_pages,
            download_timeout=download_timeout,
        )
        self._bound: _Bound | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(aep_conn_id={self.aep_conn_id!r})"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The form for Airflow 2.11's UI; Airflow 3 reads the same fields from the provider info."""
        return legacy_connection_form_widgets(CONN_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hide and relabel the generic fields, which mean something else for an OAuth credential."""
        return UI_FIELD_BEHAVIOUR

    # -- connection -----------------------------------------------------------------------------

    @property
    def settings(self) -> AepConnectionSettings:
        """The validated connection, looked up once per hook instance."""
        return self._bind_sync().settings

    async def asettings(self) -> AepConnectionSettings:
        """Like ``settings``, without blocking the event loop (for triggers)."""
        return (await self._bind_async()).settings

    @property
    def metrics(self) -> AirflowMetrics:
        """The provider's metrics (``hooks/metrics.py``), tagged with this connection and its sandbox."""
        return self._bind_sync().metrics

    async def ametrics(self) -> AirflowMetrics:
        """Like ``metrics``, without blocking the event loop (for triggers)."""
        return (await self._bind_async()).metrics

    def _bind_sync(self) -> _Bound:
        if self._bound is None:
            self._bound = self._bind(connection_settings(self.get_connection(self.aep_conn_id)))
        return self._bound

    async def _bind_async(self) -> _Bound:
        if self._bound is None:
            settings = await shared_lookups.settings(self.aep_conn_id, self._alookup)
            self._bound = self._bind(settings)
        return self._bound

    def with_retry_policy(self, retry_policy: RetryPolicy) -> AdobeExperiencePlatformHook:
        """The same connection, looked up once for both hooks, with another retry policy."""
        other = type(self)(
            self.aep_conn_id,
            retry_policy=retry_policy,
            timeout=self.limits.timeout,
            max_response_bytes=self.limits.max_response_bytes,
            max_pages=self.limits.max_pages,
            download_timeout=self.limits.download_timeout,
        )
        other._bound = other._bind(self.settings)
        return other

    async def _alookup(self) -> AepConnectionSettings:
        return connection_settings(await aget_connection(self.aep_conn_id))

    def _bind(self, settings: AepConnectionSettings) -> _Bound:
        self._mask(settings.client_secret)
        metrics = AirflowMetrics(self.aep_conn_id, settings.sandbox)
        calls = PlatformCalls(
            settings, retry_policy=self.retry_policy, limits=self.limits, log=self.log, metrics=metrics
        )
        return _Bound(
            settings, TokenKey.of(settings), ExportJobsApi(calls), CatalogApi(calls), DataAccessApi(calls), metrics
        )

    def _mask(self, secret: str) -> None:
        """Airflow's masker covers log records; the scrubber covers server text in errors and events."""
        if secret not in self._masked_secrets:
            mask_secret(secret)
            scrubber.register(secret)
            self._masked_secrets.add(secret)

    def _fetch_token(self, bound: _Bound) -> Flow[AccessToken]:
        return fetch_token(
            bound.settings, policy=self.retry_policy, limits=self.limits, log=self.log, metrics=bound.metrics
        )

    def _job_id(self, job_id: object, call: str) -> str:
        return export_job_id(job_id, subject=self._subject(call))

    # -- drivers --------------------------------------------------------------------------------

    def _run(self, flow_of: Callable[[_Bound], Flow[T]]) -> T:
        bound = self._bind_sync()
        flow = flow_of(bound)
        client = sync_clients.client()

        def token(rejected: str | None) -> str:
            value = token_cache.get(
                bound.token_key,
                rejected,
                lambda: run_sync(self._fetch_token(bound), client, no_token),
                shared_token_store,
            )
            self._mask(value)
            return value

        return run_sync(flow, client, token)

    async def _arun(self, flow_of: Callable[[_Bound], Flow[T]]) -> T:
        bound = await self._bind_async()
        flow = flow_of(bound)
        async with async_clients.lease() as session:

            async def token(rejected: str | None) -> str:
                value = await token_cache.aget(
                    bound.token_key,
                    rejected,
                    lambda: run_async(self._fetch_token(bound), session, ano_token),
                    shared_token_store,
                )
                self._mask(value)
                return value

            return await run_async(flow, session, token)

    @staticmethod
    def wait_scope(seconds: float | None) -> WaitScope:
        """For a trigger's whole wait: the event loop's shared session held throughout, and one deadline.

        ``async with hook.wait_scope(remaining) as scope``; ``scope.expired`` says whether the
        deadline ended the block. Polls inside reuse the session's connections and set no timer.
        """
        return WaitScope(seconds)

    # -- export jobs, sync ----------------------------------------------------------------------

    def list_export_jobs(
        self, status: str | None = None, limit: int | None = None, created_after_ms: int | None = None
    ) -> list[ExportJob]:
        """Jobs newest first, across pages; at most ``limit`` of them, none created before ``created_after_ms``."""
        return self._run(
            lambda apis: apis.export_jobs.list_jobs(status=status, limit=limit, created_after_ms=created_after_ms)
        ).entries

    def create_export_job(self, request: ExportJobRequest | dict[str, Any]) -> ExportJob:
        """Submit a job. A create whose response was lost is never sent twice if it made a job."""
        parsed = ExportJobRequest.parse(request, subject=f"Connection '{self.aep_conn_id}'")
        return self._run(lambda apis: apis.export_jobs.create_job(parsed))

    def get_export_job(self, job_id: JobId) -> ExportJob:
        """The job; never another one: an answer for a different id is an ``AepApiError``."""
        checked = self._job_id(job_id, "get_export_job")
        return self._run(lambda apis: apis.export_jobs.get_job(checked))

    def cancel_export_job(self, job_id: JobId) -> None:
        """Stop a job nobody waits for any more, so Platform does not go on exporting for nothing."""
        checked = self._job_id(job_id, "cancel_export_job")
        self._run(lambda apis: apis.export_jobs.cancel_job(checked))

    def find_export_job(self, request: ExportJobRequest, *, created_after_ms: int) -> ExportJob | None:
        """The newest job for the same dataset, schema and segments created since the given time."""
        return self._run(lambda apis: apis.export_jobs.find_matching_job(request, created_after_ms=created_after_ms))

    # -- export jobs, async ---------------------------------------------------------------------

    async def alist_export_jobs(
        self, status: str | None = None, limit: int | None = None, created_after_ms: int | None = None
    ) -> list[ExportJob]:
        """``list_export_jobs`` for triggers, which must not block the event loop."""
        listing = await self._arun(
            lambda apis: apis.export_jobs.list_jobs(status=status, limit=limit, created_after_ms=created_after_ms)
        )
        return listing.entries

    async def acreate_export_job(self, request: ExportJobRequest | dict[str, Any]) -> ExportJob:
        """``create_export_job`` for triggers, which must not block the event loop."""
        parsed = ExportJobRequest.parse(request, subject=f"Connection '{self.aep_conn_id}'")
        return await self._arun(lambda apis: apis.export_jobs.create_job(parsed))

    async def aget_export_job(self, job_id: JobId) -> ExportJob:
        """``get_export_job`` for triggers, which must not block the event loop."""
        checked = self._job_id(job_id, "aget_export_job")
        return await self._arun(lambda apis: apis.export_jobs.get_job(checked))

    async def apoll_export_job(self, job_id: JobId) -> JobProgress:
        """``aget_export_job`` for waits: the full ``ExportJob`` once the job is SUCCEEDED or FAILED.

        Before that, only its ``JobProgress`` (id, status, creation time): a triggerer polls
        thousands of running jobs, and reading each record in full was a large part of a poll's cost.
        """
        checked = self._job_id(job_id, "apoll_export_job")
        return await self._arun(lambda apis: apis.export_jobs.poll_job(checked))

    async def acancel_export_job(self, job_id: JobId) -> None:
        """``cancel_export_job`` for triggers, which must not block the event loop."""
        checked = self._job_id(job_id, "acancel_export_job")
        await self._arun(lambda apis: apis.export_jobs.cancel_job(checked))

    # -- Catalog, sync ---------------------------------------------------------------------------

    def create_profile_dataset(
        self, name: str, description: str | None = None, tags: dict[str, list[str]] | None = None
    ) -> str:
        """The id of the profile-union dataset named ``name``: the existing one, or one made now.

        Never a second dataset for one name, on a retry or after a create whose answer was lost.
        A dataset of that name on another schema is an ``AepConfigError``: exports need the profile
        union schema.
        """
        checked = self._dataset_request(name, description, tags, "create_profile_dataset")
        return self._run(lambda apis: apis.catalog.ensure_profile_dataset(checked, description=description, tags=tags))

    def get_dataset(self, dataset_id: str) -> Dataset:
        """The dataset; ``AepNotFoundError`` when Catalog has none with that id."""
        checked = catalog_id(dataset_id, field="dataset_id", subject=self._subject("get_dataset"))
        return self._run(lambda apis: apis.catalog.get_dataset(checked))

    def find_datasets(self, name: str) -> list[Dataset]:
        """Datasets named exactly ``name``, oldest first (names are not unique in Catalog)."""
        checked = self._dataset_request(name, None, None, "find_datasets")
        return self._run(lambda apis: apis.catalog.find_datasets(name=checked))

    def get_batch(self, batch_id: str) -> Batch:
        """The batch with its status, record count and errors; ``AepNotFoundError`` when absent."""
        checked = catalog_id(batch_id, field="batch_id", subject=self._subject("get_batch"))
        return self._run(lambda apis: apis.catalog.get_batch(checked))

    def list_batches(
        self, dataset_id: str, *, created_after_ms: int, limit: int = DEFAULT_MAX_ITEMS_PER_POLL
    ) -> Pages[Batch]:
        """The dataset's batches created after the given time, oldest first, at most ``limit`` of them.

        ``.entries`` holds them; ``.complete`` says whether the listing was read to its end, since a
        listing that repeats itself stops short.
        """
        checked = catalog_id(dataset_id, field="dataset_id", subject=self._subject("list_batches"))
        return self._run(
            lambda apis: apis.catalog.list_batches(checked, created_after_ms=created_after_ms, limit=limit)
        )

    # -- Catalog, async --------------------------------------------------------------------------

    async def acreate_profile_dataset(
        self, name: str, description: str | None = None, tags: dict[str, list[str]] | None = None
    ) -> str:
        """``create_profile_dataset`` for triggers, which must not block the event loop."""
        checked = self._dataset_request(name, description, tags, "acreate_profile_dataset")
        return await self._arun(
            lambda apis: apis.catalog.ensure_profile_dataset(checked, description=description, tags=tags)
        )

    async def aget_dataset(self, dataset_id: str) -> Dataset:
        """``get_dataset`` for triggers, which must not block the event loop."""
        checked = catalog_id(dataset_id, field="dataset_id", subject=self._subject("aget_dataset"))
        return await self._arun(lambda apis: apis.catalog.get_dataset(checked))

    async def afind_datasets(self, name: str) -> list[Dataset]:
        """``find_datasets`` for triggers, which must not block the event loop."""
        checked = self._dataset_request(name, None, None, "afind_datasets")
        return await self._arun(lambda apis: apis.catalog.find_datasets(name=checked))

    async def aget_batch(self, batch_id: str) -> Batch:
        """``get_batch`` for triggers, which must not block the event loop."""
        checked = catalog_id(batch_id, field="batch_id", subject=self._subject("aget_batch"))
        return await self._arun(lambda apis: apis.catalog.get_batch(checked))

    async def alist_batches(
        self, dataset_id: str, *, created_after_ms: int, limit: int = DEFAULT_MAX_ITEMS_PER_POLL
    ) -> Pages[Batch]:
        """``list_batches`` for triggers, which must not block the event loop."""
        checked = catalog_id(dataset_id, field="dataset_id", subject=self._subject("alist_batches"))
        return await self._arun(
            lambda apis: apis.catalog.list_batches(checked, created_after_ms=created_after_ms, limit=limit)
        )

    # -- Data Access ----------------------------------------------------------------------------

    def list_batch_files(self, batch_id: str) -> list[DataFile]:
        """Every file of the batch, across pages, with directories resolved to the files in them."""
        checked = catalog_id(batch_id, field="batch_id", subject=self._subject("list_batch_files"))
        return self._run(lambda apis: apis.data_access.list_batch_files(checked))

    async def alist_batch_files(self, batch_id: str) -> list[DataFile]:
        """``list_batch_files`` for triggers, which must not block the event loop."""
        checked = catalog_id(batch_id, field="batch_id", subject=self._subject("alist_batch_files"))
        return await self._arun(lambda apis: apis.data_access.list_batch_files(checked))

    def download_file(self, file: DataFile, sink: BinaryIO | Callable[[bytes], object], *, offset: int = 0) -> int:
        """Stream one file into ``sink`` (a binary file object, or a function taking each chunk).

        Memory stays bounded whatever the file's size. A dropped connection resumes with ``Range``
        where it stopped; the byte count is checked against the size Platform declared. ``offset``
        completes a partial file an earlier try wrote: only the bytes after it reach ``sink``.
        Returns the file's size. Sync only: writing a file blocks, so downloads belong in a worker.
        """
        subject = self._subject("download_file")
        checked = DataFile(
            catalog_id(file.file_id, field="file_id", subject=subject),
            data_file_name(file.name, subject=subject),
            file.length,
            file.records,
        )
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int)
            or not 0 <= offset <= (file.length if file.length is not None else 0)
        ):
            raise AepConfigError(
                f"{subject}: offset must be a byte count within the file's declared size ({file.length}), "
                f"got {shown(offset)}"
            )
        write = sink if callable(sink) else sink.write
        return self._run(lambda apis: apis.data_access.download(checked, write, offset))

    def _subject(self, call: str) -> str:
        return f"{call} on connection '{self.aep_conn_id}'"

    def _dataset_request(self, name: object, description: object, tags: object, call: str) -> str:
        """The name, checked with the other create arguments before any request."""
        return dataset_request(name, description, tags, subject=self._subject(call))

    # -- Airflow UI -----------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Fetch a token and list one job: proves credentials, org, sandbox and permissions."""
        try:
            jobs = self.list_export_jobs(limit=1)
        except Exception as error:
            return False, str(error)
        settings = self.settings
        return True, (
            f"Connected to {settings.gateway_url} as org {settings.org_id}, sandbox '{settings.sandbox}' "
            f"({len(jobs)} export job(s) visible on the first page)."
        )
