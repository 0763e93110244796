"""Every difference between supported Airflow versions (2.11 and 3.x) lives here, and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.triggers.base import BaseTrigger, TriggerEvent
from packaging.version import Version

AIRFLOW_V_3 = Version(Version(AIRFLOW_VERSION).base_version) >= Version("3.0")

if AIRFLOW_V_3 or TYPE_CHECKING:
    from airflow.sdk import (
        Asset,
        BaseHook,
        BaseOperator,
        BaseSensorOperator,
        Connection,
        Context,
        PokeReturnValue,
    )
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import AirflowSensorTimeout

    try:
        from airflow.sdk.log import mask_secret as _mask_secret
    except ImportError:  # Airflow 3.0 kept it with the secrets masker
        from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef,import-not-found,unused-ignore]
            mask_secret as _mask_secret,
        )
else:  # Airflow 2.11
    from airflow.configuration import conf
    from airflow.datasets import Dataset as Asset
    from airflow.exceptions import AirflowSensorTimeout
    from airflow.hooks.base import BaseHook
    from airflow.models.baseoperator import BaseOperator
    from airflow.models.connection import Connection
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue
    from airflow.utils.context import Context
    from airflow.utils.log.secrets_masker import mask_secret as _mask_secret

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

mask_secret: Callable[..., None] = _mask_secret


async def aget_connection(conn_id: str) -> Connection:
    """Look a connection up without blocking the event loop (``aget_connection`` is Airflow 3.1+)."""
    native = getattr(BaseHook, "aget_connection", None)
    if native is not None:
        connection: Connection = await native(conn_id)
        return connection
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)


def task_state_store(context: Context) -> Any | None:
    """Airflow 3.3's per-task-instance store that survives retries; None where it does not exist."""
    return context.get("task_state_store")  # type: ignore[misc,unused-ignore]


def outlet_event_extra(context: Context, asset: Asset) -> dict[str, Any]:
    """The extra of the event Airflow records for ``asset`` when the task succeeds."""
    extra: dict[str, Any] = context["outlet_events"][asset].extra
    return extra


def triggering_events(context: Mapping[str, Any], asset: Asset) -> list[Any]:
    """The asset's events that started this run; Airflow 2.11 keys them by URI, under its dataset name."""
    if AIRFLOW_V_3:
        return list(context["triggering_asset_events"].get(asset, []))
    return list(context["triggering_dataset_events"].get(asset.uri, []))


def legacy_connection_form_widgets(conn_fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Airflow 2's UI builds the form from WTForms fields; Airflow 3 reads ``conn-fields`` instead."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from wtforms import StringField
    from wtforms.validators import Optional, Regexp

    widgets: dict[str, Any] = {}
    for name, field in conn_fields.items():
        schema = field["schema"]
        validators = [Optional()]
        if pattern := schema.get("pattern"):
            validators.append(Regexp(pattern, message=f"must match {pattern}"))
        widgets[name] = StringField(
            field["label"],
            widget=BS3TextFieldWidget(),
            description=field["description"],
            default=schema.get("default"),
            validators=validators,
        )
    return widgets


__all__ = [
    "AIRFLOW_V_3",
    "AirflowSensorTimeout",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "Connection",
    "Context",
    "PokeReturnValue",
    "TriggerEvent",
    "aget_connection",
    "conf",
    "legacy_connection_form_widgets",
    "mask_secret",
    "outlet_event_extra",
    "task_state_store",
    "triggering_events",
]
