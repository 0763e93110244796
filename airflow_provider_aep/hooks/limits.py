"""The bounds every call to AEP stays within, whatever the server sends."""

from __future__ import annotations

import math
from dataclasses import dataclass

from airflow_provider_aep.exceptions import AepConfigError

DEFAULT_TIMEOUT = 30.0
# The largest AEP answer the provider reads is a page of 100 job records, a few hundred KB.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# 100 pages of 100 jobs: far more history than a duplicate check or a job search needs.
DEFAULT_MAX_PAGES = 100
# One download attempt of one file; a dropped one resumes where it stopped, under a new deadline.
DEFAULT_DOWNLOAD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Limits:
    """Caps per hook, so that no server can make a call run, grow or page on without end.

    ``timeout``: seconds for a whole request, from the wait for a connection to the body's last
    byte. ``max_response_bytes``: a larger body is abandoned as it streams in. ``max_pages``: pages
    one listing reads at most. ``download_timeout``: seconds for one attempt at downloading one
    file, whose body has no size cap; every read within it still waits ``timeout`` at most.
    """

    timeout: float = DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_pages: int = DEFAULT_MAX_PAGES
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise AepConfigError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if self.max_response_bytes < 1024:
            raise AepConfigError(f"max_response_bytes must be at least 1024, got {self.max_response_bytes!r}")
        if not (math.isfinite(self.download_timeout) and self.download_timeout > 0):
            raise AepConfigError(
                f"download_timeout must be a positive number of seconds, got {self.download_timeout!r}"
            )
        if self.max_pages < 1:
            raise AepConfigError(f"max_pages must be at least 1, got {self.max_pages!r}")
