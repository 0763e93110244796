"""Identifiers that end up in request paths: checked once here, whoever supplies them.

An export job id comes from a user, a template, XCom or a server response. A value such as
``../../config/mergePolicies/abc`` would otherwise turn a cancel into a DELETE of another resource,
and ``str.isdigit()`` lets through digits such as ``²`` that no API knows.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

from airflow_provider_aep.exceptions import AepConfigError

# AEP job ids are numbers in every document; 20 digits holds any 64-bit integer.
_EXPORT_JOB_ID = re.compile(r"[0-9]{1,20}")
# Catalog and Data Access ids are opaque (hex datasets and batches, UUID-like file ids with a
# suffix): letters, digits and a few separators, never a character that means something in a URL.
_CATALOG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,255}")
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


def is_catalog_id(text: str) -> bool:
    """An id that cannot leave its place in a URL: no ``/``, ``?``, ``#``, ``%``, space or control character."""
    return _CATALOG_ID.fullmatch(text) is not None


def catalog_id(value: object, *, field: str, subject: str) -> str:
    """A dataset, batch or file id as text; ``AepConfigError`` naming ``field`` and ``subject`` otherwise."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and is_catalog_id(text):
        return text
    raise AepConfigError(
        f"{subject}: {field} must be an AEP id of letters, digits, '.', '_', ':' or '-', got {shown(value)}"
    )


def shown(value: object) -> str:
    """A value for an error message: escaped (no control characters reach a log) and shortened."""
    text = ascii(value)
    if len(text) > _SHOWN_CHARACTERS:
        text = f"{text[:_SHOWN_CHARACTERS]}... ({len(text)} characters)"
    return text


@lru_cache(maxsize=16384)
def path_segment(value: str) -> str:
    """Percent-encoded, so that no value, however odd, can leave its place in the path.

    Cached: every poll of every wait in a triggerer (10,000 and more) encodes its job id again.
    """
    return quote(value, safe="")
