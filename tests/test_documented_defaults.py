"""The defaults docs/reference.md lists are the ones the signatures have (both come from one place in code)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep.client.settings import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, DEFAULT_TIMEOUT
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators.dataset import CreateProfileDatasetOperator
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator
from airflow_provider_aep.triggers.batches import BatchesReadyTrigger
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from airflow_provider_aep.triggers.new_batches import NewBatchesTrigger
from airflow_provider_aep.triggers.succeeded_exports import SucceededExportsTrigger

REFERENCE = Path(__file__).parents[1] / "docs" / "reference.md"
DOCUMENTED = [
    CreateExportJobOperator,
    ExportJobSensor,
    ExportJobTrigger,
    CreateProfileDatasetOperator,
    AepExportToObjectStorageOperator,
    BatchesReadyTrigger,
    NewBatchesTrigger,
    SucceededExportsTrigger,
    AdobeExperiencePlatformHook,
]
# Documented as what they come to, not as the signature's None: the request takes the API's default.
EFFECTIVE = {"schema_name"}
ROW = re.compile(r"^\| ((?:`\w+`(?:, )?)+) \| ((?:`[^`]+`(?:, )?)+)(?: \(.*\))? \|", re.MULTILINE)


def documented_defaults(cls: type) -> dict[str, Any]:
    """Rows of the class's section whose default is a plain literal: ``| `name` | `5` | ... |``."""
    text = REFERENCE.read_text()
    start = text.index(f"## `{cls.__name__}`")
    end = text.find("\n## ", start + 1)
    found: dict[str, Any] = {}
    for names, values in ROW.findall(text[start : end if end != -1 else None]):
        keys = re.findall(r"`(\w+)`", names)
        literals = re.findall(r"`([^`]+)`", values)
        if len(keys) != len(literals):
            continue
        for key, literal in zip(keys, literals, strict=True):
            try:
                found[key] = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                continue  # not a literal: a setting's name, an expression
    return found


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda cls: cls.__name__)
def test_every_documented_literal_default_is_the_signatures(cls: type) -> None:
    parameters = inspect.signature(cls.__init__).parameters
    documented = {
        key: value for key, value in documented_defaults(cls).items() if key in parameters and key not in EFFECTIVE
    }
    actual = {key: parameters[key].default for key in documented}
    assert documented == actual


def test_the_request_defaults_come_from_one_place() -> None:
    """Every operator's and the sensor's, and the reference's, are the client's defaults."""
    expected = (DEFAULT_RETRY_LIMIT, DEFAULT_RETRY_DELAY, DEFAULT_TIMEOUT)
    names = ("request_retry_limit", "request_retry_delay", "request_timeout")
    for cls in (
        CreateExportJobOperator,
        ExportJobSensor,
        CreateProfileDatasetOperator,
        AepExportToObjectStorageOperator,
    ):
        parameters = inspect.signature(cls.__init__).parameters
        assert tuple(parameters[name].default for name in names) == expected, cls.__name__
    documented = documented_defaults(CreateExportJobOperator)  # the others' rows say "as for the operator"
    assert tuple(documented[name] for name in names) == expected
