"""The options a wait on an export job carries, from the operator's arguments into the triggerer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_aep.client.settings import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, DEFAULT_TIMEOUT, RetryPolicy
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook


@dataclass(frozen=True)
class WaitOptions:
    """How a wait talks to AEP and how it ends, the same in a worker and deferred.

    The sensor and the operator take these as their usual flat arguments and keep them as one
    value; the trigger carries that value across the deferral and rebuilds it from its JSON form.

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param cancel_on_timeout: cancel the job when the wait times out, before the task fails.
    :param cancel_on_kill: cancel the job when the task is stopped while it waits.
    :param request_retry_limit: attempts per API request for transient failures (429, 5xx, timeouts).
    :param request_retry_delay: first backoff delay in seconds between those attempts.
    :param request_timeout: seconds allowed for each HTTP request as a whole.
    :param min_exported_profiles: the fewest profiles a SUCCEEDED job may have exported and still
        count as a success; None checks nothing (an export of 0 profiles is then only a warning).
    """

    aep_conn_id: str = AdobeExperiencePlatformHook.default_conn_name
    cancel_on_timeout: bool = True
    cancel_on_kill: bool = True
    request_retry_limit: int = DEFAULT_RETRY_LIMIT
    request_retry_delay: float = DEFAULT_RETRY_DELAY
    request_timeout: float = DEFAULT_TIMEOUT
    min_exported_profiles: int | None = None

    @classmethod
    def nothing_to_cancel(
        cls, aep_conn_id: str, request_retry_limit: int, request_retry_delay: float, request_timeout: float
    ) -> WaitOptions:
        """For waits that started no job, so must never cancel one: a download's, a watcher's."""
        return cls(aep_conn_id, False, False, request_retry_limit, request_retry_delay, request_timeout)

    @classmethod
    def of(cls, value: WaitOptions | Mapping[str, Any]) -> WaitOptions:
        """The options themselves, or rebuilt from ``to_json()``'s output (a trigger's kwargs)."""
        return value if isinstance(value, WaitOptions) else cls(**value)

    def shortfall(self, summary: Mapping[str, Any]) -> str | None:
        """Why a SUCCEEDED job's export is too small to count as success; None when it is not.

        A job that reports no count cannot show it met the minimum, so it falls short too: an empty
        audience published downstream costs more than a task failed for a missing figure.
        """
        if self.min_exported_profiles is None:
            return None
        exported = summary.get("exported_profiles")
        if isinstance(exported, int) and exported >= self.min_exported_profiles:
            return None
        shown = "no exported-profile count" if exported is None else f"{exported} exported profiles"
        return (
            f"Export job {summary.get('job_id')} SUCCEEDED with {shown}, fewer than min_exported_profiles="
            f"{self.min_exported_profiles}; check that its segments still exist and have members"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, as a trigger's kwargs must be to reach the triggerer.

        Without ``min_exported_profiles`` when unset, so that a triggerer still on the release before
        it, during a rolling upgrade, can rebuild the options.
        """
        options = asdict(self)
        if options["min_exported_profiles"] is None:
            del options["min_exported_profiles"]
        return options

    def hook(self) -> AdobeExperiencePlatformHook:
        """A hook that sends the wait's requests with these retries and this timeout."""
        return AdobeExperiencePlatformHook(
            self.aep_conn_id,
            retry_policy=RetryPolicy.of(self.request_retry_limit, self.request_retry_delay),
            timeout=self.request_timeout,
        )
