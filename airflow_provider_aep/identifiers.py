"""Identifiers that end up in request paths: checked once here, whoever supplies them.

An export job id comes from a user, a template, XCom or a server response. A value such as
``../../config/mergePolicies/abc`` would otherwise turn a cancel into a DELETE of another resource,
and ``str.isdigit()`` lets through digits such as ``²`` that no API knows.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from airflow_provider_aep.exceptions import AepConfigError

# AEP job ids are numbers in every document; 20 digits holds any 64-bit integer.
_EXPORT_JOB_ID = re.compile(r"[0-9]{1,20}")
_SHOWN_CHARACTERS = 60


def is_export_job_id(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` would accept characters such as ``²`` that no job id has."""
    return _EXPORT_JOB_ID.fullmatch(text) is not None


def export_job_id(value: object, *, subject: str) -> str:
    """The id as text; ``AepConfigError`` naming ``subject`` (the task or call) when it is not one."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    if isinstance(text, str) and is_export_job_id(text):
        return text
    raise AepConfigError(
        f"{subject}: job_id must be a numeric AEP export job id of ASCII digits "
        f"(e.g. pulled from the create task's XCom), got {shown(value)}"
    )


def shown(value: object) -> str:
    """A value for an error message: escaped (no control characters reach a log) and shortened."""
    text = ascii(value)
    if len(text) > _SHOWN_CHARACTERS:
        text = f"{text[:_SHOWN_CHARACTERS]}... ({len(text)} characters)"
    return text


def path_segment(value: str) -> str:
    """Percent-encoded, so that no value, however odd, can leave its place in the path."""
    return quote(value, safe="")
