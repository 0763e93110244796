"""Every difference between supported Airflow versions lives here, and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator, BaseSensorOperator, Connection, Context, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import Callable

try:
    from airflow.sdk.log import mask_secret as _mask_secret
except ImportError:  # Airflow < 3.1 kept it with the secrets masker
    from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        mask_secret as _mask_secret,
    )

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


__all__ = [
    "AirflowSensorTimeout",
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
    "mask_secret",
    "task_state_store",
]
