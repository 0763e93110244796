"""The Airflow version differences that ``apache-airflow-providers-common-compat`` does not cover.

Everything it provides (base classes, ``conf``, ``Context``, ``Asset``, exceptions, ``mask_secret``)
is imported from ``airflow.providers.common.compat.sdk`` where it is used. What stays here is
specific to this provider: a non-blocking connection lookup before Airflow 3.1, the task state
store, the events that started a run, a task ended by its trigger with its XComs, asset watchers
(none before Airflow 3), and the Airflow 2.11 connection form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.sdk import Asset, BaseHook, Connection, Context
from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS as AIRFLOW_V_3
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent
from pydantic import JsonValue

from airflow_provider_aep.exceptions import AepConfigError


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


async def task_success_event(trigger: BaseTrigger, xcoms: dict[str, JsonValue]) -> TriggerEvent:
    """The event that ends ``trigger``'s task as a success, leaving ``xcoms`` as a worker would.

    Airflow 3 stores the XComs a ``TaskSuccessEvent`` carries JSON-encoded a second time (3.3.2
    included), so the tasks after it would read JSON text, not the value. There the XComs go through
    the Task SDK instead, as a task's own do; Airflow 2.11 stores the event's XComs as it should.
    """
    ti = trigger.task_instance
    # No task instance: not a triggerer but ``dag.test()``, which resumes the task whatever the event.
    if not AIRFLOW_V_3 or ti is None:
        return TaskSuccessEvent(xcoms=xcoms)
    from airflow.providers.common.compat.sdk import XCom
    from asgiref.sync import sync_to_async

    for key, value in xcoms.items():
        # The SDK's call is synchronous: off the event loop, as Airflow's triggerer asks.
        await sync_to_async(XCom.set)(
            key, value, dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, map_index=ti.map_index
        )
    return TaskSuccessEvent()


def require_asset_watchers(subject: str) -> None:
    """Airflow 2.11 has no event-driven scheduling: what needs it says so, naming the version it needs."""
    if not AIRFLOW_V_3:
        from airflow import __version__

        raise AepConfigError(
            f"{subject}: watching an AEP dataset needs Airflow 3.0 or later (event-driven scheduling with "
            f"asset watchers), and this is Airflow {__version__}. Schedule a DAG on the aep:// asset that "
            "ExportJobSensor or CreateExportJobOperator updates instead."
        )


def asset_watcher(name: str, trigger: BaseEventTrigger, *, subject: str) -> Any:
    """Airflow 3's ``AssetWatcher``; on Airflow 2.11, a clear error."""
    require_asset_watchers(subject)
    from airflow.sdk import AssetWatcher

    return AssetWatcher(name=name, trigger=trigger)


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
    "aget_connection",
    "asset_watcher",
    "legacy_connection_form_widgets",
    "outlet_event_extra",
    "require_asset_watchers",
    "task_state_store",
    "task_success_event",
    "triggering_events",
]
