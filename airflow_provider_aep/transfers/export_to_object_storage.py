"""Land an export's Parquet files in object storage, complete and verified, before downstream work starts."""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseOperator,
    Context,
    ObjectStoragePath,
    conf,
)
from fsspec.registry import known_implementations

from airflow_provider_aep.assets import aep_dataset_uri
from airflow_provider_aep.client.settings import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, DEFAULT_TIMEOUT
from airflow_provider_aep.compat import outlet_event_extra
from airflow_provider_aep.exceptions import AepConfigError, AepError, BatchFailedError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.identifiers import catalog_id, export_job_id, is_catalog_id, shown
from airflow_provider_aep.links.dataset import AepDatasetLink, show_dataset
from airflow_provider_aep.models.catalog import READABLE_BATCH_STATUSES, Batch, readable_statuses
from airflow_provider_aep.models.data_access import DataFile
from airflow_provider_aep.models.export_job import SUCCEEDED, ExportJob
from airflow_provider_aep.scrubbing import describe
from airflow_provider_aep.transfers.lineage import LandedFolder, LandingLineage, lineage_uri
from airflow_provider_aep.transfers.manifest import MANIFEST_NAME, Manifest, ManifestBatch, ManifestFile
from airflow_provider_aep.transfers.progress import TransferProgress
from airflow_provider_aep.transfers.resume import PrefixDiffers, Resumption, open_binary, read_into
from airflow_provider_aep.triggers.batches import BatchesReadyTrigger, BatchReadiness
from airflow_provider_aep.wait.alive import AliveLog
from airflow_provider_aep.wait.events import EVENT_FAILED, finished_status
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import DEFAULT_POLL_INTERVAL, deferral_timeout, wait_in_worker

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

MAX_CONCURRENCY = 32


class AepExportToObjectStorageOperator(BaseOperator):
    """Downloads every file of a finished export job, or of given batches, into object storage, with a manifest.

    An export job's files land under ``{destination}/{dataset_id}/{job_id}/{batch_id}/{file}``, through
    Airflow's object storage layer, so ``file://``, ``s3://``, ``gs://``, ``abfs://`` or any other
    fsspec filesystem with an Airflow connection works. ``_manifest.json`` is written last, next to
    the batch folders: a reader who finds it knows the set is complete. It lists each file's size,
    SHA-256 and row count where Data Access gave one, and each batch's record count.

    Given ``batch_ids`` instead (what an asset watcher reported, see ``triggering_batches``), each
    batch lands on its own under ``{destination}/{dataset_id}/batches/{batch_id}/{file}`` with its own
    manifest, whoever wrote it: a batch reported twice lands once, in the same place.

    Before downloading, each batch is checked in Catalog: while one is still being written the
    task waits (in the triggerer when ``deferrable``); when one failed, the task fails with its
    errors. A re-run is idempotent: a file already present with the right size is not downloaded
    again (it is read once, for its checksum). A download dropped mid-file resumes where it
    stopped; so does a retry that finds a file a killed try left partial on a local disk (object
    stores write a file whole, so there the file is downloaded again). Memory stays bounded
    whatever the file sizes.

    Returns ``{"manifest", "files", "bytes", "records"}`` (XCom ``return_value``). An outlet whose
    URI is the destination gets the same figures and the job id in its event's extra, so the DAGs
    it starts know where the files are.

    :param job_id: the export job id (templated), or the summary ``ExportJobSensor`` returns.
    :param batch_ids: instead of ``job_id``, the batches to land (templated): ids, or the events
        ``triggering_batches`` returns. None of them: the task is skipped.
    :param dataset_id: the dataset the batches belong to; taken from the events when they say.
    :param destination: where the files go (templated): a URI such as ``s3://bucket/aep`` or
        ``file:///data/aep``, or an ``ObjectStoragePath``.
    :param destination_conn_id: the Airflow connection for the destination's filesystem.
    :param max_concurrency: files downloaded at once (1-32).
    :param deferrable: wait for unreadable batches in the triggerer; defaults to
        ``[operators] default_deferrable``.
    :param poll_interval: seconds between two batch checks while waiting.
    :param timeout: seconds (or a timedelta) to wait for the batches at most; None waits for ever.
    :param readable_batch_statuses: the batch statuses that mean the files can be read; ``success``
        by default, since Adobe's docs say nothing certain of the others.
    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param request_retry_limit: attempts per API request for transient failures (429, 5xx, timeouts).
    :param request_retry_delay: first backoff delay in seconds between those attempts.
    :param request_timeout: seconds allowed for each HTTP request (for a download: each read).
    """

    template_fields: Sequence[str] = ("job_id", "batch_ids", "dataset_id", "destination")
    operator_extra_links = (AepDatasetLink(),)
    ui_color = "#fa0f00"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        job_id: str | int | Mapping[str, Any] | None = None,
        batch_ids: Sequence[str | Mapping[str, Any]] | None = None,
        dataset_id: str | None = None,
        destination: str | ObjectStoragePath,
        destination_conn_id: str | None = None,
        max_concurrency: int = 4,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta | None = 3600.0,
        readable_batch_statuses: Collection[str] = READABLE_BATCH_STATUSES,
        aep_conn_id: str = AdobeExperiencePlatformHook.default_conn_name,
        request_retry_limit: int = DEFAULT_RETRY_LIMIT,
        request_retry_delay: float = DEFAULT_RETRY_DELAY,
        request_timeout: float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (job_id is None) == (batch_ids is None):
            raise AepConfigError(
                f"Task '{self.task_id}': give job_id or batch_ids (with dataset_id), not both or neither"
            )
        self.job_id = job_id
        self.batch_ids = batch_ids
        self.dataset_id = dataset_id
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.max_concurrency = max_concurrency
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.readable_batch_statuses = readable_batch_statuses
        self._last_waiting: list[str] = []  # the batches the last check found unreadable
        self._lineage: LandingLineage | None = None  # once landed
        self.wait_options = WaitOptions.nothing_to_cancel(
            aep_conn_id, request_retry_limit, request_retry_delay, request_timeout
        )

    # -- Airflow entry points -------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        """Checks every argument before the first request; then waits for the batches and downloads."""
        wanted, root = self._checked_arguments()
        hook = self.wait_options.hook()
        landing = self._landing(context, hook, wanted)
        started, checked_at = time.time(), time.monotonic()
        batches = self._readable_batches(hook, landing)
        if batches is None and self.deferrable:
            self.defer(
                trigger=BatchesReadyTrigger(
                    landing.batch_ids,
                    sorted(self.readable_batch_statuses),
                    self.wait_options,
                    self.poll_interval,
                    None if self.timeout is None else started + self.timeout,
                ),
                method_name="execute_complete",
                timeout=deferral_timeout(self.timeout),
            )
        if batches is None:
            batches = wait_in_worker(
                lambda: self._readable_batches(hook, landing),
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                alive=AliveLog(self.log, f"{len(landing.batch_ids)} batch(es) of dataset {landing.dataset_id}"),
                checked_at=checked_at,
            )
        if batches is None:
            raise AirflowSensorTimeout(f"Batches {', '.join(self._last_waiting)} were not readable in time.")
        return self._download(context, hook, landing, batches, root)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: download once the batches are readable, fail otherwise."""
        if finished_status(event, what="the export's batches") == EVENT_FAILED:
            raise BatchFailedError(str(event.get("message")))
        wanted, root = self._checked_arguments()
        hook = self.wait_options.hook()
        landing = self._landing(context, hook, wanted)
        batches = [self._batch_of(hook, landing, batch_id) for batch_id in landing.batch_ids]
        return self._download(context, hook, landing, batches, root)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """The AEP dataset read and the folders landed, with their figures, for the OpenLineage provider."""
        if self._lineage is None:
            from airflow.providers.openlineage.extractors import OperatorLineage

            return OperatorLineage()
        return self._lineage.operator_lineage()

    # -- steps ----------------------------------------------------------------------------------

    def _checked_arguments(self) -> tuple[str | _Batches, ObjectStoragePath]:
        """The job id or the batches, and the destination; ``AepConfigError`` naming the task, before any request."""
        subject = f"Task '{self.task_id}'"
        wanted: str | _Batches
        if self.batch_ids is None:
            given = self.job_id.get("job_id") if isinstance(self.job_id, Mapping) else self.job_id
            wanted = export_job_id(given, subject=subject)
        else:
            wanted = _Batches.of(self.batch_ids, self.dataset_id, subject=subject)
        if (
            not isinstance(self.max_concurrency, int)
            or isinstance(self.max_concurrency, bool)
            or not 1 <= self.max_concurrency <= MAX_CONCURRENCY
        ):
            raise AepConfigError(
                f"{subject}: max_concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, "
                f"got {shown(self.max_concurrency)}"
            )
        for name, value, allow_none in (("poll_interval", self.poll_interval, False), ("timeout", self.timeout, True)):
            if value is None and allow_none:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
                raise AepConfigError(f"{subject}: {name} must be a positive number of seconds, got {shown(value)}")
        readable_statuses(self.readable_batch_statuses, subject=subject)
        return wanted, self._destination_root(subject)

    def _destination_root(self, subject: str) -> ObjectStoragePath:
        """The destination, its filesystem made now, before any request to AEP.

        So a missing fsspec package or connection fails the task at once, not at the first write.
        """
        if isinstance(self.destination, ObjectStoragePath):
            root = self.destination
        else:
            uri = self.destination.strip() if isinstance(self.destination, str) else None
            scheme = uri.split("://", 1)[0].lower() if uri and "://" in uri else None
            if uri is None or scheme not in known_implementations:
                raise AepConfigError(
                    f"{subject}: destination must be an ObjectStoragePath or a URI with a filesystem scheme "
                    f"(file://, s3://, gs://, abfs://, ...), got {shown(self.destination)}"
                )
            root = ObjectStoragePath(uri, conn_id=self.destination_conn_id)
        try:
            root.fs  # noqa: B018 - made for its side effect: the filesystem and its credentials
        except Exception as error:
            raise AepConfigError(
                f"{subject}: the destination's filesystem cannot be used ({describe(error)}); install its fsspec "
                "package (e.g. apache-airflow-providers-amazon[s3fs]) and check destination_conn_id"
            ) from None
        return root

    def _landing(self, context: Context, hook: AdobeExperiencePlatformHook, wanted: str | _Batches) -> _Landing:
        """What lands where: a finished job's batches, or the batches given, with the dataset they are in."""
        if isinstance(wanted, str):
            job = self._finished_job(context, hook, wanted)
            return _Landing(str(job.destination.dataset_id), job.written_batch_ids(), job, {})
        if not wanted.batch_ids:
            raise AirflowSkipException(f"Task '{self.task_id}': no batch to land (no watcher event started this run)")
        show_dataset(context, hook, wanted.dataset_id, self.log)
        return _Landing(wanted.dataset_id, wanted.batch_ids, None, wanted.export_job_ids)

    def _finished_job(self, context: Context, hook: AdobeExperiencePlatformHook, job_id: str) -> ExportJob:
        job = hook.get_export_job(job_id)
        if job.status != SUCCEEDED:
            raise AepError(
                f"Task '{self.task_id}': export job {job_id} is {job.status}; only a SUCCEEDED job's batches "
                "hold its data (wait for it with ExportJobSensor first)"
            )
        if not job.batch_ids() or not job.destination.dataset_id:
            raise AepError(f"Task '{self.task_id}': export job {job_id} SUCCEEDED but names no batch or dataset")
        # Ids from the job record go into Catalog requests and folder names: held to the id rule.
        for kind, value in [("dataset", job.destination.dataset_id), *(("batch", b) for b in job.batch_ids().values())]:
            if not is_catalog_id(value):
                raise AepError(
                    f"Task '{self.task_id}': export job {job_id} names a {kind} id that is not a usable AEP id, "
                    f"{shown(value)}; nothing was downloaded"
                )
        # Before any wait, so that the button shows while the task waits for the batches.
        show_dataset(context, hook, job.destination.dataset_id, self.log)
        return job

    def _readable_batches(self, hook: AdobeExperiencePlatformHook, landing: _Landing) -> list[Batch] | None:
        """The batches once all are readable, None while some are being written; raises when one failed."""
        batches = [self._batch_of(hook, landing, batch_id) for batch_id in landing.batch_ids]
        readiness = BatchReadiness.of(batches, self.readable_batch_statuses)
        if readiness.failed:
            raise BatchFailedError(readiness.failure_text())
        self._last_waiting = readiness.waiting
        if readiness.waiting:
            self.log.info("Batches %s are not readable yet.", ", ".join(readiness.waiting))
            return None
        return batches

    def _batch_of(self, hook: AdobeExperiencePlatformHook, landing: _Landing, batch_id: str) -> Batch:
        """The batch from Catalog; one that Catalog files under another dataset is refused, not landed there."""
        batch = hook.get_batch(batch_id)
        if batch.dataset_id not in (None, landing.dataset_id):
            raise AepError(
                f"Task '{self.task_id}': batch {batch_id} belongs to dataset {batch.dataset_id}, not "
                f"{landing.dataset_id}; nothing was downloaded"
            )
        return batch

    def _download(
        self,
        context: Context,
        hook: AdobeExperiencePlatformHook,
        landing: _Landing,
        batches: list[Batch],
        root: ObjectStoragePath,
    ) -> dict[str, Any]:
        dataset_root = root / landing.dataset_id
        job = landing.job
        units = _units(landing, batches, dataset_root)
        # Every file is listed first, so that one progress line covers the whole transfer.
        plans = [
            [
                (batch.id, path, file)
                for batch in unit.batches
                for path, file in _layout(batch, hook.list_batch_files(batch.id), nested=unit.nested)
            ]
            for unit in units
        ]
        sizes = [file.length for _, _, file in itertools.chain.from_iterable(plans)]
        known = [size for size in sizes if size is not None]
        progress = TransferProgress(
            self.log, files_total=len(sizes), bytes_total=sum(known) if len(known) == len(sizes) else None
        )
        try:
            with progress.reporting():
                landed = [self._land(hook, unit, plan, progress) for unit, plan in zip(units, plans, strict=True)]
        finally:
            # Also for a transfer that failed: its bytes were moved all the same.
            metrics = hook.metrics
            metrics.incr("download.bytes", progress.bytes_fetched)
            metrics.incr("download.files", progress.files_done)
            metrics.timing("download.duration", progress.elapsed)
        self.log.info("%s", progress.summary())
        if job is not None:
            result = landed[0]
            self.log.info("Export job %s landed: %s", job.id, result)
            extra: dict[str, Any] = {"job_id": job.id, **result}
            folders = (str(root), str(dataset_root / job.id))
        else:
            records = [part["records"] for part in landed]
            result = {
                "manifests": [part["manifest"] for part in landed],
                "batch_ids": [batch.id for batch in batches],
                "files": sum(part["files"] for part in landed),
                "bytes": sum(part["bytes"] for part in landed),
                "records": None if None in records else sum(records),
            }
            self.log.info("Batches of dataset %s landed: %s", landing.dataset_id, result)
            extra = dict(result)
            folders = (str(root), str(dataset_root / "batches"))
        settings = hook.settings
        self._lineage = LandingLineage(
            aep_dataset_uri(settings.org_id, settings.sandbox, landing.dataset_id),
            [
                LandedFolder(lineage_uri(unit.folder), part["files"], part["bytes"], part["records"])
                for unit, part in zip(units, landed, strict=True)
            ],
        )
        for outlet in self.outlets:
            if getattr(outlet, "uri", None) in folders:
                outlet_event_extra(context, outlet).update(extra)
        return result

    def _land(
        self,
        hook: AdobeExperiencePlatformHook,
        unit: _Unit,
        planned: list[tuple[str, str, DataFile]],
        progress: TransferProgress,
    ) -> dict[str, Any]:
        """The unit's files under its folder, then the manifest, last."""
        manifest_path = unit.folder / MANIFEST_NAME
        # A manifest from an earlier run would vouch for files this run is about to rewrite.
        if manifest_path.exists():
            manifest_path.unlink()
        self.log.info("Downloading %d file(s) into %s.", len(planned), unit.folder)
        fetched = self._fetch_all(hook, unit.folder, planned, progress)
        manifest = unit.about.model_copy(
            update={
                "batches": [
                    _manifest_batch(batch, [file for owner, file in fetched if owner == batch.id])
                    for batch in unit.batches
                ]
            }
        )
        # The check the docs promise: the batches' records against the job's exported profiles.
        if manifest.records is not None and manifest.exported_profiles not in (None, manifest.records):
            self.log.warning(
                "Export job %s reports %s exported profiles, its batches hold %s records.",
                manifest.job_id,
                manifest.exported_profiles,
                manifest.records,
            )
        # Last, so that its presence means every file above is in place.
        manifest_path.write_text(manifest.model_dump_json(indent=2))
        return {
            "manifest": str(manifest_path),
            "files": manifest.files,
            "bytes": manifest.size,
            "records": manifest.records,
        }

    def _fetch_all(
        self,
        hook: AdobeExperiencePlatformHook,
        folder: ObjectStoragePath,
        planned: list[tuple[str, str, DataFile]],
        progress: TransferProgress,
    ) -> list[tuple[str, ManifestFile]]:
        """Every file, ``max_concurrency`` at a time; the first failure stops the rest.

        Files not started are not started; those under way stop at their next chunk, so a task that
        failed does not go on downloading for another hour.
        """
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="aep-download")
        try:
            futures = [
                pool.submit(self._fetch_or_stop, hook, folder, path, file, progress, stop) for _, path, file in planned
            ]
            wait(futures, return_when=FIRST_EXCEPTION)
            failures = [future.exception() for future in futures if future.done() and future.exception()]
            first = next((error for error in failures if not isinstance(error, _Stopped)), None)
            if first is not None:
                raise first
            return [(batch_id, future.result()) for (batch_id, _, _), future in zip(planned, futures, strict=True)]
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_or_stop(
        self,
        hook: AdobeExperiencePlatformHook,
        folder: ObjectStoragePath,
        path: str,
        file: DataFile,
        progress: TransferProgress,
        stop: threading.Event,
    ) -> ManifestFile:
        """``_fetch``, unless another file failed; a failure here stops the others at once."""
        if stop.is_set():
            raise _Stopped
        try:
            return self._fetch(hook, folder, path, file, progress, stop)
        except BaseException:
            stop.set()
            raise

    def _fetch(
        self,
        hook: AdobeExperiencePlatformHook,
        folder: ObjectStoragePath,
        path: str,
        file: DataFile,
        progress: TransferProgress,
        stop: threading.Event,
    ) -> ManifestFile:
        """One file in place: checked, completed, or downloaded.

        Checked when already there with the declared size (read once, for its checksum); completed
        when an earlier try left part of it on a filesystem that appends (see ``resume``).
        """
        target = folder / path
        digest = hashlib.sha256()
        present = target.size() if target.exists() else None
        if present is not None and present == file.length:
            with open_binary(target, "rb") as handle:
                size = read_into(digest, handle, present)
            progress.file_done(in_place=size)
            return ManifestFile(name=file.name, path=path, size=size, sha256=digest.hexdigest(), records=file.records)
        resumption = None if present is None else Resumption.of(target, present, file, digest)
        if resumption is not None:
            self.log.info("Resuming %s: %d of %s bytes are in place from an earlier try.", path, present, file.length)
            try:
                size = self._write(hook, target, file, progress, stop, digest, resumption)
            except PrefixDiffers:
                self.log.warning("The bytes of %s in place are not AEP's: downloading it whole.", path)
                digest = hashlib.sha256()
                size = self._write(hook, target, file, progress, stop, digest, None)
        else:
            if present:
                self.log.info("Downloading %s whole: an earlier try left %d of %s bytes.", path, present, file.length)
            size = self._write(hook, target, file, progress, stop, digest, None)
        progress.file_done()
        return ManifestFile(name=file.name, path=path, size=size, sha256=digest.hexdigest(), records=file.records)

    def _write(
        self,
        hook: AdobeExperiencePlatformHook,
        target: ObjectStoragePath,
        file: DataFile,
        progress: TransferProgress,
        stop: threading.Event,
        digest: Any,
        resumption: Resumption | None,
    ) -> int:
        """Streams the file into ``target``: whole, or after the prefix ``resumption`` keeps."""
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_binary(target, "wb" if resumption is None else "ab") as out:

            def sink(chunk: bytes) -> None:
                if stop.is_set():
                    raise _Stopped
                if resumption is not None and not resumption.verified:
                    chunk = resumption.check(chunk)
                    if resumption.verified:
                        progress.resumed(resumption.kept)
                digest.update(chunk)
                out.write(chunk)
                progress.fetched(len(chunk))

            return hook.download_file(file, sink, offset=0 if resumption is None else resumption.offset)


@dataclass(frozen=True)
class _Batches:
    """The batches a task was given, checked: their ids, their dataset, and the export job each event named."""

    dataset_id: str
    batch_ids: list[str]
    export_job_ids: dict[str, str | None]

    @classmethod
    def of(cls, given: object, dataset_id: object, *, subject: str) -> _Batches:
        """Ids, or the events ``triggering_batches`` returns; each id held to the id rule before any request."""
        if isinstance(given, str | bytes | Mapping) or not isinstance(given, Sequence):
            raise AepConfigError(
                f"{subject}: batch_ids must be a list of batch ids or of triggering_batches() events, "
                f"got {shown(given)}"
            )
        ids: list[str] = []
        job_ids: dict[str, str | None] = {}
        datasets = set() if dataset_id is None else {dataset_id}
        for item in given:
            if isinstance(item, Mapping):
                batch_id = catalog_id(item.get("batch_id"), field="batch_ids", subject=subject)
                job_ids[batch_id] = None if item.get("export_job_id") is None else str(item["export_job_id"])
                if item.get("dataset_id") is not None:
                    datasets.add(item["dataset_id"])
            else:
                batch_id = catalog_id(item, field="batch_ids", subject=subject)
            if batch_id not in ids:
                ids.append(batch_id)
        if not ids:
            return cls(str(dataset_id or ""), [], {})
        if len(datasets) != 1:
            raise AepConfigError(
                f"{subject}: the batches must be of one dataset, named by dataset_id or by the events; "
                f"got {sorted(map(str, datasets)) or 'none'}"
            )
        return cls(catalog_id(datasets.pop(), field="dataset_id", subject=subject), ids, job_ids)


@dataclass(frozen=True)
class _Unit:
    """One folder that lands whole under its own manifest: an export job's, or one batch's."""

    folder: ObjectStoragePath
    batches: list[Batch]
    about: Manifest  # the manifest's job and dataset, which the landed batches complete
    nested: bool  # a folder per batch inside ``folder``


@dataclass(frozen=True)
class _Landing:
    """What one run lands: the dataset, its batches, and the finished job they came from when it is an export."""

    dataset_id: str
    batch_ids: list[str]
    job: ExportJob | None
    export_job_ids: dict[str, str | None]


class _Stopped(Exception):
    """Another download failed: this one stops too."""


def _units(landing: _Landing, batches: list[Batch], dataset_root: ObjectStoragePath) -> list[_Unit]:
    """An export job's batches land together in its folder; given batches each in a folder of their own."""
    job = landing.job
    if job is not None:
        about = Manifest(
            job_id=job.id, dataset_id=landing.dataset_id, exported_profiles=job.summary()["exported_profiles"]
        )
        return [_Unit(dataset_root / job.id, batches, about, nested=True)]
    return [
        _Unit(
            dataset_root / "batches" / batch.id,
            [batch],
            Manifest(job_id=landing.export_job_ids.get(batch.id), dataset_id=landing.dataset_id),
            nested=False,
        )
        for batch in batches
    ]


def _layout(batch: Batch, files: list[DataFile], *, nested: bool) -> list[tuple[str, DataFile]]:
    """Each file's path: ``{name}``, under ``{batch_id}/`` when ``nested``, with its file id if names repeat."""
    names = [file.name for file in files]
    # A data file named as the manifest would be overwritten by it, or stand in for it.
    unique = len(set(names)) == len(names) and MANIFEST_NAME not in names
    prefix = f"{batch.id}/" if nested else ""
    return [(f"{prefix}{file.name}" if unique else f"{prefix}{file.file_id}/{file.name}", file) for file in files]


def _manifest_batch(batch: Batch, files: list[ManifestFile]) -> ManifestBatch:
    records = batch.metrics.records_written if batch.metrics else None
    return ManifestBatch(batch_id=batch.id, status=batch.status, records_written=records, files=files)
