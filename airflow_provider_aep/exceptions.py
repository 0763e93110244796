"""Errors the provider raises; none of them ever carries a secret or an access token.

The bottom of the package: this module imports nothing else from it, so every layer can raise these.
"""

from __future__ import annotations

from typing import Protocol

TRANSIENT_STATUS_CODES = frozenset({429, 500, 502, 503, 504})


class AepError(Exception):
    """Base class of every error this provider raises."""


class AepConfigError(AepError, ValueError):
    """A connection or task argument is missing or malformed; raised before any HTTP request."""


class AepApiError(AepError):
    """A call to Adobe IMS or Platform failed, after the retries the policy allows.

    ``status_code`` is None when no HTTP response arrived (timeout, refused or dropped
    connection); ``transport_error`` then names the httpx exception class. ``malformed`` marks a
    success status whose body was not what the call expects (not JSON, the wrong shape, over the
    size cap): a gateway's hiccup, worth another try, and after a POST the server may have acted.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status_code: int | None = None,
        error_code: str | None = None,
        message: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        transport_error: str | None = None,
        reached_server: bool = True,
        malformed: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        self.error_code = error_code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.transport_error = transport_error
        self.reached_server = reached_server
        self.malformed = malformed
        super().__init__(self._describe())

    def _describe(self) -> str:
        outcome = f"HTTP {self.status_code}" if self.status_code is not None else self.transport_error
        parts = [f"AEP {self.method} {self.path} failed: {outcome}"]
        if self.error_code:
            parts.append(f"code {self.error_code}")
        if self.message:
            parts.append(self.message)
        if self.request_id:
            parts.append(f"x-request-id {self.request_id}")
        return "; ".join(parts)

    @property
    def is_transient(self) -> bool:
        """Worth trying again later: throttling, a gateway or server hiccup, or no response."""
        return self.malformed or self.status_code is None or self.status_code in TRANSIENT_STATUS_CODES

    @property
    def rejected_access_token(self) -> bool:
        """Platform refused the access token: a later call, with a new token, may well succeed.

        IMS refusing the client credentials is not this; that needs a person.
        """
        return self.status_code == 401 and not self.path.startswith("/ims/")

    @property
    def worth_waiting_through(self) -> bool:
        """A waiter should poll again later rather than fail the task."""
        return self.is_transient or self.rejected_access_token

    @property
    def may_have_been_processed(self) -> bool:
        """True when the server may have acted on the request although it did not say so.

        A 5xx, a lost response after the request was sent, or a success status with an unreadable
        body is ambiguous; a refused connection, a 429 or any other 4xx is not.
        """
        if self.status_code is None:
            return self.reached_server
        return self.status_code >= 500 or self.status_code < 300


class AepNotFoundError(AepApiError):
    """Platform answered 404: the dataset, batch, file or other resource the call named is absent."""


class ExportJobNotFoundError(AepNotFoundError):
    """Platform answered 404 for an export job id."""


class AepMayExistError(AepError):
    """A create request failed in a way that may have made the resource, and listing could not tell.

    The request is not sent again, so that nothing is made twice; the message says how to look.
    """


class ExportJobMayExistError(AepMayExistError):
    """An export job create that may have made a job: see ``AepMayExistError``."""


class DatasetMayExistError(AepMayExistError):
    """A dataset create that may have made the dataset: see ``AepMayExistError``."""


class BatchFailedError(AepError):
    """A batch an export wrote failed in Catalog; its data will never be readable.

    The message lists each failed batch with Catalog's error codes and descriptions.
    """


class FailedJob(Protocol):
    """What the error reads of a failed job (an ``ExportJob``)."""

    @property
    def id(self) -> str:
        """The job's id."""

    @property
    def request_id(self) -> str | None:
        """The id of the request that made the job, which Adobe support asks for."""

    def error_text(self) -> str:
        """AEP's error codes and texts, already scrubbed of secrets."""


class ExportJobFailedError(AepError):
    """The export job ended in FAILED.

    The message lists every AEP error code and text, plus the job's request id, which is what Adobe
    support asks for.
    """

    def __init__(self, job: FailedJob) -> None:
        self.job = job
        message = f"AEP export job {job.id} failed: {job.error_text() or 'no error details given'}"
        if job.request_id:
            message += f" (request id {job.request_id})"
        super().__init__(message)
